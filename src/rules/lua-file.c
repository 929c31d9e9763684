/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/log.h"
#include "rules-internal.h"

/*
 * Every rule file gets its own lua_State behind a capped allocator, a
 * sandboxed standard library and the nlhook table.  Every call into Lua
 * goes through rule_pcall(): message handler, C trampoline, lua_pcall, so
 * even building the event table is protected; a count hook enforces the
 * instruction budget.
 */

/* The count hook fires this often; the budget is checked in these steps. */
#define HOOK_STEP 1000

static uint64_t lua_calls;

uint64_t rules_lua_calls(void)
{
	return lua_calls;
}

struct rules_file *rules_file_of(lua_State *L)
{
	return *(struct rules_file **)lua_getextraspace(L);
}

const char *rules_ctx_name(const struct rules_file *f)
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

/* Adds n to what the running call used; true once the budget is spent (it stays spent). */
static bool budget_spend(struct rules_file *f, unsigned long n)
{
	if (!f->in_call || !rules_budget)
		return false;
	if (!f->overrun) {
		if (n < rules_budget - f->used) {
			f->used += n;
			return false;
		}
		f->used = rules_budget;
		f->overrun = true;
	}
	return true;
}

static void budget_hook(lua_State *L, lua_Debug *ar);

/*
 * Fire on every instruction from now on: a pcall inside the rule that
 * catches this error gets the next one right away.  The main thread too,
 * when a coroutine overran.
 */
