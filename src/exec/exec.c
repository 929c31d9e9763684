/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/nlsock.h"
#include "exec.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define KILL_GRACE 2.0		/* seconds between SIGTERM and SIGKILL */
#define OUTPUT_MAX_DEFAULT (64 * 1024)
/* Out of descriptors, processes or memory: retried this long (or the job's timeout if shorter)... */
#define RETRY_MAX 5.0
/* ... every 10 ms at first, twice as long each time, up to 250 ms. */
#define RETRY_FIRST 0.01
#define RETRY_STEP_MAX 0.25

struct stream {
	int fd;
	char *buf;
	size_t len;
	size_t cut;		/* bytes read past the cap and dropped */
};

struct job {
	struct exec_queue *q;	/* NULL once the queue is gone */
	char **argv;
	char **env;
	char *cwd;
	int netns_fd;		/* -1: the daemon's namespace */
	double timeout;
	size_t output_max;
	exec_done_fn done;
	void *data;
	void (*destroy)(void *data);

	pid_t pid;
	int pidfd;
	struct stream out, err;
	struct loop_timer *timer;
	bool term_sent;
	bool reaped;		/* at shutdown: the leader waited for */
	int spawn_error;	/* reported from a timer, never from inside push */
	bool retrying;		/* the start failed for want of resources, the timer retries */
	bool unwatched;		/* started, but could not be watched and was killed: never run it twice */
	double retry_since;
	double retry_delay;
	struct job *next;	/* queue order, or the running list */
};

struct exec_queue {
	char *name;
	struct job *head, *tail;	/* pending */
	unsigned int n_pending;
	struct job *running;
};

static struct job *running;	/* every job with a live child, queue or not */
static unsigned int n_running;

static char **strv_dup(char *const *v)
{
	size_t n = 0, bytes = 0;
	char **r, *p;

	if (!v)
		return calloc(1, sizeof(char *));
	for (; v[n]; n++)
		bytes += strlen(v[n]) + 1;
	r = malloc((n + 1) * sizeof(char *) + bytes);
	if (!r)
		return NULL;
	p = (char *)(r + n + 1);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]) + 1;

		r[i] = memcpy(p, v[i], l);
		p += l;
	}
	r[n] = NULL;
	return r;
}

static void job_free(struct job *j)
{
	if (j->destroy)
		j->destroy(j->data);
	loop_timer_free(j->timer);
	free(j->argv);
	free(j->env);
	free(j->cwd);
	if (j->netns_fd >= 0)
		close(j->netns_fd);
	free(j->out.buf);
	free(j->err.buf);
	free(j);
}

static const char *queue_name(const struct job *j)
{
	return j->q ? j->q->name : "(unloaded rule)";
}

static void stream_read(struct job *j, struct stream *s)
{
	char buf[4096];

	while (s->fd >= 0) {
		ssize_t n = read(s->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			loop_del_fd(s->fd);
			close(s->fd);
			s->fd = -1;
			return;
		}
		if (s->len < j->output_max) {
			size_t take = (size_t)n < j->output_max - s->len ? (size_t)n : j->output_max - s->len;

			memcpy(s->buf + s->len, buf, take);
			s->len += take;
			s->cut += n - take;
		} else {
			s->cut += n;
		}
	}
}

static void stream_cb(int fd, uint32_t events, void *data)
{
	struct job *j = data;

	stream_read(j, j->out.fd == fd ? &j->out : &j->err);
}

static void stream_close(struct stream *s)
{
	if (s->fd < 0)
		return;
	loop_del_fd(s->fd);
	close(s->fd);
	s->fd = -1;
}

/* Captured output to the log, a line each, prefixed with the rule. */
static void stream_log(const struct job *j, const struct stream *s, const char *what)
{
	size_t i = 0;

	while (i < s->len) {
		const char *nl = memchr(s->buf + i, '\n', s->len - i);
		size_t n = nl ? (size_t)(nl - (s->buf + i)) : s->len - i;

		log_info("rule %s: %s: %.*s", queue_name(j), what, (int)n, s->buf + i);
		i += n + 1;
	}
	if (s->cut)
		log_info("rule %s: %s: %zu more bytes not kept", queue_name(j), what, s->cut);
}

