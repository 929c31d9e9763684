/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/nlmsg.h"
#include "core/nlsock.h"
#include "routes.h"
#include "rtnl-parse.h"
#include "rtnl.h"

/*
 * The last-seen state: links, addresses, neighbours, each in a hash table
 * keyed by what the kernel uses as identity, and routes in a compact table
 * of their own (routes.h) while something needs them.  Dump replies and
 * multicast messages go through one handler; an event is raised when an
 * object is new, changed or gone, so a message that changes nothing we show
 * (IPv6 DAD finishing, a link message about statistics) raises nothing.
 */

/* In dump order; tables[T_ROUTE] stays empty: routes are in struct rtnl's routes. */
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
	/*
	 * NULL while nothing needs routes: kept for rules and monitors that
	 * want route or net events, or from the first nlhook.routes() on.
	 */
	struct rtnl_routes *routes;
	bool routes_asked;
	/*
	 * The hops of the IPv4 multipath routes, by their ref: the kernel
	 * drops such a route without a word when every hop's link is down,
	 * or when one hop's link goes away; not while a hop's link is up.
	 */
	struct mphops *mp;
	size_t mp_size;		/* a power of two, or 0 */
	size_t mp_count;
	struct nlh_source_stats stats;
};

struct mphops {
	uint32_t ref;		/* RTNL_ROUTE_NONE: empty */
	uint8_t n;
	uint32_t ifindex[NLH_ROUTE_HOPS];
};

static size_t mp_home(const struct rtnl *rt, uint32_t ref)
{
	return (ref * 2654435761u) & (rt->mp_size - 1);
}

static struct mphops *mp_find(const struct rtnl *rt, uint32_t ref)
{
	if (!rt->mp_count)
		return NULL;
	for (size_t i = mp_home(rt, ref);; i = (i + 1) & (rt->mp_size - 1)) {
		if (rt->mp[i].ref == ref)
			return &rt->mp[i];
		if (rt->mp[i].ref == RTNL_ROUTE_NONE)
			return NULL;
	}
}

static int mp_grow(struct rtnl *rt)
{
	size_t size = rt->mp_size ? rt->mp_size * 2 : 16, old_size = rt->mp_size;
	struct mphops *mp = malloc(size * sizeof(*mp)), *old = rt->mp;

	if (!mp)
		return -ENOMEM;
	for (size_t i = 0; i < size; i++)
		mp[i].ref = RTNL_ROUTE_NONE;
	rt->mp = mp;
	rt->mp_size = size;
	for (size_t i = 0; i < old_size; i++) {
		size_t j;

		if (old[i].ref == RTNL_ROUTE_NONE)
			continue;
		for (j = mp_home(rt, old[i].ref); mp[j].ref != RTNL_ROUTE_NONE; j = (j + 1) & (size - 1))
			;
		mp[j] = old[i];
	}
	free(old);
	return 0;
}

static void mp_set(struct rtnl *rt, uint32_t ref, const struct rtnl_hop *hops, size_t n)
{
	struct mphops *e = mp_find(rt, ref);
	size_t i;

	if (!e) {
		if ((rt->mp_count + 1) * 2 > rt->mp_size && mp_grow(rt) < 0) {
			log_warn("%s: out of memory for a multipath route's hops", rt->who);
			return;
		}
		for (i = mp_home(rt, ref); rt->mp[i].ref != RTNL_ROUTE_NONE; i = (i + 1) & (rt->mp_size - 1))
			;
		e = &rt->mp[i];
		e->ref = ref;
		rt->mp_count++;
	}
	e->n = n < NLH_ROUTE_HOPS ? n : NLH_ROUTE_HOPS;
	for (i = 0; i < e->n; i++)
		e->ifindex[i] = hops[i].ifindex;
}

/* Gone, with a backward shift: every entry stays reachable from its home slot. */
static void mp_del(struct rtnl *rt, uint32_t ref)
{
	struct mphops *e = mp_find(rt, ref);
	size_t mask = rt->mp_size - 1, i, j;

	if (!e)
		return;
	i = e - rt->mp;
	for (j = (i + 1) & mask; rt->mp[j].ref != RTNL_ROUTE_NONE; j = (j + 1) & mask) {
		size_t h = mp_home(rt, rt->mp[j].ref);

		/* Moves to the hole unless its home lies cyclically in (i, j]. */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		rt->mp[i] = rt->mp[j];
		i = j;
	}
	rt->mp[i].ref = RTNL_ROUTE_NONE;
	rt->mp_count--;
}

