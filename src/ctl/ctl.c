/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "ctl.h"
#include "filter.h"

struct client {
	int fd;
	pid_t pid;
	uid_t uid;
	bool root;
	bool member;		/* of the nlhook group */
	bool monitor;
	bool text;
	bool timestamp;
	bool closing;		/* reply queued: close once written */
	bool ended;		/* a monitor whose last line is queued: no more events */
	struct nlh_filter filter;
	char in[CTL_REQUEST_MAX];
	size_t in_len;
	struct sbuf out;
	size_t out_off;
	struct loop_timer *timeout;
	struct client *next;
};

static int listen_fd = -1;
static char *listen_path;
static struct stat listen_st;		/* what we bound: unlinked at exit only if still there */
static int reserve_fd = -1;		/* spent to turn a client away when fds run out */
static struct loop_timer *accept_timer;
static double accept_backoff;		/* seconds not accepting; 0 while accepting */
static unsigned int turned_away;	/* clients closed unheard in this shortage */
static bool fd_shortage;		/* from the first failed accept to an empty queue */
static const struct ctl_ops *ops;
static struct client *clients;
static gid_t nlhook_gid = (gid_t)-1;
static uint64_t monitor_drops;

static void reply_error_ext(struct sbuf *out, const char *msg, const char *extra)
{
	sbuf_printf(out, "{\"v\":%d,\"ok\":false,\"error\":", CTL_PROTO_VERSION);
	sbuf_json_str(out, msg, strlen(msg));
	sbuf_puts(out, extra);
	sbuf_puts(out, "}");
}

static void reply_error(struct sbuf *out, const char *msg)
{
	reply_error_ext(out, msg, "");
}

int ctl_request(const char *line, size_t len, bool root, bool member, const struct ctl_ops *o,
		struct sbuf *out, struct nlh_filter *ret_filter, bool *ret_text, bool *ret_timestamp)
{
	const struct json_value *req, *v, *item;
	struct json_doc *doc;
	char err[256];
	const char *cmd;
	int r = 0;

	if (json_parse(line, len, &doc, err, sizeof(err)) < 0) {
		char msg[300];

		snprintf(msg, sizeof(msg), "malformed request: %s", err);
		reply_error(out, msg);
		return 0;
	}
	req = json_root(doc);
	v = json_get(req, "v");
	cmd = json_get_str(req, "cmd");
	if (req->type != JSON_OBJECT || !cmd) {
		reply_error(out, "malformed request: an object with \"cmd\" expected");
		goto out;
	}
	if (v && (v->type != JSON_NUMBER || v->num != CTL_PROTO_VERSION)) {
		reply_error(out, "unsupported protocol version");
		goto out;
	}
	if (!strcmp(cmd, "status")) {
		if (!root && !member) {
			reply_error(out, "permission denied: status needs root or the nlhook group");
			goto out;
		}
		sbuf_printf(out, "{\"v\":%d,\"ok\":true", CTL_PROTO_VERSION);
		if (o && o->status)
			o->status(out);
		sbuf_puts(out, "}");
	} else if (!strcmp(cmd, "reload")) {
		struct sbuf errs = {};

		if (!root) {
			reply_error(out, "permission denied: reload needs root");
			goto out;
		}
		if (o && o->reload && o->reload(&errs) < 0) {
			sbuf_printf(out, "{\"v\":%d,\"ok\":false,\"error\":\"reload failed, old rules kept\",\"errors\":[%s]}",
				    CTL_PROTO_VERSION, errs.p ? errs.p : "");
		} else {
			sbuf_printf(out, "{\"v\":%d,\"ok\":true}", CTL_PROTO_VERSION);
		}
		sbuf_free(&errs);
	} else if (!strcmp(cmd, "monitor")) {
		struct nlh_filter f = {};
		const char *fmt = json_get_str(req, "format");

		if (!root && !member) {
			reply_error(out, "permission denied: monitor needs root or the nlhook group");
			goto out;
		}
		for (int pass = 0; pass < 2; pass++) {
			v = json_get(req, pass ? "filters" : "types");
			if (!v)
				continue;
			if (v->type != JSON_ARRAY) {
				reply_error(out, pass ? "\"filters\" must be an array of strings" :
							"\"types\" must be an array of strings");
				nlh_filter_clear(&f);
				goto out;
			}
			for (item = v->child; item; item = item->next) {
				if (item->type != JSON_STRING || strlen(item->str) != item->len ||
				    nlh_filter_add_escaped(&f, item->str, item->len, err, sizeof(err)) < 0) {
					reply_error(out, item->type == JSON_STRING ? err : "filters must be strings");
					nlh_filter_clear(&f);
					goto out;
				}
			}
		}
		if (nlh_filter_check(&f, err, sizeof(err)) < 0) {
			reply_error(out, err);
			nlh_filter_clear(&f);
			goto out;
		}
		if (fmt && strcmp(fmt, "json") && strcmp(fmt, "text")) {
			reply_error(out, "\"format\" is \"json\" or \"text\"");
			nlh_filter_clear(&f);
			goto out;
		}
		v = json_get(req, "all_netns");
		f.all_netns = v && v->type == JSON_BOOL && v->b;
		v = json_get(req, "timestamp");
		*ret_text = fmt && !strcmp(fmt, "text");
		*ret_timestamp = v && v->type == JSON_BOOL && v->b;
		*ret_filter = f;
		sbuf_printf(out, "{\"v\":%d,\"ok\":true}", CTL_PROTO_VERSION);
		r = 1;
	} else {
		char msg[128];

		snprintf(msg, sizeof(msg), "unknown command '%.64s'", cmd);
		reply_error(out, msg);
	}
out:
	json_doc_free(doc);
	return r;
}

