#!/usr/bin/env bash
# Overrun: with a 64 KiB receive buffer and the daemon stopped, a burst of
# 100,000 route changes overflows the socket (a route rule: the daemon
# keeps routes and hears their changes).  After SIGCONT the daemon must
# see ENOBUFS, raise nlhook.resync, re-dump, and end with the kernel's view;
# a link that went down in the gap yields its link.down.
. "$(dirname "$0")/lib.sh"

rule_file 50-resync.lua <<'LUA'
nlhook.on("nlhook.resync", {}, function(ev) nlhook.emit(ev) end)
nlhook.on("link.down", { ifname = "dGap" }, function(ev) nlhook.emit(ev) end)
nlhook.on("route.add", { dst = "default" }, function(ev) end)

-- "a.b.c.d/len" split in its two halves.
local function halves(prefix)
	local a, b, c, d, len = prefix:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$")
	local n, l = ((a * 256 + b) * 256 + c) * 256 + d, tonumber(len) + 1
	local function fmt(v) return ("%d.%d.%d.%d/%d"):format(v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255, l) end
	return fmt(n), fmt(n | (1 << (32 - l)))
end

-- A prefix's routes of the main table, split until each call is under the maximum.
local function collect(prefix, out)
	local ok, rs = pcall(nlhook.routes, { table = 254, dst = prefix })
	if not ok then
		assert(rs:find("routes match, more than"), rs)
		local lo, hi = halves(prefix)
		collect(lo, out)
		collect(hi, out)
		return
	end
	for _, r in ipairs(rs) do out[#out + 1] = r.dst .. " " .. (r.gateway or "-") .. " " .. (r.ifname or "-") end
end

-- A link named dump* coming up asks for the daemon's view of the IPv4 main table.
nlhook.on("link.up", { ifname = "dump*" }, function(ev)
	local main = {}
	local _, err = pcall(nlhook.routes)
	collect("0.0.0.0/0", main)
	table.sort(main)
	nlhook.emit({ view = table.concat(main, ","), all = tonumber(err:match("^nlhook.routes: (%d+) routes match")) })
end)
LUA

nsx ip link add d0 type veth peer name p0
nsx ip link add dGap type veth peer name pGap
nsx ip link add dump0 type veth peer name pDump
nsx ip link set p0 up
nsx ip link set d0 up
nsx ip link set dGap up
nsx ip addr add 10.80.0.1/16 dev d0
start_daemon --rcvbuf 65536

# 50,000 adds, then 25,000 of them deleted, then 25,000 replaced:
# 100,000 changes, 25,000 routes left.
python3 - "$TMP/batch" <<'PY'
import sys
addr = lambda i: "198.%d.%d.%d" % (18 + i // 65536, (i // 256) % 256, i % 256)
with open(sys.argv[1], "w") as f:
    for i in range(50000):
        f.write("route add %s/32 via 10.80.0.2 dev d0\n" % addr(i))
    for i in range(0, 50000, 2):
        f.write("route del %s/32\n" % addr(i))
    for i in range(1, 50000, 2):
        f.write("route replace %s/32 via 10.80.0.3 dev d0\n" % addr(i))
PY

kill -STOP "$DAEMON_PID"
CLEANUPS+=("kill -CONT $DAEMON_PID")
nsx ip -batch "$TMP/batch"
nsx ip link set dGap down
kill -CONT "$DAEMON_PID"

expect_event '.type == "nlhook.resync" and .source == "rtnl"' "ENOBUFS raised nlhook.resync" 15
expect_event '.type == "link.down" and .ifname == "dGap"' "link.down from the gap recovered by the re-dump" 30

# Ask for the view once the re-dump has settled.
wait_for "[ \$(ip netns exec $NS $NLHOOK --control $TMP/control.sock status --json | jq '.state.routes') -eq \$(ip netns exec $NS ip -j route show table all | jq length) ]" 30 || true
nsx ip link set dump0 up
expect_event '.view != null' "daemon answered with its route view" 10
kernel=$(nsx ip -j route show table main | jq -r '.[] | select(.dst | test(":") | not) |
	(if .dst == "default" then "default" elif (.dst | test("/")) then .dst else .dst + "/32" end) + " " +
	(.gateway // "-") + " " + (.dev // "-")' | sort | paste -sd, -)
daemon=$(jq -r 'select(.view != null) | .view' "$TMP/events.jsonl" | tail -1)
# Lua sorts bytewise, sort(1) by locale: compare as sets.
if [ "$(echo "$kernel" | tr , '\n' | LC_ALL=C sort)" = "$(echo "$daemon" | tr , '\n' | LC_ALL=C sort)" ]; then
	ok "nlhook.routes() equals ip route show ($(echo "$kernel" | tr , '\n' | wc -l) IPv4 main routes)"
else
	not_ok "nlhook.routes() differs from the kernel: $(diff <(echo "$kernel" | tr , '\n' | LC_ALL=C sort) <(echo "$daemon" | tr , '\n' | LC_ALL=C sort) | head -5 | tr '\n' ' ')"
fi
status=$(nsx "$NLHOOK" --control "$TMP/control.sock" status --json)
if [ "$(jq 'select(.view != null) | .all' "$TMP/events.jsonl" | tail -1)" = "$(echo "$status" | jq .state.routes)" ]; then
	ok "nlhook.routes() over the maximum: the error counts every route"
else
	not_ok "nlhook.routes() error count $(jq -c 'select(.view != null) | .all' "$TMP/events.jsonl") != $(echo "$status" | jq .state.routes)"
fi
if [ "$(echo "$status" | jq '.state.routes')" -eq "$(nsx ip -j route show table all | jq length)" ]; then
	ok "status --json route count equals the kernel's (all tables)"
else
	not_ok "status route count $(echo "$status" | jq '.state.routes') != kernel $(nsx ip -j route show table all | jq length)"
fi
if [ "$(echo "$status" | jq '.sources[] | select(.name == "rtnl") | .drops')" -ge 1 ] &&
   [ "$(echo "$status" | jq '.sources[] | select(.name == "rtnl") | .resyncs')" -ge 1 ]; then
	ok "status reports the drops and resyncs"
else
	not_ok "status lacks drops/resyncs: $(echo "$status" | jq -c '.sources')"
fi

finish
