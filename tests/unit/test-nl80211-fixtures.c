/* SPDX-License-Identifier: MIT */
/*
 * The real captures in tests/fixtures/nl80211 through the pure parts
 * alone: pcap reader, nlmon copies folded, nl80211's family id learned from
 * the capture's CTRL_CMD_NEWFAMILY, the parser, and the derivations (roam,
 * SSID of a disconnect, authorized from the RTM_NEWLINK operstate in the
 * same capture).  One text line per wifi event, without time, is compared
 * with golden/<capture>.wifi.txt; the key facts are asserted on their own.
 *
 * How the golden files follow the `iw event -t -f` output recorded beside
 * each capture (basic.iw-event.txt, roam.iw-event.txt), checked line by line:
 *   "new interface type station"   -> wifi.iface.new (the P2P-Device has
 *                                     no netdev, so no event: no ifname)
 *   "scan finished"                -> wifi.scan.done ("scan aborted" is
 *                                     another command, not an event here)
 *   "auth A -> B status: 0"        -> wifi.authenticate bssid A status 0
 *   "assoc A -> B status: 0"       -> wifi.associate bssid A status 0
 *   "connected to A"               -> wifi.connect bssid A ssid CafeNet
 *   "deauth X -> Y reason R"       -> wifi.deauth reason R, bssid the AP's
 *   "disconnected (by AP) reason R"-> wifi.disconnect reason R by_ap true
 *                                     ("local request": by_ap false)
 *   "new interface type station"   -> also iftype station
 *   "wlan0: new station M"          -> wifi.station.new mac M on wlan0,
 *   "wlan0: del station M"             wifi.station.del: on the
 *                                     interfaces that "set interface type
 *                                     access point" made APs only; the
 *                                     client's own (wlan1 in basic, wlan2
 *                                     in roam) raise nothing
 * iw shows neither a roam nor authorization: those are nlhook's
 * derivations.  A roam follows each connect to the other BSS that comes
 * within a second of a disconnect (after the AP's deauth, and `wpa_cli
 * roam`), authorized the operstate going UP after each connect, matching
 * the "ctrl. port TX status" lines (the EAPOL handshake) in iw's output.
 * "mgmt TX status", "vendor event", "set interface type" (the mode is
 * followed, not raised) and "renamed" are not nlhook events.
 *
 * NLH_GOLDEN_WRITE=1 rewrites the golden files (then check them as above).
 */
#include <errno.h>
#include <linux/netlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/nlmsg.h"
#include "nl80211/nl80211-parse.h"
#include "pcap/pcap.h"
#include "rtnl/rtnl-parse.h"

#define NEVENTS 256
#define NLINKS 64

struct run {
	struct nl80211_ids ids;
	struct nl80211_track track;
	char links[NLINKS][IFNAMSIZ];	/* the capture's interface names */
	struct nlh_event ev[NEVENTS];
	size_t n;
	unsigned long records, folded, families;
	unsigned long dropped_stations;	/* a station-mode interface's view of its AP */
};

static void push(struct run *r, const struct nlh_event *ev)
{
	assert_true(r->n < NEVENTS);
	r->ev[r->n++] = *ev;
}

static void route_msg(struct run *r, const struct nlmsghdr *nlh)
{
	struct nlh_event link, out;

	if (rtnl_parse(nlh, &link) < 0 || nlh_event_type_class(link.type) != NLH_CLASS_LINK)
		return;
	if (link.link.ifindex < NLINKS && NLH_HAS(&link, LINK, ifname))
		memcpy(r->links[link.link.ifindex], link.link.ifname, IFNAMSIZ);
	if (nl80211_track_link(&r->track, &link, &out) > 0)
		push(r, &out);
}

