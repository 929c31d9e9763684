/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/json.h"
#include "core/log.h"
#include "rules-internal.h"

/*
 * nlhook.emit: a Lua value as one JSON line to the event log.  The same
 * rendering serves nlhook.mqtt.publish (rules_json_push).
 */

#define EMIT_DEPTH_MAX 16

static bool is_event_table(lua_State *L, int idx)
{
	bool r;

	if (!lua_getmetatable(L, idx))
		return false;
	luaL_getmetatable(L, RULES_TABLE_MT);
	r = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return r;
}

struct emit {
	struct sbuf *b;
	const char *what;	/* the API function, for errors */
};

static void emit_value(lua_State *L, int idx, const struct emit *e, int depth, bool hex);

static void emit_number(lua_State *L, int idx, struct sbuf *b, bool time)
{
	lua_Number n;

	if (lua_isinteger(L, idx)) {
		sbuf_printf(b, "%lld", (long long)lua_tointeger(L, idx));
		return;
	}
	n = lua_tonumber(L, idx);
	if (!isfinite(n))
		sbuf_puts(b, "null");
	else
		sbuf_printf(b, time ? "%.6f" : "%.14g", n);
}

static void emit_key(struct sbuf *b, bool *first, const char *k, size_t len)
{
	if (!*first)
		sbuf_puts(b, ",");
	*first = false;
	sbuf_json_str(b, k, len);
	sbuf_puts(b, ":");
}

/* A payload is hex wherever it is written, in a rule's own table too. */
static bool is_payload_key(const char *k, size_t len)
{
	return k && len == 7 && !memcmp(k, "payload", 7);
}

/* A value of an event's key: time as events write it, payload in hex. */
static void emit_field(lua_State *L, const char *k, const struct emit *e, int depth)
{
	if (!strcmp(k, "time") && lua_type(L, -1) == LUA_TNUMBER)
		emit_number(L, -1, e->b, true);
	else
		emit_value(L, lua_gettop(L), e, depth + 1, is_payload_key(k, strlen(k)));
}

/* Fields of an event table in class order, with the event's renderings. */
static void emit_event_table(lua_State *L, int idx, const struct emit *e, int depth)
{
	struct sbuf *b = e->b;
	static const char *const head[] = { "type", "time", "netns" };
	const struct nlh_class_desc *d = NULL;
	bool first = true;
	int t;

	lua_getfield(L, idx, "type");
	if (lua_type(L, -1) == LUA_TSTRING && (t = nlh_event_type_from_name(lua_tostring(L, -1))) >= 0)
		d = &nlh_classes[nlh_event_type_class(t)];
	lua_pop(L, 1);
	sbuf_puts(b, "{");
	for (size_t i = 0; i < 3; i++) {
		if (lua_getfield(L, idx, head[i]) != LUA_TNIL) {
			emit_key(b, &first, head[i], strlen(head[i]));
			emit_field(L, head[i], e, depth);
		}
		lua_pop(L, 1);
	}
	for (size_t i = 0; d && i < d->n_fields; i++) {
		if (lua_getfield(L, idx, d->fields[i].name) != LUA_TNIL) {
			emit_key(b, &first, d->fields[i].name, strlen(d->fields[i].name));
			emit_field(L, d->fields[i].name, e, depth);
		}
		lua_pop(L, 1);
	}
	/* Whatever the rule added. */
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		size_t kl = 0;
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
		bool known = !k || !strcmp(k, "type") || !strcmp(k, "time") || !strcmp(k, "netns") ||
			     (d && nlh_field_find(d - nlh_classes, k));

		if (!known) {
			emit_key(b, &first, k, kl);
			emit_value(L, lua_gettop(L), e, depth + 1, is_payload_key(k, kl));
		}
		lua_pop(L, 1);
	}
	sbuf_puts(b, "}");
}

static int fill_event(char *buf, size_t size, void *data)
{
	return nlh_event_json(data, buf, size);
}

/* The event's own JSON rendering, as monitor --json writes it. */
static void emit_record(lua_State *L, const struct nlh_event *ev, const struct emit *e)
{
	char tmp[4096], *p = tmp, *heap = NULL;
	size_t size = sizeof(tmp);
	int n;

	while ((n = fill_event(p, size, (void *)ev)) == -ENOSPC && size < 16 * JSON_MAX_SIZE) {
		size *= 4;
		p = realloc(heap, size);
		if (!p) {
			free(heap);
			luaL_error(L, "%s: out of memory", e->what);
		}
		heap = p;
	}
	sbuf_add(e->b, p, n < 0 ? strlen(p) : (size_t)n);
	free(heap);
}

/*
 * An event object: its record's rendering, unless the rule stored
 * something in it; then its keys in order with what the rule set, and
 * the rule's own keys after them.
 */
