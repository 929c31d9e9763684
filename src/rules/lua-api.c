/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/log.h"
#include "rules-internal.h"

/*
 * The nlhook table (nlhook.on, nlhook.after and nlhook.log.* are here,
 * the rest in the lua-*.c of their concern) and the rule objects that
 * nlhook.on makes.
 */

struct rule *rules_handler_rule(lua_State *L, const char *what)
{
	struct rules_file *f = rules_file_of(L);

	if (!f->cur_rule)
		luaL_error(L, "%s can only be called from a handler, not while the file loads", what);
	return f->cur_rule;
}

struct after {
	struct rule *r;
	int ref;
	struct loop_timer *t;
	struct after *next;
};

static void after_unlink(struct after *a)
{
	for (struct after **pp = &a->r->file->afters; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			a->r->n_afters--;
			return;
		}
	}
}

static void after_fire(void *data)
{
	struct after *a = data;

	after_unlink(a);
	if (!a->r->st.disabled)
		rule_call_ref(a->r, a->ref);
	luaL_unref(a->r->file->L, LUA_REGISTRYINDEX, a->ref);
	loop_timer_free(a->t);
	free(a);
}

void rules_afters_free(struct rules_file *f)
{
	while (f->afters) {
		struct after *a = f->afters;

		f->afters = a->next;
		a->r->n_afters--;
		loop_timer_free(a->t);
		free(a);
	}
}

static int api_after(lua_State *L)
{
	struct rules_file *f = rules_file_of(L);
	struct rule *r = rules_handler_rule(L, "nlhook.after");
	double s = luaL_checknumber(L, 1);
	struct after *a;
	int ref;

	luaL_argcheck(L, s >= 0 && isfinite(s), 1, "seconds must be a number >= 0");
	luaL_checktype(L, 2, LUA_TFUNCTION);
	/* A dry run tells, and still runs the function when its time comes (replays have a clock). */
	if (rules_dry_run(f)) {
		char text[64];

		snprintf(text, sizeof(text), "%g s", s);
		rules_dry(f, "after", r->name, text);
	}
	/* Timers live outside the Lua memory cap: a rule in a flood could otherwise grow them without end. */
	if (r->n_afters >= RULES_AFTER_MAX) {
		r->st.after_dropped++;
		if (rule_drop_log_due(&r->after_drop_logged))
			log_warn("rule %s: %d nlhook.after timers pending already, one more dropped (%llu dropped so far)",
				 r->name, RULES_AFTER_MAX, (unsigned long long)r->st.after_dropped);
		lua_pushnil(L);
		lua_pushfstring(L, "dropped: %d timers of this rule are pending already", RULES_AFTER_MAX);
		return 2;
	}
	/* The ref first: luaL_ref can raise (out of memory), and nothing must be left half-made. */
	lua_pushvalue(L, 2);
	ref = luaL_ref(L, LUA_REGISTRYINDEX);
	a = calloc(1, sizeof(*a));
	if (!a || !(a->t = loop_timer_new(after_fire, a))) {
		free(a);
		luaL_unref(L, LUA_REGISTRYINDEX, ref);
		return luaL_error(L, "nlhook.after: out of memory");
	}
	a->ref = ref;
	a->r = r;
	a->next = f->afters;
	f->afters = a;
	r->n_afters++;
	loop_timer_arm(a->t, s);
	lua_pushboolean(L, 1);
	return 1;
}

static int api_log(lua_State *L)
{
	struct rules_file *f = rules_file_of(L);
	int level = lua_tointeger(L, lua_upvalueindex(2));
	int n = lua_gettop(L);
	const char *msg;

	/* string.format as it was when the file loaded: the rule may reassign string. */
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, n, 1);
	msg = lua_tostring(L, -1);
	if (level <= log_max_level)
		log_msg(level, "%s: %s", rules_ctx_name(f), msg ? msg : "");
	return 0;
}

/* nlhook.on */

void rule_free(struct rule *r)
{
	if (!r)
		return;
	if (r->q)
		exec_queue_free(r->q);
	loop_timer_free(r->debounce_timer);
	free(r->debounced);
	for (int c = 0; c < _NLH_CLASS_MAX; c++) {
		for (size_t i = 0; i < r->n_terms[c]; i++)
			nlh_pattern_clear(&r->terms[c][i].pat);
		free(r->terms[c]);
	}
	free(r->name);
	free(r->where);
	free(r->action_path);
	free(r->disabled_reason);
	free(r);
}

