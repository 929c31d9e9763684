#!/usr/bin/env bash
# build-image.sh KERNEL_DEB OUTDIR NLHOOKD NLHOOK: unpack Debian's kernel
# (not installed: dpkg-deb -x), and build a small initramfs for the wifi
# test: busybox, hostapd, wpa_supplicant, wpa_cli, iw, ip, kmod, nlhookd,
# nlhook and the libraries they link, the mac80211_hwsim stack and the
# crypto modules mac80211 asks for at run time, tests/vm/init.sh as /init.
set -euo pipefail
deb=$1 out=$2 nlhookd=$3 nlhook=$4
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dpkg-deb -x "$deb" "$work/k"
kver=$(ls "$work/k/lib/modules")
cp "$work/k/boot/vmlinuz-$kver" "$out/vmlinuz"
depmod -b "$work/k" "$kver"

root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,results,var/run,lib/modules}
cp /bin/busybox "$root/bin/busybox"
progs=(/usr/sbin/hostapd /usr/sbin/wpa_supplicant /usr/sbin/wpa_cli /usr/sbin/iw /usr/sbin/ip /sbin/modprobe "$nlhookd" "$nlhook")
for p in "${progs[@]}"; do
	install -D -m 755 "$(readlink -f "$p")" "$root/usr/bin/$(basename "$p")"
done
# Their libraries, and the dynamic loader.
for p in "${progs[@]}"; do ldd "$(readlink -f "$p")"; done | awk '/=> \// { print $3 } /^\t\// { print $1 }' | sort -u |
	while read -r lib; do
		install -D -m 755 "$lib" "$root$lib"
		[ "$lib" = "$(readlink -f "$lib")" ] || install -D -m 755 "$(readlink -f "$lib")" "$root$(readlink -f "$lib")"
	done

# Modules with their dependencies, as modprobe resolves them.
mods=(mac80211_hwsim ccm gcm ctr cmac aesni_intel virtio_pci virtio_blk virtio_rng)
for m in "${mods[@]}"; do
	modprobe -d "$work/k" -S "$kver" --show-depends "$m" 2>/dev/null || true
done | awk '$1 == "insmod" { print $2 }' | sort -u | while read -r ko; do
	rel=${ko#"$work/k"}
	install -D -m 644 "$ko" "$root$rel"
done
cp "$work/k/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$root" "$kver"

install -m 755 "$here/init.sh" "$root/init"
cp -r "$here/rules" "$root/rules"
chmod 755 "$root/rules"
chmod 644 "$root/rules/"*
(cd "$root" && find . | cpio -o -H newc --quiet) | zstd -q -9 -T0 > "$out/initramfs.zst"
echo "$kver"
