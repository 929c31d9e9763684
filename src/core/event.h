/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Not <net/if.h>: it clashes with <linux/if.h>, which parsers need. */
#ifndef IFNAMSIZ
#define IFNAMSIZ 16
#endif

/*
 * An event is a flat record: a type, a receive time, the netns and the
 * fields of its class.  One field table per class (nlh_class_fields) drives
 * the Lua table, the JSON line, the human line, the exec environment and the
 * matcher, so a field is described exactly once.
 */

enum nlh_class {
	NLH_CLASS_LINK,
	NLH_CLASS_ADDR,
	NLH_CLASS_ROUTE,
	NLH_CLASS_NEIGH,
	NLH_CLASS_NET,
	NLH_CLASS_WIFI,
	NLH_CLASS_NFLOG,
	NLH_CLASS_SELF,
	_NLH_CLASS_MAX,
};

/* X(enum suffix, "type.name", class) */
#define NLH_EVENT_TYPES(X)						\
	X(LINK_NEW, "link.new", LINK)					\
	X(LINK_DEL, "link.del", LINK)					\
	X(LINK_UP, "link.up", LINK)					\
	X(LINK_DOWN, "link.down", LINK)					\
	X(LINK_CARRIER, "link.carrier", LINK)				\
	X(LINK_NOCARRIER, "link.nocarrier", LINK)			\
	X(LINK_RENAME, "link.rename", LINK)				\
	X(LINK_STATE, "link.state", LINK)				\
	X(ADDR_ADD, "addr.add", ADDR)					\
	X(ADDR_DEL, "addr.del", ADDR)					\
	X(ROUTE_ADD, "route.add", ROUTE)				\
	X(ROUTE_DEL, "route.del", ROUTE)				\
	X(NEIGH_ADD, "neigh.add", NEIGH)				\
	X(NEIGH_DEL, "neigh.del", NEIGH)				\
	X(NET_STATE, "net.state", NET)					\
	X(NET_ONLINE, "net.online", NET)				\
	X(NET_OFFLINE, "net.offline", NET)				\
	X(WIFI_CONNECT, "wifi.connect", WIFI)				\
	X(WIFI_DISCONNECT, "wifi.disconnect", WIFI)			\
	X(WIFI_ASSOCIATE, "wifi.associate", WIFI)			\
	X(WIFI_AUTHENTICATE, "wifi.authenticate", WIFI)			\
	X(WIFI_DEAUTH, "wifi.deauth", WIFI)				\
	X(WIFI_DISASSOC, "wifi.disassoc", WIFI)				\
	X(WIFI_ROAM, "wifi.roam", WIFI)					\
	X(WIFI_AUTHORIZED, "wifi.authorized", WIFI)			\
	X(WIFI_IFACE_NEW, "wifi.iface.new", WIFI)			\
	X(WIFI_IFACE_DEL, "wifi.iface.del", WIFI)			\
	X(WIFI_SCAN_DONE, "wifi.scan.done", WIFI)			\
	X(WIFI_REG_CHANGE, "wifi.reg.change", WIFI)			\
	X(WIFI_STATION_NEW, "wifi.station.new", WIFI)			\
	X(WIFI_STATION_DEL, "wifi.station.del", WIFI)			\
	X(NFLOG, "nflog", NFLOG)					\
	X(NLHOOK_START, "nlhook.start", SELF)				\
	X(NLHOOK_RELOAD, "nlhook.reload", SELF)				\
	X(NLHOOK_RESYNC, "nlhook.resync", SELF)				\
	X(NLHOOK_DROP, "nlhook.drop", SELF)				\
	X(NETNS_ADD, "netns.add", SELF)					\
	X(NETNS_DEL, "netns.del", SELF)

#define NLH_EV_ENUM_(e, name, cls) NLH_EV_##e,
enum nlh_event_type {
	NLH_EVENT_TYPES(NLH_EV_ENUM_)
	_NLH_EV_MAX,
};
#undef NLH_EV_ENUM_

/* A set of event types, one bit per enum nlh_event_type. */
typedef uint64_t nlh_typeset;
#define NLH_TYPE_BIT(t) (UINT64_C(1) << (t))

