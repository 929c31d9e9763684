/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/nlmsg.h"
#include "core/nlsock.h"
#include "rtnl-parse.h"
#include "rtnl.h"

/*
 * The last-seen state: links, addresses, routes, neighbours, each in a hash
 * table keyed by what the kernel uses as identity.  Dump replies and
 * multicast messages go through one handler; an event is raised when an
 * object is new, changed or gone, so a message that changes nothing we show
 * (IPv6 DAD finishing, a link message about statistics) raises nothing.
 */

enum table_id { T_LINK, T_ADDR, T_ROUTE, T_NEIGH, _T_MAX };

struct obj {
	struct obj *next;
	uint32_t hash;
	bool seen;
	uint8_t klen;
	uint8_t key[32];
	struct nlh_event ev;
};

struct table {
	struct obj **buckets;
	size_t n_buckets;
	size_t count;
};

struct rtnl {
	struct nlh_source_env env;
	struct table tables[_T_MAX];
	struct nlsock *sock;
	/* Fed by a socket that hears every namespace (no socket of its own): */
	struct nlsock *shared;
	int32_t target_nsid;
	char *who;		/* "rtnl", "rtnl in blue" */
	uint32_t dump_seq;
	int dump_table;		/* table being dumped, -1: none */
	bool dump_emit;		/* a resync: diff and raise events */
	bool dump_intr;		/* NLM_F_DUMP_INTR seen: dump again */
	bool resync_pending;
	bool want_neigh;
	struct nlh_source_stats stats;
};

