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
				  "sport=40000 dport=22 mark=16 len=60 seq=41 payload="
				  "4500003c00014000400600000a0000020a0000019c400016000000010000000"
				  "0a002ffff00000000");
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
		cmocka_unit_test(test_ipv6_exthdr_udp),
		cmocka_unit_test(test_truncated_payload),
		cmocka_unit_test(test_odd_packets),
		cmocka_unit_test(test_missing_and_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
