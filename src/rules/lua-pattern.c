/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua-pattern.h"

/*
 * The pattern syntax of the Lua 5.4 manual, section 6.4.1, matched by
 * backtracking as the stock library does, so that results, errors and
 * the "pattern too complex" depth agree with it.  Every step (a call, a
 * pattern item, a character tried) is counted and charged in batches.
 */

#define MAX_CAPTURES 32		/* LUA_MAXCAPTURES */
#define MAX_DEPTH 200		/* MAXCCALLS: nested calls before "pattern too complex" */
#define CHARGE_BATCH 1024
#define CAP_OPEN (-1)
#define CAP_POSITION (-2)
#define SPECIALS "^$*+?.([%-"

struct mstate {
	lua_State *L;
	const struct rules_pattern_ops *ops;
	const char *s0, *s_end;
	const char *p_end;
	int depth;
	unsigned long steps;	/* not charged yet */
	int level;
	struct {
		const char *at;
		ptrdiff_t len;	/* or CAP_OPEN, CAP_POSITION */
	} cap[MAX_CAPTURES];
};

static void step(struct mstate *m, unsigned long n)
{
	m->steps += n;
	if (m->steps >= CHARGE_BATCH) {
		n = m->steps;
		m->steps = 0;
		m->ops->charge(m->L, n);
	}
}

static void charge_rest(struct mstate *m)
{
	unsigned long n = m->steps;

	m->steps = 0;
	m->ops->charge(m->L, n);
}

static void mstate_init(struct mstate *m, lua_State *L, const struct rules_pattern_ops *ops, const char *s,
			size_t ls, const char *p_end)
{
	m->L = L;
	m->ops = ops;
	m->s0 = s;
	m->s_end = s + ls;
	m->p_end = p_end;
	m->steps = 0;
}

/* Before each attempt at a new subject position. */
static void mstate_reset(struct mstate *m)
{
	m->level = 0;
	m->depth = MAX_DEPTH;
}

static bool class_has(int c, int cl)
{
	bool r;

	switch (tolower(cl)) {
	case 'a': r = isalpha(c); break;
	case 'c': r = iscntrl(c); break;
	case 'd': r = isdigit(c); break;
	case 'g': r = isgraph(c); break;
	case 'l': r = islower(c); break;
	case 'p': r = ispunct(c); break;
	case 's': r = isspace(c); break;
	case 'u': r = isupper(c); break;
	case 'w': r = isalnum(c); break;
	case 'x': r = isxdigit(c); break;
	case 'z': r = c == 0; break;	/* gone from the manual, still in the library */
	default: return cl == c;	/* %x escapes a non-alphanumeric x */
	}
	return isupper(cl) ? !r : r;
}

/* Past the single-character class at p: %x, [set] or one character. */
static const char *class_end(struct mstate *m, const char *p)
{
	char c = *p++;

	if (c == '%') {
		if (p >= m->p_end)
			luaL_error(m->L, "malformed pattern (ends with '%%')");
		return p + 1;
	}
	if (c != '[')
		return p;
	if (p < m->p_end && *p == '^')
		p++;
	/* The first character of a set is part of it, even a ']'. */
	do {
		if (p >= m->p_end)
			luaL_error(m->L, "malformed pattern (missing ']')");
		c = *p++;
		if (c == '%' && p < m->p_end)
			p++;
	} while (p >= m->p_end || *p != ']');
	return p + 1;
}

/* c against the set from p ('[') to end (its ']'). */
static bool set_has(int c, const char *p, const char *end)
{
	bool in = true;

	if (p[1] == '^') {
		in = false;
		p++;
	}
	while (++p < end) {
		if (*p == '%') {
			p++;
			if (class_has(c, (unsigned char)*p))
				return in;
		} else if (p[1] == '-' && p + 2 < end) {
			p += 2;
			if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p)
				return in;
		} else if ((unsigned char)*p == c) {
			return in;
		}
	}
	return !in;
}

/* Does the class from p to ep match the character at s? */
static bool single(struct mstate *m, const char *s, const char *p, const char *ep)
{
	int c;

	if (s >= m->s_end)
		return false;
	c = (unsigned char)*s;
	switch (*p) {
	case '.':
		step(m, 1);
		return true;
	case '%':
		step(m, 1);
		return class_has(c, (unsigned char)p[1]);
	case '[':
		step(m, 1 + (ep - p) / 4);
		return set_has(c, p, ep - 1);
	default:
		step(m, 1);
		return (unsigned char)*p == c;
	}
}

static const char *do_match(struct mstate *m, const char *s, const char *p);

static const char *max_expand(struct mstate *m, const char *s, const char *p, const char *ep)
{
	ptrdiff_t i = 0;

	while (single(m, s + i, p, ep))
		i++;
	for (; i >= 0; i--) {
		const char *r = do_match(m, s + i, ep + 1);

		if (r)
			return r;
	}
	return NULL;
}

