/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "rules-internal.h"

/*
 * The event a handler gets is a userdata that holds a copy of the record
 * (the payload and the namespace name with it, so it stays whole however
 * long the rule keeps it), and whose fields become Lua values only when
 * read: a handler that counts hits reads nothing and costs one
 * allocation.  It reads like a table: ev.src, pairs(ev) in the field
 * table's order.  What a rule stores in it goes into a table of its own
 * (the user value), where a field set to nil hides the event's.
 *
 * nlhook.links() and friends hand out plain tables (rules_push_event),
 * marked by RULES_TABLE_MT.
 */

/* Keys in order: those of every event, then the fields of its class. */
enum { KEY_TYPE, KEY_TIME, KEY_NETNS, KEY_NSID, KEY_FIELDS };

static const char *const head_keys[KEY_FIELDS] = { "type", "time", "netns", "nsid" };

/* Stands for nil in the user value: a field the rule removed. */
static const char removed;


/*
 * The upvalues of the metamethods: per class, a table of key -> its
 * position + 1.  Lookups by interned string: no strcmp per read.
 */
#define CLASS_KEYS(c) lua_upvalueindex((c) + 1)

void rules_push_field(lua_State *L, const struct nlh_event *ev, const struct nlh_field *fd)
{
	const void *p = nlh_event_field_ptr(ev, fd);
	char buf[160];

	switch (fd->type) {
	case NLH_FT_STR:
		lua_pushlstring(L, p, strnlen(p, fd->size));
		return;
	case NLH_FT_U32:
	case NLH_FT_U64:
	case NLH_FT_S32:	/* sign-extended by nlh_field_uint */
		lua_pushinteger(L, (lua_Integer)nlh_field_uint(ev, fd));
		return;
	case NLH_FT_BOOL:
		lua_pushboolean(L, *(const bool *)p);
		return;
	case NLH_FT_HWADDR:
	case NLH_FT_ADDR:
	case NLH_FT_PREFIX:
		if (nlh_field_format(ev, fd, buf, sizeof(buf)) < 0)
			buf[0] = '\0';
		lua_pushstring(L, buf);
		return;
	case NLH_FT_SSID: {
		const struct nlh_ssid *s = p;

		lua_pushlstring(L, (const char *)s->b, s->len > NLH_SSID_MAX ? NLH_SSID_MAX : s->len);
		return;
	}
	case NLH_FT_BYTES: {
		const struct nlh_bytes *b = p;

		lua_pushlstring(L, b->p ? (const char *)b->p : "", b->p ? b->len : 0);
		return;
	}
	}
	lua_pushnil(L);
}

void rules_push_event(lua_State *L, const struct nlh_event *ev)
{
	const struct nlh_class_desc *d = &nlh_classes[nlh_event_type_class(ev->type)];

	lua_createtable(L, 0, d->n_fields + 3);
	lua_pushstring(L, nlh_event_type_name(ev->type));
	lua_setfield(L, -2, "type");
	lua_pushnumber(L, ev->time);
	lua_setfield(L, -2, "time");
	if (ev->netns) {
		lua_pushstring(L, ev->netns);
		lua_setfield(L, -2, "netns");
	}
	if (ev->nsid >= 0) {
		lua_pushinteger(L, ev->nsid);
		lua_setfield(L, -2, "nsid");
	}
	for (size_t i = 0; i < d->n_fields; i++) {
		if (!nlh_event_has(ev, &d->fields[i]))
			continue;
		rules_push_field(L, ev, &d->fields[i]);
		lua_setfield(L, -2, d->fields[i].name);
	}
	luaL_setmetatable(L, RULES_TABLE_MT);
}

void rules_push_event_object(lua_State *L, const struct nlh_event *ev)
{
	struct nlh_event *copy = lua_newuserdatauv(L, nlh_event_copy_size(ev), 1);

	nlh_event_copy_to(copy, ev);
	/* By registry index, not by name: no string lookup per event. */
	lua_rawgeti(L, LUA_REGISTRYINDEX, rules_file_of(L)->event_mt);
	lua_setmetatable(L, -2);
}

