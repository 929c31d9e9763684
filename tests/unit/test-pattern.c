/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "rules/lua-pattern.h"

/*
 * The step-counting string.find, match, gmatch and gsub against the stock
 * ones: the same script runs in a plain state and in one where ours
 * replace the string library's, and every line it prints (each return
 * value with its type, or the error message) must be the same.
 */

static unsigned long steps, step_limit;

static void count_steps(lua_State *L, unsigned long n)
{
	steps += n;
	if (step_limit && steps > step_limit)
		luaL_error(L, "step limit");
}

static const struct rules_pattern_ops ops = { .charge = count_steps };

/* Helpers both states get: show() renders results, each case adds one line. */
static const char prelude[] =
	"local out = {}\n"
	"local function show(ok, ...)\n"
	"  local t = { ok and 'ok' or 'err', tostring(select('#', ...)) }\n"
	"  for i = 1, select('#', ...) do\n"
	"    local v = select(i, ...)\n"
	"    t[#t + 1] = (math.type(v) or type(v)) .. ':' .. tostring(v)\n"
	"  end\n"
	"  return table.concat(t, ' ')\n"
	"end\n"
	"function case(name, f, ...) out[#out + 1] = name .. ' => ' .. show(pcall(f, ...)) end\n"
	"function all(it)\n"
	"  local t = {}\n"
	"  for i = 1, 50 do\n"
	"    local r = table.pack(it())\n"
	"    if r[1] == nil then t[#t + 1] = 'end/' .. r.n break end\n"
	"    for j = 1, r.n do t[#t + 1] = tostring(r[j]) end\n"
	"    t[#t + 1] = ';'\n"
	"  end\n"
	"  return table.concat(t, ',')\n"
	"end\n"
	"function result() return out end\n";

/* Every pattern meets every subject through find, match, gmatch and gsub. */
static const char cross[] =
	"local P = {\n"
	"  '', 'a', 'b', '.', '..', 'a*', 'a+', 'a-', 'a?', 'a*b', 'a-b', '^a', '^a*', 'a$', '$', '^$', 'a$b',\n"
	"  '%a', '%A', '%c', '%C', '%d', '%D', '%g', '%G', '%l', '%L', '%p', '%P', '%s', '%S', '%u', '%U',\n"
	"  '%w', '%W', '%x', '%X', '%.', '%%', '%z', '%Z', '%]', '%-', '%a+', '%d+%.?%d*', '%s*(%S+)%s*',\n"
	"  '[abc]', '[^abc]', '[a-c]+', '[^a-c]+', '[%a_][%w_]*', '[]]', '[^]]', '[]a]*', '[a-]', '[-a]', '[a%-z]',\n"
	"  '[%]]', '[^%]]+', '[%a-z]', '[z-a]', '[a-%%]', '[%w%p]+', '[\\0-\\31]', '[\\128-\\255]+',\n"
	"  '()', '()a()', '(a)', '(a*)', '(a)(b)', '((a)(b))', '(a-)b', '(.-)%1', '(a)%1', '(%a+) %1', '()%1',\n"
	"  '(a', 'a)', ')', '(()', '%1', '%0', '(a)%2', '(a%1)', '%b()', '%b', '%ba', '%bab', '%b\\0\\0', '%b((',\n"
	"  '%f[%a]%a+', '%f[%A]', '%f[%w]%w+%f[%W]', '%f', '%fa', '%f[', '%f[a', '%f[^\\0]', '%f[\\0]',\n"
	"  '[', '[a', '[^', '[]', '[^]', '%', 'a%', '[%', '[a%', '(%)', '%(', 'x*', '.-', '.-$', '^(.-)$', '(.)%1+',\n"
	"  '(h)(e)(l)(l)(o)', 'a-$', '[%w]-[%s]', '%s-', '%d?%d?%d', '^%s*$', '(%w+)=(%w+)', '()(%w+)()',\n"
	"  '\\0', '%\\0', '[\\0]', 'a\\0b', '.\\0', '%x+', '^-', '-', '*', '+', '?', '^*', 'a**', 'a+?', 'a?+',\n"
	"}\n"
	"local S = {\n"
	"  '', 'a', 'aaa', 'ab', 'aab', 'abc', 'b', 'hello world', ' x = 1 , y=22 ', 'f(a(b)c)d((e)', '[x]]',\n"
	"  'a\\0b\\0', 'THE (quick) fox', '\\1\\2\\n\\t ~', '\\200\\255\\128a', 'a-b-c', '12.5e3 0x1F', 'hello',\n"
	"  'xyzzy', 'aaaaab', '%%', '--a--', 'a.b.c', 'tabs\\tand\\nnewlines',\n"
	"}\n"
	"local repl = { '<%0>', '%1', '%2', '%%', '%', '%x', '[%1|%0]', '', 5 }\n"
	"for _, p in ipairs(P) do\n"
	"  for _, s in ipairs(S) do\n"
	"    local id = string.format('%q %q', p, s)\n"
	"    case('find ' .. id, string.find, s, p)\n"
	"    case('find3 ' .. id, string.find, s, p, 3)\n"
	"    case('find-2 ' .. id, string.find, s, p, -2)\n"
	"    case('findplain ' .. id, string.find, s, p, 1, true)\n"
	"    case('match ' .. id, string.match, s, p)\n"
	"    case('match2 ' .. id, string.match, s, p, 2)\n"
	"    case('gmatch ' .. id, function() return all(string.gmatch(s, p)) end)\n"
	"    case('gmatch2 ' .. id, function() return all(string.gmatch(s, p, 2)) end)\n"
	"    for i, r in ipairs(repl) do case('gsub' .. i .. ' ' .. id, string.gsub, s, p, r) end\n"
	"    case('gsubmax ' .. id, string.gsub, s, p, '#', 2)\n"
	"    case('gsubfn ' .. id, string.gsub, s, p, function(...) return select('#', ...) .. table.concat({...}, '|') end)\n"
	"    case('gsubfalse ' .. id, string.gsub, s, p, function() return false end)\n"
	"    case('gsubtab ' .. id, string.gsub, s, p, { a = 'A', [''] = 'E', hello = 1, b = false })\n"
	"  end\n"
	"end\n";

