#!/bin/busybox sh
# Guest /init: two access points with SSID CafeNet (wlan0 ch 1, wlan1 ch 6)
# and two clients (wlan2, wlan3).  nlhookd runs the test rules; the client
# wlan2 connects, disconnects, reconnects and roams to the other BSS.
# Then, with nlhook record running, wlan3 joins wlan0; a second nlhookd
# is started while it is there (the start-up dumps), and wlan3 leaves.
# Last, wlan3's radio moves into a network namespace, where it joins
# again, heard by a daemon that watches every namespace.
# Results go out as a raw tar on the virtio disk.
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /var/run/wpa_supplicant /run
log() { echo "vm: $*" | tee -a /results/guest.log > /dev/console; }

for m in virtio_pci virtio_blk ccm gcm ctr cmac; do /usr/bin/modprobe $m 2>/dev/null; done
/usr/bin/modprobe mac80211_hwsim radios=4 || log "no mac80211_hwsim"
/usr/bin/ip link set lo up
sleep 0.5
/usr/bin/iw dev >> /results/guest.log 2>&1

/usr/bin/nlhookd --rules /rules --event-log /results/events.jsonl --control /tmp/ctl.sock \
	2> /results/nlhookd.log &
NLH=$!
/usr/bin/iw event -t > /results/iw-event.txt 2>&1 &
IW=$!
sleep 1

for i in 0 1; do
	ch=$((i == 0 ? 1 : 6))
	cat > /tmp/ap$i.conf <<CONF
interface=wlan$i
driver=nl80211
ssid=CafeNet
hw_mode=g
channel=$ch
wpa=2
wpa_passphrase=cafe-secret-42
wpa_key_mgmt=WPA-PSK
rsn_pairwise=CCMP
CONF
	/usr/bin/hostapd -B /tmp/ap$i.conf >> /results/guest.log 2>&1
done
cat > /tmp/sta.conf <<CONF
ctrl_interface=/var/run/wpa_supplicant
network={
	ssid="CafeNet"
	psk="cafe-secret-42"
	scan_freq=2412 2437
}
CONF
/usr/bin/wpa_supplicant -B -i wlan2 -c /tmp/sta.conf >> /results/guest.log 2>&1

wait_state() {	# wait_state STATE SECONDS [IFACE]
	i=0
	while [ $i -lt $(($2 * 10)) ]; do
		/usr/bin/wpa_cli -i ${3:-wlan2} status 2>/dev/null | grep -q "wpa_state=$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	log "timeout waiting for $1 on ${3:-wlan2}"
	return 1
}
wait_state COMPLETED 30 && log "connected"
sleep 1
/usr/bin/wpa_cli -i wlan2 disconnect >> /results/guest.log
wait_state DISCONNECTED 10 && log "disconnected"
sleep 0.5
/usr/bin/wpa_cli -i wlan2 reconnect >> /results/guest.log
wait_state COMPLETED 30 && log "reconnected"
sleep 1
cur=$(/usr/bin/wpa_cli -i wlan2 status | sed -n 's/^bssid=//p')
other=02:00:00:00:01:00
[ "$cur" = "$other" ] && other=02:00:00:00:00:00
log "roaming from $cur to $other"
/usr/bin/wpa_cli -i wlan2 roam $other >> /results/guest.log
sleep 3
wait_state COMPLETED 20 && log "roamed: $(/usr/bin/wpa_cli -i wlan2 status | grep ^bssid)"
sleep 1

# A second station joins wlan0's BSS and leaves; record has the interfaces
# and stations at its head.
/usr/bin/nlhook record -w /results/ap.pcap 'wifi.*' 'link.*' 2> /results/record.log &
REC=$!
sleep 1
cat > /tmp/sta3.conf <<CONF
ctrl_interface=/var/run/wpa_supplicant
network={
	ssid="CafeNet"
	psk="cafe-secret-42"
	bssid=02:00:00:00:00:00
	scan_freq=2412
}
CONF
/usr/bin/wpa_supplicant -B -i wlan3 -c /tmp/sta3.conf >> /results/guest.log 2>&1
wait_state COMPLETED 30 wlan3 && log "wlan3 joined"
sleep 2
# Another daemon, started while both clients are associated, finds them.
kill $NLH
wait $NLH
/usr/bin/nlhookd --rules /rules --event-log /results/events2.jsonl --control /tmp/ctl.sock \
	2> /results/nlhookd2.log &
NLH=$!
sleep 2
/usr/bin/wpa_cli -i wlan3 disconnect >> /results/guest.log
wait_state DISCONNECTED 10 wlan3 && log "wlan3 left"
sleep 1

kill -INT $REC
wait $REC

# wlan3's radio moves into the namespace wns and joins from there.
kill $NLH
wait $NLH
/usr/bin/wpa_cli -i wlan3 terminate >> /results/guest.log
/usr/bin/ip netns add wns
/usr/bin/nlhookd --all-netns --rules /rules --event-log /results/events3.jsonl --control /tmp/ctl.sock \
	2> /results/nlhookd3.log &
NLH=$!
sleep 1.5
phy=$(cat /sys/class/net/wlan3/phy80211/name)
/usr/bin/iw phy "$phy" set netns name wns >> /results/guest.log 2>&1 && log "$phy moved into wns"
/usr/bin/ip netns exec wns /usr/bin/wpa_supplicant -B -i wlan3 -c /tmp/sta3.conf >> /results/guest.log 2>&1
wait_state COMPLETED 30 wlan3 && log "wlan3 joined from wns"
sleep 1
/usr/bin/nlhook --control /tmp/ctl.sock status >> /results/guest.log 2>&1
/usr/bin/wpa_cli -i wlan3 terminate >> /results/guest.log
sleep 0.5
kill $NLH $IW
sleep 0.5
[ -b /dev/vda ] || log "no /dev/vda: $(ls /dev | tr '\n' ' ')"
tar -cf /dev/vda -C /results . || echo "vm: tar to /dev/vda failed"
sync
poweroff -f
