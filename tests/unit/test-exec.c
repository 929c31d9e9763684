/* SPDX-License-Identifier: MIT */
/*
 * exec against real child processes and the real loop: what a rule's
 * action gets, and what happens to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/loop.h"
#include "exec/exec.h"

struct result {
	int status;
	char out[8192];
	size_t out_len;
	char err[1024];
	double at;
	bool done;
	bool destroyed;
	int *pending;		/* quit the loop when it reaches 0 */
};

static void done_cb(int status, const char *out, size_t out_len, const char *err, size_t err_len, void *data)
{
	struct result *r = data;

	r->status = status;
	r->out_len = out_len < sizeof(r->out) - 1 ? out_len : sizeof(r->out) - 1;
	memcpy(r->out, out, r->out_len);
	snprintf(r->err, sizeof(r->err), "%.*s", (int)err_len, err);
	r->at = loop_now();
	r->done = true;
	if (r->pending && --*r->pending == 0)
		loop_quit(0);
}

static void destroy_cb(void *data)
{
	((struct result *)data)->destroyed = true;
}

static void give_up(void *data)
{
	loop_quit(1);
}

/* Run the loop until `pending` jobs are done; fail after `secs`. */
static void run(int *pending, double secs)
{
	struct loop_timer *t = loop_timer_new(give_up, NULL);

	loop_timer_arm(t, secs);
	assert_int_equal(loop_run(), 0);
	loop_timer_free(t);
	(void)pending;
}

static int setup(void **state)
{
	return loop_init();
}

static int teardown(void **state)
{
	exec_shutdown();
	loop_exit();
	return 0;
}

static void push(struct exec_queue *q, char *const argv[], char *const env[], double timeout,
		 struct result *r, int *pending)
{
	struct exec_opts o = { .argv = argv, .env = env, .timeout = timeout };

	r->pending = pending;
	assert_int_equal(exec_queue_push(q, &o, done_cb, r, destroy_cb), 0);
}

static void test_output_and_status(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *argv[] = { "/bin/sh", "-c", "echo hello; echo oops >&2; exit 3", NULL };
	char *env[] = { NULL };
	struct result r = {};
	int pending = 1;

	push(q, argv, env, 0, &r, &pending);
	run(&pending, 5);
	assert_true(r.done && r.destroyed);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 3);
	assert_string_equal(r.out, "hello\n");
	assert_string_equal(r.err, "oops\n");
	exec_queue_free(q);
}

/* Exactly the environment given; fds 0-2 only; stdin is /dev/null; cwd / by default. */
static void test_env_fds_cwd(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *argv[] = { "/bin/sh", "-c", "env | sort; ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; "
			 "readlink /proc/self/fd/0; pwd", NULL };
	char *env[] = { "A=1", "NLHOOK_TYPE=link.up", NULL };
	int leak = open("/dev/null", O_RDONLY);	/* no CLOEXEC: must not reach the child */
	struct result r = {};
	int pending = 1;

	assert_true(leak > 2);
	push(q, argv, env, 0, &r, &pending);
	run(&pending, 5);
	close(leak);
	/* sh adds PWD; nothing else may appear. */
	assert_non_null(strstr(r.out, "A=1\nNLHOOK_TYPE=link.up\nPWD=/\n"));
	/* 0 1 2, and 3 for the directory ls itself opened */
	assert_non_null(strstr(r.out, "\n0 1 2 3 \n"));
	assert_non_null(strstr(r.out, "/dev/null\n/\n"));
	exec_queue_free(q);
}

static void test_missing_program(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *argv[] = { "/nonexistent/nlhook-action", NULL };
	char *env[] = { "PATH=/bin", NULL };
	struct result r = {};
	int pending = 1;

	push(q, argv, env, 0, &r, &pending);
	/* Reported from the loop, never from inside push. */
	assert_false(r.done);
	run(&pending, 5);
	assert_int_equal(r.status, -ENOENT);
	/* The owner is told what was logged. */
	assert_string_equal(r.err, "cannot run /nonexistent/nlhook-action: No such file or directory");
	exec_queue_free(q);
}

