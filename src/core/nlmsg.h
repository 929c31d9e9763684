/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Walking a buffer of netlink messages that may come from a file.  libmnl's
 * mnl_nlmsg_ok() compares nlmsg_len as an int, so a length of 2^31 or more
 * passes and the walk goes astray; the kernel never sends one, a capture
 * can.
 */
static inline bool nlh_msg_ok(const struct nlmsghdr *nlh, size_t left)
{
	return left >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= left;
}

static inline const struct nlmsghdr *nlh_msg_next(const struct nlmsghdr *nlh, size_t *left)
{
	size_t step = NLMSG_ALIGN(nlh->nlmsg_len);

	if (step > *left)
		step = *left;
	*left -= step;
	return (const struct nlmsghdr *)((const char *)nlh + step);
}

#define nlh_msg_for_each(nlh, buf, len, left)						\
	for ((left) = (len), (nlh) = (const struct nlmsghdr *)(buf); nlh_msg_ok((nlh), (left));	\
	     (nlh) = nlh_msg_next((nlh), &(left)))