static bool has_glob_meta(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* The types a name or glob selects; those named outright also go into *named. */
static nlh_typeset type_arg(lua_State *L, int idx, nlh_typeset *named)
{
	const char *s = lua_tostring(L, idx);
	nlh_typeset set;
	int t;

	if (lua_type(L, idx) != LUA_TSTRING)
		luaL_error(L, "nlhook.on: event types must be strings, got a %s", luaL_typename(L, idx));
	if (has_glob_meta(s)) {
		set = nlh_event_types_glob(s);
		if (!set)
			luaL_error(L, "nlhook.on: no event type matches '%s'", s);
		return set;
	}
	t = nlh_event_type_from_name(s);
	if (t < 0)
		luaL_error(L, "nlhook.on: unknown event type '%s'", s);
	*named |= NLH_TYPE_BIT(t);
	return NLH_TYPE_BIT(t);
}

static nlh_typeset types_arg(lua_State *L, int idx, nlh_typeset *named)
{
	nlh_typeset set = 0;
	size_t n;

	*named = 0;
	if (lua_type(L, idx) != LUA_TTABLE)
		return type_arg(L, idx, named);
	n = lua_rawlen(L, idx);
	if (!n)
		luaL_error(L, "nlhook.on: the list of event types is empty");
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, i);
		set |= type_arg(L, lua_gettop(L), named);
		lua_pop(L, 1);
	}
	return set;
}

static const char *ftype_name(enum nlh_ftype t)
{
	switch (t) {
	case NLH_FT_STR:
		return "a string";
	case NLH_FT_U32:
	case NLH_FT_U64:
	case NLH_FT_S32:
		return "a number";
	case NLH_FT_BOOL:
		return "a boolean";
	case NLH_FT_HWADDR:
		return "a hardware address";
	case NLH_FT_ADDR:
		return "an address";
	case NLH_FT_PREFIX:
		return "a prefix";
	case NLH_FT_SSID:
		return "an SSID";
	case NLH_FT_BYTES:
		return "bytes";
	}
	return "?";
}

/*
 * The pattern is written in place (already counted by its owner), so a
 * Lua error half-way leaves nothing that rule_free cannot free.
 */
static void pattern_from_lua(lua_State *L, int idx, const struct nlh_field *fd, int func_ref, bool in_list,
			     struct nlh_pattern *p)
{
	char err[256];
	const char *s;
	uint64_t max;
	size_t len, n;
	int r;

	switch (lua_type(L, idx)) {
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		r = nlh_pattern_from_bytes(s, len, fd, p, err, sizeof(err));
		if (r == -ENOMEM)
			luaL_error(L, "nlhook.on: out of memory");
		if (r < 0)
			luaL_error(L, "nlhook.on: field '%s' is %s: %s", fd->name, ftype_name(fd->type), err);
		return;
	case LUA_TNUMBER:
		if (fd->type != NLH_FT_U32 && fd->type != NLH_FT_U64 && fd->type != NLH_FT_S32 && fd->type != NLH_FT_BOOL)
			luaL_error(L, "nlhook.on: field '%s' is %s: a number cannot match it (quote it for a glob)",
				   fd->name, ftype_name(fd->type));
		if (!lua_isinteger(L, idx) && lua_tonumber(L, idx) != floor(lua_tonumber(L, idx)))
			luaL_error(L, "nlhook.on: field '%s': %f is not an integer", fd->name, lua_tonumber(L, idx));
		if (fd->type == NLH_FT_S32) {
			if (!(lua_tonumber(L, idx) >= INT32_MIN && lua_tonumber(L, idx) <= INT32_MAX))
				luaL_error(L, "nlhook.on: field '%s': %s is out of range", fd->name, lua_tostring(L, idx));
			/* Sign-extended, as nlh_field_uint gives the field. */
			p->kind = NLH_PAT_NUM;
			p->num = (uint64_t)(int64_t)lua_tonumber(L, idx);
			return;
		}
		if (lua_tonumber(L, idx) < 0)
			luaL_error(L, "nlhook.on: field '%s': %s is negative", fd->name, lua_tostring(L, idx));
		/* 1e300 or inf passes the integer test; converting it would be undefined. */
		if (!lua_isinteger(L, idx) && !(lua_tonumber(L, idx) < 18446744073709551616.0))
			luaL_error(L, "nlhook.on: field '%s': %s is out of range", fd->name, lua_tostring(L, idx));
		p->kind = NLH_PAT_NUM;
		p->num = lua_isinteger(L, idx) ? (uint64_t)lua_tointeger(L, idx) : (uint64_t)lua_tonumber(L, idx);
		max = fd->type == NLH_FT_U32 ? UINT32_MAX : fd->type == NLH_FT_BOOL ? 1 : UINT64_MAX;
		if (p->num > max) {
			snprintf(err, sizeof(err), "%" PRIu64, max);
			luaL_error(L, "nlhook.on: field '%s' is %s: %s is out of range (0..%s)", fd->name,
				   ftype_name(fd->type), lua_tostring(L, idx), err);
		}
		return;
	case LUA_TBOOLEAN:
		if (fd->type != NLH_FT_BOOL)
			luaL_error(L, "nlhook.on: field '%s' is %s, not a boolean", fd->name, ftype_name(fd->type));
		p->kind = NLH_PAT_NUM;
		p->num = lua_toboolean(L, idx);
		return;
	case LUA_TFUNCTION:
		/* C matching cannot tell which list member a predicate stands for. */
		if (in_list)
			luaL_error(L, "nlhook.on: field '%s': a list cannot hold functions", fd->name);
		p->kind = NLH_PAT_FUNC;
		p->func_ref = func_ref;
		return;
	case LUA_TTABLE:
		n = lua_rawlen(L, idx);
		if (!n)
			luaL_error(L, "nlhook.on: field '%s': empty list", fd->name);
		p->kind = NLH_PAT_ANY;
		p->sub = calloc(n, sizeof(*p->sub));
		if (!p->sub)
			luaL_error(L, "nlhook.on: out of memory");
		p->n_sub = n;
		for (size_t i = 0; i < n; i++) {
			lua_rawgeti(L, idx, i + 1);
			pattern_from_lua(L, lua_gettop(L), fd, func_ref, true, &p->sub[i]);
			lua_pop(L, 1);
		}
		return;
	default:
		luaL_error(L, "nlhook.on: field '%s': a %s is not a pattern", fd->name, luaL_typename(L, idx));
	}
}

