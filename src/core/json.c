/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "text.h"

struct json_doc {
	struct json_value *nodes;
	size_t n_nodes;
	size_t cap_nodes;
	char *strings;		/* decoded strings, one allocation */
	size_t str_len;
	struct json_value *root;
};

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	struct json_doc *doc;
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, const char *what)
{
	snprintf(p->err, p->errlen, "offset %zu: %s", p->pos, what);
	return -EINVAL;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

/*
 * Nodes live in one array that may move while growing, so links are kept
 * as indexes during the parse and turned into pointers at the end.
 */
static ssize_t node_new(struct parser *p, enum json_type t)
{
	struct json_doc *d = p->doc;

	if (d->n_nodes == d->cap_nodes) {
		size_t cap = d->cap_nodes ? d->cap_nodes * 2 : 16;
		struct json_value *n = realloc(d->nodes, cap * sizeof(*n));

		if (!n)
			return fail(p, "out of memory");
		d->nodes = n;
		d->cap_nodes = cap;
	}
	memset(&d->nodes[d->n_nodes], 0, sizeof(d->nodes[0]));
	d->nodes[d->n_nodes].type = t;
	/* child/next hold index + 1 until the fix-up; 0 is none */
	return d->n_nodes++;
}

static int hex4(struct parser *p, uint32_t *ret)
{
	uint32_t v = 0;

	if (p->len - p->pos < 4)
		return fail(p, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail(p, "bad \\u escape");
	}
	*ret = v;
	return 0;
}

static size_t utf8_put(char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = 0xc0 | c >> 6;
		o[1] = 0x80 | (c & 0x3f);
		return 2;
	}
	if (c < 0x10000) {
		o[0] = 0xe0 | c >> 12;
		o[1] = 0x80 | ((c >> 6) & 0x3f);
		o[2] = 0x80 | (c & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | c >> 18;
	o[1] = 0x80 | ((c >> 12) & 0x3f);
	o[2] = 0x80 | ((c >> 6) & 0x3f);
	o[3] = 0x80 | (c & 0x3f);
	return 4;
}

/* Decodes into doc->strings (sized to the input: decoding never grows). */
static int parse_string(struct parser *p, const char **ret, size_t *ret_len)
{
	char *o = p->doc->strings + p->doc->str_len, *start = o;

	p->pos++;	/* opening quote */
	for (;;) {
		unsigned char c;

		if (p->pos >= p->len)
			return fail(p, "unterminated string");
		c = p->s[p->pos++];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(p, "control character in string");
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		if (p->pos >= p->len)
			return fail(p, "unterminated string");
		c = p->s[p->pos++];
		switch (c) {
		case '"': case '\\': case '/':
			*o++ = c;
			break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			uint32_t cp, lo;

			if (hex4(p, &cp) < 0)
				return -EINVAL;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
					return fail(p, "lone surrogate");
				p->pos += 2;
				if (hex4(p, &lo) < 0)
					return -EINVAL;
				if (lo < 0xdc00 || lo >= 0xe000)
					return fail(p, "bad surrogate pair");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return fail(p, "lone surrogate");
			}
			o += utf8_put(o, cp);
			break;
		}
		default:
			return fail(p, "bad escape");
		}
	}
	*o++ = '\0';
	*ret = start;
	*ret_len = o - start - 1;
	p->doc->str_len += o - start;
	return 0;
}

static int parse_value(struct parser *p, size_t depth, ssize_t *ret);

static int parse_number(struct parser *p, struct json_value *v)
{
	char buf[64], *end;
	size_t n = 0;

	while (p->pos + n < p->len && n < sizeof(buf) - 1 && strchr("+-0123456789.eE", p->s[p->pos + n]))
		n++;
	memcpy(buf, p->s + p->pos, n);
	buf[n] = '\0';
	v->num = strtod(buf, &end);
	if (!n || end != buf + n || !isfinite(v->num))
		return fail(p, "bad number");
	p->pos += n;
	return 0;
}

