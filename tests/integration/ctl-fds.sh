#!/usr/bin/env bash
# Out of file descriptors: with more control clients than its fd limit
# allows, nlhookd backs off instead of spinning on accept4, keeps serving
# the clients it has, says so once, and accepts again when fds free up.
. "$(dirname "$0")/lib.sh"

CTL=(ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock")

start_daemon
prlimit --pid "$DAEMON_PID" --nofile=256:256

# cpu_ticks PID: user + system time so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# 300 idle clients; on cue, a status request on the first (accepted long
# before the limit), then on the next cue all close.
python3 -c '
import json, os, resource, socket, sys, time
path, tmp = sys.argv[1], sys.argv[2]
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
socks = []
# A full listen queue refuses a non-blocking connect: retry while the
# daemon accepts; once it is out of fds, the queue is what gets in.
last = time.monotonic()
while len(socks) < 300 and time.monotonic() - last < 0.3:
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(path)
        socks.append(s)
        last = time.monotonic()
    except BlockingIOError:
        s.close()
        time.sleep(0.005)
print("connected", len(socks), flush=True)
def cue(name):
    while not os.path.exists(os.path.join(tmp, name)):
        time.sleep(0.02)
cue("query")
s = socks[0]
s.setblocking(True)
s.settimeout(3)
s.sendall(b"{\"v\":1,\"cmd\":\"status\"}\n")
print("reply", s.makefile().readline().strip(), flush=True)
cue("close")
for s in socks:
    s.close()' "$TMP/control.sock" "$TMP" > "$TMP/clients.out" 2>&1 &
CLIENTS=$!
CLEANUPS+=("kill $CLIENTS")
wait_for "grep -q connected '$TMP/clients.out'" 8 || true
n=$(awk '/^connected/ { print $2 }' "$TMP/clients.out")
if [ "${n:-0}" -gt 256 ]; then ok "$n clients connected, more than the 256 fds"; else not_ok "clients connected: $(cat "$TMP/clients.out")"; fi

# All within the 5 s the daemon gives a silent client: the shortage lasts.
touch "$TMP/query"
wait_for "grep -q '^reply' '$TMP/clients.out'" 3 || true
if grep '^reply' "$TMP/clients.out" | cut -d' ' -f2- | jq -e '.ok and .rules_count == 0' >/dev/null 2>&1; then
	ok "a client accepted before the shortage is still served"
else
	not_ok "status on a held connection: $(cat "$TMP/clients.out")"
fi
t0=$(cpu_ticks "$DAEMON_PID")
sleep 2
t1=$(cpu_ticks "$DAEMON_PID")
hz=$(getconf CLK_TCK)
# Under 10% of the 2 s.
if [ $((t1 - t0)) -lt $((hz / 5)) ]; then
	ok "the daemon does not spin: $((t1 - t0)) ticks of CPU in 2 s (CLK_TCK $hz)"
else
	not_ok "the daemon spins: $((t1 - t0)) ticks of CPU in 2 s (CLK_TCK $hz)"
fi
n=$(grep -c 'control: accept: Too many open files; turning clients away' "$TMP/daemon.log" || true)
if [ "$n" -eq 1 ]; then ok "the shortage is logged once"; else not_ok "the shortage is logged $n times"; fi

touch "$TMP/close"
wait_for "pid_dead $CLIENTS" 5 || true
if wait_for "\"\${CTL[@]}\" status" 10; then
	ok "status answers once the clients have gone"
else
	not_ok "no status after the clients closed"
fi
if grep -q 'control: accepting clients again' "$TMP/daemon.log"; then
	ok "the end of the shortage is logged"
else
	not_ok "the end of the shortage is not logged"
fi

finish
