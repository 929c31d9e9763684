#!/usr/bin/env bash
# Text is text: a link named with UTF-8 (café0) and one with a byte that is
# not UTF-8 in its name, and an nflog prefix with UTF-8.  Every rendering
# (monitor --json through python3's json.loads, monitor lines, an action's
# NLHOOK_IFNAME, emitted lines) shows UTF-8 as itself and the other byte as
# \xNN, and `nlhook test --event` with the monitor's JSON hands a rule the
# very bytes of the name.
. "$(dirname "$0")/lib.sh"

UTF=$'caf\xc3\xa90'		# café0
BAD=$'caf\xff1'			# caf, 0xff, 1: shown as caf\xff1
NS2="${NS}-tx"
ip netns add "$NS2"
CLEANUPS+=("ip netns del $NS2")

cat > "$TMP/action" <<SH
#!/bin/sh
printf '%s\n' "\$NLHOOK_IFNAME" >> "$TMP/action.out"
SH
chmod 755 "$TMP/action"
rule_file 50-text.lua <<LUA
nlhook.on("link.*", { ifname = "caf*" }, function(ev) nlhook.emit(ev) end)
nlhook.on("link.up", { ifname = "$UTF" }, "$TMP/action")
nlhook.on("nflog", { group = 21 }, function(ev) nlhook.emit(ev) end)
LUA
start_daemon

ip netns exec "$NS" "$NLHOOK" monitor --direct --json 'link.*' 'ifname=caf*' > "$TMP/mon.jsonl" 2> "$TMP/mon.err" &
MON=$!
CLEANUPS+=("kill $MON")
ip netns exec "$NS" "$NLHOOK" monitor --direct 'link.*' > "$TMP/mon.txt" 2>&1 &
MONT=$!
CLEANUPS+=("kill $MONT")
# Through the daemon: the filter, in the text form, crosses the control socket unchanged.
ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock" monitor --json 'link.*' 'ifname=caf\xff1' \
	> "$TMP/mond.jsonl" 2> "$TMP/mond.err" &
MOND=$!
CLEANUPS+=("kill $MOND")
sleep 0.5

nsx ip link add name "$UTF" type veth peer name vT1
nsx ip link add name "$BAD" type veth peer name vT2
nsx ip link set "$UTF" up
nsx ip link set "$BAD" up
expect_event ".type == \"link.up\" and .ifname == \"$UTF\"" "daemon: link.up of café0, emitted as itself"
expect_event '.type == "link.up" and .ifname == "caf\\xff1"' "daemon: the byte 0xff emitted as \\xff"
wait_for "[ -s '$TMP/action.out' ]" 5 || true
sleep 0.3
kill "$MON" "$MONT" "$MOND"
wait "$MON" "$MONT" "$MOND" 2>/dev/null || true

# json.loads of each line's bytes: valid UTF-8 JSON, the names as promised.
check_json() {
	python3 - "$1" <<'PY'
import json, sys
names = set()
with open(sys.argv[1], "rb") as f:
    for line in f:
        names.add(json.loads(line).get("ifname"))  # bytes: UTF-8 or a UnicodeDecodeError
print(" ".join(sorted(n for n in names if n)))
PY
}
if names=$(check_json "$TMP/mon.jsonl"); then
	ok "monitor --json lines parse with python3's json.loads"
else
	not_ok "monitor --json lines do not parse: $(head -c 600 "$TMP/mon.jsonl" | od -c | head)"
fi
if [ "$names" = "caf\\xff1 $UTF" ]; then
	ok "monitor --json: café0 as itself, the 0xff byte as \\xff"
else
	not_ok "monitor --json names: [$names]"
fi
if check_json "$TMP/events.jsonl" >/dev/null; then ok "the event log parses with json.loads"; else not_ok "event log: not JSON"; fi
if grep -qa "^link.up ifname=$UTF " "$TMP/mon.txt" && grep -qaF 'link.up ifname=caf\xff1 ' "$TMP/mon.txt"; then
	ok "monitor lines: café0 as itself, caf\\xff1"
else
	not_ok "monitor lines: $(grep -a link.up "$TMP/mon.txt")"
fi
if [ "$(check_json "$TMP/mond.jsonl")" = 'caf\xff1' ]; then
	ok "monitor through the daemon: the filter ifname=caf\\xff1 picks that link alone"
else
	not_ok "monitor through the daemon: $(cat "$TMP/mond.jsonl" "$TMP/mond.err")"
fi
if [ "$(cat "$TMP/action.out" 2>/dev/null)" = "$UTF" ]; then
	ok "the action's NLHOOK_IFNAME holds café0"
else
	not_ok "NLHOOK_IFNAME: $(od -c "$TMP/action.out" 2>&1 | head -3)"
fi

# nlhook test --event with the monitor's lines: the handler gets the raw bytes.
mkdir -m 755 "$TMP/hex"
cat > "$TMP/hex/50-hex.lua" <<'LUA'
nlhook.on("link.up", {}, function(ev)
	nlhook.emit({ hex = (ev.ifname:gsub(".", function(c) return string.format("%02x", c:byte()) end)) })
end)
LUA
chmod 644 "$TMP/hex/50-hex.lua"
for want in "636166c3a930" "636166ff31"; do
	line=$(python3 - "$TMP/mon.jsonl" "$want" <<'PY'
import json, sys
for line in open(sys.argv[1], "rb"):
    ev = json.loads(line)
    name = ev["ifname"].encode().replace(b"\\xff", b"\xff")
    if ev["type"] == "link.up" and name.hex() == sys.argv[2]:
        print(line.decode().strip()); break
PY
)
	out=$("$NLHOOK" test --rules "$TMP/hex" --event "$line" 2>&1) || true
	if grep -q "emit 50-hex.lua:1: {\"hex\":\"$want\"}" <<< "$out"; then
		ok "nlhook test --event: the handler gets the bytes $want"
	else
		not_ok "nlhook test --event '$line': $out"
	fi
done
out=$("$NLHOOK" test --rules "$TMP/hex" --event '{"type":"link.up","ifname":"caf\\xf"}' 2>&1) && rc=0 || rc=$?
if [ $rc -ne 0 ] && grep -q "field 'ifname'" <<< "$out"; then
	ok "a name not in the text form is an error naming the field"
else
	not_ok "bad text accepted: rc=$rc $out"
fi

# An nflog prefix with UTF-8.
ip link add vT3 netns "$NS" type veth peer name vT4 netns "$NS2"
nsx ip addr add 10.92.0.1/24 dev vT3
nsx ip link set vT3 up
ip netns exec "$NS2" ip addr add 10.92.0.2/24 dev vT4
ip netns exec "$NS2" ip link set vT4 up
nsx nft -f - <<'NFT'
table inet nlhtext {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 4444 log group 21 prefix "café "
	}
}
NFT
ip netns exec "$NS2" python3 -c 'import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("10.92.0.1", 4444))'
expect_event ".type == \"nflog\" and .prefix == \"$(printf 'caf\xc3\xa9 ')\"" "nflog prefix café as itself"

finish
