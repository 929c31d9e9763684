#!/usr/bin/env bash
# Link edges, addresses, routes and renames from the real kernel reach a
# Lua handler with the right fields; an MTU change is not an up/down.
. "$(dirname "$0")/lib.sh"

rule_file 50-all.lua <<'LUA'
nlhook.on({ "link.*", "addr.*", "route.*" }, {}, function(ev) nlhook.emit(ev) end)
-- The state a rule can read: the link as it is now, the route list.
nlhook.on("addr.add", { address = "10.78.0.1" }, function(ev)
	for _, l in ipairs(nlhook.links()) do
		if l.ifname == ev.ifname then
			nlhook.emit({ state = "link", ifname = l.ifname, ifindex = l.ifindex, up = l.up,
				mtu = l.mtu, has_type = l.type ~= nil })
		end
	end
	for _, a in ipairs(nlhook.addrs()) do
		if a.address == "10.78.0.1" then
			nlhook.emit({ state = "addr", prefixlen = a.prefixlen, has_type = a.type ~= nil })
		end
	end
end)
nlhook.on("route.add", { dst = "default" }, function(ev)
	for _, r in ipairs(nlhook.routes()) do
		if r.dst == "10.78.0.0/24" then
			nlhook.emit({ state = "route", ifname = r.ifname, has_type = r.type ~= nil })
		end
	end
end)
LUA

nsx ip link add vA type veth peer name vB
start_daemon
# No broker, no MQTT client in memory (nor libssl and libcrypto with it).
if grep -qE 'libmosquitto|libssl|libcrypto' "/proc/$DAEMON_PID/maps"; then
	not_ok "without --mqtt the daemon has $(grep -oE 'lib(mosquitto|ssl|crypto)[^ ]*' "/proc/$DAEMON_PID/maps" | sort -u | tr '\n' ' ')loaded"
else
	ok "without --mqtt, neither libmosquitto nor libssl is loaded"
fi

link() { echo "(.type == \"$1\" and .ifname == \"$2\")"; }

nsx ip link set vA up
expect_event "$(link link.up vA)" "link.up vA"
expect_count "$(link link.carrier vA)" 0 "no carrier on vA while its peer is down"
nsx ip link set vB up
expect_event "$(link link.carrier vA) and .carrier == true and .operstate == \"up\"" "link.carrier vA once vB is up"
expect_event "$(link link.up vB) and .kind == \"veth\" and .up == true" "link.up vB with kind veth"

n_before=$(count_events '.ifname == "vA" and (.type | test("link\\.(up|down|carrier|nocarrier)"))')
nsx ip link set vA mtu 1400
expect_count '.ifname == "vA" and (.type | test("link\\.(up|down|carrier|nocarrier)"))' "$n_before" \
	"MTU change raises no up/down/carrier edge"

nsx ip link set vB down
expect_event "$(link link.nocarrier vA)" "link.nocarrier vA when vB goes down"
expect_event "$(link link.down vB) and .up == false" "link.down vB"
expect_count "$(link link.down vA)" 0 "vA is still administratively up"

nsx ip link set vB name vRenamed
expect_event '.type == "link.rename" and .ifname == "vRenamed" and .old_ifname == "vB"' "link.rename vB -> vRenamed"

nsx ip addr add 10.77.0.1/24 dev vA
expect_event '.type == "addr.add" and .ifname == "vA" and .address == "10.77.0.1" and .prefixlen == 24 and .family == "inet"' "addr.add 10.77.0.1/24"
nsx ip addr add 2001:db8:77::1/64 dev vA nodad
expect_event '.type == "addr.add" and .address == "2001:db8:77::1" and .family == "inet6"' "addr.add IPv6"
nsx ip addr del 10.77.0.1/24 dev vA
expect_event '.type == "addr.del" and .address == "10.77.0.1" and .ifname == "vA"' "addr.del 10.77.0.1/24"

nsx ip addr add 10.78.0.1/24 dev vA
expect_event '.state == "link" and .ifname == "vA" and .mtu == 1400 and .up == true and .has_type == false' \
	"nlhook.links(): the link as it is now, no type"
expect_event '.state == "addr" and .prefixlen == 24 and .has_type == false' "nlhook.addrs(): the address, no type"
nsx ip link set vRenamed up
nsx ip route add default via 10.78.0.2 dev vA
expect_event '.type == "route.add" and .dst == "default" and .gateway == "10.78.0.2" and .ifname == "vA" and .table == 254' "default route add"
expect_event '.state == "route" and .ifname == "vA" and .has_type == false' "nlhook.routes(): the prefix route, no type"
nsx ip route replace default via 10.78.0.3 dev vA
expect_event '.type == "route.add" and .dst == "default" and .gateway == "10.78.0.3"' "default route replace"
nsx ip route del default
expect_event '.type == "route.del" and .dst == "default" and .gateway == "10.78.0.3"' "default route del"
nsx ip route add 192.0.2.0/24 via 10.78.0.2 metric 50
expect_event '.type == "route.add" and .dst == "192.0.2.0/24" and .metric == 50 and .protocol == "boot"' "prefix route with metric"

nsx ip route add default via 10.78.0.2 dev vA
expect_event '.type == "route.add" and .dst == "default" and .gateway == "10.78.0.2"' "default route back"
nsx ip link set vA down
# The kernel drops IPv4 routes of a downed link without RTM_DELROUTE.
expect_event '.type == "route.del" and .dst == "default" and .gateway == "10.78.0.2" and .ifname == "vA"' \
	"default route del when its link goes down"
nsx ip link set vA up
expect_event '.type == "route.add" and .dst == "10.78.0.0/24" and .ifname == "vA"' "prefix route back when the link comes up"

nsx ip link del vA
expect_event "$(link link.del vA)" "link.del vA"

finish
