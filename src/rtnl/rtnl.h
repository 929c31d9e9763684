/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/source.h"

/*
 * rtnetlink, one instance per namespace: the state it keeps (from the
 * start-up dump and every message since: links by ifindex, addresses,
 * routes, neighbours while wanted) serves edge derivation, ifindex ->
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
 * Replay: an instance without a socket, fed captured messages through
 * the same state and edge logic as live.  Dump replies (NLM_F_MULTI, e.g.
 * the links `nlhook record` writes at a capture's head) set state without
 * raising events.
 */
struct rtnl *rtnl_replay_new(const struct nlh_source_env *env);
void rtnl_replay_msg(struct rtnl *rt, const struct nlmsghdr *nlh);
void rtnl_replay_free(struct rtnl *rt);
