/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "core/event.h"
#include "core/source.h"

/*
 * Field patterns, compiled once, matched in C.
 *   string  "eth*"          fnmatch glob on the field's text
 *   string  "!eth*"         negated glob
 *   string  "10.0.0.0/8"    on an ADDR/PREFIX field: inside that prefix
 *   number  42              equality (U32/U64/BOOL fields)
 *   boolean true            equality (BOOL fields)
 *   list    {a, b, ...}     any of
 *   predicate               a Lua function (kind NLH_PAT_FUNC): C matching
 *                           leaves it to the caller
 * A field absent from the event never matches (a negated glob neither).
 */
enum nlh_pat_kind {
	NLH_PAT_GLOB,
	NLH_PAT_NGLOB,
	NLH_PAT_CIDR,
	NLH_PAT_NUM,
	NLH_PAT_ANY,		/* list: any of sub */
	NLH_PAT_FUNC,
};

struct nlh_pattern {
	enum nlh_pat_kind kind;
	char *glob;			/* GLOB, NGLOB */
	size_t glob_len;		/* bytes in glob: SSID patterns may hold NULs */
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

/* Compile a pattern given as text (CLI "field=pattern"). */
int nlh_pattern_from_string(const char *s, const struct nlh_field *f, struct nlh_pattern *ret);
/* The same from a counted string (Lua strings may hold NULs: SSIDs). */
int nlh_pattern_from_bytes(const char *s, size_t len, const struct nlh_field *f, struct nlh_pattern *ret);
void nlh_pattern_clear(struct nlh_pattern *p);

/* C matching; FUNC patterns count as matched here (callers test them). */
bool nlh_pattern_match(const struct nlh_pattern *p, const struct nlh_event *ev, const struct nlh_field *f);
bool nlh_match_terms(const struct nlh_match_term *terms, size_t n, const struct nlh_event *ev);

/* Add a group to a want set (sorted, unique, bounded). */
void nlh_want_add_group(struct nlh_want *want, uint16_t group);
/* The nflog groups a pattern on the group field names, into want. */
void nlh_pattern_want_groups(const struct nlh_pattern *p, struct nlh_want *want);
