/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "../nlbuild.h"
#include "rtnl/opstate.h"
#include "rtnl/rtnl-parse.h"

/*
 * Built rtnetlink messages through the parser into the states, as the rtnl
 * instance feeds them: each object's record before and after.  The events
 * come back as short lines: "link.state vA routable<degraded",
 * "net.online inet vA 10.0.0.1".
 */

#define MAX_OBJS 64
#define MAX_LINES 64

static struct {
	char key[96];
	struct nlh_event ev;
} objs[MAX_OBJS];
static size_t n_objs;
static char lines[MAX_LINES][128];
static size_t n_lines;
static struct opstate *os;

static void sink(void *data, struct nlh_event *ev)
{
	char *l = lines[n_lines];
	char gw[64] = "";

	assert_true(n_lines < MAX_LINES);
	switch (ev->type) {
	case NLH_EV_LINK_STATE:
		assert_true(NLH_HAS(ev, LINK, state));
		snprintf(l, sizeof(lines[0]), "link.state %s %s<%s", ev->link.ifname, ev->link.state,
			 NLH_HAS(ev, LINK, prev_state) ? ev->link.prev_state : "");
		break;
	case NLH_EV_NET_STATE:
		snprintf(l, sizeof(lines[0]), "net.state %s<%s", ev->net.state, ev->net.prev_state);
		break;
	case NLH_EV_NET_ONLINE:
	case NLH_EV_NET_OFFLINE:
		if (NLH_HAS(ev, NET, gateway))
			nlh_addr_format(&ev->net.gateway, false, gw, sizeof(gw));
		snprintf(l, sizeof(lines[0]), "%s %s %s %s", nlh_event_type_name(ev->type), ev->net.family,
			 ev->net.ifname, gw);
		break;
	default:
		fail_msg("unexpected event %s", nlh_event_type_name(ev->type));
	}
	n_lines++;
}

/* The identity rtnl gives each object. */
static void obj_key(const struct nlh_event *ev, char *key, size_t size)
{
	char a[64];

	switch (nlh_event_type_class(ev->type)) {
	case NLH_CLASS_ADDR:
		nlh_addr_format(&ev->addr.address, false, a, sizeof(a));
		snprintf(key, size, "addr %u %s", ev->addr.ifindex, a);
		return;
	case NLH_CLASS_ROUTE:
		nlh_addr_format(&ev->route.dst, true, a, sizeof(a));
		snprintf(key, size, "route %u %u %s %s", ev->route.table, ev->route.metric, ev->route.family, a);
		return;
	default:
		snprintf(key, size, "link %u", ev->link.ifindex);
	}
}

/* One message, as the rtnl instance passes it on. */
static void feed_emit(const struct nlmsghdr *nlh, bool emit)
{
	struct nlh_event ev;
	char key[96];
	size_t i;

	assert_int_equal(rtnl_parse(nlh, &ev), 0);
	obj_key(&ev, key, sizeof(key));
	for (i = 0; i < n_objs && strcmp(objs[i].key, key); i++)
		;
	if (ev.type == NLH_EV_LINK_DEL || ev.type == NLH_EV_ADDR_DEL || ev.type == NLH_EV_ROUTE_DEL) {
		assert_true(i < n_objs);
		opstate_notify(os, &objs[i].ev, NULL, emit);
		objs[i] = objs[--n_objs];
		return;
	}
	if (ev.type == NLH_EV_LINK_NEW && !NLH_HAS(&ev, LINK, ifname) && i < n_objs)
		ev.link = objs[i].ev.link;
	if (i == n_objs) {
		assert_true(n_objs < MAX_OBJS);
		snprintf(objs[n_objs].key, sizeof(objs[0].key), "%s", key);
		n_objs++;
		objs[i].ev = ev;
		opstate_notify(os, NULL, &objs[i].ev, emit);
	} else {
		struct nlh_event old = objs[i].ev;

		objs[i].ev = ev;
		opstate_notify(os, &old, &objs[i].ev, emit);
	}
}

static void feed(const struct nlmsghdr *nlh)
{
	feed_emit(nlh, true);
}

