/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/nlmsg.h"
#include "core/nlsock.h"
#include "netns.h"
#include "nflog/nflog.h"
#include "nl80211/nl80211.h"
#include "rtnl/opstate.h"
#include "rtnl/rtnl.h"

/* Every event source, in start order: rtnl first, the others name links through it. */
static const struct nlh_source_ops *const sources[NLH_NS_SOURCES] = {
	&rtnl_source,
	&nflog_source,
	&nl80211_source,
};

enum { SRC_RTNL, SRC_NFLOG, SRC_NL80211 };

struct nlh_ns {
	char *name;
	int fd;			/* -1: the daemon's own, or known by nsid alone */
	int32_t nsid;
	dev_t dev;		/* identity of the namespace file */
	ino_t ino;
	struct nlh_sink sink;
	void *src[NLH_NS_SOURCES];	/* NULL where a source cannot serve it */
	struct opstate *opstate;	/* its links' operational states, from rtnl's objects */
	struct nlh_ns *next;
};

static void ns_event(void *data, struct nlh_event *ev)
{
	struct nlh_ns *ns = data;

	ev->netns = ns->name;
	ev->nsid = ns->nsid;
	ns->sink.event(ns->sink.data, ev);
}

static const char *ns_ifname(void *data, uint32_t ifindex)
{
	struct nlh_ns *ns = data;

	return ns->src[SRC_RTNL] ? rtnl_ifname(ns->src[SRC_RTNL], ifindex) : NULL;
}

static void ns_link_changed(void *data, const struct nlh_event *link)
{
	struct nlh_ns *ns = data;

	if (ns->src[SRC_NL80211])
		nl80211_link_changed(ns->src[SRC_NL80211], link);
}

static void ns_obj_changed(void *data, const struct nlh_event *old, const struct nlh_event *cur, bool emit)
{
	struct nlh_ns *ns = data;

	opstate_notify(ns->opstate, old, cur, emit);
}

static struct nlh_ns *ns_alloc(const char *name, int fd, const struct nlh_sink *sink,
			      struct nlh_source_env *ret_env)
{
	struct nlh_ns *ns = calloc(1, sizeof(*ns));

	if (!ns) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	ns->fd = fd;
	ns->nsid = -1;
	ns->sink = *sink;
	if (name && !(ns->name = strdup(name))) {
		nlh_ns_free(ns);
		return NULL;
	}
	ns->opstate = opstate_new(&(struct nlh_sink){ ns_event, ns });
	if (!ns->opstate) {
		nlh_ns_free(ns);
		return NULL;
	}
	*ret_env = (struct nlh_source_env){
		.sink = { ns_event, ns },
		.netns_fd = fd,
		.netns = ns->name,
		.late = name != NULL,
		.ifname = ns_ifname,
		.link_changed = ns_link_changed,
		.obj_changed = ns_obj_changed,
		.data = ns,
	};
	return ns;
}

struct nlh_ns *nlh_ns_new(const char *name, int fd, const struct nlh_sink *sink)
{
	struct nlh_source_env env;
	struct nlh_ns *ns = ns_alloc(name, fd, sink, &env);

	if (!ns)
		return NULL;
	for (size_t i = 0; i < NLH_NS_SOURCES; i++)
		if (!(ns->src[i] = sources[i]->new(&env))) {
			nlh_ns_free(ns);
			return NULL;
		}
	return ns;
}

/* Known by its nsid alone: rtnl fed by the socket that hears every namespace, no nflog, no nl80211. */
static struct nlh_ns *nlh_ns_new_fed(const char *name, struct nlsock *shared, int32_t nsid,
				     const struct nlh_sink *sink)
{
	struct nlh_source_env env;
	struct nlh_ns *ns = ns_alloc(name, -1, sink, &env);

	if (!ns)
		return NULL;
	ns->nsid = nsid;
	ns->src[SRC_RTNL] = rtnl_fed_new(&env, shared, nsid);
	if (!ns->src[SRC_RTNL]) {
		nlh_ns_free(ns);
		return NULL;
	}
	return ns;
}

