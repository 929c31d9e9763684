#!/usr/bin/env bash
# The real captures in tests/fixtures/nl80211 through `nlhook replay`:
# pcap reader, nlmon copies folded, nl80211's family id learned from the
# capture, the parser, SSIDs from the elements, the roam and authorized
# derivations (the latter from rtnetlink operstate in the same capture).
#
# The golden files were checked line by line against the `iw event -t`
# output recorded beside each capture (basic.iw-event.txt,
# roam.iw-event.txt): "new interface" -> wifi.iface.new, "scan finished"
# -> wifi.scan.done, "auth"/"assoc" -> wifi.authenticate/associate,
# "connected to" -> wifi.connect, "deauth" + "disconnected" ->
# wifi.deauth + wifi.disconnect.  iw shows no roam and no authorization:
# those are nlhook's derivations, asserted on their own below.
set -euo pipefail
fixtures=${FIXTURES:?}
golden=$(dirname "$0")/golden
if [ ! -f "$fixtures/basic.pcap" ]; then
	echo "SKIP: no fixtures at $fixtures"
	exit 77
fi
fails=0 n=0
check() {
	n=$((n + 1))
	if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fails=$((fails + 1)); fi
}
# has FILE FILTER: some line matches (jq -e judges only the last input).
has() { [ -n "$(jq -c "select($2)" "$1")" ]; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in basic roam; do
	"$NLHOOK" replay --json "$fixtures/$f.pcap" 2> "$tmp/$f.err" |
		jq -c 'select(.type | startswith("wifi.")) | del(.time)' > "$tmp/$f.jsonl"
	check "$f.pcap: wifi events equal the golden file" "diff -u '$golden/$f.wifi.jsonl' '$tmp/$f.jsonl'"
done
# Station events against iw's own lines: "wlanN: new/del station MAC" on
# the interfaces iw saw "set interface type access point", in order; the
# client's lines about its own AP (iw shows those too) raise nothing.
client() { [ "$1" = basic ] && echo wlan1 || echo wlan2; }
for f in basic roam; do
	iw=$fixtures/$f.iw-event.txt
	aps=$(sed -n 's/^[0-9.]*: \(wlan[0-9]*\) (phy #[0-9]*): set interface type access point.*/\1/p' "$iw" | sort -u | paste -sd'|')
	sed -nE "s/^[0-9.]+: ($aps): (new|del) station ([0-9a-f:]+)\$/\2 \1 \3/p" "$iw" > "$tmp/$f.iw-st"
	jq -r 'select(.type | startswith("wifi.station.")) | "\(.type | ltrimstr("wifi.station.")) \(.ifname) \(.mac)"' \
		"$tmp/$f.jsonl" > "$tmp/$f.st"
	check "$f: iw saw station joins on the APs ($aps)" '[ -s "$tmp/$f.iw-st" ]'
	check "$f: the APs' station joins and leaves are iw's, in order" "diff -u '$tmp/$f.iw-st' '$tmp/$f.st'"
	c=$(client $f)
	check "$f: iw saw the client $c's view of its AP; nlhook raises nothing for it" \
		"grep -qE '^[0-9.]+: $c: new station' '$iw' && ! has '$tmp/$f.jsonl' '(.type | startswith(\"wifi.station.\")) and .ifname == \"$c\"'"
	check "$f: station events carry iftype ap, the SSID and the phy" \
		"[ -z \"\$(jq -c 'select((.type | startswith(\"wifi.station.\")) and (.iftype != \"ap\" or .ssid != \"CafeNet\" or .wiphy == null))' '$tmp/$f.jsonl')\" ]"
done
check "roam: each leave says how long (connected_time), the bytes and the signal" \
	'[ "$(jq -r "select(.type == \"wifi.station.del\") | [.connected_time, .signal, .rx_bytes > 0, .tx_bytes > 0] | @csv" "$tmp/roam.jsonl" | paste -sd" ")" = "2,-30,true,true 1,-30,true,true" ]'
check "the interfaces' modes: iftype station when created" \
	'[ "$(jq -r "select(.type == \"wifi.iface.new\") | .iftype" "$tmp/roam.jsonl" | sort -u)" = station ]'
r=$tmp/roam.jsonl
check "roam: 4 connects, all to CafeNet" '[ "$(jq -c "select(.type == \"wifi.connect\" and .ssid == \"CafeNet\" and .status == 0)" "$r" | wc -l)" -eq 4 ]'
check "roam: 3 disconnects, reasons 3, 2, 1" '[ "$(jq -r "select(.type == \"wifi.disconnect\") | .reason" "$r" | paste -sd,)" = "3,2,1" ]'
check "roam: only the second disconnect is by the AP" '[ "$(jq -r "select(.type == \"wifi.disconnect\") | .by_ap" "$r" | paste -sd,)" = "false,true,false" ]'
check "roam: disconnects carry the SSID of the connection" '[ "$(jq -c "select(.type == \"wifi.disconnect\" and .ssid == \"CafeNet\")" "$r" | wc -l)" -eq 3 ]'
check "roam: the roam back, from 02:00:00:00:01:00 to 02:00:00:00:00:00" \
	'has "$r" ".type == \"wifi.roam\" and .prev_bssid == \"02:00:00:00:01:00\" and .bssid == \"02:00:00:00:00:00\" and .ssid == \"CafeNet\""'
check "roam: no roam for the reconnect to the same BSS" \
	'! has "$r" ".type == \"wifi.roam\" and .prev_bssid == .bssid"'
check "roam: wifi.authorized after each connect, with ifname and bssid" \
	'[ "$(jq -r "select(.type == \"wifi.connect\" or .type == \"wifi.authorized\") | .type" "$r" | paste -sd,)" = "wifi.connect,wifi.authorized,wifi.connect,wifi.authorized,wifi.connect,wifi.authorized,wifi.connect,wifi.authorized" ]'
check "roam: ifname wlan2 from the capture's links" '[ "$(jq -r ".ifname" "$r" | sort -u | paste -sd,)" = "wlan0,wlan1,wlan2" ]'
check "basic: connect to 02:00:00:00:00:00 on wlan1, then authorized" \
	'has "$tmp/basic.jsonl" ".type == \"wifi.connect\" and .ifname == \"wlan1\" and .bssid == \"02:00:00:00:00:00\"" &&
	 has "$tmp/basic.jsonl" ".type == \"wifi.authorized\" and .ifname == \"wlan1\""'
check "basic: nlmon copies folded" 'grep -qE "[1-9][0-9]* identical copies folded" "$tmp/basic.err"'
# The hotspot example, dry-run over the roam capture, its grace timer on
# the capture's clock: every disconnect there is followed by a connect
# within 1.2 s, so with the shipped 10 s grace the one portal session
# lasts the whole capture (no logout, not even after the end: the capture
# ends connected); with a 1 s grace the first disconnect (1.17 s long)
# logs out and the connect after it logs in again, while the 0.3 s drop
# and the 17 ms roam keep the session.
mkdir -m 755 "$tmp/rules" "$tmp/rules1"
install -m 644 "$SRCDIR/rules.d/20-hotspot.lua" "$tmp/rules/"
sed 's/^local GRACE = 10$/local GRACE = 1/' "$SRCDIR/rules.d/20-hotspot.lua" > "$tmp/rules1/20-hotspot.lua"
chmod 644 "$tmp/rules1/20-hotspot.lua"
"$NLHOOK" test --rules "$tmp/rules" --replay "$fixtures/roam.pcap" > "$tmp/dry.txt" 2>/dev/null
"$NLHOOK" test --rules "$tmp/rules1" --replay "$fixtures/roam.pcap" > "$tmp/dry1.txt" 2>/dev/null
check "hotspot example: one login, on wlan2 with the AP" \
	'[ "$(grep -c "^exec hotspot-login: /usr/local/sbin/nlhook-hotspot-login wlan2 02:00:00:00:00:00$" "$tmp/dry.txt")" -eq 1 ] &&
	 [ "$(grep -c "^exec hotspot-login:" "$tmp/dry.txt")" -eq 1 ]'
check "hotspot example: the roam and the short drops do not log out" '! grep -q "^exec hotspot-logout:" "$tmp/dry.txt"'
check "hotspot example: each disconnect starts the grace timer" '[ "$(grep -c "^after hotspot-logout: 10 s$" "$tmp/dry.txt")" -eq 3 ]'
check "hotspot example, 1 s grace: the 1.17 s disconnect logs out, once" \
	'[ "$(grep -c "^exec hotspot-logout: /usr/local/sbin/nlhook-hotspot-logout wlan2$" "$tmp/dry1.txt")" -eq 1 ]'
check "hotspot example, 1 s grace: logout after the first disconnect, before the next login" \
	'[ "$(grep -E "^(exec hotspot-logout|event wifi.(disconnect|authorized))" "$tmp/dry1.txt" | cut -d" " -f1-2 | head -4 | paste -sd,)" = "event wifi.authorized,event wifi.disconnect,exec hotspot-logout:,event wifi.authorized" ]'
check "hotspot example, 1 s grace: logged in again after it" '[ "$(grep -c "^exec hotspot-login:" "$tmp/dry1.txt")" -eq 2 ]'
# The presence example, dry-run over the roam capture: the client joins
# wlan0, leaves for 1.1 s, comes back, is sent away by the AP and joins
# wlan1 0.3 s later, then wlan0 again.  With the shipped 120 s grace it is
# home once and never away; with a 1 s grace the 1.1 s gap is an away.
mkdir -m 755 "$tmp/presence" "$tmp/presence1"
install -m 644 "$SRCDIR/rules.d/50-presence.lua" "$tmp/presence/"
sed 's/^local GRACE = 120$/local GRACE = 1/' "$SRCDIR/rules.d/50-presence.lua" > "$tmp/presence1/50-presence.lua"
chmod 644 "$tmp/presence1/50-presence.lua"
"$NLHOOK" test --rules "$tmp/presence" --replay "$fixtures/roam.pcap" > "$tmp/pdry.txt" 2>/dev/null
"$NLHOOK" test --rules "$tmp/presence1" --replay "$fixtures/roam.pcap" > "$tmp/pdry1.txt" 2>/dev/null
presence() { sed -n 's/^emit presence-[a-z]*: //p' "$1" | jq -r '[.presence, .mac, .ifname, .ssid] | join(" ")' | paste -sd,; }
check "presence example: home once, with the station's MAC, the AP and its SSID" \
	'[ "$(presence "$tmp/pdry.txt")" = "home 02:00:00:00:02:00 wlan0 CafeNet" ]'
check "presence example: each leave starts the grace" '[ "$(grep -c "^after presence-away: 120 s$" "$tmp/pdry.txt")" -eq 2 ]'
check "presence example, 1 s grace: away after the 1.1 s gap, home again" \
	'[ "$(presence "$tmp/pdry1.txt")" = "home 02:00:00:00:02:00 wlan0 CafeNet,away 02:00:00:00:02:00 wlan0 CafeNet,home 02:00:00:00:02:00 wlan0 CafeNet" ]'
echo "$((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
