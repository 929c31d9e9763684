/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mosquitto.h>

#include "mqtt-dl.h"

#include "core/event.h"
#include "core/json.h"
#include "core/log.h"
#include "core/loop.h"
#include "mqtt.h"

/* A connection that lasted this long was not a flap: the next retry starts from the shortest delay. */
#define MQTT_STABLE 10.0
/* Queue drops are logged the first time, then at most this often. */
#define MQTT_DROP_LOG_INTERVAL 10.0

enum mqtt_state {
	MQTT_DISCONNECTED,	/* waiting for the next attempt */
	MQTT_CONNECTING,	/* the thread resolves and connects, then the loop waits for CONNACK */
	MQTT_CONNECTED,
};

static const char *const state_names[] = {
	[MQTT_DISCONNECTED] = "disconnected",
	[MQTT_CONNECTING] = "connecting",
	[MQTT_CONNECTED] = "connected",
};

struct mqtt_msg {
	struct mqtt_msg *next;
	int mid;		/* in flight: libmosquitto's message id */
	int qos;
	bool retain;
	size_t size;		/* what it counts against MQTT_QUEUE_BYTES */
	size_t len;
	const char *payload;
	char topic[];		/* topic, NUL, payload */
};

struct mqtt_list {
	struct mqtt_msg *head, *tail;
	size_t n;
};

struct mqtt {
	struct mosquitto *mosq;
	char *broker;		/* mqtt://[user@]host:port, for logs and status */
	char *host;
	int port;
	bool tls;
	char *prefix;
	char *status_topic;
	size_t queue_max;

	enum mqtt_state state;
	double since;		/* when the state was entered */
	int fd;			/* the client's socket while the loop watches it, or -1 */
	uint32_t fd_events;
	bool tcp_up;		/* the socket has been writable */
	struct loop_timer *timer;	/* by state: the retry, CONNACK's deadline, the keepalive */
	double backoff;
	double last_in, last_out;	/* traffic as the loop saw it, for the keepalive */

	/* The connect thread.  The loop leaves mosq alone while it runs. */
	int efd;
	pthread_t thread;
	bool thread_running;
	bool abandoned;		/* stopped while it ran: it keeps everything */
	int attempt_rc;
	int attempt_errno;

	/* Set by libmosquitto's callbacks, looked at once its call returns. */
	bool got_connack;
	int connack;
	bool lost;
	int lost_rc;
	int lost_errno;
	char lib_err[256];	/* its first error message since the attempt started */

	/* Waiting in order; then in flight (QoS 1, until the PUBACK). */
	struct mqtt_list waiting, flight;
	size_t bytes;

	uint64_t published, dropped, connects, failures;
	double drop_logged;
	char last_error[256];
	char logged_error[256];	/* failures are logged when the reason changes */
	bool stopping;
};

static void io_cb(int fd, uint32_t events, void *data);
static void feed(struct mqtt *m);

static void set_state(struct mqtt *m, enum mqtt_state s)
{
	m->state = s;
	m->since = loop_now();
}

static void list_append(struct mqtt_list *l, struct mqtt_msg *msg)
{
	msg->next = NULL;
	if (l->tail)
		l->tail->next = msg;
	else
		l->head = msg;
	l->tail = msg;
	l->n++;
}

static struct mqtt_msg *list_pop(struct mqtt_list *l)
{
	struct mqtt_msg *msg = l->head;

	if (!msg)
		return NULL;
	l->head = msg->next;
	if (!l->head)
		l->tail = NULL;
	l->n--;
	msg->next = NULL;
	return msg;
}

static void msg_free(struct mqtt *m, struct mqtt_msg *msg)
{
	m->bytes -= msg->size;
	free(msg);
}

static size_t queued(const struct mqtt *m)
{
	return m->waiting.n + m->flight.n;
}

/* libmosquitto's callbacks: they note what happened, the loop acts once the call returns. */

