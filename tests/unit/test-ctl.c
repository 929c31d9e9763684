/* SPDX-License-Identifier: MIT */
/*
 * The default control path per network namespace.  Namespaces are files
 * told apart by device and inode, so plain files stand in for them: a
 * hard link in the netns dir is a namespace `ip netns` has named.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "ctl/ctl.h"

struct paths {
	char dir[64];
	char self[96];
	char init[96];
	char netns[96];
	char named[128];
	char missing[96];
};

static int setup(void **state)
{
	struct paths *p = calloc(1, sizeof(*p));
	int fd;

	strcpy(p->dir, "/tmp/nlhook-test-ctl.XXXXXX");
	if (!p || !mkdtemp(p->dir))
		return -1;
	snprintf(p->self, sizeof(p->self), "%s/self", p->dir);
	snprintf(p->init, sizeof(p->init), "%s/init", p->dir);
	snprintf(p->netns, sizeof(p->netns), "%s/netns", p->dir);
	snprintf(p->named, sizeof(p->named), "%s/netns/blue", p->dir);
	snprintf(p->missing, sizeof(p->missing), "%s/missing", p->dir);
	for (int i = 0; i < 2; i++) {
		fd = open(i ? p->init : p->self, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		close(fd);
	}
	if (mkdir(p->netns, 0755) < 0)
		return -1;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct paths *p = *state;

	unlink(p->named);
	rmdir(p->netns);
	unlink(p->self);
	unlink(p->init);
	rmdir(p->dir);
	free(p);
	return 0;
}

static void expect(const char *self, const char *init, const char *netns, const char *base, const char *want)
{
	char *got = NULL;

	assert_int_equal(__ctl_default_path(self, init, netns, base, &got), 0);
	assert_string_equal(got, want);
	free(got);
}

static void test_initial(void **state)
{
	struct paths *p = *state;

	expect(p->self, p->self, p->netns, "/run/nlhook/control.sock", "/run/nlhook/control.sock");
	/* No /proc: nothing tells, so the initial namespace. */
	expect(p->missing, p->init, p->netns, "/run/nlhook/control.sock", "/run/nlhook/control.sock");
}

static void test_named(void **state)
{
	struct paths *p = *state;

	assert_int_equal(link(p->self, p->named), 0);
	expect(p->self, p->init, p->netns, "/run/nlhook/control.sock", "/run/nlhook/netns/blue.sock");
	/* Named wins even when pid 1's namespace cannot be read. */
	expect(p->self, p->missing, p->netns, "/run/nlhook/control.sock", "/run/nlhook/netns/blue.sock");
	expect(p->self, p->init, p->netns, "/var/run/x/ctl", "/var/run/x/netns/blue.sock");
	expect(p->self, p->init, p->netns, "ctl.sock", "netns/blue.sock");
	unlink(p->named);
}

static void test_unnamed(void **state)
{
	struct paths *p = *state;
	struct stat st;
	char want[128];

	assert_int_equal(stat(p->self, &st), 0);
	snprintf(want, sizeof(want), "/run/nlhook/netns/ns-%llu.sock", (unsigned long long)st.st_ino);
	expect(p->self, p->init, p->netns, "/run/nlhook/control.sock", want);
	expect(p->self, p->init, p->missing, "/run/nlhook/control.sock", want);
	/* Unnamed, and pid 1's namespace unreadable: taken for the initial one. */
	expect(p->self, p->missing, p->netns, "/run/nlhook/control.sock", "/run/nlhook/control.sock");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial),
		cmocka_unit_test(test_named),
		cmocka_unit_test(test_unnamed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