/* As the source does: interface modes and stations the kernel tells of, then the event. */
static void genl_msg(struct run *r, const struct nlmsghdr *nlh)
{
	struct nl80211_iface iface;
	struct nlh_event ev, extra;
	uint32_t i;
	int n;

	if (nl80211_ctrl_parse(nlh, &r->ids) > 0) {
		r->families++;
		return;
	}
	if (nl80211_iface_parse(nlh, &r->ids, &iface) == 0)
		nl80211_track_iface(&r->track, &iface);
	if (nlh->nlmsg_pid && nl80211_station_parse(nlh, &r->ids, &ev) == 0) {
		nl80211_track_station_dump(&r->track, &ev);
		return;
	}
	if (nl80211_parse(nlh, &r->ids, &ev) < 0)
		return;
	i = ev.wifi.ifindex;
	if (!NLH_HAS(&ev, WIFI, ifname) && i < NLINKS && r->links[i][0]) {
		memcpy(ev.wifi.ifname, r->links[i], IFNAMSIZ);
		NLH_SET(&ev, WIFI, ifname);
	}
	n = nl80211_track_wifi(&r->track, &ev, &extra);
	if (n < 0) {
		r->dropped_stations += ev.type == NLH_EV_WIFI_STATION_NEW || ev.type == NLH_EV_WIFI_STATION_DEL;
		return;
	}
	push(r, &ev);
	if (n > 0)
		push(r, &extra);
}

static void run_capture(const char *name, struct run *r)
{
	struct pcap_reader *p;
	struct pcap_record rec;
	struct pcap_fold fold = {};
	char path[512], err[512];
	int n;

	memset(r, 0, sizeof(*r));
	nl80211_track_stations(&r->track, true);
	snprintf(path, sizeof(path), "%s/%s.pcap", NLH_FIXTURES, name);
	if (pcap_open(path, &p, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	while ((n = pcap_next(p, &rec, err, sizeof(err))) > 0) {
		const struct nlmsghdr *nlh;
		size_t left;

		r->records++;
		if (pcap_fold_seen(&fold, &rec))
			continue;
		/* Events take the capture's time: the roam window is measured in it. */
		nlh_replay_time = rec.time;
		nlh_msg_for_each(nlh, rec.data, rec.len, left) {
			if (rec.family == NETLINK_ROUTE)
				route_msg(r, nlh);
			else if (rec.family == NETLINK_GENERIC)
				genl_msg(r, nlh);
		}
	}
	nlh_replay_time = 0;
	r->folded = fold.folded;
	pcap_fold_free(&fold);
	pcap_close(p);
	if (n < 0)
		fail_msg("%s", err);
}

static char *render(const struct run *r)
{
	size_t size = NEVENTS * 512, off = 0;
	char *s = malloc(size);

	assert_non_null(s);
	s[0] = '\0';
	for (size_t i = 0; i < r->n; i++) {
		int len = nlh_event_text(&r->ev[i], false, s + off, size - off - 1);

		assert_true(len > 0);
		off += len;
		s[off++] = '\n';
		s[off] = '\0';
	}
	return s;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	s = malloc(len + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, len, f), (size_t)len);
	s[len] = '\0';
	fclose(f);
	return s;
}

static void check_golden(const char *name, const struct run *r)
{
	char path[512], *got = render(r), *want;
	const char *a, *b, *la, *lb;
	int line = 1;

	snprintf(path, sizeof(path), "%s/%s.wifi.txt", NLH_GOLDEN, name);
	if (getenv("NLH_GOLDEN_WRITE")) {
		FILE *f = fopen(path, "we");

		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	want = slurp(path);
	if (!want)
		fail_msg("%s: cannot read", path);
	for (a = la = got, b = lb = want; *a && *a == *b; a++, b++) {
		if (*a == '\n') {
			line++;
			la = a + 1;
			lb = b + 1;
		}
	}
	if (*a || *b) {
		print_error("%s: line %d differs\n got: %.*s\nwant: %.*s\n", path, line,
			    (int)strcspn(la, "\n"), la, (int)strcspn(lb, "\n"), lb);
		free(got);
		free(want);
		fail();
	}
	free(got);
	free(want);
}

static bool is_ssid(const struct nlh_event *ev, const char *s)
{
	return NLH_HAS(ev, WIFI, ssid) && ev->wifi.ssid.len == strlen(s) && !memcmp(ev->wifi.ssid.b, s, strlen(s));
}

static bool is_mac(const struct nlh_hwaddr *h, uint8_t last2)
{
	static const uint8_t base[6] = { 2, 0, 0, 0, 0, 0 };

	return h->len == 6 && !memcmp(h->a, base, 4) && h->a[4] == last2 && h->a[5] == 0;
}

/*
 * The station events as "new wlan0 02:00:00:00:02:00" joined by commas,
 * each checked for what an access point's station event carries.
 */
static void station_events(const struct run *r, char *out, size_t size)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < r->n; i++) {
		const struct nlh_event *ev = &r->ev[i];
		char mac[32];
		bool del = ev->type == NLH_EV_WIFI_STATION_DEL;

		if (!del && ev->type != NLH_EV_WIFI_STATION_NEW)
			continue;
		assert_true(NLH_HAS(ev, WIFI, mac) && NLH_HAS(ev, WIFI, ifname));
		assert_true(NLH_HAS(ev, WIFI, iftype));
		assert_string_equal(ev->wifi.iftype, "ap");
		assert_true(is_ssid(ev, "CafeNet"));
		/* wlanN is phyN in these captures */
		assert_true(NLH_HAS(ev, WIFI, wiphy));
		assert_int_equal(ev->wifi.wiphy, ev->wifi.ifname[4] - '0');
		assert_int_equal(NLH_HAS(ev, WIFI, connected_time), del);
		assert_int_equal(NLH_HAS(ev, WIFI, rx_bytes), del);
		assert_int_equal(NLH_HAS(ev, WIFI, tx_bytes), del);
		assert_int_equal(NLH_HAS(ev, WIFI, signal), del);
		if (del) {
			assert_int_equal(ev->wifi.signal, -30);	/* mac80211_hwsim's */
			assert_true(ev->wifi.rx_bytes > 0 && ev->wifi.tx_bytes > 0);
		}
		nlh_hwaddr_format(&ev->wifi.mac, mac, sizeof(mac));
		off += snprintf(out + off, size - off, "%s%s %s %s", off ? "," : "", del ? "del" : "new",
				ev->wifi.ifname, mac);
		assert_true(off < size);
	}
}