static void on_connect(struct mosquitto *mosq, void *data, int rc)
{
	struct mqtt *m = data;

	m->got_connack = true;
	m->connack = rc;
}

static void on_disconnect(struct mosquitto *mosq, void *data, int rc)
{
	struct mqtt *m = data;

	m->lost_errno = errno;
	m->lost = true;
	m->lost_rc = rc;
}

static void on_publish(struct mosquitto *mosq, void *data, int mid)
{
	struct mqtt *m = data;
	struct mqtt_msg *prev = NULL;

	/* PUBACKs come in order, so this is the head but for a resent message. */
	for (struct mqtt_msg *msg = m->flight.head; msg; prev = msg, msg = msg->next) {
		if (msg->mid != mid)
			continue;
		if (prev)
			prev->next = msg->next;
		else
			m->flight.head = msg->next;
		if (m->flight.tail == msg)
			m->flight.tail = prev;
		m->flight.n--;
		m->published++;
		msg_free(m, msg);
		return;
	}
}

/* Also called on the connect thread: then it only records. */
static void on_log(struct mosquitto *mosq, void *data, int level, const char *str)
{
	struct mqtt *m = data;

	if ((level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) && !m->lib_err[0])
		snprintf(m->lib_err, sizeof(m->lib_err), "%s", str);
	if (!m->thread_running)
		log_debug("mqtt: %s", str);
}

/* An encrypted --mqtt-key would make OpenSSL ask on the terminal: say there is no passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *data)
{
	return 0;
}

/* Why an attempt or a connection ended, from libmosquitto's code and errno. */
static void describe(const struct mqtt *m, int rc, int err, char *buf, size_t size)
{
	switch (rc) {
	case MOSQ_ERR_EAI:
		snprintf(buf, size, "cannot resolve %s: %s", m->host, gai_strerror(err));
		return;
	case MOSQ_ERR_ERRNO:
		if (m->lib_err[0])
			break;
		snprintf(buf, size, "%s", strerror(err));
		return;
	case MOSQ_ERR_CONN_LOST:
		snprintf(buf, size, "the broker closed the connection");
		return;
	case MOSQ_ERR_KEEPALIVE:
		snprintf(buf, size, "no answer to a keepalive ping in %d s", MQTT_KEEPALIVE);
		return;
	case MOSQ_ERR_CONN_REFUSED:
		snprintf(buf, size, "the broker refused the connection: %s", sym_mosquitto_connack_string(m->connack));
		return;
	default:
		break;
	}
	snprintf(buf, size, "%s", m->lib_err[0] ? m->lib_err : sym_mosquitto_strerror(rc));
}

/* The loop stops watching the socket; one libmosquitto still holds (we gave up on it) goes quiet now. */
static void unwatch(struct mqtt *m)
{
	loop_timer_cancel(m->timer);
	if (m->fd < 0)
		return;
	loop_del_fd(m->fd);
	if (sym_mosquitto_socket(m->mosq) == m->fd)
		shutdown(m->fd, SHUT_RDWR);
	m->fd = -1;
	m->fd_events = 0;
}

static void retry_later(struct mqtt *m)
{
	set_state(m, MQTT_DISCONNECTED);
	loop_timer_arm(m->timer, m->backoff);
	m->backoff = m->backoff * 2 > MQTT_BACKOFF_MAX ? MQTT_BACKOFF_MAX : m->backoff * 2;
}

