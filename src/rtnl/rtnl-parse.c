/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rtnl-parse.h"

/* Attribute tables sized for the largest type we look at. */
#define TB_MAX 64

struct tb {
	const struct nlattr *a[TB_MAX];
};

/*
 * Attributes into a table; unknown and future ones are ignored.  An
 * attribute that runs past the message makes the message malformed
 * (libmnl's walker would just stop there).
 */
static int tb_parse(const struct nlmsghdr *nlh, size_t hdrlen, struct tb *tb)
{
	const struct nlattr *attr = mnl_nlmsg_get_payload_offset(nlh, hdrlen);
	int left;

	memset(tb, 0, sizeof(*tb));
	if (nlh->nlmsg_len < mnl_nlmsg_size(hdrlen))
		return -EBADMSG;
	/* The family header is aligned: it may end past a short message. */
	if ((const char *)attr > (const char *)nlh + nlh->nlmsg_len)
		return -EBADMSG;
	left = (const char *)nlh + nlh->nlmsg_len - (const char *)attr;
	while (mnl_attr_ok(attr, left)) {
		unsigned int type = mnl_attr_get_type(attr);

		if (type < TB_MAX)
			tb->a[type] = attr;
		left -= MNL_ALIGN(attr->nla_len);
		attr = (const struct nlattr *)((const char *)attr + MNL_ALIGN(attr->nla_len));
	}
	return left >= (int)sizeof(struct nlattr) ? -EBADMSG : 0;
}

static const struct nlattr *attr_u32(const struct tb *tb, unsigned int type)
{
	const struct nlattr *a = tb->a[type];

	if (a && mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return NULL;
	return a;
}

/* Strings from the kernel are NUL-terminated; a lying one is cut, not trusted. */
static bool attr_str(const struct tb *tb, unsigned int type, char *dst, size_t size)
{
	const struct nlattr *a = tb->a[type];
	uint16_t len;

	if (!a)
		return false;
	len = mnl_attr_get_payload_len(a);
	if (len >= size)
		len = size - 1;
	memcpy(dst, mnl_attr_get_payload(a), len);
	dst[len] = '\0';
	dst[strnlen(dst, len)] = '\0';
	return true;
}

static bool attr_addr(const struct tb *tb, unsigned int type, uint8_t family, uint8_t plen, struct nlh_addr *ret)
{
	const struct nlattr *a = tb->a[type];
	size_t want = family == AF_INET ? 4 : 16;

	if (!a || mnl_attr_get_payload_len(a) != want)
		return false;
	memset(ret, 0, sizeof(*ret));
	ret->family = family;
	ret->plen = plen;
	memcpy(ret->a, mnl_attr_get_payload(a), want);
	return true;
}

static bool attr_hwaddr(const struct tb *tb, unsigned int type, struct nlh_hwaddr *ret)
{
	const struct nlattr *a = tb->a[type];
	uint16_t len;

	if (!a)
		return false;
	len = mnl_attr_get_payload_len(a);
	if (!len || len > NLH_HWADDR_MAX)
		return false;
	ret->len = len;
	memcpy(ret->a, mnl_attr_get_payload(a), len);
	return true;
}

static const char *family_name(uint8_t family)
{
	return family == AF_INET ? "inet" : "inet6";
}

const char *rtnl_operstate_name(unsigned int operstate)
{
	static const char *const names[] = {
		[IF_OPER_UNKNOWN] = "unknown",
		[IF_OPER_NOTPRESENT] = "notpresent",
		[IF_OPER_DOWN] = "down",
		[IF_OPER_LOWERLAYERDOWN] = "lowerlayerdown",
		[IF_OPER_TESTING] = "testing",
		[IF_OPER_DORMANT] = "dormant",
		[IF_OPER_UP] = "up",
	};

	if (operstate >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[operstate];
}

static int linkinfo_kind(const struct nlattr *linkinfo, char *kind, size_t size)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, linkinfo) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND) {
			size_t len = mnl_attr_get_payload_len(a);

			if (len >= size)
				len = size - 1;
			memcpy(kind, mnl_attr_get_payload(a), len);
			kind[len] = '\0';
			kind[strnlen(kind, len)] = '\0';
			return 0;
		}
	}
	return -ENODATA;
}

