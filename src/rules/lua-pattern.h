/* SPDX-License-Identifier: MIT */
#pragma once

#include <lua.h>

/*
 * string.find, match, gmatch and gsub with Lua 5.4's pattern syntax and
 * results, on a matcher that counts its steps: a backtracking pattern is
 * charged as it runs, so a budget can stop it.  Needs only Lua, so that
 * tests and fuzz targets can set it beside the stock functions.
 */
struct rules_pattern_ops {
	/* n more steps were taken; raises a Lua error when they are over a budget. */
	void (*charge)(lua_State *L, unsigned long n);
};

/* Sets find, match, gmatch and gsub in the table at idx; ops must outlive the state. */
void rules_pattern_install(lua_State *L, int idx, const struct rules_pattern_ops *ops);
