/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/nl80211.h>
#include <stdlib.h>
#include <string.h>

#include "nl80211-parse.h"

#define TB_MAX 320

static int attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb, size_t tbmax)
{
	const struct nlattr *a;
	size_t left;

	memset(tb, 0, tbmax * sizeof(*tb));
	if (nlh->nlmsg_len < mnl_nlmsg_size(hdrlen))
		return -EBADMSG;
	a = mnl_nlmsg_get_payload_offset(nlh, hdrlen);
	if ((const char *)a > (const char *)nlh + nlh->nlmsg_len)
		return -EBADMSG;
	left = (const char *)nlh + nlh->nlmsg_len - (const char *)a;
	while (mnl_attr_ok(a, (int)left)) {
		size_t step = MNL_ALIGN(a->nla_len);

		if (mnl_attr_get_type(a) < tbmax)
			tb[mnl_attr_get_type(a)] = a;
		left -= step < left ? step : left;
		a = (const struct nlattr *)((const char *)a + step);
	}
	return left >= sizeof(struct nlattr) ? -EBADMSG : 0;
}

static bool get_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a || mnl_attr_get_payload_len(a) < 4)
		return false;
	*v = mnl_attr_get_u32(a);
	return true;
}

static bool get_u64(const struct nlattr *a, uint64_t *v)
{
	if (!a || mnl_attr_get_payload_len(a) < 8)
		return false;
	*v = mnl_attr_get_u64(a);
	return true;
}

static bool get_u16(const struct nlattr *a, uint32_t *v)
{
	if (!a || mnl_attr_get_payload_len(a) < 2)
		return false;
	*v = mnl_attr_get_u16(a);
	return true;
}

int nl80211_ctrl_parse(const struct nlmsghdr *nlh, struct nl80211_ids *ids)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1], *grp, *ga;
	const struct genlmsghdr *g;
	struct nl80211_ids n = {};
	uint32_t id;

	if (nlh->nlmsg_type != GENL_ID_CTRL || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)))
		return 0;
	g = mnl_nlmsg_get_payload(nlh);
	if (g->cmd != CTRL_CMD_NEWFAMILY && g->cmd != CTRL_CMD_DELFAMILY)
		return 0;
	if (attrs(nlh, sizeof(*g), tb, CTRL_ATTR_MAX + 1) < 0 || !tb[CTRL_ATTR_FAMILY_NAME] ||
	    mnl_attr_get_payload_len(tb[CTRL_ATTR_FAMILY_NAME]) < 8 ||
	    memcmp(mnl_attr_get_payload(tb[CTRL_ATTR_FAMILY_NAME]), "nl80211", 8))
		return 0;
	if (g->cmd == CTRL_CMD_DELFAMILY) {
		memset(ids, 0, sizeof(*ids));
		return 1;
	}
	if (!get_u16(tb[CTRL_ATTR_FAMILY_ID], &id) || !id)
		return 0;
	n.family = id;
	if ((grp = tb[CTRL_ATTR_MCAST_GROUPS]) && mnl_attr_get_payload_len(grp) >= 4) {
		mnl_attr_for_each_nested(ga, grp) {
			const struct nlattr *x, *name = NULL;
			uint32_t gid = 0;

			if (mnl_attr_get_payload_len(ga) < 4)
				continue;
			mnl_attr_for_each_nested(x, ga) {
				if (mnl_attr_get_type(x) == CTRL_ATTR_MCAST_GRP_NAME)
					name = x;
				else if (mnl_attr_get_type(x) == CTRL_ATTR_MCAST_GRP_ID)
					get_u32(x, &gid);
			}
			if (!name || !gid)
				continue;
#define GRP(s, field) if (mnl_attr_get_payload_len(name) == sizeof(s) && !memcmp(mnl_attr_get_payload(name), s, sizeof(s))) n.field = gid
			GRP("mlme", grp_mlme);
			GRP("config", grp_config);
			GRP("scan", grp_scan);
			GRP("regulatory", grp_regulatory);
#undef GRP
		}
	}
	*ids = n;
	return 1;
}

int nl80211_ie_ssid(const uint8_t *ies, size_t len, struct nlh_ssid *ret)
{
	size_t off = 0;

	while (off + 2 <= len) {
		uint8_t id = ies[off], elen = ies[off + 1];

		if (off + 2 + elen > len)
			return -EBADMSG;	/* the element runs past the list */
		if (id == 0) {
			if (elen > NLH_SSID_MAX)
				return -EBADMSG;
			ret->len = elen;
			memcpy(ret->b, ies + off + 2, elen);
			return 0;
		}
		off += 2 + elen;
	}
	return off == len ? -ENODATA : -EBADMSG;
}

