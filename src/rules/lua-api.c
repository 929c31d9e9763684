/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/json.h"
#include "core/log.h"
#include "rtnl/rtnl.h"
#include "rules-internal.h"

/*
 * Every rule file gets its own lua_State behind a capped allocator, a
 * sandboxed standard library and the nlhook table.  Every call into Lua
 * goes through rule_pcall(): message handler, C trampoline, lua_pcall, so
 * even building the event table is protected; a count hook enforces the
 * instruction budget.
 */

#define EVENT_MT "nlhook.event"
/* The count hook fires this often; the budget is checked in these steps. */
#define HOOK_STEP 1000
#define ARGV_MAX 4096
#define EMIT_DEPTH_MAX 16

static uint64_t lua_calls;

uint64_t rules_lua_calls(void)
{
	return lua_calls;
}

static struct rules_file *file_of(lua_State *L)
{
	return *(struct rules_file **)lua_getextraspace(L);
}

static const char *ctx_name(const struct rules_file *f)
{
	return f->cur_rule ? f->cur_rule->name : f->base;
}

/* Memory and instruction budgets */

static void *cap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct rules_file *f = ud;
	void *p;

	/* With ptr NULL, osize is the type of the new object, not a size. */
	if (!ptr)
		osize = 0;
	if (!nsize) {
		free(ptr);
		f->mem -= osize;
		return NULL;
	}
	if (nsize > osize && f->mem + (nsize - osize) > f->mem_cap)
		return NULL;
	p = realloc(ptr, nsize);
	if (!p)
		return NULL;
	f->mem = f->mem - osize + nsize;
	return p;
}

