/* SPDX-License-Identifier: MIT */
#pragma once

#include "core/event.h"

/*
 * Feed a capture through the parsers as if live: the state (links, family
 * ids) comes from the capture alone; consecutive identical records (nlmon
 * keeps one copy per listening socket) count once.  Events go to dispatch.
 * Returns 0, or 1 after printing the reader's error with `who` in front.
 */
int replay_file(const char *path, void (*dispatch)(struct nlh_event *ev), const char *who);

/*
 * A replay runs nlhook.after and debounce timers on the capture's clock:
 * a timer due between two records fires between them, at its time, and
 * those due after the last record fire at the end, up to REPLAY_HORIZON
 * seconds past it (REPLAY_TIMERS_MAX firings at most: a rule that re-arms
 * its timer forever cannot hold the replay).  replay_file() does this
 * itself; replay_clock_start/finish give the same clock to a single event.
 */
#define REPLAY_HORIZON 3600
#define REPLAY_TIMERS_MAX 100000
void replay_clock_start(double t);
void replay_clock_finish(const char *who);
