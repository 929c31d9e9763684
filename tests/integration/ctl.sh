#!/usr/bin/env bash
# Control socket: monitor through the daemon, status, reload (a broken
# reload keeps the old rules), permissions by SO_PEERCRED, one daemon per
# network namespace.
. "$(dirname "$0")/lib.sh"

CTL=(ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock")

# wait_exit PID SECONDS: a background job's exit status; killed (137) when
# it still runs after SECONDS.
wait_exit() {
	wait_for "pid_dead $1" "$2" || kill -KILL "$1" 2>/dev/null
	wait "$1"
}

rule_file 50-mark.lua <<'LUA'
nlhook.on("link.up", { ifname = "vC*" }, function(ev) nlhook.emit({ rule = "v1", ifname = ev.ifname }) end)
LUA

# The nlhook group decides who may monitor and ask for status.
created_group=
if ! getent group nlhook >/dev/null; then
	groupadd --system nlhook
	created_group=1
	CLEANUPS+=("[ -n \"$created_group\" ] && groupdel nlhook")
fi
gid=$(getent group nlhook | cut -d: -f3)

nsx ip link add vC0 type veth peer name pC0
nsx ip link add vC1 type veth peer name pC1
start_daemon

# Monitor through the daemon and directly, side by side.
"${CTL[@]}" monitor --json 'link.up' > "$TMP/via-daemon.jsonl" 2> "$TMP/via-daemon.err" &
MON1=$!
CLEANUPS+=("kill $MON1")
"${CTL[@]}" monitor --direct --json 'link.up' > "$TMP/direct.jsonl" 2>&1 &
MON2=$!
CLEANUPS+=("kill $MON2")
wait_for "[ \$(\"\${CTL[@]}\" status --json | jq .monitors) -eq 1 ]" 5 || true
sleep 0.3
nsx ip link set vC0 up
expect_event '.rule == "v1" and .ifname == "vC0"' "rule v1 fired"
sleep 0.3
kill "$MON1" "$MON2"; wait "$MON1" "$MON2" 2>/dev/null || true
a=$(jq -r '.type + " " + .ifname' "$TMP/via-daemon.jsonl")
b=$(jq -r '.type + " " + .ifname' "$TMP/direct.jsonl")
if [ "$a" = "link.up vC0" ] && [ "$a" = "$b" ]; then
	ok "monitor through the daemon shows what direct shows"
else
	not_ok "monitor via daemon [$a] vs direct [$b] ($(cat "$TMP/via-daemon.err"))"
fi

# status
st=$("${CTL[@]}" status --json)
if echo "$st" | jq -e '.ok and .rules_count == 1 and (.sources[] | select(.name == "rtnl") | .events > 0)' >/dev/null; then
	ok "status --json: rules and source counters"
else
	not_ok "status --json: $st"
fi
if echo "$st" | jq -e '.rules[0].hits >= 1 and (.rules[0].name | test("50-mark.lua:1"))' >/dev/null; then
	ok "status --json: per-rule hits and FILE:LINE name"
else
	not_ok "status --json per rule: $(echo "$st" | jq -c .rules)"
fi
if "${CTL[@]}" status | grep '^rtnl ' >/dev/null; then ok "status prints a table"; else not_ok "status prints a table"; fi

# A broken reload keeps the old rules.
rule_file 60-broken.lua <<'LUA'
nlhook.on("link.up", {}, function(ev)
LUA
if out=$("${CTL[@]}" reload 2>&1); then
	not_ok "reload with a broken rule must fail"
else
	if echo "$out" | grep -q '60-broken.lua:'; then ok "reload failure names FILE:LINE"; else not_ok "reload error: $out"; fi
fi
nsx ip link set vC1 up
expect_event '.rule == "v1" and .ifname == "vC1"' "old rule still fires after the failed reload"
rm "$RULES/60-broken.lua"
rule_file 50-mark.lua <<'LUA'
nlhook.on("link.up", { ifname = "vC*" }, function(ev) nlhook.emit({ rule = "v2", ifname = ev.ifname }) end)
LUA
if "${CTL[@]}" reload; then ok "reload succeeds"; else not_ok "reload succeeds"; fi
nsx ip link set vC0 down
nsx ip link set vC0 up
expect_event '.rule == "v2" and .ifname == "vC0"' "new rule fires after the reload"

# Permissions: nobody without the group cannot connect (0660 root:nlhook);
# with the group it may ask for status but not reload.
if ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$NLHOOK" --control "$TMP/control.sock" status > "$TMP/perm1" 2>&1; then
	not_ok "an outsider got status"
else
	ok "an outsider is refused ($(head -1 "$TMP/perm1"))"
fi
if ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --groups="$gid" \
	"$NLHOOK" --control "$TMP/control.sock" status >/dev/null 2>&1; then
	ok "a member of the nlhook group gets status"
else
	not_ok "a member of the nlhook group gets status"
fi
if ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --groups="$gid" \
	"$NLHOOK" --control "$TMP/control.sock" reload > "$TMP/perm2" 2>&1; then
	not_ok "a group member could reload"
elif grep -q "permission denied" "$TMP/perm2"; then
	ok "a group member is refused reload with a clear message"
else
	not_ok "reload refusal message: $(cat "$TMP/perm2")"
fi
if grep -q "permission denied" "$TMP/daemon.log"; then ok "the refusal is logged"; else not_ok "the refusal is logged"; fi

# Malformed and oversized requests get an error, and the daemon goes on.
reply=$(printf '{"cmd": [\n' | nsx python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
print(s.makefile().readline().strip())' "$TMP/control.sock")
if echo "$reply" | jq -e '.ok == false and (.error | test("offset"))' >/dev/null; then
	ok "malformed request answered with an error naming the offset"
else
	not_ok "malformed request reply: $reply"
fi
reply=$(nsx python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
try:
    s.sendall(b"x" * 200000)
except OSError:
    pass
print(s.makefile().readline().strip())' "$TMP/control.sock")
if echo "$reply" | jq -e '.ok == false and (.error | test("too long"))' >/dev/null; then
	ok "oversized request refused"
else
	not_ok "oversized request reply: $reply"
fi

# A client that says nothing is closed after 5 s; the loop serves others meanwhile.
t0=$(date +%s.%N)
nsx python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.recv(1)' "$TMP/control.sock" &
SILENT=$!
sleep 0.2
if "${CTL[@]}" status >/dev/null; then ok "other clients served while one is silent"; else not_ok "status while a client is silent"; fi
wait "$SILENT" || true
dt=$(echo "$(date +%s.%N) - $t0" | bc)
if [ "$(echo "$dt >= 4.5 && $dt < 8" | bc)" = 1 ] && grep -q "sent no request within 5 s" "$TMP/daemon.log"; then
	ok "a silent client is closed after 5 s (${dt%.*} s)"
else
	not_ok "silent client: ${dt} s, log: $(grep -c 'no request' "$TMP/daemon.log")"
fi

# Monitors that fall more than 4 MiB behind are dropped, and told so: a raw
# JSON client that does not read until told to, and `nlhook monitor` in
# text mode writing into a pipe whose reader is stopped.
nsx python3 -c '
import json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"{\"v\":1,\"cmd\":\"monitor\",\"types\":[\"link.*\"]}\n")
while not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
lines = s.makefile("rb").read().split(b"\n")
assert lines[-1] == b"", "the stream ends with a newline"
lines = [json.loads(l) for l in lines[1:-1]]
last = lines.pop()
assert all("type" in l for l in lines), "whole event lines before the last"
print(json.dumps(last))' "$TMP/control.sock" "$TMP/go" > "$TMP/slow.out" 2>&1 &
SLOW=$!
CLEANUPS+=("kill $SLOW")
mkfifo "$TMP/mon.fifo"
cat "$TMP/mon.fifo" > /dev/null &
READER=$!
CLEANUPS+=("kill -CONT $READER; kill $READER")
"${CTL[@]}" monitor 'link.*' > "$TMP/mon.fifo" 2> "$TMP/mon.err" &
MON=$!
CLEANUPS+=("kill $MON")
wait_for "[ \$(\"\${CTL[@]}\" status --json | jq .monitors) -eq 2 ]" 5 || true
kill -STOP "$READER"
nsx ip link add vSlow type veth peer name pSlow
for i in $(seq 10000); do echo "link set vSlow up"; echo "link set vSlow down"; done > "$TMP/flaps"
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
drops() { "${CTL[@]}" status --json | jq .monitor_drops; }
for i in $(seq 12); do
	[ "$(drops)" -ge 2 ] && break
	nsx ip -batch "$TMP/flaps"
done
rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
touch "$TMP/go"
kill -CONT "$READER"
if [ "$(drops)" -ge 2 ] && grep -q 'fell .* bytes behind (limit 4194304), dropping it' "$TMP/daemon.log"; then
	ok "both slow monitors were dropped, counted in status and logged"
else
	not_ok "slow monitors: monitor_drops $(drops)"
fi
if [ $((rss1 - rss0)) -lt 20480 ]; then ok "memory bounded meanwhile ($rss0 -> $rss1 kB)"; else not_ok "RSS $rss0 -> $rss1 kB"; fi
n=$(drops)
if "${CTL[@]}" status | grep "^nlhookd .* monitors ($n dropped for falling behind)\$" >/dev/null; then
	ok "status shows the $n monitor drops"
else
	not_ok "status summary: $("${CTL[@]}" status | head -1)"
fi
rc=0; wait_exit "$MON" 15 || rc=$?
if [ "$rc" -eq 3 ] && grep -q '^nlhook monitor: dropped by nlhookd: fell [0-9]* bytes behind' "$TMP/mon.err"; then
	ok "nlhook monitor says it was dropped and exits 3 ($(cat "$TMP/mon.err"))"
else
	not_ok "dropped nlhook monitor: exit $rc, stderr: $(cat "$TMP/mon.err")"
fi
wait_exit "$SLOW" 15 || true
if jq -e '.ok == false and .dropped == true and (.error | test("^dropped: fell [0-9]+ bytes behind"))' \
	"$TMP/slow.out" >/dev/null 2>&1; then
	ok "a dropped JSON monitor reads whole events, then the reason"
else
	not_ok "dropped JSON monitor: $(cat "$TMP/slow.out")"
fi
# Ended otherwise (the daemon stops): exit 1 with its own message.
"${CTL[@]}" monitor 'link.*' > /dev/null 2> "$TMP/mon2.err" &
MON=$!
CLEANUPS+=("kill $MON")

# One daemon per network namespace.
if ip netns exec "$NS" "$NLHOOKD" --rules "$RULES" --control "$TMP/control2.sock" > "$TMP/second.log" 2>&1; then
	not_ok "a second nlhookd started in the same namespace"
elif grep -q "another nlhookd (pid $DAEMON_PID)" "$TMP/second.log"; then
	ok "a second nlhookd refuses, naming pid $DAEMON_PID"
else
	not_ok "second instance message: $(cat "$TMP/second.log")"
fi
NS2="${NS}-b"
ip netns add "$NS2"
CLEANUPS+=("ip netns del $NS2")
ip netns exec "$NS2" "$NLHOOKD" --rules "$RULES" --control "$TMP/control3.sock" > /dev/null 2> "$TMP/third.log" &
P3=$!
CLEANUPS+=("kill $P3")
if wait_for "grep -q ready '$TMP/third.log'" 10; then ok "a daemon in another namespace starts"; else not_ok "daemon in another namespace: $(cat "$TMP/third.log")"; fi
if "${CTL[@]}" status >/dev/null; then ok "first daemon still answers"; else not_ok "first daemon still answers"; fi

stop_daemon
rc=0; wait_exit "$MON" 15 || rc=$?
if [ "$rc" -eq 1 ] && grep -q 'nlhookd ended the monitor: nlhookd is stopping' "$TMP/mon2.err"; then
	ok "a monitor whose daemon stops exits 1 and says why"
else
	not_ok "monitor at daemon exit: exit $rc, stderr: $(cat "$TMP/mon2.err")"
fi

finish
