#!/usr/bin/env bash
# mqtts:// against a mosquitto that wants TLS, a client certificate and a
# password: a CA, the broker's and the client's certificates made here, the
# broker's name resolved by the namespace's own hosts file.  The right
# files connect; a wrong password, a CA that did not sign the broker's
# certificate, a name the certificate does not carry, or no client
# certificate do not, and status says why; a key others can read is refused.
. "$(dirname "$0")/mqtt-lib.sh"

P=t/gw1
NAME=broker.nlhook.test
ETC=/etc/netns/$NS
netns_etc_cleanup() { rm -rf "$ETC"; rmdir /etc/netns 2>/dev/null || true; }
CLEANUPS+=(netns_etc_cleanup)
mkdir -p "$ETC" || mkdir -p "$ETC"	# another test may remove an empty /etc/netns meanwhile
printf '127.0.0.1 localhost\n%s %s other.nlhook.test\n' "$BROKER_IP" "$NAME" > "$ETC/hosts"

### the test's own CA and certificates ###

T=$TMP/tls
mkdir -m 700 "$T"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
# sign NAME CN SAN: NAME.crt and NAME.key, signed by the test CA.
sign() {
	openssl req "${ec[@]}" -subj "/CN=$2" -keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
		-out "$T/$1.crt" -extfile <(printf '%s\n' "$3") 2>/dev/null
}
openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=nlhook test CA" -keyout "$T/ca.key" -out "$T/ca.crt" 2>/dev/null
openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=another CA" -keyout "$T/other.key" -out "$T/other-ca.crt" 2>/dev/null
sign server "$NAME" "subjectAltName=DNS:$NAME,IP:$BROKER_IP"
sign client gw1 "extendedKeyUsage=clientAuth"
chmod 600 "$T"/*.key
[ -s "$T/server.crt" ] && [ -s "$T/client.crt" ] && ok "openssl made a CA, the broker's and the client's certificates" ||
	{ not_ok "openssl could not make the certificates"; exit 1; }

nsx mosquitto_passwd -b -c "$BROKER_DIR/passwd" gw secret
printf 'secret\n' > "$TMP/pw"
printf 'wrong\n' > "$TMP/badpw"
chmod 600 "$TMP/pw" "$TMP/badpw"

broker_conf "listener 8883 $BROKER_IP" "cafile $T/ca.crt" "certfile $T/server.crt" "keyfile $T/server.key" \
	"require_certificate true" "password_file $BROKER_DIR/passwd" "allow_anonymous false"
start_broker
TLS_SUB=(-p 8883 --cafile "$T/ca.crt" --cert "$T/client.crt" --key "$T/client.key" -u gw -P secret)
sub all -t "$P/#" -v -q 1 "${TLS_SUB[@]}"

rule_file 10-x.lua <<'LUA'
nlhook.on("link.up", { ifname = "mqt*" }, function(ev) nlhook.emit(ev) end)
LUA

GOOD=(--mqtt "mqtts://gw@$NAME/$P" --mqtt-ca "$T/ca.crt" --mqtt-cert "$T/client.crt" --mqtt-key "$T/client.key"
	--mqtt-password-file "$TMP/pw")

### the right files ###

start_daemon "${GOOD[@]}" --event-log mqtt
if wait_for "[ \"\$(mqtt_field state)\" = connected ]" 10; then ok "TLS, client certificate, password: connected"; else not_ok "not connected: $(mqtt_field last_error)"; fi
[ "$(mqtt_field broker)" = "mqtts://gw@$NAME:8883" ] && ok "status names the broker mqtts://gw@$NAME:8883" || not_ok "broker $(mqtt_field broker)"
grep -q "as nlhookd/$P (p2, c1, k60, u'gw')" "$BROKER_DIR/mosquitto.log" &&
	ok "the broker saw MQTT 3.1.1, a clean session, keepalive 60, user gw" || not_ok "no such client in the broker log"
[ "$(retained "$P/status" "${TLS_SUB[@]}")" = online ] && ok "$P/status online over TLS" || not_ok "$P/status: '$(retained "$P/status" "${TLS_SUB[@]}")'"
ip -n "$NS" link add mqt0 type veth peer name mqt1
ip -n "$NS" link set mqt0 up
if wait_for "grep -q '^$P/events/link.up {.*\"ifname\":\"mqt0\"' '$TMP/all.out'" 5; then ok "an event goes through"; else not_ok "no link.up over TLS"; fi
stop_daemon
[ "$(retained "$P/status" "${TLS_SUB[@]}")" = offline ] && ok "SIGTERM over TLS: offline" || not_ok "SIGTERM over TLS: $P/status '$(retained "$P/status" "${TLS_SUB[@]}")'"

### what must not connect ###

# refused WHAT WANT ARGS...: the daemon starts, fails to connect, and last_error matches WANT.
refused() {
	local what=$1 want=$2; shift 2
	start_daemon "$@"
	if wait_for "[ \"\$(mqtt_field failures)\" -ge 1 ]" 10 && [ "$(mqtt_field connects)" = 0 ] &&
		mqtt_field last_error | grep -qE "$want"; then
		ok "$what: not connected, '$(mqtt_field last_error)'"
	else
		not_ok "$what: $(status_json | jq -c .mqtt)"
	fi
	stop_daemon
}
refused "a wrong password" "^the broker refused the connection: Connection Refused: not authorised" \
	"${GOOD[@]}" --mqtt-password-file "$TMP/badpw"
refused "a CA that did not sign the broker's certificate" "certificate verify failed" \
	"${GOOD[@]}" --mqtt-ca "$T/other-ca.crt"
refused "no --mqtt-ca: the system's CAs do not know the test CA" "certificate verify failed" \
	--mqtt "mqtts://gw@$NAME/$P" --mqtt-cert "$T/client.crt" --mqtt-key "$T/client.key" --mqtt-password-file "$TMP/pw"
refused "a name the broker's certificate does not carry" "host name verification failed" \
	"${GOOD[@]}" --mqtt "mqtts://gw@other.nlhook.test/$P"
# TLS 1.3 finishes the client's handshake before the broker checks: it then
# resets or closes, or sends an alert, whichever the client reads first.
refused "no client certificate" "certificate|closed|reset|Protocol error" \
	--mqtt "mqtts://gw@$NAME/$P" --mqtt-ca "$T/ca.crt" --mqtt-password-file "$TMP/pw"

chmod 644 "$T/client.key"
rc=0
nsx "$NLHOOKD" --rules "$RULES" --control "$TMP/control.sock" "${GOOD[@]}" > "$TMP/out" 2>&1 || rc=$?
if [ $rc -eq 1 ] && grep -q "mqtt-key $T/client.key: others have access to it (mode 0644), refusing it" "$TMP/out"; then
	ok "a key others can read is refused (exit 1)"
else
	not_ok "a key others can read: exit $rc, $(cat "$TMP/out")"
fi

finish
