/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/event.h"
#include "core/event-json.h"

static void test_types(void **state)
{
	assert_int_equal(nlh_event_type_from_name("link.up"), NLH_EV_LINK_UP);
	assert_int_equal(nlh_event_type_from_name("link.sideways"), -ENOENT);
	assert_string_equal(nlh_event_type_name(NLH_EV_WIFI_IFACE_NEW), "wifi.iface.new");
	assert_true(nlh_event_types_glob("link.*") ==
		    (NLH_TYPE_BIT(NLH_EV_LINK_NEW) | NLH_TYPE_BIT(NLH_EV_LINK_DEL) | NLH_TYPE_BIT(NLH_EV_LINK_UP) |
		     NLH_TYPE_BIT(NLH_EV_LINK_DOWN) | NLH_TYPE_BIT(NLH_EV_LINK_CARRIER) |
		     NLH_TYPE_BIT(NLH_EV_LINK_NOCARRIER) | NLH_TYPE_BIT(NLH_EV_LINK_RENAME) |
		     NLH_TYPE_BIT(NLH_EV_LINK_STATE)));
	assert_true(nlh_event_types_glob("wifi.iface.*") ==
		    (NLH_TYPE_BIT(NLH_EV_WIFI_IFACE_NEW) | NLH_TYPE_BIT(NLH_EV_WIFI_IFACE_DEL)));
	assert_true(nlh_event_types_glob("wifi.station.*") ==
		    (NLH_TYPE_BIT(NLH_EV_WIFI_STATION_NEW) | NLH_TYPE_BIT(NLH_EV_WIFI_STATION_DEL)));
	assert_int_equal(nlh_event_types_glob("nope.*"), 0);
	assert_int_equal(nlh_event_type_class(NLH_EV_NFLOG), NLH_CLASS_NFLOG);
	assert_non_null(nlh_field_find(NLH_CLASS_ROUTE, "gateway"));
	assert_null(nlh_field_find(NLH_CLASS_ROUTE, "ssid"));
}

