/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "source.h"
#include "text.h"

#define NLH_TYPE_ENTRY_(e, n, cls) [NLH_EV_##e] = { n, NLH_CLASS_##cls },
static const struct {
	const char *name;
	enum nlh_class cls;
} event_types[_NLH_EV_MAX] = {
	NLH_EVENT_TYPES(NLH_TYPE_ENTRY_)
};

#define FIELD_(CLS, member, f, T)					\
	{ #f, NLH_FT_##T, offsetof(struct nlh_event, member.f),		\
	  sizeof(((struct nlh_event *)0)->member.f), NLH_F_##CLS##_##f, NLH_FIELD_CLASS,	\
	  ",\"" #f "\":", sizeof(",\"" #f "\":") - 1 },
#define LINK_F_(f, T) FIELD_(LINK, link, f, T)
#define ADDR_F_(f, T) FIELD_(ADDR, addr, f, T)
#define ROUTE_F_(f, T) FIELD_(ROUTE, route, f, T)
#define NEIGH_F_(f, T) FIELD_(NEIGH, neigh, f, T)
#define NET_F_(f, T) FIELD_(NET, net, f, T)
#define WIFI_F_(f, T) FIELD_(WIFI, wifi, f, T)
#define NFLOG_F_(f, T) FIELD_(NFLOG, nflog, f, T)
#define SELF_F_(f, T) FIELD_(SELF, self, f, T)

static const struct nlh_field link_fields[] = { NLH_LINK_FIELDS(LINK_F_) };
static const struct nlh_field addr_fields[] = { NLH_ADDR_FIELDS(ADDR_F_) };
static const struct nlh_field route_fields[] = { NLH_ROUTE_FIELDS(ROUTE_F_) };
static const struct nlh_field neigh_fields[] = { NLH_NEIGH_FIELDS(NEIGH_F_) };
static const struct nlh_field net_fields[] = { NLH_NET_FIELDS(NET_F_) };
static const struct nlh_field wifi_fields[] = { NLH_WIFI_FIELDS(WIFI_F_) };
static const struct nlh_field nflog_fields[] = { NLH_NFLOG_FIELDS(NFLOG_F_) };
static const struct nlh_field self_fields[] = { NLH_SELF_FIELDS(SELF_F_) };

#define CLASS_(c, n, arr) [NLH_CLASS_##c] = { n, arr, sizeof(arr) / sizeof(arr[0]) }
const struct nlh_class_desc nlh_classes[_NLH_CLASS_MAX] = {
	CLASS_(LINK, "link", link_fields),
	CLASS_(ADDR, "addr", addr_fields),
	CLASS_(ROUTE, "route", route_fields),
	CLASS_(NEIGH, "neigh", neigh_fields),
	CLASS_(NET, "net", net_fields),
	CLASS_(WIFI, "wifi", wifi_fields),
	CLASS_(NFLOG, "nflog", nflog_fields),
	CLASS_(SELF, "nlhook", self_fields),
};

_Static_assert(_NLH_EV_MAX <= 64, "nlh_typeset has 64 bits");
_Static_assert(_NLH_F_NFLOG_MAX <= 64 && _NLH_F_LINK_MAX <= 64, "present has 64 bits");

const char *nlh_event_type_name(enum nlh_event_type t)
{
	if ((unsigned int)t >= _NLH_EV_MAX)
		return "unknown";
	return event_types[t].name;
}

enum nlh_class nlh_event_type_class(enum nlh_event_type t)
{
	return event_types[t].cls;
}

int nlh_event_type_from_name(const char *name)
{
	for (int t = 0; t < _NLH_EV_MAX; t++)
		if (!strcmp(event_types[t].name, name))
			return t;
	return -ENOENT;
}

nlh_typeset nlh_class_types(enum nlh_class c)
{
	nlh_typeset set = 0;

	for (int t = 0; t < _NLH_EV_MAX; t++)
		if (event_types[t].cls == c)
			set |= NLH_TYPE_BIT(t);
	return set;
}

nlh_typeset nlh_event_types_glob(const char *glob)
{
	nlh_typeset set = 0;

	for (int t = 0; t < _NLH_EV_MAX; t++)
		if (!fnmatch(glob, event_types[t].name, 0))
			set |= NLH_TYPE_BIT(t);
	return set;
}

/* A namespace name is a file name: at most NAME_MAX bytes. */
const struct nlh_field nlh_field_netns = { "netns", NLH_FT_STR, 0, 256, 0, NLH_FIELD_NETNS, ",\"netns\":", 9 };
const struct nlh_field nlh_field_nsid = {
	"nsid", NLH_FT_U32, offsetof(struct nlh_event, nsid), sizeof(int32_t), 0, NLH_FIELD_NSID, ",\"nsid\":", 8,
};

const struct nlh_field *nlh_field_find(enum nlh_class c, const char *name)
{
	const struct nlh_class_desc *d = &nlh_classes[c];

	for (size_t i = 0; i < d->n_fields; i++)
		if (!strcmp(d->fields[i].name, name))
			return &d->fields[i];
	if (!strcmp(name, "netns"))
		return &nlh_field_netns;
	if (!strcmp(name, "nsid"))
		return &nlh_field_nsid;
	return NULL;
}

double nlh_replay_time;

double nlh_now(void)
{
	struct timespec ts;

	if (nlh_replay_time)
		return nlh_replay_time;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void nlh_event_init_at(struct nlh_event *ev, enum nlh_event_type t, double time)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = t;
	ev->time = time;
	ev->nsid = -1;
}

void nlh_event_init(struct nlh_event *ev, enum nlh_event_type t)
{
	nlh_event_init_at(ev, t, nlh_now());
}

static size_t payload_size(const struct nlh_event *ev)
{
	if (nlh_event_type_class(ev->type) == NLH_CLASS_NFLOG && ev->nflog.payload.p)
		return ev->nflog.payload.len;
	return 0;
}

size_t nlh_event_copy_size(const struct nlh_event *ev)
{
	return sizeof(*ev) + payload_size(ev) + (ev->netns ? strlen(ev->netns) + 1 : 0);
}

void nlh_event_copy_to(struct nlh_event *copy, const struct nlh_event *ev)
{
	size_t payload = payload_size(ev);
	char *p = (char *)(copy + 1);

	*copy = *ev;
	if (payload) {
		memcpy(p, ev->nflog.payload.p, payload);
		copy->nflog.payload.p = (const uint8_t *)p;
		p += payload;
	}
	if (ev->netns) {
		strcpy(p, ev->netns);
		copy->netns = p;
	}
}

struct nlh_event *nlh_event_copy(const struct nlh_event *ev)
{
	struct nlh_event *copy = malloc(nlh_event_copy_size(ev));

	if (copy)
		nlh_event_copy_to(copy, ev);
	return copy;
}

void nlh_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n;

	if (!size)
		return;
	n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * Formatters without printf: a flood of firewall hits renders every
 * number and address of every hit, and printf's parsing of its format
 * costs more than the rest of the line.  Each writes at most its _MAX
 * bytes and no NUL, and returns the length.
 */
#define U64_MAX_LEN 20
#define IPV6_MAX_LEN 45		/* ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 */

static size_t fmt_u64(char *buf, uint64_t v)
{
	size_t n = 1;

	for (uint64_t t = v; t >= 10; t /= 10)
		n++;
	for (size_t i = n; i > 0; i--, v /= 10)
		buf[i - 1] = '0' + v % 10;
	return n;
}

static size_t fmt_ipv4(char *buf, const uint8_t *a)
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		unsigned int v = a[i];

		if (i)
			buf[n++] = '.';
		if (v >= 100)
			buf[n++] = '0' + v / 100;
		if (v >= 10)
			buf[n++] = '0' + v / 10 % 10;
		buf[n++] = '0' + v % 10;
	}
	return n;
}