static unsigned long hook_step(void)
{
	return rules_budget && rules_budget < HOOK_STEP ? rules_budget : HOOK_STEP;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
	struct rules_file *f = file_of(L);

	if (!f->in_call || !rules_budget)
		return;
	if (!f->overrun) {
		f->used += lua_gethookcount(L);
		if (f->used < rules_budget)
			return;
		f->overrun = true;
	}
	/*
	 * Fire on every instruction from now on: a pcall inside the rule that
	 * catches this error gets the next one right away.
	 */
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
	/* Level 0 in a hook is the running function: name its line, as luaL_error would for a caller. */
	if (lua_getstack(L, 0, ar) && lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
		lua_pushfstring(L, "%s:%d: instruction budget of %I exceeded", ar->short_src, ar->currentline,
				(lua_Integer)rules_budget);
	else
		lua_pushfstring(L, "instruction budget of %I exceeded", (lua_Integer)rules_budget);
	lua_error(L);
}

static int msgh(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			msg = lua_tostring(L, -1);
		else
			msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* Event tables */

static void push_field(lua_State *L, const struct nlh_event *ev, const struct nlh_field *fd)
{
	const void *p = nlh_event_field_ptr(ev, fd);
	char buf[160];

	switch (fd->type) {
	case NLH_FT_STR:
		lua_pushlstring(L, p, strnlen(p, fd->size));
		return;
	case NLH_FT_U32:
	case NLH_FT_U64:
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

static void push_event(lua_State *L, const struct nlh_event *ev)
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
	for (size_t i = 0; i < d->n_fields; i++) {
		if (!nlh_event_has(ev, &d->fields[i]))
			continue;
		push_field(L, ev, &d->fields[i]);
		lua_setfield(L, -2, d->fields[i].name);
	}
	luaL_setmetatable(L, EVENT_MT);
}

/* The one way into Lua */

enum call_kind {
	CALL_PREDICATES,
	CALL_ACTION,
	CALL_FN,		/* ref(args): on_exit, after */
};

struct call {
	enum call_kind kind;
	struct rule *r;
	const struct nlh_event *ev;
	int ref;
	/* CALL_FN with on_exit's arguments when has_status */
	bool has_status;
	int status;
	const char *out, *err;
	size_t out_len, err_len;
	bool result;
};

static int tramp(lua_State *L)
{
	struct call *c = lua_touserdata(L, 1);
	struct rules_file *f = c->r->file;
	enum nlh_class cls;
	int ev_idx;

	switch (c->kind) {
	case CALL_PREDICATES:
		push_event(L, c->ev);
		ev_idx = lua_gettop(L);
		f->cur_ev_table = lua_topointer(L, ev_idx);
		cls = nlh_event_type_class(c->ev->type);
		c->result = false;
		for (size_t i = 0; i < c->r->n_terms[cls]; i++) {
			const struct nlh_match_term *t = &c->r->terms[cls][i];

			if (t->pat.kind != NLH_PAT_FUNC)
				continue;
			if (!nlh_event_has(c->ev, t->field))
				return 0;
			lua_rawgeti(L, LUA_REGISTRYINDEX, t->pat.func_ref);
			push_field(L, c->ev, t->field);
			lua_pushvalue(L, ev_idx);
			lua_call(L, 2, 1);
			if (!lua_toboolean(L, -1))
				return 0;
			lua_pop(L, 1);
		}
		c->result = true;
		return 0;
	case CALL_ACTION:
		lua_rawgeti(L, LUA_REGISTRYINDEX, c->r->action_ref);
		push_event(L, c->ev);
		f->cur_ev_table = lua_topointer(L, -1);
		lua_call(L, 1, 0);
		return 0;
	case CALL_FN:
		lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
		if (!c->has_status) {
			lua_call(L, 0, 0);
			return 0;
		}
		lua_pushinteger(L, c->status);
		lua_pushlstring(L, c->out ? c->out : "", c->out ? c->out_len : 0);
		lua_pushlstring(L, c->err ? c->err : "", c->err ? c->err_len : 0);
		lua_call(L, 3, 0);
		return 0;
	}
	return 0;
}

static void rule_failed(struct rule *r, int code, const char *msg)
{
	struct rules_file *f = r->file;
	const char *tb = msg ? strstr(msg, "\nstack traceback:") : NULL;
	int len = tb ? (int)(tb - msg) : msg ? (int)strlen(msg) : 0;
	char who[256];

	if (strcmp(r->name, r->where))
		snprintf(who, sizeof(who), "rule %s (%s)", r->name, r->where);
	else
		snprintf(who, sizeof(who), "rule %s", r->where);

	r->st.errors++;
	r->consecutive_errors++;
	switch (code) {
	case LUA_ERRRUN:
		log_err("%s: runtime error: %.*s", who, len, msg ? msg : "?");
		break;
	case LUA_ERRMEM:
		log_err("%s: out of memory: the file's Lua state is capped at %zu KiB", who, f->mem_cap >> 10);
		break;
	case LUA_ERRERR:
		log_err("%s: error in the error handler: %.*s", who, len, msg ? msg : "?");
		break;
	default:
		log_err("%s: Lua error %d: %.*s", who, code, len, msg ? msg : "?");
		break;
	}
	if (tb)
		log_debug("%s: %s", who, tb + 1);
	if (r->consecutive_errors >= rules_max_failures && !r->st.disabled) {
		r->st.disabled = true;
		log_err("%s: disabled after %u consecutive failures", who, r->consecutive_errors);
	}
}

static int rule_pcall(struct call *c)
{
	struct rule *r = c->r;
	struct rules_file *f = r->file;
	lua_State *L = f->L;
	struct rules_file saved = *f;
	int top, ret;
	double t0;

	if (!lua_checkstack(L, 4)) {
		rule_failed(r, LUA_ERRMEM, NULL);
		return LUA_ERRMEM;
	}
	lua_calls++;
	top = lua_gettop(L);
	f->cur_rule = r;
	f->cur_ev = c->ev;
	f->cur_ev_table = NULL;
	f->used = 0;
	f->overrun = false;
	f->in_call = true;
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, (int)hook_step());
	lua_pushcfunction(L, msgh);
	lua_pushcfunction(L, tramp);
	lua_pushlightuserdata(L, c);
	t0 = loop_now();
	ret = lua_pcall(L, 1, 0, top + 1);
	r->st.time += loop_now() - t0;
	if (ret != LUA_OK) {
		rule_failed(r, ret, lua_tostring(L, -1));
		if (ret == LUA_ERRMEM)
			lua_gc(L, LUA_GCCOLLECT);
	} else {
		r->consecutive_errors = 0;
	}
	lua_settop(L, top);
	f->cur_rule = saved.cur_rule;
	f->cur_ev = saved.cur_ev;
	f->cur_ev_table = saved.cur_ev_table;
	f->used = saved.used;
	f->overrun = saved.overrun;
	f->in_call = saved.in_call;
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, (int)hook_step());
	return ret;
}

bool rule_predicates(struct rule *r, const struct nlh_event *ev)
{
	struct call c = { .kind = CALL_PREDICATES, .r = r, .ev = ev };

	return rule_pcall(&c) == LUA_OK && c.result;
}

/* Actions and exec */

struct job {
	struct rule *r;
	int ref;		/* on_exit, or LUA_NOREF */
};

static int wait_status_code(int status)
{
	if (status < 0)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* exec logs failures and exit statuses itself. */
static void job_done(int status, const char *out, size_t out_len, const char *err, size_t err_len, void *data)
{
	struct job *j = data;
	int code = wait_status_code(status);

	if (j->ref != LUA_NOREF && !j->r->st.disabled) {
		struct call c = {
			.kind = CALL_FN, .r = j->r, .ref = j->ref, .has_status = true, .status = code,
			.out = out, .out_len = out_len, .err = err, .err_len = err_len,
		};

		rule_pcall(&c);
	}
}

static void job_destroy(void *data)
{
	struct job *j = data;

	if (j->ref != LUA_NOREF)
		luaL_unref(j->r->file->L, LUA_REGISTRYINDEX, j->ref);
	free(j);
}

/* Takes the on_exit ref, whatever happens. */
static int rule_exec(struct rule *r, const struct exec_opts *o, int ref)
{
	struct job *j;
	int ret;

	if (!r->q && !(r->q = exec_queue_new(r->name))) {
		ret = -ENOMEM;
		goto fail;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		ret = -ENOMEM;
		goto fail;
	}
	j->r = r;
	j->ref = ref;
	ret = exec_queue_push(r->q, o, job_done, j, job_destroy);
	if (ret < 0) {
		/* A push that failed did not take the job. */
		log_err("rule %s: cannot queue %s: %s", r->name, o->argv[0], strerror(-ret));
		job_destroy(j);
	}
	return ret;
fail:
	if (ref != LUA_NOREF)
		luaL_unref(r->file->L, LUA_REGISTRYINDEX, ref);
	log_err("rule %s: cannot queue %s: %s", r->name, o->argv[0], strerror(-ret));
	return ret;
}

static void print_word(const char *s)
{
	if (*s && !s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-")]) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

void rule_run(struct rule *r, const struct nlh_event *ev)
{
	r->st.runs++;
	if (r->action_ref != LUA_NOREF) {
		struct call c = { .kind = CALL_ACTION, .r = r, .ev = ev };

		rule_pcall(&c);
		return;
	}
	if (rules_dry_run(r->file)) {
		printf("exec %s: ", r->name);
		print_word(r->action_path);
		putchar('\n');
		fflush(stdout);
		return;
	}
	{
		char *argv[] = { r->action_path, NULL };
		char **env = nlh_event_env(ev);
		struct exec_opts o = { .argv = argv, .env = env, .timeout = rules_exec_timeout };

		if (!env) {
			log_err("rule %s: out of memory, %s not run", r->name, r->action_path);
			return;
		}
		rule_exec(r, &o, LUA_NOREF);
		free(env);
	}
}

/* nlhook.* */

static struct rule *handler_rule(lua_State *L, const char *what)
{
	struct rules_file *f = file_of(L);

	if (!f->cur_rule)
		luaL_error(L, "%s can only be called from a handler, not while the file loads", what);
	return f->cur_rule;
}

/* A malloc'd block owned by a userdata on the stack, freed by the GC even if an error unwinds. */
static int box_gc(lua_State *L)
{
	void **b = lua_touserdata(L, 1);

	free(*b);
	*b = NULL;
	return 0;
}

static void **box_new(lua_State *L)
{
	void **b = lua_newuserdatauv(L, sizeof(void *), 0);

	*b = NULL;
	if (luaL_newmetatable(L, "nlhook.box")) {
		lua_pushcfunction(L, box_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return b;
}

static const char *opt_string(lua_State *L, int idx)
{
	return lua_type(L, idx) == LUA_TNUMBER || lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
}

static int api_exec(lua_State *L)
{
	struct rules_file *f = file_of(L);
	struct rule *r = handler_rule(L, "nlhook.exec");
	struct exec_opts o = { .timeout = rules_exec_timeout };
	char **argv, **env, **base = NULL;
	size_t n_argv, n_base = 0, n_env;
	int ref = LUA_NOREF, env_idx = 0;
	void **box;

	luaL_checktype(L, 1, LUA_TTABLE);
	n_argv = lua_rawlen(L, 1);
	luaL_argcheck(L, n_argv > 0, 1, "argv must not be empty");
	luaL_argcheck(L, n_argv <= ARGV_MAX, 1, "too many arguments");
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		lua_pushnil(L);
		while (lua_next(L, 2)) {
			const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

			if (!strcmp(k, "env")) {
				luaL_argcheck(L, lua_istable(L, -1), 2, "env must be a table");
			} else if (!strcmp(k, "timeout")) {
				luaL_argcheck(L, lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0, 2,
					      "timeout must be a number of seconds");
				o.timeout = lua_tonumber(L, -1);
			} else if (!strcmp(k, "cwd")) {
				luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2, "cwd must be a string");
			} else if (!strcmp(k, "on_exit")) {
				luaL_argcheck(L, lua_isfunction(L, -1), 2, "on_exit must be a function");
			} else {
				return luaL_error(L, "nlhook.exec: unknown option '%s'", k);
			}
			lua_pop(L, 1);
		}
	}

	/* argv: the strings stay on the stack while we point at them. */
	luaL_checkstack(L, n_argv + 8, "too many arguments");
	argv = lua_newuserdatauv(L, (n_argv + 1) * sizeof(char *), 0);
	for (size_t i = 0; i < n_argv; i++) {
		lua_rawgeti(L, 1, i + 1);
		argv[i] = (char *)opt_string(L, -1);
		if (!argv[i])
			return luaL_error(L, "nlhook.exec: argv[%d] is a %s, not a string", (int)i + 1,
					  luaL_typename(L, -1));
	}
	argv[n_argv] = NULL;
	o.argv = argv;

	/* env: the event's, then opts.env over it. */
	box = box_new(L);
	if (f->cur_ev) {
		*box = base = nlh_event_env(f->cur_ev);
		if (!base)
			return luaL_error(L, "nlhook.exec: out of memory");
		while (base[n_base])
			n_base++;
	}
	n_env = n_base;
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "env");
		if (lua_istable(L, -1)) {
			env_idx = lua_gettop(L);
			lua_pushnil(L);
			while (lua_next(L, env_idx)) {
				n_env++;
				lua_pop(L, 1);
			}
		}
	}
	env = lua_newuserdatauv(L, (n_env + 2) * sizeof(char *), 0);
	if (n_base)
		memcpy(env, base, n_base * sizeof(char *));
	n_env = n_base;
	if (!f->cur_ev)
		env[n_env++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	if (env_idx) {
		luaL_checkstack(L, lua_gettop(L) + 16, NULL);
		lua_createtable(L, 0, 0);	/* anchors the "K=V" strings */
		lua_pushnil(L);
		while (lua_next(L, env_idx)) {
			const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
			const char *v = opt_string(L, -1);
			size_t kl, j;

			if (!k || !*k || strchr(k, '=') || !v)
				return luaL_error(L, "nlhook.exec: env must map names to strings");
			kl = strlen(k);
			lua_pushfstring(L, "%s=%s", k, v);
			for (j = 0; j < n_env; j++)
				if (!strncmp(env[j], k, kl) && env[j][kl] == '=')
					break;
			env[j] = (char *)lua_tostring(L, -1);
			if (j == n_env)
				n_env++;
			lua_rawseti(L, -4, lua_rawlen(L, -4) + 1);
			lua_pop(L, 1);
		}
	}
	env[n_env] = NULL;
	o.env = env;
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "cwd");
		o.cwd = lua_tostring(L, -1);
		lua_getfield(L, 2, "on_exit");
	} else {
		lua_pushnil(L);
	}

	if (rules_dry_run(f)) {
		printf("exec %s:", r->name);
		for (size_t i = 0; argv[i]; i++) {
			putchar(' ');
			print_word(argv[i]);
		}
		for (size_t i = n_base; i < n_env; i++) {
			printf(i == n_base ? " env " : " ");
			print_word(env[i]);
		}
		if (o.cwd) {
			printf(" cwd ");
			print_word(o.cwd);
		}
		putchar('\n');
		fflush(stdout);
		lua_pushboolean(L, 1);
		return 1;
	}
	if (lua_isfunction(L, -1))
		ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (rule_exec(r, &o, ref) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, "cannot queue the command");
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
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
			return;
		}
	}
}

