#!/usr/bin/env bash
# `nlhook monitor --json` straight from netlink: valid JSON lines, the
# same events the daemon's rules see, filters applied.
. "$(dirname "$0")/lib.sh"

rule_file 50-all.lua <<'LUA'
nlhook.on("link.*", { ifname = "vM*" }, function(ev) nlhook.emit(ev) end)
LUA
nsx ip link add vM0 type veth peer name vM1
# No IPv6 link-local addresses: their DAD would change link.state a second
# or two later, past the end of the comparison.
nsx ip link set vM0 addrgenmode none
nsx ip link set vM1 addrgenmode none
start_daemon
# Not through the nsx function: $! must be the monitor itself (ip netns exec execs it).
ip netns exec "$NS" "$NLHOOK" monitor --json 'link.*' 'ifname=vM*' > "$TMP/monitor.jsonl" 2> "$TMP/monitor.err" &
MON_PID=$!
CLEANUPS+=("kill $MON_PID")
ip netns exec "$NS" "$NLHOOK" monitor --timestamp route.add > "$TMP/monitor.txt" 2>&1 &
MON2_PID=$!
CLEANUPS+=("kill $MON2_PID")
# A negated prefix is "not inside it", on the address, not a text glob.
ip netns exec "$NS" "$NLHOOK" monitor --json addr.add 'address=!10.0.0.0/8' > "$TMP/neg.jsonl" 2>&1 &
MON3_PID=$!
CLEANUPS+=("kill $MON3_PID")
sleep 0.5

nsx ip link set vM0 up
nsx ip link set vM1 up
nsx ip link set vM1 down
nsx ip addr add 10.79.0.1/24 dev vM0
nsx ip addr add 192.0.2.79/24 dev vM0
nsx ip link set vM1 up
sleep 0.5
expect_event '.type == "link.up" and .ifname == "vM1"' "daemon saw link.up vM1"
# link.state follows the kernel's operstate, which lags carrier: wait for
# the stream to settle (the same count on both sides for a second).
settled=0
for _ in $(seq 50); do
	a=$(wc -l < "$TMP/monitor.jsonl") b=$(wc -l < "$TMP/events.jsonl")
	if [ "$a" -eq "$b" ] && [ "$a" -eq "${last:-x}" ]; then
		settled=$((settled + 1))
		[ "$settled" -ge 10 ] && break
	else
		settled=0
	fi
	last=$a
	sleep 0.1
done
kill "$MON_PID"; wait "$MON_PID" 2>/dev/null || true
kill "$MON2_PID"; wait "$MON2_PID" 2>/dev/null || true
kill "$MON3_PID"; wait "$MON3_PID" 2>/dev/null || true

if python3 -m json.tool --json-lines "$TMP/monitor.jsonl" >/dev/null; then ok "monitor --json output parses"; else not_ok "monitor --json output parses"; fi
mon=$(jq -r '[.type, .ifname] | join(" ")' "$TMP/monitor.jsonl")
dae=$(jq -r '[.type, .ifname] | join(" ")' "$TMP/events.jsonl")
if [ -n "$mon" ] && [ "$mon" = "$dae" ]; then
	ok "monitor shows the same link events as the daemon ($(echo "$mon" | wc -l))"
else
	not_ok "monitor and daemon differ: monitor=[$mon] daemon=[$dae]"
fi
if jq -e 'select(.type | startswith("link.") | not)' "$TMP/monitor.jsonl" >/dev/null; then
	not_ok "type filter let other events through"
else
	ok "type filter: link events only"
fi
if grep -q 'route.add .*dst=10.79.0.0/24' "$TMP/monitor.txt" && grep -q '^\[20[0-9-]*T' "$TMP/monitor.txt"; then
	ok "human lines with timestamps"
else
	not_ok "human lines with timestamps: $(head -3 "$TMP/monitor.txt")"
fi
if [ "$(jq -r .address "$TMP/neg.jsonl" | sort -u | tr '\n' ' ')" = "192.0.2.79 " ]; then
	ok "address=!10.0.0.0/8: the address outside the prefix alone"
else
	not_ok "address=!10.0.0.0/8 showed: $(cat "$TMP/neg.jsonl")"
fi
# Patterns the field cannot match are refused, naming the argument.
for arg in 'mtu=abc' 'dst=10.0.0.0/33' 'address=default' 'ifindex=4294967296'; do
	if err=$(ip netns exec "$NS" "$NLHOOK" monitor --direct "$arg" 2>&1 </dev/null); then
		not_ok "monitor accepted $arg"
	elif grep -qF "'$arg':" <<< "$err"; then
		ok "monitor refuses $arg: $err"
	else
		not_ok "monitor $arg: $err"
	fi
done

finish
