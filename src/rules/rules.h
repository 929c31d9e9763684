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
	RULES_DRY_RUN = 1 << 2,		/* exec/emit/after are printed, not done; "match NAME" per hit */
	RULES_DIRS_NAMED = 1 << 3,	/* the user named the dirs: each must exist and be a dir */
};

/* Each load error, "FILE:LINE: message". */
typedef void (*rules_report_fn)(const char *msg, void *data);

/*
 * Returns 0, or a negative errno (-EINVAL: some file failed to load; every
 * error has been reported).  *ret is set only on success.
 */
int rules_set_load(struct rules_set **ret, char *const *dirs, size_t n_dirs, unsigned int flags,
		   rules_report_fn report, void *data);
void rules_set_free(struct rules_set *rs);

void rules_set_dispatch(struct rules_set *rs, const struct nlh_event *ev);

/* What the set needs the sources to deliver. */
void rules_set_want(const struct rules_set *rs, struct nlh_want *ret);

size_t rules_set_count(const struct rules_set *rs);

/* The files a set of dirs resolves to, in load order (udev semantics). */
int rules_dirs_resolve(char *const *dirs, size_t n_dirs, char ***ret_paths, size_t *ret_n);

struct sbuf;
/*
 * Status of every rule as a JSON member appended to out:
 *   ,"rules":[{"name":..,"file":..,"types":[..],"hits":N,"errors":N,
 *              "time":seconds,"execs_running":N,"disabled":bool},...]
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

struct rule_stats {
	const char *name;	/* opts.name, or FILE:LINE of the nlhook.on call */
	const char *where;	/* FILE:LINE */
	const char *file;	/* path */
	nlh_typeset types;
	uint64_t hits;		/* events that matched */
	uint64_t runs;		/* actions run (after debounce and rate) */
	uint64_t rate_dropped;	/* matches over the rate limit */
	uint64_t errors;	/* failed Lua calls */
	double time;		/* seconds spent in Lua */
	unsigned int execs_running;
	unsigned int execs_pending;
	bool disabled;		/* after rules_max_failures consecutive failures */
};

void rules_set_foreach_rule(const struct rules_set *rs, void (*cb)(const struct rule_stats *st, void *data),
			    void *data);

/* Lua calls made by all sets so far: an event no rule wants adds none. */
uint64_t rules_lua_calls(void);
