#!/usr/bin/env bash
# An event storm (10,000 link flaps as fast as ip can make them): debounce
# runs once with the last event, rate lets through what its rate allows and
# counts the rest exactly, memory stays bounded.
. "$(dirname "$0")/lib.sh"

rule_file 50-storm.lua <<'LUA'
nlhook.on({ "link.up", "link.down" }, { ifname = "vS0" }, function(ev)
	nlhook.emit({ debounced = ev.type })
end, { debounce = 1, name = "debounced" })
nlhook.on({ "link.up", "link.down" }, { ifname = "vS0" }, function(ev)
	nlhook.emit({ rated = ev.type })
end, { rate = 20, name = "rated" })
local n = 0
nlhook.on({ "link.up", "link.down" }, { ifname = "vS0" }, function(ev)
	n = n + 1
end, { name = "counter" })
nlhook.on("link.up", { ifname = "vDone" }, function(ev)
	nlhook.emit({ counted = n })
end)
LUA

nsx ip link add vS0 type veth peer name pS0
nsx ip link add vDone type veth peer name pDone
start_daemon --rcvbuf 67108864
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
for i in $(seq 5000); do echo "link set vS0 up"; echo "link set vS0 down"; done > "$TMP/batch"
t0=$(date +%s.%N)
nsx ip -batch "$TMP/batch"
t1=$(date +%s.%N)
echo "# 10000 flaps in $(echo "$t1 - $t0" | bc 2>/dev/null || echo "?") s"
nsx ip link set vDone up
expect_event '.counted != null' "storm delivered" 30
t2=$(date +%s.%N)
counted=$(jq -r 'select(.counted != null) | .counted' "$TMP/events.jsonl")
if [ "$counted" -eq 10000 ]; then ok "all 10000 edges reached the rules"; else not_ok "counter saw $counted edges"; fi

expect_event '.debounced == "link.down"' "debounce ran with the last event (link.down)" 5
SETTLE=1.5 expect_count '.debounced != null' 1 "debounce ran once for the whole storm"

st=$(nsx "$NLHOOK" --control "$TMP/control.sock" status --json)
rated=$(echo "$st" | jq '.rules[] | select(.name == "rated")')
deb=$(echo "$st" | jq '.rules[] | select(.name == "debounced")')
emitted=$(count_events '.rated != null')
if echo "$rated" | jq -e --argjson n "$counted" --argjson e "$emitted" \
	'.hits == $n and .runs == $e and .runs + .rate_dropped == .hits' >/dev/null; then
	ok "rate: runs ($emitted) + dropped = hits ($counted), exactly"
else
	not_ok "rate accounting: $(echo "$rated" | jq -c '{hits, runs, rate_dropped}') emitted=$emitted"
fi
# 20 a second for as long as the storm lasted (a loaded machine makes it
# last longer), and a burst's worth.
max=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%d", 20 * (b - a) + 40 }')
if [ "$emitted" -ge 1 ] && [ "$emitted" -le "$max" ]; then
	ok "rate held the storm to $emitted runs (at most $max in $(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s)"
else
	not_ok "rate let $emitted runs through, more than $max"
fi
if echo "$deb" | jq -e --argjson n "$counted" '.hits == $n and .runs == 1' >/dev/null; then
	ok "debounce: $counted hits coalesced into 1 run"
else
	not_ok "debounce accounting: $(echo "$deb" | jq -c '{hits, runs}')"
fi
rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
if [ $((rss1 - rss0)) -lt 8192 ]; then
	ok "memory bounded through the storm (RSS ${rss0} -> ${rss1} kB)"
else
	not_ok "RSS grew ${rss0} -> ${rss1} kB"
fi

finish