static void test_addr(void **state)
{
	struct nlh_addr a, p;
	char buf[64];

	assert_int_equal(nlh_addr_parse("10.1.2.3", &a), 0);
	assert_int_equal(a.plen, 32);
	assert_int_equal(nlh_addr_parse("10.0.0.0/8", &p), 0);
	assert_true(nlh_addr_in_prefix(&a, &p));
	assert_int_equal(nlh_addr_parse("10.0.0.0/9", &p), 0);
	assert_true(nlh_addr_in_prefix(&a, &p));
	assert_int_equal(nlh_addr_parse("10.128.0.0/9", &p), 0);
	assert_false(nlh_addr_in_prefix(&a, &p));
	assert_int_equal(nlh_addr_parse("2001:db8::/32", &p), 0);
	assert_false(nlh_addr_in_prefix(&a, &p));
	assert_int_equal(nlh_addr_parse("2001:db8:1::5", &a), 0);
	assert_true(nlh_addr_in_prefix(&a, &p));
	/* a shorter prefix is not inside a longer one */
	assert_int_equal(nlh_addr_parse("2001:db8::/16", &a), 0);
	assert_false(nlh_addr_in_prefix(&a, &p));
	assert_int_equal(nlh_addr_parse("default", &p), 0);
	assert_false(nlh_addr_in_prefix(&a, &p));
	assert_int_equal(nlh_addr_parse("0.0.0.0/0", &a), 0);
	assert_true(nlh_addr_in_prefix(&a, &p));
	assert_int_equal(nlh_addr_format(&a, true, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "default");
	assert_int_equal(nlh_addr_parse("10.0.0.0/33", &a), -EINVAL);
	assert_int_equal(nlh_addr_parse("10.0.0.0/", &a), -EINVAL);
	assert_int_equal(nlh_addr_parse("eth0", &a), -EINVAL);
	assert_int_equal(nlh_addr_parse("fe80::1/64x", &a), -EINVAL);
}

/* Addresses and times are written without printf: as inet_ntop and "%.6f" write them. */
static void test_formatters(void **state)
{
	static const char *const six[] = {
		"::", "::1", "1::", "fe80::1", "2001:db8::1:0:0:1", "2001:0:0:1::1", "::ffff:10.1.2.3",
		"::10.1.2.3", "::ffff:0:10.1.2.3", "1:0:0:0:0:0:0:8", "0:0:1::", "ff02::1:ff00:1",
	};
	struct nlh_addr a = { .family = AF_INET6, .plen = 128 };
	struct nlh_event ev;
	char buf[256], want[256];
	unsigned int seed = 1;

	for (size_t i = 0; i < 20000; i++) {
		if (i < sizeof(six) / sizeof(six[0])) {
			assert_int_equal(inet_pton(AF_INET6, six[i], a.a), 1);
		} else {
			/* Words of zero often, so that runs of every length and place come up. */
			for (int w = 0; w < 8; w++) {
				unsigned int v = rand_r(&seed) % 4 ? 0 : rand_r(&seed) & (rand_r(&seed) % 2 ? 0xffff : 0xf);

				a.a[2 * w] = v >> 8;
				a.a[2 * w + 1] = v & 0xff;
			}
		}
		a.family = i % 3 ? AF_INET6 : AF_INET;
		assert_non_null(inet_ntop(a.family, a.a, want, sizeof(want)));
		assert_int_equal(nlh_addr_format(&a, false, buf, sizeof(buf)), strlen(want));
		assert_string_equal(buf, want);
	}
	nlh_event_init(&ev, NLH_EV_NLHOOK_START);
	for (size_t i = 0; i < 20000; i++) {
		double t = i % 2 ? rand_r(&seed) / 1000.0 + (double)rand_r(&seed) / RAND_MAX :
				   1700000000 + i * 0.0000005 + (i % 4 ? 0 : 0.0000000001);
		char *p;

		if (i == 0)
			t = 0.25;
		else if (i == 2)
			t = 1.9999995;
		ev.time = t;
		snprintf(want, sizeof(want), "%.6f", t);
		assert_true(nlh_event_json(&ev, buf, sizeof(buf)) > 0);
		p = strstr(buf, "\"time\":") + 7;
		p[strcspn(p, ",}")] = '\0';
		assert_string_equal(p, want);
	}
}

static void test_ssid_escape(void **state)
{
	struct nlh_ssid s = { 6, { 'C', 'a', 0, '\\', 0xff, '"' } };
	char buf[64];

	assert_int_equal(nlh_ssid_format(&s, buf, sizeof(buf)), 15);
	assert_string_equal(buf, "Ca\\x00\\x5c\\xff\"");
	/* too small: cut at an escape boundary, still terminated */
	assert_int_equal(nlh_ssid_format(&s, buf, 5), -ENOSPC);
	assert_string_equal(buf, "Ca");
}

static void wifi_event(struct nlh_event *ev)
{
	nlh_event_init(ev, NLH_EV_WIFI_CONNECT);
	ev->time = 1700000000.25;
	strcpy(ev->wifi.ifname, "wlan1");
	NLH_SET(ev, WIFI, ifname);
	ev->wifi.ifindex = 4;
	NLH_SET(ev, WIFI, ifindex);
	ev->wifi.bssid = (struct nlh_hwaddr){ 6, { 2, 0, 0, 0, 1, 0 } };
	NLH_SET(ev, WIFI, bssid);
	ev->wifi.ssid = (struct nlh_ssid){ 8, { 'C', 'a', 'f', 'e', '"', 'N', 0, 0xe9 } };
	NLH_SET(ev, WIFI, ssid);
	ev->wifi.by_ap = true;
	NLH_SET(ev, WIFI, by_ap);
}

static void test_json(void **state)
{
	struct nlh_event ev;
	char buf[512];

	wifi_event(&ev);
	assert_true(nlh_event_json(&ev, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"type\":\"wifi.connect\",\"time\":1700000000.250000,\"ifname\":\"wlan1\","
				 "\"ifindex\":4,\"bssid\":\"02:00:00:00:01:00\","
				 "\"ssid\":\"Cafe\\\"N\\\\x00\\\\xe9\",\"by_ap\":true}");
	/* truncation is reported, the buffer stays a string */
	assert_int_equal(nlh_event_json(&ev, buf, 20), -ENOSPC);
	assert_int_equal(strlen(buf), 19);
}

static void test_text_and_payload(void **state)
{
	static const uint8_t payload[] = { 0x45, 0x00, 0xab };
	struct nlh_event ev;
	char buf[512];

	nlh_event_init(&ev, NLH_EV_NFLOG);
	strcpy(ev.nflog.prefix, "DROP in");
	NLH_SET(&ev, NFLOG, prefix);
	ev.nflog.dport = 22;
	NLH_SET(&ev, NFLOG, dport);
	ev.nflog.payload = (struct nlh_bytes){ payload, sizeof(payload) };
	NLH_SET(&ev, NFLOG, payload);
	assert_true(nlh_event_text(&ev, false, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "nflog prefix=\"DROP in\" dport=22 payload=4500ab");
}

/* What a DEL_STATION raises: the station, and what STA_INFO said of it. */
static void station_event(struct nlh_event *ev, enum nlh_event_type t)
{
	nlh_event_init(ev, t);
	ev->time = 1700000000.5;
	strcpy(ev->wifi.ifname, "wlan0");
	NLH_SET(ev, WIFI, ifname);
	ev->wifi.ifindex = 3;
	NLH_SET(ev, WIFI, ifindex);
	ev->wifi.mac = (struct nlh_hwaddr){ 6, { 2, 0, 0, 0, 2, 0 } };
	NLH_SET(ev, WIFI, mac);
	strcpy(ev->wifi.iftype, "ap");
	NLH_SET(ev, WIFI, iftype);
	ev->wifi.ssid = (struct nlh_ssid){ 7, { 'C', 'a', 'f', 'e', 'N', 'e', 't' } };
	NLH_SET(ev, WIFI, ssid);
	if (t != NLH_EV_WIFI_STATION_DEL)
		return;
	ev->wifi.connected_time = 2;
	NLH_SET(ev, WIFI, connected_time);
	ev->wifi.rx_bytes = UINT64_C(5000000000);
	NLH_SET(ev, WIFI, rx_bytes);
	ev->wifi.tx_bytes = 409;
	NLH_SET(ev, WIFI, tx_bytes);
	ev->wifi.signal = -30;
	NLH_SET(ev, WIFI, signal);
}

static void test_station(void **state)
{
	struct nlh_event ev;
	char buf[512];

	/* the human line says it as iw event does, then the other fields */
	station_event(&ev, NLH_EV_WIFI_STATION_NEW);
	assert_true(nlh_event_text(&ev, false, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "wlan0: new station 02:00:00:00:02:00 ifindex=3 iftype=ap ssid=CafeNet");
	station_event(&ev, NLH_EV_WIFI_STATION_DEL);
	ev.netns = "blue";
	assert_true(nlh_event_text(&ev, false, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "wlan0: del station 02:00:00:00:02:00 netns=blue ifindex=3 iftype=ap ssid=CafeNet "
				 "connected_time=2 rx_bytes=5000000000 tx_bytes=409 signal=-30");
	/* JSON: the signed field is a negative number */
	assert_true(nlh_event_json(&ev, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"type\":\"wifi.station.del\",\"time\":1700000000.500000,\"netns\":\"blue\","
				 "\"ifname\":\"wlan0\",\"ifindex\":3,\"mac\":\"02:00:00:00:02:00\",\"iftype\":\"ap\","
				 "\"ssid\":\"CafeNet\",\"connected_time\":2,\"rx_bytes\":5000000000,\"tx_bytes\":409,"
				 "\"signal\":-30}");
	/* without its interface's name, the generic form */
	ev.netns = NULL;
	ev.present &= ~(UINT64_C(1) << NLH_F_WIFI_ifname);
	assert_true(nlh_event_text(&ev, false, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "wifi.station.del ifindex=3 mac=02:00:00:00:02:00 iftype=ap ssid=CafeNet "
				 "connected_time=2 rx_bytes=5000000000 tx_bytes=409 signal=-30");
}

static void test_env(void **state)
{
	struct nlh_event ev;
	char **env;
	int found = 0;

	wifi_event(&ev);
	env = nlh_event_env(&ev);
	assert_non_null(env);
	for (char **e = env; *e; e++) {
		if (!strcmp(*e, "NLHOOK_TYPE=wifi.connect") || !strcmp(*e, "NLHOOK_IFNAME=wlan1") ||
		    !strcmp(*e, "NLHOOK_BSSID=02:00:00:00:01:00") || !strcmp(*e, "NLHOOK_BY_AP=true") ||
		    !strcmp(*e, "NLHOOK_SSID=Cafe\"N\\x00\\xe9") || !strncmp(*e, "PATH=/", 6) ||
		    !strncmp(*e, "NLHOOK_EVENT={\"type\":\"wifi.connect\"", 35))
			found++;
		assert_null(strstr(*e, "NLHOOK_FREQ"));
	}
	assert_int_equal(found, 7);
	free(env);

	station_event(&ev, NLH_EV_WIFI_STATION_DEL);
	env = nlh_event_env(&ev);
	assert_non_null(env);
	found = 0;
	for (char **e = env; *e; e++)
		found += !strcmp(*e, "NLHOOK_SIGNAL=-30") || !strcmp(*e, "NLHOOK_MAC=02:00:00:00:02:00") ||
			 !strcmp(*e, "NLHOOK_CONNECTED_TIME=2") || !strcmp(*e, "NLHOOK_IFTYPE=ap");
	assert_int_equal(found, 4);
	free(env);
}

static bool env_has(char **env, const char *var)
{
	for (char **e = env; *e; e++)
		if (!strcmp(*e, var))
			return true;
	return false;
}

/* Every rendering of text: UTF-8 as itself, other bytes as \xNN. */
static void test_text_fields(void **state)
{
	struct json_doc *doc = NULL;
	struct nlh_event ev;
	char buf[1024], err[128];
	char **env;

	nlh_event_init(&ev, NLH_EV_LINK_UP);
	ev.time = 1;
	strcpy(ev.link.ifname, "caf\xc3\xa9" "0");
	NLH_SET(&ev, LINK, ifname);
	strcpy(ev.link.kind, "a\\b\x1b[1m");
	NLH_SET(&ev, LINK, kind);
	ev.netns = "r\xc3\xa9seau\xfe";
	assert_true(nlh_event_json(&ev, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"type\":\"link.up\",\"time\":1.000000,\"netns\":\"r\xc3\xa9seau\\\\xfe\","
				 "\"ifname\":\"caf\xc3\xa9" "0\",\"kind\":\"a\\\\x5cb\\\\x1b[1m\"}");
	if (json_parse_utf8(buf, strlen(buf), &doc, err, sizeof(err)) < 0)
		fail_msg("%s: %s", buf, err);
	json_doc_free(doc);
	assert_true(nlh_event_text(&ev, false, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "link.up netns=r\xc3\xa9seau\\xfe ifname=caf\xc3\xa9" "0 kind=a\\x5cb\\x1b[1m");
	env = nlh_event_env(&ev);
	assert_non_null(env);
	assert_true(env_has(env, "NLHOOK_IFNAME=caf\xc3\xa9" "0"));
	assert_true(env_has(env, "NLHOOK_KIND=a\\x5cb\\x1b[1m"));
	free(env);

	/* A byte that is not UTF-8; the longest prefix, all escaped, fits every rendering. */
	nlh_event_init(&ev, NLH_EV_NFLOG);
	ev.time = 1;
	memset(ev.nflog.prefix, 0xff, sizeof(ev.nflog.prefix) - 1);
	NLH_SET(&ev, NFLOG, prefix);
	strcpy(ev.nflog.indev, "caf\xff" "0");
	NLH_SET(&ev, NFLOG, indev);
	assert_true(nlh_event_text(&ev, false, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " indev=caf\\xff0"));
	assert_int_equal(strlen(strstr(buf, "prefix=") + 7) - strlen(" indev=caf\\xff0"), 4 * 63);
	assert_true(nlh_event_json(&ev, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"indev\":\"caf\\\\xff0\""));
	env = nlh_event_env(&ev);
	assert_true(env_has(env, "NLHOOK_INDEV=caf\\xff0"));
	free(env);
}

/* What monitor --json prints, nlhook test --event reads back unchanged. */
static void roundtrip(const struct nlh_event *ev)
{
	char a[2048], b[2048], err[128] = "";
	struct json_doc *doc = NULL;
	struct nlh_event back;
	uint8_t payload[64];

	assert_true(nlh_event_json(ev, a, sizeof(a)) > 0);
	assert_int_equal(json_parse(a, strlen(a), &doc, err, sizeof(err)), 0);
	if (nlh_event_from_json(json_root(doc), &back, payload, sizeof(payload), err, sizeof(err)) < 0)
		fail_msg("%s: %s", a, err);
	assert_true(nlh_event_json(&back, b, sizeof(b)) > 0);
	assert_string_equal(a, b);
	json_doc_free(doc);
}

static void test_json_roundtrip(void **state)
{
	static const uint8_t payload[] = { 0x45, 0x00, 0xab };
	struct nlh_event ev;

	wifi_event(&ev);
	roundtrip(&ev);
	station_event(&ev, NLH_EV_WIFI_STATION_DEL);
	roundtrip(&ev);
	ev.wifi.signal = INT32_MIN;
	roundtrip(&ev);

	nlh_event_init(&ev, NLH_EV_ROUTE_ADD);
	strcpy(ev.route.family, "inet6");
	NLH_SET(&ev, ROUTE, family);
	ev.route.dst.family = AF_INET6;
	NLH_SET(&ev, ROUTE, dst);
	nlh_addr_parse("fe80::1", &ev.route.gateway);
	NLH_SET(&ev, ROUTE, gateway);
	ev.route.metric = 4294967295u;
	NLH_SET(&ev, ROUTE, metric);
	roundtrip(&ev);

	nlh_event_init(&ev, NLH_EV_NFLOG);
	ev.nflog.payload = (struct nlh_bytes){ payload, sizeof(payload) };
	NLH_SET(&ev, NFLOG, payload);
	nlh_addr_parse("10.0.0.1", &ev.nflog.src);
	NLH_SET(&ev, NFLOG, src);
	strcpy(ev.nflog.prefix, "caf\xc3\xa9 \\\xff\x01");
	NLH_SET(&ev, NFLOG, prefix);
	roundtrip(&ev);
}

/* Random bytes in every text field come back as the same bytes. */
static void test_json_roundtrip_random(void **state)
{
	unsigned int seed = 3;
	char a[2048], err[128] = "";
	uint8_t payload[4];

	for (int iter = 0; iter < 5000; iter++) {
		struct json_doc *doc = NULL;
		struct nlh_event ev, back;
		size_t n = 1 + rand_r(&seed) % (IFNAMSIZ - 1);

		nlh_event_init(&ev, NLH_EV_WIFI_CONNECT);
		for (size_t i = 0; i < n; i++)
			ev.wifi.ifname[i] = 1 + rand_r(&seed) % 255;
		NLH_SET(&ev, WIFI, ifname);
		ev.wifi.ssid.len = rand_r(&seed) % (NLH_SSID_MAX + 1);
		for (size_t i = 0; i < ev.wifi.ssid.len; i++)
			ev.wifi.ssid.b[i] = rand_r(&seed) >> 8;
		NLH_SET(&ev, WIFI, ssid);
		assert_true(nlh_event_json(&ev, a, sizeof(a)) > 0);
		if (json_parse_utf8(a, strlen(a), &doc, err, sizeof(err)) < 0)
			fail_msg("not UTF-8 JSON: %s: %s", a, err);
		if (nlh_event_from_json(json_root(doc), &back, payload, sizeof(payload), err, sizeof(err)) < 0)
			fail_msg("%s: %s", a, err);
		assert_string_equal(back.wifi.ifname, ev.wifi.ifname);
		assert_int_equal(back.wifi.ssid.len, ev.wifi.ssid.len);
		assert_memory_equal(back.wifi.ssid.b, ev.wifi.ssid.b, ev.wifi.ssid.len);
		json_doc_free(doc);
	}
}

static void from_json_bad(const char *json, const char *want)
{
	char err[128] = "";
	struct json_doc *doc = NULL;
	struct nlh_event ev;
	uint8_t payload[4];

	assert_int_equal(json_parse(json, strlen(json), &doc, err, sizeof(err)), 0);
	assert_int_equal(nlh_event_from_json(json_root(doc), &ev, payload, sizeof(payload), err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("%s: error '%s' lacks '%s'", json, err, want);
	json_doc_free(doc);
}

static void test_json_bad_events(void **state)
{
	from_json_bad("[]", "JSON object");
	from_json_bad("{\"ifname\":\"x\"}", "\"type\" missing");
	from_json_bad("{\"type\":\"link.sideways\"}", "unknown event type");
	from_json_bad("{\"type\":\"link.up\",\"ssid\":\"x\"}", "no field 'ssid'");
	from_json_bad("{\"type\":\"link.up\",\"ifname\":\"01234567890123456\"}", "field 'ifname'");
	from_json_bad("{\"type\":\"link.up\",\"mtu\":-1}", "field 'mtu'");
	from_json_bad("{\"type\":\"link.up\",\"mtu\":1.5}", "field 'mtu'");
	from_json_bad("{\"type\":\"link.up\",\"mtu\":4294967296}", "field 'mtu'");
	from_json_bad("{\"type\":\"link.up\",\"up\":\"yes\"}", "field 'up'");
	from_json_bad("{\"type\":\"link.up\",\"mac\":\"02:00:0\"}", "field 'mac'");
	from_json_bad("{\"type\":\"addr.add\",\"address\":\"10.0.0.0/8\"}", "field 'address'");
	from_json_bad("{\"type\":\"wifi.connect\",\"ssid\":\"012345678901234567890123456789012\"}",
		      "field 'ssid': longer than 32 bytes");
	from_json_bad("{\"type\":\"nflog\",\"payload\":\"0102030405\"}", "field 'payload'");
	from_json_bad("{\"type\":\"wifi.station.del\",\"signal\":-2147483649}", "field 'signal'");
	from_json_bad("{\"type\":\"wifi.station.del\",\"signal\":2147483648}", "field 'signal'");
	from_json_bad("{\"type\":\"wifi.station.del\",\"signal\":-30.5}", "field 'signal'");
	from_json_bad("{\"type\":\"wifi.station.del\",\"signal\":\"-30\"}", "field 'signal'");
	from_json_bad("{\"type\":\"nflog\",\"payload\":\"zz\"}", "field 'payload'");
	/* Text must be in the form nlhook writes it: the error names the field. */
	from_json_bad("{\"type\":\"link.up\",\"ifname\":\"caf\\\\xzz\"}", "field 'ifname': not text as nlhook writes it");
	from_json_bad("{\"type\":\"link.up\",\"ifname\":\"a\\\\b\"}", "field 'ifname': not text");
	from_json_bad("{\"type\":\"link.up\",\"ifname\":\"caf\xff\"}", "field 'ifname': not text");
	from_json_bad("{\"type\":\"link.up\",\"kind\":\"a\\u0001\"}", "field 'kind': not text");
	from_json_bad("{\"type\":\"link.up\",\"ifname\":\"a\\\\x00\"}", "field 'ifname': not text");
	from_json_bad("{\"type\":\"nflog\",\"prefix\":\"\xc2\x85\"}", "field 'prefix': not text");
	from_json_bad("{\"type\":\"link.up\",\"ifname\":\"\\\\xff\\\\xff\\\\xff\\\\xff\\\\xff\\\\xff"
		      "\\\\xff\\\\xff\\\\xff\\\\xff\\\\xff\\\\xff\\\\xff\\\\xff\\\\xff\\\\xff\"}",
		      "field 'ifname': longer than 15 bytes");
	from_json_bad("{\"type\":\"wifi.connect\",\"ssid\":\"\\\\x4\"}", "field 'ssid': not text");
	from_json_bad("{\"type\":\"link.up\",\"mac\":\"02:00:00:00:00:01\\u0000\"}", "field 'mac'");
	/* nsid: an int32 from 0, whatever the number's size */
	from_json_bad("{\"type\":\"link.up\",\"nsid\":-1}", "\"nsid\"");
	from_json_bad("{\"type\":\"link.up\",\"nsid\":2147483648}", "\"nsid\"");
	from_json_bad("{\"type\":\"link.up\",\"nsid\":2222222222222222222222222222222222222222222222222222}", "\"nsid\"");
	from_json_bad("{\"type\":\"link.up\",\"nsid\":0.5}", "\"nsid\"");
	from_json_bad("{\"type\":\"link.up\",\"nsid\":2.9e26}", "\"nsid\": a number from 0 expected");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_formatters),
		cmocka_unit_test(test_ssid_escape),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_text_and_payload),
		cmocka_unit_test(test_station),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_text_fields),
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_json_roundtrip_random),
		cmocka_unit_test(test_json_bad_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
