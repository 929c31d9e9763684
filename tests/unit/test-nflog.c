/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "nflog/nflog-parse.h"

static char buf[8192] __attribute__((aligned(8)));

static struct nlmsghdr *packet(uint16_t group, const char *prefix, const void *payload, size_t len, uint16_t l3)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;
	struct nfulnl_msg_packet_hdr ph = { .hw_protocol = htons(l3), .hook = 1 };

	nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = l3 == 0x86dd ? AF_INET6 : AF_INET;
	nfg->res_id = htons(group);
	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
	if (prefix)
		mnl_attr_put_strz(nlh, NFULA_PREFIX, prefix);
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_INDEV, htonl(3));
	mnl_attr_put_u32(nlh, NFULA_SEQ, htonl(41));
	mnl_attr_put_u32(nlh, NFULA_MARK, htonl(0x10));
	if (payload)
		mnl_attr_put(nlh, NFULA_PAYLOAD, len, payload);
	return nlh;
}

/* IPv4 + TCP SYN 10.0.0.2:40000 -> 10.0.0.1:22 */
static const uint8_t ipv4_tcp[] = {
	0x45, 0, 0, 60, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
	0x9c, 0x40, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02, 0xff, 0xff, 0, 0, 0, 0,
};

static void test_ipv4_tcp(void **state)
{
	struct nlh_event ev;
	char text[1024];

	assert_int_equal(nflog_parse(packet(10, "SSH ", ipv4_tcp, sizeof(ipv4_tcp), 0x0800), &ev), 0);
	assert_int_equal(ev.type, NLH_EV_NFLOG);
	assert_int_equal(ev.nflog.indev_index, 3);
	nlh_event_text(&ev, false, text, sizeof(text));
	assert_string_equal(text, "nflog group=10 prefix=\"SSH \" family=inet proto=tcp src=10.0.0.2 dst=10.0.0.1 "
				  "sport=40000 dport=22 ttl=64 ip_id=1 tcp_flags=syn mark=16 len=60 seq=41 payload="
				  "4500003c00014000400600000a0000020a0000019c400016000000010000000"
				  "0a002ffff00000000");
}

/* TCP flags by nft's names in its order; ICMP and ICMPv6 type and code; TTL and hop limit. */
static void test_flags_icmp_ttl(void **state)
{
	static const struct {
		uint8_t flags;
		const char *text;
	} tcp[] = {
		{ 0x02, "syn" }, { 0x12, "syn,ack" }, { 0x11, "fin,ack" }, { 0x04, "rst" }, { 0x18, "psh,ack" },
		{ 0xff, "fin,syn,rst,psh,ack,urg,ece,cwr" }, { 0xc2, "syn,ece,cwr" }, { 0x00, "" },
	};
	uint8_t p[sizeof(ipv4_tcp)], icmp4[28] = { 0x45, 0, 0, 28, 0xab, 0xcd, 0, 0, 7, 1 };
	uint8_t icmp6[48] = { 0x60, 0, 0, 0, 0, 8, 58, 255 };
	struct nlh_event ev;

	for (size_t i = 0; i < sizeof(tcp) / sizeof(tcp[0]); i++) {
		memcpy(p, ipv4_tcp, sizeof(p));
		p[33] = tcp[i].flags;
		assert_int_equal(nflog_parse(packet(1, NULL, p, sizeof(p), 0x0800), &ev), 0);
		assert_true(NLH_HAS(&ev, NFLOG, tcp_flags));
		assert_string_equal(ev.nflog.tcp_flags, tcp[i].text);
		assert_false(NLH_HAS(&ev, NFLOG, icmp_type));
	}
	/* Cut before the flags: the ports are kept, the flags are not there. */
	assert_int_equal(nflog_parse(packet(1, NULL, ipv4_tcp, 20 + 10, 0x0800), &ev), -EBADMSG);
	assert_true(NLH_HAS(&ev, NFLOG, dport));
	assert_false(NLH_HAS(&ev, NFLOG, tcp_flags));
	/* UDP has no flags */
	memcpy(p, ipv4_tcp, sizeof(p));
	p[9] = 17;
	assert_int_equal(nflog_parse(packet(1, NULL, p, sizeof(p), 0x0800), &ev), 0);
	assert_false(NLH_HAS(&ev, NFLOG, tcp_flags));

	icmp4[20] = 8;		/* echo request */
	icmp4[21] = 0;
	assert_int_equal(nflog_parse(packet(1, NULL, icmp4, sizeof(icmp4), 0x0800), &ev), 0);
	assert_string_equal(ev.nflog.proto, "icmp");
	assert_true(NLH_HAS(&ev, NFLOG, icmp_type) && NLH_HAS(&ev, NFLOG, icmp_code));
	assert_int_equal(ev.nflog.icmp_type, 8);
	assert_int_equal(ev.nflog.icmp_code, 0);
	assert_int_equal(ev.nflog.ttl, 7);
	assert_int_equal(ev.nflog.ip_id, 0xabcd);
	assert_false(NLH_HAS(&ev, NFLOG, sport));
	icmp4[20] = 3;		/* port unreachable */
	icmp4[21] = 3;
	assert_int_equal(nflog_parse(packet(1, NULL, icmp4, sizeof(icmp4), 0x0800), &ev), 0);
	assert_int_equal(ev.nflog.icmp_type, 3);
	assert_int_equal(ev.nflog.icmp_code, 3);
	/* a one-byte ICMP header is cut short */
	assert_int_equal(nflog_parse(packet(1, NULL, icmp4, 21, 0x0800), &ev), -EBADMSG);
	assert_false(NLH_HAS(&ev, NFLOG, icmp_type));

	icmp6[40] = 128;	/* echo request, hop limit 255 */
	assert_int_equal(nflog_parse(packet(1, NULL, icmp6, sizeof(icmp6), 0x86dd), &ev), 0);
	assert_string_equal(ev.nflog.proto, "icmpv6");
	assert_int_equal(ev.nflog.icmp_type, 128);
	assert_int_equal(ev.nflog.icmp_code, 0);
	assert_int_equal(ev.nflog.ttl, 255);
	assert_false(NLH_HAS(&ev, NFLOG, ip_id));
}

