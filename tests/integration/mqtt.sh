#!/usr/bin/env bash
# nlhookd --mqtt against a real mosquitto in the test's namespace: bad
# options refused at start, events as JSON on PREFIX/events/TYPE, emits of
# other tables on PREFIX/events/emit, retained topics of nlhook.mqtt.publish,
# PREFIX/status online while connected, offline by the will after kill -9
# and by the daemon itself on SIGTERM, the status members and line, and an
# idle connected daemon that does not wake up.
. "$(dirname "$0")/mqtt-lib.sh"

P=t/gw1
URL="mqtt://$BROKER_IP/$P"

### usage errors: exit 2, naming the problem ###

usage() {
	local want=$1; shift
	local rc=0
	nsx "$NLHOOKD" --rules "$RULES" --control "$TMP/control.sock" "$@" > "$TMP/usage.out" 2>&1 || rc=$?
	if [ $rc -eq 2 ] && grep -qF -- "$want" "$TMP/usage.out"; then
		ok "$* is refused: exit 2, '$want'"
	else
		not_ok "$* is refused: exit 2, '$want' (got $rc: $(head -c 300 "$TMP/usage.out"))"
	fi
}
usage "--mqtt: 'http://x': unknown scheme 'http' (mqtt:// or mqtts://)" --mqtt http://x
usage "--mqtt: 'mqtt://broker:99999': port '99999' is not a number from 1 to 65535" --mqtt mqtt://broker:99999
usage "a password in the URL is refused" --mqtt mqtt://gw:secret@broker
usage "--mqtt: 'broker': not a URL" --mqtt broker
usage "the wildcards '+' and '#' are for subscriptions" --mqtt "mqtt://broker/a/+/b"
usage "--event-log mqtt: there is no broker (--mqtt URL)" --event-log mqtt
usage "--mqtt-queue: there is no broker" --mqtt-queue 10
usage "--mqtt-queue: '0' is not a number of messages from 1 to 1000000" --mqtt "$URL" --mqtt-queue 0
usage "--mqtt-ca: the broker is not mqtts:// (TLS)" --mqtt "$URL" --mqtt-ca /etc/hostname
usage "--mqtt-cert: needs --mqtt-key too" --mqtt "mqtts://$BROKER_IP" --mqtt-cert /etc/hostname
usage "--mqtt-password-file: the URL names no user (mqtt://USER@HOST)" --mqtt "$URL" --mqtt-password-file /etc/hostname

# Files it cannot use: exit 1.  A password others can read is refused (root).
printf 'secret\n' > "$TMP/pw"
chmod 0644 "$TMP/pw"
rc=0
nsx "$NLHOOKD" --rules "$RULES" --control "$TMP/control.sock" --mqtt "mqtt://gw@$BROKER_IP" \
	--mqtt-password-file "$TMP/pw" > "$TMP/usage.out" 2>&1 || rc=$?
if [ $rc -eq 1 ] && grep -q "mqtt-password-file $TMP/pw: others have access to it (mode 0644), refusing it" "$TMP/usage.out"; then
	ok "a password file others can read is refused (exit 1)"
else
	not_ok "a password file others can read is refused (got $rc: $(cat "$TMP/usage.out"))"
fi
rc=0
nsx "$NLHOOKD" --rules "$RULES" --control "$TMP/control.sock" --mqtt "mqtts://$BROKER_IP" \
	--mqtt-ca "$TMP/nosuch.pem" > "$TMP/usage.out" 2>&1 || rc=$?
if [ $rc -eq 1 ] && grep -q "mqtt-ca $TMP/nosuch.pem: No such file" "$TMP/usage.out"; then
	ok "a missing --mqtt-ca is refused (exit 1)"
else
	not_ok "a missing --mqtt-ca is refused (got $rc: $(cat "$TMP/usage.out"))"
fi

# libmosquitto is loaded when a broker is configured: hidden (an empty
# file bound over it in a mount namespace of its own), --mqtt fails at
# start, exit 1, saying what is missing.
# awk reads to the end: an early exit would give ldconfig SIGPIPE, a failure under pipefail.
lib=$(ldconfig -p | awk '/libmosquitto\.so\.1 / && !f { print $NF; f = 1 }')
rc=0
unshare -m sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' sh "$(readlink -f "$lib")" \
	ip netns exec "$NS" "$NLHOOKD" --rules "$RULES" --control "$TMP/control.sock" --mqtt "$URL" \
	> "$TMP/usage.out" 2>&1 || rc=$?
