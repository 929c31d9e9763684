/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/nl80211.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/nlmsg.h"
#include "core/nlsock.h"
#include "nl80211-parse.h"
#include "nl80211.h"

/*
 * nl80211 through libnl-genl-3, as iw, wpa_supplicant and hostapd talk
 * to it: the socket, the family and its groups, memberships and the
 * GET_INTERFACE request.  What arrives is read by the socket skeleton and
 * parsed by the pure parser, as live as in a replay.
 */

/*
 * While the kernel is asked about an interface (GET_INTERFACE: a
 * connect's SSID and frequency, the mode of a station event's interface
 * or its access point's SSID), that event and everything after it wait
 * here: wifi and link events, what the kernel says of interfaces and
 * stations, the end of a dump.  Rules see events in kernel order, and the
 * derivations (a roam needs the SSID, authorized needs the connect first,
 * a station event its interface's mode) run on complete state.  The
 * kernel answers every request, with the interface or an error; only an
 * overrun can lose the answer, and then the queue goes out as it is.
 */
#define HOLD_MAX 64

enum held_kind {
	HELD_WIFI,		/* an nl80211 event */
	HELD_LINK,		/* a link of the namespace changed */
	HELD_IFACE,		/* an interface's mode and SSID */
	HELD_STATION,		/* a station there (answer to GET_STATION) */
	HELD_DUMP_DONE,		/* the end of one dump request */
};

struct held {
	enum held_kind kind;
	uint32_t seq;		/* HELD_DUMP_DONE: of the request */
	union {
		struct nlh_event ev;
		struct nl80211_iface iface;
	};
};

enum { GRP_MLME, GRP_CONFIG, GRP_SCAN, GRP_REGULATORY, _GRP_MAX };

#define STATION_TYPES (NLH_TYPE_BIT(NLH_EV_WIFI_STATION_NEW) | NLH_TYPE_BIT(NLH_EV_WIFI_STATION_DEL))

struct nl80211 {
	struct nlh_source_env env;
	char *who;			/* "nl80211", "nl80211 in blue" */
	struct nl_sock *nl;		/* libnl's: requests */
	struct nlsock *sock;		/* ours: the same socket, read from the loop */
	struct nl80211_ids ids;
	struct nl80211_track track;	/* its station table is allocated as stations come */
	nlh_typeset wanted;
	bool joined[_GRP_MAX];
	bool told_missing;
	bool told_full;			/* the station table was full */
	bool replay;
	struct nlh_source_stats stats;
	struct held *hold;		/* HOLD_MAX, allocated at the first event held */
	unsigned int hold_head, hold_n;
	uint32_t hold_seq;		/* of the request in flight; 0: none */
	uint32_t next_seq;
	/*
	 * The dump of the interfaces, then of each access point's stations,
	 * one request at a time: at start, when stations become wanted,
	 * after an overrun (then what changed is raised).
	 */
	uint32_t dump_seq;		/* of the request in flight; 0: none */
	uint32_t dump_ifindex;		/* whose stations; 0: the interfaces */
	bool dump_emit;
	bool dump_again;
};

static void deliver(struct nl80211 *w, struct nlh_event *ev)
{
	w->stats.events++;
	w->env.sink.event(w->env.sink.data, ev);
}

static void ifname_fill(const struct nl80211 *w, struct nlh_event *ev)
{
	const char *name;

	if (!NLH_HAS(ev, WIFI, ifname) && NLH_HAS(ev, WIFI, ifindex) && w->env.ifname &&
	    (name = w->env.ifname(w->env.data, ev->wifi.ifindex))) {
		nlh_strlcpy(ev->wifi.ifname, name, IFNAMSIZ);
		NLH_SET(ev, WIFI, ifname);
	}
}

static void wifi_event(struct nl80211 *w, struct nlh_event *ev)
{
	struct nlh_event extra;
	int r = nl80211_track_wifi(&w->track, ev, &extra);

	if (r < 0)
		return;		/* a station of no access point */
	if (w->track.sta_dropped && !w->told_full) {
		w->told_full = true;
		log_warn("%s: more than %d stations: nlhook.stations() does not list those past it", w->who,
			 NL80211_STATIONS_MAX);
	}
	deliver(w, ev);
	if (r > 0)
		deliver(w, &extra);
}

