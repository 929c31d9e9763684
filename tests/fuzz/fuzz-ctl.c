/* SPDX-License-Identifier: MIT */
/*
 * The control protocol: any request line, from any peer (root, group
 * member, outsider), answered with one valid JSON line and no crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/json.h"
#include "ctl/ctl.h"
#include "ctl/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void status(struct sbuf *out)
{
	sbuf_puts(out, ",\"rules_count\":0");
}

static int reload(struct sbuf *errors)
{
	sbuf_puts(errors, "\"x.lua:1: broken\"");
	return -22;
}

static const struct ctl_ops ops = { .status = status, .reload = reload };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int who = 0; who < 3; who++) {
		struct sbuf out = {};
		struct nlh_filter f = {};
		struct json_doc *doc = NULL;
		bool text, ts;
		char err[128];

		if (ctl_request((const char *)data, size, who == 0, who == 1, &ops, &out, &f, &text, &ts) == 1)
			nlh_filter_clear(&f);
		/* Every answer is one JSON object, in UTF-8. */
		if (out.p && json_parse_utf8(out.p, out.len, &doc, err, sizeof(err)) < 0)
			__builtin_trap();
		json_doc_free(doc);
		sbuf_free(&out);
	}
	return 0;
}