/* As inet_ntop(3) writes it: the longest run of two or more zero words as ::, IPv4 in the mapped forms. */
static size_t fmt_ipv6(char *buf, const uint8_t *a)
{
	static const char hex[] = "0123456789abcdef";
	int best = -1, best_len = 0, cur = -1;
	unsigned int w[8];
	size_t n = 0;

	for (int i = 0; i < 8; i++) {
		w[i] = a[2 * i] << 8 | a[2 * i + 1];
		if (w[i]) {
			cur = -1;
			continue;
		}
		if (cur < 0)
			cur = i;
		if (i - cur + 1 > best_len) {
			best = cur;
			best_len = i - cur + 1;
		}
	}
	if (best_len < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		bool started = false;

		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				buf[n++] = ':';
			continue;
		}
		if (i)
			buf[n++] = ':';
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return n + fmt_ipv4(buf + n, a + 12);
		for (int shift = 12; shift >= 0; shift -= 4) {
			unsigned int d = (w[i] >> shift) & 15;

			if (d || started || !shift) {
				buf[n++] = hex[d];
				started = true;
			}
		}
	}
	if (best >= 0 && best + best_len == 8)
		buf[n++] = ':';
	return n;
}

/*
 * Seconds with six decimals, exactly as "%.6f" rounds them (to the
 * nearest, ties to even, from the double's exact value) for times from
 * 0 to 2^53; 0 when t is outside, for printf to do it.
 */