static int setup(void **state)
{
	os = opstate_new(&(struct nlh_sink){ sink, NULL });
	n_objs = n_lines = 0;
	return os ? 0 : -1;
}

static int teardown(void **state)
{
	opstate_free(os);
	os = NULL;
	return 0;
}

/* The lines raised since the last call, joined with "; ". */
static const char *took(void)
{
	static char out[4096];
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n_lines; i++)
		o += snprintf(out + o, sizeof(out) - o, "%s%s", i ? "; " : "", lines[i]);
	n_lines = 0;
	return out;
}

#define UPC (IFF_UP | IFF_RUNNING | IFF_LOWER_UP)

static void link_msg(uint16_t type, int ifindex, unsigned int flags, const char *name, uint8_t oper, int master)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_link(&b, type, ifindex, flags, name, 1500, oper);

	if (master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	feed(nlh);
}

static void addr_msg(uint16_t type, int family, int ifindex, const char *a, uint8_t scope, uint32_t flags)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_addr(&b, type, family, ifindex, a, family == AF_INET ? 24 : 64, scope);

	if (flags)
		mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
	feed(nlh);
}

static void default_msg(uint16_t type, int family, const char *gw, int oif, uint32_t table)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_route(&b, type, family, NULL, 0, gw, oif, 0);

	((struct rtmsg *)mnl_nlmsg_get_payload(nlh))->rtm_table = table;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	feed(nlh);
}

/* networkd's table of carrier state and address state. */
static void test_combine(void **state)
{
	static const struct {
		enum opstate_state carrier;
		enum opstate_state off, degraded, routable;
	} table[] = {
		{ OPSTATE_OFF, OPSTATE_OFF, OPSTATE_OFF, OPSTATE_OFF },
		{ OPSTATE_NO_CARRIER, OPSTATE_NO_CARRIER, OPSTATE_NO_CARRIER, OPSTATE_NO_CARRIER },
		{ OPSTATE_DORMANT, OPSTATE_DORMANT, OPSTATE_DORMANT, OPSTATE_DORMANT },
		{ OPSTATE_DEGRADED_CARRIER, OPSTATE_DEGRADED_CARRIER, OPSTATE_DEGRADED, OPSTATE_ROUTABLE },
		{ OPSTATE_CARRIER, OPSTATE_CARRIER, OPSTATE_DEGRADED, OPSTATE_ROUTABLE },
		{ OPSTATE_ENSLAVED, OPSTATE_ENSLAVED, OPSTATE_ENSLAVED, OPSTATE_ROUTABLE },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_int_equal(opstate_combine(table[i].carrier, RT_SCOPE_NOWHERE), table[i].off);
		assert_int_equal(opstate_combine(table[i].carrier, RT_SCOPE_HOST), table[i].off);
		assert_int_equal(opstate_combine(table[i].carrier, RT_SCOPE_LINK), table[i].degraded);
		assert_int_equal(opstate_combine(table[i].carrier, RT_SCOPE_SITE), table[i].degraded);
		assert_int_equal(opstate_combine(table[i].carrier, RT_SCOPE_UNIVERSE), table[i].routable);
		/* A scope below site that is not universe counts as global too. */
		assert_int_equal(opstate_combine(table[i].carrier, 100), table[i].routable);
	}
	for (int s = 0; s < _OPSTATE_MAX; s++)
		assert_int_equal(opstate_from_name(opstate_name(s)), s);
	assert_int_equal(opstate_from_name("up"), -ENOENT);
}

