/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/nl80211.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
	assert_true(nl80211_wants_iface(&t, &ev));
	/* an answer to us is no event */
	assert_int_equal(nl80211_parse((const struct nlmsghdr *)iface_answer, &ids, &extra), -ENODATA);
	assert_int_equal(nl80211_iface_parse((const struct nlmsghdr *)iface_answer, &ids, &iface), 0);
	nl80211_iface_fill(&ev, &iface);
	assert_true(NLH_HAS(&ev, WIFI, ssid));
	assert_memory_equal(ev.wifi.ssid.b, "CafeNet", 7);
	assert_int_equal(ev.wifi.freq, 2412);
	assert_false(nl80211_wants_iface(&t, &ev));
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
	assert_false(nl80211_wants_iface(&t, &ev));
	nlh = msg(32, NL80211_CMD_DISCONNECT);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 3);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_false(nl80211_wants_iface(&t, &ev));
}

static const uint8_t sta_mac[6] = { 2, 0, 0, 0, 2, 0 };

/* A NEW_STATION or DEL_STATION as mac80211 sends it; info: STA_INFO as on a leave. */
static struct nlmsghdr *station_msg(uint8_t cmd, uint32_t ifindex, const uint8_t *mac, bool info)
{
	struct nlmsghdr *nlh = msg(32, cmd);
	struct nlattr *nest;

	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, ifindex);
	if (mac)
		mnl_attr_put(nlh, NL80211_ATTR_MAC, 6, mac);
	mnl_attr_put_u32(nlh, NL80211_ATTR_GENERATION, 7);
	nest = mnl_attr_nest_start(nlh, NL80211_ATTR_STA_INFO);
	if (info) {
		mnl_attr_put_u32(nlh, NL80211_STA_INFO_CONNECTED_TIME, 42);
		mnl_attr_put_u32(nlh, NL80211_STA_INFO_RX_BYTES, 1000);	/* wrapped: the 64-bit one wins */
		mnl_attr_put_u64(nlh, NL80211_STA_INFO_RX_BYTES64, UINT64_C(4294968296));
		mnl_attr_put_u64(nlh, NL80211_STA_INFO_TX_BYTES64, 409);
		mnl_attr_put_u32(nlh, NL80211_STA_INFO_TX_BYTES, 409);
		mnl_attr_put_u8(nlh, NL80211_STA_INFO_SIGNAL, 0xb5);	/* -75 dBm */
	}
	mnl_attr_nest_end(nlh, nest);
	return nlh;
}

/* What GET_INTERFACE answers, or a NEW/SET_INTERFACE notification (portid 0) says. */
static struct nl80211_iface iface_msg(uint8_t cmd, uint32_t pid, uint32_t ifindex, uint32_t wiphy, uint32_t iftype,
				      const char *ssid)
{
	struct nl80211_ids ids = { .family = 32 };
	struct nlmsghdr *nlh = msg(32, cmd);
	struct nl80211_iface i;

	nlh->nlmsg_pid = pid;
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, ifindex);
	mnl_attr_put_u32(nlh, NL80211_ATTR_WIPHY, wiphy);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFTYPE, iftype);
	if (ssid)
		mnl_attr_put(nlh, NL80211_ATTR_SSID, strlen(ssid), ssid);
	assert_int_equal(nl80211_iface_parse(nlh, &ids, &i), 0);
	return i;
}

