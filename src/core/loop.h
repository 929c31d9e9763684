/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

/*
 * One epoll loop per process.  Timers share one timerfd, armed for the
 * earliest deadline only: an idle daemon sleeps in epoll_wait.
 */

typedef void (*loop_io_fn)(int fd, uint32_t events, void *data);
typedef void (*loop_timer_fn)(void *data);

int loop_init(void);
void loop_exit(void);

/* The callback gets the epoll events (EPOLLIN, EPOLLERR, EPOLLHUP, ...). */
int loop_add_fd(int fd, uint32_t events, loop_io_fn cb, void *data);
int loop_mod_fd(int fd, uint32_t events);
void loop_del_fd(int fd);

struct loop_timer;
struct loop_timer *loop_timer_new(loop_timer_fn cb, void *data);
/* Fire once, `seconds` from now (monotonic); re-arming moves it. */
void loop_timer_arm(struct loop_timer *t, double seconds);
void loop_timer_cancel(struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

/* Monotonic seconds; during a replay, the capture's time (loop_replay_*). */
double loop_now(void);
/* The same clock read at its tick (some ms), for ten times less: sums over many reads. */
double loop_now_coarse(void);

/*
 * Replays run timers on the capture's clock: from loop_replay_start(t)
 * on, loop_now() is t, and loop_replay_advance(t) fires, in deadline
 * order, every timer due by t (loop_now() is each one's deadline while
 * it runs), at most max of them.  Returns how many fired; pending ones
 * are dropped by loop_replay_stop(), which gives the real clock back.
 */
void loop_replay_start(double t);
unsigned int loop_replay_advance(double t, unsigned int max);
/* The deadline of the first timer, or 0 when none is armed. */
double loop_next_deadline(void);
void loop_replay_stop(void);

/* Called each time the loop is about to wait (flush what a batch gathered)... */
void loop_set_idle(void (*cb)(void));
/* ... and each time it wakes up with work. */
void loop_set_wake(void (*cb)(void));

/* Runs until loop_quit(); returns its code. */
int loop_run(void);
void loop_quit(int code);
