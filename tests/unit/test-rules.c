/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../nlbuild.h"
#include "core/event.h"
#include "core/json.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/text.h"
#include "ctl/filter.h"
#include "core/source.h"
#include "nl80211/nl80211.h"
#include "rtnl/rtnl.h"
#include "rules/rules.h"
#include "rules/rules-internal.h"
#include <lauxlib.h>
#include <lualib.h>

/*
 * Rule files are written into a fresh temp dir per test; nlhook.emit goes
 * to an event log file that the test reads back.
 */

static char tmp[64];
static char rules_dir[128];
static char evlog_path[128];

struct reports {
	char msg[16][1024];
	int n;
};

static void report_cb(const char *msg, void *data)
{
	struct reports *r = data;

	if (r->n < 16)
		snprintf(r->msg[r->n++], sizeof(r->msg[0]), "%s", msg);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	strcpy(tmp, "/tmp/nlh-test-rules-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(rules_dir, sizeof(rules_dir), "%s/rules", tmp);
	snprintf(evlog_path, sizeof(evlog_path), "%s/events.jsonl", tmp);
	if (mkdir(rules_dir, 0755) < 0)
		return -1;
	if (loop_init() < 0 || evlog_open(evlog_path) < 0)
		return -1;
	rules_budget = 10000000;
	rules_mem_cap = 32 << 20;
	rules_max_failures = 10;
	return 0;
}

static int teardown(void **state)
{
	evlog_close();
	loop_exit();
	nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0644);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(buf);
	if (!f)
		return buf;
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static struct rules_set *load(unsigned int flags, struct reports *rep)
{
	char *dirs[] = { rules_dir };
	struct rules_set *rs = NULL;
	struct reports local = {};

	int r = rules_set_load(&rs, dirs, 1, flags, report_cb, rep ? rep : &local);

	for (int i = 0; r < 0 && i < (rep ? rep : &local)->n; i++)
		print_error("load: %s\n", (rep ? rep : &local)->msg[i]);
	assert_int_equal(r, 0);
	assert_non_null(rs);
	return rs;
}

static void link_up(struct nlh_event *ev, const char *ifname, uint32_t mtu)
{
	nlh_event_init(ev, NLH_EV_LINK_UP);
	nlh_strlcpy(ev->link.ifname, ifname, sizeof(ev->link.ifname));
	NLH_SET(ev, LINK, ifname);
	ev->link.ifindex = 7;
	NLH_SET(ev, LINK, ifindex);
	ev->link.mtu = mtu;
	NLH_SET(ev, LINK, mtu);
	ev->link.up = true;
	NLH_SET(ev, LINK, up);
	nlh_strlcpy(ev->link.operstate, "up", sizeof(ev->link.operstate));
	NLH_SET(ev, LINK, operstate);
	ev->link.mac.len = 6;
	memcpy(ev->link.mac.a, "\x02\x00\x00\xaa\xbb\xcc", 6);
	NLH_SET(ev, LINK, mac);
}

/* Redirect fd 1 or 2 into a file while f runs. */
struct capture {
	int fd, saved;
	char path[160];
};

static void capture_start(struct capture *c, int fd)
{
	int out;

	c->fd = fd;
	snprintf(c->path, sizeof(c->path), "%s/capture.%d", tmp, fd);
	fflush(fd == 1 ? stdout : stderr);
	c->saved = dup(fd);
	out = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0 && c->saved >= 0);
	dup2(out, fd);
	close(out);
}

static char *capture_end(struct capture *c)
{
	fflush(c->fd == 1 ? stdout : stderr);
	dup2(c->saved, c->fd);
	close(c->saved);
	return read_all(c->path);
}

struct stats_list {
	struct rule_stats st[8];
	char names[8][128];
	int n;
};

static void stats_cb(const struct rule_stats *st, void *data)
{
	struct stats_list *l = data;

	if (l->n >= 8)
		return;
	l->st[l->n] = *st;
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", st->name);
	l->st[l->n].name = l->names[l->n];
	l->n++;
}

static void get_stats(struct rules_set *rs, struct stats_list *l)
{
	memset(l, 0, sizeof(*l));
	rules_set_foreach_rule(rs, stats_cb, l);
}

/* Run the loop for a while: timers (debounce, after) fire in it. */
static void quit_cb(void *data)
{
	loop_quit(0);
}

static void run_loop(double seconds)
{
	struct loop_timer *t = loop_timer_new(quit_cb, NULL);

	assert_non_null(t);
	loop_timer_arm(t, seconds);
	loop_run();
	loop_timer_free(t);
}

static void test_resolve(void **state)
{
	char a[160], b[160], missing[160], masked[256];
	char *dirs[3] = { a, missing, b };
	char **paths;
	size_t n;

	snprintf(a, sizeof(a), "%s/a", tmp);
	snprintf(b, sizeof(b), "%s/b", tmp);
	snprintf(missing, sizeof(missing), "%s/none", tmp);
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(b, 0755), 0);
	write_file(a, "10-first.lua", "");
	write_file(a, "20-both.lua", "");
	write_file(b, "20-both.lua", "");
	write_file(b, "15-mid.lua", "");
	write_file(a, "30-masked.lua", "");
	write_file(a, "README", "");
	write_file(a, ".hidden.lua", "");
	snprintf(masked, sizeof(masked), "%s/30-masked.lua", b);
	assert_int_equal(symlink("/dev/null", masked), 0);

	assert_int_equal(rules_dirs_resolve(dirs, 3, &paths, &n), 0);
	assert_int_equal(n, 3);
	/* By file name across dirs; the later dir's 20-both wins; /dev/null masks 30. */
	assert_true(strstr(paths[0], "/a/10-first.lua") != NULL);
	assert_true(strstr(paths[1], "/b/15-mid.lua") != NULL);
	assert_true(strstr(paths[2], "/b/20-both.lua") != NULL);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);

	/* A real file in a later dir beats a mask in an earlier one. */
	dirs[0] = b;
	dirs[1] = a;
	assert_int_equal(rules_dirs_resolve(dirs, 2, &paths, &n), 0);
	assert_int_equal(n, 4);
	assert_true(strstr(paths[3], "/a/30-masked.lua") != NULL);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

static void test_load_errors(void **state)
{
	char *dirs[] = { rules_dir };
	struct rules_set *rs = NULL;
	struct reports rep = {};
	char expect[256];

	write_file(rules_dir, "10-syntax.lua", "-- comment\nlocal x = 1\nnlhook.on(\"link.up\" {}, function() end)\n");
	write_file(rules_dir, "20-field.lua", "\n\nnlhook.on(\"link.up\", { ssid = \"x\" }, function() end)\n");
	write_file(rules_dir, "30-type.lua", "nlhook.on(\"link.sideways\", {}, function() end)\n");
	write_file(rules_dir, "40-runtime.lua", "local t = nil\n\nlocal y = t.field\n");
	write_file(rules_dir, "50-good.lua", "nlhook.on(\"link.up\", {}, function() end)\n");
	write_file(rules_dir, "60-pattern.lua", "nlhook.on(\"link.up\", { ifname = 3 }, function() end)\n");
	write_file(rules_dir, "70-action.lua", "nlhook.on(\"link.up\", {}, \"relative/path\")\n");
	write_file(rules_dir, "80-opt.lua", "nlhook.on(\"link.up\", {}, function() end, { debounse = 1 })\n");

	assert_int_equal(rules_set_load(&rs, dirs, 1, 0, report_cb, &rep), -EINVAL);
	assert_null(rs);
	assert_int_equal(rep.n, 7);
	snprintf(expect, sizeof(expect), "%s/10-syntax.lua:3:", rules_dir);
	assert_true(!strncmp(rep.msg[0], expect, strlen(expect)));
	snprintf(expect, sizeof(expect), "%s/20-field.lua:3:", rules_dir);
	assert_true(!strncmp(rep.msg[1], expect, strlen(expect)));
	assert_non_null(strstr(rep.msg[1], "'ssid' is not a field of link events"));
	snprintf(expect, sizeof(expect), "%s/30-type.lua:1:", rules_dir);
	assert_true(!strncmp(rep.msg[2], expect, strlen(expect)));
	assert_non_null(strstr(rep.msg[2], "link.sideways"));
	snprintf(expect, sizeof(expect), "%s/40-runtime.lua:3:", rules_dir);
	assert_true(!strncmp(rep.msg[3], expect, strlen(expect)));
	assert_null(strstr(rep.msg[3], "traceback"));
	assert_non_null(strstr(rep.msg[4], "60-pattern.lua:1:"));
	assert_non_null(strstr(rep.msg[5], "70-action.lua:1:"));
	assert_non_null(strstr(rep.msg[6], "80-opt.lua:1:"));
	assert_non_null(strstr(rep.msg[6], "debounse"));

	/* Keep going: the good file loads alone. */
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(rules_set_load(&rs, dirs, 1, RULES_KEEP_GOING, report_cb, &rep), 0);
	assert_int_equal(rep.n, 7);
	assert_int_equal(rules_set_count(rs), 1);
	rules_set_free(rs);
}

/* One file per case: the error carries FILE:LINE and says why. */
static void load_refused(const char *name, const char *lua, int line, const char *why)
{
	char *dirs[] = { rules_dir }, path[256], expect[300];
	struct rules_set *rs = NULL;
	struct reports rep = {};

	write_file(rules_dir, name, lua);
	assert_int_equal(rules_set_load(&rs, dirs, 1, 0, report_cb, &rep), -EINVAL);
	assert_int_equal(rep.n, 1);
	snprintf(expect, sizeof(expect), "%s/%s:%d: ", rules_dir, name, line);
	if (strncmp(rep.msg[0], expect, strlen(expect)) || !strstr(rep.msg[0], why))
		fail_msg("%s: got '%s', want '%s...%s'", name, rep.msg[0], expect, why);
	snprintf(path, sizeof(path), "%s/%s", rules_dir, name);
	unlink(path);
}

