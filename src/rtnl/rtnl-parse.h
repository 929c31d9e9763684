/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>
#include <stddef.h>

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
 * Edge derivation: given the link's previous record (NULL when it is new)
 * and a freshly parsed RTM_NEWLINK (type link.new), write the events it
 * means into out[] (link.new, link.rename, link.up/down,
 * link.carrier/nocarrier, in that order; nocarrier before down).
 * Returns how many (at most RTNL_MAX_EDGES).
 */
#define RTNL_MAX_EDGES 4
size_t rtnl_link_edges(const struct nlh_event *prev, const struct nlh_event *cur, struct nlh_event *out);

const char *rtnl_operstate_name(unsigned int operstate);
