#!/usr/bin/env bash
# 10,000 execs of a short script: every child reaped (no zombies), the
# daemon's fd count back where it was, its RSS flat.
. "$(dirname "$0")/lib.sh"

rule_file 50-execs.lua <<'LUA'
local done, started = 0, {}
-- Each queue keeps its 64 waiting execs topped up (the most a rule may
-- have waiting): every exit queues the next, until 5000 per rule.
local function start(q)
	started[q] = (started[q] or 0) + 1
	if started[q] > 5000 then return end
	assert(nlhook.exec({ "/bin/true" }, { on_exit = function(status)
		done = done + 1
		if done % 1000 == 0 then nlhook.emit({ done = done, status = status }) end
		start(q)
	end }))
end
-- Two rules' queues run side by side; each runs its own one at a time.
nlhook.on("link.up", { ifname = "vX0" }, function(ev) for i = 1, 64 do start("q1") end end, { name = "q1" })
nlhook.on("link.up", { ifname = "vX0" }, function(ev) for i = 1, 64 do start("q2") end end, { name = "q2" })
LUA

nsx ip link add vX0 type veth peer name pX0
start_daemon
fds0=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
nsx ip link set vX0 up
expect_event '.done == 2000' "2000 done" 60
rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
expect_event '.done == 10000' "10000 execs done" 120
if [ "$(count_events '.status != 0')" -eq 0 ]; then ok "every exit status 0"; else not_ok "non-zero statuses"; fi
rss2=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
fds1=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
zombies=$(ps -o stat= --ppid "$DAEMON_PID" | grep -c Z || true)
children=$( (ps -o pid= --ppid "$DAEMON_PID" || true) | wc -l)
if [ "$zombies" -eq 0 ] && [ "$children" -eq 0 ]; then ok "no zombies, no children left"; else not_ok "$zombies zombies, $children children"; fi
if [ "$fds0" -eq "$fds1" ]; then ok "fd count unchanged ($fds0)"; else not_ok "fds $fds0 -> $fds1"; fi
# From 2,000 to 10,000 execs: flat (within 1 MiB).
if [ $((rss2 - rss1)) -lt 1024 ]; then ok "RSS flat ($rss1 -> $rss2 kB)"; else not_ok "RSS grew $rss1 -> $rss2 kB"; fi
st=$(nsx "$NLHOOK" --control "$TMP/control.sock" status --json)
if echo "$st" | jq -e '.execs_running == 0' >/dev/null; then ok "status: no execs running"; else not_ok "status: $(echo "$st" | jq -c .execs_running)"; fi
if echo "$st" | jq -e '[.rules[] | .exec_dropped + .errors] | add == 0' >/dev/null; then
	ok "status: no exec dropped, no error"
else
	not_ok "status: $(echo "$st" | jq -c '[.rules[] | {name, exec_dropped, errors}]')"
fi

finish