/* The end of an attempt or of a connection: retry after the backoff. */
static void closed(struct mqtt *m, const char *why)
{
	bool was_connected = m->state == MQTT_CONNECTED;
	double lasted = loop_now() - m->since;

	unwatch(m);
	if (m->stopping) {
		set_state(m, MQTT_DISCONNECTED);
		return;
	}
	snprintf(m->last_error, sizeof(m->last_error), "%s", why);
	if (was_connected) {
		log_warn("mqtt: lost the connection to %s: %s; reconnecting", m->broker, why);
		if (lasted >= MQTT_STABLE)
			m->backoff = MQTT_BACKOFF_MIN;
		m->logged_error[0] = '\0';
	} else {
		m->failures++;
		/* A broker away for hours would fill the log: once per reason. */
		if (strcmp(m->logged_error, why)) {
			log_warn("mqtt: cannot connect to %s: %s; retrying every %g s at most, %zu messages queued",
				 m->broker, why, MQTT_BACKOFF_MAX, queued(m));
			snprintf(m->logged_error, sizeof(m->logged_error), "%s", why);
		} else {
			log_debug("mqtt: cannot connect to %s: %s", m->broker, why);
		}
	}
	retry_later(m);
}

static void sync_events(struct mqtt *m)
{
	uint32_t ev = EPOLLIN;

	if (m->fd < 0)
		return;
	/*
	 * During a TLS handshake libmosquitto keeps saying it wants to write
	 * even when OpenSSL waits for the server: once the TCP connect is
	 * done, readability alone moves the handshake on.
	 */
	if (sym_mosquitto_want_write(m->mosq) && !(m->tls && m->state == MQTT_CONNECTING && m->tcp_up))
		ev |= EPOLLOUT;
	if (ev != m->fd_events && loop_mod_fd(m->fd, ev) == 0)
		m->fd_events = ev;
}

static void connected(struct mqtt *m)
{
	int rc;

	set_state(m, MQTT_CONNECTED);
	m->connects++;
	m->lib_err[0] = '\0';
	m->logged_error[0] = '\0';
	log_info("mqtt: connected to %s%s, %zu messages queued", m->broker, m->connects > 1 ? " again" : "",
		 queued(m));
	/* Ahead of the queue: whoever reads PREFIX/status learns first that we are back. */
	rc = sym_mosquitto_publish(m->mosq, NULL, m->status_topic, 6, "online", 1, true);
	if (rc != MOSQ_ERR_SUCCESS)
		log_debug("mqtt: %s: %s", m->status_topic, sym_mosquitto_strerror(rc));
	m->last_in = m->last_out = loop_now();
	loop_timer_arm(m->timer, MQTT_KEEPALIVE);
}

/* After every call into libmosquitto from the loop: act on what its callbacks noted. */
static void after_io(struct mqtt *m, int rc)
{
	bool gone = m->fd >= 0 && sym_mosquitto_socket(m->mosq) != m->fd;
	char why[320];

	if (m->got_connack) {
		m->got_connack = false;
		if (m->connack == 0 && !m->lost && !gone)
			connected(m);
		else if (m->connack)
			rc = MOSQ_ERR_CONN_REFUSED;
	}
	if (gone || m->lost) {
		if (m->lost && rc != MOSQ_ERR_CONN_REFUSED)
			describe(m, m->lost_rc, m->lost_errno, why, sizeof(why));
		else
			describe(m, rc, errno, why, sizeof(why));
		m->lost = false;
		closed(m, why);
		return;
	}
	if (m->state == MQTT_CONNECTED)
		feed(m);
	sync_events(m);
}

static void io_cb(int fd, uint32_t events, void *data)
{
	struct mqtt *m = data;
	double now = loop_now();
	int rc;

	if (events & EPOLLOUT)
		m->tcp_up = true;
	if (events & EPOLLIN)
		m->last_in = now;
	/* Before CONNACK an error or hangup ends the attempt; libmosquitto would not always notice. */
	if (m->state == MQTT_CONNECTING && (events & (EPOLLERR | EPOLLHUP))) {
		socklen_t l = sizeof(int);
		int e = 0;

		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
		closed(m, e ? strerror(e) : "the broker closed the connection");
		return;
	}
	/* Reading also moves a TLS handshake on. */
	rc = sym_mosquitto_loop_read(m->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && sym_mosquitto_socket(m->mosq) == m->fd && sym_mosquitto_want_write(m->mosq)) {
		rc = sym_mosquitto_loop_write(m->mosq, 1);
		m->last_out = now;
	}
	/* A hangup libmosquitto did not act on would wake the loop forever. */
	if ((events & (EPOLLERR | EPOLLHUP)) && sym_mosquitto_socket(m->mosq) == m->fd && !m->lost) {
		closed(m, "the connection broke");
		return;
	}
	after_io(m, rc);
}

