/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/event.h"
#include "core/source.h"

/*
 * Operational states, systemd-networkd's names and meanings, derived from
 * one namespace's rtnl objects as they change (no I/O: the rtnl instance
 * tells it each change, it raises link.state, net.state, net.online and
 * net.offline through its sink).
 *
 * A link's state is networkd's: its carrier state (off, no-carrier,
 * dormant, carrier, enslaved; degraded-carrier for a master with a port
 * below carrier) crossed with its address state (routable: a ready
 * address of scope below site; degraded: only link or site scope ones;
 * off: none), a tentative address not being ready.  The namespace's
 * state is the best of its links' but loopback's; it is online while a
 * default route of the main table, of either family, goes through a
 * routable link.
 */
enum opstate_state {
	OPSTATE_OFF,
	OPSTATE_NO_CARRIER,
	OPSTATE_DORMANT,
	OPSTATE_DEGRADED_CARRIER,
	OPSTATE_CARRIER,
	OPSTATE_DEGRADED,
	OPSTATE_ENSLAVED,
	OPSTATE_ROUTABLE,
	_OPSTATE_MAX,
};

const char *opstate_name(enum opstate_state s);
/* -ENOENT when s names no state. */
int opstate_from_name(const char *s);

/*
 * The pure part: a link's carrier state from its record (IFF_* flags,
 * kernel operstate, master), and its state from the carrier state and
 * the scope of its best ready address (RT_SCOPE_NOWHERE: none).
 */
enum opstate_state opstate_carrier(const struct nlh_event *link);
enum opstate_state opstate_combine(enum opstate_state carrier, unsigned int best_scope);
/* An address record's scope as the kernel numbers it (RT_SCOPE_*). */
unsigned int opstate_addr_scope(const struct nlh_event *addr);

struct opstate;

struct opstate *opstate_new(const struct nlh_sink *sink);
void opstate_free(struct opstate *os);

/*
 * A link, address or route changed: its record before (NULL: new) and
 * after (NULL: gone).  With emit false (a start-up dump) the states
 * change without events.
 */
void opstate_notify(struct opstate *os, const struct nlh_event *old, const struct nlh_event *cur, bool emit);

/* A link's state, or NULL when the link is not known. */
const char *opstate_link(const struct opstate *os, uint32_t ifindex);
enum opstate_state opstate_net(const struct opstate *os);
bool opstate_online(const struct opstate *os);
