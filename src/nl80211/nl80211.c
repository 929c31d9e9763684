/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/nlmsg.h"
#include "nl80211-parse.h"
#include "nl80211.h"
#include "rtnl/rtnl.h"

/*
 * nl80211 over libmnl, like the other sources: one netlink library in the
 * daemon, a pure parser the tests and fuzzer link alone, and none of
 * libnl's weight in an idle daemon that should stay under 3 MiB.
 */

static struct mnl_socket *nl;
static struct nl80211_ids ids;
static struct nl80211_track track;
static nlh_typeset wanted;
static bool joined[4];
static bool told_missing;
static struct nlh_source_stats stats;
static uint32_t portid;

static void deliver(struct nlh_event *ev)
{
	stats.events++;
	if (nlh_dispatch)
		nlh_dispatch(ev);
}

static void wifi_event(struct nlh_event *ev)
{
	struct nlh_event extra;
	int r = nl80211_track_wifi(&track, ev, &extra);

	deliver(ev);
	if (r > 0)
		deliver(&extra);
}

static void link_event(const struct nlh_event *link)
{
	struct nlh_event ev;

	if (nl80211_track_link(&track, link, &ev) > 0)
		deliver(&ev);
}

/*
 * While the kernel is asked for a connect's SSID and frequency
 * (GET_INTERFACE), that connect and every wifi or link event after it wait
 * here, so rules see them in kernel order and the derivations (a roam needs
 * the SSID, authorized needs the connect first) run on complete events.
 * The kernel answers every request, with the interface or an error; only
 * an overrun can lose the answer, and then the queue goes out as it is.
 */
#define HOLD_MAX 64

static struct hold {
	struct held {
		bool link;
		struct nlh_event ev;
	} q[HOLD_MAX];
	unsigned int head, n;
	uint32_t seq;		/* of the request in flight; 0: none */
} hold;
static uint32_t next_seq = 2;	/* 1 is the family query */

static int ask_iface(uint32_t ifindex)
{
	char buf[64] __attribute__((aligned(8)));
	int len;

	if (!nl || !ids.family)
		return -ENOTCONN;
	if (++next_seq < 2)
		next_seq = 2;
	len = nl80211_build_get_interface(buf, sizeof(buf), ids.family, ifindex, next_seq);
	if (len < 0)
		return len;
	if (mnl_socket_sendto(nl, buf, len) < 0)
		return -errno;
	hold.seq = next_seq;
	return 0;
}

/* Deliver from the head until a connect needs asking about. */
static void hold_run(void)
{
	while (hold.n && !hold.seq) {
		struct held *h = &hold.q[hold.head];
		int r;

		if (!h->link && nl80211_wants_iface(&h->ev)) {
			r = ask_iface(h->ev.wifi.ifindex);
			if (r == 0)
				return;
			if (r != -ENOTCONN)
				log_debug("nl80211: cannot ask for interface %u: %s", h->ev.wifi.ifindex, strerror(-r));
		}
		hold.head = (hold.head + 1) % HOLD_MAX;
		hold.n--;
		if (h->link)
			link_event(&h->ev);
		else
			wifi_event(&h->ev);
	}
}

/* Give up on the answer: deliver what waits, as it is. */
static void hold_flush(void)
{
	hold.seq = 0;
	while (hold.n) {
		struct held *h = &hold.q[hold.head];

		hold.head = (hold.head + 1) % HOLD_MAX;
		hold.n--;
		if (h->link)
			link_event(&h->ev);
		else
			wifi_event(&h->ev);
	}
}

static void hold_push(bool link, const struct nlh_event *ev)
{
	struct held *h;

	if (hold.n == HOLD_MAX) {
		log_debug("nl80211: %u events wait for an interface query; delivering them without", HOLD_MAX);
		hold_flush();
	}
	h = &hold.q[(hold.head + hold.n) % HOLD_MAX];
	h->link = link;
	h->ev = *ev;
	hold.n++;
	hold_run();
}

