/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nlmsg.h"
#include "core/source.h"
#include "nflog/nflog-parse.h"
#include "nl80211/nl80211.h"
#include "pcap/pcap.h"
#include "replay.h"
#include "rtnl/rtnl.h"

/*
 * nlmon records a multicast message once per listening socket, and other
 * messages can fall between the copies: a record identical to one of the
 * last few, seen within 10 ms, is a copy.
 */
#define FOLD_KEEP 8
#define FOLD_WINDOW 0.010

struct fold {
	struct {
		uint8_t *data;
		size_t len;
		uint16_t family;
		double time;
	} last[FOLD_KEEP];
	unsigned int next;
	unsigned long folded;
};

static bool fold_seen(struct fold *f, const struct pcap_record *rec)
{
	uint8_t *copy;

	for (int i = 0; i < FOLD_KEEP; i++) {
		if (f->last[i].data && f->last[i].family == rec->family && f->last[i].len == rec->len &&
		    rec->time - f->last[i].time <= FOLD_WINDOW && !memcmp(f->last[i].data, rec->data, rec->len)) {
			f->folded++;
			return true;
		}
	}
	copy = malloc(rec->len ? rec->len : 1);
	if (copy) {
		memcpy(copy, rec->data, rec->len);
		free(f->last[f->next].data);
		f->last[f->next].data = copy;
		f->last[f->next].len = rec->len;
		f->last[f->next].family = rec->family;
		f->last[f->next].time = rec->time;
		f->next = (f->next + 1) % FOLD_KEEP;
	}
	return false;
}

static void replay_nflog(const struct nlmsghdr *nlh, void (*dispatch)(struct nlh_event *ev))
{
	struct nlh_event ev;
	const char *name;

	if (nflog_parse(nlh, &ev) == -ENODATA || !NLH_HAS(&ev, NFLOG, group))
		return;
	if (ev.nflog.indev_index && (name = rtnl_ifname(ev.nflog.indev_index))) {
		nlh_strlcpy(ev.nflog.indev, name, IFNAMSIZ);
		NLH_SET(&ev, NFLOG, indev);
	}
	if (ev.nflog.outdev_index && (name = rtnl_ifname(ev.nflog.outdev_index))) {
		nlh_strlcpy(ev.nflog.outdev, name, IFNAMSIZ);
		NLH_SET(&ev, NFLOG, outdev);
	}
	dispatch(&ev);
}

int replay_file(const char *path, void (*dispatch)(struct nlh_event *ev), const char *who)
{
	struct nlh_want want = { .types = ~(nlh_typeset)0 };
	unsigned long other[32] = {}, records = 0;
	struct pcap_reader *r;
	struct pcap_record rec;
	struct fold fold = {};
	char err[512];
	int ret = 0, n;

	if (pcap_open(path, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", who, err);
		return 1;
	}
	nlh_dispatch = dispatch;
	rtnl_replay_start(&want);
	while ((n = pcap_next(r, &rec, err, sizeof(err))) > 0) {
		const struct nlmsghdr *nlh;
		size_t left;

		records++;
		if (fold_seen(&fold, &rec))
			continue;
		nlh_replay_time = rec.time;
		switch (rec.family) {
		case NETLINK_ROUTE:
			nlmsg_for_each(nlh, rec.data, rec.len, left)
				rtnl_replay_msg(nlh);
			break;
		case NETLINK_GENERIC:
			nlmsg_for_each(nlh, rec.data, rec.len, left)
				nl80211_replay_msg(nlh);
			break;
		case NETLINK_NETFILTER:
			nlmsg_for_each(nlh, rec.data, rec.len, left)
				replay_nflog(nlh, dispatch);
			break;
		default:
			other[rec.family < 32 ? rec.family : 31]++;
			break;
		}
	}
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", who, err);
		ret = 1;
	}
	for (int i = 0; i < 32; i++)
		if (other[i])
			fprintf(stderr, "%s: %lu records of netlink family %d%s not decoded\n", who, other[i], i,
				i == 31 ? " or above" : "");
	fprintf(stderr, "%s: %lu records, %lu identical copies folded\n", who, records, fold.folded);
	nlh_replay_time = 0;
	nl80211_replay_reset();
	rtnl_replay_stop();
	for (int i = 0; i < FOLD_KEEP; i++)
		free(fold.last[i].data);
	pcap_close(r);
	return ret;
}
