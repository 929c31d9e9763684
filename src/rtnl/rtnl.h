/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/source.h"

extern const struct nlh_source_ops rtnl_source;

/*
 * The state the rtnl source keeps (from the start-up dump and every
 * message since): links by ifindex, addresses, routes.  Used for edge
 * derivation, ifindex -> name lookups by other sources, and
 * nlhook.links() / addrs() / routes().
 */
const char *rtnl_ifname(uint32_t ifindex);	/* NULL when unknown */
void rtnl_state_foreach(enum nlh_class c, void (*cb)(const struct nlh_event *ev, void *data), void *data);
size_t rtnl_state_count(enum nlh_class c);

/*
 * Replay: feed a captured message through the same state and edge logic
 * as live.  Dump replies (NLM_F_MULTI, e.g. the links `nlhook record`
 * writes at a capture's head) set state without raising events.
 */
void rtnl_replay_start(const struct nlh_want *want);
void rtnl_replay_msg(const struct nlmsghdr *nlh);
void rtnl_replay_stop(void);

/* Called with every link record as it changes (nl80211 watches operstate). */
extern void (*rtnl_link_watch)(const struct nlh_event *ev);
