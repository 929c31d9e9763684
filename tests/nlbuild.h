/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Netlink messages built in a buffer for parser and source tests: the
 * bytes the kernel would send, without a kernel.
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/nl80211.h>
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

/* A generic netlink message of family (nl80211's id, or GENL_ID_CTRL) from the kernel. */
static inline struct nlmsghdr *nlb_genl(struct nlbuf *buf, uint16_t family, uint8_t cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf->b);
	struct genlmsghdr *g;

	nlh->nlmsg_type = family;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = 1;
	return nlh;
}

/* The controller's CTRL_CMD_NEWFAMILY for nl80211 as family id (a replay learns it so). */
static inline struct nlmsghdr *nlb_nl80211_family(struct nlbuf *buf, uint16_t id)
{
	struct nlmsghdr *nlh = nlb_genl(buf, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY);

	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "nl80211");
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, id);
	return nlh;
}

/*
 * NL80211_CMD_SET_INTERFACE from the kernel (pid 0: a notification), or
 * NEW_INTERFACE as the answer to a GET_INTERFACE (pid: who asked).
 */
static inline struct nlmsghdr *nlb_nl80211_iface(struct nlbuf *buf, uint16_t family, uint8_t cmd, uint32_t pid,
						 uint32_t ifindex, uint32_t wiphy, uint32_t iftype, const char *ssid)
{
	struct nlmsghdr *nlh = nlb_genl(buf, family, cmd);

	nlh->nlmsg_pid = pid;
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, ifindex);
	mnl_attr_put_u32(nlh, NL80211_ATTR_WIPHY, wiphy);
	mnl_attr_put_u32(nlh, NL80211_ATTR_IFTYPE, iftype);
	if (ssid)
		mnl_attr_put(nlh, NL80211_ATTR_SSID, strlen(ssid), ssid);
	return nlh;
}

/* NEW_STATION / DEL_STATION as mac80211 sends them (STA_INFO empty on a join). */
static inline struct nlmsghdr *nlb_nl80211_station(struct nlbuf *buf, uint16_t family, uint8_t cmd, uint32_t ifindex,
						   const uint8_t mac[6])
{
	struct nlmsghdr *nlh = nlb_genl(buf, family, cmd);
	struct nlattr *nest;

	mnl_attr_put_u32(nlh, NL80211_ATTR_IFINDEX, ifindex);
	mnl_attr_put(nlh, NL80211_ATTR_MAC, 6, mac);
	mnl_attr_put_u32(nlh, NL80211_ATTR_GENERATION, 1);
	nest = mnl_attr_nest_start(nlh, NL80211_ATTR_STA_INFO);
	if (cmd == NL80211_CMD_DEL_STATION) {
		mnl_attr_put_u32(nlh, NL80211_STA_INFO_CONNECTED_TIME, 42);
		mnl_attr_put_u8(nlh, NL80211_STA_INFO_SIGNAL, 0xc4);	/* -60 dBm */
	}
	mnl_attr_nest_end(nlh, nest);
	return nlh;
}
