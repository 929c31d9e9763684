#!/usr/bin/env bash
# End to end over real nl80211: Debian's kernel under qemu (TCG) with
# mac80211_hwsim, hostapd and wpa_supplicant; nlhookd in the guest runs
# tests/vm/rules.  Skips (77) where qemu or the kernel package is missing.
set -euo pipefail
: "${NLHOOKD:?}"
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
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
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
"$here/build-image.sh" "$deb" "$tmp" "$NLHOOKD" > "$tmp/kver"
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
has() { [ -n "$(jq -c "select($1)" "$ev" 2>/dev/null)" ]; }
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
if [ $fails -ne 0 ]; then
	echo "--- guest log"; cat "$tmp/res/guest.log" 2>/dev/null | tail -30
	echo "--- nlhookd"; cat "$tmp/res/nlhookd.log" 2>/dev/null | tail -20
	echo "--- events"; cat "$ev" 2>/dev/null | tail -30
	echo "--- console"; tail -30 "$tmp/console.log"
fi
echo "$((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