static const char *min_expand(struct mstate *m, const char *s, const char *p, const char *ep)
{
	for (;;) {
		const char *r = do_match(m, s, ep + 1);

		if (r)
			return r;
		if (!single(m, s, p, ep))
			return NULL;
		s++;
	}
}

static const char *open_capture(struct mstate *m, const char *s, const char *p, ptrdiff_t what)
{
	const char *r;

	if (m->level >= MAX_CAPTURES)
		luaL_error(m->L, "too many captures");
	m->cap[m->level].at = s;
	m->cap[m->level].len = what;
	m->level++;
	r = do_match(m, s, p);
	if (!r)
		m->level--;
	return r;
}

static const char *close_capture(struct mstate *m, const char *s, const char *p)
{
	const char *r;
	int l;

	for (l = m->level - 1; l >= 0 && m->cap[l].len != CAP_OPEN; l--)
		;
	if (l < 0)
		luaL_error(m->L, "invalid pattern capture");
	m->cap[l].len = s - m->cap[l].at;
	r = do_match(m, s, p);
	if (!r)
		m->cap[l].len = CAP_OPEN;
	return r;
}

/* %bxy: from an x at s to its balancing y. */
static const char *balance(struct mstate *m, const char *s, const char *p)
{
	int depth = 1;

	if (p >= m->p_end - 1)
		luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
	if (s >= m->s_end || *s != *p)
		return NULL;
	while (++s < m->s_end) {
		step(m, 1);
		if (*s == p[1]) {
			if (--depth == 0)
				return s + 1;
		} else if (*s == *p) {
			depth++;
		}
	}
	return NULL;
}

/* %1-%9 in a pattern: the text of that (closed) capture again. */
static const char *back_reference(struct mstate *m, const char *s, int digit)
{
	int l = digit - '1';
	size_t len;

	if (l < 0 || l >= m->level || m->cap[l].len == CAP_OPEN)
		luaL_error(m->L, "invalid capture index %%%d", l + 1);
	/* A position capture has no text: it never matches. */
	if (m->cap[l].len == CAP_POSITION)
		return NULL;
	len = m->cap[l].len;
	step(m, 1 + len / 8);
	if ((size_t)(m->s_end - s) >= len && !memcmp(m->cap[l].at, s, len))
		return s + len;
	return NULL;
}

/* %f[set]: between a character not in the set and one in it ('\0' beyond either end). */
static const char *frontier(struct mstate *m, const char *s, const char **pp)
{
	const char *p = *pp + 2, *ep;
	int prev, cur;

	if (p >= m->p_end || *p != '[')
		luaL_error(m->L, "missing '[' after '%%f' in pattern");
	ep = class_end(m, p);
	prev = s == m->s0 ? 0 : (unsigned char)s[-1];
	cur = s < m->s_end ? (unsigned char)*s : 0;
	step(m, 1 + (ep - p) / 2);
	if (set_has(prev, p, ep - 1) || !set_has(cur, p, ep - 1))
		return NULL;
	*pp = ep;
	return s;
}

/*
 * The rest of the pattern from p against the subject from s: the end of
 * the match, or NULL.  Items that cannot backtrack loop here; quantifiers
 * and captures recurse for what follows them.
 */
static const char *do_match(struct mstate *m, const char *s, const char *p)
{
	const char *ep;

	if (m->depth-- == 0)
		luaL_error(m->L, "pattern too complex");
	while (s && p < m->p_end) {
		step(m, 1);
		switch (*p) {
		case '(':
			if (p + 1 < m->p_end && p[1] == ')')
				s = open_capture(m, s, p + 2, CAP_POSITION);
			else
				s = open_capture(m, s, p + 1, CAP_OPEN);
			goto out;
		case ')':
			s = close_capture(m, s, p + 1);
			goto out;
		case '$':
			if (p + 1 == m->p_end) {
				if (s != m->s_end)
					s = NULL;
				goto out;
			}
			break;
		case '%':
			if (p + 1 == m->p_end)
				break;
			switch (p[1]) {
			case 'b':
				s = balance(m, s, p + 2);
				p += 4;
				continue;
			case 'f':
				s = frontier(m, s, &p);
				continue;
			case '0': case '1': case '2': case '3': case '4':
			case '5': case '6': case '7': case '8': case '9':
				s = back_reference(m, s, (unsigned char)p[1]);
				p += 2;
				continue;
			default:
				break;
			}
			break;
		default:
			break;
		}
		ep = class_end(m, p);
		if (!single(m, s, p, ep)) {
			/* A quantifier that accepts zero: skip the item. */
			if (ep < m->p_end && (*ep == '*' || *ep == '?' || *ep == '-')) {
				p = ep + 1;
				continue;
			}
			s = NULL;
			goto out;
		}
		switch (ep < m->p_end ? *ep : '\0') {
		case '?': {
			const char *r = do_match(m, s + 1, ep + 1);

			if (r) {
				s = r;
				goto out;
			}
			p = ep + 1;
			continue;
		}
		case '+':
			s = max_expand(m, s + 1, p, ep);
			goto out;
		case '*':
			s = max_expand(m, s, p, ep);
			goto out;
		case '-':
			s = min_expand(m, s, p, ep);
			goto out;
		default:
			s++;
			p = ep;
			continue;
		}
	}
out:
	m->depth++;
	return s;
}

