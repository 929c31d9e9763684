/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Child processes for rule actions.  posix_spawn, no shell, own process
 * group, clean environment, fds 0-2 only (stdin /dev/null, stdout/stderr
 * captured through pipes, bounded), reaped through a pidfd on the loop.
 * Each queue runs its jobs one at a time, in order; queues run in parallel.
 */

struct exec_queue;

struct exec_opts {
	char *const *argv;	/* argv[0] is the path, absolute: no PATH lookup */
	char *const *env;	/* full environment, NULL-terminated */
	const char *cwd;	/* NULL: / */
	double timeout;		/* seconds; 0: none.  SIGTERM, then SIGKILL 2 s later, to the group */
	size_t output_max;	/* per stream; 0: 64 KiB */
	bool in_netns;		/* start the program in the network namespace netns_fd (dup'ed) */
	int netns_fd;
};

/*
 * status: a wait status (WIFEXITED...) or, when the program could not be
 * started, a negative errno; then err holds the line logged about it
 * ("cannot run PATH: REASON").  The buffers are valid during the call only.
 */
typedef void (*exec_done_fn)(int status, const char *out, size_t out_len,
			     const char *err, size_t err_len, void *data);

/*
 * The "#!" interpreter of a script at path (in buf), or NULL.  execve's
 * ENOENT for a file that is there means it is missing: a script written
 * for another system.
 */
const char *exec_interpreter(const char *path, char *buf, size_t size);

/* `name` (the rule's) prefixes the log lines of captured output. */
struct exec_queue *exec_queue_new(const char *name);
/*
 * Pending jobs are dropped (destroy called, done not); a running child goes
 * on and is still reaped and timed out, but its done is not called.
 */
void exec_queue_free(struct exec_queue *q);

/* Jobs a queue holds waiting behind its running one: a push over that is refused. */
#define EXEC_PENDING_MAX 64

/*
 * The options are copied.  done and destroy may be NULL.  -EINVAL when
 * argv[0] is not an absolute path, -ENOBUFS when EXEC_PENDING_MAX jobs
 * wait already; a push that fails takes nothing (destroy is not called).
 */
int exec_queue_push(struct exec_queue *q, const struct exec_opts *o,
		    exec_done_fn done, void *data, void (*destroy)(void *data));

unsigned int exec_queue_running(const struct exec_queue *q);
unsigned int exec_queue_pending(const struct exec_queue *q);
unsigned int exec_running_total(void);

/*
 * At exit: SIGTERM to every child's process group, wait (blocking, up to
 * the 2 s grace of a timeout) for the groups to empty, reaping the
 * children; SIGKILL to the groups still alive, reap, forget them all.
 */
void exec_shutdown(void);
