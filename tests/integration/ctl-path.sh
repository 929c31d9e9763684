#!/usr/bin/env bash
# The control path belongs to one daemon: only a stale socket is replaced,
# a daemon in another namespace cannot take a live one's path, a daemon
# removes the path at exit only while it is still its own socket, and the
# default path is per network namespace.
. "$(dirname "$0")/lib.sh"

unset NLHOOK_CONTROL
NS2="${NS}-b"
ip netns add "$NS2"
CLEANUPS+=("ip netns del $NS2")
SOCK="$TMP/control.sock"

# daemon_in NS LOG [ARGS...]: nlhookd in NS, in the background; sets P.
daemon_in() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$NLHOOKD" --rules "$RULES" "$@" > /dev/null 2> "$log" &
	P=$!
	CLEANUPS+=("kill -KILL $P")
}

# A regular file at --control is refused and left as it was.
echo "precious" > "$SOCK"
rc=0; timeout 10 ip netns exec "$NS" "$NLHOOKD" --rules "$RULES" --control "$SOCK" 2> "$TMP/file.log" || rc=$?
if [ "$rc" -eq 1 ] && grep -q "control socket: $SOCK exists and is not a socket" "$TMP/file.log" &&
	[ "$(cat "$SOCK")" = "precious" ]; then
	ok "a regular file at --control is refused and left intact"
else
	not_ok "regular file at --control: exit $rc, $(cat "$TMP/file.log"), file: $(cat "$SOCK" 2>&1)"
fi
rm -f "$SOCK"

# A live daemon's socket is not taken by a daemon in another namespace.
start_daemon
daemon_in "$NS2" "$TMP/second.log" --control "$SOCK"
rc=0; wait_for "pid_dead $P" 10 || true; wait "$P" || rc=$?
if [ "$rc" -eq 1 ] && grep -q "control socket: another nlhookd listens on $SOCK" "$TMP/second.log"; then
	ok "a daemon in another namespace refuses a live daemon's path"
else
	not_ok "second daemon on a live path: exit $rc, $(cat "$TMP/second.log")"
fi
if nsx "$NLHOOK" --control "$SOCK" status > /dev/null; then
	ok "the first daemon still answers on its path"
else
	not_ok "the first daemon lost its socket"
fi

# A socket whose daemon died without cleaning up is stale: replaced.
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
if [ -S "$SOCK" ]; then ok "a killed daemon leaves its socket behind"; else not_ok "no stale socket to test with"; fi
start_daemon
if grep -q "replaced the stale socket $SOCK" "$TMP/daemon.log" && nsx "$NLHOOK" --control "$SOCK" status > /dev/null; then
	ok "a stale socket is replaced"
else
	not_ok "stale socket: $(cat "$TMP/daemon.log")"
fi

# At exit, a daemon leaves alone a path that is no longer its socket.
rm "$SOCK"
daemon_in "$NS2" "$TMP/third.log" --control "$SOCK"
wait_for "grep -q ready '$TMP/third.log'" 10 || true
stop_daemon
if [ -S "$SOCK" ] && ip netns exec "$NS2" "$NLHOOK" --control "$SOCK" status > /dev/null; then
	ok "a daemon does not unlink another daemon's socket at exit"
else
	not_ok "the other daemon's socket is gone: $(cat "$TMP/third.log")"
fi
kill -TERM "$P"
rc=0; wait "$P" || rc=$?
if [ "$rc" -eq 0 ] && [ ! -e "$SOCK" ]; then ok "a daemon unlinks its own socket at exit"; else not_ok "exit $rc, $(ls -l "$SOCK" 2>&1)"; fi

# The default path: one per namespace.  $NS is named (ip netns add).
NSSOCK="/run/nlhook/netns/$NS.sock"
CLEANUPS+=("rm -f $NSSOCK")
[ -d /run/nlhook/netns ] || CLEANUPS+=("rmdir /run/nlhook/netns")
[ -d /run/nlhook ] || CLEANUPS+=("rmdir /run/nlhook")
out=$(ip netns exec "$NS" "$NLHOOK" status 2>&1) || true
if echo "$out" | grep -q "cannot reach nlhookd at $NSSOCK"; then
	ok "nlhook in a named namespace looks for $NSSOCK"
else
	not_ok "nlhook's default path in $NS: $out"
fi
daemon_in "$NS" "$TMP/named.log"
if wait_for "grep -q ready '$TMP/named.log'" 10 && [ -S "$NSSOCK" ]; then
	ok "nlhookd in a named namespace listens on $NSSOCK"
else
	not_ok "nlhookd default path in $NS: $(cat "$TMP/named.log"; ls -l /run/nlhook/netns 2>&1)"
fi
if ip netns exec "$NS" "$NLHOOK" status > "$TMP/named.status" 2>&1; then
	ok "ip netns exec $NS nlhook status finds it"
else
	not_ok "nlhook status in $NS: $(cat "$TMP/named.status")"
fi
kill -TERM "$P"
wait "$P" || true
if [ ! -e "$NSSOCK" ]; then ok "and removes it at exit"; else not_ok "$NSSOCK left behind"; fi
# Outside any named namespace the default is the configured path (unless
# the initial one is also named in /run/netns).
out=$("$NLHOOK" status 2>&1) && rc=0 || rc=$?
if [ "$rc" -eq 0 ] || echo "$out" | grep -q "cannot reach nlhookd at /run/nlhook/control.sock"; then
	ok "nlhook in the initial namespace looks for /run/nlhook/control.sock"
else
	not_ok "nlhook's default path here: $out"
fi

finish