static void test_impossible_patterns(void **state)
{
	load_refused("10-dst.lua", "\nnlhook.on('route.add', { dst = '10.0.0.0/33' }, function() end)\n", 2,
		     "field 'dst' is a prefix: '10.0.0.0/33' is neither an address, a prefix");
	load_refused("10-addr.lua", "nlhook.on('addr.add', { address = '10.0.0.256/8' }, function() end)\n", 1,
		     "'10.0.0.256/8'");
	load_refused("10-default.lua", "nlhook.on('addr.add', { address = { '10.0.0.0/8', 'default' } }, function() end)\n",
		     1, "'default' is a route's dst");
	load_refused("10-mtu.lua", "nlhook.on('link.up', { mtu = 4294967296 }, function() end)\n", 1,
		     "field 'mtu' is a number: 4294967296 is out of range (0..4294967295)");
	load_refused("10-mtus.lua", "nlhook.on('link.up', { mtu = '4294967296' }, function() end)\n", 1,
		     "4294967296 is out of range (0..4294967295)");
	load_refused("10-neg.lua", "nlhook.on('link.up', { mtu = -1 }, function() end)\n", 1, "-1 is negative");
	load_refused("10-negs.lua", "nlhook.on('link.up', { mtu = '-1' }, function() end)\n", 1, "neither a number");
	load_refused("10-abc.lua", "nlhook.on('link.up', { ifindex = 'abc' }, function() end)\n", 1,
		     "field 'ifindex' is a number: 'abc' is neither a number (0..4294967295) nor a glob");
	load_refused("10-bool.lua", "nlhook.on('link.up', { up = 2 }, function() end)\n", 1, "2 is out of range (0..1)");
	load_refused("10-mac.lua", "nlhook.on('link.up', { mac = 'aa:bb:c' }, function() end)\n", 1,
		     "neither a hardware address");
	/* The CLI gets the same reasons, with the argument named. */
	{
		struct nlh_filter f = {};
		char err[256];

		assert_int_equal(nlh_filter_add(&f, "mtu=abc", err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "'mtu=abc': 'abc' is neither a number (0..4294967295) nor a glob (*, ?, [)");
		nlh_filter_clear(&f);
		assert_int_equal(nlh_filter_add(&f, "address=default", err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "'address=default': 'default' is a route's dst"));
		nlh_filter_clear(&f);
		assert_int_equal(nlh_filter_add(&f, "dst=10.0.0.0/33", err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "'dst=10.0.0.0/33': '10.0.0.0/33' is neither"));
		nlh_filter_clear(&f);
		/* dst is a route's prefix and a packet's address: "default" is fine for routes alone. */
		assert_int_equal(nlh_filter_add(&f, "dst=default", err, sizeof(err)), 0);
		assert_true(f.terms[0].has[NLH_CLASS_ROUTE]);
		assert_false(f.terms[0].has[NLH_CLASS_NFLOG]);
		nlh_filter_clear(&f);
	}
}

static void test_nflog_groups(void **state)
{
	static const char *const bad[] = {
		"{}", "{ prefix = 'x' }", "{ group = '1*' }", "{ group = '!10' }", "{ group = 70000 }",
		"{ group = { 10, '!11' } }", "{ group = function(g) return true end }", "{ group = '*' }",
	};
	struct rules_set *rs;
	struct nlh_want w;
	char lua[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(lua, sizeof(lua), "nlhook.on('link.up', {}, function() end)\n"
			 "nlhook.on('nflog', %s, function() end)\n", bad[i]);
		load_refused("30-fw.lua", lua, 2, "the daemon binds the NFLOG groups that rules name");
	}
	load_refused("30-nomatch.lua", "nlhook.on({ 'nflog' }, nil, function() end)\n", 1,
		     "an nflog rule must name its groups");

	/* Plain numbers, as numbers or strings, alone or in a list; a glob over types may leave it out. */
	write_file(rules_dir, "30-fw.lua",
		   "nlhook.on('nflog', { group = 0 }, function() end)\n"
		   "nlhook.on('nflog', { group = { '65535', 12 } }, function() end)\n"
		   "nlhook.on({ 'nflog' }, { group = '7', prefix = '!x*' }, function() end)\n"
		   "nlhook.on('*', {}, function() end)\n"
		   "nlhook.on('nf*', { prefix = 'DROP*' }, function() end)\n");
	rs = load(0, NULL);
	assert_int_equal(rules_set_count(rs), 5);
	rules_set_want(rs, NULL, &w);
	assert_int_equal(w.n_nflog_groups, 4);
	assert_int_equal(w.nflog_groups[0], 0);
	assert_int_equal(w.nflog_groups[1], 7);
	assert_int_equal(w.nflog_groups[2], 12);
	assert_int_equal(w.nflog_groups[3], 65535);
	rules_set_free(rs);
}

/* Negated patterns of every kind, on the daemon's path. */
static void test_negated_rules(void **state)
{
	struct rules_set *rs;
	struct nlh_event ev;
	char *log;

	write_file(rules_dir, "40-neg.lua",
		   "nlhook.on('addr.add', { address = '!10.0.0.0/8' }, function(ev) nlhook.emit({ a = ev.address }) end)\n"
		   "nlhook.on('link.up', { mtu = '!1500', up = '!false' }, function(ev) nlhook.emit({ m = ev.mtu }) end)\n"
		   "nlhook.on('link.up', { mac = 'AA:BB:*' }, function(ev) nlhook.emit({ mac = ev.mac }) end)\n");
	rs = load(0, NULL);
	nlh_event_init(&ev, NLH_EV_ADDR_ADD);
	nlh_addr_parse("10.1.2.3", &ev.addr.address);
	NLH_SET(&ev, ADDR, address);
	rules_set_dispatch(rs, &ev);
	nlh_addr_parse("192.0.2.1", &ev.addr.address);
	rules_set_dispatch(rs, &ev);
	link_up(&ev, "eth0", 1500);
	rules_set_dispatch(rs, &ev);
	link_up(&ev, "eth0", 9000);
	ev.link.mac = (struct nlh_hwaddr){ 6, { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff } };
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_string_equal(log, "{\"a\":\"192.0.2.1\"}\n{\"m\":9000}\n{\"mac\":\"aa:bb:cc:dd:ee:ff\"}\n");
	free(log);
	rules_set_free(rs);
}

/* Whatever a rule emits, keys included, is valid UTF-8 JSON in the one escape. */
static void test_emit_text(void **state)
{
	struct rules_set *rs;
	struct nlh_event ev;
	struct json_doc *doc;
	char *log, err[128];

	write_file(rules_dir, "50-emit.lua",
		   "nlhook.on('link.up', {}, function(ev)\n"
		   "  nlhook.emit({ s = '\\255' })\n"
		   "  nlhook.emit({ ['k\\255\\0'] = 'caf\\195\\169', n = ev.ifname })\n"
		   "  nlhook.emit({ 'a\\\\b', '\\n' })\n"
		   "  nlhook.emit(ev)\n"
		   "end)\n");
	rs = load(0, NULL);
	link_up(&ev, "caf\xff" "0", 1500);
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_int_equal(json_parse_utf8(log, strlen(log), &doc, err, sizeof(err)), -EINVAL);	/* several lines */
	assert_int_equal(nlh_utf8_check(log, strlen(log)), strlen(log));
	assert_non_null(strstr(log, "{\"s\":\"\\\\xff\"}\n"));
	assert_non_null(strstr(log, "\"k\\\\xff\\\\x00\":\"caf\xc3\xa9\""));
	assert_non_null(strstr(log, "\"n\":\"caf\\\\xff0\""));
	assert_non_null(strstr(log, "[\"a\\\\x5cb\",\"\\\\x0a\"]\n"));
	assert_non_null(strstr(log, "\"ifname\":\"caf\\\\xff0\""));
	for (char *line = log, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		if (json_parse_utf8(line, nl - line, &doc, err, sizeof(err)) < 0)
			fail_msg("%.*s: %s", (int)(nl - line), line, err);
		json_doc_free(doc);
	}
	free(log);
	rules_set_free(rs);
}

static void test_perms(void **state)
{
	char path[256], *dirs[] = { rules_dir };
	struct rules_set *rs = NULL;
	struct reports rep = {};

	write_file(rules_dir, "10-open.lua", "nlhook.on(\"link.up\", {}, function() end)\n");
	snprintf(path, sizeof(path), "%s/10-open.lua", rules_dir);
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(rules_set_load(&rs, dirs, 1, RULES_CHECK_PERMS, report_cb, &rep), -EINVAL);
	assert_int_equal(rep.n, 1);
	assert_non_null(strstr(rep.msg[0], "10-open.lua"));
	assert_non_null(strstr(rep.msg[0], "writable by group or others"));
	/* Without the check (a user's `nlhook check`) it loads. */
	rs = load(0, NULL);
	rules_set_free(rs);

	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(chmod(rules_dir, 0777), 0);
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(rules_set_load(&rs, dirs, 1, RULES_CHECK_PERMS, report_cb, &rep), -EINVAL);
	assert_int_equal(rep.n, 1);
	assert_non_null(strstr(rep.msg[0], "rules dir"));
	assert_int_equal(chmod(rules_dir, 0755), 0);
	rs = load(RULES_CHECK_PERMS, NULL);
	assert_int_equal(rules_set_count(rs), 1);
	rules_set_free(rs);
}

static void test_sandbox(void **state)
{
	const struct json_value *root;
	struct json_doc *doc;
	struct rules_set *rs;
	char err[128], *log;

	/* Each escape is tried at load time and the outcome emitted as one JSON line. */
	write_file(rules_dir, "10-escape.lua",
		   "local bin_ok, bin_err = load(string.dump(function() return 1 end))\n"
		   "local bin_b = load(string.dump(function() return 1 end), 'x', 'b')\n"
		   "local gc_ok = pcall(setmetatable, {}, { __gc = function() end })\n"
		   "local c_ok = pcall(require, 'nlhook_no_such_c_module')\n"
		   "nlhook.emit({\n"
		   "  execute = type(os.execute), exit = type(os.exit), popen = type(io.popen),\n"
		   "  dofile = type(dofile), loadfile = type(loadfile), loadlib = type(package.loadlib),\n"
		   "  debug = type(debug), cpath = package.cpath, n_searchers = #package.searchers,\n"
		   "  binary = type(bin_ok), binary_b = type(bin_b), binary_err = bin_err,\n"
		   "  gc = gc_ok, c_module = c_ok,\n"
		   "  text = load('return 40 + 2')(),\n"
		   "  mt = getmetatable(setmetatable({}, { __index = {} })) ~= nil,\n"
		   "})\n");
	rs = load(0, NULL);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 1);
	assert_int_equal(json_parse(log, strlen(log), &doc, err, sizeof(err)), 0);
	root = json_root(doc);
	assert_string_equal(json_get_str(root, "execute"), "nil");
	assert_string_equal(json_get_str(root, "exit"), "nil");
	assert_string_equal(json_get_str(root, "popen"), "nil");
	assert_string_equal(json_get_str(root, "dofile"), "nil");
	assert_string_equal(json_get_str(root, "loadfile"), "nil");
	assert_string_equal(json_get_str(root, "loadlib"), "nil");
	assert_string_equal(json_get_str(root, "debug"), "nil");
	assert_string_equal(json_get_str(root, "cpath"), "");
	assert_int_equal((int)json_get(root, "n_searchers")->num, 2);
	assert_string_equal(json_get_str(root, "binary"), "nil");
	assert_string_equal(json_get_str(root, "binary_b"), "nil");
	assert_non_null(strstr(json_get_str(root, "binary_err"), "binary chunk"));
	assert_false(json_get(root, "gc")->b);
	assert_false(json_get(root, "c_module")->b);
	/* What is left works. */
	assert_int_equal((int)json_get(root, "text")->num, 42);
	assert_true(json_get(root, "mt")->b);
	json_doc_free(doc);
	free(log);
	rules_set_free(rs);
}

static void test_dispatch_fields(void **state)
{
	const struct json_value *root;
	struct json_doc *doc;
	struct rules_set *rs;
	struct nlh_event ev;
	char err[128], json[1024], *log, *nl;
	struct stats_list sl;

	write_file(rules_dir, "50-emit.lua",
		   "nlhook.on('link.*', { ifname = 'eth*' }, function(ev) nlhook.emit(ev) end)\n"
		   "nlhook.on({ 'link.up' }, { mtu = 1500, up = true }, function(ev)\n"
		   "  nlhook.emit({ ifname = ev.ifname, mtu = ev.mtu, mtu_type = math.type(ev.mtu),\n"
		   "                up = ev.up, mac = ev.mac, kind = ev.kind, type = ev.type })\n"
		   "end, { name = 'typed' })\n"
		   "nlhook.on('link.up', { mtu = function(v, ev) return v > 9000 and ev.ifname == 'eth0' end },\n"
		   "  function(ev) nlhook.emit({ jumbo = ev.mtu }) end)\n");
	rs = load(0, NULL);
	assert_int_equal(rules_set_count(rs), 3);

	link_up(&ev, "eth0", 1500);
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 2);
	/* emit(ev) is the event's own JSON rendering. */
	assert_true(nlh_event_json(&ev, json, sizeof(json)) > 0);
	nl = strchr(log, '\n');
	assert_int_equal((size_t)(nl - log), strlen(json));
	assert_memory_equal(log, json, strlen(json));

	assert_int_equal(json_parse(nl + 1, strlen(nl + 1), &doc, err, sizeof(err)), 0);
	root = json_root(doc);
	assert_string_equal(json_get_str(root, "ifname"), "eth0");
	assert_string_equal(json_get_str(root, "type"), "link.up");
	assert_string_equal(json_get_str(root, "mac"), "02:00:00:aa:bb:cc");
	assert_string_equal(json_get_str(root, "mtu_type"), "integer");
	assert_int_equal(json_get(root, "mtu")->type, JSON_NUMBER);
	assert_int_equal((int)json_get(root, "mtu")->num, 1500);
	assert_int_equal(json_get(root, "up")->type, JSON_BOOL);
	assert_true(json_get(root, "up")->b);
	assert_null(json_get(root, "kind"));	/* absent fields are nil */
	json_doc_free(doc);
	free(log);

	/* Other names and numbers: the glob and the number pattern do not match; the predicate does. */
	assert_int_equal(truncate(evlog_path, 0), 0);
	link_up(&ev, "eth0", 9001);
	rules_set_dispatch(rs, &ev);
	link_up(&ev, "wlan0", 9001);
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 2);
	assert_non_null(strstr(log, "\"ifname\":\"eth0\""));
	assert_non_null(strstr(log, "{\"jumbo\":9001}"));
	free(log);

	get_stats(rs, &sl);
	assert_int_equal(sl.n, 3);
	assert_string_equal(sl.st[0].name, "50-emit.lua:1");
	assert_string_equal(sl.st[0].where, "50-emit.lua:1");
	assert_int_equal(sl.st[0].hits, 2);
	assert_string_equal(sl.st[1].name, "typed");
	assert_string_equal(sl.st[1].where, "50-emit.lua:2");
	assert_int_equal(sl.st[1].hits, 1);
	assert_int_equal(sl.st[2].hits, 1);
	assert_int_equal(sl.st[2].errors, 0);
	rules_set_free(rs);
}

static void test_ssid_payload(void **state)
{
	struct rules_set *rs;
	struct nlh_event ev;
	static const uint8_t payload[] = { 0x45, 0x00, 0x00, 0x1c };
	char *log;

	write_file(rules_dir, "50-wifi.lua",
		   "nlhook.on('wifi.connect', { ssid = 'Cafe\\0Net' }, function(ev)\n"
		   "  nlhook.emit({ len = #ev.ssid, nul = ev.ssid:byte(5) })\n"
		   "  nlhook.emit(ev)\n"
		   "end)\n"
		   "nlhook.on('nflog', { group = { 10, 20 }, prefix = 'DROP*' }, function(ev)\n"
		   "  local t = { first = ev.payload:byte(1), plen = #ev.payload }\n"
		   "  nlhook.emit(t)\n"
		   "end)\n"
		   "nlhook.on('nflog', { group = 5 }, function(ev) end)\n");
	rs = load(0, NULL);

	nlh_event_init(&ev, NLH_EV_WIFI_CONNECT);
	memcpy(ev.wifi.ssid.b, "Cafe\0Net", 8);
	ev.wifi.ssid.len = 8;
	NLH_SET(&ev, WIFI, ssid);
	rules_set_dispatch(rs, &ev);
	ev.wifi.ssid.len = 4;	/* "Cafe": no match */
	rules_set_dispatch(rs, &ev);

	nlh_event_init(&ev, NLH_EV_NFLOG);
	ev.nflog.group = 20;
	NLH_SET(&ev, NFLOG, group);
	nlh_strlcpy(ev.nflog.prefix, "DROP in", sizeof(ev.nflog.prefix));
	NLH_SET(&ev, NFLOG, prefix);
	ev.nflog.payload.p = payload;
	ev.nflog.payload.len = sizeof(payload);
	NLH_SET(&ev, NFLOG, payload);
	rules_set_dispatch(rs, &ev);
	ev.nflog.group = 11;
	rules_set_dispatch(rs, &ev);

	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 3);
	assert_non_null(strstr(log, "\"len\":8"));
	assert_non_null(strstr(log, "\"nul\":0"));
	assert_non_null(strstr(log, "\"ssid\":\"Cafe\\\\x00Net\""));
	assert_non_null(strstr(log, "\"first\":69"));
	assert_non_null(strstr(log, "\"plen\":4"));
	free(log);
	rules_set_free(rs);
}

