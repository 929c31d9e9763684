/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/event.h"
#include "rules/match.h"

/* Compile text as the CLI would, match, clear. */
static bool m(const struct nlh_event *ev, const char *field, const char *pattern)
{
	const struct nlh_field *f = nlh_field_find(nlh_event_type_class(ev->type), field);
	struct nlh_pattern p;
	bool r;

	assert_non_null(f);
	assert_int_equal(nlh_pattern_from_string(pattern, f, &p), 0);
	r = nlh_pattern_match(&p, ev, f);
	nlh_pattern_clear(&p);
	return r;
}

static void link_event(struct nlh_event *ev, const char *ifname)
{
	nlh_event_init(ev, NLH_EV_LINK_UP);
	nlh_strlcpy(ev->link.ifname, ifname, sizeof(ev->link.ifname));
	NLH_SET(ev, LINK, ifname);
	ev->link.mtu = 1500;
	NLH_SET(ev, LINK, mtu);
	ev->link.up = true;
	NLH_SET(ev, LINK, up);
	ev->link.carrier = false;
	NLH_SET(ev, LINK, carrier);
	ev->link.mac.len = 6;
	memcpy(ev->link.mac.a, "\x02\x00\x00\xaa\xbb\xcc", 6);
	NLH_SET(ev, LINK, mac);
}

static void test_glob(void **state)
{
	struct nlh_event ev;

	link_event(&ev, "eth0");
	assert_true(m(&ev, "ifname", "eth*"));
	assert_true(m(&ev, "ifname", "eth0"));
	assert_true(m(&ev, "ifname", "e?h[0-9]"));
	assert_false(m(&ev, "ifname", "wlan*"));
	assert_false(m(&ev, "ifname", "eth"));
	assert_true(m(&ev, "ifname", "!lo"));
	assert_false(m(&ev, "ifname", "!eth*"));
	/* Globs run on the field's text, numbers and hardware addresses included. */
	assert_true(m(&ev, "mtu", "15*"));
	assert_true(m(&ev, "mac", "02:00:00:*"));
	assert_false(m(&ev, "mac", "02:00:01:*"));
	/* Commas are not split: one pattern. */
	assert_false(m(&ev, "ifname", "eth0,lo"));
}

static void test_absent(void **state)
{
	struct nlh_event ev;

	link_event(&ev, "eth0");
	/* kind is not set: nothing matches it, a negation neither. */
	assert_false(m(&ev, "kind", "*"));
	assert_false(m(&ev, "kind", "!vlan"));
	assert_false(m(&ev, "master", "!*"));
	assert_false(m(&ev, "ifindex", "0"));
}

static void test_numbers_bools(void **state)
{
	const struct nlh_field *mtu = nlh_field_find(NLH_CLASS_LINK, "mtu");
	const struct nlh_field *ifname = nlh_field_find(NLH_CLASS_LINK, "ifname");
	const struct nlh_field *up = nlh_field_find(NLH_CLASS_LINK, "up");
	struct nlh_pattern p;
	struct nlh_event ev;

	link_event(&ev, "eth0");
	assert_int_equal(nlh_pattern_from_string("1500", mtu, &p), 0);
	assert_int_equal(p.kind, NLH_PAT_NUM);
	assert_int_equal(p.num, 1500);
	assert_true(nlh_pattern_match(&p, &ev, mtu));
	nlh_pattern_clear(&p);
	assert_false(m(&ev, "mtu", "9000"));
	assert_int_equal(nlh_pattern_from_string("4294967296", mtu, &p), -ERANGE);

	/* "42" on a string field is a glob, not a number. */
	assert_int_equal(nlh_pattern_from_string("42", ifname, &p), 0);
	assert_int_equal(p.kind, NLH_PAT_GLOB);
	nlh_pattern_clear(&p);

	assert_int_equal(nlh_pattern_from_string("true", up, &p), 0);
	assert_int_equal(p.kind, NLH_PAT_NUM);
	assert_true(nlh_pattern_match(&p, &ev, up));
	nlh_pattern_clear(&p);
	assert_false(m(&ev, "up", "false"));
	assert_true(m(&ev, "carrier", "false"));
	assert_false(m(&ev, "carrier", "true"));

	/* A 64-bit field: equality on the whole value. */
	nlh_event_init(&ev, NLH_EV_NLHOOK_DROP);
	ev.self.count = UINT64_C(5000000000);
	NLH_SET(&ev, SELF, count);
	assert_true(m(&ev, "count", "5000000000"));
	assert_false(m(&ev, "count", "705032704"));	/* the low 32 bits */
}