/* Capture i as a Lua value; i 0 without captures is the whole match s..e. */
static void push_capture(struct mstate *m, int i, const char *s, const char *e)
{
	if (i >= m->level) {
		if (i != 0)
			luaL_error(m->L, "invalid capture index %%%d", i + 1);
		lua_pushlstring(m->L, s, e - s);
		return;
	}
	if (m->cap[i].len == CAP_OPEN)
		luaL_error(m->L, "unfinished capture");
	if (m->cap[i].len == CAP_POSITION)
		lua_pushinteger(m->L, m->cap[i].at - m->s0 + 1);
	else
		lua_pushlstring(m->L, m->cap[i].at, m->cap[i].len);
}

/* All captures, or the whole match when there are none and s is set. */
static int push_captures(struct mstate *m, const char *s, const char *e)
{
	int n = m->level == 0 && s ? 1 : m->level;

	luaL_checkstack(m->L, n, "too many captures");
	for (int i = 0; i < n; i++)
		push_capture(m, i, s, e);
	return n;
}

/* A relative start position (negative counts from the end) as 1-based, at least 1. */
static size_t start_pos(lua_Integer pos, size_t len)
{
	if (pos > 0)
		return (size_t)pos;
	if (pos == 0 || pos < -(lua_Integer)len)
		return 1;
	return len + (size_t)pos + 1;
}

static bool has_specials(struct mstate *m, const char *p, size_t lp)
{
	step(m, 1 + lp / 8);
	for (size_t i = 0; i < lp; i++)
		if (p[i] && strchr(SPECIALS, p[i]))
			return true;
	return false;
}

static const char *plain_find(struct mstate *m, const char *s, size_t ls, const char *p, size_t lp)
{
	const char *q;

	if (lp == 0)
		return s;
	if (lp > ls)
		return NULL;
	/* ls: the positions where p could start */
	ls -= lp - 1;
	while (ls > 0 && (q = memchr(s, *p, ls))) {
		step(m, 1 + (q - s) / 8 + lp / 8);
		if (!memcmp(q + 1, p + 1, lp - 1))
			return q;
		ls -= q + 1 - s;
		s = q + 1;
	}
	step(m, ls / 8);
	return NULL;
}

static const struct rules_pattern_ops *ops_of(lua_State *L)
{
	return lua_touserdata(L, lua_upvalueindex(1));
}

static int find_or_match(lua_State *L, bool find)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
	const char *s1, *e;
	struct mstate m;
	bool anchor;
	int n;

	mstate_init(&m, L, ops_of(L), s, ls, p + lp);
	step(&m, 1);
	if (init > ls) {
		charge_rest(&m);
		luaL_pushfail(L);
		return 1;
	}
	if (find && (lua_toboolean(L, 4) || !has_specials(&m, p, lp))) {
		s1 = plain_find(&m, s + init, ls - init, p, lp);
		charge_rest(&m);
		if (!s1) {
			luaL_pushfail(L);
			return 1;
		}
		lua_pushinteger(L, s1 - s + 1);
		lua_pushinteger(L, s1 - s + lp);
		return 2;
	}
	anchor = lp > 0 && *p == '^';
	if (anchor)
		p++;
	s1 = s + init;
	do {
		mstate_reset(&m);
		e = do_match(&m, s1, p);
		if (!e)
			continue;
		charge_rest(&m);
		if (!find)
			return push_captures(&m, s1, e);
		lua_pushinteger(L, s1 - s + 1);
		lua_pushinteger(L, e - s);
		n = push_captures(&m, NULL, NULL);
		return n + 2;
	} while (s1++ < m.s_end && !anchor);
	charge_rest(&m);
	luaL_pushfail(L);
	return 1;
}

static int pat_find(lua_State *L)
{
	return find_or_match(L, true);
}

static int pat_match(lua_State *L)
{
	return find_or_match(L, false);
}

struct gmatch {
	struct mstate m;
	const char *src;	/* where the next attempt starts */
	const char *p;
	const char *last;	/* end of the last match: no empty match there */
};