void nlh_ns_free(struct nlh_ns *ns)
{
	if (!ns)
		return;
	for (size_t i = NLH_NS_SOURCES; i-- > 0;)
		if (ns->src[i])
			sources[i]->free(ns->src[i]);
	opstate_free(ns->opstate);
	if (ns->fd >= 0)
		close(ns->fd);
	free(ns->name);
	free(ns);
}

int nlh_ns_update(struct nlh_ns *ns, const struct nlh_want *want, const char **ret_source)
{
	int first = 0;

	for (size_t i = 0; i < NLH_NS_SOURCES; i++) {
		int r = ns->src[i] ? sources[i]->update(ns->src[i], want) : 0;

		if (r < 0 && !first) {
			first = r;
			if (ret_source)
				*ret_source = sources[i]->name;
		}
	}
	return first;
}

const char *nlh_ns_name(const struct nlh_ns *ns)
{
	return ns->name;
}

const struct rtnl *nlh_ns_rtnl(const struct nlh_ns *ns)
{
	return ns->src[SRC_RTNL];
}

const struct nl80211 *nlh_ns_nl80211(const struct nlh_ns *ns)
{
	return ns->src[SRC_NL80211];
}

const struct opstate *nlh_ns_opstate(const struct nlh_ns *ns)
{
	return ns->opstate;
}

const char *nlh_ns_source_stats(const struct nlh_ns *ns, size_t i, struct nlh_source_stats *ret)
{
	if (i >= NLH_NS_SOURCES)
		return NULL;
	memset(ret, 0, sizeof(*ret));
	if (ns->src[i])
		sources[i]->stats(ns->src[i], ret);
	return sources[i]->name;
}

int32_t nlh_ns_nsid(const struct nlh_ns *ns)
{
	return ns->nsid;
}

int nlh_ns_fd(const struct nlh_ns *ns)
{
	return ns->fd;
}

/* The registry */


#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

/* A name a namespace has: a file in one of the dirs. */
struct nsname {
	size_t dir;
	char *file;
	struct nlh_ns *ns;	/* NULL: the file waits for its mount */
	struct nsname *next;
};

struct watchdir {
	char *path;		/* absolute, no "//" and no trailing '/' */
	int wd;			/* -1: the dir does not exist (yet) */
	int anc_wd;		/* its nearest ancestor that exists, watched for... */
	char step[NAME_MAX + 1];	/* ...this, the next name on the way down */
	int warned;		/* the errno last logged for it */
};

struct nlh_nsreg {
	struct nlh_nsreg_config cfg;
	struct nlh_ns *own;		/* first of the list */
	dev_t own_dev;
	ino_t own_ino;
	char *own_name;
	bool started;
	int ifd;			/* inotify */
	struct watchdir *dirs;
	size_t n_dirs;
	struct nsname *names;
	int mountinfo;			/* watched while files wait for their mount */
	int req;			/* blocking rtnetlink socket for nsid requests */
	uint32_t req_seq;
	struct nlsock *nsid_sock;	/* RTNLGRP_NSID, and every namespace's rtnl (LISTEN_ALL_NSID) */
	bool nsid_neigh;
};

static void ns_set_nsid(struct nlh_ns *ns, int32_t nsid)
{
	ns->nsid = nsid;
}

