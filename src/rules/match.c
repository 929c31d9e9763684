/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "match.h"

/* Big enough for the text of any field but the payload. */
#define FIELD_TEXT_MAX 160

static bool has_glob_meta(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == '\\')
			return true;
	return false;
}

static int glob_new(enum nlh_pat_kind kind, const char *s, size_t len, const struct nlh_field *f,
		    struct nlh_pattern *ret)
{
	char *g;

	/*
	 * Only an SSID compares raw bytes; every other text is a C string,
	 * which a NUL in the pattern could never match.
	 */
	if (memchr(s, '\0', len) && (f->type != NLH_FT_SSID || has_glob_meta(s, len)))
		return -EINVAL;
	g = malloc(len + 1);
	if (!g)
		return -ENOMEM;
	memcpy(g, s, len);
	g[len] = '\0';
	*ret = (struct nlh_pattern){ .kind = kind, .glob = g, .glob_len = len };
	return 0;
}

static bool parse_u64(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (!len || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (s[i] - '0')) / 10)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

/* A signed field's number; the pattern holds it sign-extended, as nlh_field_uint gives the field. */
static int parse_s32(const char *s, size_t len, uint64_t *ret)
{
	bool neg = len && s[0] == '-';
	uint64_t v;

	if (!parse_u64(s + neg, len - neg, &v))
		return -EINVAL;
	if (v > (neg ? UINT64_C(1) << 31 : INT32_MAX))
		return -ERANGE;
	*ret = neg ? (uint64_t)-(int64_t)v : v;
	return 0;
}

int nlh_pattern_from_bytes(const char *s, size_t len, const struct nlh_field *f, struct nlh_pattern *ret)
{
	struct nlh_addr a;
	uint64_t n;

	if (len && s[0] == '!')
		return glob_new(NLH_PAT_NGLOB, s + 1, len - 1, f, ret);

	switch (f->type) {
	case NLH_FT_ADDR:
	case NLH_FT_PREFIX:
		if (!memchr(s, '\0', len) && nlh_addr_parse(s, &a) == 0) {
			*ret = (struct nlh_pattern){ .kind = NLH_PAT_CIDR, .prefix = a };
			return 0;
		}
		break;
	case NLH_FT_U32:
	case NLH_FT_U64:
		if (parse_u64(s, len, &n)) {
			if (f->type == NLH_FT_U32 && n > UINT32_MAX)
				return -ERANGE;
			*ret = (struct nlh_pattern){ .kind = NLH_PAT_NUM, .num = n };
			return 0;
		}
		break;
	case NLH_FT_S32: {
		int r = parse_s32(s, len, &n);

		if (r == -ERANGE)
			return r;
		if (r == 0) {
			*ret = (struct nlh_pattern){ .kind = NLH_PAT_NUM, .num = n };
			return 0;
		}
		break;
	}
	case NLH_FT_BOOL:
		if ((len == 4 && !memcmp(s, "true", 4)) || (len == 5 && !memcmp(s, "false", 5))) {
			*ret = (struct nlh_pattern){ .kind = NLH_PAT_NUM, .num = len == 4 };
			return 0;
		}
		break;
	case NLH_FT_STR:
	case NLH_FT_HWADDR:
	case NLH_FT_SSID:
	case NLH_FT_BYTES:
		break;
	}
	return glob_new(NLH_PAT_GLOB, s, len, f, ret);
}

int nlh_pattern_from_string(const char *s, const struct nlh_field *f, struct nlh_pattern *ret)
{
	return nlh_pattern_from_bytes(s, strlen(s), f, ret);
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
	char tmp[FIELD_TEXT_MAX], *text = tmp;
	bool m;

	if (f->type == NLH_FT_SSID && !has_glob_meta(p->glob, p->glob_len)) {
		const struct nlh_ssid *ssid = nlh_event_field_ptr(ev, f);
		size_t len = ssid->len > NLH_SSID_MAX ? NLH_SSID_MAX : ssid->len;

		return len == p->glob_len && !memcmp(ssid->b, p->glob, len);
	}
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
	m = !fnmatch(p->glob, text, 0);
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
		return glob_match(p, ev, f);
	case NLH_PAT_NGLOB:
		return !glob_match(p, ev, f);
	case NLH_PAT_CIDR:
		return cidr_match(p, ev, f);
	case NLH_PAT_NUM:
		return num_match(p, ev, f);
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
	if (p->kind == NLH_PAT_NUM && p->num <= UINT16_MAX)
		nlh_want_add_group(want, p->num);
	else if (p->kind == NLH_PAT_ANY)
		for (size_t i = 0; i < p->n_sub; i++)
			nlh_pattern_want_groups(&p->sub[i], want);
}
