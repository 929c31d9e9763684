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
	bool bound;		/* asked for; false again if the kernel refused */
	bool have_seq;
	uint32_t last_seq;
	uint64_t events;
	uint64_t drops;
};

/*
 * Configuration requests are sent and forgotten: their acks come back on
 * the socket with the hits and are handled where the hits are.  Nothing
 * waits for the kernel inside a callback, and an ack that an overrun
 * drops only costs the error message it would have carried.
 */
enum cfg_kind {
	CFG_PF_UNBIND,
	CFG_PF_BIND,
	CFG_BIND,
	CFG_PARAMS,
	CFG_UNBIND,
};

#define CFG_PENDING_MAX 128

struct cfg_req {
	uint32_t seq;
	uint16_t group;
	enum cfg_kind kind;
};

static struct mnl_socket *nl;
static uint32_t seq;
static struct group groups[64];
static size_t n_groups;
static struct cfg_req pending[CFG_PENDING_MAX];
static size_t n_pending;
static struct nlh_source_stats stats;
static bool told_no_admin;

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

/* Send a request; its ack is matched in cfg_ack(). */
static int cfg_send(struct nlmsghdr *req, uint16_t group, enum cfg_kind kind)
{
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	if (n_pending == CFG_PENDING_MAX) {
		/* The oldest ack is long lost (an overrun): forget it. */
		memmove(pending, pending + 1, (CFG_PENDING_MAX - 1) * sizeof(pending[0]));
		n_pending--;
	}
	pending[n_pending++] = (struct cfg_req){ req->nlmsg_seq, group, kind };
	return 0;
}

static int cfg_cmd(uint16_t group, uint8_t family, uint8_t cmd, enum cfg_kind kind)
{
	char buf[256] __attribute__((aligned(8))) = {};
	struct nlmsghdr *nlh = cfg_header(buf, group, family);
	struct nfulnl_msg_config_cmd c = { .command = cmd };

	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(c), &c);
	return cfg_send(nlh, group, kind);
}

static int cfg_params(uint16_t group)
{
	char buf[256] __attribute__((aligned(8))) = {};
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
	return cfg_send(nlh, group, CFG_PARAMS);
}

static struct group *group_find(uint16_t num)
{
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i].num == num)
			return &groups[i];
	return NULL;
}

static void no_admin(void)
{
	if (told_no_admin)
		return;
	told_no_admin = true;
	log_err("nflog: the kernel refuses nfnetlink_log configuration: nlhookd needs CAP_NET_ADMIN for nflog");
}

/*
 * The kernel handles a request while we send it, so the parameters that
 * follow a bind find the group's instance; the acks say how both went.
 */
static void bind_group(struct group *g)
{
	int r = cfg_cmd(g->num, AF_UNSPEC, NFULNL_CFG_CMD_BIND, CFG_BIND);

	if (r == 0)
		r = cfg_params(g->num);
	if (r < 0) {
		log_err("nflog: group %u: %s", g->num, strerror(-r));
		return;
	}
	g->bound = true;
	g->have_seq = false;
}

static void cfg_ack(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	int err = nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) ? e->error : -EBADMSG;
	struct cfg_req req;
	struct group *g;
	size_t i;

	for (i = 0; i < n_pending && pending[i].seq != nlh->nlmsg_seq; i++)
		;
	if (i == n_pending)
		return;
	req = pending[i];
	memmove(pending + i, pending + i + 1, (n_pending - i - 1) * sizeof(pending[0]));
	n_pending--;
	g = group_find(req.group);
	switch (req.kind) {
	case CFG_PF_UNBIND:
		if (err == -EPERM)
			no_admin();
		return;
	case CFG_PF_BIND:
	case CFG_UNBIND:
		return;
	case CFG_BIND:
		if (!g)
			return;
		if (!err) {
			log_info("nflog: listening to group %u", g->num);
			return;
		}
		g->bound = false;
		/* The kernel answers EPERM (older ones EBUSY) when another socket holds the group. */
		if (err == -EBUSY || (err == -EPERM && !told_no_admin))
			log_err("nflog: group %u is bound by another process (ulogd2? another logger?) in this "
				"network namespace: its hits will not reach nlhook", g->num);
		else if (err == -EPERM)
			log_err("nflog: group %u: not bound: no CAP_NET_ADMIN", g->num);
		else
			log_err("nflog: group %u: %s", g->num, strerror(-err));
		return;
	case CFG_PARAMS:
		/* After a refused bind the parameters fail too: that was said. */
		if (err && g && g->bound)
			log_err("nflog: group %u: cannot set the copy mode and sequence numbers: %s", g->num,
				strerror(-err));
		return;
	}
}

