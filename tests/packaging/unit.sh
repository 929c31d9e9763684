#!/usr/bin/env bash
# nlhookd.service: systemd-analyze verify finds nothing to say about it, its
# exposure stays low, and the daemon speaks the notify protocol the unit's
# Type=notify relies on (READY=1, RELOADING=1 on SIGHUP and on
# `nlhook reload` - the unit's ExecReload -, STOPPING=1), and works with
# the privileges the unit leaves it.
set -euo pipefail

: "${NLHOOKD:?}" "${NLHOOK:?}" "${SRCDIR:?}"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (network namespaces)"
	exit 77
fi
if ! command -v systemd-analyze >/dev/null; then
	echo "not ok - systemd-analyze is missing (apt-get install systemd)"
	exit 1
fi

NS="nlhp-unit-$$"
TMP=$(mktemp -d /tmp/nlhook-unit.XXXXXX)
DAEMON=
RECV=
GROUP_MADE=
FAILS=0
N=0

cleanup() {
	local rc=$?
	[ -n "$DAEMON" ] && kill -TERM "$DAEMON" 2>/dev/null && { wait "$DAEMON" 2>/dev/null || true; }
	[ -n "$RECV" ] && kill "$RECV" 2>/dev/null && { wait "$RECV" 2>/dev/null || true; }
	ip netns del "$NS" 2>/dev/null || true
	[ -n "$GROUP_MADE" ] && groupdel nlhook
	if [ $rc -ne 0 ] || [ $FAILS -ne 0 ]; then
		echo "--- daemon log ---"; cat "$TMP/daemon.log" 2>/dev/null || true
		echo "--- notify ---"; cat "$TMP/notify" 2>/dev/null || true
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
wait_for() {
	local t=$(($1 * 10)); shift
	while [ $t -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}

### the unit file ###

# The template with the programs under test, so verify can check that they
# are executable; man pages are checked once installed (deb.sh).
sed -e "s|@sbindir@|$(dirname "$NLHOOKD")|" -e "s|@bindir@|$(dirname "$NLHOOK")|" \
	"$SRCDIR/packaging/systemd/nlhookd.service.in" > "$TMP/nlhookd.service"
check "the template has no unreplaced @...@" sh -c "! grep -q '@[a-z]*@' '$TMP/nlhookd.service'"
(cd "$TMP" && systemd-analyze verify --man=no nlhookd.service) > "$TMP/verify" 2>&1 && rc=0 || rc=$?
check "systemd-analyze verify: exit 0 (got $rc)" [ $rc -eq 0 ]
check "systemd-analyze verify: says nothing" sh -c "! grep . '$TMP/verify'"
cat "$TMP/verify"
# A key systemd does not know is only a warning: make sure verify reports one.
sed 's/^ProtectHome=/ProtectHom=/' "$TMP/nlhookd.service" > "$TMP/typo.service"
(cd "$TMP" && systemd-analyze verify --man=no typo.service) > "$TMP/verify" 2>&1 || true
check "systemd-analyze verify reports a misspelt key (the check above can fail)" \
	grep -q "Unknown key 'ProtectHom'" "$TMP/verify"
# --threshold counts in tenths of the exposure level it prints: 30 is 3.0.
(cd "$TMP" && systemd-analyze security --offline=yes --threshold=30 nlhookd.service) > "$TMP/security" 2>&1 && rc=0 || rc=$?
check "systemd-analyze security: exposure at most 3 ($(grep -o 'exposure level.*' "$TMP/security" || echo '?'))" [ $rc -eq 0 ]
for key in Type=notify "ExecReload=$(dirname "$NLHOOK")/nlhook reload" CapabilityBoundingSet=CAP_NET_ADMIN \
	NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	"RestrictAddressFamilies=AF_NETLINK AF_UNIX" RuntimeDirectory=nlhook WatchdogSec=30s Restart=on-failure; do
	check "the unit sets $key" grep -qxF "$key" "$TMP/nlhookd.service"
done

### the notify protocol ###

ip netns add "$NS"
mkdir -m 755 "$TMP/rules"
printf 'nlhook.on("link.up", {}, function() end)\n' > "$TMP/rules/10-x.lua"
chmod 644 "$TMP/rules/10-x.lua"
python3 -u - "$TMP/notify.sock" "$TMP/notify" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
	while True:
		out.write(s.recv(4096) + b"\n")
PY
RECV=$!
wait_for 5 test -S "$TMP/notify.sock"

lines() { grep -c . "$TMP/notify" 2>/dev/null || true; }
ip netns exec "$NS" env NOTIFY_SOCKET="$TMP/notify.sock" "$NLHOOKD" --rules "$TMP/rules" \
	--control "$TMP/ctl.sock" 2>"$TMP/daemon.log" &
DAEMON=$!
check "READY=1 once started" wait_for 10 grep -qx READY=1 "$TMP/notify"
check "the control socket is there when READY=1 is sent" test -S "$TMP/ctl.sock"
kill -HUP "$DAEMON"
check "SIGHUP: RELOADING=1 then READY=1" wait_for 10 sh -c "[ \$(grep -c . '$TMP/notify') -ge 3 ]"
check "SIGHUP: in that order" [ "$(sed -n 2,3p "$TMP/notify" | tr '\n' ' ')" = "RELOADING=1 READY=1 " ]
ip netns exec "$NS" "$NLHOOK" --control "$TMP/ctl.sock" reload > "$TMP/reload.out" 2>&1 && rc=0 || rc=$?
check "ExecReload's nlhook reload: exit 0 (got $rc)" [ $rc -eq 0 ]
check "nlhook reload: RELOADING=1 then READY=1" \
	wait_for 10 sh -c "[ \"\$(sed -n 4,5p '$TMP/notify' | tr '\n' ' ')\" = 'RELOADING=1 READY=1 ' ]"
# A reload that fails keeps the old rules and says so through nlhook reload.
printf 'nlhook.on("no.such.type", {}, function() end)\n' > "$TMP/rules/20-bad.lua"
chmod 644 "$TMP/rules/20-bad.lua"
ip netns exec "$NS" "$NLHOOK" --control "$TMP/ctl.sock" reload > "$TMP/reload.out" 2>&1 && rc=0 || rc=$?
check "nlhook reload of broken rules: exit 1 (got $rc)" [ $rc -eq 1 ]
check "nlhook reload of broken rules names the file" grep -q "20-bad.lua:1" "$TMP/reload.out"
check "the daemon is still READY after it" wait_for 10 sh -c "[ \"\$(tail -n 1 '$TMP/notify')\" = READY=1 ]"
kill -TERM "$DAEMON"
wait "$DAEMON" && rc=0 || rc=$?
DAEMON=
check "SIGTERM: exit 0 (got $rc)" [ $rc -eq 0 ]
check "SIGTERM: STOPPING=1 last" [ "$(tail -n 1 "$TMP/notify")" = STOPPING=1 ]
check "no WATCHDOG=1 without WATCHDOG_USEC" sh -c "! grep -q WATCHDOG=1 '$TMP/notify'"

# With the watchdog on (WatchdogSec=0.4s gives WATCHDOG_USEC=400000), the
# loop pings every half period, and stops pinging when it stops turning.
: > "$TMP/notify"
rm -f "$TMP/rules/20-bad.lua"
ip netns exec "$NS" env NOTIFY_SOCKET="$TMP/notify.sock" WATCHDOG_USEC=400000 "$NLHOOKD" --rules "$TMP/rules" \
	--control "$TMP/ctl.sock" 2>"$TMP/daemon.log" &
DAEMON=$!
check "READY=1 with the watchdog on" wait_for 10 grep -qx READY=1 "$TMP/notify"
sleep 1
n=$(grep -cx WATCHDOG=1 "$TMP/notify")
check "WATCHDOG=1 every 0.2 s (got $n in about 1 s)" [ "$n" -ge 4 -a "$n" -le 8 ]
kill -STOP "$DAEMON"
n=$(grep -cx WATCHDOG=1 "$TMP/notify")
sleep 0.6
check "no WATCHDOG=1 while the loop is stopped" [ "$(grep -cx WATCHDOG=1 "$TMP/notify")" -le $((n + 1)) ]
kill -CONT "$DAEMON"
kill -TERM "$DAEMON"
wait "$DAEMON" || true
DAEMON=

### least privilege ###

# What the unit leaves the daemon: root with CAP_NET_ADMIN alone, no new
# privileges, and the nlhook group as a supplementary group.  setpriv
# reproduces that part of the sandbox (the rest needs systemd as pid 1).
if ! getent group nlhook >/dev/null; then
	groupadd --system nlhook
	GROUP_MADE=1
fi
printf 'nlhook.on("link.up", { ifname = "nlhu*" }, function(ev) nlhook.log.info("saw %%s up", ev.ifname) end)\n' \
	> "$TMP/rules/30-log.lua"
chmod 644 "$TMP/rules/30-log.lua"
rm -f "$TMP/rules/20-bad.lua"
ip netns exec "$NS" setpriv --bounding-set -all,+net_admin --no-new-privs --groups nlhook \
	"$NLHOOKD" --rules "$TMP/rules" --control "$TMP/ctl.sock" --rcvbuf 8388608 2>"$TMP/daemon.log" &
DAEMON=$!
check "it starts with CAP_NET_ADMIN alone" wait_for 10 grep -q "ready:" "$TMP/daemon.log"
check "its effective capabilities are CAP_NET_ADMIN alone" grep -qx $'CapEff:\t0000000000001000' /proc/$DAEMON/status
rcvbuf=$("$NLHOOK" --control "$TMP/ctl.sock" status --json |
	python3 -c 'import json, sys; print(next(s["rcvbuf"] for s in json.load(sys.stdin)["sources"] if s["name"] == "rtnl"))' || true)
check "SO_RCVBUFFORCE works with it: rtnl rcvbuf is 2 x 8 MiB (got $rcvbuf)" [ "$rcvbuf" = 16777216 ]
check "the control socket is root:nlhook 0660 without CAP_CHOWN" \
	[ "$(stat -c '%U:%G %a' "$TMP/ctl.sock")" = "root:nlhook 660" ]
check "no complaint about chown" sh -c "! grep -q chown '$TMP/daemon.log'"
ip -n "$NS" link add nlhu0 type veth peer name nlhu1
ip -n "$NS" link set nlhu0 up
check "rules run: the link.up of nlhu0 is logged" wait_for 10 grep -q "saw nlhu0 up" "$TMP/daemon.log"
kill -TERM "$DAEMON"
wait "$DAEMON" && rc=0 || rc=$?
DAEMON=
check "it stops cleanly (got $rc)" [ $rc -eq 0 ]

echo "1..$N"
