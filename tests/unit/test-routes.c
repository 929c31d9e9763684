/* SPDX-License-Identifier: MIT */
/* The compact route table (src/rtnl/routes.c), fed routes parsed from built RTM_NEWROUTE messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../nlbuild.h"
#include "rtnl/routes.h"

static struct rtnl_route route(int family, const char *dst, uint8_t len, const char *gw, int oif, uint32_t metric)
{
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_route(&b, RTM_NEWROUTE, family, dst, len, gw, oif, metric);
	struct rtnl_route r;

	assert_int_equal(rtnl_route_parse(nlh, &r), 0);
	return r;
}

/* Route i of a large table: IPv4 /24s below n4, IPv6 /48s above, spread over three devices. */
static struct rtnl_route nth(long i, long n4)
{
	struct rtnl_route r = { .table = RT_TABLE_MAIN, .protocol = RTPROT_BGP, .type = RTN_UNICAST };

	r.ifindex = 2 + i % 3;
	r.has_ifindex = true;
	r.has_gateway = true;
	if (i < n4) {
		r.family = AF_INET;
		r.dst_len = 24;
		r.dst[0] = 11 + i / 65536;
		r.dst[1] = i / 256;
		r.dst[2] = i;
		r.gateway[0] = 10;
		r.gateway[3] = 2;
	} else {
		r.family = AF_INET6;
		r.dst_len = 48;
		r.dst[0] = 0x2a;
		r.dst[4] = (i - n4) >> 8;
		r.dst[5] = i - n4;
		r.gateway[0] = 0xfd;
		r.gateway[15] = 2;
	}
	return r;
}

static void assert_same_route(const struct rtnl_route *a, const struct rtnl_route *b)
{
	assert_int_equal(a->family, b->family);
	assert_int_equal(a->table, b->table);
	assert_int_equal(a->metric, b->metric);
	assert_int_equal(a->dst_len, b->dst_len);
	assert_memory_equal(a->dst, b->dst, sizeof(a->dst));
	assert_int_equal(a->has_gateway, b->has_gateway);
	assert_memory_equal(a->gateway, b->gateway, sizeof(a->gateway));
	assert_int_equal(a->has_ifindex, b->has_ifindex);
	assert_int_equal(a->ifindex, b->ifindex);
	assert_int_equal(a->protocol, b->protocol);
	assert_int_equal(a->scope, b->scope);
	assert_int_equal(a->type, b->type);
}

static size_t count_if(const struct rtnl_routes *t, uint32_t ifindex, uint8_t family)
{
	size_t n = 0;

	for (rtnl_route_ref ref = rtnl_routes_next_if(t, ifindex, family, RTNL_ROUTE_NONE); ref != RTNL_ROUTE_NONE;
	     ref = rtnl_routes_next_if(t, ifindex, family, ref))
		n++;
	return n;
}

static size_t count_all(const struct rtnl_routes *t)
{
	size_t n = 0;

	for (rtnl_route_ref ref = rtnl_routes_next(t, RTNL_ROUTE_NONE); ref != RTNL_ROUTE_NONE;
	     ref = rtnl_routes_next(t, ref))
		n++;
	return n;
}

/* What a record gives back is what was put, and its event is the message's own. */
static void test_roundtrip(void **state)
{
	struct rtnl_routes *t = rtnl_routes_new();
	struct nlbuf b;
	struct nlmsghdr *nlh = nlb_route(&b, RTM_NEWROUTE, AF_INET6, "2001:db8::", 32, "fe80::1", 3, 1024);
	struct rtnl_route r, got;
	struct nlh_event from_msg, from_table;
	char t1[512], t2[512];

	assert_int_equal(rtnl_route_parse(nlh, &r), 0);
	assert_int_equal(rtnl_routes_put(t, &r), RTNL_ROUTE_NEW);
	rtnl_routes_get(t, rtnl_routes_find(t, &r), &got);
	assert_same_route(&got, &r);
	assert_int_equal(rtnl_parse(nlh, &from_msg), 0);
	rtnl_route_event(&got, NLH_EV_ROUTE_ADD, &from_table);
	assert_true(nlh_event_text(&from_msg, false, t1, sizeof(t1)) > 0);
	assert_true(nlh_event_text(&from_table, false, t2, sizeof(t2)) > 0);
	assert_string_equal(t1, t2);
	assert_string_equal(t2, "route.add family=inet6 dst=2001:db8::/32 gateway=fe80::1 ifindex=3 table=254 "
				"protocol=static metric=1024 scope=global kind=unicast");

	r = route(AF_INET, NULL, 0, "192.0.2.1", 2, 0);
	assert_int_equal(rtnl_routes_put(t, &r), RTNL_ROUTE_NEW);
	rtnl_routes_get(t, rtnl_routes_find(t, &r), &got);
	assert_same_route(&got, &r);
	assert_int_equal(rtnl_routes_count(t, AF_INET), 1);
	assert_int_equal(rtnl_routes_count(t, AF_INET6), 1);
	assert_int_equal(rtnl_routes_count(t, AF_UNSPEC), 2);
	rtnl_routes_free(t);
}