/* A bridged frame: the ports' indexes and the VLAN id (the TCI's low 12 bits). */
static void test_bridge_vlan(void **state)
{
	struct nlmsghdr *nlh = packet(40, "BR ", ipv4_tcp, sizeof(ipv4_tcp), 0x0800);
	struct nlattr *nest;
	struct nlh_event ev;
	char text[1024];

	mnl_attr_put_u32(nlh, NFULA_IFINDEX_PHYSINDEV, htonl(5));
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_PHYSOUTDEV, htonl(6));
	nest = mnl_attr_nest_start(nlh, NFULA_VLAN);
	mnl_attr_put_u16(nlh, NFULA_VLAN_PROTO, htons(0x8100));
	mnl_attr_put_u16(nlh, NFULA_VLAN_TCI, htons(0x6000 | 100));	/* priority 3, id 100 */
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nflog_parse(nlh, &ev), 0);
	assert_int_equal(ev.nflog.physindev_index, 5);
	assert_int_equal(ev.nflog.physoutdev_index, 6);
	assert_true(NLH_HAS(&ev, NFLOG, vlan));
	assert_int_equal(ev.nflog.vlan, 100);
	strcpy(ev.nflog.physindev, "veth-a");
	NLH_SET(&ev, NFLOG, physindev);
	strcpy(ev.nflog.physoutdev, "veth-b");
	NLH_SET(&ev, NFLOG, physoutdev);
	assert_true(nlh_event_json(&ev, text, sizeof(text)) > 0);
	assert_non_null(strstr(text, "\"dport\":22,\"ttl\":64,\"ip_id\":1,\"tcp_flags\":\"syn\","
				     "\"physindev\":\"veth-a\",\"physoutdev\":\"veth-b\",\"mark\":16,"));
	assert_non_null(strstr(text, "\"vlan\":100,\"payload\":"));
	/* A TCI too short is no VLAN. */
	nlh = packet(40, NULL, NULL, 0, 0x0800);
	nest = mnl_attr_nest_start(nlh, NFULA_VLAN);
	mnl_attr_put(nlh, NFULA_VLAN_TCI, 1, "\x64");
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nflog_parse(nlh, &ev), 0);
	assert_false(NLH_HAS(&ev, NFLOG, vlan));
}

