/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/nlmsg.h"
#include "core/nlsock.h"
#include "nflog-parse.h"
#include "nflog.h"

/*
 * Per group: bytes of each packet copied (the headers), hits the kernel
 * queues before sending a batch, and the longest a lone hit waits.
 */
#define COPY_RANGE 128
#define QTHRESHOLD 64
#define TIMEOUT_MS 10

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

struct nflog {
	struct nlh_source_env env;
	struct nlsock *sock;
	char *who;		/* "nflog", "nflog in blue" */
	uint32_t seq;
	struct group groups[64];
	size_t n_groups;
	struct cfg_req pending[CFG_PENDING_MAX];
	size_t n_pending;
	struct nlh_source_stats stats;
	bool told_no_admin;
};

static struct nlmsghdr *cfg_header(struct nflog *nf, char *buf, uint16_t group, uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nf->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(group);
	return nlh;
}

/* Send a request; its ack is matched in cfg_ack(). */
static int cfg_send(struct nflog *nf, struct nlmsghdr *req, uint16_t group, enum cfg_kind kind)
{
	int r = nlsock_send(nf->sock, req, req->nlmsg_len);

	if (r < 0)
		return r;
	if (nf->n_pending == CFG_PENDING_MAX) {
		/* The oldest ack is long lost (an overrun): forget it. */
		memmove(nf->pending, nf->pending + 1, (CFG_PENDING_MAX - 1) * sizeof(nf->pending[0]));
		nf->n_pending--;
	}
	nf->pending[nf->n_pending++] = (struct cfg_req){ req->nlmsg_seq, group, kind };
	return 0;
}

static int cfg_cmd(struct nflog *nf, uint16_t group, uint8_t family, uint8_t cmd, enum cfg_kind kind)
{
	char buf[256] __attribute__((aligned(8))) = {};
	struct nlmsghdr *nlh = cfg_header(nf, buf, group, family);
	struct nfulnl_msg_config_cmd c = { .command = cmd };

	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(c), &c);
	return cfg_send(nf, nlh, group, kind);
}

static int cfg_params(struct nflog *nf, uint16_t group)
{
	char buf[256] __attribute__((aligned(8))) = {};
	struct nlmsghdr *nlh = cfg_header(nf, buf, group, AF_UNSPEC);
	struct nfulnl_msg_config_mode mode = {
		.copy_range = htonl(COPY_RANGE),
		.copy_mode = NFULNL_COPY_PACKET,
	};

	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(QTHRESHOLD));
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl((TIMEOUT_MS + 9) / 10));
	/* A batch up to 128 KiB: fewer, fuller reads under a flood. */
	mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(128 * 1024));
	/* Sequence numbers are how drops are seen: NFLOG has no dump. */
	mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
	return cfg_send(nf, nlh, group, CFG_PARAMS);
}

static struct group *group_find(struct nflog *nf, uint16_t num)
{
	for (size_t i = 0; i < nf->n_groups; i++)
		if (nf->groups[i].num == num)
			return &nf->groups[i];
	return NULL;
}

static void no_admin(struct nflog *nf)
{
	if (nf->told_no_admin)
		return;
	nf->told_no_admin = true;
	log_err("%s: the kernel refuses nfnetlink_log configuration: nlhookd needs CAP_NET_ADMIN for nflog", nf->who);
}

/*
 * The kernel handles a request while we send it, so the parameters that
 * follow a bind find the group's instance; the acks say how both went.
 */
static void bind_group(struct nflog *nf, struct group *g)
{
	int r = cfg_cmd(nf, g->num, AF_UNSPEC, NFULNL_CFG_CMD_BIND, CFG_BIND);

	if (r == 0)
		r = cfg_params(nf, g->num);
	if (r < 0) {
		log_err("%s: group %u: %s", nf->who, g->num, strerror(-r));
		return;
	}
	g->bound = true;
	g->have_seq = false;
}

static void cfg_ack(struct nflog *nf, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	int err = nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) ? e->error : -EBADMSG;
	struct cfg_req req;
	struct group *g;
	size_t i;

	for (i = 0; i < nf->n_pending && nf->pending[i].seq != nlh->nlmsg_seq; i++)
		;
	if (i == nf->n_pending)
		return;
	req = nf->pending[i];
	memmove(nf->pending + i, nf->pending + i + 1, (nf->n_pending - i - 1) * sizeof(nf->pending[0]));
	nf->n_pending--;
	g = group_find(nf, req.group);
	switch (req.kind) {
	case CFG_PF_UNBIND:
		if (err == -EPERM)
			no_admin(nf);
		return;
	case CFG_PF_BIND:
	case CFG_UNBIND:
		return;
	case CFG_BIND:
		if (!g)
			return;
		if (!err) {
			log_info("%s: listening to group %u", nf->who, g->num);
			return;
		}
		g->bound = false;
		/* The kernel answers EPERM (older ones EBUSY) when another socket holds the group. */
		if (err == -EBUSY || (err == -EPERM && !nf->told_no_admin))
			log_err("%s: group %u is bound by another process (ulogd2? another logger?) in this "
				"network namespace: its hits will not reach nlhook", nf->who, g->num);
		else if (err == -EPERM)
			log_err("%s: group %u: not bound: no CAP_NET_ADMIN", nf->who, g->num);
		else
			log_err("%s: group %u: %s", nf->who, g->num, strerror(-err));
		return;
	case CFG_PARAMS:
		/* After a refused bind the parameters fail too: that was said. */
		if (err && g && g->bound)
			log_err("%s: group %u: cannot set the copy mode and sequence numbers: %s", nf->who, g->num,
				strerror(-err));
		return;
	}
}

