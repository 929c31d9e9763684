/* SPDX-License-Identifier: MIT */
/*
 * The pcap reader and the replay walk behind it on any file: `nlhook
 * replay` and `nlhook test --replay` read files from anywhere.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/nlmsg.h"
#include "pcap/pcap.h"
#include "rtnl/rtnl-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcap_reader *r;
	struct pcap_record rec;
	struct nlh_event ev;
	char err[512];

	if (pcap_open_mem(data, size, "fuzz", &r, err, sizeof(err)) < 0)
		return 0;
	while (pcap_next(r, &rec, err, sizeof(err)) > 0) {
		const struct nlmsghdr *nlh;
		size_t left;

		if (rec.family != 0)
			continue;
		nlmsg_for_each(nlh, rec.data, rec.len, left)
			rtnl_parse(nlh, &ev);
	}
	pcap_close(r);
	return 0;
}