static int parse_container(struct parser *p, size_t depth, ssize_t self, bool object)
{
	char close = object ? '}' : ']';
	ssize_t last = -1;

	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		const char *key = NULL;
		size_t key_len;
		ssize_t child;

		skip_ws(p);
		if (object) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return fail(p, "expected a key");
			if (parse_string(p, &key, &key_len) < 0)
				return -EINVAL;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return fail(p, "expected ':'");
			p->pos++;
		}
		if (parse_value(p, depth + 1, &child) < 0)
			return -EINVAL;
		p->doc->nodes[child].key = key;
		if (last < 0)
			p->doc->nodes[self].child = (struct json_value *)(uintptr_t)(child + 1);
		else
			p->doc->nodes[last].next = (struct json_value *)(uintptr_t)(child + 1);
		last = child;
		p->doc->nodes[self].len++;
		skip_ws(p);
		if (p->pos >= p->len)
			return fail(p, "unterminated container");
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int parse_value(struct parser *p, size_t depth, ssize_t *ret)
{
	ssize_t n;
	char c;

	if (depth > JSON_MAX_DEPTH)
		return fail(p, "nested too deeply");
	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "expected a value");
	c = p->s[p->pos];
	switch (c) {
	case '{':
	case '[':
		n = node_new(p, c == '{' ? JSON_OBJECT : JSON_ARRAY);
		if (n < 0 || parse_container(p, depth, n, c == '{') < 0)
			return -EINVAL;
		break;
	case '"':
		n = node_new(p, JSON_STRING);
		if (n < 0 || parse_string(p, &p->doc->nodes[n].str, &p->doc->nodes[n].len) < 0)
			return -EINVAL;
		break;
	case 't':
	case 'f':
	case 'n': {
		const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
		size_t wl = strlen(word);

		if (p->len - p->pos < wl || memcmp(p->s + p->pos, word, wl))
			return fail(p, "unexpected word");
		n = node_new(p, c == 'n' ? JSON_NULL : JSON_BOOL);
		if (n < 0)
			return -EINVAL;
		p->doc->nodes[n].b = c == 't';
		p->pos += wl;
		break;
	}
	default:
		if (c != '-' && (c < '0' || c > '9'))
			return fail(p, "unexpected character");
		n = node_new(p, JSON_NUMBER);
		if (n < 0 || parse_number(p, &p->doc->nodes[n]) < 0)
			return -EINVAL;
		break;
	}
	*ret = n;
	return 0;
}

int json_parse_utf8(const char *text, size_t len, struct json_doc **ret, char *err, size_t errlen)
{
	size_t bad = nlh_utf8_check(text, len);

	if (bad < len) {
		snprintf(err, errlen, "offset %zu: not UTF-8", bad);
		return -EINVAL;
	}
	return json_parse(text, len, ret, err, errlen);
}

int json_parse(const char *text, size_t len, struct json_doc **ret, char *err, size_t errlen)
{
	struct parser p = { text, len, 0, NULL, err, errlen };
	struct json_doc *d;
	ssize_t root;

	if (len > JSON_MAX_SIZE) {
		snprintf(err, errlen, "offset 0: document larger than %d bytes", JSON_MAX_SIZE);
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d || !(d->strings = malloc(len + 1))) {
		free(d);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p.doc = d;
	if (parse_value(&p, 0, &root) < 0)
		goto fail;
	skip_ws(&p);
	if (p.pos != len) {
		fail(&p, "trailing characters");
		goto fail;
	}
	for (size_t i = 0; i < d->n_nodes; i++) {
		struct json_value *v = &d->nodes[i];

		v->child = v->child ? &d->nodes[(uintptr_t)v->child - 1] : NULL;
		v->next = v->next ? &d->nodes[(uintptr_t)v->next - 1] : NULL;
	}
	d->root = &d->nodes[root];
	*ret = d;
	return 0;
fail:
	json_doc_free(d);
	return -EINVAL;
}

const struct json_value *json_root(const struct json_doc *doc)
{
	return doc->root;
}

void json_doc_free(struct json_doc *doc)
{
	if (!doc)
		return;
	free(doc->nodes);
	free(doc->strings);
	free(doc);
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (const struct json_value *v = obj->child; v; v = v->next)
		if (!strcmp(v->key, key))
			return v;
	return NULL;
}

const char *json_get_str(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v && v->type == JSON_STRING ? v->str : NULL;
}

static bool sbuf_reserve(struct sbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (!sbuf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sbuf_reserve(b, n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

static void sbuf_put(void *data, const char *s, size_t n)
{
	sbuf_add(data, s, n);
}

void sbuf_json_str(struct sbuf *b, const char *s, size_t n)
{
	nlh_json_str(s, n, sbuf_put, b);
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