/* A signed field (dBm): negative numbers are numbers, the rest globs. */
static void test_signed(void **state)
{
	const struct nlh_field *signal = nlh_field_find(NLH_CLASS_WIFI, "signal");
	struct nlh_pattern p;
	struct nlh_event ev;

	nlh_event_init(&ev, NLH_EV_WIFI_STATION_DEL);
	ev.wifi.signal = -30;
	NLH_SET(&ev, WIFI, signal);
	assert_int_equal(nlh_pattern_from_string("-30", signal, &p), 0);
	assert_int_equal(p.kind, NLH_PAT_NUM);
	nlh_pattern_clear(&p);
	assert_true(m(&ev, "signal", "-30"));
	assert_false(m(&ev, "signal", "30"));
	assert_false(m(&ev, "signal", "-3"));
	assert_true(m(&ev, "signal", "-3*"));
	assert_true(m(&ev, "signal", "!-4*"));
	ev.wifi.signal = 7;
	assert_true(m(&ev, "signal", "7"));
	assert_false(m(&ev, "signal", "-7"));
	ev.wifi.signal = INT32_MIN;
	assert_true(m(&ev, "signal", "-2147483648"));
	assert_int_equal(nlh_pattern_from_string("-2147483649", signal, &p), -ERANGE);
	assert_int_equal(nlh_pattern_from_string("2147483648", signal, &p), -ERANGE);
	/* "-" alone is a glob */
	assert_int_equal(nlh_pattern_from_string("-", signal, &p), 0);
	assert_int_equal(p.kind, NLH_PAT_GLOB);
	nlh_pattern_clear(&p);
}

static void test_cidr_addr(void **state)
{
	const struct nlh_field *f = nlh_field_find(NLH_CLASS_ADDR, "address");
	struct nlh_pattern p;
	struct nlh_event ev;

	nlh_event_init(&ev, NLH_EV_ADDR_ADD);
	assert_int_equal(nlh_addr_parse("10.1.2.3", &ev.addr.address), 0);
	/* As the kernel reports it: the address with its prefix length. */
	ev.addr.address.plen = 24;
	NLH_SET(&ev, ADDR, address);

	assert_int_equal(nlh_pattern_from_string("10.0.0.0/8", f, &p), 0);
	assert_int_equal(p.kind, NLH_PAT_CIDR);
	nlh_pattern_clear(&p);
	assert_true(m(&ev, "address", "10.0.0.0/8"));
	assert_true(m(&ev, "address", "10.1.2.0/24"));
	assert_true(m(&ev, "address", "10.1.2.3"));
	assert_true(m(&ev, "address", "10.1.2.3/32"));
	assert_false(m(&ev, "address", "10.1.2.4"));
	assert_false(m(&ev, "address", "192.168.0.0/16"));
	assert_false(m(&ev, "address", "::/0"));
	assert_true(m(&ev, "address", "0.0.0.0/0"));
	assert_true(m(&ev, "address", "10.1.*"));		/* not an address: a glob */
	assert_false(m(&ev, "address", "default"));		/* an address is no zero-length prefix */

	assert_int_equal(nlh_addr_parse("2001:db8::1", &ev.addr.address), 0);
	ev.addr.address.plen = 64;
	assert_true(m(&ev, "address", "2001:db8::/32"));
	assert_true(m(&ev, "address", "2001:db8::1"));
	assert_false(m(&ev, "address", "2001:db9::/32"));
	assert_false(m(&ev, "address", "10.0.0.0/8"));
	assert_true(m(&ev, "address", "::/0"));
}

static void test_cidr_prefix(void **state)
{
	struct nlh_event ev;

	nlh_event_init(&ev, NLH_EV_ROUTE_ADD);
	assert_int_equal(nlh_addr_parse("10.1.0.0/16", &ev.route.dst), 0);
	NLH_SET(&ev, ROUTE, dst);
	assert_true(m(&ev, "dst", "10.0.0.0/8"));
	assert_true(m(&ev, "dst", "10.1.0.0/16"));
	/* A wider route is not inside a narrower pattern. */
	assert_false(m(&ev, "dst", "10.1.2.0/24"));
	assert_false(m(&ev, "dst", "default"));
	assert_true(m(&ev, "dst", "0.0.0.0/0"));

	/* The default route: "default" matches only a zero-length prefix, of either family. */
	ev.route.dst = (struct nlh_addr){ .family = AF_INET, .plen = 0 };
	assert_true(m(&ev, "dst", "default"));
	assert_false(m(&ev, "dst", "10.0.0.0/8"));
	ev.route.dst = (struct nlh_addr){ .family = AF_INET6, .plen = 0 };
	assert_true(m(&ev, "dst", "default"));
	assert_int_equal(nlh_addr_parse("2001:db8:1::/48", &ev.route.dst), 0);
	assert_true(m(&ev, "dst", "2001:db8::/32"));
	assert_false(m(&ev, "dst", "default"));

	/* A gateway is an ADDR field of the route class. */
	assert_int_equal(nlh_addr_parse("192.168.1.1", &ev.route.gateway), 0);
	NLH_SET(&ev, ROUTE, gateway);
	assert_true(m(&ev, "gateway", "192.168.1.0/24"));
	assert_false(m(&ev, "gateway", "192.168.2.0/24"));
}

