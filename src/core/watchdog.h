/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/*
 * The last line of defence for whatever still gets stuck.  While the
 * loop works (between its wake-up and its next sleep) a SIGALRM every
 * WATCHDOG_TICK seconds calls probe() from the signal handler: it may
 * only do what is async-signal-safe.  An idle loop arms nothing, so an
 * idle daemon still sleeps.
 *
 * Under systemd with WatchdogSec= ($WATCHDOG_USEC for this pid) the loop
 * also sends WATCHDOG=1 every half period: if the loop stops turning,
 * systemd kills and restarts the daemon.
 */
#define WATCHDOG_TICK 0.5

int watchdog_start(void (*probe)(void));
/* Called by the loop when it wakes up and before it sleeps. */
void watchdog_busy(void);
void watchdog_idle(void);
void watchdog_stop(void);

/* The systemd watchdog's period in seconds, or 0 when it is off for us. */
double watchdog_systemd_period(void);