#define NLH_HWADDR_MAX 32
#define NLH_SSID_MAX 32
#define NLH_STR_MAX 64
/* Room for the text of any field but the payload: an escaped byte takes four. */
#define NLH_FIELD_TEXT_MAX (4 * NLH_STR_MAX)

/* An IP address, or a prefix when plen says so (route dst). */
struct nlh_addr {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t plen;
	uint8_t a[16];
};

struct nlh_hwaddr {
	uint8_t len;
	uint8_t a[NLH_HWADDR_MAX];
};

/* SSIDs are up to 32 arbitrary bytes: compared as bytes, rendered escaped. */
struct nlh_ssid {
	uint8_t len;
	uint8_t b[NLH_SSID_MAX];
};

/* Borrowed from the receive buffer, valid only during dispatch. */
struct nlh_bytes {
	const uint8_t *p;
	uint32_t len;
};

enum nlh_ftype {
	NLH_FT_STR,		/* char[] inline, NUL-terminated; rendered escaped (core/text.h) */
	NLH_FT_U32,
	NLH_FT_U64,
	NLH_FT_S32,		/* signed: dBm */
	NLH_FT_BOOL,
	NLH_FT_HWADDR,		/* "aa:bb:cc:dd:ee:ff" */
	NLH_FT_ADDR,		/* "10.0.0.1" */
	NLH_FT_PREFIX,		/* "10.0.0.0/24", "default" for a zero-length prefix */
	NLH_FT_SSID,		/* bytes, NULs included; rendered escaped */
	NLH_FT_BYTES,		/* payload: raw in Lua, hex in JSON/text/env */
};

/* X(field, TYPE) per class; struct members carry the same names. */
#define NLH_LINK_FIELDS(X)						\
	X(ifname, STR) X(ifindex, U32) X(operstate, STR) X(up, BOOL)	\
	X(running, BOOL) X(carrier, BOOL) X(mtu, U32) X(mac, HWADDR)	\
	X(kind, STR) X(master, STR) X(old_ifname, STR) X(state, STR)	\
	X(prev_state, STR)

#define NLH_ADDR_FIELDS(X)						\
	X(ifname, STR) X(ifindex, U32) X(family, STR) X(address, ADDR)	\
	X(prefixlen, U32) X(scope, STR) X(label, STR)

#define NLH_ROUTE_FIELDS(X)						\
	X(family, STR) X(dst, PREFIX) X(gateway, ADDR) X(ifname, STR)	\
	X(ifindex, U32) X(table, U32) X(protocol, STR) X(metric, U32)	\
	X(scope, STR) X(kind, STR)

#define NLH_NEIGH_FIELDS(X)						\
	X(ifname, STR) X(ifindex, U32) X(family, STR) X(address, ADDR)	\
	X(mac, HWADDR) X(state, STR)

/* net.state: the best link state; net.online/offline: the default route that made the change. */
#define NLH_NET_FIELDS(X)						\
	X(state, STR) X(prev_state, STR) X(family, STR) X(ifname, STR)	\
	X(ifindex, U32) X(gateway, ADDR)

#define NLH_WIFI_FIELDS(X)						\
	X(ifname, STR) X(ifindex, U32) X(wiphy, U32) X(mac, HWADDR)	\
	X(iftype, STR) X(bssid, HWADDR) X(prev_bssid, HWADDR)		\
	X(ssid, SSID) X(freq, U32) X(status, U32) X(reason, U32)	\
	X(by_ap, BOOL) X(connected_time, U32) X(rx_bytes, U64)		\
	X(tx_bytes, U64) X(signal, S32)

#define NLH_NFLOG_FIELDS(X)						\
	X(group, U32) X(prefix, STR) X(family, STR) X(proto, STR)	\
	X(src, ADDR) X(dst, ADDR) X(sport, U32) X(dport, U32)		\
	X(icmp_type, U32) X(icmp_code, U32) X(ttl, U32) X(ip_id, U32)	\
	X(tcp_flags, STR) X(indev, STR) X(outdev, STR)			\
	X(physindev, STR) X(physoutdev, STR) X(mark, U32) X(uid, U32)	\
	X(gid, U32) X(len, U32) X(seq, U32) X(mac, HWADDR)		\
	X(vlan, U32) X(payload, BYTES)

