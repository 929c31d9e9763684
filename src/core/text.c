/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "text.h"

/*
 * Length of the well-formed UTF-8 sequence at s, 0 if there is none
 * (RFC 3629, table 3-7 of Unicode: no overlongs, no surrogates, nothing
 * above U+10FFFF, no truncated sequence).
 */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		n = 2;
	} else if (c < 0xf0) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c < 0xf5) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

size_t nlh_text_char(const unsigned char *s, size_t len)
{
	size_t n = utf8_seq(s, len);

	if (n == 1 && (s[0] < 0x20 || s[0] == 0x7f || s[0] == '\\'))
		return 0;
	/* C1 controls, U+0080-U+009F: as unprintable as their 7-bit cousins */
	if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
		return 0;
	return n;
}

size_t nlh_utf8_check(const char *s, size_t len)
{
	size_t i, n;

	for (i = 0; i < len; i += n)
		if (!(n = utf8_seq((const unsigned char *)s + i, len - i)))
			break;
	return i;
}

static void escape_walk(const unsigned char *s, size_t len, bool json, nlh_put_fn put, void *data)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len;) {
		size_t n = nlh_text_char(s + i, len - i);

		if (!n) {
			/* In JSON the escape's own backslash is escaped: "caf\\xff". */
			char e[5] = { '\\', '\\', 'x', hex[s[i] >> 4], hex[s[i] & 15] };

			put(data, json ? e : e + 1, json ? 5 : 4);
			i++;
		} else if (json && s[i] == '"') {
			put(data, "\\\"", 2);
			i++;
		} else {
			put(data, (const char *)s + i, n);
			i += n;
		}
	}
}

struct bounded {
	char *buf;
	size_t size;
	size_t len;
	bool full;
};

/* Whole pieces only: a cut never splits a character or an escape. */
static void bounded_put(void *data, const char *s, size_t n)
{
	struct bounded *b = data;

	if (b->full || n >= b->size - b->len) {
		b->full = true;
		return;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
}

void nlh_text_put(const void *s, size_t len, nlh_put_fn put, void *data)
{
	escape_walk(s, len, false, put, data);
}

int nlh_text_escape(const void *s, size_t len, char *buf, size_t size)
{
	struct bounded b = { buf, size, 0, false };

	if (!size)
		return -ENOSPC;
	escape_walk(s, len, false, bounded_put, &b);
	buf[b.len] = '\0';
	return b.full ? -ENOSPC : (int)b.len;
}

int nlh_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int nlh_text_unescape(const char *s, size_t len, void *out, size_t size, bool strict)
{
	unsigned char *o = out;
	size_t n = 0;

	for (size_t i = 0; i < len;) {
		size_t k = 1;
		int hi, lo;

		if (s[i] == '\\' && len - i >= 4 && s[i + 1] == 'x' && (hi = nlh_hexval(s[i + 2])) >= 0 &&
		    (lo = nlh_hexval(s[i + 3])) >= 0) {
			if (n == size)
				return -ENOSPC;
			o[n++] = hi << 4 | lo;
			i += 4;
			continue;
		}
		if (strict && !(k = nlh_text_char((const unsigned char *)s + i, len - i)))
			return -EINVAL;
		if (size - n < k)
			return -ENOSPC;
		/* out may be s itself (decoding in place): the ranges can overlap. */
		memmove(o + n, s + i, k);
		n += k;
		i += k;
	}
	return n;
}

void nlh_json_str(const char *s, size_t n, nlh_put_fn put, void *data)
{
	put(data, "\"", 1);
	escape_walk((const unsigned char *)s, n, true, put, data);
	put(data, "\"", 1);
}