const struct nlh_event *rules_event_object(lua_State *L, int idx)
{
	void *p = lua_touserdata(L, idx);
	bool ours;

	if (!p || lua_islightuserdata(L, idx) || !lua_getmetatable(L, idx))
		return NULL;
	lua_rawgeti(L, LUA_REGISTRYINDEX, rules_file_of(L)->event_mt);
	ours = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return ours ? p : NULL;
}

bool rules_event_overlay(lua_State *L, int idx)
{
	if (lua_getiuservalue(L, idx, 1) == LUA_TTABLE)
		return true;
	lua_pop(L, 1);
	return false;
}

size_t rules_event_keys(const struct nlh_event *ev)
{
	return KEY_FIELDS + nlh_classes[nlh_event_type_class(ev->type)].n_fields;
}

const char *rules_event_key(const struct nlh_event *ev, size_t pos)
{
	if (pos < KEY_FIELDS)
		return head_keys[pos];
	return nlh_classes[nlh_event_type_class(ev->type)].fields[pos - KEY_FIELDS].name;
}

/* The event's own value of the key at pos; false (nothing pushed) when it has none. */
static bool push_own(lua_State *L, const struct nlh_event *ev, size_t pos)
{
	const struct nlh_field *f;

	switch (pos) {
	case KEY_TYPE:
		lua_pushstring(L, nlh_event_type_name(ev->type));
		return true;
	case KEY_TIME:
		lua_pushnumber(L, ev->time);
		return true;
	case KEY_NETNS:
		if (!ev->netns)
			return false;
		lua_pushstring(L, ev->netns);
		return true;
	case KEY_NSID:
		if (ev->nsid < 0)
			return false;
		lua_pushinteger(L, ev->nsid);
		return true;
	}
	f = &nlh_classes[nlh_event_type_class(ev->type)].fields[pos - KEY_FIELDS];
	if (!nlh_event_has(ev, f))
		return false;
	rules_push_field(L, ev, f);
	return true;
}

bool rules_event_value(lua_State *L, int idx, size_t pos)
{
	const struct nlh_event *ev = lua_touserdata(L, idx);

	if (rules_event_overlay(L, idx)) {
		lua_pushstring(L, rules_event_key(ev, pos));
		lua_rawget(L, -2);
		lua_remove(L, -2);
		if (lua_touserdata(L, -1) == &removed) {
			lua_pop(L, 1);
			return false;
		}
		if (!lua_isnil(L, -1))
			return true;
		lua_pop(L, 1);
	}
	return push_own(L, ev, pos);
}

bool rules_event_is_key(const struct nlh_event *ev, const char *k)
{
	for (size_t pos = 0; pos < rules_event_keys(ev); pos++)
		if (!strcmp(rules_event_key(ev, pos), k))
			return true;
	return false;
}

/*
 * Metamethods: the metatable is hidden behind __metatable, so these are
 * only ever called by Lua with an event as their first argument.
 */

static int event_index(lua_State *L)
{
	const struct nlh_event *ev = lua_touserdata(L, 1);

	if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
		lua_pushvalue(L, 2);
		if (lua_rawget(L, -2) != LUA_TNIL)
			return lua_touserdata(L, -1) == &removed ? 0 : 1;
	}
	lua_settop(L, 2);
	if (lua_rawget(L, CLASS_KEYS(nlh_event_type_class(ev->type))) != LUA_TNUMBER)
		return 0;
	return push_own(L, ev, lua_tointeger(L, -1) - 1) ? 1 : 0;
}

static int event_newindex(lua_State *L)
{
	const struct nlh_event *ev = lua_touserdata(L, 1);
	bool field;

	lua_settop(L, 3);
	lua_pushvalue(L, 2);
	field = lua_rawget(L, CLASS_KEYS(nlh_event_type_class(ev->type))) == LUA_TNUMBER;
	lua_pop(L, 1);
	if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setiuservalue(L, 1, 1);
	}
	lua_pushvalue(L, 2);
	if (lua_isnil(L, 3) && field)
		lua_pushlightuserdata(L, (void *)&removed);
	else
		lua_pushvalue(L, 3);
	lua_rawset(L, -3);
	return 0;
}