static void queue_next(struct exec_queue *q);

static void running_remove(struct job *j)
{
	for (struct job **pp = &running; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			n_running--;
			return;
		}
	}
}

/* err: what the owner is told the program wrote on stderr. */
static void job_finish(struct job *j, int status, const char *err, size_t err_len)
{
	struct exec_queue *q = j->q;

	if (j->done)
		j->done(status, j->out.buf ? j->out.buf : "", j->out.len, err, err_len, j->data);
	if (q) {
		q->running = NULL;
		j->q = NULL;
	}
	job_free(j);
	if (q)
		queue_next(q);
}

static void job_exited(struct job *j, int status)
{
	loop_timer_cancel(j->timer);
	/* What the child wrote before it exited; grandchildren may hold the pipes. */
	stream_read(j, &j->out);
	stream_read(j, &j->err);
	stream_close(&j->out);
	stream_close(&j->err);
	/* A timed-out job takes its whole group with it, grandchildren too. */
	if (j->term_sent)
		kill(-j->pid, SIGKILL);
	if (WIFSIGNALED(status))
		log_info("rule %s: %s killed by signal %d%s", queue_name(j), j->argv[0], WTERMSIG(status),
			 j->term_sent ? " (timeout)" : "");
	else if (WEXITSTATUS(status))
		log_info("rule %s: %s exited with status %d", queue_name(j), j->argv[0], WEXITSTATUS(status));
	if (j->out.buf)
		stream_log(j, &j->out, "stdout");
	if (j->err.buf)
		stream_log(j, &j->err, "stderr");
	running_remove(j);
	job_finish(j, status, j->err.buf ? j->err.buf : "", j->err.len);
}

const char *exec_interpreter(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	if (!strchr(path, '/') || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0)
		return NULL;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 3 || buf[0] != '#' || buf[1] != '!')
		return NULL;
	buf[n] = '\0';
	buf += 2 + strspn(buf + 2, " \t");
	buf[strcspn(buf, " \t\n")] = '\0';
	return *buf ? buf : NULL;
}

/* The program did not start: logged here, whoever owns the job, and the owner is told why. */
static void job_failed(struct job *j, int err)
{
	char msg[512], line[256];
	const char *interp;

	if (err == -ENOENT && (interp = exec_interpreter(j->argv[0], line, sizeof(line))))
		snprintf(msg, sizeof(msg), "cannot run %s: its interpreter %s: %s", j->argv[0], interp,
			 strerror(-err));
	else
		snprintf(msg, sizeof(msg), "cannot run %s: %s", j->argv[0], strerror(-err));
	log_err("rule %s: %s", queue_name(j), msg);
	job_finish(j, err, msg, strlen(msg));
}

static void child_exit_cb(int fd, uint32_t events, void *data)
{
	struct job *j = data;
	siginfo_t si = {};
	int status;

	if (waitid(P_PIDFD, j->pidfd, &si, WEXITED | WNOHANG) < 0 || !si.si_pid)
		return;
	loop_del_fd(j->pidfd);
	close(j->pidfd);
	j->pidfd = -1;
	switch (si.si_code) {
	case CLD_EXITED:
		status = W_EXITCODE(si.si_status, 0);
		break;
	case CLD_DUMPED:
		status = si.si_status | 0x80;
		break;
	default:
		status = si.si_status & 0x7f;
		break;
	}
	job_exited(j, status);
}

/*
 * Without pidfds (kernels before 5.3, valgrind) children are reaped on
 * SIGCHLD through a signalfd, by pid: never waitpid(-1), which could take
 * a child that is not ours.
 */
static int sigchld_fd = -1;

static void sigchld_cb(int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si))
		;
	for (struct job *j = running, *next; j; j = next) {
		int status;

		next = j->next;
		if (j->pidfd < 0 && waitpid(j->pid, &status, WNOHANG) == j->pid) {
			job_exited(j, status);
			/* the list may have changed under us: start over */
			next = running;
		}
	}
}

