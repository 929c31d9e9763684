/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* What the loaded rules (and monitor clients) want from the sources. */
struct nlh_want {
	nlh_typeset types;
	uint16_t nflog_groups[64];	/* sorted, unique */
	size_t n_nflog_groups;
};

struct nlh_source_stats {
	uint64_t events;
	uint64_t drops;		/* ENOBUFS and sequence gaps */
	uint64_t resyncs;
	uint64_t errors;	/* malformed messages, ignored */
	int rcvbuf;		/* bytes, as the kernel reports it; 0: no socket */
};

/* Where a source instance delivers its events: given at creation. */
struct nlh_sink {
	void (*event)(void *data, struct nlh_event *ev);
	void *data;
};

/*
 * What a source instance knows of the namespace it serves, from whoever
 * made it (the namespace registry, or a replay): where events go, the
 * namespace's netlink sockets, the names of its links (from the rtnl
 * instance of the same namespace) and who wants to hear of link changes
 * (the nl80211 instance).
 */
struct nlh_source_env {
	struct nlh_sink sink;
	int netns_fd;		/* where its sockets open; -1: the daemon's own namespace */
	const char *netns;	/* its name, for the log; NULL: the daemon's own */
	bool late;		/* made while the loop runs: start-up dumps must not wait */
	/* NULL when the link is not known. */
	const char *(*ifname)(void *data, uint32_t ifindex);
	/* Every link record as it changes. */
	void (*link_changed)(void *data, const struct nlh_event *link);
	/*
	 * Every link, address and route object as it changes (the operational
	 * states): its record before (NULL: new) and after (NULL: gone); emit
	 * false while a start-up dump sets state without events.
	 */
	void (*obj_changed)(void *data, const struct nlh_event *old, const struct nlh_event *cur, bool emit);
	void *data;
};

/*
 * A source: one instance per namespace.  An instance opens its socket
 * when the want set first asks for its events (update() after every
 * reload or change of monitors) and closes nothing it still needs.
 */
struct nlh_source_ops {
	const char *name;
	void *(*new)(const struct nlh_source_env *env);
	/* 0, or a negative errno: the instance could not serve want. */
	int (*update)(void *inst, const struct nlh_want *want);
	void (*free)(void *inst);
	void (*stats)(const void *inst, struct nlh_source_stats *ret);
};
