#!/usr/bin/env bash
# Where nlhook.emit lines go: RFC 5424 syslog datagrams to a socket this
# test binds (and rebinds, as a restarted syslog daemon would), a JSON-lines
# file reopened on the signal the logrotate snippet sends (without a reload), and the <N> journal prefixes.
set -euo pipefail

: "${NLHOOKD:?NLHOOKD must point at the built nlhookd}" "${SRCDIR:?}"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (network namespaces)"
	exit 77
fi

NS="nlhp-evlog-$$"
TMP=$(mktemp -d /tmp/nlhook-evlog.XXXXXX)
DAEMON=
RECV=
FAILS=0
N=0

cleanup() {
	local rc=$?
	[ -n "$DAEMON" ] && kill -TERM "$DAEMON" 2>/dev/null && { wait "$DAEMON" 2>/dev/null || true; }
	[ -n "$RECV" ] && kill "$RECV" 2>/dev/null && { wait "$RECV" 2>/dev/null || true; }
	ip netns del "$NS" 2>/dev/null || true
	if [ $rc -ne 0 ] || [ $FAILS -ne 0 ]; then
		echo "--- daemon log ---"; cat "$TMP/daemon.log" 2>/dev/null || true
		echo "--- received ---"; cat "$TMP"/recv* 2>/dev/null || true
	fi
	rm -rf "$TMP"
	[ $FAILS -eq 0 ] || exit 1
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILS=$((FAILS + 1)); echo "not ok $N - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	local t=$(($1 * 10)); shift
	while [ $t -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}

ip netns add "$NS"
mkdir -m 755 "$TMP/rules"
cat > "$TMP/rules/50-emit.lua" <<'LUA'
nlhook.on("nlhook.start", {}, function(ev) nlhook.emit(ev) end)
nlhook.on("link.up", { ifname = "nlhp*" }, function(ev) nlhook.emit(ev) end)
-- Structured-data escaping: '"', '\' and ']' in the type.
nlhook.on("link.down", { ifname = "nlhp*" }, function(ev)
	nlhook.emit({ type = 'odd"type]\\', ifname = ev.ifname })
end)
LUA
chmod 644 "$TMP/rules/50-emit.lua"

# A syslog daemon: one line per datagram received on $1, into $2.
receiver() {
	python3 -u - "$1" "$2" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
	while True:
		out.write(s.recv(65536) + b"\n")
PY
	RECV=$!
	wait_for 5 test -S "$1"
}

# Checks one received line: RFC 5424 header, structured data, JSON MSG.
verify() {
	python3 - "$@" <<'PY'
import json, re, sys, time, calendar
line, pid, sd, want_type, ifname = sys.argv[1:6]
m = re.fullmatch(r'<30>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d{6}Z ([!-~]{1,255}) nlhookd (\d+) - '
		 r'(\[nlhook@32473(?: type="(?:[^"\\\]]|\\["\\\]])*")?\]) (.*)', line)
if not m:
	sys.exit("not RFC 5424 as expected: %r" % line)
t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
if abs(t - time.time()) > 60:
	sys.exit("timestamp %s is not now" % m.group(1))
if m.group(3) != pid:
	sys.exit("PROCID %s is not the daemon's pid %s" % (m.group(3), pid))
if m.group(4) != sd:
	sys.exit("structured data %s, expected %s" % (m.group(4), sd))
ev = json.loads(m.group(5))
if ev.get("type") != want_type or (ifname and ev.get("ifname") != ifname):
	sys.exit("MSG %r is not the %s event of %s" % (ev, want_type, ifname))
PY
}