static int gmatch_next(lua_State *L)
{
	struct gmatch *g = lua_touserdata(L, lua_upvalueindex(3));
	struct mstate *m = &g->m;

	/* The iterator may run in another coroutine than the one that made it. */
	m->L = L;
	for (const char *src = g->src; src <= m->s_end; src++) {
		const char *e;

		mstate_reset(m);
		e = do_match(m, src, g->p);
		if (e && e != g->last) {
			g->src = g->last = e;
			charge_rest(m);
			return push_captures(m, src, e);
		}
	}
	/* Exhausted: later calls start past the end. */
	g->src = m->s_end + 1;
	charge_rest(m);
	return 0;
}

static int pat_gmatch(lua_State *L)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
	const struct rules_pattern_ops *ops = ops_of(L);
	struct gmatch *g;

	/* The strings stay alive as upvalues of the iterator. */
	lua_settop(L, 2);
	g = lua_newuserdatauv(L, sizeof(*g), 0);
	if (init > ls)
		init = ls + 1;
	mstate_init(&g->m, L, ops, s, ls, p + lp);
	g->src = s + init;
	g->p = p;
	g->last = NULL;
	lua_pushcclosure(L, gmatch_next, 3);
	return 1;
}

/* The replacement string (argument 3) for the match s..e, with %0-%9 and %%. */
static void add_replacement(struct mstate *m, luaL_Buffer *b, const char *s, const char *e)
{
	size_t l;
	const char *r = lua_tolstring(m->L, 3, &l), *end = r + l, *q;

	while ((q = memchr(r, '%', end - r))) {
		luaL_addlstring(b, r, q - r);
		q++;
		if (q < end && *q == '%') {
			luaL_addchar(b, '%');
		} else if (q < end && *q == '0') {
			luaL_addlstring(b, s, e - s);
		} else if (q < end && isdigit((unsigned char)*q)) {
			/* A position capture is a number: addvalue writes it as text. */
			push_capture(m, *q - '1', s, e);
			luaL_addvalue(b);
		} else {
			luaL_error(m->L, "invalid use of '%c' in replacement string", '%');
		}
		r = q + 1;
	}
	luaL_addlstring(b, r, end - r);
}

/* Appends what replaces s..e; false when the match is kept as it was. */
static bool add_value(struct mstate *m, luaL_Buffer *b, const char *s, const char *e, int type)
{
	lua_State *L = m->L;

	switch (type) {
	case LUA_TFUNCTION: {
		int n;

		lua_pushvalue(L, 3);
		n = push_captures(m, s, e);
		lua_call(L, n, 1);
		break;
	}
	case LUA_TTABLE:
		push_capture(m, 0, s, e);
		lua_gettable(L, 3);
		break;
	default:
		add_replacement(m, b, s, e);
		return true;
	}
	if (!lua_toboolean(L, -1)) {
		lua_pop(L, 1);
		luaL_addlstring(b, s, e - s);
		return false;
	}
	if (!lua_isstring(L, -1))
		return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
	luaL_addvalue(b);
	return true;
}

static int pat_gsub(lua_State *L)
{
	size_t ls, lp;
	const char *src = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	const char *last = NULL;
	int type = lua_type(L, 3);
	lua_Integer max = luaL_optinteger(L, 4, ls + 1), n = 0;
	bool anchor = lp > 0 && *p == '^', changed = false;
	struct mstate m;
	luaL_Buffer b;

	luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION ||
			 type == LUA_TTABLE, 3, "string/function/table");
	luaL_buffinit(L, &b);
	if (anchor)
		p++;
	mstate_init(&m, L, ops_of(L), src, ls, p + lp - anchor);
	step(&m, 1);
	while (n < max) {
		const char *e;

		mstate_reset(&m);
		e = do_match(&m, src, p);
		if (e && e != last) {
			n++;
			/* A replacement function runs Lua: charge what came before it. */
			charge_rest(&m);
			changed = add_value(&m, &b, src, e, type) || changed;
			src = last = e;
		} else if (src < m.s_end) {
			luaL_addchar(&b, *src++);
		} else {
			break;
		}
		if (anchor)
			break;
	}
	charge_rest(&m);
	if (!changed) {
		lua_pushvalue(L, 1);
	} else {
		luaL_addlstring(&b, src, m.s_end - src);
		luaL_pushresult(&b);
	}
	lua_pushinteger(L, n);
	return 2;
}

void rules_pattern_install(lua_State *L, int idx, const struct rules_pattern_ops *ops)
{
	static const luaL_Reg fns[] = {
		{ "find", pat_find },
		{ "match", pat_match },
		{ "gmatch", pat_gmatch },
		{ "gsub", pat_gsub },
	};

	idx = lua_absindex(L, idx);
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		lua_pushlightuserdata(L, (void *)ops);
		lua_pushcclosure(L, fns[i].func, 1);
		lua_setfield(L, idx, fns[i].name);
	}
}
