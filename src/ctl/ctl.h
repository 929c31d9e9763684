/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "core/event.h"
#include "core/json.h"
#include "core/source.h"

/*
 * The control socket: JSON lines over a Unix stream socket.
 *   request:  {"v":1,"cmd":"status"|"reload"|"monitor", ...}
 *   reply:    {"v":1,"ok":true,...} or {"v":1,"ok":false,"error":"..."}
 * A monitor request ({"types":[...],"filters":[...],"format":"json"|"text",
 * "timestamp":bool}) is answered with one reply, then one line per event.
 * A monitor that the daemon ends (it fell CTL_BACKLOG_MAX behind, or the
 * daemon stops) gets one last line, {"v":1,"ok":false,"error":"..."}, with
 * "dropped":true when it fell behind.  Event lines never start with {"v":
 * in JSON they start with {"type", in text never with {.
 * Peers are checked with SO_PEERCRED: root may do everything, members of
 * the nlhook group may monitor and ask for status.
 */
#define CTL_PROTO_VERSION 1
#define CTL_REQUEST_MAX (64 * 1024)
#define CTL_BACKLOG_MAX (4 * 1024 * 1024)	/* a monitor that falls further behind is dropped */
#define CTL_REQUEST_TIMEOUT 5.0
#define CTL_END_LINGER 10.0	/* seconds an ended monitor has to read its last line */
/* Out of fds, accepting pauses this long, doubling each time in a row. */
#define CTL_ACCEPT_BACKOFF_MIN 0.05
#define CTL_ACCEPT_BACKOFF_MAX 2.0

struct ctl_ops {
	/* Append the status members (after {"v":1,"ok":true) to out, each with a leading comma. */
	void (*status)(struct sbuf *out);
	/* Reload; on failure append the errors as JSON strings separated by commas. */
	int (*reload)(struct sbuf *errors);
	/* The set of monitor clients changed: recompute what the sources deliver. */
	void (*want_changed)(void);
};

/*
 * The control path of this network namespace's daemon, malloc'd:
 * NLH_CONTROL_PATH in the initial namespace (pid 1's), DIR/netns/NAME.sock
 * in the one `ip netns` mounts at /run/netns/NAME, DIR/netns/ns-INODE.sock
 * in any other (DIR: NLH_CONTROL_PATH's).  One path per namespace, so that
 * daemons in two of them never share one.  When pid 1's namespace cannot
 * be read, an unnamed namespace is taken for the initial one.
 */
int ctl_default_path(char **ret);
int __ctl_default_path(const char *self_ns, const char *init_ns, const char *netns_dir, const char *base,
		       char **ret);

/*
 * Listen on path.  Only a stale socket (connect() refused) is replaced:
 * -EADDRINUSE when a daemon listens there, -EEXIST when path is not a
 * socket.  ctl_stop() unlinks path only while it is still our socket.
 */
int ctl_start(const char *path, const struct ctl_ops *ops);
void ctl_stop(void);
void ctl_dispatch(const struct nlh_event *ev);
/* Or into want what the monitor clients ask for. */
/* ... for the namespace named netns (NULL: the daemon's own). */
void ctl_want(const char *netns, struct nlh_want *want);
unsigned int ctl_monitors(void);
uint64_t ctl_monitor_drops(void);

/*
 * Handle one request line from a peer with these credentials; writes the
 * reply line (no newline) into out.  Returns 1 when the peer becomes a
 * monitor with the filter in *ret_filter, else 0.  Pure but for the ops
 * calls: the fuzz target drives it.
 */
struct nlh_filter;
int ctl_request(const char *line, size_t len, bool root, bool member, const struct ctl_ops *ops,
		struct sbuf *out, struct nlh_filter *ret_filter, bool *ret_text, bool *ret_timestamp);
