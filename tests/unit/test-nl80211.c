/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/nl80211.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "nl80211/nl80211-parse.h"

static void test_ie_ssid(void **state)
{
	struct nlh_ssid s;
	uint8_t ies[64];

	/* rates first, then the SSID */
	memcpy(ies, "\x01\x02\x82\x84\x00\x07" "CafeNet", 13);
	assert_int_equal(nl80211_ie_ssid(ies, 13, &s), 0);
	assert_int_equal(s.len, 7);
	assert_memory_equal(s.b, "CafeNet", 7);
	/* no SSID element */
	assert_int_equal(nl80211_ie_ssid(ies, 4, &s), -ENODATA);
	/* zero-length SSID (hidden) */
	assert_int_equal(nl80211_ie_ssid((const uint8_t *)"\x00\x00", 2, &s), 0);
	assert_int_equal(s.len, 0);
	/* 32 bytes with NUL and non-UTF-8 bytes: kept as bytes */
	ies[0] = 0, ies[1] = 32;
	for (int i = 0; i < 32; i++)
		ies[2 + i] = i * 8;
	assert_int_equal(nl80211_ie_ssid(ies, 34, &s), 0);
	assert_int_equal(s.len, 32);
	assert_memory_equal(s.b, ies + 2, 32);
	/* 33 bytes: not an SSID */
	ies[1] = 33;
	assert_int_equal(nl80211_ie_ssid(ies, 35, &s), -EBADMSG);
	/* an element running past the list */
	assert_int_equal(nl80211_ie_ssid((const uint8_t *)"\x01\x09\x82", 3, &s), -EBADMSG);
	/* a lone byte after the last element */
	assert_int_equal(nl80211_ie_ssid((const uint8_t *)"\x01\x01\x82\x05", 4, &s), -EBADMSG);
}

static char buf[4096] __attribute__((aligned(8)));

static struct nlmsghdr *msg(uint16_t family, uint8_t cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = family;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	return nlh;
}

static void test_connect_and_derivations(void **state)
{
	static const uint8_t ap1[6] = { 2, 0, 0, 0, 0, 0 }, ap2[6] = { 2, 0, 0, 0, 1, 0 };
	struct nl80211_ids ids = { .family = 30 };
	struct nl80211_track t = {};
	struct nlh_event ev, extra, link;
	struct nlmsghdr *nlh;

	/* a connect whose SSID, with a NUL in it, is only in the request elements */
	nlh = msg(30, NL80211_CMD_CONNECT);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 5);
	mnl_attr_put(nlh, NL80211_ATTR_MAC, 6, ap1);
	mnl_attr_put_u16(nlh, NL80211_ATTR_STATUS_CODE, 0);
	mnl_attr_put(nlh, NL80211_ATTR_REQ_IE, 6, "\x00\x04" "Ca\0e");
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_int_equal(ev.type, NLH_EV_WIFI_CONNECT);
	assert_int_equal(ev.wifi.ssid.len, 4);
	assert_memory_equal(ev.wifi.ssid.b, "Ca\0e", 4);
	assert_int_equal(nl80211_track_wifi(&t, &ev, &extra), 0);

	/* operstate up after the connect: authorized, once */
	nlh_event_init(&link, NLH_EV_LINK_NEW);
	link.link.ifindex = 5;
	strcpy(link.link.ifname, "wlan2");
	strcpy(link.link.operstate, "up");
	NLH_SET(&link, LINK, operstate);
	assert_int_equal(nl80211_track_link(&t, &link, &ev), 1);
	assert_int_equal(ev.type, NLH_EV_WIFI_AUTHORIZED);
	assert_string_equal(ev.wifi.ifname, "wlan2");
	assert_int_equal(nl80211_track_link(&t, &link, &ev), 0);

	/* disconnect, then a connect to the other BSS of the same SSID: a roam */
	nlh = msg(30, NL80211_CMD_DISCONNECT);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 5);
	mnl_attr_put_u16(nlh, NL80211_ATTR_REASON_CODE, 1);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_false(ev.wifi.by_ap);
	nl80211_track_wifi(&t, &ev, &extra);
	assert_int_equal(ev.wifi.ssid.len, 4);	/* from the connection */
	nlh = msg(30, NL80211_CMD_CONNECT);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 5);
	mnl_attr_put(nlh, NL80211_ATTR_MAC, 6, ap2);
	mnl_attr_put(nlh, NL80211_ATTR_RESP_IE, 6, "\x00\x04" "Ca\0e");
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_int_equal(nl80211_track_wifi(&t, &ev, &extra), 1);
	assert_int_equal(extra.type, NLH_EV_WIFI_ROAM);
	assert_memory_equal(extra.wifi.prev_bssid.a, ap1, 6);
	assert_memory_equal(extra.wifi.bssid.a, ap2, 6);

	/* another family id, a reply to someone, a wdev without netdev: no event */
	nlh = msg(31, NL80211_CMD_CONNECT);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), -ENODATA);
	nlh = msg(30, NL80211_CMD_CONNECT);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 5);
	nlh->nlmsg_pid = 1234;
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), -ENODATA);
	nlh = msg(30, NL80211_CMD_NEW_INTERFACE);
	mnl_attr_put_u32(nlh, NL80211_ATTR_WIPHY, 1);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), -ENODATA);
}

