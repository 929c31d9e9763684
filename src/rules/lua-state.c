/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "nl80211/nl80211.h"
#include "rtnl/rtnl.h"
#include "rules-internal.h"

/*
 * nlhook.links(), addrs(), routes(), stations(): snapshots of the state
 * the daemon keeps.
 */

static rules_state_fn state_fn;
static void *state_data;

void rules_set_state_source(rules_state_fn fn, void *data)
{
	state_fn = fn;
	state_data = data;
}

static struct rules_state state_of(lua_State *L)
{
	struct rules_file *f = rules_file_of(L);
	struct rules_state st = {};

	if (state_fn)
		state_fn(f->cur_ev ? f->cur_ev->netns : NULL, state_data, &st);
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

/* A state entry is not an event: it has the fields, not a type. */
static void push_entry(lua_State *L, const struct nlh_event *ev)
{
	rules_push_event(L, ev);
	lua_pushnil(L);
	lua_setfield(L, -2, "type");
}

static int push_state(lua_State *L, enum nlh_class c)
{
	struct rules_state st = state_of(L);
	struct state_list s = { .max = st.rtnl ? rtnl_state_count(st.rtnl, c) : 0 };
	const char *iftype;
	void **box;

	/* Copied first: no Lua error may unwind through the rtnl iteration. */
	s.evs = state_alloc(L, s.max, &box);
	if (st.rtnl)
		rtnl_state_foreach(st.rtnl, c, state_collect, &s);
	lua_createtable(L, s.n, 0);
	for (size_t i = 0; i < s.n; i++) {
		push_entry(L, &s.evs[i]);
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
	return push_state(L, NLH_CLASS_LINK);
}

int rules_api_addrs(lua_State *L)
{
	return push_state(L, NLH_CLASS_ADDR);
}

int rules_api_routes(lua_State *L)
{
	return push_state(L, NLH_CLASS_ROUTE);
}

/* nlhook.stations([ifname]): the stations associated with this host's access points now. */
int rules_api_stations(lua_State *L)
{
	const char *ifname = luaL_optstring(L, 1, NULL);
	struct rules_state st = state_of(L);
	struct nlh_event *evs;
	size_t n = 0, k = 0;
	void **box;

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
		if (ifname && (!NLH_HAS(&evs[i], WIFI, ifname) || strcmp(evs[i].wifi.ifname, ifname)))
			continue;
		push_entry(L, &evs[i]);
		lua_rawseti(L, -2, ++k);
	}
	free(*box);
	*box = NULL;
	return 1;
}
