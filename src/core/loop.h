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

/* Monotonic seconds. */
double loop_now(void);

/* Called each time the loop is about to wait (flush what a batch gathered). */
void loop_set_idle(void (*cb)(void));

/* Runs until loop_quit(); returns its code. */
int loop_run(void);
void loop_quit(int code);
