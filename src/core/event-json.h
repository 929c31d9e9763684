/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "json.h"

/*
 * An event from its JSON rendering (what `monitor --json` prints), for
 * `nlhook test --event`.  Every field is checked against its type; the
 * payload, given as hex, is decoded into the caller's buffer.  Errors name
 * the field.
 */
int nlh_event_from_json(const struct json_value *obj, struct nlh_event *ev, uint8_t *payload,
			size_t payload_size, char *err, size_t errlen);