/* The connect thread: name resolution and connect() may block, the loop must not. */
static void *connect_thread(void *data)
{
	struct mqtt *m = data;
	uint64_t one = 1;

	m->attempt_rc = sym_mosquitto_connect_async(m->mosq, m->host, m->port, MQTT_KEEPALIVE);
	m->attempt_errno = errno;
	if (write(m->efd, &one, sizeof(one)) < 0)
		abort();	/* an eventfd write of 1 cannot fail: the loop would wait forever */
	return NULL;
}

static void attempt_start(struct mqtt *m)
{
	sigset_t all, old;
	int r;

	m->lib_err[0] = '\0';
	m->got_connack = m->lost = false;
	m->tcp_up = false;
	set_state(m, MQTT_CONNECTING);
	/* Signals stay with the main thread: signalfd and the stuck-rule alarm count on it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	m->thread_running = true;
	r = pthread_create(&m->thread, NULL, connect_thread, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		m->thread_running = false;
		closed(m, strerror(r));
	}
}

static void attempt_done(int fd, uint32_t events, void *data)
{
	struct mqtt *m = data;
	char why[320];
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 || !m->thread_running)
		return;
	pthread_join(m->thread, NULL);
	m->thread_running = false;
	if (m->attempt_rc != MOSQ_ERR_SUCCESS || sym_mosquitto_socket(m->mosq) < 0) {
		describe(m, m->attempt_rc ?: MOSQ_ERR_NO_CONN, m->attempt_errno, why, sizeof(why));
		closed(m, why);
		return;
	}
	m->fd = sym_mosquitto_socket(m->mosq);
	/* libmosquitto's socket() has no SOCK_CLOEXEC: programs the rules run must not inherit it. */
	fcntl(m->fd, F_SETFD, FD_CLOEXEC);
	if (loop_add_fd(m->fd, EPOLLIN, io_cb, m) < 0) {
		m->fd = -1;
		closed(m, "cannot watch the socket");
		return;
	}
	m->fd_events = EPOLLIN;
	loop_timer_arm(m->timer, MQTT_CONNECT_TIMEOUT);
	sync_events(m);
}

static void timer_cb(void *data)
{
	struct mqtt *m = data;
	double due, now = loop_now();
	char why[64];
	int rc;

	switch (m->state) {
	case MQTT_DISCONNECTED:
		attempt_start(m);
		return;
	case MQTT_CONNECTING:
		snprintf(why, sizeof(why), "no answer from the broker in %d s", MQTT_CONNECT_TIMEOUT);
		closed(m, why);
		return;
	case MQTT_CONNECTED:
		/* libmosquitto pings once either direction has been quiet for the keepalive. */
		due = (m->last_in < m->last_out ? m->last_in : m->last_out) + MQTT_KEEPALIVE;
		if (now < due) {
			loop_timer_arm(m->timer, due - now);
			return;
		}
		rc = sym_mosquitto_loop_misc(m->mosq);
		m->last_in = m->last_out = now;
		after_io(m, rc);
		if (m->state == MQTT_CONNECTED)
			loop_timer_arm(m->timer, MQTT_KEEPALIVE);
		return;
	}
}