/* Arguments, odd positions, replacements, and what stock Lua reports as errors. */
static const char edges[] =
	"local s = 'hello world from lua'\n"
	"for _, i in ipairs({ -100, -21, -20, -1, 0, 1, 2, 20, 21, 22, 100, math.mininteger, math.maxinteger }) do\n"
	"  case('find init ' .. i, string.find, s, 'o', i)\n"
	"  case('find empty init ' .. i, string.find, s, '', i)\n"
	"  case('findplain init ' .. i, string.find, s, 'lu', i, true)\n"
	"  case('match init ' .. i, string.match, s, '()o', i)\n"
	"  case('match empty init ' .. i, string.match, s, '()', i)\n"
	"  case('gmatch init ' .. i, function() return all(string.gmatch(s, '()o', i)) end)\n"
	"  case('gmatch empty init ' .. i, function() return all(string.gmatch(s, '', i)) end)\n"
	"  case('gsub max ' .. i, string.gsub, s, 'o', '0', i)\n"
	"end\n"
	"case('find nil', string.find, nil, 'a')\n"
	"case('find no pattern', string.find, 'a')\n"
	"case('find table', string.find, 'a', {})\n"
	"case('find float init', string.find, 'abc', 'b', 1.5)\n"
	"case('find string init', string.find, 'abc', 'b', '2')\n"
	"case('find numbers', string.find, 12345, 34)\n"
	"case('find plain special', string.find, 'a.b', '.', 1, true)\n"
	"case('find plain 0', string.find, 'a.b', '.', 1, 0)\n"
	"case('find plain nil', string.find, 'a.b', '.', 1, nil)\n"
	"case('find long plain', string.find, string.rep('ab', 100) .. 'abc', string.rep('ab', 20) .. 'c', 1, true)\n"
	"case('match no subject', string.match)\n"
	"case('gmatch bad', string.gmatch, 'a')\n"
	"case('gsub no repl', string.gsub, 'abc', 'b')\n"
	"case('gsub bool repl', string.gsub, 'abc', 'b', true)\n"
	"case('gsub bad max', string.gsub, 'abc', 'b', 'x', 'y')\n"
	"case('gsub bad max first', string.gsub, 'abc', 'b', nil, 'y')\n"
	"case('gsub float max', string.gsub, 'abc', 'b', 'x', 1.5)\n"
	"case('gsub number repl', string.gsub, 'abc', 'b', 1.5)\n"
	"case('gsub int repl', string.gsub, 'abc', '%w', 7)\n"
	"case('gsub repl position', string.gsub, 'abc', '()b()', '%1-%2')\n"
	"case('gsub repl position %0', string.gsub, 'abc', '()', '[%0%1]')\n"
	"case('gsub fn position', string.gsub, 'abc', '()b', function(p) return p * 10 end)\n"
	"case('gsub fn table result', string.gsub, 'abc', 'b', function() return {} end)\n"
	"case('gsub fn number result', string.gsub, 'abc', 'b', function() return 2.5 end)\n"
	"case('gsub fn error', string.gsub, 'abc', 'b', function() error('inner', 0) end)\n"
	"case('gsub tab position', string.gsub, 'abc', '()b', { [2] = 'two' })\n"
	"case('gsub tab capture', string.gsub, 'k=v, a=b', '(%w+)=(%w+)', { k = 'K' })\n"
	"case('gsub tab meta', string.gsub, 'abc', '%w', setmetatable({}, { __index = function(_, k) return k:upper() end }))\n"
	"case('gsub unfinished fn', string.gsub, 'abc', '(b', function() return 'x' end)\n"
	"case('gsub unfinished tab', string.gsub, 'abc', '(b', {})\n"
	"case('gsub unfinished str', string.gsub, 'abc', '(b', '%1')\n"
	"case('gsub unfinished %0', string.gsub, 'abc', '(b', '%0')\n"
	"case('gsub capture index 9', string.gsub, 'abc', '(b)', '%9')\n"
	"case('gsub anchored', string.gsub, 'aaa', '^a', 'b')\n"
	"case('gsub anchored empty', string.gsub, 'aaa', '^', '>')\n"
	"case('gsub empty pattern', string.gsub, 'abc', '', '-')\n"
	"case('gsub x* empty matches', string.gsub, 'abc', 'x*', '-')\n"
	"case('gsub .- ', string.gsub, 'abc', '.-', '-')\n"
	"case('gsub max 0', string.gsub, 'abc', '%w', 'x', 0)\n"
	"case('gsub max -1', string.gsub, 'abc', '%w', 'x', -1)\n"
	"case('gsub big', string.gsub, string.rep('ab', 1000), 'b', 'cc')\n"
	"case('gsub repl with zero', string.gsub, 'abc', 'b', 'x\\0y')\n"
	"case('gsub repl %\\0', string.gsub, 'abc', 'b', '%\\0')\n"
	"case('captures 32', string.match, string.rep('a', 40), string.rep('(a)', 32))\n"
	"case('captures 33', string.match, string.rep('a', 40), string.rep('(a)', 33))\n"
	"case('positions 32', string.find, string.rep('a', 40), string.rep('()', 32))\n"
	"case('positions 33', string.find, string.rep('a', 40), string.rep('()', 33))\n"
	"case('depth 199 ?', string.match, string.rep('a', 300), string.rep('a?', 199))\n"
	"case('depth 200 ?', string.match, string.rep('a', 300), string.rep('a?', 200))\n"
	"case('depth 201 ?', string.match, string.rep('a', 300), string.rep('a?', 201))\n"
	"case('depth captures', string.match, string.rep('a', 300), string.rep('(a)', 30) .. string.rep('a?', 175))\n"
	"case('depth *', string.match, string.rep('a', 300), string.rep('a*', 210))\n"
	"case('depth - fail', string.match, string.rep('a', 300), string.rep('a-', 250) .. 'b')\n"
	"case('backref pos', string.find, 'aa', '()%1')\n"
	"case('backref open', string.find, 'aa', '(a%1)')\n"
	"case('backref 0', string.find, 'aa', '(a)%0')\n"
	"case('balance nested', string.match, 'x(a(b)(c(d)))y', '%b()')\n"
	"case('balance same', string.match, 'xaaay', '%baa')\n"
	"case('frontier words', function() return all(string.gmatch('THE (quick) fox', '%f[%a]%a+')) end)\n"
	"case('frontier end', string.find, 'abc', '%f[%z]')\n"
	"case('frontier nul', string.find, 'abc', '%f[\\0]')\n"
	"case('method find', function() return ('abc'):find('b') end)\n"
	"case('method gsub', function() return ('abc'):gsub('%w', '%0%0') end)\n"
	"case('gmatch after end', function() local it = string.gmatch('ab', '.') return it(), it(), it(), it() end)\n"
	"case('gmatch anchor', function() return all(string.gmatch('^a^a', '^a')) end)\n"
	"case('gmatch bad pattern', function() return all(string.gmatch('abc', '[a')) end)\n"
	"case('gmatch keeps strings', function()\n"
	"  local it = string.gmatch(string.rep('x', 10) .. 'y', '(x+)(y)')\n"
	"  collectgarbage() return it() end)\n";

