/* SPDX-License-Identifier: MIT */
/*
 * route-churn COUNT RATE SECONDS FLIP_MS: BGP-like churn on the table
 * bench/route-scale loads.  RATE times a second one of its COUNT routes
 * (route-scale's numbering: IPv4 /24s, then IPv6 /48s from COUNT*5/6 on)
 * is replaced with the other of its two gateways (10.0.0.2/10.0.0.3,
 * fd00::2/fd00::3), in a datagram per millisecond; every FLIP_MS the
 * default route moves between 10.0.0.2 and 10.0.0.3, and
 * "<CLOCK_REALTIME ns> GATEWAY" is printed just before that request.
 * Errors the kernel reports are counted on stderr at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static long long now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Route i of route-scale's table, through gateway g (0 or 1); default when i < 0. */
static void put_route(char *buf, size_t *off, long i, long n4, int g)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *off);
	bool v6 = i >= n4;
	uint8_t dst[16] = {}, gw[16] = {};
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = v6 ? AF_INET6 : AF_INET;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	if (i >= 0 && !v6) {
		rtm->rtm_dst_len = 24;
		dst[0] = 11 + i / 65536;
		dst[1] = i / 256 % 256;
		dst[2] = i % 256;
	} else if (v6) {
		long j = i - n4;

		rtm->rtm_dst_len = 48;
		dst[0] = 0x2a;
		dst[2] = j >> 24;
		dst[3] = j >> 16;
		dst[4] = j >> 8;
		dst[5] = j;
	}
	if (rtm->rtm_dst_len)
		mnl_attr_put(nlh, RTA_DST, v6 ? 16 : 4, dst);
	if (v6) {
		inet_pton(AF_INET6, g ? "fd00::3" : "fd00::2", gw);
		mnl_attr_put(nlh, RTA_GATEWAY, 16, gw);
	} else {
		inet_pton(AF_INET, g ? "10.0.0.3" : "10.0.0.2", gw);
		mnl_attr_put(nlh, RTA_GATEWAY, 4, gw);
	}
	*off += NLMSG_ALIGN(nlh->nlmsg_len);
}

static unsigned long long errors;

static void drain(struct mnl_socket *nl)
{
	char buf[16384] __attribute__((aligned(8)));
	ssize_t n;

	while ((n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		int left = n;

		for (const struct nlmsghdr *nlh = (void *)buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
			errors += nlh->nlmsg_type == NLMSG_ERROR;
	}
}

int main(int argc, char **argv)
{
	static char buf[1 << 20] __attribute__((aligned(8)));
	long count, rate, secs, flip_ms, n4, sent = 0;
	struct mnl_socket *nl;
	long long start, next_flip;
	unsigned int seed = 1;
	int flip = 0;
	bool *gw;

	if (argc != 5) {
		fprintf(stderr, "usage: route-churn COUNT RATE SECONDS FLIP_MS\n");
		return 2;
	}
	count = atol(argv[1]);
	rate = atol(argv[2]);
	secs = atol(argv[3]);
	flip_ms = atol(argv[4]);
	n4 = count * 5 / 6;
	gw = calloc(count, sizeof(*gw));
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!gw || !nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 || count <= 0 || rate <= 0) {
		perror("route-churn");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	start = now_ns(CLOCK_MONOTONIC);
	next_flip = start + flip_ms * 1000000LL;
	for (long tick = 1; tick <= secs * 1000; tick++) {
		long long due = start + tick * 1000000LL;
		struct timespec ts = { due / 1000000000LL, due % 1000000000LL };
		long target = rate * tick / 1000;
		size_t off = 0;

		for (; sent < target; sent++) {
			long i = rand_r(&seed) % count;

			gw[i] = !gw[i];
			put_route(buf, &off, i, n4, gw[i]);
		}
		if (off && send(mnl_socket_get_fd(nl), buf, off, 0) < 0)
			perror("send");
		if (now_ns(CLOCK_MONOTONIC) >= next_flip) {
			off = 0;
			flip = !flip;
			put_route(buf, &off, -1, n4, flip);
			printf("%lld %s\n", now_ns(CLOCK_REALTIME), flip ? "10.0.0.3" : "10.0.0.2");
			if (send(mnl_socket_get_fd(nl), buf, off, 0) < 0)
				perror("send");
			next_flip += flip_ms * 1000000LL;
		}
		drain(nl);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	drain(nl);
	fprintf(stderr, "route-churn: %ld updates, %llu errors\n", sent, errors);
	return 0;
}
