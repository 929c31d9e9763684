#!/usr/bin/env bash
# networkd-dispatcher's scripts, unchanged: DIR/STATE.d/ runs when a link
# of the daemon's namespace enters STATE, with networkd-dispatcher's
# variables; not for another namespace's links; configured.d is warned
# about.
. "$(dirname "$0")/lib.sh"

ND=$TMP/networkd-dispatcher
OUT=$TMP/nd
mkdir -m 755 -p "$ND"/{off,no-carrier,carrier,degraded,routable,configured}.d "$OUT"
# Each state's script writes its variables to OUT/STATE.IFACE.
for s in off no-carrier carrier degraded routable configured; do
	cat > "$ND/$s.d/50-record" <<SH
#!/bin/sh
f=$OUT/\$STATE.\$IFACE
for v in IFACE STATE AdministrativeState OperationalState ESSID ADDR IP_ADDRS IP6_ADDRS NLHOOK_TYPE; do
	eval "echo \$v=\\\$\$v"
done > "\$f.tmp"
printf '%s' "\$json" > "\$f.json"
mv "\$f.tmp" "\$f"
SH
	chmod 755 "$ND/$s.d/50-record"
done

rule_file 50-states.lua <<'LUA'
nlhook.on("link.state", {}, function(ev) nlhook.emit(ev) end)
LUA

OTHER="$NS-other"
ip netns add "$OTHER"
CLEANUPS+=("ip netns del '$OTHER'")
ip netns exec "$OTHER" ip link add oA type veth peer name oB

nsx ip link add vA type veth peer name vB
nsx sysctl -qw net.ipv6.conf.vA.accept_ra=0
start_daemon --networkd-dispatcher "$ND" --all-netns
if grep -q "dispatch: $ND/configured.d/50-record: never runs: nothing configures links here" "$TMP/daemon.log"; then
	ok "configured.d holding a script: warned at start"; else not_ok "no warning about configured.d"; fi

var() { grep -x "$2=$3" "$OUT/$1" > /dev/null 2>&1; }

nsx ip link set vA up
if wait_for "[ -f '$OUT/no-carrier.vA' ]" 5; then ok "no-carrier.d for vA"; else not_ok "no-carrier.d did not run"; fi
nsx ip link set vB up
if wait_for "[ -f '$OUT/degraded.vA' ]" 5; then ok "degraded.d once vA has its link-local address"; else not_ok "degraded.d did not run"; fi
if [ -f "$OUT/carrier.vA" ]; then ok "carrier.d before it"; else not_ok "carrier.d did not run"; fi

nsx ip addr add 10.64.0.1/24 dev vA
nsx ip addr add 10.64.0.7/24 dev vA
nsx ip addr add 2001:db8:64::1/64 dev vA nodad
if wait_for "[ -f '$OUT/routable.vA' ]" 5; then ok "routable.d for vA"; else not_ok "routable.d did not run"; fi
f=routable.vA
if var $f IFACE vA && var $f STATE routable && var $f OperationalState routable &&
   var $f AdministrativeState unmanaged && var $f ESSID ""; then
	ok "IFACE, STATE, OperationalState, AdministrativeState=unmanaged, ESSID empty"
else
	not_ok "variables: $(cat "$OUT/$f")"
fi
# The address first seen makes the link routable; the others may follow it.
if var $f ADDR 10.64.0.1 && var $f IP_ADDRS 10.64.0.1 && var $f IP6_ADDRS "" && var $f NLHOOK_TYPE link.state; then
	ok "ADDR and IP_ADDRS: the address that made it routable; the event's own variables too"
else
	not_ok "addresses: $(cat "$OUT/$f")"
fi
if jq -e '.Type == "veth" and .OperationalState == "routable" and .AdministrativeState == "unmanaged" and
	.State == "routable (unmanaged)" and (.Address | index("10.64.0.1")) and (.MTU == ["1500"]) and
	(."HW Address" | length == 1) and (has("ESSID") | not)' "$OUT/$f.json" > /dev/null; then
	ok "json: Type, states, Address, MTU, HW Address, no ESSID"
else
	not_ok "json: $(cat "$OUT/$f.json")"
fi

# Again with every address there: IPv4 ones but 127/8, IPv6 ones but link-local.
rm -f "$OUT/$f"
nsx ip addr add 127.0.0.9/8 dev vA
nsx ip link set vB down
nsx ip link set vB up
if wait_for "[ -f '$OUT/$f' ]" 5; then ok "routable.d again after the carrier came back"; else not_ok "routable.d did not run again"; fi
if var $f ADDR 10.64.0.1 && var $f IP_ADDRS "10.64.0.1 10.64.0.7" && var $f IP6_ADDRS 2001:db8:64::1; then
	ok "IP_ADDRS without 127/8, IP6_ADDRS without link-local, ADDR the first"
else
	not_ok "addresses: $(cat "$OUT/$f")"
fi
if jq -e '.Address[0] == "10.64.0.1" and ([.Address[] | select(startswith("fe80:"))] | length == 1) and
	(.Address | index("127.0.0.9")) and (.Address | index("2001:db8:64::1"))' \
	"$OUT/$f.json" > /dev/null; then
	ok "json Address: every address, IPv4 first"
else
	not_ok "json Address: $(jq -c .Address "$OUT/$f.json")"
fi

nsx ip link set vA down
if wait_for "[ -f '$OUT/off.vA' ]" 5 && var off.vA STATE off; then ok "off.d when vA goes down"; else not_ok "off.d did not run"; fi

# Another namespace's links run none of networkd-dispatcher's scripts.
ip netns exec "$OTHER" ip link set oA up
ip netns exec "$OTHER" ip link set oB up
expect_event ".type == \"link.state\" and .netns == \"$OTHER\" and .ifname == \"oA\" and .prev_state != null" \
	"link.state in the other namespace"
sleep 1
if ls "$OUT" | grep -q "\.o[AB]"; then not_ok "scripts ran for another namespace: $(ls "$OUT")"
else ok "links of another namespace run no script"; fi
if [ ! -e "$OUT/configured.vA" ]; then ok "configured.d never runs"; else not_ok "configured.d ran"; fi

"$NLHOOK" --control "$TMP/control.sock" status --json > "$TMP/status.json"
if jq -e ".dispatch.subdirs[] | select(.name == \"routable.d\" and .networkd_dispatcher) |
	.scripts[0].runs == 2 and .scripts[0].failures == 0" "$TMP/status.json" > /dev/null; then
	ok "status: routable.d's script ran twice"
else
	not_ok "status: $(jq -c .dispatch "$TMP/status.json")"
fi

finish