static void test_basic(void **state)
{
	struct run *r = malloc(sizeof(*r));
	size_t connect = 0, authorized = 0, ci = 0, ai = 0;
	struct nlh_event st;
	char stations[512];

	assert_non_null(r);
	run_capture("basic", r);
	assert_true(r->families > 0);	/* the family id came from the capture */
	assert_int_equal(r->ids.family, 32);
	assert_true(r->folded > 0);
	for (size_t i = 0; i < r->n; i++) {
		const struct nlh_event *ev = &r->ev[i];

		if (ev->type == NLH_EV_WIFI_CONNECT) {
			connect++, ci = i;
			assert_string_equal(ev->wifi.ifname, "wlan1");
			assert_true(is_mac(&ev->wifi.bssid, 0));
			assert_true(is_ssid(ev, "CafeNet"));
			assert_int_equal(ev->wifi.status, 0);
		} else if (ev->type == NLH_EV_WIFI_AUTHORIZED) {
			authorized++, ai = i;
			assert_string_equal(ev->wifi.ifname, "wlan1");
		}
		assert_true(ev->type != NLH_EV_WIFI_ROAM && ev->type != NLH_EV_WIFI_DISCONNECT);
	}
	assert_int_equal(connect, 1);
	assert_int_equal(authorized, 1);
	assert_true(ai > ci);
	/* the client wlan1 joins the AP wlan0; wlan1's view of its AP raises nothing */
	station_events(r, stations, sizeof(stations));
	assert_string_equal(stations, "new wlan0 02:00:00:00:01:00");
	assert_int_equal(r->dropped_stations, 1);
	assert_int_equal(nl80211_track_station_count(&r->track), 1);
	nl80211_track_station_get(&r->track, 0, 1795342560.0, &st);
	assert_true(is_mac(&st.wifi.mac, 1));
	assert_int_equal(st.wifi.ifindex, 3);
	assert_int_equal(st.wifi.connected_time, 6);	/* joined at 553.258 */
	check_golden("basic", r);
	nl80211_track_free(&r->track);
	free(r);
}

