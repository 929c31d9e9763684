/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "nlsock.h"

#ifndef NETLINK_LISTEN_ALL_NSID
#define NETLINK_LISTEN_ALL_NSID 8
#endif

int nlh_rcvbuf = 4 * 1024 * 1024;

struct nlsock {
	int fd;
	bool borrowed;		/* the fd is the caller's to close */
	uint32_t portid;
	int rcvbuf;
	bool all_nsid;
	const struct nlsock_ops *ops;
	void *data;
	char *who;
	size_t bufsize;
};

/*
 * One receive buffer for every socket: the loop drains one socket at a
 * time and a batch is handled before the next read, so a hundred
 * namespaces' sockets need not each keep 64 or 256 KiB of touched
 * memory.  A drain started while another one's batch is being handled
 * (a start-up wait) gets a buffer of its own.
 */
#define SHARED_BUF_SIZE (256 * 1024)

static char *shared_buf;
static bool shared_busy;

static int own_netns = -1;

int nlsock_own_netns(void)
{
	if (own_netns < 0)
		own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return own_netns;
}

/* A socket made inside another namespace stays there; the process comes back. */
static int socket_in(int netns_fd, int protocol, int flags)
{
	int fd, r, home;

	if (netns_fd < 0) {
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags, protocol);
		return fd < 0 ? -errno : fd;
	}
	home = nlsock_own_netns();
	if (home < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return -errno;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags, protocol);
	r = fd < 0 ? -errno : fd;
	if (setns(home, CLONE_NEWNET) < 0) {
		/* Events of the wrong namespace from here on would be worse than stopping. */
		log_err("cannot return to the daemon's network namespace: %m");
		abort();
	}
	return r;
}

/* Past net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE); says so when capped. */
static int set_rcvbuf(int fd, const char *who)
{
	socklen_t sl = sizeof(int);
	int size = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &nlh_rcvbuf, sizeof(nlh_rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &nlh_rcvbuf, sizeof(nlh_rcvbuf)) < 0)
		log_warn("%s: cannot set receive buffer: %m", who);
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &sl);
	/* The kernel reports twice what it grants; less means rmem_max capped us. */
	if (size / 2 < nlh_rcvbuf)
		log_warn("%s: receive buffer is %d bytes, not the %d asked for "
			 "(beyond net.core.rmem_max needs CAP_NET_ADMIN)", who, size / 2, nlh_rcvbuf);
	return size;
}

int nlsock_socket(int netns_fd, int protocol)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket_in(netns_fd, protocol, 0), r;

	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void io_cb(int fd, uint32_t events, void *data)
{
	struct nlsock *s = data;
	int r;

	/* A budget per wake-up: a flood on one socket must not starve the others. */
	r = nlsock_drain(s, 64);
	if (r < 0)
		log_err("%s: recv: %s", s->who, strerror(-r));
}

int nlsock_open(struct nlsock **ret, const struct nlsock_config *cfg, const struct nlsock_ops *ops, void *data)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t sl = sizeof(sa);
	struct nlsock *s;
	int one = 1, r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->ops = ops;
	s->data = data;
	s->bufsize = cfg->bufsize ? cfg->bufsize : 64 * 1024;
	s->who = strdup(cfg->who ? cfg->who : "netlink");
	if (s->bufsize > SHARED_BUF_SIZE)
		s->bufsize = SHARED_BUF_SIZE;
	if (!s->who) {
		r = -ENOMEM;
		goto fail;
	}
	if (cfg->fd >= 0) {
		s->fd = cfg->fd;
		s->borrowed = true;
		if (fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK) < 0 ||
		    fcntl(s->fd, F_SETFD, FD_CLOEXEC) < 0) {
			r = -errno;
			goto fail;
		}
	} else {
		r = socket_in(cfg->netns_fd, cfg->protocol, SOCK_NONBLOCK);
		if (r < 0)
			goto fail;
		s->fd = r;
		if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			r = -errno;
			goto fail;
		}
	}
	if (getsockname(s->fd, (struct sockaddr *)&sa, &sl) < 0) {
		r = -errno;
		goto fail;
	}
	s->portid = sa.nl_pid;
	s->rcvbuf = set_rcvbuf(s->fd, s->who);
	if (cfg->all_nsid) {
		if (setsockopt(s->fd, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &one, sizeof(one)) < 0) {
			r = -errno;
			goto fail;
		}
		s->all_nsid = true;
	}
	r = loop_add_fd(s->fd, EPOLLIN, io_cb, s);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	nlsock_free(s);
	return r;
}

void nlsock_free(struct nlsock *s)
{
	if (!s)
		return;
	if (s->fd >= 0) {
		loop_del_fd(s->fd);
		if (!s->borrowed)
			close(s->fd);
	}
	free(s->who);
	free(s);
}

int nlsock_join(struct nlsock *s, unsigned int group, bool on)
{
	if (setsockopt(s->fd, SOL_NETLINK, on ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, &group,
		       sizeof(group)) < 0)
		return -errno;
	return 0;
}

int nlsock_send(struct nlsock *s, const void *msg, size_t len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (sendto(s->fd, msg, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

static int drain(struct nlsock *s, char *buf, int budget);

/* The namespace a message came from, when the socket hears them all. */
static int32_t msg_nsid(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			return *(int *)CMSG_DATA(c);
	return NLSOCK_NSID_OWN;
}

int nlsock_drain(struct nlsock *s, int budget)
{
	bool own = shared_busy;
	char *buf;
	int n;

	/* 8-aligned: attribute parsers read 64-bit values in place. */
	if (!own && !shared_buf && !(shared_buf = aligned_alloc(8, SHARED_BUF_SIZE)))
		return -ENOMEM;
	buf = own ? aligned_alloc(8, SHARED_BUF_SIZE) : shared_buf;
	if (!buf)
		return -ENOMEM;
	shared_busy = true;
	n = drain(s, buf, budget);
	if (own)
		free(buf);
	else
		shared_busy = false;
	return n;
}

static int drain(struct nlsock *s, char *buf, int budget)
{
	int n = 0;

	while (n < budget) {
		char ctl[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
		struct iovec iov = { buf, s->bufsize };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t len;

		if (s->all_nsid) {
			mh.msg_control = ctl;
			mh.msg_controllen = sizeof(ctl);
		}
		len = recvmsg(s->fd, &mh, MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return n;
			if (errno == ENOBUFS) {
				if (s->ops->overrun)
					s->ops->overrun(s->data);
				continue;
			}
			return -errno;
		}
		n++;
		s->ops->batch(s->data, buf, (size_t)len, s->all_nsid ? msg_nsid(&mh) : NLSOCK_NSID_OWN);
	}
	return n;
}

int nlsock_wait(struct nlsock *s, int timeout_ms)
{
	struct pollfd p = { s->fd, POLLIN, 0 };
	int r = poll(&p, 1, timeout_ms);

	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

int nlsock_fd(const struct nlsock *s)
{
	return s->fd;
}

uint32_t nlsock_portid(const struct nlsock *s)
{
	return s->portid;
}

int nlsock_rcvbuf(const struct nlsock *s)
{
	return s->rcvbuf;
}
