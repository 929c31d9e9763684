# Sourced by the MQTT tests instead of lib.sh: a mosquitto broker of the
# test's own, in the test's namespace on an address of that namespace,
# with its config, persistence and log in the test's temp dir; and
# mosquitto_sub clients.  Every PID is held and only those are killed.

if [ "${NLHOOK_MQTT:-1}" = 0 ]; then
	echo "SKIP: nlhookd was built without MQTT (-Dmqtt=disabled or no libmosquitto)"
	exit 77
fi
for tool in mosquitto mosquitto_sub mosquitto_pub mosquitto_passwd openssl nft jq; do
	if ! command -v "$tool" >/dev/null && ! [ -x "/usr/sbin/$tool" ]; then
		echo "not ok - $tool is missing (apt-get install mosquitto mosquitto-clients openssl nftables jq, or scripts/dev test)"
		exit 1
	fi
done
PATH=$PATH:/usr/sbin

. "$(dirname "$0")/lib.sh"

BROKER_IP=10.77.0.1
nsx ip addr add "$BROKER_IP/32" dev lo
BROKER_PID=
BROKER_DIR="$TMP/broker"
mkdir -p "$BROKER_DIR"
SUB_PIDS=()

mqtt_cleanup() {
	local p
	for p in "${SUB_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "$BROKER_PID" ]; then
		kill -TERM "$BROKER_PID" 2>/dev/null || true
		wait "$BROKER_PID" 2>/dev/null || true
	fi
	if [ "$FAILS" -ne 0 ] || [ -n "${MQTT_SHOW_BROKER_LOG:-}" ]; then
		echo "--- broker log ---"
		grep -v -E 'PINGREQ|PINGRESP' "$BROKER_DIR/mosquitto.log" 2>/dev/null | tail -n 40 || true
	fi
}
CLEANUPS+=(mqtt_cleanup)

# broker_conf [extra mosquitto.conf lines...]: the broker's config, anonymous
# on $BROKER_IP:1883 unless the extra lines say otherwise.
broker_conf() {
	{
		echo "user root"	# it writes to the test's dir, as the test's user
		echo "persistence true"
		echo "persistence_location $BROKER_DIR/"
		echo "log_dest file $BROKER_DIR/mosquitto.log"
		echo "log_type all"
		printf '%s\n' "$@"
	} > "$BROKER_DIR/mosquitto.conf"
}

# start_broker: runs it in the test's namespace and waits until it listens.
start_broker() {
	[ -f "$BROKER_DIR/mosquitto.conf" ] || broker_conf "listener 1883 $BROKER_IP" "allow_anonymous true"
	local n
	n=$(grep -c 'mosquitto version .* running' "$BROKER_DIR/mosquitto.log" 2>/dev/null || true)
	# Not through nsx: $! must be the broker itself (ip execs it), not a subshell.
	ip netns exec "$NS" mosquitto -c "$BROKER_DIR/mosquitto.conf" 2>>"$BROKER_DIR/stderr" &
	BROKER_PID=$!
	wait_for "[ \$(grep -c 'mosquitto version .* running' '$BROKER_DIR/mosquitto.log') -gt ${n:-0} ]" 10 || {
		echo "mosquitto did not start"; cat "$BROKER_DIR/stderr"; exit 1; }
}

# stop_broker: SIGTERM (it saves its persistence file) and wait for it.
stop_broker() {
	kill -TERM "$BROKER_PID"
	wait "$BROKER_PID" || true
	BROKER_PID=
}

# sub NAME ARGS...: a mosquitto_sub in the namespace, output in $TMP/NAME.out,
# its client id NAME; returns once the broker has its subscription.
sub() {
	local name=$1; shift
	ip netns exec "$NS" mosquitto_sub -h "$BROKER_IP" -i "$name" "$@" >> "$TMP/$name.out" 2>>"$TMP/$name.err" &
	SUB_PIDS+=($!)
	wait_for "grep -q 'Received SUBSCRIBE from $name\$' '$BROKER_DIR/mosquitto.log'" 10 || {
		echo "mosquitto_sub $name did not subscribe"; cat "$TMP/$name.err"; exit 1; }
}

# sub_stop: the last sub started.
sub_stop() {
	local p=${SUB_PIDS[-1]}
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	unset 'SUB_PIDS[-1]'
}

# retained TOPIC [mosquitto_sub options...]: the value the broker keeps for TOPIC, or nothing.
retained() {
	local topic=$1; shift
	nsx mosquitto_sub -h "$BROKER_IP" -t "$topic" --retained-only -C 1 -W 2 "$@" 2>/dev/null || true
}

# status_json: the daemon's status; mqtt_field NAME: one member of its "mqtt".
status_json() { nsx "$NLHOOK" --control "$TMP/control.sock" status --json; }
mqtt_field() { status_json | jq -r ".mqtt.$1"; }
