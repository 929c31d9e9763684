/* SPDX-License-Identifier: MIT */
#pragma once

#include <lua.h>

#include "core/loop.h"
#include "exec/exec.h"
#include "match.h"
#include "rules.h"

/*
 * Shared by rules.c (files, set, index, dispatch) and the lua-*.c files
 * (the lua_State of each file and the nlhook.* API).  The lua-*.c files
 * never call into rules.c: a rule file knows nothing of the set it is in.
 *
 *   lua-file.c     a file's lua_State, budgets, the one way into Lua
 *   lua-sandbox.c  the standard library rules get
 *   lua-api.c      nlhook.on, nlhook.after, nlhook.log.*; rule objects
 *   lua-exec.c     nlhook.exec, path actions, on_exit
 *   lua-emit.c     nlhook.emit, and the JSON of Lua values
 *   lua-event.c    the events handlers get, and event tables
 *   lua-mqtt.c     nlhook.mqtt.publish
 *   lua-state.c    nlhook.links(), addrs(), routes(), stations()
 */

#define RULES_EVENT_MT "nlhook.event"		/* the event objects handlers get */
#define RULES_TABLE_MT "nlhook.event.table"	/* plain tables with an event's fields */

struct after;

struct rules_file {
	unsigned int flags;		/* the set's RULES_* */
	rules_dry_fn dry;		/* RULES_DRY_RUN: where "what it would do" goes */
	void *dry_data;
	char *path;
	const char *base;		/* file name inside path */
	lua_State *L;
	int event_mt;			/* registry ref of the event objects' metatable */
	size_t mem;			/* bytes the state holds */
	size_t mem_cap;
	bool loaded;			/* nlhook.on only while loading */
	char *const *dirs;		/* the set's rules dirs, while the file loads */
	size_t n_dirs;

	/* The Lua call in progress (saved and restored around nested calls). */
	struct rule *cur_rule;		/* NULL while loading */
	const struct nlh_event *cur_ev;	/* NULL in on_exit / after callbacks */
	unsigned long used;		/* instructions so far */
	bool overrun;
	bool in_call;

	struct rule **rules;		/* defined by this file, in order */
	size_t n_rules;
	struct after *afters;		/* pending nlhook.after timers */

	/* Reloads keep a file whose source is the same; a replaced one waits for its jobs. */
	char *text;
	size_t text_len;
	uint64_t text_hash;		/* what a stuck-rule record names */
	unsigned int jobs;		/* exec jobs of its rules, queued or running */
	bool retired;			/* out of every set: no events, no timers */
	struct rules_file *next_retired;
};

struct rule {
	struct rules_file *file;
	char *name;
	char *where;			/* "FILE:LINE" of nlhook.on */
	bool complete;			/* nlhook.on got through all its checks */
	nlh_typeset types;
	struct nlh_match_term *terms[_NLH_CLASS_MAX];
	size_t n_terms[_NLH_CLASS_MAX];
	bool has_func[_NLH_CLASS_MAX];	/* some term is a Lua predicate */

	int action_ref;			/* LUA_NOREF when the action is a path */
	bool action_reads_event;	/* the handler may read its argument (lua-argscan.c) */
	char *action_path;

	double debounce;		/* seconds, 0: none */
	struct loop_timer *debounce_timer;
	struct nlh_event *debounced;	/* the last event, owned copy */
	double rate;			/* runs per second, 0: unlimited */
	double tokens;
	double tokens_time;

	struct exec_queue *q;		/* created at the first exec */
	unsigned int n_afters;		/* nlhook.after timers pending */
	double exec_drop_logged;	/* when a drop was last logged, 0: never */
	double after_drop_logged;
	unsigned int consecutive_errors;
	char *disabled_reason;		/* why st.disabled; NULL: repeated failures */
	struct rule_stats st;
};

/*
 * Something a rule asked for was dropped, over a bound: whether to log it.
 * The first time, then at most once a second (a flood would flood the log).
 */
static inline bool rule_drop_log_due(double *logged)
{
	double now = loop_now();

	if (*logged && now - *logged < 1)
		return false;
	*logged = now;
	return true;
}

static inline bool rules_dry_run(const struct rules_file *f)
{
	return f->flags & RULES_DRY_RUN;
}

/* A dry run tells what it would do instead of doing it. */
static inline void rules_dry(const struct rules_file *f, const char *what, const char *rule, const char *text)
{
	if (f->dry)
		f->dry(what, rule, text, f->dry_data);
}

/* lua-file.c */
int rules_file_load(struct rules_file *f, const char *buf, size_t len, char *err, size_t errlen);
/* Stops timers and exec queues, then closes the state. */
void rules_file_close(struct rules_file *f);
/* Closes and frees the file and its rules. */
void rules_file_free(struct rules_file *f);
/*
 * Out of its set (a reload replaced it, or the set is freed): its timers
 * stop now, and it is freed once the execs its rules started are done,
 * after they delivered their output and on_exit to its state.
 */
