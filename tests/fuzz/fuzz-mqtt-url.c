/* SPDX-License-Identifier: MIT */
/*
 * The --mqtt URL parser and the topic check nlhook.mqtt.publish uses: any
 * bytes, never a crash, and what is accepted holds together.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/mqtt-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mqtt_url u;
	char err[256], *s;

	mqtt_topic_problem((const char *)data, size);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (mqtt_url_parse(s, &u, err, sizeof(err)) == 0) {
		if (!u.host || !*u.host || u.port < 1 || u.port > 65535 ||
		    (u.prefix && mqtt_topic_problem(u.prefix, strlen(u.prefix))) || (u.user && !*u.user))
			abort();
		mqtt_url_clear(&u);
	}
	free(s);
	return 0;
}
