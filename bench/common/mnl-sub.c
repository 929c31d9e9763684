/* SPDX-License-Identifier: MIT */
/*
 * mnl-sub [IFNAME]: the minimal raw libmnl RTNLGRP_LINK subscriber the
 * benchmarks compare nlhookd with.  With IFNAME it prints "up" or "down"
 * on each edge of that link's IFF_UP, one write per line; without, it
 * only receives (the idle comparison).
 */
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[32768];
	unsigned int ifindex = argc > 1 ? if_nametoindex(argv[1]) : 0;
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	int last = -1;

	if (!nl || mnl_socket_bind(nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		perror("netlink");
		return 1;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = n;

		if (n < 0)
			continue;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
			int up;

			if (nlh->nlmsg_type != RTM_NEWLINK || (unsigned int)ifi->ifi_index != ifindex)
				continue;
			up = !!(ifi->ifi_flags & IFF_UP);
			if (up != last && write(1, up ? "up\n" : "down\n", up ? 3 : 5) < 0)
				return 1;
			last = up;
		}
	}
}