/* reserve: a descriptor held for the pidfd, closed here. */
static int watch_child(struct job *j, int reserve)
{
	sigset_t mask;
	int r;

	close(reserve);
	j->pidfd = syscall(SYS_pidfd_open, j->pid, 0);
	if (j->pidfd >= 0) {
		fcntl(j->pidfd, F_SETFD, FD_CLOEXEC);
		r = loop_add_fd(j->pidfd, EPOLLIN, child_exit_cb, j);
		if (r < 0) {
			close(j->pidfd);
			j->pidfd = -1;
		}
		return r;
	}
	if (errno != ENOSYS)
		return -errno;
	if (sigchld_fd < 0) {
		sigemptyset(&mask);
		sigaddset(&mask, SIGCHLD);
		sigprocmask(SIG_BLOCK, &mask, NULL);
		sigchld_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
		if (sigchld_fd < 0)
			return -errno;
		r = loop_add_fd(sigchld_fd, EPOLLIN, sigchld_cb, NULL);
		if (r < 0) {
			close(sigchld_fd);
			sigchld_fd = -1;
			return r;
		}
		log_debug("exec: no pidfd_open, reaping on SIGCHLD");
		/*
		 * This first child may have exited before SIGCHLD was blocked:
		 * its signal went to nobody.  One of our own makes the loop look.
		 */
		kill(getpid(), SIGCHLD);
	}
	return 0;
}

static void job_start(struct job *j);

static void timeout_cb(void *data)
{
	struct job *j = data;

	if (j->spawn_error) {
		job_failed(j, j->spawn_error);
		return;
	}
	if (j->retrying) {
		job_start(j);
		return;
	}
	if (!j->term_sent) {
		log_warn("rule %s: %s timed out after %g s, terminating its process group",
			 queue_name(j), j->argv[0], j->timeout);
		j->term_sent = true;
		kill(-j->pid, SIGTERM);
		loop_timer_arm(j->timer, KILL_GRACE);
	} else {
		kill(-j->pid, SIGKILL);
	}
}

/*
 * A program for another namespace is spawned from it: the daemon enters
 * it, spawns (the child keeps the namespace) and comes back at once; its
 * sockets stay where they were made.
 */
static int spawn_in(struct job *j, pid_t *pid, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr)
{
	int home, r;

	if (j->netns_fd < 0)
		return -posix_spawn(pid, j->argv[0], fa, attr, j->argv, j->env);
	home = nlsock_own_netns();
	if (home < 0 || setns(j->netns_fd, CLONE_NEWNET) < 0)
		return -errno;
	r = -posix_spawn(pid, j->argv[0], fa, attr, j->argv, j->env);
	if (setns(home, CLONE_NEWNET) < 0) {
		log_err("cannot return to the daemon's network namespace: %m");
		abort();
	}
	return r;
}

static int spawn(struct job *j)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, reserve = -1, r;
	sigset_t none, all;
	pid_t pid;

	/* Everything that can run out is taken before the child starts: after, the only way back is to kill it. */
	if (!j->out.buf)
		j->out.buf = malloc(j->output_max);
	if (!j->err.buf)
		j->err.buf = malloc(j->output_max);
	if (!j->out.buf || !j->err.buf)
		return -ENOMEM;
	/*
	 * O_NONBLOCK on our read ends only: it is a flag of the open file, so
	 * pipe2(O_NONBLOCK) would hand the child a non-blocking stdout and
	 * its writes would fail with EAGAIN whenever we fall behind.
	 */
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0 ||
	    (reserve = fcntl(out[0], F_DUPFD_CLOEXEC, 0)) < 0) {
		r = -errno;
		goto fail_pipes;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	/* The daemon blocks signals for its signalfd: the child must not inherit that. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawn_file_actions_addchdir_np(&fa, j->cwd ? j->cwd : "/");
	/* Everything is CLOEXEC already; this also covers fds a library leaked. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	r = spawn_in(j, &pid, &fa, &attr);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(out[1]);
	close(err[1]);
	out[1] = err[1] = -1;
	if (r < 0)
		goto fail_pipes;

	j->pid = pid;
	j->out.fd = out[0];
	j->err.fd = err[0];
	r = watch_child(j, reserve);
	if (r < 0) {
		/* Cannot watch it: do not leave it running unwatched. */
		kill(-j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		j->pid = 0;
		j->unwatched = true;
		stream_close(&j->out);
		stream_close(&j->err);
		return r;
	}
	loop_add_fd(j->out.fd, EPOLLIN, stream_cb, j);
	loop_add_fd(j->err.fd, EPOLLIN, stream_cb, j);
	if (j->timeout > 0)
		loop_timer_arm(j->timer, j->timeout);
	j->next = running;
	running = j;
	n_running++;
	log_debug("rule %s: started %s, pid %d", queue_name(j), j->argv[0], j->pid);
	return 0;

fail_pipes:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	if (reserve >= 0)
		close(reserve);
	return r;
}

