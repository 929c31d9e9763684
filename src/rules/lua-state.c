/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "rtnl/rtnl.h"
#include "rules-internal.h"

/* nlhook.links(), addrs(), routes(): snapshots of the state the daemon keeps. */

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
 * The one optional filter table: netns names the namespace (default: the
 * event's, then the daemon's own); routes also take table, dst (routes
 * inside that prefix, as in a rule's pattern) and ifname.  Strings stay
 * in the filter table, which stays on the stack.
 */
static const char *filter_parse(lua_State *L, const char *what, struct rtnl_route_filter *rf)
{
	const char *keys = rf ? "netns, table, dst, ifname" : "netns";
	struct rules_file *f = rules_file_of(L);
	const char *netns = f->cur_ev ? f->cur_ev->netns : NULL;

	if (lua_isnoneornil(L, 1))
		return netns;
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, 1)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

		if (strcmp(k, "netns") && (!rf || (strcmp(k, "table") && strcmp(k, "dst") && strcmp(k, "ifname"))))
			luaL_error(L, "%s: unknown filter key '%s' (%s)", what, k, keys);
		if (strcmp(k, "netns")) {
			route_filter(L, what, k, rf);
		} else {
			if (lua_type(L, -1) != LUA_TSTRING)
				luaL_error(L, "%s: netns must be a namespace's name", what);
			netns = lua_tostring(L, -1);
		}
		lua_pop(L, 1);
	}
	/* The daemon's own namespace by its name is the daemon's own. */
	if (netns && rules_netns && !strcmp(netns, rules_netns))
		netns = NULL;
	return netns;
}

/*
 * Copied first, into memory of the Lua state (counted against its cap
 * and collected with it): no Lua error may unwind through the rtnl
 * iteration.
 */
static int push_state(lua_State *L, enum nlh_class c, const char *what)
{
	struct rtnl_route_filter rf = {};
	bool routes = c == NLH_CLASS_ROUTE;
	const char *netns = filter_parse(L, what, routes ? &rf : NULL);
	const struct rtnl *rt = state_fn ? state_fn(netns, state_data) : NULL;
	struct state_list s = {};
	int r;

	if (netns && !rt)
		return luaL_error(L, "%s: no watched network namespace '%s'", what, netns);
	if (rt && routes) {
		rules_watchdog_hold();
		r = rtnl_routes_keep(rt);
		rules_watchdog_release();
		if (r < 0)
			return luaL_error(L, "%s: cannot read the routes: %s", what, strerror(-r));
		s.max = rtnl_routes_match(rt, &rf, NULL, NULL);
		if (s.max > ROUTES_MAX)
			return luaL_error(L, "%s: %I routes match, more than the %d one call returns: "
					  "narrow it with table, dst or ifname", what, (lua_Integer)s.max, ROUTES_MAX);
	} else if (rt) {
		s.max = rtnl_state_count(rt, c);
	}
	s.evs = lua_newuserdatauv(L, (s.max ? s.max : 1) * sizeof(*s.evs), 0);
	if (rt && routes)
		rtnl_routes_match(rt, &rf, state_collect, &s);
	else if (rt)
		rtnl_state_foreach(rt, c, state_collect, &s);
	lua_createtable(L, s.n, 0);
	for (size_t i = 0; i < s.n; i++) {
		s.evs[i].netns = netns;
		rules_push_event(L, &s.evs[i]);
		/* A state entry is not an event: it has the fields, not a type. */
		lua_pushnil(L);
		lua_setfield(L, -2, "type");
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
