/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "core/event.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/nlsock.h"
#include "core/source.h"
#include "core/watchdog.h"
#include "ctl/ctl.h"
#include "exec/exec.h"
#include "mqtt/mqtt.h"
#include "netns/netns.h"
#include "rtnl/opstate.h"
#include "rtnl/rtnl.h"
#include "rules/dispatch.h"
#include "rules/rules.h"


static struct {
	char **rules_dirs;
	size_t n_rules_dirs;
	const char *control;
	const char *event_log;
	bool rules_named;	/* --rules given: the dirs must exist */
	bool check;
	bool keep_going;
	bool all_netns;
	char **netns_dirs;
	size_t n_netns_dirs;
	const char *mqtt;		/* the broker URL as given */
	struct mqtt_url mqtt_url;
	const char *mqtt_ca;
	const char *mqtt_cert;
	const char *mqtt_key;
	const char *mqtt_password_file;
	unsigned long mqtt_queue;
	char **dispatch_dirs;
	size_t n_dispatch_dirs;
	bool dispatch_named;	/* --dispatch-dir given */
	char *dispatch_defaults;	/* the default dirs, split in place */
	char **nd_dirs;		/* --networkd-dispatcher */
	size_t n_nd_dirs;
} arg;

/* Where named namespaces live: ip netns's, Docker's; --netns-dir adds more. */
static char *default_netns_dirs[] = { "/run/netns", "/run/docker/netns" };

static struct rules_set *rules;
static struct dispatch *scripts;	/* the script dirs */
static struct dispatch_config scripts_cfg;
static char *stuck_path;
static char *control_default;	/* this namespace's, when --control is not given */
static bool want_dirty;
static double start_time;

/*
 * Events are dispatched one at a time.  Nothing should raise an event
 * from inside a dispatch; if something does, it waits here for the
 * outer one to finish instead of running under its feet.
 */
#define DEFERRED_MAX 64

static struct nlh_event *deferred[DEFERRED_MAX];
static unsigned int n_deferred;
static bool dispatching;

static struct nlh_nsreg *nsreg;	/* the namespaces watched and their sources */
static char *self_netns;		/* the name of ours, for nlhook.netns */
static struct mqtt *mqtt;	/* --mqtt */

static void dispatch(void *data, struct nlh_event *ev)
{
	if (dispatching) {
		struct nlh_event *copy = n_deferred < DEFERRED_MAX ? nlh_event_copy(ev) : NULL;

		log_err("%s raised during another dispatch: %s", nlh_event_type_name(ev->type),
			copy ? "deferred" : "dropped");
		if (copy)
			deferred[n_deferred++] = copy;
		return;
	}
	dispatching = true;
	if (rules)
		rules_set_dispatch(rules, ev);
	dispatch_event(scripts, ev);
	ctl_dispatch(ev);
	dispatching = false;
	for (unsigned int i = 0; i < n_deferred; i++) {
		struct nlh_event *d = deferred[i];

		deferred[i] = NULL;
		dispatch(NULL, d);
		free(d);
	}
	n_deferred = 0;
}

static void raise_self(enum nlh_event_type t)
{
	struct nlh_event ev;

	nlh_event_init(&ev, t);
	ev.self.rules = rules ? rules_set_count(rules) : 0;
	NLH_SET(&ev, SELF, rules);
	dispatch(NULL, &ev);
}

/* What a namespace's sources must deliver: the rules' and the monitors'. */
static void want_of(void *data, const char *netns, struct nlh_want *ret)
{
	rules_set_want(rules, netns, ret);
	dispatch_want(scripts, netns, ret);
	ctl_want(netns, ret);
}

static int netns_fd_of(const char *netns, void *data)
{
	struct nlh_ns *ns = nsreg ? nlh_nsreg_find(nsreg, netns) : NULL;

	if (self_netns && !strcmp(netns, self_netns))
		return nlsock_own_netns();
	return ns ? nlh_ns_fd(ns) : -1;
}

static void state_of(const char *netns, void *data, struct rules_state *ret)
{
	struct nlh_ns *ns = nsreg ? nlh_nsreg_find(nsreg, netns) : NULL;

	if (ns) {
		ret->rtnl = nlh_ns_rtnl(ns);
		ret->nl80211 = nlh_ns_nl80211(ns);
		ret->opstate = nlh_ns_opstate(ns);
	}
}

static const struct rtnl *own_state(void *data)
{
	return nsreg ? nlh_ns_rtnl(nlh_nsreg_own(nsreg)) : NULL;
}

