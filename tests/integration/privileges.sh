#!/usr/bin/env bash
# nlhookd needs no root: as an unprivileged user with CAP_NET_ADMIN as an
# ambient capability (what a systemd unit with AmbientCapabilities= gives)
# it starts, forces its receive buffer past rmem_max, and runs rules.
# Without the capability it still runs rtnl rules, with a warning; with
# an nflog rule it cannot serve, it does not start.
. "$(dirname "$0")/lib.sh"

rule_file 50-priv.lua <<'LUA'
nlhook.on("link.up", { ifname = "vP0" }, function(ev) nlhook.emit({ uid_ok = true, ifname = ev.ifname }) end)
LUA
run_dir="$TMP/run"
mkdir -m 700 "$run_dir"
chown 65534:65534 "$run_dir"
: > "$TMP/events.jsonl"
chown 65534 "$TMP/events.jsonl"
nsx ip link add vP0 type veth peer name pP0

start_as() {	# start_as LOG CAPS...
	local log=$1; shift
	ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups "$@" \
		"$NLHOOKD" --rules "$RULES" --control "$run_dir/control.sock" --event-log "$TMP/events.jsonl" \
		--rcvbuf 33554432 2> "$log" &
	DAEMON_PID=$!
	wait_for "grep -q ready '$log'" 10
}

if start_as "$TMP/daemon.log" --inh-caps=+net_admin --ambient-caps=+net_admin; then
	ok "starts as uid 65534 with ambient CAP_NET_ADMIN"
else
	not_ok "start as uid 65534: $(cat "$TMP/daemon.log")"
fi
if grep -q '^Uid:.*65534' "/proc/$DAEMON_PID/status" && grep -q '^CapEff:.*0000000000001000' "/proc/$DAEMON_PID/status"; then
	ok "runs as 65534 with CAP_NET_ADMIN alone"
else
	not_ok "credentials: $(grep -E '^(Uid|CapEff)' "/proc/$DAEMON_PID/status" | tr '\n' ' ')"
fi
rcvbuf=$(ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups "$NLHOOK" --control "$run_dir/control.sock" status --json 2>/dev/null | jq '.sources[] | select(.name == "rtnl") | .rcvbuf' || echo 0)
# The kernel doubles what SO_RCVBUFFORCE asks for.
if [ "${rcvbuf:-0}" -ge 33554432 ]; then ok "receive buffer forced to $rcvbuf bytes"; else not_ok "rcvbuf $rcvbuf"; fi
nsx ip link set vP0 up
expect_event '.uid_ok and .ifname == "vP0"' "rules run"
stop_daemon

if start_as "$TMP/daemon2.log"; then
	ok "starts as uid 65534 without capabilities"
else
	not_ok "start without capabilities: $(cat "$TMP/daemon2.log")"
fi
if grep -q "receive buffer" "$TMP/daemon2.log"; then ok "warns that the receive buffer cannot be forced"; else not_ok "no rcvbuf warning: $(cat "$TMP/daemon2.log")"; fi
nsx ip link set vP0 down
nsx ip link set vP0 up
if wait_for "[ \$(count_events '.uid_ok') -ge 2 ]" 5; then ok "rtnl rules run without capabilities"; else not_ok "rtnl rules without capabilities"; fi

stop_daemon

# An nflog rule needs CAP_NET_ADMIN: without it the daemon says so and exits 1.
rule_file 60-fw.lua <<'LUA'
nlhook.on("nflog", { group = 40 }, function(ev) end)
LUA
rc=0
ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
	timeout 10 "$NLHOOKD" --rules "$RULES" --control "$run_dir/control.sock" 2> "$TMP/daemon3.log" || rc=$?
if [ $rc -eq 1 ] && grep -q "CAP_NET_ADMIN" "$TMP/daemon3.log" && ! grep -q ready "$TMP/daemon3.log"; then
	ok "with an nflog rule and no CAP_NET_ADMIN: exit 1, $(grep -m1 CAP_NET_ADMIN "$TMP/daemon3.log")"
else
	not_ok "nflog rule without CAP_NET_ADMIN: exit $rc: $(cat "$TMP/daemon3.log")"
fi
rm "$RULES/60-fw.lua"

# As root, rule files others could write are refused, saying why.
chmod 666 "$RULES/50-priv.lua"
if out=$("$NLHOOKD" --check --rules "$RULES" 2>&1); then
	not_ok "a world-writable rule file was accepted"
elif echo "$out" | grep -q "50-priv.lua.*writable"; then
	ok "world-writable rule file refused: $(echo "$out" | grep -m1 writable)"
else
	not_ok "refusal message: $out"
fi
chmod 644 "$RULES/50-priv.lua"
chmod 777 "$RULES"
if out=$("$NLHOOKD" --check --rules "$RULES" 2>&1); then
	not_ok "a world-writable rules dir was accepted"
else
	ok "world-writable rules dir refused"
fi
chmod 755 "$RULES"

finish
