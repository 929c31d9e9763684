/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "core/nlmsg.h"
#include "core/source.h"
#include "nflog/nflog-parse.h"
#include "nl80211/nl80211.h"
#include "pcap/pcap.h"
#include "replay.h"
#include "rtnl/opstate.h"
#include "rtnl/rtnl.h"
#include "rules/rules.h"

/*
 * A replay's own instances, wired as a namespace's are: no sockets, the
 * state from the capture alone, never the live tables.
 */
struct replay {
	void (*dispatch)(struct nlh_event *ev);
	struct rtnl *rtnl;
	struct nl80211 *nl80211;
	struct opstate *opstate;
};

static void replay_event(void *data, struct nlh_event *ev)
{
	struct replay *rp = data;

	rp->dispatch(ev);
}

static const char *replay_ifname(void *data, uint32_t ifindex)
{
	struct replay *rp = data;

	return rp->rtnl ? rtnl_ifname(rp->rtnl, ifindex) : NULL;
}

static void replay_link_changed(void *data, const struct nlh_event *link)
{
	struct replay *rp = data;

	if (rp->nl80211)
		nl80211_link_changed(rp->nl80211, link);
}

static void replay_obj_changed(void *data, const struct nlh_event *old, const struct nlh_event *cur, bool emit)
{
	struct replay *rp = data;

	opstate_notify(rp->opstate, old, cur, emit);
}

static void replay_state(const char *netns, void *data, struct rules_state *ret)
{
	struct replay *rp = data;

	if (!netns) {
		ret->rtnl = rp->rtnl;
		ret->nl80211 = rp->nl80211;
		ret->opstate = rp->opstate;
	}
}

static void replay_nflog(struct replay *rp, const struct nlmsghdr *nlh)
{
	struct nlh_event ev;
	const char *name;

	if (nflog_parse(nlh, &ev) == -ENODATA || !NLH_HAS(&ev, NFLOG, group))
		return;
	if (ev.nflog.indev_index && (name = replay_ifname(rp, ev.nflog.indev_index))) {
		nlh_strlcpy(ev.nflog.indev, name, IFNAMSIZ);
		NLH_SET(&ev, NFLOG, indev);
	}
	if (ev.nflog.outdev_index && (name = replay_ifname(rp, ev.nflog.outdev_index))) {
		nlh_strlcpy(ev.nflog.outdev, name, IFNAMSIZ);
		NLH_SET(&ev, NFLOG, outdev);
	}
	if (ev.nflog.physindev_index && (name = replay_ifname(rp, ev.nflog.physindev_index))) {
		nlh_strlcpy(ev.nflog.physindev, name, IFNAMSIZ);
		NLH_SET(&ev, NFLOG, physindev);
	}
	if (ev.nflog.physoutdev_index && (name = replay_ifname(rp, ev.nflog.physoutdev_index))) {
		nlh_strlcpy(ev.nflog.physoutdev, name, IFNAMSIZ);
		NLH_SET(&ev, NFLOG, physoutdev);
	}
	rp->dispatch(&ev);
}

void replay_clock_start(double t)
{
	loop_replay_start(t);
}

/* What the replay left for later, up to REPLAY_HORIZON past its end. */
void replay_clock_finish(const char *who)
{
	double end = loop_now() + REPLAY_HORIZON, t;
	unsigned int fired = 0;

	while ((t = loop_next_deadline()) && t <= end && fired < REPLAY_TIMERS_MAX) {
		nlh_replay_time = t;
		fired += loop_replay_advance(t, REPLAY_TIMERS_MAX - fired);
	}
	if (loop_next_deadline())
		fprintf(stderr, "%s: timers due more than %d s after the end (or past %d firings) not run\n", who,
			REPLAY_HORIZON, REPLAY_TIMERS_MAX);
	nlh_replay_time = 0;
	loop_replay_stop();
}

static void clock_to(double t, const char *who)
{
	static bool told;

	/* Timers due before this record first, each at its own time. */
	while (loop_next_deadline() && loop_next_deadline() <= t) {
		nlh_replay_time = loop_next_deadline();
		if (!loop_replay_advance(nlh_replay_time, 1))
			break;
	}
	if (t < loop_now() && !told) {
		told = true;
		fprintf(stderr, "%s: records out of time order; timers follow the latest time\n", who);
	}
	loop_replay_advance(t, 0);
	nlh_replay_time = t;
}

int replay_file(const char *path, void (*dispatch)(struct nlh_event *ev), const char *who)
{
	struct replay rp = { .dispatch = dispatch };
	const struct nlh_source_env env = {
		.sink = { replay_event, &rp },
		.netns_fd = -1,
		.ifname = replay_ifname,
		.link_changed = replay_link_changed,
		.obj_changed = replay_obj_changed,
		.data = &rp,
	};
	bool clock = false;
	unsigned long other[32] = {}, records = 0;
	struct pcap_reader *r;
	struct pcap_record rec;
	struct pcap_fold fold = {};
	char err[512];
	int ret = 0, n;

	if (pcap_open(path, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", who, err);
		return 1;
	}
	rp.opstate = opstate_new(&env.sink);
	rp.rtnl = rtnl_replay_new(&env);
	rp.nl80211 = nl80211_replay_new(&env);
	if (!rp.opstate || !rp.rtnl || !rp.nl80211) {
		fprintf(stderr, "%s: out of memory\n", who);
		ret = 1;
		goto out;
	}
	rules_set_state_source(replay_state, &rp);
	while ((n = pcap_next(r, &rec, err, sizeof(err))) > 0) {
		const struct nlmsghdr *nlh;
		size_t left;

		records++;
		if (pcap_fold_seen(&fold, &rec))
			continue;
		if (!clock) {
			replay_clock_start(rec.time);
			clock = true;
		}
		clock_to(rec.time, who);
		switch (rec.family) {
		case NETLINK_ROUTE:
			nlh_msg_for_each(nlh, rec.data, rec.len, left)
				rtnl_replay_msg(rp.rtnl, nlh);
			break;
		case NETLINK_GENERIC:
			nlh_msg_for_each(nlh, rec.data, rec.len, left)
				nl80211_replay_msg(rp.nl80211, nlh);
			break;
		case NETLINK_NETFILTER:
			nlh_msg_for_each(nlh, rec.data, rec.len, left)
				replay_nflog(&rp, nlh);
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
	if (clock)
		replay_clock_finish(who);
out:
	rules_set_state_source(NULL, NULL);
	if (rp.nl80211)
		nl80211_replay_free(rp.nl80211);
	rtnl_replay_free(rp.rtnl);
	opstate_free(rp.opstate);
	pcap_fold_free(&fold);
	pcap_close(r);
	return ret;
}