/* g NULL: the socket overran, count not known yet. */
static void raise_drop(const struct group *g, uint64_t count)
{
	struct nlh_event ev;

	nlh_event_init(&ev, NLH_EV_NLHOOK_DROP);
	nlh_strlcpy(ev.self.source, "nflog", sizeof(ev.self.source));
	NLH_SET(&ev, SELF, source);
	if (g) {
		ev.self.group = g->num;
		NLH_SET(&ev, SELF, group);
		ev.self.count = count;
		NLH_SET(&ev, SELF, count);
	}
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
		int r;

		if (nlh->nlmsg_type == NLMSG_ERROR) {
			cfg_ack(nlh);
			continue;
		}
		r = nflog_parse(nlh, &ev);
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
				/*
				 * Hits were lost now; how many shows as the next
				 * gap in each group's sequence, raised then with its
				 * count.  Until then, nlhook.drop without a count.
				 */
				stats.resyncs++;
				log_warn("nflog: receive buffer overrun: hits lost (counted at the next hit of each "
					 "group; --rcvbuf raises the buffer)");
				raise_drop(NULL, 0);
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
	for (int i = 0; i < 2; i++) {
		uint8_t fam = i ? AF_INET6 : AF_INET;

		cfg_cmd(0, fam, NFULNL_CFG_CMD_PF_UNBIND, CFG_PF_UNBIND);
		cfg_cmd(0, fam, NFULNL_CFG_CMD_PF_BIND, CFG_PF_BIND);
	}
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
			cfg_cmd(groups[i].num, AF_UNSPEC, NFULNL_CFG_CMD_UNBIND, CFG_UNBIND);
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

/*
 * Whether the kernel takes our configuration (CAP_NET_ADMIN in this
 * namespace): asked once at start, before any group is bound, so the
 * wait meets no hit to dispatch.  Later changes are asynchronous.
 */
static int check_admin(void)
{
	char buf[8192] __attribute__((aligned(8))) = {};
	struct nlmsghdr *req = cfg_header(buf, 0, AF_INET);
	struct nfulnl_msg_config_cmd c = { .command = NFULNL_CFG_CMD_PF_UNBIND };
	int fd = mnl_socket_get_fd(nl);
	double deadline = loop_now() + 2;

	mnl_attr_put(req, NFULA_CFG_CMD, sizeof(c), &c);
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	while (loop_now() < deadline) {
		struct pollfd p = { fd, POLLIN, 0 };
		const struct nlmsghdr *nlh;
		size_t left;
		ssize_t n;

		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			return -errno;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		nlmsg_for_each(nlh, buf, (size_t)n, left) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == req->nlmsg_seq)
				return nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) ? e->error : -EBADMSG;
		}
	}
	return -ETIMEDOUT;
}

/*
 * No rule for nflog, no socket.  With rules for it, a daemon the kernel
 * does not let configure nflog does not start: its rules could never fire.
 */
static void nflog_stop(void);

static int nflog_start(const struct nlh_want *want)
{
	int r;

	if (!want->n_nflog_groups)
		return 0;
	r = nflog_open();
	if (r == 0)
		r = check_admin();
	if (r < 0) {
		log_err("nflog: cannot configure nfnetlink_log: %s%s", strerror(-r),
			r == -EPERM ? " (binding the nflog groups that rules name needs CAP_NET_ADMIN)" : "");
		nflog_stop();
		return r;
	}
	return nflog_update(want);
}

static void nflog_stop(void)
{
	if (!nl)
		return;
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i].bound)
			cfg_cmd(groups[i].num, AF_UNSPEC, NFULNL_CFG_CMD_UNBIND, CFG_UNBIND);
	loop_del_fd(mnl_socket_get_fd(nl));
	mnl_socket_close(nl);
	nl = NULL;
	n_groups = 0;
	n_pending = 0;
	told_no_admin = false;
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
