#!/usr/bin/env bash
# A program that cannot run is never silent: the real daemon logs the rule,
# the path and the reason, counts an error of the rule in its status, and
# on_exit gets 127 (not there) or 126 (not executable); nlhook check
# warns about such path actions beforehand.
. "$(dirname "$0")/lib.sh"

printf '#!/bin/sh\nexit 0\n' > "$TMP/noexec"
chmod 644 "$TMP/noexec"
# Written for another system: its interpreter is not here.
printf '#!/nonexistent/sh -e\nexit 0\n' > "$TMP/badinterp"
chmod 755 "$TMP/badinterp"

rule_file 10-fail.lua <<LUA
nlhook.on("link.up", { ifname = "vF0" }, "/nonexistent/action", { name = "missing" })
nlhook.on("link.up", { ifname = "vF0" }, function(ev)
	local function report(status, out, err) nlhook.emit({ status = status, err = err }) end
	nlhook.exec({ "/nonexistent/program" }, { on_exit = report })
	nlhook.exec({ "$TMP/noexec" }, { on_exit = report })
	nlhook.exec({ "$TMP/badinterp" }, { on_exit = report })
end, { name = "lua" })
LUA
rule_file 20-check.lua <<LUA
nlhook.on("link.up", { ifname = "vNone" }, "$TMP/noexec")
nlhook.on("link.up", { ifname = "vNone" }, "$TMP")
nlhook.on("link.up", { ifname = "vNone" }, "/bin/true")
nlhook.on("link.up", { ifname = "vNone" }, "$TMP/badinterp")
LUA

# nlhook check names each path action the daemon could not run, and
# warnings leave the exit status 0.
rc=0
out=$("$NLHOOK" check "$RULES" 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
if [ $rc -eq 0 ]; then ok "check: warnings only, exit 0"; else not_ok "check exit status $rc"; fi
for w in "$RULES/10-fail.lua:1: warning: action /nonexistent/action: No such file or directory" \
	"$RULES/20-check.lua:1: warning: action $TMP/noexec: not executable" \
	"$RULES/20-check.lua:2: warning: action $TMP: not a regular file" \
	"$RULES/20-check.lua:4: warning: action $TMP/badinterp: its interpreter /nonexistent/sh: No such file or directory"; do
	if echo "$out" | grep -qxF "$w"; then ok "check: $w"; else not_ok "check: no line '$w'"; fi
done
if echo "$out" | grep -q '/bin/true'; then not_ok "check warned about /bin/true"; else ok "check: no warning for a good action"; fi
if echo "$out" | grep -qx '6 rules OK, 4 warnings'; then ok "check: summary counts the warnings"; else not_ok "check: summary"; fi

nsx ip link add vF0 type veth peer name pF0
start_daemon
nsx ip link set vF0 up

if wait_for "grep -q 'rule missing: cannot run /nonexistent/action: No such file or directory' '$TMP/daemon.log'" 5; then
	ok "missing path action logged with rule, path and reason"
else
	not_ok "no log line for the missing path action"
fi
expect_event '.status == 127 and .err == "cannot run /nonexistent/program: No such file or directory"' \
	"on_exit gets 127 and the reason for a missing program"
expect_event ".status == 126 and .err == \"cannot run $TMP/noexec: Permission denied\"" \
	"on_exit gets 126 and the reason for a program without an execute bit"
expect_event ".status == 127 and .err == \"cannot run $TMP/badinterp: its interpreter /nonexistent/sh: No such file or directory\"" \
	"on_exit gets 127 for a script whose interpreter is missing, and the reason names the interpreter"
if grep -q "rule lua: cannot run $TMP/noexec: Permission denied" "$TMP/daemon.log"; then
	ok "not-executable program logged"
else
	not_ok "no log line for the not-executable program"
fi

st=$(nsx "$NLHOOK" --control "$TMP/control.sock" status --json)
if echo "$st" | jq -e '.rules[] | select(.name == "missing") | .errors == 1 and .hits == 1' >/dev/null; then
	ok "status counts the failed path action as an error"
else
	not_ok "status: $(echo "$st" | jq -c '.rules[] | select(.name == "missing")')"
fi
if echo "$st" | jq -e '.rules[] | select(.name == "lua") | .errors == 3' >/dev/null; then
	ok "status counts the three failed execs of the Lua rule"
else
	not_ok "status: $(echo "$st" | jq -c '.rules[] | select(.name == "lua")')"
fi

finish