static void report(const char *msg, void *data)
{
	struct sbuf *errs = data;

	log_err("%s", msg);
	if (errs) {
		if (errs->len)
			sbuf_puts(errs, ",");
		sbuf_json_str(errs, msg, strlen(msg));
	}
}

static unsigned int load_flags(void)
{
	return (arg.keep_going ? RULES_KEEP_GOING : 0) | (geteuid() == 0 ? RULES_CHECK_PERMS : 0) |
	       (arg.rules_named ? RULES_DIRS_NAMED : 0);
}

/*
 * systemd's notify protocol is one datagram on $NOTIFY_SOCKET; small
 * enough that linking libsystemd would buy nothing.
 */
static void sd_notify_msg(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	len = strlen(path);
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   offsetof(struct sockaddr_un, sun_path) + len) < 0)
		log_debug("sd_notify: %m");
	close(fd);
}

/*
 * Subscriptions change from the loop's idle step only: a monitor that
 * leaves in the middle of a dispatch, or a reload, marks them, and the
 * sources see the new set once nothing is on the stack.
 */
static void sources_update(void)
{
	want_dirty = true;
}

static void idle(void)
{
	watchdog_idle();
	if (want_dirty) {
		const char *src = NULL;

		want_dirty = false;
		if (nlh_nsreg_update(nsreg, &src) < 0)
			log_err("%s: cannot update subscriptions", src);
	}
	evlog_flush();
	mqtt_flush(mqtt);
}

/* Build the new set whole, then swap: a failed load keeps the old rules. */
static int reload(struct sbuf *errs)
{
	struct rules_set *rs;
	int r;

	sd_notify_msg("RELOADING=1");
	log_info("reloading rules");
	if (evlog_reopen() < 0)
		log_err("event log: cannot reopen: %m");
	/* Scripts are read at each event; which subdirectories there are, now. */
	dispatch_load(scripts);
	sources_update();
	r = rules_set_reload(&rs, rules, arg.rules_dirs, arg.n_rules_dirs, load_flags(), report, errs);
	if (r < 0) {
		log_err("reload failed, keeping the %zu rules running", rules_set_count(rules));
	} else {
		rules_set_free(rules);
		rules = rs;
		rules_stuck_forget();
		sources_update();
		log_info("loaded %zu rules", rules_set_count(rules));
		raise_self(NLH_EV_NLHOOK_RELOAD);
	}
	sd_notify_msg("READY=1");
	return r;
}

/* Routes are kept only while something needs them: then their counts and memory. */
static void status_routes(struct sbuf *out, const struct rtnl *rt)
{
	struct rtnl_routes_stats st;

	rtnl_routes_stats(rt, &st);
	sbuf_printf(out, ",\"routes\":%zu,\"routes_kept\":%s,\"routes_inet\":%zu,\"routes_inet6\":%zu,"
		    "\"routes_bytes\":%zu", st.inet + st.inet6, st.kept ? "true" : "false", st.inet, st.inet6,
		    st.bytes);
}

/*
 * A namespace's operational state, and whether it is online: known only
 * while its routes are kept (something wants net.* or route.* events, or
 * asked nlhook.routes()), null otherwise.
 */
static void status_net(struct sbuf *out, const struct nlh_ns *ns)
{
	const struct opstate *os = nlh_ns_opstate(ns);
	struct rtnl_routes_stats st;

	rtnl_routes_stats(nlh_ns_rtnl(ns), &st);
	sbuf_printf(out, ",\"net_state\":\"%s\",\"online\":%s", opstate_name(opstate_net(os)),
		    !st.kept ? "null" : opstate_online(os) ? "true" : "false");
}

/* Every watched namespace with its sources' counters. */
static void status_netns(struct sbuf *out)
{
	const struct nlh_ns *ns = NULL;
	bool first = true;

	sbuf_puts(out, ",\"netns\":[");
	while ((ns = nlh_nsreg_next(nsreg, ns))) {
		sbuf_puts(out, first ? "{\"name\":" : ",{\"name\":");
		first = false;
		if (nlh_ns_name(ns))
			sbuf_json_str(out, nlh_ns_name(ns), strlen(nlh_ns_name(ns)));
		else
			sbuf_puts(out, "null");
		sbuf_printf(out, ",\"nsid\":%d,\"links\":%zu", nlh_ns_nsid(ns),
			    rtnl_state_count(nlh_ns_rtnl(ns), NLH_CLASS_LINK));
		status_net(out, ns);
		status_routes(out, nlh_ns_rtnl(ns));
		sbuf_puts(out, ",\"sources\":[");
		for (size_t i = 0;; i++) {
			struct nlh_source_stats st;
			const char *name = nlh_ns_source_stats(ns, i, &st);

			if (!name)
				break;
			sbuf_printf(out, "%s{\"name\":\"%s\",\"events\":%llu,\"drops\":%llu,\"resyncs\":%llu,"
				    "\"rcvbuf\":%d}", i ? "," : "", name, (unsigned long long)st.events,
				    (unsigned long long)st.drops, (unsigned long long)st.resyncs, st.rcvbuf);
		}
		sbuf_puts(out, "]}");
	}
	sbuf_puts(out, "]");
}