/* g NULL: the socket overran, count not known yet. */
static void raise_drop(struct nflog *nf, const struct group *g, uint64_t count)
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
	nf->env.sink.event(nf->env.sink.data, &ev);
}

/* A device's name, when the namespace's links know its index. */
static bool fill_dev(struct nflog *nf, char *dst, uint32_t ifindex)
{
	const char *name = ifindex && nf->env.ifname ? nf->env.ifname(nf->env.data, ifindex) : NULL;

	if (name)
		nlh_strlcpy(dst, name, IFNAMSIZ);
	return name && *name;
}

static void fill_devs(struct nflog *nf, struct nlh_event *ev)
{
	struct nlh_nflog *n = &ev->nflog;

	if (fill_dev(nf, n->indev, n->indev_index))
		NLH_SET(ev, NFLOG, indev);
	if (fill_dev(nf, n->outdev, n->outdev_index))
		NLH_SET(ev, NFLOG, outdev);
	if (fill_dev(nf, n->physindev, n->physindev_index))
		NLH_SET(ev, NFLOG, physindev);
	if (fill_dev(nf, n->physoutdev, n->physoutdev_index))
		NLH_SET(ev, NFLOG, physoutdev);
}

static void nflog_batch(void *data, const void *buf, size_t len, int32_t nsid)
{
	struct nflog *nf = data;
	const struct nlmsghdr *nlh;
	/* The batch came in one read: its hits share the time it arrived. */
	double now = nlh_now();
	size_t left;

	nlh_msg_for_each(nlh, buf, len, left) {
		struct nlh_event ev;
		struct group *g;
		int r;

		if (nlh->nlmsg_type == NLMSG_ERROR) {
			cfg_ack(nf, nlh);
			continue;
		}
		r = nflog_parse_at(nlh, now, &ev);
		if (r == -ENODATA)
			continue;
		if (r < 0) {
			nf->stats.errors++;
			log_debug("%s: malformed packet message, the fields read so far are kept", nf->who);
			if (!NLH_HAS(&ev, NFLOG, group))
				continue;
		}
		g = group_find(nf, ev.nflog.group);
		if (g && NLH_HAS(&ev, NFLOG, seq)) {
			/* A gap in the group's sequence is hits the kernel could not queue to us. */
			if (g->have_seq && ev.nflog.seq != g->last_seq + 1) {
				uint32_t lost = ev.nflog.seq - g->last_seq - 1;

				g->drops += lost;
				nf->stats.drops += lost;
				log_warn("%s: group %u lost %u hits (sequence %u after %u)", nf->who, g->num, lost,
					 ev.nflog.seq, g->last_seq);
				raise_drop(nf, g, lost);
			}
			g->have_seq = true;
			g->last_seq = ev.nflog.seq;
		}
		if (g)
			g->events++;
		fill_devs(nf, &ev);
		nf->stats.events++;
		nf->env.sink.event(nf->env.sink.data, &ev);
	}
}

/*
 * Hits were lost now; how many shows as the next gap in each group's
 * sequence, raised then with its count.  Until then, nlhook.drop without
 * a count.
 */
static void nflog_overrun(void *data)
{
	struct nflog *nf = data;

	nf->stats.resyncs++;
	log_warn("%s: receive buffer overrun: hits lost (counted at the next hit of each group; "
		 "--rcvbuf raises the buffer)", nf->who);
	raise_drop(nf, NULL, 0);
}

static const struct nlsock_ops nflog_sock_ops = {
	.batch = nflog_batch,
	.overrun = nflog_overrun,
};

static int nflog_open(struct nflog *nf)
{
	const struct nlsock_config cfg = {
		.protocol = NETLINK_NETFILTER, .netns_fd = nf->env.netns_fd, .fd = -1,
		.bufsize = 256 * 1024, .who = nf->who,
	};
	int r = nlsock_open(&nf->sock, &cfg, &nflog_sock_ops, nf);

	if (r < 0)
		return r;
	nf->stats.rcvbuf = nlsock_rcvbuf(nf->sock);
	/* Before 3.17 a family had one logger; unbinding first takes it over. Newer kernels ignore both. */
	for (int i = 0; i < 2; i++) {
		uint8_t fam = i ? AF_INET6 : AF_INET;

		cfg_cmd(nf, 0, fam, NFULNL_CFG_CMD_PF_UNBIND, CFG_PF_UNBIND);
		cfg_cmd(nf, 0, fam, NFULNL_CFG_CMD_PF_BIND, CFG_PF_BIND);
	}
	return 0;
}