/* There, but without an execute bit: EACCES, even for root. */
static void test_not_executable(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char path[] = "/tmp/nlh-test-exec-XXXXXX", msg[128];
	char *argv[] = { path, NULL };
	char *env[] = { NULL };
	struct result r = {};
	int pending = 1, fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	push(q, argv, env, 0, &r, &pending);
	run(&pending, 5);
	unlink(path);
	assert_int_equal(r.status, -EACCES);
	snprintf(msg, sizeof(msg), "cannot run %s: Permission denied", path);
	assert_string_equal(r.err, msg);
	assert_true(r.destroyed);
	exec_queue_free(q);
}

/* No PATH lookup: a program named without its absolute path is refused at the push. */
static void test_relative_path_refused(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *bare[] = { "true", NULL }, *dotted[] = { "./bin/true", NULL };
	char *env[] = { "PATH=/bin:/usr/bin", NULL };
	struct exec_opts o = { .argv = bare, .env = env };
	struct result r = {};

	assert_int_equal(exec_queue_push(q, &o, done_cb, &r, destroy_cb), -EINVAL);
	o.argv = dotted;
	assert_int_equal(exec_queue_push(q, &o, done_cb, &r, destroy_cb), -EINVAL);
	/* Not taken: neither told nor destroyed. */
	assert_false(r.done || r.destroyed);
	assert_int_equal(exec_queue_running(q) + exec_queue_pending(q), 0);
	exec_queue_free(q);
}

static bool dead(const char *stat_path)
{
	char buf[256], *p;
	FILE *f = fopen(stat_path, "r");
	size_t n;

	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* A hung script and the sleeping grandchild it forked die with the group. */
static void test_timeout_kills_group(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *argv[] = { "/bin/sh", "-c", "sleep 100 & echo $!; wait", NULL };
	char *env[] = { NULL };
	struct result r = {};
	int pending = 1;
	double t0 = loop_now();
	pid_t grandchild;
	char path[64];

	push(q, argv, env, 0.3, &r, &pending);
	run(&pending, 5);
	assert_true(loop_now() - t0 < 2.0);
	assert_true(WIFSIGNALED(r.status));
	assert_int_equal(WTERMSIG(r.status), SIGTERM);
	grandchild = atoi(r.out);
	assert_true(grandchild > 0);
	snprintf(path, sizeof(path), "/proc/%d/stat", grandchild);
	/* Dead: gone, or a zombie waiting for init (it is not our child). */
	for (int i = 0; i < 100 && !dead(path); i++)
		usleep(10000);
	assert_true(dead(path));
	exec_queue_free(q);
}

/* One queue: one at a time, in order.  Two queues: side by side. */
static void test_queue_order_and_parallel(void **state)
{
	struct exec_queue *a = exec_queue_new("a"), *b = exec_queue_new("b");
	char *slow[] = { "/bin/sh", "-c", "sleep 0.3; echo first", NULL };
	char *fast[] = { "/bin/echo", "second", NULL };
	char *env[] = { NULL };
	struct result r1 = {}, r2 = {}, r3 = {};
	int pending = 3;
	double t0 = loop_now();

	push(a, slow, env, 0, &r1, &pending);
	push(a, fast, env, 0, &r2, &pending);
	assert_int_equal(exec_queue_running(a), 1);
	assert_int_equal(exec_queue_pending(a), 1);
	push(b, fast, env, 0, &r3, &pending);
	run(&pending, 5);
	assert_string_equal(r1.out, "first\n");
	assert_string_equal(r2.out, "second\n");
	assert_true(r2.at >= r1.at);		/* waited for the slow one */
	assert_true(r3.at - t0 < 0.25);		/* the other queue did not */
	exec_queue_free(a);
	exec_queue_free(b);
}

static void test_output_cap(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *argv[] = { "/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x", NULL };
	char *env[] = { NULL };
	struct exec_opts o = { .argv = argv, .env = env, .output_max = 1000 };
	struct result r = {};
	int pending = 1;

	r.pending = &pending;
	assert_int_equal(exec_queue_push(q, &o, done_cb, &r, destroy_cb), 0);
	run(&pending, 5);
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status))
		fail_msg("status %#x, stderr '%s'", r.status, r.err);
	assert_int_equal(r.out_len, 1000);
	exec_queue_free(q);
}

static void quit_cb(void *data)
{
	loop_quit(0);
}

/*
 * Freeing a queue (a reload) while its child runs: nobody is told, the
 * owner's data is released at once, and the child is still reaped.
 */
