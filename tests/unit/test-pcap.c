/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "pcap/pcap.h"

static char path[] = "/tmp/nlhook-test-pcap-XXXXXX";

static void test_roundtrip(void **state)
{
	struct pcap_writer *w;
	struct pcap_reader *r;
	struct pcap_record rec;
	char err[256];
	uint8_t msg[20] = { 20, 0, 0, 0, 16, 0 };

	assert_int_equal(pcap_create(path, &w), 0);
	assert_int_equal(pcap_write(w, 1700000000.5, 0, msg, sizeof(msg)), 0);
	assert_int_equal(pcap_write(w, 1700000001.25, 16, msg, 16), 0);
	assert_int_equal(pcap_writer_close(w), 0);

	assert_int_equal(pcap_open(path, &r, err, sizeof(err)), 0);
	assert_int_equal(pcap_next(r, &rec, err, sizeof(err)), 1);
	assert_int_equal(rec.index, 1);
	assert_int_equal(rec.family, 0);
	assert_int_equal(rec.len, 20);
	assert_memory_equal(rec.data, msg, 20);
	assert_true(rec.time > 1700000000.49 && rec.time < 1700000000.51);
	assert_int_equal((uintptr_t)rec.data % 8, 0);
	assert_int_equal(pcap_next(r, &rec, err, sizeof(err)), 1);
	assert_int_equal(rec.family, 16);
	assert_int_equal(rec.len, 16);
	assert_int_equal(pcap_next(r, &rec, err, sizeof(err)), 0);
	pcap_close(r);
}

/* A file built by hand: global header fields, then records. */
static size_t build(uint8_t *b, uint32_t magic, uint32_t linktype, uint32_t snaplen)
{
	uint32_t h[6] = { magic, 2 | 4 << 16, 0, 0, snaplen, linktype };

	memcpy(b, h, sizeof(h));
	return sizeof(h);
}

static size_t record(uint8_t *b, uint32_t incl, uint32_t frac, size_t body)
{
	uint32_t h[4] = { 1, frac, incl, incl };

	memcpy(b, h, sizeof(h));
	memset(b + 16, 0, body);
	return 16 + body;
}

static void expect_error(const uint8_t *b, size_t len, const char *want)
{
	struct pcap_reader *r;
	struct pcap_record rec;
	char err[256] = "";
	int n;

	if (pcap_open_mem(b, len, "x.pcap", &r, err, sizeof(err)) == 0) {
		while ((n = pcap_next(r, &rec, err, sizeof(err))) > 0)
			;
		pcap_close(r);
		assert_int_equal(n, -EBADMSG);
	}
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_lies(void **state)
{
	uint8_t b[4096] = {};
	size_t n;

	expect_error(b, 0, "x.pcap: not a pcap file (shorter");
	n = build(b, 0x0a0d0d0a, 253, 65535);
	expect_error(b, n, "pcapng");
	n = build(b, 0xa1b2c3d4, 1, 65535);
	expect_error(b, n, "link type 1, not NETLINK");
	n = build(b, 0xa1b2c3d4, 253, 65535);
	n += record(b + n, 36, 0, 36);
	n += record(b + n, 8, 0, 8);
	expect_error(b, n, "record 2: 8 bytes, shorter than the 16-byte");
	n = build(b, 0xa1b2c3d4, 253, 65535);
	n += record(b + n, 0x7fffffff, 0, 0);
	expect_error(b, n, "record 1: claims 2147483647 bytes");
	n = build(b, 0xa1b2c3d4, 253, 100);
	n += record(b + n, 200, 0, 50);
	expect_error(b, n, "record 1: claims 200 bytes (snaplen 100)");
	n = build(b, 0xa1b2c3d4, 253, 65535);
	n += record(b + n, 100, 0, 60);
	expect_error(b, n, "record 1: truncated (100 bytes announced, 60 in the file)");
	n = build(b, 0xa1b2c3d4, 253, 65535);
	n += record(b + n, 20, 2000000, 20);
	expect_error(b, n, "record 1: bad timestamp fraction");
	n = build(b, 0xa1b2c3d4, 253, 65535);
	n += record(b + n, 20, 0, 20);
	n += 7;	/* a torn record header at the end */
	expect_error(b, n, "record 2: truncated header (7 of 16 bytes)");
}

/* Written on a big-endian machine: every field swapped. */
static void test_big_endian(void **state)
{
	uint8_t b[256];
	uint32_t h[6] = { __builtin_bswap32(0xa1b2c3d4), 0, 0, 0, __builtin_bswap32(65535), __builtin_bswap32(253) };
	uint32_t rh[4] = { __builtin_bswap32(5), 0, __builtin_bswap32(36), __builtin_bswap32(36) };
	struct pcap_reader *r;
	struct pcap_record rec;
	char err[256];

	memcpy(b, h, 24);
	memcpy(b + 24, rh, 16);
	memset(b + 40, 0, 36);
	b[40 + 15] = 16;	/* cooked header: generic netlink */
	assert_int_equal(pcap_open_mem(b, 76, "be.pcap", &r, err, sizeof(err)), 0);
	assert_int_equal(pcap_next(r, &rec, err, sizeof(err)), 1);
	assert_int_equal(rec.family, 16);
	assert_int_equal(rec.len, 20);
	assert_true(rec.time == 5.0);
	pcap_close(r);
}

/* nlmon's copies of one multicast message: folded; a repeat later is an event again. */
static void test_fold(void **state)
{
	static const uint8_t a[20] = { 20, 0, 0, 0, 16, 0, 1 }, b[20] = { 20, 0, 0, 0, 16, 0, 2 };
	struct pcap_fold f = {};
	struct pcap_record rec = { .family = 16, .len = 20 };

	rec.time = 10.000, rec.data = a;
	assert_false(pcap_fold_seen(&f, &rec));
	rec.time = 10.001;
	assert_true(pcap_fold_seen(&f, &rec));
	rec.data = b;		/* another message between the copies */
	assert_false(pcap_fold_seen(&f, &rec));
	rec.data = a, rec.time = 10.002;
	assert_true(pcap_fold_seen(&f, &rec));
	rec.family = 0;		/* the same bytes from another netlink family */
	assert_false(pcap_fold_seen(&f, &rec));
	rec.family = 16, rec.len = 16;	/* a prefix of it */
	assert_false(pcap_fold_seen(&f, &rec));
	rec.len = 20, rec.time = 10.5;	/* the kernel said it again */
	assert_false(pcap_fold_seen(&f, &rec));
	assert_int_equal(f.folded, 2);
	/* only the last PCAP_FOLD_KEEP are remembered */
	for (int i = 0; i < PCAP_FOLD_KEEP; i++) {
		uint8_t other[20] = { 20, 0, 0, 0, 16, 0, 100 + i };

		rec.data = other;
		assert_false(pcap_fold_seen(&f, &rec));
	}
	rec.data = a;
	assert_false(pcap_fold_seen(&f, &rec));
	pcap_fold_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_lies),
		cmocka_unit_test(test_big_endian),
		cmocka_unit_test(test_fold),
	};
	int fd = mkstemp(path), r;

	if (fd < 0)
		return 1;
	close(fd);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return r;
}