static int parse_link(const struct nlmsghdr *nlh, struct nlh_event *ev)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct nlh_link *l = &ev->link;
	const struct nlattr *a;
	struct tb tb;

	if (tb_parse(nlh, sizeof(*ifi), &tb) < 0)
		return -EBADMSG;
	/*
	 * AF_BRIDGE (port state) and AF_INET6 (protinfo) variants go to the
	 * same group; an AF_BRIDGE RTM_DELLINK only means "left the bridge".
	 */
	if (ifi->ifi_family != AF_UNSPEC)
		return -ENODATA;
	if (ifi->ifi_index <= 0)
		return -EBADMSG;

	nlh_event_init(ev, nlh->nlmsg_type == RTM_DELLINK ? NLH_EV_LINK_DEL : NLH_EV_LINK_NEW);
	l->ifindex = ifi->ifi_index;
	NLH_SET(ev, LINK, ifindex);
	l->flags = ifi->ifi_flags;
	l->up = !!(ifi->ifi_flags & IFF_UP);
	l->running = !!(ifi->ifi_flags & IFF_RUNNING);
	l->carrier = !!(ifi->ifi_flags & IFF_LOWER_UP);
	NLH_SET(ev, LINK, up);
	NLH_SET(ev, LINK, running);
	NLH_SET(ev, LINK, carrier);
	if (attr_str(&tb, IFLA_IFNAME, l->ifname, sizeof(l->ifname)))
		NLH_SET(ev, LINK, ifname);
	if ((a = attr_u32(&tb, IFLA_MTU))) {
		l->mtu = mnl_attr_get_u32(a);
		NLH_SET(ev, LINK, mtu);
	}
	a = tb.a[IFLA_OPERSTATE];
	if (a && mnl_attr_validate(a, MNL_TYPE_U8) >= 0) {
		nlh_strlcpy(l->operstate, rtnl_operstate_name(mnl_attr_get_u8(a)), sizeof(l->operstate));
		NLH_SET(ev, LINK, operstate);
	}
	if (attr_hwaddr(&tb, IFLA_ADDRESS, &l->mac))
		NLH_SET(ev, LINK, mac);
	if ((a = attr_u32(&tb, IFLA_MASTER)))
		l->master_index = mnl_attr_get_u32(a);
	a = tb.a[IFLA_LINKINFO];
	if (a && mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0 && !linkinfo_kind(a, l->kind, sizeof(l->kind)))
		NLH_SET(ev, LINK, kind);
	return 0;
}

static const char *scope_name(unsigned int scope, char *buf, size_t size)
{
	switch (scope) {
	case RT_SCOPE_UNIVERSE:
		return "global";
	case RT_SCOPE_SITE:
		return "site";
	case RT_SCOPE_LINK:
		return "link";
	case RT_SCOPE_HOST:
		return "host";
	case RT_SCOPE_NOWHERE:
		return "nowhere";
	}
	snprintf(buf, size, "%u", scope);
	return buf;
}

static int parse_addr(const struct nlmsghdr *nlh, struct nlh_event *ev)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct nlh_addrev *ad = &ev->addr;
	const struct nlattr *a;
	char tmp[16];
	struct tb tb;

	if (tb_parse(nlh, sizeof(*ifa), &tb) < 0)
		return -EBADMSG;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return -ENODATA;

	nlh_event_init(ev, nlh->nlmsg_type == RTM_DELADDR ? NLH_EV_ADDR_DEL : NLH_EV_ADDR_ADD);
	ad->ifindex = ifa->ifa_index;
	NLH_SET(ev, ADDR, ifindex);
	nlh_strlcpy(ad->family, family_name(ifa->ifa_family), sizeof(ad->family));
	NLH_SET(ev, ADDR, family);
	/* On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours. */
	if (!attr_addr(&tb, IFA_LOCAL, ifa->ifa_family, ifa->ifa_prefixlen, &ad->address) &&
	    !attr_addr(&tb, IFA_ADDRESS, ifa->ifa_family, ifa->ifa_prefixlen, &ad->address))
		return -EBADMSG;
	NLH_SET(ev, ADDR, address);
	ad->prefixlen = ifa->ifa_prefixlen;
	NLH_SET(ev, ADDR, prefixlen);
	nlh_strlcpy(ad->scope, scope_name(ifa->ifa_scope, tmp, sizeof(tmp)), sizeof(ad->scope));
	NLH_SET(ev, ADDR, scope);
	if (attr_str(&tb, IFA_LABEL, ad->label, sizeof(ad->label)))
		NLH_SET(ev, ADDR, label);
	/* The 8 bits of the header, or all 32 when the kernel sends them. */
	ad->flags = ifa->ifa_flags;
	if ((a = attr_u32(&tb, IFA_FLAGS)))
		ad->flags = mnl_attr_get_u32(a);
	return 0;
}