static void set_mac(struct nlh_hwaddr *h, const uint8_t *p)
{
	h->len = 6;
	memcpy(h->a, p, 6);
}

/* MLME events carry the management frame: BSSID (addr3), status or reason in the body. */
static void frame_fields(const struct nlattr *a, struct nlh_event *ev)
{
	const uint8_t *f;
	size_t len;
	uint16_t fc;

	if (!a)
		return;
	f = mnl_attr_get_payload(a);
	len = mnl_attr_get_payload_len(a);
	if (len < 24)
		return;
	set_mac(&ev->wifi.bssid, f + 16);
	NLH_SET(ev, WIFI, bssid);
	fc = f[0] | f[1] << 8;
	switch ((fc >> 4) & 0xf) {	/* management subtype */
	case 0xb:	/* authentication: algorithm, sequence, status */
		if (len >= 30) {
			ev->wifi.status = f[28] | f[29] << 8;
			NLH_SET(ev, WIFI, status);
		}
		break;
	case 0x1:	/* association response: capabilities, status */
	case 0x3:	/* reassociation response */
		if (len >= 28) {
			ev->wifi.status = f[26] | f[27] << 8;
			NLH_SET(ev, WIFI, status);
		}
		break;
	case 0xa:	/* disassociation: reason */
	case 0xc:	/* deauthentication: reason */
		if (len >= 26) {
			ev->wifi.reason = f[24] | f[25] << 8;
			NLH_SET(ev, WIFI, reason);
		}
		break;
	}
}

const char *nl80211_iftype_name(uint32_t iftype)
{
	static const char *const names[] = {
		[NL80211_IFTYPE_ADHOC] = "adhoc",
		[NL80211_IFTYPE_STATION] = "station",
		[NL80211_IFTYPE_AP] = "ap",
		[NL80211_IFTYPE_AP_VLAN] = "ap-vlan",
		[NL80211_IFTYPE_WDS] = "wds",
		[NL80211_IFTYPE_MONITOR] = "monitor",
		[NL80211_IFTYPE_MESH_POINT] = "mesh",
		[NL80211_IFTYPE_P2P_CLIENT] = "p2p-client",
		[NL80211_IFTYPE_P2P_GO] = "p2p-go",
		[NL80211_IFTYPE_P2P_DEVICE] = "p2p-device",
		[NL80211_IFTYPE_OCB] = "ocb",
		[NL80211_IFTYPE_NAN] = "nan",
	};

	return iftype < sizeof(names) / sizeof(names[0]) ? names[iftype] : NULL;
}

/* What STA_INFO says of a station that leaves (or, in a dump, is there). */
static void sta_info(const struct nlattr *nest, struct nlh_event *ev)
{
	struct nlh_wifi *w = &ev->wifi;
	bool rx64 = false, tx64 = false;
	const struct nlattr *a;
	uint32_t v;

	if (!nest || mnl_attr_get_payload_len(nest) < 4)
		return;
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case NL80211_STA_INFO_CONNECTED_TIME:
			if (get_u32(a, &w->connected_time))
				NLH_SET(ev, WIFI, connected_time);
			break;
		/* The 32-bit counters wrap: the 64-bit ones win when both come. */
		case NL80211_STA_INFO_RX_BYTES:
			if (!rx64 && get_u32(a, &v)) {
				w->rx_bytes = v;
				NLH_SET(ev, WIFI, rx_bytes);
			}
			break;
		case NL80211_STA_INFO_RX_BYTES64:
			if ((rx64 = get_u64(a, &w->rx_bytes)))
				NLH_SET(ev, WIFI, rx_bytes);
			break;
		case NL80211_STA_INFO_TX_BYTES:
			if (!tx64 && get_u32(a, &v)) {
				w->tx_bytes = v;
				NLH_SET(ev, WIFI, tx_bytes);
			}
			break;
		case NL80211_STA_INFO_TX_BYTES64:
			if ((tx64 = get_u64(a, &w->tx_bytes)))
				NLH_SET(ev, WIFI, tx_bytes);
			break;
		case NL80211_STA_INFO_SIGNAL:	/* a u8 that is an s8, dBm */
			if (mnl_attr_get_payload_len(a) >= 1) {
				w->signal = (int8_t)mnl_attr_get_u8(a);
				NLH_SET(ev, WIFI, signal);
			}
			break;
		}
	}
}

/* NEW_STATION / DEL_STATION: the station's address is NL80211_ATTR_MAC. */
static int station_fields(const struct nlattr **tb, struct nlh_event *ev, bool info)
{
	const struct nlattr *a = tb[NL80211_ATTR_MAC];

	if (!a || mnl_attr_get_payload_len(a) != 6)
		return -EBADMSG;
	set_mac(&ev->wifi.mac, mnl_attr_get_payload(a));
	NLH_SET(ev, WIFI, mac);
	if (info)
		sta_info(tb[NL80211_ATTR_STA_INFO], ev);
	return 0;
}

