/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/nl80211.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/event.h"
#include "core/nlmsg.h"
#include "nl80211/nl80211-parse.h"
#include "pcap/pcap.h"
#include "record.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool wants(nlh_typeset types, const char *glob)
{
	return types & nlh_event_types_glob(glob);
}

/*
 * Send a request; write every reply message but the terminator; stop at
 * DONE or the ack.  Events of the groups already joined that come
 * meanwhile are written too, in their place.
 */
static int request(struct mnl_socket *nl, struct nlmsghdr *req, uint16_t family, struct pcap_writer *w,
		   int (*cb)(const struct nlmsghdr *nlh, void *data), void *data)
{
	static char buf[64 * 1024] __attribute__((aligned(8)));
	static uint32_t seq;
	uint32_t portid = mnl_socket_get_portid(nl);

	if (!seq)
		seq = time(NULL);
	req->nlmsg_seq = ++seq;
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		const struct nlmsghdr *nlh;
		size_t left;

		if (n < 0)
			return -errno;
		nlh_msg_for_each(nlh, buf, (size_t)n, left) {
			if (nlh->nlmsg_pid != portid || nlh->nlmsg_seq != req->nlmsg_seq) {
				if (!nlh->nlmsg_pid)
					pcap_write(w, now(), family, nlh, nlh->nlmsg_len);
				continue;
			}
			if (nlh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				return nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) ? e->error : -EBADMSG;
			}
			pcap_write(w, now(), family, nlh, nlh->nlmsg_len);
			if (cb)
				cb(nlh, data);
			if (!(nlh->nlmsg_flags & NLM_F_MULTI))
				return 0;
		}
	}
}

struct groups {
	struct mnl_socket *nl;
	int joined;
	uint16_t family;
};

static int join_groups(const struct nlmsghdr *nlh, void *data)
{
	struct groups *g = data;
	const struct nlattr *a, *grp, *ga;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			g->family = mnl_attr_get_u16(a);
		if (mnl_attr_get_type(a) != CTRL_ATTR_MCAST_GROUPS || mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			continue;
		mnl_attr_for_each_nested(grp, a) {
			mnl_attr_for_each_nested(ga, grp) {
				unsigned int id;

				if (mnl_attr_get_type(ga) != CTRL_ATTR_MCAST_GRP_ID ||
				    mnl_attr_validate(ga, MNL_TYPE_U32) < 0)
					continue;
				id = mnl_attr_get_u32(ga);
				if (mnl_socket_setsockopt(g->nl, NETLINK_ADD_MEMBERSHIP, &id, sizeof(id)) == 0)
					g->joined++;
			}
		}
	}
	return 0;
}

static int open_rtnl(nlh_typeset types, struct pcap_writer *w, struct mnl_socket **ret)
{
	static const struct {
		const char *glob;
		unsigned int groups[2];
	} map[] = {
		{ "link.*", { RTNLGRP_LINK } },
		{ "addr.*", { RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR } },
		{ "route.*", { RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE } },
		{ "neigh.*", { RTNLGRP_NEIGH } },
	};
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	struct nlmsghdr *req;
	struct rtgenmsg *g;
	int r;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	/* The links first, so that a replay knows the interfaces' names. */
	req = mnl_nlmsg_put_header(buf);
	req->nlmsg_type = RTM_GETLINK;
	req->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	g = mnl_nlmsg_put_extra_header(req, sizeof(struct ifinfomsg));
	g->rtgen_family = AF_UNSPEC;
	r = request(nl, req, NETLINK_ROUTE, w, NULL, NULL);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (!wants(types, map[i].glob))
			continue;
		for (int k = 0; k < 2 && map[i].groups[k]; k++) {
			unsigned int grp = map[i].groups[k];

			if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0)
				return -errno;
		}
	}
	*ret = nl;
	return 0;
}

static struct nlmsghdr *genl_request(char *buf, uint16_t family, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *req = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	req->nlmsg_type = family;
	req->nlmsg_flags = NLM_F_REQUEST | flags;
	genl = mnl_nlmsg_put_extra_header(req, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = 1;
	return req;
}

/* What the interface answers say of their modes, to know the access points. */
static int track_iface(const struct nlmsghdr *nlh, void *data)
{
	struct nl80211_track *t = data;
	struct nl80211_ids ids = { .family = nlh->nlmsg_type };
	struct nl80211_iface iface;

	if (nl80211_iface_parse(nlh, &ids, &iface) == 0)
		nl80211_track_iface(t, &iface);
	return 0;
}

/*
 * The interfaces (GET_INTERFACE: their modes, an access point's SSID),
 * then each access point's stations (GET_STATION), so that a replay knows
 * who is there when the capture starts.
 */
static void dump_nl80211(struct mnl_socket *nl, uint16_t family, struct pcap_writer *w)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
	struct nl80211_track t = {};
	struct nlmsghdr *req;
	int r;

	r = request(nl, genl_request(buf, family, NL80211_CMD_GET_INTERFACE, NLM_F_DUMP), NETLINK_GENERIC, w,
		    track_iface, &t);
	if (r < 0) {
		fprintf(stderr, "nlhook record: the wifi interfaces: %s\n", strerror(-r));
		return;
	}
	for (size_t i = 0; i < NL80211_TRACK_MAX; i++) {
		if (!t.ifs[i].ifindex || !nl80211_track_is_ap(&t, t.ifs[i].ifindex))
			continue;
		req = genl_request(buf, family, NL80211_CMD_GET_STATION, NLM_F_DUMP);
		mnl_attr_put_u32(req, NL80211_ATTR_IFINDEX, t.ifs[i].ifindex);
		r = request(nl, req, NETLINK_GENERIC, w, NULL, NULL);
		if (r < 0)
			fprintf(stderr, "nlhook record: the stations of interface %u: %s\n", t.ifs[i].ifindex,
				strerror(-r));
	}
}

