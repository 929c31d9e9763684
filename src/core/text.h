/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * The one rendering of text (names, prefixes, SSIDs, strings rules emit),
 * everywhere: JSON, monitor lines, the environment of actions.  Bytes that
 * form printable UTF-8 characters stay as they are; any other byte (not
 * part of valid UTF-8, a control character U+0000-U+001F or U+007F-U+009F)
 * and the backslash itself become \xNN, two lowercase hex digits, so the
 * raw bytes can always be recovered.  The output is valid UTF-8.
 */

/*
 * Length of the printable UTF-8 character at s (1 to 4), or 0 when the
 * byte at s is written as \xNN.
 */
size_t nlh_text_char(const unsigned char *s, size_t len);

/*
 * The rendering of len bytes into buf, always NUL-terminated.  Returns the
 * length, or -ENOSPC when it did not fit (cut between characters).
 */
int nlh_text_escape(const void *s, size_t len, char *buf, size_t size);

/* The same rendering, handed to put a character or an escape at a time. */
typedef void (*nlh_put_fn)(void *data, const char *s, size_t n);
void nlh_text_put(const void *s, size_t len, nlh_put_fn put, void *data);

/*
 * Back to the bytes (never longer than the text).  Strict: every byte
 * must be one nlh_text_escape could have written (\xNN with either case
 * of hex digits), else -EINVAL.  Lenient: \xNN is decoded, anything else
 * kept as is.  Returns the length, or -ENOSPC when out is too small.
 * out may be s: the text never grows when decoded.
 */
int nlh_text_unescape(const char *s, size_t len, void *out, size_t size, bool strict);

/* The value of a hex digit of either case, or -1. */
int nlh_hexval(char c);

/* Offset of the first byte of s that is not part of valid UTF-8 (any scalar value), or len. */
size_t nlh_utf8_check(const char *s, size_t len);

/*
 * The one writer of JSON strings: the rendering above between quotes,
 * with '"' and the escapes' backslashes escaped for JSON.  Hands the
 * pieces to put (a whole character or escape each time).
 */
void nlh_json_str(const char *s, size_t n, nlh_put_fn put, void *data);