static void after_fire(void *data)
{
	struct after *a = data;
	struct call c = { .kind = CALL_FN, .r = a->r, .ref = a->ref };

	after_unlink(a);
	if (!a->r->st.disabled)
		rule_pcall(&c);
	luaL_unref(a->r->file->L, LUA_REGISTRYINDEX, a->ref);
	loop_timer_free(a->t);
	free(a);
}

static int api_after(lua_State *L)
{
	struct rules_file *f = file_of(L);
	struct rule *r = handler_rule(L, "nlhook.after");
	double s = luaL_checknumber(L, 1);
	struct after *a;

	luaL_argcheck(L, s >= 0 && isfinite(s), 1, "seconds must be a number >= 0");
	luaL_checktype(L, 2, LUA_TFUNCTION);
	if (rules_dry_run(f)) {
		printf("after %s: %g s\n", r->name, s);
		fflush(stdout);
		return 0;
	}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->t = loop_timer_new(after_fire, a))) {
		free(a);
		return luaL_error(L, "nlhook.after: out of memory");
	}
	lua_pushvalue(L, 2);
	a->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	a->r = r;
	a->next = f->afters;
	f->afters = a;
	loop_timer_arm(a->t, s);
	return 0;
}

static int api_log(lua_State *L)
{
	struct rules_file *f = file_of(L);
	int level = lua_tointeger(L, lua_upvalueindex(2));
	int n = lua_gettop(L);
	const char *msg;

	/* string.format as it was when the file loaded: the rule may reassign string. */
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, n, 1);
	msg = lua_tostring(L, -1);
	if (level <= log_max_level)
		log_msg(level, "%s: %s", ctx_name(f), msg ? msg : "");
	return 0;
}

