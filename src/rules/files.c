/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules-internal.h"

/* The files code is loaded from, rules and modules alike. */

/*
 * The daemon runs rules as root: a file or dir that someone else can
 * write is a way to run code as root.
 */
const char *rules_perms_problem(const struct stat *st, char *buf, size_t size)
{
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by group or others (chmod go-w)";
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(buf, size, "owned by uid %u, neither root nor us", (unsigned int)st->st_uid);
		return buf;
	}
	return NULL;
}

/*
 * Where a file really lives (a symbolic link's target, or a file under a
 * linked directory): whoever can write that directory can replace it.
 */
const char *rules_real_dir_problem(const char *path, char *buf, size_t size)
{
	char real[PATH_MAX], why[64], *slash;
	const char *problem;
	struct stat st;

	if (!realpath(path, real) || !(slash = strrchr(real, '/')))
		return NULL;	/* opening it says what is wrong */
	slash[slash == real] = '\0';	/* "/x" leaves "/" */
	if (stat(real, &st) < 0 || !(problem = rules_perms_problem(&st, why, sizeof(why))))
		return NULL;
	snprintf(buf, size, "it lives in %s, which is %s", real, problem);
	return buf;
}

int rules_read_fd(int fd, char *buf, size_t size, size_t *ret_len)
{
	size_t len = 0;

	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += n;
	}
	*ret_len = len;
	return 0;
}
