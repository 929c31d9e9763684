#!/usr/bin/env bash
# Script directories: DIR/TYPE/ executables run for each event of TYPE,
# in name order, one at a time, with the event in the environment; a
# later dir replaces a script of the same name, /dev/null masks one; a
# script others can write is refused; a failing one is logged and
# counted; nlhook check and status cover them.
. "$(dirname "$0")/lib.sh"

D1=$TMP/d1
D2=$TMP/d2
OUT=$TMP/out
mkdir -m 755 -p "$D1/net.online" "$D1/link.up" "$D2/net.online" "$D1/link.up-typo"
touch "$OUT"
chmod 666 "$OUT"
# script DIR NAME BODY: an executable shell script, root's, mode 755.
script() { printf '#!/bin/sh\n%s\n' "$3" > "$1/$2"; chmod 755 "$1/$2"; }

# Each one says when it starts and ends: one at a time means no overlap.
script "$D1/net.online" 10-first "echo \"start 10 \$NLHOOK_TYPE \$NLHOOK_FAMILY \$NLHOOK_GATEWAY\" >> $OUT; sleep 0.3; echo end 10 >> $OUT"
script "$D1/net.online" 20-second "echo start 20 >> $OUT; echo end 20 >> $OUT"
script "$D1/net.online" 30-replaced "echo start 30-d1 >> $OUT"
script "$D2/net.online" 30-replaced "echo start 30-d2 >> $OUT; echo end 30 >> $OUT"
script "$D1/net.online" 40-masked "echo start 40 >> $OUT"
ln -s /dev/null "$D2/net.online/40-masked"
script "$D1/net.online" 50-fails "echo start 50 >> $OUT; echo 'half done' ; echo 'no route to the VPN' >&2; exit 3"
script "$D1/net.online" 60-writable "echo start 60 >> $OUT"
chmod 775 "$D1/net.online/60-writable"
script "$D1/net.online" 70-last "echo start 70 >> $OUT; echo end 70 >> $OUT"
echo "not a script" > "$D1/net.online/README"
chmod 644 "$D1/net.online/README"
script "$D1/link.up" 10-up "echo \"up \$NLHOOK_IFNAME\" >> $OUT"

# nlhook check sees what the daemon will refuse, before it runs.
rc=0
out=$("$NLHOOK" check --dispatch-dir "$D1" --dispatch-dir "$D2" "$RULES" 2>&1) || rc=$?
if [ $rc -eq 1 ]; then ok "check: exit 1"; else not_ok "check: exit $rc: $out"; fi
if grep -qx "$D1/net.online/60-writable: writable by group or others (chmod go-w), refusing to run it" <<< "$out"; then
	ok "check: the writable script is an error"; else not_ok "check: $out"; fi
if grep -qx "$D1/link.up-typo: not an event type (link.up, net.online, ...), ignored" <<< "$out"; then
	ok "check: a subdirectory that names no event type is an error"; else not_ok "check: $out"; fi
if grep -qx "$D1/net.online/README: warning: not executable, not run" <<< "$out"; then
	ok "check: a file that is not executable is a warning"; else not_ok "check: $out"; fi
if grep -q "40-masked\|30-replaced" <<< "$out"; then not_ok "check: masked or replaced scripts: $out"
else ok "check: nothing about masked and replaced scripts"; fi

nsx ip link add vA type veth peer name vB
start_daemon --dispatch-dir "$D1" --dispatch-dir "$D2"
if grep -q "dispatch: $D1/link.up-typo: not an event type" "$TMP/daemon.log"; then
	ok "the daemon logs the subdirectory it ignores"; else not_ok "no log of link.up-typo"; fi

nsx ip link set vA up
if wait_for "grep -qx 'up vA' '$OUT'" 5; then ok "link.up/ runs for link.up, NLHOOK_IFNAME=vA"; else not_ok "link.up/ did not run"; fi
nsx ip link set vB up
nsx ip addr add 10.63.0.1/24 dev vA
nsx ip route add default via 10.63.0.2
wait_for "grep -q 'start 70' '$OUT'" 10 || true
got=$(grep -v '^up ' "$OUT" | paste -sd,)
want="start 10 net.online inet 10.63.0.2,end 10,start 20,end 20,start 30-d2,end 30,start 50,start 70,end 70"
if [ "$got" = "$want" ]; then
	ok "net.online/: name order, one at a time, the later dir's 30, 40 masked, 60 refused, the event in the environment"
else
	not_ok "net.online/ ran: $got (want $want)"
fi
if grep -q "dispatch: $D1/net.online/60-writable: writable by group or others (chmod go-w), refusing to run it" \
	"$TMP/daemon.log"; then ok "the refusal is logged"; else not_ok "no refusal in the log"; fi
if grep -q "rule dispatch.d/net.online: $D1/net.online/50-fails exited with status 3" "$TMP/daemon.log" &&
   grep -q "rule dispatch.d/net.online: stdout: half done" "$TMP/daemon.log" &&
   grep -q "rule dispatch.d/net.online: stderr: no route to the VPN" "$TMP/daemon.log"; then
	ok "the failing script: its status and output in the log"