/* nlhook.* events: source of a resync/drop, nflog group, lost count. */
#define NLH_SELF_FIELDS(X)						\
	X(source, STR) X(group, U32) X(count, U64) X(rules, U32)

struct nlh_link {
	char ifname[IFNAMSIZ];
	uint32_t ifindex;
	char operstate[16];
	bool up;
	bool running;
	bool carrier;
	uint32_t mtu;
	struct nlh_hwaddr mac;
	char kind[16];
	char master[IFNAMSIZ];
	char old_ifname[IFNAMSIZ];	/* link.rename only */
	char state[24];			/* link.state only (and nlhook.links()) */
	char prev_state[24];		/* link.state only */
	uint32_t flags;			/* IFF_*, not a field: edge derivation */
	uint32_t master_index;		/* not a field: resolved into master */
};

struct nlh_addrev {
	char ifname[IFNAMSIZ];
	uint32_t ifindex;
	char family[8];
	struct nlh_addr address;
	uint32_t prefixlen;
	char scope[16];
	char label[IFNAMSIZ];
	uint32_t flags;			/* IFA_F_*, not a field: operational states */
};

#define NLH_ROUTE_HOPS 8

struct nlh_route {
	char family[8];
	struct nlh_addr dst;
	struct nlh_addr gateway;
	char ifname[IFNAMSIZ];
	uint32_t ifindex;
	uint32_t table;
	char protocol[16];
	uint32_t metric;
	char scope[16];
	char kind[16];
	/*
	 * An IPv4 multipath route's first hops (the fields above are the
	 * first one's): no field of the event, read by the operational
	 * states, for which any hop through a routable link counts.
	 */
	uint8_t n_hops;
	struct {
		uint32_t ifindex;
		struct nlh_addr gateway;	/* family 0: none */
	} hops[NLH_ROUTE_HOPS];
};

struct nlh_neigh {
	char ifname[IFNAMSIZ];
	uint32_t ifindex;
	char family[8];
	struct nlh_addr address;
	struct nlh_hwaddr mac;
	char state[48];
};

struct nlh_net {
	char state[24];
	char prev_state[24];
	char family[8];
	char ifname[IFNAMSIZ];
	uint32_t ifindex;
	struct nlh_addr gateway;
};

struct nlh_wifi {
	char ifname[IFNAMSIZ];
	uint32_t ifindex;
	uint32_t wiphy;
	struct nlh_hwaddr mac;		/* wifi.station.*: the station's */
	char iftype[12];		/* "station", "ap", "p2p-go", "mesh", ... */
	struct nlh_hwaddr bssid;
	struct nlh_hwaddr prev_bssid;
	struct nlh_ssid ssid;
	uint32_t freq;
	uint32_t status;
	uint32_t reason;
	bool by_ap;
	uint32_t connected_time;	/* wifi.station.del: seconds */
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	int32_t signal;			/* dBm */
};

struct nlh_nflog {
	uint32_t group;
	char prefix[NLH_STR_MAX];
	char family[8];
	char proto[16];
	struct nlh_addr src;
	struct nlh_addr dst;
	uint32_t sport;
	uint32_t dport;
	uint32_t icmp_type;		/* ICMP and ICMPv6 */
	uint32_t icmp_code;
	uint32_t ttl;			/* the hop limit in IPv6 */
	uint32_t ip_id;			/* IPv4 identification */
	char tcp_flags[32];		/* "fin,syn,rst,psh,ack,urg,ece,cwr" at most */
	char indev[IFNAMSIZ];
	char outdev[IFNAMSIZ];
	char physindev[IFNAMSIZ];	/* bridge ports */
	char physoutdev[IFNAMSIZ];
	uint32_t mark;
	uint32_t uid;
	uint32_t gid;
	uint32_t len;
	uint32_t seq;
	struct nlh_hwaddr mac;
	uint32_t vlan;			/* 802.1Q VLAN id */
	struct nlh_bytes payload;
	uint32_t indev_index;		/* not fields: resolved into indev/outdev... */
	uint32_t outdev_index;
	uint32_t physindev_index;
	uint32_t physoutdev_index;
};