# nth_line FILE N: line N of FILE, or nothing.
nth_line() { sed -n "${2}p" "$1" 2>/dev/null; }
has_lines() { [ "$(wc -l < "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }

### syslog ###

receiver "$TMP/log.sock" "$TMP/recv1"
ip netns exec "$NS" env NLHOOK_SYSLOG_SOCKET="$TMP/log.sock" "$NLHOOKD" --rules "$TMP/rules" \
	--control "$TMP/ctl.sock" --event-log syslog 2>"$TMP/daemon.log" &
DAEMON=$!

check "nlhook.start arrives as a syslog datagram" wait_for 10 has_lines "$TMP/recv1" 1
check "nlhook.start is RFC 5424 with type in structured data and the event as MSG" \
	verify "$(nth_line "$TMP/recv1" 1)" "$DAEMON" '[nlhook@32473 type="nlhook.start"]' nlhook.start ""

ip -n "$NS" link add nlhp0 type veth peer name nlhq0
ip -n "$NS" link set nlhp0 up
check "link.up arrives" wait_for 10 has_lines "$TMP/recv1" 2
check "link.up message is well formed" \
	verify "$(nth_line "$TMP/recv1" 2)" "$DAEMON" '[nlhook@32473 type="link.up"]' link.up nlhp0

# The syslog daemon restarts: a new socket at the same path.
kill "$RECV"; wait "$RECV" 2>/dev/null || true; RECV=
rm -f "$TMP/log.sock"
receiver "$TMP/log.sock" "$TMP/recv2"
ip -n "$NS" link set nlhp0 down
check "after a syslog restart the daemon follows the new socket" wait_for 10 has_lines "$TMP/recv2" 1
# The backslash is text's one escape, \x5c, in the JSON as everywhere.
check "quotes, backslashes and ] are escaped in the structured data" \
	verify "$(nth_line "$TMP/recv2" 1)" "$DAEMON" '[nlhook@32473 type="odd\"type\]\\x5c"]' 'odd"type]\x5c' nlhp0
check "the daemon is still running" kill -0 "$DAEMON"

kill -TERM "$DAEMON"
wait "$DAEMON" && rc=0 || rc=$?
DAEMON=
check "SIGTERM stops it with status 0 (got $rc)" [ "$rc" -eq 0 ]

ip netns exec "$NS" env NLHOOK_SYSLOG_SOCKET="$TMP/nosuch.sock" "$NLHOOKD" --rules "$TMP/rules" \
	--control "$TMP/ctl.sock" --event-log syslog 2>"$TMP/daemon.log" && rc=0 || rc=$?
check "no syslog socket: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "no syslog socket: the error names it" grep -q "syslog: $TMP/nosuch.sock: No such file" "$TMP/daemon.log"

### JSON-lines file, reopened for logrotate ###

ip netns exec "$NS" "$NLHOOKD" --rules "$TMP/rules" --control "$TMP/ctl.sock" \
	--event-log "$TMP/events.jsonl" 2>"$TMP/daemon.log" &
DAEMON=$!
check "the file gets nlhook.start" wait_for 10 grep -qs '"type":"nlhook.start"' "$TMP/events.jsonl"
# Rotate with the shipped logrotate snippet, pointed at this file and at
# this daemon (the snippet sends its signal through systemctl).
sig=$(sed -n 's/.*--signal=\([A-Z0-9]*\).*/\1/p' "$SRCDIR/packaging/logrotate/nlhook")
check "the snippet sends SIGUSR1, which reopens without reloading (got '$sig')" [ "$sig" = USR1 ]
if ! command -v logrotate >/dev/null; then
	not_ok "logrotate is missing (apt-get install logrotate)"
	exit 1
fi
awk -v dir="$TMP" -v pid="$DAEMON" -v sig="$sig" '
	/^\/var\/log\/nlhook\// { sub(/^\/var\/log\/nlhook/, dir) }
	/^[ \t]*endscript/ { skip = 0 }
	skip { next }
	/^[ \t]*postrotate/ { print; print "\t\tkill -" sig " " pid; skip = 1; next }
	{ print }' "$SRCDIR/packaging/logrotate/nlhook" > "$TMP/logrotate.conf"
check "the logrotate snippet was adapted" grep -q "^$TMP/\*.jsonl {" "$TMP/logrotate.conf"
logrotate -f -s "$TMP/logrotate.state" "$TMP/logrotate.conf" > "$TMP/logrotate.log" 2>&1 && rc=0 || rc=$?
check "logrotate runs the snippet: exit 0 (got $rc: $(head -c 300 "$TMP/logrotate.log"))" [ $rc -eq 0 ]
check "the old file is now events.jsonl.1" grep -q '"type":"nlhook.start"' "$TMP/events.jsonl.1"
check "the daemon has reopened events.jsonl after the SIG$sig" \
	wait_for 10 sh -c "ls -l /proc/$DAEMON/fd | grep -q '$TMP/events.jsonl\$'"
check "the rotation reopened the log and did not reload the rules" \
	sh -c "grep -q 'event log reopened' '$TMP/daemon.log' && ! grep -q 'reloading rules' '$TMP/daemon.log'"
ip -n "$NS" link set nlhp0 up
check "the next event goes to the new file" wait_for 10 grep -qs '"type":"link.up"' "$TMP/events.jsonl"
check "the rotated file keeps its line and gets no more" \
	[ "$(grep -c . "$TMP/events.jsonl.1")" -eq 1 ]
kill -TERM "$DAEMON"; wait "$DAEMON" || true; DAEMON=

### journal priority prefixes ###

printf 'nlhook.on("link.up", {}, function() end\n' > "$TMP/rules/60-broken.lua"
chmod 644 "$TMP/rules/60-broken.lua"
: > "$TMP/stderr"
JOURNAL_STREAM=$(stat -c '%d:%i' "$TMP/stderr") "$NLHOOKD" --check --rules "$TMP/rules" 2>>"$TMP/stderr" || true
check "stderr that is the journal stream gets <3> prefixes" grep -q '^<3>.*60-broken.lua:' "$TMP/stderr"
"$NLHOOKD" --check --rules "$TMP/rules" 2>"$TMP/stderr.plain" || true
check "plain stderr gets none" sh -c "grep -q '60-broken.lua:' '$TMP/stderr.plain' && ! grep -q '^<' '$TMP/stderr.plain'"

echo "1..$N"