/* The kernel's operstate first; unknown falls back to the flags. */
static void test_carrier(void **state)
{
	static const struct {
		unsigned int flags;
		uint8_t oper;
		int master;
		enum opstate_state want;
	} cases[] = {
		{ 0, IF_OPER_DOWN, 0, OPSTATE_OFF },
		{ IFF_UP, IF_OPER_LOWERLAYERDOWN, 0, OPSTATE_NO_CARRIER },
		{ IFF_UP | IFF_LOWER_UP, IF_OPER_DORMANT, 0, OPSTATE_DORMANT },
		{ UPC, IF_OPER_UP, 0, OPSTATE_CARRIER },
		{ UPC, IF_OPER_UNKNOWN, 0, OPSTATE_CARRIER },
		{ UPC | IFF_DORMANT, IF_OPER_UNKNOWN, 0, OPSTATE_NO_CARRIER },
		{ IFF_UP | IFF_LOWER_UP, IF_OPER_UNKNOWN, 0, OPSTATE_NO_CARRIER },
		{ UPC, IF_OPER_UP, 9, OPSTATE_ENSLAVED },
		{ UPC | IFF_SLAVE, IF_OPER_UP, 0, OPSTATE_ENSLAVED },
		{ IFF_UP | IFF_SLAVE, IF_OPER_DOWN, 9, OPSTATE_NO_CARRIER },
		/* A master index naming the link itself is no master. */
		{ UPC, IF_OPER_UP, 5, OPSTATE_CARRIER },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nlbuf b;
		struct nlmsghdr *nlh = nlb_link(&b, RTM_NEWLINK, 5, cases[i].flags, "x", 0, cases[i].oper);
		struct nlh_event ev;

		if (cases[i].master)
			mnl_attr_put_u32(nlh, IFLA_MASTER, cases[i].master);
		assert_int_equal(rtnl_parse(nlh, &ev), 0);
		assert_int_equal(opstate_carrier(&ev), cases[i].want);
	}
}

/* Every transition of one link, one event each, none for a message that changes no state. */
static void test_link_transitions(void **state)
{
	link_msg(RTM_NEWLINK, 1, IFF_LOOPBACK | UPC, "lo", IF_OPER_UNKNOWN, 0);
	assert_string_equal(took(), "link.state lo carrier<");
	assert_string_equal(opstate_name(opstate_net(os)), "off");

	link_msg(RTM_NEWLINK, 3, 0, "vA", IF_OPER_DOWN, 0);
	assert_string_equal(took(), "link.state vA off<");
	link_msg(RTM_NEWLINK, 3, IFF_UP, "vA", IF_OPER_LOWERLAYERDOWN, 0);
	assert_string_equal(took(), "link.state vA no-carrier<off; net.state no-carrier<off");
	link_msg(RTM_NEWLINK, 3, UPC, "vA", IF_OPER_UP, 0);
	assert_string_equal(took(), "link.state vA carrier<no-carrier; net.state carrier<no-carrier");
	/* The same state again (an MTU or statistics message): nothing. */
	link_msg(RTM_NEWLINK, 3, UPC, "vA", IF_OPER_UP, 0);
	assert_string_equal(took(), "");

	/* Link-local only: a tentative one does not count until DAD is done. */
	addr_msg(RTM_NEWADDR, AF_INET6, 3, "fe80::1", RT_SCOPE_LINK, IFA_F_TENTATIVE | IFA_F_PERMANENT);
	assert_string_equal(took(), "");
	addr_msg(RTM_NEWADDR, AF_INET6, 3, "fe80::1", RT_SCOPE_LINK, IFA_F_PERMANENT);
	assert_string_equal(took(), "link.state vA degraded<carrier; net.state degraded<carrier");
	assert_string_equal(opstate_link(os, 3), "degraded");

	addr_msg(RTM_NEWADDR, AF_INET, 3, "10.0.0.2", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT);
	assert_string_equal(took(), "link.state vA routable<degraded; net.state routable<degraded");
	/* A second global address changes nothing; losing one of the two neither. */
	addr_msg(RTM_NEWADDR, AF_INET6, 3, "2001:db8::2", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT);
	addr_msg(RTM_DELADDR, AF_INET, 3, "10.0.0.2", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT);
	assert_string_equal(took(), "");
	addr_msg(RTM_DELADDR, AF_INET6, 3, "2001:db8::2", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT);
	assert_string_equal(took(), "link.state vA degraded<routable; net.state degraded<routable");
	/* A site-scoped address is no better than a link-local one. */
	addr_msg(RTM_NEWADDR, AF_INET6, 3, "fec0::2", RT_SCOPE_SITE, 0);
	assert_string_equal(took(), "");

	link_msg(RTM_NEWLINK, 3, IFF_UP | IFF_LOWER_UP, "vA", IF_OPER_DORMANT, 0);
	assert_string_equal(took(), "link.state vA dormant<degraded; net.state dormant<degraded");
	link_msg(RTM_NEWLINK, 3, 0, "vA", IF_OPER_DOWN, 0);
	assert_string_equal(took(), "link.state vA off<dormant; net.state off<dormant");
	/* Gone: no link.state of its own; loopback alone leaves net.state off. */
	link_msg(RTM_DELLINK, 3, 0, "vA", IF_OPER_DOWN, 0);
	assert_string_equal(took(), "");
	assert_null(opstate_link(os, 3));
	assert_string_equal(opstate_link(os, 1), "carrier");
}

