#!/usr/bin/env bash
# Bridged traffic: a bridge-family nft rule logs frames crossing a bridge
# in the test's namespace, from a port to another.  A VLAN-tagged frame
# (sent raw, 802.1Q id 100 priority 3) comes with the ports it crossed
# (physindev, physoutdev), the bridge as indev and outdev, and its VLAN
# id; an untagged frame has no vlan.  The kernel sends these fields for
# bridge-family rules only.
. "$(dirname "$0")/lib.sh"

NSA="${NS}-a" NSB="${NS}-b"
ip netns add "$NSA"
CLEANUPS+=("ip netns del $NSA")
ip netns add "$NSB"
CLEANUPS+=("ip netns del $NSB")
nsx ip link add br0 type bridge
ip link add vB0 netns "$NS" type veth peer name vB1 netns "$NSA"
ip link add vB2 netns "$NS" type veth peer name vB3 netns "$NSB"
nsx ip link set vB0 master br0
nsx ip link set vB2 master br0
for l in br0 vB0 vB2; do nsx ip link set "$l" up; done
ip netns exec "$NSA" ip link set vB1 up
ip netns exec "$NSB" ip link set vB3 up

nsx nft -f - <<'NFT'
table bridge nlhtb {
	chain fw {
		type filter hook forward priority 0; policy accept;
		ether type vlan udp dport 7000 log group 40 prefix "BR-VLAN "
		ether type ip udp dport 7001 log group 40 prefix "BR-PLAIN "
	}
}
NFT

rule_file 50-br.lua <<'LUA'
nlhook.on("nflog", { group = 40 }, function(ev) nlhook.emit(ev) end)
nlhook.on("nflog", { group = 40, vlan = 100, physindev = "vB0", physoutdev = "vB2", ttl = 33 },
	function(ev) nlhook.emit({ matched = ev.prefix, vlan = ev.vlan }) end)
LUA
start_daemon

# send PORT TAG: one UDP frame from NSA to vB3's address, with an 802.1Q tag when TAG is 1.
send() {
	ip netns exec "$NSA" python3 - "$(ip netns exec "$NSB" cat /sys/class/net/vB3/address)" "$1" "$2" <<'PY'
import socket, struct, sys
dst = bytes.fromhex(sys.argv[1].replace(":", ""))
port, tagged = int(sys.argv[2]), sys.argv[3] == "1"
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("vB1", 0))
src = s.getsockname()[4]
def ip_header(csum):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 32, 7, 0, 33, 17, csum,
                       socket.inet_aton("10.92.0.1"), socket.inet_aton("10.92.0.2"))
c = sum(struct.unpack("!10H", ip_header(0)))
c = (c >> 16) + (c & 0xffff)
ip = ip_header(~(c + (c >> 16)) & 0xffff)   # br_netfilter drops a bad checksum
udp = struct.pack("!HHHH", 40000, port, 12, 0) + b"vlan"
tag = struct.pack("!HH", 0x8100, (3 << 13) | 100) if tagged else b""
s.send(dst + src + tag + struct.pack("!H", 0x0800) + ip + udp)
PY
}
send 7000 1
send 7001 0

expect_event '.prefix == "BR-VLAN " and .physindev == "vB0" and .physoutdev == "vB2" and .indev == "br0" and .outdev == "br0"' \
	"bridged frame: the ports it crossed, the bridge as indev and outdev"
expect_event '.prefix == "BR-VLAN " and .vlan == 100 and .proto == "udp" and .dport == 7000 and .ttl == 33 and .ip_id == 7' \
	"VLAN id of the tagged frame (without its priority), with the IP fields"
expect_event '.matched == "BR-VLAN " and .vlan == 100' "a rule matches on vlan, physindev, physoutdev and ttl"
expect_event '.prefix == "BR-PLAIN " and .physindev == "vB0" and .physoutdev == "vB2"' "untagged frame logged"
expect_count '.prefix == "BR-PLAIN " and .vlan != null' 0 "no vlan for an untagged frame"

finish