/* signal is signed (dBm): a negative number matches it, and reaches Lua as one. */
static void test_signed_field(void **state)
{
	char *dirs[] = { rules_dir };
	struct rules_set *rs = NULL;
	struct reports rep = {};
	struct nlh_event ev;
	char path[256], *log;

	write_file(rules_dir, "50-sig.lua",
		   "nlhook.on('wifi.station.del', { signal = -30 }, function(ev)\n"
		   "  nlhook.emit({ signal = ev.signal })\n"
		   "  nlhook.emit({ math.type(ev.signal) })\n"
		   "end)\n"
		   "nlhook.on('wifi.station.del', { signal = { -40, 10 } }, function(ev)\n"
		   "  nlhook.emit({ other = ev.signal })\n"
		   "end)\n");
	rs = load(0, NULL);
	nlh_event_init(&ev, NLH_EV_WIFI_STATION_DEL);
	ev.wifi.signal = -30;
	NLH_SET(&ev, WIFI, signal);
	rules_set_dispatch(rs, &ev);
	ev.wifi.signal = 30;
	rules_set_dispatch(rs, &ev);
	ev.wifi.signal = -40;
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_string_equal(log, "{\"signal\":-30}\n[\"integer\"]\n{\"other\":-40}\n");
	free(log);
	rules_set_free(rs);

	/* out of its range, or negative on an unsigned field: an error naming the place */
	write_file(rules_dir, "50-sig.lua", "nlhook.on('wifi.station.del', { signal = -2147483649 }, function() end)\n");
	assert_int_equal(rules_set_load(&rs, dirs, 1, 0, report_cb, &rep), -EINVAL);
	assert_non_null(strstr(rep.msg[0], "50-sig.lua:1: nlhook.on: field 'signal': -2147483649 is out of range"));
	write_file(rules_dir, "50-sig.lua", "nlhook.on('wifi.station.del', { rx_bytes = -1 }, function() end)\n");
	assert_int_equal(rules_set_load(&rs, dirs, 1, 0, report_cb, &rep), -EINVAL);
	assert_non_null(strstr(rep.msg[1], "50-sig.lua:1: nlhook.on: field 'rx_bytes': -1 is negative"));
	snprintf(path, sizeof(path), "%s/50-sig.lua", rules_dir);
	unlink(path);
}

/* nlhook.stations() and the iftype of links(), on an nl80211 instance of the test's own. */
struct st_env {
	struct nl80211 *nl;
	struct rtnl *rt;
	struct nlh_event evs[8];
	int n;
};

static void st_sink(void *data, struct nlh_event *ev)
{
	struct st_env *e = data;

	if (e->n < 8)
		e->evs[e->n++] = *ev;
}

static const char *st_ifname(void *data, uint32_t ifindex)
{
	return ifindex == 3 ? "wlan0" : ifindex == 7 ? "eth0" : NULL;
}

static void st_state(const char *netns, void *data, struct rules_state *ret)
{
	ret->nl80211 = ((struct st_env *)data)->nl;
	ret->rtnl = ((struct st_env *)data)->rt;
}

static void test_stations(void **state)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 2, 0 };
	struct st_env e = {};
	const struct nlh_source_env env = {
		.sink = { st_sink, &e }, .netns_fd = -1, .ifname = st_ifname, .data = &e,
	};
	struct rules_set *rs;
	struct stats_list sl;
	struct capture cap;
	struct nlh_event ev;
	struct nlmsghdr *nlh;
	struct nlbuf b;
	char *log, *err;

	write_file(rules_dir, "50-st.lua",
		   "nlhook.on('link.up', {}, function(ev)\n"
		   "  local all, mine = nlhook.stations(), nlhook.stations('wlan0')\n"
		   "  nlhook.emit({ #all, #mine, #nlhook.stations('wlan9'), #nlhook.stations({ ifname = 'wlan0' }) })\n"
		   "  nlhook.emit({ select(2, pcall(nlhook.stations, { bogus = 1 })), select(2, pcall(nlhook.stations, 7)) })\n"
		   "  for _, s in ipairs(all) do nlhook.emit(s) end\n"
		   "end, { name = 'st' })\n");
	rs = load(0, NULL);

	/* no namespace state (nlhook test --event): an empty list */
	link_up(&ev, "eth0", 1500);
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_string_equal(log, "[0,0,0,0]\n[\"nlhook.stations: unknown filter key 'bogus' (netns, ifname)\","
			    "\"nlhook.stations: the argument must be a filter table or an interface name, not number\"]\n");
	free(log);

	/* an instance that does not follow stations (no rule wants their events): an error that says so */
	e.nl = nl80211_source.new(&env);
	assert_non_null(e.nl);
	rules_set_state_source(st_state, &e);
	capture_start(&cap, 2);
	rules_set_dispatch(rs, &ev);
	err = capture_end(&cap);
	assert_non_null(strstr(err, "50-st.lua:2: nlhook.stations: the stations are followed only while a rule wants"));
	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].errors, 1);
	free(err);
	nl80211_source.free(e.nl);

	/* one that does: wlan0 made an access point, its SSID told, a station joins */
	e.nl = nl80211_replay_new(&env);
	assert_non_null(e.nl);
	nl80211_replay_msg(e.nl, nlb_nl80211_family(&b, 32));
	nl80211_replay_msg(e.nl, nlb_nl80211_iface(&b, 32, NL80211_CMD_SET_INTERFACE, 0, 3, 0, NL80211_IFTYPE_AP, NULL));
	nl80211_replay_msg(e.nl, nlb_nl80211_iface(&b, 32, NL80211_CMD_NEW_INTERFACE, 77, 3, 0, NL80211_IFTYPE_AP,
						   "CafeNet"));
	nl80211_replay_msg(e.nl, nlb_nl80211_station(&b, 32, NL80211_CMD_NEW_STATION, 3, mac));
	assert_int_equal(e.n, 1);
	assert_int_equal(e.evs[0].type, NLH_EV_WIFI_STATION_NEW);
	assert_string_equal(e.evs[0].wifi.ifname, "wlan0");
	truncate(evlog_path, 0);
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_non_null(strstr(log, "[1,1,0,1]\n"));
	/* an entry: a station event's fields, no type, connected_time since the join */
	assert_non_null(strstr(log, "\"ifname\":\"wlan0\""));
	assert_non_null(strstr(log, "\"mac\":\"02:00:00:00:02:00\""));
	assert_non_null(strstr(log, "\"iftype\":\"ap\""));
	assert_non_null(strstr(log, "\"ssid\":\"CafeNet\""));
	assert_non_null(strstr(log, "\"connected_time\":0"));
	assert_null(strstr(log, "\"type\""));
	free(log);
	/* it leaves: the list is empty again */
	nl80211_replay_msg(e.nl, nlb_nl80211_station(&b, 32, NL80211_CMD_DEL_STATION, 3, mac));
	assert_int_equal(e.n, 2);
	assert_int_equal(e.evs[1].type, NLH_EV_WIFI_STATION_DEL);
	assert_int_equal(e.evs[1].wifi.connected_time, 42);
	assert_int_equal(e.evs[1].wifi.signal, -60);
	truncate(evlog_path, 0);
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_non_null(strstr(log, "[0,0,0,0]\n"));
	free(log);
	rules_set_free(rs);

	/* a wifi link in nlhook.links() says its mode; another link has no iftype */
	write_file(rules_dir, "50-st.lua",
		   "nlhook.on('link.up', {}, function(ev)\n"
		   "  for _, l in ipairs(nlhook.links()) do nlhook.emit({ l.ifname, l.iftype or false }) end\n"
		   "end)\n");
	rs = load(0, NULL);
	e.rt = rtnl_replay_new(&env);
	assert_non_null(e.rt);
	/* the links a capture starts with (a dump: NLM_F_MULTI) */
	nlb_link(&b, RTM_NEWLINK, 3, IFF_UP, "wlan0", 1500, IF_OPER_UP)->nlmsg_flags = NLM_F_MULTI;
	rtnl_replay_msg(e.rt, (struct nlmsghdr *)b.b);
	nlb_link(&b, RTM_NEWLINK, 7, IFF_UP, "eth0", 1500, IF_OPER_UP)->nlmsg_flags = NLM_F_MULTI;
	rtnl_replay_msg(e.rt, (struct nlmsghdr *)b.b);
	truncate(evlog_path, 0);
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_non_null(strstr(log, "[\"wlan0\",\"ap\"]\n"));
	assert_non_null(strstr(log, "[\"eth0\",false]\n"));
	free(log);
	rules_set_free(rs);

	/* cfg80211 unloaded: the interfaces and their stations went with it */
	nl80211_replay_msg(e.nl, nlb_nl80211_station(&b, 32, NL80211_CMD_NEW_STATION, 3, mac));
	assert_int_equal(nl80211_station_count(e.nl), 1);
	nlh = nlb_genl(&b, GENL_ID_CTRL, CTRL_CMD_DELFAMILY);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "nl80211");
	nl80211_replay_msg(e.nl, nlh);
	assert_int_equal(nl80211_station_count(e.nl), 0);
	assert_null(nl80211_iftype(e.nl, 3));
	assert_true(nl80211_stations_kept(e.nl));
	rules_set_state_source(NULL, NULL);
	rtnl_replay_free(e.rt);
	nl80211_replay_free(e.nl);
}

/*
 * The presence example (rules.d/50-presence.lua), its grace cut to
 * 0.2 s, fed by an nl80211 instance: a phone that joins the other access
 * point of this machine before it leaves the first stays home; when it
 * leaves the last, it is away once the grace is over.
 */
static struct rules_set *presence_rs;

static void presence_sink(void *data, struct nlh_event *ev)
{
	rules_set_dispatch(presence_rs, ev);
}

static const char *presence_ifname(void *data, uint32_t ifindex)
{
	return ifindex == 3 ? "wlan0" : ifindex == 4 ? "wlan1" : NULL;
}

/*
 * The firewall example (rules.d/30-firewall-json.lua) on both kinds of
 * nlhook.drop: the one at the overrun has no count, the one at the next
 * hit has the gap.  Neither may make its handler fail.
 */
/*
 * Handlers that cannot read their event are not given one (lua-argscan.c).
 * The scan must know this Lua's bytecode, and must never call a handler
 * that reads its event one that does not.
 */
static void test_handler_event_scan(void **state)
{
	static const struct {
		const char *src;
		bool reads;
	} cases[] = {
		{ "local n = 0 return function(ev) n = n + 1 end", false },
		{ "local n = 0 return function(ev) n = n + 1 if n % 1000 == 0 then nlhook.log('info', n) end end", false },
		{ "return function(ev) local t = { 1, 2, x = 'y' } for i = 1, #t do t[i] = t[i] * 2 end return t end", false },
		{ "return function(ev) local s = 0 for k, v in pairs({ a = 1 }) do s = s + v end return s end", false },
		{ "return function(ev) local f = function(x) return x end return f(1) end", false },
		{ "return function() end", false },
		{ "return function(ev, x) return x end", false },
		{ "return function(ev) return ev end", true },
		{ "return function(ev) return ev.ifname end", true },
		{ "return function(ev) return ev['ifname'] end", true },
		{ "return function(ev) local k = 'x' return ev[k] end", true },
		{ "return function(ev) return ev:foo() end", true },
		{ "return function(ev) x = ev end", true },
		{ "local up return function(ev) up = ev end", true },
		{ "return function(ev) return setmetatable({}, { __index = function() return ev end }) end", true },
		{ "return function(ev) local t = {} t[ev] = 1 end", true },
		{ "return function(ev) local t = {} t.x = ev end", true },
		{ "return function(ev) local t = {} t[1] = ev end", true },
		{ "return function(ev) return { ev } end", true },
		{ "return function(ev) return { [ev] = 1 } end", true },
		{ "return function(ev) return { x = ev } end", true },
		{ "return function(ev) nlhook.emit(ev) end", true },
		{ "return function(ev) return tostring(ev) end", true },
		{ "return function(ev) return 1, ev end", true },
		{ "return function(ev) local a, b = 1, ev return b end", true },
		{ "return function(ev) return #ev end", true },
		{ "return function(ev) return -ev end", true },
		{ "return function(ev) return not ev end", true },
		{ "return function(ev) return ev .. '' end", true },
		{ "return function(ev) return '' .. ev end", true },
		{ "return function(ev) return ev + 1 end", true },
		{ "return function(ev) return 1 + ev end", true },
		{ "return function(ev) return ev < 1 end", true },
		{ "return function(ev) return ev == 'x' end", true },
		{ "return function(ev) return ev and 1 end", true },
		{ "return function(ev) while ev do end end", true },
		{ "return function(ev) for k in pairs(ev) do end end", true },
		{ "return function(ev) for i = ev, 2 do end end", true },
		{ "return function(ev) ev = nil end", true },
		{ "return function(ev) return function() return ev end end", true },
		{ "return function(ev) return function() return function() return ev end end end", true },
		{ "return function(ev) local x = 1 return function() return x end, function() return ev end end", true },
		{ "return function(ev) nlhook.after(1, function() nlhook.emit(ev) end) end", true },
		{ "return function(ev) return coroutine.wrap(function() return ev end)() end", true },
		{ "return function(ev) goto l ::l:: return ev end", true },
		{ "return function(ev) repeat local y = ev until y end", true },
		{ "return function(ev) local t <close> = ev end", true },
		{ "return function(...) end", true },
		{ "return function(ev, ...) end", true },
		{ "return print", true },
	};
	lua_State *L = luaL_newstate();
	char big[8192];
	int n;

	assert_true(rules_handler_scan_trusted());
	luaL_openlibs(L);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(luaL_loadstring(L, cases[i].src), LUA_OK);
		assert_int_equal(lua_pcall(L, 0, 1, 0), LUA_OK);
		if (rules_handler_reads_event(L, -1) != cases[i].reads)
			fail_msg("%s: reads %d, scanned %d", cases[i].src, cases[i].reads, !cases[i].reads);
		lua_settop(L, 0);
	}
	/* Past 255 constants the operands change form: ev as a key must still count. */
	n = snprintf(big, sizeof(big), "return function(ev) local t = {} ");
	for (int i = 0; i < 300; i++)
		n += snprintf(big + n, sizeof(big) - n, "t.k%d = %d ", i, i + 1000);
	snprintf(big + n, sizeof(big) - n, "t.last = ev end");
	assert_int_equal(luaL_loadstring(L, big), LUA_OK);
	assert_int_equal(lua_pcall(L, 0, 1, 0), LUA_OK);
	assert_true(rules_handler_reads_event(L, -1));
	lua_close(L);
}

