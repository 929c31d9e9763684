/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mqtt/mqtt-util.h"

static void url_ok(const char *s, bool tls, const char *user, const char *host, int port, const char *prefix)
{
	struct mqtt_url u;
	char err[256] = "";

	if (mqtt_url_parse(s, &u, err, sizeof(err)) < 0)
		fail_msg("'%s': %s", s, err);
	assert_int_equal(u.tls, tls);
	if (user)
		assert_string_equal(u.user, user);
	else
		assert_null(u.user);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
	if (prefix)
		assert_string_equal(u.prefix, prefix);
	else
		assert_null(u.prefix);
	mqtt_url_clear(&u);
}

static void url_bad(const char *s, const char *want)
{
	struct mqtt_url u = { .port = -1 };
	char err[256] = "";

	assert_int_equal(mqtt_url_parse(s, &u, err, sizeof(err)), -EINVAL);
	/* Nothing is set on failure. */
	assert_int_equal(u.port, -1);
	if (!strstr(err, want))
		fail_msg("'%s': error '%s' lacks '%s'", s, err, want);
}

static void test_url(void **state)
{
	url_ok("mqtt://broker", false, NULL, "broker", 1883, NULL);
	url_ok("mqtts://broker", true, NULL, "broker", 8883, NULL);
	url_ok("MQTT://broker.lan:1884", false, NULL, "broker.lan", 1884, NULL);
	url_ok("mqtt://gw@10.0.0.1/site/gw1", false, "gw", "10.0.0.1", 1883, "site/gw1");
	url_ok("mqtts://a%40b@[2001:db8::1]:8884/x", true, "a@b", "2001:db8::1", 8884, "x");
	url_ok("mqtt://[::1]", false, NULL, "::1", 1883, NULL);
	/* A trailing '/' names no level; percent-encoding works in the prefix too. */
	url_ok("mqtt://h/", false, NULL, "h", 1883, NULL);
	url_ok("mqtt://h/a%20b/c/", false, NULL, "h", 1883, "a b/c");
	url_ok("mqtt://h/caf\xc3\xa9", false, NULL, "h", 1883, "caf\xc3\xa9");
}

static void test_url_bad(void **state)
{
	url_bad("broker:1883", "not a URL");
	url_bad("http://broker", "unknown scheme 'http'");
	url_bad("mqtt://", "no host");
	url_bad("mqtt:///prefix", "no host");
	url_bad("mqtt://user:secret@broker", "password in the URL is refused");
	url_bad("mqtt://@broker", "user name before '@' is empty");
	url_bad("mqtt://a@b@broker", "more than one '@'");
	url_bad("mqtt://broker:0", "port '0' is not a number from 1 to 65535");
	url_bad("mqtt://broker:65536", "port '65536'");
	url_bad("mqtt://broker:", "port ''");
	url_bad("mqtt://broker:x1", "port 'x1'");
	url_bad("mqtt://broker:-1", "port '-1'");
	url_bad("mqtt://bro ker", "'bro ker' is not a host name");
	url_bad("mqtt://[::1", "without ']'");
	url_bad("mqtt://[nothex]:1", "'nothex' is not an IPv6 address");
	url_bad("mqtt://[::1]x", "unexpected 'x'");
	url_bad("mqtt://broker/a/+/b", "wildcards");
	url_bad("mqtt://broker/a/#", "'#' has no meaning here");
	url_bad("mqtt://broker?x=1", "'?' has no meaning here");
	url_bad("mqtt://broker/$SYS", "topics starting with '$'");
	url_bad("mqtt://broker/a%2", "two hex digits");
	url_bad("mqtt://broker/a%00b", "not UTF-8");
	url_bad("mqtt://broker/a\x01", "not UTF-8");
	url_bad("mqtt://us%zzer@broker", "two hex digits");
}

static void test_topic(void **state)
{
	char big[MQTT_TOPIC_MAX + 2];

	assert_null(mqtt_topic_problem("a/b/c", 5));
	assert_null(mqtt_topic_problem("/", 1));
	assert_null(mqtt_topic_problem("a//b", 4));
	assert_null(mqtt_topic_problem("caf\xc3\xa9/\xf0\x9f\x93\xb6", 10));
	assert_non_null(mqtt_topic_problem("", 0));
	assert_non_null(mqtt_topic_problem("a/+/b", 5));
	assert_non_null(mqtt_topic_problem("a/#", 3));
	assert_non_null(mqtt_topic_problem("a\0b", 3));
	assert_non_null(mqtt_topic_problem("a\nb", 3));
	assert_non_null(mqtt_topic_problem("\xc3", 1));		/* truncated */
	assert_non_null(mqtt_topic_problem("\xc0\xaf", 2));	/* overlong '/' */
	assert_non_null(mqtt_topic_problem("\xed\xa0\x80", 3));	/* a surrogate */
	assert_non_null(mqtt_topic_problem("\xf4\x90\x80\x80", 4));	/* past U+10FFFF */
	assert_non_null(mqtt_topic_problem("\xef\xbf\xbf", 3));	/* U+FFFF */
	memset(big, 'a', sizeof(big));
	assert_null(mqtt_topic_problem(big, MQTT_TOPIC_MAX));
	assert_non_null(mqtt_topic_problem(big, MQTT_TOPIC_MAX + 1));
}

static void test_default_prefix(void **state)
{
	char host[256], *p = mqtt_default_prefix();

	assert_non_null(p);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_int_equal(strncmp(p, "nlhook/", 7), 0);
	/* One level, and a topic one can publish to. */
	assert_null(strchr(p + 7, '/'));
	assert_null(mqtt_topic_problem(p, strlen(p)));
	if (!strpbrk(host, "/+#"))
		assert_string_equal(p + 7, host);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_url_bad),
		cmocka_unit_test(test_topic),
		cmocka_unit_test(test_default_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
