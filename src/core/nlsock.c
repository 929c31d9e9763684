/* SPDX-License-Identifier: MIT */
#include <sys/socket.h>

#include "log.h"
#include "source.h"

int nlh_rcvbuf = 4 * 1024 * 1024;

int nlsock_set_rcvbuf(int fd, const char *who)
{
	socklen_t sl;
	int size = 0;

	/* Past net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &nlh_rcvbuf, sizeof(nlh_rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &nlh_rcvbuf, sizeof(nlh_rcvbuf)) < 0)
		log_warn("%s: cannot set receive buffer: %m", who);
	sl = sizeof(size);
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &sl);
	/* The kernel reports twice what it grants; less means rmem_max capped us. */
	if (size / 2 < nlh_rcvbuf)
		log_warn("%s: receive buffer is %d bytes, not the %d asked for "
			 "(beyond net.core.rmem_max needs CAP_NET_ADMIN)", who, size / 2, nlh_rcvbuf);
	return size;
}