static void test_station_parse(void **state)
{
	struct nl80211_ids ids = { .family = 32 };
	struct nlh_event ev;
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	/* a join: the station's address in mac, not bssid; nothing of STA_INFO */
	nlh = station_msg(NL80211_CMD_NEW_STATION, 3, sta_mac, true);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_int_equal(ev.type, NLH_EV_WIFI_STATION_NEW);
	assert_int_equal(ev.wifi.ifindex, 3);
	assert_true(NLH_HAS(&ev, WIFI, mac));
	assert_memory_equal(ev.wifi.mac.a, sta_mac, 6);
	assert_false(NLH_HAS(&ev, WIFI, bssid));
	assert_false(NLH_HAS(&ev, WIFI, connected_time));
	assert_false(NLH_HAS(&ev, WIFI, signal));
	/* a leave: what STA_INFO says, the 64-bit counters, the signal signed */
	nlh = station_msg(NL80211_CMD_DEL_STATION, 3, sta_mac, true);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_int_equal(ev.type, NLH_EV_WIFI_STATION_DEL);
	assert_int_equal(ev.wifi.connected_time, 42);
	assert_true(ev.wifi.rx_bytes == UINT64_C(4294968296));
	assert_int_equal(ev.wifi.tx_bytes, 409);
	assert_int_equal(ev.wifi.signal, -75);
	/* a leave without STA_INFO (older kernels): the station alone */
	nlh = station_msg(NL80211_CMD_DEL_STATION, 3, sta_mac, false);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_false(NLH_HAS(&ev, WIFI, connected_time) || NLH_HAS(&ev, WIFI, rx_bytes));
	/* without the station's address: malformed */
	nlh = station_msg(NL80211_CMD_DEL_STATION, 3, NULL, true);
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), -EBADMSG);
	/* hostapd's DEL_STATION request and the kernel's answer to GET_STATION are no events */
	nlh = station_msg(NL80211_CMD_DEL_STATION, 3, sta_mac, false);
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_pid = 1606418556;
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), -ENODATA);
	assert_int_equal(nl80211_station_parse(nlh, &ids, &ev), -ENODATA);
	nlh = station_msg(NL80211_CMD_NEW_STATION, 3, sta_mac, true);
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_pid = 1234;
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), -ENODATA);
	/* ... but the answer says the station is there, and since when */
	assert_int_equal(nl80211_station_parse(nlh, &ids, &ev), 0);
	assert_int_equal(ev.wifi.ifindex, 3);
	assert_memory_equal(ev.wifi.mac.a, sta_mac, 6);
	assert_int_equal(ev.wifi.connected_time, 42);
	/* an attribute in STA_INFO that lies about its length: the walk stops there */
	nlh = station_msg(NL80211_CMD_DEL_STATION, 3, sta_mac, true);
	((struct nlattr *)((char *)nlh + nlh->nlmsg_len - 8))->nla_len = 200;
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), 0);
	assert_true(NLH_HAS(&ev, WIFI, connected_time));
	assert_false(NLH_HAS(&ev, WIFI, signal));
	/* STA_INFO itself running past the message: malformed */
	nlh = station_msg(NL80211_CMD_DEL_STATION, 3, sta_mac, true);
	nest = (struct nlattr *)((char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr)) + 8 + 12 + 8);
	assert_int_equal(mnl_attr_get_type(nest), NL80211_ATTR_STA_INFO);
	nest->nla_len += 4;
	assert_int_equal(nl80211_parse(nlh, &ids, &ev), -EBADMSG);
}

static void test_iface_modes(void **state)
{
	struct nl80211_ids ids = { .family = 32 };
	struct nl80211_iface i;
	struct nlmsghdr *nlh;

	assert_string_equal(nl80211_iftype_name(NL80211_IFTYPE_AP), "ap");
	assert_string_equal(nl80211_iftype_name(NL80211_IFTYPE_P2P_GO), "p2p-go");
	assert_string_equal(nl80211_iftype_name(NL80211_IFTYPE_MESH_POINT), "mesh");
	assert_string_equal(nl80211_iftype_name(NL80211_IFTYPE_STATION), "station");
	assert_null(nl80211_iftype_name(NL80211_IFTYPE_UNSPECIFIED));
	assert_null(nl80211_iftype_name(200));

	/* the kernel's notification: a mode, no SSID yet, not an answer */
	i = iface_msg(NL80211_CMD_SET_INTERFACE, 0, 3, 0, NL80211_IFTYPE_AP, NULL);
	assert_true(i.has_iftype && i.iftype == NL80211_IFTYPE_AP && i.has_wiphy && !i.answer && !i.has_ssid);
	i = iface_msg(NL80211_CMD_NEW_INTERFACE, 77, 3, 0, NL80211_IFTYPE_AP, "CafeNet");
	assert_true(i.answer && i.has_ssid);
	/* hostapd's request to set the mode is not the kernel's word */
	nlh = msg(32, NL80211_CMD_SET_INTERFACE);
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, 3);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFTYPE, NL80211_IFTYPE_AP);
	assert_int_equal(nl80211_iface_parse(nlh, &ids, &i), -ENODATA);
	/* a P2P device has no netdev */
	nlh = msg(32, NL80211_CMD_NEW_INTERFACE);
	mnl_attr_put_u32(nlh, NL80211_ATTR_WIPHY, 1);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFTYPE, NL80211_IFTYPE_P2P_DEVICE);
	assert_int_equal(nl80211_iface_parse(nlh, &ids, &i), -ENODATA);
}

