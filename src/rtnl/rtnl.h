/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/source.h"

/*
 * rtnetlink, one instance per namespace: the state it keeps (from the
 * start-up dump and every message since: links by ifindex, addresses,
 * routes and neighbours while wanted) serves edge derivation, ifindex ->
 * name lookups by the other sources of the namespace, and nlhook.links()
 * / addrs() / routes().
 */
extern const struct nlh_source_ops rtnl_source;

struct rtnl;

const char *rtnl_ifname(const struct rtnl *rt, uint32_t ifindex);	/* NULL when unknown */
void rtnl_state_foreach(const struct rtnl *rt, enum nlh_class c,
			void (*cb)(const struct nlh_event *ev, void *data), void *data);
size_t rtnl_state_count(const struct rtnl *rt, enum nlh_class c);

/*
 * Routes are kept only while something needs them: rules or monitors that
 * want route.* or net.* events, or nlhook.routes(), whose first call makes
 * the instance keep them from then on (one dump, waited for).  0, or a
 * negative errno when they cannot be read.
 */
int rtnl_routes_keep(const struct rtnl *rt);

/* nlhook.routes() filters, all optional. */
struct rtnl_route_filter {
	const char *ifname;		/* through this device */
	bool by_table;
	uint32_t table;
	bool by_dst;
	struct nlh_addr dst;		/* inside this prefix ("default": the default routes) */
};

/* How many routes match; with cb, each as an event (route.add, ifname filled in). */
size_t rtnl_routes_match(const struct rtnl *rt, const struct rtnl_route_filter *f,
			 void (*cb)(const struct nlh_event *ev, void *data), void *data);

struct rtnl_routes_stats {
	bool kept;
	size_t inet, inet6;
	size_t bytes;			/* what the table takes from the system */
};
void rtnl_routes_stats(const struct rtnl *rt, struct rtnl_routes_stats *ret);

/*
 * A namespace known only by its nsid (no file to open a socket in): the
 * registry's socket that hears every namespace (NETLINK_LISTEN_ALL_NSID)
 * feeds it the messages from that nsid and the replies to its dumps.  Its
 * links and addresses are dumped through that socket (the kernel's
 * IFLA/IFA_TARGET_NETNSID), at start and after an overrun; its routes
 * and neighbours are known from events only.
 */
struct nlsock;
struct rtnl *rtnl_fed_new(const struct nlh_source_env *env, struct nlsock *shared, int32_t nsid);
/* A reply to one of its dumps (unicast: no nsid on it). */
bool rtnl_fed_reply(const struct rtnl *rt, const struct nlmsghdr *nlh);
void rtnl_fed_batch(struct rtnl *rt, const void *buf, size_t len);
void rtnl_fed_overrun(struct rtnl *rt);

/*
 * Replay: an instance without a socket, fed captured messages through
 * the same state and edge logic as live.  Dump replies (NLM_F_MULTI, e.g.
 * the links `nlhook record` writes at a capture's head) set state without
 * raising events.
 */
struct rtnl *rtnl_replay_new(const struct nlh_source_env *env);
void rtnl_replay_msg(struct rtnl *rt, const struct nlmsghdr *nlh);
void rtnl_replay_free(struct rtnl *rt);