static void test_malformed(void **state)
{
	struct nl80211_ids ids = { .family = 30 };
	struct nlmsghdr *nlh = msg(30, NL80211_CMD_DISCONNECT);
	struct nlattr *a;
	struct nlh_event ev;

	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 5);
	a = (struct nlattr *)((char *)nlh + nlh->nlmsg_len - 8);
	a->nla_len = 300;
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), -EBADMSG);
	/* an SSID attribute over 32 bytes is ignored; an IE list that lies is too */
	nlh = msg(30, NL80211_CMD_CONNECT);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 5);
	mnl_attr_put(nlh, NL80211_ATTR_SSID, 40, "0123456789012345678901234567890123456789");
	mnl_attr_put(nlh, NL80211_ATTR_REQ_IE, 3, "\x00\x20X");
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_false(NLH_HAS(&ev, WIFI, ssid));
}

static void test_ctrl(void **state)
{
	struct nl80211_ids ids = {};
	struct nlmsghdr *nlh = msg(GENL_ID_CTRL, CTRL_CMD_NEWFAMILY);
	struct nlattr *grps, *g;

	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "nl80211");
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, 33);
	grps = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
	g = mnl_attr_nest_start(nlh, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, "mlme");
	mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, 7);
	mnl_attr_nest_end(nlh, g);
	mnl_attr_nest_end(nlh, grps);
	assert_int_equal(nl80211_ctrl_parse(nlh, &ids), 1);
	assert_int_equal(ids.family, 33);
	assert_int_equal(ids.grp_mlme, 7);
	nlh = msg(GENL_ID_CTRL, CTRL_CMD_NEWFAMILY);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "nl80211x");
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, 34);
	assert_int_equal(nl80211_ctrl_parse(nlh, &ids), 0);
	assert_int_equal(ids.family, 33);
}

/*
 * A real answer to GET_INTERFACE, cut from basic.pcap (record 208: nl80211
 * was family 32 there): wlan0, the access point of CafeNet on 2412 MHz.
 */
static const uint8_t iface_answer[156] __attribute__((aligned(8))) = {
	0x9c, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0xf8, 0xc0, 0x02, 0x6b, 0x7c, 0x00, 0xc0, 0x5f,
	0x07, 0x01, 0x00, 0x00, 0x08, 0x00, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x04, 0x00,
	0x77, 0x6c, 0x61, 0x6e, 0x30, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x99, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x06, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x2e, 0x00, 0x09, 0x00, 0x00, 0x00, 0x05, 0x00, 0x53, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x26, 0x00, 0x6c, 0x09, 0x00, 0x00, 0x08, 0x00, 0x22, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x27, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x9f, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0xa0, 0x00, 0x6c, 0x09, 0x00, 0x00, 0x08, 0x00, 0x62, 0x00, 0xd0, 0x07, 0x00, 0x00,
	0x0b, 0x00, 0x34, 0x00, 0x43, 0x61, 0x66, 0x65, 0x4e, 0x65, 0x74, 0x00,
};