static void budget_latch(lua_State *L)
{
	struct rules_file *f = rules_file_of(L);

	lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
	if (L != f->L)
		lua_sethook(f->L, budget_hook, LUA_MASKCOUNT, 1);
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
	if (!budget_spend(rules_file_of(L), lua_gethookcount(L)))
		return;
	budget_latch(L);
	/* Level 0 in a hook is the running function: name its line, as luaL_error would for a caller. */
	if (lua_getstack(L, 0, ar) && lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
		lua_pushfstring(L, "%s:%d: instruction budget of %I exceeded", ar->short_src, ar->currentline,
				(lua_Integer)rules_budget);
	else
		lua_pushfstring(L, "instruction budget of %I exceeded", (lua_Integer)rules_budget);
	lua_error(L);
}

/* FNV-1a: enough to tell a changed file from the same one in a stuck-rule record. */
uint64_t rules_text_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

/* Watchdog: what runs now, read from a signal handler */

double rules_stuck_soft = 2;
double rules_stuck_hard = 10;
const char *rules_stuck_path;

struct running {
	struct rules_file *f;
	const char *name;		/* the rule, or NULL while the file loads */
	const char *where;
	lua_State *L;
	double start;			/* loop_now() */
	volatile sig_atomic_t held;	/* in a wait of the daemon's own: not counted */
	double held_since;
	volatile sig_atomic_t stuck_ms;	/* time run when interrupted; 0 before */
	volatile sig_atomic_t stuck_said;
};

static struct running *volatile running;

static void running_push(struct running *run, struct running **prev)
{
	*prev = running;
	atomic_signal_fence(memory_order_seq_cst);
	running = run;
}

static void running_pop(struct running *prev)
{
	running = prev;
	atomic_signal_fence(memory_order_seq_cst);
}

/* After the soft limit: the next Lua instruction raises, and every one after it (pcall cannot swallow it). */
static void stuck_hook(lua_State *L, lua_Debug *ar)
{
	struct running *run = running;
	int ds = run ? (int)run->stuck_ms / 100 : 0;	/* tenths of a second */

	lua_sethook(L, stuck_hook, LUA_MASKCOUNT, 1);
	if (lua_getstack(L, 0, ar) && lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
		lua_pushfstring(L, "%s:%d: stuck: still running after %d.%d s (wall clock)", ar->short_src,
				ar->currentline, ds / 10, ds % 10);
	else
		lua_pushfstring(L, "stuck: still running after %d.%d s (wall clock)", ds / 10, ds % 10);
	lua_error(L);
}

/* Async-signal-safe output: no stdio, no malloc. */
static void put(int fd, const char *s)
{
	ssize_t n = write(fd, s, strlen(s));

	(void)n;
}

static void put_num(int fd, unsigned long long v)
{
	char b[24], *p = b + sizeof(b);

	*--p = '\0';
	do
		*--p = '0' + v % 10;
	while (v /= 10);
	put(fd, p);
}

static void stuck_record(const struct running *run, double secs)
{
	int fd;

	if (!rules_stuck_path)
		return;
	fd = open(rules_stuck_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	/* path, source hash, seconds, rule */
	put(fd, run->f->path);
	put(fd, "\n");
	put_num(fd, run->f->text_hash);
	put(fd, "\n");
	put_num(fd, (unsigned long long)secs);
	put(fd, "\n");
	put(fd, run->name ? run->name : "(loading)");
	put(fd, "\n");
	fsync(fd);
	close(fd);
}

/*
 * A wait of the daemon's own inside a call (the route dump a first
 * nlhook.routes() waits for, which has its own timeout) is not the rule's
 * time: the clock stops for it.
 */
void rules_watchdog_hold(void)
{
	struct running *run = running;

	if (!run)
		return;
	run->held_since = loop_now();
	atomic_signal_fence(memory_order_seq_cst);
	run->held = 1;
}

void rules_watchdog_release(void)
{
	struct running *run = running;

	if (!run || !run->held)
		return;
	run->start += loop_now() - run->held_since;
	atomic_signal_fence(memory_order_seq_cst);
	run->held = 0;
}

void rules_watchdog_probe(void)
{
	struct running *run = running;
	double secs;

	if (!run || run->held)
		return;
	secs = loop_now() - run->start;
	if (secs >= rules_stuck_hard) {
		put(2, log_prefix(LOG_CRIT));
		put(2, run->name ? "rule " : "loading ");
		put(2, run->name ? run->name : run->f->path);
		if (run->where && strcmp(run->where, run->name)) {
			put(2, " (");
			put(2, run->where);
			put(2, ")");
		}
		put(2, " has been running for ");
		put_num(2, (unsigned long long)secs);
		put(2, " s inside C code that does not return: aborting; ");
		put(2, run->f->path);
		put(2, " stays disabled until it changes or the rules are reloaded\n");
		stuck_record(run, secs);
		abort();
	}
	if (secs >= rules_stuck_soft && !run->stuck_ms) {
		/* Never 0 once set: a soft limit under a second still counts as stuck. */
		run->stuck_ms = (sig_atomic_t)(secs * 1000) | 1;
		/* lua_sethook is safe from a signal handler (lua.c stops scripts on SIGINT this way). */
		lua_sethook(run->L, stuck_hook, LUA_MASKCOUNT, 1);
	}
}

void rules_budget_charge(lua_State *L, unsigned long n)
{
	lua_Debug ar;

	if (!budget_spend(rules_file_of(L), n))
		return;
	budget_latch(L);
	/* Called from C: name the nearest Lua line, past pcall and other C frames. */
	for (int level = 1; lua_getstack(L, level, &ar); level++) {
		if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
			lua_pushfstring(L, "%s:%d: instruction budget of %I exceeded", ar.short_src, ar.currentline,
					(lua_Integer)rules_budget);
			lua_error(L);
		}
	}
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
	enum nlh_class cls;
	int ev_idx;

	switch (c->kind) {
	case CALL_PREDICATES:
		rules_push_event_object(L, c->ev);
		ev_idx = lua_gettop(L);
		cls = nlh_event_type_class(c->ev->type);
		c->result = false;
		for (size_t i = 0; i < c->r->n_terms[cls]; i++) {
			const struct nlh_match_term *t = &c->r->terms[cls][i];

			if (t->pat.kind != NLH_PAT_FUNC)
				continue;
			if (!nlh_event_has(c->ev, t->field))
				return 0;
			lua_rawgeti(L, LUA_REGISTRYINDEX, t->pat.func_ref);
			rules_push_field(L, c->ev, t->field);
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
		/* A handler that cannot name its event (a counter) is not given one: building it is most of a call. */
		if (!c->r->action_reads_event) {
			lua_call(L, 0, 0);
			return 0;
		}
		rules_push_event_object(L, c->ev);
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

static void rule_who(const struct rule *r, char *who, size_t size)
{
	if (strcmp(r->name, r->where))
		snprintf(who, size, "rule %s (%s)", r->name, r->where);
	else
		snprintf(who, size, "rule %s", r->where);
}

void rule_count_failure(struct rule *r)
{
	char who[256];

	r->st.errors++;
	r->consecutive_errors++;
	if (r->consecutive_errors >= rules_max_failures && !r->st.disabled) {
		r->st.disabled = true;
		rule_who(r, who, sizeof(who));
		log_err("%s: disabled after %u consecutive failures", who, r->consecutive_errors);
	}
}

static void rule_failed(struct rule *r, int code, const char *msg)
{
	struct rules_file *f = r->file;
	const char *tb = msg ? strstr(msg, "\nstack traceback:") : NULL;
	int len = tb ? (int)(tb - msg) : msg ? (int)strlen(msg) : 0;
	char who[256];

	rule_who(r, who, sizeof(who));
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
	rule_count_failure(r);
}

static int rule_pcall(struct call *c)
{
	struct rule *r = c->r;
	struct rules_file *f = r->file;
	lua_State *L = f->L;
	struct rules_file saved = *f;
	struct running run, *prev;
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
	f->used = 0;
	f->overrun = false;
	f->in_call = true;
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, (int)hook_step());
	lua_pushcfunction(L, msgh);
	lua_pushcfunction(L, tramp);
	lua_pushlightuserdata(L, c);
	/*
	 * The coarse clock (a tick of some ms) costs a tenth of the precise
	 * one, which two reads per call make a tenth of a counting rule's
	 * cost.  Summed over calls it is exact on average; the watchdog's
	 * limits are seconds.
	 */
	t0 = loop_now_coarse();
	run = (struct running){ .f = f, .name = r->name, .where = r->where, .L = L, .start = t0 };
	running_push(&run, &prev);
	ret = lua_pcall(L, 1, 0, top + 1);
	running_pop(prev);
	r->st.time += loop_now_coarse() - t0;
	if (run.stuck_ms)
		r->st.stuck++;
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

void rule_run(struct rule *r, const struct nlh_event *ev)
{
	r->st.runs++;
	if (r->action_ref != LUA_NOREF) {
		struct call c = { .kind = CALL_ACTION, .r = r, .ev = ev };

		rule_pcall(&c);
		return;
	}
	rule_exec_path(r, ev);
}

int rule_call_ref(struct rule *r, int ref)
{
	struct call c = { .kind = CALL_FN, .r = r, .ref = ref };

	return rule_pcall(&c);
}

int rule_call_on_exit(struct rule *r, int ref, int status, const char *out, size_t out_len,
		      const char *err, size_t err_len)
{
	struct call c = {
		.kind = CALL_FN, .r = r, .ref = ref, .has_status = true, .status = status,
		.out = out, .out_len = out_len, .err = err, .err_len = err_len,
	};

	return rule_pcall(&c);
}

static int box_gc(lua_State *L)
{
	void **b = lua_touserdata(L, 1);

	free(*b);
	*b = NULL;
	return 0;
}

void **rules_box_new(lua_State *L)
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

struct load_args {
	struct rules_file *f;
	const char *buf;
	size_t len;
};

static int load_tramp(lua_State *L)
{
	struct load_args *a = lua_touserdata(L, 1);
	char *chunkname;

	rules_sandbox_open(L);
	rules_api_open(L);
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
	struct running run, *prev;
	const char *msg, *tb;
	lua_State *L;
	size_t kept = 0;
	int r;

	f->text_hash = rules_text_hash(buf, len);
	f->mem_cap = rules_mem_cap;
	f->L = L = lua_newstate(cap_alloc, f);
	if (!L) {
		snprintf(err, errlen, "%s: cannot create a Lua state", f->path);
		return -ENOMEM;
	}
	*(struct rules_file **)lua_getextraspace(L) = f;
	lua_gc(L, LUA_GCGEN, 0, 0);
	lua_calls++;
	f->used = 0;
	f->overrun = false;
	f->in_call = true;
	lua_sethook(L, budget_hook, LUA_MASKCOUNT, (int)hook_step());
	lua_pushcfunction(L, msgh);
	lua_pushcfunction(L, load_tramp);
	lua_pushlightuserdata(L, &a);
	run = (struct running){ .f = f, .L = L, .start = loop_now() };
	running_push(&run, &prev);
	r = lua_pcall(L, 1, 0, 1);
	running_pop(prev);
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
	/* What loading left (the chunk's temporaries, the library tables' garbage) goes now. */
	lua_gc(L, LUA_GCCOLLECT);
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
	rules_afters_free(f);
	f->in_call = false;
	lua_close(f->L);
	f->L = NULL;
}

void rules_file_free(struct rules_file *f)
{
	if (!f)
		return;
	rules_file_close(f);
	for (size_t i = 0; i < f->n_rules; i++)
		rule_free(f->rules[i]);
	free(f->rules);
	free(f->text);
	free(f->path);
	free(f);
}

/*
 * Retired files whose execs still run.  Their last job ends deep inside
 * the exec code, which still holds the rule's queue: they are freed from
 * a timer, not from there.
 */
static struct rules_file *retired;
static struct loop_timer *reaper;

static void reap(void *data)
{
	for (struct rules_file **pp = &retired; *pp;) {
		struct rules_file *f = *pp;

		if (f->jobs) {
			pp = &f->next_retired;
			continue;
		}
		*pp = f->next_retired;
		rules_file_free(f);
	}
}

void rules_file_retire(struct rules_file *f)
{
	for (size_t i = 0; i < f->n_rules; i++) {
		struct rule *r = f->rules[i];

		loop_timer_free(r->debounce_timer);
		r->debounce_timer = NULL;
		free(r->debounced);
		r->debounced = NULL;
	}
	rules_afters_free(f);
	if (!f->jobs) {
		rules_file_free(f);
		return;
	}
	f->retired = true;
	f->next_retired = retired;
	retired = f;
}

void rules_file_job_done(struct rules_file *f)
{
	if (f->jobs)
		f->jobs--;
	if (f->jobs || !f->retired)
		return;
	if (!reaper)
		reaper = loop_timer_new(reap, NULL);
	if (reaper)
		loop_timer_arm(reaper, 0);
}

void rules_shutdown(void)
{
	while (retired) {
		struct rules_file *f = retired;

		retired = f->next_retired;
		f->retired = false;
		rules_file_free(f);
	}
	loop_timer_free(reaper);
	reaper = NULL;
}
