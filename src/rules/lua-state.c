/* SPDX-License-Identifier: MIT */
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

struct state_filter {
	const char *netns;	/* NULL: the daemon's own */
	const char *ifname;	/* stations() only */
};

/*
 * The one optional argument: a filter table, whose netns names the
 * namespace (default: the event's, then the daemon's own); stations()
 * also takes ifname, there or as the argument itself.
 */
static void filter_of(lua_State *L, const char *what, bool ifname_ok, struct state_filter *ret)
{
	struct rules_file *f = rules_file_of(L);

	ret->netns = f->cur_ev ? f->cur_ev->netns : NULL;
	ret->ifname = NULL;
	if (ifname_ok && lua_type(L, 1) == LUA_TSTRING) {
		ret->ifname = lua_tostring(L, 1);
	} else if (!lua_isnoneornil(L, 1)) {
		if (lua_type(L, 1) != LUA_TTABLE)
			luaL_error(L, "%s: the argument must be a filter table%s, not %s", what,
				   ifname_ok ? " or an interface name" : "", luaL_typename(L, 1));
		lua_pushnil(L);
		while (lua_next(L, 1)) {
			const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

			if (!strcmp(k, "netns")) {
				if (lua_type(L, -1) != LUA_TSTRING)
					luaL_error(L, "%s: netns must be a namespace's name", what);
				ret->netns = lua_tostring(L, -1);
			} else if (ifname_ok && !strcmp(k, "ifname")) {
				if (lua_type(L, -1) != LUA_TSTRING)
					luaL_error(L, "%s: ifname must be an interface's name", what);
				ret->ifname = lua_tostring(L, -1);
			} else {
				luaL_error(L, "%s: unknown filter key '%s' (%s)", what, k,
					   ifname_ok ? "netns, ifname" : "netns");
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

/* Outside the capped heap, so that only the tables count against it; freed by the box if Lua unwinds. */
static struct nlh_event *state_alloc(lua_State *L, size_t n, void ***ret_box)
{
	void **box = rules_box_new(L);

	*box = malloc((n ? n : 1) * sizeof(struct nlh_event));
	if (!*box)
		luaL_error(L, "out of memory");
	*ret_box = box;
	return *box;
}

/* A state entry is not an event: it has the fields and its namespace, not a type. */
static void push_entry(lua_State *L, struct nlh_event *ev, const char *netns)
{
	ev->netns = netns;
	rules_push_event(L, ev);
	lua_pushnil(L);
	lua_setfield(L, -2, "type");
}

static int push_state(lua_State *L, enum nlh_class c, const char *what)
{
	struct state_filter flt;
	struct rules_state st;
	struct state_list s;
	const char *iftype;
	void **box;

	filter_of(L, what, false, &flt);
	st = state_of(L, what, &flt);
	s = (struct state_list){ .max = st.rtnl ? rtnl_state_count(st.rtnl, c) : 0 };
	/* Copied first: no Lua error may unwind through the rtnl iteration. */
	s.evs = state_alloc(L, s.max, &box);
	if (st.rtnl)
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

/* nlhook.stations([ifname | filter]): the stations associated with this host's access points now. */
int rules_api_stations(lua_State *L)
{
	struct state_filter flt;
	struct rules_state st;
	struct nlh_event *evs;
	size_t n = 0, k = 0;
	void **box;

	filter_of(L, "nlhook.stations", true, &flt);
	st = state_of(L, "nlhook.stations", &flt);
	if (st.nl80211 && !nl80211_stations_kept(st.nl80211))
		return luaL_error(L, "nlhook.stations: the stations are followed only while a rule wants "
				     "wifi.station.new or wifi.station.del events");
	if (st.nl80211)
		n = nl80211_station_count(st.nl80211);
	evs = state_alloc(L, n, &box);
	if (st.nl80211)
		n = nl80211_stations_get(st.nl80211, evs, n);
	lua_createtable(L, n, 0);
	for (size_t i = 0; i < n; i++) {
		if (flt.ifname && (!NLH_HAS(&evs[i], WIFI, ifname) || strcmp(evs[i].wifi.ifname, flt.ifname)))
			continue;
		push_entry(L, &evs[i], flt.netns);
		lua_rawseti(L, -2, ++k);
	}
	free(*box);
	*box = NULL;
	return 1;
}
