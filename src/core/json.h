/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * A small JSON reader for control requests and event JSON, and a growing
 * buffer to write JSON into.  The reader is fed untrusted bytes: it
 * bounds depth and size, and its errors name the byte offset.
 */

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_value {
	enum json_type type;
	bool b;
	double num;
	const char *str;		/* STRING: decoded, NUL-terminated (may hold NULs: use len) */
	size_t len;			/* STRING: bytes; ARRAY/OBJECT: members */
	const char *key;		/* object members: their key */
	struct json_value *child;	/* ARRAY/OBJECT: first member */
	struct json_value *next;	/* next member of the parent */
};

struct json_doc;

#define JSON_MAX_DEPTH 32
#define JSON_MAX_SIZE (1024 * 1024)

/*
 * Parse exactly one value (surrounding white space allowed).  On error
 * returns -EINVAL and writes "offset N: what" into err.
 */
int json_parse(const char *text, size_t len, struct json_doc **ret, char *err, size_t errlen);
/* The same, and the text must be valid UTF-8, as RFC 8259 (and Python's json.loads) wants. */
int json_parse_utf8(const char *text, size_t len, struct json_doc **ret, char *err, size_t errlen);
const struct json_value *json_root(const struct json_doc *doc);
void json_doc_free(struct json_doc *doc);

const struct json_value *json_get(const struct json_value *obj, const char *key);
/* The member's string, or NULL when absent or not a string. */
const char *json_get_str(const struct json_value *obj, const char *key);

/* A growing output buffer; on allocation failure it stops growing and sets oom. */
struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal of n bytes, written by nlh_json_str (core/text.h). */
void sbuf_json_str(struct sbuf *b, const char *s, size_t n);
void sbuf_free(struct sbuf *b);
