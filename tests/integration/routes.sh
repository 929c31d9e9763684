#!/usr/bin/env bash
# Route state: none while nothing needs it; the first nlhook.routes()
# reads the table (one dump) and keeps it from then on; the filters
# (table, dst as "inside that prefix", ifname) are applied by the daemon;
# a call over the maximum fails with the count.  Then, with a route rule
# loaded, the IPv4 routes the kernel drops without a word when a link
# goes down or away come out as route.del, once each, and the state
# stays the kernel's.
. "$(dirname "$0")/lib.sh"

rule_file 50-query.lua <<'LUA'
local function list(rs)
	local t = {}
	for _, r in ipairs(rs) do t[#t + 1] = r.dst .. "@" .. r.table .. "@" .. (r.ifname or "-") end
	table.sort(t)
	return table.concat(t, " ")
end
nlhook.on("link.up", { ifname = "trig1" }, function(ev)
	nlhook.emit({ q = "main", r = list(nlhook.routes({ table = 254, dst = "10.77.0.0/16" })) })
	nlhook.emit({ q = "vF", r = list(nlhook.routes({ ifname = "vF", table = 254 })) })
	nlhook.emit({ q = "vF100", r = list(nlhook.routes({ ifname = "vF", table = 100 })) })
	nlhook.emit({ q = "v6", r = list(nlhook.routes({ ifname = "vR", dst = "fd77::/16", table = 254 })) })
	nlhook.emit({ q = "default", r = list(nlhook.routes({ dst = "default", table = 254 })) })
	nlhook.emit({ q = "host", r = list(nlhook.routes({ dst = "192.0.2.7" })) })
	nlhook.emit({ q = "nolink", r = list(nlhook.routes({ ifname = "nosuch0" })) })
	local ok, err = pcall(nlhook.routes, { table = 200 })
	nlhook.emit({ q = "limit", ok = ok, err = err })
	local ok2, rs = pcall(nlhook.routes, { table = 200, dst = "100.64.0.0/19" })
	nlhook.emit({ q = "narrowed", ok = ok2, n = ok2 and #rs or rs })
	local errs = {}
	for _, f in ipairs({ { dst = "10.0.0.0/33" }, { table = "main" }, { color = "red" }, { ifname = 3 } }) do
		local _, e = pcall(nlhook.routes, f)
		errs[#errs + 1] = e
	end
	nlhook.emit({ q = "bad", r = table.concat(errs, "|") })
end)
LUA

nsx ip link add vR type veth peer name pR
nsx ip link add vF type veth peer name pF
nsx ip link add trig1 type veth peer name trig2
nsx sysctl -qw net.ipv6.conf.vF.disable_ipv6=1 net.ipv6.conf.pF.disable_ipv6=1
for l in pR vR pF vF; do nsx ip link set "$l" up; done
nsx ip addr add 10.77.0.1/24 dev vR
nsx ip addr add fd77::1/64 dev vR nodad
nsx ip addr add 10.88.0.1/24 dev vF
nsx ip route add default via 10.77.0.2
nsx ip route add 10.77.1.0/24 via 10.77.0.2
nsx ip route add 10.77.2.0/24 via 10.77.0.2 table 100
nsx ip route add 192.0.2.0/24 via 10.77.0.3 metric 5
nsx ip route add fd77:1::/48 via fd77::2
nsx ip route add 10.88.1.0/24 via 10.88.0.2
nsx ip route add 10.88.2.0/24 via 10.88.0.2 table 100
nsx ip route add 10.88.3.0/24 dev vF table 100
# One more than a call may return, in a table of their own.
for i in $(seq 0 10000); do echo "route add 100.64.$((i / 256)).$((i % 256))/32 via 10.77.0.2 table 200"; done > "$TMP/batch"
nsx ip -batch "$TMP/batch"
start_daemon

state() { nsx "$NLHOOK" --control "$TMP/control.sock" status --json | jq -c "$1"; }
kernel_routes() { nsx ip -j route show table all | jq length; }
if [ "$(state '[.state.routes_kept, .state.routes]')" = "[false,0]" ]; then
	ok "no rule needs routes: none kept"
else
	not_ok "routes kept with no rule needing them: $(state .state)"
fi
# Online or not is a matter of routes: unknown while none are kept.
if [ "$(state '.online')" = "null" ] &&
   nsx "$NLHOOK" --control "$TMP/control.sock" status | grep '^network .*, online unknown' >/dev/null; then
	ok "online unknown while no routes are kept"
else
	not_ok "online: $(state '[.net_state, .online]')"
fi

nsx ip link set trig2 up
nsx ip link set trig1 up
expect_event '.q == "bad"' "nlhook.routes() answered" 10
# The routes read for that call reach the operational states too.
if wait_for "[ \"\$(state '.online')\" = true ]" 5; then
	ok "online once the routes are kept: the default route through a routable link"
else
	not_ok "online after the routes were read: $(state '[.net_state, .online]')"
fi
answer() { jq -r --arg q "$1" 'select(.q == $q) | '"$2" "$TMP/events.jsonl"; }
check() {	# check QUERY JQ EXPECTED WHAT
	local got
	got=$(answer "$1" "$2")
	if [ "$got" = "$3" ]; then ok "$4"; else not_ok "$4: expected '$3', got '$got'"; fi
}
check main .r "10.77.0.0/24@254@vR 10.77.1.0/24@254@vR" "dst: the routes inside 10.77.0.0/16 of table 254"
check vF .r "10.88.0.0/24@254@vF 10.88.1.0/24@254@vF" "ifname: vF's routes of table 254"
check vF100 .r "10.88.2.0/24@100@vF 10.88.3.0/24@100@vF" "ifname and table 100"
check v6 .r "fd77:1::/48@254@vR fd77::/64@254@vR" "ifname, an IPv6 dst and table"
check default .r "default@254@vR" "dst = \"default\": the default route alone"
check host .r "" "dst of one address: no route lies inside it but a /32 of its own"
check nolink .r "" "an unknown ifname: no routes"
check limit '[.ok, .err] | tostring' \
	'[false,"nlhook.routes: 10001 routes match, more than the 10000 one call returns: narrow it with table, dst or ifname"]' \
	"over the maximum: an error with the count, nothing returned"
check narrowed .n 8192 "narrowed under the maximum: all 8192 of the /19"
if answer bad .r | grep -q "dst must be a prefix" && answer bad .r | grep -q "table must be a routing table's number" &&
   answer bad .r | grep -q "unknown filter key 'color' (netns, table, dst, ifname)" &&
   answer bad .r | grep -q "ifname must be an interface's name"; then
	ok "bad filters: an error naming the key"
else
	not_ok "bad filters: $(answer bad .r)"
fi
# Links just set up still gain routes (an IPv6 link-local address's, once
# its DAD is done): the counts are compared once they have settled.
if wait_for "[ \"\$(state '[.state.routes_kept, .state.routes]')\" = \"[true,\$(kernel_routes)]\" ]" 5; then
	ok "after the first call: routes kept, as many as the kernel's ($(kernel_routes))"
else
	not_ok "after the first call: $(state .state), kernel $(kernel_routes)"
fi
nsx ip route add 10.77.9.0/24 via 10.77.0.2
if wait_for "[ \"\$(state .state.routes)\" = \"\$(kernel_routes)\" ]" 5; then
	ok "kept from then on: a route added later is counted"
else
	not_ok "route added later: $(state .state.routes) kept, kernel $(kernel_routes)"
fi

# A route rule: the IPv4 routes of a link that goes down go without a
# message, and come out as route.del.
rule_file 60-del.lua <<'LUA'
nlhook.on("route.del", {}, function(ev) nlhook.emit(ev) end)
LUA
nsx "$NLHOOK" --control "$TMP/control.sock" reload > /dev/null
nsx ip link set vF down
expect_event '.type == "route.del" and .dst == "10.88.3.0/24" and .table == 100 and .ifname == "vF"' \
	"link down: route.del for its table-100 route"
SETTLE=0.5 expect_count '.type == "route.del" and .ifname == "vF"' 5 \
	"link down: one route.del for each of vF's five IPv4 routes (prefix, via, two in table 100, broadcast)"
expect_count '.type == "route.del" and .dst == "10.88.0.1/32"' 0 "link down: its local route stays"
if wait_for "[ \"\$(state .state.routes)\" = \"\$(kernel_routes)\" ]" 5; then
	ok "link down: the state is the kernel's ($(kernel_routes) routes)"
else
	not_ok "link down: $(state .state.routes) kept, kernel $(kernel_routes)"
fi
nsx ip link del vF
expect_event '.type == "route.del" and .dst == "10.88.0.1/32" and .kind == "local"' "link.del: route.del for its local route"
SETTLE=0.5 expect_count '.type == "route.del" and .dst == "10.88.0.1/32"' 1 "link.del: once"
if wait_for "[ \"\$(state .state.routes)\" = \"\$(kernel_routes)\" ]" 5; then
	ok "link.del: the state is the kernel's ($(kernel_routes) routes)"
else
	not_ok "link.del: $(state .state.routes) kept, kernel $(kernel_routes)"
fi
# Nothing needs routes any more... but nlhook.routes() asked for them: still kept.
rm "$RULES/60-del.lua"
nsx "$NLHOOK" --control "$TMP/control.sock" reload > /dev/null
if [ "$(state .state.routes_kept)" = true ]; then
	ok "asked for once by nlhook.routes(): kept after a reload"
else
	not_ok "dropped after the reload: $(state .state)"
fi

finish
