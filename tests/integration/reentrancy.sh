#!/usr/bin/env bash
# Subscriptions change from the loop's idle step, never inside a callback:
# while firewall hits flood a small receive buffer, monitor clients that
# ask for another nflog group come and go (each changes what the daemon
# binds) and slow ones are dropped in the middle of a dispatch.  The
# daemon never stalls (status answers quickly every time), never
# dispatches inside a dispatch, and keeps counting.
. "$(dirname "$0")/lib.sh"

nsx nft -f - <<'NFT'
table inet nlhtr {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 9200 log group 22
		udp dport 9201 log group 23
	}
}
NFT
rule_file 50-hits.lua <<'LUA'
local n = 0
nlhook.on("nflog", { group = 22 }, function(ev) n = n + 1 end)
LUA
start_daemon --rcvbuf 4096
CTL=(ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock")

nsx python3 -c "import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 30
while time.time() < end:
    for i in range(200):
        s.sendto(b'x' * 32, ('127.0.0.1', 9200)); s.sendto(b'y' * 32, ('127.0.0.1', 9201))
" &
FLOOD=$!
CLEANUPS+=("kill $FLOOD")

# Monitors that never read: one asks for group 23 (so the daemon binds it
# and unbinds it again when the monitor goes), one for group 22; both fall
# behind and are dropped in the middle of a dispatch.
slow() {	# slow GROUP
	nsx python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"{\"v\":1,\"cmd\":\"monitor\",\"types\":[\"nflog\"],\"filters\":[\"group=%s\"]}\n" % sys.argv[2].encode())
time.sleep(1.2)' "$TMP/control.sock" "$1" &
}
slowest=0
for i in $(seq 8); do
	slow 22; a=$!
	slow 23; b=$!
	sleep 0.3
	t0=$(date +%s%N)
	"${CTL[@]}" status --json > /dev/null || not_ok "status failed during the flood"
	t=$((($(date +%s%N) - t0) / 1000000))
	[ "$t" -gt "$slowest" ] && slowest=$t
	wait "$a" "$b" 2>/dev/null || true
done
kill "$FLOOD" 2>/dev/null || true
wait "$FLOOD" 2>/dev/null || true
if [ "$slowest" -lt $(( ${#VALGRIND[@]} ? 3000 : 1000 )) ]; then ok "status answered within ${slowest} ms at worst"; else not_ok "status took ${slowest} ms"; fi
if grep -q "during another dispatch" "$TMP/daemon.log"; then
	not_ok "an event was raised inside a dispatch: $(grep -m1 'during another dispatch' "$TMP/daemon.log")"
else
	ok "no event raised inside a dispatch"
fi
st=$("${CTL[@]}" status --json)
if echo "$st" | jq -e '.sources[] | select(.name == "nflog") | .events > 1000' >/dev/null; then
	ok "hits kept flowing"
else
	not_ok "nflog: $(echo "$st" | jq -c '.sources[] | select(.name == "nflog")')"
fi

grep -c "behind, disconnecting" "$TMP/daemon.log" || true
finish
