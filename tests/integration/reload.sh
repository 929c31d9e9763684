#!/usr/bin/env bash
# A reload loses nothing it did not change.  A rule file whose source is
# the same keeps its Lua state, its pending nlhook.after timer and
# debounced event, its rate bucket and its counters; a file that changed
# starts afresh, but the exec its old version started still delivers its
# output and on_exit to the old state.  SIGHUP and `nlhook reload` alike.
. "$(dirname "$0")/lib.sh"

rule_file 10-keep.lua <<'LUA'
local n = 0
nlhook.on("link.up", { ifname = "vK*" }, function(ev)
	n = n + 1
	nlhook.emit({ keep = n, ifname = ev.ifname })
	if n == 1 then
		nlhook.after(1.5, function() nlhook.emit({ after_fired = n }) end)
	end
end, { name = "keep" })
nlhook.on("link.down", { ifname = "vK0" }, function(ev) nlhook.emit({ debounced = ev.ifname }) end,
	{ debounce = 1.5, name = "debounce" })
nlhook.on("link.up", { ifname = "vR*" }, function(ev) nlhook.emit({ rated = ev.ifname }) end,
	{ rate = 0.1, name = "rated" })
LUA
rule_file 20-change.lua <<'LUA'
nlhook.on("link.up", { ifname = "vX0" }, function(ev)
	nlhook.exec({ "/bin/sh", "-c", "sleep 1.5; echo from-the-old-version" }, {
		on_exit = function(status, out) nlhook.emit({ old_exit = status, old_out = out }) end,
	})
end, { name = "change" })
LUA
for l in vK0 vK1 vK2 vR0 vR1 vX0; do nsx ip link add "$l" type veth peer name "p$l"; done
start_daemon
CTL=(ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock")

nsx ip link set vK0 up
expect_event '.keep == 1 and .ifname == "vK0"' "first event counted"
nsx ip link set vR0 up
expect_event '.rated == "vR0"' "rated rule ran once"
nsx ip link set vX0 up
sleep 0.2
nsx ip link set vK0 down		# debounced: fires 1.5 s later, after the reload
# 20-change.lua changes while its exec runs.
sed -i 's/{ name = "change" }/{ name = "change-v2" }/' "$RULES/20-change.lua"
if "${CTL[@]}" reload; then ok "nlhook reload"; else not_ok "nlhook reload"; fi

nsx ip link set vK1 up
expect_event '.keep == 2 and .ifname == "vK1"' "the unchanged file kept its Lua state (2, not 1)"
expect_event '.after_fired != null' "its nlhook.after timer fired after the reload" 4
expect_event '.debounced == "vK0"' "its debounced event ran after the reload" 4
nsx ip link set vR1 up
expect_count '.rated == "vR1"' 0 "its rate bucket was not refilled (0.1/s: the second run is dropped)"
expect_event '.old_exit == 0 and .old_out == "from-the-old-version\\x0a"' \
	"the exec of the replaced file delivered on_exit to the state that started it" 4
if grep -q "rule change: stdout: from-the-old-version" "$TMP/daemon.log"; then
	ok "its output logged under the rule's name"
else
	not_ok "output log: $(grep -m1 'from-the-old-version' "$TMP/daemon.log")"
fi
st=$("${CTL[@]}" status --json)
if echo "$st" | jq -e '(.rules[] | select(.name == "keep") | .hits == 2) and (.rules[] | select(.name == "rated") | .hits == 2 and .rate_dropped == 1) and ([.rules[] | select(.name == "change-v2")] | length == 1)' >/dev/null; then
	ok "status: the kept rules' counters go on, the changed file's rule is new"
else
	not_ok "status: $(echo "$st" | jq -c '[.rules[] | {name, hits, rate_dropped}]')"
fi

# SIGHUP does the same.
kill -HUP "$DAEMON_PID"
wait_for "[ \$(grep -c 'reloading rules' '$TMP/daemon.log') -ge 2 ]" 5 || true
nsx ip link set vK2 up
expect_event '.keep == 3 and .ifname == "vK2"' "after SIGHUP too (3)"
if grep -q "2 of 2 rule files unchanged" "$TMP/daemon.log"; then ok "the log says what was kept"; else not_ok "no 'unchanged' log line"; fi

finish