/* Out of descriptors, processes or memory: what other parts of the system give back soon. */
static bool transient(int r)
{
	return r == -EMFILE || r == -ENFILE || r == -EAGAIN || r == -ENOMEM;
}

/*
 * Starts the queue's running job, or retries it from the timer (the job
 * keeps its place: the rule's later jobs wait behind it, in order).
 */
static void job_start(struct job *j)
{
	double now = loop_now(), limit = j->timeout > 0 && j->timeout < RETRY_MAX ? j->timeout : RETRY_MAX;
	int r = spawn(j);

	if (r == 0) {
		if (j->retrying)
			log_info("rule %s: %s started after %.2f s of retries", queue_name(j), j->argv[0],
				 now - j->retry_since);
		j->retrying = false;
		return;
	}
	if (transient(r) && !j->unwatched && (!j->retrying || now - j->retry_since < limit)) {
		if (!j->retrying) {
			log_warn("rule %s: cannot run %s yet: %s; retrying for up to %g s", queue_name(j),
				 j->argv[0], strerror(-r), limit);
			j->retrying = true;
			j->retry_since = now;
			j->retry_delay = RETRY_FIRST;
		} else {
			j->retry_delay = j->retry_delay * 2 < RETRY_STEP_MAX ? j->retry_delay * 2 : RETRY_STEP_MAX;
		}
		loop_timer_arm(j->timer, j->retry_delay);
		return;
	}
	j->retrying = false;
	/* Tell the owner from the loop, not from inside its own call. */
	j->spawn_error = r;
	loop_timer_arm(j->timer, 0);
}

static void queue_next(struct exec_queue *q)
{
	struct job *j = q->head;

	if (q->running || !j)
		return;
	q->n_pending--;
	q->head = j->next;
	if (!q->head)
		q->tail = NULL;
	j->next = NULL;
	q->running = j;
	job_start(j);
}

struct exec_queue *exec_queue_new(const char *name)
{
	struct exec_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->name = strdup(name ? name : "?");
	if (!q->name) {
		free(q);
		return NULL;
	}
	return q;
}

void exec_queue_free(struct exec_queue *q)
{
	if (!q)
		return;
	while (q->head) {
		struct job *j = q->head;

		q->head = j->next;
		j->q = NULL;
		j->done = NULL;
		job_free(j);
	}
	if (q->running) {
		struct job *j = q->running;

		/* Its child goes on, is reaped and timed out; nobody is told. */
		j->q = NULL;
		j->done = NULL;
		if (j->destroy)
			j->destroy(j->data);
		j->destroy = NULL;
		/* Not started (failed, or waiting to retry): nothing runs, nothing is left. */
		if (!j->pid)
			job_free(j);
	}
	free(q->name);
	free(q);
}

