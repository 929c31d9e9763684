/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Netlink messages built in a stack buffer for parser tests: the bytes the
 * kernel would send, without a kernel.
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <string.h>

struct nlbuf {
	char b[8192] __attribute__((aligned(8)));
};

static inline struct nlmsghdr *nlb_link(struct nlbuf *buf, uint16_t type, int ifindex, unsigned int flags,
					const char *name, unsigned int mtu, uint8_t operstate)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf->b);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = flags;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_put_u8(nlh, IFLA_OPERSTATE, operstate);
	return nlh;
}

static inline void nlb_link_kind(struct nlmsghdr *nlh, const char *kind)
{
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);

	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, li);
}

static inline struct nlmsghdr *nlb_addr(struct nlbuf *buf, uint16_t type, int family, int ifindex,
					const char *addr, uint8_t plen, uint8_t scope)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf->b);
	struct ifaddrmsg *ifa;
	uint8_t a[16];

	nlh->nlmsg_type = type;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_scope = scope;
	ifa->ifa_index = ifindex;
	inet_pton(family, addr, a);
	mnl_attr_put(nlh, IFA_ADDRESS, family == AF_INET ? 4 : 16, a);
	return nlh;
}

static inline struct nlmsghdr *nlb_route(struct nlbuf *buf, uint16_t type, int family, const char *dst,
					 uint8_t dst_len, const char *gw, int oif, uint32_t metric)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf->b);
	struct rtmsg *rtm;
	uint8_t a[16];
	size_t alen = family == AF_INET ? 4 : 16;

	nlh->nlmsg_type = type;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family;
	rtm->rtm_dst_len = dst_len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
	if (dst) {
		inet_pton(family, dst, a);
		mnl_attr_put(nlh, RTA_DST, alen, a);
	}
	if (gw) {
		inet_pton(family, gw, a);
		mnl_attr_put(nlh, RTA_GATEWAY, alen, a);
	}
	if (oif)
		mnl_attr_put_u32(nlh, RTA_OIF, oif);
	if (metric)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
	return nlh;
}