#define TIME_MAX_LEN (U64_MAX_LEN + 7)

static size_t fmt_time(char *buf, double t)
{
#ifdef __SIZEOF_INT128__
	uint64_t sec, frac, bits, mant, usec;
	unsigned __int128 x, rem, half;
	int shift;
	size_t n;

	if (!(t >= 1 && t < 9007199254740992.0))
		return 0;
	memcpy(&bits, &t, sizeof(bits));
	mant = (bits & ((UINT64_C(1) << 52) - 1)) | UINT64_C(1) << 52;
	shift = 52 - ((int)(bits >> 52 & 0x7ff) - 1023);	/* t = mant / 2^shift, shift 0..52 */
	sec = mant >> shift;
	frac = shift ? mant & ((UINT64_C(1) << shift) - 1) : 0;
	x = (unsigned __int128)frac * 1000000;
	usec = (uint64_t)(x >> shift);
	if (shift) {
		rem = x & (((unsigned __int128)1 << shift) - 1);
		half = (unsigned __int128)1 << (shift - 1);
		if (rem > half || (rem == half && (usec & 1)))
			usec++;
	}
	if (usec == 1000000) {
		sec++;
		usec = 0;
	}
	n = fmt_u64(buf, sec);
	buf[n++] = '.';
	for (int i = 5; i >= 0; i--, usec /= 10)
		buf[n + i] = '0' + usec % 10;
	return n + 6;
#else
	return 0;
#endif
}

static int ret_len(int n, size_t size)
{
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENOSPC;
	return n;
}

int nlh_addr_format(const struct nlh_addr *a, bool prefix, char *buf, size_t size)
{
	char s[IPV6_MAX_LEN + 1 + 3 + 1];
	bool zero = true;
	size_t alen = a->family == AF_INET6 ? 16 : 4, n;

	if (a->family != AF_INET && a->family != AF_INET6) {
		if (size)
			buf[0] = '\0';
		return -EAFNOSUPPORT;
	}
	for (size_t i = 0; i < alen; i++)
		zero &= !a->a[i];
	if (prefix && !a->plen && zero)
		return ret_len(snprintf(buf, size, "default"), size);
	n = a->family == AF_INET ? fmt_ipv4(s, a->a) : fmt_ipv6(s, a->a);
	if (prefix) {
		s[n++] = '/';
		n += fmt_u64(s + n, a->plen);
	}
	if (n >= size) {
		if (size) {
			memcpy(buf, s, size - 1);
			buf[size - 1] = '\0';
		}
		return -ENOSPC;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return n;
}

int nlh_addr_parse(const char *s, struct nlh_addr *ret)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	struct nlh_addr a = {};
	const char *slash;
	size_t n;

	if (!strcmp(s, "default")) {
		/* family 0: the zero-length prefix of either family */
		*ret = a;
		return 0;
	}
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n >= INET6_ADDRSTRLEN)
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, a.a) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, tmp, a.a) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	a.plen = a.family == AF_INET ? 32 : 128;
	if (slash) {
		char *end;
		unsigned long p;

		errno = 0;
		p = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || p > a.plen)
			return -EINVAL;
		a.plen = p;
	}
	*ret = a;
	return 0;
}