int nl80211_station_parse(const struct nlmsghdr *nlh, const struct nl80211_ids *ids, struct nlh_event *ev)
{
	const struct nlattr *tb[TB_MAX];
	const struct genlmsghdr *g;

	if (!ids->family || nlh->nlmsg_type != ids->family || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)))
		return -ENODATA;
	g = mnl_nlmsg_get_payload(nlh);
	/* A request names a station too, but only the kernel says it is there. */
	if (g->cmd != NL80211_CMD_NEW_STATION || nlh->nlmsg_flags & NLM_F_REQUEST)
		return -ENODATA;
	nlh_event_init(ev, NLH_EV_WIFI_STATION_NEW);
	if (attrs(nlh, sizeof(*g), tb, TB_MAX) < 0 || !get_u32(tb[NL80211_ATTR_IFINDEX], &ev->wifi.ifindex))
		return -EBADMSG;
	NLH_SET(ev, WIFI, ifindex);
	return station_fields(tb, ev, true);
}

int nl80211_parse(const struct nlmsghdr *nlh, const struct nl80211_ids *ids, struct nlh_event *ev)
{
	const struct nlattr *tb[TB_MAX];
	const struct genlmsghdr *g;
	enum nlh_event_type t;
	struct nlh_wifi *w = &ev->wifi;
	const struct nlattr *a;
	uint32_t v;

	if (!ids->family || nlh->nlmsg_type != ids->family || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)))
		return -ENODATA;
	g = mnl_nlmsg_get_payload(nlh);
	switch (g->cmd) {
	case NL80211_CMD_CONNECT: t = NLH_EV_WIFI_CONNECT; break;
	case NL80211_CMD_DISCONNECT: t = NLH_EV_WIFI_DISCONNECT; break;
	case NL80211_CMD_ROAM: t = NLH_EV_WIFI_ROAM; break;
	case NL80211_CMD_AUTHENTICATE: t = NLH_EV_WIFI_AUTHENTICATE; break;
	case NL80211_CMD_ASSOCIATE: t = NLH_EV_WIFI_ASSOCIATE; break;
	case NL80211_CMD_DEAUTHENTICATE: t = NLH_EV_WIFI_DEAUTH; break;
	case NL80211_CMD_DISASSOCIATE: t = NLH_EV_WIFI_DISASSOC; break;
	case NL80211_CMD_PORT_AUTHORIZED: t = NLH_EV_WIFI_AUTHORIZED; break;
	case NL80211_CMD_NEW_INTERFACE: t = NLH_EV_WIFI_IFACE_NEW; break;
	case NL80211_CMD_DEL_INTERFACE: t = NLH_EV_WIFI_IFACE_DEL; break;
	case NL80211_CMD_NEW_SCAN_RESULTS: t = NLH_EV_WIFI_SCAN_DONE; break;
	case NL80211_CMD_REG_CHANGE: t = NLH_EV_WIFI_REG_CHANGE; break;
	case NL80211_CMD_NEW_STATION: t = NLH_EV_WIFI_STATION_NEW; break;
	case NL80211_CMD_DEL_STATION: t = NLH_EV_WIFI_STATION_DEL; break;
	default:
		return -ENODATA;
	}
	/*
	 * Events are multicast, from the kernel (portid 0).  Requests and
	 * replies to some program (a capture holds those too) are not.
	 */
	if (nlh->nlmsg_flags & (NLM_F_REQUEST | NLM_F_MULTI) || nlh->nlmsg_pid)
		return -ENODATA;
	nlh_event_init(ev, t);
	if (attrs(nlh, sizeof(*g), tb, TB_MAX) < 0)
		return -EBADMSG;
	if (get_u32(tb[NL80211_ATTR_IFINDEX], &w->ifindex))
		NLH_SET(ev, WIFI, ifindex);
	else if (t != NLH_EV_WIFI_REG_CHANGE)
		return -ENODATA;	/* a wdev without a netdev (P2P device): no interface to name */
	if (get_u32(tb[NL80211_ATTR_WIPHY], &w->wiphy))
		NLH_SET(ev, WIFI, wiphy);
	if ((a = tb[NL80211_ATTR_IFNAME]) && mnl_attr_get_payload_len(a) > 0) {
		size_t len = mnl_attr_get_payload_len(a);

		if (len >= sizeof(w->ifname))
			len = sizeof(w->ifname) - 1;
		memcpy(w->ifname, mnl_attr_get_payload(a), len);
		w->ifname[len] = '\0';
		w->ifname[strnlen(w->ifname, len)] = '\0';
		if (w->ifname[0])
			NLH_SET(ev, WIFI, ifname);
	}
	if (t == NLH_EV_WIFI_STATION_NEW || t == NLH_EV_WIFI_STATION_DEL)
		return station_fields(tb, ev, t == NLH_EV_WIFI_STATION_DEL);
	if ((a = tb[NL80211_ATTR_MAC]) && mnl_attr_get_payload_len(a) == 6 && t != NLH_EV_WIFI_IFACE_NEW &&
	    t != NLH_EV_WIFI_IFACE_DEL) {
		set_mac(&w->bssid, mnl_attr_get_payload(a));
		NLH_SET(ev, WIFI, bssid);
	}
	if (t == NLH_EV_WIFI_IFACE_NEW && get_u32(tb[NL80211_ATTR_IFTYPE], &v) && nl80211_iftype_name(v)) {
		nlh_strlcpy(w->iftype, nl80211_iftype_name(v), sizeof(w->iftype));
		NLH_SET(ev, WIFI, iftype);
	}
	if (get_u32(tb[NL80211_ATTR_WIPHY_FREQ], &w->freq))
		NLH_SET(ev, WIFI, freq);
	if (get_u16(tb[NL80211_ATTR_STATUS_CODE], &w->status))
		NLH_SET(ev, WIFI, status);
	if (get_u16(tb[NL80211_ATTR_REASON_CODE], &w->reason))
		NLH_SET(ev, WIFI, reason);
	if (t == NLH_EV_WIFI_DISCONNECT) {
		w->by_ap = !!tb[NL80211_ATTR_DISCONNECTED_BY_AP];
		NLH_SET(ev, WIFI, by_ap);
	}
	if (t == NLH_EV_WIFI_AUTHENTICATE || t == NLH_EV_WIFI_ASSOCIATE || t == NLH_EV_WIFI_DEAUTH ||
	    t == NLH_EV_WIFI_DISASSOC)
		frame_fields(tb[NL80211_ATTR_FRAME], ev);
	/* The SSID is not an attribute of these: it is in the elements. */
	if ((a = tb[NL80211_ATTR_SSID]) && mnl_attr_get_payload_len(a) <= NLH_SSID_MAX) {
		w->ssid.len = mnl_attr_get_payload_len(a);
		memcpy(w->ssid.b, mnl_attr_get_payload(a), w->ssid.len);
		NLH_SET(ev, WIFI, ssid);
	}
	for (int k = 0; k < 2 && !NLH_HAS(ev, WIFI, ssid); k++) {
		a = tb[k ? NL80211_ATTR_RESP_IE : NL80211_ATTR_REQ_IE];
		if (a && !nl80211_ie_ssid(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), &w->ssid))
			NLH_SET(ev, WIFI, ssid);
	}
	return 0;
}

