/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/source.h"

/*
 * nl80211, one instance per namespace (a wiphy can be moved into one):
 * its socket opens when wifi events are wanted.
 */
extern const struct nlh_source_ops nl80211_source;

struct nl80211;

/* A link of the same namespace changed (authorized is derived from its operstate). */
void nl80211_link_changed(void *inst, const struct nlh_event *link);

/* The mode of a wifi interface ("ap", "station", ... as the iftype field), NULL when not known. */
const char *nl80211_iftype(const struct nl80211 *w, uint32_t ifindex);

/*
 * The stations of access points now, as wifi.station.new shows them
 * (connected_time up to now).  Kept while station events are wanted:
 * nl80211_stations_kept() says so.  Fills at most max, returns how many.
 */
bool nl80211_stations_kept(const struct nl80211 *w);
size_t nl80211_station_count(const struct nl80211 *w);
size_t nl80211_stations_get(const struct nl80211 *w, struct nlh_event *evs, size_t max);

/* Replay: an instance without a socket, fed captured messages (controller or nl80211). */
struct nl80211 *nl80211_replay_new(const struct nlh_source_env *env);
void nl80211_replay_msg(struct nl80211 *w, const struct nlmsghdr *nlh);
/* Delivers what waits for an answer that will not come, then frees. */
void nl80211_replay_free(struct nl80211 *w);