static void status(struct sbuf *out)
{
	const struct nlh_ns *own_ns = nlh_nsreg_own(nsreg);
	const struct rtnl *own = nlh_ns_rtnl(own_ns);

	sbuf_printf(out, ",\"version\":\"%s\",\"pid\":%d,\"uptime\":%.3f,\"rules_count\":%zu",
		    NLH_VERSION, getpid(), loop_now() - start_time, rules_set_count(rules));
	/* The daemon's own namespace's operational state (net.state) and net.online. */
	status_net(out, own_ns);
	sbuf_puts(out, ",\"rules_dirs\":[");
	for (size_t i = 0; i < arg.n_rules_dirs; i++) {
		if (i)
			sbuf_puts(out, ",");
		sbuf_json_str(out, arg.rules_dirs[i], strlen(arg.rules_dirs[i]));
	}
	sbuf_puts(out, "],\"sources\":[");
	for (size_t i = 0;; i++) {
		struct nlh_source_stats st;
		const char *name = nlh_ns_source_stats(nlh_nsreg_own(nsreg), i, &st);

		if (!name)
			break;
		sbuf_printf(out, "%s{\"name\":\"%s\",\"events\":%llu,\"drops\":%llu,\"resyncs\":%llu,"
			    "\"errors\":%llu,\"rcvbuf\":%d}", i ? "," : "", name,
			    (unsigned long long)st.events, (unsigned long long)st.drops,
			    (unsigned long long)st.resyncs, (unsigned long long)st.errors, st.rcvbuf);
	}
	sbuf_printf(out, "],\"execs_running\":%u,\"monitors\":%u,\"monitor_drops\":%llu",
		    exec_running_total(), ctl_monitors(), (unsigned long long)ctl_monitor_drops());
	sbuf_printf(out, ",\"state\":{\"links\":%zu,\"addrs\":%zu,\"neighs\":%zu",
		    rtnl_state_count(own, NLH_CLASS_LINK), rtnl_state_count(own, NLH_CLASS_ADDR),
		    rtnl_state_count(own, NLH_CLASS_NEIGH));
	status_routes(out, own);
	sbuf_puts(out, "}");
	status_netns(out);
	mqtt_status(mqtt, out);
	rules_set_status(rules, out);
	dispatch_status(scripts, out);
}

static const struct ctl_ops ctl_ops = {
	.status = status,
	.reload = reload,
	.want_changed = sources_update,
};

static void signal_cb(int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("exiting on signal %u", si.ssi_signo);
			loop_quit(0);
			break;
		case SIGHUP:
			reload(NULL);
			break;
		case SIGUSR1:
			/* Log rotation: the event log file again, the rules untouched. */
			if (evlog_reopen() < 0)
				log_err("event log: cannot reopen: %m");
			else
				log_info("event log reopened");
			break;
		}
	}
}

/* systemd's watchdog (WatchdogSec=): the loop says it still turns. */
static struct loop_timer *watchdog_timer;
static double watchdog_period;

static void watchdog_ping(void *data)
{
	sd_notify_msg("WATCHDOG=1");
	loop_timer_arm(watchdog_timer, watchdog_period / 2);
}

/*
 * Limits for tests and the curious: NLHOOKD_LUA_BUDGET (instructions per
 * call, 0 for none) and NLHOOKD_STUCK_TIMEOUT (seconds before a call
 * stuck in C aborts the daemon; a fifth of it interrupts the call).
 */
static int limits_from_env(void)
{
	const char *b = getenv("NLHOOKD_LUA_BUDGET"), *t = getenv("NLHOOKD_STUCK_TIMEOUT");
	char *end;

	if (b) {
		errno = 0;
		rules_budget = strtoul(b, &end, 10);
		if (errno || end == b || *end) {
			log_err("NLHOOKD_LUA_BUDGET: '%s' is not a number of instructions", b);
			return -EINVAL;
		}
	}
	if (t) {
		double v = strtod(t, &end);

		if (end == t || *end || !(v >= 0.5 && v <= 86400)) {
			log_err("NLHOOKD_STUCK_TIMEOUT: '%s' is not a number of seconds from 0.5 to 86400", t);
			return -EINVAL;
		}
		rules_stuck_hard = v;
		rules_stuck_soft = v / 5;
	}
	return 0;
}