static void client_free(struct client *c)
{
	bool was_monitor = c->monitor;

	for (struct client **pp = &clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	loop_del_fd(c->fd);
	close(c->fd);
	loop_timer_free(c->timeout);
	nlh_filter_clear(&c->filter);
	sbuf_free(&c->out);
	free(c);
	if (was_monitor && ops && ops->want_changed)
		ops->want_changed();
}

static void client_flush(struct client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			client_free(c);
			return;
		}
		c->out_off += n;
	}
	if (c->out_off == c->out.len) {
		c->out.len = c->out_off = 0;
		if (c->closing) {
			client_free(c);
			return;
		}
		loop_mod_fd(c->fd, EPOLLIN);
	} else {
		/* Compact now and then so the backlog is what is unsent. */
		if (c->out_off > 64 * 1024) {
			memmove(c->out.p, c->out.p + c->out_off, c->out.len - c->out_off);
			c->out.len -= c->out_off;
			c->out_off = 0;
		}
		loop_mod_fd(c->fd, EPOLLIN | EPOLLOUT);
	}
}

static void client_request(struct client *c, const char *line, size_t len)
{
	bool text = false, ts = false;
	struct nlh_filter f = {};
	int r;

	r = ctl_request(line, len, c->root, c->member, ops, &c->out, &f, &text, &ts);
	sbuf_add(&c->out, "\n", 1);
	loop_timer_cancel(c->timeout);
	if (r == 1) {
		c->monitor = true;
		c->filter = f;
		c->text = text;
		c->timestamp = ts;
		if (ops && ops->want_changed)
			ops->want_changed();
	} else {
		if (strstr(c->out.p, "permission denied"))
			log_warn("control: pid %d uid %u: %s", c->pid, c->uid, c->out.p);
		c->closing = true;
	}
	client_flush(c);
}

static void client_cb(int fd, uint32_t events, void *data)
{
	struct client *c = data;

	if (events & EPOLLOUT) {
		client_flush(c);
		return;	/* c may be gone */
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n;
		char *nl;

		if (c->monitor || c->closing) {
			char drain[256];

			/* A monitor only listens; EOF or error ends it. */
			n = recv(fd, drain, sizeof(drain), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				client_free(c);
			return;
		}
		n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_free(c);
			return;
		}
		if (n < 0)
			return;
		c->in_len += n;
		nl = memchr(c->in, '\n', c->in_len);
		if (nl) {
			client_request(c, c->in, nl - c->in);
			return;
		}
		if (c->in_len == sizeof(c->in)) {
			reply_error(&c->out, "request too long");
			sbuf_add(&c->out, "\n", 1);
			log_warn("control: pid %d: request over %d bytes, closing", c->pid, CTL_REQUEST_MAX);
			c->closing = true;
			client_flush(c);
		}
	}
}

static void client_timeout(void *data)
{
	struct client *c = data;

	if (c->ended) {
		log_debug("control: monitor pid %d did not read its last line within %.0f s, closing",
			  c->pid, CTL_END_LINGER);
		client_free(c);
		return;
	}
	log_warn("control: pid %d sent no request within %.0f s, closing", c->pid, CTL_REQUEST_TIMEOUT);
	client_free(c);
}

/* Supplementary groups of the peer process, from /proc: no NSS lookups. */
static bool peer_in_group(pid_t pid, gid_t primary, gid_t gid)
{
	char path[64], line[4096];
	bool found = primary == gid;
	FILE *f;

	if (found || gid == (gid_t)-1)
		return found;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (g == gid)
				found = true;
		}
		break;
	}
	fclose(f);
	return found;
}

