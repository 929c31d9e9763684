/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "nl80211/nl80211.h"
#include "rtnl/opstate.h"
#include "rtnl/rtnl.h"
#include "rules-internal.h"

/*
 * nlhook.links(), addrs(), routes(), stations(): snapshots of the state
 * the daemon keeps, in the event's namespace or the one a filter names.
 */

const char *rules_netns;
static rules_state_fn state_fn;
static void *state_data;
static rules_netns_fn netns_fn;
static void *netns_data;

void rules_set_netns_source(rules_netns_fn fn, void *data)
{
	netns_fn = fn;
	netns_data = data;
}

int rules_netns_fd(const char *netns)
{
	return netns_fn ? netns_fn(netns, netns_data) : -1;
}

void rules_set_state_source(rules_state_fn fn, void *data)
{
	state_fn = fn;
	state_data = data;
}

/*
 * The most routes one nlhook.routes() call returns: their tables take
 * about 700 bytes each of the file's capped Lua memory.  A call that
 * would return more fails with the count, never a part of them.
 */
#define ROUTES_MAX 10000

/* What a call's filter may hold besides netns. */
enum filter_kind {
	FILTER_NETNS,		/* links(), addrs() */
	FILTER_ROUTES,		/* table, dst, ifname */
	FILTER_STATIONS,	/* ifname, or the argument an interface's name */
};

struct state_filter {
	const char *netns;	/* NULL: the daemon's own */
	const char *ifname;	/* stations() */
	struct rtnl_route_filter route;
};

/* A route filter's key at the top of the stack, its name k. */
static void route_filter(lua_State *L, const char *what, const char *k, struct rtnl_route_filter *f)
{
	if (!strcmp(k, "table")) {
		lua_Integer t = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;

		if (t < 0 || t > UINT32_MAX)
			luaL_error(L, "%s: table must be a routing table's number (0..%I)", what,
				   (lua_Integer)UINT32_MAX);
		f->by_table = true;
		f->table = (uint32_t)t;
	} else if (!strcmp(k, "dst")) {
		if (lua_type(L, -1) != LUA_TSTRING || nlh_addr_parse(lua_tostring(L, -1), &f->dst) < 0)
			luaL_error(L, "%s: dst must be a prefix (10.0.0.0/8, 2001:db8::/32), an address or "
				   "\"default\"", what);
		f->by_dst = true;
	} else {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s: ifname must be an interface's name", what);
		f->ifname = lua_tostring(L, -1);
	}
}

/*
 * The one optional argument, a filter table: netns names the namespace
 * (default: the event's, then the daemon's own); routes also take table,
 * dst (routes inside that prefix, as in a rule's pattern) and ifname,
 * stations ifname, there or as the argument itself.  Strings stay in the
 * filter table, which stays on the stack.
 */
static void filter_of(lua_State *L, const char *what, enum filter_kind kind, struct state_filter *ret)
{
	static const char *const keys[] = {
		[FILTER_NETNS] = "netns", [FILTER_ROUTES] = "netns, table, dst, ifname",
		[FILTER_STATIONS] = "netns, ifname",
	};
	struct rules_file *f = rules_file_of(L);

	*ret = (struct state_filter){ .netns = f->cur_ev ? f->cur_ev->netns : NULL };
	if (kind == FILTER_STATIONS && lua_type(L, 1) == LUA_TSTRING) {
		ret->ifname = lua_tostring(L, 1);
	} else if (!lua_isnoneornil(L, 1)) {
		if (lua_type(L, 1) != LUA_TTABLE)
			luaL_error(L, "%s: the argument must be a filter table%s, not %s", what,
				   kind == FILTER_STATIONS ? " or an interface name" : "", luaL_typename(L, 1));
		lua_pushnil(L);
		while (lua_next(L, 1)) {
			const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

			if (!strcmp(k, "netns")) {
				if (lua_type(L, -1) != LUA_TSTRING)
					luaL_error(L, "%s: netns must be a namespace's name", what);
				ret->netns = lua_tostring(L, -1);
			} else if (kind == FILTER_ROUTES &&
				   (!strcmp(k, "table") || !strcmp(k, "dst") || !strcmp(k, "ifname"))) {
				route_filter(L, what, k, &ret->route);
			} else if (kind == FILTER_STATIONS && !strcmp(k, "ifname")) {
				if (lua_type(L, -1) != LUA_TSTRING)
					luaL_error(L, "%s: ifname must be an interface's name", what);
				ret->ifname = lua_tostring(L, -1);
			} else {
				luaL_error(L, "%s: unknown filter key '%s' (%s)", what, k, keys[kind]);
			}
			lua_pop(L, 1);
		}
	}
	/* The daemon's own namespace by its name is the daemon's own. */
	if (ret->netns && rules_netns && !strcmp(ret->netns, rules_netns))
		ret->netns = NULL;
}

static struct rules_state state_of(lua_State *L, const char *what, const struct state_filter *flt)
{
	struct rules_state st = {};

