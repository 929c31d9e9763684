/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/log.h"
#include "rules-internal.h"

/*
 * io for rules.  The loop must never wait on a file: io opens only
 * regular files (a FIFO, a device, a socket or a terminal could block a
 * read or a write for ever), and there is no standard input.  Standard
 * output is the event log, JSON lines only: print and io.write go to the
 * daemon's log instead, one line each, after the rule's name.
 */

#define NO_INPUT_KEY "nlhook.io.noinput"
#define LOG_OUTPUT_KEY "nlhook.io.log"
#define IO_INPUT "_IO_input"		/* liolib's registry keys for the default files */
#define IO_OUTPUT "_IO_output"

static void log_lines(struct rules_file *f, const char *s, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(s, '\n', len);
		size_t l = nl ? (size_t)(nl - s) : len;

		log_info("%s: %.*s", rules_ctx_name(f), (int)l, s);
		if (!nl)
			break;
		len -= l + 1;
		s = nl + 1;
	}
}

/* The log as a stdio stream, for io.output():write(). */
static ssize_t log_stream_write(void *cookie, const char *buf, size_t len)
{
	log_lines(cookie, buf, len);
	return len;
}

static int log_noclose(lua_State *L)
{
	luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);

	p->closef = log_noclose;
	luaL_pushfail(L);
	lua_pushliteral(L, "cannot close the log");
	return 2;
}

/* The FILE of the log handle is ours: closed with the state. */
static int log_stream_gc(lua_State *L)
{
	FILE **fp = lua_touserdata(L, 1);

	if (*fp)
		fclose(*fp);
	*fp = NULL;
	return 0;
}

static bool is_default(lua_State *L, const char *which, const char *sentinel)
{
	bool r;

	lua_getfield(L, LUA_REGISTRYINDEX, which);
	lua_getfield(L, LUA_REGISTRYINDEX, sentinel);
	r = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return r;
}

static int no_input(lua_State *L)
{
	return luaL_error(L, "rules have no standard input: read a file with io.open or io.input(filename)");
}

static const char *file_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISDIR(mode))
		return "a directory";
	return "a special file";
}

static bool mode_ok(const char *mode)
{
	if (!*mode || !strchr("rwa", *mode++))
		return false;
	if (*mode == '+')
		mode++;
	return strspn(mode, "b") == strlen(mode);
}

static int file_close(lua_State *L)
{
	luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);

	errno = 0;
	return luaL_fileresult(L, fclose(p->f) == 0, NULL);
}

/*
 * Pushes a file handle for name, opened without blocking and kept only
 * if it is a regular file (or a new one); returns 1, or 0 with errno set
 * and *why (NULL: strerror) for the refusal.
 */
static int open_regular(lua_State *L, const char *name, const char *mode, const char **why)
{
	int flags = O_NONBLOCK | O_NOCTTY | O_CLOEXEC, acc = strchr(mode, '+') ? O_RDWR : O_WRONLY, fd;
	luaL_Stream *p;
	struct stat st;

	*why = NULL;
	p = lua_newuserdatauv(L, sizeof(*p), 0);
	p->closef = NULL;
	luaL_setmetatable(L, LUA_FILEHANDLE);
	switch (mode[0]) {
	case 'r':
		flags |= strchr(mode, '+') ? O_RDWR : O_RDONLY;
		break;
	case 'w':
		flags |= acc | O_CREAT | O_TRUNC;
		break;
	default:
		flags |= acc | O_CREAT | O_APPEND;
		break;
	}
	fd = open(name, flags, 0666);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		*why = file_kind(st.st_mode);
		errno = EINVAL;
		goto fail;
	}
	/*
	 * O_NONBLOCK stays: it changes nothing for a disk file, and the
	 * kernel's "regular" files that wait for data (/proc/kmsg, trace_pipe)
	 * then fail with EAGAIN instead of blocking.
	 */
	p->f = fdopen(fd, mode);
	if (!p->f)
		goto fail;
	p->closef = file_close;
	return 1;
fail:
	close(fd);
	return 0;
}

/* io.open(name [, mode]) */
static int io_open_regular(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1), *mode = luaL_optstring(L, 2, "r"), *why;
	int err;

	luaL_argcheck(L, mode_ok(mode), 2, "invalid mode");
	if (open_regular(L, name, mode, &why))
		return 1;
	err = errno;
	luaL_pushfail(L);
	if (why)
		lua_pushfstring(L, "%s: %s, not a regular file", name, why);
	else
		lua_pushfstring(L, "%s: %s", name, strerror(err));
	lua_pushinteger(L, err);
	return 3;
}

/* Replaces the file name at index 1 with its handle, or raises as io.lines and io.input do. */
static void open_arg(lua_State *L, const char *mode)
{
	const char *name = lua_tostring(L, 1), *why;

	if (!open_regular(L, name, mode, &why))
		luaL_error(L, "cannot open file '%s' (%s%s)", name, why ? why : strerror(errno),
			   why ? ", not a regular file" : "");
	lua_replace(L, 1);
}