/* The route table and the hops kept beside it change together. */
static void routes_remove(struct rtnl *rt, rtnl_route_ref ref)
{
	mp_del(rt, ref);
	rtnl_routes_remove(rt->routes, ref);
}

static void routes_free(struct rtnl *rt)
{
	rtnl_routes_free(rt->routes);
	rt->routes = NULL;
	free(rt->mp);
	rt->mp = NULL;
	rt->mp_size = rt->mp_count = 0;
}

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
	static const struct rtnl_route_filter all;
	enum table_id id = _T_MAX;

	switch (c) {
	case NLH_CLASS_LINK: id = T_LINK; break;
	case NLH_CLASS_ADDR: id = T_ADDR; break;
	case NLH_CLASS_ROUTE:
		rtnl_routes_match(rt, &all, cb, data);
		return;
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
	case NLH_CLASS_ROUTE: return rt->routes ? rtnl_routes_count(rt->routes, AF_UNSPEC) : 0;
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
	case NLH_CLASS_NEIGH:
		PUT(ev->neigh.ifindex);
		PUT(ev->neigh.address);
		*klen = p - key;
		return T_NEIGH;
	case NLH_CLASS_LINK:
	case NLH_CLASS_ROUTE:
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

/* A route's event, made when it is raised or read: the table keeps none. */
static void route_event(const struct rtnl *rt, const struct rtnl_route *r, enum nlh_event_type t,
			struct nlh_event *ev)
{
	rtnl_route_event(r, t, ev);
	if (r->ifindex) {
		fill_ifname(rt, ev->route.ifname, r->ifindex);
		if (ev->route.ifname[0])
			NLH_SET(ev, ROUTE, ifname);
	}
}

/*
 * A route gone (with emit, its route.del raised): to the operational
 * states too, which follow default routes.  The event is made only for
 * whoever takes it.
 */
static void route_gone(struct rtnl *rt, const struct rtnl_route *r, bool emit)
{
	struct nlh_event ev;

	if (!emit && !rt->env.obj_changed)
		return;
	route_event(rt, r, NLH_EV_ROUTE_DEL, &ev);
	if (emit)
		raise_event(rt, &ev);
	obj_changed(rt, &ev, NULL, emit);
}

/* A route the kernel dropped without a message: out of the table, and gone for whoever follows it. */
static void route_drop(struct rtnl *rt, rtnl_route_ref ref, bool emit)
{
	struct rtnl_route r;

	rtnl_routes_get(rt->routes, ref, &r);
	routes_remove(rt, ref);
	route_gone(rt, &r, emit);
}

/* A multipath route's other hop whose link is up: the kernel keeps the route. */
static bool mp_alive(const struct rtnl *rt, const struct mphops *e, uint32_t down)
{
	for (size_t i = 0; i < e->n; i++) {
		const struct obj *o = e->ifindex[i] != down ? link_obj(rt, e->ifindex[i]) : NULL;

		if (o && o->ev.link.up)
			return true;
	}
	return false;
}

/*
 * The kernel drops the IPv4 routes through a link that goes down (all but
 * its local routes) or away without a word: no RTM_DELROUTE.  Raise the
 * route.del events ourselves so the state stays true and rules see the
 * default route go.  IPv6 sends its deletions; we get those as messages.
 * The link's own list: a link with no routes costs a lookup, not a scan.
 */
static void flush_ipv4_routes(struct rtnl *rt, uint32_t ifindex, bool keep_local, bool emit)
{
	rtnl_route_ref ref, next, *gone = NULL;
	size_t n_gone = 0;

	if (!rt->routes)
		return;
	for (ref = rtnl_routes_next_if(rt->routes, ifindex, AF_INET, RTNL_ROUTE_NONE); ref != RTNL_ROUTE_NONE;
	     ref = next) {
		struct rtnl_route r;

		next = rtnl_routes_next_if(rt->routes, ifindex, AF_INET, ref);
		if (mp_find(rt, ref))
			continue;	/* below, with the other multipath routes */
		rtnl_routes_get(rt->routes, ref, &r);
		if (keep_local && r.type == RTN_LOCAL)
			continue;
		routes_remove(rt, ref);
		route_gone(rt, &r, emit);
	}
	/*
	 * Multipath routes with a hop through the link: gone with the link,
	 * or when it goes down and no other hop's link is up.
	 */
	if (!rt->mp_count)
		return;
	if (!(gone = malloc(rt->mp_count * sizeof(*gone)))) {
		log_warn("%s: out of memory: the multipath routes through a link that went are kept", rt->who);
		return;
	}
	for (size_t i = 0; i < rt->mp_size; i++) {
		const struct mphops *e = &rt->mp[i];
		bool through = false;

		for (size_t h = 0; e->ref != RTNL_ROUTE_NONE && h < e->n; h++)
			through |= e->ifindex[h] == ifindex;
		if (through && (!keep_local || !mp_alive(rt, e, ifindex)))
			gone[n_gone++] = e->ref;
	}
	for (size_t i = 0; i < n_gone; i++)
		route_drop(rt, gone[i], emit);
	free(gone);
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
	case T_NEIGH:
		ifname = ev->neigh.ifname, ifindex = ev->neigh.ifindex;
		del = ev->type == NLH_EV_NEIGH_DEL;
		break;
	case T_LINK:
	case T_ROUTE:
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

static void malformed(struct rtnl *rt, const struct nlmsghdr *nlh)
{
	rt->stats.errors++;
	log_debug("%s: malformed message type %u, ignoring", rt->who, nlh->nlmsg_type);
}

/* An IPv4 multipath route's hops, in its event for the operational states. */
static void event_hops(struct nlh_event *ev, const struct rtnl_hop *hops, size_t n)
{
	ev->route.n_hops = n < NLH_ROUTE_HOPS ? n : NLH_ROUTE_HOPS;
	for (size_t i = 0; i < ev->route.n_hops; i++) {
		ev->route.hops[i].ifindex = hops[i].ifindex;
		if (hops[i].has_gateway) {
			ev->route.hops[i].gateway.family = AF_INET;
			memcpy(ev->route.hops[i].gateway.a, hops[i].gateway, 4);
		}
	}
}

/* One route (an IPv6 multipath message is one per hop): the table changes, and an event is made if something did. */
static void route_one(struct rtnl *rt, uint16_t type, struct rtnl_route *r, const struct rtnl_hop *hops, size_t n_hops,
		      bool emit)
{
	struct rtnl_route was;
	struct nlh_event cur, old;
	rtnl_route_ref ref;
	bool changed;
	int ret;

	ref = rtnl_routes_find(rt->routes, r);
	if (type == RTM_DELROUTE) {
		if (ref == RTNL_ROUTE_NONE) {
			/* Not known (a table not kept yet): said, nothing to forget. */
			if (emit) {
				route_event(rt, r, NLH_EV_ROUTE_DEL, &cur);
				raise_event(rt, &cur);
			}
			return;
		}
		routes_remove(rt, ref);
		route_gone(rt, r, emit);
		return;
	}
	/* What it was, for the operational states: a replace may move a default route. */
	changed = ref != RTNL_ROUTE_NONE && rt->env.obj_changed;
	if (changed)
		rtnl_routes_get(rt->routes, ref, &was);
	ret = rtnl_routes_put(rt->routes, r);
	/* A route keeps its ref when replaced; its hops follow (gone if it lost them, or failed). */
	if (r->family == AF_INET && n_hops > 1 && ret >= 0)
		mp_set(rt, ref != RTNL_ROUTE_NONE ? ref : rtnl_routes_find(rt->routes, r), hops, n_hops);
	else if (ref != RTNL_ROUTE_NONE)
		mp_del(rt, ref);
	/* The same first hop, other hops: only the states see those. */
	if (ret == RTNL_ROUTE_SAME && !(n_hops > 1 && changed))
		return;
	if (ret < 0)
		log_warn("%s: out of memory for a route: the state lacks it", rt->who);
	if (!emit && !rt->env.obj_changed)
		return;
	route_event(rt, r, NLH_EV_ROUTE_ADD, &cur);
	event_hops(&cur, hops, n_hops);
	if (emit && ret != RTNL_ROUTE_SAME)
		raise_event(rt, &cur);
	if (changed)
		route_event(rt, &was, NLH_EV_ROUTE_ADD, &old);
	obj_changed(rt, changed ? &old : NULL, &cur, emit);
}

/*
 * A route message.  IPv6 keeps a multipath route as one route per hop
 * (each its own device), adds and deletes them so, and sends or dumps
 * them together in RTA_MULTIPATH: one route per hop here too.  IPv4 keeps
 * one route with its hops.
 */
static void route_notify(struct rtnl *rt, const struct nlmsghdr *nlh, bool emit)
{
	struct rtnl_hop hops[256];
	struct rtnl_route r;
	size_t n = 0;
	int ret = rtnl_route_parse(nlh, &r);

	if (ret == -ENODATA)
		return;
	if (ret < 0) {
		malformed(rt, nlh);
		return;
	}
	if (r.multipath)
		n = rtnl_route_hops(nlh, hops, sizeof(hops) / sizeof(hops[0]));
	if (n > sizeof(hops) / sizeof(hops[0]))
		n = sizeof(hops) / sizeof(hops[0]);
	if (r.family != AF_INET6 || n < 2) {
		route_one(rt, nlh->nlmsg_type, &r, hops, n, emit);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct rtnl_route h = r;

		h.ifindex = hops[i].ifindex;
		h.has_ifindex = true;
		h.has_gateway = hops[i].has_gateway;
		memcpy(h.gateway, hops[i].gateway, sizeof(h.gateway));
		route_one(rt, nlh->nlmsg_type, &h, NULL, 0, emit);
	}
}

/* Neighbours are only tracked while something wants them; routes likewise. */
static void msg_notify(struct rtnl *rt, const struct nlmsghdr *nlh, bool emit)
{
	struct nlh_event ev;
	int r;

	if (nlh->nlmsg_type == RTM_NEWROUTE || nlh->nlmsg_type == RTM_DELROUTE) {
		if (rt->routes)
			route_notify(rt, nlh, emit);
		return;
	}
	r = rtnl_parse(nlh, &ev);

	if (r == -ENODATA)
		return;
	if (r < 0) {
		malformed(rt, nlh);
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
	if (table == T_ROUTE && rt->routes)
		rtnl_routes_unmark(rt->routes);
	rt->dump_table = table;
	rt->dump_intr = false;
	r = nlsock_send(rt->sock ?: rt->shared, nlh, nlh->nlmsg_len);
	if (r < 0)
		rt->dump_table = -1;
	return r;
}

static void routes_sweep(struct rtnl *rt)
{
	rtnl_route_ref ref, next;

	if (!rt->routes)
		return;
	for (ref = rtnl_routes_next(rt->routes, RTNL_ROUTE_NONE); ref != RTNL_ROUTE_NONE; ref = next) {
		next = rtnl_routes_next(rt->routes, ref);
		if (!rtnl_routes_marked(rt->routes, ref))
			route_drop(rt, ref, rt->dump_emit);
	}
}

/* After a dump: what was not seen is gone. */
static void dump_sweep(struct rtnl *rt, int table)
{
	struct table *t = &rt->tables[table];

	if (table == T_ROUTE) {
		routes_sweep(rt);
		return;
	}

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
		if (next == T_ROUTE && !rt->routes)
			next++;
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

/* Routes are kept for what needs them: route events, and the net.* states derived from default routes. */
static bool wants_routes(const struct nlh_want *want)
{
	return want->types & (nlh_class_types(NLH_CLASS_ROUTE) | nlh_event_types_glob("net.*"));
}

static int routes_join(struct rtnl *rt, bool on)
{
	int r;

	if ((r = nlsock_join(rt->sock, RTNLGRP_IPV4_ROUTE, on)) < 0 ||
	    (r = nlsock_join(rt->sock, RTNLGRP_IPV6_ROUTE, on)) < 0)
		return r;
	return 0;
}

/* What the kernel says in a dump's last word: 0, or why it stopped. */
static int dump_error(const struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(struct nlmsgerr)))
		return ((const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error;
	if (nlh->nlmsg_type == NLMSG_DONE && nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(int)))
		return *(const int *)mnl_nlmsg_get_payload(nlh);
	return nlh->nlmsg_type == NLMSG_ERROR ? -EBADMSG : 0;
}

#define ROUTES_DUMP_BUF (64 * 1024)
/* Silence for that long: the dump is given up (a long table is fine while it comes). */
#define ROUTES_DUMP_SECONDS 5

/* One route dump on fd into the table, silently; *intr when the kernel says it may be inconsistent. */
static int routes_dump_once(struct rtnl *rt, int fd, uint32_t seq, char *buf, bool *intr)
{
	char req[64] __attribute__((aligned(8))) = {};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	double deadline = loop_now() + ROUTES_DUMP_SECONDS;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg));
	if (sendto(fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	*intr = false;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int ms = (int)((deadline - loop_now()) * 1000);
		const struct nlmsghdr *m;
		size_t left;
		ssize_t len;

		if (ms <= 0)
			return -ETIMEDOUT;
		/* The watchdog's SIGALRM interrupts the wait: wait again. */
		if (poll(&p, 1, ms) < 0 && errno != EINTR)
			return -errno;
		len = recv(fd, buf, ROUTES_DUMP_BUF, MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		deadline = loop_now() + ROUTES_DUMP_SECONDS;
		nlh_msg_for_each(m, buf, (size_t)len, left) {
			if (m->nlmsg_seq != seq)
				continue;
			if (m->nlmsg_flags & NLM_F_DUMP_INTR)
				*intr = true;
			if (m->nlmsg_type == NLMSG_DONE || m->nlmsg_type == NLMSG_ERROR)
				return dump_error(m);
			route_notify(rt, m, false);
		}
	}
}

/*
 * The routes as they are now, on a socket of its own, waited for: the
 * first nlhook.routes() answers with them, and rules that come to want
 * routes start with them known, as at start-up.  The live socket joined
 * the route groups first, so what changes meanwhile is queued there and
 * applies on top once the loop reads it.
 */
static int routes_dump(struct rtnl *rt)
{
	char *buf = NULL;
	int fd, r;
	bool intr = true;

	fd = nlsock_socket(rt->env.netns_fd, NETLINK_ROUTE);
	if (fd < 0)
		return fd;
	buf = aligned_alloc(8, ROUTES_DUMP_BUF);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	/* Changed under the dump: again, over what the first one set. */
	for (uint32_t seq = 1; intr && seq <= 3; seq++)
		if ((r = routes_dump_once(rt, fd, seq, buf, &intr)) < 0)
			break;
out:
	free(buf);
	close(fd);
	return r;
}

static void routes_stop(struct rtnl *rt)
{
	rtnl_route_ref ref;

	if (rt->sock)
		routes_join(rt, false);
	/* No longer followed: whoever derives from them forgets them, quietly. */
	for (ref = rt->env.obj_changed ? rtnl_routes_next(rt->routes, RTNL_ROUTE_NONE) : RTNL_ROUTE_NONE;
	     ref != RTNL_ROUTE_NONE; ref = rtnl_routes_next(rt->routes, ref)) {
		struct rtnl_route r;
		struct nlh_event ev;

		rtnl_routes_get(rt->routes, ref, &r);
		route_event(rt, &r, NLH_EV_ROUTE_DEL, &ev);
		obj_changed(rt, &ev, NULL, false);
	}
	routes_free(rt);
}

/* Keep routes from now on: an empty table, filled by the live groups and one dump. */
static int routes_start(struct rtnl *rt)
{
	int r;

	if (rt->routes)
		return 0;
	rt->routes = rtnl_routes_new();
	if (!rt->routes)
		return -ENOMEM;
	/* Fed instances hear routes as the shared socket's events only. */
	if (!rt->sock)
		return 0;
	if ((r = routes_join(rt, true)) < 0 || (r = routes_dump(rt)) < 0) {
		log_err("%s: cannot read the routes: %s", rt->who, strerror(-r));
		routes_stop(rt);
	}
	return r;
}

static int routes_want(struct rtnl *rt, bool wanted)
{
	if (wanted)
		return routes_start(rt);
	if (rt->routes && !rt->routes_asked)
		routes_stop(rt);
	return 0;
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
	static const unsigned int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR };
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
	/* Routes in the start-up dump, when something needs them. */
	if (wants_routes(want)) {
		if (!rt->routes && !(rt->routes = rtnl_routes_new())) {
			r = -ENOMEM;
			goto fail;
		}
		if ((r = routes_join(rt, true)) < 0)
			goto fail;
	}
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
	routes_free(rt);
	return r;
}

static int rtnl_update(void *inst, const struct nlh_want *want)
{
	struct rtnl *rt = inst;
	bool w = wants_neigh(want);
	int r;

	/* rtnl always runs: the other sources and nlhook.links() need its state. */
	if (!rt->sock && !rt->shared)
		return rtnl_open(rt, want);
	r = routes_want(rt, wants_routes(want));
	/* Fed: what it hears is the shared socket's business. */
	if (rt->shared || w == rt->want_neigh) {
		rt->want_neigh = w;
		return r;
	}
	rt->want_neigh = w;
	if (!w)
		table_clear(&rt->tables[T_NEIGH]);
	return nlsock_join(rt->sock, RTNLGRP_NEIGH, w) ?: r;
}

static void rtnl_free(void *inst)
{
	struct rtnl *rt = inst;

	if (!rt)
		return;
	nlsock_free(rt->sock);
	for (int i = 0; i < _T_MAX; i++)
		table_clear(&rt->tables[i]);
	routes_free(rt);
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

	if (!rt)
		return NULL;
	rt->want_neigh = true;
	rt->routes = rtnl_routes_new();
	if (!rt->routes) {
		rtnl_free(rt);
		return NULL;
	}
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

/* nlhook.routes() */

static uint32_t link_index(const struct rtnl *rt, const char *ifname)
{
	const struct table *t = &rt->tables[T_LINK];

	for (size_t i = 0; i < t->n_buckets; i++)
		for (const struct obj *o = t->buckets[i]; o; o = o->next)
			if (!strcmp(o->ev.link.ifname, ifname))
				return o->ev.link.ifindex;
	return 0;
}

static bool route_match(const struct rtnl *rt, rtnl_route_ref ref, const struct rtnl_route_filter *f,
			void (*cb)(const struct nlh_event *ev, void *data), void *data)
{
	struct rtnl_route r;
	struct nlh_event ev;

	rtnl_routes_get(rt->routes, ref, &r);
	if (f->by_table && r.table != f->table)
		return false;
	if (f->by_dst) {
		struct nlh_addr a = { .family = r.family, .plen = r.dst_len };

		memcpy(a.a, r.dst, sizeof(a.a));
		if (!nlh_addr_in_prefix(&a, &f->dst))
			return false;
	}
	if (cb) {
		route_event(rt, &r, NLH_EV_ROUTE_ADD, &ev);
		cb(&ev, data);
	}
	return true;
}

size_t rtnl_routes_match(const struct rtnl *rt, const struct rtnl_route_filter *f,
			 void (*cb)(const struct nlh_event *ev, void *data), void *data)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	rtnl_route_ref ref;
	uint32_t ifindex;
	size_t n = 0;

	if (!rt->routes)
		return 0;
	if (!f->ifname) {
		for (ref = rtnl_routes_next(rt->routes, RTNL_ROUTE_NONE); ref != RTNL_ROUTE_NONE;
		     ref = rtnl_routes_next(rt->routes, ref))
			n += route_match(rt, ref, f, cb, data);
		return n;
	}
	/* A device: its lists, not every route. */
	ifindex = link_index(rt, f->ifname);
	if (!ifindex)
		return 0;
	for (size_t i = 0; i < sizeof(families); i++)
		for (ref = rtnl_routes_next_if(rt->routes, ifindex, families[i], RTNL_ROUTE_NONE);
		     ref != RTNL_ROUTE_NONE; ref = rtnl_routes_next_if(rt->routes, ifindex, families[i], ref))
			n += route_match(rt, ref, f, cb, data);
	return n;
}

int rtnl_routes_keep(const struct rtnl *crt)
{
	/* The state is the instance's own: a reader that needs routes makes it keep them. */
	struct rtnl *rt = (struct rtnl *)crt;
	int r = routes_start(rt);

	if (r >= 0)
		rt->routes_asked = true;
	return r;
}

void rtnl_routes_stats(const struct rtnl *rt, struct rtnl_routes_stats *ret)
{
	*ret = (struct rtnl_routes_stats){ .kept = rt->routes };
	if (!rt->routes)
		return;
	ret->inet = rtnl_routes_count(rt->routes, AF_INET);
	ret->inet6 = rtnl_routes_count(rt->routes, AF_INET6);
	ret->bytes = rtnl_routes_bytes(rt->routes);
}