bool nlh_addr_in_prefix(const struct nlh_addr *a, const struct nlh_addr *p)
{
	unsigned int bytes, bits;

	if (!p->family)		/* "default" */
		return a->plen == 0 && a->family;
	if (a->family != p->family || a->plen < p->plen)
		return false;
	bytes = p->plen / 8;
	bits = p->plen % 8;
	if (memcmp(a->a, p->a, bytes))
		return false;
	if (bits) {
		uint8_t mask = 0xff << (8 - bits);

		if ((a->a[bytes] ^ p->a[bytes]) & mask)
			return false;
	}
	return true;
}

int nlh_hwaddr_format(const struct nlh_hwaddr *h, char *buf, size_t size)
{
	size_t len = h->len > NLH_HWADDR_MAX ? NLH_HWADDR_MAX : h->len;
	size_t o = 0;

	static const char hex[] = "0123456789abcdef";

	if (size < len * 3 + 1) {
		if (size)
			buf[0] = '\0';
		return -ENOSPC;
	}
	for (size_t i = 0; i < len; i++) {
		if (i)
			buf[o++] = ':';
		buf[o++] = hex[h->a[i] >> 4];
		buf[o++] = hex[h->a[i] & 15];
	}
	buf[o] = '\0';
	return o;
}

int nlh_ssid_format(const struct nlh_ssid *s, char *buf, size_t size)
{
	return nlh_text_escape(s->b, s->len > NLH_SSID_MAX ? NLH_SSID_MAX : s->len, buf, size);
}

int nlh_hwaddr_parse(const char *s, struct nlh_hwaddr *ret)
{
	struct nlh_hwaddr h = {};
	int hi, lo;

	for (;;) {
		if (h.len == NLH_HWADDR_MAX || (hi = nlh_hexval(s[0])) < 0 || (lo = nlh_hexval(s[1])) < 0)
			return -EINVAL;
		h.a[h.len++] = hi << 4 | lo;
		s += 2;
		if (!*s)
			break;
		if (*s++ != ':')
			return -EINVAL;
	}
	*ret = h;
	return 0;
}

static int hex_format(const uint8_t *p, size_t len, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = len * 2 < size ? len : (size - 1) / 2;

	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = hex[p[i] >> 4];
		buf[2 * i + 1] = hex[p[i] & 15];
	}
	buf[2 * n] = '\0';
	return n == len ? (int)(2 * n) : -ENOSPC;
}

uint64_t nlh_field_uint(const struct nlh_event *ev, const struct nlh_field *f)
{
	const void *p = nlh_event_field_ptr(ev, f);

	switch (f->type) {
	case NLH_FT_U32:
		return *(const uint32_t *)p;
	case NLH_FT_U64:
		return *(const uint64_t *)p;
	case NLH_FT_S32:
		return (uint64_t)(int64_t)*(const int32_t *)p;
	case NLH_FT_BOOL:
		return *(const bool *)p;
	case NLH_FT_STR:
	case NLH_FT_HWADDR:
	case NLH_FT_ADDR:
	case NLH_FT_PREFIX:
	case NLH_FT_SSID:
	case NLH_FT_BYTES:
		break;
	}
	return 0;
}

int nlh_field_format(const struct nlh_event *ev, const struct nlh_field *f, char *buf, size_t size)
{
	const void *p = nlh_event_field_ptr(ev, f);

	if (!size)
		return -ENOSPC;
	switch (f->type) {
	case NLH_FT_STR:
		return nlh_text_escape(p, strnlen(p, f->size), buf, size);
	case NLH_FT_U32:
	case NLH_FT_U64: {
		char tmp[U64_MAX_LEN];
		size_t n = fmt_u64(tmp, nlh_field_uint(ev, f));

		if (n >= size) {
			buf[0] = '\0';
			return -ENOSPC;
		}
		memcpy(buf, tmp, n);
		buf[n] = '\0';
		return n;
	}
	case NLH_FT_S32:
		return ret_len(snprintf(buf, size, "%" PRId32, *(const int32_t *)p), size);
	case NLH_FT_BOOL:
		return ret_len(snprintf(buf, size, "%s", *(const bool *)p ? "true" : "false"), size);
	case NLH_FT_HWADDR:
		return nlh_hwaddr_format(p, buf, size);
	case NLH_FT_ADDR:
		return nlh_addr_format(p, false, buf, size);
	case NLH_FT_PREFIX:
		return nlh_addr_format(p, true, buf, size);
	case NLH_FT_SSID:
		return nlh_ssid_format(p, buf, size);
	case NLH_FT_BYTES: {
		const struct nlh_bytes *b = p;

		return hex_format(b->p, b->len, buf, size);
	}
	}
	return -EINVAL;
}