static void link_event(struct nl80211 *w, const struct nlh_event *link)
{
	struct nlh_event ev;

	if (nl80211_track_link(&w->track, link, &ev) > 0)
		deliver(w, &ev);
}

/* A station the kernel has; in a re-dump one not known before joined in the gap. */
static void station_there(struct nl80211 *w, struct nlh_event *ev)
{
	if (nl80211_track_station_dump(&w->track, ev) > 0 && w->dump_emit && w->dump_seq) {
		ifname_fill(w, ev);
		deliver(w, ev);
	}
}

static void dump_next(struct nl80211 *w);

static void held_deliver(struct nl80211 *w, struct held *h)
{
	switch (h->kind) {
	case HELD_WIFI:
		wifi_event(w, &h->ev);
		break;
	case HELD_LINK:
		link_event(w, &h->ev);
		break;
	case HELD_IFACE:
		nl80211_track_iface(&w->track, &h->iface);
		break;
	case HELD_STATION:
		station_there(w, &h->ev);
		break;
	case HELD_DUMP_DONE:
		/* Not of a dump given up after an overrun. */
		if (h->seq == w->dump_seq)
			dump_next(w);
		break;
	}
}

static uint32_t seq_next(struct nl80211 *w)
{
	if (++w->next_seq < 2)
		w->next_seq = 2;
	return w->next_seq;
}

/* One request through libnl; its answer comes through the skeleton. */
static int request(struct nl80211 *w, uint8_t cmd, int flags, uint32_t ifindex, uint32_t *ret_seq)
{
	uint32_t seq = seq_next(w);
	struct nl_msg *msg;
	int r;

	if (!w->nl || !w->ids.family)
		return -ENOTCONN;
	msg = nlmsg_alloc();
	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, seq, w->ids.family, 0, flags, cmd, 0) ||
	    (ifindex && nla_put_u32(msg, NL80211_ATTR_IFINDEX, ifindex) < 0)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	r = nl_send_auto(w->nl, msg);
	nlmsg_free(msg);
	if (r < 0)
		return -EIO;
	*ret_seq = seq;
	return 0;
}

static int ask_iface(struct nl80211 *w, uint32_t ifindex)
{
	return request(w, NL80211_CMD_GET_INTERFACE, 0, ifindex, &w->hold_seq);
}

/* Deliver from the head until a connect needs asking about. */
static void hold_run(struct nl80211 *w)
{
	while (w->hold_n && !w->hold_seq) {
		struct held *h = &w->hold[w->hold_head];
		int r;

		if (h->kind == HELD_WIFI && nl80211_wants_iface(&w->track, &h->ev)) {
			r = ask_iface(w, h->ev.wifi.ifindex);
			if (r == 0)
				return;
			if (r != -ENOTCONN)
				log_debug("%s: cannot ask for interface %u: %s", w->who, h->ev.wifi.ifindex,
					  strerror(-r));
		}
		w->hold_head = (w->hold_head + 1) % HOLD_MAX;
		w->hold_n--;
		held_deliver(w, h);
	}
}

/* Give up on the answer: deliver what waits, as it is. */
static void hold_flush(struct nl80211 *w)
{
	w->hold_seq = 0;
	while (w->hold_n) {
		struct held *h = &w->hold[w->hold_head];

		w->hold_head = (w->hold_head + 1) % HOLD_MAX;
		w->hold_n--;
		held_deliver(w, h);
	}
}

static struct held *hold_slot(struct nl80211 *w)
{
	if (!w->hold && !(w->hold = calloc(HOLD_MAX, sizeof(*w->hold))))
		return NULL;
	if (w->hold_n == HOLD_MAX) {
		log_debug("%s: %u events wait for an interface query; delivering them without", w->who, HOLD_MAX);
		hold_flush(w);
	}
	return &w->hold[(w->hold_head + w->hold_n) % HOLD_MAX];
}

