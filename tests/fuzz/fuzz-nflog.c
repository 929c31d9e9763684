/* SPDX-License-Identifier: MIT */
/*
 * The nflog parser on arbitrary messages: a packet's bytes are whatever
 * was on the wire, and replay feeds whole messages from files.  Every
 * parsed event is rendered (JSON, text) and its derived fields checked:
 * TCP flags are nft's names in nft's order, a VLAN id has 12 bits, ICMP
 * type and code come with an ICMP protocol, ports never with it.
 */
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/nlmsg.h"
#include "nflog/nflog-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_flags(const char *s)
{
	static const char *const names[] = { "fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr" };
	size_t next = 0;

	while (*s) {
		size_t i;

		for (i = next; i < 8 && strncmp(s, names[i], 3); i++)
			;
		if (i == 8)
			abort();	/* unknown, repeated or out of order */
		next = i + 1;
		s += 3;
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			abort();
	}
}

static void check(const struct nlh_event *ev)
{
	const struct nlh_nflog *n = &ev->nflog;
	bool icmp = !strcmp(n->proto, "icmp") || !strcmp(n->proto, "icmpv6");

	if (NLH_HAS(ev, NFLOG, tcp_flags)) {
		if (strcmp(n->proto, "tcp"))
			abort();
		check_flags(n->tcp_flags);
	}
	if (NLH_HAS(ev, NFLOG, vlan) && n->vlan > 4095)
		abort();
	if ((NLH_HAS(ev, NFLOG, icmp_type) || NLH_HAS(ev, NFLOG, icmp_code)) && !icmp)
		abort();
	if (icmp && (NLH_HAS(ev, NFLOG, sport) || NLH_HAS(ev, NFLOG, dport)))
		abort();
	if ((NLH_HAS(ev, NFLOG, ttl) && n->ttl > 255) || (NLH_HAS(ev, NFLOG, ip_id) && n->ip_id > 65535))
		abort();
	if (NLH_HAS(ev, NFLOG, ip_id) && strcmp(n->family, "inet"))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = malloc(size ? size : 1);
	const struct nlmsghdr *nlh;
	struct nlh_event ev;
	char out[4096];
	size_t left;

	memcpy(buf, data, size);
	nlh_msg_for_each(nlh, buf, size, left) {
		if (nflog_parse(nlh, &ev) != -ENODATA && NLH_HAS(&ev, NFLOG, group)) {
			check(&ev);
			nlh_event_json(&ev, out, sizeof(out));
			nlh_event_text(&ev, true, out, sizeof(out));
		}
	}
	/* The packet parser alone, on the raw bytes. */
	nlh_event_init(&ev, NLH_EV_NFLOG);
	nflog_parse_packet(data, size, 0, &ev);
	check(&ev);
	free(buf);
	return 0;
}
