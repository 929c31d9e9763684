/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "ctl.h"

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* The name under which `ip netns` bind-mounted the namespace self, if any. */
static int netns_name(const struct stat *self, const char *netns_dir, char *name, size_t size)
{
	DIR *d = opendir(netns_dir);
	struct dirent *de;
	int r = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= size)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 && same_file(&st, self)) {
			strcpy(name, de->d_name);
			r = 0;
			break;
		}
	}
	closedir(d);
	return r;
}

int __ctl_default_path(const char *self_ns, const char *init_ns, const char *netns_dir, const char *base,
		       char **ret)
{
	const char *slash = strrchr(base, '/');
	int dirlen = slash ? (int)(slash - base) : 0;
	struct stat self, init;
	bool init_known;
	char name[256];
	char *p;
	int n;

	/*
	 * pid 1's namespace is the initial one.  When it cannot be read (no
	 * /proc, or pid 1 is not ours to inspect), a namespace that `ip netns`
	 * did not name is taken for the initial one.
	 */
	init_known = stat(init_ns, &init) == 0;
	if (stat(self_ns, &self) < 0 || (init_known && same_file(&self, &init)))
		n = asprintf(&p, "%s", base);
	else if (netns_name(&self, netns_dir, name, sizeof(name)) == 0)
		n = asprintf(&p, "%.*s%snetns/%s.sock", dirlen, base, slash ? "/" : "", name);
	else if (init_known)
		n = asprintf(&p, "%.*s%snetns/ns-%llu.sock", dirlen, base, slash ? "/" : "",
			     (unsigned long long)self.st_ino);
	else
		n = asprintf(&p, "%s", base);
	if (n < 0)
		return -ENOMEM;
	*ret = p;
	return 0;
}

int ctl_default_path(char **ret)
{
	return __ctl_default_path("/proc/self/ns/net", "/proc/1/ns/net", "/run/netns", NLH_CONTROL_PATH, ret);
}