/* The answer (or error) to the request in flight. */
static void hold_answer(const struct nlmsghdr *nlh)
{
	struct nl80211_iface iface;
	struct held *h = &hold.q[hold.head];

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) && e->error)
			log_debug("nl80211: interface %u: %s", h->ev.wifi.ifindex, strerror(-e->error));
	} else if (nl80211_iface_parse(nlh, &ids, &iface) == 0) {
		nl80211_iface_fill(&h->ev, &iface);
	} else {
		stats.errors++;
		log_debug("nl80211: malformed interface answer, ignoring");
	}
	hold.seq = 0;
	if (hold.n) {
		hold.head = (hold.head + 1) % HOLD_MAX;
		hold.n--;
		wifi_event(&h->ev);
	}
	hold_run();
}

static void hold_reset(void)
{
	memset(&hold, 0, sizeof(hold));
}

static void wifi_msg(const struct nlmsghdr *nlh)
{
	struct nlh_event ev;
	const char *name;
	int r = nl80211_parse(nlh, &ids, &ev);

	if (r == -ENODATA)
		return;
	if (r < 0) {
		stats.errors++;
		log_debug("nl80211: malformed message, ignoring");
		return;
	}
	if (!NLH_HAS(&ev, WIFI, ifname) && NLH_HAS(&ev, WIFI, ifindex) && (name = rtnl_ifname(ev.wifi.ifindex))) {
		nlh_strlcpy(ev.wifi.ifname, name, IFNAMSIZ);
		NLH_SET(&ev, WIFI, ifname);
	}
	hold_push(false, &ev);
}

static void link_watch(const struct nlh_event *link)
{
	if (hold.n)
		hold_push(true, link);
	else
		link_event(link);
}

static int join(uint32_t group, bool on)
{
	if (!nl || !group)
		return 0;
	if (mnl_socket_setsockopt(nl, on ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, &group,
				  sizeof(group)) < 0)
		return -errno;
	return 0;
}

/* Only the groups the wanted events come from; a reload may drop some. */
static void subscribe(void)
{
	static const char *const globs[4][8] = {
		{ "wifi.connect", "wifi.disconnect", "wifi.roam", "wifi.authorized", "wifi.associate",
		  "wifi.authenticate", "wifi.deauth", "wifi.disassoc" },
		{ "wifi.iface.*" },
		{ "wifi.scan.done" },
		{ "wifi.reg.change" },
	};
	uint32_t grp[4] = { ids.grp_mlme, ids.grp_config, ids.grp_scan, ids.grp_regulatory };

	if (!ids.family)
		return;
	for (int i = 0; i < 4; i++) {
		nlh_typeset t = 0;

		for (int k = 0; k < 8 && globs[i][k]; k++)
			t |= nlh_event_types_glob(globs[i][k]);
		if (!!(wanted & t) == joined[i])
			continue;
		if (join(grp[i], !joined[i]) < 0)
			log_err("nl80211: cannot %s multicast group %u: %m", joined[i] ? "leave" : "join", grp[i]);
		else
			joined[i] = !joined[i];
	}
}

static void ctrl_msg(const struct nlmsghdr *nlh)
{
	struct nl80211_ids n = ids;

	if (nl80211_ctrl_parse(nlh, &n) <= 0)
		return;
	if (n.family && !ids.family)
		log_info("nl80211: family %u%s", n.family, told_missing ? " appeared" : "");
	else if (!n.family && ids.family)
		log_info("nl80211: the family went away (cfg80211 unloaded)");
	ids = n;
	memset(joined, 0, sizeof(joined));
	subscribe();
}

