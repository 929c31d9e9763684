/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/source.h"

/*
 * A loaded rule set: every *.lua file of the rules dirs (udev semantics),
 * each in its own lua_State.  Built whole, then swapped in: a failed load
 * leaves the running set alone.
 */
struct rules_set;

enum {
	RULES_KEEP_GOING = 1 << 0,	/* skip broken files instead of failing */
	RULES_CHECK_PERMS = 1 << 1,	/* refuse group/other-writable files (root) */
	RULES_DRY_RUN = 1 << 2,		/* exec/emit/after are reported, not done (rules_set_dry_run) */
	RULES_DIRS_NAMED = 1 << 3,	/* the user named the dirs: each must exist and be a dir */
};

/*
 * What a dry run would do, reported instead of done: what is "match" (a
 * rule matched; text NULL), "exec" (the command line, shell-quoted),
 * "emit" (the JSON line) or "after" ("5 s").
 */
typedef void (*rules_dry_fn)(const char *what, const char *rule, const char *text, void *data);

/* Each load error, "FILE:LINE: message". */
typedef void (*rules_report_fn)(const char *msg, void *data);

/*
 * Returns 0, or a negative errno (-EINVAL: some file failed to load; every
 * error has been reported).  *ret is set only on success.
 */
int rules_set_load(struct rules_set **ret, char *const *dirs, size_t n_dirs, unsigned int flags,
		   rules_report_fn report, void *data);
void rules_set_free(struct rules_set *rs);

/*
 * A reload: like rules_set_load, but a file whose path and source are
 * those of a file of old is not loaded again: it moves to the new set with
 * its Lua state, timers, debounce, rate and counters (its disabled rules
 * are enabled again).  Only on success are files taken from old; the
 * caller then frees old, whose other files are retired (see
 * rules_file_retire).
 */
int rules_set_reload(struct rules_set **ret, struct rules_set *old, char *const *dirs, size_t n_dirs,
		     unsigned int flags, rules_report_fn report, void *data);
/* Files retired by reloads whose execs still run: freed now (the daemon stops). */
void rules_shutdown(void);
/* Where a RULES_DRY_RUN set reports; nowhere until this is called. */
void rules_set_dry_run(struct rules_set *rs, rules_dry_fn fn, void *data);

void rules_set_dispatch(struct rules_set *rs, const struct nlh_event *ev);

/* What the set needs the sources to deliver. */
/* ... in the namespace named netns (NULL: the daemon's own), as the rules' netns terms say. */
void rules_set_want(const struct rules_set *rs, const char *netns, struct nlh_want *ret);

size_t rules_set_count(const struct rules_set *rs);

/* The files a set of dirs resolves to, in load order (udev semantics). */
int rules_dirs_resolve(char *const *dirs, size_t n_dirs, char ***ret_paths, size_t *ret_n);
/* ... every file of theirs (but dot files), with the same overrides and masks: script dirs. */
int rules_dirs_resolve_all(char *const *dirs, size_t n_dirs, char ***ret_paths, size_t *ret_n);

struct sbuf;
/*
 * Status of every rule as a JSON member appended to out:
 *   ,"rules":[{"name":..,"where":..,"file":..,"types":[..],"hits":N,"runs":N,
 *              "rate_dropped":N,"exec_dropped":N,"after_dropped":N,"errors":N,
 *              "time":seconds,"execs_running":N,"execs_pending":N,"disabled":bool},...]
 */
void rules_set_status(const struct rules_set *rs, struct sbuf *out);

/*
 * Limits for Lua, read when a file is loaded (memory) or a call starts
 * (instructions).  Tests lower them.
 */
extern unsigned long rules_budget;		/* instructions per Lua call, 10M */
extern size_t rules_mem_cap;			/* bytes per rule file's lua_State, 32 MiB */
extern unsigned int rules_max_failures;		/* consecutive failures that disable a rule, 10 */
extern double rules_exec_timeout;		/* seconds, for path actions and nlhook.exec, 60 */

