/* SPDX-License-Identifier: MIT */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#include "mqtt-dl.h"

#define MQTT_DL_DEFINE(f) typeof(f) *sym_##f;
MQTT_DL_FUNCS(MQTT_DL_DEFINE)
#undef MQTT_DL_DEFINE

/* The soname the build was made against: the ABI these pointers have. */
#define MQTT_DL_SONAME "libmosquitto.so.1"

int mqtt_dlopen(char *err, size_t errlen)
{
	static void *dl;
	void *h;

	if (dl)
		return 0;
	/* Never unloaded: its threads and atexit handlers stay valid. */
	h = dlopen(MQTT_DL_SONAME, RTLD_NOW | RTLD_NODELETE);
	if (!h) {
		snprintf(err, errlen, "cannot load %s (Debian: libmosquitto1): %s", MQTT_DL_SONAME, dlerror());
		return -ENOENT;
	}
#define MQTT_DL_RESOLVE(f)								\
	if (!(sym_##f = (typeof(f) *)dlsym(h, #f))) {					\
		snprintf(err, errlen, "%s has no %s: too old a libmosquitto", MQTT_DL_SONAME, #f); \
		dlclose(h);								\
		return -ENOENT;								\
	}
	MQTT_DL_FUNCS(MQTT_DL_RESOLVE)
#undef MQTT_DL_RESOLVE
	dl = h;
	return 0;
}
