/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

int log_max_level = LOG_INFO;

static int journal = -1;	/* stderr goes to the journal: <N> prefixes */

static const char *const level_names[] = {
	[LOG_ERR] = "err",
	[LOG_WARNING] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

int log_level_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i] && !strcmp(level_names[i], name))
			return i;
	if (!strcmp(name, "error"))
		return LOG_ERR;
	if (!strcmp(name, "warning"))
		return LOG_WARNING;
	return -EINVAL;
}

void log_set_level(int level)
{
	log_max_level = level;
}

/* systemd sets JOURNAL_STREAM=dev:ino for the stream stderr is connected to. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%lu:%lu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_msg(int level, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n, saved = errno;

	if (level > log_max_level)
		return;
	if (journal < 0)
		journal = stderr_is_journal();
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	/* One line per message: embedded newlines would forge log lines. */
	for (int i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	if (journal)
		fprintf(stderr, "<%d>%s\n", level, buf);
	else
		fprintf(stderr, "nlhookd: %s: %s\n", level <= LOG_DEBUG ? level_names[level] ?: "log" : "log", buf);
	errno = saved;
}

static int evlog_fd = STDOUT_FILENO;
static char *evlog_path;

int evlog_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0640);

	if (fd < 0)
		return -errno;
	evlog_close();
	evlog_fd = fd;
	evlog_path = strdup(path);
	return 0;
}

/* For logrotate: SIGHUP reopens the file by name. */
int evlog_reopen(void)
{
	char *path = evlog_path;
	int r;

	if (!path)
		return 0;
	evlog_path = NULL;
	r = evlog_open(path);
	if (r < 0)
		evlog_path = path;
	else
		free(path);
	return r;
}

void evlog_write(const char *line, size_t len)
{
	char buf[8192];
	ssize_t n;

	/* line + newline in one write(): lines from one daemon never interleave. */
	if (len < sizeof(buf)) {
		memcpy(buf, line, len);
		buf[len] = '\n';
		n = write(evlog_fd, buf, len + 1);
	} else {
		struct iovec iov[2] = { { (void *)line, len }, { "\n", 1 } };

		n = writev(evlog_fd, iov, 2);
	}
	if (n < 0)
		log_debug("event log: %m, line dropped");
}

void evlog_close(void)
{
	if (evlog_fd > STDOUT_FILENO)
		close(evlog_fd);
	evlog_fd = STDOUT_FILENO;
	free(evlog_path);
	evlog_path = NULL;
}
