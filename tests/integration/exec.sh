#!/usr/bin/env bash
# Actions: an executable path gets the event in its environment, a hung
# script is killed with its process group at its timeout, and a handler
# that raises does not stop the next rule.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/env-dump" <<'SH'
#!/bin/sh
env > "$(dirname "$0")/env.$NLHOOK_IFNAME"
SH
cat > "$TMP/hang" <<'SH'
#!/bin/sh
sleep 300 &
echo "$$ $!" > "$(dirname "$0")/hang.pids"
wait
SH
chmod 755 "$TMP/env-dump" "$TMP/hang"

rule_file 10-broken.lua <<'LUA'
nlhook.on("link.up", {}, function(ev)
	error("deliberate failure for " .. ev.ifname)
end)
LUA
rule_file 20-actions.lua <<LUA
nlhook.on("link.up", { ifname = "vE*" }, "$TMP/env-dump")
nlhook.on("link.up", { ifname = "vHang" }, function(ev)
	local t0 = os.time()
	nlhook.exec({ "$TMP/hang" }, { timeout = 0.5, on_exit = function(status)
		nlhook.emit({ hang_status = status })
	end })
end)
nlhook.on("link.up", {}, function(ev) nlhook.emit(ev) end)
LUA

nsx ip link add vE0 type veth peer name pE0
nsx ip link add vHang type veth peer name pHang
start_daemon

nsx ip link set vE0 up
expect_event '.type == "link.up" and .ifname == "vE0"' "good rule ran after the broken one"
if wait_for "[ -s '$TMP/env.vE0' ]" 5; then ok "action path ran"; else not_ok "action path ran"; fi
env_file="$TMP/env.vE0"
for kv in NLHOOK_TYPE=link.up NLHOOK_IFNAME=vE0 NLHOOK_UP=true; do
	if grep -qx "$kv" "$env_file" 2>/dev/null; then ok "env has $kv"; else not_ok "env has $kv"; fi
done
if grep '^NLHOOK_EVENT=' "$env_file" | cut -d= -f2- | jq -e '.type == "link.up" and .ifname == "vE0"' >/dev/null; then
	ok "NLHOOK_EVENT is the event as JSON"
else
	not_ok "NLHOOK_EVENT is the event as JSON"
fi
if ! grep -qv -e '^NLHOOK_' -e '^PATH=' -e '^PWD=' -e '^SHLVL=' -e '^_=' "$env_file"; then
	ok "environment is clean (only NLHOOK_*, PATH)"
else
	not_ok "environment is clean: $(grep -v -e '^NLHOOK_' -e '^PATH=' -e '^PWD=' -e '^SHLVL=' -e '^_=' "$env_file" | head -3 | tr '\n' ' ')"
fi
if grep -q '10-broken.lua:2' "$TMP/daemon.log"; then ok "handler error logged with file:line"; else not_ok "handler error logged with file:line"; fi

nsx ip link set vHang up
if wait_for "[ -s '$TMP/hang.pids' ]" 5; then ok "hung script started"; else not_ok "hung script started"; fi
expect_event '.hang_status == 143' "hung script ended by SIGTERM at its timeout (status 128+15)" 5
read -r sh_pid sleep_pid < "$TMP/hang.pids"
if wait_for "pid_dead $sleep_pid" 5; then ok "its grandchild was killed with the group"; else not_ok "grandchild $sleep_pid still alive"; fi
if pid_dead "$sh_pid"; then ok "script process reaped"; else not_ok "script $sh_pid still alive"; fi

if kill -0 "$DAEMON_PID"; then ok "daemon still running"; else not_ok "daemon died"; fi
zombies=$(ps -o stat= --ppid "$DAEMON_PID" | grep -c Z || true)
if [ "$zombies" -eq 0 ]; then ok "no zombie children"; else not_ok "$zombies zombies"; fi

finish