/*
 * The kernel's keys: IPv4 has one route per (table, metric, prefix), whose
 * device a replace may change; IPv6 one per device as well.
 */
static void test_keys(void **state)
{
	struct rtnl_routes *t = rtnl_routes_new();
	struct rtnl_route a = route(AF_INET, "10.1.0.0", 16, "10.0.0.2", 2, 0), b = a, got;

	assert_int_equal(rtnl_routes_put(t, &a), RTNL_ROUTE_NEW);
	assert_int_equal(rtnl_routes_put(t, &a), RTNL_ROUTE_SAME);
	b.gateway[3] = 3;
	assert_int_equal(rtnl_routes_put(t, &b), RTNL_ROUTE_CHANGED);
	b.ifindex = 5;
	assert_int_equal(rtnl_routes_put(t, &b), RTNL_ROUTE_CHANGED);
	assert_int_equal(rtnl_routes_count(t, AF_INET), 1);
	/* It moved to device 5's list. */
	assert_int_equal(count_if(t, 2, AF_INET), 0);
	assert_int_equal(count_if(t, 5, AF_INET), 1);
	rtnl_routes_get(t, rtnl_routes_find(t, &a), &got);
	assert_int_equal(got.ifindex, 5);
	b.metric = 100;
	assert_int_equal(rtnl_routes_put(t, &b), RTNL_ROUTE_NEW);
	b.table = 100;
	assert_int_equal(rtnl_routes_put(t, &b), RTNL_ROUTE_NEW);
	b.dst_len = 17;
	assert_int_equal(rtnl_routes_put(t, &b), RTNL_ROUTE_NEW);
	assert_int_equal(rtnl_routes_count(t, AF_INET), 4);

	a = route(AF_INET6, "fe80::", 64, NULL, 2, 256);
	assert_int_equal(rtnl_routes_put(t, &a), RTNL_ROUTE_NEW);
	a.ifindex = 3;
	assert_int_equal(rtnl_routes_put(t, &a), RTNL_ROUTE_NEW);
	assert_int_equal(rtnl_routes_count(t, AF_INET6), 2);
	assert_int_equal(count_if(t, 2, AF_INET6), 1);
	assert_int_equal(count_if(t, 3, AF_INET6), 1);
	/* A route without a device is on the list of device 0. */
	a = route(AF_INET, "192.0.2.0", 24, NULL, 0, 0);
	a.type = RTN_BLACKHOLE;
	assert_int_equal(rtnl_routes_put(t, &a), RTNL_ROUTE_NEW);
	assert_int_equal(count_if(t, 0, AF_INET), 1);
	assert_int_equal(count_all(t), 7);
	rtnl_routes_free(t);
}

/* A device's routes are removed through its list, the current one before the next is asked for, as a flush does. */
static void test_flush_device(void **state)
{
	struct rtnl_routes *t = rtnl_routes_new();
	rtnl_route_ref ref, next;
	long n = 3000;

	for (long i = 0; i < n; i++) {
		struct rtnl_route r = nth(i, n);

		assert_int_equal(rtnl_routes_put(t, &r), RTNL_ROUTE_NEW);
	}
	assert_int_equal(count_if(t, 3, AF_INET), n / 3);
	for (ref = rtnl_routes_next_if(t, 3, AF_INET, RTNL_ROUTE_NONE); ref != RTNL_ROUTE_NONE; ref = next) {
		next = rtnl_routes_next_if(t, 3, AF_INET, ref);
		rtnl_routes_remove(t, ref);
	}
	assert_int_equal(count_if(t, 3, AF_INET), 0);
	assert_int_equal(rtnl_routes_count(t, AF_INET), n - n / 3);
	for (long i = 0; i < n; i++) {
		struct rtnl_route r = nth(i, n);

		assert_int_equal(rtnl_routes_find(t, &r) == RTNL_ROUTE_NONE, r.ifindex == 3);
	}
	rtnl_routes_free(t);
}

