/* SPDX-License-Identifier: MIT */
/*
 * The rtnetlink parser on arbitrary messages: the input is a netlink
 * message stream, walked the way the source walks a receive buffer.
 */
#include <libmnl/libmnl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/nlmsg.h"
#include "rtnl/rtnl-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Aligned copy: the receive buffer always is. */
	void *buf = malloc(size ? size : 1);
	const struct nlmsghdr *nlh;
	size_t left;
	struct nlh_event ev, prev, edges[RTNL_MAX_EDGES];
	bool have_prev = false;
	char out[4096];

	memcpy(buf, data, size);
	nlh_msg_for_each(nlh, buf, size, left) {
		if (rtnl_parse(nlh, &ev) < 0)
			continue;
		nlh_event_json(&ev, out, sizeof(out));
		if (ev.type == NLH_EV_LINK_NEW) {
			rtnl_link_edges(have_prev ? &prev : NULL, &ev, edges);
			prev = ev;
			have_prev = true;
		}
	}
	free(buf);
	return 0;
}
