/* SPDX-License-Identifier: MIT */
/*
 * count GROUP: the limit — a raw libmnl nfnetlink_log receiver that only
 * counts, with the configuration nlhookd uses (copy 128 bytes, qthreshold
 * 64, 10 ms, 128 KiB batches, sequence numbers, a 64 MiB buffer).  Prints
 * "received N lost L" (L from the sequence gaps) on SIGUSR1 and when
 * SIGTERM or SIGINT ends it.
 */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static struct mnl_socket *nl;
static unsigned int seqno;
static volatile sig_atomic_t report, stop;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else
		stop = 1;
}

static void cfg(uint16_t group, void (*add)(struct nlmsghdr *))
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++seqno;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->res_id = htons(group);
	add(nlh);
	mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
}

static void bind_cmd(struct nlmsghdr *nlh)
{
	struct nfulnl_msg_config_cmd c = { NFULNL_CFG_CMD_BIND };

	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(c), &c);
}

static void params(struct nlmsghdr *nlh)
{
	struct nfulnl_msg_config_mode m = { htonl(128), NFULNL_COPY_PACKET, 0 };

	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(m), &m);
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(64));
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(1));
	mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(128 * 1024));
	mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
}

int main(int argc, char **argv)
{
	static char buf[256 * 1024] __attribute__((aligned(8)));
	struct sigaction sa = { .sa_handler = on_signal };
	uint16_t group = argc > 1 ? atoi(argv[1]) : 0;
	unsigned long long got = 0, lost = 0;
	uint32_t last = 0;
	int have = 0, rcv = 64 << 20;

	if (argc < 2) {
		fprintf(stderr, "usage: nflog-count GROUP\n");
		return 2;
	}
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return 1;
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	cfg(group, bind_cmd);
	cfg(group, params);
	fprintf(stderr, "ready\n");
	while (!stop) {
		struct pollfd p = { mnl_socket_get_fd(nl), POLLIN, 0 };
		int n;

		if (report) {
			report = 0;
			printf("received %llu lost %llu\n", got, lost);
			fflush(stdout);
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			continue;
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
			const struct nlattr *a;

			if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
				continue;
			got++;
			mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
				if (mnl_attr_get_type(a) == NFULA_SEQ) {
					uint32_t s = ntohl(mnl_attr_get_u32(a));

					if (have && s != last + 1)
						lost += s - last - 1;
					last = s;
					have = 1;
				}
			}
		}
	}
	printf("received %llu lost %llu\n", got, lost);
	return 0;
}
