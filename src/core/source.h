/* SPDX-License-Identifier: MIT */
#pragma once

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
	int rcvbuf;		/* bytes, as the kernel reports it */
};

/*
 * A source subscribes only to what `want` asks for; update() is called
 * after every reload with the new set.  Events go to nlh_dispatch().
 */
struct nlh_source_ops {
	const char *name;
	int (*start)(const struct nlh_want *want);
	int (*update)(const struct nlh_want *want);
	void (*stop)(void);
	void (*stats)(struct nlh_source_stats *ret);
};

/* Receive buffer for every netlink socket (--rcvbuf), SO_RCVBUFFORCE. */
extern int nlh_rcvbuf;
/* Size fd's receive buffer to nlh_rcvbuf, warn (as `who`) if capped; returns what the kernel reports. */
int nlsock_set_rcvbuf(int fd, const char *who);

/* Where sources deliver events: set by the program (daemon or CLI). */
typedef void (*nlh_dispatch_fn)(struct nlh_event *ev);
extern nlh_dispatch_fn nlh_dispatch;
