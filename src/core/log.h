/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Levels are syslog's: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
extern int log_max_level;

int log_level_from_name(const char *name);
void log_set_level(int level);
/* "nlhookd" in "nlhookd: warn: ..."; the program's name until set. */
void log_set_ident(const char *ident);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * What starts a log line of this level ("<2>" for the journal,
 * "nlhookd: crit: " otherwise), for a writer that cannot use log_msg (a
 * signal handler).  Call it once outside one first: it looks at stderr.
 */
const char *log_prefix(int level);

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)							\
	do {								\
		if (log_max_level >= LOG_DEBUG)				\
			log_msg(LOG_DEBUG, __VA_ARGS__);		\
	} while (0)

/*
 * The event log: JSON lines written by nlhook.emit.  stdout unless
 * evlog_open() named a file (opened O_APPEND, reopened by evlog_reopen()).
 */
int evlog_open(const char *path);
int evlog_reopen(void);
void evlog_write(const char *line, size_t len);
/*
 * A line rendered straight into the batch, without a copy:
 * fill(buf, size, data) writes it (NUL-terminated) and returns its
 * length, or -ENOSPC when it did not fit.  Returns 0 or fill's error.
 */
typedef int (*evlog_fill_fn)(char *buf, size_t size, void *data);
int evlog_write_fill(evlog_fill_fn fill, void *data);
/* Gather lines and write them per batch; evlog_flush() writes what is gathered. */
void evlog_set_batching(bool on);
void evlog_flush(void);
void evlog_close(void);

/*
 * Or to syslog: each line becomes one RFC 5424 message (facility daemon,
 * severity info) on the local datagram socket at path (/dev/log), the JSON
 * as MSG and the event type as structured data [nlhook@32473 type="..."].
 * evlog_reopen() reconnects; evlog_open() or evlog_close() ends it.
 */
#define EVLOG_SYSLOG_PATH "/dev/log"
int evlog_open_syslog(const char *path);

/*
 * Or to a function (the MQTT output): each line as it is written, no
 * batching; evlog_reopen() leaves it alone.
 */
typedef void (*evlog_fn)(const char *line, size_t len, void *data);
void evlog_open_fn(evlog_fn fn, void *data);

/*
 * The "type" member of a line that is a JSON object (what outputs route
 * on), as text in the one escape (nlh_text_escape), into buf; false when
 * there is none, it is not text or it does not fit.
 */
bool evlog_line_type(const char *line, size_t len, char *buf, size_t size);
