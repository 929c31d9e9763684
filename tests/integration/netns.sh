#!/usr/bin/env bash
# One daemon for every network namespace (nlhookd --all-netns): named
# namespaces made after the start (ip netns add), one reached only
# through a veth (unshare --net: an nsid, no file), one deleted; link and
# address events inside them carry netns and nsid; nflog in a namespace;
# a program run inside one; nlhook.netns; 100 namespaces and back; a
# --netns-dir that does not exist yet, parents and all.
. "$(dirname "$0")/lib.sh"

# The namespaces of this test: named after it, removed even on failure.
P="nlhtn$$"
# An nflog group of this run's own: its rule binds the group in every
# namespace, other tests' included (valgrind-netns runs beside this one).
G=$((20000 + $$ % 40000))
made=()
mkns() { ip netns add "$1"; made+=("$1"); }
cleanup_ns() { for n in "${made[@]}"; do ip netns del "$n" 2>/dev/null || true; done; }
CLEANUPS+=("cleanup_ns")

rule_file 10-ns.lua <<'LUA'
nlhook.on({ "netns.*", "link.up", "addr.add" }, {}, function(ev)
	if ev.netns and ev.netns:find("^nlhtn") or (ev.netns or ""):find("^nsid:") then nlhook.emit(ev) end
end)
-- The state of a namespace: the event's by default, or the one named.
nlhook.on("addr.add", { address = "10.31.0.2" }, function(ev)
	local mine, other = {}, {}
	for _, l in ipairs(nlhook.links()) do mine[#mine + 1] = l.ifname .. "@" .. (l.netns or "-") end
	for _, l in ipairs(nlhook.links({ netns = ev.netns:gsub("%-2$", "-1") })) do other[#other + 1] = l.ifname end
	table.sort(mine)
	local ok, err = pcall(nlhook.links, { netns = "no-such-ns" })
	nlhook.emit({ links = table.concat(mine, ","), other = table.concat(other, ","), missing = err })
end)
LUA
# Rules scoped to namespaces: a netns term, as any field.
cat > "$TMP/env-of" <<'SH'
#!/bin/sh
echo "$NLHOOK_NETNS $NLHOOK_NSID $NLHOOK_IFNAME" >> "$(dirname "$0")/env.out"
SH
chmod 755 "$TMP/env-of"
# This test's names and group only: the daemon watches the namespaces of
# the tests running beside it too (valgrind-netns, with links of the same
# names).
rule_file 20-scoped.lua <<LUA
nlhook.on("link.up", { netns = "$P-2" }, function(ev) nlhook.emit({ only2 = ev.ifname }) end)
nlhook.on("link.up", { netns = "" }, function(ev) nlhook.emit({ own = ev.ifname }) end)
nlhook.on("link.up", { netns = "!$P-2" }, function(ev) nlhook.emit({ not2 = ev.ifname, netns = ev.netns }) end)
nlhook.on("link.up", { netns = "$P-2" }, "$TMP/env-of")
nlhook.on("nflog", { group = 32, netns = "$P-1" }, function(ev) end)
nlhook.on("nflog", { group = $G }, function(ev) nlhook.emit({ hit = ev.netns, prefix = ev.prefix }) end)
nlhook.on("netns.add", { netns = "$P-x1" }, function(ev)
	nlhook.exec({ "/usr/sbin/ip", "link", "add", "made-inside", "type", "veth", "peer", "name", "made-peer" }, {
		netns = ev.netns,
		on_exit = function(status) nlhook.emit({ exec_exit = status, netns = ev.netns }) end,
	})
end)
LUA
# A runtime's directory of namespace files, made (parents and all) when
# the runtime starts: none of it exists yet.
NSDIR="$TMP/rt/a/netns"
: > "$TMP/notadir"
start_daemon --all-netns --netns-dir "$NSDIR/" --netns-dir "$TMP/notadir"
if grep -q "netns: $TMP/notadir is not a directory" "$TMP/daemon.log"; then
	ok "a --netns-dir that is not a directory is logged"
else
	not_ok "no log line for the --netns-dir that is a file"
fi
CTL=(ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock")

# Monitors through the daemon: with --all-netns the namespace is a column
# (text) or the netns field (JSON); without, only the daemon's own.
"${CTL[@]}" monitor --all-netns link.up > "$TMP/mon-all.txt" 2>&1 &
M1=$!
"${CTL[@]}" monitor --all-netns --json link.up > "$TMP/mon-all.jsonl" 2>&1 &
M2=$!
"${CTL[@]}" monitor link.up > "$TMP/mon-own.txt" 2>&1 &
M3=$!
CLEANUPS+=("kill $M1 $M2 $M3")
wait_for "[ \$(\"\${CTL[@]}\" status --json | jq .monitors) -eq 3 ]" 5 || true

# Three named namespaces, made after the start.
for i in 1 2 3; do mkns "$P-$i"; done
for i in 1 2 3; do
	expect_event ".type == \"netns.add\" and .netns == \"$P-$i\" and .nsid >= 0" "netns.add $P-$i with its nsid"
done
ip -n "$P-2" link add v2 type veth peer name w2
ip -n "$P-2" link set v2 up
ip -n "$P-2" addr add 10.31.0.2/24 dev v2
expect_event ".type == \"link.up\" and .netns == \"$P-2\" and .ifname == \"v2\" and .nsid >= 0" \
	"link.up inside $P-2 carries netns and nsid"
expect_event ".type == \"addr.add\" and .netns == \"$P-2\" and .address == \"10.31.0.2\"" "addr.add inside $P-2"
expect_event ".links == \"lo@$P-2,v2@$P-2,w2@$P-2\" and .other == \"lo\"" \
	"nlhook.links(): the event's namespace by default, another by name"
expect_event '.missing != null and (.missing | test("no watched network namespace .no-such-ns."))' \
	"nlhook.links{ netns = unknown }: an error"
nsx ip link add vOwn type veth peer name pOwn
nsx ip link set vOwn up
expect_event '.only2 == "v2"' "netns = NAME: that namespace's events"
expect_event '.own == "vOwn"' "netns = \"\": the daemon's own namespace"
expect_event '.not2 == "vOwn"' "netns = !NAME: the others, the daemon's own included"
expect_count ".only2 == \"vOwn\" or .own == \"v2\" or (.not2 == \"v2\" and .netns == \"$P-2\")" 0 "and nothing else"
if wait_for "grep -q '^$P-2 [0-9]* v2\$' '$TMP/env.out'" 5; then
	ok "NLHOOK_NETNS and NLHOOK_NSID in an action's environment"
else
	not_ok "env: $(cat "$TMP/env.out" 2>/dev/null)"
fi
# nflog groups follow the netns terms: group 32 is bound in P-1 alone, so
# another logger can take it in P-2 (and not in P-1).
bind32() {	# bind32 NS: try to bind nflog group 32 there, as ulogd2 would
	ip netns exec "$1" python3 -c '
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
s.bind((0, 0))
msg = struct.pack("=BBH", 0, 0, socket.htons(32)) + struct.pack("=HHB3x", 8, 1, 1)
s.send(struct.pack("=IHHII", 16 + len(msg), (4 << 8) | 1, 0x5, 1, 0) + msg)
print("bound" if struct.unpack_from("=i", s.recv(4096), 16)[0] == 0 else "refused")'
}
if [ "$(bind32 "$P-2")" = bound ] && [ "$(bind32 "$P-1")" = refused ]; then
	ok "an nflog rule with a netns term binds its group in that namespace only"
else
	not_ok "group 32: $P-2 $(bind32 "$P-2"), $P-1 $(bind32 "$P-1")"
fi
# A dry run of a namespace's event, as the monitor shows it.
line=$(jq -c --arg n "$P-2" 'select(.netns == $n and .ifname == "v2")' "$TMP/mon-all.jsonl" | sed -n 1p)
if "$NLHOOK" test --rules "$RULES" --event "$line" 2>&1 | grep "^match $RULES/20-scoped.lua:1\|^match 20-scoped.lua:1" >/dev/null; then
	ok "nlhook test --event with the namespace: the scoped rule matches"
else
	not_ok "test --event [$line]: $("$NLHOOK" test --rules "$RULES" --event "$line" 2>&1 | head -5)"
fi
if wait_for "grep -q '^\\[$P-2\\] link.up .*ifname=v2' '$TMP/mon-all.txt'" 5 &&
   wait_for "grep -q '^\\[current\\] link.up ifname=vOwn' '$TMP/mon-all.txt'" 5; then
	ok "monitor --all-netns: the namespace as a column"
else
	not_ok "monitor --all-netns: $(head -5 "$TMP/mon-all.txt")"
fi
if wait_for "jq -c --arg n \"$P-2\" 'select(.netns == \$n and .ifname == \"v2\" and .nsid >= 0)' '$TMP/mon-all.jsonl' | grep . >/dev/null" 5; then
	ok "monitor --all-netns --json: netns and nsid fields"
else
	not_ok "monitor --all-netns --json: $(head -3 "$TMP/mon-all.jsonl")"
fi
if wait_for "grep -q '^link.up ifname=vOwn' '$TMP/mon-own.txt'" 5 && ! grep -q 'ifname=v2' "$TMP/mon-own.txt"; then
	ok "monitor without --all-netns: the daemon's own namespace only"
else
	not_ok "plain monitor: $(cat "$TMP/mon-own.txt")"
fi
kill "$M1" "$M2" "$M3" 2>/dev/null || true
if "${CTL[@]}" status --json | jq -e --arg p "$P-" '[.netns[] | select(.name | tostring | startswith($p))] | length == 3' >/dev/null; then
	ok "status lists the three namespaces"
else
	not_ok "status netns: $("${CTL[@]}" status --json | jq -c '[.netns[].name]')"
fi
if "${CTL[@]}" status | grep -E "^$P-2 +[0-9]+ +[0-9]+ +[0-9]+/0/0" >/dev/null; then
	ok "the human status has a row per namespace"
else
	not_ok "human status: $("${CTL[@]}" status | grep -A4 NETNS)"
fi

# Deleted: dropped, with netns.del.
ip netns del "$P-3"
expect_event ".type == \"netns.del\" and .netns == \"$P-3\"" "netns.del when it is deleted"
if wait_for "! \"\${CTL[@]}\" status --json | jq -e --arg n \"$P-3\" '.netns[] | select(.name == \$n)'" 5; then
	ok "status no longer lists it"
else
	not_ok "$P-3 still in status"
fi

# The --netns-dir made after the start, parents and all: watched from the
# nearest ancestor down.  Its namespace files are mounted in the daemon's
# mount namespace (ip netns exec gave it one of its own), as a runtime's
# would be in a shared mount.
ctr() {	# ctr NAME: a namespace on a file in $NSDIR
	touch "$NSDIR/$1"
	nsenter -t "$DAEMON_PID" -m unshare --net="$NSDIR/$1" true
}
unctr() { nsenter -t "$DAEMON_PID" -m umount -l "$NSDIR/$1" 2>/dev/null || true; rm -f "$NSDIR/$1"; }
CLEANUPS+=("unctr $P-c1" "unctr $P-c2")
mkdir -p "$NSDIR"
ctr "$P-c1"
expect_event ".type == \"netns.add\" and .netns == \"$P-c1\" and .nsid >= 0" \
	"--netns-dir made after the start, with its parents: its namespace is watched"
unctr "$P-c1"
expect_event ".type == \"netns.del\" and .netns == \"$P-c1\"" "and dropped when its file goes"
# Removed and made again: watched again.
rm -rf "$TMP/rt"
sleep 0.2
mkdir -p "$NSDIR"
ctr "$P-c2"
expect_event ".type == \"netns.add\" and .netns == \"$P-c2\"" "--netns-dir removed and made again: watched again"
unctr "$P-c2"
expect_event ".type == \"netns.del\" and .netns == \"$P-c2\"" "and its namespace dropped"

# Known only by an nsid: unshare --net, reached through a veth.
ip netns exec "$NS" unshare --net sleep 60 &
U=$!
CLEANUPS+=("kill $U")
sleep 0.3
nsx ip link add vU0 type veth peer name vU1
nsx ip link set vU1 netns "$U"
nsenter -t "$U" -n ip link set vU1 up
expect_event '.type == "netns.add" and (.netns | startswith("nsid:")) and .nsid >= 0' "an unnamed namespace appears as nsid:N"
expect_event '.type == "link.up" and (.netns | startswith("nsid:")) and .ifname == "vU1"' "its link.up, named nsid:N"
kill "$U"; wait "$U" 2>/dev/null || true
expect_event '.type == "netns.del" and (.netns | startswith("nsid:"))' "and it goes when the namespace does"

# A program run inside a namespace.
mkns "$P-x1"
expect_event ".exec_exit == 0 and .netns == \"$P-x1\"" "nlhook.exec{ netns = ... } ran"
if ip -n "$P-x1" link show made-inside >/dev/null 2>&1 && ! nsx ip link show made-inside >/dev/null 2>&1; then
	ok "it ran inside the namespace, not the daemon's"
else
	not_ok "made-inside not found in $P-x1"
fi

# nflog inside a namespace: a rule without a netns term binds its group in every one.
ip netns exec "$P-1" ip link set lo up
ip netns exec "$P-1" nft add table inet nlhtn
ip netns exec "$P-1" nft add chain inet nlhtn input '{ type filter hook input priority 0; }'
ip netns exec "$P-1" nft add rule inet nlhtn input udp dport 9310 log group $G prefix '"IN-NS "'
sleep 0.3
ip netns exec "$P-1" python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", 9310))'
expect_event ".hit == \"$P-1\" and .prefix == \"IN-NS \"" "an nflog hit inside $P-1, with its netns"

# 100 namespaces: each watched, each dropped; memory per namespace bounded.
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
# Tests running beside this one make namespaces of their own, which the
# daemon watches too: count them before and after.
fds0=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
ns0=$("${CTL[@]}" status --json | jq '.netns | length')
for i in $(seq 100); do echo "netns add $P-h$i"; done > "$TMP/add"
for i in $(seq 100); do made+=("$P-h$i"); done
ip -batch "$TMP/add"
if wait_for "[ \$(\"\${CTL[@]}\" status --json | jq --arg p \"$P-h\" '[.netns[] | select(.name | tostring | startswith(\$p))] | length') -eq 100 ]" 30; then
	ok "100 namespaces watched"
else
	not_ok "watched: $("${CTL[@]}" status --json | jq --arg p "$P-h" '[.netns[] | select(.name | tostring | startswith($p))] | length')"
fi
rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
per=$(( (rss1 - rss0) / 100 ))
if [ "$per" -le 256 ]; then ok "RSS per namespace: $per kB ($rss0 -> $rss1 kB)"; else not_ok "RSS per namespace $per kB"; fi
for i in $(seq 100); do echo "netns del $P-h$i"; done > "$TMP/del"
ip -batch "$TMP/del"
if wait_for "[ \$(\"\${CTL[@]}\" status --json | jq --arg p \"$P-h\" '[.netns[] | select(.name | tostring | startswith(\$p))] | length') -eq 0 ]" 30; then
	ok "all 100 dropped"
else
	not_ok "left: $("${CTL[@]}" status --json | jq -c '[.netns[].name]')"
fi
fds=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
ns1=$("${CTL[@]}" status --json | jq '.netns | length')
others=$(( ns1 > ns0 ? ns1 - ns0 : 0 ))
if [ "$fds" -le $(( fds0 + 8 * others + 4 )) ]; then
	ok "no descriptors left behind ($fds0 -> $fds open, $ns0 -> $ns1 namespaces)"
else
	not_ok "$fds descriptors open, $fds0 before ($ns0 -> $ns1 namespaces)"
fi

finish
