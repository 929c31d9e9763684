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
