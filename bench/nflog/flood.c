/* SPDX-License-Identifier: MIT */
/*
 * flood DST_IP PORT SECONDS [PPS] [CPU]: UDP packets with sendmmsg, as fast
 * as possible or paced to PPS, pinned to CPU; prints how many were sent.
 */
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	char payload[64] = "nlhook-bench";
	double secs, pps, t0, end;
	unsigned long long sent = 0;
	int fd;

	if (argc < 4) {
		fprintf(stderr, "usage: flood DST_IP PORT SECONDS [PPS] [CPU]\n");
		return 2;
	}
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	dst.sin_port = htons(atoi(argv[2]));
	secs = atof(argv[3]);
	pps = argc > 4 ? atof(argv[4]) : 0;
	if (argc > 5) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(atoi(argv[5]), &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("socket");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ payload, sizeof(payload) };
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = now();
	end = t0 + secs;
	while (now() < end) {
		int n = pps ? 1 : BATCH, r;

		if (pps) {
			/* paced: send when the schedule says so */
			double due = t0 + sent / pps;

			while (now() < due)
				;
			n = 1;
		}
		r = sendmmsg(fd, msgs, n, 0);
		if (r > 0)
			sent += r;
	}
	printf("%llu\n", sent);
	return 0;
}
