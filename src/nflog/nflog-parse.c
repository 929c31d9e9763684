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

/* Names and lengths copied whole: a flood parses every hit. */
static void set_str(char *dst, const char *s, size_t n)
{
	memcpy(dst, s, n + 1);
}

#define SET_STR(dst, lit) set_str(dst, lit, sizeof(lit) - 1)

static void set_proto(struct nlh_event *ev, unsigned int p)
{
	char *d = ev->nflog.proto;

	switch (p) {
	case IPPROTO_TCP: SET_STR(d, "tcp"); break;
	case IPPROTO_UDP: SET_STR(d, "udp"); break;
	case IPPROTO_ICMP: SET_STR(d, "icmp"); break;
	case IPPROTO_ICMPV6: SET_STR(d, "icmpv6"); break;
	case IPPROTO_SCTP: SET_STR(d, "sctp"); break;
	case IPPROTO_UDPLITE: SET_STR(d, "udplite"); break;
	case IPPROTO_GRE: SET_STR(d, "gre"); break;
	case IPPROTO_ESP: SET_STR(d, "esp"); break;
	case IPPROTO_AH: SET_STR(d, "ah"); break;
	default: snprintf(d, sizeof(ev->nflog.proto), "%u", p); break;
	}
	NLH_SET(ev, NFLOG, proto);
}

/* The set flags by nft's names, in its order: "syn,ack". */
static void set_tcp_flags(struct nlh_event *ev, uint8_t flags)
{
	static const char names[8][4] = { "fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr" };
	char *d = ev->nflog.tcp_flags;
	size_t n = 0;

	for (int i = 0; i < 8; i++) {
		if (!(flags & 1 << i))
			continue;
		if (n)
			d[n++] = ',';
		memcpy(d + n, names[i], 3);
		n += 3;
	}
	d[n] = '\0';
	NLH_SET(ev, NFLOG, tcp_flags);
}

/* Ports from TCP/UDP/SCTP/UDP-Lite, TCP flags, ICMP type and code. */
static int parse_l4(const uint8_t *p, size_t len, unsigned int proto, struct nlh_event *ev)
{
	set_proto(ev, proto);
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
		if (proto != IPPROTO_TCP)
			break;
		if (len < 14)
			return -EBADMSG;
		set_tcp_flags(ev, p[13]);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (len < 2)
			return -EBADMSG;
		ev->nflog.icmp_type = p[0];
		ev->nflog.icmp_code = p[1];
		NLH_SET(ev, NFLOG, icmp_type);
		NLH_SET(ev, NFLOG, icmp_code);
		break;
	}
	return 0;
}

static void set_addr(struct nlh_addr *a, int family, const uint8_t *p)
{
	a->family = family;
	if (family == AF_INET) {
		a->plen = 32;
		memcpy(a->a, p, 4);
	} else {
		a->plen = 128;
		memcpy(a->a, p, 16);
	}
}

static int parse_ipv4(const uint8_t *p, size_t len, struct nlh_event *ev)
{
	size_t ihl;

	SET_STR(ev->nflog.family, "inet");
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
	ev->nflog.ip_id = get16(p + 4);
	NLH_SET(ev, NFLOG, ip_id);
	ev->nflog.ttl = p[8];
	NLH_SET(ev, NFLOG, ttl);
	if (ihl < 20 || ihl > len)
		return -EBADMSG;
	/* A later fragment carries no L4 header. */
	if (get16(p + 6) & 0x1fff) {
		set_proto(ev, p[9]);
		return 0;
	}
	return parse_l4(p + ihl, len - ihl, p[9], ev);
}

static int parse_ipv6(const uint8_t *p, size_t len, struct nlh_event *ev)
{
	unsigned int next;
	size_t off = 40;

	SET_STR(ev->nflog.family, "inet6");
	NLH_SET(ev, NFLOG, family);
	if (len < 40)
		return -EBADMSG;
	set_addr(&ev->nflog.src, AF_INET6, p + 8);
	set_addr(&ev->nflog.dst, AF_INET6, p + 24);
	NLH_SET(ev, NFLOG, src);
	NLH_SET(ev, NFLOG, dst);
	ev->nflog.len = 40 + get16(p + 4);
	NLH_SET(ev, NFLOG, len);
	ev->nflog.ttl = p[7];
	NLH_SET(ev, NFLOG, ttl);
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
				set_proto(ev, next);
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

/*
 * The attributes of len bytes at a into tb.  One that runs past the end
 * makes the message malformed (true), but those before it are kept.
 * By hand, not by libmnl's calls: this runs for every hit of a flood.
 */
static bool parse_attrs(const struct nlattr *a, size_t left, const struct nlattr **tb, unsigned int max)
{
	while (left >= sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= left) {
		unsigned int type = a->nla_type & NLA_TYPE_MASK;
		size_t step = MNL_ALIGN(a->nla_len);

		if (type < max)
			tb[type] = a;
		if (step >= left)
			return false;
		left -= step;
		a = (const struct nlattr *)((const char *)a + step);
	}
	return left >= sizeof(*a);
}

/* The VLAN id of a bridged frame, from the nest the kernel sends for it. */
static void parse_vlan(const struct nlattr *nest, struct nlh_event *ev)
{
	const struct nlattr *tb[NFULA_VLAN_MAX + 1] = {};
	const struct nlattr *tci;

	parse_attrs(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), tb, NFULA_VLAN_MAX + 1);
	tci = tb[NFULA_VLAN_TCI];
	if (tci && mnl_attr_get_payload_len(tci) >= 2) {
		ev->nflog.vlan = ntohs(mnl_attr_get_u16(tci)) & 0x0fff;
		NLH_SET(ev, NFLOG, vlan);
	}
}

int nflog_parse_at(const struct nlmsghdr *nlh, double time, struct nlh_event *ev)
{
	const struct nfgenmsg *nfg;
	const struct nlattr *tb[TB_MAX] = {}, *a;
	struct nlh_nflog *n = &ev->nflog;
	uint16_t l3proto = 0;
	bool ok, bad;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG || NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return -ENODATA;
	nlh_event_init_at(ev, NLH_EV_NFLOG, time);
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nfg)))
		return -EBADMSG;
	nfg = mnl_nlmsg_get_payload(nlh);
	n->group = ntohs(nfg->res_id);
	NLH_SET(ev, NFLOG, group);
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(*nfg));
	if ((const char *)a > (const char *)nlh + nlh->nlmsg_len)
		return -EBADMSG;
	bad = parse_attrs(a, (const char *)nlh + nlh->nlmsg_len - (const char *)a, tb, TB_MAX);

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
	/* Bridged traffic: the ports, while indev and outdev are the bridge. */
	n->physindev_index = attr_be32(tb[NFULA_IFINDEX_PHYSINDEV], &ok);
	n->physoutdev_index = attr_be32(tb[NFULA_IFINDEX_PHYSOUTDEV], &ok);
	if ((a = tb[NFULA_VLAN]))
		parse_vlan(a, ev);
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

int nflog_parse(const struct nlmsghdr *nlh, struct nlh_event *ev)
{
	return nflog_parse_at(nlh, nlh_now(), ev);
}
