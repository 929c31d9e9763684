/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/text.h"
#include "match.h"

static bool has_glob_meta(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (*s - '0')) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*ret = v;
	return true;
}

/* A signed field's number; the pattern holds it sign-extended, as nlh_field_uint gives the field. */
static int parse_s32(const char *s, uint64_t *ret)
{
	bool neg = s[0] == '-';
	uint64_t v;

	if (!parse_u64(s + neg, &v))
		return strspn(s + neg, "0123456789") == strlen(s + neg) && s[neg] ? -ERANGE : -EINVAL;
	if (v > (neg ? UINT64_C(1) << 31 : INT32_MAX))
		return -ERANGE;
	*ret = neg ? (uint64_t)-(int64_t)v : v;
	return 0;
}

static bool is_hex(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return !s[n] && n % 2 == 0;
}

static void lowercase(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

static bool is_escape(const char *s, size_t len)
{
	return len >= 4 && s[0] == '\\' && s[1] == 'x' && nlh_hexval(s[2]) >= 0 && nlh_hexval(s[3]) >= 0;
}

/*
 * The pattern as the text it is matched against: \xNN and the bytes the
 * rendering escapes become the rendering's escapes, so the raw bytes and
 * the text both match.  A backslash that begins no \xNN stays one: no
 * text has it, only a glob can use it ("caf\x*").
 */
static int pattern_text(const char *s, size_t len, bool *ret_nul, bool *ret_stray, char **ret)
{
	size_t i = 0, o = 0, cap = 4 * len + 1;
	char *raw = malloc(len + 1), *text = malloc(cap);

	if (!raw || !text) {
		free(raw);
		free(text);
		return -ENOMEM;
	}
	*ret_nul = *ret_stray = false;
	for (;;) {
		size_t j = i;
		int n;

		while (j < len && (s[j] != '\\' || is_escape(s + j, len - j)))
			j += s[j] == '\\' ? 4 : 1;
		n = nlh_text_unescape(s + i, j - i, raw, len, false);
		*ret_nul |= memchr(raw, '\0', n) != NULL;
		o += nlh_text_escape(raw, n, text + o, cap - o);
		if (j == len)
			break;
		text[o++] = '\\';
		*ret_stray = true;
		i = j + 1;
	}
	text[o] = '\0';
	free(raw);
	*ret = text;
	return 0;
}

static int __attribute__((format(printf, 4, 5)))
refuse(int r, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* What the text of a string pattern means for a field of type t; owns text. */
static int compile(char *text, bool nul, bool stray, const struct nlh_field *f, struct nlh_pattern *p,
		   char *err, size_t errlen)
{
	bool glob = has_glob_meta(text);
	struct nlh_hwaddr h;
	struct nlh_addr a;
	uint64_t n, max;
	int r = -EINVAL;

	if (stray && !glob) {
		r = refuse(-EINVAL, err, errlen, "'%s': in text a backslash begins an escape \\xNN; "
			   "write a backslash as \\x5c", text);
		goto fail;
	}
	switch (f->type) {
	case NLH_FT_STR:
		/* A C string never holds a NUL; an SSID may. */
		if (nul) {
			r = refuse(-EINVAL, err, errlen, "'%s': a NUL byte never appears in this field", text);
			goto fail;
		}
		break;
	case NLH_FT_SSID:
		break;
	case NLH_FT_U32:
	case NLH_FT_U64:
		if (glob)
			break;
		max = f->type == NLH_FT_U32 ? UINT32_MAX : UINT64_MAX;
		if (*text && strspn(text, "0123456789") == strlen(text) && (!parse_u64(text, &n) || n > max)) {
			r = refuse(-ERANGE, err, errlen, "%s is out of range (0..%" PRIu64 ")", text, max);
			goto fail;
		}
		if (!parse_u64(text, &n)) {
			r = refuse(-EINVAL, err, errlen, "'%s' is neither a number (0..%" PRIu64 ") nor a glob (*, ?, [)",
				   text, max);
			goto fail;
		}
		free(text);
		*p = (struct nlh_pattern){ .kind = NLH_PAT_NUM, .num = n };
		return 0;
	case NLH_FT_S32:
		if (glob)
			break;
		r = parse_s32(text, &n);
		if (r == -ERANGE) {
			r = refuse(r, err, errlen, "%s is out of range (%" PRId32 "..%" PRId32 ")", text, INT32_MIN, INT32_MAX);
			goto fail;
		}
		if (r < 0) {
			r = refuse(r, err, errlen, "'%s' is neither a number (%" PRId32 "..%" PRId32 ") nor a glob (*, ?, [)",
				   text, INT32_MIN, INT32_MAX);
			goto fail;
		}
		free(text);
		*p = (struct nlh_pattern){ .kind = NLH_PAT_NUM, .num = n };
		return 0;
	case NLH_FT_BOOL:
		if (glob)
			break;
		if (strcmp(text, "true") && strcmp(text, "false")) {
			r = refuse(-EINVAL, err, errlen, "'%s' is neither true, false nor a glob", text);
			goto fail;
		}
		*p = (struct nlh_pattern){ .kind = NLH_PAT_NUM, .num = !strcmp(text, "true") };
		free(text);
		return 0;
	case NLH_FT_ADDR:
	case NLH_FT_PREFIX:
		if (glob)
			break;
		if (nlh_addr_parse(text, &a) < 0) {
			r = refuse(-EINVAL, err, errlen, "'%s' is neither an address, a prefix (ADDRESS/LEN) nor a glob",
				   text);
			goto fail;
		}
		if (!a.family && f->type == NLH_FT_ADDR) {
			r = refuse(-EINVAL, err, errlen, "'default' is a route's dst, never an address: use 0.0.0.0/0 or ::/0");
			goto fail;
		}
		free(text);
		*p = (struct nlh_pattern){ .kind = NLH_PAT_CIDR, .prefix = a };
		return 0;
	case NLH_FT_HWADDR:
		/* Rendered in lowercase: "AA:BB:*" means the same. */
		lowercase(text);
		if (!glob && nlh_hwaddr_parse(text, &h) < 0) {
			r = refuse(-EINVAL, err, errlen, "'%s' is neither a hardware address (aa:bb:cc:dd:ee:ff) nor a glob",
				   text);
			goto fail;
		}
		break;
	case NLH_FT_BYTES:
		lowercase(text);
		if (!glob && !is_hex(text)) {
			r = refuse(-EINVAL, err, errlen, "'%s' is neither bytes in hex nor a glob", text);
			goto fail;
		}
		break;
	}
	*p = (struct nlh_pattern){ .kind = NLH_PAT_GLOB, .glob = text };
	return 0;
fail:
	free(text);
	return r;
}

int nlh_pattern_from_bytes(const char *s, size_t len, const struct nlh_field *f, struct nlh_pattern *ret,
			   char *err, size_t errlen)
{
	bool neg = len && s[0] == '!', nul, stray;
	char *text;
	int r;

	if (neg) {
		s++;
		len--;
	}
	r = pattern_text(s, len, &nul, &stray, &text);
	if (r < 0)
		return refuse(r, err, errlen, "out of memory");
	r = compile(text, nul, stray, f, ret, err, errlen);
	if (r < 0)
		return r;
	ret->neg = neg;
	return 0;
}

int nlh_pattern_from_string(const char *s, const struct nlh_field *f, struct nlh_pattern *ret, char *err,
			    size_t errlen)
{
	return nlh_pattern_from_bytes(s, strlen(s), f, ret, err, errlen);
}

void nlh_pattern_clear(struct nlh_pattern *p)
{
	if (!p)
		return;
	free(p->glob);
	for (size_t i = 0; i < p->n_sub; i++)
		nlh_pattern_clear(&p->sub[i]);
	free(p->sub);
	*p = (struct nlh_pattern){ .kind = NLH_PAT_GLOB };
}

static bool glob_match(const struct nlh_pattern *p, const struct nlh_event *ev, const struct nlh_field *f)
{
	char tmp[NLH_FIELD_TEXT_MAX], *text = tmp;
	bool m;

	if (f->type == NLH_FT_BYTES) {
		const struct nlh_bytes *b = nlh_event_field_ptr(ev, f);

		text = malloc((size_t)b->len * 2 + 1);
		if (!text)
			return false;
		nlh_field_format(ev, f, text, (size_t)b->len * 2 + 1);
	} else if (nlh_field_format(ev, f, tmp, sizeof(tmp)) < 0) {
		/* Truncated text would match globs it should not. */
		return false;
	}
	m = !fnmatch(p->glob, text, FNM_NOESCAPE);
	if (text != tmp)
		free(text);
	return m;
}

static bool cidr_match(const struct nlh_pattern *p, const struct nlh_event *ev, const struct nlh_field *f)
{
	struct nlh_addr a;

	switch (f->type) {
	case NLH_FT_ADDR:
		/* An address field is one host, whatever prefix length came with it. */
		memcpy(&a, nlh_event_field_ptr(ev, f), sizeof(a));
		a.plen = a.family == AF_INET6 ? 128 : 32;
		if (a.family != AF_INET && a.family != AF_INET6)
			return false;
		return nlh_addr_in_prefix(&a, &p->prefix);
	case NLH_FT_PREFIX:
		return nlh_addr_in_prefix(nlh_event_field_ptr(ev, f), &p->prefix);
	case NLH_FT_STR:
	case NLH_FT_U32:
	case NLH_FT_U64:
	case NLH_FT_S32:
	case NLH_FT_BOOL:
	case NLH_FT_HWADDR:
	case NLH_FT_SSID:
	case NLH_FT_BYTES:
		break;
	}
	return false;
}

static bool num_match(const struct nlh_pattern *p, const struct nlh_event *ev, const struct nlh_field *f)
{
	switch (f->type) {
	case NLH_FT_U32:
	case NLH_FT_U64:
	case NLH_FT_S32:
	case NLH_FT_BOOL:
		return nlh_field_uint(ev, f) == p->num;
	case NLH_FT_STR:
	case NLH_FT_HWADDR:
	case NLH_FT_ADDR:
	case NLH_FT_PREFIX:
	case NLH_FT_SSID:
	case NLH_FT_BYTES:
		break;
	}
	return false;
}

bool nlh_pattern_match(const struct nlh_pattern *p, const struct nlh_event *ev, const struct nlh_field *f)
{
	if (!f || !nlh_event_has(ev, f))
		return false;
	switch (p->kind) {
	case NLH_PAT_GLOB:
		return glob_match(p, ev, f) != p->neg;
	case NLH_PAT_CIDR:
		return cidr_match(p, ev, f) != p->neg;
	case NLH_PAT_NUM:
		return num_match(p, ev, f) != p->neg;
	case NLH_PAT_ANY:
		for (size_t i = 0; i < p->n_sub; i++)
			if (nlh_pattern_match(&p->sub[i], ev, f))
				return true;
		return false;
	case NLH_PAT_FUNC:
		return true;
	}
	return false;
}

bool nlh_match_terms(const struct nlh_match_term *terms, size_t n, const struct nlh_event *ev)
{
	for (size_t i = 0; i < n; i++)
		if (!nlh_pattern_match(&terms[i].pat, ev, terms[i].field))
			return false;
	return true;
}

void nlh_want_add_group(struct nlh_want *want, uint16_t group)
{
	size_t i;

	for (i = 0; i < want->n_nflog_groups && want->nflog_groups[i] < group; i++)
		;
	if (i < want->n_nflog_groups && want->nflog_groups[i] == group)
		return;
	if (want->n_nflog_groups == sizeof(want->nflog_groups) / sizeof(want->nflog_groups[0]))
		return;
	memmove(&want->nflog_groups[i + 1], &want->nflog_groups[i],
		(want->n_nflog_groups - i) * sizeof(want->nflog_groups[0]));
	want->nflog_groups[i] = group;
	want->n_nflog_groups++;
}

void nlh_pattern_want_groups(const struct nlh_pattern *p, struct nlh_want *want)
{
	if (p->kind == NLH_PAT_NUM && !p->neg && p->num <= UINT16_MAX)
		nlh_want_add_group(want, p->num);
	else if (p->kind == NLH_PAT_ANY)
		for (size_t i = 0; i < p->n_sub; i++)
			nlh_pattern_want_groups(&p->sub[i], want);
}

bool nlh_pattern_groups_plain(const struct nlh_pattern *p)
{
	if (p->kind == NLH_PAT_ANY) {
		for (size_t i = 0; i < p->n_sub; i++)
			if (!nlh_pattern_groups_plain(&p->sub[i]))
				return false;
		return true;
	}
	return p->kind == NLH_PAT_NUM && !p->neg && p->num <= UINT16_MAX;
}
