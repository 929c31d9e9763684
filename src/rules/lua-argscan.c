/* SPDX-License-Identifier: MIT */
/*
 * Whether a Lua handler can read its first argument.
 *
 * A handler that never names its event (a counter: function(ev) n = n + 1
 * end) need not get one, and building the event object is most of what a
 * call costs.  The answer comes from the handler's own bytecode, read
 * through lua_dump: the argument is register 0 of the function, so the
 * handler can read it only through an instruction with a register operand
 * 0, or a closure of its own that captures register 0 as an upvalue
 * (there is no debug library in the sandbox to reach it otherwise).
 *
 * The scan errs one way only: anything it does not know (an opcode, a
 * format, a vararg or C function) counts as a read.  Its knowledge of the
 * opcodes is checked once against handlers compiled by the running Lua
 * (argscan_selftest); a Lua whose bytecode differs makes every handler
 * get its event, as before.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules-internal.h"

/* Lua 5.4's instruction layout (lopcodes.h) */
#define OP(i) ((i) & 0x7f)
#define A(i) (((i) >> 7) & 0xff)
#define K(i) (((i) >> 15) & 1)
#define B(i) (((i) >> 16) & 0xff)
#define C(i) (((i) >> 24) & 0xff)

enum {
	RA = 1 << 0,	/* A is a register */
	RB = 1 << 1,	/* B is a register */
	RC = 1 << 2,	/* C is a register */
	RKC = 1 << 3,	/* C is a register unless k */
	CLOS = 1 << 4,	/* CLOSURE: the child's upvalues may take registers */
};

/* By Lua 5.4's opcode number, the operands that name a register (read or written). */
static const uint8_t regs[] = {
	[0] = RA | RB,			/* MOVE */
	[1] = RA, [2] = RA, [3] = RA,	/* LOADI LOADF LOADK */
	[4] = RA, [5] = RA, [6] = RA,	/* LOADKX LOADFALSE LFALSESKIP */
	[7] = RA, [8] = RA,		/* LOADTRUE LOADNIL (A..A+B) */
	[9] = RA, [10] = RA,		/* GETUPVAL SETUPVAL (B: an upvalue) */
	[11] = RA,			/* GETTABUP (B: upvalue, C: constant) */
	[12] = RA | RB | RC,		/* GETTABLE */
	[13] = RA | RB, [14] = RA | RB,	/* GETI GETFIELD */
	[15] = RKC,			/* SETTABUP (A: upvalue, B: constant) */
	[16] = RA | RB | RKC,		/* SETTABLE */
	[17] = RA | RKC, [18] = RA | RKC,	/* SETI SETFIELD */
	[19] = RA,			/* NEWTABLE */
	[20] = RA | RB | RKC,		/* SELF */
	[21] = RA | RB,			/* ADDI */
	[22] = RA | RB, [23] = RA | RB, [24] = RA | RB, [25] = RA | RB,	/* ADDK SUBK MULK MODK */
	[26] = RA | RB, [27] = RA | RB, [28] = RA | RB,			/* POWK DIVK IDIVK */
	[29] = RA | RB, [30] = RA | RB, [31] = RA | RB,			/* BANDK BORK BXORK */
	[32] = RA | RB, [33] = RA | RB,					/* SHRI SHLI */
	[34] = RA | RB | RC, [35] = RA | RB | RC, [36] = RA | RB | RC,	/* ADD SUB MUL */
	[37] = RA | RB | RC, [38] = RA | RB | RC, [39] = RA | RB | RC,	/* MOD POW DIV */
	[40] = RA | RB | RC, [41] = RA | RB | RC, [42] = RA | RB | RC,	/* IDIV BAND BOR */
	[43] = RA | RB | RC, [44] = RA | RB | RC, [45] = RA | RB | RC,	/* BXOR SHL SHR */
	[46] = RA | RB, [47] = RA, [48] = RA,	/* MMBIN MMBINI MMBINK */
	[49] = RA | RB, [50] = RA | RB, [51] = RA | RB, [52] = RA | RB,	/* UNM BNOT NOT LEN */
	[53] = RA, [54] = RA, [55] = RA,	/* CONCAT (A..A+B-1) CLOSE TBC */
	[56] = 0,			/* JMP */
	[57] = RA | RB, [58] = RA | RB, [59] = RA | RB,	/* EQ LT LE */
	[60] = RA,			/* EQK */
	[61] = RA, [62] = RA, [63] = RA, [64] = RA, [65] = RA,	/* EQI LTI LEI GTI GEI */
	[66] = RA, [67] = RA | RB,	/* TEST TESTSET */
	[68] = RA, [69] = RA,		/* CALL TAILCALL (A..) */
	[70] = RA, [71] = RA, [72] = RA,	/* RETURN RETURN0 RETURN1 */
	[73] = RA, [74] = RA, [75] = RA, [76] = RA, [77] = RA,	/* FORLOOP FORPREP TFORPREP TFORCALL TFORLOOP */
	[78] = RA,			/* SETLIST */
	[79] = RA | CLOS,		/* CLOSURE */
	[80] = RA, [81] = RA,		/* VARARG VARARGPREP */
	[82] = 0,			/* EXTRAARG */
};
#define OP_JMP 56
#define OP_CLOSURE 79
#define OP_EXTRAARG 82

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static unsigned int byte(struct rd *r)
{
	if (r->p >= r->end) {
		r->bad = true;
		return 0;
	}
	return *r->p++;
}