/* In order: after what waits, or now when nothing does. */
static void hold_push(struct nl80211 *w, const struct held *in)
{
	struct held *h;

	if (!w->hold_n && in->kind != HELD_WIFI) {
		struct held now = *in;

		held_deliver(w, &now);
		return;
	}
	h = hold_slot(w);
	if (!h) {
		struct held now = *in;

		held_deliver(w, &now);
		return;
	}
	*h = *in;
	w->hold_n++;
	hold_run(w);
}

static void hold_event(struct nl80211 *w, enum held_kind kind, const struct nlh_event *ev)
{
	struct held h = { .kind = kind, .ev = *ev };

	hold_push(w, &h);
}

/* The answer (or error) to the request in flight. */
static void hold_answer(struct nl80211 *w, const struct nlmsghdr *nlh)
{
	struct nl80211_iface iface;
	struct held *h = &w->hold[w->hold_head];

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) && e->error)
			log_debug("%s: interface %u: %s", w->who, h->ev.wifi.ifindex, strerror(-e->error));
	} else if (nl80211_iface_parse(nlh, &w->ids, &iface) == 0) {
		nl80211_track_iface(&w->track, &iface);
		nl80211_iface_fill(&h->ev, &iface);
	} else {
		w->stats.errors++;
		log_debug("%s: malformed interface answer, ignoring", w->who);
	}
	w->hold_seq = 0;
	if (w->hold_n) {
		w->hold_head = (w->hold_head + 1) % HOLD_MAX;
		w->hold_n--;
		wifi_event(w, &h->ev);
	}
	hold_run(w);
}

/*
 * What the kernel says of interfaces and stations (notifications, and in
 * a capture the answers to other programs), then the event if it is one.
 */
static void wifi_msg(struct nl80211 *w, const struct nlmsghdr *nlh)
{
	struct held h = { .kind = HELD_IFACE };
	struct nlh_event ev;
	int r;

	if (nl80211_iface_parse(nlh, &w->ids, &h.iface) == 0)
		hold_push(w, &h);
	if (nlh->nlmsg_pid && nl80211_station_parse(nlh, &w->ids, &ev) == 0) {
		hold_event(w, HELD_STATION, &ev);
		return;
	}
	r = nl80211_parse(nlh, &w->ids, &ev);
	if (r == -ENODATA)
		return;
	if (r < 0) {
		w->stats.errors++;
		log_debug("%s: malformed message, ignoring", w->who);
		return;
	}
	/* Without the station table nobody wants them: no interface query for them. */
	if ((ev.type == NLH_EV_WIFI_STATION_NEW || ev.type == NLH_EV_WIFI_STATION_DEL) && !w->track.stations)
		return;
	ifname_fill(w, &ev);
	hold_event(w, HELD_WIFI, &ev);
}

/* An answer to the dump in flight. */
static void dump_msg(struct nl80211 *w, const struct nlmsghdr *nlh)
{
	struct held h = { .kind = HELD_DUMP_DONE, .seq = w->dump_seq };
	const struct nlmsgerr *e;

	switch (nlh->nlmsg_type) {
	case NLMSG_ERROR:
		e = mnl_nlmsg_get_payload(nlh);
		if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) && e->error)
			log_debug("%s: dump of %s %u: %s", w->who, w->dump_ifindex ? "interface" : "interfaces",
				  w->dump_ifindex, strerror(-e->error));
		/* fall through */
	case NLMSG_DONE:
		hold_push(w, &h);
		return;
	}
	/*
	 * NLM_F_DUMP_INTR (a station came or went between two parts) needs
	 * no second dump: the notification of that change is read after
	 * the part that missed it.
	 */
	wifi_msg(w, nlh);
}

static int dump_request(struct nl80211 *w)
{
	uint8_t cmd = w->dump_ifindex ? NL80211_CMD_GET_STATION : NL80211_CMD_GET_INTERFACE;
	int r = request(w, cmd, NLM_F_DUMP, w->dump_ifindex, &w->dump_seq);

	if (r < 0) {
		w->dump_seq = 0;
		if (r != -ENOTCONN)
			log_err("%s: dump request: %s", w->who, strerror(-r));
	}
	return r;
}