struct nlh_self {
	char source[16];
	uint32_t group;
	uint64_t count;
	uint32_t rules;
};

/* Field ids per class, e.g. NLH_F_LINK_mtu: the bit in nlh_event.present. */
#define NLH_F_ENUM_(cls, f, t) NLH_F_##cls##_##f,
#define NLH_F_LINK_(f, t) NLH_F_ENUM_(LINK, f, t)
#define NLH_F_ADDR_(f, t) NLH_F_ENUM_(ADDR, f, t)
#define NLH_F_ROUTE_(f, t) NLH_F_ENUM_(ROUTE, f, t)
#define NLH_F_NEIGH_(f, t) NLH_F_ENUM_(NEIGH, f, t)
#define NLH_F_NET_(f, t) NLH_F_ENUM_(NET, f, t)
#define NLH_F_WIFI_(f, t) NLH_F_ENUM_(WIFI, f, t)
#define NLH_F_NFLOG_(f, t) NLH_F_ENUM_(NFLOG, f, t)
#define NLH_F_SELF_(f, t) NLH_F_ENUM_(SELF, f, t)
enum { NLH_LINK_FIELDS(NLH_F_LINK_) _NLH_F_LINK_MAX };
enum { NLH_ADDR_FIELDS(NLH_F_ADDR_) _NLH_F_ADDR_MAX };
enum { NLH_ROUTE_FIELDS(NLH_F_ROUTE_) _NLH_F_ROUTE_MAX };
enum { NLH_NEIGH_FIELDS(NLH_F_NEIGH_) _NLH_F_NEIGH_MAX };
enum { NLH_NET_FIELDS(NLH_F_NET_) _NLH_F_NET_MAX };
enum { NLH_WIFI_FIELDS(NLH_F_WIFI_) _NLH_F_WIFI_MAX };
enum { NLH_NFLOG_FIELDS(NLH_F_NFLOG_) _NLH_F_NFLOG_MAX };
enum { NLH_SELF_FIELDS(NLH_F_SELF_) _NLH_F_SELF_MAX };

struct nlh_event {
	enum nlh_event_type type;
	uint64_t present;		/* 1 << NLH_F_<CLASS>_<field> when set */
	double time;			/* Unix seconds */
	const char *netns;		/* NULL: the daemon's own */
	int32_t nsid;			/* the namespace's nsid in the daemon's; -1: none */
	union {
		struct nlh_link link;
		struct nlh_addrev addr;
		struct nlh_route route;
		struct nlh_neigh neigh;
		struct nlh_net net;
		struct nlh_wifi wifi;
		struct nlh_nflog nflog;
		struct nlh_self self;
	};
};

/*
 * Mark a field present: NLH_SET(ev, LINK, mtu) after writing ev->link.mtu.
 * NLH_HAS(ev, LINK, mtu) tests it.
 */
#define NLH_SET(ev, CLS, f) ((ev)->present |= UINT64_C(1) << NLH_F_##CLS##_##f)
#define NLH_HAS(ev, CLS, f) (!!((ev)->present & (UINT64_C(1) << NLH_F_##CLS##_##f)))

struct nlh_field {
	const char *name;
	enum nlh_ftype type;
	size_t off;		/* offset in struct nlh_event */
	size_t size;		/* of the member */
	unsigned int bit;
	enum {
		NLH_FIELD_CLASS,	/* in the union, present by its bit */
		NLH_FIELD_NETNS,	/* every event's namespace: "" for the daemon's own */
		NLH_FIELD_NSID,		/* every event's nsid, present when the namespace has one */
	} common;
	const char *json_key;	/* ,"name": (class fields) */
	size_t json_key_len;
};

/*
 * The fields every event has whatever its class, for patterns and
 * predicates: nlh_field_find() finds them in every class.  Renderers
 * write them with the event's head, not with the class fields.
 */
extern const struct nlh_field nlh_field_netns, nlh_field_nsid;

struct nlh_class_desc {
	const char *name;
	const struct nlh_field *fields;
	size_t n_fields;
};

extern const struct nlh_class_desc nlh_classes[_NLH_CLASS_MAX];