static const char *proto_name(unsigned int p, char *buf, size_t size)
{
	switch (p) {
	case RTPROT_UNSPEC: return "unspec";
	case RTPROT_REDIRECT: return "redirect";
	case RTPROT_KERNEL: return "kernel";
	case RTPROT_BOOT: return "boot";
	case RTPROT_STATIC: return "static";
	case RTPROT_RA: return "ra";
	case RTPROT_DHCP: return "dhcp";
	case RTPROT_BABEL: return "babel";
	case RTPROT_BGP: return "bgp";
	case RTPROT_ISIS: return "isis";
	case RTPROT_OSPF: return "ospf";
	case RTPROT_RIP: return "rip";
	case RTPROT_BIRD: return "bird";
	case RTPROT_ZEBRA: return "zebra";
	case RTPROT_KEEPALIVED: return "keepalived";
	}
	snprintf(buf, size, "%u", p);
	return buf;
}

static const char *rtype_name(unsigned int t, char *buf, size_t size)
{
	static const char *const names[] = {
		[RTN_UNSPEC] = "none",
		[RTN_UNICAST] = "unicast",
		[RTN_LOCAL] = "local",
		[RTN_BROADCAST] = "broadcast",
		[RTN_ANYCAST] = "anycast",
		[RTN_MULTICAST] = "multicast",
		[RTN_BLACKHOLE] = "blackhole",
		[RTN_UNREACHABLE] = "unreachable",
		[RTN_PROHIBIT] = "prohibit",
		[RTN_THROW] = "throw",
		[RTN_NAT] = "nat",
		[RTN_XRESOLVE] = "xresolve",
	};

	if (t < sizeof(names) / sizeof(names[0]))
		return names[t];
	snprintf(buf, size, "%u", t);
	return buf;
}

/* RTA_MULTIPATH's hops (alen: the family's address length), as rtnl_route_hops(). */
static size_t hops_of(const struct nlattr *a, size_t alen, struct rtnl_hop *hops, size_t max)
{
	const uint8_t *p = mnl_attr_get_payload(a);
	size_t left = mnl_attr_get_payload_len(a), n = 0;

	while (left >= sizeof(struct rtnexthop)) {
		const struct rtnexthop *nh = (const struct rtnexthop *)p;
		size_t len = nh->rtnh_len, step = RTNH_ALIGN(len);
		const char *end = (const char *)nh + len;
		const struct nlattr *na;

		if (len < sizeof(*nh) || len > left)
			return 0;
		if (n < max) {
			hops[n] = (struct rtnl_hop){ .ifindex = nh->rtnh_ifindex };
			for (na = (const struct nlattr *)((const char *)nh + RTNH_LENGTH(0));
			     mnl_attr_ok(na, (int)(end - (const char *)na)); na = mnl_attr_next(na))
				if (mnl_attr_get_type(na) == RTA_GATEWAY && mnl_attr_get_payload_len(na) == alen) {
					memcpy(hops[n].gateway, mnl_attr_get_payload(na), alen);
					hops[n].has_gateway = true;
				}
		}
		n++;
		if (step >= left)
			break;
		p += step;
		left -= step;
	}
	return n;
}

size_t rtnl_route_hops(const struct nlmsghdr *nlh, struct rtnl_hop *hops, size_t max)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct tb tb;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)) || tb_parse(nlh, sizeof(*rtm), &tb) < 0 ||
	    !tb.a[RTA_MULTIPATH])
		return 0;
	return hops_of(tb.a[RTA_MULTIPATH], rtm->rtm_family == AF_INET ? 4 : 16, hops, max);
}

