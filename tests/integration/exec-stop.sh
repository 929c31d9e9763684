#!/usr/bin/env bash
# Stopping the daemon while a rule's program ignores SIGTERM: the program
# and the grandchild it started (same process group, ignoring SIGTERM
# too) are killed once the grace period is over, and the daemon exits 0
# no later than that.
. "$(dirname "$0")/lib.sh"

rule_file 50-stubborn.lua <<LUA
nlhook.on("link.up", { ifname = "vK0" }, function(ev)
	nlhook.exec({ "/bin/sh", "-c", "trap '' TERM; sleep 1000 & echo \$\$ \$! > $TMP/pids; wait" }, { timeout = 0 })
end)
LUA

nsx ip link add vK0 type veth peer name pK0
start_daemon
nsx ip link set vK0 up
if wait_for "[ -s '$TMP/pids' ]" 5; then ok "stubborn script started"; else not_ok "script did not start"; fi
read -r sh_pid sleep_pid < "$TMP/pids"
if ! pid_dead "$sh_pid" && ! pid_dead "$sleep_pid"; then
	ok "script ($sh_pid) and grandchild ($sleep_pid) running"
else
	not_ok "script or grandchild gone before the stop"
fi

grace=2
t0=$(date +%s%N)
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
t1=$(date +%s%N)
elapsed_ms=$(( (t1 - t0) / 1000000 ))
echo "# daemon exited after $elapsed_ms ms"
if [ $rc -eq 0 ]; then ok "daemon exited 0"; else not_ok "daemon exit status $rc"; fi
if [ $elapsed_ms -le $(( (grace + 1) * 1000 )) ]; then
	ok "daemon exited within grace + 1 s ($elapsed_ms ms)"
else
	not_ok "daemon took $elapsed_ms ms to exit"
fi
# Both gone within grace + 1 s of the SIGTERM (a zombie waiting for init counts as gone).
both_dead() { pid_dead "$sh_pid" && pid_dead "$sleep_pid"; }
left_s=$(( ((grace + 1) * 1000 - elapsed_ms + 999) / 1000 ))
if both_dead || { [ $left_s -gt 0 ] && wait_for both_dead "$left_s"; }; then
	ok "script and grandchild killed within grace + 1 s"
else
	not_ok "left alive: $(for p in $sh_pid $sleep_pid; do pid_dead "$p" || echo "$p"; done | tr '\n' ' ')"
fi
if grep -q "still alive 2 s after SIGTERM, sending SIGKILL" "$TMP/daemon.log"; then
	ok "SIGKILL after the grace period logged"
else
	not_ok "no log line for the SIGKILL"
fi

finish
