/* SPDX-License-Identifier: MIT */
#pragma once

#include <lua.h>

#include "core/loop.h"
#include "exec/exec.h"
#include "match.h"
#include "rules.h"

/*
 * Shared by rules.c (files, set, index, dispatch) and lua-api.c (the
 * lua_State of each file and the nlhook.* API).
 */

struct after;

struct rules_file {
	struct rules_set *rs;
	unsigned int flags;		/* the set's RULES_* */
	char *path;
	const char *base;		/* file name inside path */
	lua_State *L;
	size_t mem;			/* bytes the state holds */
	size_t mem_cap;
	bool loaded;			/* nlhook.on only while loading */

	/* The Lua call in progress (saved and restored around nested calls). */
	struct rule *cur_rule;		/* NULL while loading */
	const struct nlh_event *cur_ev;	/* NULL in on_exit / after callbacks */
	const void *cur_ev_table;	/* the table handed to the handler, for emit */
	unsigned long used;		/* instructions so far */
	bool overrun;
	bool in_call;

	struct rule **rules;		/* defined by this file, in order */
	size_t n_rules;
	struct after *afters;		/* pending nlhook.after timers */
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
	char *action_path;

	double debounce;		/* seconds, 0: none */
	struct loop_timer *debounce_timer;
	struct nlh_event *debounced;	/* the last event, owned copy */
	double rate;			/* runs per second, 0: unlimited */
	double tokens;
	double tokens_time;

	struct exec_queue *q;		/* created at the first exec */
	unsigned int consecutive_errors;
	struct rule_stats st;
};

/* lua-api.c */
int rules_file_load(struct rules_file *f, const char *buf, size_t len, char *err, size_t errlen);
/* Stops timers and exec queues, then closes the state. */
void rules_file_close(struct rules_file *f);
bool rule_predicates(struct rule *r, const struct nlh_event *ev);
void rule_run(struct rule *r, const struct nlh_event *ev);

static inline bool rules_dry_run(const struct rules_file *f)
{
	return f->flags & RULES_DRY_RUN;
}

/* rules.c */
void rule_free(struct rule *r);
struct nlh_event *rules_event_copy(const struct nlh_event *ev);
void rules_event_free(struct nlh_event *ev);
