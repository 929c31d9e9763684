/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "core/source.h"

extern const struct nlh_source_ops nflog_source;

/*
 * Per-group settings, from nlhookd's options (defaults in brackets):
 * bytes of each packet copied [128: the headers], hits the kernel queues
 * before sending a batch [64], and the longest a lone hit waits [10 ms].
 */
extern uint32_t nflog_copy_range;
extern uint32_t nflog_qthreshold;
extern uint32_t nflog_timeout_ms;