/* nl80211's family id belongs to this machine: its NEWFAMILY goes in the file. */
static int open_nl80211(struct pcap_writer *w, struct mnl_socket **ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	struct groups g = { nl, 0, 0 };
	struct nlmsghdr *req;
	int r;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	req = genl_request(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_ACK);
	mnl_attr_put_strz(req, CTRL_ATTR_FAMILY_NAME, "nl80211");
	r = request(nl, req, NETLINK_GENERIC, w, join_groups, &g);
	if (r < 0) {
		mnl_socket_close(nl);
		return r;
	}
	/* After joining: what changes during the dumps is recorded in its place. */
	if (g.family)
		dump_nl80211(nl, g.family, w);
	*ret = nl;
	return g.joined;
}

int cmd_record(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "write", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static char buf[256 * 1024] __attribute__((aligned(8)));
	struct mnl_socket *socks[2] = {};
	uint16_t fams[2] = { NETLINK_ROUTE, NETLINK_GENERIC };
	struct pcap_writer *w;
	const char *path = NULL;
	unsigned long count = 0, written = 0, lost = 0;
	nlh_typeset types = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	int c, r, ret = 0;
	char *end;

	while ((c = getopt_long(argc, argv, "w:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			path = optarg;
			break;
		case 'c':
			count = strtoul(optarg, &end, 10);
			if (*end || !count || optarg[0] == '-') {
				fprintf(stderr, "nlhook record: --count: '%s' is not a positive number\n", optarg);
				return 2;
			}
			break;
		case 'h':
			printf("Usage: nlhook record -w FILE.pcap [--count N] [TYPE-GLOB...]\n\n"
			       "Write the raw netlink messages behind the events (rtnetlink, nl80211)\n"
			       "to a pcap file of link type NETLINK (253), as the nlmon device does:\n"
			       "tshark and Wireshark decode it, `nlhook replay` feeds it to rules.\n"
			       "The file starts with the current links, nl80211's family id, the wifi\n"
			       "interfaces and the stations of access points, so it stands alone.\n"
			       "Stops after N messages or on Ctrl-C.  nflog is not\n"
			       "recorded: binding its groups would take them from nlhookd.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "nlhook record: -w FILE.pcap is required\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		nlh_typeset t = nlh_event_types_glob(argv[i]);

		if (!t) {
			fprintf(stderr, "nlhook record: no event type matches '%s'\n", argv[i]);
			return 2;
		}
		types |= t;
	}
	if (!types)
		types = ~(nlh_typeset)0;
	r = pcap_create(path, &w);
	if (r < 0) {
		fprintf(stderr, "nlhook record: %s: %s\n", path, strerror(-r));
		return 1;
	}
	r = open_rtnl(types, w, &socks[0]);
	if (r < 0) {
		fprintf(stderr, "nlhook record: rtnetlink: %s\n", strerror(-r));
		pcap_writer_close(w);
		return 1;
	}
	if (wants(types, "wifi.*")) {
		r = open_nl80211(w, &socks[1]);
		if (r < 0)
			fprintf(stderr, "nlhook record: no nl80211 here (%s): recording without wifi\n", strerror(-r));
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop && (!count || written < count)) {
		struct pollfd p[2];
		int n = 0;

		for (int i = 0; i < 2; i++)
			if (socks[i])
				p[n++] = (struct pollfd){ mnl_socket_get_fd(socks[i]), POLLIN, 0 };
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0, k = 0; i < 2; i++) {
			const struct nlmsghdr *nlh;
			ssize_t len;
			size_t left;

			if (!socks[i] || !(p[k++].revents & (POLLIN | POLLERR)))
				continue;
			len = recv(mnl_socket_get_fd(socks[i]), buf, sizeof(buf), MSG_DONTWAIT);
			if (len < 0) {
				if (errno == ENOBUFS)
					lost++;
				continue;
			}
			nlh_msg_for_each(nlh, buf, (size_t)len, left) {
				if (count && written >= count)
					break;
				if (pcap_write(w, now(), fams[i], nlh, nlh->nlmsg_len) == 0)
					written++;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (socks[i])
			mnl_socket_close(socks[i]);
	r = pcap_writer_close(w);
	if (r < 0) {
		fprintf(stderr, "nlhook record: %s: %s\n", path, strerror(-r));
		ret = 1;
	}
	fprintf(stderr, "nlhook record: %lu messages written to %s%s\n", written, path,
		lost ? " (the receive buffer overran: some were lost)" : "");
	return ret;
}
