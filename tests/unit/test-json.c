/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/json.h"
#include "core/text.h"

static struct json_doc *parse_ok(const char *s)
{
	struct json_doc *d = NULL;
	char err[128] = "";

	if (json_parse(s, strlen(s), &d, err, sizeof(err)) < 0)
		fail_msg("'%s': %s", s, err);
	return d;
}

static void parse_bad(const char *s, const char *want)
{
	struct json_doc *d = NULL;
	char err[128] = "";

	assert_int_equal(json_parse(s, strlen(s), &d, err, sizeof(err)), -EINVAL);
	assert_null(d);
	if (!strstr(err, want))
		fail_msg("'%s': error '%s' lacks '%s'", s, err, want);
}

static void test_values(void **state)
{
	struct json_doc *d = parse_ok(" {\"a\": [1, -2.5e1, true, false, null], \"b\": {\"c\": \"x\\ty\"}} ");
	const struct json_value *root = json_root(d), *a, *v;

	assert_int_equal(root->type, JSON_OBJECT);
	assert_int_equal(root->len, 2);
	a = json_get(root, "a");
	assert_int_equal(a->type, JSON_ARRAY);
	assert_int_equal(a->len, 5);
	v = a->child;
	assert_true(v->type == JSON_NUMBER && v->num == 1);
	v = v->next;
	assert_true(v->type == JSON_NUMBER && v->num == -25);
	v = v->next;
	assert_true(v->type == JSON_BOOL && v->b);
	v = v->next;
	assert_true(v->type == JSON_BOOL && !v->b);
	assert_int_equal(v->next->type, JSON_NULL);
	assert_null(v->next->next);
	assert_string_equal(json_get_str(json_get(root, "b"), "c"), "x\ty");
	assert_null(json_get(root, "missing"));
	assert_null(json_get_str(root, "a"));
	json_doc_free(d);
}

static void test_strings(void **state)
{
	struct json_doc *d = parse_ok("[\"\\u00e9\\ud83d\\ude00\", \"a\\u0000b\", \"\\\"\\\\\\/\"]");
	const struct json_value *v = json_root(d)->child;

	assert_string_equal(v->str, "\xc3\xa9\xf0\x9f\x98\x80");
	v = v->next;
	assert_int_equal(v->len, 3);
	assert_memory_equal(v->str, "a\0b", 3);
	assert_string_equal(v->next->str, "\"\\/");
	json_doc_free(d);
}

static void test_errors(void **state)
{
	parse_bad("", "offset 0: expected a value");
	parse_bad("{\"a\" 1}", "offset 5: expected ':'");
	parse_bad("[1, 2", "unterminated");
	parse_bad("[1 2]", "expected ',' or ']'");
	parse_bad("\"abc", "unterminated string");
	parse_bad("\"a\nb\"", "control character");
	parse_bad("\"\\ud800\"", "lone surrogate");
	parse_bad("\"\\x41\"", "bad escape");
	parse_bad("tru", "unexpected word");
	parse_bad("{} x", "trailing characters");
	parse_bad("1e999", "bad number");
	parse_bad("-", "bad number");
	parse_bad("{1: 2}", "expected a key");
}

static void test_depth(void **state)
{
	char deep[200];

	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	parse_bad(deep, "nested too deeply");
}

static void test_sbuf(void **state)
{
	struct sbuf b = {};

	sbuf_printf(&b, "{\"n\":%d,\"s\":", 42);
	sbuf_json_str(&b, "a\"b\\c\n\x01\xc3\xa9", 9);
	sbuf_puts(&b, "}");
	/* The one escape, then JSON's: a backslash is \x5c, written "\\x5c". */
	assert_string_equal(b.p, "{\"n\":42,\"s\":\"a\\\"b\\\\x5cc\\\\x0a\\\\x01\xc3\xa9\"}");
	/* What we write, we read back: the text, which decodes to the bytes. */
	{
		struct json_doc *d = parse_ok(b.p);

		assert_string_equal(json_get_str(json_root(d), "s"), "a\"b\\x5cc\\x0a\\x01\xc3\xa9");
		json_doc_free(d);
	}
	sbuf_free(&b);
}

/* json.loads of bytes: UTF-8 or nothing. */
static void test_utf8(void **state)
{
	struct json_doc *d = NULL;
	char err[128] = "";

	assert_int_equal(json_parse_utf8("[\"caf\xc3\xa9\"]", 9, &d, err, sizeof(err)), 0);
	json_doc_free(d);
	d = NULL;
	assert_int_equal(json_parse_utf8("[\"caf\xff\"]", 8, &d, err, sizeof(err)), -EINVAL);
	assert_null(d);
	assert_string_equal(err, "offset 5: not UTF-8");
	assert_int_equal(json_parse_utf8("\"\xed\xa0\x80\"", 5, &d, err, sizeof(err)), -EINVAL);
	assert_int_equal(json_parse_utf8("\"\xc0\xaf\"", 4, &d, err, sizeof(err)), -EINVAL);
	/* The lenient reader still takes them: the event reader names the field instead. */
	assert_int_equal(json_parse("[\"caf\xff\"]", 8, &d, err, sizeof(err)), 0);
	json_doc_free(d);
}

/* Any bytes, keys included, make valid UTF-8 JSON that reads back to the text of those bytes. */
static void test_sbuf_random(void **state)
{
	unsigned int seed = 7;

	for (int iter = 0; iter < 20000; iter++) {
		char raw[48], err[128], text[4 * 48 + 1];
		struct json_doc *d = NULL;
		struct sbuf b = {};
		size_t len = rand_r(&seed) % sizeof(raw);
		const struct json_value *v;

		for (size_t i = 0; i < len; i++)
			raw[i] = rand_r(&seed) >> 8;
		sbuf_puts(&b, "{");
		sbuf_json_str(&b, raw, len);
		sbuf_puts(&b, ":");
		sbuf_json_str(&b, raw, len);
		sbuf_puts(&b, "}");
		assert_false(b.oom);
		if (json_parse_utf8(b.p, b.len, &d, err, sizeof(err)) < 0)
			fail_msg("%s: %s", b.p, err);
		v = json_root(d)->child;
		assert_int_equal(nlh_text_escape(raw, len, text, sizeof(text)), v->len);
		assert_string_equal(v->key, text);
		assert_string_equal(v->str, text);
		json_doc_free(d);
		sbuf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_sbuf),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_sbuf_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