/* Hand waiting messages to libmosquitto, as many as the window takes. */
static void feed(struct mqtt *m)
{
	while (m->waiting.head && (!m->waiting.head->qos || m->flight.n < MQTT_WINDOW)) {
		struct mqtt_msg *msg = list_pop(&m->waiting);
		int mid = 0, rc;

		rc = sym_mosquitto_publish(m->mosq, &mid, msg->topic, msg->len, msg->payload, msg->qos, msg->retain);
		m->last_out = loop_now();
		switch (rc) {
		case MOSQ_ERR_SUCCESS:
		case MOSQ_ERR_NO_CONN:
		case MOSQ_ERR_CONN_LOST:
		case MOSQ_ERR_ERRNO:
			/* A QoS 1 message is libmosquitto's now, sent again on the next connection if need be. */
			if (msg->qos) {
				msg->mid = mid;
				list_append(&m->flight, msg);
			} else {
				m->published++;
				msg_free(m, msg);
			}
			continue;
		default:
			log_warn("mqtt: cannot publish to %s: %s; dropped", msg->topic, sym_mosquitto_strerror(rc));
			m->dropped++;
			msg_free(m, msg);
		}
	}
}

static void count_drops(struct mqtt *m, unsigned int n, const char *what)
{
	double now = loop_now();

	m->dropped += n;
	if (m->drop_logged && now - m->drop_logged < MQTT_DROP_LOG_INTERVAL)
		return;
	m->drop_logged = now;
	log_warn("mqtt: %s (the broker is %s, %zu messages queued); %llu dropped so far", what,
		 state_names[m->state], queued(m), (unsigned long long)m->dropped);
}

void mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos, bool retain)
{
	size_t tl = strlen(topic), size = sizeof(struct mqtt_msg) + tl + 1 + len;
	unsigned int dropped = 0;
	struct mqtt_msg *msg;

	if (size > MQTT_QUEUE_BYTES) {
		count_drops(m, 1, "a message larger than the queue was dropped");
		return;
	}
	while (m->waiting.head && (queued(m) >= m->queue_max || m->bytes + size > MQTT_QUEUE_BYTES)) {
		msg_free(m, list_pop(&m->waiting));
		dropped++;
	}
	/* What is in flight cannot be taken back: then the new message is the one dropped. */
	if (queued(m) >= m->queue_max || m->bytes + size > MQTT_QUEUE_BYTES) {
		count_drops(m, dropped + 1, "the queue is full of messages in flight: dropping new ones");
		return;
	}
	msg = malloc(size);
	if (!msg) {
		count_drops(m, dropped + 1, "out of memory: a message was dropped");
		return;
	}
	msg->qos = qos;
	msg->retain = retain;
	msg->mid = 0;
	msg->size = size;
	msg->len = len;
	memcpy(msg->topic, topic, tl + 1);
	msg->payload = msg->topic + tl + 1;
	if (len)
		memcpy(msg->topic + tl + 1, payload, len);
	m->bytes += size;
	list_append(&m->waiting, msg);
	if (dropped)
		count_drops(m, dropped, "the queue is full: dropping the oldest messages");
}

void mqtt_flush(struct mqtt *m)
{
	if (!m || m->state != MQTT_CONNECTED || !m->waiting.head)
		return;
	feed(m);
	sync_events(m);
}

void mqtt_evlog_write(const char *line, size_t len, void *data)
{
	struct mqtt *m = data;
	char type[64], *topic;

	/* Only event types are topic levels: a rule's own "type" cannot make topics up. */
	if (!evlog_line_type(line, len, type, sizeof(type)) || nlh_event_type_from_name(type) < 0)
		strcpy(type, "emit");
	if (asprintf(&topic, "%s/events/%s", m->prefix, type) < 0) {
		count_drops(m, 1, "out of memory: a message was dropped");
		return;
	}
	mqtt_publish(m, topic, line, len, 1, false);
	free(topic);
}

