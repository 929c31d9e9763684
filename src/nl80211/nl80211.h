/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>

#include "core/source.h"

/*
 * nl80211, one instance per namespace (a wiphy can be moved into one):
 * its socket opens when wifi events are wanted.
 */
extern const struct nlh_source_ops nl80211_source;

struct nl80211;

/* A link of the same namespace changed (authorized is derived from its operstate). */
void nl80211_link_changed(void *inst, const struct nlh_event *link);

/* Replay: an instance without a socket, fed captured messages (controller or nl80211). */
struct nl80211 *nl80211_replay_new(const struct nlh_source_env *env);
void nl80211_replay_msg(struct nl80211 *w, const struct nlmsghdr *nlh);
/* Delivers what waits for an answer that will not come, then frees. */
void nl80211_replay_free(struct nl80211 *w);