/* Modes whose stations raise events; an AP's VLAN interfaces hold some of its stations. */
static bool ap_mode(uint8_t iftype)
{
	switch (iftype ? iftype - 1 : NUM_NL80211_IFTYPES) {
	case NL80211_IFTYPE_AP:
	case NL80211_IFTYPE_AP_VLAN:
	case NL80211_IFTYPE_P2P_GO:
	case NL80211_IFTYPE_MESH_POINT:
		return true;
	}
	return false;
}

/* Modes the kernel tells the SSID of (GET_INTERFACE); a mesh has a mesh ID instead. */
static bool bss_mode(uint8_t iftype)
{
	return iftype == NL80211_IFTYPE_AP + 1 || iftype == NL80211_IFTYPE_P2P_GO + 1;
}

static const struct nl80211_if *find_if(const struct nl80211_track *t, uint32_t ifindex)
{
	for (size_t i = 0; ifindex && i < NL80211_TRACK_MAX; i++)
		if (t->ifs[i].ifindex == ifindex)
			return &t->ifs[i];
	return NULL;
}

bool nl80211_wants_iface(const struct nl80211_track *t, const struct nlh_event *ev)
{
	const struct nl80211_if *i;

	if (!NLH_HAS(ev, WIFI, ifindex))
		return false;
	if (ev->type == NLH_EV_WIFI_STATION_NEW || ev->type == NLH_EV_WIFI_STATION_DEL) {
		i = find_if(t, ev->wifi.ifindex);
		return !i || !i->iftype || (bss_mode(i->iftype) && !i->ssid.len && !i->ap_told);
	}
	if (ev->type != NLH_EV_WIFI_CONNECT && ev->type != NLH_EV_WIFI_ROAM)
		return false;
	if (NLH_HAS(ev, WIFI, status) && ev->wifi.status)
		return false;	/* a failed connect has no interface state to ask about */
	return !NLH_HAS(ev, WIFI, ssid) || !NLH_HAS(ev, WIFI, freq);
}