/*
 * One daemon per network namespace: abstract sockets belong to the netns,
 * so binding @nlhookd is the lock, and the kernel drops it when we die.
 */
static int single_instance(void)
{
	static const char name[] = "\0nlhookd";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t salen = offsetof(struct sockaddr_un, sun_path) + sizeof(name) - 1;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int fd, other;

	memcpy(sa.sun_path, name, sizeof(name) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, salen) == 0 && listen(fd, 1) == 0)
		return fd;
	close(fd);
	if (errno != EADDRINUSE)
		return -errno;
	other = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (other >= 0 && connect(other, (struct sockaddr *)&sa, salen) == 0 &&
	    getsockopt(other, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
		log_err("another nlhookd (pid %d) is running in this network namespace", cred.pid);
	else
		log_err("another nlhookd is running in this network namespace");
	if (other >= 0)
		close(other);
	return -EADDRINUSE;
}

static void instance_cb(int fd, uint32_t events, void *data)
{
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	/* Only there to tell a second instance our pid (SO_PEERCRED). */
	if (c >= 0)
		close(c);
}

static void control_error(const char *path, int r)
{
	if (r == -EADDRINUSE)
		log_err("control socket: another nlhookd listens on %s", path);
	else if (r == -EEXIST)
		log_err("control socket: %s exists and is not a socket", path);
	else
		log_err("control socket %s: %s", path, strerror(-r));
}

/*
 * A file holding a secret (the broker's password, the TLS key).  Run as
 * root, the daemon refuses one that others may access, as ssh refuses
 * open keys (the group may read it: root:nlhook 0640); otherwise it warns.
 */
static int secret_perms(const char *opt, const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode)) {
		log_err("%s %s: not a regular file", opt, path);
		return -EINVAL;
	}
	if (!(st->st_mode & S_IRWXO))
		return 0;
	if (geteuid() == 0) {
		log_err("%s %s: others have access to it (mode %04o), refusing it (chmod o-rwx)", opt, path,
			(unsigned int)(st->st_mode & 07777));
		return -EPERM;
	}
	log_warn("%s %s: others have access to it (mode %04o; chmod o-rwx)", opt, path,
		 (unsigned int)(st->st_mode & 07777));
	return 0;
}

/* The password is the file's first line, without its line end: at most 65535 bytes, as MQTT says. */
static int read_password(const char *path, char **ret)
{
	size_t size = 65535 + 3, len = 0;
	char *buf = NULL;
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		log_err("--mqtt-password-file %s: %m", path);
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		log_err("--mqtt-password-file %s: %m", path);
		goto out;
	}
	r = secret_perms("--mqtt-password-file", path, &st);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	buf = malloc(size);
	if (!buf)
		goto out;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			log_err("--mqtt-password-file %s: %m", path);
			goto out;
		}
		len += n;
	}
	n = len;
	for (len = 0; len < (size_t)n && buf[len] != '\n' && buf[len] != '\r'; len++)
		;
	r = -EINVAL;
	if (!len)
		log_err("--mqtt-password-file %s: the first line is empty", path);
	else if (len > 65535 || memchr(buf, '\0', len))
		log_err("--mqtt-password-file %s: the first line is longer than 65535 bytes or holds a NUL", path);
	else
		r = 0;
	buf[len] = '\0';
out:
	close(fd);
	if (r == 0) {
		*ret = buf;
	} else if (buf) {
		explicit_bzero(buf, size);
		free(buf);
	}
	return r;
}

static void publish(const char *topic, const void *payload, size_t len, int qos, bool retain, void *data)
{
	mqtt_publish(data, topic, payload, len, qos, retain);
}

/* A file libmosquitto reads at each connection: there now, or no start. */
static int tls_file(const char *opt, const char *path)
{
	struct stat st;

	if (!path)
		return 0;
	if (access(path, R_OK) < 0 || stat(path, &st) < 0) {
		log_err("%s %s: %m", opt, path);
		return -errno;
	}
	return strcmp(opt, "--mqtt-key") ? 0 : secret_perms(opt, path, &st);
}

