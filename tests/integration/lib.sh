# Shared by the integration tests: a network namespace of the test's own,
# nlhookd running inside it, and helpers that wait for events.  Sourced;
# every test cleans up what it made, also when it fails.
set -euo pipefail

: "${NLHOOKD:?NLHOOKD must point at the built nlhookd}"
: "${NLHOOK:?NLHOOK must point at the built nlhook}"

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: integration tests need root (network namespaces)"
	exit 77
fi

TEST_NAME=$(basename "$0" .sh)
NS="nlht-${TEST_NAME:0:12}-$$"
TMP=$(mktemp -d "/tmp/nlhook-test-$TEST_NAME.XXXXXX")
chmod 755 "$TMP"
DAEMON_PID=
CHECKS=0
FAILS=0
CLEANUPS=()

cleanup() {
	local rc=$?
	local c
	for c in "${CLEANUPS[@]}"; do eval "$c" || true; done
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	# Whatever still runs inside the test's own namespace is the test's.
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
	if [ $rc -ne 0 ] || [ "$FAILS" -ne 0 ]; then
		echo "--- daemon log ($TMP/daemon.log) ---"
		tail -n 60 "$TMP/daemon.log" 2>/dev/null || true
		echo "--- events ---"
		tail -n 40 "$TMP/events.jsonl" 2>/dev/null || true
	fi
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
nsx() { ip netns exec "$NS" "$@"; }
nsx ip link set lo up

ok() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $*"; }
not_ok() {
	CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1))
	echo "not ok $CHECKS - $*"
}

# Rules dir for this test: files given as NAME=CONTENT via rule_file.
RULES="$TMP/rules"
mkdir -m 755 "$RULES"
rule_file() { cat > "$RULES/$1"; chmod 644 "$RULES/$1"; }

# With NLHOOK_VALGRIND=1 the daemon runs under valgrind: any memory error
# or definite leak fails the test when the daemon stops.
VALGRIND=()
if [ -n "${NLHOOK_VALGRIND:-}" ]; then
	command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
	VALGRIND=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
		--track-fds=no --log-file="$TMP/valgrind.log")
fi

# start_daemon [extra nlhookd args...]: runs in the test netns, waits until ready.
start_daemon() {
	: > "$TMP/events.jsonl"
	ip netns exec "$NS" "${VALGRIND[@]}" "$NLHOOKD" --rules "$RULES" --event-log "$TMP/events.jsonl" \
		--control "$TMP/control.sock" "$@" > "$TMP/daemon.out" 2> "$TMP/daemon.log" &
	DAEMON_PID=$!
	wait_for "grep -q 'ready' '$TMP/daemon.log'" $(( ${#VALGRIND[@]} ? 60 : 10 )) || {
		echo "nlhookd did not start"; exit 1; }
}

# stop_daemon: SIGTERM, and the daemon must exit cleanly (and valgrind-clean).
stop_daemon() {
	local rc=0
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" || rc=$?
	DAEMON_PID=
	if [ $rc -eq 0 ]; then
		ok "nlhookd exited cleanly${VALGRIND:+ (valgrind: no errors, no definite leaks)}"
	else
		not_ok "nlhookd exit status $rc"
		[ -f "$TMP/valgrind.log" ] && grep -A12 -E 'Invalid|uninitialised|definitely lost' "$TMP/valgrind.log" | head -60
	fi
}

# wait_for CMD SECONDS: poll CMD every 20 ms until it succeeds or time is up.
wait_for() {
	local cmd=$1 deadline
	deadline=$(($(date +%s%N) + $2 * 1000000000))
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		if eval "$cmd" >/dev/null 2>&1; then return 0; fi
		sleep 0.02
	done
	return 1
}

# Count event-log lines matching a jq filter (a boolean expression).
count_events() {
	jq -c "select($1)" "$TMP/events.jsonl" 2>/dev/null | wc -l
}

# expect_event FILTER DESCRIPTION [SECONDS]: at least one line matches.
expect_event() {
	local filter=$1 what=$2 secs=${3:-5}
	if wait_for "[ \$(count_events '$filter') -ge 1 ]" "$secs"; then
		ok "$what"
	else
		not_ok "$what (no event matching: $filter)"
	fi
}

# expect_count FILTER N DESCRIPTION: exactly N lines match, after a settle time.
expect_count() {
	local filter=$1 n=$2 what=$3 got
	sleep "${SETTLE:-0.3}"
	got=$(count_events "$filter")
	if [ "$got" -eq "$n" ]; then ok "$what"; else not_ok "$what (expected $n, got $got)"; fi
}

# pid_dead PID: gone, or a zombie that is not ours to reap.
pid_dead() {
	[ ! -e "/proc/$1" ] || awk '{ exit !($3 == "Z" || $3 == "X") }' "/proc/$1/stat" 2>/dev/null
}

finish() {
	[ -n "$DAEMON_PID" ] && stop_daemon
	echo "$((CHECKS - FAILS)) passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}
