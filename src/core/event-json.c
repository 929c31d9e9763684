/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "event.h"
#include "event-json.h"
#include "text.h"

/*
 * Text fields are rendered escaped (core/text.h): back to the raw bytes,
 * which must fit the field.  A C string field cannot hold a NUL.
 */
static int parse_text(const struct json_value *v, void *p, size_t size, bool cstr)
{
	int n;

	if (v->type != JSON_STRING)
		return -EINVAL;
	n = nlh_text_unescape(v->str, v->len, p, cstr ? size - 1 : size, true);
	if (n < 0)
		return n == -ENOSPC ? -ENOSPC : -EBADMSG;
	if (cstr && memchr(p, '\0', n))
		return -EBADMSG;
	if (cstr)
		((char *)p)[n] = '\0';
	return n;
}

static int parse_field(const struct nlh_field *f, const struct json_value *v, struct nlh_event *ev,
		       uint8_t *payload, size_t payload_size)
{
	void *p = (char *)ev + f->off;
	int n;

	switch (f->type) {
	case NLH_FT_STR:
		n = parse_text(v, p, f->size, true);
		return n < 0 ? n : 0;
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
		if (v->type != JSON_STRING || strlen(v->str) != v->len)
			return -EINVAL;
		return nlh_hwaddr_parse(v->str, p);
	case NLH_FT_ADDR:
	case NLH_FT_PREFIX: {
		struct nlh_addr a;

		if (v->type != JSON_STRING || strlen(v->str) != v->len || nlh_addr_parse(v->str, &a) < 0)
			return -EINVAL;
		if (f->type == NLH_FT_ADDR && a.plen != (a.family == AF_INET ? 32 : 128))
			return -EINVAL;
		if (!a.family)	/* "default": the family comes later */
			a.family = AF_UNSPEC;
		memcpy(p, &a, sizeof(a));
		return 0;
	}
	case NLH_FT_SSID:
		n = parse_text(v, ((struct nlh_ssid *)p)->b, NLH_SSID_MAX, false);
		if (n < 0)
			return n;
		((struct nlh_ssid *)p)->len = n;
		return 0;
	case NLH_FT_BYTES: {
		struct nlh_bytes *b = p;

		if (v->type != JSON_STRING || v->len % 2 || v->len / 2 > payload_size)
			return -EINVAL;
		for (size_t i = 0; i < v->len / 2; i++) {
			int hi = nlh_hexval(v->str[2 * i]), lo = nlh_hexval(v->str[2 * i + 1]);

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
	int t, r;

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

		if (!strcmp(v->key, "type"))
			continue;
		/* The namespace: its name decoded in place (never longer), its nsid. */
		if (!strcmp(v->key, "netns")) {
			int n;

			if (v->type != JSON_STRING ||
			    (n = nlh_text_unescape(v->str, v->len, (char *)v->str, v->len + 1, true)) <= 0 ||
			    memchr(v->str, '\0', n)) {
				snprintf(err, errlen, "\"netns\": a namespace name expected");
				return -EINVAL;
			}
			((char *)v->str)[n] = '\0';
			ev->netns = v->str;
			continue;
		}
		if (!strcmp(v->key, "nsid")) {
			/* In range before the cast: a double past INT32_MAX does not convert. */
			if (v->type != JSON_NUMBER || v->num < 0 || v->num > INT32_MAX || v->num != (int32_t)v->num) {
				snprintf(err, errlen, "\"nsid\": a number from 0 expected");
				return -EINVAL;
			}
			ev->nsid = (int32_t)v->num;
			continue;
		}
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
		r = parse_field(f, v, ev, payload, payload_size);
		if (r == -ENOSPC && f->type != NLH_FT_BYTES) {
			snprintf(err, errlen, "field '%s': longer than %zu bytes", f->name,
				 f->type == NLH_FT_STR ? f->size - 1 : (size_t)NLH_SSID_MAX);
			return -EINVAL;
		}
		if (r == -EBADMSG) {
			snprintf(err, errlen, "field '%s': not text as nlhook writes it "
				 "(printable UTF-8, \\xNN for any other byte and for a backslash)", f->name);
			return -EINVAL;
		}
		if (r < 0) {
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