static size_t size(struct rd *r)
{
	size_t x = 0;
	unsigned int b;

	do {
		b = byte(r);
		if (x > SIZE_MAX >> 8)
			r->bad = true;
		x = (x << 7) | (b & 0x7f);
	} while (!(b & 0x80) && !r->bad);
	return x;
}

static void skip(struct rd *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n) {
		r->bad = true;
		r->p = r->end;
		return;
	}
	r->p += n;
}

static void skip_string(struct rd *r)
{
	size_t n = size(r);

	if (n)
		skip(r, n - 1);
}

struct fn {
	unsigned int nparams, vararg;
	const uint8_t *code;
	size_t ncode;
	size_t nprotos;
	bool captures_r0[256];	/* by child: one of its upvalues is our register 0 */
};

/*
 * One function of the dump (ldump.c's dumpFunction, stripped).  With ret,
 * its header and code and which children capture its register 0; with
 * captures, whether the function has an upvalue that is its parent's
 * register 0.
 */
static void function(struct rd *r, struct fn *ret, bool *captures, int depth)
{
	size_t n;

	if (depth > 200) {
		r->bad = true;
		return;
	}
	skip_string(r);		/* source */
	size(r);		/* linedefined */
	size(r);		/* lastlinedefined */
	if (ret) {
		ret->nparams = byte(r);
		ret->vararg = byte(r);
	} else {
		skip(r, 2);
	}
	byte(r);		/* maxstacksize */
	n = size(r);
	if (n > (size_t)(r->end - r->p) / 4) {
		r->bad = true;
		return;
	}
	if (ret) {
		ret->code = r->p;
		ret->ncode = n;
	}
	skip(r, n * 4);
	n = size(r);		/* constants */
	for (size_t i = 0; i < n && !r->bad; i++) {
		switch (byte(r)) {
		case 0: case 1: case 17:	/* nil, false, true */
			break;
		case 3: case 19:		/* integer, float */
			skip(r, 8);
			break;
		case 4: case 20:		/* short, long string */
			skip_string(r);
			break;
		default:
			r->bad = true;
		}
	}
	n = size(r);		/* upvalues: instack, idx, kind */
	for (size_t i = 0; i < n && !r->bad; i++) {
		unsigned int instack = byte(r), idx = byte(r);

		byte(r);
		if (captures && instack && idx == 0)
			*captures = true;
	}
	n = size(r);		/* children */
	if (ret) {
		ret->nprotos = n;
		if (n > 256)
			r->bad = true;
	}
	for (size_t i = 0; i < n && !r->bad; i++)
		function(r, NULL, ret ? &ret->captures_r0[i] : NULL, depth + 1);
	/* debug info, stripped: four empty vectors */
	for (int i = 0; i < 4 && !r->bad; i++)
		if (size(r))
			r->bad = true;
}

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int writer(lua_State *L, const void *p, size_t sz, void *ud)
{
	struct buf *b = ud;

	(void)L;
	if (sz > (1u << 20) - b->len)
		return 1;
	if (b->len + sz > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		uint8_t *n;

		while (cap < b->len + sz)
			cap *= 2;
		if (!(n = realloc(b->p, cap)))
			return 1;
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, sz);
	b->len += sz;
	return 0;
}

