/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "core/json.h"
#include "core/log.h"
#include "mqtt/mqtt-util.h"
#include "rules-internal.h"

/* nlhook.mqtt: publish to the daemon's broker, whatever the topic. */

/* MQTT's remaining length is at most 256 MiB - 1; the topic takes its share too. */
#define MQTT_PAYLOAD_MAX (268435455u - 2 - MQTT_TOPIC_MAX - 2)

static struct {
	rules_publish_fn fn;
	void *data;
	char *prefix;
	bool warned;		/* about publishing with no broker: once */
} pub;

void rules_set_mqtt(const char *prefix, rules_publish_fn fn, void *data)
{
	char *p = prefix ? strdup(prefix) : mqtt_default_prefix();

	if (p) {
		free(pub.prefix);
		pub.prefix = p;
	}
	pub.fn = fn;
	pub.data = data;
}

const char *rules_mqtt_prefix(void)
{
	if (!pub.prefix)
		pub.prefix = mqtt_default_prefix();
	return pub.prefix ?: "nlhook";
}

static void opts_arg(lua_State *L, int idx, int *qos, bool *retain)
{
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

		if (!strcmp(k, "qos")) {
			if (!lua_isinteger(L, -1) || (lua_tointeger(L, -1) != 0 && lua_tointeger(L, -1) != 1))
				luaL_error(L, "nlhook.mqtt.publish: qos must be 0 or 1");
			*qos = lua_tointeger(L, -1);
		} else if (!strcmp(k, "retain")) {
			if (!lua_isboolean(L, -1))
				luaL_error(L, "nlhook.mqtt.publish: retain must be a boolean");
			*retain = lua_toboolean(L, -1);
		} else {
			luaL_error(L, "nlhook.mqtt.publish: unknown option '%s' (qos, retain)", k);
		}
		lua_pop(L, 1);
	}
}

/* What a dry run shows: TOPIC PAYLOAD (qos N[, retained]), a string payload quoted. */
static void dry(struct rules_file *f, lua_State *L, const char *topic, const char *payload, size_t len,
		bool quote, int qos, bool retain)
{
	struct sbuf b = {};

	sbuf_puts(&b, topic);
	sbuf_puts(&b, " ");
	if (quote)
		sbuf_json_str(&b, payload, len);
	else
		sbuf_add(&b, payload, len);
	sbuf_printf(&b, " (qos %d%s)", qos, retain ? ", retained" : "");
	if (b.oom) {
		sbuf_free(&b);
		luaL_error(L, "nlhook.mqtt.publish: out of memory");
	}
	rules_dry(f, "mqtt", rules_ctx_name(f), b.p);
	sbuf_free(&b);
}

int rules_api_mqtt_publish(lua_State *L)
{
	struct rules_file *f = rules_file_of(L);
	const char *topic, *payload, *problem;
	size_t tlen, len;
	bool retain = false;
	int qos = 1;

	topic = luaL_checklstring(L, 1, &tlen);
	problem = mqtt_topic_problem(topic, tlen);
	if (problem)
		return luaL_error(L, "nlhook.mqtt.publish: topic '%s': %s", topic, problem);
	if (!lua_isnoneornil(L, 3)) {
		luaL_checktype(L, 3, LUA_TTABLE);
		opts_arg(L, 3, &qos, &retain);
	}
	/* An event object is written as a table is. */
	switch (lua_type(L, 2) == LUA_TUSERDATA && rules_event_object(L, 2) ? LUA_TTABLE : lua_type(L, 2)) {
	case LUA_TSTRING:
		payload = lua_tolstring(L, 2, &len);
		break;
	case LUA_TTABLE:
	case LUA_TNUMBER:
	case LUA_TBOOLEAN: {
		struct sbuf *b = rules_json_push(L, 2, "nlhook.mqtt.publish");

		payload = b->p ? b->p : "";
		len = b->len;
		break;
	}
	default:
		return luaL_error(L, "nlhook.mqtt.publish: the payload must be a string, a table, a number or a "
				  "boolean, not %s", luaL_typename(L, 2));
	}
	if (len > MQTT_PAYLOAD_MAX)
		return luaL_error(L, "nlhook.mqtt.publish: a payload of %zu bytes is more than MQTT carries", len);
	if (rules_dry_run(f)) {
		dry(f, L, topic, payload, len, lua_type(L, 2) == LUA_TSTRING, qos, retain);
		lua_pushboolean(L, 1);
		return 1;
	}
	if (!pub.fn) {
		if (!pub.warned)
			log_warn("%s: nlhook.mqtt.publish: nlhookd runs without --mqtt, nothing is published",
				 rules_ctx_name(f));
		pub.warned = true;
		lua_pushnil(L);
		lua_pushliteral(L, "no broker: nlhookd runs without --mqtt");
		return 2;
	}
	pub.fn(topic, payload, len, qos, retain, pub.data);
	lua_pushboolean(L, 1);
	return 1;
}