/* A station event through the tracker, as the source raises it: 0, or -ENODATA when it raises none. */
static int station(struct nl80211_track *t, uint8_t cmd, uint32_t ifindex, const uint8_t *mac, struct nlh_event *ev)
{
	struct nl80211_ids ids = { .family = 32 };
	struct nlh_event extra;

	assert_int_equal(nl80211_parse(station_msg(cmd, ifindex, mac, cmd == NL80211_CMD_DEL_STATION), &ids, ev), 0);
	return nl80211_track_wifi(t, ev, &extra);
}

static void test_station_modes(void **state)
{
	static const uint8_t mac2[6] = { 2, 0, 0, 0, 3, 0 };
	struct nl80211_track t = {};
	struct nl80211_iface i;
	struct nlh_event ev, link, out;

	nl80211_track_stations(&t, true);
	/* mode not known: raised, iftype nil, and the source asks about the interface */
	assert_int_equal(station(&t, NL80211_CMD_NEW_STATION, 3, sta_mac, &ev), 0);
	assert_false(NLH_HAS(&ev, WIFI, iftype));
	assert_true(nl80211_wants_iface(&t, &ev));
	assert_int_equal(station(&t, NL80211_CMD_DEL_STATION, 3, sta_mac, &ev), 0);
	assert_int_equal(nl80211_track_station_count(&t), 0);
	assert_null(t.sta);	/* the table goes with its last station */

	/* a station-mode interface: its view of its own AP raises nothing, is not kept */
	i = iface_msg(NL80211_CMD_NEW_INTERFACE, 0, 5, 2, NL80211_IFTYPE_STATION, NULL);
	nl80211_track_iface(&t, &i);
	assert_string_equal(nl80211_track_iftype(&t, 5), "station");
	assert_int_equal(station(&t, NL80211_CMD_NEW_STATION, 5, sta_mac, &ev), -ENODATA);
	assert_false(nl80211_wants_iface(&t, &ev));
	assert_int_equal(nl80211_track_station_count(&t), 0);
	/* an IBSS peer neither */
	i = iface_msg(NL80211_CMD_SET_INTERFACE, 0, 6, 2, NL80211_IFTYPE_ADHOC, NULL);
	nl80211_track_iface(&t, &i);
	assert_int_equal(station(&t, NL80211_CMD_NEW_STATION, 6, sta_mac, &ev), -ENODATA);

	/* hostapd makes wlan0 an AP: its SSID is asked for at the first station... */
	i = iface_msg(NL80211_CMD_SET_INTERFACE, 0, 3, 0, NL80211_IFTYPE_AP, NULL);
	nl80211_track_iface(&t, &i);
	assert_true(nl80211_track_is_ap(&t, 3));
	assert_int_equal(nl80211_parse(station_msg(NL80211_CMD_NEW_STATION, 3, sta_mac, false),
				       &(struct nl80211_ids){ .family = 32 }, &ev), 0);
	assert_true(nl80211_wants_iface(&t, &ev));
	/* ... and the answer tells it */
	i = iface_msg(NL80211_CMD_NEW_INTERFACE, 77, 3, 0, NL80211_IFTYPE_AP, "CafeNet");
	nl80211_track_iface(&t, &i);
	assert_false(nl80211_wants_iface(&t, &ev));
	assert_int_equal(nl80211_track_wifi(&t, &ev, &out), 0);
	assert_string_equal(ev.wifi.iftype, "ap");
	assert_int_equal(ev.wifi.wiphy, 0);
	assert_true(NLH_HAS(&ev, WIFI, wiphy));
	assert_int_equal(ev.wifi.ssid.len, 7);
	assert_memory_equal(ev.wifi.ssid.b, "CafeNet", 7);
	assert_int_equal(nl80211_track_station_count(&t), 1);
	/* the same join twice is one station */
	assert_int_equal(station(&t, NL80211_CMD_NEW_STATION, 3, sta_mac, &ev), 0);
	assert_int_equal(nl80211_track_station_count(&t), 1);

	/* an answer without SSID (no BSS running) is not asked again */
	i = iface_msg(NL80211_CMD_NEW_INTERFACE, 77, 4, 1, NL80211_IFTYPE_P2P_GO, NULL);
	nl80211_track_iface(&t, &i);
	assert_int_equal(station(&t, NL80211_CMD_NEW_STATION, 4, mac2, &ev), 0);
	assert_string_equal(ev.wifi.iftype, "p2p-go");
	assert_false(NLH_HAS(&ev, WIFI, ssid));
	assert_false(nl80211_wants_iface(&t, &ev));

	/* the AP's link goes down: its SSID is forgotten, asked again at the next station */
	nlh_event_init(&link, NLH_EV_LINK_DOWN);
	link.link.ifindex = 3;
	link.link.up = false;
	NLH_SET(&link, LINK, up);
	nl80211_track_link(&t, &link, &out);
	assert_int_equal(station(&t, NL80211_CMD_NEW_STATION, 3, mac2, &ev), 0);
	assert_false(NLH_HAS(&ev, WIFI, ssid));
	assert_true(nl80211_wants_iface(&t, &ev));

	/* a mesh point: its peers are stations, it has no SSID to ask for */
	i = iface_msg(NL80211_CMD_SET_INTERFACE, 0, 7, 3, NL80211_IFTYPE_MESH_POINT, NULL);
	nl80211_track_iface(&t, &i);
	assert_int_equal(station(&t, NL80211_CMD_NEW_STATION, 7, mac2, &ev), 0);
	assert_string_equal(ev.wifi.iftype, "mesh");
	assert_false(nl80211_wants_iface(&t, &ev));
	assert_int_equal(nl80211_track_station_count(&t), 4);

	/* the interface leaves AP mode: its stations are gone with it */
	i = iface_msg(NL80211_CMD_SET_INTERFACE, 0, 3, 0, NL80211_IFTYPE_STATION, NULL);
	nl80211_track_iface(&t, &i);
	assert_int_equal(nl80211_track_station_count(&t), 2);
	/* the link goes: the mesh's too */
	link.type = NLH_EV_LINK_DEL;
	link.link.ifindex = 7;
	nl80211_track_link(&t, &link, &out);
	assert_int_equal(nl80211_track_station_count(&t), 1);
	nl80211_track_free(&t);
	assert_null(t.sta);
}

