/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * The pure part of the MQTT output: the broker URL, topic names and the
 * default prefix.  No libmosquitto here, so the Lua API, the option
 * checks and the unit tests have it in every build.
 */

#define MQTT_PORT 1883
#define MQTTS_PORT 8883
#define MQTT_TOPIC_MAX 65535

/* mqtt://[user@]host[:port][/prefix] or mqtts://... */
struct mqtt_url {
	bool tls;
	char *user;	/* percent-decoded; NULL: none */
	char *host;	/* a name, an IPv4 address or an IPv6 one (without brackets) */
	int port;
	char *prefix;	/* percent-decoded; NULL: none given */
};

/*
 * 0, or -EINVAL with the reason in err ("port '0' is not a number from 1
 * to 65535"), or -ENOMEM.  *ret is set only on success.
 */
int mqtt_url_parse(const char *s, struct mqtt_url *ret, char *err, size_t errlen);
void mqtt_url_clear(struct mqtt_url *u);

/* NULL when a PUBLISH may carry topic t (len bytes), else why not. */
const char *mqtt_topic_problem(const char *t, size_t len);

/* "nlhook/HOSTNAME", the host name made one topic level. */
char *mqtt_default_prefix(void);
