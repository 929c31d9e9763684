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
int32_t nlh_ns_nsid(const struct nlh_ns *ns);	/* -1: none */
/* Its namespace file, to enter (exec), or -1 (the daemon's own; one known by nsid alone). */
int nlh_ns_fd(const struct nlh_ns *ns);
const struct rtnl *nlh_ns_rtnl(const struct nlh_ns *ns);
const struct nl80211 *nlh_ns_nl80211(const struct nlh_ns *ns);
/* Its links' operational states (rtnl/opstate.h). */
struct opstate;
const struct opstate *nlh_ns_opstate(const struct nlh_ns *ns);

/* The stats of source i (0 <= i < NLH_NS_SOURCES): its name, or NULL past the end. */
const char *nlh_ns_source_stats(const struct nlh_ns *ns, size_t i, struct nlh_source_stats *ret);

/*
 * Every namespace the daemon watches: its own, and with all set the
 * others, found without polling: the namespace files in dirs (inotify;
 * `ip netns add` and container runtimes make the file first and mount
 * the namespace on it after, so a file waits for its mount, which
 * /proc/self/mountinfo signals), and those that have an nsid here
 * (RTNLGRP_NSID).  A namespace that goes away is dropped.  Each one
 * added or dropped raises netns.add / netns.del through the sink.
 */
struct nlh_nsreg;

struct nlh_nsreg_config {
	bool all;
	char *const *dirs;	/* of namespace files: /run/netns, /run/docker/netns, ... */
	size_t n_dirs;
	struct nlh_sink sink;
	/* What a namespace wants (the rules' netns terms): asked when it appears and by nlh_nsreg_update. */
	void (*want)(void *data, const char *netns, struct nlh_want *ret);
	void *data;
};

int nlh_nsreg_new(struct nlh_nsreg **ret, const struct nlh_nsreg_config *cfg);
void nlh_nsreg_free(struct nlh_nsreg *reg);

/*
 * Start (the first call) or update the sources of every namespace; an
 * error of the daemon's own namespace is returned (with the source's
 * name), the others' are logged.
 */
int nlh_nsreg_update(struct nlh_nsreg *reg, const char **ret_source);

struct nlh_ns *nlh_nsreg_own(const struct nlh_nsreg *reg);
/* By name (NULL: the daemon's own), or NULL. */
struct nlh_ns *nlh_nsreg_find(const struct nlh_nsreg *reg, const char *name);
/* Every namespace, the daemon's own first. */
struct nlh_ns *nlh_nsreg_next(const struct nlh_nsreg *reg, const struct nlh_ns *prev);
size_t nlh_nsreg_count(const struct nlh_nsreg *reg);

/* The name the daemon's own namespace has in the dirs (ip netns), or NULL. */
const char *nlh_nsreg_own_name(const struct nlh_nsreg *reg);
/* Find that name without a registry (the CLI, the rules' nlhook.netns). */
char *nlh_netns_self_name(char *const *dirs, size_t n_dirs);