static void test_roam(void **state)
{
	static const uint32_t reasons[3] = { 3, 2, 1 };
	static const bool by_ap[3] = { false, true, false };
	struct run *r = malloc(sizeof(*r));
	size_t connects = 0, disconnects = 0, roams = 0, authorized = 0;
	const struct nlh_event *last_connect = NULL;
	char stations[512];

	assert_non_null(r);
	run_capture("roam", r);
	assert_int_equal(r->ids.family, 32);
	assert_true(r->folded > 0);
	for (size_t i = 0; i < r->n; i++) {
		const struct nlh_event *ev = &r->ev[i];

		switch (ev->type) {
		case NLH_EV_WIFI_CONNECT:
			assert_true(is_ssid(ev, "CafeNet"));
			assert_int_equal(ev->wifi.status, 0);
			assert_string_equal(ev->wifi.ifname, "wlan2");
			/* each connect is authorized before anything else connects */
			assert_true(!last_connect);
			last_connect = ev;
			connects++;
			break;
		case NLH_EV_WIFI_AUTHORIZED:
			assert_non_null(last_connect);
			assert_memory_equal(&ev->wifi.bssid, &last_connect->wifi.bssid, sizeof(ev->wifi.bssid));
			assert_true(is_ssid(ev, "CafeNet"));
			assert_string_equal(ev->wifi.ifname, "wlan2");
			last_connect = NULL;
			authorized++;
			break;
		case NLH_EV_WIFI_DISCONNECT:
			assert_true(disconnects < 3);
			assert_int_equal(ev->wifi.reason, reasons[disconnects]);
			assert_int_equal(ev->wifi.by_ap, by_ap[disconnects]);
			assert_true(is_ssid(ev, "CafeNet"));	/* the last connect's */
			assert_null(last_connect);
			disconnects++;
			break;
		case NLH_EV_WIFI_ROAM:
			/* right after the connect it was derived from */
			assert_int_equal(r->ev[i - 1].type, NLH_EV_WIFI_CONNECT);
			assert_true(NLH_HAS(ev, WIFI, prev_bssid));
			assert_true(is_ssid(ev, "CafeNet"));
			/* out to the other BSS after the AP's deauth, then `wpa_cli roam` back */
			assert_true(is_mac(&ev->wifi.prev_bssid, roams ? 1 : 0));
			assert_true(is_mac(&ev->wifi.bssid, roams ? 0 : 1));
			roams++;
			break;
		default:
			break;
		}
	}
	assert_int_equal(connects, 4);
	assert_int_equal(disconnects, 3);
	assert_int_equal(authorized, 4);
	assert_int_equal(roams, 2);	/* none for the reconnect to the same BSS */
	/*
	 * As iw saw it: on wlan0 joins and leaves, after the AP's deauth the
	 * join on wlan1 (the capture ends before wlan1 drops it), the roam
	 * back to wlan0; the client wlan2's 7 of its own raise nothing.
	 */
	station_events(r, stations, sizeof(stations));
	assert_string_equal(stations, "new wlan0 02:00:00:00:02:00,del wlan0 02:00:00:00:02:00,"
				      "new wlan0 02:00:00:00:02:00,del wlan0 02:00:00:00:02:00,"
				      "new wlan1 02:00:00:00:02:00,new wlan0 02:00:00:00:02:00");
	assert_int_equal(r->dropped_stations, 7);
	assert_int_equal(nl80211_track_station_count(&r->track), 2);
	check_golden("roam", r);
	nl80211_track_free(&r->track);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_roam),
	};

	if (access(NLH_FIXTURES "/basic.pcap", R_OK) || access(NLH_FIXTURES "/roam.pcap", R_OK)) {
		printf("SKIP: no captures in %s (tests/fixtures/nl80211)\n", NLH_FIXTURES);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