/* A bounded writer: keeps the length it would have written. */
struct out {
	char *buf;
	size_t size;
	size_t len;
};

static inline void out_add(struct out *o, const char *s, size_t n)
{
	if (o->len < o->size) {
		size_t room = o->size - o->len - 1, k = n < room ? n : room;
		char *d = o->buf + o->len;

		/*
		 * Most pieces are a few bytes: a call to memcpy costs more than
		 * they do.  Two fixed-size copies that may overlap cover 4..16.
		 */
		if (k >= 8 && k <= 16) {
			memcpy(d, s, 8);
			memcpy(d + k - 8, s + k - 8, 8);
		} else if (k >= 4 && k < 8) {
			memcpy(d, s, 4);
			memcpy(d + k - 4, s + k - 4, 4);
		} else if (k < 4) {
			for (size_t i = 0; i < k; i++)
				d[i] = s[i];
		} else {
			memcpy(d, s, k);
		}
	}
	o->len += n;
}

static void out_str(struct out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) out_fmt(struct out *o, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_add(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static int out_end(struct out *o)
{
	if (!o->size)
		return -ENOSPC;
	o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
	return o->len < o->size ? (int)o->len : -ENOSPC;
}

static void out_put(void *data, const char *s, size_t n)
{
	out_add(data, s, n);
}

/* The raw bytes of a text field (STR, SSID), which JSON gets through nlh_json_str. */
static bool field_raw(const struct nlh_event *ev, const struct nlh_field *f, const char **ret, size_t *ret_len)
{
	const void *p = nlh_event_field_ptr(ev, f);

	if (f->type == NLH_FT_STR) {
		*ret = p;
		*ret_len = strnlen(p, f->size);
		return true;
	}
	if (f->type == NLH_FT_SSID) {
		const struct nlh_ssid *ssid = p;

		*ret = (const char *)ssid->b;
		*ret_len = ssid->len > NLH_SSID_MAX ? NLH_SSID_MAX : ssid->len;
		return true;
	}
	return false;
}

static const char *field_text(const struct nlh_event *ev, const struct nlh_field *f, char *tmp, size_t size, char **heap)
{
	*heap = NULL;
	if (f->type == NLH_FT_BYTES) {
		const struct nlh_bytes *b = nlh_event_field_ptr(ev, f);

		*heap = malloc(b->len * 2 + 1);
		if (!*heap)
			return "";
		nlh_field_format(ev, f, *heap, b->len * 2 + 1);
		return *heap;
	}
	nlh_field_format(ev, f, tmp, size);
	return tmp;
}

/*
 * A JSON string by the one writer (core/text.h), but text that needs no
 * escape at all (printable ASCII without '"' and '\\', as names and
 * prefixes mostly are) goes in whole.
 */
static void out_json_str(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
			nlh_json_str(s, n, out_put, o);
			return;
		}
	}
	out_add(o, "\"", 1);
	out_add(o, s, n);
	out_add(o, "\"", 1);
}