int nl80211_iface_parse(const struct nlmsghdr *nlh, const struct nl80211_ids *ids, struct nl80211_iface *ret)
{
	const struct nlattr *tb[TB_MAX], *a;
	const struct genlmsghdr *g;
	struct nl80211_iface i = {};

	if (!ids->family || nlh->nlmsg_type != ids->family || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)))
		return -ENODATA;
	g = mnl_nlmsg_get_payload(nlh);
	/* A request (a capture holds those) is what a program asked for, not what is. */
	if ((g->cmd != NL80211_CMD_NEW_INTERFACE && g->cmd != NL80211_CMD_SET_INTERFACE) ||
	    nlh->nlmsg_flags & NLM_F_REQUEST)
		return -ENODATA;
	if (attrs(nlh, sizeof(*g), tb, TB_MAX) < 0)
		return -EBADMSG;
	if (!get_u32(tb[NL80211_ATTR_IFINDEX], &i.ifindex) || !i.ifindex)
		return -ENODATA;	/* a wdev without netdev (P2P device) */
	get_u32(tb[NL80211_ATTR_WIPHY_FREQ], &i.freq);
	i.has_wiphy = get_u32(tb[NL80211_ATTR_WIPHY], &i.wiphy);
	i.has_iftype = get_u32(tb[NL80211_ATTR_IFTYPE], &i.iftype);
	/* Notifications come from the kernel (portid 0); answers go to who asked. */
	i.answer = g->cmd == NL80211_CMD_NEW_INTERFACE && nlh->nlmsg_pid;
	/* A station's while connected (the current BSS's), an access point's while it runs. */
	if ((a = tb[NL80211_ATTR_SSID]) && mnl_attr_get_payload_len(a) <= NLH_SSID_MAX) {
		i.has_ssid = true;
		i.ssid.len = mnl_attr_get_payload_len(a);
		memcpy(i.ssid.b, mnl_attr_get_payload(a), i.ssid.len);
	}
	*ret = i;
	return 0;
}

void nl80211_iface_fill(struct nlh_event *ev, const struct nl80211_iface *iface)
{
	/* Station events take what they need from the tracked interface. */
	if (!NLH_HAS(ev, WIFI, ifindex) || ev->wifi.ifindex != iface->ifindex ||
	    ev->type == NLH_EV_WIFI_STATION_NEW || ev->type == NLH_EV_WIFI_STATION_DEL)
		return;
	if (!NLH_HAS(ev, WIFI, ssid) && iface->has_ssid) {
		ev->wifi.ssid = iface->ssid;
		NLH_SET(ev, WIFI, ssid);
	}
	if (!NLH_HAS(ev, WIFI, freq) && iface->freq) {
		ev->wifi.freq = iface->freq;
		NLH_SET(ev, WIFI, freq);
	}
}

static struct nl80211_if *track_if(struct nl80211_track *t, uint32_t ifindex, bool create)
{
	struct nl80211_if *free_slot = NULL;

	for (size_t i = 0; i < NL80211_TRACK_MAX; i++) {
		if (t->ifs[i].ifindex == ifindex)
			return &t->ifs[i];
		if (!t->ifs[i].ifindex && !free_slot)
			free_slot = &t->ifs[i];
	}
	if (!create)
		return NULL;
	if (!free_slot)
		free_slot = &t->ifs[ifindex % NL80211_TRACK_MAX];	/* full: reuse one */
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->ifindex = ifindex;
	return free_slot;
}

/* The station table */

static struct nl80211_sta *sta_find(const struct nl80211_track *t, uint32_t ifindex, const uint8_t *mac)
{
	for (uint32_t k = 0; k < t->n_sta; k++)
		if (t->sta[k].ifindex == ifindex && !memcmp(t->sta[k].mac, mac, 6))
			return &t->sta[k];
	return NULL;
}

static int sta_add(struct nl80211_track *t, const struct nlh_event *ev, double since)
{
	struct nl80211_sta *s;

	if (t->n_sta == t->max_sta) {
		uint32_t max = t->max_sta ? 2 * t->max_sta : 8;

		if (t->max_sta >= NL80211_STATIONS_MAX || !(s = realloc(t->sta, max * sizeof(*s)))) {
			t->sta_dropped++;
			return -ENOSPC;
		}
		t->sta = s;
		t->max_sta = max;
	}
	s = &t->sta[t->n_sta++];
	s->ifindex = ev->wifi.ifindex;
	s->wiphy = NLH_HAS(ev, WIFI, wiphy) ? ev->wifi.wiphy : UINT32_MAX;
	memcpy(s->mac, ev->wifi.mac.a, 6);
	s->unseen = false;
	s->since = since;
	return 0;
}