/* The broker's client, not connected yet: 0, or the exit status. */
static int mqtt_setup(const char *prefix)
{
	struct mqtt_config cfg = {
		.url = &arg.mqtt_url,
		.prefix = prefix,
		.ca = arg.mqtt_ca,
		.cert = arg.mqtt_cert,
		.key = arg.mqtt_key,
		.queue_max = arg.mqtt_queue,
	};
	char *password = NULL, err[256] = "";
	int r;

	if (tls_file("--mqtt-ca", arg.mqtt_ca) < 0 || tls_file("--mqtt-cert", arg.mqtt_cert) < 0 ||
	    tls_file("--mqtt-key", arg.mqtt_key) < 0)
		return 1;
	if (arg.mqtt_password_file && read_password(arg.mqtt_password_file, &password) < 0)
		return 1;
	cfg.password = password;
	r = mqtt_new(&mqtt, &cfg, err, sizeof(err));
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	if (r == -EOPNOTSUPP) {
		log_err("--mqtt: this nlhookd was built without MQTT (meson -Dmqtt=enabled, libmosquitto)");
		return 1;
	}
	if (r < 0) {
		log_err("--mqtt %s: %s", arg.mqtt, err[0] ? err : strerror(-r));
		return 1;
	}
	rules_set_mqtt(prefix, publish, mqtt);
	return 0;
}

static void help(void)
{
	printf("Usage: nlhookd [OPTION]...\n"
	       "Run Lua rules on network events (rtnetlink, nl80211, nflog).\n\n"
	       "  -r, --rules DIR        rules directory (repeatable; default %s)\n"
	       "      --dispatch-dir DIR script directory, a subdirectory per event type\n"
	       "                         (repeatable; default %s)\n"
	       "      --networkd-dispatcher DIR\n"
	       "                         run networkd-dispatcher's DIR/STATE.d scripts\n"
	       "  -c, --control PATH     control socket (default %s in the initial network\n"
	       "                         namespace, .../netns/NAME.sock in the one named NAME)\n"
	       "      --all-netns        watch every network namespace, not only this one\n"
	       "      --netns-dir DIR    namespace files to watch besides /run/netns and\n"
	       "                         /run/docker/netns (repeatable; with --all-netns)\n"
	       "  -l, --log-level LEVEL  err, warn, info or debug (default info)\n"
	       "      --check            load the rules, report, exit 0 or 1\n"
	       "      --keep-going       start even if some rule files fail to load\n"
	       "      --rcvbuf BYTES     netlink receive buffer (default %d)\n"
	       "      --event-log FILE   where nlhook.emit writes JSON lines (default stdout);\n"
	       "                         'syslog': RFC 5424 messages to /dev/log instead;\n"
	       "                         'mqtt': to the --mqtt broker, on PREFIX/events/TYPE\n"
	       "      --mqtt URL         publish to an MQTT broker: mqtt://[USER@]HOST[:PORT][/PREFIX]\n"
	       "                         or mqtts:// (TLS); PREFIX defaults to nlhook/HOSTNAME\n"
	       "      --mqtt-ca FILE     CA certificates for mqtts:// (default: the system's)\n"
	       "      --mqtt-cert FILE   client certificate for mqtts://, with --mqtt-key FILE\n"
	       "      --mqtt-password-file FILE  the broker password: the file's first line\n"
	       "      --mqtt-queue N     messages kept while the broker is away (default %d)\n"
	       "  -V, --version          print the version\n"
	       "  -h, --help             this help\n",
	       NLH_RULES_DIRS, NLH_DISPATCH_DIRS, NLH_CONTROL_PATH, nlh_rcvbuf, MQTT_QUEUE_DEFAULT);
}

/* The MQTT options make sense together, or not at all: usage errors. */
static int mqtt_args(void)
{
	const char *needs = arg.mqtt_ca ? "--mqtt-ca" : arg.mqtt_cert ? "--mqtt-cert" : arg.mqtt_key ? "--mqtt-key" :
			    arg.mqtt_password_file ? "--mqtt-password-file" : arg.mqtt_queue ? "--mqtt-queue" : NULL;
	char err[256];

	if (arg.event_log && !strcmp(arg.event_log, "mqtt") && !arg.mqtt)
		needs = "--event-log mqtt";
	if (!arg.mqtt) {
		if (needs)
			fprintf(stderr, "nlhookd: %s: there is no broker (--mqtt URL)\n", needs);
		return needs ? -EINVAL : 0;
	}
	if (mqtt_url_parse(arg.mqtt, &arg.mqtt_url, err, sizeof(err)) < 0) {
		fprintf(stderr, "nlhookd: --mqtt: '%s': %s\n", arg.mqtt, err);
		return -EINVAL;
	}
	needs = arg.mqtt_ca ? "--mqtt-ca" : arg.mqtt_cert ? "--mqtt-cert" : arg.mqtt_key ? "--mqtt-key" : NULL;
	if (needs && !arg.mqtt_url.tls) {
		fprintf(stderr, "nlhookd: %s: the broker is not mqtts:// (TLS)\n", needs);
		return -EINVAL;
	}
	if (!arg.mqtt_cert != !arg.mqtt_key) {
		fprintf(stderr, "nlhookd: %s: needs %s too\n", arg.mqtt_cert ? "--mqtt-cert" : "--mqtt-key",
			arg.mqtt_cert ? "--mqtt-key" : "--mqtt-cert");
		return -EINVAL;
	}
	if (arg.mqtt_password_file && !arg.mqtt_url.user) {
		fprintf(stderr, "nlhookd: --mqtt-password-file: the URL names no user (mqtt://USER@HOST)\n");
		return -EINVAL;
	}
	return 0;
}

