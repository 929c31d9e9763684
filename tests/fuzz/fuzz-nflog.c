/* SPDX-License-Identifier: MIT */
/*
 * The nflog parser on arbitrary messages: a packet's bytes are whatever
 * was on the wire, and replay feeds whole messages from files.
 */
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/nlmsg.h"
#include "nflog/nflog-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = malloc(size ? size : 1);
	const struct nlmsghdr *nlh;
	struct nlh_event ev;
	char out[4096];
	size_t left;

	memcpy(buf, data, size);
	nlh_msg_for_each(nlh, buf, size, left) {
		if (nflog_parse(nlh, &ev) != -ENODATA && NLH_HAS(&ev, NFLOG, group))
			nlh_event_json(&ev, out, sizeof(out));
	}
	/* The packet parser alone, on the raw bytes. */
	nlh_event_init(&ev, NLH_EV_NFLOG);
	nflog_parse_packet(data, size, 0, &ev);
	free(buf);
	return 0;
}