static void emit_event_object(lua_State *L, int idx, const struct emit *e, int depth)
{
	struct sbuf *b = e->b;
	const struct nlh_event *ev = lua_touserdata(L, idx);
	bool first = true;
	int ov;

	if (!rules_event_overlay(L, idx)) {
		emit_record(L, ev, e);
		return;
	}
	ov = lua_gettop(L);
	sbuf_puts(b, "{");
	for (size_t pos = 0; pos < rules_event_keys(ev); pos++) {
		const char *k = rules_event_key(ev, pos);

		if (!rules_event_value(L, idx, pos))
			continue;
		emit_key(b, &first, k, strlen(k));
		emit_field(L, k, e, depth);
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	while (lua_next(L, ov)) {
		size_t kl = 0;
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;

		if (k && !rules_event_is_key(ev, k) && lua_type(L, -1) != LUA_TLIGHTUSERDATA) {
			emit_key(b, &first, k, kl);
			emit_value(L, lua_gettop(L), e, depth + 1, is_payload_key(k, kl));
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	sbuf_puts(b, "}");
}

static void emit_table(lua_State *L, int idx, const struct emit *e, int depth)
{
	struct sbuf *b = e->b;
	size_t n = lua_rawlen(L, idx), count = 0;
	bool first = true;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		count++;
		lua_pop(L, 1);
	}
	if (n && n == count) {
		sbuf_puts(b, "[");
		for (size_t i = 1; i <= n; i++) {
			if (i > 1)
				sbuf_puts(b, ",");
			lua_rawgeti(L, idx, i);
			emit_value(L, lua_gettop(L), e, depth + 1, false);
			lua_pop(L, 1);
		}
		sbuf_puts(b, "]");
		return;
	}
	sbuf_puts(b, "{");
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		size_t kl;
		const char *k;

		if (lua_type(L, -2) == LUA_TSTRING || lua_type(L, -2) == LUA_TNUMBER) {
			bool hex = lua_type(L, -2) == LUA_TSTRING;

			/* A copy: lua_tolstring on the key itself would confuse lua_next. */
			lua_pushvalue(L, -2);
			k = lua_tolstring(L, -1, &kl);
			emit_key(b, &first, k, kl);
			hex = hex && is_payload_key(k, kl);
			lua_pop(L, 1);
			emit_value(L, lua_gettop(L), e, depth + 1, hex);
		}
		lua_pop(L, 1);
	}
	sbuf_puts(b, "}");
}

static void emit_value(lua_State *L, int idx, const struct emit *e, int depth, bool hex)
{
	struct sbuf *b = e->b;
	size_t len;
	const char *s;

	luaL_checkstack(L, 8, NULL);
	switch (lua_type(L, idx)) {
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		if (hex) {
			sbuf_puts(b, "\"");
			for (size_t i = 0; i < len; i++)
				sbuf_printf(b, "%02x", (unsigned char)s[i]);
			sbuf_puts(b, "\"");
		} else {
			sbuf_json_str(b, s, len);
		}
		return;
	case LUA_TNUMBER:
		emit_number(L, idx, b, false);
		return;
	case LUA_TBOOLEAN:
		sbuf_puts(b, lua_toboolean(L, idx) ? "true" : "false");
		return;
	case LUA_TTABLE:
	case LUA_TUSERDATA:
		if (depth >= EMIT_DEPTH_MAX)
			luaL_error(L, "%s: tables nested deeper than %d", e->what, EMIT_DEPTH_MAX);
		if (rules_event_object(L, idx))
			emit_event_object(L, idx, e, depth);
		else if (lua_type(L, idx) == LUA_TUSERDATA)
			sbuf_puts(b, "null");
		else if (is_event_table(L, idx))
			emit_event_table(L, idx, e, depth);
		else
			emit_table(L, idx, e, depth);
		return;
	default:
		sbuf_puts(b, "null");
		return;
	}
}

static int sbuf_box_gc(lua_State *L)
{
	sbuf_free(lua_touserdata(L, 1));
	return 0;
}

struct sbuf *rules_json_push(lua_State *L, int idx, const char *what)
{
	struct emit e = { .what = what };
	struct sbuf *b;

	idx = lua_absindex(L, idx);
	b = lua_newuserdatauv(L, sizeof(*b), 0);
	memset(b, 0, sizeof(*b));
	if (luaL_newmetatable(L, "nlhook.sbuf")) {
		lua_pushcfunction(L, sbuf_box_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	e.b = b;
	emit_value(L, idx, &e, 0, false);
	if (b->oom)
		luaL_error(L, "%s: out of memory", what);
	return b;
}

int rules_api_emit(lua_State *L)
{
	struct rules_file *f = rules_file_of(L);
	const struct nlh_event *ev = rules_event_object(L, 1);
	struct sbuf *b;

	if (!ev)
		luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	if (ev && !rules_dry_run(f)) {
		/* An event as it came: rendered straight into the event log's batch. */
		if (!rules_event_overlay(L, 1)) {
			if (evlog_write_fill(fill_event, (void *)ev) == -ENOMEM)
				return luaL_error(L, "nlhook.emit: out of memory");
			return 0;
		}
		lua_pop(L, 1);
	}
	b = rules_json_push(L, 1, "nlhook.emit");
	if (rules_dry_run(f)) {
		rules_dry(f, "emit", rules_ctx_name(f), b->p ? b->p : "");
	} else {
		evlog_write(b->p ? b->p : "", b->len);
	}
	return 0;
}
