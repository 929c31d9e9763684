#!/usr/bin/env bash
# Firewall hits: nftables `log group N` rules (and one iptables NFLOG rule)
# in the test's namespace; known TCP/UDP/ICMP packets over IPv4 and IPv6
# from a second namespace reach the rules with the right fields (the TCP
# flags of a SYN and of the RST,ACK that answers it, ICMP type and code,
# TTL, hop limit and IP id among them), packets
# the firewall does not log raise nothing, and a group another process
# holds gets a clear error while the other groups work.
. "$(dirname "$0")/lib.sh"

NS2="${NS}-tx"
ip netns add "$NS2"
CLEANUPS+=("ip netns del $NS2")
ip link add vN0 netns "$NS" type veth peer name vN1 netns "$NS2"
nsx ip addr add 10.90.0.1/24 dev vN0
nsx ip addr add fd00:90::1/64 dev vN0 nodad
nsx ip link set vN0 up
ip netns exec "$NS2" ip addr add 10.90.0.2/24 dev vN1
ip netns exec "$NS2" ip addr add fd00:90::2/64 dev vN1 nodad
ip netns exec "$NS2" ip link set vN1 up
ip netns exec "$NS2" ip link set lo up

nsx nft -f - <<'NFT'
table inet nlht {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 2222 log group 10 prefix "SSH-IN "
		udp dport 5353 log group 10 prefix "MDNS-IN "
		icmp type echo-request log group 11 prefix "PING4 "
		icmpv6 type echo-request log group 11 prefix "PING6 "
		udp dport 7777 log group 13 prefix "TAKEN "
	}
	chain output {
		type filter hook output priority 0; policy accept;
		tcp sport 2222 log group 10 prefix "SSH-OUT "
	}
}
NFT
ipt=0
if command -v iptables >/dev/null && nsx iptables -A INPUT -p udp --dport 6000 -j NFLOG --nflog-group 12 --nflog-prefix IPT-UDP 2>/dev/null; then
	ipt=1
fi

# Another process holds group 13 before the daemon starts.
cat > "$TMP/holder.py" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)   # NETLINK_NETFILTER
s.bind((0, 0))
cmd = struct.pack("=HHB3x", 8, 1, 1)                          # NFULA_CFG_CMD: BIND
nfg = struct.pack("=BBH", 0, 0, socket.htons(13))
msg = nfg + cmd
s.send(struct.pack("=IHHII", 16 + len(msg), (4 << 8) | 1, 0x5, 1, 0) + msg)  # ULOG CONFIG, REQUEST|ACK
err = struct.unpack_from("=i", s.recv(4096), 16)[0]
print("bound" if err == 0 else "error %d" % err, flush=True)
time.sleep(300)
PY
ip netns exec "$NS" python3 "$TMP/holder.py" > "$TMP/holder.out" &
HOLDER=$!
CLEANUPS+=("kill $HOLDER")
wait_for "grep -q bound '$TMP/holder.out'" 5 || { echo "holder could not bind group 13: $(cat "$TMP/holder.out")"; exit 1; }

rule_file 50-fw.lua <<'LUA'
nlhook.on("nflog", { group = { 10, 11, 12, 13 } }, function(ev) nlhook.emit(ev) end)
LUA
# The shipped scanner example, on group 10, with a recording action.
cat > "$TMP/block" <<SH
#!/bin/sh
echo "\$1 \$2" >> "$TMP/blocked"
SH
chmod 755 "$TMP/block"
sed -e "s|/usr/local/sbin/nlhook-block-source|$TMP/block|" -e 's/group = 20/group = 10/' \
	"$SRCDIR/rules.d/35-scanner-block.lua" | rule_file 60-scanner.lua
start_daemon

tx() { ip netns exec "$NS2" python3 -c "$1"; }
tx 'import socket
s = socket.socket(); s.settimeout(1)
try: s.connect(("10.90.0.1", 2222))
except OSError: pass'
tx 'import socket
s = socket.socket(socket.AF_INET6); s.settimeout(1)
try: s.connect(("fd00:90::1", 2222))
except OSError: pass'
tx 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.90.0.2", 40000))
s.sendto(b"x" * 20, ("10.90.0.1", 5353)); s.sendto(b"y", ("10.90.0.1", 9999)); s.sendto(b"z", ("10.90.0.1", 7777))
s.sendto(b"w", ("10.90.0.1", 6000))'
tx 'import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("fd00:90::2", 40001))
s.sendto(b"x", ("fd00:90::1", 5353))'
# Echo requests from raw sockets (no ping binary needed).
tx 'import socket, struct
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
pkt = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"nlhook"
pkt = pkt[:2] + struct.pack("!H", csum(pkt)) + pkt[4:]
socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).sendto(pkt, ("10.90.0.1", 0))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)   # the kernel fills the checksum
s6.sendto(struct.pack("!BBHHH", 128, 0, 0, 1, 1) + b"nlhook", ("fd00:90::1", 0))'