/* An IPv6 address whose DAD failed stays tentative: never routable. */
static void test_tentative_global(void **state)
{
	link_msg(RTM_NEWLINK, 4, UPC, "vB", IF_OPER_UP, 0);
	took();
	addr_msg(RTM_NEWADDR, AF_INET6, 4, "2001:db8::4", RT_SCOPE_UNIVERSE, IFA_F_TENTATIVE);
	addr_msg(RTM_NEWADDR, AF_INET6, 4, "2001:db8::4", RT_SCOPE_UNIVERSE, IFA_F_TENTATIVE | IFA_F_DADFAILED);
	assert_string_equal(took(), "");
	assert_string_equal(opstate_link(os, 4), "carrier");
	addr_msg(RTM_NEWADDR, AF_INET6, 4, "2001:db8::5", RT_SCOPE_UNIVERSE, IFA_F_TENTATIVE);
	addr_msg(RTM_NEWADDR, AF_INET6, 4, "2001:db8::5", RT_SCOPE_UNIVERSE, 0);
	assert_string_equal(took(), "link.state vB routable<carrier; net.state routable<carrier");
}

/* Ports of a bridge are enslaved; a port without carrier degrades its master's carrier. */
static void test_ports(void **state)
{
	/* The ports come first, as a dump in ifindex order may have them. */
	link_msg(RTM_NEWLINK, 5, UPC, "p1", IF_OPER_UP, 7);
	assert_string_equal(took(), "link.state p1 enslaved<; net.state enslaved<off");
	link_msg(RTM_NEWLINK, 6, IFF_UP, "p2", IF_OPER_LOWERLAYERDOWN, 7);
	assert_string_equal(took(), "link.state p2 no-carrier<");
	link_msg(RTM_NEWLINK, 7, UPC, "br0", IF_OPER_UP, 0);
	assert_string_equal(took(), "link.state br0 degraded-carrier<");
	addr_msg(RTM_NEWADDR, AF_INET, 7, "10.1.0.1", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT);
	assert_string_equal(took(), "link.state br0 routable<degraded-carrier; net.state routable<enslaved");
	addr_msg(RTM_DELADDR, AF_INET, 7, "10.1.0.1", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT);
	assert_string_equal(took(), "link.state br0 degraded-carrier<routable; net.state enslaved<routable");
	link_msg(RTM_NEWLINK, 6, UPC, "p2", IF_OPER_UP, 7);
	assert_string_equal(took(), "link.state p2 enslaved<no-carrier; link.state br0 carrier<degraded-carrier");
	/* An address on a port leaves it enslaved; a global one makes it routable. */
	addr_msg(RTM_NEWADDR, AF_INET6, 5, "fe80::5", RT_SCOPE_LINK, IFA_F_PERMANENT);
	assert_string_equal(took(), "");
	/* Released: a port no more. */
	link_msg(RTM_NEWLINK, 6, UPC, "p2", IF_OPER_UP, 0);
	assert_string_equal(took(), "link.state p2 carrier<enslaved");
	link_msg(RTM_NEWLINK, 5, IFF_UP | IFF_SLAVE, "p1", IF_OPER_LOWERLAYERDOWN, 7);
	assert_string_equal(took(), "link.state p1 no-carrier<enslaved; link.state br0 degraded-carrier<carrier; "
				    "net.state carrier<enslaved");
	link_msg(RTM_DELLINK, 5, IFF_UP, "p1", IF_OPER_LOWERLAYERDOWN, 7);
	assert_string_equal(took(), "link.state br0 carrier<degraded-carrier");
}