static void test_firewall_example(void **state)
{
	char *text = read_all(NLH_EXAMPLES "/30-firewall-json.lua"), path[256], *err;
	struct rules_set *rs;
	struct stats_list sl;
	struct capture cap;
	struct nlh_event ev;

	write_file(rules_dir, "30-firewall-json.lua", text);
	free(text);
	rs = load(0, NULL);
	capture_start(&cap, 2);
	nlh_event_init(&ev, NLH_EV_NLHOOK_DROP);
	nlh_strlcpy(ev.self.source, "nflog", sizeof(ev.self.source));
	NLH_SET(&ev, SELF, source);
	rules_set_dispatch(rs, &ev);
	ev.self.count = 7;
	NLH_SET(&ev, SELF, count);
	ev.self.group = 10;
	NLH_SET(&ev, SELF, group);
	rules_set_dispatch(rs, &ev);
	err = capture_end(&cap);
	assert_non_null(strstr(err, "the kernel dropped firewall log messages"));
	assert_non_null(strstr(err, "firewall log group 10 lost 7 hits"));
	assert_null(strstr(err, "error"));
	get_stats(rs, &sl);
	for (int i = 0; i < sl.n; i++)
		assert_int_equal(sl.st[i].errors, 0);
	free(err);
	rules_set_free(rs);
	snprintf(path, sizeof(path), "%s/30-firewall-json.lua", rules_dir);
	unlink(path);
}

/* Line n of the log is the JSON object of a presence change. */
static void assert_presence(const char *log, int n, const char *presence, const char *ifname)
{
	const struct json_value *root;
	struct json_doc *doc;
	char err[128];
	size_t len;

	while (n-- > 0 && log)
		log = strchr(log, '\n') ? strchr(log, '\n') + 1 : NULL;
	assert_non_null(log);
	len = strchr(log, '\n') ? (size_t)(strchr(log, '\n') - log) : strlen(log);
	assert_int_equal(json_parse(log, len, &doc, err, sizeof(err)), 0);
	root = json_root(doc);
	assert_string_equal(json_get_str(root, "presence"), presence);
	assert_string_equal(json_get_str(root, "mac"), "02:00:00:00:02:00");
	assert_string_equal(json_get_str(root, "name"), "02:00:00:00:02:00");
	assert_string_equal(json_get_str(root, "ifname"), ifname);
	assert_string_equal(json_get_str(root, "ssid"), "HomeNet");
	json_doc_free(doc);
}

static void test_presence_example(void **state)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 2, 0 };
	const struct nlh_source_env env = {
		.sink = { presence_sink, NULL }, .netns_fd = -1, .ifname = presence_ifname,
	};
	struct st_env e = {};
	char *text, *p, *log;
	struct nlbuf b;

	text = read_all(NLH_EXAMPLES "/50-presence.lua");
	p = strstr(text, "local GRACE = 120\n");
	assert_non_null(p);
	memcpy(p, "local GRACE = 0.2\n", 18);	/* as long as the line it replaces */
	write_file(rules_dir, "50-presence.lua", text);
	free(text);
	presence_rs = load(0, NULL);

	e.nl = nl80211_replay_new(&env);
	assert_non_null(e.nl);
	rules_set_state_source(st_state, &e);
	nl80211_replay_msg(e.nl, nlb_nl80211_family(&b, 32));
	for (uint32_t i = 3; i <= 4; i++) {
		nl80211_replay_msg(e.nl, nlb_nl80211_iface(&b, 32, NL80211_CMD_SET_INTERFACE, 0, i, i - 3,
							   NL80211_IFTYPE_AP, NULL));
		nl80211_replay_msg(e.nl, nlb_nl80211_iface(&b, 32, NL80211_CMD_NEW_INTERFACE, 77, i, i - 3,
							   NL80211_IFTYPE_AP, "HomeNet"));
	}
	nl80211_replay_msg(e.nl, nlb_nl80211_station(&b, 32, NL80211_CMD_NEW_STATION, 3, mac));
	nl80211_replay_msg(e.nl, nlb_nl80211_station(&b, 32, NL80211_CMD_NEW_STATION, 4, mac));
	nl80211_replay_msg(e.nl, nlb_nl80211_station(&b, 32, NL80211_CMD_DEL_STATION, 3, mac));
	run_loop(0.5);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 1);
	assert_presence(log, 0, "home", "wlan0");
	free(log);
	nl80211_replay_msg(e.nl, nlb_nl80211_station(&b, 32, NL80211_CMD_DEL_STATION, 4, mac));
	run_loop(0.1);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 1);	/* within the grace */
	free(log);
	run_loop(0.3);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 2);
	assert_presence(log, 1, "away", "wlan1");
	free(log);
	rules_set_state_source(NULL, NULL);
	nl80211_replay_free(e.nl);
	rules_set_free(presence_rs);
}

static void test_want(void **state)
{
	struct rules_set *rs;
	struct nlh_want w;

	write_file(rules_dir, "10-a.lua",
		   "nlhook.on('nflog', { group = { 20, 10 } }, function() end)\n"
		   "nlhook.on('nflog', { group = 5, prefix = 'x' }, function() end)\n"
		   "nlhook.on('nfl*', { prefix = 'no group' }, function() end)\n"
		   "nlhook.on('nf*', { group = { '!7', 8 } }, function() end)\n"
		   "nlhook.on({ 'link.up', 'addr.*' }, {}, function() end)\n");
	rs = load(0, NULL);
	rules_set_want(rs, NULL, &w);
	assert_true(w.types == (NLH_TYPE_BIT(NLH_EV_NFLOG) | NLH_TYPE_BIT(NLH_EV_LINK_UP) |
				NLH_TYPE_BIT(NLH_EV_ADDR_ADD) | NLH_TYPE_BIT(NLH_EV_ADDR_DEL)));
	/* Plain numbers only: a negated group binds nothing, the glob rule's 8 is bound. */
	assert_int_equal(w.n_nflog_groups, 4);
	assert_int_equal(w.nflog_groups[0], 5);
	assert_int_equal(w.nflog_groups[1], 8);
	assert_int_equal(w.nflog_groups[2], 10);
	assert_int_equal(w.nflog_groups[3], 20);
	rules_set_free(rs);

	rules_set_want(NULL, NULL, &w);
	assert_int_equal(w.types, 0);
	assert_int_equal(rules_set_count(NULL), 0);
}

static void test_no_lua_for_unwanted(void **state)
{
	struct rules_set *rs;
	struct nlh_event ev;
	struct stats_list sl;
	uint64_t calls;

	write_file(rules_dir, "10-a.lua", "nlhook.on('link.up', { ifname = 'eth*' }, function(ev) end)\n");
	rs = load(0, NULL);
	calls = rules_lua_calls();

	nlh_event_init(&ev, NLH_EV_ADDR_ADD);
	rules_set_dispatch(rs, &ev);
	link_up(&ev, "wlan0", 1500);	/* wanted type, pattern does not match */
	rules_set_dispatch(rs, &ev);
	assert_int_equal(rules_lua_calls(), calls);
	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].hits, 0);

	link_up(&ev, "eth0", 1500);
	rules_set_dispatch(rs, &ev);
	assert_int_equal(rules_lua_calls(), calls + 1);
	rules_set_free(rs);
}

static void test_errors_isolated(void **state)
{
	struct capture cap;
	struct rules_set *rs;
	struct nlh_event ev;
	struct stats_list sl;
	char *log, *err;

	write_file(rules_dir, "10-bad.lua", "nlhook.on('link.up', {}, function(ev)\n  error('boom ' .. ev.ifname)\nend)\n");
	write_file(rules_dir, "20-good.lua", "nlhook.on('link.up', {}, function(ev) nlhook.emit({ ok = ev.ifname }) end)\n");
	rules_max_failures = 3;
	rs = load(0, NULL);

	capture_start(&cap, 2);
	for (int i = 0; i < 4; i++) {
		link_up(&ev, "eth0", 1500);
		rules_set_dispatch(rs, &ev);
	}
	err = capture_end(&cap);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 4);	/* the good rule ran every time */
	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].errors, 3);
	assert_true(sl.st[0].disabled);
	assert_int_equal(sl.st[0].hits, 3);	/* disabled: the 4th event did not reach it */
	assert_int_equal(sl.st[1].errors, 0);
	assert_int_equal(sl.st[1].runs, 4);
	/* One line per failure naming the rule and the place of the error. */
	assert_non_null(strstr(err, "rule 10-bad.lua:1: runtime error: "));
	assert_non_null(strstr(err, "10-bad.lua:2: boom eth0"));
	assert_non_null(strstr(err, "disabled after 3 consecutive failures"));
	free(err);
	free(log);
	rules_set_free(rs);
}

static void test_budget(void **state)
{
	struct capture cap;
	struct rules_set *rs;
	struct nlh_event ev;
	struct stats_list sl;
	char *log, *err;

	write_file(rules_dir, "10-loop.lua", "nlhook.on('link.up', {}, function() while true do end end)\n");
	/* A pcall inside the rule must not swallow the overrun. */
	write_file(rules_dir, "20-pcall.lua",
		   "nlhook.on('link.up', {}, function()\n"
		   "  while true do pcall(function() while true do end end) end\n"
		   "end)\n");
	write_file(rules_dir, "30-co.lua",
		   "nlhook.on('link.up', {}, function()\n"
		   "  local co = coroutine.wrap(function() while true do end end)\n"
		   "  while true do pcall(co) end\n"
		   "end)\n");
	write_file(rules_dir, "40-good.lua", "nlhook.on('link.up', {}, function(ev) nlhook.emit({ ok = 1 }) end)\n");
	rules_budget = 200000;
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	capture_start(&cap, 2);
	rules_set_dispatch(rs, &ev);
	err = capture_end(&cap);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 1);
	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].errors, 1);
	assert_int_equal(sl.st[1].errors, 1);
	assert_int_equal(sl.st[2].errors, 1);
	assert_int_equal(sl.st[3].errors, 0);
	assert_non_null(strstr(err, "10-loop.lua:1: instruction budget of 200000 exceeded"));
	free(err);
	free(log);
	rules_set_free(rs);

	/* An endless loop at load time is an error of that file, not a hang. */
	write_file(rules_dir, "50-load.lua", "while true do end\n");
	{
		char *dirs[] = { rules_dir };
		struct reports rep = {};

		assert_int_equal(rules_set_load(&rs, dirs, 1, 0, report_cb, &rep), -EINVAL);
		assert_int_equal(rep.n, 1);
		assert_non_null(strstr(rep.msg[0], "50-load.lua:1: instruction budget"));
	}
}

static void test_memory(void **state)
{
	struct capture cap;
	struct rules_set *rs;
	struct nlh_event ev;
	struct stats_list sl;
	char *log, *err;

	write_file(rules_dir, "10-bomb.lua",
		   "nlhook.on('link.up', {}, function()\n"
		   "  local t = {}\n"
		   "  for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end\n"
		   "end)\n"
		   "nlhook.on('link.up', {}, function() local s = string.rep('x', 1 << 40) end)\n");
	write_file(rules_dir, "20-good.lua", "nlhook.on('link.up', {}, function(ev) nlhook.emit({ ok = 1 }) end)\n");
	rules_mem_cap = 4 << 20;
	rules_budget = 0;	/* no instruction budget: the cap alone stops it */
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	capture_start(&cap, 2);
	rules_set_dispatch(rs, &ev);
	rules_set_dispatch(rs, &ev);
	err = capture_end(&cap);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 2);
	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].errors, 2);
	assert_int_equal(sl.st[1].errors, 2);
	assert_int_equal(sl.st[2].errors, 0);
	assert_non_null(strstr(err, "rule 10-bomb.lua:1: out of memory"));
	free(err);
	free(log);
	rules_set_free(rs);
}

/* What a dry run reports, one "what rule: text" line each. */
static void dry_collect(const char *what, const char *rule, const char *text, void *data)
{
	struct sbuf *b = data;

	sbuf_printf(b, "%s %s%s%s\n", what, rule, text ? ": " : "", text ? text : "");
}

static void test_dry_run(void **state)
{
	struct sbuf b = {};
	struct rules_set *rs;
	struct nlh_event ev;
	char *out, *log;

	write_file(rules_dir, "10-x.lua",
		   "nlhook.on('link.up', {}, function(ev)\n"
		   "  nlhook.exec({ '/bin/echo', 'hello world', ev.ifname }, { env = { FOO = 'bar' } })\n"
		   "  nlhook.emit({ x = 1 })\n"
		   "  nlhook.after(5, function() end)\n"
		   "end, { name = 'dry' })\n"
		   "nlhook.on('link.up', {}, '/usr/local/bin/on-up', { debounce = 3 })\n");
	rs = load(RULES_DRY_RUN, NULL);
	rules_set_dry_run(rs, dry_collect, &b);
	link_up(&ev, "eth0", 1500);
	/* Timers run on a replay clock: the debounce fires 3 s later, the after 5 s later. */
	loop_replay_start(100);
	rules_set_dispatch(rs, &ev);
	assert_null(strstr(b.p, "exec 10-x.lua:6"));
	assert_int_equal(loop_replay_advance(110, 10), 2);
	loop_replay_stop();
	out = b.p;
	assert_non_null(strstr(out, "match dry\n"));
	assert_non_null(strstr(out, "exec dry: /bin/echo 'hello world' eth0 env FOO=bar\n"));
	assert_non_null(strstr(out, "emit dry: {\"x\":1}\n"));
	assert_non_null(strstr(out, "after dry: 5 s\n"));
	assert_non_null(strstr(out, "match 10-x.lua:6\nexec 10-x.lua:6: /usr/local/bin/on-up\n"));
	log = read_all(evlog_path);
	assert_string_equal(log, "");
	free(out);
	free(log);
	rules_set_free(rs);
}

