/* SPDX-License-Identifier: MIT */
/*
 * The nl80211 parser, the controller parser, the GET_INTERFACE answer
 * parser, the station parsers (NEW_STATION / DEL_STATION and their
 * STA_INFO, events and dump answers) and the IE walker on arbitrary
 * messages, with the derivation state and the station table carried
 * across them as the source carries them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/nlmsg.h"
#include "nl80211/nl80211-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void render(const struct nlh_event *ev)
{
	char out[4096];

	nlh_event_json(ev, out, sizeof(out));
	nlh_event_text(ev, false, out, sizeof(out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nl80211_track track;
	struct nl80211_ids ids = { .family = 30 };
	void *buf = malloc(size ? size : 1);
	const struct nlmsghdr *nlh;
	struct nlh_event ev, extra;
	struct nl80211_iface iface;
	struct nlh_ssid ssid;
	size_t left;

	memcpy(buf, data, size);
	memset(&track, 0, sizeof(track));
	nl80211_track_stations(&track, true);
	nlh_msg_for_each(nlh, buf, size, left) {
		nl80211_ctrl_parse(nlh, &ids);
		if (nl80211_iface_parse(nlh, &ids, &iface) == 0) {
			nl80211_track_iface(&track, &iface);
			nlh_event_init(&ev, NLH_EV_WIFI_CONNECT);
			ev.wifi.ifindex = iface.ifindex;
			NLH_SET(&ev, WIFI, ifindex);
			nl80211_iface_fill(&ev, &iface);
			render(&ev);
		}
		if (nl80211_station_parse(nlh, &ids, &ev) == 0 && nl80211_track_station_dump(&track, &ev) >= 0)
			render(&ev);
		if (nl80211_parse(nlh, &ids, &ev) == 0) {
			nl80211_wants_iface(&track, &ev);
			if (nl80211_track_wifi(&track, &ev, &extra) >= 0)
				render(&ev);
		}
	}
	/* what nlhook.stations() and a re-dump read of the table */
	for (size_t i = 0; i < nl80211_track_station_count(&track); i++) {
		nl80211_track_station_get(&track, i, 0, &ev);
		render(&ev);
	}
	nl80211_track_stations_mark(&track);
	while (nl80211_track_stations_sweep(&track, &ev) > 0)
		render(&ev);
	nl80211_track_free(&track);
	nl80211_ie_ssid(data, size, &ssid);
	free(buf);
	return 0;
}