static void test_free_while_running(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *argv[] = { "/bin/sh", "-c", "sleep 0.2", NULL };
	char *env[] = { NULL };
	struct result r = {};
	struct loop_timer *t = loop_timer_new(quit_cb, NULL);
	int pending = 1;

	push(q, argv, env, 0, &r, &pending);
	assert_int_equal(exec_running_total(), 1);
	exec_queue_free(q);
	assert_true(r.destroyed);
	loop_timer_arm(t, 0.6);
	assert_int_equal(loop_run(), 0);
	assert_false(r.done);
	assert_int_equal(exec_running_total(), 0);
	/* reaped: no child of ours is left, zombie or not */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	loop_timer_free(t);
}

/* The pids a script wrote to `path` ("SH SLEEP"), once it has. */
static void wait_pids(const char *path, pid_t *sh, pid_t *child)
{
	struct loop_timer *t = loop_timer_new(quit_cb, NULL);
	FILE *f = NULL;

	for (int i = 0; i < 250 && !f; i++) {
		loop_timer_arm(t, 0.02);
		loop_run();
		f = fopen(path, "r");
		if (f && fscanf(f, "%d %d", sh, child) != 2) {
			fclose(f);
			f = NULL;
		}
	}
	loop_timer_free(t);
	assert_non_null(f);
	fclose(f);
	unlink(path);
}

static bool pid_dead(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return dead(path);
}

/*
 * At exit, a script that ignores SIGTERM, and the grandchild it started
 * (ignoring it too), are killed after the grace period, not left behind;
 * children that heed SIGTERM do not make the exit wait.
 */
static void test_shutdown(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *stubborn[] = { "/bin/sh", "-c", "trap '' TERM; sleep 100 & echo $$ $! > /tmp/nlh-test-exec.pids; wait",
			     NULL };
	char *meek[] = { "/bin/sh", "-c", "sleep 100 & echo $$ $! > /tmp/nlh-test-exec.pids; wait", NULL };
	char *env[] = { NULL };
	struct result r = {};
	pid_t sh, child;
	double t0;

	push(q, stubborn, env, 0, &r, NULL);
	wait_pids("/tmp/nlh-test-exec.pids", &sh, &child);
	t0 = loop_now();
	exec_shutdown();
	assert_true(loop_now() - t0 >= 1.9);
	assert_true(loop_now() - t0 < 2.5);
	assert_true(pid_dead(sh));
	for (int i = 0; i < 100 && !pid_dead(child); i++)
		usleep(10000);
	assert_true(pid_dead(child));
	assert_false(r.done);
	assert_true(r.destroyed);
	assert_int_equal(exec_running_total(), 0);
	assert_int_equal(exec_queue_running(q), 0);

	memset(&r, 0, sizeof(r));
	push(q, meek, env, 0, &r, NULL);
	wait_pids("/tmp/nlh-test-exec.pids", &sh, &child);
	t0 = loop_now();
	exec_shutdown();
	assert_true(loop_now() - t0 < 0.5);
	assert_true(pid_dead(sh) && pid_dead(child));
	exec_queue_free(q);
}

/* A queue holds EXEC_PENDING_MAX jobs behind its running one; a push over that takes nothing. */
static void test_queue_bound(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *slow[] = { "/bin/sh", "-c", "sleep 0.2", NULL };
	char *fast[] = { "/bin/true", NULL };
	char *env[] = { NULL };
	struct exec_opts o = { .argv = fast, .env = env };
	static struct result r[EXEC_PENDING_MAX + 2];
	int pending = EXEC_PENDING_MAX + 1;

	memset(r, 0, sizeof(r));
	push(q, slow, env, 0, &r[0], &pending);
	for (int i = 1; i <= EXEC_PENDING_MAX; i++)
		push(q, fast, env, 0, &r[i], &pending);
	assert_int_equal(exec_queue_pending(q), EXEC_PENDING_MAX);
	assert_int_equal(exec_queue_push(q, &o, done_cb, &r[EXEC_PENDING_MAX + 1], destroy_cb), -ENOBUFS);
	assert_false(r[EXEC_PENDING_MAX + 1].destroyed);
	assert_int_equal(exec_queue_pending(q), EXEC_PENDING_MAX);
	/* Those taken all run, in order. */
	run(&pending, 10);
	for (int i = 1; i <= EXEC_PENDING_MAX; i++) {
		assert_true(r[i].done && r[i].status == 0);
		assert_true(r[i].at >= r[i - 1].at);
	}
	assert_int_equal(exec_queue_pending(q), 0);
	/* Room again. */
	assert_int_equal(exec_queue_push(q, &o, done_cb, &r[EXEC_PENDING_MAX + 1], destroy_cb), 0);
	exec_queue_free(q);
	assert_true(r[EXEC_PENDING_MAX + 1].destroyed);
}