static uint32_t hash_bytes(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static struct obj *table_find(struct table *t, const uint8_t *key, size_t klen, uint32_t h)
{
	if (!t->n_buckets)
		return NULL;
	for (struct obj *o = t->buckets[h & (t->n_buckets - 1)]; o; o = o->next)
		if (o->hash == h && o->klen == klen && !memcmp(o->key, key, klen))
			return o;
	return NULL;
}

static int table_grow(struct table *t)
{
	size_t n = t->n_buckets ? t->n_buckets * 2 : 64;
	struct obj **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct obj *o = t->buckets[i];

		while (o) {
			struct obj *next = o->next;

			o->next = b[o->hash & (n - 1)];
			b[o->hash & (n - 1)] = o;
			o = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = n;
	return 0;
}

static struct obj *table_insert(struct table *t, const uint8_t *key, size_t klen, uint32_t h)
{
	struct obj *o;

	if (t->count >= t->n_buckets && table_grow(t) < 0)
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->hash = h;
	o->klen = klen;
	memcpy(o->key, key, klen);
	o->next = t->buckets[h & (t->n_buckets - 1)];
	t->buckets[h & (t->n_buckets - 1)] = o;
	t->count++;
	return o;
}

static void table_remove(struct table *t, struct obj *o)
{
	for (struct obj **pp = &t->buckets[o->hash & (t->n_buckets - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			t->count--;
			free(o);
			return;
		}
	}
}

static void table_clear(struct table *t)
{
	for (size_t i = 0; i < t->n_buckets; i++) {
		while (t->buckets[i]) {
			struct obj *o = t->buckets[i];

			t->buckets[i] = o->next;
			free(o);
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static struct obj *link_obj(const struct rtnl *rt, uint32_t ifindex)
{
	return table_find((struct table *)&rt->tables[T_LINK], (const uint8_t *)&ifindex, sizeof(ifindex),
			  hash_bytes((const uint8_t *)&ifindex, sizeof(ifindex)));
}

const char *rtnl_ifname(const struct rtnl *rt, uint32_t ifindex)
{
	struct obj *o = link_obj(rt, ifindex);

	return o && o->ev.link.ifname[0] ? o->ev.link.ifname : NULL;
}

void rtnl_state_foreach(const struct rtnl *rt, enum nlh_class c,
			void (*cb)(const struct nlh_event *ev, void *data), void *data)
{
	enum table_id id = _T_MAX;

	switch (c) {
	case NLH_CLASS_LINK: id = T_LINK; break;
	case NLH_CLASS_ADDR: id = T_ADDR; break;
	case NLH_CLASS_ROUTE: id = T_ROUTE; break;
	case NLH_CLASS_NEIGH: id = T_NEIGH; break;
	case NLH_CLASS_NET:
	case NLH_CLASS_WIFI:
	case NLH_CLASS_NFLOG:
	case NLH_CLASS_SELF:
	case _NLH_CLASS_MAX:
		break;
	}
	if (id == _T_MAX)
		return;
	for (size_t i = 0; i < rt->tables[id].n_buckets; i++)
		for (struct obj *o = rt->tables[id].buckets[i]; o; o = o->next)
			cb(&o->ev, data);
}

size_t rtnl_state_count(const struct rtnl *rt, enum nlh_class c)
{
	switch (c) {
	case NLH_CLASS_LINK: return rt->tables[T_LINK].count;
	case NLH_CLASS_ADDR: return rt->tables[T_ADDR].count;
	case NLH_CLASS_ROUTE: return rt->tables[T_ROUTE].count;
	case NLH_CLASS_NEIGH: return rt->tables[T_NEIGH].count;
	case NLH_CLASS_NET:
	case NLH_CLASS_WIFI:
	case NLH_CLASS_NFLOG:
	case NLH_CLASS_SELF:
	case _NLH_CLASS_MAX:
		break;
	}
	return 0;
}

static void fill_ifname(const struct rtnl *rt, char *dst, uint32_t ifindex)
{
	const char *name = rtnl_ifname(rt, ifindex);

	if (name)
		nlh_strlcpy(dst, name, IFNAMSIZ);
}

static void raise_event(struct rtnl *rt, struct nlh_event *ev)
{
	rt->stats.events++;
	rt->env.sink.event(rt->env.sink.data, ev);
}

static void raise_self(struct rtnl *rt, enum nlh_event_type t, uint64_t count)
{
	struct nlh_event ev;

	nlh_event_init(&ev, t);
	nlh_strlcpy(ev.self.source, "rtnl", sizeof(ev.self.source));
	NLH_SET(&ev, SELF, source);
	ev.self.count = count;
	NLH_SET(&ev, SELF, count);
	rt->env.sink.event(rt->env.sink.data, &ev);
}

/* Identity of an object as the kernel sees it. */
static enum table_id obj_key(const struct nlh_event *ev, uint8_t *key, uint8_t *klen)
{
	uint8_t *p = key;

#define PUT(v) do { memcpy(p, &(v), sizeof(v)); p += sizeof(v); } while (0)
	switch (nlh_event_type_class(ev->type)) {
	case NLH_CLASS_ADDR:
		PUT(ev->addr.ifindex);
		PUT(ev->addr.address);
		*klen = p - key;
		return T_ADDR;
	case NLH_CLASS_ROUTE:
		PUT(ev->route.table);
		PUT(ev->route.metric);
		PUT(ev->route.dst);
		/*
		 * IPv6 keeps a route per device for one prefix (fe80::/64 on
		 * every link); IPv4 has one, whose device a replace may change.
		 */
		if (ev->route.dst.family == AF_INET6)
			PUT(ev->route.ifindex);
		*klen = p - key;
		return T_ROUTE;
	case NLH_CLASS_NEIGH:
		PUT(ev->neigh.ifindex);
		PUT(ev->neigh.address);
		*klen = p - key;
		return T_NEIGH;
	case NLH_CLASS_LINK:
	case NLH_CLASS_NET:
	case NLH_CLASS_WIFI:
	case NLH_CLASS_NFLOG:
	case NLH_CLASS_SELF:
	case _NLH_CLASS_MAX:
		break;
	}
#undef PUT
	memcpy(key, &ev->link.ifindex, sizeof(ev->link.ifindex));
	*klen = sizeof(ev->link.ifindex);
	return T_LINK;
}

static bool same_content(const struct nlh_event *a, const struct nlh_event *b)
{
	return a->present == b->present &&
	       !memcmp((const char *)a + offsetof(struct nlh_event, link),
		       (const char *)b + offsetof(struct nlh_event, link),
		       sizeof(*a) - offsetof(struct nlh_event, link));
}

/* Links, addresses and routes, to whoever derives from them (the operational states). */
static void obj_changed(struct rtnl *rt, const struct nlh_event *old, const struct nlh_event *cur, bool emit)
{
	if (rt->env.obj_changed && nlh_event_type_class((cur ? cur : old)->type) != NLH_CLASS_NEIGH)
		rt->env.obj_changed(rt->env.data, old, cur, emit);
}

/* An address's flags (IPv6 DAD done or not) change no field an event shows. */
static bool same_shown(const struct nlh_event *a, const struct nlh_event *b)
{
	struct nlh_event c = *b;

	if (nlh_event_type_class(c.type) == NLH_CLASS_ADDR)
		c.addr.flags = a->addr.flags;
	return same_content(a, &c);
}

/*
 * The kernel drops the IPv4 routes through a link that goes down (all but
 * its local routes) or away without a word: no RTM_DELROUTE.  Raise the
 * route.del events ourselves so the state stays true and rules see the
 * default route go.  IPv6 sends its deletions; we get those as messages.
 */
static void flush_ipv4_routes(struct rtnl *rt, uint32_t ifindex, bool keep_local, bool emit)
{
	struct table *t = &rt->tables[T_ROUTE];

	for (size_t i = 0; i < t->n_buckets; i++) {
		struct obj *o = t->buckets[i];

		while (o) {
			struct obj *next = o->next;
			struct nlh_route *r = &o->ev.route;

			if (r->ifindex == ifindex && r->dst.family == AF_INET &&
			    !(keep_local && !strcmp(r->kind, "local"))) {
				struct nlh_event ev = o->ev;

				ev.type = NLH_EV_ROUTE_DEL;
				ev.time = nlh_now();
				table_remove(t, o);
				if (emit)
					raise_event(rt, &ev);
				obj_changed(rt, &ev, NULL, emit);
			}
			o = next;
		}
	}
}

static void link_changed(struct rtnl *rt, const struct nlh_event *ev)
{
	if (rt->env.link_changed)
		rt->env.link_changed(rt->env.data, ev);
}

static void link_notify(struct rtnl *rt, struct nlh_event *ev, bool emit)
{
	uint8_t key[32], klen;
	enum table_id id = obj_key(ev, key, &klen);
	uint32_t h = hash_bytes(key, klen);
	struct obj *o = table_find(&rt->tables[id], key, klen, h);
	struct nlh_event edges[RTNL_MAX_EDGES], old;
	bool had = o;
	size_t n;

	if (ev->link.master_index) {
		fill_ifname(rt, ev->link.master, ev->link.master_index);
		if (ev->link.master[0])
			NLH_SET(ev, LINK, master);
	}
	if (ev->type == NLH_EV_LINK_DEL) {
		if (o) {
			/* The deletion message may lack what we knew (kind). */
			if (!NLH_HAS(ev, LINK, kind) && NLH_HAS(&o->ev, LINK, kind)) {
				memcpy(ev->link.kind, o->ev.link.kind, sizeof(ev->link.kind));
				NLH_SET(ev, LINK, kind);
			}
			old = o->ev;
			table_remove(&rt->tables[id], o);
		}
		if (emit)
			raise_event(rt, ev);
		flush_ipv4_routes(rt, ev->link.ifindex, false, emit);
		if (had)
			obj_changed(rt, &old, NULL, emit);
		link_changed(rt, ev);
		return;
	}
	/* Some RTM_NEWLINK carry no name (e.g. from a netns move): keep ours. */
	if (o && !NLH_HAS(ev, LINK, ifname) && NLH_HAS(&o->ev, LINK, ifname)) {
		memcpy(ev->link.ifname, o->ev.link.ifname, IFNAMSIZ);
		NLH_SET(ev, LINK, ifname);
	}
	n = emit ? rtnl_link_edges(o ? &o->ev : NULL, ev, edges) : 0;
	if (o)
		old = o->ev;
	else
		o = table_insert(&rt->tables[id], key, klen, h);
	if (o) {
		o->ev = *ev;
		o->seen = true;
	}
	for (size_t i = 0; i < n; i++)
		raise_event(rt, &edges[i]);
	if (o)
		obj_changed(rt, had ? &old : NULL, &o->ev, emit);
	if (!ev->link.up)
		flush_ipv4_routes(rt, ev->link.ifindex, true, emit);
	if (emit)
		link_changed(rt, ev);
}

static void obj_notify(struct rtnl *rt, struct nlh_event *ev, bool emit)
{
	uint8_t key[32], klen;
	enum table_id id = obj_key(ev, key, &klen);
	uint32_t h = hash_bytes(key, klen);
	struct obj *o = table_find(&rt->tables[id], key, klen, h);
	struct nlh_event old;
	char *ifname = NULL;
	uint32_t ifindex = 0;
	bool del = false, had = o;

	switch (id) {
	case T_ADDR:
		ifname = ev->addr.ifname, ifindex = ev->addr.ifindex;
		del = ev->type == NLH_EV_ADDR_DEL;
		break;
	case T_ROUTE:
		ifname = ev->route.ifname, ifindex = ev->route.ifindex;
		del = ev->type == NLH_EV_ROUTE_DEL;
		break;
	case T_NEIGH:
		ifname = ev->neigh.ifname, ifindex = ev->neigh.ifindex;
		del = ev->type == NLH_EV_NEIGH_DEL;
		break;
	case T_LINK:
	case _T_MAX:
		break;
	}
	if (!ifname)
		return;
	if (ifindex) {
		fill_ifname(rt, ifname, ifindex);
		if (ifname[0])
			ev->present |= UINT64_C(1) << nlh_field_find(nlh_event_type_class(ev->type), "ifname")->bit;
	}
	if (del) {
		if (o) {
			old = o->ev;
			table_remove(&rt->tables[id], o);
		}
		if (emit)
			raise_event(rt, ev);
		if (had)
			obj_changed(rt, &old, NULL, emit);
		return;
	}
	if (o) {
		o->seen = true;
		if (same_content(&o->ev, ev))
			return;
		old = o->ev;
		o->ev = *ev;
	} else {
		o = table_insert(&rt->tables[id], key, klen, h);
		if (o) {
			o->ev = *ev;
			o->seen = true;
		}
	}
	if (emit && !(had && same_shown(&old, ev)))
		raise_event(rt, ev);
	if (o)
		obj_changed(rt, had ? &old : NULL, &o->ev, emit);
}

/* Neighbours are only tracked while something wants them. */
static void msg_notify(struct rtnl *rt, const struct nlmsghdr *nlh, bool emit)
{
	struct nlh_event ev;
	int r = rtnl_parse(nlh, &ev);

	if (r == -ENODATA)
		return;
	if (r < 0) {
		rt->stats.errors++;
		log_debug("%s: malformed message type %u, ignoring", rt->who, nlh->nlmsg_type);
		return;
	}
	if (nlh_event_type_class(ev.type) == NLH_CLASS_LINK)
		link_notify(rt, &ev, emit);
	else if (nlh_event_type_class(ev.type) != NLH_CLASS_NEIGH || rt->want_neigh)
		obj_notify(rt, &ev, emit);
}

static int dump_start(struct rtnl *rt, int table)
{
	static const uint16_t types[_T_MAX] = { RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH };
	char buf[64] __attribute__((aligned(8))) = {};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int r;

	nlh->nlmsg_type = types[table];
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++rt->dump_seq;
	if (rt->shared) {
		/* Another namespace's links and addresses, through the shared socket: its nsid says which. */
		mnl_nlmsg_put_extra_header(nlh, table == T_LINK ? sizeof(struct ifinfomsg) : sizeof(struct ifaddrmsg));
		mnl_attr_put_u32(nlh, table == T_LINK ? IFLA_TARGET_NETNSID : IFA_TARGET_NETNSID,
				 (uint32_t)rt->target_nsid);
	} else {
		/* The largest of the request headers, zeroed: AF_UNSPEC, all tables. */
		mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg));
	}
	for (size_t i = 0; i < rt->tables[table].n_buckets; i++)
		for (struct obj *o = rt->tables[table].buckets[i]; o; o = o->next)
			o->seen = false;
	rt->dump_table = table;
	rt->dump_intr = false;
	r = nlsock_send(rt->sock ?: rt->shared, nlh, nlh->nlmsg_len);
	if (r < 0)
		rt->dump_table = -1;
	return r;
}

/* After a dump: what was not seen is gone. */
static void dump_sweep(struct rtnl *rt, int table)
{
	struct table *t = &rt->tables[table];

	for (size_t i = 0; i < t->n_buckets; i++) {
		struct obj *o = t->buckets[i];

		while (o) {
			struct obj *next = o->next;

			if (!o->seen) {
				struct nlh_event ev = o->ev;

				switch (nlh_event_type_class(ev.type)) {
				case NLH_CLASS_LINK: ev.type = NLH_EV_LINK_DEL; break;
				case NLH_CLASS_ADDR: ev.type = NLH_EV_ADDR_DEL; break;
				case NLH_CLASS_ROUTE: ev.type = NLH_EV_ROUTE_DEL; break;
				case NLH_CLASS_NEIGH: ev.type = NLH_EV_NEIGH_DEL; break;
				case NLH_CLASS_NET:
				case NLH_CLASS_WIFI:
				case NLH_CLASS_NFLOG:
				case NLH_CLASS_SELF:
				case _NLH_CLASS_MAX:
					break;
				}
				ev.time = nlh_now();
				table_remove(t, o);
				if (rt->dump_emit)
					raise_event(rt, &ev);
				obj_changed(rt, &ev, NULL, rt->dump_emit);
			}
			o = next;
		}
	}
}

static void dump_next(struct rtnl *rt)
{
	int next = rt->dump_table + 1, r;

	if (rt->dump_intr) {
		next = rt->dump_table;	/* changed under the dump: again */
	} else {
		dump_sweep(rt, rt->dump_table);
		/* A namespace known only by its nsid: the kernel dumps its links and addresses alone. */
		if (rt->shared && next == T_ROUTE)
			next = _T_MAX;
		if (next == T_NEIGH && !rt->want_neigh)
			next++;
	}
	if (next >= _T_MAX) {
		rt->dump_table = -1;
		rt->dump_emit = true;
		if (!rt->resync_pending)
			return;
		rt->resync_pending = false;
		rt->dump_emit = true;
		next = T_LINK;
	}
	r = dump_start(rt, next);
	if (r < 0)
		log_err("%s: dump request: %s", rt->who, strerror(-r));
}

static void rtnl_overrun(void *data)
{
	struct rtnl *rt = data;
	int r;

	rt->stats.drops++;
	rt->stats.resyncs++;
	log_warn("%s: receive buffer overrun (ENOBUFS), resyncing state", rt->who);
	raise_self(rt, NLH_EV_NLHOOK_RESYNC, rt->stats.drops);
	if (rt->dump_table >= 0) {
		rt->resync_pending = true;
		return;
	}
	rt->dump_emit = true;
	r = dump_start(rt, T_LINK);
	if (r < 0)
		log_err("%s: dump request: %s", rt->who, strerror(-r));
}

static void rtnl_batch(void *data, const void *buf, size_t len, int32_t nsid)
{
	struct rtnl *rt = data;
	uint32_t portid = nlsock_portid(rt->sock ?: rt->shared);
	const struct nlmsghdr *nlh;
	size_t left;

	nlh_msg_for_each(nlh, buf, len, left) {
		bool reply = nlh->nlmsg_pid == portid && nlh->nlmsg_seq == rt->dump_seq && rt->dump_table >= 0;

		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR && reply)
			rt->dump_intr = true;
		switch (nlh->nlmsg_type) {
		case NLMSG_DONE:
			if (reply)
				dump_next(rt);
			continue;
		case NLMSG_ERROR:
			if (reply) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*e)) && e->error)
					log_warn("%s: dump: %s", rt->who, strerror(-e->error));
				dump_next(rt);
			}
			continue;
		case NLMSG_NOOP:
		case NLMSG_OVERRUN:
			continue;
		}
		/* Replies of an initial dump set state without raising events. */
		msg_notify(rt, nlh, reply ? rt->dump_emit : true);
	}
}