/* The dump's header (ldump.c's dumpHeader), as the running Lua writes it. */
static const uint8_t header[] = { 0x1b, 'L', 'u', 'a', 0x54, 0, 0x19, 0x93, '\r', '\n', 0x1a, '\n', 4, 8, 8 };

static bool scan(const uint8_t *p, size_t len)
{
	struct rd r = { p, p + len, false };
	struct fn f = {};

	if (len < sizeof(header) + 16 + 1 || memcmp(p, header, sizeof(header)))
		return true;
	skip(&r, sizeof(header) + 16);	/* LUAC_INT, LUAC_NUM */
	byte(&r);			/* the main function's upvalue count */
	function(&r, &f, NULL, 0);
	if (r.bad || r.p != r.end || f.vararg)
		return true;
	for (size_t i = 0; i < f.ncode && f.nparams; i++) {
		uint32_t in;
		unsigned int op, m;

		memcpy(&in, f.code + 4 * i, 4);
		op = OP(in);
		if (op >= sizeof(regs))
			return true;
		m = regs[op];
		if (op != OP_EXTRAARG && op != OP_JMP && !m)
			return true;	/* an opcode the table does not know */
		if (((m & RA) && A(in) == 0) || ((m & RB) && B(in) == 0) || ((m & RC) && C(in) == 0) ||
		    ((m & RKC) && !K(in) && C(in) == 0))
			return true;
		/* CLOSURE's Bx is the child's index */
		if ((m & CLOS) && ((in >> 15) >= f.nprotos || f.captures_r0[in >> 15]))
			return true;
	}
	return false;
}

static bool reads_arg(lua_State *L, int idx)
{
	struct buf b = {};
	bool reads = true;

	if (!lua_isfunction(L, idx) || lua_iscfunction(L, idx))
		return true;
	lua_pushvalue(L, idx);
	if (lua_dump(L, writer, &b, 1) == 0)
		reads = scan(b.p, b.len);
	lua_pop(L, 1);
	free(b.p);
	return reads;
}

/*
 * Handlers whose answer is known, compiled by the running Lua: the scan
 * is trusted only if it gets every one right.
 */
static const struct {
	const char *src;
	bool reads;
} cases[] = {
	{ "local n = 0 return function(ev) n = n + 1 end", false },
	{ "return function(ev) local t = {} t.x = 1 return #t end", false },
	{ "return function() end", false },
	{ "return function(ev) return ev.x end", true },
	{ "return function(ev) x = ev end", true },
	{ "return function(ev) t[1] = ev end", true },
	{ "return function(ev) local a = {} a.b = ev end", true },
	{ "return function(ev) f(ev) end", true },
	{ "return function(ev) return ev end", true },
	{ "return function(ev) if ev then end end", true },
	{ "return function(ev) return ev == 1 end", true },
	{ "return function(ev) return function() return ev end end", true },
	{ "return function(ev) for k, v in pairs(ev) do end end", true },
	{ "return function(ev) ev = nil end", true },
	{ "return function(ev, x) return x end", false },
	{ "return function(ev, x) return function() return x end end", false },
	{ "return function(ev) return select('#', ev) end", true },
	{ "return function(...) end", true },
};

static int selftest_state = -1;	/* -1 not run, 0 failed, 1 passed */

static bool selftest(void)
{
	lua_State *L;
	bool ok = true;

	if (selftest_state >= 0)
		return selftest_state;
	if (!(L = luaL_newstate()))
		return false;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && ok; i++) {
		if (luaL_loadstring(L, cases[i].src) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
			ok = false;
		else
			ok = reads_arg(L, -1) == cases[i].reads;
		lua_settop(L, 0);
	}
	lua_close(L);
	selftest_state = ok;
	return ok;
}

bool rules_handler_reads_event(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	if (!selftest())
		return true;
	return reads_arg(L, idx);
}

bool rules_handler_scan_trusted(void)
{
	return selftest();
}
