/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "event.h"
#include "event-json.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_hwaddr(const char *s, struct nlh_hwaddr *h)
{
	size_t n = 0;

	for (;;) {
		int hi, lo;

		if (n == NLH_HWADDR_MAX || (hi = hexval(s[0])) < 0 || (lo = hexval(s[1])) < 0)
			return -EINVAL;
		h->a[n++] = hi << 4 | lo;
		s += 2;
		if (!*s)
			break;
		if (*s++ != ':')
			return -EINVAL;
	}
	h->len = n;
	return 0;
}

/* The inverse of the text rendering: printable bytes, \xNN for the rest. */
static int parse_ssid(const char *s, size_t len, struct nlh_ssid *ssid)
{
	size_t n = 0;

	for (size_t i = 0; i < len; n++) {
		if (n == NLH_SSID_MAX)
			return -EINVAL;
		if (s[i] == '\\') {
			int hi, lo;

			if (len - i < 4 || s[i + 1] != 'x' || (hi = hexval(s[i + 2])) < 0 || (lo = hexval(s[i + 3])) < 0)
				return -EINVAL;
			ssid->b[n] = hi << 4 | lo;
			i += 4;
		} else {
			ssid->b[n] = s[i++];
		}
	}
	ssid->len = n;
	return 0;
}

static int parse_field(const struct nlh_field *f, const struct json_value *v, struct nlh_event *ev,
		       uint8_t *payload, size_t payload_size)
{
	void *p = (char *)ev + f->off;

	switch (f->type) {
	case NLH_FT_STR:
		if (v->type != JSON_STRING || v->len >= f->size || strlen(v->str) != v->len)
			return -EINVAL;
		memcpy(p, v->str, v->len + 1);
		return 0;
	case NLH_FT_U32:
	case NLH_FT_U64:
		if (v->type != JSON_NUMBER || v->num < 0 || v->num != floor(v->num) ||
		    v->num > (f->type == NLH_FT_U32 ? 4294967295.0 : 18446744073709549568.0))
			return -EINVAL;
		if (f->type == NLH_FT_U32)
			*(uint32_t *)p = v->num;
		else
			*(uint64_t *)p = v->num;
		return 0;
	case NLH_FT_S32:
		if (v->type != JSON_NUMBER || v->num != floor(v->num) || v->num < INT32_MIN || v->num > INT32_MAX)
			return -EINVAL;
		*(int32_t *)p = v->num;
		return 0;
	case NLH_FT_BOOL:
		if (v->type != JSON_BOOL)
			return -EINVAL;
		*(bool *)p = v->b;
		return 0;
	case NLH_FT_HWADDR:
		return v->type == JSON_STRING ? parse_hwaddr(v->str, p) : -EINVAL;
	case NLH_FT_ADDR:
	case NLH_FT_PREFIX: {
		struct nlh_addr a;

		if (v->type != JSON_STRING || nlh_addr_parse(v->str, &a) < 0)
			return -EINVAL;
		if (f->type == NLH_FT_ADDR && a.plen != (a.family == AF_INET ? 32 : 128))
			return -EINVAL;
		if (!a.family)	/* "default": the family comes later */
			a.family = AF_UNSPEC;
		memcpy(p, &a, sizeof(a));
		return 0;
	}
	case NLH_FT_SSID:
		return v->type == JSON_STRING ? parse_ssid(v->str, v->len, p) : -EINVAL;
	case NLH_FT_BYTES: {
		struct nlh_bytes *b = p;

		if (v->type != JSON_STRING || v->len % 2 || v->len / 2 > payload_size)
			return -EINVAL;
		for (size_t i = 0; i < v->len / 2; i++) {
			int hi = hexval(v->str[2 * i]), lo = hexval(v->str[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return -EINVAL;
			payload[i] = hi << 4 | lo;
		}
		b->p = payload;
		b->len = v->len / 2;
		return 0;
	}
	}
	return -EINVAL;
}

int nlh_event_from_json(const struct json_value *obj, struct nlh_event *ev, uint8_t *payload,
			size_t payload_size, char *err, size_t errlen)
{
	const char *type = json_get_str(obj, "type");
	const struct json_value *v;
	enum nlh_class c;
	int t;

	if (!obj || obj->type != JSON_OBJECT) {
		snprintf(err, errlen, "an event is a JSON object");
		return -EINVAL;
	}
	if (!type) {
		snprintf(err, errlen, "\"type\" missing or not a string");
		return -EINVAL;
	}
	t = nlh_event_type_from_name(type);
	if (t < 0) {
		snprintf(err, errlen, "unknown event type '%.64s'", type);
		return -EINVAL;
	}
	nlh_event_init(ev, t);
	c = nlh_event_type_class(t);
	for (v = obj->child; v; v = v->next) {
		const struct nlh_field *f;

		if (!strcmp(v->key, "type") || !strcmp(v->key, "netns"))
			continue;
		if (!strcmp(v->key, "time")) {
			/* Unix seconds that time_t and the renderers can hold. */
			if (v->type != JSON_NUMBER || v->num < 0 || v->num > 1e11) {
				snprintf(err, errlen, "\"time\": Unix seconds expected");
				return -EINVAL;
			}
			ev->time = v->num;
			continue;
		}
		f = nlh_field_find(c, v->key);
		if (!f) {
			snprintf(err, errlen, "%s events have no field '%.64s'", nlh_classes[c].name, v->key);
			return -EINVAL;
		}
		if (parse_field(f, v, ev, payload, payload_size) < 0) {
			snprintf(err, errlen, "field '%s': not a valid value", f->name);
			return -EINVAL;
		}
		ev->present |= UINT64_C(1) << f->bit;
	}
	/* "dst": "default" takes the route's family. */
	if (c == NLH_CLASS_ROUTE && NLH_HAS(ev, ROUTE, dst) && !ev->route.dst.family)
		ev->route.dst.family = !strcmp(ev->route.family, "inet6") ? AF_INET6 : AF_INET;
	return 0;
}
