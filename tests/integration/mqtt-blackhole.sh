#!/usr/bin/env bash
# The loop never waits for the broker.  A broker address whose SYNs an nft
# rule of the namespace drops: the daemon starts at once, rules run, status
# answers quickly, the attempt gives up after 10 s and the next one gets
# through once the rule is gone, with what was queued.  A name whose DNS
# server never answers: the same while it resolves, and SIGTERM does not
# wait for the resolver.
. "$(dirname "$0")/mqtt-lib.sh"

P=t/gw1
HOLE=10.77.0.2
DNS=10.77.0.53
nsx ip addr add "$HOLE/32" dev lo
nsx ip addr add "$DNS/32" dev lo
# ip netns exec puts /etc/netns/NAME/* over /etc/*: the namespace's own resolver.
ETC=/etc/netns/$NS
netns_etc_cleanup() { rm -rf "$ETC"; rmdir /etc/netns 2>/dev/null || true; }
CLEANUPS+=(netns_etc_cleanup)

rule_file 10-x.lua <<'LUA'
nlhook.on("link.up", { ifname = "mqx*" }, function(ev)
	nlhook.log.info("saw %s up", ev.ifname)
	nlhook.emit(ev)
end)
LUA

broker_conf "listener 1883 $BROKER_IP" "listener 1883 $HOLE" "allow_anonymous true"
start_broker
sub all -t "$P/#" -v -q 1
# Dropped on the way in, as a host that does not answer would: the sender
# sees nothing (a drop on the way out would fail its send at once).
nsx nft -f - <<EOF
table inet nlht {
	chain in {
		type filter hook input priority 0;
		ip daddr $HOLE tcp dport 1883 tcp flags & (syn | ack) == syn drop
		ip daddr $DNS udp dport 53 drop
		ip daddr $DNS tcp dport 53 drop
	}
}
EOF

# ms CMD...: how long CMD takes, in milliseconds (in a subshell).
ms() {
	local t0
	t0=$(date +%s%N)
	"$@" > /dev/null 2>&1 || true
	echo $((($(date +%s%N) - t0) / 1000000))
}
# since T0: milliseconds since T0 (date +%s%N).
since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# status_fast WHAT: five status calls over a second, each under 500 ms.
status_fast() {
	local i t worst=0
	for i in 1 2 3 4 5; do
		t=$(ms status_json)
		[ "$t" -gt "$worst" ] && worst=$t
		sleep 0.2
	done
	[ "$worst" -lt 500 ] && ok "$1: nlhook status answers (slowest of 5: $worst ms)" ||
		not_ok "$1: nlhook status took $worst ms"
}

### SYNs dropped ###

t0=$(date +%s%N)
start_daemon --mqtt "mqtt://$HOLE/$P" --event-log mqtt
t=$(since "$t0")
[ "$t" -lt 3000 ] && ok "blackholed broker: the daemon is ready in $t ms" || not_ok "blackholed broker: ready after $t ms"
[ "$(mqtt_field state)" = connecting ] && ok "blackholed broker: state connecting" ||
	not_ok "blackholed broker: state $(mqtt_field state)"
status_fast "blackholed broker"
ip -n "$NS" link add mqx0 type veth peer name mqx1
ip -n "$NS" link set mqx0 up
if wait_for "grep -q 'saw mqx0 up' '$TMP/daemon.log'" 2; then ok "blackholed broker: rules run"; else not_ok "blackholed broker: the rule did not run"; fi
[ "$(mqtt_field queued)" -ge 1 ] && ok "blackholed broker: the emit waits in the queue" || not_ok "blackholed broker: queued $(mqtt_field queued)"
if wait_for "[ \"\$(mqtt_field last_error)\" = 'no answer from the broker in 10 s' ]" 15; then
	ok "blackholed broker: the attempt gives up after 10 s, and says so"
else
	not_ok "blackholed broker: last_error $(mqtt_field last_error)"
fi
status_fast "blackholed broker, retrying"
nsx nft delete table inet nlht
if wait_for "[ \"\$(mqtt_field state)\" = connected ]" 20; then ok "SYNs let through: connected"; else not_ok "SYNs let through: state $(mqtt_field state)"; fi
if wait_for "grep -q '^$P/events/link.up {.*\"ifname\":\"mqx0\"' '$TMP/all.out'" 5; then
	ok "the queued link.up arrives"
else
	not_ok "the queued link.up did not arrive"
fi
stop_daemon

### a DNS server that never answers ###

mkdir -p "$ETC" || mkdir -p "$ETC"	# another test may remove an empty /etc/netns meanwhile
printf '127.0.0.1 localhost\n' > "$ETC/hosts"
printf 'nameserver %s\noptions timeout:3 attempts:1\n' "$DNS" > "$ETC/resolv.conf"
nsx nft -f - <<EOF
table inet nlht {
	chain in {
		type filter hook input priority 0;
		ip daddr $DNS udp dport 53 drop
		ip daddr $DNS tcp dport 53 drop
	}
}
EOF
: > "$TMP/daemon.log"
t0=$(date +%s%N)
start_daemon --mqtt "mqtt://broker.nlhook.test/$P"
t=$(since "$t0")
[ "$t" -lt 2000 ] && ok "unanswered DNS: the daemon is ready in $t ms" || not_ok "unanswered DNS: ready after $t ms"
status_fast "unanswered DNS"
if wait_for "mqtt_field last_error | grep -q '^cannot resolve broker.nlhook.test: '" 15; then
	ok "unanswered DNS: the attempt fails with '$(mqtt_field last_error)'"
else
	not_ok "unanswered DNS: last_error $(mqtt_field last_error)"
fi
# The next attempt starts within 1 s and resolves for 3 s: stop in the middle of it.
sleep 1.2
[ "$(mqtt_field state)" = connecting ] && ok "unanswered DNS: resolving again" || not_ok "unanswered DNS: state $(mqtt_field state)"
t0=$(date +%s%N)
stop_daemon
t=$(since "$t0")
[ "$t" -lt 1000 ] && ok "SIGTERM while resolving: exit in $t ms" || not_ok "SIGTERM while resolving took $t ms"

finish
