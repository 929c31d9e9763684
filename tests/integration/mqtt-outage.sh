#!/usr/bin/env bash
# Nothing lost while the broker is away: the broker (persistence true) is
# stopped with SIGTERM and started again while events happen, and a
# persistent QoS 1 subscriber gets every one of them, in order; then, with
# a small --mqtt-queue and the broker away, the oldest messages are dropped,
# counted and logged, and the newest arrive once it is back.
. "$(dirname "$0")/mqtt-lib.sh"

P=t/gw1
URL="mqtt://$BROKER_IP/$P"

rule_file 10-seq.lua <<'LUA'
local n = 0
nlhook.on({ "link.up", "link.down" }, { ifname = "mqo0" }, function(ev)
	n = n + 1
	nlhook.emit({ seq = n })
end)
LUA

ip -n "$NS" link add mqo0 type veth peer name mqo1

# toggle FROM TO: one event each (up, down, up, ...), 40 ms apart.
toggle() {
	local i
	for ((i = $1; i <= $2; i++)); do
		if ((i % 2)); then ip -n "$NS" link set mqo0 up; else ip -n "$NS" link set mqo0 down; fi
		sleep 0.04
	done
}

# seqs FROM-LINE: the seq of each line of the subscriber's output from that line on.
seqs() { tail -n "+$1" "$TMP/psub.out" | jq -r '.seq'; }
# first_seen FROM-LINE: the seqs, each at its first appearance (QoS 1 may repeat one).
first_seen() { seqs "$1" | awk '!seen[$0]++' | tr '\n' ' '; }
expect_seqs() {
	local from=$1 want=$2 what=$3
	if wait_for "[ \"\$(first_seen $from)\" = '$want' ]" 15; then
		ok "$what"
	else
		not_ok "$what: got $(first_seen "$from")"
	fi
}

start_broker
# Persistent session (-c), QoS 1: the broker keeps what comes while it is away.
sub psub -c -q 1 -t "$P/events/emit"
start_daemon --mqtt "$URL" --event-log mqtt --log-level debug
wait_for "[ \"\$(mqtt_field state)\" = connected ]" 10 || not_ok "the daemon did not connect"

### the broker restarts while events happen ###

toggle 1 20
stop_broker
toggle 21 40
state=$(mqtt_field state)
queued=$(mqtt_field queued)
[ "$state" != connected ] && [ "$queued" -gt 0 ] && ok "broker away: state $state, $queued messages queued" ||
	not_ok "broker away: state $state, $queued queued"
[ "$(mqtt_field last_error)" != null ] && ok "broker away: status says why ($(mqtt_field last_error))" ||
	not_ok "broker away: no last_error"
start_broker
t0=$(date +%s%N)
toggle 41 60
if wait_for "[ \"\$(mqtt_field state)\" = connected ]" 10; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ $ms -le 6500 ] && ok "reconnected ${ms} ms after the broker came back (backoff capped at 5 s)" ||
		not_ok "reconnected only ${ms} ms after the broker came back"
else
	not_ok "the daemon did not reconnect"
fi
expect_seqs 1 "$(seq 1 60 | tr '\n' ' ')" "the persistent QoS 1 subscriber got all 60 events, in order"
status_json > "$TMP/status.json"
jq -e '.mqtt | .reconnects == 1 and .dropped == 0 and .queued == 0 and .failures >= 1' "$TMP/status.json" >/dev/null &&
	ok "status: 1 reconnect, nothing dropped, nothing queued" || not_ok "status: $(jq -c .mqtt "$TMP/status.json")"
grep -q "mqtt: lost the connection to mqtt://$BROKER_IP:1883: .*; reconnecting" "$TMP/daemon.log" &&
	ok "the loss is logged" || not_ok "no 'lost the connection' in the log"
grep -q "mqtt: connected to mqtt://$BROKER_IP:1883 again" "$TMP/daemon.log" && ok "the reconnection is logged" ||
	not_ok "no 'connected ... again' in the log"
# One warning per outage, not one per attempt.
n=$(grep -c "warn: mqtt: cannot connect to" "$TMP/daemon.log" || true)
[ "$n" -le 2 ] && ok "the failed attempts are logged once ($n warnings)" || not_ok "$n warnings for the failed attempts"
stop_daemon

### the bound: the oldest are dropped, counted and logged ###

stop_broker
lines=$(($(wc -l < "$TMP/psub.out") + 1))
: > "$TMP/daemon.log"
start_daemon --mqtt "$URL" --event-log mqtt --mqtt-queue 5
ok "the daemon starts while the broker is away"
toggle 1 12
status_json > "$TMP/status.json"
jq -e '.mqtt | .queued == 5 and .dropped == 7 and .queue_max == 5' "$TMP/status.json" >/dev/null &&
	ok "--mqtt-queue 5, 12 events: 5 queued, 7 dropped" || not_ok "status: $(jq -c .mqtt "$TMP/status.json")"
grep -q "mqtt: the queue is full: dropping the oldest messages (the broker is [a-z]*, 5 messages queued); 1 dropped so far" "$TMP/daemon.log" &&
	ok "the first drop is logged" || not_ok "the drop is not logged: $(grep mqtt "$TMP/daemon.log")"
nsx "$NLHOOK" --control "$TMP/control.sock" status | grep -E "^broker .*: (connecting|disconnected) for .* 5 queued \(0 in flight, at most 5\), 7 dropped" >/dev/null &&
	ok "nlhook status shows the queue and the drops" || not_ok "nlhook status: $(nsx "$NLHOOK" --control "$TMP/control.sock" status | grep broker)"
start_broker
expect_seqs "$lines" "8 9 10 11 12 " "once the broker is back the 5 newest arrive, in order"
stop_daemon

finish