static void match_arg(lua_State *L, int idx, struct rule *r)
{
	unsigned int classes = 0;

	for (int t = 0; t < _NLH_EV_MAX; t++)
		if (r->types & NLH_TYPE_BIT(t))
			classes |= 1u << nlh_event_type_class(t);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int func_ref = LUA_NOREF;
		const char *k;

		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "nlhook.on: match keys must be field names, got a %s", luaL_typename(L, -2));
		k = lua_tostring(L, -2);
		for (int c = 0; c < _NLH_CLASS_MAX; c++)
			if ((classes & (1u << c)) && !nlh_field_find(c, k))
				luaL_error(L, "nlhook.on: '%s' is not a field of %s events", k, nlh_classes[c].name);
		if (lua_isfunction(L, -1)) {
			/* Owned by the state: lua_close frees it with everything else. */
			lua_pushvalue(L, -1);
			func_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		}
		for (int c = 0; c < _NLH_CLASS_MAX; c++) {
			struct nlh_match_term *terms;

			if (!(classes & (1u << c)))
				continue;
			terms = realloc(r->terms[c], (r->n_terms[c] + 1) * sizeof(*terms));
			if (!terms)
				luaL_error(L, "nlhook.on: out of memory");
			r->terms[c] = terms;
			memset(&terms[r->n_terms[c]], 0, sizeof(*terms));
			terms[r->n_terms[c]].field = nlh_field_find(c, k);
			r->n_terms[c]++;
			pattern_from_lua(L, lua_gettop(L), terms[r->n_terms[c] - 1].field, func_ref, false,
					 &terms[r->n_terms[c] - 1].pat);
			if (func_ref != LUA_NOREF)
				r->has_func[c] = true;
		}
		lua_pop(L, 1);
	}
}

/*
 * nflog has no "all groups": the daemon binds the groups that rules name.
 * A rule that names the type outright must name its groups; one that gets
 * nflog through a glob sees the hits of the groups other rules bind.
 */
static void nflog_groups_check(lua_State *L, const struct rule *r, nlh_typeset named)
{
	const struct nlh_match_term *t = NULL;

	if (!(named & NLH_TYPE_BIT(NLH_EV_NFLOG)))
		return;
	for (size_t i = 0; i < r->n_terms[NLH_CLASS_NFLOG]; i++)
		if (!strcmp(r->terms[NLH_CLASS_NFLOG][i].field->name, "group"))
			t = &r->terms[NLH_CLASS_NFLOG][i];
	if (!t)
		luaL_error(L, "nlhook.on: an nflog rule must name its groups (group = N or { N, ... }): "
			   "the daemon binds the NFLOG groups that rules name");
	if (!nlh_pattern_groups_plain(&t->pat))
		luaL_error(L, "nlhook.on: field 'group' of an nflog rule must be plain group numbers 0..65535 "
			   "(N or { N, ... }; no glob, negation or function): the daemon binds the NFLOG groups "
			   "that rules name");
}

