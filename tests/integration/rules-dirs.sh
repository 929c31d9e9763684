#!/usr/bin/env bash
# A rules directory named on the command line must exist and be a
# directory: nlhookd and nlhook refuse a typo, naming it, instead of
# loading nothing; the default directories may be absent.
. "$(dirname "$0")/lib.sh"

touch "$TMP/a-file"

# expect_refused DESCRIPTION PATTERN CMD...: exit 1 and stderr matches.
expect_refused() {
	local what=$1 pattern=$2 rc=0
	shift 2
	"$@" > "$TMP/out" 2> "$TMP/err" || rc=$?
	if [ "$rc" -eq 1 ] && grep -q -- "$pattern" "$TMP/err"; then
		ok "$what ($(head -1 "$TMP/err"))"
	else
		not_ok "$what: exit $rc, stdout: $(cat "$TMP/out"), stderr: $(cat "$TMP/err")"
	fi
}

expect_refused "nlhook check of a missing dir" "^$TMP/typo: no such rules directory" \
	"$NLHOOK" check "$TMP/typo"
expect_refused "nlhook check of a file" "^$TMP/a-file: not a directory" \
	"$NLHOOK" check "$TMP/a-file"
expect_refused "nlhook check reports a missing dir beside a good one" "^$TMP/typo: no such rules directory" \
	"$NLHOOK" check "$RULES" "$TMP/typo"
expect_refused "nlhook test --rules of a missing dir" "$TMP/typo: no such rules directory" \
	"$NLHOOK" test --rules "$TMP/typo" --event '{"type":"link.up","ifname":"x","ifindex":1}'
expect_refused "nlhook replay --rules of a missing dir" "$TMP/typo: no such rules directory" \
	"$NLHOOK" replay --rules "$TMP/typo" /dev/null
expect_refused "nlhookd --check --rules of a missing dir" "$TMP/typo: no such rules directory" \
	"$NLHOOKD" --check --rules "$TMP/typo"
expect_refused "nlhookd --rules of a missing dir does not start" "$TMP/typo: no such rules directory" \
	timeout 5 ip netns exec "$NS" "$NLHOOKD" --rules "$TMP/typo" --control "$TMP/c1.sock"
expect_refused "nlhookd --rules of a file does not start" "$TMP/a-file: not a directory" \
	timeout 5 ip netns exec "$NS" "$NLHOOKD" --rules "$TMP/a-file" --control "$TMP/c2.sock"
expect_refused "nlhookd --keep-going does not skip a missing dir" "$TMP/typo: no such rules directory" \
	timeout 5 ip netns exec "$NS" "$NLHOOKD" --keep-going --rules "$RULES" --rules "$TMP/typo" --control "$TMP/c3.sock"

if out=$("$NLHOOK" check "$RULES" 2>&1) && [ "$out" = "0 rules OK" ]; then
	ok "an empty dir that exists is fine"
else
	not_ok "nlhook check of an empty dir: $out"
fi

# The defaults may be missing: only where none of them exists can this say so.
defaults_absent=1
for d in /usr/lib/nlhook/rules.d /etc/nlhook/rules.d /run/nlhook/rules.d; do
	[ -e "$d" ] && defaults_absent=
done
if [ -n "$defaults_absent" ]; then
	if out=$("$NLHOOK" check 2>&1) && [ "$out" = "0 rules OK" ]; then
		ok "absent default dirs are no error"
	else
		not_ok "nlhook check with absent defaults: $out"
	fi
else
	ok "# SKIP a default rules dir exists here"
fi

finish
