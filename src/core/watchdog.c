/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "watchdog.h"

static void (*probe_fn)(void);
static bool armed;

static void on_alarm(int sig)
{
	int saved = errno;

	if (probe_fn)
		probe_fn();
	errno = saved;
}

int watchdog_start(void (*probe)(void))
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return -errno;
	probe_fn = probe;
	return 0;
}

static void set_timer(double s)
{
	struct itimerval it = {};

	it.it_value.tv_sec = (time_t)s;
	it.it_value.tv_usec = (suseconds_t)((s - (double)(time_t)s) * 1e6);
	it.it_interval = it.it_value;
	setitimer(ITIMER_REAL, &it, NULL);
}

void watchdog_busy(void)
{
	if (!probe_fn || armed)
		return;
	armed = true;
	set_timer(WATCHDOG_TICK);
}

void watchdog_idle(void)
{
	if (!armed)
		return;
	armed = false;
	set_timer(0);
}

void watchdog_stop(void)
{
	watchdog_idle();
	probe_fn = NULL;
	signal(SIGALRM, SIG_DFL);
}

double watchdog_systemd_period(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	double us;

	if (!usec || (pid && strtol(pid, NULL, 10) != getpid()))
		return 0;
	us = strtod(usec, &end);
	if (end == usec || *end || !(us > 0))
		return 0;
	return us / 1e6;
}
