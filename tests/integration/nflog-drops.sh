#!/usr/bin/env bash
# Lost firewall hits are reported, and counted once: while the daemon is
# stopped (SIGSTOP) a burst overruns its small receive buffer; when it
# runs again it raises nlhook.drop at once, without a count (the kernel
# has not told how many yet), then, at the group's next hit, nlhook.drop
# with the exact gap in the group's sequence.  Hits handled plus hits
# counted lost equal the hits the firewall logged.
. "$(dirname "$0")/lib.sh"

nsx nft -f - <<'NFT'
table inet nlhtd {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 9100 counter log group 21
	}
}
NFT
logged() {
	nsx nft -j list table inet nlhtd |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add'
}
send() {	# send N: UDP packets to the logged port, on loopback
	nsx python3 -c "import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])): s.sendto(b'x' * 32, ('127.0.0.1', 9100))" "$1"
}

rule_file 50-hits.lua <<'LUA'
local n = 0
nlhook.on("nflog", { group = 21 }, function(ev) n = n + 1; nlhook.emit({ hit = n }) end)
nlhook.on("nlhook.drop", {}, function(ev) nlhook.emit(ev) end)
LUA
start_daemon --rcvbuf 4096
send 5
expect_event '.hit == 5' "hits arrive"

kill -STOP "$DAEMON_PID"
send 3000
kill -CONT "$DAEMON_PID"
expect_event '.type == "nlhook.drop" and .source == "nflog" and .count == null and .group == null' \
	"nlhook.drop at the overrun itself, without a count"
# (The kernel may still flush a last batch of the burst after the daemon
# resumes: its gap is counted then, which is as right as at the next hit.)
send 1
expect_event '.type == "nlhook.drop" and .group == 21 and .count > 0' "nlhook.drop with the gap at the next hit"
sleep 0.3
total=$(logged)
hits=$(count_events '.hit != null')
lost=$(jq -s '[.[] | select(.type == "nlhook.drop" and .count != null) | .count] | add // 0' "$TMP/events.jsonl")
if [ $((hits + lost)) -eq "$total" ]; then
	ok "handled $hits + lost $lost = logged $total: every loss counted, none twice"
else
	not_ok "handled $hits + lost $lost != logged $total"
fi
st=$(nsx "$NLHOOK" --control "$TMP/control.sock" status --json)
if echo "$st" | jq -e --argjson lost "$lost" '.sources[] | select(.name == "nflog") | .drops == $lost and .resyncs >= 1' >/dev/null; then
	ok "status: nflog drops $lost, the overrun counted"
else
	not_ok "status nflog: $(echo "$st" | jq -c '.sources[] | select(.name == "nflog")')"
fi
if grep -q "nflog: receive buffer overrun" "$TMP/daemon.log"; then ok "overrun logged"; else not_ok "no overrun in the log"; fi

finish
