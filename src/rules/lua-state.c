/* SPDX-License-Identifier: MIT */
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

/*
 * The one optional filter table: netns names the namespace (default: the
 * event's, then the daemon's own).
 */
static const char *filter_netns(lua_State *L, const char *what)
{
	struct rules_file *f = rules_file_of(L);
	const char *netns = f->cur_ev ? f->cur_ev->netns : NULL;

	if (lua_isnoneornil(L, 1))
		return netns;
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, 1)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

		if (strcmp(k, "netns"))
			luaL_error(L, "%s: unknown filter key '%s' (netns)", what, k);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s: netns must be a namespace's name", what);
		netns = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	/* The daemon's own namespace by its name is the daemon's own. */
	if (netns && rules_netns && !strcmp(netns, rules_netns))
		netns = NULL;
	return netns;
}

static int push_state(lua_State *L, enum nlh_class c, const char *what)
{
	const char *netns = filter_netns(L, what);
	const struct rtnl *rt = state_fn ? state_fn(netns, state_data) : NULL;
	struct state_list s = { .max = rt ? rtnl_state_count(rt, c) : 0 };
	void **box;
	int r;

	if (netns && !rt)
		return luaL_error(L, "%s: no watched network namespace '%s'", what, netns);
	if (rt && c == NLH_CLASS_ROUTE) {
		rules_watchdog_hold();
		r = rtnl_routes_keep(rt);
		rules_watchdog_release();
		if (r < 0)
			return luaL_error(L, "%s: cannot read the routes: %s", what, strerror(-r));
		s.max = rtnl_state_count(rt, c);
	}
	box = rules_box_new(L);

	/*
	 * Copied first: no Lua error may unwind through the rtnl iteration.
	 * Outside the capped heap, so that only the tables count against it.
	 */
	*box = s.evs = malloc((s.max ? s.max : 1) * sizeof(*s.evs));
	if (!s.evs)
		return luaL_error(L, "out of memory");
	if (rt)
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
	free(*box);
	*box = NULL;
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