static void dump_start(struct nl80211 *w, bool emit)
{
	if (w->dump_seq) {
		w->dump_again = true;
		w->dump_emit |= emit;
		return;
	}
	w->dump_emit = emit;
	w->dump_ifindex = 0;
	if (emit)
		nl80211_track_stations_mark(&w->track);
	dump_request(w);
}

/* The next access point's stations, in ifindex order; or the end. */
static void dump_next(struct nl80211 *w)
{
	uint32_t next = 0;
	struct nlh_event ev;

	for (size_t i = 0; w->track.stations && i < NL80211_TRACK_MAX; i++) {
		uint32_t ifindex = w->track.ifs[i].ifindex;

		if (ifindex > w->dump_ifindex && (!next || ifindex < next) && nl80211_track_is_ap(&w->track, ifindex))
			next = ifindex;
	}
	if (next) {
		w->dump_ifindex = next;
		if (dump_request(w) == 0)
			return;
	}
	/* What the kernel no longer has left in the gap. */
	while (w->dump_emit && nl80211_track_stations_sweep(&w->track, &ev) > 0) {
		ifname_fill(w, &ev);
		deliver(w, &ev);
	}
	w->dump_seq = 0;
	w->dump_emit = false;
	if (w->dump_again) {
		w->dump_again = false;
		dump_start(w, true);
	}
}

void nl80211_link_changed(void *inst, const struct nlh_event *link)
{
	struct nl80211 *w = inst;

	if (w->hold_n)
		hold_event(w, HELD_LINK, link);
	else
		link_event(w, link);
}

/* Only the groups the wanted events come from; a reload may drop some. */
static void subscribe(struct nl80211 *w)
{
	static const char *const globs[_GRP_MAX][10] = {
		[GRP_MLME] = { "wifi.connect", "wifi.disconnect", "wifi.roam", "wifi.authorized",
			       "wifi.associate", "wifi.authenticate", "wifi.deauth", "wifi.disassoc",
			       "wifi.station.*" },
		/* Any: the interfaces' modes (SET_INTERFACE) are followed whenever wifi is. */
		[GRP_CONFIG] = { "wifi.*" },
		[GRP_SCAN] = { "wifi.scan.done" },
		[GRP_REGULATORY] = { "wifi.reg.change" },
	};
	const uint32_t grp[_GRP_MAX] = {
		w->ids.grp_mlme, w->ids.grp_config, w->ids.grp_scan, w->ids.grp_regulatory,
	};

	if (!w->ids.family || !w->nl)
		return;
	for (int i = 0; i < _GRP_MAX; i++) {
		nlh_typeset t = 0;
		int r;

		for (int k = 0; k < 10 && globs[i][k]; k++)
			t |= nlh_event_types_glob(globs[i][k]);
		if (!!(w->wanted & t) == w->joined[i] || !grp[i])
			continue;
		r = w->joined[i] ? nl_socket_drop_membership(w->nl, grp[i]) : nl_socket_add_membership(w->nl, grp[i]);
		if (r < 0)
			log_err("%s: cannot %s multicast group %u: %s", w->who, w->joined[i] ? "leave" : "join",
				grp[i], nl_geterror(r));
		else
			w->joined[i] = !w->joined[i];
	}
}

/* The controller says nl80211 appeared (cfg80211 loaded, a dongle plugged) or went. */
static void ctrl_msg(struct nl80211 *w, const struct nlmsghdr *nlh)
{
	struct nl80211_ids n = w->ids;

	if (nl80211_ctrl_parse(nlh, &n) <= 0)
		return;
	if (n.family && !w->ids.family) {
		log_info("%s: family %u%s", w->who, n.family, w->told_missing ? " appeared" : "");
	} else if (!n.family && w->ids.family) {
		bool stations = w->track.stations;

		log_info("%s: the family went away (cfg80211 unloaded)", w->who);
		/* Its interfaces and stations went with it; requests in flight get no answer. */
		hold_flush(w);
		nl80211_track_free(&w->track);
		memset(&w->track, 0, sizeof(w->track));
		nl80211_track_stations(&w->track, stations);
		w->dump_seq = 0;
		w->dump_again = false;
	}
	w->ids = n;
	memset(w->joined, 0, sizeof(w->joined));
	subscribe(w);
	/* Its interfaces, and their stations, are new to us. */
	if (n.family && w->wanted)
		dump_start(w, false);
}

