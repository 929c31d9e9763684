/* SPDX-License-Identifier: MIT */
/*
 * The JSON reader and the event reader behind it, as `nlhook test --event`
 * and the control socket feed them: any bytes, never a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/event-json.h"
#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc *doc = NULL;
	struct nlh_event ev;
	uint8_t payload[256];
	char err[256], out[8192];

	if (json_parse((const char *)data, size, &doc, err, sizeof(err)) < 0)
		return 0;
	if (nlh_event_from_json(json_root(doc), &ev, payload, sizeof(payload), err, sizeof(err)) == 0) {
		/* Whatever was accepted renders. */
		nlh_event_json(&ev, out, sizeof(out));
		nlh_event_text(&ev, true, out, sizeof(out));
	}
	json_doc_free(doc);
	return 0;
}
