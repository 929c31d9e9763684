/* SPDX-License-Identifier: MIT */
/*
 * The step-counting pattern functions against the stock string library:
 * the same call in two plain states, one with ours installed, must give
 * the same values or the same error.  Input: an op byte, a pattern length
 * byte, a replacement length byte, the pattern, the replacement, then the
 * subject.  The stock matcher backtracks unbounded, so it gets short
 * inputs only, and none on which ours ran past its step limit.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "rules/lua-pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATTERN_MAX 24
#define REPL_MAX 12
#define SUBJECT_MAX 200
#define STEP_LIMIT 200000

static unsigned long steps;
static bool over;

static void count_steps(lua_State *L, unsigned long n)
{
	steps += n;
	if (steps > STEP_LIMIT) {
		over = true;
		luaL_error(L, "step limit");
	}
}

static const struct rules_pattern_ops ops = { .charge = count_steps };

/* A function replacement and a table one, the same in both states. */
static const char helpers[] =
	"fn = function(...) local n = select('#', ...) if n == 2 then return false end "
	"return n .. table.concat({...}, '|') end\n"
	"tab = setmetatable({}, { __index = function(_, k) if k == 'a' then return {} end "
	"return #tostring(k) % 2 == 0 and k or nil end })\n";

static lua_State *state_new(bool ours)
{
	lua_State *L = luaL_newstate();

	if (!L)
		abort();
	luaL_openlibs(L);
	if (ours) {
		lua_getglobal(L, "string");
		rules_pattern_install(L, -1, &ops);
		lua_pop(L, 1);
	}
	if (luaL_dostring(L, helpers) != LUA_OK)
		abort();
	return L;
}

struct input {
	unsigned int op;
	const char *p, *r, *s;
	size_t lp, lr, ls;
	lua_Integer init;
};

/* Adds every value on L's stack from base, with its type, to the table at index 1. */
static void render(lua_State *L, int base)
{
	int top = lua_gettop(L);

	for (int i = base; i <= top; i++) {
		lua_pushstring(L, lua_isinteger(L, i) ? "int" : luaL_typename(L, i));
		if (lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER)
			lua_pushvalue(L, i);
		else if (lua_type(L, i) == LUA_TBOOLEAN)
			lua_pushstring(L, lua_toboolean(L, i) ? "true" : "false");
		else
			lua_pushliteral(L, "");
		lua_pushliteral(L, "\x01");
		lua_concat(L, 3);
		lua_rawseti(L, 1, luaL_len(L, 1) + 1);
	}
}

static int call(lua_State *L)
{
	const struct input *in = lua_touserdata(L, 1);
	luaL_Buffer out;
	int base;

	lua_settop(L, 0);
	lua_newtable(L);
	lua_getglobal(L, "string");
	base = lua_gettop(L);
	switch (in->op % 8) {
	case 0:
	case 1:
		lua_getfield(L, -1, "find");
		lua_pushlstring(L, in->s, in->ls);
		lua_pushlstring(L, in->p, in->lp);
		lua_pushinteger(L, in->init);
		lua_pushboolean(L, in->op % 8);
		lua_call(L, 4, LUA_MULTRET);
		break;
	case 2:
		lua_getfield(L, -1, "match");
		lua_pushlstring(L, in->s, in->ls);
		lua_pushlstring(L, in->p, in->lp);
		lua_pushinteger(L, in->init);
		lua_call(L, 3, LUA_MULTRET);
		break;
	case 3:
		lua_getfield(L, -1, "gmatch");
		lua_pushlstring(L, in->s, in->ls);
		lua_pushlstring(L, in->p, in->lp);
		lua_pushinteger(L, in->init);
		lua_call(L, 3, 1);
		for (int i = 0; i < 64; i++) {
			int top = lua_gettop(L);

			lua_pushvalue(L, top);
			lua_call(L, 0, LUA_MULTRET);
			if (lua_gettop(L) == top || lua_isnil(L, top + 1))
				break;
			render(L, top + 1);
			lua_settop(L, top);
		}
		lua_settop(L, base);
		break;
	default:
		lua_getfield(L, -1, "gsub");
		lua_pushlstring(L, in->s, in->ls);
		lua_pushlstring(L, in->p, in->lp);
		if (in->op % 8 == 4)
			lua_getglobal(L, "fn");
		else if (in->op % 8 == 5)
			lua_getglobal(L, "tab");
		else
			lua_pushlstring(L, in->r, in->lr);
		if (in->op % 8 == 7) {
			lua_pushinteger(L, in->init);
			lua_call(L, 4, LUA_MULTRET);
		} else {
			lua_call(L, 3, LUA_MULTRET);
		}
		break;
	}
	render(L, base + 1);
	lua_settop(L, 1);
	luaL_buffinit(L, &out);
	for (lua_Integer i = 1; lua_rawgeti(L, 1, i) == LUA_TSTRING; i++)
		luaL_addvalue(&out);
	lua_pop(L, 1);
	luaL_pushresult(&out);
	return 1;
}

/* "ok" or "error" and what came back, malloc'd. */
static char *run(lua_State *L, const struct input *in, size_t *len)
{
	const char *r;
	char *copy;
	int ok;

	lua_pushcfunction(L, call);
	lua_pushlightuserdata(L, (void *)in);
	ok = lua_pcall(L, 1, 1, 0);
	r = lua_tolstring(L, -1, len);
	copy = malloc(*len + 2);
	if (!copy)
		abort();
	copy[0] = ok == LUA_OK ? 'o' : 'e';
	memcpy(copy + 1, r ? r : "", *len);
	(*len)++;
	lua_pop(L, 1);
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static lua_State *stock, *ours;
	struct input in;
	size_t la, lb;
	char *a, *b;

	if (!stock) {
		stock = state_new(false);
		ours = state_new(true);
	}
	if (size < 4)
		return 0;
	in.op = data[0];
	in.lp = data[1] % (PATTERN_MAX + 1);
	in.lr = data[2] % (REPL_MAX + 1);
	in.init = (int8_t)data[3];
	data += 4;
	size -= 4;
	if (in.lp + in.lr > size)
		return 0;
	in.p = (const char *)data;
	in.r = in.p + in.lp;
	in.s = in.r + in.lr;
	in.ls = size - in.lp - in.lr;
	if (in.ls > SUBJECT_MAX)
		return 0;
	steps = 0;
	over = false;
	b = run(ours, &in, &lb);
	if (over) {
		free(b);
		return 0;
	}
	a = run(stock, &in, &la);
	if (la != lb || memcmp(a, b, la)) {
		fprintf(stderr, "stock: %.*s\nours:  %.*s\n", (int)la, a, (int)lb, b);
		abort();
	}
	free(a);
	free(b);
	/* Each state's garbage stays small. */
	lua_gc(stock, LUA_GCSTEP, 0);
	lua_gc(ours, LUA_GCSTEP, 0);
	return 0;
}