/* Two hex digits per byte value: a payload byte is one lookup. */
static const char hex_pairs[256][2] = {
#define HEX_PAIR_(x) { "0123456789abcdef"[(x) >> 4], "0123456789abcdef"[(x) & 15] },
#define HEX_ROW_(r) HEX_PAIR_(r) HEX_PAIR_(r + 1) HEX_PAIR_(r + 2) HEX_PAIR_(r + 3) HEX_PAIR_(r + 4)	\
	HEX_PAIR_(r + 5) HEX_PAIR_(r + 6) HEX_PAIR_(r + 7) HEX_PAIR_(r + 8) HEX_PAIR_(r + 9)		\
	HEX_PAIR_(r + 10) HEX_PAIR_(r + 11) HEX_PAIR_(r + 12) HEX_PAIR_(r + 13) HEX_PAIR_(r + 14)	\
	HEX_PAIR_(r + 15)
	HEX_ROW_(0x00) HEX_ROW_(0x10) HEX_ROW_(0x20) HEX_ROW_(0x30) HEX_ROW_(0x40) HEX_ROW_(0x50)
	HEX_ROW_(0x60) HEX_ROW_(0x70) HEX_ROW_(0x80) HEX_ROW_(0x90) HEX_ROW_(0xa0) HEX_ROW_(0xb0)
	HEX_ROW_(0xc0) HEX_ROW_(0xd0) HEX_ROW_(0xe0) HEX_ROW_(0xf0)
#undef HEX_ROW_
#undef HEX_PAIR_
};

/* Seconds as "%.6f" writes them. */
static void out_time(struct out *o, double t)
{
	char tmp[TIME_MAX_LEN];
	size_t n = fmt_time(tmp, t);

	if (n)
		out_add(o, tmp, n);
	else
		out_fmt(o, "%.6f", t);
}

/* ,"name": */
static void out_key(struct out *o, const struct nlh_field *f)
{
	out_add(o, f->json_key, f->json_key_len);
}

/*
 * A field's JSON value, written in place: no printf, no allocation,
 * even for the payload (hex straight into the output).
 */
/*
 * Room for n bytes written in place, or NULL when they may not fit (then
 * the piece goes through a buffer and out_add, which cuts the line).
 */
static char *out_room(struct out *o, size_t n)
{
	return o->len < o->size && o->size - o->len - 1 >= n ? o->buf + o->len : NULL;
}

static void json_field(struct out *o, const struct nlh_event *ev, const struct nlh_field *f)
{
	const void *p = nlh_event_field_ptr(ev, f);
	char tmp[NLH_FIELD_TEXT_MAX], *d;
	const char *s;
	size_t n;
	int r;

	switch (f->type) {
	case NLH_FT_U32:
	case NLH_FT_U64:
		if ((d = out_room(o, U64_MAX_LEN)))
			o->len += fmt_u64(d, nlh_field_uint(ev, f));
		else
			out_add(o, tmp, fmt_u64(tmp, nlh_field_uint(ev, f)));
		return;
	case NLH_FT_S32: {
		int32_t v = *(const int32_t *)p;

		if (v < 0)
			out_add(o, "-", 1);
		/* The magnitude as unsigned: -INT32_MIN does not fit an int32_t. */
		out_add(o, tmp, fmt_u64(tmp, v < 0 ? -(uint64_t)v : (uint64_t)v));
		return;
	}
	case NLH_FT_BOOL:
		out_str(o, *(const bool *)p ? "true" : "false");
		return;
	case NLH_FT_STR:
	case NLH_FT_SSID:
		field_raw(ev, f, &s, &n);
		out_json_str(o, s, n);
		return;
	case NLH_FT_BYTES: {
		const struct nlh_bytes *b = p;

		if ((d = out_room(o, 2 * (size_t)b->len + 2))) {
			size_t i = 0;

			*d++ = '"';
			/* Four bytes' digits gathered, then one store. */
			for (; i + 4 <= b->len; i += 4, d += 8) {
				char q[8];

				memcpy(q, hex_pairs[b->p[i]], 2);
				memcpy(q + 2, hex_pairs[b->p[i + 1]], 2);
				memcpy(q + 4, hex_pairs[b->p[i + 2]], 2);
				memcpy(q + 6, hex_pairs[b->p[i + 3]], 2);
				memcpy(d, q, 8);
			}
			for (; i < b->len; i++, d += 2)
				memcpy(d, hex_pairs[b->p[i]], 2);
			*d = '"';
			o->len += 2 * (size_t)b->len + 2;
			return;
		}
		out_add(o, "\"", 1);
		for (size_t i = 0; i < b->len; i += sizeof(tmp) / 2) {
			size_t k = b->len - i < sizeof(tmp) / 2 ? b->len - i : sizeof(tmp) / 2;

			for (size_t j = 0; j < k; j++)
				memcpy(tmp + 2 * j, hex_pairs[b->p[i + j]], 2);
			out_add(o, tmp, 2 * k);
		}
		out_add(o, "\"", 1);
		return;
	}
	case NLH_FT_ADDR: {
		const struct nlh_addr *a = p;

		/* Digits, dots and colons: nothing to escape. */
		if (a->family == AF_INET || a->family == AF_INET6) {
			d = out_room(o, IPV6_MAX_LEN + 2);
			if (!d)
				d = tmp;
			d[0] = '"';
			n = 1 + (a->family == AF_INET ? fmt_ipv4(d + 1, a->a) : fmt_ipv6(d + 1, a->a));
			d[n++] = '"';
			if (d == tmp)
				out_add(o, tmp, n);
			else
				o->len += n;
			return;
		}
	}
		/* fall through */
	case NLH_FT_HWADDR:
	case NLH_FT_PREFIX:
		r = nlh_field_format(ev, f, tmp, sizeof(tmp));
		out_add(o, "\"", 1);
		out_add(o, tmp, r < 0 ? strlen(tmp) : (size_t)r);
		out_add(o, "\"", 1);
		return;
	}
}

