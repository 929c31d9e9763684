/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/event.h"
#include "core/source.h"
#include "rules/match.h"

/*
 * What a monitor asks for: type globs and FIELD=PATTERN terms.  A term
 * is resolved against every class that has the field; an event of a class
 * without it does not match.
 */
struct nlh_filter {
	nlh_typeset types;	/* 0 until a glob is added: then all */
	bool all_netns;		/* events of every namespace, not only the daemon's own */
	struct nlh_filter_term {
		char *field;
		struct nlh_pattern pat[_NLH_CLASS_MAX];
		bool has[_NLH_CLASS_MAX];
	} *terms;
	size_t n_terms;
};

/* "link.*" or "ifname=eth*"; the error names the argument. */
int nlh_filter_add(struct nlh_filter *f, const char *arg, char *err, size_t errlen);
/*
 * The same for an argument as the control protocol carries it: a JSON
 * string its writer escaped (core/text.h), decoded back to the bytes
 * given on the command line first.
 */
int nlh_filter_add_escaped(struct nlh_filter *f, const char *s, size_t len, char *err, size_t errlen);
/* After the last add: a term that no event of the types named can have is an error. */
int nlh_filter_check(const struct nlh_filter *f, char *err, size_t errlen);
bool nlh_filter_match(const struct nlh_filter *f, const struct nlh_event *ev);
/* The types, and the nflog groups its group=N terms name. */
void nlh_filter_want(const struct nlh_filter *f, struct nlh_want *want);
void nlh_filter_clear(struct nlh_filter *f);

/*
 * A monitor's text line: the event's, after the namespace as a column
 * ("[blue] ", "[current] " for the daemon's own) when it shows them all.
 */
int nlh_monitor_text(const struct nlh_event *ev, bool timestamp, bool all_netns, char *buf, size_t size);

