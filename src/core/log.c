/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "text.h"

int log_max_level = LOG_INFO;
/* The program the lines come from: the CLI shares this code with the daemon. */
static const char *log_ident;

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

void log_set_ident(const char *ident)
{
	log_ident = ident;
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

const char *log_prefix(int level)
{
	static const char *const journal_prefix[] = { "<0>", "<1>", "<2>", "<3>", "<4>", "<5>", "<6>", "<7>" };
	static const char *const plain[] = {
		"nlhookd: emerg: ", "nlhookd: alert: ", "nlhookd: crit: ", "nlhookd: err: ",
		"nlhookd: warn: ", "nlhookd: notice: ", "nlhookd: info: ", "nlhookd: debug: ",
	};

	if (journal < 0)
		journal = stderr_is_journal();
	if (level < 0 || level > 7)
		level = LOG_ERR;
	return journal ? journal_prefix[level] : plain[level];
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
		fprintf(stderr, "%s: %s: %s\n", log_ident ?: program_invocation_short_name,
			level <= LOG_DEBUG ? level_names[level] ?: "log" : "log", buf);
	errno = saved;
}

static int evlog_fd = STDOUT_FILENO;
static char *evlog_path;
static int evlog_sys = -1;	/* connected syslog socket: events go there */
static char *evlog_sys_path;
static bool evlog_sys_failing;	/* warn once per outage, not per event */
static evlog_fn evlog_func;	/* events go to a function */
static void *evlog_func_data;

static void syslog_write(const char *line, size_t len);

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
	evlog_flush();
	char *path = evlog_path;
	int r;

	if (evlog_sys_path)
		return evlog_open_syslog(evlog_sys_path);
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

/*
 * Batching (the daemon turns it on): lines gather in one buffer written
 * when it fills and whenever the loop is about to sleep, so a flood of
 * hits costs a write per batch, not per line.  Lines stay whole.
 */
static bool evlog_batch;
static char evlog_buf[64 * 1024];
static size_t evlog_len;

void evlog_flush(void)
{
	size_t off = 0;

	while (off < evlog_len) {
		ssize_t n = write(evlog_fd, evlog_buf + off, evlog_len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_debug("event log: %m, %zu bytes dropped", evlog_len - off);
			break;
		}
		off += n;
	}
	evlog_len = 0;
}

void evlog_set_batching(bool on)
{
	if (!on)
		evlog_flush();
	evlog_batch = on;
}

void evlog_write(const char *line, size_t len)
{
	char buf[8192];
	ssize_t n;

	if (evlog_func) {
		evlog_func(line, len, evlog_func_data);
		return;
	}
	if (evlog_sys >= 0) {
		syslog_write(line, len);
		return;
	}
	if (evlog_batch && len < sizeof(evlog_buf)) {
		if (evlog_len + len + 1 > sizeof(evlog_buf))
			evlog_flush();
		memcpy(evlog_buf + evlog_len, line, len);
		evlog_buf[evlog_len + len] = '\n';
		evlog_len += len + 1;
		return;
	}
	evlog_flush();
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

/* A line longer than the batch buffer, or none: rendered into one of its own. */
static int fill_alone(evlog_fill_fn fill, void *data)
{
	size_t size = 4096;
	char *p = NULL;
	int n;

	for (;;) {
		char *np = realloc(p, size);

		if (!np) {
			n = -ENOMEM;
			break;
		}
		p = np;
		n = fill(p, size, data);
		if (n != -ENOSPC || size >= 16 * JSON_MAX_SIZE)
			break;
		size *= 4;
	}
	if (n >= 0)
		evlog_write(p, n);
	free(p);
	return n < 0 ? n : 0;
}

int evlog_write_fill(evlog_fill_fn fill, void *data)
{
	int n;

	if (!evlog_batch || evlog_sys >= 0 || evlog_func)
		return fill_alone(fill, data);
	for (int pass = 0; pass < 2; pass++) {
		/* Room for the newline that replaces the NUL. */
		n = fill(evlog_buf + evlog_len, sizeof(evlog_buf) - evlog_len - 1, data);
		if (n >= 0) {
			evlog_buf[evlog_len + n] = '\n';
			evlog_len += n + 1;
			return 0;
		}
		if (n != -ENOSPC || !evlog_len)
			break;
		evlog_flush();
	}
	return n == -ENOSPC ? fill_alone(fill, data) : n;
}

void evlog_close(void)
{
	evlog_flush();
	if (evlog_fd > STDOUT_FILENO)
		close(evlog_fd);
	evlog_fd = STDOUT_FILENO;
	free(evlog_path);
	evlog_path = NULL;
	if (evlog_sys >= 0)
		close(evlog_sys);
	evlog_sys = -1;
	free(evlog_sys_path);
	evlog_sys_path = NULL;
	evlog_func = NULL;
	evlog_func_data = NULL;
}

void evlog_open_fn(evlog_fn fn, void *data)
{
	evlog_close();
	evlog_func = fn;
	evlog_func_data = data;
}

static int syslog_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd, r;

	if (!len || len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len);
	/* Non-blocking: a stalled syslog daemon costs events, never the loop. */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int evlog_open_syslog(const char *path)
{
	char *p;
	int fd, r;

	r = syslog_connect(path, &fd);
	if (r < 0)
		return r;
	/* path may be evlog_sys_path itself (a reopen): copy before closing. */
	p = strdup(path);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	evlog_close();
	evlog_sys = fd;
	evlog_sys_path = p;
	return 0;
}

/* RFC 5424 PARAM-VALUE: '"', '\\' and ']' are escaped; size >= 2 * strlen(s) + 1. */
static void sd_escape(const char *s, char *out)
{
	size_t o = 0;

	for (; *s; s++) {
		if (*s == '"' || *s == '\\' || *s == ']')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
}

/* HOSTNAME is PRINTUSASCII, at most 255 bytes, "-" when unknown. */
static void syslog_hostname(char *buf, size_t size)
{
	size_t i;

	if (gethostname(buf, size) < 0)
		buf[0] = '\0';
	buf[size - 1] = '\0';
	for (i = 0; buf[i]; i++)
		if (buf[i] < 33 || buf[i] > 126)
			buf[i] = '_';
	if (!i)
		strcpy(buf, "-");
}

/*
 * The type to route on: the "type" member when the line is an object with
 * one (of a sensible length), as text in the one escape, so that what a
 * rule emitted stays valid UTF-8 on one line wherever it goes.
 */
#define EVLOG_TYPE_MAX 64

bool evlog_line_type(const char *line, size_t len, char *buf, size_t size)
{
	char err[64], raw[EVLOG_TYPE_MAX], text[4 * EVLOG_TYPE_MAX + 1];
	struct json_doc *doc;
	const char *t;
	bool ok = false;
	int n = -1;

	buf[0] = '\0';
	if (json_parse(line, len, &doc, err, sizeof(err)) < 0)
		return false;
	t = json_get_str(json_root(doc), "type");
	/* Our lines hold text already escaped: decoding first keeps it as it is. */
	if (t)
		n = nlh_text_unescape(t, strlen(t), raw, sizeof(raw), false);
	if (n >= 0) {
		nlh_text_escape(raw, n, text, sizeof(text));
		if (strlen(text) < size) {
			strcpy(buf, text);
			ok = true;
		}
	}
	json_doc_free(doc);
	return ok;
}

/* The type as an RFC 5424 PARAM-VALUE; buf holds 2 * 4 * EVLOG_TYPE_MAX + 1. */
static void syslog_type(const char *line, size_t len, char *buf)
{
	char t[4 * EVLOG_TYPE_MAX + 1];

	buf[0] = '\0';
	if (evlog_line_type(line, len, t, sizeof(t)))
		sd_escape(t, buf);
}

static void syslog_write(const char *line, size_t len)
{
	char head[1024], host[256], type[2 * 4 * EVLOG_TYPE_MAX + 1];
	struct timespec ts;
	struct tm tm;
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;
	int hl, fd;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	syslog_hostname(host, sizeof(host));
	syslog_type(line, len, type);
	/* <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG */
	hl = snprintf(head, sizeof(head),
		      "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s nlhookd %d - [nlhook@32473%s%s%s] ",
		      LOG_DAEMON | LOG_INFO, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		      tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000, host, (int)getpid(),
		      type[0] ? " type=\"" : "", type, type[0] ? "\"" : "");
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return;
	iov[0] = (struct iovec){ head, hl };
	iov[1] = (struct iovec){ (void *)line, len };
	n = sendmsg(evlog_sys, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && (errno == ECONNREFUSED || errno == ENOTCONN || errno == ENOENT) &&
	    syslog_connect(evlog_sys_path, &fd) == 0) {
		/* The syslog daemon restarted and made a new socket: follow it. */
		close(evlog_sys);
		evlog_sys = fd;
		n = sendmsg(evlog_sys, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	if (n < 0) {
		if (!evlog_sys_failing)
			log_warn("event log: syslog %s: %m, dropping events until it works again",
				 evlog_sys_path);
		evlog_sys_failing = true;
	} else if (evlog_sys_failing) {
		log_info("event log: syslog %s works again", evlog_sys_path);
		evlog_sys_failing = false;
	}
}