void rules_file_retire(struct rules_file *f);
/* An exec job of one of its rules is done (or dropped). */
void rules_file_job_done(struct rules_file *f);
struct rules_file *rules_file_of(lua_State *L);
uint64_t rules_text_hash(const char *s, size_t len);
/* The rule running now, or the file's name while it loads: what logs name. */
const char *rules_ctx_name(const struct rules_file *f);
bool rule_predicates(struct rule *r, const struct nlh_event *ev);
void rule_run(struct rule *r, const struct nlh_event *ev);
/* The function at registry ref, under the rule's budget: with no arguments (after)... */
int rule_call_ref(struct rule *r, int ref);
/* ... or as on_exit(status, stdout, stderr). */
int rule_call_on_exit(struct rule *r, int ref, int status, const char *out, size_t out_len,
		      const char *err, size_t err_len);
/* A failure of the rule (a Lua error, a program that did not start): counted; enough in a row disable it. */
void rule_count_failure(struct rule *r);
/* A malloc'd block owned by a userdata on the stack, freed by the GC even if an error unwinds. */
void **rules_box_new(lua_State *L);
/* Around a wait of the daemon's own inside a call: the stuck watchdog does not count it. */
void rules_watchdog_hold(void);
void rules_watchdog_release(void);
/*
 * Charges n instructions' worth of work done in C to the running call;
 * raises "FILE:LINE: instruction budget of N exceeded" once it is spent.
 */
void rules_budget_charge(lua_State *L, unsigned long n);

/* lua-sandbox.c */
void rules_sandbox_open(lua_State *L);

/* lua-io.c: io without standard streams or files that can block; print and io.write to the log. */
void rules_io_open(lua_State *L);

/* files.c: why a file or dir that root would run code from is unsafe, or NULL. */
struct stat;
const char *rules_perms_problem(const struct stat *st, char *buf, size_t size);
/* The same of the directory a path really lives in, through symbolic links, or NULL. */
const char *rules_real_dir_problem(const char *path, char *buf, size_t size);
/* Read up to size bytes of a file (a rule, a module): the length read, or a negative errno. */
int rules_read_fd(int fd, char *buf, size_t size, size_t *ret_len);

/* lua-api.c */
void rules_api_open(lua_State *L);
/* The rule whose handler runs now; a Lua error while the file loads. */
struct rule *rules_handler_rule(lua_State *L, const char *what);
void rules_afters_free(struct rules_file *f);
void rule_free(struct rule *r);

/* lua-exec.c */
int rules_api_exec(lua_State *L);
/* A wait status as on_exit has it: the exit code, 128 + the signal; 127, 126: the program did not start. */
int rules_exit_status(int status);
/* A path action: the event in the environment. */
void rule_exec_path(struct rule *r, const struct nlh_event *ev);

/* lua-argscan.c */
/* Whether the Lua function at idx can read its first argument: true unless its bytecode shows it cannot. */
bool rules_handler_reads_event(lua_State *L, int idx);
/* Whether the scan knows the running Lua's bytecode (else every handler reads its event). */
bool rules_handler_scan_trusted(void);

/* lua-event.c */
void rules_event_open(lua_State *L);
/* The event as a handler gets it: an object holding a copy, fields made Lua values when read. */
void rules_push_event_object(lua_State *L, const struct nlh_event *ev);
/* A plain table with the event's fields (nlhook.links() entries). */
void rules_push_event(lua_State *L, const struct nlh_event *ev);
void rules_push_field(lua_State *L, const struct nlh_event *ev, const struct nlh_field *fd);
/* The record of the event object at idx, or NULL when it is not one. */
const struct nlh_event *rules_event_object(lua_State *L, int idx);
/* Pushes the table of what the rule stored in the event object at idx, if it did. */
bool rules_event_overlay(lua_State *L, int idx);
/* The keys of an event object in order: type, time, netns, nsid, then its class's fields. */
size_t rules_event_keys(const struct nlh_event *ev);
const char *rules_event_key(const struct nlh_event *ev, size_t pos);
bool rules_event_is_key(const struct nlh_event *ev, const char *k);
/* Pushes the value of key pos of the event object at idx as a handler reads it; false when nil. */
bool rules_event_value(lua_State *L, int idx, size_t pos);

/* lua-emit.c */
int rules_api_emit(lua_State *L);
struct sbuf;
/*
 * The value at idx as JSON, as nlhook.emit writes it, in a buffer owned
 * by a userdata pushed on the stack (freed by the GC, also when an error
 * unwinds).  The event table the handler got is the event's own JSON.
 * what names the API function in errors.
 */
struct sbuf *rules_json_push(lua_State *L, int idx, const char *what);

/* lua-mqtt.c */
int rules_api_mqtt_publish(lua_State *L);

/* lua-state.c */
int rules_api_links(lua_State *L);
int rules_api_addrs(lua_State *L);
int rules_api_routes(lua_State *L);
int rules_api_stations(lua_State *L);