/* io.input and io.output (upvalue 1 the stock one): a file name opens as above. */
static int io_default_file(lua_State *L, const char *mode)
{
	/* A number is a file name too, as for the stock function. */
	if (lua_isstring(L, 1))
		open_arg(L, mode);
	return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

static int io_input(lua_State *L)
{
	if (lua_isnoneornil(L, 1) && is_default(L, IO_INPUT, NO_INPUT_KEY))
		return no_input(L);
	return io_default_file(L, "r");
}

static int io_output(lua_State *L)
{
	return io_default_file(L, "w");
}

static int io_read(lua_State *L)
{
	if (is_default(L, IO_INPUT, NO_INPUT_KEY))
		return no_input(L);
	return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

/* The iterator of io.lines(name): the file's lines, then the file closed. */
static int lines_next(lua_State *L)
{
	int n;

	lua_settop(L, 0);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_call(L, 0, LUA_MULTRET);
	n = lua_gettop(L);
	if (n > 0 && lua_toboolean(L, 1))
		return n;
	lua_getfield(L, lua_upvalueindex(2), "close");
	lua_pushvalue(L, lua_upvalueindex(2));
	lua_call(L, 1, 0);
	return n;
}

/* io.lines([name, ...]): upvalue 1 the stock one, for the default input. */
static int io_lines(lua_State *L)
{
	if (lua_isnoneornil(L, 1)) {
		if (is_default(L, IO_INPUT, NO_INPUT_KEY))
			return no_input(L);
		return lua_tocfunction(L, lua_upvalueindex(1))(L);
	}
	luaL_checkstring(L, 1);
	open_arg(L, "r");
	/* handle:lines(...) reads; the wrapper closes at the end, the 4th value when the loop breaks. */
	lua_getfield(L, 1, "lines");
	lua_insert(L, 1);
	lua_pushvalue(L, 2);
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 2, 1);
	lua_pushvalue(L, 1);
	lua_pushcclosure(L, lines_next, 2);
	lua_pushnil(L);
	lua_pushnil(L);
	lua_pushvalue(L, 1);
	return 4;
}

/* As the stock io.write writes a float, without lua_pushfstring's ".0". */
static void push_number(lua_State *L, lua_Number x)
{
	char buf[64];

	snprintf(buf, sizeof(buf), LUA_NUMBER_FMT, (LUAI_UACNUMBER)x);
	lua_pushstring(L, buf);
}

/* io.write(...): to the log, one message per call, unless io.output() named a file. */
static int io_write(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_Buffer b;

	if (!is_default(L, IO_OUTPUT, LOG_OUTPUT_KEY))
		return lua_tocfunction(L, lua_upvalueindex(1))(L);
	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (lua_type(L, i) == LUA_TNUMBER) {
			if (lua_isinteger(L, i))
				lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, i));
			else
				push_number(L, lua_tonumber(L, i));
		} else {
			luaL_checkstring(L, i);
			lua_pushvalue(L, i);
		}
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	log_lines(rules_file_of(L), lua_tostring(L, -1), luaL_len(L, -1));
	lua_getfield(L, LUA_REGISTRYINDEX, IO_OUTPUT);
	return 1;
}

/* print(...): tostring of each, tab-separated, as one log message. */
static int sb_print(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	log_lines(rules_file_of(L), lua_tostring(L, -1), luaL_len(L, -1));
	return 0;
}

/* The default input: a closed handle, so that what reads it fails. */
static void no_input_open(lua_State *L)
{
	luaL_Stream *p = lua_newuserdatauv(L, sizeof(*p), 0);

	p->f = NULL;
	p->closef = NULL;
	luaL_setmetatable(L, LUA_FILEHANDLE);
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, NO_INPUT_KEY);
	lua_setfield(L, LUA_REGISTRYINDEX, IO_INPUT);
}

/* The default output: the log. */
static void log_output_open(lua_State *L)
{
	static const cookie_io_functions_t fns = { .write = log_stream_write };
	luaL_Stream *p;
	FILE **fp;

	fp = lua_newuserdatauv(L, sizeof(*fp), 0);
	*fp = NULL;
	lua_newtable(L);
	lua_pushcfunction(L, log_stream_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	p = lua_newuserdatauv(L, sizeof(*p), 1);
	p->closef = NULL;
	luaL_setmetatable(L, LUA_FILEHANDLE);
	/* The handle holds the box of its FILE: the FILE lives as long as the handle. */
	lua_insert(L, -2);
	lua_setiuservalue(L, -2, 1);
	*fp = fopencookie(rules_file_of(L), "w", fns);
	if (!*fp)
		luaL_error(L, "cannot open the log stream: %s", strerror(errno));
	setvbuf(*fp, NULL, _IONBF, 0);
	p->f = *fp;
	p->closef = log_noclose;
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, LOG_OUTPUT_KEY);
	lua_setfield(L, LUA_REGISTRYINDEX, IO_OUTPUT);
}

static void replace(lua_State *L, const char *name, lua_CFunction fn)
{
	lua_getfield(L, -1, name);
	lua_pushcclosure(L, fn, 1);
	lua_setfield(L, -2, name);
}

void rules_io_open(lua_State *L)
{
	static const char *const gone[] = { "stdin", "stdout", "stderr", "popen" };

	lua_pushcfunction(L, sb_print);
	lua_setglobal(L, "print");
	no_input_open(L);
	log_output_open(L);
	lua_getglobal(L, "io");
	lua_pushcfunction(L, io_open_regular);
	lua_setfield(L, -2, "open");
	replace(L, "input", io_input);
	replace(L, "output", io_output);
	replace(L, "read", io_read);
	replace(L, "lines", io_lines);
	replace(L, "write", io_write);
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		lua_pushnil(L);
		lua_setfield(L, -2, gone[i]);
	}
	lua_pop(L, 1);
}