else
	not_ok "the failing script's log lines are missing"
fi

"$NLHOOK" --control "$TMP/control.sock" status --json > "$TMP/status.json"
sj() { jq -e "$1" "$TMP/status.json" > /dev/null; }
if sj ".dispatch.subdirs[] | select(.name == \"net.online\") | .refused == 1 and
	(.scripts[] | select(.path == \"$D1/net.online/50-fails\") | .runs == 1 and .failures == 1 and .last_status == 3)"; then
	ok "status --json: the failure and the refusal counted"
else
	not_ok "status --json: $(jq -c .dispatch "$TMP/status.json")"
fi
if sj ".dispatch.subdirs[] | select(.name == \"net.online\") | .scripts[] |
	select(.path == \"$D1/net.online/60-writable\") | .refused == \"writable by group or others (chmod go-w)\""; then
	ok "status --json: why the refused script does not run"
else
	not_ok "status --json: $(jq -c .dispatch "$TMP/status.json")"
fi
"$NLHOOK" --control "$TMP/control.sock" status > "$TMP/status.txt"
if grep -qE "^$D1/net.online/50-fails +1 +1 +3$" "$TMP/status.txt" &&
   grep -qE "^$D1/net.online/60-writable +0 +0 +-  \(refused: writable by group or others \(chmod go-w\)\)$" \
	"$TMP/status.txt"; then
	ok "status: a row per script with its runs, failures, last status"
else
	not_ok "status: $(cat "$TMP/status.txt")"
fi

# A script dropped in runs at the next event; a new subdirectory after a reload.
script "$D1/link.up" 20-new "echo \"new \$NLHOOK_IFNAME\" >> $OUT"
mkdir -m 755 "$D1/link.down"
script "$D1/link.down" 10-down "echo \"down \$NLHOOK_IFNAME\" >> $OUT"
nsx ip link add vC type veth peer name vD
nsx ip link set vC up
if wait_for "grep -qx 'new vC' '$OUT'" 5; then ok "a script dropped into link.up/ runs at the next event"
else not_ok "20-new did not run"; fi
nsx ip link set vC down
sleep 0.3
if grep -q "^down" "$OUT"; then not_ok "link.down/ ran before a reload"; else ok "a new subdirectory waits for a reload"; fi
"$NLHOOK" --control "$TMP/control.sock" reload > /dev/null
nsx ip link set vC up
nsx ip link set vC down
if wait_for "grep -qx 'down vC' '$OUT'" 5; then ok "link.down/ runs after the reload"; else not_ok "link.down/ did not run"; fi

# Owned by another user: refused as well.
script "$D1/net.online" 65-owned "echo start 65 >> $OUT"
chown 65534 "$D1/net.online/65-owned"
: > "$OUT"
nsx ip route del default
nsx ip route add default via 10.63.0.2
wait_for "grep -q 'start 70' '$OUT'" 10 || true
if grep -q "start 65" "$OUT"; then not_ok "a script owned by another user ran"
elif grep -q "65-owned: owned by uid 65534, neither root nor us, refusing to run it" "$TMP/daemon.log"; then
	ok "a script owned by another user is refused"
else not_ok "no refusal of the script owned by uid 65534"; fi

# A link to a script, or a rule file, in a directory others can write:
# they could replace it.  Refused as well.
mkdir -m 777 "$TMP/ww"
script "$TMP/ww" t "echo start 66 >> $OUT"
ln -s "$TMP/ww/t" "$D1/net.online/66-linked"
printf 'nlhook.on("link.up", {}, function() end)\n' > "$TMP/ww/x.lua"
chmod 644 "$TMP/ww/x.lua"
mkdir -m 755 "$TMP/r2"
ln -s "$TMP/ww/x.lua" "$TMP/r2/10-linked.lua"
: > "$OUT"
nsx ip route del default
nsx ip route add default via 10.63.0.2
wait_for "grep -q 'start 70' '$OUT'" 10 || true
if grep -q "start 66" "$OUT"; then not_ok "a script linked into a directory others can write ran"
elif grep -q "66-linked: it lives in $TMP/ww, which is writable by group or others (chmod go-w), refusing to run it" \
	"$TMP/daemon.log"; then
	ok "a script linked into a directory others can write is refused"
else not_ok "no refusal of the linked script: $(grep 66-linked "$TMP/daemon.log")"; fi
rc=0
out=$("$NLHOOK" check --dispatch-dir "$D1" "$TMP/r2" 2>&1) || rc=$?
if [ $rc -eq 1 ] &&
   grep -q "66-linked: it lives in $TMP/ww, which is writable by group or others (chmod go-w), refusing to run it" <<< "$out" &&
   grep -q "10-linked.lua: it lives in $TMP/ww, which is writable by group or others (chmod go-w), refusing to load it" <<< "$out"; then
	ok "check: the linked script and rule file are errors"
else
	not_ok "check on linked files: exit $rc: $out"
fi

finish
