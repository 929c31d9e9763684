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

/* Why the last pattern was refused. */
static char err[256];

/* Compile text as the CLI would, match, clear. */
static bool m(const struct nlh_event *ev, const char *field, const char *pattern)
{
	const struct nlh_field *f = nlh_field_find(nlh_event_type_class(ev->type), field);
	struct nlh_pattern p;
	bool r;

	assert_non_null(f);
	if (nlh_pattern_from_string(pattern, f, &p, err, sizeof(err)) < 0)
		fail_msg("%s = '%s' refused: %s", field, pattern, err);
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
	assert_int_equal(nlh_pattern_from_string("1500", mtu, &p, err, sizeof(err)), 0);
	assert_int_equal(p.kind, NLH_PAT_NUM);
	assert_int_equal(p.num, 1500);
	assert_true(nlh_pattern_match(&p, &ev, mtu));
	nlh_pattern_clear(&p);
	assert_false(m(&ev, "mtu", "9000"));
	assert_int_equal(nlh_pattern_from_string("4294967296", mtu, &p, err, sizeof(err)), -ERANGE);

	/* "42" on a string field is a glob, not a number. */
	assert_int_equal(nlh_pattern_from_string("42", ifname, &p, err, sizeof(err)), 0);
	assert_int_equal(p.kind, NLH_PAT_GLOB);
	nlh_pattern_clear(&p);

	assert_int_equal(nlh_pattern_from_string("true", up, &p, err, sizeof(err)), 0);
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

/* A signed field (dBm): negative numbers are numbers; globs match its text. */
static void test_signed(void **state)
{
	const struct nlh_field *signal = nlh_field_find(NLH_CLASS_WIFI, "signal");
	struct nlh_pattern p;
	struct nlh_event ev;

	nlh_event_init(&ev, NLH_EV_WIFI_STATION_DEL);
	ev.wifi.signal = -30;
	NLH_SET(&ev, WIFI, signal);
	assert_int_equal(nlh_pattern_from_string("-30", signal, &p, err, sizeof(err)), 0);
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
	assert_int_equal(nlh_pattern_from_string("-2147483649", signal, &p, err, sizeof(err)), -ERANGE);
	assert_int_equal(nlh_pattern_from_string("2147483648", signal, &p, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "out of range (-2147483648..2147483647)"));
	/* "-" alone is neither a number nor a glob */
	assert_int_equal(nlh_pattern_from_string("-", signal, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "neither a number"));
	assert_int_equal(nlh_pattern_from_string("-3x", signal, &p, err, sizeof(err)), -EINVAL);
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

	assert_int_equal(nlh_pattern_from_string("10.0.0.0/8", f, &p, err, sizeof(err)), 0);
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
	assert_int_equal(nlh_pattern_from_string("eth*", f, &p.sub[0], err, sizeof(err)), 0);
	assert_int_equal(nlh_pattern_from_string("en*", f, &p.sub[1], err, sizeof(err)), 0);

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
	assert_int_equal(nlh_pattern_from_string("eth*", t[0].field, &t[0].pat, err, sizeof(err)), 0);
	assert_int_equal(nlh_pattern_from_string("1500", t[1].field, &t[1].pat, err, sizeof(err)), 0);
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
	assert_int_equal(nlh_pattern_from_bytes(raw, sizeof(raw), f, &p, err, sizeof(err)), 0);
	assert_true(nlh_pattern_match(&p, &ev, f));
	nlh_pattern_clear(&p);
	assert_int_equal(nlh_pattern_from_bytes(raw, 4, f, &p, err, sizeof(err)), 0);	/* "Cafe": a prefix is not equal */
	assert_false(nlh_pattern_match(&p, &ev, f));
	nlh_pattern_clear(&p);
	assert_int_equal(nlh_pattern_from_bytes("Cafe\0Y", 6, f, &p, err, sizeof(err)), 0);
	assert_false(nlh_pattern_match(&p, &ev, f));
	nlh_pattern_clear(&p);
	/* A glob runs on the text, where the NUL is \x00; the same escape in a pattern is that byte. */
	assert_true(m(&ev, "ssid", "Cafe*"));
	assert_true(m(&ev, "ssid", "Cafe\\x00X"));
	assert_true(m(&ev, "ssid", "Cafe\\x00*"));
	assert_false(m(&ev, "ssid", "Cafe?X"));
	assert_int_equal(nlh_pattern_from_bytes("Ca*\0", 4, f, &p, err, sizeof(err)), 0);
	assert_false(nlh_pattern_match(&p, &ev, f));
	nlh_pattern_clear(&p);
	/* A NUL in a pattern for a C-string field cannot match anything: refused. */
	assert_int_equal(nlh_pattern_from_bytes("et\0h", 4, nlh_field_find(NLH_CLASS_WIFI, "ifname"), &p, err,
						sizeof(err)), -EINVAL);

	ev.wifi.ssid.len = 7;
	memcpy(ev.wifi.ssid.b, "CafeNet", 7);
	assert_true(m(&ev, "ssid", "CafeNet"));
	assert_false(m(&ev, "ssid", "cafenet"));
	assert_true(m(&ev, "ssid", "!Home*"));
}

static void refused(enum nlh_class c, const char *field, const char *pattern, int code, const char *why);

/* Raw bytes (as Lua handlers get them) and the text rendering both match. */
static void test_text(void **state)
{
	const struct nlh_field *f = nlh_field_find(NLH_CLASS_LINK, "ifname");
	struct nlh_pattern p;
	struct nlh_event ev;

	link_event(&ev, "caf\xc3\xa9" "0");
	assert_true(m(&ev, "ifname", "caf\xc3\xa9" "0"));
	assert_true(m(&ev, "ifname", "caf*"));
	assert_true(m(&ev, "ifname", "*\xc3\xa9*"));
	/* \xNN in a pattern is that byte, part of a character or not. */
	assert_true(m(&ev, "ifname", "caf\\xc3\\xa90"));

	link_event(&ev, "caf\xff" "0");
	assert_int_equal(nlh_pattern_from_string("caf\xff" "0", f, &p, err, sizeof(err)), 0);
	assert_true(nlh_pattern_match(&p, &ev, f));
	nlh_pattern_clear(&p);
	assert_true(m(&ev, "ifname", "caf\\xff0"));		/* as monitor shows it */
	assert_true(m(&ev, "ifname", "caf\\xFF0"));
	assert_true(m(&ev, "ifname", "caf\\x*"));
	assert_true(m(&ev, "ifname", "caf\xff*"));		/* a raw byte in a glob: the same text */
	assert_false(m(&ev, "ifname", "cafxff0"));
	assert_false(m(&ev, "ifname", "!caf\\xff0"));

	/* A backslash is the text \x5c: globs have no backslash escapes. */
	link_event(&ev, "a\\b*");
	assert_true(m(&ev, "ifname", "a\\x5cb*"));
	assert_false(m(&ev, "ifname", "a\\b*"));	/* a glob: a backslash, then 'b' */
	refused(NLH_CLASS_LINK, "ifname", "a\\b", -EINVAL, "write a backslash as \\x5c");
	assert_true(m(&ev, "ifname", "a\\x5cb[*]"));
	assert_false(m(&ev, "ifname", "a\\x5cbc"));
	assert_true(m(&ev, "ifname", "!a\\x5cbc"));
	/* A leading '!' to match is written \x21. */
	link_event(&ev, "!x");
	assert_true(m(&ev, "ifname", "\\x21x"));
	assert_true(m(&ev, "ifname", "!x"));	/* not "x" */
	assert_false(m(&ev, "ifname", "!!x"));	/* not "!x" */
}

static void test_negation(void **state)
{
	struct nlh_event ev;

	/* Every kind of pattern: an address outside the prefix, another number, the other boolean. */
	nlh_event_init(&ev, NLH_EV_ADDR_ADD);
	assert_int_equal(nlh_addr_parse("10.1.2.3", &ev.addr.address), 0);
	NLH_SET(&ev, ADDR, address);
	ev.addr.prefixlen = 8;
	NLH_SET(&ev, ADDR, prefixlen);
	assert_false(m(&ev, "address", "!10.0.0.0/8"));
	assert_true(m(&ev, "address", "!192.168.0.0/16"));
	assert_false(m(&ev, "address", "!10.1.2.3"));
	assert_true(m(&ev, "address", "!fe80::/10"));
	assert_false(m(&ev, "prefixlen", "!8"));
	assert_true(m(&ev, "prefixlen", "!24"));
	assert_false(m(&ev, "address", "!10.1.*"));
	/* An absent field never matches, negated or not. */
	assert_false(m(&ev, "label", "!x"));
	assert_false(m(&ev, "ifindex", "!5"));

	link_event(&ev, "eth0");
	assert_false(m(&ev, "up", "!true"));
	assert_true(m(&ev, "up", "!false"));
	assert_true(m(&ev, "carrier", "!true"));
	assert_false(m(&ev, "mtu", "!1500"));
	assert_true(m(&ev, "mtu", "!9000"));
	assert_false(m(&ev, "mtu", "!15*"));
	assert_false(m(&ev, "mac", "!02:00:00:AA:BB:CC"));

	nlh_event_init(&ev, NLH_EV_ROUTE_ADD);
	ev.route.dst = (struct nlh_addr){ .family = AF_INET, .plen = 0 };
	NLH_SET(&ev, ROUTE, dst);
	assert_false(m(&ev, "dst", "!default"));
	assert_false(m(&ev, "dst", "!0.0.0.0/0"));
	assert_int_equal(nlh_addr_parse("10.9.0.0/16", &ev.route.dst), 0);
	assert_true(m(&ev, "dst", "!default"));
	assert_false(m(&ev, "dst", "!10.0.0.0/8"));
	assert_false(m(&ev, "gateway", "!10.0.0.0/8"));	/* absent */
}

static void test_hwaddr_case(void **state)
{
	struct nlh_event ev;

	link_event(&ev, "eth0");
	ev.link.mac = (struct nlh_hwaddr){ 6, { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff } };
	assert_true(m(&ev, "mac", "AA:BB:*"));
	assert_true(m(&ev, "mac", "aa:bb:*"));
	assert_true(m(&ev, "mac", "AA:BB:CC:DD:EE:FF"));
	assert_true(m(&ev, "mac", "Aa:bB:cC:dD:eE:fF"));
	assert_true(m(&ev, "mac", "*:[A-F][A-F]"));
	assert_false(m(&ev, "mac", "AA:BB:CC:DD:EE:FE"));
	assert_false(m(&ev, "mac", "!AA:BB:CC:DD:EE:FF"));
	assert_true(m(&ev, "mac", "!AA:BB:CC:DD:EE:FE"));
}

/* A pattern that can never match is refused, with the reason. */
static void refused(enum nlh_class c, const char *field, const char *pattern, int code, const char *why)
{
	const struct nlh_field *f = nlh_field_find(c, field);
	struct nlh_pattern p = {};

	assert_non_null(f);
	err[0] = '\0';
	if (nlh_pattern_from_string(pattern, f, &p, err, sizeof(err)) != code)
		fail_msg("%s = '%s': not refused with %d (%s)", field, pattern, code, err);
	if (!strstr(err, why))
		fail_msg("%s = '%s': '%s' lacks '%s'", field, pattern, err, why);
}

static void test_impossible(void **state)
{
	refused(NLH_CLASS_ROUTE, "dst", "10.0.0.0/33", -EINVAL, "neither an address, a prefix");
	refused(NLH_CLASS_ROUTE, "dst", "!10.0.0.0/33", -EINVAL, "'10.0.0.0/33'");
	refused(NLH_CLASS_ADDR, "address", "10.0.0.256/8", -EINVAL, "'10.0.0.256/8'");
	refused(NLH_CLASS_ADDR, "address", "default", -EINVAL, "'default' is a route's dst");
	refused(NLH_CLASS_NFLOG, "src", "eth0", -EINVAL, "neither an address");
	refused(NLH_CLASS_LINK, "mtu", "4294967296", -ERANGE, "out of range (0..4294967295)");
	refused(NLH_CLASS_LINK, "mtu", "99999999999999999999999", -ERANGE, "out of range");
	refused(NLH_CLASS_SELF, "count", "18446744073709551616", -ERANGE, "out of range (0..18446744073709551615)");
	refused(NLH_CLASS_LINK, "mtu", "-1", -EINVAL, "neither a number");
	refused(NLH_CLASS_LINK, "mtu", "abc", -EINVAL, "'abc' is neither a number (0..4294967295) nor a glob");
	refused(NLH_CLASS_LINK, "mtu", "!abc", -EINVAL, "'abc'");
	refused(NLH_CLASS_LINK, "mtu", "", -EINVAL, "neither a number");
	refused(NLH_CLASS_LINK, "mtu", " 1500", -EINVAL, "neither a number");
	refused(NLH_CLASS_LINK, "up", "yes", -EINVAL, "neither true, false nor a glob");
	refused(NLH_CLASS_LINK, "mac", "02:00:0", -EINVAL, "'02:00:0' is neither");
	refused(NLH_CLASS_LINK, "mac", "zz:00", -EINVAL, "hardware address");
	refused(NLH_CLASS_NFLOG, "payload", "4500a", -EINVAL, "hex");
	refused(NLH_CLASS_LINK, "ifname", "a\\x00", -EINVAL, "NUL");
	/* The reason names the pattern as text: a control byte shows as \xNN. */
	refused(NLH_CLASS_LINK, "mtu", "1\n", -EINVAL, "'1\\x0a'");
}

/* With glob characters a string stays a glob on the field's text. */
static void test_globs_stay(void **state)
{
	struct nlh_event ev;

	link_event(&ev, "eth0");
	assert_true(m(&ev, "mtu", "1*"));
	assert_true(m(&ev, "mtu", "15?0"));
	assert_false(m(&ev, "mtu", "9*"));
	assert_true(m(&ev, "up", "t*"));
	assert_true(m(&ev, "mac", "02:*"));
	nlh_event_init(&ev, NLH_EV_ADDR_ADD);
	assert_int_equal(nlh_addr_parse("fe80::1", &ev.addr.address), 0);
	NLH_SET(&ev, ADDR, address);
	assert_true(m(&ev, "address", "fe80:*"));
	assert_true(m(&ev, "address", "!10.*"));
}

static void test_groups_plain(void **state)
{
	const struct nlh_field *f = nlh_field_find(NLH_CLASS_NFLOG, "group");
	struct nlh_pattern p = { .kind = NLH_PAT_ANY };
	struct nlh_want w = {};

	p.sub = calloc(2, sizeof(*p.sub));
	assert_non_null(p.sub);
	p.n_sub = 2;
	assert_int_equal(nlh_pattern_from_string("10", f, &p.sub[0], err, sizeof(err)), 0);
	assert_int_equal(nlh_pattern_from_string("65535", f, &p.sub[1], err, sizeof(err)), 0);
	assert_true(nlh_pattern_groups_plain(&p));
	nlh_pattern_want_groups(&p, &w);
	assert_int_equal(w.n_nflog_groups, 2);
	nlh_pattern_clear(&p.sub[1]);
	assert_int_equal(nlh_pattern_from_string("!11", f, &p.sub[1], err, sizeof(err)), 0);
	assert_false(nlh_pattern_groups_plain(&p));
	nlh_pattern_clear(&p.sub[1]);
	assert_int_equal(nlh_pattern_from_string("1*", f, &p.sub[1], err, sizeof(err)), 0);
	assert_false(nlh_pattern_groups_plain(&p));
	nlh_pattern_clear(&p.sub[1]);
	assert_int_equal(nlh_pattern_from_string("70000", f, &p.sub[1], err, sizeof(err)), 0);
	assert_false(nlh_pattern_groups_plain(&p));
	/* Only plain numbers are bound. */
	memset(&w, 0, sizeof(w));
	nlh_pattern_want_groups(&p, &w);
	assert_int_equal(w.n_nflog_groups, 1);
	assert_int_equal(w.nflog_groups[0], 10);
	nlh_pattern_clear(&p);
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
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_negation),
		cmocka_unit_test(test_hwaddr_case),
		cmocka_unit_test(test_impossible),
		cmocka_unit_test(test_globs_stay),
		cmocka_unit_test(test_groups_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