static int32_t nsid_request(struct nlh_nsreg *reg, uint16_t type, int fd)
{
	char buf[8192] __attribute__((aligned(8))) = {};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint32_t seq = ++reg->req_seq;
	ssize_t n;

	nlh->nlmsg_type = type;
	/* A GET is answered with the nsid or an error; a NEW only with its ack. */
	nlh->nlmsg_flags = NLM_F_REQUEST | (type == RTM_NEWNSID ? NLM_F_ACK : 0);
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, fd);
	if (type == RTM_NEWNSID)
		mnl_attr_put_u32(nlh, NETNSA_NSID, (uint32_t)NETNSA_NSID_NOT_ASSIGNED);
	if (sendto(reg->req, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	/* The kernel answers while we send: the reply is there (a blocking socket, no groups). */
	for (;;) {
		const struct nlmsghdr *m;
		size_t left;
		int32_t nsid = NETNSA_NSID_NOT_ASSIGNED;

		n = recv(reg->req, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		nlh_msg_for_each(m, buf, (size_t)n, left) {
			if (m->nlmsg_seq != seq)
				continue;
			if (m->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);

				if (m->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
					return -EBADMSG;
				if (e->error || type == RTM_NEWNSID)
					return e->error;
				continue;
			}
			if (m->nlmsg_type == RTM_NEWNSID) {
				const struct nlattr *a;

				mnl_attr_for_each(a, m, sizeof(struct rtgenmsg))
					if (mnl_attr_get_type(a) == NETNSA_NSID &&
					    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
						nsid = (int32_t)mnl_attr_get_u32(a);
				return nsid;
			}
		}
	}
}

/* The namespace's nsid here, assigned now if it has none (the events of every namespace carry theirs). */
static int32_t nsid_of(struct nlh_nsreg *reg, int fd)
{
	int32_t nsid = nsid_request(reg, RTM_GETNSID, fd);

	if (nsid == NETNSA_NSID_NOT_ASSIGNED && nsid_request(reg, RTM_NEWNSID, fd) == 0)
		nsid = nsid_request(reg, RTM_GETNSID, fd);
	return nsid < 0 ? -1 : nsid;
}

static struct nlh_ns *find_nsid(const struct nlh_nsreg *reg, int32_t nsid)
{
	for (struct nlh_ns *ns = reg->own; ns; ns = ns->next)
		if (ns->nsid == nsid)
			return ns;
	return NULL;
}

static struct nlh_ns *find_ino(const struct nlh_nsreg *reg, dev_t dev, ino_t ino)
{
	for (struct nlh_ns *ns = reg->own; ns; ns = ns->next)
		if (ns->fd >= 0 && ns->dev == dev && ns->ino == ino)
			return ns;
	return NULL;
}

static void raise_ns(struct nlh_nsreg *reg, enum nlh_event_type t, const struct nlh_ns *ns)
{
	struct nlh_event ev;

	nlh_event_init(&ev, t);
	ev.netns = ns->name;
	ev.nsid = ns->nsid;
	reg->cfg.sink.event(reg->cfg.sink.data, &ev);
}

static void ns_start(struct nlh_nsreg *reg, struct nlh_ns *ns)
{
	struct nlh_want want = {};
	const char *src = NULL;
	int r;

	reg->cfg.want(reg->cfg.data, ns->name, &want);
	r = nlh_ns_update(ns, &want, &src);
	if (r < 0)
		log_err("netns %s: %s: %s", ns->name, src, strerror(-r));
}

static void ns_link(struct nlh_nsreg *reg, struct nlh_ns *ns)
{
	struct nlh_ns **pp = &reg->own->next;

	/* Kept in name order: status and monitors list them the same way each time. */
	while (*pp && strcmp((*pp)->name, ns->name) < 0)
		pp = &(*pp)->next;
	ns->next = *pp;
	*pp = ns;
}

static void ns_unlink(struct nlh_nsreg *reg, struct nlh_ns *ns)
{
	for (struct nlh_ns **pp = &reg->own->next; *pp; pp = &(*pp)->next)
		if (*pp == ns) {
			*pp = ns->next;
			return;
		}
}

static void nsid_only_drop(struct nlh_nsreg *reg, struct nlh_ns *ns);

/* A namespace file whose mount is there: a namespace, or another name of one. */
static void name_attach(struct nlh_nsreg *reg, struct nsname *nm)
{
	char path[4096];
	struct statfs sfs;
	struct stat st;
	struct nlh_ns *ns, *old;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", reg->dirs[nm->dir].path, nm->file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	/* Still the empty file `ip netns add` makes before it mounts the namespace on it. */
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC || fstat(fd, &st) < 0) {
		close(fd);
		return;
	}
	if (st.st_dev == reg->own_dev && st.st_ino == reg->own_ino) {
		close(fd);
		if (!reg->own_name)
			reg->own_name = strdup(nm->file);
		nm->ns = reg->own;
		return;
	}
	ns = find_ino(reg, st.st_dev, st.st_ino);
	if (ns) {
		close(fd);
		nm->ns = ns;
		return;
	}
	ns = nlh_ns_new(nm->file, fd, &reg->cfg.sink);
	if (!ns) {
		log_err("netns %s: out of memory", nm->file);
		return;
	}
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;
	ns_set_nsid(ns, nsid_of(reg, ns->fd));
	/* Known by its nsid alone until now (a veth reached it first): it has a name now. */
	if (ns->nsid >= 0 && (old = find_nsid(reg, ns->nsid)) && old->fd < 0)
		nsid_only_drop(reg, old);
	nm->ns = ns;
	ns_link(reg, ns);
	log_info("netns %s: watching (nsid %d)", ns->name, ns->nsid);
	/* Those there at start raise nothing, as links there at start raise no link.new. */
	if (reg->started) {
		ns_start(reg, ns);
		raise_ns(reg, NLH_EV_NETNS_ADD, ns);
	}
}

static bool ns_named(const struct nlh_nsreg *reg, const struct nlh_ns *ns)
{
	for (struct nsname *nm = reg->names; nm; nm = nm->next)
		if (nm->ns == ns)
			return true;
	return false;
}

static void ns_drop(struct nlh_nsreg *reg, struct nlh_ns *ns)
{
	log_info("netns %s: gone", ns->name);
	raise_ns(reg, NLH_EV_NETNS_DEL, ns);
	ns_unlink(reg, ns);
	nlh_ns_free(ns);
}

static void mountinfo_update(struct nlh_nsreg *reg);

static void name_add(struct nlh_nsreg *reg, size_t dir, const char *file)
{
	struct nsname *nm;

	if (file[0] == '.')
		return;
	for (nm = reg->names; nm; nm = nm->next)
		if (nm->dir == dir && !strcmp(nm->file, file))
			return;
	nm = calloc(1, sizeof(*nm));
	if (!nm || !(nm->file = strdup(file))) {
		free(nm);
		return;
	}
	nm->dir = dir;
	nm->next = reg->names;
	reg->names = nm;
	name_attach(reg, nm);
	mountinfo_update(reg);
}

static void name_free(struct nlh_nsreg *reg, struct nsname **pp)
{
	struct nsname *nm = *pp;
	struct nlh_ns *ns = nm->ns;

	*pp = nm->next;
	free(nm->file);
	free(nm);
	if (ns && ns != reg->own && !ns_named(reg, ns))
		ns_drop(reg, ns);
}

static void name_del(struct nlh_nsreg *reg, size_t dir, const char *file)
{
	for (struct nsname **pp = &reg->names; *pp; pp = &(*pp)->next)
		if ((*pp)->dir == dir && !strcmp((*pp)->file, file)) {
			name_free(reg, pp);
			break;
		}
	mountinfo_update(reg);
}

/* Files waiting for their mount: try again; stop watching mounts once none waits. */
static void mountinfo_cb(int fd, uint32_t events, void *data)
{
	struct nlh_nsreg *reg = data;

	for (struct nsname *nm = reg->names; nm; nm = nm->next)
		if (!nm->ns)
			name_attach(reg, nm);
	mountinfo_update(reg);
}

static void mountinfo_update(struct nlh_nsreg *reg)
{
	bool waiting = false;

	for (struct nsname *nm = reg->names; nm; nm = nm->next)
		waiting |= !nm->ns;
	if (waiting && reg->mountinfo < 0) {
		reg->mountinfo = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
		/* Mount changes show as a priority event (proc(5)); nothing to read. */
		if (reg->mountinfo >= 0 && loop_add_fd(reg->mountinfo, EPOLLPRI, mountinfo_cb, reg) < 0) {
			close(reg->mountinfo);
			reg->mountinfo = -1;
		}
	} else if (!waiting && reg->mountinfo >= 0) {
		loop_del_fd(reg->mountinfo);
		close(reg->mountinfo);
		reg->mountinfo = -1;
	}
}

static void dir_scan(struct nlh_nsreg *reg, size_t i)
{
	DIR *d = opendir(reg->dirs[i].path);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		name_add(reg, i, de->d_name);
	closedir(d);
}

/*
 * One inotify watch per inode, shared by the dirs that watch it (as
 * theirs or as an ancestor's): masks are added, never replaced, and a
 * watch goes when no dir uses it any more.
 */
#define DIR_MASK (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define ANC_MASK (IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

static void wd_release(struct nlh_nsreg *reg, int wd)
{
	if (wd < 0)
		return;
	for (size_t i = 0; i < reg->n_dirs; i++)
		if (reg->dirs[i].wd == wd || reg->dirs[i].anc_wd == wd)
			return;
	inotify_rm_watch(reg->ifd, wd);
}

static void dir_warn(struct watchdir *w, int err, const char *what)
{
	if (w->warned == err)
		return;
	w->warned = err;
	if (err == ENOENT)
		log_debug("netns: %s does not exist (yet): %s", w->path, what);
	else if (err == ENOTDIR)
		log_warn("netns: %s is not a directory: %s", w->path, what);
	else if (err == ENOSPC)
		log_warn("netns: %s: cannot watch it: no inotify watch left (fs.inotify.max_user_watches)", w->path);
	else
		log_warn("netns: %s: cannot watch it: %s", w->path, strerror(err));
}

/*
 * Watch the dir; while it does not exist, its nearest ancestor that does,
 * for the next name down to appear (a runtime's directory such as
 * /run/docker/netns is made, parents and all, when the runtime starts).
 */
static void dir_watch(struct nlh_nsreg *reg, size_t i)
{
	struct watchdir *w = &reg->dirs[i];

	for (int tries = 0; tries < 64; tries++) {
		char anc[PATH_MAX], *slash;
		int old = w->anc_wd, err;
		struct stat st;

		w->anc_wd = -1;
		w->wd = inotify_add_watch(reg->ifd, w->path, IN_MASK_ADD | DIR_MASK);
		if (w->wd >= 0) {
			wd_release(reg, old);
			w->warned = 0;
			dir_scan(reg, i);
			return;
		}
		err = errno;
		snprintf(anc, sizeof(anc), "%s", w->path);
		while ((slash = strrchr(anc, '/'))) {
			snprintf(w->step, sizeof(w->step), "%s", slash + 1);
			slash[slash == anc] = '\0';	/* "/x" leaves "/" */
			w->anc_wd = inotify_add_watch(reg->ifd, anc, IN_MASK_ADD | ANC_MASK);
			if (w->anc_wd >= 0 || slash == anc)
				break;
		}
		wd_release(reg, old);
		if (w->anc_wd < 0) {
			dir_warn(w, errno, "");
			return;
		}
		dir_warn(w, err, err == ENOENT ? "watching for it" : "watching for a directory in its place");
		if (err != ENOENT && err != ENOTDIR)
			return;
		/* The next name may have come between the two calls: look again. */
		if (anc[strlen(anc) - 1] != '/')
			strncat(anc, "/", sizeof(anc) - strlen(anc) - 1);
		strncat(anc, w->step, sizeof(anc) - strlen(anc) - 1);
		if (stat(anc, &st) < 0 || !S_ISDIR(st.st_mode))
			return;
	}
}

static void dir_gone(struct nlh_nsreg *reg, size_t i)
{
	int old = reg->dirs[i].wd;

	for (struct nsname **pp = &reg->names; *pp;)
		if ((*pp)->dir == i)
			name_free(reg, pp);
		else
			pp = &(*pp)->next;
	reg->dirs[i].wd = -1;
	wd_release(reg, old);	/* a dir moved away keeps its watch, else */
	dir_watch(reg, i);
	mountinfo_update(reg);
}

static void inotify_cb(int fd, uint32_t events, void *data)
{
	struct nlh_nsreg *reg = data;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			p += sizeof(*e) + e->len;
			for (size_t i = 0; i < reg->n_dirs; i++) {
				struct watchdir *w = &reg->dirs[i];

				if (e->wd == w->wd) {
					if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
						dir_gone(reg, i);
					else if (e->len && (e->mask & (IN_CREATE | IN_MOVED_TO)))
						name_add(reg, i, e->name);
					else if (e->len && (e->mask & (IN_DELETE | IN_MOVED_FROM)))
						name_del(reg, i, e->name);
				} else if (e->wd == w->anc_wd) {
					if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) ||
					    (e->len && (e->mask & (IN_CREATE | IN_MOVED_TO)) && !strcmp(e->name, w->step)))
						dir_watch(reg, i);
				}
			}
		}
	}
}