/* Marks for a dump's sweep; removal of the current route while walking them all. */
static void test_sweep(void **state)
{
	struct rtnl_routes *t = rtnl_routes_new();
	rtnl_route_ref ref, next;
	long n = 2000;

	for (long i = 0; i < n; i++) {
		struct rtnl_route r = nth(i, n / 2);

		rtnl_routes_put(t, &r);
	}
	rtnl_routes_unmark(t);
	for (long i = 0; i < n; i += 2) {
		struct rtnl_route r = nth(i, n / 2);

		assert_int_equal(rtnl_routes_put(t, &r), RTNL_ROUTE_SAME);
	}
	for (ref = rtnl_routes_next(t, RTNL_ROUTE_NONE); ref != RTNL_ROUTE_NONE; ref = next) {
		next = rtnl_routes_next(t, ref);
		if (!rtnl_routes_marked(t, ref))
			rtnl_routes_remove(t, ref);
	}
	assert_int_equal(rtnl_routes_count(t, AF_UNSPEC), n / 2);
	for (long i = 0; i < n; i++) {
		struct rtnl_route r = nth(i, n / 2);

		assert_int_equal(rtnl_routes_find(t, &r) != RTNL_ROUTE_NONE, i % 2 == 0);
	}
	rtnl_routes_free(t);
}

/*
 * A table of 300k routes under random adds and deletes agrees with a plain
 * array at every check; its records take what the header says (36 bytes
 * IPv4, 60 IPv6, with the index under 128 per route in all); emptied, it
 * gives its memory back.
 */
static void test_scale(void **state)
{
	const long n = 300000, n4 = n * 5 / 6;
	struct rtnl_routes *t = rtnl_routes_new();
	size_t empty = rtnl_routes_bytes(t), have = 0;
	bool *in = calloc(n, sizeof(*in));
	unsigned int seed = 13;

	assert_non_null(in);
	for (long i = 0; i < n; i++) {
		struct rtnl_route r = nth(i, n4);

		assert_int_equal(rtnl_routes_put(t, &r), RTNL_ROUTE_NEW);
		in[i] = true;
	}
	have = n;
	assert_true(rtnl_routes_bytes(t) < (size_t)n * 80);
	assert_true(rtnl_routes_bytes(t) > (size_t)n4 * 36 + (size_t)(n - n4) * 60);
	for (long k = 0; k < 4 * n; k++) {
		long i = rand_r(&seed) % n;
		struct rtnl_route r = nth(i, n4);
		rtnl_route_ref ref = rtnl_routes_find(t, &r);

		assert_int_equal(ref != RTNL_ROUTE_NONE, in[i]);
		if (in[i]) {
			rtnl_routes_remove(t, ref);
			have--;
		} else {
			assert_int_equal(rtnl_routes_put(t, &r), RTNL_ROUTE_NEW);
			have++;
		}
		in[i] = !in[i];
	}
	assert_int_equal(rtnl_routes_count(t, AF_UNSPEC), have);
	assert_int_equal(count_all(t), have);
	assert_int_equal(count_if(t, 2, AF_INET) + count_if(t, 3, AF_INET) + count_if(t, 4, AF_INET),
			 rtnl_routes_count(t, AF_INET));
	for (long i = 0; i < n; i++) {
		struct rtnl_route r = nth(i, n4);
		rtnl_route_ref ref = rtnl_routes_find(t, &r);

		assert_int_equal(ref != RTNL_ROUTE_NONE, in[i]);
		if (ref != RTNL_ROUTE_NONE)
			rtnl_routes_remove(t, ref);
	}
	assert_int_equal(rtnl_routes_count(t, AF_UNSPEC), 0);
	assert_int_equal(rtnl_routes_next(t, RTNL_ROUTE_NONE), RTNL_ROUTE_NONE);
	/* The slabs and the index went back; what stays is the chunk directory and the device array. */
	assert_true(rtnl_routes_bytes(t) < empty + 4096);
	free(in);
	rtnl_routes_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_flush_device),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_scale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
