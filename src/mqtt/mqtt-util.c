/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mqtt-util.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/*
 * UTF-8 as MQTT wants it in strings (3.1.1 section 1.5.3) and as
 * libmosquitto checks it: no NUL, surrogates, overlong forms, control
 * characters or non-characters.
 */
static bool mqtt_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n;

		if (s[i] < 0x80) {
			cp = s[i];
			n = 1;
		} else if (s[i] >= 0xc2 && s[i] < 0xe0) {
			cp = s[i] & 0x1f;
			n = 2;
		} else if ((s[i] & 0xf0) == 0xe0) {
			cp = s[i] & 0x0f;
			n = 3;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			cp = s[i] & 0x07;
			n = 4;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (size_t j = 1; j < n; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		if ((cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
			return false;
		if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f))
			return false;
		i += n;
	}
	return true;
}

const char *mqtt_topic_problem(const char *t, size_t len)
{
	if (!len)
		return "a topic cannot be empty";
	if (len > MQTT_TOPIC_MAX)
		return "a topic is at most 65535 bytes";
	if (memchr(t, '+', len) || memchr(t, '#', len))
		return "the wildcards '+' and '#' are for subscriptions, not in a topic to publish to";
	if (!mqtt_utf8_valid(t, len))
		return "a topic must be UTF-8 without NUL or control characters";
	return NULL;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The n bytes at s with %XX decoded, in a new string that must be UTF-8
 * as MQTT wants it (no NUL from a %00 either).  0, -EINVAL or -ENOMEM.
 */
static int pct_decode(const char *s, size_t n, char **ret)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (n - i < 3 || unhex(s[i + 1]) < 0 || unhex(s[i + 2]) < 0) {
			free(out);
			return -EINVAL;
		}
		out[o++] = unhex(s[i + 1]) << 4 | unhex(s[i + 2]);
		i += 2;
	}
	out[o] = '\0';
	if (!mqtt_utf8_valid(out, o)) {
		free(out);
		return -EINVAL;
	}
	*ret = out;
	return 0;
}

void mqtt_url_clear(struct mqtt_url *u)
{
	free(u->user);
	free(u->host);
	free(u->prefix);
	memset(u, 0, sizeof(*u));
}

/* What RFC 3986 allows in a reg-name, less the percent-encoding nobody uses in host names. */
static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static int parse_user(const char *s, size_t n, struct mqtt_url *u, char *err, size_t errlen)
{
	int r;

	if (memchr(s, ':', n))
		return fail(err, errlen, "a password in the URL is refused: put it in a file for --mqtt-password-file");
	if (!n)
		return fail(err, errlen, "the user name before '@' is empty");
	r = pct_decode(s, n, &u->user);
	if (r == -EINVAL)
		return fail(err, errlen, "the user name is not UTF-8 without control characters "
			    "('%%' must be followed by two hex digits)");
	return r;
}

/* host, [v6], host:port or [v6]:port */
static int parse_hostport(const char *s, size_t n, struct mqtt_url *u, char *err, size_t errlen)
{
	const char *end = s + n, *h = s, *he, *p = NULL;
	char buf[64];
	unsigned long port;
	char *pe;

	if (n && *s == '[') {
		struct in6_addr a;

		h = s + 1;
		he = memchr(h, ']', end - h);
		if (!he)
			return fail(err, errlen, "'[' without ']' around an IPv6 address");
		if ((size_t)(he - h) >= sizeof(buf))
			return fail(err, errlen, "'%.*s' is not an IPv6 address", (int)(he - h), h);
		memcpy(buf, h, he - h);
		buf[he - h] = '\0';
		if (inet_pton(AF_INET6, buf, &a) != 1)
			return fail(err, errlen, "'%s' is not an IPv6 address", buf);
		if (he + 1 < end && he[1] != ':')
			return fail(err, errlen, "unexpected '%.*s' after the IPv6 address", (int)(end - he - 1), he + 1);
		p = he + 1 < end ? he + 2 : NULL;
	} else {
		he = memchr(s, ':', n) ?: end;
		if (he == h)
			return fail(err, errlen, "no host name");
		for (const char *c = h; c < he; c++)
			if (!host_char(*c))
				return fail(err, errlen, "'%.*s' is not a host name", (int)(he - h), h);
		p = he < end ? he + 1 : NULL;
	}
	u->port = u->tls ? MQTTS_PORT : MQTT_PORT;
	if (p) {
		if ((size_t)(end - p) >= sizeof(buf))
			return fail(err, errlen, "port '%.*s' is not a number from 1 to 65535", (int)(end - p), p);
		memcpy(buf, p, end - p);
		buf[end - p] = '\0';
		errno = 0;
		port = strtoul(buf, &pe, 10);
		if (!*buf || *pe || *buf < '0' || *buf > '9' || errno || port < 1 || port > 65535)
			return fail(err, errlen, "port '%s' is not a number from 1 to 65535", buf);
		u->port = port;
	}
	u->host = strndup(h, he - h);
	return u->host ? 0 : -ENOMEM;
}