int rtnl_route_parse(const struct nlmsghdr *nlh, struct rtnl_route *ret)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct rtnl_route r = {};
	const struct nlattr *a;
	size_t alen;
	struct tb tb;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)) || tb_parse(nlh, sizeof(*rtm), &tb) < 0)
		return -EBADMSG;
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return -ENODATA;
	if (rtm->rtm_flags & RTM_F_CLONED)
		return -ENODATA;
	alen = rtm->rtm_family == AF_INET ? 4 : 16;
	if (rtm->rtm_dst_len > alen * 8)
		return -EBADMSG;

	r.family = rtm->rtm_family;
	r.dst_len = rtm->rtm_dst_len;
	a = tb.a[RTA_DST];
	if (a && mnl_attr_get_payload_len(a) == alen)
		memcpy(r.dst, mnl_attr_get_payload(a), alen);
	else if (rtm->rtm_dst_len)
		return -EBADMSG;
	a = tb.a[RTA_GATEWAY];
	if (a && mnl_attr_get_payload_len(a) == alen) {
		memcpy(r.gateway, mnl_attr_get_payload(a), alen);
		r.has_gateway = true;
	}
	if ((a = attr_u32(&tb, RTA_OIF))) {
		r.ifindex = mnl_attr_get_u32(a);
		r.has_ifindex = true;
	}
	if (tb.a[RTA_MULTIPATH]) {
		/* The first hop stands for the route in its fields. */
		struct rtnl_hop first;

		if (hops_of(tb.a[RTA_MULTIPATH], alen, &first, 1)) {
			r.multipath = true;
			if (!r.has_ifindex) {
				r.ifindex = first.ifindex;
				r.has_ifindex = true;
			}
			if (!r.has_gateway && first.has_gateway) {
				memcpy(r.gateway, first.gateway, sizeof(r.gateway));
				r.has_gateway = true;
			}
		}
	}
	r.table = rtm->rtm_table;
	if ((a = attr_u32(&tb, RTA_TABLE)))
		r.table = mnl_attr_get_u32(a);
	if ((a = attr_u32(&tb, RTA_PRIORITY)))
		r.metric = mnl_attr_get_u32(a);
	r.protocol = rtm->rtm_protocol;
	r.scope = rtm->rtm_scope;
	r.type = rtm->rtm_type;
	*ret = r;
	return 0;
}

void rtnl_route_event(const struct rtnl_route *r, enum nlh_event_type t, struct nlh_event *ev)
{
	struct nlh_route *er = &ev->route;
	size_t alen = r->family == AF_INET ? 4 : 16;
	char tmp[16];

	nlh_event_init(ev, t);
	nlh_strlcpy(er->family, family_name(r->family), sizeof(er->family));
	NLH_SET(ev, ROUTE, family);
	er->dst.family = r->family;
	er->dst.plen = r->dst_len;
	memcpy(er->dst.a, r->dst, alen);
	NLH_SET(ev, ROUTE, dst);
	if (r->has_gateway) {
		er->gateway.family = r->family;
		memcpy(er->gateway.a, r->gateway, alen);
		NLH_SET(ev, ROUTE, gateway);
	}
	if (r->has_ifindex) {
		er->ifindex = r->ifindex;
		NLH_SET(ev, ROUTE, ifindex);
	}
	er->table = r->table;
	NLH_SET(ev, ROUTE, table);
	nlh_strlcpy(er->protocol, proto_name(r->protocol, tmp, sizeof(tmp)), sizeof(er->protocol));
	NLH_SET(ev, ROUTE, protocol);
	er->metric = r->metric;
	NLH_SET(ev, ROUTE, metric);
	nlh_strlcpy(er->scope, scope_name(r->scope, tmp, sizeof(tmp)), sizeof(er->scope));
	NLH_SET(ev, ROUTE, scope);
	nlh_strlcpy(er->kind, rtype_name(r->type, tmp, sizeof(tmp)), sizeof(er->kind));
	NLH_SET(ev, ROUTE, kind);
}