static void test_debounce_rate_after(void **state)
{
	struct rules_set *rs;
	struct nlh_event ev;
	struct stats_list sl;
	char *log;

	write_file(rules_dir, "10-x.lua",
		   "nlhook.on('link.up', { ifname = 'd*' }, function(ev) nlhook.emit({ d = ev.mtu }) end,\n"
		   "  { debounce = 0.05 })\n"
		   "nlhook.on('link.up', { ifname = 'r*' }, function(ev) nlhook.emit({ r = ev.mtu }) end, { rate = 1 })\n"
		   "nlhook.on('link.up', { ifname = 'a*' }, function(ev)\n"
		   "  local name = ev.ifname\n"
		   "  nlhook.after(0.01, function() nlhook.emit({ a = name }) end)\n"
		   "end)\n");
	rs = load(0, NULL);
	for (uint32_t i = 1; i <= 3; i++) {
		link_up(&ev, "d0", i);
		rules_set_dispatch(rs, &ev);
		link_up(&ev, "r0", i);
		rules_set_dispatch(rs, &ev);
	}
	link_up(&ev, "a0", 1);
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	/* Only the first run under the rate limit so far. */
	assert_string_equal(log, "{\"r\":1}\n");
	free(log);
	run_loop(0.3);
	log = read_all(evlog_path);
	/* Debounce ran once, with the last event. */
	assert_int_equal(count_lines(log), 3);
	assert_non_null(strstr(log, "{\"d\":3}\n"));
	assert_null(strstr(log, "{\"d\":1}"));
	assert_non_null(strstr(log, "{\"a\":\"a0\"}\n"));
	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].hits, 3);
	assert_int_equal(sl.st[0].runs, 1);
	assert_int_equal(sl.st[1].runs, 1);
	assert_int_equal(sl.st[1].rate_dropped, 2);
	free(log);
	rules_set_free(rs);
}

static void test_status(void **state)
{
	const struct json_value *root, *r;
	struct sbuf b = {};
	struct json_doc *doc;
	struct rules_set *rs;
	char err[128], *text;

	write_file(rules_dir, "10-x.lua", "nlhook.on('link.*', {}, function() end)\n");
	rs = load(0, NULL);
	sbuf_puts(&b, "{\"ok\":true");
	rules_set_status(rs, &b);
	sbuf_puts(&b, "}");
	text = strndup(b.p, b.len);
	assert_int_equal(json_parse(text, strlen(text), &doc, err, sizeof(err)), 0);
	root = json_root(doc);
	r = json_get(root, "rules");
	assert_non_null(r);
	assert_int_equal(r->len, 1);
	assert_string_equal(json_get_str(r->child, "name"), "10-x.lua:1");
	assert_int_equal(json_get(r->child, "types")->len, 8);
	assert_false(json_get(r->child, "disabled")->b);
	json_doc_free(doc);
	free(text);
	sbuf_free(&b);
	rules_set_free(rs);
}

/*
 * A rule's time is read on the coarse clock (a tick of some ms): one
 * short call reads 0 or a tick, but the sum over calls is the time spent.
 */
static void test_rule_time(void **state)
{
	struct stats_list sl;
	struct rules_set *rs;
	struct nlh_event ev;
	struct timespec a, b;
	double wall;
	char path[256];

	write_file(rules_dir, "10-spin.lua",
		   "nlhook.on('link.up', {}, function() local t = os.clock() + 0.002 while os.clock() < t do end end)\n");
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 50; i++)
		rules_set_dispatch(rs, &ev);
	clock_gettime(CLOCK_MONOTONIC, &b);
	wall = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	get_stats(rs, &sl);
	assert_int_equal(sl.n, 1);
	assert_int_equal(sl.st[0].runs, 50);
	/* At least 50 x 2 ms of CPU; the calls' coarse readings add up to the wall clock within two ticks. */
	if (sl.st[0].time < 0.09 || sl.st[0].time > wall + 0.01)
		fail_msg("rule time %.4f s for 50 calls in %.4f s", sl.st[0].time, wall);
	rules_set_free(rs);
	snprintf(path, sizeof(path), "%s/10-spin.lua", rules_dir);
	unlink(path);
}

static void test_api_misuse(void **state)
{
	char *dirs[] = { rules_dir };
	struct rules_set *rs = NULL;
	struct reports rep = {};
	struct capture cap;
	struct nlh_event ev;
	struct stats_list sl;
	char path[256], *err;

	/* exec and after belong to handlers: a file that runs things while it loads is refused. */
	write_file(rules_dir, "10-exec.lua", "\nnlhook.exec({ '/bin/true' })\n");
	write_file(rules_dir, "20-after.lua", "nlhook.after(1, function() end)\n");
	assert_int_equal(rules_set_load(&rs, dirs, 1, 0, report_cb, &rep), -EINVAL);
	assert_int_equal(rep.n, 2);
	assert_non_null(strstr(rep.msg[0], "10-exec.lua:2: nlhook.exec can only be called from a handler"));
	assert_non_null(strstr(rep.msg[1], "20-after.lua:1: nlhook.after can only be called from a handler"));
	snprintf(path, sizeof(path), "%s/10-exec.lua", rules_dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/20-after.lua", rules_dir);
	assert_int_equal(unlink(path), 0);

	/* A rule whose nlhook.on failed inside a pcall is dropped, the file loads. */
	write_file(rules_dir, "30-x.lua",
		   "assert(not pcall(nlhook.on, 'link.up', { nope = 1 }, function() end))\n"
		   "nlhook.on('link.up', {}, function(ev)\n"
		   "  nlhook.log.info('%s has mtu %d', ev.ifname, ev.mtu)\n"
		   "  nlhook.on('link.down', {}, function() end)\n"
		   "end, { name = 'late' })\n");
	rs = load(0, NULL);
	assert_int_equal(rules_set_count(rs), 1);
	link_up(&ev, "eth0", 1500);
	capture_start(&cap, 2);
	rules_set_dispatch(rs, &ev);
	err = capture_end(&cap);
	assert_non_null(strstr(err, "late: eth0 has mtu 1500"));
	assert_non_null(strstr(err, "rule late (30-x.lua:2): runtime error: "));
	assert_non_null(strstr(err, "30-x.lua:4: nlhook.on: rules can only be added while the file loads"));
	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].errors, 1);
	free(err);
	rules_set_free(rs);
}

/* Run the loop until the event log has `lines` lines, or `seconds` pass. */
struct wait_lines {
	struct loop_timer *t;
	size_t lines;
	double deadline;
};

static void wait_lines_cb(void *data)
{
	struct wait_lines *w = data;
	char *log = read_all(evlog_path);
	bool done = count_lines(log) >= w->lines || loop_now() > w->deadline;

	free(log);
	if (done)
		loop_quit(0);
	else
		loop_timer_arm(w->t, 0.02);
}

static void run_until_lines(size_t lines, double seconds)
{
	struct wait_lines w = { .lines = lines, .deadline = loop_now() + seconds };

	w.t = loop_timer_new(wait_lines_cb, &w);
	assert_non_null(w.t);
	loop_timer_arm(w.t, 0.02);
	loop_run();
	loop_timer_free(w.t);
}

static void test_exec(void **state)
{
	const struct json_value *root;
	struct json_doc *doc;
	struct rules_set *rs;
	struct nlh_event ev;
	char script[256], rule[1024], envfile[256], err[128], *log, *env, *nl;

	snprintf(envfile, sizeof(envfile), "%s/env.out", tmp);
	snprintf(script, sizeof(script), "%s/action", tmp);
	{
		FILE *f = fopen(script, "w");

		assert_non_null(f);
		fprintf(f, "#!/bin/sh\nenv > %s\n", envfile);
		fclose(f);
		assert_int_equal(chmod(script, 0755), 0);
	}
	snprintf(rule, sizeof(rule),
		 "nlhook.on('link.up', {}, function(ev)\n"
		 "  nlhook.exec({ '/bin/sh', '-c', 'sleep 0.1; echo \"$NLHOOK_IFNAME $FOO\"; echo oops >&2; exit 3' },\n"
		 "    { env = { FOO = 'bar', NLHOOK_IFNAME = 'over' }, timeout = 5,\n"
		 "      on_exit = function(status, out, err)\n"
		 "        nlhook.emit({ n = 1, status = status, out = out, err = err })\n"
		 "      end })\n"
		 "  nlhook.exec({ '/bin/sh', '-c', 'kill -TERM $$' }, { on_exit = function(status)\n"
		 "    nlhook.emit({ n = 2, status = status }) end })\n"
		 "  nlhook.exec({ '/nonexistent/program' }, { on_exit = function(status)\n"
		 "    nlhook.emit({ n = 3, status = status }) end })\n"
		 "end)\n"
		 "nlhook.on('link.up', {}, '%s')\n", script);
	write_file(rules_dir, "10-exec.lua", rule);
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	rules_set_dispatch(rs, &ev);
	run_until_lines(3, 5);

	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 3);
	/* One queue per rule: in order, one at a time, although the first sleeps. */
	nl = strchr(log, '\n');
	*nl = '\0';
	assert_int_equal(json_parse(log, strlen(log), &doc, err, sizeof(err)), 0);
	root = json_root(doc);
	assert_int_equal((int)json_get(root, "n")->num, 1);
	assert_int_equal((int)json_get(root, "status")->num, 3);
	/* Strings rules emit are text in the one escape: a newline is \x0a. */
	assert_string_equal(json_get_str(root, "out"), "over bar\\x0a");
	assert_string_equal(json_get_str(root, "err"), "oops\\x0a");
	json_doc_free(doc);
	assert_non_null(strstr(nl + 1, "{\"n\":2,\"status\":143}") ?: strstr(nl + 1, "{\"status\":143,\"n\":2}"));
	assert_non_null(strstr(nl + 1, "\"status\":127"));
	free(log);

	/* The path action got the event in its environment, and nothing else. */
	for (int i = 0; i < 100; i++) {
		struct stat st;

		if (!stat(envfile, &st) && st.st_size > 0)
			break;
		run_loop(0.02);
	}
	env = read_all(envfile);
	assert_non_null(strstr(env, "NLHOOK_TYPE=link.up\n"));
	assert_non_null(strstr(env, "NLHOOK_IFNAME=eth0\n"));
	assert_non_null(strstr(env, "NLHOOK_MTU=1500\n"));
	assert_non_null(strstr(env, "NLHOOK_EVENT={\"type\":\"link.up\""));
	assert_null(strstr(env, "HOME="));
	free(env);
	rules_set_free(rs);
}

/*
 * A program that does not start is never silent: logged with the rule, the
 * path and the reason, counted as an error of the rule (enough in a row
 * disable it), and on_exit gets what a shell would give: 127 not there,
 * 126 not runnable, with the reason as its stderr.
 */
static void test_exec_failures(void **state)
{
	const struct json_value *root;
	struct json_doc *doc;
	struct capture cap;
	struct rules_set *rs;
	struct nlh_event ev;
	struct stats_list sl;
	char noexec[256], rule[1024], msg[512], jerr[128], *log, *err, *nl;

	snprintf(noexec, sizeof(noexec), "%s/noexec", tmp);
	write_file(tmp, "noexec", "#!/bin/sh\nexit 0\n");	/* 0644 */
	snprintf(rule, sizeof(rule),
		 "nlhook.on('link.up', { ifname = 'p*' }, '/nonexistent/action')\n"
		 "nlhook.on('link.up', { ifname = 'l*' }, function(ev)\n"
		 "  local function report(status, out, err) nlhook.emit({ status = status, err = err }) end\n"
		 "  assert(nlhook.exec({ '/nonexistent/program' }, { on_exit = report }))\n"
		 "  assert(nlhook.exec({ '%s' }, { on_exit = report }))\n"
		 "end)\n", noexec);
	write_file(rules_dir, "10-fail.lua", rule);
	rules_max_failures = 3;
	rs = load(0, NULL);

	capture_start(&cap, 2);
	link_up(&ev, "p0", 1500);
	rules_set_dispatch(rs, &ev);
	link_up(&ev, "l0", 1500);
	rules_set_dispatch(rs, &ev);
	run_until_lines(2, 5);
	run_loop(0.05);
	err = capture_end(&cap);
	assert_non_null(strstr(err, "rule 10-fail.lua:1: cannot run /nonexistent/action: No such file or directory\n"));
	assert_non_null(strstr(err, "rule 10-fail.lua:2: cannot run /nonexistent/program: No such file or directory\n"));
	snprintf(msg, sizeof(msg), "rule 10-fail.lua:2: cannot run %s: Permission denied\n", noexec);
	assert_non_null(strstr(err, msg));
	free(err);

	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 2);
	nl = strchr(log, '\n');
	*nl = '\0';
	assert_int_equal(json_parse(log, strlen(log), &doc, jerr, sizeof(jerr)), 0);
	root = json_root(doc);
	assert_int_equal((int)json_get(root, "status")->num, 127);
	assert_string_equal(json_get_str(root, "err"), "cannot run /nonexistent/program: No such file or directory");
	json_doc_free(doc);
	assert_int_equal(json_parse(nl + 1, strlen(nl + 1), &doc, jerr, sizeof(jerr)), 0);
	root = json_root(doc);
	assert_int_equal((int)json_get(root, "status")->num, 126);
	snprintf(msg, sizeof(msg), "cannot run %s: Permission denied", noexec);
	assert_string_equal(json_get_str(root, "err"), msg);
	json_doc_free(doc);
	free(log);

	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].errors, 1);
	assert_false(sl.st[0].disabled);
	assert_int_equal(sl.st[1].errors, 2);
	/* What nlhook check looks at. */
	assert_string_equal(sl.st[0].action, "/nonexistent/action");
	assert_null(sl.st[1].action);

	/* Failures in a row disable the rule, as Lua errors do. */
	capture_start(&cap, 2);
	for (int i = 0; i < 3; i++) {
		link_up(&ev, "p0", 1500);
		rules_set_dispatch(rs, &ev);
		run_loop(0.05);
	}
	err = capture_end(&cap);
	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].errors, 3);
	assert_true(sl.st[0].disabled);
	assert_int_equal(sl.st[0].hits, 3);
	assert_non_null(strstr(err, "rule 10-fail.lua:1: disabled after 3 consecutive failures"));
	free(err);
	rules_set_free(rs);
}

