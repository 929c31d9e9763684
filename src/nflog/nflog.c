/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/nlmsg.h"
#include "nflog-parse.h"
#include "nflog.h"
#include "rtnl/rtnl.h"

uint32_t nflog_copy_range = 128;
uint32_t nflog_qthreshold = 64;
uint32_t nflog_timeout_ms = 10;

struct group {
	uint16_t num;
	bool bound;
	bool have_seq;
	uint32_t last_seq;
	uint64_t events;
	uint64_t drops;
};

static struct mnl_socket *nl;
static uint32_t seq;
static struct group groups[64];
static size_t n_groups;
static struct nlh_source_stats stats;
static bool admin;		/* the kernel took our family commands: we have CAP_NET_ADMIN */

static void handle_batch(const char *buf, size_t len);

static struct nlmsghdr *cfg_header(char *buf, uint16_t group, uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(group);
	return nlh;
}

/*
 * Send a config request and wait for its ack.  Hits of groups already
 * bound may arrive meanwhile: they go through the normal path.
 */
static int cfg_send(struct nlmsghdr *req)
{
	static char buf[64 * 1024] __attribute__((aligned(8)));
	int fd = mnl_socket_get_fd(nl);
	uint32_t want = req->nlmsg_seq;

	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		const struct nlmsghdr *nlh;
		size_t left;
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
				continue;
			return -errno;
		}
		nlmsg_for_each(nlh, buf, (size_t)n, left) {
			if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == want) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				/* The ack ends this batch; the rest, if any, is ordinary. */
				if (left > NLMSG_ALIGN(nlh->nlmsg_len))
					handle_batch((const char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len),
						     left - NLMSG_ALIGN(nlh->nlmsg_len));
				return nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) ? e->error : -EBADMSG;
			}
			handle_batch((const char *)nlh, NLMSG_ALIGN(nlh->nlmsg_len) < left ?
				     NLMSG_ALIGN(nlh->nlmsg_len) : left);
		}
	}
}

static int cfg_cmd(uint16_t group, uint8_t family, uint8_t cmd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = cfg_header(buf, group, family);
	struct nfulnl_msg_config_cmd c = { .command = cmd };

	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(c), &c);
	return cfg_send(nlh);
}

static int cfg_params(uint16_t group)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = cfg_header(buf, group, AF_UNSPEC);
	struct nfulnl_msg_config_mode mode = {
		.copy_range = htonl(nflog_copy_range),
		.copy_mode = NFULNL_COPY_PACKET,
	};

	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(nflog_qthreshold));
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl((nflog_timeout_ms + 9) / 10));
	/* A batch up to 128 KiB: fewer, fuller reads under a flood. */
	mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(128 * 1024));
	/* Sequence numbers are how drops are seen: NFLOG has no dump. */
	mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
	return cfg_send(nlh);
}

static struct group *group_find(uint16_t num)
{
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i].num == num)
			return &groups[i];
	return NULL;
}

static void bind_group(struct group *g)
{
	int r = cfg_cmd(g->num, AF_UNSPEC, NFULNL_CFG_CMD_BIND);

	/* The kernel answers EPERM (older ones EBUSY) when another socket holds the group. */
	if (r == -EBUSY || (r == -EPERM && admin)) {
		log_err("nflog: group %u is bound by another process (ulogd2? another logger?) in this "
			"network namespace: its hits will not reach nlhook", g->num);
		return;
	}
	if (r == 0)
		r = cfg_params(g->num);
	if (r < 0) {
		log_err("nflog: group %u: %s", g->num, strerror(-r));
		cfg_cmd(g->num, AF_UNSPEC, NFULNL_CFG_CMD_UNBIND);
		return;
	}
	g->bound = true;
	log_info("nflog: listening to group %u", g->num);
}

static void raise_drop(const struct group *g, uint64_t count)
{
	struct nlh_event ev;

	nlh_event_init(&ev, NLH_EV_NLHOOK_DROP);
	nlh_strlcpy(ev.self.source, "nflog", sizeof(ev.self.source));
	NLH_SET(&ev, SELF, source);
	ev.self.group = g->num;
	NLH_SET(&ev, SELF, group);
	ev.self.count = count;
	NLH_SET(&ev, SELF, count);
	if (nlh_dispatch)
		nlh_dispatch(&ev);
}

static void fill_dev(char *dst, uint32_t ifindex)
{
	const char *name = ifindex ? rtnl_ifname(ifindex) : NULL;

	if (name)
		nlh_strlcpy(dst, name, IFNAMSIZ);
}