	if (state_fn)
		state_fn(flt->netns, state_data, &st);
	if (flt->netns && !st.rtnl)
		luaL_error(L, "%s: no watched network namespace '%s'", what, flt->netns);
	return st;
}

struct state_list {
	struct nlh_event *evs;
	size_t n, max;
};

static void state_collect(const struct nlh_event *ev, void *data)
{
	struct state_list *s = data;

	if (s->n < s->max)
		s->evs[s->n++] = *ev;
}

/* A state entry is not an event: it has the fields and its namespace, not a type. */
static void push_entry(lua_State *L, struct nlh_event *ev, const char *netns)
{
	ev->netns = netns;
	rules_push_event(L, ev);
	lua_pushnil(L);
	lua_setfield(L, -2, "type");
}

/*
 * Copied first, into memory of the Lua state (counted against its cap
 * and collected with it): no Lua error may unwind through the rtnl
 * iteration.
 */
static int push_state(lua_State *L, enum nlh_class c, const char *what)
{
	bool routes = c == NLH_CLASS_ROUTE;
	struct state_filter flt;
	struct rules_state st;
	struct state_list s = {};
	const char *iftype;
	int r;

	filter_of(L, what, routes ? FILTER_ROUTES : FILTER_NETNS, &flt);
	st = state_of(L, what, &flt);
	if (st.rtnl && routes) {
		rules_watchdog_hold();
		r = rtnl_routes_keep(st.rtnl);
		rules_watchdog_release();
		if (r < 0)
			return luaL_error(L, "%s: cannot read the routes: %s", what, strerror(-r));
		s.max = rtnl_routes_match(st.rtnl, &flt.route, NULL, NULL);
		if (s.max > ROUTES_MAX)
			return luaL_error(L, "%s: %I routes match, more than the %d one call returns: "
					  "narrow it with table, dst or ifname", what, (lua_Integer)s.max, ROUTES_MAX);
	} else if (st.rtnl) {
		s.max = rtnl_state_count(st.rtnl, c);
	}
	s.evs = lua_newuserdatauv(L, (s.max ? s.max : 1) * sizeof(*s.evs), 0);
	if (st.rtnl && routes)
		rtnl_routes_match(st.rtnl, &flt.route, state_collect, &s);
	else if (st.rtnl)
		rtnl_state_foreach(st.rtnl, c, state_collect, &s);
	lua_createtable(L, s.n, 0);
	for (size_t i = 0; i < s.n; i++) {
		/* A link's operational state, from the namespace's opstate. */
		const char *state = c == NLH_CLASS_LINK && st.opstate ?
			opstate_link(st.opstate, s.evs[i].link.ifindex) : NULL;

		if (state) {
			nlh_strlcpy(s.evs[i].link.state, state, sizeof(s.evs[i].link.state));
			NLH_SET(&s.evs[i], LINK, state);
		}
		push_entry(L, &s.evs[i], flt.netns);
		/* A wifi link's mode, from nl80211: rtnetlink does not say it. */
		if (c == NLH_CLASS_LINK && st.nl80211 && (iftype = nl80211_iftype(st.nl80211, s.evs[i].link.ifindex))) {
			lua_pushstring(L, iftype);
			lua_setfield(L, -2, "iftype");
		}
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

int rules_api_links(lua_State *L)
{
	return push_state(L, NLH_CLASS_LINK, "nlhook.links");
}

int rules_api_addrs(lua_State *L)
{
	return push_state(L, NLH_CLASS_ADDR, "nlhook.addrs");
}

int rules_api_routes(lua_State *L)
{
	return push_state(L, NLH_CLASS_ROUTE, "nlhook.routes");
}

/* nlhook.stations([ifname | filter]): the stations associated with this host's access points now. */
int rules_api_stations(lua_State *L)
{
	struct state_filter flt;
	struct rules_state st;
	struct nlh_event *evs;
	size_t n = 0, k = 0;

	filter_of(L, "nlhook.stations", FILTER_STATIONS, &flt);
	st = state_of(L, "nlhook.stations", &flt);
	if (st.nl80211 && !nl80211_stations_kept(st.nl80211))
		return luaL_error(L, "nlhook.stations: the stations are followed only while a rule wants "
				     "wifi.station.new or wifi.station.del events");
	if (st.nl80211)
		n = nl80211_station_count(st.nl80211);
	evs = lua_newuserdatauv(L, (n ? n : 1) * sizeof(*evs), 0);
	if (st.nl80211)
		n = nl80211_stations_get(st.nl80211, evs, n);
	lua_createtable(L, n, 0);
	for (size_t i = 0; i < n; i++) {
		if (flt.ifname && (!NLH_HAS(&evs[i], WIFI, ifname) || strcmp(evs[i].wifi.ifname, flt.ifname)))
			continue;
		push_entry(L, &evs[i], flt.netns);
		lua_rawseti(L, -2, ++k);
	}
	return 1;
}
