/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua-pattern.h"
#include "rules-internal.h"

/*
 * The standard library rules get.  The count hook never fires inside a C
 * function, so every library loop whose length the rule picks is either
 * charged to the budget (the pattern matcher, the wrappers below) or
 * bounded by memory the rule must hold.
 */

/* A module is source text, as a rule file is. */
#define MODULE_MAX (4 << 20)

/* The stock function (upvalue 1), called in this frame: its errors name the function as the rule wrote it. */
static int stock(lua_State *L)
{
	return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

/* Pieces from a reader function are charged one instruction per byte, as parsing them costs. */
static int load_reader(lua_State *L)
{
	size_t len;

	lua_pushvalue(L, lua_upvalueindex(1));
	lua_call(L, 0, 1);
	if (lua_type(L, -1) == LUA_TSTRING) {
		lua_tolstring(L, -1, &len);
		rules_budget_charge(L, len);
	}
	return 1;
}

static int load_text_only(lua_State *L)
{
	int n = lua_gettop(L);
	size_t len;

	if (lua_type(L, 1) == LUA_TSTRING) {
		lua_tolstring(L, 1, &len);
		rules_budget_charge(L, len);
	} else if (lua_type(L, 1) == LUA_TFUNCTION) {
		lua_pushvalue(L, 1);
		lua_pushcclosure(L, load_reader, 1);
		lua_replace(L, 1);
	}
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

/* C loops the rule sizes, charged one instruction per element or byte */

/* The span i..j of a string of len bytes (Lua's relative positions), in bytes. */
static unsigned long span(lua_Integer i, lua_Integer j, size_t len)
{
	lua_Integer l = (lua_Integer)len;

	if (i < 0)
		i = i < -l ? 1 : l + i + 1;
	else if (i == 0)
		i = 1;
	if (j < 0)
		j = l + j + 1;
	else if (j > l)
		j = l;
	return j >= i ? (unsigned long)(j - i) + 1 : 0;
}

/* Elements from i to j inclusive, however far apart. */
static unsigned long count(lua_Integer i, lua_Integer j)
{
	return j >= i ? (unsigned long)j - (unsigned long)i + 1 : 0;
}

/* #t, or 0 for what is not a table: the stock function then raises its own error. */
static lua_Integer len_of(lua_State *L, int idx)
{
	return lua_istable(L, idx) ? luaL_len(L, idx) : 0;
}

/* Charged after the call: what these return is bounded by the stack (string.byte, table.unpack, ...). */
static int charge_results(lua_State *L)
{
	int n = stock(L);

	rules_budget_charge(L, n);
	return n;
}

static int charge_args(lua_State *L)
{
	rules_budget_charge(L, lua_gettop(L));
	return stock(L);
}

/* string.rep of nothing copies nothing n times: answer at once. */
static int sb_rep(lua_State *L)
{
	size_t l, lsep = 0;

	luaL_checklstring(L, 1, &l);
	luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &lsep);
	if (l + lsep == 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	return stock(L);
}

/* string.format, pack, unpack, packsize: a pass over the format and over each string given. */
static int charge_strings(lua_State *L)
{
	unsigned long n = 0;
	size_t len;

	for (int i = 1; i <= lua_gettop(L); i++) {
		if (lua_type(L, i) == LUA_TSTRING) {
			lua_tolstring(L, i, &len);
			n += len;
		}
	}
	rules_budget_charge(L, n);
	return stock(L);
}

static int sb_tonumber(lua_State *L)
{
	size_t len;

	if (lua_type(L, 1) == LUA_TSTRING) {
		lua_tolstring(L, 1, &len);
		rules_budget_charge(L, len);
	}
	return stock(L);
}

/* A full collection visits every object: about one per 16 bytes held. */
static int sb_collectgarbage(lua_State *L)
{
	const char *opt = luaL_optstring(L, 1, "collect");

	if (!strcmp(opt, "collect") || !strcmp(opt, "step"))
		rules_budget_charge(L, rules_file_of(L)->mem / 16);
	return stock(L);
}

static int sb_concat(lua_State *L)
{
	lua_Integer i = luaL_optinteger(L, 3, 1);
	lua_Integer j = lua_isnoneornil(L, 4) ? len_of(L, 1) : luaL_checkinteger(L, 4);

	rules_budget_charge(L, count(i, j));
	return stock(L);
}

static int sb_move(lua_State *L)
{
	rules_budget_charge(L, count(luaL_checkinteger(L, 2), luaL_checkinteger(L, 3)));
	return stock(L);
}

/* insert and remove shift the elements after pos: #t comes from __len, which may say anything. */
static int sb_insert(lua_State *L)
{
	if (lua_gettop(L) == 3)
		rules_budget_charge(L, count(luaL_checkinteger(L, 2), len_of(L, 1)));
	return stock(L);
}

static int sb_remove(lua_State *L)
{
	if (!lua_isnoneornil(L, 2))
		rules_budget_charge(L, count(luaL_checkinteger(L, 2), len_of(L, 1)));
	return stock(L);
}

static int sb_sort(lua_State *L)
{
	unsigned long n = count(1, len_of(L, 1)), log2n = 1;

	for (unsigned long k = n; k > 1; k >>= 1)
		log2n++;
	rules_budget_charge(L, n > ULONG_MAX / log2n ? ULONG_MAX : n * log2n);
	return stock(L);
}

static int sb_utf8_len(lua_State *L)
{
	size_t len;

	luaL_checklstring(L, 1, &len);
	rules_budget_charge(L, span(luaL_optinteger(L, 2, 1), luaL_optinteger(L, 3, -1), len));
	return stock(L);
}

/* utf8.offset walks from i to its answer, or to an end. */
static int sb_utf8_offset(lua_State *L)
{
	size_t len;
	lua_Integer n, i, r;
	int nres;

	luaL_checklstring(L, 1, &len);
	n = luaL_checkinteger(L, 2);
	i = luaL_optinteger(L, 3, n >= 0 ? 1 : (lua_Integer)len + 1);
	if (i < 0)
		i += (lua_Integer)len + 1;
	nres = stock(L);
	r = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : (lua_Integer)len;
	rules_budget_charge(L, r >= i ? count(i, r) : count(r, i));
	return nres;
}

static void wrap(lua_State *L, const char *lib, const char *name, lua_CFunction fn)
{
	lua_getglobal(L, lib);
	lua_getfield(L, -1, name);
	lua_pushcclosure(L, fn, 1);
	lua_setfield(L, -2, name);
	lua_pop(L, 1);
}

static void wrap_loops(lua_State *L)
{
	static const struct rules_pattern_ops pattern_ops = { .charge = rules_budget_charge };
	static const struct {
		const char *lib, *name;
		lua_CFunction fn;
	} w[] = {
		{ "_G", "tonumber", sb_tonumber },
		{ "_G", "collectgarbage", sb_collectgarbage },
		{ "string", "rep", sb_rep },
		{ "string", "byte", charge_results },
		{ "string", "char", charge_args },
		{ "string", "format", charge_strings },
		{ "string", "pack", charge_strings },
		{ "string", "unpack", charge_strings },
		{ "string", "packsize", charge_strings },
		{ "table", "concat", sb_concat },
		{ "table", "move", sb_move },
		{ "table", "insert", sb_insert },
		{ "table", "remove", sb_remove },
		{ "table", "sort", sb_sort },
		{ "table", "unpack", charge_results },
		{ "utf8", "char", charge_args },
		{ "utf8", "codepoint", charge_results },
		{ "utf8", "len", sb_utf8_len },
		{ "utf8", "offset", sb_utf8_offset },
	};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		wrap(L, w[i].lib, w[i].name, w[i].fn);
	/* The string table is also every string's __index: s:find() takes these too. */
	lua_getglobal(L, "string");
	rules_pattern_install(L, -1, &pattern_ops);
	lua_pop(L, 1);
}

/* require: Lua modules from the rules dirs and the lib dir beside each */

/* dir made absolute, without "." or ".." or repeated slashes; malloc'd. */
static char *path_normalise(const char *dir)
{
	char cwd[PATH_MAX], *buf, *out;
	const char *p;
	size_t n = 0;

	if (dir[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		if (asprintf(&buf, "%s/%s", cwd, dir) < 0)
			return NULL;
	} else if (!(buf = strdup(dir))) {
		return NULL;
	}
	out = malloc(strlen(buf) + 2);
	if (!out) {
		free(buf);
		return NULL;
	}
	for (p = buf; *p;) {
		size_t l;

		while (*p == '/')
			p++;
		l = strcspn(p, "/");
		if (l == 0 || (l == 1 && p[0] == '.')) {
			/* nothing */
		} else if (l == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[--n] != '/')
				;
		} else {
			out[n++] = '/';
			memcpy(out + n, p, l);
			n += l;
		}
		p += l;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	free(buf);
	return out;
}

/* Pushes the lib dir beside a rules dir: /etc/nlhook/rules.d -> /etc/nlhook/lib. */
static void push_lib_dir(lua_State *L, const char *rules_dir)
{
	char *d = path_normalise(rules_dir);

	if (!d) {
		luaL_error(L, "%s: %s", rules_dir, strerror(errno));
		return;
	}
	*strrchr(d, '/') = '\0';
	lua_pushfstring(L, "%s/lib", d);	/* may raise: d is freed first */
	free(d);
}

/* Appends the real path of dir to the table on top, when dir exists. */
static void add_root(lua_State *L, const char *dir)
{
	char *real = realpath(dir, NULL);

	if (!real)
		return;
	lua_pushstring(L, real);
	free(real);
	lua_rawseti(L, -2, luaL_len(L, -2) + 1);
}

/*
 * Sets package.path to the lib dirs, later rules dirs first as their
 * files override, and pushes the table of the dirs modules may come from.
 */
static void module_dirs(lua_State *L)
{
	struct rules_file *f = rules_file_of(L);
	int n = 0;

	lua_getglobal(L, "package");
	lua_newtable(L);
	for (size_t i = f->n_dirs; i-- > 0;) {
		push_lib_dir(L, f->dirs[i]);
		lua_pushvalue(L, -2);
		add_root(L, lua_tostring(L, -2));
		add_root(L, f->dirs[i]);
		lua_pop(L, 1);
		lua_pushstring(L, n ? ";" : "");
		lua_insert(L, -2);
		lua_pushliteral(L, "/?.lua");
		lua_concat(L, 3);
		lua_insert(L, -2);
		n++;
	}
	/* Stack: package, path pieces..., roots */
	lua_insert(L, -1 - n);
	lua_concat(L, n);
	lua_setfield(L, -3, "path");
	lua_remove(L, -2);
}

/* Is the real path file inside one of the roots (upvalue 2)? */
static bool under_roots(lua_State *L, const char *file)
{
	bool inside = false;

	for (lua_Integer i = 1; !inside; i++) {
		size_t l;
		const char *root;

		if (lua_rawgeti(L, lua_upvalueindex(2), i) != LUA_TSTRING) {
			lua_pop(L, 1);
			break;
		}
		root = lua_tolstring(L, -1, &l);
		inside = !strncmp(file, root, l) && (file[l] == '/' || !strcmp(root, "/"));
		lua_pop(L, 1);
	}
	return inside;
}

/*
 * Reads the module at real path file into *box; NULL, or why not.  Run as
 * root, the file and its dir must pass the rule files' ownership check.
 */
static const char *module_read(lua_State *L, const char *file, void **box, size_t *ret_len, char *why,
			       size_t why_size)
{
	struct rules_file *f = rules_file_of(L);
	const char *problem = NULL;
	char *dir, *buf = NULL;
	struct stat st, dst;
	size_t len = 0;
	int fd, r;

	fd = open(file, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
		return strerror(errno);
	if (fstat(fd, &st) < 0) {
		problem = strerror(errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		problem = "not a regular file";
		goto out;
	}
	if ((f->flags & RULES_CHECK_PERMS) && (problem = rules_perms_problem(&st, why, why_size)))
		goto out;
	dir = strdup(file);
	if (!dir) {
		problem = strerror(ENOMEM);
		goto out;
	}
	*strrchr(dir, '/') = '\0';
	if ((f->flags & RULES_CHECK_PERMS) && stat(*dir ? dir : "/", &dst) == 0 &&
	    (problem = rules_perms_problem(&dst, why, why_size))) {
		char tmp[128];

		snprintf(tmp, sizeof(tmp), "its directory is %s", problem);
		snprintf(why, why_size, "%s", tmp);
		problem = why;
	}
	free(dir);
	if (problem)
		goto out;
	if (st.st_size > MODULE_MAX) {
		problem = "larger than 4 MiB";
		goto out;
	}
	*box = buf = malloc(st.st_size + 1);
	if (!buf) {
		problem = strerror(ENOMEM);
		goto out;
	}
	r = rules_read_fd(fd, buf, st.st_size, &len);
	if (r < 0) {
		problem = strerror(-r);
		goto out;
	}
	*ret_len = len;
out:
	close(fd);
	return problem;
}

/* Finds name along package.path as the stock searcher does, without opening what it finds. */
static const char *module_find(lua_State *L, const char *name, luaL_Buffer *notfound)
{
	const char *path, *end;
	struct stat st;

	lua_getfield(L, lua_upvalueindex(1), "path");
	path = lua_tostring(L, -1);
	if (!path)
		luaL_error(L, "package.path must be a string");
	name = luaL_gsub(L, name, ".", "/");
	luaL_buffinit(L, notfound);
	for (; *path; path = *end ? end + 1 : end) {
		end = strchr(path, ';');
		if (!end)
			end = path + strlen(path);
		if (end == path)
			continue;
		lua_pushlstring(L, path, end - path);
		luaL_gsub(L, lua_tostring(L, -1), "?", name);
		lua_remove(L, -2);
		if (stat(lua_tostring(L, -1), &st) == 0)
			return lua_tostring(L, -1);
		luaL_addstring(notfound, "\n\tno file '");
		luaL_addvalue(notfound);
		luaL_addstring(notfound, "'");
	}
	return NULL;
}

static int searcher_rules(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1), *file, *problem;
	char why[160], *real;
	luaL_Buffer notfound;
	size_t len = 0;
	void **box;
	int top;

	box = rules_box_new(L);
	top = lua_gettop(L);
	file = module_find(L, name, &notfound);
	if (!file) {
		luaL_pushresult(&notfound);
		/* The stock message has no "\n\t" before its first line: require adds it. */
		lua_pushstring(L, luaL_len(L, -1) > 2 ? lua_tostring(L, -1) + 2 : "");
		return 1;
	}
	real = realpath(file, NULL);
	if (!real)
		return luaL_error(L, "module '%s': %s: %s", name, file, strerror(errno));
	lua_pushstring(L, real);
	free(real);
	lua_replace(L, top + 1);
	lua_settop(L, top + 1);
	file = lua_tostring(L, -1);
	if (!under_roots(L, file))
		return luaL_error(L, "module '%s': %s is outside the rules and lib dirs (package.path may only lead there)",
				  name, file);
	problem = module_read(L, file, box, &len, why, sizeof(why));
	if (problem)
		return luaL_error(L, "module '%s': %s: %s, refusing to load it", name, file, problem);
	/* Parsing costs as for load: a rule that clears package.loaded pays each time. */
	rules_budget_charge(L, len);
	if (luaL_loadbufferx(L, *box, len, lua_pushfstring(L, "@%s", file), "t") != LUA_OK)
		return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
				  lua_tostring(L, -1));
	free(*box);
	*box = NULL;
	lua_pushvalue(L, top + 1);
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

static void package_open(lua_State *L)
{
	lua_getglobal(L, "package");
	lua_pushliteral(L, "");
	lua_setfield(L, -2, "cpath");
	lua_pop(L, 1);
	module_dirs(L);
	/* searchers: package.preload, then ours; no C modules. */
	lua_getglobal(L, "package");
	lua_createtable(L, 2, 0);
	lua_getfield(L, -2, "searchers");
	lua_rawgeti(L, -1, 1);
	lua_rawseti(L, -3, 1);
	lua_pop(L, 1);
	lua_pushvalue(L, -2);
	lua_pushvalue(L, -4);		/* the roots */
	lua_pushcclosure(L, searcher_rules, 2);
	lua_rawseti(L, -2, 2);
	lua_setfield(L, -2, "searchers");
	lua_pop(L, 2);
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
	/* The locale is the process's: number formatting would change for the daemon. */
	setfield_nil(L, "os", "setlocale");
	setfield_nil(L, "package", "loadlib");
	wrap_loops(L);
	rules_io_open(L);
	package_open(L);
}