static const struct nlsock_ops rtnl_sock_ops = {
	.batch = rtnl_batch,
	.overrun = rtnl_overrun,
};

static bool wants_neigh(const struct nlh_want *want)
{
	return want->types & (NLH_TYPE_BIT(NLH_EV_NEIGH_ADD) | NLH_TYPE_BIT(NLH_EV_NEIGH_DEL));
}

static void *rtnl_new(const struct nlh_source_env *env)
{
	struct rtnl *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return NULL;
	rt->env = *env;
	rt->dump_table = -1;
	rt->dump_emit = true;
	if ((env->netns ? asprintf(&rt->who, "rtnl in %s", env->netns) : asprintf(&rt->who, "rtnl")) < 0) {
		free(rt);
		return NULL;
	}
	return rt;
}

/*
 * The socket, subscribed before the dump so that nothing falls between
 * them; the start-up dump is waited for (the only wait: rules start with
 * the state known), and sets state without raising events.
 */
static int rtnl_open(struct rtnl *rt, const struct nlh_want *want)
{
	static const unsigned int groups[] = {
		RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
		RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE,
	};
	const struct nlsock_config cfg = {
		.protocol = NETLINK_ROUTE, .netns_fd = rt->env.netns_fd, .fd = -1, .who = rt->who,
	};
	int r;

	r = nlsock_open(&rt->sock, &cfg, &rtnl_sock_ops, rt);
	if (r < 0)
		return r;
	rt->stats.rcvbuf = nlsock_rcvbuf(rt->sock);
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if ((r = nlsock_join(rt->sock, groups[i], true)) < 0)
			goto fail;
	rt->want_neigh = wants_neigh(want);
	if (rt->want_neigh && (r = nlsock_join(rt->sock, RTNLGRP_NEIGH, true)) < 0)
		goto fail;
	rt->dump_emit = false;
	if ((r = dump_start(rt, T_LINK)) < 0)
		goto fail;
	/* A namespace that appears later is dumped from the loop, with live events in kernel order. */
	while (!rt->env.late && rt->dump_table >= 0) {
		if ((r = nlsock_wait(rt->sock, 10000)) < 0 || (r = nlsock_drain(rt->sock, 1024)) < 0)
			goto fail;
	}
	if (!rt->env.late)
		rt->dump_emit = true;
	return 0;
fail:
	nlsock_free(rt->sock);
	rt->sock = NULL;
	return r;
}

