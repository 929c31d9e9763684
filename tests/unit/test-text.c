/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/text.h"

static void escapes(const char *raw, size_t len, const char *want)
{
	char buf[256];
	int n = nlh_text_escape(raw, len, buf, sizeof(buf));

	if (n < 0 || strcmp(buf, want))
		fail_msg("escape gave '%s' (%d), want '%s'", buf, n, want);
	assert_int_equal(n, strlen(want));
}

#define ESC(raw, want) escapes(raw, sizeof(raw) - 1, want)

static void test_valid(void **state)
{
	ESC("eth0", "eth0");
	ESC("caf\xc3\xa9 0", "caf\xc3\xa9 0");			/* é, and a space */
	ESC("\xe2\x82\xac", "\xe2\x82\xac");				/* €, 3 bytes */
	ESC("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");			/* 😀, 4 bytes */
	ESC("\xc2\xa0\xdf\xbf", "\xc2\xa0\xdf\xbf");			/* U+00A0, U+07FF */
	ESC("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80", "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"); /* U+0800, U+D7FF, U+E000 */
	ESC("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");   /* U+10000, U+10FFFF */
	ESC("\"quoted\" ~", "\"quoted\" ~");
}

static void test_invalid(void **state)
{
	/* Control characters, DEL, C1 controls (U+0080-U+009F), the backslash. */
	ESC("a\x00z", "a\\x00z");
	ESC("\x01\x09\x0a\x1f\x7f", "\\x01\\x09\\x0a\\x1f\\x7f");
	ESC("\xc2\x80\xc2\x9f", "\\xc2\\x80\\xc2\\x9f");
	ESC("C:\\dir", "C:\\x5cdir");
	/* Lone continuation bytes, bytes never in UTF-8. */
	ESC("\x80\xbf", "\\x80\\xbf");
	ESC("\xc0\xc1\xf5\xff", "\\xc0\\xc1\\xf5\\xff");
	/* Overlongs: '/' in 2, 3 and 4 bytes, U+07FF in 3, U+FFFF in 4. */
	ESC("\xc0\xaf", "\\xc0\\xaf");
	ESC("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
	ESC("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf");
	ESC("\xe0\x9f\xbf", "\\xe0\\x9f\\xbf");
	ESC("\xf0\x8f\xbf\xbf", "\\xf0\\x8f\\xbf\\xbf");
	/* Surrogates U+D800, U+DFFF (CESU-8 pairs too). */
	ESC("\xed\xa0\x80", "\\xed\\xa0\\x80");
	ESC("\xed\xbf\xbf", "\\xed\\xbf\\xbf");
	ESC("\xed\xa0\xbd\xed\xb8\x80", "\\xed\\xa0\\xbd\\xed\\xb8\\x80");
	/* Above U+10FFFF. */
	ESC("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
	ESC("\xf7\xbf\xbf\xbf", "\\xf7\\xbf\\xbf\\xbf");
	/* Truncated: at the end, and cut by ASCII (which stays itself). */
	ESC("ok\xe2\x82", "ok\\xe2\\x82");
	ESC("\xf0\x9f\x98", "\\xf0\\x9f\\x98");
	ESC("\xe2\x82" "A\xc3", "\\xe2\\x82" "A\\xc3");
	ESC("\xc3\xc3\xa9", "\\xc3\xc3\xa9");
	/* Lowercase hex, two digits. */
	ESC("\xab\xcd\xef", "\\xab\\xcd\\xef");
}

static void test_truncation(void **state)
{
	char buf[8];

	/* Cut between characters and escapes, never inside one; always terminated. */
	assert_int_equal(nlh_text_escape("ab\xff" "cd", 5, buf, 6), -ENOSPC);
	assert_string_equal(buf, "ab");
	assert_int_equal(nlh_text_escape("a\xc3\xa9", 3, buf, 3), -ENOSPC);
	assert_string_equal(buf, "a");
	assert_int_equal(nlh_text_escape("abc", 3, buf, 4), 3);
	assert_int_equal(nlh_text_escape("", 0, buf, 1), 0);
	assert_string_equal(buf, "");
	assert_int_equal(nlh_text_escape("a", 1, buf, 0), -ENOSPC);
}

static void test_unescape(void **state)
{
	char out[64];

	assert_int_equal(nlh_text_unescape("caf\\xff0", 8, out, sizeof(out), true), 5);
	assert_memory_equal(out, "caf\xff" "0", 5);
	assert_int_equal(nlh_text_unescape("\\xFF\\x5c\\x00", 12, out, sizeof(out), true), 3);
	assert_memory_equal(out, "\xff\\\0", 3);
	assert_int_equal(nlh_text_unescape("caf\xc3\xa9", 5, out, sizeof(out), true), 5);
	/* Strict: only what the escape writes. */
	assert_int_equal(nlh_text_unescape("caf\xff", 4, out, sizeof(out), true), -EINVAL);
	assert_int_equal(nlh_text_unescape("a\nb", 3, out, sizeof(out), true), -EINVAL);
	assert_int_equal(nlh_text_unescape("a\\b", 3, out, sizeof(out), true), -EINVAL);
	assert_int_equal(nlh_text_unescape("a\\x4", 4, out, sizeof(out), true), -EINVAL);
	assert_int_equal(nlh_text_unescape("a\\xg0", 5, out, sizeof(out), true), -EINVAL);
	assert_int_equal(nlh_text_unescape("\xc2\x85", 2, out, sizeof(out), true), -EINVAL);
	/* Lenient: \xNN decoded, the rest kept. */
	assert_int_equal(nlh_text_unescape("a\\b\xff\\x41", 8, out, sizeof(out), false), 5);
	assert_memory_equal(out, "a\\b\xff" "A", 5);
	/* In place, a character after an escape moves back over it (4 bytes over 3: they overlap). */
	strcpy(out, "\\x41\xf0\x9f\x98\x80" "caf\xc3\xa9\\x5c");
	assert_int_equal(nlh_text_unescape(out, strlen(out), out, sizeof(out), true), 11);
	assert_memory_equal(out, "A\xf0\x9f\x98\x80" "caf\xc3\xa9\\", 11);
	/* The output bound. */
	assert_int_equal(nlh_text_unescape("abc", 3, out, 2, true), -ENOSPC);
	assert_int_equal(nlh_text_unescape("\\x41", 4, out, 0, true), -ENOSPC);
}

static void put(void *data, const char *s, size_t n)
{
	strncat(data, s, n);
}

static void test_json_str(void **state)
{
	char out[128] = "";

	nlh_json_str("caf\xc3\xa9 \"\\\xff\n", 10, put, out);
	assert_string_equal(out, "\"caf\xc3\xa9 \\\"\\\\x5c\\\\xff\\\\x0a\"");
	out[0] = '\0';
	nlh_json_str("", 0, put, out);
	assert_string_equal(out, "\"\"");
}

/* Whatever the bytes: the rendering is valid UTF-8 without controls, and decodes back to them. */
static void test_roundtrip_random(void **state)
{
	unsigned int seed = 1;
	uint8_t raw[64], back[64];
	char text[4 * 64 + 1];

	for (int iter = 0; iter < 100000; iter++) {
		size_t len = rand_r(&seed) % sizeof(raw);
		int n;

		for (size_t i = 0; i < len; i++) {
			unsigned int r = rand_r(&seed);

			/* Lean on the interesting bytes: ASCII, lead and continuation bytes. */
			raw[i] = r % 4 == 0 ? 0x80 | (r >> 8) % 64 : r % 4 == 1 ? 0xc0 | (r >> 8) % 64 : r >> 8;
		}
		n = nlh_text_escape(raw, len, text, sizeof(text));
		assert_true(n >= 0);
		assert_int_equal(nlh_utf8_check(text, n), n);
		for (int i = 0; i < n; i++)
			assert_true((unsigned char)text[i] >= 0x20 && text[i] != 0x7f);
		assert_int_equal(nlh_text_unescape(text, n, back, sizeof(back), true), len);
		assert_memory_equal(back, raw, len);
	}
}

static void test_utf8_check(void **state)
{
	assert_int_equal(nlh_utf8_check("a\0b\xc2\x85", 5), 5);	/* any scalar value is valid UTF-8 */
	assert_int_equal(nlh_utf8_check("ab\xff", 3), 2);
	assert_int_equal(nlh_utf8_check("\xed\xa0\x80", 3), 0);
	assert_int_equal(nlh_utf8_check("x\xe2\x82", 3), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_utf8_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
