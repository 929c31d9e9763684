/* SPDX-License-Identifier: MIT */
/*
 * The nl80211 parser, the controller parser, the GET_INTERFACE answer
 * parser and the IE walker on arbitrary messages, with the derivation
 * state carried across them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/nlmsg.h"
#include "nl80211/nl80211-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nl80211_track track;
	struct nl80211_ids ids = { .family = 30 };
	void *buf = malloc(size ? size : 1);
	const struct nlmsghdr *nlh;
	struct nlh_event ev, extra;
	struct nl80211_iface iface;
	struct nlh_ssid ssid;
	char out[4096];
	size_t left;

	memcpy(buf, data, size);
	memset(&track, 0, sizeof(track));
	nlh_msg_for_each(nlh, buf, size, left) {
		nl80211_ctrl_parse(nlh, &ids);
		if (nl80211_parse(nlh, &ids, &ev) == 0) {
			if (nl80211_wants_iface(&ev) && nl80211_iface_parse(nlh, &ids, &iface) == 0)
				nl80211_iface_fill(&ev, &iface);
			nl80211_track_wifi(&track, &ev, &extra);
			nlh_event_json(&ev, out, sizeof(out));
		} else if (nl80211_iface_parse(nlh, &ids, &iface) == 0) {
			nlh_event_init(&ev, NLH_EV_WIFI_CONNECT);
			ev.wifi.ifindex = iface.ifindex;
			NLH_SET(&ev, WIFI, ifindex);
			nl80211_iface_fill(&ev, &iface);
			nlh_event_json(&ev, out, sizeof(out));
		}
	}
	nl80211_ie_ssid(data, size, &ssid);
	free(buf);
	return 0;
}