/*
 * What a rule can make the daemon hold outside its Lua memory cap is
 * bounded: 64 execs waiting behind the running one, 1024 nlhook.after
 * timers.  Over that, the call returns nil and a message, the drop is
 * counted per rule, and logged at most once a second.
 */
static void test_exec_after_bounds(void **state)
{
	const struct json_value *root, *rule;
	struct json_doc *doc;
	struct sbuf b = {};
	struct capture cap;
	struct rules_set *rs;
	struct nlh_event ev;
	struct stats_list sl;
	char jerr[128], *log, *err, *text;

	write_file(rules_dir, "10-flood.lua",
		   "nlhook.on('link.up', {}, function(ev)\n"
		   "  local n = { exec = 0, exec_nil = 0, after = 0, after_nil = 0 }\n"
		   "  for i = 1, 100 do\n"
		   "    local ok, msg = nlhook.exec({ '/bin/sh', '-c', 'sleep 0.2' })\n"
		   "    if ok then n.exec = n.exec + 1 else n.exec_nil = n.exec_nil + 1; n.exec_msg = msg end\n"
		   "  end\n"
		   "  for i = 1, 1100 do\n"
		   "    local ok, msg = nlhook.after(60, function() end)\n"
		   "    if ok then n.after = n.after + 1 else n.after_nil = n.after_nil + 1; n.after_msg = msg end\n"
		   "  end\n"
		   "  nlhook.emit(n)\n"
		   "end, { name = 'flood' })\n");
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	capture_start(&cap, 2);
	rules_set_dispatch(rs, &ev);
	err = capture_end(&cap);

	log = read_all(evlog_path);
	assert_int_equal(json_parse(log, strlen(log), &doc, jerr, sizeof(jerr)), 0);
	root = json_root(doc);
	assert_int_equal((int)json_get(root, "exec")->num, 65);
	assert_int_equal((int)json_get(root, "exec_nil")->num, 35);
	assert_string_equal(json_get_str(root, "exec_msg"), "dropped: 64 execs of this rule are waiting already");
	assert_int_equal((int)json_get(root, "after")->num, 1024);
	assert_int_equal((int)json_get(root, "after_nil")->num, 76);
	assert_string_equal(json_get_str(root, "after_msg"), "dropped: 1024 timers of this rule are pending already");
	json_doc_free(doc);
	free(log);

	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].exec_dropped, 35);
	assert_int_equal(sl.st[0].after_dropped, 76);
	assert_int_equal(sl.st[0].execs_running, 1);
	assert_int_equal(sl.st[0].execs_pending, 64);
	assert_int_equal(sl.st[0].errors, 0);	/* a drop is not a failure */
	/* One line for each kind, not one per drop. */
	assert_non_null(strstr(err, "rule flood: 64 execs waiting already, /bin/sh dropped (1 dropped so far)\n"));
	assert_null(strstr(err, "(2 dropped so far)"));
	assert_non_null(strstr(err, "rule flood: 1024 nlhook.after timers pending already, one more dropped "
				    "(1 dropped so far)\n"));
	free(err);

	sbuf_puts(&b, "{\"ok\":true");
	rules_set_status(rs, &b);
	sbuf_puts(&b, "}");
	text = strndup(b.p, b.len);
	assert_int_equal(json_parse(text, strlen(text), &doc, jerr, sizeof(jerr)), 0);
	rule = json_get(json_root(doc), "rules")->child;
	assert_int_equal((int)json_get(rule, "exec_dropped")->num, 35);
	assert_int_equal((int)json_get(rule, "after_dropped")->num, 76);
	json_doc_free(doc);
	free(text);
	sbuf_free(&b);

	/* A second later, the next drop is logged again, with the total. */
	run_loop(1.05);
	capture_start(&cap, 2);
	rules_set_dispatch(rs, &ev);
	err = capture_end(&cap);
	assert_non_null(strstr(err, "/bin/sh dropped (36 dropped so far)\n"));
	assert_non_null(strstr(err, "one more dropped (77 dropped so far)\n"));
	free(err);
	rules_set_free(rs);
}

/* nlhook.exec runs the path it is given: a bare name is an error at the call, not a PATH search. */
static void test_exec_absolute_only(void **state)
{
	struct capture cap;
	struct rules_set *rs;
	struct nlh_event ev;
	struct stats_list sl;
	char *log, *err;

	write_file(rules_dir, "10-rel.lua",
		   "nlhook.on('link.up', {}, function(ev)\n"
		   "  local ok, e = pcall(function() return nlhook.exec({ 'true' }) end)\n"
		   "  nlhook.emit({ ok = ok, e = e })\n"
		   "  nlhook.exec({ 'sh', '-c', 'exit 0' })\n"
		   "end)\n");
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	capture_start(&cap, 2);
	rules_set_dispatch(rs, &ev);
	run_loop(0.1);
	err = capture_end(&cap);
	log = read_all(evlog_path);
	assert_non_null(strstr(log, "\"ok\":false"));
	assert_non_null(strstr(log, "10-rel.lua:2: bad argument #1 to 'exec' (argv[1] must be an absolute path)"));
	assert_non_null(strstr(err, "10-rel.lua:4: bad argument #1 to 'exec' (argv[1] must be an absolute path)"));
	get_stats(rs, &sl);
	assert_int_equal(sl.st[0].errors, 1);
	assert_int_equal(sl.st[0].execs_running + sl.st[0].execs_pending, 0);
	free(err);
	free(log);
	rules_set_free(rs);
}

/* The event log line of a rule that emitted { name = ..., ... }, parsed. */
static struct json_doc *emitted(const char *log, const char *name)
{
	char key[128], err[128];
	const char *line = log;
	struct json_doc *doc;

	snprintf(key, sizeof(key), "\"name\":\"%s\"", name);
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (memmem(line, len, key, strlen(key))) {
			assert_int_equal(json_parse(line, len, &doc, err, sizeof(err)), 0);
			return doc;
		}
		line = nl ? nl + 1 : NULL;
	}
	fail_msg("no event from %s in:\n%s", name, log);
	return NULL;
}

/* The log line of a rule stopped by its budget at the place where. */
static void assert_budget_error(const char *err, const char *rule, const char *where, unsigned long budget)
{
	char want[512];

	snprintf(want, sizeof(want), "rule %s: runtime error: %s/%s: instruction budget of %lu exceeded", rule,
		 rules_dir, where, budget);
	if (!strstr(err, want))
		fail_msg("no \"%s\" in:\n%s", want, err);
}

/* Pattern matching is charged to the rule's budget: a backtracking pattern is stopped at its line. */
static void test_pattern_budget(void **state)
{
	struct capture cap;
	struct rules_set *rs;
	struct nlh_event ev;
	struct stats_list sl;
	char *log, *err;
	double t0;

	write_file(rules_dir, "10-find.lua",
		   "nlhook.on('link.up', {}, function()\n"
		   "  string.rep('a', 400):find(string.rep('a*', 5) .. 'b')\n"
		   "end)\n");
	write_file(rules_dir, "11-gsub.lua",
		   "nlhook.on('link.up', {}, function()\n"
		   "  local s = string.rep('a', 400)\n"
		   "  s:gsub(string.rep('a*', 5) .. 'b', '')\n"
		   "end)\n");
	write_file(rules_dir, "12-match.lua",
		   "nlhook.on('link.up', {}, function() string.match(string.rep('a', 400), string.rep('a-', 5) .. 'b') end)\n");
	write_file(rules_dir, "13-gmatch.lua",
		   "nlhook.on('link.up', {}, function()\n"
		   "  for x in string.rep('a', 400):gmatch(string.rep('a*', 5) .. 'b') do end\n"
		   "end)\n");
	/* A pcall around the match does not keep the rule going: the overrun is latched. */
	write_file(rules_dir, "14-pcall.lua",
		   "nlhook.on('link.up', {}, function()\n"
		   "  local p = string.rep('a*', 5) .. 'b'\n"
		   "  while true do pcall(string.find, string.rep('a', 400), p) end\n"
		   "end)\n");
	write_file(rules_dir, "20-good.lua", "nlhook.on('link.up', {}, function(ev) nlhook.emit({ ok = 1 }) end)\n");
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	t0 = loop_now();
	capture_start(&cap, 2);
	rules_set_dispatch(rs, &ev);
	err = capture_end(&cap);
	/* 10M steps each, not the hours the stock matcher takes. */
	assert_true(loop_now() - t0 < 10);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 1);
	get_stats(rs, &sl);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sl.st[i].errors, 1);
	assert_int_equal(sl.st[5].errors, 0);
	assert_budget_error(err, "10-find.lua:1", "10-find.lua:2", 10000000);
	assert_budget_error(err, "11-gsub.lua:1", "11-gsub.lua:3", 10000000);
	assert_budget_error(err, "12-match.lua:1", "12-match.lua:1", 10000000);
	assert_budget_error(err, "13-gmatch.lua:1", "13-gmatch.lua:2", 10000000);
	assert_budget_error(err, "14-pcall.lua:1", "14-pcall.lua:3", 10000000);
	free(err);
	free(log);
	rules_set_free(rs);
}

/*
 * Library loops whose length the rule picks: each answers at once, or is
 * charged so that the budget stops it.
 */
static void test_c_loops(void **state)
{
	static const struct {
		const char *name, *body;
	} overrun[] = {
		{ "move", "local t = {} table.move(t, 1, 1e18, 2)" },
		{ "concat", "table.concat(setmetatable({}, { __index = rawlen }), '', 1, 1e15)" },
		{ "insert", "table.insert(setmetatable({}, { __len = function() return 1e15 end }), 1, 'x')" },
		{ "remove", "table.remove(setmetatable({}, { __len = function() return 1e15 end }), 1)" },
		{ "sort", "table.sort(setmetatable({}, { __len = function() return 1 << 30 end, __index = rawlen }))" },
		{ "unpack", "local t = {} for i = 1, 10 do t[i] = i end for i = 1, 1e6 do table.unpack(t, 1, 5000) end" },
		{ "byte", "local s = string.rep('x', 5000) for i = 1, 1e6 do s:byte(1, -1) end" },
		{ "char", "local t = {} for i = 1, 5000 do t[i] = 65 end for i = 1, 1e6 do string.char(table.unpack(t)) end" },
		{ "utf8len", "local s = string.rep('x', 1e6) for i = 1, 1e6 do utf8.len(s) end" },
		{ "utf8offset", "local s = string.rep('\\x80', 1e6) for i = 1, 1e6 do utf8.offset(s, 0, -1) end" },
		{ "utf8codepoint", "local s = string.rep('x', 5000) for i = 1, 1e6 do utf8.codepoint(s, 1, -1) end" },
		{ "format", "local s = string.rep('x', 1e6) for i = 1, 1e6 do string.format('%.1s', s) end" },
		{ "pack", "local f = string.rep(' ', 1e6) for i = 1, 1e6 do string.packsize(f) end" },
		{ "tonumber", "local s = string.rep(' ', 1e6) for i = 1, 1e6 do tonumber(s, 10) end" },
		{ "load", "local s = string.rep(' ', 1e6) for i = 1, 1e6 do load(s) end" },
		{ "loadfn", "local s = string.rep(' ', 1e6) load(function() return s end)" },
		{ "gc", "local t = {} for i = 1, 1e5 do t[i] = {} end for i = 1, 1e6 do collectgarbage() end" },
		{ "plainfind", "local s = string.rep('a', 1e6) for i = 1, 1e6 do s:find('b', 1, true) end" },
		{ "require", "for i = 1, 1e6 do package.loaded.big = nil require('big') end" },
	};
	char path[256], buf[512], *err;
	struct capture cap;
	struct rules_set *rs;
	struct nlh_event ev;
	double t0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/lib", tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	f = fopen(strcat(path, "/big.lua"), "w");
	assert_non_null(f);
	for (int i = 0; i < 4000; i++)
		fputs("-- a module that takes a while to read and parse --------------\n", f);
	fclose(f);
	/* string.rep of nothing is nothing, however many times. */
	write_file(rules_dir, "10-rep.lua",
		   "nlhook.on('link.up', {}, function()\n"
		   "  nlhook.emit({ a = string.rep('', 1e18), b = string.rep('', 1e18, ''), c = string.rep('x', 3, '') })\n"
		   "end)\n");
	snprintf(path, sizeof(path), "%s/20-loops.lua", rules_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < sizeof(overrun) / sizeof(overrun[0]); i++)
		fprintf(f, "nlhook.on('link.up', {}, function() %s end, { name = '%s' })\n", overrun[i].body, overrun[i].name);
	fclose(f);
	rules_budget = 1000000;
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	t0 = loop_now();
	capture_start(&cap, 2);
	rules_set_dispatch(rs, &ev);
	err = capture_end(&cap);
	assert_true(loop_now() - t0 < 10);
	{
		char *log = read_all(evlog_path);

		assert_non_null(strstr(log, "\"a\":\"\""));
		assert_non_null(strstr(log, "\"b\":\"\""));
		assert_non_null(strstr(log, "\"c\":\"xxx\""));
		free(log);
	}
	for (size_t i = 0; i < sizeof(overrun) / sizeof(overrun[0]); i++) {
		snprintf(buf, sizeof(buf), "%s (20-loops.lua:%zu)", overrun[i].name, i + 1);
		snprintf(path, sizeof(path), "20-loops.lua:%zu", i + 1);
		assert_budget_error(err, buf, path, 1000000);
	}
	free(err);
	rules_set_free(rs);
}

