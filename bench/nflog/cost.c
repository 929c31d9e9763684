/* SPDX-License-Identifier: MIT */
/*
 * nflog-cost RULES_DIR N: N firewall hits through nlhookd's code without
 * a socket: one NFULNL_MSG_PACKET as the kernel sends it for the flood's
 * UDP packets (group 30, copy range 128) parsed and dispatched to the
 * rules in RULES_DIR, emits to /dev/null.  Under valgrind --tool=callgrind
 * the difference between two N is the instructions one hit costs,
 * whatever else runs on the machine.
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/loop.h"
#include "nflog/nflog-parse.h"
#include "rules/rules.h"

static void report(const char *msg, void *data)
{
	fprintf(stderr, "%s\n", msg);
}

int main(int argc, char **argv)
{
	static char buf[4096] __attribute__((aligned(8)));
	/* IPv4 + UDP 10.91.0.2:40000 -> 10.91.0.1:9000 with the flood's 64 bytes */
	uint8_t pkt[92] = {
		0x45, 0, 0, 92, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 91, 0, 2, 10, 91, 0, 1,
		0x9c, 0x40, 0x23, 0x28, 0, 72, 0, 0, 'n', 'l', 'h', 'o', 'o', 'k', '-', 'b', 'e', 'n', 'c', 'h',
	};
	struct nfulnl_msg_packet_hdr ph = { .hw_protocol = htons(0x0800), .hook = 1 };
	struct nfulnl_msg_packet_hw hw = { .hw_addrlen = htons(6), .hw_addr = { 2, 0, 0, 0, 0, 1 } };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rules_set *rs;
	struct nfgenmsg *nfg;
	long n;

	if (argc != 3 || (n = atol(argv[2])) < 0) {
		fprintf(stderr, "usage: nflog-cost RULES_DIR N\n");
		return 2;
	}
	if (loop_init() < 0 || evlog_open("/dev/null") < 0)
		return 1;
	evlog_set_batching(true);
	if (rules_set_load(&rs, &argv[1], 1, 0, report, NULL) < 0)
		return 1;
	nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET;
	nfg->res_id = htons(30);
	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_INDEV, htonl(2));
	mnl_attr_put(nlh, NFULA_HWADDR, sizeof(hw), &hw);
	mnl_attr_put_u32(nlh, NFULA_UID, 0);
	mnl_attr_put_u32(nlh, NFULA_GID, 0);
	mnl_attr_put(nlh, NFULA_PAYLOAD, sizeof(pkt), pkt);
	mnl_attr_put_u32(nlh, NFULA_SEQ, htonl(1));
	for (long i = 0; i < n; i++) {
		struct nlh_event ev;

		nflog_parse_at(nlh, 1700000000.5, &ev);
		rules_set_dispatch(rs, &ev);
	}
	evlog_close();
	rules_set_free(rs);
	loop_exit();
	return 0;
}
