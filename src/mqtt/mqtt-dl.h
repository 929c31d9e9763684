/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include <mosquitto.h>

/*
 * libmosquitto, loaded when a broker is configured, not at start: with
 * it come libssl and libcrypto, some 1.8 MiB of RSS that a daemon without
 * --mqtt has no use for.  Calls go through these pointers.
 */
#define MQTT_DL_FUNCS(X)						\
	X(mosquitto_lib_init) X(mosquitto_lib_cleanup) X(mosquitto_new)	\
	X(mosquitto_destroy) X(mosquitto_strerror) X(mosquitto_connack_string) \
	X(mosquitto_int_option) X(mosquitto_max_inflight_messages_set)	\
	X(mosquitto_username_pw_set) X(mosquitto_tls_set) X(mosquitto_will_set) \
	X(mosquitto_connect_callback_set) X(mosquitto_disconnect_callback_set) \
	X(mosquitto_publish_callback_set) X(mosquitto_log_callback_set)	\
	X(mosquitto_connect_async) X(mosquitto_disconnect) X(mosquitto_publish) \
	X(mosquitto_socket) X(mosquitto_want_write) X(mosquitto_loop_read) \
	X(mosquitto_loop_write) X(mosquitto_loop_misc)

#define MQTT_DL_DECLARE(f) extern typeof(f) *sym_##f;
MQTT_DL_FUNCS(MQTT_DL_DECLARE)
#undef MQTT_DL_DECLARE

/* Loads the library once; 0, or -ENOENT with why in err. */
int mqtt_dlopen(char *err, size_t errlen);
