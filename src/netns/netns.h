/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/source.h"

/*
 * A network namespace the daemon watches, with one instance of each
 * source (rtnl first: the others name links through it).  Events leave
 * through the sink it was made with, stamped with the namespace's name
 * (NULL for the daemon's own) and nsid.
 */
struct nlh_ns;
struct rtnl;
struct nl80211;

#define NLH_NS_SOURCES 3

/*
 * name: NULL for the daemon's own namespace; fd: an open namespace file
 * to make sockets in (taken, closed with the namespace), -1 for ours.
 */
struct nlh_ns *nlh_ns_new(const char *name, int fd, const struct nlh_sink *sink);
void nlh_ns_free(struct nlh_ns *ns);

/*
 * Start or update every source for what is wanted; the first error (a
 * negative errno) is returned, after every source was tried, and the
 * failing source's name set in *ret_source.
 */
int nlh_ns_update(struct nlh_ns *ns, const struct nlh_want *want, const char **ret_source);

const char *nlh_ns_name(const struct nlh_ns *ns);
const struct rtnl *nlh_ns_rtnl(const struct nlh_ns *ns);
const struct nl80211 *nlh_ns_nl80211(const struct nlh_ns *ns);

/* The stats of source i (0 <= i < NLH_NS_SOURCES): its name, or NULL past the end. */
const char *nlh_ns_source_stats(const struct nlh_ns *ns, size_t i, struct nlh_source_stats *ret);