static int rtnl_update(void *inst, const struct nlh_want *want)
{
	struct rtnl *rt = inst;
	bool w = wants_neigh(want);

	/* Fed: what it hears is the shared socket's business. */
	if (rt->shared) {
		rt->want_neigh = w;
		return 0;
	}
	/* rtnl always runs: the other sources and nlhook.links() need its state. */
	if (!rt->sock)
		return rtnl_open(rt, want);
	if (w == rt->want_neigh)
		return 0;
	rt->want_neigh = w;
	if (!w)
		table_clear(&rt->tables[T_NEIGH]);
	return nlsock_join(rt->sock, RTNLGRP_NEIGH, w);
}

static void rtnl_free(void *inst)
{
	struct rtnl *rt = inst;

	if (!rt)
		return;
	nlsock_free(rt->sock);
	for (int i = 0; i < _T_MAX; i++)
		table_clear(&rt->tables[i]);
	free(rt->who);
	free(rt);
}

static void rtnl_stats(const void *inst, struct nlh_source_stats *ret)
{
	const struct rtnl *rt = inst;

	*ret = rt->stats;
}

struct rtnl *rtnl_fed_new(const struct nlh_source_env *env, struct nlsock *shared, int32_t nsid)
{
	struct rtnl *rt = rtnl_new(env);
	int r;