static void accept_resume(void *data)
{
	loop_mod_fd(listen_fd, EPOLLIN);
}

/*
 * Out of fds (or memory): the pending connection stays readable, and a
 * level-triggered loop would spin on accept4.  The reserve fd makes room
 * to take the client at the head of the queue and close it, so it hears
 * at once rather than waiting on fds that may never come; then the
 * socket is not watched for a while, longer each time in a row.
 */
static void accept_pause(int err)
{
	int fd;

	if (!fd_shortage)
		log_warn("control: accept: %s; turning clients away until descriptors free up", strerror(err));
	fd_shortage = true;
	if (reserve_fd >= 0) {
		close(reserve_fd);
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			turned_away++;
		}
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	accept_backoff = accept_backoff ? accept_backoff * 2 : CTL_ACCEPT_BACKOFF_MIN;
	if (accept_backoff > CTL_ACCEPT_BACKOFF_MAX)
		accept_backoff = CTL_ACCEPT_BACKOFF_MAX;
	loop_mod_fd(listen_fd, 0);
	loop_timer_arm(accept_timer, accept_backoff);
}

static void listen_cb(int fd, uint32_t events, void *data)
{
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct client *c;

		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				accept_pause(errno);
			} else if (errno == ECONNABORTED || errno == EINTR) {
				continue;
			} else if (errno == EAGAIN && fd_shortage) {
				/* Everyone waiting got in: the shortage is over. */
				log_info("control: accepting clients again (%u turned away)", turned_away);
				fd_shortage = false;
				turned_away = 0;
			}
			return;
		}
		accept_backoff = 0;
		if (reserve_fd < 0)
			reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || !(c = calloc(1, sizeof(*c)))) {
			close(cfd);
			continue;
		}
		c->fd = cfd;
		c->pid = cred.pid;
		c->uid = cred.uid;
		/* A peer running as the daemon's own user is as trusted as the daemon. */
		c->root = cred.uid == 0 || cred.uid == geteuid();
		c->member = peer_in_group(cred.pid, cred.gid, nlhook_gid);
		c->timeout = loop_timer_new(client_timeout, c);
		if (!c->timeout || loop_add_fd(cfd, EPOLLIN, client_cb, c) < 0) {
			loop_timer_free(c->timeout);
			close(cfd);
			free(c);
			continue;
		}
		loop_timer_arm(c->timeout, CTL_REQUEST_TIMEOUT);
		c->next = clients;
		clients = c;
	}
}

/*
 * The nlhook group from /etc/group itself: getgrnam() would dlopen the NSS
 * modules into a daemon that wants to stay small, for a system group that
 * lives in /etc/group anyway.
 */
static gid_t nlhook_group(void)
{
	FILE *f = fopen("/etc/group", "re");
	struct group *g;
	gid_t gid = (gid_t)-1;

	if (!f)
		return gid;
	while ((g = fgetgrent(f)))
		if (!strcmp(g->gr_name, "nlhook")) {
			gid = g->gr_gid;
			break;
		}
	fclose(f);
	return gid;
}

/* The directories above path, as mkdir -p makes them. */
static void mkdir_parents(const char *path)
{
	char *dir = strdup(path);

	if (!dir)
		return;
	for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	free(dir);
}

/*
 * What is at path may go only if it is a socket nobody listens on: the
 * abstract lock covers this namespace only, and a daemon in another one
 * given the same path must not take a live daemon's socket.
 */
static int clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Refused: nobody listens.  Connected, or a full queue (EAGAIN): somebody does. */
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
	close(fd);
	if (r != -ECONNREFUSED)
		return r == 0 || r == -EAGAIN ? -EADDRINUSE : r;
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	log_info("control: replaced the stale socket %s", sa->sun_path);
	return 0;
}

int ctl_start(const char *path, const struct ctl_ops *o)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool bound = false;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	mkdir_parents(path);
	r = clear_stale(&sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto fail;
	}
	bound = true;
	if (stat(path, &listen_st) < 0 || listen(fd, 16) < 0) {
		r = -errno;
		goto fail;
	}
	nlhook_gid = nlhook_group();
	if (nlhook_gid != (gid_t)-1 && chown(path, 0, nlhook_gid) < 0)
		log_warn("control: chown %s: %m", path);
	if (chmod(path, 0660) < 0) {
		r = -errno;
		goto fail;
	}
	accept_timer = loop_timer_new(accept_resume, NULL);
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	listen_path = strdup(path);
	if (!accept_timer || reserve_fd < 0 || !listen_path) {
		r = -ENOMEM;
		goto fail;
	}
	r = loop_add_fd(fd, EPOLLIN, listen_cb, NULL);
	if (r < 0)
		goto fail;
	listen_fd = fd;
	ops = o;
	return 0;
