#!/usr/bin/env bash
# Operational states from the real kernel: every transition of a veth, a
# link-local-only link, a tentative address, bridge ports (enslaved, and
# degraded-carrier for their bridge), net.state, net.online and
# net.offline for IPv4 and IPv6, one event per change, in kernel order.
. "$(dirname "$0")/lib.sh"

rule_file 50-states.lua <<'LUA'
nlhook.on({ "link.state", "net.*", "link.carrier", "link.nocarrier", "link.down" }, {},
	function(ev) nlhook.emit(ev) end)
-- What a rule reads: the state of each link now.
nlhook.on("net.online", {}, function(ev)
	for _, l in ipairs(nlhook.links()) do
		nlhook.emit({ links_state = l.state, ifname = l.ifname })
	end
end)
LUA

nsx ip link add vA type veth peer name vB
nsx sysctl -qw net.ipv6.conf.vA.accept_ra=0 net.ipv6.conf.vB.accept_ra=0
start_daemon

st() { echo ".type == \"link.state\" and .ifname == \"$1\" and .state == \"$2\" and .prev_state == \"$3\""; }
net() { echo ".type == \"net.state\" and .state == \"$1\" and .prev_state == \"$2\""; }
# expect_more FILTER N DESCRIPTION: more than N lines match, within 5 s.
expect_more() {
	if wait_for "[ \$(count_events '$1') -gt $2 ]" 5; then ok "$3"; else not_ok "$3 (no new event matching: $1)"; fi
}
# line FILTER: the line number of the first event that matches (0: none).
line() { jq -c '.' "$TMP/events.jsonl" | grep -n . | while IFS=: read -r n json; do
	if jq -e "$1" <<< "$json" > /dev/null; then echo "$n"; break; fi; done; }

nsx ip link set vA up
expect_event "$(st vA no-carrier off)" "vA: off -> no-carrier (up, its peer down)"
expect_event "$(net no-carrier off)" "net.state: off -> no-carrier"
nsx ip link set vB up
expect_event "$(st vA carrier no-carrier)" "vA: no-carrier -> carrier"
# IPv6 gives each link a link-local address once it has carrier, after DAD.
expect_event "$(st vA degraded carrier)" "vA: carrier -> degraded (link-local only)" 5
expect_event "$(net degraded carrier)" "net.state: -> degraded"

nsx ip addr add 10.61.0.1/24 dev vA
expect_event "$(st vA routable degraded)" "vA: degraded -> routable (a global IPv4 address)"
expect_event "$(net routable degraded)" "net.state: -> routable"
n=$(count_events '.type == "link.state" and .ifname == "vA"')
nsx ip link set vA mtu 1400
nsx ip addr add 10.61.0.5/24 dev vA
expect_count '.type == "link.state" and .ifname == "vA"' "$n" "an MTU change and a second address raise no link.state"

# Carrier lost: one event, after the kernel's own edge.
nsx ip link set vB down
expect_event "$(st vA no-carrier routable)" "vA: routable -> no-carrier when its peer goes down"
expect_count ".type == \"link.state\" and .ifname == \"vA\" and .prev_state == \"routable\"" 1 \
	"one link.state for the change, whatever the kernel sent with it"
a=$(line '.type == "link.nocarrier" and .ifname == "vA"')
b=$(line "$(st vA no-carrier routable)")
if [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]; then ok "link.state follows the kernel's link.nocarrier"
else not_ok "order: link.nocarrier at line $a, link.state at $b"; fi
# vB's state before depends on timing (its IPv6 DAD may not be done:
# carrier or degraded; the kernel may report the carrier's loss before
# the down: no-carrier), so only where it ends is checked.
expect_event '.type == "link.state" and .ifname == "vB" and .state == "off" and .prev_state != null' \
	"vB: -> off (down)"
nsx ip link set vB up
expect_event "$(st vA routable no-carrier)" "vA: routable again, its IPv4 address kept"

# Dormant: the link's mode says it waits for a supplicant; the kernel
# applies a mode at the next carrier change.
nsx ip link set vA mode dormant
nsx ip link set vB down
nsx ip link set vB up
expect_event "$(st vA dormant no-carrier)" "vA: no-carrier -> dormant (link mode dormant)"
n=$(count_events "$(st vA routable no-carrier)")
nsx ip link set vA mode default
nsx ip link set vB down
nsx ip link set vB up
expect_more "$(st vA routable no-carrier)" "$n" "vA: routable again in the default mode"
nsx ip link set vA down
expect_event "$(st vA off routable)" "vA: routable -> off (down)"
n=$(count_events "$(st vA routable no-carrier)")
nsx ip link set vA up
expect_more "$(st vA routable no-carrier)" "$n" "vA: off -> no-carrier -> routable"