static void test_iface_query(void **state)
{
	static const uint8_t ap[6] = { 2, 0, 0, 0, 0, 0 };
	struct nl80211_ids ids = { .family = 32 }, other = { .family = 30 };
	struct nl80211_iface iface;
	struct nl80211_track t = {};
	struct nlh_event ev, extra, link;
	struct nlmsghdr *nlh;
	uint8_t copy[sizeof(iface_answer)] __attribute__((aligned(8)));
	int len;

	/* the kernel's answer */
	assert_int_equal(nl80211_iface_parse((const struct nlmsghdr *)iface_answer, &ids, &iface), 0);
	assert_int_equal(iface.ifindex, 3);
	assert_int_equal(iface.freq, 2412);
	assert_true(iface.has_ssid);
	assert_int_equal(iface.ssid.len, 7);
	assert_memory_equal(iface.ssid.b, "CafeNet", 7);
	assert_int_equal(nl80211_iface_parse((const struct nlmsghdr *)iface_answer, &other, &iface), -ENODATA);
	/* cut anywhere, with the header still claiming the whole: never read past */
	for (size_t n = 16; n < sizeof(iface_answer); n++) {
		memcpy(copy, iface_answer, n);
		((struct nlmsghdr *)copy)->nlmsg_len = n;
		len = nl80211_iface_parse((const struct nlmsghdr *)copy, &ids, &iface);
		assert_true(len == 0 || len == -EBADMSG || len == -ENODATA);
		if (len == 0)
			assert_true(!iface.has_ssid || iface.ssid.len == 7);
	}

	/* a connect without SSID element nor frequency wants asking; a failed one does not */
	nlh = msg(32, NL80211_CMD_CONNECT);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 3);
	mnl_attr_put(nlh, NL80211_ATTR_MAC, 6, ap);
	mnl_attr_put_u16(nlh, NL80211_ATTR_STATUS_CODE, 0);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_false(NLH_HAS(&ev, WIFI, ssid));
	assert_true(nl80211_wants_iface(&ev));
	/* an answer to us is no event */
	assert_int_equal(nl80211_parse((const struct nlmsghdr *)iface_answer, &ids, &extra), -ENODATA);
	assert_int_equal(nl80211_iface_parse((const struct nlmsghdr *)iface_answer, &ids, &iface), 0);
	nl80211_iface_fill(&ev, &iface);
	assert_true(NLH_HAS(&ev, WIFI, ssid));
	assert_memory_equal(ev.wifi.ssid.b, "CafeNet", 7);
	assert_int_equal(ev.wifi.freq, 2412);
	assert_false(nl80211_wants_iface(&ev));
	/* the answer about another interface fills nothing */
	iface.ifindex = 4;
	ev.present &= ~(UINT64_C(1) << NLH_F_WIFI_freq);
	nl80211_iface_fill(&ev, &iface);
	assert_false(NLH_HAS(&ev, WIFI, freq));
	iface.ifindex = 3;
	nl80211_iface_fill(&ev, &iface);

	/* the connect's frequency and SSID go on to authorized and disconnect */
	assert_int_equal(nl80211_track_wifi(&t, &ev, &extra), 0);
	nlh_event_init(&link, NLH_EV_LINK_NEW);
	link.link.ifindex = 3;
	strcpy(link.link.operstate, "up");
	NLH_SET(&link, LINK, operstate);
	assert_int_equal(nl80211_track_link(&t, &link, &extra), 1);
	assert_int_equal(extra.type, NLH_EV_WIFI_AUTHORIZED);
	assert_int_equal(extra.wifi.freq, 2412);
	nlh = msg(32, NL80211_CMD_DISCONNECT);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 3);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	nl80211_track_wifi(&t, &ev, &extra);
	assert_int_equal(ev.wifi.freq, 2412);
	assert_int_equal(ev.wifi.ssid.len, 7);

	nlh = msg(32, NL80211_CMD_CONNECT);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 3);
	mnl_attr_put_u16(nlh, NL80211_ATTR_STATUS_CODE, 17);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_false(nl80211_wants_iface(&ev));
	nlh = msg(32, NL80211_CMD_DISCONNECT);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 3);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_false(nl80211_wants_iface(&ev));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ie_ssid),
		cmocka_unit_test(test_connect_and_derivations),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ctrl),
		cmocka_unit_test(test_iface_query),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