static void neigh_state(unsigned int state, char *buf, size_t size)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
		{ NUD_INCOMPLETE, "incomplete" }, { NUD_REACHABLE, "reachable" },
		{ NUD_STALE, "stale" }, { NUD_DELAY, "delay" }, { NUD_PROBE, "probe" },
		{ NUD_FAILED, "failed" }, { NUD_NOARP, "noarp" }, { NUD_PERMANENT, "permanent" },
	};
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(state & names[i].bit))
			continue;
		o += snprintf(buf + o, size - o, "%s%s", o ? "," : "", names[i].name);
		if (o >= size)
			break;
	}
	if (!o)
		snprintf(buf, size, "none");
}

static int parse_neigh(const struct nlmsghdr *nlh, struct nlh_event *ev)
{
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	struct nlh_neigh *n = &ev->neigh;
	struct tb tb;

	if (tb_parse(nlh, sizeof(*nd), &tb) < 0)
		return -EBADMSG;
	/* AF_BRIDGE: fdb entries, not neighbours. */
	if (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6)
		return -ENODATA;

	nlh_event_init(ev, nlh->nlmsg_type == RTM_DELNEIGH ? NLH_EV_NEIGH_DEL : NLH_EV_NEIGH_ADD);
	n->ifindex = nd->ndm_ifindex;
	NLH_SET(ev, NEIGH, ifindex);
	nlh_strlcpy(n->family, family_name(nd->ndm_family), sizeof(n->family));
	NLH_SET(ev, NEIGH, family);
	if (!attr_addr(&tb, NDA_DST, nd->ndm_family, nd->ndm_family == AF_INET ? 32 : 128, &n->address))
		return -EBADMSG;
	NLH_SET(ev, NEIGH, address);
	if (attr_hwaddr(&tb, NDA_LLADDR, &n->mac))
		NLH_SET(ev, NEIGH, mac);
	neigh_state(nd->ndm_state, n->state, sizeof(n->state));
	NLH_SET(ev, NEIGH, state);
	return 0;
}

int rtnl_parse(const struct nlmsghdr *nlh, struct nlh_event *ev)
{
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
			return -EBADMSG;
		return parse_link(nlh, ev);
	case RTM_NEWADDR:
	case RTM_DELADDR:
		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifaddrmsg)))
			return -EBADMSG;
		return parse_addr(nlh, ev);
	case RTM_NEWROUTE:
	case RTM_DELROUTE: {
		struct rtnl_route r;
		int ret = rtnl_route_parse(nlh, &r);

		if (ret < 0)
			return ret;
		rtnl_route_event(&r, nlh->nlmsg_type == RTM_DELROUTE ? NLH_EV_ROUTE_DEL : NLH_EV_ROUTE_ADD, ev);
		return 0;
	}
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ndmsg)))
			return -EBADMSG;
		return parse_neigh(nlh, ev);
	}
	return -ENODATA;
}

static void edge(const struct nlh_event *cur, enum nlh_event_type t, struct nlh_event *out, size_t *n)
{
	out[*n] = *cur;
	out[*n].type = t;
	(*n)++;
}

size_t rtnl_link_edges(const struct nlh_event *prev, const struct nlh_event *cur, struct nlh_event *out)
{
	static const struct nlh_link down = {};
	const struct nlh_link *p = prev ? &prev->link : &down;
	const struct nlh_link *c = &cur->link;
	size_t n = 0;

	if (!prev)
		edge(cur, NLH_EV_LINK_NEW, out, &n);
	else if (NLH_HAS(cur, LINK, ifname) && strcmp(p->ifname, c->ifname)) {
		edge(cur, NLH_EV_LINK_RENAME, out, &n);
		nlh_strlcpy(out[n - 1].link.old_ifname, p->ifname, IFNAMSIZ);
		NLH_SET(&out[n - 1], LINK, old_ifname);
	}
	if (c->up && !p->up)
		edge(cur, NLH_EV_LINK_UP, out, &n);
	if (c->carrier != p->carrier)
		edge(cur, c->carrier ? NLH_EV_LINK_CARRIER : NLH_EV_LINK_NOCARRIER, out, &n);
	if (!c->up && p->up)
		edge(cur, NLH_EV_LINK_DOWN, out, &n);
	return n;
}
