/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/event.h"
#include "core/source.h"

/*
 * Script directories, for those who want "run this when the network
 * changes" without a rule: DIR/TYPE/ holds executables run for each event
 * of TYPE (dispatch.d), and, in networkd-dispatcher's layout, DIR/STATE.d/
 * those run when a link of the daemon's own namespace enters STATE, with
 * networkd-dispatcher's environment.  A subdirectory's files resolve
 * across the dirs as rule files do (a later dir's file replaces one of the
 * same name, a symlink to /dev/null masks it) and are read at each event;
 * which subdirectories exist is read at start and on reload.  Scripts run
 * in name order, one at a time per subdirectory (networkd-dispatcher's,
 * one at a time in all), through the exec path of rule actions.
 */
struct dispatch;
struct rtnl;
struct sbuf;

struct dispatch_config {
	char *const *dirs;		/* --dispatch-dir, in override order */
	size_t n_dirs;
	char *const *nd_dirs;		/* --networkd-dispatcher */
	size_t n_nd_dirs;
	bool named;			/* the user named the dirs: a missing one is worth a warning */
	bool check_perms;		/* refuse what others could change (the daemon runs as root) */
	/* The daemon's own rtnl state: the addresses networkd-dispatcher's scripts get. */
	const struct rtnl *(*state)(void *data);
	void *data;
};

/* A problem with a script or dir: error (it does not run when it should) or warning. */
typedef void (*dispatch_report_fn)(bool error, const char *path, const char *what, void *data);

/* The config's arrays are borrowed: they must outlive the dispatch. */
int dispatch_new(struct dispatch **ret, const struct dispatch_config *cfg);
void dispatch_free(struct dispatch *d);
/* The subdirectories again (at start, and on reload), logging what a check would report. */
void dispatch_load(struct dispatch *d);
/* Run what an event calls for (and follow the SSIDs networkd-dispatcher's ESSID needs). */
void dispatch_event(struct dispatch *d, const struct nlh_event *ev);
/* Adds what the scripts need the sources of a namespace (NULL: the daemon's own) to deliver. */
void dispatch_want(const struct dispatch *d, const char *netns, struct nlh_want *ret);
/*
 * As a JSON member appended to out:
 *   ,"dispatch":{"dirs":[..],"networkd_dispatcher":[..],"networkd_dispatcher_running":N,
 *     "networkd_dispatcher_pending":N,"subdirs":[{"name":"link.up","networkd_dispatcher":false,
 *     "refused":N,"dropped":N,"running":N,"pending":N,"scripts":[{"path":..,"runs":N,
 *     "failures":N,"last_status":N|null,"refused":"why"|"skipped":"why"}]}]}
 */
void dispatch_status(const struct dispatch *d, struct sbuf *out);
/* nlhook check: every problem of the dirs, as the daemon would meet it; returns how many scripts would run. */
size_t dispatch_check(const struct dispatch_config *cfg, dispatch_report_fn report, void *data);