/* Online: the first default route of the main table through a routable link; offline: the last gone. */
static void test_online(void **state)
{
	link_msg(RTM_NEWLINK, 3, UPC, "vA", IF_OPER_UP, 0);
	addr_msg(RTM_NEWADDR, AF_INET6, 3, "fe80::1", RT_SCOPE_LINK, IFA_F_PERMANENT);
	took();
	/* Through a link that is not routable, or in another table: not online. */
	default_msg(RTM_NEWROUTE, AF_INET6, "fe80::99", 3, RT_TABLE_MAIN);
	default_msg(RTM_NEWROUTE, AF_INET, "10.0.0.9", 3, 100);
	assert_string_equal(took(), "");
	assert_false(opstate_online(os));
	addr_msg(RTM_NEWADDR, AF_INET6, 3, "2001:db8::1", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT);
	assert_string_equal(took(), "link.state vA routable<degraded; net.state routable<degraded; "
				    "net.online inet6 vA fe80::99");
	default_msg(RTM_NEWROUTE, AF_INET, "10.0.0.1", 3, RT_TABLE_MAIN);
	assert_string_equal(took(), "");
	default_msg(RTM_DELROUTE, AF_INET6, "fe80::99", 3, RT_TABLE_MAIN);
	assert_string_equal(took(), "");
	assert_true(opstate_online(os));
	/* The link stops being routable: the route through it made the change. */
	addr_msg(RTM_DELADDR, AF_INET6, 3, "2001:db8::1", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT);
	assert_string_equal(took(), "link.state vA degraded<routable; net.state degraded<routable; "
				    "net.offline inet vA 10.0.0.1");
	addr_msg(RTM_NEWADDR, AF_INET, 3, "10.0.0.2", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT);
	assert_string_equal(took(), "link.state vA routable<degraded; net.state routable<degraded; "
				    "net.online inet vA 10.0.0.1");
	default_msg(RTM_DELROUTE, AF_INET, "10.0.0.1", 3, RT_TABLE_MAIN);
	assert_string_equal(took(), "net.offline inet vA 10.0.0.1");
	assert_false(opstate_online(os));
}

/* A start-up dump sets the states quietly; the first change after it says where it came from. */
static void test_quiet_dump(void **state)
{
	struct nlbuf b;

	feed_emit(nlb_link(&b, RTM_NEWLINK, 3, UPC, "vA", 1500, IF_OPER_UP), false);
	feed_emit(nlb_addr(&b, RTM_NEWADDR, AF_INET, 3, "10.0.0.2", 24, RT_SCOPE_UNIVERSE), false);
	feed_emit(nlb_route(&b, RTM_NEWROUTE, AF_INET, NULL, 0, "10.0.0.1", 3, 0), false);
	assert_string_equal(took(), "");
	assert_string_equal(opstate_link(os, 3), "routable");
	assert_string_equal(opstate_name(opstate_net(os)), "routable");
	assert_true(opstate_online(os));
	link_msg(RTM_NEWLINK, 3, IFF_UP, "vA", IF_OPER_LOWERLAYERDOWN, 0);
	assert_string_equal(took(), "link.state vA no-carrier<routable; net.state no-carrier<routable; "
				    "net.offline inet vA 10.0.0.1");
}

static void test_scope_numbers(void **state)
{
	struct nlbuf b;
	struct nlh_event ev;

	assert_int_equal(rtnl_parse(nlb_addr(&b, RTM_NEWADDR, AF_INET, 3, "10.0.0.2", 24, 100), &ev), 0);
	assert_int_equal(opstate_addr_scope(&ev), 100);
	assert_int_equal(rtnl_parse(nlb_addr(&b, RTM_NEWADDR, AF_INET, 3, "10.0.0.2", 24, RT_SCOPE_HOST), &ev), 0);
	assert_int_equal(opstate_addr_scope(&ev), RT_SCOPE_HOST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_combine),
		cmocka_unit_test(test_carrier),
		cmocka_unit_test_setup_teardown(test_link_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tentative_global, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_online, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet_dump, setup, teardown),
		cmocka_unit_test(test_scope_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