int exec_queue_push(struct exec_queue *q, const struct exec_opts *o,
		    exec_done_fn done, void *data, void (*destroy)(void *data))
{
	struct job *j;

	/* No PATH lookup: what runs is what the rule names. */
	if (!o->argv || !o->argv[0] || o->argv[0][0] != '/')
		return -EINVAL;
	if (q->n_pending >= EXEC_PENDING_MAX)
		return -ENOBUFS;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->q = q;
	j->argv = strv_dup(o->argv);
	j->env = strv_dup(o->env);
	j->cwd = o->cwd ? strdup(o->cwd) : NULL;
	/* Its own copy: the namespace may be gone from the daemon's list by the time the job runs. */
	j->netns_fd = o->in_netns ? fcntl(o->netns_fd, F_DUPFD_CLOEXEC, 3) : -1;
	j->timeout = o->timeout;
	j->output_max = o->output_max ? o->output_max : OUTPUT_MAX_DEFAULT;
	j->pidfd = j->out.fd = j->err.fd = -1;
	j->timer = loop_timer_new(timeout_cb, j);
	if (!j->argv || !j->env || (o->cwd && !j->cwd) || !j->timer || (o->in_netns && j->netns_fd < 0)) {
		job_free(j);
		return -ENOMEM;
	}
	/* Owned from here on: destroy runs whatever happens. */
	j->done = done;
	j->data = data;
	j->destroy = destroy;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->n_pending++;
	queue_next(q);
	return 0;
}

unsigned int exec_queue_running(const struct exec_queue *q)
{
	return q && q->running ? 1 : 0;
}

unsigned int exec_queue_pending(const struct exec_queue *q)
{
	return q ? q->n_pending : 0;
}

unsigned int exec_running_total(void)
{
	return n_running;
}

/*
 * A member of the group that is not a zombie.  kill(-pgid, 0) counts
 * zombies too, and an orphaned grandchild stays one until init gets to
 * it: without /proc, every member counts.
 */
static bool group_has_live(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	bool live = false;

	if (!d)
		return true;
	while (!live && (de = readdir(d))) {
		char path[300], buf[512], *p, state;
		int fd, pgrp;
		ssize_t n;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "pid (comm) state ppid pgrp ...": comm may hold anything, the last ')' ends it. */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %c %*d %d", &state, &pgrp) == 2)
			live = pgrp == pgid && state != 'Z' && state != 'X';
	}
	closedir(d);
	return live;
}

/*
 * Whether anything is left of the job's process group, reaping its leader
 * on the way.  The leader's pid names the group and is not handed out
 * again while any member lives, so kill(-pid, 0) asks after the rest.
 */
static bool group_alive(struct job *j)
{
	if (!j->reaped) {
		pid_t r = waitpid(j->pid, NULL, WNOHANG);

		if (r == j->pid || (r < 0 && errno == ECHILD))
			j->reaped = true;
	}
	if (!j->reaped)
		return true;
	if (kill(-j->pid, 0) < 0 && errno == ESRCH)
		return false;
	return group_has_live(j->pid);
}

/* Until no group in the list is alive or `until` (monotonic) passes; how many are left. */
static unsigned int groups_wait(double until)
{
	unsigned int left;

	/*
	 * Polling, at 10 ms: the loop is over, the daemon exits after this,
	 * and a grandchild left alone in its group has no descriptor to wait on.
	 */
	for (;;) {
		left = 0;
		for (struct job *j = running; j; j = j->next)
			left += group_alive(j);
		if (!left || loop_now() >= until)
			return left;
		usleep(10000);
	}
}

void exec_shutdown(void)
{
	unsigned int left;

	if (!running)
		return;
	log_info("stopping %u running program%s: SIGTERM to their process groups", n_running,
		 n_running == 1 ? "" : "s");
	for (struct job *j = running; j; j = j->next)
		kill(-j->pid, SIGTERM);
	left = groups_wait(loop_now() + KILL_GRACE);
	if (left) {
		log_warn("%u process group%s still alive %g s after SIGTERM, sending SIGKILL", left,
			 left == 1 ? "" : "s", KILL_GRACE);
		for (struct job *j = running; j; j = j->next)
			if (group_alive(j))
				kill(-j->pid, SIGKILL);
		/* SIGKILL takes effect at once but for a process stuck in the kernel: do not wait on that. */
		groups_wait(loop_now() + 0.2);
	}
	while (running) {
		struct job *j = running;

		running = j->next;
		if (j->pidfd >= 0) {
			loop_del_fd(j->pidfd);
			close(j->pidfd);
		}
		stream_close(&j->out);
		stream_close(&j->err);
		if (j->q)
			j->q->running = NULL;
		j->done = NULL;
		job_free(j);
	}
	n_running = 0;
}
