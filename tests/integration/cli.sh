#!/usr/bin/env bash
# nlhook's own behaviour around the daemon: options after the command,
# timeouts on a daemon that never answers.
. "$(dirname "$0")/lib.sh"

unset NLHOOK_CONTROL
SOCK="$TMP/control.sock"

# wait_exit PID SECONDS: a background job's exit status; killed (137) when
# it still runs after SECONDS.
wait_exit() {
	wait_for "pid_dead $1" "$2" || kill -KILL "$1" 2>/dev/null
	wait "$1"
}

# --- --control after the command ---
nsx ip link add vL0 type veth peer name pL0
start_daemon
if nsx "$NLHOOK" status --control "$SOCK" > "$TMP/st" 2>&1 && grep -q '^nlhookd ' "$TMP/st"; then
	ok "status --control PATH"
else
	not_ok "status --control PATH: $(cat "$TMP/st")"
fi
if nsx "$NLHOOK" status --json --control "$SOCK" | jq -e .ok > /dev/null; then
	ok "status --json --control PATH"
else
	not_ok "status --json --control PATH"
fi
if nsx "$NLHOOK" reload --control "$SOCK" 2> "$TMP/rl" && grep -q 'reloading rules' "$TMP/daemon.log"; then
	ok "reload --control PATH"
else
	not_ok "reload --control PATH: $(cat "$TMP/rl")"
fi
ip netns exec "$NS" "$NLHOOK" monitor --control "$SOCK" --json link.up > "$TMP/mon.jsonl" 2> "$TMP/mon.err" &
MON=$!
CLEANUPS+=("kill $MON")
wait_for "[ \$(ip netns exec $NS $NLHOOK status --json --control $SOCK | jq .monitors) -eq 1 ]" 5 || true
nsx ip link set vL0 up
wait_for "grep -q vL0 '$TMP/mon.jsonl'" 5 || true
kill "$MON"; wait "$MON" 2>/dev/null || true
if jq -e 'select(.type == "link.up" and .ifname == "vL0")' "$TMP/mon.jsonl" > /dev/null 2>&1; then
	ok "monitor --control PATH goes through the daemon"
else
	not_ok "monitor --control PATH: $(cat "$TMP/mon.jsonl" "$TMP/mon.err")"
fi
stop_daemon

# --- a daemon that accepts and never answers ---
MUTE="$TMP/mute.sock"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(64)
held = []
while True:
    held.append(s.accept()[0])' "$MUTE" &
MUTE_PID=$!
CLEANUPS+=("kill $MUTE_PID")
wait_for "[ -S '$MUTE' ]" 5 || true

# timed CMD...: runs CMD, sets rc, secs (elapsed, 0.1 s) and err (stderr).
timed() {
	local t0 t1
	t0=$(date +%s%N)
	rc=0
	timeout 20 "$@" > /dev/null 2> "$TMP/timed.err" || rc=$?
	t1=$(date +%s%N)
	secs=$(( (t1 - t0) / 100000000 ))
	secs="$((secs / 10)).$((secs % 10))"
	err=$(cat "$TMP/timed.err")
}

timed "$NLHOOK" status --control "$MUTE"
if [ "$rc" -eq 1 ] && echo "$err" | grep -q "nlhook status: nlhookd at $MUTE did not answer within 5 s" &&
	[ "$(echo "$secs >= 4.5 && $secs < 7" | bc)" = 1 ]; then
	ok "status gives up on a mute daemon after 5 s ($secs s: $err)"
else
	not_ok "status on a mute daemon: exit $rc after $secs s: $err"
fi
timed "$NLHOOK" --control "$MUTE" status --timeout 1
if [ "$rc" -eq 1 ] && echo "$err" | grep -q "did not answer within 1 s" &&
	[ "$(echo "$secs < 2.5" | bc)" = 1 ]; then
	ok "status --timeout 1 ($secs s)"
else
	not_ok "status --timeout 1: exit $rc after $secs s: $err"
fi
timed "$NLHOOK" --timeout 0.5 --control "$MUTE" reload
if [ "$rc" -eq 1 ] && echo "$err" | grep -q "nlhook reload: nlhookd at $MUTE did not answer within 0.5 s" &&
	[ "$(echo "$secs < 2" | bc)" = 1 ]; then
	ok "reload gives up on a mute daemon ($secs s)"
else
	not_ok "reload on a mute daemon: exit $rc after $secs s: $err"
fi
timed "$NLHOOK" monitor --control "$MUTE" --timeout 1 'link.*'
if [ "$rc" -eq 1 ] && echo "$err" | grep -q "nlhook monitor: nlhookd at $MUTE did not answer within 1 s" &&
	[ "$(echo "$secs < 2.5" | bc)" = 1 ]; then
	ok "monitor gives up on a mute daemon's answer ($secs s)"
else
	not_ok "monitor on a mute daemon: exit $rc after $secs s: $err"
fi
for bad in 0 -1 x 1e9; do
	rc=0; "$NLHOOK" status --timeout "$bad" --control "$MUTE" 2> "$TMP/bad.err" || rc=$?
	if [ "$rc" -eq 2 ] && grep -q -- "--timeout: '$bad'" "$TMP/bad.err"; then
		ok "--timeout $bad is a usage error"
	else
		not_ok "--timeout $bad: exit $rc, $(cat "$TMP/bad.err")"
	fi
done

finish