/* Namespaces known only by an nsid: fed by the socket that hears all */

static void nsid_sock_subscribe(struct nlh_nsreg *reg)
{
	static const unsigned int groups[] = {
		RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE,
	};
	bool neigh = false;

	for (struct nlh_ns *ns = reg->own; ns; ns = ns->next) {
		struct nlh_want want = {};

		if (ns->fd >= 0 || ns == reg->own)
			continue;
		reg->cfg.want(reg->cfg.data, ns->name, &want);
		neigh |= !!(want.types & (NLH_TYPE_BIT(NLH_EV_NEIGH_ADD) | NLH_TYPE_BIT(NLH_EV_NEIGH_DEL)));
	}
	/* Joined once: the kernel hears nothing of namespaces without an nsid-only instance here. */
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		nlsock_join(reg->nsid_sock, groups[i], true);
	if (neigh != reg->nsid_neigh && nlsock_join(reg->nsid_sock, RTNLGRP_NEIGH, neigh) == 0)
		reg->nsid_neigh = neigh;
}

static void nsid_only_add(struct nlh_nsreg *reg, int32_t nsid)
{
	char name[32];
	struct nlh_ns *ns;

	if (nsid < 0 || find_nsid(reg, nsid))
		return;
	snprintf(name, sizeof(name), "nsid:%d", nsid);
	ns = nlh_ns_new_fed(name, reg->nsid_sock, nsid, &reg->cfg.sink);
	if (!ns) {
		log_err("netns %s: out of memory", name);
		return;
	}
	ns_link(reg, ns);
	log_info("netns %s: watching (no file: links and addresses only through the nsid)", name);
	nsid_sock_subscribe(reg);
	if (reg->started) {
		ns_start(reg, ns);
		raise_ns(reg, NLH_EV_NETNS_ADD, ns);
	}
}

