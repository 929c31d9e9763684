/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "core/event.h"
#include "core/source.h"

/*
 * Field patterns, compiled once, matched in C (nlhook-rules(5), PATTERNS).
 *   string  "eth*"          glob (*, ?, [) on the field's text, the one
 *                           rendering of core/text.h (no backslash escapes
 *                           in globs: a backslash is text, as in \xNN)
 *   string  "eth0"          the same without glob characters: equality
 *   string  "10.0.0.0/8"    on an ADDR/PREFIX field: inside that prefix
 *   string  "1500", "true"  on a number or boolean field: equality
 *   "!..."                  any of these strings, negated
 *   number  42              equality (U32/U64/BOOL fields)
 *   boolean true            equality (BOOL fields)
 *   list    {a, b, ...}     any of
 *   predicate               a Lua function (kind NLH_PAT_FUNC): C matching
 *                           leaves it to the caller
 * A string is text: \xNN in it stands for the byte NN, so that both the
 * raw bytes (what Lua handlers get) and the rendering match.  A string
 * that can never match the field (not a number on a number field, not an
 * address on an address field, ...) is refused when compiled.  A field
 * absent from the event never matches, negated or not.
 */
enum nlh_pat_kind {
	NLH_PAT_GLOB,
	NLH_PAT_CIDR,
	NLH_PAT_NUM,
	NLH_PAT_ANY,		/* list: any of sub */
	NLH_PAT_FUNC,
};

struct nlh_pattern {
	enum nlh_pat_kind kind;
	bool neg;			/* "!": GLOB, CIDR, NUM */
	char *glob;			/* GLOB: escaped text; lowercase for hardware addresses, payload */
	struct nlh_addr prefix;		/* CIDR */
	uint64_t num;			/* NUM */
	struct nlh_pattern *sub;	/* ANY */
	size_t n_sub;
	int func_ref;			/* FUNC: Lua registry ref, owned by the caller */
};

/* One field = pattern pair, resolved against one class. */
struct nlh_match_term {
	const struct nlh_field *field;
	struct nlh_pattern pat;
};

/*
 * Compile a pattern given as a string (a rule's Lua string, which may hold
 * any byte, or a CLI "field=pattern").  On error, err says why (without
 * the field's name) and the result is -EINVAL, -ERANGE or -ENOMEM.
 */
int nlh_pattern_from_bytes(const char *s, size_t len, const struct nlh_field *f, struct nlh_pattern *ret,
			   char *err, size_t errlen);
int nlh_pattern_from_string(const char *s, const struct nlh_field *f, struct nlh_pattern *ret,
			    char *err, size_t errlen);
void nlh_pattern_clear(struct nlh_pattern *p);

/* C matching; FUNC patterns count as matched here (callers test them). */
bool nlh_pattern_match(const struct nlh_pattern *p, const struct nlh_event *ev, const struct nlh_field *f);
bool nlh_match_terms(const struct nlh_match_term *terms, size_t n, const struct nlh_event *ev);

/* Add a group to a want set (sorted, unique, bounded). */
void nlh_want_add_group(struct nlh_want *want, uint16_t group);
/* The nflog groups a pattern on the group field names (numbers, not negated), into want. */
void nlh_pattern_want_groups(const struct nlh_pattern *p, struct nlh_want *want);
/* Is p made only of plain group numbers (0..65535, not negated), or lists of them? */
bool nlh_pattern_groups_plain(const struct nlh_pattern *p);
