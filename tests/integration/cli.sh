#!/usr/bin/env bash
# nlhook's own behaviour around the daemon: options after the command,
# the status table, what direct nflog needs, log labels, timeouts on a
# daemon that never answers.
. "$(dirname "$0")/lib.sh"

unset NLHOOK_CONTROL
SOCK="$TMP/control.sock"

# wait_exit PID SECONDS: a background job's exit status; killed (137) when
# it still runs after SECONDS.
wait_exit() {
	wait_for "pid_dead $1" "$2" || kill -KILL "$1" 2>/dev/null
	wait "$1"
}

rule_file 50-rated.lua <<'LUA'
nlhook.on("link.*", { ifname = "vR*" }, function(ev) end, { rate = 1, name = "rated" })
nlhook.on("link.up", { ifname = "vE*" }, function(ev) nlhook.exec({ "/bin/sleep", "30" }) end,
	{ name = "queued" })
nlhook.on("link.down", { ifname = "vE*" }, function(ev) end,
	{ name = "a-rule-whose-name-is-longer-than-forty-characters" })
nlhook.on("nflog", { group = 7 }, function(ev) end, { name = "nf" })
LUA

# --- --control after the command ---
nsx ip link add vL0 type veth peer name pL0
nsx ip link add vR0 type veth peer name pR0
nsx ip link add vE0 type veth peer name pE0
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
# --- the human status: every counter of --json ---
for i in 1 2 3 4 5; do nsx ip link set vR0 up; nsx ip link set vR0 down; done
for i in 1 2 3; do nsx ip link set vE0 up; nsx ip link set vE0 down; done
wait_for "[ \$(nsx $NLHOOK status --json --control $SOCK | jq '.rules[] | select(.name == \"queued\") | .execs_pending') -eq 2 ]" 5 || true
sleep 0.3
nsx "$NLHOOK" status --json --control "$SOCK" > "$TMP/st.json"
nsx "$NLHOOK" status --control "$SOCK" > "$TMP/st.txt"
# row NAME: the numbers of the rule's row, time left out.
row() { awk -v n="$1" '$1 == n { $1 = ""; $7 = ""; print }' "$TMP/st.txt" | xargs; }
json_row() {
	jq -r --arg n "$1" '.rules[] | select(.name == $n) |
		[.hits, .runs, .rate_dropped, .errors, .stuck, .execs_running, .execs_pending] +
		(if has("exec_dropped") then [.exec_dropped, .after_dropped] else [] end) | map(tostring) | join(" ")' \
		"$TMP/st.json"
}
head_re='^RULE +HITS +RUNS +RATE-DROP +ERRORS +STUCK +TIME\(s\) +EXECS +PENDING'
if jq -e '.rules[0] | has("exec_dropped")' "$TMP/st.json" > /dev/null; then
	head_re="$head_re +EXEC-DROP +AFTER-DROP\$"
else
	head_re="$head_re\$"
fi
if grep -Eq "$head_re" "$TMP/st.txt"; then
	ok "status: the rule table has every counter's column"
else
	not_ok "status rule header: $(grep '^RULE' "$TMP/st.txt")"
fi
r=$(row rated); j=$(json_row rated)
if [ -n "$r" ] && [ "$r" = "$j" ] && jq -e '.rules[] | select(.name == "rated") | .rate_dropped > 0' "$TMP/st.json" > /dev/null; then
	ok "status: runs and rate_dropped as --json has them ($r)"
else
	not_ok "status row 'rated': [$r] vs --json [$j]"
fi
r=$(row queued); j=$(json_row queued)
if [ -n "$r" ] && [ "$r" = "$j" ] && jq -e '.rules[] | select(.name == "queued") | .execs_pending == 2' "$TMP/st.json" > /dev/null; then
	ok "status: execs running and pending as --json has them ($r)"
else
	not_ok "status row 'queued': [$r] vs --json [$j]"
fi
long=a-rule-whose-name-is-longer-than-forty-characters
if grep -A1 "^$long\$" "$TMP/st.txt" | tail -1 | grep -Eq '^ +[0-9]+( +[0-9.]+)+$'; then
	ok "status: a long rule name has a line of its own"
else
	not_ok "status long name: $(grep -A1 "^$long" "$TMP/st.txt")"
fi
if grep -q '^nlhookd .* 0 monitors (0 dropped for falling behind)$' "$TMP/st.txt"; then
	ok "status: monitor drops in the summary"
else
	not_ok "status summary: $(head -1 "$TMP/st.txt")"
fi

# --- nflog read directly: say what it takes ---
rc=0; timeout 5 ip netns exec "$NS" "$NLHOOK" monitor --direct nflog > "$TMP/nf.out" 2> "$TMP/nf.err" || rc=$?
if [ "$rc" -eq 1 ] && grep -q 'reading nflog directly needs a group: add group=N' "$TMP/nf.err" &&
	grep -q 'CAP_NET_ADMIN' "$TMP/nf.err" && grep -q 'no other process, such as nlhookd, has bound' "$TMP/nf.err"; then
	ok "monitor --direct nflog without a group says what it needs and exits 1"
