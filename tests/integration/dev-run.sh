#!/usr/bin/env bash
# The quick start works from any checkout: `scripts/dev run` from a tree
# whose files are 0664 in 0775 directories (what a `git archive` tarball
# unpacked as root, or a clone under umask 002, gives) starts the daemon
# with the example rules, while the daemon itself still refuses such a
# rules directory.
. "$(dirname "$0")/lib.sh"

tree="$TMP/tree"
mkdir -p "$tree"
if git -C "$SRCDIR" rev-parse --verify -q HEAD >/dev/null 2>&1; then
	git -C "$SRCDIR" archive HEAD scripts rules.d | tar -x -C "$tree"
	# The work tree's own versions: the test checks what is being built.
	cp "$SRCDIR/scripts/dev" "$tree/scripts/dev"
	cp "$SRCDIR"/rules.d/*.lua "$tree/rules.d/"
else
	cp -r "$SRCDIR/scripts" "$SRCDIR/rules.d" "$tree/"
fi
find "$tree" -type d -exec chmod 0775 {} +
find "$tree" -type f -exec chmod 0664 {} +
chmod 0775 "$tree/scripts/dev"

if out=$("$NLHOOKD" --check --rules "$tree/rules.d" 2>&1); then
	not_ok "the daemon accepted a group-writable rules dir"
else
	ok "the daemon refuses the group-writable rules dir itself ($(echo "$out" | head -1))"
fi

# scripts/dev run, with this build (nothing to rebuild), in the test's namespace.
ip netns exec "$NS" env NLHOOK_BUILD="$BUILDDIR" timeout -s INT 20 "$tree/scripts/dev" run \
	--control "$TMP/control.sock" > "$TMP/run.out" 2>&1 &
RUN=$!
CLEANUPS+=("kill -INT $RUN")
if wait_for "grep -q 'ready: ' '$TMP/run.out'" 20; then
	ok "scripts/dev run starts the daemon: $(grep -o 'ready: .*' "$TMP/run.out")"
else
	not_ok "scripts/dev run: $(tail -5 "$TMP/run.out")"
fi
rules=$(sed -n 's/^dev: nlhookd --rules \([^ ]*\) .*/\1/p' "$TMP/run.out")
n=$(ls "$tree"/rules.d/*.lua | wc -l)
if grep -q "ready: $(ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock" status --json | jq .rules_count) rules" "$TMP/run.out" &&
   [ "$(ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock" status --json | jq '[.rules[].file] | unique | length')" -eq "$n" ]; then
	ok "all $n example files loaded"
else
	not_ok "example files loaded: $(ip netns exec "$NS" "$NLHOOK" --control "$TMP/control.sock" status --json | jq -c '[.rules[].file] | unique')"
fi
kill -INT "$RUN"
wait "$RUN" || true
if [ -n "$rules" ] && [ ! -e "$rules" ]; then ok "the private copy is removed at exit"; else not_ok "copy left: '$rules'"; fi

finish