if [ $rc -eq 1 ] && grep -q "cannot load libmosquitto.so.1 (Debian: libmosquitto1)" "$TMP/usage.out"; then
	ok "--mqtt without libmosquitto: exit 1, naming the library"
else
	not_ok "--mqtt without libmosquitto (got $rc: $(head -c 300 "$TMP/usage.out"))"
fi

### events, emits and retained topics ###

rule_file 10-mqtt.lua <<'LUA'
local p = nlhook.mqtt.prefix
nlhook.on("link.*", { ifname = "mq*" }, function(ev) nlhook.emit(ev) end)
nlhook.on("link.up", { ifname = "mqa*" }, function(ev)
	nlhook.emit({ note = "not an event", ifname = ev.ifname })
	nlhook.emit({ type = "made/up#", ifname = ev.ifname })
	nlhook.mqtt.publish(p .. "/presence/" .. ev.ifname, "home", { retain = true })
	nlhook.mqtt.publish(p .. "/link/" .. ev.ifname, { up = true, mtu = ev.mtu }, { retain = true, qos = 0 })
end)
nlhook.on("link.down", { ifname = "mqa*" }, function(ev)
	nlhook.mqtt.publish(p .. "/presence/" .. ev.ifname, "away", { retain = true })
end)
LUA

broker_conf "listener 1883 $BROKER_IP" "listener 1884 ::1" "allow_anonymous true"
start_broker
sub all -t "$P/#" -v -q 1
start_daemon --mqtt "$URL" --event-log mqtt

if wait_for "[ \"\$(retained $P/status)\" = online ]" 10; then ok "$P/status is online, retained"; else not_ok "$P/status is online, retained (got '$(retained $P/status)')"; fi
grep -q libmosquitto "/proc/$DAEMON_PID/maps" && ok "with --mqtt the daemon has libmosquitto loaded" ||
	not_ok "with --mqtt, no libmosquitto in the daemon's maps"
[ "$(mqtt_field state)" = connected ] && ok "status: mqtt state connected" || not_ok "status: mqtt state is $(mqtt_field state)"

ip -n "$NS" link add mqa0 type veth peer name mqb0
ip -n "$NS" link set mqa0 up
# One line per message: TOPIC PAYLOAD.
topic_json() {
	# topic_json TOPIC JQ-FILTER: some message on TOPIC has JSON matching the filter.
	awk -v t="$1" '$1 == t { sub(/^[^ ]* /, ""); print }' "$TMP/all.out" | jq -c "select($2)" 2>/dev/null | grep . >/dev/null
}
expect_topic() {
	if wait_for "topic_json '$1' '$2'" 10; then ok "$3"; else not_ok "$3 (no $1 matching $2)"; fi
}
expect_topic "$P/events/link.new" '.type == "link.new" and .ifname == "mqa0" and .kind == "veth"' \
	"link.new of mqa0 as JSON on $P/events/link.new"
expect_topic "$P/events/link.up" '.type == "link.up" and .ifname == "mqa0" and .up == true and (.time | type) == "number"' \
	"link.up of mqa0 as JSON on $P/events/link.up"
expect_topic "$P/events/emit" '.note == "not an event" and .ifname == "mqa0"' \
	"a table that is no event goes to $P/events/emit"
expect_topic "$P/events/emit" '.type == "made/up#"' \
	"a type that is no event type makes no topic: $P/events/emit"
others=$(awk -v p="$P/" 'index($1, p) == 1 { print substr($1, length(p) + 1) }' "$TMP/all.out" |
	grep -v -E '^(status|events/(link\.[a-z]+|emit)|presence/mqa0|link/mqa0)$' || true)
[ -z "$others" ] && ok "no other topics" || not_ok "unexpected topics: $others"

if wait_for "[ \"\$(retained $P/presence/mqa0)\" = home ]" 5; then
	ok "nlhook.mqtt.publish retain=true: a new subscriber gets 'home'"
else
	not_ok "retained $P/presence/mqa0 is '$(retained $P/presence/mqa0)', not home"
fi
got=$(retained "$P/link/mqa0")
[ "$(jq -S -c . <<<"$got" 2>/dev/null)" = '{"mtu":1500,"up":true}' ] && ok "a table is published as JSON (retained, qos 0)" ||
	not_ok "retained $P/link/mqa0 is '$got'"
