/* SPDX-License-Identifier: MIT */
/*
 * networkd-dispatcher's scripts against the real loop and real children:
 * ESSID and Type follow the wifi events of the daemon's own namespace;
 * only a change of state runs them, and only the daemon's namespace's.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/loop.h"
#include "exec/exec.h"
#include "rules/dispatch.h"

static char dir[64];
static char nd_dir[96];
static char *nd_dirs[1];
static struct dispatch *d;

static void write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static int setup(void **state)
{
	const struct dispatch_config cfg = { .nd_dirs = nd_dirs, .n_nd_dirs = 1 };
	char path[256];

	snprintf(dir, sizeof(dir), "/tmp/nlhook-test-dispatch.XXXXXX");
	if (!mkdtemp(dir) || loop_init() < 0)
		return -1;
	snprintf(nd_dir, sizeof(nd_dir), "%s/nd", dir);
	nd_dirs[0] = nd_dir;
	mkdir(nd_dir, 0755);
	snprintf(path, sizeof(path), "%s/routable.d", nd_dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/routable.d/50-env", nd_dir);
	write_script(path, "printf '%s|%s|%s\\n' \"$IFACE\" \"$ESSID\" \"$json\" >> \"$(dirname \"$0\")/../../out\"");
	return dispatch_new(&d, &cfg);
}

static int teardown(void **state)
{
	char cmd[128];

	dispatch_free(d);
	exec_shutdown();
	loop_exit();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct loop_timer *poll_timer;

static void poll_cb(void *data)
{
	if (!exec_running_total())
		loop_quit(0);
	else
		loop_timer_arm(poll_timer, 0.01);
}

static void give_up(void *data)
{
	loop_quit(1);
}

/* Until the scripts started are done: the queue starts each one as the one before ends. */
static void settle(void)
{
	struct loop_timer *limit = loop_timer_new(give_up, NULL);

	poll_timer = loop_timer_new(poll_cb, NULL);
	loop_timer_arm(poll_timer, 0.01);
	loop_timer_arm(limit, 5);
	assert_int_equal(loop_run(), 0);
	loop_timer_free(poll_timer);
	loop_timer_free(limit);
}

static char *out_lines(void)
{
	static char buf[4096];
	char path[128];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/out", dir);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	return buf;
}

static void wifi(enum nlh_event_type t, uint32_t ifindex, const char *ssid, const char *netns)
{
	struct nlh_event ev;

	nlh_event_init(&ev, t);
	ev.netns = netns;
	ev.wifi.ifindex = ifindex;
	NLH_SET(&ev, WIFI, ifindex);
	if (ssid) {
		ev.wifi.ssid.len = strlen(ssid);
		memcpy(ev.wifi.ssid.b, ssid, ev.wifi.ssid.len);
		NLH_SET(&ev, WIFI, ssid);
	}
	dispatch_event(d, &ev);
}

static void link_state(uint32_t ifindex, const char *ifname, const char *prev, const char *netns)
{
	struct nlh_event ev;

	nlh_event_init(&ev, NLH_EV_LINK_STATE);
	ev.netns = netns;
	ev.link.ifindex = ifindex;
	NLH_SET(&ev, LINK, ifindex);
	snprintf(ev.link.ifname, sizeof(ev.link.ifname), "%s", ifname);
	NLH_SET(&ev, LINK, ifname);
	snprintf(ev.link.state, sizeof(ev.link.state), "routable");
	NLH_SET(&ev, LINK, state);
	if (prev) {
		snprintf(ev.link.prev_state, sizeof(ev.link.prev_state), "%s", prev);
		NLH_SET(&ev, LINK, prev_state);
	}
	dispatch_event(d, &ev);
	settle();
}

static void test_essid(void **state)
{
	wifi(NLH_EV_WIFI_CONNECT, 5, "Caf\xc3\xa9 Net", NULL);
	link_state(5, "wlan0", "degraded", NULL);
	assert_string_equal(out_lines(), "wlan0|Caf\xc3\xa9 Net|{\"Type\":\"wlan\",\"OperationalState\":\"routable\","
			    "\"AdministrativeState\":\"unmanaged\",\"State\":\"routable (unmanaged)\",\"Address\":[],"
			    "\"ESSID\":\"Caf\xc3\xa9 Net\"}\n");
	/* A roam to another network, then away: the link stays a wifi one. */
	wifi(NLH_EV_WIFI_ROAM, 5, "Other", NULL);
	link_state(5, "wlan0", "dormant", NULL);
	assert_non_null(strstr(out_lines(), "wlan0|Other|"));
	wifi(NLH_EV_WIFI_DISCONNECT, 5, NULL, NULL);
	link_state(5, "wlan0", "dormant", NULL);
	assert_non_null(strstr(out_lines(), "wlan0||{\"Type\":\"wlan\""));
	/* Another namespace's wifi says nothing of ours. */
	wifi(NLH_EV_WIFI_CONNECT, 6, "Elsewhere", "blue");
	link_state(6, "eth6", "carrier", NULL);
	assert_string_equal(out_lines(), "eth6||{\"Type\":\"ether\",\"OperationalState\":\"routable\","
			    "\"AdministrativeState\":\"unmanaged\",\"State\":\"routable (unmanaged)\",\"Address\":[]}\n");
}

/* The first state of a link, and another namespace's links, run nothing. */
static void test_what_runs(void **state)
{
	link_state(7, "eth7", NULL, NULL);
	assert_string_equal(out_lines(), "");
	link_state(7, "eth7", "carrier", "blue");
	assert_string_equal(out_lines(), "");
	link_state(7, "eth7", "carrier", NULL);
	assert_non_null(strstr(out_lines(), "eth7||"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_essid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_what_runs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
