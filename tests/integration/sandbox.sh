#!/usr/bin/env bash
# Nothing in the sandbox can block the daemon: rules that backtrack in a
# pattern, open a FIFO, /dev/zero, /dev/tty or a socket, or read standard
# input (a pipe nobody writes to) fail at once with FILE:LINE, while a good
# rule fires for every event and `nlhook status` answers.  print and
# io.write land in the daemon's log after the rule's name, not in the
# event log.
. "$(dirname "$0")/lib.sh"

mkfifo "$TMP/fifo" "$TMP/stdin"
rule_file 10-pattern.lua <<'LUA'
nlhook.on({ "link.up", "link.down" }, { ifname = "vS0" }, function(ev)
	string.rep("a", 400):find(string.rep("a*", 5) .. "b")
end, { name = "pattern" })
LUA
cat > "$RULES/11-files.lua" <<LUA
local function opener(name, path, mode)
	nlhook.on({ "link.up", "link.down" }, { ifname = "vS0" }, function(ev)
		local f = assert(io.open(path, mode))
		f:read(1)
	end, { name = name })
end
opener("fifo", "$TMP/fifo")
opener("zero", "/dev/zero")
opener("tty", "/dev/tty")
opener("socket", "$TMP/control.sock")
nlhook.on({ "link.up", "link.down" }, { ifname = "vS0" }, function(ev)
	io.lines("$TMP/fifo")
end, { name = "lines" })
nlhook.on({ "link.up", "link.down" }, { ifname = "vS0" }, function(ev)
	io.read()
end, { name = "stdin" })
LUA
chmod 644 "$RULES/11-files.lua"
rule_file 20-print.lua <<'LUA'
nlhook.on({ "link.up", "link.down" }, { ifname = "vS0" }, function(ev)
	print("print says", ev.type)
	io.write("io.write says ", ev.ifname, "\n")
end, { name = "printer" })
LUA
rule_file 50-good.lua <<'LUA'
local n = 0
nlhook.on({ "link.up", "link.down" }, { ifname = "vS0" }, function(ev)
	n = n + 1
	nlhook.emit({ good = n })
end)
LUA

nsx ip link add vS0 type veth peer name pS0
# Standard input: a FIFO held open read-write here, so a read would wait for ever.
exec 3<> "$TMP/stdin"
start_daemon <&3
t0=$(date +%s)
for i in $(seq 10); do echo "link set vS0 up"; echo "link set vS0 down"; done > "$TMP/batch"
nsx ip -batch "$TMP/batch"

if wait_for "[ \$(count_events '.good != null') -ge 20 ]" 60; then
	ok "the good rule fired for all 20 events in $(( $(date +%s) - t0 )) s"
else
	not_ok "the good rule fired $(count_events '.good != null') times, not 20"
fi
if timeout 10 "$NLHOOK" --control "$TMP/control.sock" status --json > "$TMP/status.json"; then
	ok "nlhook status answers"
else
	not_ok "nlhook status did not answer"
fi

log="$TMP/daemon.log"
check_log() {
	if grep -qE "$1" "$log"; then ok "$2"; else not_ok "$2 (no log line matching $1)"; fi
}
check_log 'rule pattern \(10-pattern.lua:1\): runtime error: .*10-pattern.lua:2: instruction budget' \
	"a backtracking pattern stopped at its budget, FILE:LINE logged"
check_log 'rule fifo .*11-files.lua:3: .*fifo: a FIFO, not a regular file' "a FIFO refused"
check_log 'rule zero .*11-files.lua:3: /dev/zero: a character device, not a regular file' "/dev/zero refused"
check_log 'rule tty .*11-files.lua:3: /dev/tty: ' "/dev/tty refused"
check_log 'rule socket .*11-files.lua:3: .*control.sock: ' "a socket refused"
check_log "rule lines .*11-files.lua:12: cannot open file '.*fifo' \(a FIFO, not a regular file\)" \
	"io.lines of a FIFO refused"
check_log 'rule stdin .*11-files.lua:15: rules have no standard input' "io.read refused"
check_log 'info: printer: print says	link.up$' "print goes to the log with the rule's name"
check_log 'info: printer: io.write says vS0$' "io.write goes to the log with the rule's name"
if grep -q 'says' "$TMP/events.jsonl" "$TMP/daemon.out"; then
	not_ok "print or io.write reached standard output"
else
	ok "nothing printed on standard output or in the event log"
fi
if jq -e '[.rules[] | select(.name == "pattern" or .name == "fifo" or .name == "zero" or .name == "tty"
	or .name == "socket" or .name == "lines" or .name == "stdin") | select(.errors >= 10)] | length == 7' \
	"$TMP/status.json" > /dev/null; then
	ok "status: each bad rule failed for the events it got"
else
	not_ok "status: $(jq -c '[.rules[] | {name, errors, disabled}]' "$TMP/status.json")"
fi
exec 3>&-
finish
