/* SPDX-License-Identifier: MIT */
/*
 * stamp FILE: read lines from FILE (a FIFO: held open for writing too, so
 * writers that come and go never make it see EOF) and print each as
 * "<CLOCK_REALTIME ns> line" the moment it arrives.  Every receiver in the
 * latency benchmark ends in this same hop.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[65536], line[65536];
	size_t have = 0;
	int fd = argc > 1 ? open(argv[1], O_RDWR) : 0;

	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		struct timespec ts;

		if (n <= 0)
			return 0;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || have == sizeof(line) - 1) {
				line[have] = '\0';
				printf("%lld %s\n", ts.tv_sec * 1000000000LL + ts.tv_nsec, line);
				have = 0;
			} else {
				line[have++] = buf[i];
			}
		}
	}
}
