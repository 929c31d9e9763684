/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

/*
 * Pure nl80211 parsing.  Generic netlink family ids belong to the machine
 * that sent the messages: they are learned from CTRL_CMD_NEWFAMILY (live
 * from the kernel's answer, in a replay from the capture).
 */
struct nl80211_ids {
	uint16_t family;	/* 0: not known (yet) */
	uint32_t grp_mlme, grp_config, grp_scan, grp_regulatory;
};

/* A generic netlink controller message about nl80211: 1 when it set or cleared ids. */
int nl80211_ctrl_parse(const struct nlmsghdr *nlh, struct nl80211_ids *ids);

/* One nl80211 message -> one wifi.* event; -ENODATA when it is none, -EBADMSG when malformed. */
int nl80211_parse(const struct nlmsghdr *nlh, const struct nl80211_ids *ids, struct nlh_event *ev);

/* The SSID element (ID 0) of a list of information elements. */
int nl80211_ie_ssid(const uint8_t *ies, size_t len, struct nlh_ssid *ret);

/*
 * What only the kernel's interface state says: CONNECT and ROAM carry no
 * NL80211_ATTR_SSID (mac80211 puts it in REQ_IE, other drivers may not)
 * and no frequency.  The source asks with NL80211_CMD_GET_INTERFACE and
 * holds the event until the answer.
 */
struct nl80211_iface {
	uint32_t ifindex;
	uint32_t freq;		/* 0: not said */
	bool has_ssid;
	struct nlh_ssid ssid;
};

/* A successful connect or roam lacking its SSID or frequency. */
bool nl80211_wants_iface(const struct nlh_event *ev);
/* The answer (NL80211_CMD_NEW_INTERFACE): 0, -ENODATA when it is not one, -EBADMSG when malformed. */
int nl80211_iface_parse(const struct nlmsghdr *nlh, const struct nl80211_ids *ids, struct nl80211_iface *ret);
/* Fill what ev lacks from the answer about its interface. */
void nl80211_iface_fill(struct nlh_event *ev, const struct nl80211_iface *iface);

/*
 * What the kernel does not say, derived per interface:
 * - the SSID of a disconnect (the last connect's);
 * - wifi.roam when a connect to another BSSID of the same SSID follows a
 *   disconnect on the same interface within NL80211_ROAM_WINDOW seconds
 *   (mac80211 roams as DISCONNECT + CONNECT, never CMD_ROAM);
 * - wifi.authorized when the operstate goes UP after a connect (the WPA
 *   handshake is done), where no PORT_AUTHORIZED comes.
 */
#define NL80211_ROAM_WINDOW 1.0
#define NL80211_TRACK_MAX 32

struct nl80211_track {
	struct nl80211_if {
		uint32_t ifindex;
		char ifname[IFNAMSIZ];
		struct nlh_ssid ssid;
		struct nlh_hwaddr bssid;
		uint32_t wiphy;
		uint32_t freq;
		bool connected;
		bool await_authorized;
		bool oper_up;
		double disconnect_time;
		struct nlh_hwaddr disconnect_bssid;
		struct nlh_ssid disconnect_ssid;
	} ifs[NL80211_TRACK_MAX];
};

/* Completes ev (ssid of a disconnect...); may write one extra event (roam) to *extra: returns 1 then. */
int nl80211_track_wifi(struct nl80211_track *t, struct nlh_event *ev, struct nlh_event *extra);
/* A link's new state (any RTM_NEWLINK): 1 with wifi.authorized in *out. */
int nl80211_track_link(struct nl80211_track *t, const struct nlh_event *link, struct nlh_event *out);