static void nsid_only_drop(struct nlh_nsreg *reg, struct nlh_ns *ns)
{
	ns_drop(reg, ns);
}

static void nsid_msg(struct nlh_nsreg *reg, const struct nlmsghdr *nlh)
{
	const struct nlattr *a;
	int32_t nsid = -1;
	struct nlh_ns *ns;

	mnl_attr_for_each(a, nlh, sizeof(struct rtgenmsg))
		if (mnl_attr_get_type(a) == NETNSA_NSID && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			nsid = (int32_t)mnl_attr_get_u32(a);
	if (nsid < 0)
		return;
	ns = find_nsid(reg, nsid);
	if (nlh->nlmsg_type == RTM_NEWNSID) {
		if (!ns)
			nsid_only_add(reg, nsid);
	} else if (ns && ns->fd < 0 && ns != reg->own) {
		nsid_only_drop(reg, ns);
	} else if (ns) {
		ns_set_nsid(ns, -1);
	}
}

static void nsid_batch(void *data, const void *buf, size_t len, int32_t nsid)
{
	struct nlh_nsreg *reg = data;
	const struct nlmsghdr *nlh;
	size_t left;

	nlh_msg_for_each(nlh, buf, len, left) {
		struct nlh_ns *ns;

		if (nlh->nlmsg_type == RTM_NEWNSID || nlh->nlmsg_type == RTM_DELNSID) {
			nsid_msg(reg, nlh);
			continue;
		}
		/* A dump reply of a namespace fed here, or an event from one; the others have sockets of their own. */
		ns = nsid >= 0 ? find_nsid(reg, nsid) : NULL;
		if (!ns)
			for (struct nlh_ns *n = reg->own->next; n && !ns; n = n->next)
				if (n->fd < 0 && rtnl_fed_reply(n->src[SRC_RTNL], nlh))
					ns = n;
		if (ns && ns->fd < 0 && ns != reg->own)
			rtnl_fed_batch(ns->src[SRC_RTNL], nlh, NLMSG_ALIGN(nlh->nlmsg_len) < left ?
				       NLMSG_ALIGN(nlh->nlmsg_len) : left);
	}
}

static void nsid_overrun(void *data)
{
	struct nlh_nsreg *reg = data;

	log_warn("netns: the socket that hears every namespace overran; resyncing those known by nsid");
	for (struct nlh_ns *ns = reg->own->next; ns; ns = ns->next)
		if (ns->fd < 0)
			rtnl_fed_overrun(ns->src[SRC_RTNL]);
}

static const struct nlsock_ops nsid_sock_ops = {
	.batch = nsid_batch,
	.overrun = nsid_overrun,
};

/* The nsids this namespace knows already: a dump. */
static int nsid_dump(struct nlh_nsreg *reg)
{
	char buf[64] __attribute__((aligned(8))) = {};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;

	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	return nlsock_send(reg->nsid_sock, nlh, nlh->nlmsg_len);
}

static int all_start(struct nlh_nsreg *reg)
{
	const struct nlsock_config cfg = {
		.protocol = NETLINK_ROUTE, .netns_fd = -1, .fd = -1, .all_nsid = true, .who = "netns",
	};
	int r;

	reg->req = nlsock_socket(-1, NETLINK_ROUTE);
	if (reg->req < 0)
		return reg->req;
	r = nlsock_open(&reg->nsid_sock, &cfg, &nsid_sock_ops, reg);
	if (r < 0)
		return r;
	r = nlsock_join(reg->nsid_sock, RTNLGRP_NSID, true);
	if (r < 0)
		return r;
	reg->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (reg->ifd < 0)
		return -errno;
	r = loop_add_fd(reg->ifd, EPOLLIN, inotify_cb, reg);
	if (r < 0)
		return r;
	for (size_t i = 0; i < reg->n_dirs; i++)
		dir_watch(reg, i);
	mountinfo_update(reg);
	return nsid_dump(reg);
}

/* "/run//docker/netns/" is /run/docker/netns: a copy without doubled or trailing slashes. */
static char *dir_normalise(const char *path)
{
	char *p = malloc(strlen(path) + 2), *o = p;

	if (!p)
		return NULL;
	for (const char *c = path; *c; c++)
		if (*c != '/' || o == p || o[-1] != '/')
			*o++ = *c;
	if (o > p + 1 && o[-1] == '/')
		o--;
	*o = '\0';
	return p;
}

int nlh_nsreg_new(struct nlh_nsreg **ret, const struct nlh_nsreg_config *cfg)
{
	struct nlh_nsreg *reg = calloc(1, sizeof(*reg));
	struct stat st;
	int r;

	if (!reg)
		return -ENOMEM;
	reg->cfg = *cfg;
	reg->ifd = reg->mountinfo = reg->req = -1;
	reg->dirs = calloc(cfg->n_dirs ? cfg->n_dirs : 1, sizeof(*reg->dirs));
	if (!reg->dirs) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_dirs; i++) {
		char *path = dir_normalise(cfg->dirs[i]);
		size_t j;

		if (!path) {
			r = -ENOMEM;
			goto fail;
		}
		for (j = 0; j < reg->n_dirs && strcmp(reg->dirs[j].path, path); j++)
			;
		if (j < reg->n_dirs) {
			free(path);	/* named twice */
			continue;
		}
		reg->dirs[reg->n_dirs++] = (struct watchdir){ .path = path, .wd = -1, .anc_wd = -1 };
	}
	if (stat("/proc/self/ns/net", &st) < 0) {
		r = -errno;
		goto fail;
	}
	reg->own_dev = st.st_dev;
	reg->own_ino = st.st_ino;
	reg->own = nlh_ns_new(NULL, -1, &cfg->sink);
	if (!reg->own) {
		r = -ENOMEM;
		goto fail;
	}
	if (cfg->all) {
		reg->own->nsid = -1;
		r = all_start(reg);
		if (r < 0)
			goto fail;
	} else {
		reg->own_name = nlh_netns_self_name(cfg->dirs, cfg->n_dirs);
	}
	*ret = reg;
	return 0;
fail:
	nlh_nsreg_free(reg);
	return r;
}