expect_event '.type == "nflog" and .group == 10 and .prefix == "SSH-IN " and .family == "inet" and .proto == "tcp" and .src == "10.90.0.2" and .dst == "10.90.0.1" and .dport == 2222 and .indev == "vN0"' "TCP SYN over IPv4 with prefix, addresses, port, device"
expect_event '.type == "nflog" and .prefix == "SSH-IN " and .family == "inet6" and .src == "fd00:90::2" and .dst == "fd00:90::1" and .dport == 2222' "TCP SYN over IPv6"
expect_event '.prefix == "MDNS-IN " and .proto == "udp" and .sport == 40000 and .dport == 5353 and .len == 48 and .family == "inet"' "UDP over IPv4 with source port and length"
expect_event '.prefix == "MDNS-IN " and .proto == "udp" and .family == "inet6" and .sport == 40001' "UDP over IPv6"
expect_event '.group == 11 and .prefix == "PING4 " and .proto == "icmp"' "ICMP echo request"
expect_event '.group == 11 and .prefix == "PING6 " and .proto == "icmpv6" and .family == "inet6"' "ICMPv6 echo request"
expect_event '.seq != null and .payload != null and (.payload | length) > 40 and .mac != null' "sequence number, payload and hardware address"
expect_event '.prefix == "SSH-IN " and .family == "inet" and .tcp_flags == "syn" and .ttl == 64 and .ip_id != null' \
	"TCP SYN over IPv4: tcp_flags syn, ttl, ip_id"
expect_event '.prefix == "SSH-IN " and .family == "inet6" and .tcp_flags == "syn" and .ttl == 64 and .ip_id == null' \
	"TCP SYN over IPv6: tcp_flags syn, the hop limit as ttl, no ip_id"
expect_event '.prefix == "SSH-OUT " and .family == "inet" and .tcp_flags == "rst,ack" and .sport == 2222 and .outdev == "vN0"' \
	"the RST,ACK that refuses it: tcp_flags rst,ack in nft's order"
expect_event '.prefix == "PING4 " and .icmp_type == 8 and .icmp_code == 0 and .ttl == 64 and .sport == null' \
	"ICMP echo request: icmp_type 8, icmp_code 0"
expect_event '.prefix == "PING6 " and .icmp_type == 128 and .icmp_code == 0' "ICMPv6 echo request: icmp_type 128"
expect_count '.prefix == "MDNS-IN " and (.tcp_flags != null or .icmp_type != null)' 0 "UDP has no tcp_flags nor icmp_type"
if [ $ipt -eq 1 ]; then
	expect_event '.group == 12 and .prefix == "IPT-UDP" and .dport == 6000' "iptables -j NFLOG rule"
else
	echo "# iptables NFLOG not available: not checked"
fi
expect_count '.type == "nflog" and .dport == 9999' 0 "no event for a packet no rule logs"
expect_count '.type == "nflog" and .group == 13' 0 "no event from the group another process holds"
if grep -q "nflog: group 13 is bound by another process" "$TMP/daemon.log"; then
	ok "clear error naming group 13 and the conflict"
else
	not_ok "group 13 error: $(grep nflog "$TMP/daemon.log")"
fi
st=$(nsx "$NLHOOK" --control "$TMP/control.sock" status --json)
if echo "$st" | jq -e '.sources[] | select(.name == "nflog") | .events >= 6 and .drops == 0' >/dev/null; then
	ok "status: nflog events counted, no drops"
else
	not_ok "status nflog: $(echo "$st" | jq -c '.sources')"
fi

# The scanner example: more than 20 hits in 10 s from one source, blocked once.
tx 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(30): s.sendto(b"s", ("10.90.0.1", 5353))'
if wait_for "grep -q '10.90.0.2 inet' '$TMP/blocked'" 5 && sleep 0.3 && [ "$(wc -l < "$TMP/blocked")" -eq 1 ]; then
	ok "scanner example: the source blocked once, after 20 hits"
else
	not_ok "scanner example: $(cat "$TMP/blocked" 2>/dev/null)"
fi

# Through the daemon, a monitor sees the groups it bound.
ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock" monitor --json nflog > "$TMP/mon.jsonl" 2>&1 &
MON=$!
CLEANUPS+=("kill $MON")
sleep 0.3
tx 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"m", ("10.90.0.1", 5353))'
if wait_for "grep -q MDNS-IN '$TMP/mon.jsonl'" 5; then ok "monitor through the daemon shows nflog hits"; else not_ok "monitor: $(cat "$TMP/mon.jsonl")"; fi

finish
