#!/usr/bin/env bash
# Multipath default routes: a host is online while any hop goes through a
# routable link; the events carry the hop's gateway; IPv6 multipath
# routes (one route per hop in the kernel, sent together) are added and
# deleted hop by hop, so the state stays the kernel's.  An IPv4 multipath
# route outlives a hop's link set down, and goes (without a message from
# the kernel) when every hop's link is down or one of them is deleted.
. "$(dirname "$0")/lib.sh"

rule_file 50-mp.lua <<'LUA'
nlhook.on({ "net.online", "net.offline" }, {}, function(ev) nlhook.emit(ev) end)
nlhook.on({ "route.add", "route.del" }, { dst = "default" }, function(ev) nlhook.emit(ev) end)
nlhook.on("link.state", { state = "routable" }, function(ev) nlhook.emit(ev) end)
LUA

nsx ip link add vA type veth peer name vB
nsx ip link add vC type veth peer name vD
for l in vA vB vC vD; do nsx sysctl -qw "net.ipv6.conf.$l.accept_ra=0"; done
start_daemon
state() { nsx "$NLHOOK" --control "$TMP/control.sock" status --json | jq -c "$1"; }
# ip shows an IPv6 multipath route as one, with its hops; the kernel and
# the daemon keep a route per hop.
kernel_routes() {
	echo $(( $(nsx ip -4 -j route show table all | jq length) +
		$(nsx ip -6 -j route show table all | jq '[.[] | if .nexthops then (.nexthops | length) else 1 end] | add // 0') ))
}
n_of() { count_events "$1"; }
# expect_more FILTER N DESCRIPTION: more than N events match, within 5 s.
expect_more() {
	if wait_for "[ \$(count_events '$1') -gt $2 ]" 5; then ok "$3"; else not_ok "$3 (no new event matching: $1)"; fi
}

for l in vA vB vC vD; do nsx ip link set "$l" up; done
nsx ip addr add 10.71.0.1/24 dev vA
nsx ip addr add 2001:db8:71::1/64 dev vA nodad
nsx ip addr add 10.72.0.1/24 dev vC
nsx ip addr add 2001:db8:72::1/64 dev vC nodad
expect_event '.type == "link.state" and .ifname == "vA"' "vA routable"
expect_event '.type == "link.state" and .ifname == "vC"' "vC routable"

# IPv4: one route, two hops.
nsx ip route add default nexthop via 10.71.0.254 dev vA nexthop via 10.72.0.254 dev vC
expect_event '.type == "route.add" and .family == "inet" and .ifname == "vA" and .gateway == "10.71.0.254"' \
	"route.add of a multipath route: its first hop's link and gateway"
expect_event '.type == "net.online" and .family == "inet" and .ifname == "vA" and .gateway == "10.71.0.254"' \
	"net.online: the first hop's link and gateway"
# The first hop's link loses its carrier: the second still counts.
nsx ip link set vB down
expect_count '.type == "net.offline"' 0 "vA without carrier: the hop through vC keeps the host online"
if [ "$(state .online)" = true ]; then ok "status: online"; else not_ok "status: online $(state .online)"; fi
nsx ip link set vD down
expect_event '.type == "net.offline" and .family == "inet"' "both hops' links without carrier: net.offline"
nsx ip link set vD up
expect_event '.type == "net.online" and .family == "inet" and .ifname == "vC" and .gateway == "10.72.0.254"' \
	"one hop's link back: net.online through that hop, with its gateway"
n=$(n_of '.type == "net.offline" and .family == "inet"')
nsx ip route del default
expect_more '.type == "net.offline" and .family == "inet"' "$n" "the multipath route deleted: net.offline"
n=$(n_of '.type == "link.state" and .ifname == "vA"')
nsx ip link set vB up
expect_more '.type == "link.state" and .ifname == "vA"' "$n" "vA routable again"

# IPv6: one route per hop, the second appended; deleted together.
n=$(n_of '.type == "net.online" and .family == "inet6"')
nsx ip -6 route add default via fe80::1 dev vA
nsx ip -6 route append default via fe80::2 dev vC
expect_event '.type == "net.online" and .family == "inet6" and .ifname == "vA" and .gateway == "fe80::1"' \
	"IPv6: net.online"
expect_event '.type == "route.add" and .family == "inet6" and .ifname == "vC" and .gateway == "fe80::2"' \
	"IPv6: the appended hop's route.add, with its gateway"
if wait_for "[ \"\$(state .state.routes)\" = \"\$(kernel_routes)\" ]" 5; then
	ok "IPv6 multipath: the state is the kernel's ($(kernel_routes) routes)"