/* The order of the table is no promise: the last takes the place of the one removed. */
static void sta_remove(struct nl80211_track *t, struct nl80211_sta *s)
{
	*s = t->sta[--t->n_sta];
	if (!t->n_sta) {
		free(t->sta);
		t->sta = NULL;
		t->max_sta = 0;
	}
}

static void sta_drop_if(struct nl80211_track *t, uint32_t ifindex)
{
	for (uint32_t k = t->n_sta; k-- > 0;)
		if (t->sta[k].ifindex == ifindex)
			sta_remove(t, &t->sta[k]);
}

/*
 * A station that leaves from an AP's VLAN interface (where hostapd moves
 * WDS and VLAN stations) joined on the AP itself: the same address on
 * the same wiphy.
 */
static struct nl80211_sta *sta_find_leaving(const struct nl80211_track *t, const struct nlh_event *ev)
{
	struct nl80211_sta *s = sta_find(t, ev->wifi.ifindex, ev->wifi.mac.a);

	for (uint32_t k = 0; !s && NLH_HAS(ev, WIFI, wiphy) && k < t->n_sta; k++)
		if (t->sta[k].wiphy == ev->wifi.wiphy && !memcmp(t->sta[k].mac, ev->wifi.mac.a, 6))
			s = &t->sta[k];
	return s;
}

void nl80211_track_stations(struct nl80211_track *t, bool on)
{
	t->stations = on;
	if (!on) {
		free(t->sta);
		t->sta = NULL;
		t->n_sta = t->max_sta = 0;
	}
}

void nl80211_track_free(struct nl80211_track *t)
{
	nl80211_track_stations(t, false);
}

size_t nl80211_track_station_count(const struct nl80211_track *t)
{
	return t->n_sta;
}

/* What a station event takes from its interface; -ENODATA when that is no access point. */
static int station_fill(const struct nl80211_track *t, struct nlh_event *ev)
{
	const struct nl80211_if *i = find_if(t, ev->wifi.ifindex);
	struct nlh_wifi *w = &ev->wifi;

	if (!i || !i->iftype)
		return 0;	/* not known: raised, iftype nil */
	if (!ap_mode(i->iftype))
		return -ENODATA;
	nlh_strlcpy(w->iftype, nl80211_iftype_name(i->iftype - 1), sizeof(w->iftype));
	NLH_SET(ev, WIFI, iftype);
	if (i->has_wiphy && !NLH_HAS(ev, WIFI, wiphy)) {
		w->wiphy = i->wiphy;
		NLH_SET(ev, WIFI, wiphy);
	}
	if (bss_mode(i->iftype) && i->ssid.len && !NLH_HAS(ev, WIFI, ssid)) {
		w->ssid = i->ssid;
		NLH_SET(ev, WIFI, ssid);
	}
	return 0;
}

static int track_station(struct nl80211_track *t, struct nlh_event *ev)
{
	struct nl80211_sta *s;
	int r = station_fill(t, ev);

	if (r < 0 || !t->stations)
		return r;
	if (ev->type == NLH_EV_WIFI_STATION_NEW) {
		if (!sta_find(t, ev->wifi.ifindex, ev->wifi.mac.a))
			sta_add(t, ev, ev->time);
	} else if ((s = sta_find_leaving(t, ev))) {
		sta_remove(t, s);
	}
	return 0;
}

int nl80211_track_station_dump(struct nl80211_track *t, struct nlh_event *ev)
{
	struct nl80211_sta *s;
	double since = ev->time;
	int r = station_fill(t, ev);

	if (r < 0)
		return r;
	if (NLH_HAS(ev, WIFI, connected_time))
		since -= ev->wifi.connected_time;
	/* What STA_INFO says belongs to a station that leaves. */
	ev->present &= ~(UINT64_C(1) << NLH_F_WIFI_connected_time | UINT64_C(1) << NLH_F_WIFI_rx_bytes |
			 UINT64_C(1) << NLH_F_WIFI_tx_bytes | UINT64_C(1) << NLH_F_WIFI_signal);
	if (!t->stations)
		return 0;
	if ((s = sta_find(t, ev->wifi.ifindex, ev->wifi.mac.a))) {
		s->unseen = false;
		return 0;
	}
	return sta_add(t, ev, since) < 0 ? 0 : 1;
}

void nl80211_track_stations_mark(struct nl80211_track *t)
{
	for (uint32_t k = 0; k < t->n_sta; k++)
		t->sta[k].unseen = true;
}

int nl80211_track_stations_sweep(struct nl80211_track *t, struct nlh_event *out)
{
	for (uint32_t k = 0; k < t->n_sta; k++) {
		if (!t->sta[k].unseen)
			continue;
		nl80211_track_station_get(t, k, nlh_now(), out);
		out->type = NLH_EV_WIFI_STATION_DEL;
		out->present &= ~(UINT64_C(1) << NLH_F_WIFI_connected_time);
		sta_remove(t, &t->sta[k]);
		return 1;
	}
	return 0;
}