int mqtt_start(struct mqtt *m)
{
	int r;

	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->efd < 0)
		return -errno;
	r = loop_add_fd(m->efd, EPOLLIN, attempt_done, m);
	if (r < 0)
		return r;
	m->timer = loop_timer_new(timer_cb, m);
	if (!m->timer)
		return -ENOMEM;
	attempt_start(m);
	return 0;
}

/* One turn of the stop's own little loop; false once the deadline has passed. */
static bool stop_turn(struct mqtt *m, double deadline)
{
	struct pollfd p = { .fd = m->fd, .events = POLLIN };
	double left = deadline - loop_now();
	uint32_t ev = 0;

	if (left <= 0 || m->fd < 0)
		return false;
	if (m->fd_events & EPOLLOUT)
		p.events |= POLLOUT;
	if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
		return errno == EINTR || loop_now() < deadline;
	ev |= p.revents & POLLIN ? EPOLLIN : 0;
	ev |= p.revents & POLLOUT ? EPOLLOUT : 0;
	ev |= p.revents & POLLERR ? EPOLLERR : 0;
	ev |= p.revents & POLLHUP ? EPOLLHUP : 0;
	io_cb(m->fd, ev, m);
	return true;
}

void mqtt_stop(struct mqtt *m)
{
	double deadline = loop_now() + MQTT_STOP_WAIT;
	bool was_connected = m && m->state == MQTT_CONNECTED;

	if (!m)
		return;
	m->stopping = true;
	loop_timer_cancel(m->timer);
	if (m->thread_running) {
		/* A resolver or connect() that takes its time is not worth delaying the exit for. */
		pthread_detach(m->thread);
		m->abandoned = true;
	} else if (m->state == MQTT_CONNECTED) {
		mqtt_publish(m, m->status_topic, "offline", 7, 1, true);
		feed(m);
		sync_events(m);
		while (m->state == MQTT_CONNECTED && queued(m) && stop_turn(m, deadline))
			;
		/*
		 * DISCONNECT discards the will: only once "offline" is stored.
		 * Otherwise the connection just closes and the will says it.
		 */
		if (m->state == MQTT_CONNECTED && !queued(m)) {
			sym_mosquitto_disconnect(m->mosq);
			after_io(m, MOSQ_ERR_SUCCESS);
			while (m->fd >= 0 && stop_turn(m, deadline))
				;
		}
		unwatch(m);
	}
	if (queued(m))
		log_warn("mqtt: stopping with %zu messages the broker has not acknowledged", queued(m));
	else if (was_connected)
		log_info("mqtt: disconnected from %s", m->broker);
}

void mqtt_free(struct mqtt *m)
{
	struct mqtt_msg *msg;

	/* The connect thread still uses it all, and the process is about to end. */
	if (!m || m->abandoned)
		return;
	unwatch(m);
	loop_timer_free(m->timer);
	if (m->efd >= 0) {
		loop_del_fd(m->efd);
		close(m->efd);
	}
	sym_mosquitto_destroy(m->mosq);
	sym_mosquitto_lib_cleanup();
	while ((msg = list_pop(&m->waiting)))
		msg_free(m, msg);
	while ((msg = list_pop(&m->flight)))
		msg_free(m, msg);
	free(m->broker);
	free(m->host);
	free(m->prefix);
	free(m->status_topic);
	free(m);
}

void mqtt_status(const struct mqtt *m, struct sbuf *out)
{
	if (!m)
		return;
	sbuf_puts(out, ",\"mqtt\":{\"broker\":");
	sbuf_json_str(out, m->broker, strlen(m->broker));
	sbuf_puts(out, ",\"prefix\":");
	sbuf_json_str(out, m->prefix, strlen(m->prefix));
	sbuf_printf(out, ",\"state\":\"%s\",\"since\":%.3f,\"queued\":%zu,\"in_flight\":%zu,\"queue_max\":%zu,"
		    "\"dropped\":%llu,\"published\":%llu,\"connects\":%llu,\"reconnects\":%llu,\"failures\":%llu,"
		    "\"keepalive\":%d", state_names[m->state], loop_now() - m->since, queued(m), m->flight.n,
		    m->queue_max, (unsigned long long)m->dropped, (unsigned long long)m->published,
		    (unsigned long long)m->connects, (unsigned long long)(m->connects ? m->connects - 1 : 0),
		    (unsigned long long)m->failures, MQTT_KEEPALIVE);
	if (m->last_error[0]) {
		sbuf_puts(out, ",\"last_error\":");
		sbuf_json_str(out, m->last_error, strlen(m->last_error));
	}
	sbuf_puts(out, "}");
}