int nlh_event_json(const struct nlh_event *ev, char *buf, size_t size)
{
	const struct nlh_class_desc *d = &nlh_classes[nlh_event_type_class(ev->type)];
	struct out o = { buf, size, 0 };
	char tmp[U64_MAX_LEN];

	out_add(&o, "{\"type\":\"", 9);
	out_str(&o, nlh_event_type_name(ev->type));
	out_add(&o, "\",\"time\":", 9);
	out_time(&o, ev->time);
	if (ev->netns) {
		out_str(&o, ",\"netns\":");
		out_json_str(&o, ev->netns, strlen(ev->netns));
	}
	if (ev->nsid >= 0) {
		out_str(&o, ",\"nsid\":");
		out_add(&o, tmp, fmt_u64(tmp, ev->nsid));
	}
	for (size_t i = 0; i < d->n_fields; i++) {
		const struct nlh_field *f = &d->fields[i];

		if (!nlh_event_has(ev, f))
			continue;
		out_key(&o, f);
		json_field(&o, ev, f);
	}
	out_add(&o, "}", 1);
	return out_end(&o);
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++)
		if (*s == ' ' || *s == '"' || *s == '=')
			return true;
	return false;
}

/*
 * The start of the human line: the type, or for stations the form of
 * `iw event` ("wlan0: new station 02:00:00:00:02:00").  Returns the
 * fields it showed.
 */
static uint64_t text_head(const struct nlh_event *ev, struct out *o)
{
	bool new = ev->type == NLH_EV_WIFI_STATION_NEW;
	char mac[3 * NLH_HWADDR_MAX + 1];

	if ((new || ev->type == NLH_EV_WIFI_STATION_DEL) && NLH_HAS(ev, WIFI, ifname) && NLH_HAS(ev, WIFI, mac) &&
	    nlh_hwaddr_format(&ev->wifi.mac, mac, sizeof(mac)) >= 0) {
		nlh_text_put(ev->wifi.ifname, strlen(ev->wifi.ifname), out_put, o);
		out_fmt(o, ": %s station %s", new ? "new" : "del", mac);
		return UINT64_C(1) << NLH_F_WIFI_ifname | UINT64_C(1) << NLH_F_WIFI_mac;
	}
	out_str(o, nlh_event_type_name(ev->type));
	return 0;
}

int nlh_event_text(const struct nlh_event *ev, bool timestamp, char *buf, size_t size)
{
	const struct nlh_class_desc *d = &nlh_classes[nlh_event_type_class(ev->type)];
	struct out o = { buf, size, 0 };
	uint64_t shown;

	if (timestamp) {
		struct tm tm;
		time_t t = ev->time >= 0 && ev->time < 1e11 ? (time_t)ev->time : 0;
		char ts[32];

		localtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		out_fmt(&o, "[%s.%06ld] ", ts, (long)((ev->time - (double)t) * 1e6));
	}
	shown = text_head(ev, &o);
	if (ev->netns) {
		out_str(&o, " netns=");
		nlh_text_put(ev->netns, strlen(ev->netns), out_put, &o);
	}
	if (ev->nsid >= 0)
		out_fmt(&o, " nsid=%d", ev->nsid);
	for (size_t i = 0; i < d->n_fields; i++) {
		const struct nlh_field *f = &d->fields[i];
		char tmp[NLH_FIELD_TEXT_MAX], *heap;
		const char *s;

		if (!nlh_event_has(ev, f) || shown & UINT64_C(1) << f->bit)
			continue;
		s = field_text(ev, f, tmp, sizeof(tmp), &heap);
		out_fmt(&o, " %s=", f->name);
		if (needs_quotes(s)) {
			out_add(&o, "\"", 1);
			out_str(&o, s);
			out_add(&o, "\"", 1);
		} else {
			out_str(&o, s);
		}
		free(heap);
	}
	return out_end(&o);
}