void nl80211_track_station_get(const struct nl80211_track *t, size_t i, double now, struct nlh_event *ev)
{
	const struct nl80211_sta *s = &t->sta[i];

	nlh_event_init(ev, NLH_EV_WIFI_STATION_NEW);
	ev->wifi.ifindex = s->ifindex;
	NLH_SET(ev, WIFI, ifindex);
	ev->wifi.mac.len = 6;
	memcpy(ev->wifi.mac.a, s->mac, 6);
	NLH_SET(ev, WIFI, mac);
	station_fill(t, ev);
	ev->wifi.connected_time = now > s->since ? (uint32_t)(now - s->since) : 0;
	NLH_SET(ev, WIFI, connected_time);
}

/* Interfaces */

const char *nl80211_track_iftype(const struct nl80211_track *t, uint32_t ifindex)
{
	const struct nl80211_if *i = find_if(t, ifindex);

	return i && i->iftype ? nl80211_iftype_name(i->iftype - 1) : NULL;
}

bool nl80211_track_is_ap(const struct nl80211_track *t, uint32_t ifindex)
{
	const struct nl80211_if *i = find_if(t, ifindex);

	return i && ap_mode(i->iftype);
}

void nl80211_track_iface(struct nl80211_track *t, const struct nl80211_iface *iface)
{
	struct nl80211_if *i = track_if(t, iface->ifindex, true);
	uint8_t iftype = iface->has_iftype && iface->iftype < UINT8_MAX ? iface->iftype + 1 : i->iftype;

	if (iface->has_iftype && i->iftype != iftype) {
		/* Another mode: what was derived in the old one is gone (the kernel disconnected it). */
		uint32_t ifindex = i->ifindex;
		char ifname[IFNAMSIZ];
		bool oper_up = i->oper_up;

		memcpy(ifname, i->ifname, IFNAMSIZ);
		memset(i, 0, sizeof(*i));
		i->ifindex = ifindex;
		memcpy(i->ifname, ifname, IFNAMSIZ);
		i->oper_up = oper_up;
		i->iftype = iftype;
		sta_drop_if(t, ifindex);
	}
	if (iface->has_wiphy) {
		i->wiphy = iface->wiphy;
		i->has_wiphy = true;
	}
	if (!bss_mode(i->iftype))
		return;
	/*
	 * An answer says the whole state: no SSID, no BSS running.  A
	 * notification (a new interface, a new mode) comes before any AP
	 * starts: the SSID is asked for when its first station comes.
	 */
	i->ssid.len = iface->has_ssid ? iface->ssid.len : 0;
	memcpy(i->ssid.b, iface->ssid.b, i->ssid.len);
	i->ap_told = iface->answer || iface->has_ssid;
}

