/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

struct watch {
	int fd;
	loop_io_fn cb;
	void *data;
	struct watch *next;
};

struct loop_timer {
	double deadline;	/* monotonic; 0: not armed */
	loop_timer_fn cb;
	void *data;
	struct loop_timer *next;	/* armed timers, sorted by deadline */
};

static int epfd = -1;
static int tfd = -1;
static bool replaying;
static double replay_now;
static struct watch *watches;
static struct loop_timer *timers;
static bool quitting;
static void (*idle_cb)(void);
static void (*wake_cb)(void);

void loop_set_idle(void (*cb)(void))
{
	idle_cb = cb;
}

void loop_set_wake(void (*cb)(void))
{
	wake_cb = cb;
}
static int quit_code;

static double now_on(clockid_t clock)
{
	struct timespec ts;

	if (replaying)
		return replay_now;
	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double loop_now(void)
{
	return now_on(CLOCK_MONOTONIC);
}

double loop_now_coarse(void)
{
	return now_on(CLOCK_MONOTONIC_COARSE);
}

static void timerfd_rearm(void)
{
	struct itimerspec its = {};

	if (replaying)
		return;

	if (timers) {
		double d = timers->deadline;

		its.it_value.tv_sec = (time_t)d;
		its.it_value.tv_nsec = (long)((d - (double)(time_t)d) * 1e9);
		/* 0/0 would disarm: a past deadline still has to fire. */
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_err("timerfd_settime: %m");
}

static void timers_run(int fd, uint32_t events, void *data)
{
	uint64_t expirations;
	double now = loop_now();

	if (read(tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("timerfd read: %m");
	while (timers && timers->deadline <= now) {
		struct loop_timer *t = timers;

		timers = t->next;
		t->next = NULL;
		t->deadline = 0;
		t->cb(t->data);
	}
	timerfd_rearm();
}

int loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (tfd < 0)
		return -errno;
	quitting = false;
	return loop_add_fd(tfd, EPOLLIN, timers_run, NULL);
}

void loop_exit(void)
{
	while (watches) {
		struct watch *w = watches;

		watches = w->next;
		free(w);
	}
	timers = NULL;
	if (tfd >= 0)
		close(tfd);
	if (epfd >= 0)
		close(epfd);
	tfd = epfd = -1;
}

int loop_add_fd(int fd, uint32_t events, loop_io_fn cb, void *data)
{
	struct epoll_event ev = { .events = events };
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->data = data;
	ev.data.ptr = w;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;

		free(w);
		return r;
	}
	w->next = watches;
	watches = w;
	return 0;
}

static struct watch *watch_find(int fd)
{
	for (struct watch *w = watches; w; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

int loop_mod_fd(int fd, uint32_t events)
{
	struct watch *w = watch_find(fd);
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

/*
 * A watch removed while its epoll batch is being dispatched must not be
 * called: it is unlinked and marked dead, and freed after the batch.
 */
static struct watch *graveyard;

void loop_del_fd(int fd)
{
	struct watch **pp;

	for (pp = &watches; *pp; pp = &(*pp)->next) {
		struct watch *w = *pp;

		if (w->fd != fd)
			continue;
		*pp = w->next;
		epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
		w->cb = NULL;
		w->next = graveyard;
		graveyard = w;
		return;
	}
}

struct loop_timer *loop_timer_new(loop_timer_fn cb, void *data)
{
	struct loop_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cb = cb;
	t->data = data;
	return t;
}

static void timer_unlink(struct loop_timer *t)
{
	for (struct loop_timer **pp = &timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->next = NULL;
	t->deadline = 0;
}

void loop_timer_arm(struct loop_timer *t, double seconds)
{
	struct loop_timer **pp;
	bool head;

	if (t->deadline)
		timer_unlink(t);
	if (seconds < 0)
		seconds = 0;
	t->deadline = loop_now() + seconds;
	for (pp = &timers; *pp && (*pp)->deadline <= t->deadline; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	head = timers == t;
	if (head && tfd >= 0)
		timerfd_rearm();
}

void loop_timer_cancel(struct loop_timer *t)
{
	bool head;

	if (!t || !t->deadline)
		return;
	head = timers == t;
	timer_unlink(t);
	if (head && tfd >= 0)
		timerfd_rearm();
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t && t->deadline;
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	loop_timer_cancel(t);
	free(t);
}

void loop_replay_start(double t)
{
	replaying = true;
	replay_now = t;
}

unsigned int loop_replay_advance(double t, unsigned int max)
{
	unsigned int n = 0;

	while (timers && timers->deadline <= t && n < max) {
		struct loop_timer *tm = timers;

		timers = tm->next;
		tm->next = NULL;
		if (tm->deadline > replay_now)
			replay_now = tm->deadline;
		tm->deadline = 0;
		tm->cb(tm->data);
		n++;
	}
	if (t > replay_now)
		replay_now = t;
	return n;
}

double loop_next_deadline(void)
{
	return timers ? timers->deadline : 0;
}

void loop_replay_stop(void)
{
	while (timers) {
		struct loop_timer *tm = timers;

		timers = tm->next;
		tm->next = NULL;
		tm->deadline = 0;
	}
	replaying = false;
	timerfd_rearm();
}

int loop_run(void)
{
	struct epoll_event evs[32];

	while (!quitting) {
		int n;

		if (idle_cb)
			idle_cb();
		n = epoll_wait(epfd, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %m");
			return -errno;
		}
		if (wake_cb)
			wake_cb();
		for (int i = 0; i < n && !quitting; i++) {
			struct watch *w = evs[i].data.ptr;

			if (w->cb)
				w->cb(w->fd, evs[i].events, w->data);
		}
		while (graveyard) {
			struct watch *w = graveyard;

			graveyard = w->next;
			free(w);
		}
	}
	/* Ready for another loop_run() (tests run several). */
	quitting = false;
	return quit_code;
}

void loop_quit(int code)
{
	quitting = true;
	quit_code = code;
}
