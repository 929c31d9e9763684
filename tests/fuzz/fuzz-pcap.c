/* SPDX-License-Identifier: MIT */
/*
 * The pcap reader, the fold of nlmon's copies and the replay walk
 * behind them (rtnetlink links, nl80211 with the family id learned from
 * the file) on any file: `nlhook replay` and `nlhook test --replay` read
 * files from anywhere.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/nlmsg.h"
#include "nl80211/nl80211-parse.h"
#include "pcap/pcap.h"
#include "rtnl/rtnl-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nl80211_track track;
	struct nl80211_ids ids = {};
	struct pcap_fold fold = {};
	struct pcap_reader *r;
	struct pcap_record rec;
	struct nlh_event ev, extra;
	char err[512];

	if (pcap_open_mem(data, size, "fuzz", &r, err, sizeof(err)) < 0)
		return 0;
	memset(&track, 0, sizeof(track));
	while (pcap_next(r, &rec, err, sizeof(err)) > 0) {
		const struct nlmsghdr *nlh;
		size_t left;

		if (pcap_fold_seen(&fold, &rec))
			continue;
		nlh_msg_for_each(nlh, rec.data, rec.len, left) {
			if (rec.family == NETLINK_ROUTE) {
				if (rtnl_parse(nlh, &ev) == 0 && nlh_event_type_class(ev.type) == NLH_CLASS_LINK)
					nl80211_track_link(&track, &ev, &extra);
			} else if (rec.family == NETLINK_GENERIC) {
				/* the family id comes from the file, as in a replay */
				nl80211_ctrl_parse(nlh, &ids);
				if (nl80211_parse(nlh, &ids, &ev) == 0)
					nl80211_track_wifi(&track, &ev, &extra);
			}
		}
	}
	pcap_fold_free(&fold);
	pcap_close(r);
	return 0;
}