else
	not_ok "monitor --direct nflog: exit $rc, $(cat "$TMP/nf.err")"
fi
rc=0; timeout 2 ip netns exec "$NS" "$NLHOOK" monitor --direct nflog link.up > "$TMP/nf.out" 2> "$TMP/nf.err" || rc=$?
if [ "$rc" -eq 124 ] && grep -q 'reading nflog directly needs a group' "$TMP/nf.err"; then
	ok "with other types as well, it says so and goes on with them"
else
	not_ok "monitor --direct nflog link.up: exit $rc, $(cat "$TMP/nf.err")"
fi
rc=0; timeout 5 ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$NLHOOK" monitor --direct nflog group=7 > "$TMP/nf.out" 2> "$TMP/nf.err" || rc=$?
if [ "$rc" -eq 1 ] && grep -q 'reading nflog directly needs CAP_NET_ADMIN' "$TMP/nf.err"; then
	ok "monitor --direct nflog group=N without CAP_NET_ADMIN says so and exits 1"
else
	not_ok "monitor --direct nflog unprivileged: exit $rc, $(cat "$TMP/nf.err")"
fi
rc=0; timeout 2 ip netns exec "$NS" "$NLHOOK" monitor --direct nflog group=7 > "$TMP/nf.out" 2> "$TMP/nf.err" || rc=$?
if grep -q 'nflog: group 7 is bound by another process' "$TMP/nf.err"; then
	ok "monitor --direct on a group nlhookd has bound says so"
else
	not_ok "monitor --direct nflog on a bound group: exit $rc, $(cat "$TMP/nf.err")"
fi

# --- log lines name the program that prints them ---
if grep -q '^nlhook: err: nflog: group 7 is bound' "$TMP/nf.err"; then
	ok "nlhook's log lines are labelled nlhook"
else
	not_ok "nlhook's log line: $(cat "$TMP/nf.err")"
fi
if grep -q '^nlhookd: info: ready' "$TMP/daemon.log"; then
	ok "nlhookd's log lines are labelled nlhookd"
else
	not_ok "nlhookd's log: $(head -3 "$TMP/daemon.log")"
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
# A monitor request whose filter no event of its types can pass: refused.
reply=$(nsx python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"{\"v\":1,\"cmd\":\"monitor\",\"types\":[\"link.up\"],\"filters\":[\"group=1\"]}\n")
print(s.makefile().readline().strip())' "$SOCK")
if echo "$reply" | jq -e '.ok == false and .error == "'"'"'group'"'"' is not a field of link events"' > /dev/null; then
	ok "the daemon refuses such a monitor request too"
else
	not_ok "monitor request with group=1 for link.up: $reply"
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
# A command's option errors, getopt's included, name nlhook and the command.
for args in "status --bogus" "monitor --bogus" "check --dispatch-dir" "record -w"; do
	rc=0; "$NLHOOK" $args 2> "$TMP/bad.err" > /dev/null || rc=$?
	if [ "$rc" -eq 2 ] && grep -q "^nlhook ${args%% *}: " "$TMP/bad.err"; then
		ok "nlhook $args: a usage error naming nlhook ${args%% *}"
	else
		not_ok "nlhook $args: exit $rc, $(cat "$TMP/bad.err")"
	fi
done
for bad in 0 -3 abc; do
	rc=0; "$NLHOOK" record -w "$TMP/never.pcap" --count "$bad" 2> "$TMP/bad.err" || rc=$?
	if [ "$rc" -eq 2 ] && grep -q "^nlhook record: --count: '$bad' is not a positive number" "$TMP/bad.err" &&
	   [ ! -e "$TMP/never.pcap" ]; then
		ok "record --count $bad is a usage error"
	else
		not_ok "record --count $bad: exit $rc, $(cat "$TMP/bad.err")"
	fi
done
# A monitor whose filter no event of its types can pass would show nothing: an error.
rc=0; timeout 5 ip netns exec "$NS" "$NLHOOK" monitor --direct link.up address=10.0.0.0/8 2> "$TMP/bad.err" > /dev/null || rc=$?
if [ "$rc" -eq 2 ] && grep -qx "nlhook monitor: 'address' is not a field of link events" "$TMP/bad.err"; then
	ok "monitor link.up address=...: a usage error"
else
	not_ok "monitor link.up address=...: exit $rc, $(cat "$TMP/bad.err")"
fi
rc=0; "$NLHOOK" replay "$TMP" 2> "$TMP/bad.err" > /dev/null || rc=$?
if [ "$rc" -eq 1 ] && grep -qx "nlhook replay: $TMP: cannot read: Is a directory" "$TMP/bad.err"; then
	ok "replay of a directory: says so"
else
	not_ok "replay of a directory: exit $rc, $(cat "$TMP/bad.err")"
fi

finish