/* Descriptors taken until none is left, given back by free_fds (from a loop timer). */
static int hogs[8192];
static int n_hogs;

static void hog_fds(void)
{
	int base = open("/dev/null", O_RDONLY | O_CLOEXEC), fd;

	assert_true(base >= 0);
	hogs[n_hogs++] = base;
	while (n_hogs < 8192 && (fd = dup(base)) >= 0)
		hogs[n_hogs++] = fd;
	assert_int_equal(errno, EMFILE);
}

static void free_fds(void *data)
{
	while (n_hogs)
		close(hogs[--n_hogs]);
}

/* stderr into a file while the test runs: what exec logs. */
static int stderr_to(const char *path)
{
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(saved >= 0 && fd >= 0);
	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	return saved;
}

static size_t stderr_back(int saved, const char *path, const char *needle)
{
	char buf[8192], *p = buf;
	size_t n = 0;
	FILE *f;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(path, "r");
	assert_non_null(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
	fclose(f);
	unlink(path);
	while ((p = strstr(p, needle))) {
		n++;
		p++;
	}
	return n;
}

static void set_nofile(rlim_t n, struct rlimit *old)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, old), 0);
	rl = *old;
	rl.rlim_cur = n;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/*
 * Out of descriptors when the job comes: it waits (the loop runs on) and
 * starts once they are back, with its real exit status; the rule's next
 * job still runs after it.  Logged once, not per retry.
 */
static void test_retry_out_of_fds(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *argv[] = { "/bin/sh", "-c", "echo ran; exit 7", NULL };
	char *argv2[] = { "/bin/echo", "second", NULL };
	char *env[] = { NULL };
	struct loop_timer *give_back = loop_timer_new(free_fds, NULL);
	struct result r = {}, r2 = {};
	struct rlimit old;
	double t0 = loop_now();
	int pending = 2, saved;

	saved = stderr_to("/tmp/nlh-test-exec.log");
	set_nofile(256, &old);
	hog_fds();
	push(q, argv, env, 5, &r, &pending);
	push(q, argv2, env, 5, &r2, &pending);
	assert_int_equal(exec_running_total(), 0);
	assert_int_equal(exec_queue_running(q), 1);
	loop_timer_arm(give_back, 0.1);
	run(&pending, 5);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(stderr_back(saved, "/tmp/nlh-test-exec.log", "retrying for up to 5 s"), 1);
	assert_true(r.done && r2.done);
	assert_true(r.at - t0 >= 0.1);
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 7)
		fail_msg("status %d, stderr '%s'", r.status, r.err);
	assert_string_equal(r.out, "ran\n");
	assert_string_equal(r2.out, "second\n");
	assert_true(r2.at >= r.at);
	loop_timer_free(give_back);
	exec_queue_free(q);
}

/* Descriptors that never come back: after the retry time (here the job's timeout), EMFILE is reported. */
static void test_retry_gives_up(void **state)
{
	struct exec_queue *q = exec_queue_new("t");
	char *argv[] = { "/bin/true", NULL };
	char *env[] = { NULL };
	struct result r = {};
	struct rlimit old;
	double t0 = loop_now();
	int pending = 1, saved;

	saved = stderr_to("/tmp/nlh-test-exec.log");
	set_nofile(256, &old);
	hog_fds();
	push(q, argv, env, 0.3, &r, &pending);
	run(&pending, 5);
	free_fds(NULL);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(stderr_back(saved, "/tmp/nlh-test-exec.log", "rule t: cannot run /bin/true"), 2);
	assert_true(r.done && r.destroyed);
	assert_int_equal(r.status, -EMFILE);
	assert_string_equal(r.err, "cannot run /bin/true: Too many open files");
	assert_true(loop_now() - t0 >= 0.3);
	assert_true(loop_now() - t0 < 1.5);
	exec_queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_output_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_fds_cwd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_program, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_path_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_executable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_order_and_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_while_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_out_of_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_gives_up, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