static lua_State *state_new(bool ours)
{
	lua_State *L = luaL_newstate();

	assert_non_null(L);
	luaL_openlibs(L);
	if (ours) {
		lua_getglobal(L, "string");
		rules_pattern_install(L, -1, &ops);
		lua_pop(L, 1);
	}
	assert_int_equal(luaL_dostring(L, prelude), LUA_OK);
	return L;
}

/* Runs script in L, leaving the table of lines it gathered on the stack. */
static void run(lua_State *L, const char *script)
{
	if (luaL_dostring(L, script) != LUA_OK)
		fail_msg("script: %s", lua_tostring(L, -1));
	lua_getglobal(L, "result");
	assert_int_equal(lua_pcall(L, 0, 1, 0), LUA_OK);
}

/* Each error the stock matcher raises, so that the cases are known to reach them all. */
static const char *const errors[] = {
	"pattern too complex", "too many captures", "malformed pattern (missing ']')",
	"malformed pattern (ends with '%')", "missing '[' after '%f' in pattern",
	"malformed pattern (missing arguments to '%b')", "invalid pattern capture", "unfinished capture",
	"invalid capture index %1", "invalid capture index %2", "invalid capture index %0",
	"invalid capture index %9", "invalid use of '%' in replacement string",
	"invalid replacement value (a table)", "(string/function/table expected, got",
};

