/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../nlbuild.h"
#include "rtnl/rtnl-parse.h"

static void text(const struct nlh_event *ev, char *buf, size_t size)
{
	assert_true(nlh_event_text(ev, false, buf, size) > 0);
}

static void test_link(void **state)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_link(&b, RTM_NEWLINK, 7, IFF_UP | IFF_RUNNING | IFF_LOWER_UP, "veth0", 1500, IF_OPER_UP);
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x2a };
	struct nlh_event ev;
	char buf[512];

	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	mnl_attr_put_u32(nlh, IFLA_MASTER, 3);
	nlb_link_kind(nlh, "veth");
	assert_int_equal(rtnl_parse(nlh, &ev), 0);
	assert_int_equal(ev.type, NLH_EV_LINK_NEW);
	assert_string_equal(ev.link.ifname, "veth0");
	assert_int_equal(ev.link.ifindex, 7);
	assert_true(ev.link.up && ev.link.running && ev.link.carrier);
	assert_int_equal(ev.link.master_index, 3);
	assert_false(NLH_HAS(&ev, LINK, master));
	text(&ev, buf, sizeof(buf));
	assert_string_equal(buf, "link.new ifname=veth0 ifindex=7 operstate=up up=true running=true "
				 "carrier=true mtu=1500 mac=02:00:00:00:00:2a kind=veth");
}

/* Bridge-port and IPv6 protinfo variants of RTM_NEWLINK are not link events. */
static void test_link_other_family(void **state)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_link(&b, RTM_DELLINK, 7, 0, "veth0", 0, IF_OPER_DOWN);
	struct nlh_event ev;

	((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_family = AF_BRIDGE;
	assert_int_equal(rtnl_parse(nlh, &ev), -ENODATA);
}

static void test_link_malformed(void **state)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_link(&b, RTM_NEWLINK, 7, 0, "veth0", 1500, IF_OPER_UP);
	struct nlattr *last = (struct nlattr *)((char *)nlh + nlh->nlmsg_len - MNL_ALIGN(sizeof(struct nlattr) + 1));
	struct nlh_event ev;

	/* An attribute claiming more than the message holds. */
	last->nla_len = 200;
	assert_int_equal(rtnl_parse(nlh, &ev), -EBADMSG);
	/* A message too short for its header. */
	nlh->nlmsg_len = sizeof(struct nlmsghdr) + 4;
	assert_int_equal(rtnl_parse(nlh, &ev), -EBADMSG);
}

static void test_mtu_attr_wrong_size(void **state)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_link(&b, RTM_NEWLINK, 7, 0, "veth0", 0, IF_OPER_UP);
	uint16_t short_mtu = 9000;
	struct nlh_event ev;

	mnl_attr_put(nlh, IFLA_MTU, sizeof(short_mtu), &short_mtu);
	assert_int_equal(rtnl_parse(nlh, &ev), 0);
	assert_false(NLH_HAS(&ev, LINK, mtu));
}

static void test_addr(void **state)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_addr(&b, RTM_NEWADDR, AF_INET6, 4, "2001:db8::1", 64, RT_SCOPE_UNIVERSE);
	struct nlh_event ev;
	char buf[512];

	assert_int_equal(rtnl_parse(nlh, &ev), 0);
	assert_int_equal(ev.type, NLH_EV_ADDR_ADD);
	text(&ev, buf, sizeof(buf));
	assert_string_equal(buf, "addr.add ifindex=4 family=inet6 address=2001:db8::1 prefixlen=64 scope=global");

	nlh = nlb_addr(&b, RTM_DELADDR, AF_INET, 4, "10.1.2.3", 24, RT_SCOPE_LINK);
	assert_int_equal(rtnl_parse(nlh, &ev), 0);
	assert_int_equal(ev.type, NLH_EV_ADDR_DEL);
	assert_string_equal(ev.addr.scope, "link");
	assert_int_equal(ev.addr.prefixlen, 24);
}