static void nl80211_batch(void *data, const void *buf, size_t len, int32_t nsid)
{
	struct nl80211 *w = data;
	uint32_t portid = w->sock ? nlsock_portid(w->sock) : 0;
	const struct nlmsghdr *nlh;
	size_t left;

	nlh_msg_for_each(nlh, buf, len, left) {
		if (w->hold_seq && nlh->nlmsg_seq == w->hold_seq && nlh->nlmsg_pid == portid)
			hold_answer(w, nlh);
		else if (w->dump_seq && nlh->nlmsg_seq == w->dump_seq && nlh->nlmsg_pid == portid)
			dump_msg(w, nlh);
		else if (nlh->nlmsg_type == GENL_ID_CTRL)
			ctrl_msg(w, nlh);
		else if (w->ids.family && nlh->nlmsg_type == w->ids.family)
			wifi_msg(w, nlh);
	}
}

static void nl80211_overrun(void *data)
{
	struct nl80211 *w = data;
	struct nlh_event ev;

	w->stats.drops++;
	w->stats.resyncs++;
	log_warn("%s: receive buffer overrun: wifi events were lost", w->who);
	/* The answer awaited may be among the lost. */
	hold_flush(w);
	nlh_event_init(&ev, NLH_EV_NLHOOK_RESYNC);
	nlh_strlcpy(ev.self.source, "nl80211", sizeof(ev.self.source));
	NLH_SET(&ev, SELF, source);
	w->env.sink.event(w->env.sink.data, &ev);
	/* Interfaces and stations again, from the start (the dump's own answers may be lost too). */
	w->dump_seq = 0;
	w->dump_again = false;
	dump_start(w, true);
}

static const struct nlsock_ops nl80211_sock_ops = {
	.batch = nl80211_batch,
	.overrun = nl80211_overrun,
};

/* The family and its groups, from the controller: asked once, before any group is joined. */
static void resolve(struct nl80211 *w)
{
	static const char *const names[_GRP_MAX] = { "mlme", "config", "scan", "regulatory" };
	uint32_t *grp[_GRP_MAX] = { &w->ids.grp_mlme, &w->ids.grp_config, &w->ids.grp_scan, &w->ids.grp_regulatory };
	int r = genl_ctrl_resolve(w->nl, "nl80211");

	if (r < 0) {
		w->told_missing = true;
		log_info("%s: no wifi here (no nl80211 family); listening for it to appear", w->who);
		return;
	}
	w->ids.family = r;
	for (int i = 0; i < _GRP_MAX; i++) {
		r = genl_ctrl_resolve_grp(w->nl, "nl80211", names[i]);
		*grp[i] = r < 0 ? 0 : r;
	}
}

/*
 * A socket in the instance's namespace, handed to libnl; our skeleton
 * watches the same descriptor.  The controller's "notify" group (its id
 * is the controller's own, GENL_ID_CTRL) says when nl80211 appears: a
 * machine without wifi is no error, and nothing is polled.
 */
static int nl80211_open(struct nl80211 *w)
{
	struct nlsock_config cfg = { .protocol = NETLINK_GENERIC, .netns_fd = -1, .who = w->who };
	int fd, r;

	fd = nlsock_socket(w->env.netns_fd, NETLINK_GENERIC);
	if (fd < 0)
		return fd;
	w->nl = nl_socket_alloc();
	if (!w->nl) {
		close(fd);
		return -ENOMEM;
	}
	if (nl_socket_set_fd(w->nl, NETLINK_GENERIC, fd) < 0) {
		close(fd);
		r = -EIO;
		goto fail;
	}
	/* Answers are matched by our sequence numbers; no acks asked for. */
	nl_socket_disable_seq_check(w->nl);
	nl_socket_disable_auto_ack(w->nl);
	resolve(w);
	r = nl_socket_add_membership(w->nl, GENL_ID_CTRL);
	if (r < 0) {
		r = -EIO;
		goto fail;
	}
	cfg.fd = fd;
	r = nlsock_open(&w->sock, &cfg, &nl80211_sock_ops, w);
	if (r < 0)
		goto fail;
	w->stats.rcvbuf = nlsock_rcvbuf(w->sock);
	return 0;
fail:
	nl_socket_free(w->nl);
	w->nl = NULL;
	return r;
}