/*
 * Whether the kernel takes our configuration (CAP_NET_ADMIN in this
 * namespace): asked when the socket opens, before any group is bound, so
 * the wait meets no hit to dispatch.
 */
static int check_admin(struct nflog *nf)
{
	char buf[256] __attribute__((aligned(8))) = {};
	struct nlmsghdr *req = cfg_header(nf, buf, 0, AF_INET);
	struct nfulnl_msg_config_cmd c = { .command = NFULNL_CFG_CMD_PF_UNBIND };
	double deadline = loop_now() + 2;
	int r;

	mnl_attr_put(req, NFULA_CFG_CMD, sizeof(c), &c);
	r = cfg_send(nf, req, 0, CFG_PF_UNBIND);
	if (r < 0)
		return r;
	while (nf->n_pending && !nf->told_no_admin && loop_now() < deadline)
		if ((r = nlsock_wait(nf->sock, 100)) < 0 && r != -ETIMEDOUT)
			return r;
		else if (r == 0 && (r = nlsock_drain(nf->sock, 1)) < 0)
			return r;
	if (nf->told_no_admin)
		return -EPERM;
	return nf->n_pending ? -ETIMEDOUT : 0;
}

static void *nflog_new(const struct nlh_source_env *env)
{
	struct nflog *nf = calloc(1, sizeof(*nf));

	if (!nf)
		return NULL;
	nf->env = *env;
	if ((env->netns ? asprintf(&nf->who, "nflog in %s", env->netns) : asprintf(&nf->who, "nflog")) < 0) {
		free(nf);
		return NULL;
	}
	return nf;
}

/*
 * No rule for nflog, no socket.  A socket the kernel does not let
 * configure nflog is an error: rules for its groups could never fire.
 */
static int nflog_update(void *inst, const struct nlh_want *want)
{
	struct nflog *nf = inst;
	int r;

	if (!want->n_nflog_groups && !nf->sock)
		return 0;
	if (!nf->sock) {
		r = nflog_open(nf);
		if (r == 0)
			r = check_admin(nf);
		if (r < 0) {
			log_err("%s: cannot configure nfnetlink_log: %s%s", nf->who, strerror(-r),
				r == -EPERM ? " (binding the nflog groups that rules name needs CAP_NET_ADMIN)" : "");
			nlsock_free(nf->sock);
			nf->sock = NULL;
			nf->n_pending = 0;
			nf->told_no_admin = false;
			return r;
		}
	}
	/* Unbind what is no longer wanted. */
	for (size_t i = 0; i < nf->n_groups;) {
		bool keep = false;

		for (size_t k = 0; k < want->n_nflog_groups; k++)
			keep |= want->nflog_groups[k] == nf->groups[i].num;
		if (keep) {
			i++;
			continue;
		}
		if (nf->groups[i].bound)
			cfg_cmd(nf, nf->groups[i].num, AF_UNSPEC, NFULNL_CFG_CMD_UNBIND, CFG_UNBIND);
		log_info("%s: no longer listening to group %u", nf->who, nf->groups[i].num);
		nf->groups[i] = nf->groups[--nf->n_groups];
	}
	for (size_t k = 0; k < want->n_nflog_groups; k++) {
		struct group *g = group_find(nf, want->nflog_groups[k]);

		if (g)
			continue;
		if (nf->n_groups == sizeof(nf->groups) / sizeof(nf->groups[0]))
			break;
		g = &nf->groups[nf->n_groups++];
		memset(g, 0, sizeof(*g));
		g->num = want->nflog_groups[k];
		bind_group(nf, g);
	}
	return 0;
}

static void nflog_free(void *inst)
{
	struct nflog *nf = inst;

	if (!nf)
		return;
	if (nf->sock)
		for (size_t i = 0; i < nf->n_groups; i++)
			if (nf->groups[i].bound)
				cfg_cmd(nf, nf->groups[i].num, AF_UNSPEC, NFULNL_CFG_CMD_UNBIND, CFG_UNBIND);
	nlsock_free(nf->sock);
	free(nf->who);
	free(nf);
}

static void nflog_stats(const void *inst, struct nlh_source_stats *ret)
{
	const struct nflog *nf = inst;

	*ret = nf->stats;
}

const struct nlh_source_ops nflog_source = {
	.name = "nflog",
	.new = nflog_new,
	.update = nflog_update,
	.free = nflog_free,
	.stats = nflog_stats,
};
