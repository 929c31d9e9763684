/* SPDX-License-Identifier: MIT */
#pragma once

#include "core/source.h"

/*
 * nfnetlink_log, one instance per namespace (nflog groups are per
 * namespace): one socket binding every group the rules of that namespace
 * name, opened when the first is asked for.
 */
extern const struct nlh_source_ops nflog_source;
