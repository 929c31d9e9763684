/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtnl-parse.h"

/*
 * The routes of one namespace, compact enough for a full Internet table:
 * a record of 36 bytes (IPv4) or 60 (IPv6) in slabs of its family, an
 * open-addressing index keyed as the kernel keys routes (table, metric,
 * dst and, for IPv6, the device), and a list per device and family for
 * the work a link's change asks for.  A slab that empties goes back to the
 * system, and so does the index as it shrinks, so that memory follows the
 * table down.  Events are made from a record when one is raised
 * (rtnl_route_event), never kept.
 *
 * A route is named by a ref, valid until it is removed.  No allocation in
 * the lookups or iterations; nothing here logs or raises.
 */
struct rtnl_routes;

typedef uint32_t rtnl_route_ref;
#define RTNL_ROUTE_NONE UINT32_MAX

struct rtnl_routes *rtnl_routes_new(void);
void rtnl_routes_free(struct rtnl_routes *t);

enum rtnl_routes_put {
	RTNL_ROUTE_SAME,	/* already there as it is */
	RTNL_ROUTE_NEW,
	RTNL_ROUTE_CHANGED,	/* its key was there, with other content */
};

/* Insert, or replace the route of the same key; either way it is marked seen.  Or -ENOMEM. */
int rtnl_routes_put(struct rtnl_routes *t, const struct rtnl_route *r);
/* The route with r's key, or RTNL_ROUTE_NONE. */
rtnl_route_ref rtnl_routes_find(const struct rtnl_routes *t, const struct rtnl_route *key);
void rtnl_routes_get(const struct rtnl_routes *t, rtnl_route_ref ref, struct rtnl_route *ret);
void rtnl_routes_remove(struct rtnl_routes *t, rtnl_route_ref ref);

/*
 * Every route: start from RTNL_ROUTE_NONE, stop at it.  Removing the
 * current route before asking for the next one is allowed.
 */
rtnl_route_ref rtnl_routes_next(const struct rtnl_routes *t, rtnl_route_ref ref);
/*
 * The routes of one family through one device (ifindex 0: those without
 * one), in the same way; a removal must come after the next is taken.
 */
rtnl_route_ref rtnl_routes_next_if(const struct rtnl_routes *t, uint32_t ifindex, uint8_t family,
				   rtnl_route_ref ref);

/* Of one family, or both (AF_UNSPEC). */
size_t rtnl_routes_count(const struct rtnl_routes *t, uint8_t family);
/* What the table takes from the system: slabs, index, device lists. */
size_t rtnl_routes_bytes(const struct rtnl_routes *t);

/* Dumps: unmark every route, let the dump mark (put) what it sees, remove the rest. */
void rtnl_routes_unmark(struct rtnl_routes *t);
bool rtnl_routes_marked(const struct rtnl_routes *t, rtnl_route_ref ref);
