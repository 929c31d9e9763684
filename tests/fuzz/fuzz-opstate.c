/* SPDX-License-Identifier: MIT */
/*
 * The operational states on arbitrary rtnetlink streams, through the real
 * rtnl state (a replay instance, as `nlhook replay` feeds it): whatever the
 * kernel could send, in whatever order, the states stay sane.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/nlmsg.h"
#include "rtnl/opstate.h"
#include "rtnl/rtnl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct opstate *os;
	char out[4096];
};

static void sink(void *data, struct nlh_event *ev)
{
	struct ctx *c = data;

	nlh_event_json(ev, c->out, sizeof(c->out));
	if (ev->type == NLH_EV_LINK_STATE && opstate_from_name(ev->link.state) < 0)
		abort();
}

static void changed(void *data, const struct nlh_event *old, const struct nlh_event *cur, bool emit)
{
	struct ctx *c = data;

	opstate_notify(c->os, old, cur, emit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = {};
	const struct nlh_source_env env = {
		.sink = { sink, &c },
		.netns_fd = -1,
		.obj_changed = changed,
		.data = &c,
	};
	/* Aligned copy: the receive buffer always is. */
	void *buf = malloc(size ? size : 1);
	const struct nlmsghdr *nlh;
	struct rtnl *rt;
	size_t left;

	memcpy(buf, data, size);
	c.os = opstate_new(&env.sink);
	rt = rtnl_replay_new(&env);
	if (c.os && rt)
		nlh_msg_for_each(nlh, buf, size, left)
			rtnl_replay_msg(rt, nlh);
	if (c.os && (unsigned int)opstate_net(c.os) >= _OPSTATE_MAX)
		abort();
	rtnl_replay_free(rt);
	opstate_free(c.os);
	free(buf);
	return 0;
}