int nl80211_track_wifi(struct nl80211_track *t, struct nlh_event *ev, struct nlh_event *extra)
{
	struct nlh_wifi *w = &ev->wifi;
	struct nl80211_if *i;

	if (!NLH_HAS(ev, WIFI, ifindex))
		return 0;
	if (ev->type == NLH_EV_WIFI_STATION_NEW || ev->type == NLH_EV_WIFI_STATION_DEL)
		return track_station(t, ev);
	if (ev->type == NLH_EV_WIFI_IFACE_DEL) {
		i = track_if(t, w->ifindex, false);
		if (i)
			memset(i, 0, sizeof(*i));
		sta_drop_if(t, w->ifindex);
		return 0;
	}
	i = track_if(t, w->ifindex, true);
	switch (ev->type) {
	case NLH_EV_WIFI_CONNECT:
	case NLH_EV_WIFI_ROAM:
		if (!NLH_HAS(ev, WIFI, ssid) && i->ssid.len && ev->type == NLH_EV_WIFI_ROAM) {
			w->ssid = i->ssid;
			NLH_SET(ev, WIFI, ssid);
		}
		if (ev->type == NLH_EV_WIFI_CONNECT && (NLH_HAS(ev, WIFI, status) && w->status))
			return 0;	/* a failed connect changes nothing */
		if (ev->type == NLH_EV_WIFI_ROAM && i->bssid.len) {
			w->prev_bssid = i->bssid;
			NLH_SET(ev, WIFI, prev_bssid);
		}
		/* DISCONNECT then CONNECT elsewhere in the same ESS, quickly: a roam. */
		if (ev->type == NLH_EV_WIFI_CONNECT && i->disconnect_time && ev->time - i->disconnect_time <= NL80211_ROAM_WINDOW &&
		    NLH_HAS(ev, WIFI, bssid) && NLH_HAS(ev, WIFI, ssid) && i->disconnect_bssid.len &&
		    memcmp(&i->disconnect_bssid, &w->bssid, sizeof(w->bssid)) &&
		    i->disconnect_ssid.len == w->ssid.len && !memcmp(i->disconnect_ssid.b, w->ssid.b, w->ssid.len)) {
			*extra = *ev;
			extra->type = NLH_EV_WIFI_ROAM;
			extra->wifi.prev_bssid = i->disconnect_bssid;
			NLH_SET(extra, WIFI, prev_bssid);
			i->disconnect_time = 0;
			i->connected = true;
			i->bssid = w->bssid;
			i->ssid = w->ssid;
			i->freq = NLH_HAS(ev, WIFI, freq) ? w->freq : 0;
			i->await_authorized = !i->oper_up;
			return 1;
		}
		i->connected = true;
		if (NLH_HAS(ev, WIFI, bssid))
			i->bssid = w->bssid;
		if (NLH_HAS(ev, WIFI, ssid))
			i->ssid = w->ssid;
		i->freq = NLH_HAS(ev, WIFI, freq) ? w->freq : 0;
		i->disconnect_time = 0;
		/* Until the link is UP the port is closed (WPA handshake pending). */
		i->await_authorized = !i->oper_up;
		return 0;
	case NLH_EV_WIFI_DISCONNECT:
		if (!NLH_HAS(ev, WIFI, ssid) && i->ssid.len) {
			w->ssid = i->ssid;
			NLH_SET(ev, WIFI, ssid);
		}
		if (!NLH_HAS(ev, WIFI, bssid) && i->bssid.len) {
			w->bssid = i->bssid;
			NLH_SET(ev, WIFI, bssid);
		}
		if (!NLH_HAS(ev, WIFI, freq) && i->freq) {
			w->freq = i->freq;
			NLH_SET(ev, WIFI, freq);
		}
		i->disconnect_time = ev->time;
		i->disconnect_bssid = i->bssid;
		i->disconnect_ssid = i->ssid;
		i->connected = false;
		i->await_authorized = false;
		return 0;
	case NLH_EV_WIFI_AUTHORIZED:
		i->await_authorized = false;
		if (!NLH_HAS(ev, WIFI, ssid) && i->ssid.len) {
			w->ssid = i->ssid;
			NLH_SET(ev, WIFI, ssid);
		}
		return 0;
	case NLH_EV_WIFI_ASSOCIATE:
	case NLH_EV_WIFI_AUTHENTICATE:
	case NLH_EV_WIFI_DEAUTH:
	case NLH_EV_WIFI_DISASSOC:
		if (!NLH_HAS(ev, WIFI, ssid) && i->connected && i->ssid.len) {
			w->ssid = i->ssid;
			NLH_SET(ev, WIFI, ssid);
		}
		return 0;
	default:
		return 0;
	}
}

int nl80211_track_link(struct nl80211_track *t, const struct nlh_event *link, struct nlh_event *out)
{
	struct nl80211_if *i = track_if(t, link->link.ifindex, false);
	bool up;

	if (!i)
		return 0;
	if (link->type == NLH_EV_LINK_DEL) {
		memset(i, 0, sizeof(*i));
		sta_drop_if(t, link->link.ifindex);
		return 0;
	}
	/* Down, an access point stops: when it comes back its SSID may be another. */
	if (NLH_HAS(link, LINK, up) && !link->link.up && bss_mode(i->iftype)) {
		i->ssid.len = 0;
		i->ap_told = false;
	}
	if (!NLH_HAS(link, LINK, operstate))
		return 0;
	up = !strcmp(link->link.operstate, "up");
	nlh_strlcpy(i->ifname, link->link.ifname, IFNAMSIZ);
	if (up && !i->oper_up && i->await_authorized && i->connected) {
		i->oper_up = true;
		i->await_authorized = false;
		nlh_event_init(out, NLH_EV_WIFI_AUTHORIZED);
		out->time = link->time;
		out->wifi.ifindex = i->ifindex;
		NLH_SET(out, WIFI, ifindex);
		if (i->ifname[0]) {
			nlh_strlcpy(out->wifi.ifname, i->ifname, IFNAMSIZ);
			NLH_SET(out, WIFI, ifname);
		}
		out->wifi.bssid = i->bssid;
		NLH_SET(out, WIFI, bssid);
		if (i->ssid.len) {
			out->wifi.ssid = i->ssid;
			NLH_SET(out, WIFI, ssid);
		}
		if (i->freq) {
			out->wifi.freq = i->freq;
			NLH_SET(out, WIFI, freq);
		}
		return 1;
	}
	i->oper_up = up;
	return 0;
}