	if (!rt)
		return NULL;
	rt->shared = shared;
	rt->target_nsid = nsid;
	/* Sequence numbers of its own on the shared socket: replies find their instance. */
	rt->dump_seq = (uint32_t)nsid << 20;
	rt->dump_emit = false;
	r = dump_start(rt, T_LINK);
	if (r < 0)
		log_warn("%s: cannot dump its links: %s", rt->who, strerror(-r));
	return rt;
}

bool rtnl_fed_reply(const struct rtnl *rt, const struct nlmsghdr *nlh)
{
	return rt->dump_table >= 0 && nlh->nlmsg_seq == rt->dump_seq &&
	       nlh->nlmsg_pid == nlsock_portid(rt->shared);
}

void rtnl_fed_batch(struct rtnl *rt, const void *buf, size_t len)
{
	rtnl_batch(rt, buf, len, rt->target_nsid);
}

void rtnl_fed_overrun(struct rtnl *rt)
{
	rtnl_overrun(rt);
}

/* Replays: no socket; dump replies (NLM_F_MULTI, the links a capture starts with) set state silently. */
struct rtnl *rtnl_replay_new(const struct nlh_source_env *env)
{
	struct rtnl *rt = rtnl_new(env);

	if (rt)
		rt->want_neigh = true;
	return rt;
}

void rtnl_replay_msg(struct rtnl *rt, const struct nlmsghdr *nlh)
{
	msg_notify(rt, nlh, !(nlh->nlmsg_flags & NLM_F_MULTI));
}

void rtnl_replay_free(struct rtnl *rt)
{
	rtnl_free(rt);
}

const struct nlh_source_ops rtnl_source = {
	.name = "rtnl",
	.new = rtnl_new,
	.update = rtnl_update,
	.free = rtnl_free,
	.stats = rtnl_stats,
};