const char *nlh_event_type_name(enum nlh_event_type t);
enum nlh_class nlh_event_type_class(enum nlh_event_type t);
/* -ENOENT when unknown. */
int nlh_event_type_from_name(const char *name);
/* All types whose name matches the fnmatch glob. */
nlh_typeset nlh_event_types_glob(const char *glob);
/* The types of a class. */
nlh_typeset nlh_class_types(enum nlh_class c);

const struct nlh_field *nlh_field_find(enum nlh_class c, const char *name);

static inline bool nlh_event_has(const struct nlh_event *ev, const struct nlh_field *f)
{
	if (f->common)
		return f->common != NLH_FIELD_NSID || ev->nsid >= 0;
	return ev->present & (UINT64_C(1) << f->bit);
}

static inline const void *nlh_event_field_ptr(const struct nlh_event *ev, const struct nlh_field *f)
{
	if (f->common == NLH_FIELD_NETNS)
		return ev->netns ? ev->netns : "";
	return (const char *)ev + f->off;
}

void nlh_event_init(struct nlh_event *ev, enum nlh_event_type t);
/* The same with the time given (a batch of messages received at once). */
void nlh_event_init_at(struct nlh_event *ev, enum nlh_event_type t, double time);
/* A copy that owns its borrowed parts (payload, netns): one allocation, free() it. */
struct nlh_event *nlh_event_copy(const struct nlh_event *ev);
/* The same copy made in place, into nlh_event_copy_size(ev) bytes at copy (aligned for the struct). */
size_t nlh_event_copy_size(const struct nlh_event *ev);
void nlh_event_copy_to(struct nlh_event *copy, const struct nlh_event *ev);
/* Wall-clock seconds; during a replay, the time of the record being replayed. */
double nlh_now(void);
extern double nlh_replay_time;

/*
 * Value of a present field as text into buf (always NUL-terminated), the
 * one rendering: strings and SSIDs escaped as core/text.h says, payload
 * in hex.  Returns the length written, or -ENOSPC if truncated.
 */
int nlh_field_format(const struct nlh_event *ev, const struct nlh_field *f, char *buf, size_t size);

/* Numeric value of a U32/U64/S32/BOOL field; an S32 is sign-extended. */
uint64_t nlh_field_uint(const struct nlh_event *ev, const struct nlh_field *f);

/*
 * Renderings.  Each returns the length (excluding NUL) or a negative errno;
 * the output is truncated at size and -ENOSPC returned when it did not fit.
 * JSON: one object, no newline.  Text: one line like ip monitor, no newline.
 */
int nlh_event_json(const struct nlh_event *ev, char *buf, size_t size);
int nlh_event_text(const struct nlh_event *ev, bool timestamp, char *buf, size_t size);

/*
 * Environment for an exec'd action: NLHOOK_TYPE, NLHOOK_TIME, NLHOOK_<FIELD>
 * for each present field, NLHOOK_EVENT (the JSON), plus PATH.  A
 * NULL-terminated array from one allocation: free() the array alone.
 */
char **nlh_event_env(const struct nlh_event *ev);

/* Small helpers shared by renderers and parsers. */
int nlh_addr_format(const struct nlh_addr *a, bool prefix, char *buf, size_t size);
/* "10.0.0.0/8", "fe80::1", "default" -> addr; -EINVAL when not an address. */
int nlh_addr_parse(const char *s, struct nlh_addr *ret);
/* Is a (an address, or a prefix of length a->plen) inside prefix p? */
bool nlh_addr_in_prefix(const struct nlh_addr *a, const struct nlh_addr *p);
int nlh_hwaddr_format(const struct nlh_hwaddr *h, char *buf, size_t size);
/* "aa:bb:cc:dd:ee:ff" (hex digits of either case, two per byte) -> h; -EINVAL otherwise. */
int nlh_hwaddr_parse(const char *s, struct nlh_hwaddr *ret);
int nlh_ssid_format(const struct nlh_ssid *s, char *buf, size_t size);
/* Copy a possibly unterminated string into a fixed array, truncating. */
void nlh_strlcpy(char *dst, const char *src, size_t size);
