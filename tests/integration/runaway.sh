#!/usr/bin/env bash
# Runaway rules are contained: an infinite loop, a memory bomb, a stack
# overflow and a plain error sit next to a good rule; the good rule fires
# for each of 1,000 events, the bad ones are stopped, logged with
# FILE:LINE, counted, then disabled; the daemon's memory stays bounded.
. "$(dirname "$0")/lib.sh"

rule_file 10-loop.lua <<'LUA'
nlhook.on({ "link.up", "link.down" }, { ifname = "vR0" }, function(ev)
	while true do end
end)
LUA
rule_file 11-bomb.lua <<'LUA'
nlhook.on({ "link.up", "link.down" }, { ifname = "vR0" }, function(ev)
	local t = {}
	for i = 1, 1e9 do t[i] = string.rep("x", 1024) .. i end   -- 1 TiB if it could
end)
LUA
rule_file 12-recurse.lua <<'LUA'
local function down(n) return down(n + 1) + 1 end
nlhook.on({ "link.up", "link.down" }, { ifname = "vR0" }, function(ev) down(1) end)
LUA
rule_file 13-error.lua <<'LUA'
nlhook.on({ "link.up", "link.down" }, { ifname = "vR0" }, function(ev)
	local x = nil
	return x.field
end)
LUA
rule_file 14-pcall.lua <<'LUA'
-- A loop inside pcall must not swallow the budget error.
nlhook.on({ "link.up", "link.down" }, { ifname = "vR0" }, function(ev)
	while true do pcall(function() while true do end end) end
end)
LUA
rule_file 50-good.lua <<'LUA'
local n = 0
nlhook.on({ "link.up", "link.down" }, { ifname = "vR0" }, function(ev)
	n = n + 1
	nlhook.emit({ good = n, t = ev.type })
end)
LUA

nsx ip link add vR0 type veth peer name pR0
start_daemon --rcvbuf 16777216
for i in $(seq 500); do echo "link set vR0 up"; echo "link set vR0 down"; done > "$TMP/batch"
nsx ip -batch "$TMP/batch"

if wait_for "[ \$(count_events '.good != null') -ge 1000 ]" 120; then
	ok "the good rule fired for all 1000 events"
else
	not_ok "the good rule fired $(count_events '.good != null') times, not 1000"
fi
last=$(jq -r 'select(.good != null) | .good' "$TMP/events.jsonl" | tail -1)
if [ "$last" = 1000 ]; then ok "in order, none twice"; else not_ok "last count $last"; fi

log="$TMP/daemon.log"
check_log() {
	if grep -qE "$1" "$log"; then ok "$2"; else not_ok "$2 (no log line matching $1)"; fi
}
check_log '10-loop.lua:2: instruction budget' "infinite loop stopped at its budget, FILE:LINE logged"
check_log '11-bomb.lua.*(memory|LUA_ERRMEM)' "memory bomb stopped at the cap"
# Lua frames are heap: deep recursion meets the memory cap or Lua's stack limit.
check_log '12-recurse.lua:[0-9]+: (.*stack overflow|out of memory)' "runaway recursion stopped, FILE:LINE logged"
check_log '13-error.lua:3: attempt to index' "runtime error logged with FILE:LINE"
check_log '14-pcall.lua.*instruction budget' "budget not swallowed by an inner pcall"
for f in 10-loop 11-bomb 12-recurse 13-error 14-pcall; do
	check_log "$f.lua:[0-9]+.*disabled after" "$f disabled after repeated failures"
done

st=$(nsx "$NLHOOK" --control "$TMP/control.sock" status --json)
if echo "$st" | jq -e '[.rules[] | select(.file | test("1[0-4]-")) | select(.disabled and .errors >= 10)] | length == 5' >/dev/null; then
	ok "status: the five bad rules disabled, errors counted"
else
	not_ok "status: $(echo "$st" | jq -c '[.rules[] | {name, errors, disabled}]')"
fi
if echo "$st" | jq -e '.rules[] | select(.file | test("50-good")) | .hits == 1000 and .errors == 0 and (.disabled | not)' >/dev/null; then
	ok "status: the good rule has 1000 hits, no errors"
else
	not_ok "status good rule: $(echo "$st" | jq -c '.rules[] | select(.file | test("50-good"))')"
fi
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
# Each rule file's Lua state is capped at 32 MiB; the bomb's memory is freed.
if [ "$rss" -lt 102400 ]; then ok "daemon RSS bounded (${rss} kB)"; else not_ok "daemon RSS ${rss} kB"; fi

finish
