/* SPDX-License-Identifier: MIT */
/*
 * The rtnetlink parser on arbitrary messages: the input is a netlink
 * message stream, walked the way the source walks a receive buffer.
 * Routes go through the compact route table as the source keeps them.
 */
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/nlmsg.h"
#include "rtnl/routes.h"
#include "rtnl/rtnl-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Aligned copy: the receive buffer always is. */
	void *buf = malloc(size ? size : 1);
	const struct nlmsghdr *nlh;
	size_t left;
	struct nlh_event ev, prev, edges[RTNL_MAX_EDGES];
	struct rtnl_routes *routes = rtnl_routes_new();
	bool have_prev = false;
	char out[4096];

	memcpy(buf, data, size);
	nlh_msg_for_each(nlh, buf, size, left) {
		struct rtnl_route r;

		if (routes && rtnl_route_parse(nlh, &r) == 0) {
			rtnl_route_ref ref = rtnl_routes_find(routes, &r);

			if (nlh->nlmsg_type == RTM_DELROUTE && ref != RTNL_ROUTE_NONE)
				rtnl_routes_remove(routes, ref);
			else if (nlh->nlmsg_type != RTM_DELROUTE)
				rtnl_routes_put(routes, &r);
		}
		if (rtnl_parse(nlh, &ev) < 0)
			continue;
		nlh_event_json(&ev, out, sizeof(out));
		if (ev.type == NLH_EV_LINK_NEW) {
			rtnl_link_edges(have_prev ? &prev : NULL, &ev, edges);
			prev = ev;
			have_prev = true;
		}
	}
	for (rtnl_route_ref ref = routes ? rtnl_routes_next(routes, RTNL_ROUTE_NONE) : RTNL_ROUTE_NONE;
	     ref != RTNL_ROUTE_NONE; ref = rtnl_routes_next(routes, ref)) {
		struct rtnl_route r;

		rtnl_routes_get(routes, ref, &r);
		rtnl_route_event(&r, NLH_EV_ROUTE_ADD, &ev);
		nlh_event_json(&ev, out, sizeof(out));
	}
	rtnl_routes_free(routes);
	free(buf);
	return 0;
}
