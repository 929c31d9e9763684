#!/usr/bin/env bash
# End to end over real nl80211: Debian's kernel under qemu (TCG) with
# mac80211_hwsim, hostapd and wpa_supplicant; nlhookd in the guest runs
# tests/vm/rules.  Skips (77) where qemu or the kernel package is missing.
set -euo pipefail
: "${NLHOOKD:?}" "${NLHOOK:?}"
here=$(cd "$(dirname "$0")" && pwd)
cache=${NLHOOK_VM_CACHE:-/var/cache/nlhook-vm}
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 not installed"; exit 77; }
for p in hostapd wpa_supplicant busybox zstd cpio; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { echo "SKIP: $p not installed"; exit 77; }
done
deb=$(ls "$cache"/linux-image-*-amd64_*.deb 2>/dev/null | tail -n 1 || true)
if [ -z "$deb" ]; then
	# scripts/dev test fetches it; a plain `meson test` may not have.
	mkdir -p "$cache"
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ && !f { print $2; f = 1 }')
	[ -n "$pkg" ] && (cd "$cache" && apt-get download "$pkg" >/dev/null 2>&1) || true
	deb=$(ls "$cache"/linux-image-*-amd64_*.deb 2>/dev/null | tail -n 1 || true)
	[ -n "$deb" ] || { echo "SKIP: no linux-image-amd64 package to boot"; exit 77; }
fi