char **nlh_event_env(const struct nlh_event *ev)
{
	const struct nlh_class_desc *d = &nlh_classes[nlh_event_type_class(ev->type)];
	static const char path[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char json[8192];
	size_t n_vars = 4, bytes = 0, i;
	char **env, *p;
	int jlen;

	/* Two passes: count and measure, then lay out in one allocation. */
	jlen = nlh_event_json(ev, json, sizeof(json));
	if (jlen < 0)
		jlen = strlen(json);
	for (i = 0; i < d->n_fields; i++) {
		const struct nlh_field *f = &d->fields[i];

		if (!nlh_event_has(ev, f))
			continue;
		n_vars++;
		bytes += strlen("NLHOOK_=") + strlen(f->name) + 1;
		if (f->type == NLH_FT_BYTES)
			bytes += ((const struct nlh_bytes *)nlh_event_field_ptr(ev, f))->len * 2;
		else
			bytes += NLH_FIELD_TEXT_MAX;
	}
	bytes += sizeof(path) + 64 + 64 + strlen("NLHOOK_EVENT=") + jlen + 1;
	/* The namespace, as every class has it: NLHOOK_NETNS, NLHOOK_NSID. */
	if (ev->netns) {
		n_vars++;
		bytes += strlen("NLHOOK_NETNS=") + 4 * strlen(ev->netns) + 1;
	}
	if (ev->nsid >= 0) {
		n_vars++;
		bytes += strlen("NLHOOK_NSID=") + 12;
	}

	env = malloc((n_vars + 1) * sizeof(char *) + bytes);
	if (!env)
		return NULL;
	p = (char *)(env + n_vars + 1);
	n_vars = 0;
	env[n_vars++] = memcpy(p, path, sizeof(path));
	p += sizeof(path);
	env[n_vars++] = p;
	p += sprintf(p, "NLHOOK_TYPE=%s", nlh_event_type_name(ev->type)) + 1;
	env[n_vars++] = p;
	p += sprintf(p, "NLHOOK_TIME=%.6f", ev->time) + 1;
	for (i = 0; i < d->n_fields; i++) {
		const struct nlh_field *f = &d->fields[i];
		size_t room;
		char *q;

		if (!nlh_event_has(ev, f))
			continue;
		env[n_vars++] = p;
		p += sprintf(p, "NLHOOK_");
		for (q = (char *)f->name; *q; q++)
			*p++ = *q >= 'a' && *q <= 'z' ? *q - 'a' + 'A' : *q;
		*p++ = '=';
		room = f->type == NLH_FT_BYTES ?
			((const struct nlh_bytes *)nlh_event_field_ptr(ev, f))->len * 2 + 1 : NLH_FIELD_TEXT_MAX;
		nlh_field_format(ev, f, p, room);
		p += strlen(p) + 1;
	}
	if (ev->netns) {
		env[n_vars++] = p;
		p += sprintf(p, "NLHOOK_NETNS=");
		nlh_text_escape(ev->netns, strlen(ev->netns), p, 4 * strlen(ev->netns) + 1);
		p += strlen(p) + 1;
	}
	if (ev->nsid >= 0) {
		env[n_vars++] = p;
		p += sprintf(p, "NLHOOK_NSID=%d", ev->nsid) + 1;
	}
	env[n_vars++] = p;
	p += sprintf(p, "NLHOOK_EVENT=%s", json) + 1;
	env[n_vars] = NULL;
	return env;
}