void nlh_nsreg_free(struct nlh_nsreg *reg)
{
	if (!reg)
		return;
	while (reg->names) {
		struct nsname *nm = reg->names;

		reg->names = nm->next;
		free(nm->file);
		free(nm);
	}
	while (reg->own && reg->own->next) {
		struct nlh_ns *ns = reg->own->next;

		reg->own->next = ns->next;
		nlh_ns_free(ns);
	}
	nlh_ns_free(reg->own);
	nlsock_free(reg->nsid_sock);
	if (reg->mountinfo >= 0) {
		loop_del_fd(reg->mountinfo);
		close(reg->mountinfo);
	}
	if (reg->ifd >= 0) {
		loop_del_fd(reg->ifd);
		close(reg->ifd);
	}
	if (reg->req >= 0)
		close(reg->req);
	for (size_t i = 0; i < reg->n_dirs; i++)
		free(reg->dirs[i].path);
	free(reg->dirs);
	free(reg->own_name);
	free(reg);
}

int nlh_nsreg_update(struct nlh_nsreg *reg, const char **ret_source)
{
	struct nlh_want want = {};
	int r;

	reg->cfg.want(reg->cfg.data, NULL, &want);
	r = nlh_ns_update(reg->own, &want, ret_source);
	for (struct nlh_ns *ns = reg->own->next; ns; ns = ns->next)
		ns_start(reg, ns);
	if (reg->nsid_sock)
		nsid_sock_subscribe(reg);
	reg->started = true;
	return r;
}