fail:
	if (bound)
		unlink(path);
	close(fd);
	loop_timer_free(accept_timer);
	accept_timer = NULL;
	if (reserve_fd >= 0)
		close(reserve_fd);
	reserve_fd = -1;
	free(listen_path);
	listen_path = NULL;
	return r;
}

/*
 * End a monitor with a control line: the line being sent goes out whole,
 * what is queued after it is discarded, then the reply that says why.  The
 * client reads whole events, then the reason; the socket closes once that
 * is written, or after CTL_END_LINGER.
 */
static void monitor_end(struct client *c, const char *msg, bool dropped)
{
	struct sbuf tail = {};
	size_t keep = c->out_off;

	if (keep > 0 && c->out.p[keep - 1] != '\n') {
		char *nl = memchr(c->out.p + keep, '\n', c->out.len - keep);

		keep = nl ? (size_t)(nl - c->out.p) + 1 : c->out.len;
	}
	/* A fresh buffer: the backlog's memory goes now, not at close. */
	if (keep > c->out_off)
		sbuf_add(&tail, c->out.p + c->out_off, keep - c->out_off);
	reply_error_ext(&tail, msg, dropped ? ",\"dropped\":true" : "");
	sbuf_add(&tail, "\n", 1);
	sbuf_free(&c->out);
	c->out = tail;
	c->out_off = 0;
	c->ended = c->closing = true;
	loop_timer_arm(c->timeout, CTL_END_LINGER);
	client_flush(c);
}

void ctl_stop(void)
{
	struct client *c, *next;

	for (c = clients; c; c = next) {
		next = c->next;
		if (c->monitor && !c->ended)
			monitor_end(c, "nlhookd is stopping", false);
	}
	while (clients)
		client_free(clients);
	if (listen_fd >= 0) {
		loop_del_fd(listen_fd);
		close(listen_fd);
		listen_fd = -1;
	}
	loop_timer_free(accept_timer);
	accept_timer = NULL;
	accept_backoff = 0;
	fd_shortage = false;
	turned_away = 0;
	if (reserve_fd >= 0)
		close(reserve_fd);
	reserve_fd = -1;
	if (listen_path) {
		struct stat st;

		/* Another daemon may have replaced it since (its own, now). */
		if (lstat(listen_path, &st) == 0 && st.st_dev == listen_st.st_dev && st.st_ino == listen_st.st_ino)
			unlink(listen_path);
		free(listen_path);
		listen_path = NULL;
	}
}

void ctl_dispatch(const struct nlh_event *ev)
{
	struct client *c = clients, *next;

	for (; c; c = next) {
		char buf[16384], msg[128];
		size_t behind;
		int n;

		next = c->next;
		if (!c->monitor || c->ended || !nlh_filter_match(&c->filter, ev))
			continue;
		behind = c->out.len - c->out_off;
		if (behind > CTL_BACKLOG_MAX) {
			monitor_drops++;
			log_warn("control: monitor pid %d fell %zu bytes behind (limit %d), dropping it", c->pid,
				 behind, CTL_BACKLOG_MAX);
			snprintf(msg, sizeof(msg), "dropped: fell %zu bytes behind (limit %d)", behind, CTL_BACKLOG_MAX);
			monitor_end(c, msg, true);
			continue;
		}
		n = c->text ? nlh_monitor_text(ev, c->timestamp, c->filter.all_netns, buf, sizeof(buf)) :
			      nlh_event_json(ev, buf, sizeof(buf));
		if (n < 0 && n != -ENOSPC)
			continue;
		/* One event, one line: the client tells control lines by their start. */
		for (char *p = buf; (p = strchr(p, '\n'));)
			*p++ = ' ';
		sbuf_puts(&c->out, buf);
		sbuf_add(&c->out, "\n", 1);
		client_flush(c);
	}
}

void ctl_want(const char *netns, struct nlh_want *want)
{
	for (struct client *c = clients; c; c = c->next)
		if (c->monitor && (!netns || c->filter.all_netns))
			nlh_filter_want(&c->filter, want);
}

unsigned int ctl_monitors(void)
{
	unsigned int n = 0;

	for (struct client *c = clients; c; c = c->next)
		n += c->monitor && !c->ended;
	return n;
}

uint64_t ctl_monitor_drops(void)
{
	return monitor_drops;
}
