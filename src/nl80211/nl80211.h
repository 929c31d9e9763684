/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>

#include "core/source.h"

extern const struct nlh_source_ops nl80211_source;

/* Replay: a captured generic netlink message (controller or nl80211). */
void nl80211_replay_msg(const struct nlmsghdr *nlh);
void nl80211_replay_reset(void);
