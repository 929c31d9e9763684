/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua-pattern.h"
#include "rules-internal.h"

static int load_text_only(lua_State *L)
{
	int n = lua_gettop(L);

	/* load(chunk [, chunkname [, mode [, env]]]): the mode is always "t". */
	lua_settop(L, 4);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_pushliteral(L, "t");
	if (n >= 4) {
		lua_pushvalue(L, 4);
		lua_call(L, 4, LUA_MULTRET);
	} else {
		lua_call(L, 3, LUA_MULTRET);
	}
	return lua_gettop(L) - 4;
}

/*
 * Finalizers run with hooks off (lgc.c stops them around __gc): a __gc
 * that loops would escape the budget.  Refuse metatables with one.
 */
static int setmetatable_no_gc(lua_State *L)
{
	if (lua_istable(L, 2)) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc metamethods are not available to rules");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* require of Lua modules, as text only (the stock searcher accepts bytecode). */
static int searcher_text(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const char *file;

	lua_pushvalue(L, lua_upvalueindex(2));	/* package.searchpath */
	lua_pushstring(L, name);
	lua_getfield(L, lua_upvalueindex(1), "path");
	if (lua_type(L, -1) != LUA_TSTRING)
		return luaL_error(L, "package.path must be a string");
	lua_call(L, 2, 2);
	if (lua_isnil(L, -2))
		return 1;	/* the error message from searchpath */
	lua_pop(L, 1);
	file = lua_tostring(L, -1);
	if (luaL_loadfilex(L, file, "t") != LUA_OK)
		return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
				  lua_tostring(L, -1));
	lua_pushstring(L, file);
	return 2;
}

static void setfield_nil(lua_State *L, const char *table, const char *field)
{
	if (lua_getglobal(L, table) == LUA_TTABLE) {
		lua_pushnil(L);
		lua_setfield(L, -2, field);
	}
	lua_pop(L, 1);
}

/* The string table is also every string's __index: s:find() takes these too. */
static void patterns_open(lua_State *L)
{
	static const struct rules_pattern_ops pattern_ops = { .charge = rules_budget_charge };

	lua_getglobal(L, "string");
	rules_pattern_install(L, -1, &pattern_ops);
	lua_pop(L, 1);
}

void rules_sandbox_open(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base },
		{ LUA_LOADLIBNAME, luaopen_package },
		{ LUA_COLIBNAME, luaopen_coroutine },
		{ LUA_TABLIBNAME, luaopen_table },
		{ LUA_IOLIBNAME, luaopen_io },
		{ LUA_OSLIBNAME, luaopen_os },
		{ LUA_STRLIBNAME, luaopen_string },
		{ LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 },
		/* No debug: debug.sethook would lift the budget. */
	};

	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		luaL_requiref(L, libs[i].name, libs[i].func, 1);
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	lua_setglobal(L, "dofile");
	lua_pushnil(L);
	lua_setglobal(L, "loadfile");
	lua_getglobal(L, "load");
	lua_pushcclosure(L, load_text_only, 1);
	lua_setglobal(L, "load");
	lua_getglobal(L, "setmetatable");
	lua_pushcclosure(L, setmetatable_no_gc, 1);
	lua_setglobal(L, "setmetatable");
	setfield_nil(L, "os", "execute");
	setfield_nil(L, "os", "exit");
	setfield_nil(L, "io", "popen");
	setfield_nil(L, "package", "loadlib");
	patterns_open(L);

	lua_getglobal(L, "package");
	lua_pushliteral(L, "");
	lua_setfield(L, -2, "cpath");
	lua_createtable(L, 2, 0);
	lua_getfield(L, -2, "searchers");
	lua_rawgeti(L, -1, 1);		/* package.preload */
	lua_rawseti(L, -3, 1);
	lua_pop(L, 1);
	lua_pushvalue(L, -2);
	lua_getfield(L, -3, "searchpath");
	lua_pushcclosure(L, searcher_text, 2);
	lua_rawseti(L, -2, 2);
	lua_setfield(L, -2, "searchers");
	lua_pop(L, 1);
}
