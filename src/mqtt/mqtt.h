/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "mqtt-util.h"

/*
 * The daemon as an MQTT client (3.1.1, libmosquitto).  Messages go into a
 * bounded queue and leave it in order, at their QoS, whenever the broker
 * is there; the oldest are dropped (and counted) when the bound is hit.
 * PREFIX/status is "online" (retained) while connected; the will, and a
 * clean stop, make it "offline".
 *
 * The loop never waits for the broker: name resolution, the TCP connect
 * and the start of a TLS handshake run on a short-lived thread, and from
 * the moment the socket exists the loop drives it (mosquitto_loop_read,
 * _write, _misc).  The thread and the loop never use the client at the
 * same time; an eventfd hands it back.
 */

#define MQTT_KEEPALIVE 60		/* seconds of silence before a PINGREQ */
#define MQTT_CONNECT_TIMEOUT 10		/* seconds from the socket to CONNACK */
#define MQTT_BACKOFF_MIN 0.5		/* seconds before the first retry, doubling... */
#define MQTT_BACKOFF_MAX 5.0		/* ... up to this */
#define MQTT_WINDOW 32			/* QoS 1 messages in flight */
#define MQTT_QUEUE_DEFAULT 10000	/* messages waiting, --mqtt-queue */
#define MQTT_QUEUE_MAX 1000000
#define MQTT_QUEUE_BYTES (64u << 20)	/* and never more bytes than this */
#define MQTT_STOP_WAIT 2.0		/* seconds a clean stop waits for the broker */

struct mqtt;
struct sbuf;

struct mqtt_config {
	const struct mqtt_url *url;
	const char *prefix;		/* the URL's, or the default */
	const char *ca;			/* --mqtt-ca; NULL: the system's CAs for mqtts:// */
	const char *cert;		/* --mqtt-cert and --mqtt-key: a client certificate */
	const char *key;
	const char *password;		/* from --mqtt-password-file */
	size_t queue_max;
};

#if NLH_MQTT
/* 0 or a negative errno with the reason in err; nothing connects yet. */
int mqtt_new(struct mqtt **ret, const struct mqtt_config *cfg, char *err, size_t errlen);
/* Into the loop: the first connection attempt starts now. */
int mqtt_start(struct mqtt *m);
/*
 * Queue a message (copied); the oldest waiting one is dropped when the
 * queue is full.  Sent from the loop's idle step (mqtt_flush).
 */
void mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos, bool retain);
void mqtt_flush(struct mqtt *m);
/*
 * The clean stop, once the loop is done: what is queued goes out, then a
 * retained "offline" and DISCONNECT, waiting MQTT_STOP_WAIT at most.
 */
void mqtt_stop(struct mqtt *m);
void mqtt_free(struct mqtt *m);
/* ,"mqtt":{...} for nlhookd's status. */
void mqtt_status(const struct mqtt *m, struct sbuf *out);
/* An event-log line, to PREFIX/events/TYPE (evlog_open_fn). */
void mqtt_evlog_write(const char *line, size_t len, void *data);
#else
static inline int mqtt_new(struct mqtt **ret, const struct mqtt_config *cfg, char *err, size_t errlen)
{
	return -EOPNOTSUPP;
}
static inline int mqtt_start(struct mqtt *m) { return -EOPNOTSUPP; }
static inline void mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos,
				bool retain) {}
static inline void mqtt_flush(struct mqtt *m) {}
static inline void mqtt_stop(struct mqtt *m) {}
static inline void mqtt_free(struct mqtt *m) {}
static inline void mqtt_status(const struct mqtt *m, struct sbuf *out) {}
static inline void mqtt_evlog_write(const char *line, size_t len, void *data) {}
#endif