tmp=$(mktemp -d /tmp/nlhook-vm.XXXXXX)
QEMU=
cleanup() {
	[ -n "$QEMU" ] && kill "$QEMU" 2>/dev/null || true
	[ -n "${NLHOOK_VM_KEEP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

t0=$(date +%s)
"$here/build-image.sh" "$deb" "$tmp" "$NLHOOKD" "$NLHOOK" > "$tmp/kver"
t1=$(date +%s)
truncate -s 8M "$tmp/results.img"
timeout 240 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 1024 -nographic -no-reboot -nic none \
	-kernel "$tmp/vmlinuz" -initrd "$tmp/initramfs.zst" -append "console=ttyS0 quiet panic=-1" \
	-drive file="$tmp/results.img",format=raw,if=virtio > "$tmp/console.log" 2>&1 &
QEMU=$!
wait "$QEMU" || true
QEMU=
t2=$(date +%s)
mkdir "$tmp/res"
tar -xf "$tmp/results.img" -C "$tmp/res" 2>/dev/null || true
echo "# image built in $((t1 - t0)) s, guest ran $((t2 - t1)) s (kernel $(cat "$tmp/kver"))"

n=0 fails=0
check() {
	n=$((n + 1))
	if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fails=$((fails + 1)); fi
}
ev=$tmp/res/events.jsonl
ev2=$tmp/res/events2.jsonl
has() { [ -n "$(jq -c "select($1)" "${2:-$ev}" 2>/dev/null)" ]; }
count() { jq -c "select($1)" "$ev" 2>/dev/null | wc -l; }
check "the guest ran and reported" '[ -f "$tmp/res/guest.log" ] && grep -q connected "$tmp/res/guest.log"'
check "rule for CafeNet ran with ifname wlan2 and an AP's BSSID" \
	'has ".rule == \"cafe\" and .ifname == \"wlan2\" and (.bssid == \"02:00:00:00:00:00\" or .bssid == \"02:00:00:00:01:00\")"'
check "rule for another SSID did not run" '[ "$(count ".rule == \"other\"")" -eq 0 ]'
check "disconnect fires, with reason and the SSID" 'has ".type == \"wifi.disconnect\" and .ifname == \"wlan2\" and .ssid == \"CafeNet\" and .reason != null"'
check "reconnect fires the CafeNet rule again" '[ "$(count ".rule == \"cafe\"")" -ge 2 ]'
check "wifi.authorized once the handshake is done, after each connect" \
	'[ "$(count ".type == \"wifi.authorized\" and .ifname == \"wlan2\"")" -ge 2 ]'
check "a roam between the two BSSs gives wifi.roam" \
	'has ".type == \"wifi.roam\" and .ifname == \"wlan2\" and .bssid != .prev_bssid and .prev_bssid != null and .ssid == \"CafeNet\""'

# Access points: hwsim radio N has the address 02:00:00:00:0N:00.  After
# `wpa_cli roam` the old AP keeps wlan2 until hostapd times it out (iw
# event shows no del station there): it is on both APs for the kernel.
sta2=02:00:00:00:02:00 sta3=02:00:00:00:03:00
check "wlan2's joins are station events of the APs, with iftype ap and the SSID" \
	'has ".type == \"wifi.station.new\" and (.ifname == \"wlan0\" or .ifname == \"wlan1\") and .mac == \"$sta2\" and .iftype == \"ap\" and .ssid == \"CafeNet\""'
check "the clients' view of their AP raises no station event" \
	'(for f in "$ev" "$ev2"; do ! has "((.type // \"\") | startswith(\"wifi.station.\")) and (.ifname == \"wlan2\" or .ifname == \"wlan3\")" "$f" || exit 1; done)'
check "the second station joins wlan0 (phy 0), the SSID asked of the kernel" \
	'has ".type == \"wifi.station.new\" and .ifname == \"wlan0\" and .wiphy == 0 and .mac == \"$sta3\" and .iftype == \"ap\" and .ssid == \"CafeNet\""'
check "nlhook.stations() lists it in the join's handler and a second later" \
	'has ".rule == \"wifi.station.new\" and .mac == \"$sta3\" and ([.stations[] | select(.mac == \"$sta3\" and .ifname == \"wlan0\")] | length) == 1" &&
	 has ".rule == \"later\" and .mac == \"$sta3\" and ([.stations[] | select(.mac == \"$sta3\" and .iftype == \"ap\" and .ssid == \"CafeNet\")] | length) == 1"'
check "a daemon started while both clients are associated finds them (GET_INTERFACE, GET_STATION)" \
	'has ".rule == \"start\" and ([.stations[] | select(.mac == \"$sta3\" and .ifname == \"wlan0\" and .iftype == \"ap\" and .ssid == \"CafeNet\" and .connected_time >= 1)] | length) == 1 and ([.stations[] | select(.mac == \"$sta2\")] | length) >= 1" "$ev2"'
check "it leaves: wifi.station.del with connected_time, bytes and signal" \
	'has ".type == \"wifi.station.del\" and .ifname == \"wlan0\" and .mac == \"$sta3\" and .iftype == \"ap\" and .ssid == \"CafeNet\" and .connected_time >= 3 and .rx_bytes > 0 and .tx_bytes > 0 and .signal < 0" "$ev2"'
check "once it left, nlhook.stations() no longer lists it; wlan2 still there" \
	'has ".rule == \"wifi.station.del\" and .mac == \"$sta3\" and ([.stations[]? | select(.mac == \"$sta3\")] | length) == 0 and ([.stations[]? | select(.mac == \"$sta2\")] | length) >= 1" "$ev2"'
check "iw event saw the same join and leave" \
	'grep -q "wlan0: new station $sta3" "$tmp/res/iw-event.txt" && grep -q "wlan0: del station $sta3" "$tmp/res/iw-event.txt"'
# A radio moved into a namespace: the nl80211 instance of that namespace.
ev3=$tmp/res/events3.jsonl
check "a radio moved into a namespace: its connect carries that netns and its nsid" \
	'has ".type == \"wifi.connect\" and .netns == \"wns\" and .nsid >= 0 and .ifname == \"wlan3\" and .ssid == \"CafeNet\"" "$ev3"'
check "the handler's nlhook.links() is that namespace's: wlan3 alone, a station" \
	'has ".rule == \"in-ns\" and .ifname == \"wlan3\" and .links == \"wlan3=station\"" "$ev3"'
check "the daemon's own namespace does not claim it" \
	'! has ".type == \"wifi.connect\" and .ifname == \"wlan3\" and .netns == null" "$ev3"'
check "the access points stay in the daemon's own namespace, wlan3 joining them from wns" \
	'has ".type == \"wifi.station.new\" and .mac == \"$sta3\" and .netns == null and .ifname == \"wlan0\"" "$ev3"'
# The capture starts after hostapd: its head says which interfaces are
# access points, their SSID, and who is associated.
mkdir -m 755 "$tmp/rr"
cat > "$tmp/rr/50-rec.lua" <<'LUA'
nlhook.on("wifi.station.new", { mac = "02:00:00:00:03:00" }, function(ev)
	local l = {}
	for _, s in ipairs(nlhook.stations()) do l[#l + 1] = s.mac .. "@" .. s.ifname end
	table.sort(l)
	nlhook.emit({ joined = ev.mac, iftype = ev.iftype, ssid = ev.ssid, stations = table.concat(l, " ") })
end)
LUA
chmod 644 "$tmp/rr/50-rec.lua"
"$NLHOOK" replay --json --rules "$tmp/rr" "$tmp/res/ap.pcap" > "$tmp/rec.jsonl" 2> "$tmp/rec.err" || true
check "record: its replay knows the AP, its SSID and who was there before the capture" \
	'has ".joined == \"$sta3\" and .iftype == \"ap\" and .ssid == \"CafeNet\" and (.stations | test(\"^(02:00:00:00:02:00@wlan[01] )+02:00:00:00:03:00@wlan0$\"))" "$tmp/rec.jsonl"'
if [ $fails -ne 0 ]; then
	echo "--- guest log"; cat "$tmp/res/guest.log" 2>/dev/null | tail -30
	echo "--- nlhookd"; cat "$tmp/res/nlhookd.log" 2>/dev/null | tail -20
	echo "--- events"; cat "$ev" 2>/dev/null | tail -30
	echo "--- events of the second daemon"; cat "$ev2" 2>/dev/null | tail -20
	echo "--- nlhookd2"; tail -20 "$tmp/res/nlhookd2.log" 2>/dev/null
	echo "--- events of the --all-netns daemon"; tail -20 "$ev3" 2>/dev/null
	echo "--- nlhookd3"; tail -20 "$tmp/res/nlhookd3.log" 2>/dev/null
	echo "--- record"; cat "$tmp/res/record.log" 2>/dev/null; cat "$tmp/rec.err" "$tmp/rec.jsonl" 2>/dev/null | tail -20
	echo "--- console"; tail -30 "$tmp/console.log"
fi
echo "$((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
