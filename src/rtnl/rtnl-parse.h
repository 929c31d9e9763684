/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

/*
 * Pure: one rtnetlink message -> one event record (link.new/link.del,
 * addr.add/del, route.add/del, neigh.add/del).  Names of other interfaces
 * (route ifname, link master) are left for the caller, which knows the
 * links.  Returns 0, -ENODATA for a message that is not an event (cloned
 * routes, non-AF_UNSPEC link messages, bridge fdb entries), -EBADMSG for a
 * malformed one.
 */
int rtnl_parse(const struct nlmsghdr *nlh, struct nlh_event *ev);

/*
 * A route in numbers, as the kernel describes it: what the route state
 * keeps (in a more compact form still, see routes.h) and what its
 * route.add / route.del events are made from.  Addresses are in network
 * order, the bytes past the family's length zero.
 */
struct rtnl_route {
	uint32_t table;
	uint32_t metric;
	uint32_t ifindex;	/* when has_ifindex: RTA_OIF, or the first hop's */
	uint8_t family;		/* AF_INET, AF_INET6 */
	uint8_t dst_len;
	uint8_t protocol;	/* rtm_protocol, rtm_scope, rtm_type */
	uint8_t scope;
	uint8_t type;
	bool has_gateway;	/* RTA_GATEWAY, or the first hop's */
	bool has_ifindex;
	bool multipath;		/* RTA_MULTIPATH: rtnl_route_hops() reads the hops */
	uint8_t dst[16];
	uint8_t gateway[16];
};

/* A hop of a multipath route. */
struct rtnl_hop {
	uint32_t ifindex;
	bool has_gateway;
	uint8_t gateway[16];
};

/* RTM_NEWROUTE / RTM_DELROUTE -> route; returns as rtnl_parse() does. */
int rtnl_route_parse(const struct nlmsghdr *nlh, struct rtnl_route *ret);
/*
 * The hops of a route message's RTA_MULTIPATH, in order: writes up to max
 * of them and returns how many there are (0: none, or malformed).
 */
size_t rtnl_route_hops(const struct nlmsghdr *nlh, struct rtnl_hop *hops, size_t max);
/* The event (route.add or route.del) a route stands for; ifname is the caller's. */
void rtnl_route_event(const struct rtnl_route *r, enum nlh_event_type t, struct nlh_event *ev);

/*
 * Edge derivation: given the link's previous record (NULL when it is new)
 * and a freshly parsed RTM_NEWLINK (type link.new), write the events it
 * means into out[] (link.new, link.rename, link.up/down,
 * link.carrier/nocarrier, in that order; nocarrier before down).
 * Returns how many (at most RTNL_MAX_EDGES).
 */
#define RTNL_MAX_EDGES 4
size_t rtnl_link_edges(const struct nlh_event *prev, const struct nlh_event *cur, struct nlh_event *out);

const char *rtnl_operstate_name(unsigned int operstate);
