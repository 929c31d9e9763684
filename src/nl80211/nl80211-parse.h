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
 * and no frequency; NEW_STATION and DEL_STATION carry neither the
 * interface's mode nor its wiphy.  The source asks with
 * NL80211_CMD_GET_INTERFACE and holds the event until the answer.
 */
struct nl80211_iface {
	uint32_t ifindex;
	uint32_t freq;		/* 0: not said */
	uint32_t wiphy;
	uint32_t iftype;	/* NL80211_IFTYPE_*, when has_iftype */
	bool has_wiphy;
	bool has_iftype;
	bool answer;		/* to a GET_INTERFACE (the whole state), not a notification */
	bool has_ssid;
	struct nlh_ssid ssid;
};

/* The name of a mode (NL80211_IFTYPE_*) as the iftype field says it; NULL when it has none. */
const char *nl80211_iftype_name(uint32_t iftype);

struct nl80211_track;

/*
 * A successful connect or roam lacking its SSID or frequency; a station
 * event on an interface whose mode, or as an access point its SSID, is
 * not known.
 */
bool nl80211_wants_iface(const struct nl80211_track *t, const struct nlh_event *ev);
/*
 * What the kernel says of an interface: an answer to GET_INTERFACE, a
 * NEW_INTERFACE or SET_INTERFACE notification.  0, -ENODATA when it is
 * none (or a request, or a wdev without netdev), -EBADMSG when malformed.
 */
int nl80211_iface_parse(const struct nlmsghdr *nlh, const struct nl80211_ids *ids, struct nl80211_iface *ret);
/* Fill what ev lacks from the answer about its interface. */
void nl80211_iface_fill(struct nlh_event *ev, const struct nl80211_iface *iface);

/*
 * A NEW_STATION from the kernel, event or answer to GET_STATION (the
 * start-up dump): a wifi.station.new with what STA_INFO says.  0,
 * -ENODATA when it is none, -EBADMSG when malformed.
 */
int nl80211_station_parse(const struct nlmsghdr *nlh, const struct nl80211_ids *ids, struct nlh_event *ev);

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
/* Stations of access points per namespace: hostapd's default limit is 2007 per BSS. */
#define NL80211_STATIONS_MAX 4096

/*
 * And per interface, its mode (from the interface messages) and, for an
 * access point, its SSID; the stations associated with access points,
 * in a table allocated at the first and freed at the last.
 */
struct nl80211_track {
	struct nl80211_if {
		uint32_t ifindex;
		char ifname[IFNAMSIZ];
		/* A station's: the connection's SSID; an access point's: its BSS's. */
		struct nlh_ssid ssid;
		struct nlh_hwaddr bssid;
		uint32_t wiphy;
		uint32_t freq;
		uint8_t iftype;		/* NL80211_IFTYPE_* + 1; 0: not known */
		bool has_wiphy;
		bool ap_told;		/* the kernel answered about the access point since it (re)started */
		bool connected;
		bool await_authorized;
		bool oper_up;
		double disconnect_time;
		struct nlh_hwaddr disconnect_bssid;
		struct nlh_ssid disconnect_ssid;
	} ifs[NL80211_TRACK_MAX];
	struct nl80211_sta {
		uint32_t ifindex;
		uint32_t wiphy;		/* its interface's, when known; else UINT32_MAX */
		uint8_t mac[6];
		bool unseen;		/* not (yet) in a re-dump */
		double since;		/* when it associated */
	} *sta;
	uint32_t n_sta, max_sta;
	bool stations;		/* the table is kept (station events are wanted) */
	uint64_t sta_dropped;	/* over NL80211_STATIONS_MAX, not kept */
};

/*
 * Completes ev (ssid of a disconnect, the interface of a station
 * event...); may write one extra event (roam) to *extra: returns 1 then.
 * -ENODATA: ev is not to be raised (a station of an interface that is no
 * access point: a station's view of its own AP, a peer in an IBSS).
 */
int nl80211_track_wifi(struct nl80211_track *t, struct nlh_event *ev, struct nlh_event *extra);
/* A link's new state (any RTM_NEWLINK): 1 with wifi.authorized in *out. */
int nl80211_track_link(struct nl80211_track *t, const struct nlh_event *link, struct nlh_event *out);
/* What the kernel said of an interface (nl80211_iface_parse). */
void nl80211_track_iface(struct nl80211_track *t, const struct nl80211_iface *iface);
/* The mode of an interface (nl80211_iftype_name), NULL when not known. */
const char *nl80211_track_iftype(const struct nl80211_track *t, uint32_t ifindex);
/* Is the interface in a mode whose stations raise events (access point, P2P GO, mesh point)? */
bool nl80211_track_is_ap(const struct nl80211_track *t, uint32_t ifindex);

/*
 * The station table.  Start and stop keeping it.  A station from a dump
 * (nl80211_station_parse, completed as a station event is): kept if its
 * interface may be an access point, 1 when it was not known before,
 * -ENODATA when its interface is no access point.  A re-dump marks every
 * station first, then sweeps what the kernel no longer has: 1 with the
 * wifi.station.del of one of them in *out, 0 when none is left.
 */
void nl80211_track_stations(struct nl80211_track *t, bool on);
int nl80211_track_station_dump(struct nl80211_track *t, struct nlh_event *ev);
void nl80211_track_stations_mark(struct nl80211_track *t);
int nl80211_track_stations_sweep(struct nl80211_track *t, struct nlh_event *out);
size_t nl80211_track_station_count(const struct nl80211_track *t);
/* Station i as a wifi.station.new would show it now, connected_time up to now. */
void nl80211_track_station_get(const struct nl80211_track *t, size_t i, double now, struct nlh_event *ev);
/* Frees the station table. */
void nl80211_track_free(struct nl80211_track *t);