static void test_route_default(void **state)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_route(&b, RTM_NEWROUTE, AF_INET, NULL, 0, "192.0.2.1", 2, 100);
	struct nlh_event ev;
	char buf[512];

	assert_int_equal(rtnl_parse(nlh, &ev), 0);
	assert_int_equal(ev.type, NLH_EV_ROUTE_ADD);
	text(&ev, buf, sizeof(buf));
	assert_string_equal(buf, "route.add family=inet dst=default gateway=192.0.2.1 ifindex=2 table=254 "
				 "protocol=static metric=100 scope=global kind=unicast");
	nlh = nlb_route(&b, RTM_DELROUTE, AF_INET6, "2001:db8::", 32, NULL, 3, 0);
	assert_int_equal(rtnl_parse(nlh, &ev), 0);
	assert_int_equal(ev.type, NLH_EV_ROUTE_DEL);
	text(&ev, buf, sizeof(buf));
	assert_string_equal(buf, "route.del family=inet6 dst=2001:db8::/32 ifindex=3 table=254 "
				 "protocol=static metric=0 scope=global kind=unicast");
}

/* A prefix length with no RTA_DST, or a length past the family's, is a lie. */
static void test_route_bad(void **state)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_route(&b, RTM_NEWROUTE, AF_INET, NULL, 24, NULL, 2, 0);
	struct nlh_event ev;

	assert_int_equal(rtnl_parse(nlh, &ev), -EBADMSG);
	nlh = nlb_route(&b, RTM_NEWROUTE, AF_INET, "10.0.0.0", 40, NULL, 2, 0);
	assert_int_equal(rtnl_parse(nlh, &ev), -EBADMSG);
	nlh = nlb_route(&b, RTM_NEWROUTE, AF_INET, "10.0.0.0", 8, NULL, 2, 0);
	((struct rtmsg *)mnl_nlmsg_get_payload(nlh))->rtm_flags |= RTM_F_CLONED;
	assert_int_equal(rtnl_parse(nlh, &ev), -ENODATA);
}

static size_t edges(unsigned int prev_flags, const char *prev_name, unsigned int flags, const char *name,
		    bool is_new, struct nlh_event *out)
{
	struct nlbuf b;
	struct nlh_event prev, cur;

	assert_int_equal(rtnl_parse(nlb_link(&b, RTM_NEWLINK, 5, prev_flags, prev_name, 1500, IF_OPER_UP), &prev), 0);
	assert_int_equal(rtnl_parse(nlb_link(&b, RTM_NEWLINK, 5, flags, name, 1500, IF_OPER_UP), &cur), 0);
	return rtnl_link_edges(is_new ? NULL : &prev, &cur, out);
}

static void test_edges(void **state)
{
	struct nlh_event out[RTNL_MAX_EDGES];

	/* up + carrier: two edges, in that order */
	assert_int_equal(edges(0, "eth0", IFF_UP | IFF_LOWER_UP | IFF_RUNNING, "eth0", false, out), 2);
	assert_int_equal(out[0].type, NLH_EV_LINK_UP);
	assert_int_equal(out[1].type, NLH_EV_LINK_CARRIER);
	/* down: carrier goes first, then the admin state */
	assert_int_equal(edges(IFF_UP | IFF_LOWER_UP, "eth0", 0, "eth0", false, out), 2);
	assert_int_equal(out[0].type, NLH_EV_LINK_NOCARRIER);
	assert_int_equal(out[1].type, NLH_EV_LINK_DOWN);
	/* the same flags again (an MTU change, statistics): nothing */
	assert_int_equal(edges(IFF_UP | IFF_LOWER_UP, "eth0", IFF_UP | IFF_LOWER_UP, "eth0", false, out), 0);
	/* carrier alone */
	assert_int_equal(edges(IFF_UP, "eth0", IFF_UP | IFF_LOWER_UP, "eth0", false, out), 1);
	assert_int_equal(out[0].type, NLH_EV_LINK_CARRIER);
	/* rename keeps the old name */
	assert_int_equal(edges(0, "eth0", 0, "lan0", false, out), 1);
	assert_int_equal(out[0].type, NLH_EV_LINK_RENAME);
	assert_string_equal(out[0].link.ifname, "lan0");
	assert_string_equal(out[0].link.old_ifname, "eth0");
	/* a new link that is already up */
	assert_int_equal(edges(0, "x", IFF_UP, "eth9", true, out), 2);
	assert_int_equal(out[0].type, NLH_EV_LINK_NEW);
	assert_int_equal(out[1].type, NLH_EV_LINK_UP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_link_other_family),
		cmocka_unit_test(test_link_malformed),
		cmocka_unit_test(test_mtu_attr_wrong_size),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_route_default),
		cmocka_unit_test(test_route_bad),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