static int strv_push(char ***v, size_t *n, char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(char *));

	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

static void check_report(bool error, const char *path, const char *what, void *data)
{
	unsigned int *errors = data;

	if (error) {
		log_err("%s: %s", path, what);
		(*errors)++;
	} else {
		log_warn("%s: %s", path, what);
	}
}

static int parse_args(int argc, char **argv)
{
	enum {
		OPT_CHECK = 256, OPT_RCVBUF, OPT_EVENT_LOG, OPT_KEEP_GOING, OPT_ALL_NETNS, OPT_NETNS_DIR, OPT_MQTT,
		OPT_MQTT_CA, OPT_MQTT_CERT, OPT_MQTT_KEY, OPT_MQTT_PASSWORD_FILE, OPT_MQTT_QUEUE, OPT_DISPATCH_DIR,
		OPT_NETWORKD_DISPATCHER,
	};
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "control", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "keep-going", no_argument, NULL, OPT_KEEP_GOING },
		{ "rcvbuf", required_argument, NULL, OPT_RCVBUF },
		{ "event-log", required_argument, NULL, OPT_EVENT_LOG },
		{ "all-netns", no_argument, NULL, OPT_ALL_NETNS },
		{ "netns-dir", required_argument, NULL, OPT_NETNS_DIR },
		{ "mqtt", required_argument, NULL, OPT_MQTT },
		{ "mqtt-ca", required_argument, NULL, OPT_MQTT_CA },
		{ "mqtt-cert", required_argument, NULL, OPT_MQTT_CERT },
		{ "mqtt-key", required_argument, NULL, OPT_MQTT_KEY },
		{ "mqtt-password-file", required_argument, NULL, OPT_MQTT_PASSWORD_FILE },
		{ "mqtt-queue", required_argument, NULL, OPT_MQTT_QUEUE },
		{ "dispatch-dir", required_argument, NULL, OPT_DISPATCH_DIR },
		{ "networkd-dispatcher", required_argument, NULL, OPT_NETWORKD_DISPATCHER },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, level;
	char *end;
	long v;

	while ((c = getopt_long(argc, argv, "r:c:l:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			arg.rules_dirs = realloc(arg.rules_dirs, (arg.n_rules_dirs + 1) * sizeof(char *));
			if (!arg.rules_dirs)
				return -ENOMEM;
			arg.rules_dirs[arg.n_rules_dirs++] = optarg;
			arg.rules_named = true;
			break;
		case 'c':
			arg.control = optarg;
			break;
		case 'l':
			level = log_level_from_name(optarg);
			if (level < 0) {
				fprintf(stderr, "nlhookd: --log-level: unknown level '%s' (err, warn, info, debug)\n", optarg);
				return -EINVAL;
			}
			log_set_level(level);
			break;
		case OPT_CHECK:
			arg.check = true;
			break;
		case OPT_KEEP_GOING:
			arg.keep_going = true;
			break;
		case OPT_RCVBUF:
			errno = 0;
			v = strtol(optarg, &end, 0);
			if (errno || *end || v < 4096 || v > (1L << 30)) {
				fprintf(stderr, "nlhookd: --rcvbuf: '%s' is not a size from 4096 to 1073741824\n", optarg);
				return -EINVAL;
			}
			nlh_rcvbuf = v;
			break;
		case OPT_EVENT_LOG:
			arg.event_log = optarg;
			break;
		case OPT_ALL_NETNS:
			arg.all_netns = true;
			break;
		case OPT_NETNS_DIR:
			if (optarg[0] != '/') {
				fprintf(stderr, "nlhookd: --netns-dir: '%s' is not an absolute path\n", optarg);
				return -EINVAL;
			}
			arg.netns_dirs = realloc(arg.netns_dirs, (arg.n_netns_dirs + 1) * sizeof(char *));
			if (!arg.netns_dirs)
				return -ENOMEM;
			arg.netns_dirs[arg.n_netns_dirs++] = optarg;
			break;
		case OPT_MQTT:
			arg.mqtt = optarg;
			break;
		case OPT_MQTT_CA:
			arg.mqtt_ca = optarg;
			break;
		case OPT_MQTT_CERT:
			arg.mqtt_cert = optarg;
			break;
		case OPT_MQTT_KEY:
			arg.mqtt_key = optarg;
			break;
		case OPT_MQTT_PASSWORD_FILE:
			arg.mqtt_password_file = optarg;
			break;
		case OPT_MQTT_QUEUE:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v > MQTT_QUEUE_MAX) {
				fprintf(stderr, "nlhookd: --mqtt-queue: '%s' is not a number of messages from 1 to %d\n",
					optarg, MQTT_QUEUE_MAX);
				return -EINVAL;
			}
			arg.mqtt_queue = v;
			break;
		case OPT_DISPATCH_DIR:
			if (strv_push(&arg.dispatch_dirs, &arg.n_dispatch_dirs, optarg) < 0)
				return -ENOMEM;
			arg.dispatch_named = true;
			break;
		case OPT_NETWORKD_DISPATCHER:
			if (strv_push(&arg.nd_dirs, &arg.n_nd_dirs, optarg) < 0)
				return -ENOMEM;
			break;
		case 'V':
			printf("nlhookd %s\n", NLH_VERSION);
			exit(0);
		case 'h':
			help();
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nlhookd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (mqtt_args() < 0)
		return -EINVAL;
	if (!arg.n_dispatch_dirs) {
		char *save = NULL;

		arg.dispatch_defaults = strdup(NLH_DISPATCH_DIRS);
		for (char *d = arg.dispatch_defaults ? strtok_r(arg.dispatch_defaults, ":", &save) : NULL; d;
		     d = strtok_r(NULL, ":", &save))
			if (strv_push(&arg.dispatch_dirs, &arg.n_dispatch_dirs, d) < 0)
				return -ENOMEM;
	}
	if (!arg.n_rules_dirs) {
		/* The default dirs, split from "a:b:c". */
		char *dirs = strdup(NLH_RULES_DIRS), *save = NULL;

		for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
			arg.rules_dirs = realloc(arg.rules_dirs, (arg.n_rules_dirs + 1) * sizeof(char *));
			if (!arg.rules_dirs)
				return -ENOMEM;
			arg.rules_dirs[arg.n_rules_dirs++] = d;
		}
	}
	if (arg.n_netns_dirs && !arg.all_netns) {
		fprintf(stderr, "nlhookd: --netns-dir needs --all-netns\n");
		return -EINVAL;
	}
	/* The defaults first, then what --netns-dir adds. */
	{
		size_t n = sizeof(default_netns_dirs) / sizeof(default_netns_dirs[0]);
		char **dirs = calloc(n + arg.n_netns_dirs, sizeof(char *));

		if (!dirs)
			return -ENOMEM;
		memcpy(dirs, default_netns_dirs, sizeof(default_netns_dirs));
		if (arg.n_netns_dirs)
			memcpy(dirs + n, arg.netns_dirs, arg.n_netns_dirs * sizeof(char *));
		free(arg.netns_dirs);
		arg.netns_dirs = dirs;
		arg.n_netns_dirs += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t mask;
	int r, sfd, ifd;

	log_set_ident("nlhookd");
	if (parse_args(argc, argv) < 0 || limits_from_env() < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!arg.check) {
		if (!arg.control && ctl_default_path(&control_default) < 0) {
			log_err("out of memory");
			return 1;
		}
		arg.control = arg.control ?: control_default;
		/* The record of a rule that got stuck, beside the daemon's control socket. */
		if (asprintf(&stuck_path, "%s.stuck", arg.control) > 0)
			rules_stuck_path = stuck_path;
	}

	self_netns = nlh_netns_self_name(arg.netns_dirs, arg.n_netns_dirs);
	rules_netns = self_netns;
	/* Rules see the prefix as nlhook.mqtt.prefix from the start, --check included. */
	rules_set_mqtt(arg.mqtt_url.prefix, NULL, NULL);
	scripts_cfg = (struct dispatch_config){
		.dirs = arg.dispatch_dirs,
		.n_dirs = arg.n_dispatch_dirs,
		.nd_dirs = arg.nd_dirs,
		.n_nd_dirs = arg.n_nd_dirs,
		.named = arg.dispatch_named,
		.check_perms = geteuid() == 0,
		.state = own_state,
	};
	r = rules_set_load(&rules, arg.rules_dirs, arg.n_rules_dirs, load_flags(), report, NULL);
	if (arg.check) {
		unsigned int errors = 0;

		dispatch_check(&scripts_cfg, check_report, &errors);
		if (r < 0 || errors)
			return 1;
		printf("%zu rules loaded\n", rules_set_count(rules));
		rules_set_free(rules);
		return 0;
	}
	if (r < 0) {
		log_err("rules failed to load; not starting%s",
			arg.keep_going ? "" : " (--keep-going skips broken files)");
		return 1;
	}
	rules_set_apply_stuck(rules);
	if (dispatch_new(&scripts, &scripts_cfg) < 0) {
		log_err("out of memory");
		return 1;
	}
	dispatch_load(scripts);

	ifd = single_instance();
	if (ifd < 0)
		return 1;
	if (arg.mqtt && (r = mqtt_setup(rules_mqtt_prefix())) != 0)
		return r;
	if (arg.event_log) {
		/* The words "syslog" and "mqtt" are outputs; files of those names are ./syslog and ./mqtt. */
		const char *path = arg.event_log;

		if (!strcmp(path, "mqtt")) {
			evlog_open_fn(mqtt_evlog_write, mqtt);
			r = 0;
		} else if (!strcmp(path, "syslog")) {
			path = getenv("NLHOOK_SYSLOG_SOCKET") ?: EVLOG_SYSLOG_PATH;
			r = evlog_open_syslog(path);
		} else {
			r = evlog_open(path);
		}
		if (r < 0) {
			log_err("--event-log %s%s%s: %s", arg.event_log, path != arg.event_log ? ": " : "",
				path != arg.event_log ? path : "", strerror(-r));
			return 1;
		}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || (r = loop_init()) < 0 || loop_add_fd(sfd, EPOLLIN, signal_cb, NULL) < 0 ||
	    loop_add_fd(ifd, EPOLLIN, instance_cb, NULL) < 0) {
		log_err("cannot set up the event loop: %m");
		return 1;
	}

	start_time = loop_now();
	r = ctl_start(arg.control, &ctl_ops);
	if (r < 0) {
		control_error(arg.control, r);
		return 1;
	}
	/* Event-log lines go out per loop iteration, not per event. */
	evlog_set_batching(true);
	loop_set_idle(idle);
	log_prefix(LOG_CRIT);
	if (watchdog_start(rules_watchdog_probe) < 0) {
		log_err("cannot set up the watchdog: %m");
		return 1;
	}
	loop_set_wake(watchdog_busy);
	watchdog_period = watchdog_systemd_period();
	if (watchdog_period > 0 && (watchdog_timer = loop_timer_new(watchdog_ping, NULL)))
		watchdog_ping(NULL);
	/* A machine without wifi is no error (nl80211 waits for it); a source that cannot start is. */
	{
		const struct nlh_nsreg_config cfg = {
			.all = arg.all_netns,
			.dirs = arg.netns_dirs,
			.n_dirs = arg.n_netns_dirs,
			.sink = { dispatch, NULL },
			.want = want_of,
		};
		const char *src = NULL;

		r = nlh_nsreg_new(&nsreg, &cfg);
		if (r < 0) {
			log_err("cannot watch network namespaces: %s", strerror(-r));
			return 1;
		}
		rules_set_state_source(state_of, NULL);
		rules_set_netns_source(netns_fd_of, NULL);
		r = nlh_nsreg_update(nsreg, &src);
		if (r < 0) {
			log_err("%s: cannot start: %s; exiting", src, strerror(-r));
			return 1;
		}
	}
	/* A broker that is away is no error: the client retries, messages wait. */
	if (mqtt && (r = mqtt_start(mqtt)) < 0) {
		log_err("mqtt: cannot start: %s", strerror(-r));
		return 1;
	}

	log_info("ready: %zu rules", rules_set_count(rules));
	raise_self(NLH_EV_NLHOOK_START);
	sd_notify_msg("READY=1");
	r = loop_run();
	sd_notify_msg("STOPPING=1");
	ctl_stop();

	nlh_nsreg_free(nsreg);
	exec_shutdown();
	watchdog_stop();
	loop_timer_free(watchdog_timer);
	rules_set_free(rules);
	dispatch_free(scripts);
	rules_shutdown();
	/* Last out: what the rules emitted on their way, then "offline". */
	mqtt_stop(mqtt);
	evlog_close();
	mqtt_free(mqtt);
	mqtt_url_clear(&arg.mqtt_url);
	loop_exit();
	free(arg.rules_dirs);
	free(arg.netns_dirs);
	free(arg.dispatch_dirs);
	free(arg.dispatch_defaults);
	free(arg.nd_dirs);
	free(self_netns);
	free(stuck_path);
	free(control_default);
	return r < 0 ? 1 : 0;
}