static void handle_batch(const char *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	size_t left;

	nlmsg_for_each(nlh, buf, len, left) {
		struct nlh_event ev;
		struct group *g;
		int r = nflog_parse(nlh, &ev);

		if (r == -ENODATA)
			continue;
		if (r < 0) {
			stats.errors++;
			log_debug("nflog: malformed packet message, the fields read so far are kept");
			if (!NLH_HAS(&ev, NFLOG, group))
				continue;
		}
		g = group_find(ev.nflog.group);
		if (g && NLH_HAS(&ev, NFLOG, seq)) {
			/* A gap in the group's sequence is hits the kernel could not queue to us. */
			if (g->have_seq && ev.nflog.seq != g->last_seq + 1) {
				uint32_t lost = ev.nflog.seq - g->last_seq - 1;

				g->drops += lost;
				stats.drops += lost;
				log_warn("nflog: group %u lost %u hits (sequence %u after %u)", g->num, lost,
					 ev.nflog.seq, g->last_seq);
				raise_drop(g, lost);
			}
			g->have_seq = true;
			g->last_seq = ev.nflog.seq;
		}
		if (g)
			g->events++;
		fill_dev(ev.nflog.indev, ev.nflog.indev_index);
		if (ev.nflog.indev[0])
			NLH_SET(&ev, NFLOG, indev);
		fill_dev(ev.nflog.outdev, ev.nflog.outdev_index);
		if (ev.nflog.outdev[0])
			NLH_SET(&ev, NFLOG, outdev);
		stats.events++;
		if (nlh_dispatch)
			nlh_dispatch(&ev);
	}
}

static void nflog_io(int fd, uint32_t events, void *data)
{
	static char buf[256 * 1024] __attribute__((aligned(8)));

	/* A budget per wakeup: a flood must not starve the other sources. */
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ENOBUFS) {
				/* The count comes from the sequence gaps that follow. */
				stats.resyncs++;
				log_warn("nflog: receive buffer overrun");
				continue;
			}
			log_err("nflog: recv: %m");
			return;
		}
		handle_batch(buf, n);
	}
}

static int nflog_open(void)
{
	int fd, r;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	fd = mnl_socket_get_fd(nl);
	stats.rcvbuf = nlsock_set_rcvbuf(fd, "nflog");
	/* Before 3.17 a family had one logger; unbinding first takes it over. Newer kernels ignore both. */
	admin = true;
	for (int i = 0; i < 2; i++) {
		uint8_t fam = i ? AF_INET6 : AF_INET;

		admin &= cfg_cmd(0, fam, NFULNL_CFG_CMD_PF_UNBIND) == 0;
		cfg_cmd(0, fam, NFULNL_CFG_CMD_PF_BIND);
	}
	if (!admin)
		log_err("nflog: the kernel refuses nfnetlink_log configuration: nlhookd needs CAP_NET_ADMIN for nflog");
	r = loop_add_fd(fd, EPOLLIN, nflog_io, NULL);
	if (r < 0) {
		errno = -r;
		goto fail;
	}
	return 0;
fail:
	r = -errno;
	mnl_socket_close(nl);
	nl = NULL;
	return r;
}

static int nflog_update(const struct nlh_want *want)
{
	int r;

	if (!want->n_nflog_groups && !nl)
		return 0;
	if (!nl && (r = nflog_open()) < 0) {
		log_err("nflog: cannot open the nfnetlink_log socket: %s%s", strerror(-r),
			r == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		return r;
	}
	/* Unbind what is no longer wanted. */
	for (size_t i = 0; i < n_groups;) {
		bool keep = false;

		for (size_t k = 0; k < want->n_nflog_groups; k++)
			keep |= want->nflog_groups[k] == groups[i].num;
		if (keep) {
			i++;
			continue;
		}
		if (groups[i].bound)
			cfg_cmd(groups[i].num, AF_UNSPEC, NFULNL_CFG_CMD_UNBIND);
		log_info("nflog: no longer listening to group %u", groups[i].num);
		groups[i] = groups[--n_groups];
	}
	for (size_t k = 0; k < want->n_nflog_groups; k++) {
		struct group *g = group_find(want->nflog_groups[k]);

		if (g)
			continue;
		if (n_groups == sizeof(groups) / sizeof(groups[0]))
			break;
		g = &groups[n_groups++];
		memset(g, 0, sizeof(*g));
		g->num = want->nflog_groups[k];
		bind_group(g);
	}
	return 0;
}

static int nflog_start(const struct nlh_want *want)
{
	/* No rule for nflog, no socket. */
	return nflog_update(want);
}

static void nflog_stop(void)
{
	if (!nl)
		return;
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i].bound)
			cfg_cmd(groups[i].num, AF_UNSPEC, NFULNL_CFG_CMD_UNBIND);
	loop_del_fd(mnl_socket_get_fd(nl));
	mnl_socket_close(nl);
	nl = NULL;
	n_groups = 0;
}

static void nflog_stats(struct nlh_source_stats *ret)
{
	*ret = stats;
}

const struct nlh_source_ops nflog_source = {
	.name = "nflog",
	.start = nflog_start,
	.update = nflog_update,
	.stop = nflog_stop,
	.stats = nflog_stats,
};
