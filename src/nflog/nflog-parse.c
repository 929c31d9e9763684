/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "nflog-parse.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)p[0] << 8 | p[1];
}

static const char *proto_name(unsigned int p, char *buf, size_t size)
{
	switch (p) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_UDPLITE: return "udplite";
	case IPPROTO_GRE: return "gre";
	case IPPROTO_ESP: return "esp";
	case IPPROTO_AH: return "ah";
	}
	snprintf(buf, size, "%u", p);
	return buf;
}

/* Ports from TCP/UDP/SCTP/UDP-Lite; ICMP type and code stay in the payload. */
static int parse_l4(const uint8_t *p, size_t len, unsigned int proto, struct nlh_event *ev)
{
	char tmp[8];

	nlh_strlcpy(ev->nflog.proto, proto_name(proto, tmp, sizeof(tmp)), sizeof(ev->nflog.proto));
	NLH_SET(ev, NFLOG, proto);
	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
	case IPPROTO_UDPLITE:
		if (len < 4)
			return -EBADMSG;
		ev->nflog.sport = get16(p);
		ev->nflog.dport = get16(p + 2);
		NLH_SET(ev, NFLOG, sport);
		NLH_SET(ev, NFLOG, dport);
		break;
	}
	return 0;
}

static void set_addr(struct nlh_addr *a, int family, const uint8_t *p)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	a->plen = family == AF_INET ? 32 : 128;
	memcpy(a->a, p, family == AF_INET ? 4 : 16);
}

static int parse_ipv4(const uint8_t *p, size_t len, struct nlh_event *ev)
{
	size_t ihl;

	nlh_strlcpy(ev->nflog.family, "inet", sizeof(ev->nflog.family));
	NLH_SET(ev, NFLOG, family);
	if (len < 20)
		return -EBADMSG;
	ihl = (p[0] & 0x0f) * 4;
	set_addr(&ev->nflog.src, AF_INET, p + 12);
	set_addr(&ev->nflog.dst, AF_INET, p + 16);
	NLH_SET(ev, NFLOG, src);
	NLH_SET(ev, NFLOG, dst);
	ev->nflog.len = get16(p + 2);
	NLH_SET(ev, NFLOG, len);
	if (ihl < 20 || ihl > len)
		return -EBADMSG;
	/* A later fragment carries no L4 header. */
	if (get16(p + 6) & 0x1fff) {
		char tmp[8];

		nlh_strlcpy(ev->nflog.proto, proto_name(p[9], tmp, sizeof(tmp)), sizeof(ev->nflog.proto));
		NLH_SET(ev, NFLOG, proto);
		return 0;
	}
	return parse_l4(p + ihl, len - ihl, p[9], ev);
}

static int parse_ipv6(const uint8_t *p, size_t len, struct nlh_event *ev)
{
	unsigned int next;
	size_t off = 40;

	nlh_strlcpy(ev->nflog.family, "inet6", sizeof(ev->nflog.family));
	NLH_SET(ev, NFLOG, family);
	if (len < 40)
		return -EBADMSG;
	set_addr(&ev->nflog.src, AF_INET6, p + 8);
	set_addr(&ev->nflog.dst, AF_INET6, p + 24);
	NLH_SET(ev, NFLOG, src);
	NLH_SET(ev, NFLOG, dst);
	ev->nflog.len = 40 + get16(p + 4);
	NLH_SET(ev, NFLOG, len);
	next = p[6];
	/* Extension headers, a bounded number of them. */
	for (int i = 0; i < 8; i++) {
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (len - off < 8)
				return -EBADMSG;
			next = p[off];
			off += (p[off + 1] + 1) * 8;
			if (off > len)
				return -EBADMSG;
			continue;
		case IPPROTO_FRAGMENT:
			if (len - off < 8)
				return -EBADMSG;
			next = p[off];
			if (get16(p + off + 2) & 0xfff8) {	/* not the first fragment */
				char tmp[8];

				nlh_strlcpy(ev->nflog.proto, proto_name(next, tmp, sizeof(tmp)), sizeof(ev->nflog.proto));
				NLH_SET(ev, NFLOG, proto);
				return 0;
			}
			off += 8;
			continue;
		}
		return parse_l4(p + off, len - off, next, ev);
	}
	return -EBADMSG;
}

int nflog_parse_packet(const uint8_t *p, size_t len, uint16_t l3proto, struct nlh_event *ev)
{
	if (!l3proto && len)
		l3proto = (p[0] >> 4) == 6 ? 0x86dd : (p[0] >> 4) == 4 ? 0x0800 : 0;
	switch (l3proto) {
	case 0x0800:
		return parse_ipv4(p, len, ev);
	case 0x86dd:
		return parse_ipv6(p, len, ev);
	}
	return -ENODATA;
}

#define TB_MAX (NFULA_MAX + 1)

