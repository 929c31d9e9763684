#!/usr/bin/env bash
# The last line of defence, for code the instruction budget cannot stop
# (here: the budget switched off with NLHOOKD_LUA_BUDGET=0, the limits
# shortened with NLHOOKD_STUCK_TIMEOUT=4).  A handler still running after
# a fifth of it is interrupted, logged and counted as "stuck"; SIGTERM
# is not ignored meanwhile.  One stuck inside C code (a backtracking
# pattern) past the limit makes the daemon name the rule in its log and
# abort; after a restart that rule file stays disabled, and status says
# why, until the rules are reloaded or the file changes.
. "$(dirname "$0")/lib.sh"
ulimit -c 0

rule_file 10-loop.lua <<'LUA'
nlhook.on("link.up", { ifname = "vS0" }, function(ev) while true do end end, { name = "spin" })
LUA
rule_file 20-pattern.lua <<'LUA'
nlhook.on("link.up", { ifname = "vH0" }, function(ev)
	string.rep("a", 400):find(string.rep("a*", 5) .. "b")
end, { name = "backtrack" })
LUA
rule_file 50-good.lua <<'LUA'
nlhook.on("link.up", {}, function(ev) nlhook.emit({ good = ev.ifname }) end)
LUA
for l in vS0 vH0 vG0 vG1 vG2; do nsx ip link add "$l" type veth peer name "p$l"; done
export NLHOOKD_LUA_BUDGET=0 NLHOOKD_STUCK_TIMEOUT=4
CTL=(ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock")
start_daemon

# A Lua loop with no budget: interrupted after 0.8 s of wall clock.
nsx ip link set vS0 up
expect_event '.good == "vS0"' "the good rule still got vS0 after the stuck one" 5
# The soft limit is 0.8 s here: the count must not depend on whole seconds.
after=$(grep -oE "rule spin .*10-loop.lua:1: stuck: still running after [0-9]+\.[0-9] s" "$TMP/daemon.log" | head -1 | grep -oE "[0-9]+\.[0-9] s$" || true)
if [ -n "$after" ] && awk -v t="${after% s}" 'BEGIN { exit !(t >= 0.8 && t < 4) }'; then
	ok "the stuck handler was interrupted after $after and logged with FILE:LINE"
else
	not_ok "no stuck line: $(grep -m3 spin "$TMP/daemon.log")"
fi
if "${CTL[@]}" status --json | jq -e '.rules[] | select(.name == "spin") | .stuck == 1 and .errors == 1' >/dev/null; then
	ok "status: stuck 1, counted as an error"
else
	not_ok "status: $("${CTL[@]}" status --json | jq -c '.rules[] | select(.name == "spin")')"
fi

# SIGTERM while a handler is stuck: the daemon stops within the soft limit.
nsx ip link set vS0 down
nsx ip link set vS0 up
sleep 0.2
t0=$(date +%s%N)
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
dt=$((($(date +%s%N) - t0) / 1000000))
DAEMON_PID=
if [ $rc -eq 0 ] && [ $dt -lt 3000 ]; then ok "SIGTERM during a stuck handler: exit 0 after $dt ms"; else not_ok "SIGTERM: exit $rc after $dt ms"; fi

# Stuck inside C: named in the log, then abort.
start_daemon
nsx ip link set vH0 up
rc=0; t0=$(date +%s)
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
if [ $rc -eq 134 ]; then ok "the daemon aborted ($rc) after $(($(date +%s) - t0)) s"; else not_ok "exit status $rc"; fi
if grep -qE "rule backtrack \(20-pattern.lua:1\) has been running for [0-9]+ s .*aborting; .*20-pattern.lua stays disabled" "$TMP/daemon.log"; then
	ok "the log names the rule before the abort"
else
	not_ok "abort line: $(tail -3 "$TMP/daemon.log")"
fi
if [ -s "$TMP/control.sock.stuck" ]; then ok "the rule file is recorded"; else not_ok "no record"; fi

# Restarted (as systemd would): that file is disabled, and says why.
start_daemon
nsx ip link set vG0 up
expect_event '.good == "vG0"' "after the restart the other rules run"
st=$("${CTL[@]}" status --json)
if echo "$st" | jq -e '.rules[] | select(.name == "backtrack") | .disabled and (.disabled_reason | test("stuck: rule backtrack ran for [0-9]+ s"))' >/dev/null; then
	ok "status: the stuck file's rule is disabled, with the reason"
else
	not_ok "status: $(echo "$st" | jq -c '.rules[] | select(.name == "backtrack")')"
fi
if "${CTL[@]}" status | grep "stuck: rule backtrack" >/dev/null; then ok "the human status says why too"; else not_ok "human status: $("${CTL[@]}" status | grep backtrack)"; fi
nsx ip link set vH0 down
nsx ip link set vH0 up
sleep 0.5
if kill -0 "$DAEMON_PID" && "${CTL[@]}" status >/dev/null; then ok "the disabled rule does not run"; else not_ok "the daemon is stuck again"; fi

# A reload enables it and forgets the record.
"${CTL[@]}" reload
if "${CTL[@]}" status --json | jq -e '.rules[] | select(.name == "backtrack") | .disabled | not' >/dev/null &&
   [ ! -e "$TMP/control.sock.stuck" ]; then
	ok "reload: enabled again, record gone"
else
	not_ok "after reload: $("${CTL[@]}" status --json | jq -c '.rules[] | select(.name == "backtrack")')"
fi

# Stuck again; this time the file changes before the restart: enabled.
nsx ip link set vH0 down
nsx ip link set vH0 up
rc=0; wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
echo "-- fixed" >> "$RULES/20-pattern.lua"
start_daemon
if "${CTL[@]}" status --json | jq -e '.rules[] | select(.name == "backtrack") | .disabled | not' >/dev/null &&
   [ ! -e "$TMP/control.sock.stuck" ]; then
	ok "a changed file is not held against it"
else
	not_ok "changed file: $("${CTL[@]}" status --json | jq -c '.rules[] | select(.name == "backtrack")')"
fi
nsx ip link set vG1 up
expect_event '.good == "vG1"' "and the daemon runs"

finish