static void handle_batch(const char *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	size_t left;

	nlmsg_for_each(nlh, buf, len, left) {
		if (hold.seq && nlh->nlmsg_seq == hold.seq && nlh->nlmsg_pid == portid)
			hold_answer(nlh);
		else if (nlh->nlmsg_type == GENL_ID_CTRL)
			ctrl_msg(nlh);
		else if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			/* The answer to our family query on a machine without wifi. */
			if (nlh->nlmsg_seq == 1 && nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) &&
			    e->error == -ENOENT && !told_missing) {
				told_missing = true;
				log_info("nl80211: no wifi here (no nl80211 family); listening for it to appear");
			}
		} else if (ids.family && nlh->nlmsg_type == ids.family)
			wifi_msg(nlh);
	}
}

static void nl80211_io(int fd, uint32_t events, void *data)
{
	static char buf[64 * 1024] __attribute__((aligned(8)));

	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ENOBUFS) {
				struct nlh_event ev;

				stats.drops++;
				stats.resyncs++;
				log_warn("nl80211: receive buffer overrun: wifi events were lost");
				/* The answer awaited may be among the lost. */
				hold_flush();
				nlh_event_init(&ev, NLH_EV_NLHOOK_RESYNC);
				nlh_strlcpy(ev.self.source, "nl80211", sizeof(ev.self.source));
				NLH_SET(&ev, SELF, source);
				if (nlh_dispatch)
					nlh_dispatch(&ev);
				continue;
			}
			log_err("nl80211: recv: %m");
			return;
		}
		handle_batch(buf, n);
	}
}

static int query_family(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *req = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	req->nlmsg_type = GENL_ID_CTRL;
	req->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(req, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(req, CTRL_ATTR_FAMILY_NAME, "nl80211");
	return mnl_socket_sendto(nl, req, req->nlmsg_len) < 0 ? -errno : 0;
}

static int nl80211_update(const struct nlh_want *want)
{
	int fd, r;

	wanted = want->types & nlh_event_types_glob("wifi.*");
	if (!wanted || nl) {
		subscribe();
		return 0;
	}
	nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	portid = mnl_socket_get_portid(nl);
	fd = mnl_socket_get_fd(nl);
	stats.rcvbuf = nlsock_set_rcvbuf(fd, "nl80211");
	/*
	 * The controller's "notify" group (its id is the controller's own,
	 * GENL_ID_CTRL) says when nl80211 appears: cfg80211 loaded, a
	 * dongle plugged.  Never polled.
	 */
	if (join(GENL_ID_CTRL, true) < 0 || query_family() < 0)
		goto fail;
	r = loop_add_fd(fd, EPOLLIN, nl80211_io, NULL);
	if (r < 0) {
		errno = -r;
		goto fail;
	}
	rtnl_link_watch = link_watch;
	return 0;
fail:
	r = -errno;
	if (nl)
		mnl_socket_close(nl);
	nl = NULL;
	return r;
}

static int nl80211_start(const struct nlh_want *want)
{
	return nl80211_update(want);
}

static void nl80211_stop(void)
{
	if (!nl)
		return;
	loop_del_fd(mnl_socket_get_fd(nl));
	mnl_socket_close(nl);
	nl = NULL;
	rtnl_link_watch = NULL;
	memset(&ids, 0, sizeof(ids));
	memset(&track, 0, sizeof(track));
	memset(joined, 0, sizeof(joined));
	hold_reset();
}

static void nl80211_stats(struct nlh_source_stats *ret)
{
	*ret = stats;
}

void nl80211_replay_msg(const struct nlmsghdr *nlh)
{
	rtnl_link_watch = link_watch;
	wanted = ~(nlh_typeset)0;
	handle_batch((const char *)nlh, nlh->nlmsg_len);
}

void nl80211_replay_reset(void)
{
	hold_flush();
	rtnl_link_watch = NULL;
	memset(&ids, 0, sizeof(ids));
	memset(&track, 0, sizeof(track));
}

const struct nlh_source_ops nl80211_source = {
	.name = "nl80211",
	.start = nl80211_start,
	.update = nl80211_update,
	.stop = nl80211_stop,
	.stats = nl80211_stats,
};