/*
 * Wall-clock limits of one call into a rule, for what the instruction
 * budget cannot see (C code that does not return): past rules_stuck_soft
 * the call is interrupted at its next Lua instruction and counted as an
 * error ("stuck"); past rules_stuck_hard the daemon names the rule in the
 * log, writes it to rules_stuck_path (when set) and aborts.  Checked by
 * rules_watchdog_probe(), from a signal handler.
 */
extern double rules_stuck_soft;			/* 2 s */
extern double rules_stuck_hard;			/* 10 s */
extern const char *rules_stuck_path;
void rules_watchdog_probe(void);
/*
 * After a restart: the file that rules_stuck_path names, if its source is
 * unchanged, is loaded with its rules disabled, saying why.  A reload
 * enables them again and forgets it.
 */
void rules_set_apply_stuck(struct rules_set *rs);
void rules_stuck_forget(void);

/* nlhook.after timers a rule may have pending; more are refused and counted. */
#define RULES_AFTER_MAX 1024

struct rule_stats {
	const char *name;	/* opts.name, or FILE:LINE of the nlhook.on call */
	const char *where;	/* FILE:LINE */
	const char *file;	/* path */
	const char *action;	/* the executable of a path action; NULL for a function */
	nlh_typeset types;
	uint64_t hits;		/* events that matched */
	uint64_t runs;		/* actions run (after debounce and rate) */
	uint64_t rate_dropped;	/* matches over the rate limit */
	uint64_t stuck;		/* calls interrupted past rules_stuck_soft */
	uint64_t exec_dropped;	/* execs refused: EXEC_PENDING_MAX waiting already */
	uint64_t after_dropped;	/* nlhook.after calls refused: RULES_AFTER_MAX pending already */
	uint64_t errors;	/* failed Lua calls, programs that did not start */
	double time;		/* seconds spent in Lua */
	unsigned int execs_running;
	unsigned int execs_pending;
	bool disabled;		/* after rules_max_failures consecutive failures */
	const char *disabled_reason;
};

void rules_set_foreach_rule(const struct rules_set *rs, void (*cb)(const struct rule_stats *st, void *data),
			    void *data);

/*
 * Where nlhook.links(), addrs(), routes() and stations() read: the
 * instances of a namespace by name (NULL: the daemon's own), NULL
 * members where there are none.  Set by the program that runs the rules
 * (the daemon, a replay).
 */
struct rtnl;
struct nl80211;
struct opstate;
struct rules_state {
	const struct rtnl *rtnl;
	const struct nl80211 *nl80211;	/* stations; the iftype of wifi links */
	const struct opstate *opstate;	/* the state of links (rtnl/opstate.h) */
};
typedef void (*rules_state_fn)(const char *netns, void *data, struct rules_state *ret);
void rules_set_state_source(rules_state_fn fn, void *data);

/*
 * nlhook.exec{ netns = NAME }: the open namespace file of a watched
 * namespace, or -1 when there is none (set by the daemon).
 */
typedef int (*rules_netns_fn)(const char *netns, void *data);
void rules_set_netns_source(rules_netns_fn fn, void *data);
int rules_netns_fd(const char *netns);
/* nlhook.netns: the name of the namespace the daemon runs in, or NULL; read when a file loads. */
extern const char *rules_netns;

/*
 * Where nlhook.mqtt.publish sends: the daemon's broker.  prefix is what
 * rules see as nlhook.mqtt.prefix (NULL: nlhook/HOSTNAME); set it before
 * loading rules.  With no fn, nlhook.mqtt.publish returns nil and why.
 */
typedef void (*rules_publish_fn)(const char *topic, const void *payload, size_t len, int qos, bool retain,
				 void *data);
void rules_set_mqtt(const char *prefix, rules_publish_fn fn, void *data);
/* nlhook.mqtt.prefix: the one set, or nlhook/HOSTNAME. */
const char *rules_mqtt_prefix(void);

/* Lua calls made by all sets so far: an event no rule wants adds none. */
uint64_t rules_lua_calls(void);
