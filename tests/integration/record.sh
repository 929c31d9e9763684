#!/usr/bin/env bash
# nlhook record writes pcap that tshark decodes as netlink, and replay of
# that file gives the events a live monitor saw (the operational states
# derived from it too); dry runs (nlhook test)
# name the matching rules and run nothing.
. "$(dirname "$0")/lib.sh"

ip netns exec "$NS" "$NLHOOK" record -w "$TMP/cap.pcap" --count 400 'link.*' 'addr.*' 'route.*' 2> "$TMP/record.err" &
REC=$!
ip netns exec "$NS" "$NLHOOK" monitor --direct --json 'link.*' 'addr.*' 'route.*' 'net.*' > "$TMP/live.jsonl" 2>&1 &
MON=$!
CLEANUPS+=("kill $REC $MON")
sleep 0.5
nsx ip link add vW0 type veth peer name vW1
nsx ip link set vW0 up
nsx ip link set vW1 up
nsx ip addr add 10.81.0.1/24 dev vW0
nsx ip route add default via 10.81.0.2
nsx ip link set vW1 down
nsx ip link set vW1 name vWx
sleep 0.5
kill -INT "$REC"; wait "$REC" || true
kill "$MON"; wait "$MON" 2>/dev/null || true
if grep -q "messages written" "$TMP/record.err" && [ -s "$TMP/cap.pcap" ]; then ok "record: $(cat "$TMP/record.err")"; else not_ok "record: $(cat "$TMP/record.err")"; fi

if command -v tshark >/dev/null; then
	frames=$(tshark -r "$TMP/cap.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
	netlink=$(tshark -r "$TMP/cap.pcap" -Y netlink -T fields -e frame.number 2>/dev/null | wc -l)
	route=$(tshark -r "$TMP/cap.pcap" -Y netlink-route -T fields -e frame.number 2>/dev/null | wc -l)
	if [ "$frames" -gt 0 ] && [ "$frames" -eq "$netlink" ] && [ "$route" -eq "$frames" ]; then
		ok "tshark decodes all $frames frames as rtnetlink"
	else
		not_ok "tshark: $frames frames, $netlink netlink, $route rtnetlink"
	fi
else
	echo "# tshark not installed: decoding not checked"
fi

"$NLHOOK" replay --json "$TMP/cap.pcap" > "$TMP/replay.jsonl" 2> "$TMP/replay.err"
live=$(jq -r '[.type, .ifname // "", .address // "", .dst // "", .gateway // "", .old_ifname // ""] | join(" ")' "$TMP/live.jsonl")
replayed=$(jq -r '[.type, .ifname // "", .address // "", .dst // "", .gateway // "", .old_ifname // ""] | join(" ")' "$TMP/replay.jsonl")
if [ -n "$live" ] && [ "$live" = "$replayed" ]; then
	ok "replay gives the events live monitor saw ($(echo "$live" | wc -l))"
else
	not_ok "replay differs: $(diff <(echo "$live") <(echo "$replayed") | head -8 | tr '\n' ' ')"
fi
# Replay runs on another machine's names: nothing here is called vW0.
if jq -e 'select(.type == "link.rename" and .old_ifname == "vW1" and .ifname == "vWx")' "$TMP/replay.jsonl" >/dev/null; then
	ok "names come from the capture"
else
	not_ok "rename not replayed"
fi

# A dry run of the capture against a rule: names the rule and the would-be exec.
rule_file 50-dry.lua <<'LUA'
nlhook.on("route.add", { dst = "default" }, function(ev)
	nlhook.exec({ "/bin/echo", "default via", ev.gateway }, {})
end, { name = "default-route" })
LUA
"$NLHOOK" test --rules "$RULES" --replay "$TMP/cap.pcap" > "$TMP/dry.txt" 2>&1
if grep -q '^match default-route$' "$TMP/dry.txt" && grep -q "^exec default-route: /bin/echo 'default via' 10.81.0.2" "$TMP/dry.txt"; then
	ok "test --replay: the rule matches and shows what it would exec"
else
	not_ok "test --replay: $(grep -E '^(match|exec)' "$TMP/dry.txt" | head -3)"
fi

# A broken capture: a clear error with the record number.
head -c 300 "$TMP/cap.pcap" > "$TMP/cut.pcap"
if "$NLHOOK" replay "$TMP/cut.pcap" > /dev/null 2> "$TMP/cut.err"; then
	not_ok "a truncated capture replayed without error"
elif grep -q "cut.pcap: record [0-9]*: truncated" "$TMP/cut.err"; then
	ok "truncated capture: $(grep -m1 record "$TMP/cut.err")"
else
	not_ok "truncated capture error: $(cat "$TMP/cut.err")"
fi

finish