/*
 * io opens regular files only and has no standard input: nothing a rule
 * opens or reads can block the daemon.
 */
static void test_io(void **state)
{
	static const struct {
		const char *name, *code, *want;
	} refused[] = {
		{ "fifo", "io.open(FIFO)", "a FIFO, not a regular file" },
		{ "fifo-w", "io.open(FIFO, 'w')", "fifo: No such device or address" },
		{ "fifo-a", "io.open(FIFO, 'a+')", "a FIFO, not a regular file" },
		{ "zero", "io.open('/dev/zero')", "a character device, not a regular file" },
		{ "null-w", "io.open('/dev/null', 'w')", "a character device, not a regular file" },
		{ "tty", "io.open('/dev/tty')", "/dev/tty" },
		{ "socket", "io.open(SOCK)", "No such device or address" },
		{ "dir", "io.open(DIR)", "a directory, not a regular file" },
		{ "lines-fifo", "io.lines(FIFO)", "cannot open file '" },
		{ "input-fifo", "io.input(FIFO)", "a FIFO, not a regular file" },
		{ "output-fifo", "io.output(FIFO)", "fifo' (No such device or address)" },
		/* With a reader, opening for writing succeeds, and the handle is refused. */
		{ "fifo2-w", "io.open(FIFO2, 'w')", "a FIFO, not a regular file" },
		{ "output-fifo2", "io.output(FIFO2)", "a FIFO, not a regular file" },
		{ "input-number", "io.input(7)", "cannot open file '7'" },
		{ "read", "io.read()", "rules have no standard input" },
		{ "read-n", "io.read(1)", "rules have no standard input" },
		{ "lines", "io.lines()", "rules have no standard input" },
		{ "input", "io.input()", "rules have no standard input" },
		{ "stdin-path", "io.open('/proc/self/fd/0')", "a FIFO, not a regular file" },
	};
	const struct json_value *root;
	char path[256], sock_path[256], fifo[256], fifo2[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_doc *doc;
	struct rules_set *rs;
	struct nlh_event ev;
	double t0;
	char *log;
	int sfd, stdin_fd[2], saved_stdin, reader;
	FILE *f;

	snprintf(fifo, sizeof(fifo), "%s/fifo", tmp);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(fifo2, sizeof(fifo2), "%s/fifo2", tmp);
	assert_int_equal(mkfifo(fifo2, 0600), 0);
	reader = open(fifo2, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(reader >= 0);
	snprintf(sock_path, sizeof(sock_path), "%s/sock", tmp);
	assert_true(strlen(sock_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sfd >= 0);
	assert_int_equal(bind(sfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(sfd, 1), 0);
	/* Standard input is a pipe nobody writes to, as under a service manager. */
	assert_int_equal(pipe(stdin_fd), 0);
	saved_stdin = dup(0);
	dup2(stdin_fd[0], 0);

	snprintf(path, sizeof(path), "%s/10-io.lua", rules_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "local FIFO, FIFO2, SOCK, DIR, FILE = '%s', '%s', '%s', '%s', '%s/file.txt'\n", fifo, fifo2,
		sock_path, tmp, tmp);
	fprintf(f, "local function try(name, fn)\n"
		   "  local ok, a, b = pcall(fn)\n"
		   "  nlhook.emit({ name = name, ok = ok and a ~= nil, err = tostring(ok and b or a) })\n"
		   "end\n"
		   "nlhook.on('link.up', {}, function()\n");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		fprintf(f, "  try('%s', function() return %s end)\n", refused[i].name, refused[i].code);
	/* Regular files work as in stock Lua, io.lines closing its file at the end. */
	fprintf(f, "  local h = assert(io.open(FILE, 'w')) h:write('one\\n', 2, '\\n') h:close()\n"
		   "  local got, it, _, _, fh = {}, io.lines(FILE)\n"
		   "  for l in it do got[#got + 1] = l end\n"
		   "  io.input(FILE)\n"
		   "  nlhook.emit({ name = 'regular', lines = table.concat(got, ','), closed = io.type(fh),\n"
		   "    read = io.read('l'), ioread = io.input():read('a') })\n"
		   "  nlhook.emit({ name = 'gone', stdin = type(io.stdin), stdout = type(io.stdout),\n"
		   "    stderr = type(io.stderr), popen = type(io.popen), setlocale = type(os.setlocale) })\n"
		   "end)\n");
	fclose(f);
	write_file(rules_dir, "20-good.lua", "nlhook.on('link.up', {}, function(ev) nlhook.emit({ name = 'good' }) end)\n");
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	t0 = loop_now();
	rules_set_dispatch(rs, &ev);
	assert_true(loop_now() - t0 < 5);
	dup2(saved_stdin, 0);
	close(saved_stdin);
	close(stdin_fd[0]);
	close(stdin_fd[1]);
	close(sfd);
	close(reader);

	log = read_all(evlog_path);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		doc = emitted(log, refused[i].name);
		root = json_root(doc);
		if (json_get(root, "ok")->b || !strstr(json_get_str(root, "err"), refused[i].want))
			fail_msg("%s: ok %d, err \"%s\", wanted \"%s\"", refused[i].name, json_get(root, "ok")->b,
				 json_get_str(root, "err"), refused[i].want);
		json_doc_free(doc);
	}
	doc = emitted(log, "regular");
	root = json_root(doc);
	assert_string_equal(json_get_str(root, "lines"), "one,2");
	assert_string_equal(json_get_str(root, "closed"), "closed file");
	assert_string_equal(json_get_str(root, "read"), "one");
	assert_string_equal(json_get_str(root, "ioread"), "2\\x0a");
	json_doc_free(doc);
	doc = emitted(log, "gone");
	root = json_root(doc);
	assert_string_equal(json_get_str(root, "stdin"), "nil");
	assert_string_equal(json_get_str(root, "stdout"), "nil");
	assert_string_equal(json_get_str(root, "stderr"), "nil");
	assert_string_equal(json_get_str(root, "popen"), "nil");
	assert_string_equal(json_get_str(root, "setlocale"), "nil");
	json_doc_free(doc);
	json_doc_free(emitted(log, "good"));
	free(log);
	rules_set_free(rs);
}

/* print and io.write go to the daemon's log after the rule's name, never to the event log. */
static void test_print(void **state)
{
	struct capture cap, out;
	struct rules_set *rs;
	struct nlh_event ev;
	char *err, *log, *stdout_text;
	char file[256], path[256];
	FILE *f;

	snprintf(file, sizeof(file), "%s/out.txt", tmp);
	snprintf(path, sizeof(path), "%s/10-print.lua", rules_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "print('loading', 1, nil, true)\n"
		   "nlhook.on('link.up', {}, function(ev)\n"
		   "  print('up', ev.ifname)\n"
		   "  io.write('mtu=', ev.mtu, ' ', 1.5, '\\n')\n"
		   "  io.write('two\\nlines')\n"
		   "  io.output():write('via handle\\n')\n"
		   "  local ok, msg = io.output():close()\n"
		   "  print('close', ok, msg)\n"
		   "  io.output('%s') io.write('to the file') io.close()\n"
		   "  print('after')\n"
		   "end, { name = 'printer' })\n", file);
	fclose(f);
	capture_start(&cap, 2);
	capture_start(&out, 1);
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	rules_set_dispatch(rs, &ev);
	stdout_text = capture_end(&out);
	err = capture_end(&cap);
	log = read_all(evlog_path);
	assert_string_equal(stdout_text, "");
	assert_int_equal(count_lines(log), 0);
	rules_set_free(rs);
	free(log);
	free(stdout_text);

	/* Loading, the file's name; in a handler, the rule's. */
	assert_non_null(strstr(err, "info: 10-print.lua: loading\t1\tnil\ttrue\n"));
	assert_non_null(strstr(err, "info: printer: up\teth0\n"));
	assert_non_null(strstr(err, "info: printer: mtu=1500 1.5\n"));
	assert_non_null(strstr(err, "info: printer: two\n"));
	assert_non_null(strstr(err, "info: printer: lines\n"));
	assert_non_null(strstr(err, "info: printer: via handle\n"));
	assert_non_null(strstr(err, "info: printer: close\tnil\tcannot close the log\n"));
	assert_non_null(strstr(err, "info: printer: after\n"));
	assert_null(strstr(err, "to the file"));
	free(err);
	log = read_all(file);
	assert_string_equal(log, "to the file");
	free(log);
}

/*
 * require finds modules in the lib dir beside the rules dir, and loads
 * only files inside the rules and lib dirs, checked as rule files are.
 */
static void test_require(void **state)
{
	char lib[160], other[160], cwd_dir[160], sub[200], path[512], *log, *saved_cwd;
	const struct json_value *root;
	struct json_doc *doc;
	struct rules_set *rs;
	FILE *f;

	snprintf(lib, sizeof(lib), "%s/lib", tmp);
	snprintf(other, sizeof(other), "%s/other", tmp);
	snprintf(cwd_dir, sizeof(cwd_dir), "%s/cwd", tmp);
	assert_int_equal(mkdir(lib, 0755), 0);
	assert_int_equal(mkdir(other, 0755), 0);
	assert_int_equal(mkdir(cwd_dir, 0755), 0);
	chmod(tmp, 0755);
	write_file(lib, "good.lua", "return { answer = 42, name = ... }\n");
	write_file(lib, "gw.lua", "return 'group-writable'\n");
	chmod(strcat(strcpy(path, lib), "/gw.lua"), 0664);
	write_file(cwd_dir, "cwdmod.lua", "return 'from the working directory'\n");
	write_file(other, "tmpmod.lua", "return 'from elsewhere'\n");
	snprintf(path, sizeof(path), "%s/link.lua", lib);
	assert_int_equal(symlink(strcat(strcpy(path + 256, other), "/tmpmod.lua"), path), 0);
	snprintf(sub, sizeof(sub), "%s/sub", lib);
	assert_int_equal(mkdir(sub, 0755), 0);
	chmod(sub, 0775);
	write_file(sub, "mod.lua", "return 'in a group-writable dir'\n");
	write_file(rules_dir, "50-helper.lua", "return 'a rule file as a module'\n");

	snprintf(path, sizeof(path), "%s/10-req.lua", rules_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "local default_path = package.path\n"
		   "local function try(name)\n"
		   "  local ok, v = pcall(require, name)\n"
		   "  return ok and (type(v) == 'table' and v.answer .. ' ' .. v.name or v) or 'error: ' .. v\n"
		   "end\n"
		   "local r = { name = 'req', path = default_path, good = try('good'), gw = try('gw'),\n"
		   "  link = try('link'), sub = try('sub.mod') }\n"
		   "package.path = '%s/?.lua'\n"
		   "r.helper = try('50-helper')\n"
		   "package.path = './?.lua;' .. default_path\n"
		   "r.cwd = try('cwdmod')\n"
		   "package.path = '%s/?.lua'\n"
		   "r.other = try('tmpmod')\n"
		   "r.missing = try('nosuch')\n"
		   "nlhook.emit(r)\n", rules_dir, other);
	fclose(f);

	saved_cwd = getcwd(NULL, 0);
	assert_int_equal(chdir(cwd_dir), 0);
	rs = load(RULES_CHECK_PERMS, NULL);
	assert_int_equal(chdir(saved_cwd), 0);
	free(saved_cwd);
	log = read_all(evlog_path);
	doc = emitted(log, "req");
	root = json_root(doc);
	snprintf(path, sizeof(path), "%s/?.lua", lib);
	assert_string_equal(json_get_str(root, "path"), path);
	assert_string_equal(json_get_str(root, "good"), "42 good");
	assert_non_null(strstr(json_get_str(root, "gw"), "module 'gw': "));
	assert_non_null(strstr(json_get_str(root, "gw"), "gw.lua: writable by group or others"));
	assert_non_null(strstr(json_get_str(root, "link"), "module 'link': "));
	assert_non_null(strstr(json_get_str(root, "link"), "other/tmpmod.lua is outside the rules and lib dirs"));
	assert_non_null(strstr(json_get_str(root, "cwd"), "module 'cwdmod': "));
	assert_non_null(strstr(json_get_str(root, "cwd"), "cwd/cwdmod.lua is outside the rules and lib dirs"));
	assert_non_null(strstr(json_get_str(root, "other"), "other/tmpmod.lua is outside the rules and lib dirs"));
	assert_non_null(strstr(json_get_str(root, "missing"), "module 'nosuch' not found"));
	assert_non_null(strstr(json_get_str(root, "missing"), "no file '"));
	assert_string_equal(json_get_str(root, "helper"), "a rule file as a module");
	assert_non_null(strstr(json_get_str(root, "sub"), "module 'sub.mod': "));
	assert_non_null(strstr(json_get_str(root, "sub"), "its directory is writable by group or others"));
	json_doc_free(doc);
	free(log);
	rules_set_free(rs);

	/* Two rules dirs: the later one's lib first, paths absolute and normalised. */
	{
		char a[200], b[200], want[512], *dirs[2] = { a, b };
		struct reports rep = {};

		snprintf(a, sizeof(a), "%s/a/rules.d", tmp);
		snprintf(b, sizeof(b), "%s//b/./x/../rules.d/", tmp);
		assert_int_equal(mkdir(strcat(strcpy(want, tmp), "/a"), 0755), 0);
		assert_int_equal(mkdir(a, 0755), 0);
		write_file(a, "10-path.lua", "nlhook.emit({ name = 'paths', path = package.path })\n");
		assert_int_equal(truncate(evlog_path, 0), 0);
		assert_int_equal(rules_set_load(&rs, dirs, 2, 0, report_cb, &rep), 0);
		log = read_all(evlog_path);
		doc = emitted(log, "paths");
		snprintf(want, sizeof(want), "%s/b/lib/?.lua;%s/a/lib/?.lua", tmp, tmp);
		assert_string_equal(json_get_str(json_root(doc), "path"), want);
		json_doc_free(doc);
		free(log);
		rules_set_free(rs);
	}
}

/*
 * The event a handler gets: fields read like a table's, pairs in the field
 * table's order, keys the rule sets or removes, a payload that stays whole
 * in an event the rule keeps after the receive buffer is reused, emit of
 * an event (changed or not, nested or not) and of a rule's own payload in hex.
 */
static void test_event_object(void **state)
{
	struct rules_set *rs;
	struct nlh_event ev;
	uint8_t payload[] = { 0x45, 0x00, 0x00, 0x1c, 0xff };
	struct json_doc *doc;
	const struct json_value *root;
	char *log;

	write_file(rules_dir, "50-obj.lua",
		   "local kept\n"
		   "nlhook.on('nflog', { group = 7, src = function(v, ev) return v == ev.src and ev.type == 'nflog' end },\n"
		   "  function(ev)\n"
		   "    if kept then\n"
		   "      local keys = {}\n"
		   "      for k, v in pairs(kept) do keys[#keys + 1] = k .. '=' .. tostring(v):gsub('[^%w%.:]', '') end\n"
		   "      nlhook.emit({ name = 'kept', payload = kept.payload, src = kept.src, prefix = kept.prefix,\n"
		   "        keys = table.concat(keys, ' ') })\n"
		   "      return\n"
		   "    end\n"
		   "    kept = ev\n"
		   "    nlhook.emit({ name = 'read', ty = type(ev), mt = getmetatable(ev), group = ev.group,\n"
		   "      gtype = math.type(ev.group), dport = ev.dport, nope = ev.nope, time = ev.time, t = ev.type,\n"
		   "      plen = #ev.payload, src = ev.src })\n"
		   "    nlhook.emit(ev)\n"
		   "    nlhook.emit({ name = 'nested', ev = ev })\n"
		   "    ev.extra = 'x'\n"
		   "    ev.mark = nil\n"
		   "    ev.prefix = 'changed'\n"
		   "    ev.extra2 = 5\n"
		   "    ev.extra2 = nil\n"
		   "    nlhook.emit({ name = 'set', extra = ev.extra, mark = ev.mark, prefix = ev.prefix })\n"
		   "    nlhook.emit(ev)\n"
		   "  end)\n");
	rs = load(0, NULL);
	nlh_event_init(&ev, NLH_EV_NFLOG);
	ev.time = 1700000000.5;
	ev.nflog.group = 7;
	NLH_SET(&ev, NFLOG, group);
	nlh_strlcpy(ev.nflog.prefix, "DROP ", sizeof(ev.nflog.prefix));
	NLH_SET(&ev, NFLOG, prefix);
	assert_int_equal(nlh_addr_parse("10.0.0.2", &ev.nflog.src), 0);
	NLH_SET(&ev, NFLOG, src);
	ev.nflog.mark = 3;
	NLH_SET(&ev, NFLOG, mark);
	ev.nflog.payload.p = payload;
	ev.nflog.payload.len = sizeof(payload);
	NLH_SET(&ev, NFLOG, payload);
	rules_set_dispatch(rs, &ev);
	/* The receive buffer is reused: the kept event has its own copy. */
	memset(payload, 0xaa, sizeof(payload));
	ev.nflog.src.a[3] = 9;
	rules_set_dispatch(rs, &ev);

	log = read_all(evlog_path);
	doc = emitted(log, "read");
	root = json_root(doc);
	assert_string_equal(json_get_str(root, "ty"), "userdata");
	assert_string_equal(json_get_str(root, "mt"), "nlhook event");
	assert_int_equal(json_get(root, "group")->num, 7);
	assert_string_equal(json_get_str(root, "gtype"), "integer");
	assert_null(json_get(root, "dport"));
	assert_null(json_get(root, "nope"));
	assert_string_equal(json_get_str(root, "t"), "nflog");
	assert_int_equal(json_get(root, "plen")->num, 5);
	assert_string_equal(json_get_str(root, "src"), "10.0.0.2");
	json_doc_free(doc);
	assert_non_null(strstr(log, "\n{\"type\":\"nflog\",\"time\":1700000000.500000,\"group\":7,\"prefix\":\"DROP \","
				    "\"src\":\"10.0.0.2\",\"mark\":3,\"payload\":\"4500001cff\"}\n"));
	assert_non_null(strstr(log, "\"ev\":{\"type\":\"nflog\",\"time\":1700000000.500000,\"group\":7,"));
	doc = emitted(log, "set");
	root = json_root(doc);
	assert_string_equal(json_get_str(root, "extra"), "x");
	assert_null(json_get(root, "mark"));
	assert_string_equal(json_get_str(root, "prefix"), "changed");
	json_doc_free(doc);
	/* Changed: in key order with the changes, then the rule's own keys. */
	assert_non_null(strstr(log, "\n{\"type\":\"nflog\",\"time\":1700000000.500000,\"group\":7,\"prefix\":\"changed\","
				    "\"src\":\"10.0.0.2\",\"payload\":\"4500001cff\",\"extra\":\"x\"}\n"));
	doc = emitted(log, "kept");
	root = json_root(doc);
	assert_string_equal(json_get_str(root, "payload"), "4500001cff");
	assert_string_equal(json_get_str(root, "src"), "10.0.0.2");
	assert_string_equal(json_get_str(root, "prefix"), "changed");
	assert_string_equal(json_get_str(root, "keys"),
			    "type=nflog time=1700000000.5 group=7 prefix=changed src=10.0.0.2 payload=E extra=x");
	json_doc_free(doc);
	free(log);
	rules_set_free(rs);
}

/*
 * The event table stays alive for the whole handler, even one that does not
 * take it: nlhook.emit knows it by its address, which a new table could
 * otherwise reuse.
 */
static void test_event_table_kept(void **state)
{
	struct rules_set *rs;
	struct nlh_event ev;
	char *log;

	write_file(rules_dir, "10-gc.lua",
		   "nlhook.on('link.up', {}, function()\n"
		   "  collectgarbage()\n"
		   "  local keep = {}\n"
		   "  for i = 1, 500 do keep[i] = { mine = i } end\n"
		   "  for i = 1, 500 do nlhook.emit(keep[i]) end\n"
		   "end)\n");
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_int_equal(count_lines(log), 500);
	assert_null(strstr(log, "\"type\""));
	free(log);
	rules_set_free(rs);
}

/* nlhook.mqtt.publish hands its messages to the daemon's publisher: here, a list. */
struct published {
	char topic[8][128];
	char payload[8][1024];
	int qos[8];
	bool retain[8];
	int n;
};

static void publish_collect(const char *topic, const void *payload, size_t len, int qos, bool retain, void *data)
{
	struct published *p = data;

	if (p->n >= 8)
		return;
	snprintf(p->topic[p->n], sizeof(p->topic[0]), "%s", topic);
	snprintf(p->payload[p->n], sizeof(p->payload[0]), "%.*s", (int)len, (const char *)payload);
	p->qos[p->n] = qos;
	p->retain[p->n] = retain;
	p->n++;
}

static void test_mqtt_publish(void **state)
{
	struct published pub = {};
	struct sbuf b = {};
	struct rules_set *rs;
	struct nlh_event ev;
	char json[4096], *log, *want, host[256];

	write_file(rules_dir, "10-mqtt.lua",
		   "local p = nlhook.mqtt.prefix\n"
		   "nlhook.on('link.up', {}, function(ev)\n"
		   "  nlhook.emit({ r1 = nlhook.mqtt.publish(p .. '/raw', ev) })\n"
		   "  nlhook.mqtt.publish(p .. '/presence/' .. ev.ifname, 'home', { retain = true })\n"
		   "  nlhook.mqtt.publish(p .. '/t', { mtu = ev.mtu }, { qos = 0, retain = false })\n"
		   "  nlhook.mqtt.publish(p .. '/n', 42)\n"
		   "  nlhook.mqtt.publish(p .. '/empty', '', { retain = true })\n"
		   "  for _, bad in ipairs({ { p .. '/+/x', 'x' }, { '', 'x' }, { p .. '/x', 'x', { qos = 2 } },\n"
		   "      { p .. '/x', function() end }, { p .. '/x', 'x', { retained = true } },\n"
		   "      { p .. '/x', 'x', { retain = 1 } }, { p .. '/x', nil } }) do\n"
		   "    local ok, e = pcall(nlhook.mqtt.publish, table.unpack(bad, 1, 3))\n"
		   "    nlhook.emit({ bad = e })\n"
		   "  end\n"
		   "end, { name = 'pub' })\n");
	rules_set_mqtt("site/gw1", publish_collect, &pub);
	rs = load(0, NULL);
	link_up(&ev, "eth0", 1500);
	rules_set_dispatch(rs, &ev);
	assert_int_equal(pub.n, 5);
	/* An event table is the event's own JSON, as emit and monitor --json write it. */
	assert_string_equal(pub.topic[0], "site/gw1/raw");
	assert_true(nlh_event_json(&ev, json, sizeof(json)) > 0);
	assert_string_equal(pub.payload[0], json);
	assert_int_equal(pub.qos[0], 1);
	assert_false(pub.retain[0]);
	assert_string_equal(pub.topic[1], "site/gw1/presence/eth0");
	assert_string_equal(pub.payload[1], "home");
	assert_true(pub.retain[1]);
	assert_int_equal(pub.qos[1], 1);
	assert_string_equal(pub.payload[2], "{\"mtu\":1500}");
	assert_int_equal(pub.qos[2], 0);
	assert_string_equal(pub.payload[3], "42");
	assert_string_equal(pub.topic[4], "site/gw1/empty");
	assert_string_equal(pub.payload[4], "");
	log = read_all(evlog_path);
	assert_non_null(strstr(log, "{\"r1\":true}\n"));
	assert_non_null(strstr(log, "topic 'site/gw1/+/x': the wildcards"));
	assert_non_null(strstr(log, "topic '': a topic cannot be empty"));
	assert_non_null(strstr(log, "nlhook.mqtt.publish: qos must be 0 or 1"));
	assert_non_null(strstr(log, "the payload must be a string, a table, a number or a boolean, not function"));
	assert_non_null(strstr(log, "unknown option 'retained' (qos, retain)"));
	assert_non_null(strstr(log, "retain must be a boolean"));
	assert_non_null(strstr(log, "not nil"));
	free(log);
	rules_set_free(rs);

	/* A dry run says what it would publish. */
	rs = load(RULES_DRY_RUN, NULL);
	rules_set_dry_run(rs, dry_collect, &b);
	rules_set_dispatch(rs, &ev);
	assert_int_equal(pub.n, 5);
	assert_non_null(strstr(b.p, "mqtt pub: site/gw1/presence/eth0 \"home\" (qos 1, retained)\n"));
	assert_non_null(strstr(b.p, "mqtt pub: site/gw1/t {\"mtu\":1500} (qos 0)\n"));
	sbuf_free(&b);
	rules_set_free(rs);

	/* No broker: nil and why; the prefix is nlhook/HOSTNAME. */
	rules_set_mqtt(NULL, NULL, NULL);
	write_file(rules_dir, "10-mqtt.lua",
		   "nlhook.on('link.up', {}, function(ev)\n"
		   "  local ok, e = nlhook.mqtt.publish('x', 'y')\n"
		   "  nlhook.emit({ ok = ok == nil, e = e, prefix = nlhook.mqtt.prefix })\n"
		   "end)\n");
	assert_int_equal(truncate(evlog_path, 0), 0);
	rs = load(0, NULL);
	rules_set_dispatch(rs, &ev);
	log = read_all(evlog_path);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_true(asprintf(&want, "\"prefix\":\"nlhook/%s\"", host) > 0);
	/* The key order of a Lua table is not fixed: compare members. */
	assert_non_null(strstr(log, "\"ok\":true"));
	assert_non_null(strstr(log, "\"e\":\"no broker: nlhookd runs without --mqtt\""));
	if (!strpbrk(host, "/+#"))
		assert_non_null(strstr(log, want));
	free(want);
	free(log);
	rules_set_free(rs);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_resolve),
		T(test_load_errors),
		T(test_perms),
		T(test_sandbox),
		T(test_dispatch_fields),
		T(test_ssid_payload),
		T(test_signed_field),
		T(test_stations),
		T(test_presence_example),
		T(test_firewall_example),
		T(test_handler_event_scan),
		T(test_want),
		T(test_impossible_patterns),
		T(test_nflog_groups),
		T(test_negated_rules),
		T(test_emit_text),
		T(test_event_object),
		T(test_no_lua_for_unwanted),
		T(test_errors_isolated),
		T(test_budget),
		T(test_memory),
		T(test_dry_run),
		T(test_debounce_rate_after),
		T(test_status),
		T(test_rule_time),
		T(test_api_misuse),
		T(test_exec),
		T(test_pattern_budget),
		T(test_c_loops),
		T(test_io),
		T(test_print),
		T(test_require),
		T(test_event_table_kept),
		T(test_exec_absolute_only),
		T(test_exec_failures),
		T(test_exec_after_bounds),
		T(test_mqtt_publish),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