# A tentative address is not one: DAD fails against the same address on the peer.
nsx ip link add vC type veth peer name vD
nsx ip link set vD up
nsx ip addr add 2001:db8:61::9/64 dev vD nodad
nsx ip link set vC up
expect_event "$(st vC degraded carrier)" "vC: link-local only" 5
nsx ip addr add 2001:db8:61::9/64 dev vC
if wait_for "nsx ip -6 addr show dev vC | grep -q dadfailed" 5; then ok "DAD failed on vC"; else not_ok "no DAD failure on vC"; fi
expect_count '.type == "link.state" and .ifname == "vC" and .state == "routable"' 0 \
	"vC: a tentative (DAD failed) global address does not make it routable"
nsx ip addr add 2001:db8:61::a/64 dev vC
expect_event "$(st vC routable degraded)" "vC: routable once DAD of another global address is done" 5

# Online and offline, per family: the route that made the change.
nsx ip route add default via 10.61.0.2 dev vA
expect_event '.type == "net.online" and .family == "inet" and .ifname == "vA" and .gateway == "10.61.0.2"' \
	"net.online: IPv4 default route through a routable link"
expect_event '.links_state == "routable" and .ifname == "vA"' "nlhook.links(): vA is routable"
expect_event '.links_state == "carrier" and .ifname == "lo"' "nlhook.links(): lo has carrier"
"$NLHOOK" --control "$TMP/control.sock" status --json > "$TMP/status.json"
if jq -e '.net_state == "routable" and .online == true and .netns[0].online == true' "$TMP/status.json" > /dev/null &&
   "$NLHOOK" --control "$TMP/control.sock" status | grep -qx "network routable, online"; then
	ok "status: the namespace's state, online"
else
	not_ok "status: $(jq -c '{net_state, online}' "$TMP/status.json")"
fi
nsx ip -6 route add default via 2001:db8:61::1 dev vC
expect_count '.type == "net.online"' 1 "a second default route: still one net.online"
nsx ip route del default via 10.61.0.2 dev vA
expect_count '.type == "net.offline"' 0 "the IPv6 default route keeps the namespace online"
nsx ip -6 route del default via 2001:db8:61::1 dev vC
expect_event '.type == "net.offline" and .family == "inet6" and .ifname == "vC" and .gateway == "2001:db8:61::1"' \
	"net.offline: the last default route (IPv6) gone"
if "$NLHOOK" --control "$TMP/control.sock" status --json | jq -e '.online == false' > /dev/null; then
	ok "status: offline"; else not_ok "status: still online"; fi
nsx ip -6 route add default via 2001:db8:61::1 dev vC
expect_event '.type == "net.online" and .family == "inet6" and .ifname == "vC"' "net.online: IPv6"
# The link stops being routable: offline, though the route is still there.
nsx ip addr flush dev vC scope global
expect_event '.type == "net.offline" and .family == "inet6" and .ifname == "vC"' \
	"net.offline when the route's link is routable no more"
nsx ip link del vC

# A bridge and its ports: enslaved, and degraded-carrier while a port has no carrier.
nsx ip link add br0 type bridge forward_delay 0
nsx ip link add p1 type veth peer name q1
nsx ip link add p2 type veth peer name q2
nsx sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
nsx ip link set br0 up
nsx ip link set p1 master br0
nsx ip link set p2 master br0
nsx ip link set q1 up
nsx ip link set p1 up
expect_event '.type == "link.state" and .ifname == "p1" and .state == "enslaved"' "p1: a bridge port with carrier is enslaved"
nsx ip link set p2 up
expect_event "$(st p2 no-carrier off)" "p2: no carrier (its peer down)"
expect_event '.type == "link.state" and .ifname == "br0" and .state == "degraded-carrier"' \
	"br0: degraded-carrier, a port without carrier"
nsx ip link set q2 up
expect_event "$(st p2 enslaved no-carrier)" "p2: enslaved once its peer is up"
expect_event "$(st br0 carrier degraded-carrier)" "br0: carrier, every port has it"
nsx ip addr add 10.62.0.1/24 dev br0
expect_event "$(st br0 routable carrier)" "br0: routable with an address"
nsx ip link set p2 nomaster
expect_event '.type == "link.state" and .ifname == "p2" and .prev_state == "enslaved"' "p2: enslaved no more once released"

# Closed before it goes (its last state off), then deleted: nothing more.
n=$(count_events "$(st vA off routable)")
nsx ip link set vA down
expect_more "$(st vA off routable)" "$n" "vA: off again"
n=$(count_events '.type == "link.state" and .ifname == "vA"')
nsx ip link del vA
expect_count '.type == "link.state" and .ifname == "vA"' "$n" "a deleted link raises no link.state"

finish