/* IPv6 + hop-by-hop options + UDP fd00::2:5000 -> fd00::1:53 */
static void test_ipv6_exthdr_udp(void **state)
{
	uint8_t p[40 + 8 + 8] = { 0x60, 0, 0, 0, 0, 16, 0 /* hop-by-hop */, 64 };
	struct nlh_event ev;

	p[8] = 0xfd, p[23] = 2;		/* src fd00::2 */
	p[24] = 0xfd, p[39] = 1;	/* dst fd00::1 */
	p[40] = 17;			/* next: UDP */
	p[41] = 0;			/* 8 bytes */
	p[48] = 0x13, p[49] = 0x88;	/* 5000 */
	p[50] = 0, p[51] = 53;
	assert_int_equal(nflog_parse(packet(11, NULL, p, sizeof(p), 0x86dd), &ev), 0);
	assert_string_equal(ev.nflog.family, "inet6");
	assert_string_equal(ev.nflog.proto, "udp");
	assert_int_equal(ev.nflog.sport, 5000);
	assert_int_equal(ev.nflog.dport, 53);
	assert_int_equal(ev.nflog.len, 56);
	assert_false(NLH_HAS(&ev, NFLOG, prefix));
}

/* Copy range cut the TCP header: addresses, no ports, a parse error. */
static void test_truncated_payload(void **state)
{
	struct nlh_event ev;

	assert_int_equal(nflog_parse(packet(10, "X", ipv4_tcp, 22, 0x0800), &ev), -EBADMSG);
	assert_true(NLH_HAS(&ev, NFLOG, src) && NLH_HAS(&ev, NFLOG, prefix) && NLH_HAS(&ev, NFLOG, proto));
	assert_false(NLH_HAS(&ev, NFLOG, dport));
	assert_int_equal(nflog_parse(packet(10, "X", ipv4_tcp, 12, 0x0800), &ev), -EBADMSG);
	assert_false(NLH_HAS(&ev, NFLOG, src));
	assert_true(NLH_HAS(&ev, NFLOG, group) && NLH_HAS(&ev, NFLOG, seq));
}

/* A bad IHL, a later fragment, a payload with no packet header. */
static void test_odd_packets(void **state)
{
	uint8_t p[sizeof(ipv4_tcp)];
	struct nlh_event ev;

	memcpy(p, ipv4_tcp, sizeof(p));
	p[0] = 0x4f;	/* IHL 60 > what we have */
	assert_int_equal(nflog_parse(packet(1, NULL, p, sizeof(p), 0x0800), &ev), -EBADMSG);
	memcpy(p, ipv4_tcp, sizeof(p));
	p[6] = 0x00, p[7] = 0x10;	/* fragment offset 16 */
	assert_int_equal(nflog_parse(packet(1, NULL, p, sizeof(p), 0x0800), &ev), 0);
	assert_string_equal(ev.nflog.proto, "tcp");
	assert_false(NLH_HAS(&ev, NFLOG, dport));
	/* hw_protocol 0 (e.g. a bridge): the version nibble decides */
	assert_int_equal(nflog_parse(packet(1, NULL, ipv4_tcp, sizeof(ipv4_tcp), 0), &ev), 0);
	assert_int_equal(ev.nflog.dport, 22);
	/* not IP at all */
	assert_int_equal(nflog_parse(packet(1, NULL, "\x00\x01", 2, 0x0806), &ev), 0);
	assert_false(NLH_HAS(&ev, NFLOG, family));
}

static void test_missing_and_malformed(void **state)
{
	struct nlmsghdr *nlh = packet(7, NULL, NULL, 0, 0x0800);
	struct nlattr *last;
	struct nlh_event ev;

	assert_int_equal(nflog_parse(nlh, &ev), 0);
	assert_int_equal(ev.nflog.group, 7);
	assert_false(NLH_HAS(&ev, NFLOG, payload));
	/* an attribute longer than the message: malformed, what came before kept */
	last = (struct nlattr *)((char *)nlh + nlh->nlmsg_len - 8);
	last->nla_len = 400;
	assert_int_equal(nflog_parse(nlh, &ev), -EBADMSG);
	assert_int_equal(ev.nflog.group, 7);
	assert_int_equal(ev.nflog.indev_index, 3);
	/* too short for the nfgenmsg */
	nlh->nlmsg_len = 18;
	assert_int_equal(nflog_parse(nlh, &ev), -EBADMSG);
	/* a config message is not a packet */
	nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG;
	assert_int_equal(nflog_parse(nlh, &ev), -ENODATA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_tcp),
		cmocka_unit_test(test_flags_icmp_ttl),
		cmocka_unit_test(test_bridge_vlan),
		cmocka_unit_test(test_ipv6_exthdr_udp),
		cmocka_unit_test(test_truncated_payload),
		cmocka_unit_test(test_odd_packets),
		cmocka_unit_test(test_missing_and_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