static void *nl80211_new(const struct nlh_source_env *env)
{
	struct nl80211 *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->env = *env;
	w->next_seq = 2;
	if ((env->netns ? asprintf(&w->who, "nl80211 in %s", env->netns) : asprintf(&w->who, "nl80211")) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

/* At start only (as rtnl): rules begin with the interfaces and the stations known. */
static void dump_wait(struct nl80211 *w)
{
	while (w->dump_seq && w->sock) {
		if (nlsock_wait(w->sock, 5000) < 0 || nlsock_drain(w->sock, 64) < 0) {
			log_warn("%s: no answer to the interface dump yet; going on", w->who);
			return;
		}
	}
}

static int nl80211_update(void *inst, const struct nlh_want *want)
{
	struct nl80211 *w = inst;
	bool was = w->wanted, opened = false, stations, dump;
	int r;

	w->wanted = want->types & nlh_event_types_glob("wifi.*");
	stations = w->wanted & STATION_TYPES;
	if (w->wanted && !w->nl) {
		if ((r = nl80211_open(w)) < 0)
			return r;
		opened = true;
	}
	subscribe(w);
	/* Modes went unheard while nothing was wanted; stations, while not kept. */
	dump = w->nl && w->wanted && (opened || !was || (stations && !w->track.stations));
	nl80211_track_stations(&w->track, stations);
	if (dump)
		dump_start(w, false);
	if (opened)
		dump_wait(w);
	return 0;
}

static void nl80211_free(void *inst)
{
	struct nl80211 *w = inst;

	if (!w)
		return;
	nlsock_free(w->sock);
	/* libnl's socket owns the descriptor the skeleton watched. */
	nl_socket_free(w->nl);
	nl80211_track_free(&w->track);
	free(w->hold);
	free(w->who);
	free(w);
}

static void nl80211_stats(const void *inst, struct nlh_source_stats *ret)
{
	const struct nl80211 *w = inst;

	*ret = w->stats;
}

struct nl80211 *nl80211_replay_new(const struct nlh_source_env *env)
{
	struct nl80211 *w = nl80211_new(env);

	if (w) {
		w->replay = true;
		w->wanted = ~(nlh_typeset)0;
		nl80211_track_stations(&w->track, true);
	}
	return w;
}

void nl80211_replay_msg(struct nl80211 *w, const struct nlmsghdr *nlh)
{
	nl80211_batch(w, nlh, nlh->nlmsg_len, NLSOCK_NSID_OWN);
}

void nl80211_replay_free(struct nl80211 *w)
{
	hold_flush(w);
	nl80211_free(w);
}

const char *nl80211_iftype(const struct nl80211 *w, uint32_t ifindex)
{
	return nl80211_track_iftype(&w->track, ifindex);
}

bool nl80211_stations_kept(const struct nl80211 *w)
{
	return w->track.stations;
}

size_t nl80211_station_count(const struct nl80211 *w)
{
	return nl80211_track_station_count(&w->track);
}

size_t nl80211_stations_get(const struct nl80211 *w, struct nlh_event *evs, size_t max)
{
	size_t n = nl80211_track_station_count(&w->track);
	double now = nlh_now();

	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		nl80211_track_station_get(&w->track, i, now, &evs[i]);
		ifname_fill(w, &evs[i]);
	}
	return n;
}

const struct nlh_source_ops nl80211_source = {
	.name = "nl80211",
	.new = nl80211_new,
	.update = nl80211_update,
	.free = nl80211_free,
	.stats = nl80211_stats,
};
