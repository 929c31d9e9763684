/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "opstate.h"

static const char *const names[_OPSTATE_MAX] = {
	[OPSTATE_OFF] = "off",
	[OPSTATE_NO_CARRIER] = "no-carrier",
	[OPSTATE_DORMANT] = "dormant",
	[OPSTATE_DEGRADED_CARRIER] = "degraded-carrier",
	[OPSTATE_CARRIER] = "carrier",
	[OPSTATE_DEGRADED] = "degraded",
	[OPSTATE_ENSLAVED] = "enslaved",
	[OPSTATE_ROUTABLE] = "routable",
};

const char *opstate_name(enum opstate_state s)
{
	return (unsigned int)s < _OPSTATE_MAX ? names[s] : "off";
}

int opstate_from_name(const char *s)
{
	for (int i = 0; i < _OPSTATE_MAX; i++)
		if (!strcmp(names[i], s))
			return i;
	return -ENOENT;
}

/* The pure part */

static const char *kernel_operstate(const struct nlh_event *link)
{
	return NLH_HAS(link, LINK, operstate) ? link->link.operstate : "unknown";
}

/* The kernel's operstates.txt: a driver that does not set operstate leaves it unknown; the flags tell. */
static bool has_carrier(const struct nlh_event *link)
{
	const char *o = kernel_operstate(link);
	uint32_t f = link->link.flags;

	if (!strcmp(o, "up"))
		return true;
	if (strcmp(o, "unknown"))
		return false;
	return (f & (IFF_LOWER_UP | IFF_RUNNING)) == (IFF_LOWER_UP | IFF_RUNNING) && !(f & IFF_DORMANT);
}

static uint32_t master_index(const struct nlh_event *link)
{
	return link->link.master_index != link->link.ifindex ? link->link.master_index : 0;
}

enum opstate_state opstate_carrier(const struct nlh_event *link)
{
	if (!strcmp(kernel_operstate(link), "dormant"))
		return OPSTATE_DORMANT;
	if (has_carrier(link))
		return (link->link.flags & IFF_SLAVE) || master_index(link) ? OPSTATE_ENSLAVED : OPSTATE_CARRIER;
	return link->link.flags & IFF_UP ? OPSTATE_NO_CARRIER : OPSTATE_OFF;
}

enum opstate_state opstate_combine(enum opstate_state carrier, unsigned int best_scope)
{
	bool routable = best_scope < RT_SCOPE_SITE, degraded = best_scope < RT_SCOPE_HOST;

	/* A master with a port down still routes. */
	if (carrier == OPSTATE_DEGRADED_CARRIER && degraded)
		return routable ? OPSTATE_ROUTABLE : OPSTATE_DEGRADED;
	if (carrier < OPSTATE_CARRIER || !degraded)
		return carrier;
	if (routable)
		return OPSTATE_ROUTABLE;
	/* A port keeps saying so whatever link-local address it has. */
	return carrier == OPSTATE_CARRIER ? OPSTATE_DEGRADED : OPSTATE_ENSLAVED;
}

unsigned int opstate_addr_scope(const struct nlh_event *addr)
{
	static const struct {
		const char *name;
		unsigned int scope;
	} scopes[] = {
		{ "global", RT_SCOPE_UNIVERSE }, { "site", RT_SCOPE_SITE }, { "link", RT_SCOPE_LINK },
		{ "host", RT_SCOPE_HOST }, { "nowhere", RT_SCOPE_NOWHERE },
	};
	const char *s = addr->addr.scope;
	char *end;
	unsigned long v;

	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
		if (!strcmp(scopes[i].name, s))
			return scopes[i].scope;
	/* The parser names the kernel's other scopes by number. */
	v = strtoul(s, &end, 10);
	return end != s && !*end && v <= RT_SCOPE_NOWHERE ? v : RT_SCOPE_NOWHERE;
}

/* The states of one namespace */

struct oplink {
	struct nlh_event link;		/* the last record; only ifindex in a placeholder */
	bool present;			/* a record came: not a placeholder made by an address or a port */
	bool known;			/* state computed while present */
	unsigned int n_routable;	/* ready addresses of scope below site */
	unsigned int n_degraded;	/* ready addresses of link or site scope */
	unsigned int n_ports;		/* links whose master it is: who to look at for degraded-carrier */
	enum opstate_state carrier;
	enum opstate_state state;
	int counted;			/* the state it adds to net.state, -1: none (loopback, placeholder) */
};

struct oproute {
	struct nlh_event ev;
	bool through;			/* its link is routable: it counts for online */
};