static int parse_prefix(const char *s, struct mqtt_url *u, char *err, size_t errlen)
{
	const char *problem;
	size_t n = strlen(s);
	int r;

	/* "mqtt://host/" and "mqtt://host/a/b/" name no level after the last '/'. */
	while (n && s[n - 1] == '/')
		n--;
	if (!n)
		return 0;
	r = pct_decode(s, n, &u->prefix);
	if (r == -EINVAL)
		return fail(err, errlen, "the prefix '%.*s' is not UTF-8 without control characters "
			    "('%%' must be followed by two hex digits)", (int)n, s);
	if (r < 0)
		return r;
	problem = mqtt_topic_problem(u->prefix, strlen(u->prefix));
	if (problem)
		return fail(err, errlen, "the prefix '%s': %s", u->prefix, problem);
	if (u->prefix[0] == '$')
		return fail(err, errlen, "the prefix '%s': topics starting with '$' are the broker's", u->prefix);
	return 0;
}

int mqtt_url_parse(const char *s, struct mqtt_url *ret, char *err, size_t errlen)
{
	struct mqtt_url u = {};
	const char *auth, *slash, *at;
	int r;

	if (!strncasecmp(s, "mqtt://", 7)) {
		auth = s + 7;
	} else if (!strncasecmp(s, "mqtts://", 8)) {
		u.tls = true;
		auth = s + 8;
	} else {
		const char *colon = strstr(s, "://");

		if (colon)
			return fail(err, errlen, "unknown scheme '%.*s' (mqtt:// or mqtts://)", (int)(colon - s), s);
		return fail(err, errlen, "not a URL: mqtt://[USER@]HOST[:PORT][/PREFIX] or mqtts://...");
	}
	if (strpbrk(auth, "?#"))
		return fail(err, errlen, "'%c' has no meaning here (queries, fragments and wildcards are not "
			    "part of a broker URL)", *strpbrk(auth, "?#"));
	slash = strchr(auth, '/') ?: auth + strlen(auth);
	at = memchr(auth, '@', slash - auth);
	if (at && memchr(at + 1, '@', slash - at - 1))
		return fail(err, errlen, "more than one '@' (write '@' in a user name as %%40)");
	if (at && (r = parse_user(auth, at - auth, &u, err, errlen)) < 0)
		goto out;
	r = parse_hostport(at ? at + 1 : auth, slash - (at ? at + 1 : auth), &u, err, errlen);
	if (r < 0)
		goto out;
	if (*slash && (r = parse_prefix(slash + 1, &u, err, errlen)) < 0)
		goto out;
	*ret = u;
	return 0;
out:
	mqtt_url_clear(&u);
	return r;
}

char *mqtt_default_prefix(void)
{
	char host[256], *p;

	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	/* One topic level: no separator, no wildcard, nothing MQTT refuses. */
	for (unsigned char *c = (unsigned char *)host; *c; c++)
		if (*c == '/' || *c == '+' || *c == '#' || *c < 0x20 || *c >= 0x7f)
			*c = '_';
	if (asprintf(&p, "nlhook/%s", host) < 0)
		return NULL;
	return p;
}