/* hostapd moves WDS and VLAN stations to AP_VLAN interfaces: they leave from there. */
static void test_station_vlan(void **state)
{
	struct nl80211_track t = {};
	struct nl80211_iface i;
	struct nlh_event ev;

	nl80211_track_stations(&t, true);
	i = iface_msg(NL80211_CMD_NEW_INTERFACE, 77, 3, 0, NL80211_IFTYPE_AP, "CafeNet");
	nl80211_track_iface(&t, &i);
	i = iface_msg(NL80211_CMD_NEW_INTERFACE, 0, 9, 0, NL80211_IFTYPE_AP_VLAN, NULL);
	nl80211_track_iface(&t, &i);
	assert_int_equal(station(&t, NL80211_CMD_NEW_STATION, 3, sta_mac, &ev), 0);
	assert_int_equal(station(&t, NL80211_CMD_DEL_STATION, 9, sta_mac, &ev), 0);
	assert_string_equal(ev.wifi.iftype, "ap-vlan");
	assert_int_equal(ev.wifi.wiphy, 0);
	assert_int_equal(nl80211_track_station_count(&t), 0);
	nl80211_track_free(&t);
}

static void test_station_table(void **state)
{
	struct nl80211_ids ids = { .family = 32 };
	struct nl80211_track t = {};
	struct nl80211_iface i;
	struct nlh_event ev;
	struct nlmsghdr *nlh;
	uint8_t mac[6] = { 2, 0, 0, 1, 0, 0 };
	size_t n = 0;

	i = iface_msg(NL80211_CMD_NEW_INTERFACE, 77, 3, 0, NL80211_IFTYPE_AP, "CafeNet");
	nl80211_track_iface(&t, &i);
	/* not kept while station events are not wanted */
	assert_int_equal(station(&t, NL80211_CMD_NEW_STATION, 3, sta_mac, &ev), 0);
	assert_int_equal(nl80211_track_station_count(&t), 0);
	assert_null(t.sta);

	/* the start-up dump: there for 42 s */
	nl80211_track_stations(&t, true);
	nlh = station_msg(NL80211_CMD_NEW_STATION, 3, sta_mac, true);
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_pid = 1234;
	assert_int_equal(nl80211_station_parse(nlh, &ids, &ev), 0);
	ev.time = 1000;
	assert_int_equal(nl80211_track_station_dump(&t, &ev), 1);
	assert_false(NLH_HAS(&ev, WIFI, connected_time));	/* a dump's is no leave's */
	assert_int_equal(nl80211_track_station_dump(&t, &ev), 0);
	assert_int_equal(nl80211_track_station_count(&t), 1);
	nl80211_track_station_get(&t, 0, 1010.5, &ev);
	assert_int_equal(ev.type, NLH_EV_WIFI_STATION_NEW);
	assert_int_equal(ev.wifi.connected_time, 52);
	assert_string_equal(ev.wifi.iftype, "ap");
	assert_int_equal(ev.wifi.ssid.len, 7);
	assert_memory_equal(ev.wifi.mac.a, sta_mac, 6);

	/* bounded: past NL80211_STATIONS_MAX a station is counted, not kept */
	for (uint32_t k = 0; k < NL80211_STATIONS_MAX + 5; k++) {
		mac[4] = k >> 8;
		mac[5] = k;
		station(&t, NL80211_CMD_NEW_STATION, 3, mac, &ev);
	}
	assert_int_equal(nl80211_track_station_count(&t), NL80211_STATIONS_MAX);
	assert_int_equal(t.sta_dropped, 6);
	for (uint32_t k = 0; k < NL80211_STATIONS_MAX + 5; k++) {
		mac[4] = k >> 8;
		mac[5] = k;
		station(&t, NL80211_CMD_DEL_STATION, 3, mac, &ev);
	}
	assert_int_equal(nl80211_track_station_count(&t), 1);

	/* a re-dump after an overrun: the one gone in the gap leaves, a new one joins */
	nl80211_track_stations_mark(&t);
	mac[4] = 9, mac[5] = 9;
	nlh = station_msg(NL80211_CMD_NEW_STATION, 3, mac, true);
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_pid = 1234;
	assert_int_equal(nl80211_station_parse(nlh, &ids, &ev), 0);
	assert_int_equal(nl80211_track_station_dump(&t, &ev), 1);
	while (nl80211_track_stations_sweep(&t, &ev) > 0) {
		assert_int_equal(ev.type, NLH_EV_WIFI_STATION_DEL);
		assert_memory_equal(ev.wifi.mac.a, sta_mac, 6);
		assert_false(NLH_HAS(&ev, WIFI, connected_time));
		n++;
	}
	assert_int_equal(n, 1);
	assert_int_equal(nl80211_track_station_count(&t), 1);
	/* no longer wanted: the table is freed */
	nl80211_track_stations(&t, false);
	assert_null(t.sta);
	assert_int_equal(nl80211_track_station_count(&t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ie_ssid),
		cmocka_unit_test(test_connect_and_derivations),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ctrl),
		cmocka_unit_test(test_iface_query),
		cmocka_unit_test(test_station_parse),
		cmocka_unit_test(test_iface_modes),
		cmocka_unit_test(test_station_modes),
		cmocka_unit_test(test_station_vlan),
		cmocka_unit_test(test_station_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