struct opstate {
	struct nlh_sink sink;
	struct oplink **links;		/* sorted by ifindex */
	size_t n_links, max_links;
	struct oproute *routes;		/* default routes of the main table, in arrival order */
	size_t n_routes, max_routes;
	unsigned int n_in_state[_OPSTATE_MAX];
	enum opstate_state net;
	bool online;
};

struct opstate *opstate_new(const struct nlh_sink *sink)
{
	struct opstate *os = calloc(1, sizeof(*os));

	if (os)
		os->sink = *sink;
	return os;
}

void opstate_free(struct opstate *os)
{
	if (!os)
		return;
	for (size_t i = 0; i < os->n_links; i++)
		free(os->links[i]);
	free(os->links);
	free(os->routes);
	free(os);
}

static size_t link_pos(const struct opstate *os, uint32_t ifindex)
{
	size_t lo = 0, hi = os->n_links;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (os->links[mid]->link.link.ifindex < ifindex)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct oplink *link_find(const struct opstate *os, uint32_t ifindex)
{
	size_t i = link_pos(os, ifindex);

	return i < os->n_links && os->links[i]->link.link.ifindex == ifindex ? os->links[i] : NULL;
}

static struct oplink *link_add(struct opstate *os, uint32_t ifindex)
{
	size_t i = link_pos(os, ifindex);
	struct oplink *l;

	if (i < os->n_links && os->links[i]->link.link.ifindex == ifindex)
		return os->links[i];
	if (os->n_links == os->max_links) {
		size_t n = os->max_links ? os->max_links * 2 : 16;
		struct oplink **nl = realloc(os->links, n * sizeof(*nl));

		if (!nl)
			return NULL;
		os->links = nl;
		os->max_links = n;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->link.link.ifindex = ifindex;
	l->counted = -1;
	memmove(os->links + i + 1, os->links + i, (os->n_links - i) * sizeof(*os->links));
	os->links[i] = l;
	os->n_links++;
	return l;
}

static void link_remove(struct opstate *os, struct oplink *l)
{
	size_t i = link_pos(os, l->link.link.ifindex);

	memmove(os->links + i, os->links + i + 1, (os->n_links - i - 1) * sizeof(*os->links));
	os->n_links--;
	free(l);
}

/* What net.state is made of: every present link but loopback, by its state. */
static void tally(struct opstate *os, struct oplink *l)
{
	if (l->counted >= 0)
		os->n_in_state[l->counted]--;
	l->counted = l->present && l->known && !(l->link.link.flags & IFF_LOOPBACK) ? (int)l->state : -1;
	if (l->counted >= 0)
		os->n_in_state[l->counted]++;
}

static void deliver(struct opstate *os, struct nlh_event *ev)
{
	os->sink.event(os->sink.data, ev);
}

static void raise_link(struct opstate *os, const struct oplink *l, bool first, enum opstate_state prev)
{
	struct nlh_event ev = l->link;

	ev.type = NLH_EV_LINK_STATE;
	ev.time = nlh_now();
	ev.netns = NULL;
	ev.nsid = -1;
	nlh_strlcpy(ev.link.state, names[l->state], sizeof(ev.link.state));
	NLH_SET(&ev, LINK, state);
	if (!first) {
		nlh_strlcpy(ev.link.prev_state, names[prev], sizeof(ev.link.prev_state));
		NLH_SET(&ev, LINK, prev_state);
	}
	deliver(os, &ev);
}

/* A link's state again, from its record, addresses and ports; link.state when it changed. */
static void refresh(struct opstate *os, struct oplink *l, bool emit, bool first)
{
	enum opstate_state prev = l->state;
	bool had = l->known;

	if (!l->present)
		return;
	l->carrier = opstate_carrier(&l->link);
	if (l->carrier >= OPSTATE_CARRIER && l->n_ports) {
		for (size_t i = 0; i < os->n_links; i++) {
			const struct oplink *p = os->links[i];

			if (p->present && master_index(&p->link) == l->link.link.ifindex && p->carrier < OPSTATE_CARRIER)
				l->carrier = OPSTATE_DEGRADED_CARRIER;
		}
	}
	l->state = opstate_combine(l->carrier, l->n_routable ? RT_SCOPE_UNIVERSE :
				   l->n_degraded ? RT_SCOPE_LINK : RT_SCOPE_NOWHERE);
	l->known = true;
	tally(os, l);
	if (emit && (first || !had || prev != l->state))
		raise_link(os, l, first || !had, prev);
}

static void refresh_index(struct opstate *os, uint32_t ifindex, bool emit)
{
	struct oplink *l = ifindex ? link_find(os, ifindex) : NULL;

	if (l)
		refresh(os, l, emit, false);
}

static void net_update(struct opstate *os, bool emit)
{
	enum opstate_state best = OPSTATE_OFF, prev = os->net;
	struct nlh_event ev;

	for (int s = _OPSTATE_MAX - 1; s > OPSTATE_OFF; s--) {
		if (os->n_in_state[s]) {
			best = s;
			break;
		}
	}
	if (best == prev)
		return;
	os->net = best;
	if (!emit)
		return;
	nlh_event_init(&ev, NLH_EV_NET_STATE);
	nlh_strlcpy(ev.net.state, names[best], sizeof(ev.net.state));
	NLH_SET(&ev, NET, state);
	nlh_strlcpy(ev.net.prev_state, names[prev], sizeof(ev.net.prev_state));
	NLH_SET(&ev, NET, prev_state);
	deliver(os, &ev);
}

static bool link_routable(const struct opstate *os, uint32_t ifindex)
{
	const struct oplink *l = link_find(os, ifindex);

	return l && l->present && l->known && l->state == OPSTATE_ROUTABLE;
}

/*
 * The hop of a route that counts: of a multipath route, the first whose
 * link is routable (or the first, when none is); its ifindex and gateway
 * (family 0: none).
 */
static uint32_t route_hop(const struct opstate *os, const struct nlh_event *route, const struct nlh_addr **gw)
{
	const struct nlh_route *r = &route->route;

	for (size_t i = 0; i < r->n_hops; i++)
		if (link_routable(os, r->hops[i].ifindex)) {
			*gw = &r->hops[i].gateway;
			return r->hops[i].ifindex;
		}
	*gw = NLH_HAS(route, ROUTE, gateway) ? &r->gateway : NULL;
	return r->ifindex;
}

static void raise_online(struct opstate *os, enum nlh_event_type t, const struct nlh_event *route)
{
	struct nlh_event ev;
	const struct oplink *l;
	const struct nlh_addr *gw;

	nlh_event_init(&ev, t);
	if (route) {
		nlh_strlcpy(ev.net.family, route->route.family, sizeof(ev.net.family));
		NLH_SET(&ev, NET, family);
		ev.net.ifindex = route_hop(os, route, &gw);
		NLH_SET(&ev, NET, ifindex);
		l = link_find(os, ev.net.ifindex);
		if (l && NLH_HAS(&l->link, LINK, ifname)) {
			nlh_strlcpy(ev.net.ifname, l->link.link.ifname, sizeof(ev.net.ifname));
			NLH_SET(&ev, NET, ifname);
		}
		if (gw && gw->family) {
			ev.net.gateway = *gw;
			NLH_SET(&ev, NET, gateway);
		}
	}
	deliver(os, &ev);
}

/* A default route counts while one of its hops goes through a routable link. */
static bool route_through(const struct opstate *os, const struct nlh_event *route)
{
	const struct nlh_addr *gw;

	return link_routable(os, route_hop(os, route, &gw));
}

/*
 * Online while some default route goes through a routable link.  The
 * route that made the change: the first that counts now (online), or
 * the one that stopped counting (offline), lost when it was removed.
 */
static void online_update(struct opstate *os, const struct nlh_event *lost, bool emit)
{
	const struct nlh_event *first = NULL;
	bool online;

	for (size_t i = 0; i < os->n_routes; i++) {
		struct oproute *r = &os->routes[i];
		bool t = route_through(os, &r->ev);

		if (r->through && !t && !lost)
			lost = &r->ev;
		r->through = t;
		if (t && !first)
			first = &r->ev;
	}
	online = first != NULL;
	if (online == os->online)
		return;
	os->online = online;
	if (emit)
		raise_online(os, online ? NLH_EV_NET_ONLINE : NLH_EV_NET_OFFLINE, online ? first : lost);
}

static void link_update(struct opstate *os, const struct nlh_event *old, const struct nlh_event *cur, bool emit)
{
	uint32_t ifindex = (cur ? cur : old)->link.ifindex, was_master, now_master;
	struct oplink *l = link_find(os, ifindex), *m;
	bool first;

	was_master = l && l->present ? master_index(&l->link) : 0;
	if (!cur) {
		if (!l)
			return;
		l->present = false;
		tally(os, l);
		link_remove(os, l);
		if (was_master && (m = link_find(os, was_master)) && m->n_ports)
			m->n_ports--;
		refresh_index(os, was_master, emit);
	} else {
		if (!l && !(l = link_add(os, ifindex)))
			return;
		first = !l->present;
		l->link = *cur;
		l->present = true;
		now_master = master_index(cur);
		if (was_master != now_master) {
			if (was_master && (m = link_find(os, was_master)) && m->n_ports)
				m->n_ports--;
			if (now_master && (m = link_add(os, now_master)))
				m->n_ports++;
		}
		refresh(os, l, emit, first);
		/* A port's carrier is its master's concern. */
		if (was_master != now_master)
			refresh_index(os, was_master, emit);
		refresh_index(os, now_master, emit);
	}
	net_update(os, emit);
	online_update(os, NULL, emit);
}

static void addr_count(struct opstate *os, const struct nlh_event *a, int delta)
{
	unsigned int scope = opstate_addr_scope(a), *n;
	struct oplink *l;

	/* DAD not done (or failed): not an address the link can use. */
	if (a->addr.flags & IFA_F_TENTATIVE || scope >= RT_SCOPE_HOST)
		return;
	l = delta > 0 ? link_add(os, a->addr.ifindex) : link_find(os, a->addr.ifindex);
	if (!l)
		return;
	n = scope < RT_SCOPE_SITE ? &l->n_routable : &l->n_degraded;
	if (delta > 0)
		(*n)++;
	else if (*n)
		(*n)--;
}

static void addr_update(struct opstate *os, const struct nlh_event *old, const struct nlh_event *cur, bool emit)
{
	if (old)
		addr_count(os, old, -1);
	if (cur)
		addr_count(os, cur, 1);
	refresh_index(os, (cur ? cur : old)->addr.ifindex, emit);
	net_update(os, emit);
	online_update(os, NULL, emit);
}

static bool is_default(const struct nlh_event *r)
{
	return r->route.dst.plen == 0 && r->route.table == RT_TABLE_MAIN && r->route.ifindex &&
	       !strcmp(r->route.kind, "unicast");
}

static bool same_route(const struct nlh_route *a, const struct nlh_route *b)
{
	return a->dst.family == b->dst.family && a->table == b->table && a->metric == b->metric &&
	       a->ifindex == b->ifindex && !memcmp(&a->gateway, &b->gateway, sizeof(a->gateway));
}

static void route_update(struct opstate *os, const struct nlh_event *old, const struct nlh_event *cur, bool emit)
{
	struct nlh_event gone;
	bool lost = false;

	/* Most routes are not default routes: nothing to do. */
	if (!(old && is_default(old)) && !(cur && is_default(cur)))
		return;
	for (size_t i = 0; old && i < os->n_routes; i++) {
		if (!same_route(&os->routes[i].ev.route, &old->route))
			continue;
		lost = os->routes[i].through;
		gone = os->routes[i].ev;
		memmove(os->routes + i, os->routes + i + 1, (os->n_routes - i - 1) * sizeof(*os->routes));
		os->n_routes--;
		break;
	}
	if (cur && is_default(cur)) {
		if (os->n_routes == os->max_routes) {
			size_t n = os->max_routes ? os->max_routes * 2 : 4;
			struct oproute *nr = realloc(os->routes, n * sizeof(*nr));

			if (nr) {
				os->routes = nr;
				os->max_routes = n;
			}
		}
		if (os->n_routes < os->max_routes)
			os->routes[os->n_routes++] = (struct oproute){ .ev = *cur };
	}
	online_update(os, lost ? &gone : NULL, emit);
}

void opstate_notify(struct opstate *os, const struct nlh_event *old, const struct nlh_event *cur, bool emit)
{
	const struct nlh_event *any = cur ? cur : old;

	if (!os || !any)
		return;
	switch (nlh_event_type_class(any->type)) {
	case NLH_CLASS_LINK:
		link_update(os, old, cur, emit);
		break;
	case NLH_CLASS_ADDR:
		addr_update(os, old, cur, emit);
		break;
	case NLH_CLASS_ROUTE:
		route_update(os, old, cur, emit);
		break;
	case NLH_CLASS_NEIGH:
	case NLH_CLASS_NET:
	case NLH_CLASS_WIFI:
	case NLH_CLASS_NFLOG:
	case NLH_CLASS_SELF:
	case _NLH_CLASS_MAX:
		break;
	}
}

const char *opstate_link(const struct opstate *os, uint32_t ifindex)
{
	const struct oplink *l = os ? link_find(os, ifindex) : NULL;

	return l && l->present && l->known ? names[l->state] : NULL;
}

enum opstate_state opstate_net(const struct opstate *os)
{
	return os->net;
}

bool opstate_online(const struct opstate *os)
{
	return os->online;
}
