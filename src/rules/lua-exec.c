/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/json.h"
#include "core/log.h"
#include "rules-internal.h"

/* Rule actions as child processes: nlhook.exec, path actions, on_exit. */

#define ARGV_MAX 4096

struct job {
	struct rule *r;
	int ref;		/* on_exit, or LUA_NOREF */
};

/*
 * on_exit's status: the exit code, or 128 plus the signal; for a program
 * that did not start, what shells give: 127 when it is not there, 126 for
 * any other reason.
 */
int rules_exit_status(int status)
{
	if (status < 0)
		return status == -ENOENT || status == -ENOTDIR ? 127 : 126;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* exec logs failures and exit statuses itself. */
static void job_done(int status, const char *out, size_t out_len, const char *err, size_t err_len, void *data)
{
	struct job *j = data;
	struct rule *r = j->r;

	if (status < 0)
		rule_count_failure(r);
	else if (r->action_ref == LUA_NOREF)
		r->consecutive_errors = 0;	/* a path action's run: it started */
	if (j->ref != LUA_NOREF && !r->st.disabled)
		rule_call_on_exit(r, j->ref, rules_exit_status(status), out, out_len, err, err_len);
}

static void job_destroy(void *data)
{
	struct job *j = data;

	if (j->ref != LUA_NOREF)
		luaL_unref(j->r->file->L, LUA_REGISTRYINDEX, j->ref);
	rules_file_job_done(j->r->file);
	free(j);
}

/* Takes the on_exit ref, whatever happens. */
static int rule_exec(struct rule *r, const struct exec_opts *o, int ref)
{
	struct job *j;
	int ret;

	if (!r->q && !(r->q = exec_queue_new(r->name))) {
		ret = -ENOMEM;
		goto fail;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		ret = -ENOMEM;
		goto fail;
	}
	j->r = r;
	j->ref = ref;
	r->file->jobs++;
	ret = exec_queue_push(r->q, o, job_done, j, job_destroy);
	if (ret == -ENOBUFS) {
		job_destroy(j);
		r->st.exec_dropped++;
		if (rule_drop_log_due(&r->exec_drop_logged))
			log_warn("rule %s: %d execs waiting already, %s dropped (%llu dropped so far)", r->name,
				 EXEC_PENDING_MAX, o->argv[0], (unsigned long long)r->st.exec_dropped);
		return ret;
	}
	if (ret < 0) {
		/* A push that failed did not take the job. */
		log_err("rule %s: cannot queue %s: %s", r->name, o->argv[0], strerror(-ret));
		job_destroy(j);
		rule_count_failure(r);
	}
	return ret;
fail:
	if (ref != LUA_NOREF)
		luaL_unref(r->file->L, LUA_REGISTRYINDEX, ref);
	log_err("rule %s: cannot queue %s: %s", r->name, o->argv[0], strerror(-ret));
	rule_count_failure(r);
	return ret;
}

/* A word as a shell would need it to read it back: dry runs show commands this way. */
static void put_word(struct sbuf *b, const char *s)
{
	if (*s && !s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-")]) {
		sbuf_puts(b, s);
		return;
	}
	sbuf_puts(b, "'");
	for (; *s; s++)
		sbuf_add(b, *s == '\'' ? "'\\''" : s, *s == '\'' ? 4 : 1);
	sbuf_puts(b, "'");
}

void rule_exec_path(struct rule *r, const struct nlh_event *ev)
{
	char *argv[] = { r->action_path, NULL };
	struct exec_opts o = { .argv = argv, .timeout = rules_exec_timeout };
	char **env;

	if (rules_dry_run(r->file)) {
		struct sbuf b = {};

		put_word(&b, r->action_path);
		rules_dry(r->file, "exec", r->name, b.p ? b.p : "");
		sbuf_free(&b);
		return;
	}
	env = nlh_event_env(ev);
	if (!env) {
		log_err("rule %s: out of memory, %s not run", r->name, r->action_path);
		rule_count_failure(r);
		return;
	}
	o.env = env;
	rule_exec(r, &o, LUA_NOREF);
	free(env);
}

static const char *opt_string(lua_State *L, int idx)
{
	return lua_type(L, idx) == LUA_TNUMBER || lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
}

int rules_api_exec(lua_State *L)
{
	struct rules_file *f = rules_file_of(L);
	struct rule *r = rules_handler_rule(L, "nlhook.exec");
	struct exec_opts o = { .timeout = rules_exec_timeout };
	char **argv, **env, **base = NULL;
	size_t n_argv, n_base = 0, n_env;
	int ref = LUA_NOREF, env_idx = 0, ret;
	void **box;

	luaL_checktype(L, 1, LUA_TTABLE);
	n_argv = lua_rawlen(L, 1);
	luaL_argcheck(L, n_argv > 0, 1, "argv must not be empty");
	luaL_argcheck(L, n_argv <= ARGV_MAX, 1, "too many arguments");
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		lua_pushnil(L);
		while (lua_next(L, 2)) {
			const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

			if (!strcmp(k, "env")) {
				luaL_argcheck(L, lua_istable(L, -1), 2, "env must be a table");
			} else if (!strcmp(k, "timeout")) {
				luaL_argcheck(L, lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0, 2,
					      "timeout must be a number of seconds");
				o.timeout = lua_tonumber(L, -1);
			} else if (!strcmp(k, "cwd")) {
				luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2, "cwd must be a string");
			} else if (!strcmp(k, "on_exit")) {
				luaL_argcheck(L, lua_isfunction(L, -1), 2, "on_exit must be a function");
			} else if (!strcmp(k, "netns")) {
				luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2, "netns must be a namespace's name");
				/* A dry run runs nothing anywhere: the name is shown as given. */
				o.netns_fd = rules_dry_run(f) ? -1 : rules_netns_fd(lua_tostring(L, -1));
				if (o.netns_fd < 0 && !rules_dry_run(f))
					return luaL_error(L, "nlhook.exec: no watched network namespace '%s' to run in "
							  "(one with a file: nlhookd --all-netns)", lua_tostring(L, -1));
				o.in_netns = true;
			} else {
				return luaL_error(L, "nlhook.exec: unknown option '%s'", k);
			}
			lua_pop(L, 1);
		}
	}

	/* argv: the strings stay on the stack while we point at them. */
	luaL_checkstack(L, n_argv + 8, "too many arguments");
	argv = lua_newuserdatauv(L, (n_argv + 1) * sizeof(char *), 0);
	for (size_t i = 0; i < n_argv; i++) {
		lua_rawgeti(L, 1, i + 1);
		argv[i] = (char *)opt_string(L, -1);
		if (!argv[i])
			return luaL_error(L, "nlhook.exec: argv[%d] is a %s, not a string", (int)i + 1,
					  luaL_typename(L, -1));
	}
	argv[n_argv] = NULL;
	/* What runs is what the rule names: no PATH lookup. */
	luaL_argcheck(L, argv[0][0] == '/', 1, "argv[1] must be an absolute path");
	o.argv = argv;

	/* env: the event's, then opts.env over it. */
	box = rules_box_new(L);
	if (f->cur_ev) {
		*box = base = nlh_event_env(f->cur_ev);
		if (!base)
			return luaL_error(L, "nlhook.exec: out of memory");
		while (base[n_base])
			n_base++;
	}
	n_env = n_base;
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "env");
		if (lua_istable(L, -1)) {
			env_idx = lua_gettop(L);
			lua_pushnil(L);
			while (lua_next(L, env_idx)) {
				n_env++;
				lua_pop(L, 1);
			}
		}
	}
	env = lua_newuserdatauv(L, (n_env + 2) * sizeof(char *), 0);
	if (n_base)
		memcpy(env, base, n_base * sizeof(char *));
	n_env = n_base;
	/* Outside a handler (on_exit, after) there is no event: the base is PATH alone. */
	if (!f->cur_ev)
		env[n_env++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	n_base = n_env;
	if (env_idx) {
		luaL_checkstack(L, lua_gettop(L) + 16, NULL);
		lua_createtable(L, 0, 0);	/* anchors the "K=V" strings */
		lua_pushnil(L);
		while (lua_next(L, env_idx)) {
			const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
			const char *v = opt_string(L, -1);
			size_t kl, j;

			if (!k || !*k || strchr(k, '=') || !v)
				return luaL_error(L, "nlhook.exec: env must map names to strings");
			kl = strlen(k);
			lua_pushfstring(L, "%s=%s", k, v);
			for (j = 0; j < n_env; j++)
				if (!strncmp(env[j], k, kl) && env[j][kl] == '=')
					break;
			env[j] = (char *)lua_tostring(L, -1);
			if (j == n_env)
				n_env++;
			lua_rawseti(L, -4, lua_rawlen(L, -4) + 1);
			lua_pop(L, 1);
		}
	}
	env[n_env] = NULL;
	o.env = env;
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "cwd");
		o.cwd = lua_tostring(L, -1);
		lua_getfield(L, 2, "on_exit");
	} else {
		lua_pushnil(L);
	}

	if (rules_dry_run(f)) {
		struct sbuf b = {};

		for (size_t i = 0; argv[i]; i++) {
			if (i)
				sbuf_puts(&b, " ");
			put_word(&b, argv[i]);
		}
		for (size_t i = n_base; i < n_env; i++) {
			sbuf_puts(&b, i == n_base ? " env " : " ");
			put_word(&b, env[i]);
		}
		if (o.cwd) {
			sbuf_puts(&b, " cwd ");
			put_word(&b, o.cwd);
		}
		if (o.in_netns) {
			lua_getfield(L, 2, "netns");
			sbuf_puts(&b, " netns ");
			put_word(&b, lua_tostring(L, -1));
			lua_pop(L, 1);
		}
		rules_dry(f, "exec", r->name, b.p ? b.p : "");
		sbuf_free(&b);
		lua_pushboolean(L, 1);
		return 1;
	}
	if (lua_isfunction(L, -1))
		ref = luaL_ref(L, LUA_REGISTRYINDEX);
	ret = rule_exec(r, &o, ref);
	if (ret < 0) {
		lua_pushnil(L);
		if (ret == -ENOBUFS)
			lua_pushfstring(L, "dropped: %d execs of this rule are waiting already", EXEC_PENDING_MAX);
		else
			lua_pushfstring(L, "cannot queue the command: %s", strerror(-ret));
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}