static bool is_event_table(lua_State *L, int idx)
{
	bool r;

	if (!lua_getmetatable(L, idx))
		return false;
	luaL_getmetatable(L, EVENT_MT);
	r = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return r;
}

static void emit_value(lua_State *L, int idx, struct sbuf *b, int depth, const struct nlh_field *fd);

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

/* Fields of an event table in class order, with the event's renderings (SSID escaped, payload hex). */
static void emit_event_table(lua_State *L, int idx, struct sbuf *b, int depth)
{
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
			if (i == 1 && lua_type(L, -1) == LUA_TNUMBER)
				emit_number(L, -1, b, true);
			else
				emit_value(L, lua_gettop(L), b, depth + 1, NULL);
		}
		lua_pop(L, 1);
	}
	for (size_t i = 0; d && i < d->n_fields; i++) {
		if (lua_getfield(L, idx, d->fields[i].name) != LUA_TNIL) {
			emit_key(b, &first, d->fields[i].name, strlen(d->fields[i].name));
			emit_value(L, lua_gettop(L), b, depth + 1, &d->fields[i]);
		}
		lua_pop(L, 1);
	}
	/* Whatever the rule added. */
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		bool known = !k || !strcmp(k, "type") || !strcmp(k, "time") || !strcmp(k, "netns") ||
			     (d && nlh_field_find(d - nlh_classes, k));

		if (!known) {
			emit_key(b, &first, k, strlen(k));
			emit_value(L, lua_gettop(L), b, depth + 1, NULL);
		}
		lua_pop(L, 1);
	}
	sbuf_puts(b, "}");
}