ip -n "$NS" link set mqa0 down
if wait_for "[ \"\$(retained $P/presence/mqa0)\" = away ]" 5; then ok "the retained value follows: 'away'"; else not_ok "the retained value did not become away"; fi

### status ###

status_json > "$TMP/status.json"
if jq -e --arg b "mqtt://$BROKER_IP:1883" --arg p "$P" '.mqtt | .broker == $b and .prefix == $p and .queued == 0
	and .in_flight == 0 and .dropped == 0 and .published >= 7 and .connects == 1 and .reconnects == 0
	and .failures == 0 and .queue_max == 10000 and .keepalive == 60' "$TMP/status.json" >/dev/null; then
	ok "status --json: broker, prefix, counts"
else
	not_ok "status --json: $(jq -c .mqtt "$TMP/status.json")"
fi
nsx "$NLHOOK" --control "$TMP/control.sock" status > "$TMP/status.txt"
if grep -qE "^broker mqtt://$BROKER_IP:1883 \(prefix $P\): connected for [0-9]+ s; 0 queued \(0 in flight, at most 10000\), 0 dropped, [0-9]+ published, 0 reconnects, 0 failed attempts$" "$TMP/status.txt"; then
	ok "nlhook status has the broker line"
else
	not_ok "nlhook status broker line: $(grep broker "$TMP/status.txt")"
fi

# Connected and idle, the loop sleeps: no timer but the keepalive (60 s).
sleep 0.5
before=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$DAEMON_PID/status")
sleep 3
after=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$DAEMON_PID/status")
[ "$after" -eq "$before" ] && ok "an idle connected daemon does not wake up in 3 s" ||
	not_ok "an idle connected daemon woke up $((after - before)) times in 3 s"

### the will: kill -9 ###

sub status -t "$P/status" -q 1
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
if wait_for "[ \"\$(retained $P/status)\" = offline ]" 10; then ok "kill -9: the will makes $P/status offline (retained)"; else not_ok "kill -9: $P/status is '$(retained $P/status)'"; fi
grep -q "Client nlhookd/$P closed its connection" "$BROKER_DIR/mosquitto.log" &&
	ok "kill -9: the broker saw the connection close, no DISCONNECT" || not_ok "kill -9: no 'closed its connection' in the broker log"

### a clean stop: offline, retained, then DISCONNECT ###

start_daemon --mqtt "$URL" --event-log mqtt
if wait_for "[ \"\$(retained $P/status)\" = online ]" 10; then ok "restarted: $P/status is online again"; else not_ok "restarted: $P/status is '$(retained $P/status)'"; fi
stop_daemon
[ "$(retained "$P/status")" = offline ] && ok "SIGTERM: $P/status is offline, retained" || not_ok "SIGTERM: $P/status is '$(retained "$P/status")'"
# The daemon said it before a clean DISCONNECT (which discards the will).
grep -q "Received PUBLISH from nlhookd/$P (d0, q1, r1, m[0-9]*, '$P/status', ... (7 bytes))" "$BROKER_DIR/mosquitto.log" &&
	ok "SIGTERM: the daemon published offline itself" || not_ok "SIGTERM: no retained PUBLISH of offline from the daemon"
grep -q "Client nlhookd/$P disconnected\.$" "$BROKER_DIR/mosquitto.log" && ok "SIGTERM: then a clean DISCONNECT" ||
	not_ok "SIGTERM: no clean DISCONNECT in the broker log"
if wait_for "[ \"\$(tail -n 1 '$TMP/status.out')\" = offline ]" 5 &&
	[ "$(tr '\n' ' ' < "$TMP/status.out")" = "online offline online offline " ]; then
	ok "a subscriber of $P/status saw online, offline (will), online, offline"
else
	not_ok "$P/status subscriber saw: $(tr '\n' ' ' < "$TMP/status.out")"
fi

### IPv6 ###

start_daemon --mqtt "mqtt://[::1]:1884/v6"
if wait_for "[ \"\$(retained v6/status)\" = online ]" 10; then ok "mqtt://[::1]:1884: connected over IPv6"; else not_ok "mqtt://[::1]:1884: $(mqtt_field last_error)"; fi
[ "$(mqtt_field broker)" = "mqtt://[::1]:1884" ] && ok "status writes an IPv6 broker in brackets" || not_ok "broker $(mqtt_field broker)"
stop_daemon

finish
