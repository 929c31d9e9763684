/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every netlink socket of the daemon, one way: opened (inside a network
 * namespace when asked), bound, its receive buffer sized, watched by the
 * loop and drained with a budget per wake-up.  What arrives goes to the
 * owner's callbacks; an overrun (ENOBUFS) is reported, never fatal.
 */

/* Receive buffer for every netlink socket (--rcvbuf), SO_RCVBUFFORCE. */
extern int nlh_rcvbuf;

/* The nsid a message came from, when the socket listens to all (NETLINK_LISTEN_ALL_NSID). */
#define NLSOCK_NSID_OWN (-1)

struct nlsock_ops {
	/* A buffer of messages as the kernel sent it, from namespace nsid. */
	void (*batch)(void *data, const void *buf, size_t len, int32_t nsid);
	/* The kernel dropped messages: our buffer was full. */
	void (*overrun)(void *data);
};

struct nlsock_config {
	int protocol;		/* NETLINK_ROUTE, NETLINK_GENERIC, NETLINK_NETFILTER */
	int netns_fd;		/* open the socket in this namespace; -1: the daemon's */
	int fd;			/* watch this socket (nlsock_socket's, a library's) instead; -1: open one */
	bool all_nsid;		/* NETLINK_LISTEN_ALL_NSID */
	size_t bufsize;		/* receive buffer per read; 0: 64 KiB */
	const char *who;	/* for the log: "rtnl", "nflog blue" */
};

struct nlsock;

/* Returns 0 or a negative errno; *ret is set only on success. */
int nlsock_open(struct nlsock **ret, const struct nlsock_config *cfg, const struct nlsock_ops *ops, void *data);
void nlsock_free(struct nlsock *s);

int nlsock_join(struct nlsock *s, unsigned int group, bool on);
/* One request to the kernel; the answer arrives through batch(). */
int nlsock_send(struct nlsock *s, const void *msg, size_t len);
/*
 * Read at most budget buffers now.  Returns how many were read, or a
 * negative errno for a socket error that is not an overrun.
 */
int nlsock_drain(struct nlsock *s, int budget);
/* Wait for data (start-up only, never inside a callback), up to timeout ms. */
int nlsock_wait(struct nlsock *s, int timeout_ms);

int nlsock_fd(const struct nlsock *s);
uint32_t nlsock_portid(const struct nlsock *s);
/* The buffer size the kernel reports. */
int nlsock_rcvbuf(const struct nlsock *s);

/* The daemon's own namespace, for coming back after opening a socket in another. */
int nlsock_own_netns(void);
/*
 * A bound netlink socket in a namespace (-1: ours), blocking, for a
 * library to talk through before nlsock_open() watches it (cfg.fd): the
 * fd stays the caller's (nlsock_free does not close it).
 */
int nlsock_socket(int netns_fd, int protocol);