static void emit_table(lua_State *L, int idx, struct sbuf *b, int depth)
{
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
			emit_value(L, lua_gettop(L), b, depth + 1, NULL);
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
			/* A copy: lua_tolstring on the key itself would confuse lua_next. */
			lua_pushvalue(L, -2);
			k = lua_tolstring(L, -1, &kl);
			emit_key(b, &first, k, kl);
			lua_pop(L, 1);
			emit_value(L, lua_gettop(L), b, depth + 1, NULL);
		}
		lua_pop(L, 1);
	}
	sbuf_puts(b, "}");
}

static void emit_value(lua_State *L, int idx, struct sbuf *b, int depth, const struct nlh_field *fd)
{
	size_t len;
	const char *s;
	char tmp[4 * NLH_SSID_MAX + 1];

	luaL_checkstack(L, 8, NULL);
	switch (lua_type(L, idx)) {
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		if (fd && fd->type == NLH_FT_SSID && len <= NLH_SSID_MAX) {
			struct nlh_ssid ssid = { .len = len };

			memcpy(ssid.b, s, len);
			nlh_ssid_format(&ssid, tmp, sizeof(tmp));
			sbuf_json_str(b, tmp, strlen(tmp));
		} else if (fd && fd->type == NLH_FT_BYTES) {
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
		if (depth >= EMIT_DEPTH_MAX)
			luaL_error(L, "nlhook.emit: tables nested deeper than %d", EMIT_DEPTH_MAX);
		if (is_event_table(L, idx))
			emit_event_table(L, idx, b, depth);
		else
			emit_table(L, idx, b, depth);
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

static int api_emit(lua_State *L)
{
	struct rules_file *f = file_of(L);
	struct sbuf *b;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	b = lua_newuserdatauv(L, sizeof(*b), 0);
	memset(b, 0, sizeof(*b));
	if (luaL_newmetatable(L, "nlhook.sbuf")) {
		lua_pushcfunction(L, sbuf_box_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	if (f->cur_ev && lua_topointer(L, 1) == f->cur_ev_table) {
		/* The event as the handler got it: the one rendering everyone uses. */
		size_t size = 4096;
		int n;

		for (;;) {
			char *p = realloc(b->p, size);

			if (!p)
				return luaL_error(L, "nlhook.emit: out of memory");
			b->p = p;
			b->cap = size;
			n = nlh_event_json(f->cur_ev, b->p, size);
			if (n != -ENOSPC || size >= JSON_MAX_SIZE * 16)
				break;
			size *= 4;
		}
		b->len = n < 0 ? strlen(b->p) : (size_t)n;
	} else {
		emit_value(L, 1, b, 0, NULL);
	}
	if (b->oom)
		return luaL_error(L, "nlhook.emit: out of memory");
	if (rules_dry_run(f)) {
		printf("emit %s: %.*s\n", ctx_name(f), (int)b->len, b->p ? b->p : "");
		fflush(stdout);
	} else {
		evlog_write(b->p ? b->p : "", b->len);
	}
	return 0;
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

static int push_state(lua_State *L, enum nlh_class c)
{
	struct state_list s = { .max = rtnl_state_count(c) };

	void **box = box_new(L);

	/*
	 * Copied first: no Lua error may unwind through the rtnl iteration.
	 * Outside the capped heap, so that only the tables count against it.
	 */
	*box = s.evs = malloc((s.max ? s.max : 1) * sizeof(*s.evs));
	if (!s.evs)
		return luaL_error(L, "out of memory");
	rtnl_state_foreach(c, state_collect, &s);
	lua_createtable(L, s.n, 0);
	for (size_t i = 0; i < s.n; i++) {
		push_event(L, &s.evs[i]);
		lua_rawseti(L, -2, i + 1);
	}
	free(*box);
	*box = NULL;
	return 1;
}

static int api_links(lua_State *L)
{
	return push_state(L, NLH_CLASS_LINK);
}

static int api_addrs(lua_State *L)
{
	return push_state(L, NLH_CLASS_ADDR);
}

static int api_routes(lua_State *L)
{
	return push_state(L, NLH_CLASS_ROUTE);
}

/* nlhook.on */

static bool has_glob_meta(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static nlh_typeset type_arg(lua_State *L, int idx)
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
	return NLH_TYPE_BIT(t);
}

static nlh_typeset types_arg(lua_State *L, int idx)
{
	nlh_typeset set = 0;
	size_t n;

	if (lua_type(L, idx) != LUA_TTABLE)
		return type_arg(L, idx);
	n = lua_rawlen(L, idx);
	if (!n)
		luaL_error(L, "nlhook.on: the list of event types is empty");
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, i);
		set |= type_arg(L, lua_gettop(L));
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
	const char *s;
	size_t len, n;
	int r;

	switch (lua_type(L, idx)) {
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		r = nlh_pattern_from_bytes(s, len, fd, p);
		if (r == -ENOMEM)
			luaL_error(L, "nlhook.on: out of memory");
		if (r < 0)
			luaL_error(L, "nlhook.on: field '%s': '%s' is not a pattern for %s", fd->name, s,
				   ftype_name(fd->type));
		return;
	case LUA_TNUMBER:
		if (fd->type != NLH_FT_U32 && fd->type != NLH_FT_U64 && fd->type != NLH_FT_BOOL)
			luaL_error(L, "nlhook.on: field '%s' is %s: a number cannot match it (quote it for a glob)",
				   fd->name, ftype_name(fd->type));
		if (!lua_isinteger(L, idx) && lua_tonumber(L, idx) != floor(lua_tonumber(L, idx)))
			luaL_error(L, "nlhook.on: field '%s': %f is not an integer", fd->name, lua_tonumber(L, idx));
		if (lua_tonumber(L, idx) < 0)
			luaL_error(L, "nlhook.on: field '%s': %s is negative", fd->name, lua_tostring(L, idx));
		/* 1e300 or inf passes the integer test; converting it would be undefined. */
		if (!lua_isinteger(L, idx) && !(lua_tonumber(L, idx) < 18446744073709551616.0))
			luaL_error(L, "nlhook.on: field '%s': %s is out of range", fd->name, lua_tostring(L, idx));
		p->kind = NLH_PAT_NUM;
		p->num = lua_isinteger(L, idx) ? (uint64_t)lua_tointeger(L, idx) : (uint64_t)lua_tonumber(L, idx);
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
	struct rules_file *f = file_of(L);
	struct rule **nr, *r;
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

	r->types = types_arg(L, 1);
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		match_arg(L, 2, r);
	}
	if (lua_isfunction(L, 3)) {
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

/* The sandbox */

static int load_text_only(lua_State *L)
{
	int n = lua_gettop(L);

	/* load(chunk [, chunkname [, mode [, env]]]): the mode is always "t". */
	lua_settop(L, 4);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_pushliteral(L, "t");
	if (n >= 4) {
		lua_pushvalue(L, 4);
		lua_call(L, 4, LUA_MULTRET);
	} else {
		lua_call(L, 3, LUA_MULTRET);
	}
	return lua_gettop(L) - 4;
}

/*
 * Finalizers run with hooks off (lgc.c stops them around __gc): a __gc
 * that loops would escape the budget.  Refuse metatables with one.
 */
static int setmetatable_no_gc(lua_State *L)
{
	if (lua_istable(L, 2)) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc metamethods are not available to rules");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* require of Lua modules, as text only (the stock searcher accepts bytecode). */
static int searcher_text(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *file;

	lua_pushvalue(L, lua_upvalueindex(2));	/* package.searchpath */
	lua_pushstring(L, name);
	lua_getfield(L, lua_upvalueindex(1), "path");
	if (lua_type(L, -1) != LUA_TSTRING)
		return luaL_error(L, "package.path must be a string");
	lua_call(L, 2, 2);
	if (lua_isnil(L, -2))
		return 1;	/* the error message from searchpath */
	lua_pop(L, 1);
	file = lua_tostring(L, -1);
	if (luaL_loadfilex(L, file, "t") != LUA_OK)
		return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
				  lua_tostring(L, -1));
	lua_pushstring(L, file);
	return 2;
}

static void setfield_nil(lua_State *L, const char *table, const char *field)
{
	if (lua_getglobal(L, table) == LUA_TTABLE) {
		lua_pushnil(L);
		lua_setfield(L, -2, field);
	}
	lua_pop(L, 1);
}

static void sandbox(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base },
		{ LUA_LOADLIBNAME, luaopen_package },
		{ LUA_COLIBNAME, luaopen_coroutine },
		{ LUA_TABLIBNAME, luaopen_table },
		{ LUA_IOLIBNAME, luaopen_io },
		{ LUA_OSLIBNAME, luaopen_os },
		{ LUA_STRLIBNAME, luaopen_string },
		{ LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 },
		/* No debug: debug.sethook would lift the budget. */
	};

	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		luaL_requiref(L, libs[i].name, libs[i].func, 1);
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	lua_setglobal(L, "dofile");
	lua_pushnil(L);
	lua_setglobal(L, "loadfile");
	lua_getglobal(L, "load");
	lua_pushcclosure(L, load_text_only, 1);
	lua_setglobal(L, "load");
	lua_getglobal(L, "setmetatable");
	lua_pushcclosure(L, setmetatable_no_gc, 1);
	lua_setglobal(L, "setmetatable");
	setfield_nil(L, "os", "execute");
	setfield_nil(L, "os", "exit");
	setfield_nil(L, "io", "popen");
	setfield_nil(L, "package", "loadlib");

	lua_getglobal(L, "package");
	lua_pushliteral(L, "");
	lua_setfield(L, -2, "cpath");
	lua_createtable(L, 2, 0);
	lua_getfield(L, -2, "searchers");
	lua_rawgeti(L, -1, 1);		/* package.preload */
	lua_rawseti(L, -3, 1);
	lua_pop(L, 1);
	lua_pushvalue(L, -2);
	lua_getfield(L, -3, "searchpath");
	lua_pushcclosure(L, searcher_text, 2);
	lua_rawseti(L, -2, 2);
	lua_setfield(L, -2, "searchers");
	lua_pop(L, 1);
}

static void api_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "on", api_on },
		{ "exec", api_exec },
		{ "after", api_after },
		{ "emit", api_emit },
		{ "links", api_links },
		{ "addrs", api_addrs },
		{ "routes", api_routes },
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

	luaL_newmetatable(L, EVENT_MT);
	lua_pushliteral(L, "nlhook event");
	lua_setfield(L, -2, "__name");
	lua_pop(L, 1);

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
	/* nlhook.netns stays nil: one daemon per namespace for now. */
	lua_setglobal(L, "nlhook");
}

struct load_args {
	struct rules_file *f;
	const char *buf;
	size_t len;
};

static int load_tramp(lua_State *L)
{
	struct load_args *a = lua_touserdata(L, 1);
	char *chunkname;

	sandbox(L);
	api_open(L);
	chunkname = lua_newuserdatauv(L, strlen(a->f->path) + 2, 0);
	chunkname[0] = '@';
	strcpy(chunkname + 1, a->f->path);
	if (luaL_loadbufferx(L, a->buf, a->len, chunkname, "t") != LUA_OK)
		return lua_error(L);
	lua_call(L, 0, 0);
	return 0;
}

int rules_file_load(struct rules_file *f, const char *buf, size_t len, char *err, size_t errlen)
{
	struct load_args a = { f, buf, len };
	const char *msg, *tb;
	lua_State *L;
	size_t kept = 0;
	int r;

	f->mem_cap = rules_mem_cap;
	f->L = L = lua_newstate(cap_alloc, f);
	if (!L) {
		snprintf(err, errlen, "%s: cannot create a Lua state", f->path);
		return -ENOMEM;
	}
	*(struct rules_file **)lua_getextraspace(L) = f;
	lua_calls++;
	f->used = 0;
	f->overrun = false;
	f->in_call = true;
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, (int)hook_step());
	lua_pushcfunction(L, msgh);
	lua_pushcfunction(L, load_tramp);
	lua_pushlightuserdata(L, &a);
	r = lua_pcall(L, 1, 0, 1);
	f->in_call = false;
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, (int)hook_step());
	if (r != LUA_OK) {
		msg = r == LUA_ERRMEM ? NULL : lua_tostring(L, -1);
		if (!msg) {
			snprintf(err, errlen, "%s: out of memory: the file's Lua state is capped at %zu KiB", f->path,
				 f->mem_cap >> 10);
		} else {
			tb = strstr(msg, "\nstack traceback:");
			/* Lua names the place as "PATH:LINE:" already, except for a few errors. */
			if (strncmp(msg, f->path, strlen(f->path)))
				snprintf(err, errlen, "%s: %.*s", f->path, tb ? (int)(tb - msg) : (int)strlen(msg), msg);
			else
				snprintf(err, errlen, "%.*s", tb ? (int)(tb - msg) : (int)strlen(msg), msg);
		}
		lua_settop(L, 0);
		return -EINVAL;
	}
	lua_settop(L, 0);
	/* Rules whose nlhook.on raised (and was caught by a pcall) are dropped. */
	for (size_t i = 0; i < f->n_rules; i++) {
		if (f->rules[i]->complete)
			f->rules[kept++] = f->rules[i];
		else
			rule_free(f->rules[i]);
	}
	f->n_rules = kept;
	f->loaded = true;
	return 0;
}

void rules_file_close(struct rules_file *f)
{
	if (!f->L)
		return;
	/* Queues and timers hold registry refs: release them while the state lives. */
	for (size_t i = 0; i < f->n_rules; i++) {
		if (f->rules[i]->q)
			exec_queue_free(f->rules[i]->q);
		f->rules[i]->q = NULL;
		loop_timer_free(f->rules[i]->debounce_timer);
		f->rules[i]->debounce_timer = NULL;
	}
	while (f->afters) {
		struct after *a = f->afters;

		f->afters = a->next;
		loop_timer_free(a->t);
		free(a);
	}
	f->in_call = false;
	lua_close(f->L);
	f->L = NULL;
}