static bool seen[sizeof(errors) / sizeof(errors[0])];

/* Line by line: the first difference names the case. */
static void compare(const char *script)
{
	lua_State *stock = state_new(false), *ours = state_new(true);
	lua_Integer n;

	run(stock, script);
	run(ours, script);
	n = luaL_len(stock, -1);
	assert_true(n > 100);
	assert_int_equal(n, luaL_len(ours, -1));
	for (lua_Integer i = 1; i <= n; i++) {
		size_t la, lb;
		const char *a, *b;

		lua_rawgeti(stock, -1, i);
		lua_rawgeti(ours, -1, i);
		a = lua_tolstring(stock, -1, &la);
		b = lua_tolstring(ours, -1, &lb);
		if (la != lb || memcmp(a, b, la))
			fail_msg("case %lld differs:\n  stock: %s\n  ours:  %s", (long long)i, a, b);
		for (size_t e = 0; e < sizeof(errors) / sizeof(errors[0]); e++) {
			if (strstr(a, " => err ") && strstr(a, errors[e]))
				seen[e] = true;
		}
		lua_pop(stock, 1);
		lua_pop(ours, 1);
	}
	lua_close(stock);
	lua_close(ours);
}

static void test_cross(void **state)
{
	compare(cross);
}

static void test_edges(void **state)
{
	compare(edges);
}

/* Between them, the two tables of cases reach every error (run after them). */
static void test_all_errors(void **state)
{
	for (size_t e = 0; e < sizeof(errors) / sizeof(errors[0]); e++)
		if (!seen[e])
			fail_msg("no case raises \"%s\"", errors[e]);
}

/* A backtracking pattern costs steps as it runs and is stopped by the charge. */
static void test_steps_charged(void **state)
{
	static const char *const runaways[] = {
		"return string.rep('a', 400):find(string.rep('a*', 5) .. 'b')",
		"return (string.rep('a', 400):gsub(string.rep('a*', 5) .. 'b', ''))",
		"return string.rep('a', 400):match(string.rep('a-', 5) .. 'b')",
		"for x in string.rep('a', 400):gmatch(string.rep('a*', 5) .. 'b') do end",
	};
	lua_State *L = state_new(true);

	steps = 0;
	step_limit = 0;
	assert_int_equal(luaL_dostring(L, "return string.find(string.rep('a', 30), string.rep('a*', 3) .. 'b')"), LUA_OK);
	assert_true(lua_isnil(L, -1));
	/* About 30^3/6 tries of the last star, each a few steps. */
	assert_true(steps > 4000);
	lua_settop(L, 0);

	step_limit = 1000000;
	for (size_t i = 0; i < sizeof(runaways) / sizeof(runaways[0]); i++) {
		steps = 0;
		assert_int_not_equal(luaL_dostring(L, runaways[i]), LUA_OK);
		assert_non_null(strstr(lua_tostring(L, -1), "step limit"));
		/* Charged in batches: stopped right past the limit. */
		assert_true(steps > step_limit && steps < step_limit + 2048);
		lua_settop(L, 0);
	}

	/* A plain find over a long subject is charged too. */
	steps = 0;
	step_limit = 0;
	assert_int_equal(luaL_dostring(L, "return string.rep('a', 1e6):find(string.rep('a', 1000) .. 'b', 1, true)"),
			 LUA_OK);
	assert_true(steps > 1000000);
	lua_close(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cross),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_all_errors),
		cmocka_unit_test(test_steps_charged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