else
	not_ok "IPv6 multipath: $(state .state.routes) kept, kernel $(kernel_routes)"
fi
nsx ip -6 route del default
expect_event '.type == "route.del" and .family == "inet6" and .ifname == "vC" and .gateway == "fe80::2"' \
	"IPv6 multipath route deleted: route.del for its second hop too"
expect_event '.type == "net.offline" and .family == "inet6"' "IPv6 multipath route deleted: net.offline"
if wait_for "[ \"\$(state .online)\" = false ] && [ \"\$(state .state.routes)\" = \"\$(kernel_routes)\" ]" 5; then
	ok "status: offline, and the state is the kernel's ($(kernel_routes) routes)"
else
	not_ok "after the delete: online $(state .online), $(state .state.routes) kept, kernel $(kernel_routes)"
fi
# Hop by hop.
n=$(n_of '.type == "net.offline" and .family == "inet6"')
nsx ip -6 route add default via fe80::1 dev vA
nsx ip -6 route append default via fe80::2 dev vC
nsx ip -6 route del default via fe80::1 dev vA
SETTLE=0.5 expect_count '.type == "net.offline" and .family == "inet6"' "$n" "one hop deleted: still online"
nsx ip -6 route del default
expect_more '.type == "net.offline" and .family == "inet6"' "$n" "the other deleted: net.offline"
if wait_for "[ \"\$(state .online)\" = false ] && [ \"\$(state .state.routes)\" = \"\$(kernel_routes)\" ]" 5; then
	ok "status: offline, and the state is the kernel's"
else
	not_ok "after the deletes: online $(state .online), $(state .state.routes) kept, kernel $(kernel_routes)"
fi

# IPv4: a hop's link set down keeps the route; every hop's link down drops it.
settled() {	# settled WHAT: the state is the kernel's, within 5 s
	if wait_for "[ \"\$(state .state.routes)\" = \"\$(kernel_routes)\" ]" 5; then
		ok "$1: the state is the kernel's ($(kernel_routes) routes)"
	else
		not_ok "$1: $(state .state.routes) kept, kernel $(kernel_routes)"
	fi
}
ons=$(n_of '.type == "net.online" and .family == "inet"')
nsx ip route add default nexthop via 10.71.0.254 dev vA nexthop via 10.72.0.254 dev vC
expect_more '.type == "net.online" and .family == "inet"' "$ons" "IPv4 multipath route again: online"
dels=$(n_of '.type == "route.del" and .family == "inet" and .dst == "default"')
offs=$(n_of '.type == "net.offline" and .family == "inet"')
nsx ip link set vA down
if nsx ip -4 route show default | grep -q nexthop; then ok "vA set down: the kernel keeps the route"
else not_ok "vA set down: the kernel dropped the route"; fi
SETTLE=0.5 expect_count '.type == "route.del" and .family == "inet" and .dst == "default"' "$dels" \
	"vA set down: no route.del for the multipath route"
expect_count '.type == "net.offline" and .family == "inet"' "$offs" "vA set down: still online through vC"
settled "vA set down"
nsx ip link set vC down
if nsx ip -4 route show default | grep -q .; then not_ok "every hop's link down: the kernel kept the route"
else ok "every hop's link down: the kernel dropped the route"; fi
expect_more '.type == "route.del" and .family == "inet" and .dst == "default"' "$dels" \
	"every hop's link down: route.del for the multipath route"
expect_more '.type == "net.offline" and .family == "inet"' "$offs" "every hop's link down: net.offline"
settled "every hop's link down"
# One hop's link deleted: the kernel drops the route at once.
nsx ip link set vA up
nsx ip link set vC up
wait_for "nsx ip -4 addr show dev vC | grep -q 10.72.0.1" 5 || true
nsx ip route add default nexthop via 10.71.0.254 dev vA nexthop via 10.72.0.254 dev vC
wait_for "[ \"\$(state .state.routes)\" = \"\$(kernel_routes)\" ]" 5 || true
dels=$(n_of '.type == "route.del" and .family == "inet" and .dst == "default"')
nsx ip link del vC
if nsx ip -4 route show default | grep -q .; then not_ok "a hop's link deleted: the kernel kept the route"
else ok "a hop's link deleted: the kernel dropped the route"; fi
expect_more '.type == "route.del" and .family == "inet" and .dst == "default"' "$dels" \
	"a hop's link deleted (not the first): route.del for the multipath route"
settled "a hop's link deleted"

finish