static int client_setup(struct mqtt *m, const struct mqtt_config *cfg, char *err, size_t errlen)
{
	const struct mqtt_url *u = cfg->url;
	int rc;

	sym_mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	sym_mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	sym_mosquitto_max_inflight_messages_set(m->mosq, MQTT_WINDOW);
	sym_mosquitto_connect_callback_set(m->mosq, on_connect);
	sym_mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
	sym_mosquitto_publish_callback_set(m->mosq, on_publish);
	sym_mosquitto_log_callback_set(m->mosq, on_log);
	rc = sym_mosquitto_will_set(m->mosq, m->status_topic, 7, "offline", 1, true);
	if (rc == MOSQ_ERR_SUCCESS && u->user)
		rc = sym_mosquitto_username_pw_set(m->mosq, u->user, cfg->password);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(err, errlen, "%s", sym_mosquitto_strerror(rc));
		return -EINVAL;
	}
	if (!m->tls)
		return 0;
	/* Without --mqtt-ca the system's CAs vouch for the broker. */
	if (!cfg->ca)
		sym_mosquitto_int_option(m->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
	if (cfg->ca || cfg->cert) {
		rc = sym_mosquitto_tls_set(m->mosq, cfg->ca, cfg->ca ? NULL : "/etc/ssl/certs", cfg->cert, cfg->key,
				       no_passphrase);
		if (rc != MOSQ_ERR_SUCCESS) {
			snprintf(err, errlen, "TLS files: %s", sym_mosquitto_strerror(rc));
			return -EINVAL;
		}
	}
	return 0;
}

int mqtt_new(struct mqtt **ret, const struct mqtt_config *cfg, char *err, size_t errlen)
{
	const struct mqtt_url *u = cfg->url;
	bool v6 = strchr(u->host, ':');
	struct mqtt *m;
	char *id = NULL;
	int r;

	r = mqtt_dlopen(err, errlen);
	if (r < 0)
		return r;
	r = -ENOMEM;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	sym_mosquitto_lib_init();
	m->fd = m->efd = -1;
	m->backoff = MQTT_BACKOFF_MIN;
	m->port = u->port;
	m->tls = u->tls;
	m->queue_max = cfg->queue_max ?: MQTT_QUEUE_DEFAULT;
	m->since = loop_now();
	m->host = strdup(u->host);
	m->prefix = strdup(cfg->prefix);
	if (!m->host || !m->prefix)
		goto fail;
	if (asprintf(&m->broker, "%s://%s%s%s%s%s:%d", u->tls ? "mqtts" : "mqtt", u->user ?: "",
		     u->user ? "@" : "", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port) < 0) {
		m->broker = NULL;
		goto fail;
	}
	if (asprintf(&m->status_topic, "%s/status", m->prefix) < 0) {
		m->status_topic = NULL;
		goto fail;
	}
	if (asprintf(&id, "nlhookd/%s", m->prefix) < 0)
		goto fail;
	/* A clean session: what it needs again after a reconnection, the queue holds. */
	m->mosq = sym_mosquitto_new(id, true, m);
	free(id);
	if (!m->mosq)
		goto fail;
	r = client_setup(m, cfg, err, errlen);
	if (r < 0)
		goto fail;
	*ret = m;
	return 0;
fail:
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	mqtt_free(m);
	return r;
}
