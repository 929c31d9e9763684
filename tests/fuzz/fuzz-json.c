/* SPDX-License-Identifier: MIT */
/*
 * The JSON reader and the event reader behind it, as `nlhook test --event`
 * and the control socket feed them: any bytes, never a crash; an event
 * accepted renders as valid UTF-8 JSON that reads back to itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/event-json.h"
#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What was accepted renders as valid UTF-8 JSON that reads back to the same event. */
static void check_roundtrip(const char *json, size_t len)
{
	struct json_doc *doc = NULL;
	struct nlh_event ev;
	uint8_t payload[256];
	char err[256], again[8192];

	if (json_parse_utf8(json, len, &doc, err, sizeof(err)) < 0)
		__builtin_trap();
	if (nlh_event_from_json(json_root(doc), &ev, payload, sizeof(payload), err, sizeof(err)) < 0)
		__builtin_trap();
	if (nlh_event_json(&ev, again, sizeof(again)) != (int)len || memcmp(json, again, len))
		__builtin_trap();
	json_doc_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc *doc = NULL;
	struct nlh_event ev;
	uint8_t payload[256];
	char err[256], out[8192];
	int n;

	if (json_parse((const char *)data, size, &doc, err, sizeof(err)) < 0)
		return 0;
	if (nlh_event_from_json(json_root(doc), &ev, payload, sizeof(payload), err, sizeof(err)) == 0) {
		n = nlh_event_json(&ev, out, sizeof(out));
		if (n >= 0)
			check_roundtrip(out, n);
		nlh_event_text(&ev, true, out, sizeof(out));
	}
	json_doc_free(doc);
	return 0;
}