static uint32_t attr_be32(const struct nlattr *a, bool *ok)
{
	if (!a || mnl_attr_get_payload_len(a) < 4) {
		*ok = false;
		return 0;
	}
	*ok = true;
	return ntohl(mnl_attr_get_u32(a));
}

int nflog_parse(const struct nlmsghdr *nlh, struct nlh_event *ev)
{
	const struct nfgenmsg *nfg;
	const struct nlattr *tb[TB_MAX] = {}, *a;
	struct nlh_nflog *n = &ev->nflog;
	uint16_t l3proto = 0;
	size_t left;
	bool ok, bad;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG || NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return -ENODATA;
	nlh_event_init(ev, NLH_EV_NFLOG);
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nfg)))
		return -EBADMSG;
	nfg = mnl_nlmsg_get_payload(nlh);
	n->group = ntohs(nfg->res_id);
	NLH_SET(ev, NFLOG, group);
	/*
	 * Attributes by hand: one that runs past the message makes it
	 * malformed, but those before it are still read.
	 */
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(*nfg));
	if ((const char *)a > (const char *)nlh + nlh->nlmsg_len)
		return -EBADMSG;
	left = (const char *)nlh + nlh->nlmsg_len - (const char *)a;
	while (mnl_attr_ok(a, (int)left)) {
		size_t step = MNL_ALIGN(a->nla_len);

		if (mnl_attr_get_type(a) < TB_MAX)
			tb[mnl_attr_get_type(a)] = a;
		left -= step < left ? step : left;
		a = (const struct nlattr *)((const char *)a + step);
	}
	bad = left >= sizeof(struct nlattr);

	if ((a = tb[NFULA_PACKET_HDR]) && mnl_attr_get_payload_len(a) >= sizeof(struct nfulnl_msg_packet_hdr))
		l3proto = ntohs(((const struct nfulnl_msg_packet_hdr *)mnl_attr_get_payload(a))->hw_protocol);
	if ((a = tb[NFULA_PREFIX])) {
		size_t len = mnl_attr_get_payload_len(a);

		if (len >= sizeof(n->prefix))
			len = sizeof(n->prefix) - 1;
		memcpy(n->prefix, mnl_attr_get_payload(a), len);
		n->prefix[len] = '\0';
		n->prefix[strnlen(n->prefix, len)] = '\0';
		NLH_SET(ev, NFLOG, prefix);
	}
	n->mark = attr_be32(tb[NFULA_MARK], &ok);
	if (ok)
		NLH_SET(ev, NFLOG, mark);
	n->uid = attr_be32(tb[NFULA_UID], &ok);
	if (ok)
		NLH_SET(ev, NFLOG, uid);
	n->gid = attr_be32(tb[NFULA_GID], &ok);
	if (ok)
		NLH_SET(ev, NFLOG, gid);
	n->seq = attr_be32(tb[NFULA_SEQ], &ok);
	if (ok)
		NLH_SET(ev, NFLOG, seq);
	n->indev_index = attr_be32(tb[NFULA_IFINDEX_INDEV], &ok);
	n->outdev_index = attr_be32(tb[NFULA_IFINDEX_OUTDEV], &ok);
	if ((a = tb[NFULA_HWADDR]) && mnl_attr_get_payload_len(a) >= sizeof(struct nfulnl_msg_packet_hw)) {
		const struct nfulnl_msg_packet_hw *hw = mnl_attr_get_payload(a);
		uint16_t hlen = ntohs(hw->hw_addrlen);

		if (hlen && hlen <= sizeof(hw->hw_addr)) {
			n->mac.len = hlen;
			memcpy(n->mac.a, hw->hw_addr, hlen);
			NLH_SET(ev, NFLOG, mac);
		}
	}
	if ((a = tb[NFULA_TIMESTAMP]) && mnl_attr_get_payload_len(a) >= sizeof(struct nfulnl_msg_packet_timestamp)) {
		struct nfulnl_msg_packet_timestamp ts;
		uint64_t sec, usec;

		/* Attributes are 4-aligned: copy the 64-bit fields out. */
		memcpy(&ts, mnl_attr_get_payload(a), sizeof(ts));
		sec = be64toh(ts.sec);
		usec = be64toh(ts.usec);

		/* The packet's own time when the kernel stamped it. */
		if (sec && sec < 100000000000ull && usec < 1000000)
			ev->time = sec + usec / 1e6;
	}
	if ((a = tb[NFULA_PAYLOAD])) {
		n->payload.p = mnl_attr_get_payload(a);
		n->payload.len = mnl_attr_get_payload_len(a);
		NLH_SET(ev, NFLOG, payload);
		if (nflog_parse_packet(n->payload.p, n->payload.len, l3proto, ev) == -EBADMSG)
			bad = true;
	}
	return bad ? -EBADMSG : 0;
}
