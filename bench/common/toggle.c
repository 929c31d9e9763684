/* SPDX-License-Identifier: MIT */
/*
 * toggle IFNAME COUNT INTERVAL_MS: set IFNAME up and down COUNT times, one
 * change every INTERVAL_MS, printing "<CLOCK_REALTIME ns> up|down" taken
 * just before each netlink request.
 */
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned int ifindex;
	int count, ms;

	if (argc != 4 || !(ifindex = if_nametoindex(argv[1]))) {
		fprintf(stderr, "usage: toggle IFNAME COUNT INTERVAL_MS\n");
		return 2;
	}
	count = atoi(argv[2]);
	ms = atoi(argv[3]);
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("netlink");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < count; i++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct ifinfomsg *ifi;
		bool up = !(i % 2);
		long long t;

		nlh->nlmsg_type = RTM_NEWLINK;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
		nlh->nlmsg_seq = i + 1;
		ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
		ifi->ifi_index = ifindex;
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = up ? IFF_UP : 0;
		t = now_ns();
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 || mnl_socket_recvfrom(nl, buf, sizeof(buf)) < 0) {
			perror("toggle");
			return 1;
		}
		printf("%lld %s\n", t, up ? "up" : "down");
		usleep(ms * 1000);
	}
	return 0;
}