/*
 * next() for pairs(ev): the keys of every event, the class's fields in
 * the field table's order, then what the rule added.
 */
static int event_next(lua_State *L)
{
	const struct nlh_event *ev = rules_event_object(L, 1);
	size_t pos = 0, n;
	bool overlay;

	if (!ev)
		return luaL_typeerror(L, 1, "nlhook event");
	n = rules_event_keys(ev);
	lua_settop(L, 2);
	if (!lua_isnil(L, 2)) {
		lua_pushvalue(L, 2);
		if (lua_rawget(L, CLASS_KEYS(nlh_event_type_class(ev->type))) == LUA_TNUMBER)
			pos = lua_tointeger(L, -1);
		else
			pos = n;
		lua_pop(L, 1);
	}
	for (; pos < n; pos++) {
		lua_pushstring(L, rules_event_key(ev, pos));
		if (rules_event_value(L, 1, pos))
			return 2;
		lua_pop(L, 1);
	}
	overlay = rules_event_overlay(L, 1);
	/* Past the fields: the rule's own keys, from the first or after key. */
	if (!overlay)
		return 0;
	lua_pushvalue(L, 2);
	if (pos == n && !lua_isnil(L, 2)) {
		lua_pushvalue(L, 2);
		if (lua_rawget(L, CLASS_KEYS(nlh_event_type_class(ev->type))) == LUA_TNUMBER) {
			lua_pop(L, 2);
			lua_pushnil(L);
		} else {
			lua_pop(L, 1);
		}
	}
	while (lua_next(L, 3)) {
		bool skip = lua_touserdata(L, -1) == &removed;

		if (!skip && lua_type(L, -2) == LUA_TSTRING) {
			lua_pushvalue(L, -2);
			skip = lua_rawget(L, CLASS_KEYS(nlh_event_type_class(ev->type))) == LUA_TNUMBER;
			lua_pop(L, 1);
		}
		if (!skip)
			return 2;
		lua_pop(L, 1);
	}
	return 0;
}

static int event_pairs(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

void rules_event_open(lua_State *L)
{
	int base;

	luaL_newmetatable(L, RULES_TABLE_MT);
	lua_pushliteral(L, "nlhook event");
	lua_setfield(L, -2, "__name");
	lua_pop(L, 1);

	base = lua_gettop(L);
	for (int c = 0; c < _NLH_CLASS_MAX; c++) {
		const struct nlh_class_desc *d = &nlh_classes[c];

		lua_createtable(L, 0, KEY_FIELDS + d->n_fields);
		for (size_t pos = 0; pos < KEY_FIELDS + d->n_fields; pos++) {
			lua_pushinteger(L, pos + 1);
			lua_setfield(L, -2, pos < KEY_FIELDS ? head_keys[pos] : d->fields[pos - KEY_FIELDS].name);
		}
	}
	luaL_newmetatable(L, RULES_EVENT_MT);
	lua_pushliteral(L, "nlhook event");
	lua_setfield(L, -2, "__name");
	/* getmetatable(ev) gives this name: the metamethods stay ours to call. */
	lua_pushliteral(L, "nlhook event");
	lua_setfield(L, -2, "__metatable");
	lua_pushvalue(L, -1);
	rules_file_of(L)->event_mt = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_insert(L, base + 1);
	/* stack: ..., mt, keys[0..MAX-1] */
	for (int c = 0; c < _NLH_CLASS_MAX; c++)
		lua_pushvalue(L, base + 2 + c);
	lua_pushcclosure(L, event_index, _NLH_CLASS_MAX);
	lua_setfield(L, base + 1, "__index");
	for (int c = 0; c < _NLH_CLASS_MAX; c++)
		lua_pushvalue(L, base + 2 + c);
	lua_pushcclosure(L, event_newindex, _NLH_CLASS_MAX);
	lua_setfield(L, base + 1, "__newindex");
	for (int c = 0; c < _NLH_CLASS_MAX; c++)
		lua_pushvalue(L, base + 2 + c);
	lua_pushcclosure(L, event_next, _NLH_CLASS_MAX);
	lua_pushcclosure(L, event_pairs, 1);
	lua_setfield(L, base + 1, "__pairs");
	lua_settop(L, base);
}