struct nlh_ns *nlh_nsreg_own(const struct nlh_nsreg *reg)
{
	return reg->own;
}

struct nlh_ns *nlh_nsreg_find(const struct nlh_nsreg *reg, const char *name)
{
	if (!name)
		return reg->own;
	for (struct nlh_ns *ns = reg->own->next; ns; ns = ns->next)
		if (!strcmp(ns->name, name))
			return ns;
	return NULL;
}

struct nlh_ns *nlh_nsreg_next(const struct nlh_nsreg *reg, const struct nlh_ns *prev)
{
	return prev ? prev->next : reg->own;
}

size_t nlh_nsreg_count(const struct nlh_nsreg *reg)
{
	size_t n = 0;

	for (struct nlh_ns *ns = reg->own; ns; ns = ns->next)
		n++;
	return n;
}

const char *nlh_nsreg_own_name(const struct nlh_nsreg *reg)
{
	return reg->own_name;
}

char *nlh_netns_self_name(char *const *dirs, size_t n_dirs)
{
	struct stat own, st;

	if (stat("/proc/self/ns/net", &own) < 0)
		return NULL;
	for (size_t i = 0; i < n_dirs; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d))) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			if (de->d_name[0] != '.' && stat(path, &st) == 0 && st.st_dev == own.st_dev &&
			    st.st_ino == own.st_ino) {
				char *name = strdup(de->d_name);

				closedir(d);
				return name;
			}
		}
		closedir(d);
	}
	return NULL;
}
