/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../nlbuild.h"
#include "rtnl/rtnl.h"

/*
 * The rtnl state as a replay feeds it (the daemon's own code for every
 * message): here, the IPv4 multipath routes, whose hops are kept beside
 * the route table.  The kernel drops such a route without a message when
 * every hop's link is down, or when one hop's link is deleted; not while
 * one hop's link is up.
 */

static void sink(void *data, struct nlh_event *ev)
{
	size_t *dels = data;

	if (ev->type == NLH_EV_ROUTE_DEL)
		(*dels)++;
}

static void link_msg(struct rtnl *rt, uint16_t type, int ifindex, bool up, const char *name)
{
	struct nlbuf b;

	rtnl_replay_msg(rt, nlb_link(&b, type, ifindex, up ? IFF_UP | IFF_RUNNING | IFF_LOWER_UP : 0, name, 1500,
				     up ? IF_OPER_UP : IF_OPER_DOWN));
}

/* 10.N.0.0/24 through two hops: ifindex a (10.1.0.254) and b (10.2.0.254). */
static void mp_route(struct rtnl *rt, uint16_t type, unsigned int n, int a, int b)
{
	struct nlbuf buf;
	char dst[32];
	struct nlmsghdr *nlh;
	struct nlattr *mp;
	const int hops[2] = { a, b };

	snprintf(dst, sizeof(dst), "10.%u.%u.0", n >> 8, n & 0xff);
	nlh = nlb_route(&buf, type, AF_INET, dst, 24, NULL, 0, 0);
	mp = mnl_attr_nest_start(nlh, RTA_MULTIPATH);
	for (int i = 0; i < 2; i++) {
		struct rtnexthop *nh = mnl_nlmsg_get_payload_tail(nlh);
		uint8_t gw[4] = { 10, (uint8_t)(i + 1), 0, 254 };

		memset(nh, 0, sizeof(*nh));
		nh->rtnh_ifindex = hops[i];
		nlh->nlmsg_len += MNL_ALIGN(sizeof(*nh));
		mnl_attr_put(nlh, RTA_GATEWAY, 4, gw);
		nh->rtnh_len = (char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)nh;
	}
	mnl_attr_nest_end(nlh, mp);
	rtnl_replay_msg(rt, nlh);
}

static void test_multipath_hops(void **state)
{
	size_t dels = 0;
	const struct nlh_source_env env = { .sink = { sink, &dels }, .netns_fd = -1 };
	struct rtnl *rt = rtnl_replay_new(&env);
	const unsigned int n = 1000;

	assert_non_null(rt);
	link_msg(rt, RTM_NEWLINK, 2, true, "vA");
	link_msg(rt, RTM_NEWLINK, 3, true, "vC");
	link_msg(rt, RTM_NEWLINK, 4, true, "vE");
	/* Many, half of them deleted in a scattered order: the hops of the rest are still found. */
	for (unsigned int i = 0; i < n; i++)
		mp_route(rt, RTM_NEWROUTE, i, i % 2 ? 2 : 3, i % 2 ? 3 : 2);
	for (unsigned int i = 0; i < n; i++)
		if ((i * 7919) % n < n / 2)
			mp_route(rt, RTM_DELROUTE, (i * 7919) % n, 2, 3);
	assert_int_equal(rtnl_state_count(rt, NLH_CLASS_ROUTE), n / 2);
	dels = 0;
	/* One hop's link down: every route outlives it, whichever hop is first. */
	link_msg(rt, RTM_NEWLINK, 2, false, "vA");
	assert_int_equal(dels, 0);
	assert_int_equal(rtnl_state_count(rt, NLH_CLASS_ROUTE), n / 2);
	/* The other too: all go, each with its route.del. */
	link_msg(rt, RTM_NEWLINK, 3, false, "vC");
	assert_int_equal(dels, n / 2);
	assert_int_equal(rtnl_state_count(rt, NLH_CLASS_ROUTE), 0);

	/* Back up, and again: now a hop's link deleted takes every route through it. */
	link_msg(rt, RTM_NEWLINK, 2, true, "vA");
	link_msg(rt, RTM_NEWLINK, 3, true, "vC");
	for (unsigned int i = 0; i < n; i++)
		mp_route(rt, RTM_NEWROUTE, i, i < n / 2 ? 2 : 4, 3);
	dels = 0;
	link_msg(rt, RTM_DELLINK, 3, false, "vC");
	assert_int_equal(dels, n);
	assert_int_equal(rtnl_state_count(rt, NLH_CLASS_ROUTE), 0);

	/* A route that stops being multipath is an ordinary one again: it goes with its link. */
	mp_route(rt, RTM_NEWROUTE, 1, 2, 4);
	{
		struct nlbuf b;

		rtnl_replay_msg(rt, nlb_route(&b, RTM_NEWROUTE, AF_INET, "10.0.1.0", 24, "10.1.0.254", 2, 0));
	}
	dels = 0;
	link_msg(rt, RTM_NEWLINK, 2, false, "vA");
	assert_int_equal(dels, 1);
	assert_int_equal(rtnl_state_count(rt, NLH_CLASS_ROUTE), 0);
	rtnl_replay_free(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multipath_hops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