static void opts_arg(lua_State *L, int idx, struct rule *r)
{
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

		if (!strcmp(k, "debounce")) {
			if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) >= 0) || !isfinite(lua_tonumber(L, -1)))
				luaL_error(L, "nlhook.on: debounce must be a number of seconds >= 0");
			r->debounce = lua_tonumber(L, -1);
		} else if (!strcmp(k, "rate")) {
			if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) > 0) || !isfinite(lua_tonumber(L, -1)))
				luaL_error(L, "nlhook.on: rate must be a number of runs per second > 0");
			r->rate = lua_tonumber(L, -1);
		} else if (!strcmp(k, "name")) {
			if (lua_type(L, -1) != LUA_TSTRING || !*lua_tostring(L, -1))
				luaL_error(L, "nlhook.on: name must be a non-empty string");
			free(r->name);
			r->name = strdup(lua_tostring(L, -1));
			if (!r->name)
				luaL_error(L, "nlhook.on: out of memory");
		} else {
			luaL_error(L, "nlhook.on: unknown option '%s' (debounce, rate, name)", k);
		}
		lua_pop(L, 1);
	}
}

static int api_on(lua_State *L)
{
	struct rules_file *f = rules_file_of(L);
	struct rule **nr, *r;
	nlh_typeset named;
	lua_Debug ar;
	int line = 0;

	if (f->loaded || f->cur_rule)
		return luaL_error(L, "nlhook.on: rules can only be added while the file loads");
	if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
		line = ar.currentline;

	/* Owned by the file from the start: an error half-way leaves it incomplete, and dropped. */
	nr = realloc(f->rules, (f->n_rules + 1) * sizeof(*nr));
	if (!nr)
		return luaL_error(L, "nlhook.on: out of memory");
	f->rules = nr;
	r = calloc(1, sizeof(*r));
	if (!r)
		return luaL_error(L, "nlhook.on: out of memory");
	f->rules[f->n_rules++] = r;
	r->file = f;
	r->action_ref = LUA_NOREF;
	if (asprintf(&r->where, "%s:%d", f->base, line) < 0) {
		r->where = NULL;
		return luaL_error(L, "nlhook.on: out of memory");
	}

	r->types = types_arg(L, 1, &named);
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		match_arg(L, 2, r);
	}
	nflog_groups_check(L, r, named);
	if (lua_isfunction(L, 3)) {
		r->action_reads_event = rules_handler_reads_event(L, 3);
		lua_pushvalue(L, 3);
		r->action_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	} else if (lua_type(L, 3) == LUA_TSTRING) {
		if (lua_tostring(L, 3)[0] != '/')
			luaL_argerror(L, 3, "an action path must be absolute");
		r->action_path = strdup(lua_tostring(L, 3));
		if (!r->action_path)
			return luaL_error(L, "nlhook.on: out of memory");
	} else {
		luaL_argerror(L, 3, "the action must be a function or an executable's path");
	}
	if (!lua_isnoneornil(L, 4)) {
		luaL_checktype(L, 4, LUA_TTABLE);
		opts_arg(L, 4, r);
	}
	if (!r->name && !(r->name = strdup(r->where)))
		return luaL_error(L, "nlhook.on: out of memory");
	r->tokens = r->rate > 1 ? r->rate : 1;
	r->tokens_time = loop_now();
	r->complete = true;
	return 0;
}

void rules_api_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "on", api_on },
		{ "exec", rules_api_exec },
		{ "after", api_after },
		{ "emit", rules_api_emit },
		{ "links", rules_api_links },
		{ "addrs", rules_api_addrs },
		{ "routes", rules_api_routes },
		{ "stations", rules_api_stations },
		{ NULL, NULL },
	};
	static const luaL_Reg mqtt_fns[] = {
		{ "publish", rules_api_mqtt_publish },
		{ NULL, NULL },
	};
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "debug", LOG_DEBUG },
		{ "info", LOG_INFO },
		{ "warn", LOG_WARNING },
		{ "err", LOG_ERR },
	};

	rules_event_open(L);
	luaL_newlib(L, fns);
	lua_createtable(L, 0, 4);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		lua_getglobal(L, "string");
		lua_getfield(L, -1, "format");
		lua_remove(L, -2);
		lua_pushinteger(L, levels[i].level);
		lua_pushcclosure(L, api_log, 2);
		lua_setfield(L, -2, levels[i].name);
	}
	lua_setfield(L, -2, "log");
	if (rules_netns) {
		lua_pushstring(L, rules_netns);
		lua_setfield(L, -2, "netns");
	}
	luaL_newlib(L, mqtt_fns);
	lua_pushstring(L, rules_mqtt_prefix());
	lua_setfield(L, -2, "prefix");
	lua_setfield(L, -2, "mqtt");
	lua_setglobal(L, "nlhook");
}
