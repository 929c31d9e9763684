#!/usr/bin/env bash
# The .deb as an administrator meets it: built with dpkg-buildpackage from a
# copy of the tree (nothing is left in the source tree), lintian-clean,
# installed with apt-get install ./nlhook_*.deb, its programs, rules dirs,
# group, man pages, completion and unit checked in place, then purged.
set -euo pipefail

: "${SRCDIR:?}"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: installs a package: needs root"
	exit 77
fi
if dpkg-query -W -f='${Status}' nlhook 2>/dev/null | grep -q 'ok installed'; then
	echo "SKIP: an nlhook package is already installed here; not replacing it"
	exit 77
fi
missing=
for p in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian meson:meson scdoc:scdoc \
	systemd-analyze:systemd man:man-db logrotate:logrotate; do
	command -v "${p%%:*}" >/dev/null || missing="$missing ${p#*:}"
done
if [ -n "$missing" ]; then
	echo "not ok - missing tools: apt-get install$missing"
	exit 1
fi

TMP=$(mktemp -d /tmp/nlhook-debtest.XXXXXX)
chmod 755 "$TMP"
INSTALLED=
ENABLED_LINK=
GROUP_BEFORE=$(getent group nlhook || true)
FAILS=0
N=0

cleanup() {
	local rc=$?
	[ -n "$ENABLED_LINK" ] && rm -f "$ENABLED_LINK"
	if [ -n "$INSTALLED" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq nlhook >/dev/null 2>&1 || true
	fi
	# A purge keeps system groups (Debian policy); this machine had none.
	[ -z "$GROUP_BEFORE" ] && getent group nlhook >/dev/null && groupdel nlhook
	if [ $rc -ne 0 ] || [ $FAILS -ne 0 ]; then
		echo "--- build log (tail) ---"; tail -n 40 "$TMP/build.log" 2>/dev/null || true
	fi
	rm -rf "$TMP"
	[ $FAILS -eq 0 ] || exit 1
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILS=$((FAILS + 1)); echo "not ok $N - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

version=$(sed -n "s/^\s*version: '\([^']*\)'.*/\1/p" "$SRCDIR/meson.build" | head -n 1)
check "debian/changelog is at the meson version $version" \
	grep -q "^nlhook ($version) " "$SRCDIR/packaging/debian/changelog"

### build ###

# What a dpkg-buildpackage run in the tree itself would leave: debian/,
# obj-*/, debian build files and the .deb beside the tree.
leftovers() {
	ls -d "$SRCDIR"/debian "$SRCDIR"/obj-* "$SRCDIR"/../nlhook*_"$version"_* 2>/dev/null || true
}
before=$(leftovers)
"$SRCDIR/packaging/build-deb.sh" "$TMP/out" "$SRCDIR" > "$TMP/build.log" 2>&1 && rc=0 || rc=$?
check "dpkg-buildpackage -us -uc -b: exit 0 (got $rc)" [ $rc -eq 0 ]
deb=$(ls "$TMP"/out/nlhook_"$version"_*.deb 2>/dev/null | head -n 1)
check "it made nlhook_${version}_*.deb" test -f "$deb"
check "nothing was left in the source tree or beside it" [ "$(leftovers)" = "$before" ]
[ -f "$deb" ] || exit 1

lintian --fail-on error,warning "$TMP"/out/*.changes > "$TMP/lintian" 2>&1 && rc=0 || rc=$?
grep -v 'root privileges' "$TMP/lintian" || true
check "lintian: no errors or warnings (exit $rc)" [ $rc -eq 0 ]

# The installed service under a real systemd: a container booted from this
# machine's /usr (where the package is) with an empty /etc and a network
# namespace of its own.  A oneshot unit in it starts nlhookd.service, makes
# a link go up, reloads, stops, and leaves what it saw in $TMP/res.
nspawn_check() {
	local res=$TMP/res
	mkdir -m 755 -p "$res" "$TMP/etc-rules"
	cat > "$TMP/etc-rules/50-probe.lua" <<'LUA'
nlhook.on("link.up", { ifname = "nlhn*" }, function(ev)
	nlhook.log.info("saw %s up", ev.ifname)
	nlhook.emit(ev)
end)
-- A child inherits the sandbox: CAP_NET_ADMIN is enough for ip, and the
-- file system is read-only but for /run/nlhook.
nlhook.on("link.up", { ifname = "nlhn0" }, function(ev)
	nlhook.exec({ "/usr/sbin/ip", "link", "set", "nlhn1", "up" }, {
		on_exit = function(status) nlhook.log.info("ip exited %d", status) end })
	nlhook.exec({ "/bin/sh", "-c", "touch /etc/nlhook-probe /run/nlhook/probe" }, {
		on_exit = function(status, out, err) nlhook.log.info("touch exited %d: %s", status, err) end })
end)
LUA
	chmod 644 "$TMP/etc-rules/50-probe.lua"
	cat > "$TMP/probe.sh" <<'SH'
#!/bin/sh
exec > /res/probe.log 2>&1
r() { echo "$1=$2" >> /res/results; }
systemctl start nlhookd; r start $?
r active "$(systemctl is-active nlhookd)"
pid=$(systemctl show -p MainPID --value nlhookd)
r capeff "$(sed -n 's/^CapEff:\t//p' /proc/$pid/status)"
r nonewprivs "$(sed -n 's/^NoNewPrivs:\t//p' /proc/$pid/status)"
r socket "$(stat -c '%U:%G %a' /run/nlhook/control.sock)"
ip link add nlhn0 type veth peer name nlhn1 && ip link set nlhn0 up
# Until the rule's children have run and their link event came back.
for i in $(seq 100); do
	journalctl -u nlhookd -o cat --no-pager > /res/seen
	grep -q "saw nlhn1 up" /res/seen && grep -q "touch exited" /res/seen && break
	sleep 0.1
done
systemctl reload nlhookd; r reload $?
r reloaded_active "$(systemctl is-active nlhookd)"
nlhook status > /res/status.txt; r status $?
systemctl stop nlhookd; r stop $?
journalctl -u nlhookd -o json --no-pager > /res/journal.json
systemctl poweroff
SH
	chmod 755 "$TMP/probe.sh"
	cat > "$TMP/nlhook-probe.service" <<'UNIT'
[Unit]
Description=nlhook package probe
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/probe.sh
UNIT
	timeout 180 systemd-nspawn -q --register=no --keep-unit -M "nlhp$$" -D / --volatile=yes \
		--private-network --bind="$res:/res" --bind-ro="$TMP/probe.sh:/probe.sh" \
		--bind-ro="$TMP/etc-rules:/etc/nlhook/rules.d" \
		--bind-ro="$TMP/nlhook-probe.service:/etc/systemd/system/nlhook-probe.service" \
		-b -- systemd.unit=nlhook-probe.service systemd.firstboot=off > "$TMP/nspawn.log" 2>&1 || true
	if [ ! -f "$res/results" ]; then
		echo "# systemd-nspawn could not boot a container here: the service itself is not tried"
		tail -n 5 "$TMP/nspawn.log" | sed 's/^/# /'
		return 0
	fi
	echo "# under systemd in a container:"; sed 's/^/#   /' "$res/results"
	result() { sed -n "s/^$1=//p" "$res/results"; }
	check "systemctl start nlhookd: 0" [ "$(result start)" = 0 ]
	check "the service is active (Type=notify: READY=1 arrived)" [ "$(result active)" = active ]
	check "its capabilities are CAP_NET_ADMIN alone" [ "$(result capeff)" = 0000000000001000 ]
	check "it runs with no new privileges" [ "$(result nonewprivs)" = 1 ]
	check "/run/nlhook/control.sock is root:nlhook 660" [ "$(result socket)" = "root:nlhook 660" ]
	check "systemctl reload (nlhook reload): 0, still active" \
		[ "$(result reload) $(result reloaded_active)" = "0 active" ]
	check "nlhook status talks to it: 0" [ "$(result status)" = 0 ]
	check "systemctl stop nlhookd: 0" [ "$(result stop)" = 0 ]
	python3 - "$res/journal.json" <<'PY' > "$TMP/journal.check" 2>&1 && rc=0 || rc=$?
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def prio(text):
	return [m.get("PRIORITY") for m in msgs if text in str(m.get("MESSAGE"))]
assert prio("saw nlhn0 up") == ["6"], "rule log line: %r" % prio("saw nlhn0 up")
assert prio('"type":"link.up"'), "the emitted JSON line is not in the journal"
assert not [m for m in msgs if m.get("PRIORITY") in ("0", "1", "2", "3")
	and "nlhookd" in str(m.get("SYSLOG_IDENTIFIER"))], "errors logged"
assert not [m for m in msgs if str(m.get("MESSAGE", "")).startswith("<")], "a <N> prefix reached the journal"
assert prio("ip exited 0"), "ip link set under CAP_NET_ADMIN failed"
assert prio("saw nlhn1 up"), "the link ip set up raised no event"
touch = [str(m.get("MESSAGE")) for m in msgs if "touch exited" in str(m.get("MESSAGE"))]
assert touch and "touch exited 1" in touch[0] and "/etc/nlhook-probe" in touch[0] \
	and "Read-only file system" in touch[0] and "/run/nlhook/probe" not in touch[0], \
	"ProtectSystem=strict: %r" % touch
PY
	cat "$TMP/journal.check"
	check "journal: the rule's line at info, the emitted event, no errors, no raw <N>; a child ran ip with CAP_NET_ADMIN and found /etc read-only, /run/nlhook writable" [ $rc -eq 0 ]
}

### install ###

INSTALLED=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" > "$TMP/apt.log" 2>&1 && rc=0 || rc=$?
check "apt-get install ./$(basename "$deb"): exit 0 (got $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || { cat "$TMP/apt.log"; exit 1; }

check "nlhookd --version says $version" sh -c "nlhookd --version | grep -qx 'nlhookd $version'"
check "nlhook --version says $version" sh -c "nlhook --version | grep -qx 'nlhook $version'"
check "/usr/sbin/nlhookd and /usr/bin/nlhook" test -x /usr/sbin/nlhookd -a -x /usr/bin/nlhook
check "the nlhook group exists" sh -c "getent group nlhook >/dev/null"
check "/etc/nlhook/rules.d and /usr/lib/nlhook/rules.d exist" test -d /etc/nlhook/rules.d -a -d /usr/lib/nlhook/rules.d
check "/etc/nlhook/dispatch.d and /usr/lib/nlhook/dispatch.d exist" \
	test -d /etc/nlhook/dispatch.d -a -d /usr/lib/nlhook/dispatch.d

nlhookd --check --rules /usr/lib/nlhook/rules.d > "$TMP/check" 2>&1 && rc=0 || rc=$?
check "nlhookd --check --rules /usr/lib/nlhook/rules.d: exit 0 (got $rc: $(cat "$TMP/check"))" [ $rc -eq 0 ]
nlhookd --check > "$TMP/check" 2>&1 && rc=0 || rc=$?
check "nlhookd --check with the default dirs: 0 rules, the examples are inactive ($(cat "$TMP/check"))" \
	grep -qx "0 rules loaded" "$TMP/check"
nlhookd --check --rules /usr/share/nlhook/examples > "$TMP/check" 2>&1 && rc=0 || rc=$?
check "nlhookd --check --rules /usr/share/nlhook/examples: exit 0 (got $rc: $(cat "$TMP/check"))" [ $rc -eq 0 ]
n_examples=$(sed -n 's/^\([0-9]*\) rules loaded$/\1/p' "$TMP/check")
check "the examples hold rules ($n_examples)" [ "${n_examples:-0}" -gt 0 ]

# Enabling an example the documented way: a symlink into /etc/nlhook/rules.d.
example=$(ls /usr/share/nlhook/examples/*.lua | head -n 1)
ENABLED_LINK=/etc/nlhook/rules.d/$(basename "$example")
ln -s "$example" "$ENABLED_LINK"
nlhookd --check > "$TMP/check" 2>&1 && rc=0 || rc=$?
check "an example linked into /etc/nlhook/rules.d loads as root ($(cat "$TMP/check"))" \
	sh -c "[ $rc -eq 0 ] && ! grep -qx '0 rules loaded' '$TMP/check'"
nlhook check > "$TMP/check" 2>&1 && rc=0 || rc=$?
check "nlhook check agrees: exit 0 (got $rc)" [ $rc -eq 0 ]
rm -f "$ENABLED_LINK"; ENABLED_LINK=

for page in nlhookd.8 nlhook.1 nlhook-rules.5; do
	check "man finds $page" sh -c "man -w ${page##*.} ${page%.*} | grep -q '/usr/share/man/man${page##*.}/$page'"
	check "man renders $page without warnings" \
		sh -c "MANWIDTH=80 man --warnings ${page##*.} ${page%.*} 2>&1 >/dev/null | grep -c . | grep -qx 0"
done

(cd / && systemd-analyze verify /lib/systemd/system/nlhookd.service) > "$TMP/verify" 2>&1 && rc=0 || rc=$?
cat "$TMP/verify"
check "systemd-analyze verify of the installed unit: exit 0 and silent (got $rc)" \
	sh -c "[ $rc -eq 0 ] && ! grep -q . '$TMP/verify'"

logrotate -d /etc/logrotate.d/nlhook > "$TMP/logrotate" 2>&1 && rc=0 || rc=$?
check "logrotate accepts /etc/logrotate.d/nlhook (exit $rc)" \
	sh -c "[ $rc -eq 0 ] && ! grep -qi 'error' '$TMP/logrotate'"

complete_words() {
	bash -c 'source /usr/share/bash-completion/bash_completion
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_completion_loader "$1"
		$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p") "$1" "${@: -1}" "${@: -2:1}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
out=$(complete_words nlhook mon)
check "bash completes 'nlhook mon' to monitor (got '$out')" [ "$out" = monitor ]
out=$(complete_words nlhook monitor wifi.con)
check "bash completes event types: 'nlhook monitor wifi.con' (got '$out')" [ "$out" = wifi.connect ]
out=$(complete_words nlhookd --event)
check "bash completes nlhookd's options: '--event' (got '$out')" [ "$out" = --event-log ]

if [ -d /run/systemd/system ]; then
	check "the service runs after install" systemctl is-active -q nlhookd
	check "systemctl reload nlhookd works" systemctl reload nlhookd
elif command -v systemd-nspawn >/dev/null; then
	nspawn_check
else
	echo "# no systemd here, nor systemd-nspawn: the service itself is not tried"
fi

### purge ###

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq nlhook > "$TMP/apt.log" 2>&1 && rc=0 || rc=$?
INSTALLED=
check "apt-get purge nlhook: exit 0 (got $rc)" [ $rc -eq 0 ]
check "the programs are gone" sh -c "! test -e /usr/sbin/nlhookd && ! test -e /usr/bin/nlhook"
check "/etc/nlhook and /etc/logrotate.d/nlhook are gone" sh -c "! test -e /etc/nlhook && ! test -e /etc/logrotate.d/nlhook"

echo "1..$N"