static void test_list(void **state)
{
	const struct nlh_field *f = nlh_field_find(NLH_CLASS_LINK, "ifname");
	struct nlh_pattern p = { .kind = NLH_PAT_ANY };
	struct nlh_event ev;

	p.sub = calloc(2, sizeof(*p.sub));
	assert_non_null(p.sub);
	p.n_sub = 2;
	assert_int_equal(nlh_pattern_from_string("eth*", f, &p.sub[0]), 0);
	assert_int_equal(nlh_pattern_from_string("en*", f, &p.sub[1]), 0);

	link_event(&ev, "enp3s0");
	assert_true(nlh_pattern_match(&p, &ev, f));
	link_event(&ev, "eth1");
	assert_true(nlh_pattern_match(&p, &ev, f));
	link_event(&ev, "wlan0");
	assert_false(nlh_pattern_match(&p, &ev, f));
	ev.present = 0;
	assert_false(nlh_pattern_match(&p, &ev, f));
	nlh_pattern_clear(&p);
	assert_null(p.sub);
}

static void test_terms(void **state)
{
	struct nlh_match_term t[2] = {};
	struct nlh_event ev;

	t[0].field = nlh_field_find(NLH_CLASS_LINK, "ifname");
	t[1].field = nlh_field_find(NLH_CLASS_LINK, "mtu");
	assert_int_equal(nlh_pattern_from_string("eth*", t[0].field, &t[0].pat), 0);
	assert_int_equal(nlh_pattern_from_string("1500", t[1].field, &t[1].pat), 0);
	link_event(&ev, "eth0");
	assert_true(nlh_match_terms(t, 2, &ev));
	assert_true(nlh_match_terms(t, 0, &ev));
	ev.link.mtu = 9000;
	assert_false(nlh_match_terms(t, 2, &ev));
	assert_true(nlh_match_terms(t, 1, &ev));
	/* A predicate is the caller's to test: C matching lets it through. */
	nlh_pattern_clear(&t[1].pat);
	t[1].pat = (struct nlh_pattern){ .kind = NLH_PAT_FUNC, .func_ref = 3 };
	assert_true(nlh_match_terms(t, 2, &ev));
	nlh_pattern_clear(&t[0].pat);
}

static void test_ssid(void **state)
{
	const struct nlh_field *f = nlh_field_find(NLH_CLASS_WIFI, "ssid");
	static const char raw[] = { 'C', 'a', 'f', 'e', '\0', 'X' };
	struct nlh_pattern p;
	struct nlh_event ev;

	nlh_event_init(&ev, NLH_EV_WIFI_CONNECT);
	ev.wifi.ssid.len = sizeof(raw);
	memcpy(ev.wifi.ssid.b, raw, sizeof(raw));
	NLH_SET(&ev, WIFI, ssid);

	/* No glob characters: the bytes, NUL included, compared exactly. */
	assert_int_equal(nlh_pattern_from_bytes(raw, sizeof(raw), f, &p), 0);
	assert_true(nlh_pattern_match(&p, &ev, f));
	nlh_pattern_clear(&p);
	assert_int_equal(nlh_pattern_from_bytes(raw, 4, f, &p), 0);	/* "Cafe": a prefix is not equal */
	assert_false(nlh_pattern_match(&p, &ev, f));
	nlh_pattern_clear(&p);
	assert_int_equal(nlh_pattern_from_bytes("Cafe\0Y", 6, f, &p), 0);
	assert_false(nlh_pattern_match(&p, &ev, f));
	nlh_pattern_clear(&p);
	/* A glob runs on the escaped text. */
	assert_true(m(&ev, "ssid", "Cafe*"));
	assert_true(m(&ev, "ssid", "Cafe\\\\x00X"));
	assert_false(m(&ev, "ssid", "Cafe?X"));
	/* NUL in a glob, or in a pattern for a C-string field, cannot match anything: refused. */
	assert_int_equal(nlh_pattern_from_bytes("Ca*\0", 4, f, &p), -EINVAL);
	assert_int_equal(nlh_pattern_from_bytes("et\0h", 4, nlh_field_find(NLH_CLASS_WIFI, "ifname"), &p), -EINVAL);

	ev.wifi.ssid.len = 7;
	memcpy(ev.wifi.ssid.b, "CafeNet", 7);
	assert_true(m(&ev, "ssid", "CafeNet"));
	assert_false(m(&ev, "ssid", "cafenet"));
	assert_true(m(&ev, "ssid", "!Home*"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_numbers_bools),
		cmocka_unit_test(test_signed),
		cmocka_unit_test(test_cidr_addr),
		cmocka_unit_test(test_cidr_prefix),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_terms),
		cmocka_unit_test(test_ssid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
