#!/usr/bin/env bash
# A flood of events on rules whose actions cannot keep up: a path action
# that sleeps, and a handler that sets a timer per event.  What waits is
# bounded (64 execs, 1024 timers per rule), the rest is dropped and
# counted in the status, the log says so without flooding, and the
# daemon's memory stays flat.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/slow" <<'SH'
#!/bin/sh
exec sleep 30
SH
chmod 755 "$TMP/slow"

rule_file 50-flood.lua <<LUA
nlhook.on({ "link.up", "link.down" }, { ifname = "vQ0" }, "$TMP/slow", { name = "slow" })
nlhook.on({ "link.up", "link.down" }, { ifname = "vQ0" }, function(ev)
	nlhook.after(300, function() end)
end, { name = "timers" })
nlhook.on("link.up", { ifname = "vQDone" }, function(ev) nlhook.emit({ done = true }) end)
LUA

nsx ip link add vQ0 type veth peer name pQ0
nsx ip link add vQDone type veth peer name pQDone
start_daemon --rcvbuf 67108864
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
for i in $(seq 10000); do echo "link set vQ0 up"; echo "link set vQ0 down"; done > "$TMP/batch"
t0=$(date +%s)
nsx ip -batch "$TMP/batch"
nsx ip link set vQDone up
expect_event '.done' "flood delivered" 60
t1=$(date +%s)
rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")

st=$(nsx "$NLHOOK" --control "$TMP/control.sock" status --json)
slow=$(echo "$st" | jq '.rules[] | select(.name == "slow")')
timers=$(echo "$st" | jq '.rules[] | select(.name == "timers")')
if echo "$slow" | jq -e '.exec_dropped > 0 and .execs_running == 1 and .execs_pending == 64 and
	.hits == .exec_dropped + 65 and .errors == 0' >/dev/null; then
	ok "execs: 1 running, 64 waiting, the other $(echo "$slow" | jq .exec_dropped) dropped and counted"
else
	not_ok "exec accounting: $(echo "$slow" | jq -c '{hits, exec_dropped, execs_running, execs_pending, errors}')"
fi
if echo "$timers" | jq -e '.after_dropped > 0 and .hits == .after_dropped + 1024 and .errors == 0' >/dev/null; then
	ok "timers: 1024 pending, the other $(echo "$timers" | jq .after_dropped) dropped and counted"
else
	not_ok "timer accounting: $(echo "$timers" | jq -c '{hits, after_dropped, errors}')"
fi
# The first drop and then at most one line a second, per kind.
max_lines=$((t1 - t0 + 2))
n_exec=$(grep -c 'rule slow: 64 execs waiting already' "$TMP/daemon.log" || true)
n_after=$(grep -c 'rule timers: 1024 nlhook.after timers pending already' "$TMP/daemon.log" || true)
if [ "$n_exec" -ge 1 ] && [ "$n_exec" -le "$max_lines" ] && [ "$n_after" -ge 1 ] && [ "$n_after" -le "$max_lines" ]; then
	ok "drops logged, rate-limited ($n_exec and $n_after lines in $((t1 - t0)) s)"
else
	not_ok "drop log lines: $n_exec exec, $n_after after in $((t1 - t0)) s"
fi
echo "# RSS ${rss0} -> ${rss1} kB"
if [ $((rss1 - rss0)) -lt 4096 ]; then
	ok "memory bounded through the flood (RSS ${rss0} -> ${rss1} kB)"
else
	not_ok "RSS grew ${rss0} -> ${rss1} kB"
fi

finish
