/* SPDX-License-Identifier: MIT */
/*
 * mnl-route-sub [RCVBUF]: the minimal raw libmnl route subscriber the
 * route benchmark compares nlhookd with.  It joins the IPv4 and IPv6
 * route groups, parses each message's attributes as libmnl's
 * rtnl-route-event example does, and writes one line per default route
 * added ("default GATEWAY") to stdout.  On SIGUSR1 it writes the count
 * of route messages seen to stderr; ENOBUFS is counted as "overruns".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

static volatile sig_atomic_t report;

static void on_usr1(int sig)
{
	(void)sig;
	report = 1;
}

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, RTA_MAX) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

int main(int argc, char **argv)
{
	static char buf[65536] __attribute__((aligned(8)));
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	int rcvbuf = argc > 1 ? atoi(argv[1]) : 0;
	unsigned long long msgs = 0, overruns = 0;
	struct sigaction sa = { .sa_handler = on_usr1 };

	if (!nl || mnl_socket_bind(nl, RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE, MNL_SOCKET_AUTOPID) < 0) {
		perror("netlink");
		return 1;
	}
	if (rcvbuf)
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	sigaction(SIGUSR1, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = n;

		if (report) {
			report = 0;
			fprintf(stderr, "%llu %llu\n", msgs, overruns);
		}
		if (n < 0) {
			overruns += errno == ENOBUFS;
			continue;
		}
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlattr *tb[RTA_MAX + 1] = {};
			const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
			char gw[INET6_ADDRSTRLEN];

			if (nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE)
				continue;
			msgs++;
			mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, tb);
			if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_dst_len || !tb[RTA_GATEWAY] ||
			    !inet_ntop(rtm->rtm_family, mnl_attr_get_payload(tb[RTA_GATEWAY]), gw, sizeof(gw)))
				continue;
			printf("default %s\n", gw);
		}
	}
}
