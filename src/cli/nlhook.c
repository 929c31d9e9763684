/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "core/event.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/event-json.h"
#include "core/json.h"
#include "core/source.h"
#include "exec/exec.h"
#include "netns/netns.h"
#include "ctl/ctl.h"
#include "ctl/filter.h"
#include "record.h"
#include "replay.h"
#include "rtnl/rtnl.h"
#include "rules/dispatch.h"
#include "rules/match.h"
#include "rules/rules.h"


static const char *control_path;	/* --control, $NLHOOK_CONTROL or this namespace's */
static char *control_default;
#define CTL_ANSWER_TIMEOUT 5.0
static double ctl_timeout = CTL_ANSWER_TIMEOUT;	/* seconds for the daemon's answer: --timeout */

/* Exit codes of a monitor through the daemon, beside 0, 1 and 2. */
enum {
	MONITOR_EXIT_ENDED = 1,		/* the daemon went away or ended the stream */
	MONITOR_EXIT_DROPPED = 3,	/* dropped for falling too far behind */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nlhook [--control PATH] [--timeout SECONDS] COMMAND [ARG]...\n\n"
		"Commands:\n"
		"  monitor [--json] [--timestamp] [TYPE-GLOB...] [FIELD=PATTERN...]\n"
		"                        print network events as they happen\n"
		"  check [--dispatch-dir DIR]... [--networkd-dispatcher DIR]... [DIR...]\n"
		"                        load rules, check scripts, report errors with file:line\n"
		"  test [--rules DIR]... (--event JSON | --replay FILE.pcap)\n"
		"                        dry run: which rules match, what they would run\n"
		"  record -w FILE.pcap [--count N] [TYPE-GLOB...]\n"
		"                        raw netlink messages to pcap (link type NETLINK)\n"
		"  replay FILE.pcap [--rules DIR]... [--json]\n"
		"                        a capture through the parsers (and rules) as if live\n"
		"  status [--json]       what nlhookd is doing: rules, sources, execs\n"
		"  reload                reload nlhookd's rules (old rules kept on error)\n\n"
		"  nlhook COMMAND --help shows a command's options; --control and --timeout\n"
		"  (seconds for nlhookd's answer, default 5) may also follow monitor, status\n"
		"  and reload.\n"
		"Exit status: 0 success, 1 failure (rule errors, netlink errors, daemon gone),\n"
		"2 usage, 3 monitor dropped by nlhookd for falling behind.\n");
}

static struct {
	bool json;
	bool timestamp;
	struct nlh_filter filter;
	struct nlh_want want;
} mon;

static void monitor_want(void *data, const char *netns, struct nlh_want *ret)
{
	*ret = mon.want;
}

static void monitor_print(void *data, struct nlh_event *ev)
{
	char buf[16384];
	int n;

	if (!nlh_filter_match(&mon.filter, ev))
		return;
	if (mon.json)
		n = nlh_event_json(ev, buf, sizeof(buf));
	else
		n = nlh_monitor_text(ev, mon.timestamp, mon.filter.all_netns, buf, sizeof(buf));
	if (n < 0 && n != -ENOSPC)
		return;
	puts(buf);
	fflush(stdout);
}

static void signal_cb(int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si))
		loop_quit(0);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

static int ctl_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = {
		.tv_sec = (time_t)ctl_timeout,
		.tv_usec = (suseconds_t)((ctl_timeout - (double)(time_t)ctl_timeout) * 1e6),
	};
	int fd, r;

	if (strlen(control_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, control_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A daemon whose listen queue is full makes connect() and write() wait: that long at most. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno == EAGAIN ? -ETIMEDOUT : -errno;
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Send one request line, read the one reply line into *ret (malloc'd),
 * within ctl_timeout: a daemon that accepts and never answers must not
 * hang the command.
 */
static int ctl_call(int fd, const char *req, char **ret)
{
	double deadline = loop_now() + ctl_timeout;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int r;

	if (!buf)
		return -ENOMEM;
	r = write_all(fd, req, strlen(req));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	if (r < 0) {
		/* SO_SNDTIMEO ran out. */
		if (r == -EAGAIN)
			r = -ETIMEDOUT;
		goto fail;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double left = deadline - loop_now();
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				r = -ENOMEM;
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		n = left > 0 ? poll(&pfd, 1, (int)(left * 1000) + 1) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -ETIMEDOUT;
			goto fail;
		}
		/* One byte at a time past the reply would eat monitor lines; replies are short. */
		n = read(fd, buf + len, 1);
		if (n <= 0) {
			r = n < 0 ? -errno : -ECONNRESET;
			goto fail;
		}
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
fail:
	free(buf);
	return r;
}

/* Why a request failed, in words for the user. */
static void ctl_report(const char *cmd, int r)
{
	if (r == -ETIMEDOUT)
		fprintf(stderr, "nlhook %s: nlhookd at %s did not answer within %g s\n", cmd, control_path, ctl_timeout);
	else if (r == -ECONNRESET)
		fprintf(stderr, "nlhook %s: nlhookd at %s closed the connection without an answer\n", cmd,
			control_path);
	else
		fprintf(stderr, "nlhook %s: %s: %s\n", cmd, control_path, strerror(-r));
}

/*
 * --control and --timeout: the commands that talk to the daemon take them
 * after their name too.
 */
enum { OPT_CONTROL = 0x100, OPT_TIMEOUT };
#define CTL_OPTIONS							\
	{ "control", required_argument, NULL, OPT_CONTROL },		\
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }

static int ctl_option(const char *cmd, int opt, const char *val)
{
	char *end;
	double t;

	if (opt == OPT_CONTROL) {
		control_path = val;
		return 0;
	}
	errno = 0;
	t = strtod(val, &end);
	if (errno || end == val || *end || !(t > 0 && t <= 86400)) {
		fprintf(stderr, "nlhook%s%s: --timeout: '%s' is not a number of seconds above 0 and at most 86400\n",
			cmd ? " " : "", cmd ?: "", val);
		return -EINVAL;
	}
	ctl_timeout = t;
	return 0;
}

/* The reply's "error" or NULL when ok; *doc owns the strings. */
static const char *reply_error(const char *reply, struct json_doc **doc)
{
	char err[128];

	if (json_parse(reply, strlen(reply), doc, err, sizeof(err)) < 0)
		return "malformed reply from nlhookd";
	if (json_get(json_root(*doc), "ok") && json_get(json_root(*doc), "ok")->b)
		return NULL;
	return json_get_str(json_root(*doc), "error") ?: "request failed";
}

/* The daemon's last line on a monitor: why the stream ends. */
static int monitor_ended(const char *line, size_t len)
{
	const struct json_value *dropped;
	struct json_doc *doc = NULL;
	const char *e;
	char err[128];
	int r = MONITOR_EXIT_ENDED;

	if (json_parse(line, len, &doc, err, sizeof(err)) < 0) {
		fprintf(stderr, "nlhook monitor: malformed last line from nlhookd: %s\n", err);
		return r;
	}
	e = json_get_str(json_root(doc), "error") ?: "no reason given";
	dropped = json_get(json_root(doc), "dropped");
	if (dropped && dropped->type == JSON_BOOL && dropped->b) {
		if (!strncmp(e, "dropped: ", 9))
			e += 9;
		fprintf(stderr, "nlhook monitor: dropped by nlhookd: %s\n", e);
		r = MONITOR_EXIT_DROPPED;
	} else {
		fprintf(stderr, "nlhook monitor: nlhookd ended the monitor: %s\n", e);
	}
	json_doc_free(doc);
	return r;
}

/*
 * Copy the daemon's event lines to stdout until the stream ends.  Event
 * lines never start with {"v": such a line is the daemon's last word.
 */
static int monitor_copy(int fd)
{
	static const char last[] = "{\"v\":";
	char buf[65536];
	size_t len = 0;
	bool bol = true;	/* buf[0] starts a line */

	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		size_t off = 0;
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : 0;

			if (write_all(STDOUT_FILENO, buf, len) == 0)
				fprintf(stderr, "nlhook monitor: %s: %s\n", control_path,
					e ? strerror(e) : "nlhookd closed the connection");
			return MONITOR_EXIT_ENDED;
		}
		len += n;
		while ((nl = memchr(buf + off, '\n', len - off))) {
			size_t end = nl - buf + 1;

			if (bol && end - off > sizeof(last) - 1 && !memcmp(buf + off, last, sizeof(last) - 1)) {
				if (write_all(STDOUT_FILENO, buf, off) < 0)
					return MONITOR_EXIT_ENDED;
				return monitor_ended(buf + off, end - off - 1);
			}
			off = end;
			bol = true;
		}
		/* Events are far shorter than buf; a longer line goes out in pieces. */
		if (off == 0 && len == sizeof(buf)) {
			off = len;
			bol = false;
		}
		if (write_all(STDOUT_FILENO, buf, off) < 0)
			return MONITOR_EXIT_ENDED;
		memmove(buf, buf + off, len - off);
		len -= off;
	}
}

static int monitor_daemon(int fd, int argc, char **argv)
{
	struct sbuf req = {};
	struct json_doc *doc = NULL;
	const char *e;
	char *reply;
	int r;

	sbuf_printf(&req, "{\"v\":%d,\"cmd\":\"monitor\",\"format\":\"%s\",\"timestamp\":%s,\"all_netns\":%s,"
		    "\"types\":[", CTL_PROTO_VERSION, mon.json ? "json" : "text", mon.timestamp ? "true" : "false",
		    mon.filter.all_netns ? "true" : "false");
	for (int pass = 0, first = 1; pass < 2; pass++) {
		if (pass) {
			sbuf_puts(&req, "],\"filters\":[");
			first = 1;
		}
		for (int i = optind; i < argc; i++) {
			if (!strchr(argv[i], '=') != !pass)
				continue;
			if (!first)
				sbuf_puts(&req, ",");
			sbuf_json_str(&req, argv[i], strlen(argv[i]));
			first = 0;
		}
	}
	sbuf_puts(&req, "]}");
	r = ctl_call(fd, req.p, &reply);
	sbuf_free(&req);
	if (r < 0) {
		ctl_report("monitor", r);
		return 1;
	}
	e = reply_error(reply, &doc);
	if (e) {
		fprintf(stderr, "nlhook monitor: nlhookd: %s\n", e);
		free(reply);
		json_doc_free(doc);
		return 1;
	}
	free(reply);
	json_doc_free(doc);
	return monitor_copy(fd);
}

/* CAP_NET_ADMIN in the effective set, from /proc: no libcap for one bit. */
static bool has_net_admin(void)
{
	unsigned long long eff = 0;
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return true;	/* cannot tell: let the kernel say */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = true;
			break;
		}
	fclose(f);
	return !found || (eff >> CAP_NET_ADMIN & 1);
}

/*
 * nflog is not multicast: a group's hits go to the one socket bound to
 * it, and binding takes a group number and CAP_NET_ADMIN.  Say what is
 * missing rather than print nothing; -1 when nflog was all there was to
 * show.
 */
static int monitor_nflog_check(struct nlh_want *want)
{
	const nlh_typeset nflog = NLH_TYPE_BIT(NLH_EV_NFLOG);
	bool only = mon.filter.types && !(mon.filter.types & ~nflog);

	if (!(mon.filter.types & nflog) && !want->n_nflog_groups)
		return 0;
	if (!want->n_nflog_groups) {
		fprintf(stderr, "nlhook monitor: reading nflog directly needs a group: add group=N, the group of "
			"the firewall's log rule (it also needs CAP_NET_ADMIN, and a group that no other process, "
			"such as nlhookd, has bound)\n");
	} else if (!has_net_admin()) {
		fprintf(stderr, "nlhook monitor: reading nflog directly needs CAP_NET_ADMIN to bind its group "
			"(and a group that no other process, such as nlhookd, has bound)\n");
		want->n_nflog_groups = 0;
	} else {
		return 0;
	}
	if (!only)
		return 0;
	fprintf(stderr, "nlhook monitor: nothing else to show; through nlhookd (without --direct), monitor "
		"shows the nflog groups that its rules bind\n");
	return -1;
}

static int cmd_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "timestamp", no_argument, NULL, 't' },
		{ "direct", no_argument, NULL, 'd' },
		{ "all-netns", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		CTL_OPTIONS,
		{}
	};
	static char *netns_dirs[] = { "/run/netns", "/run/docker/netns" };
	bool direct = false, all_netns = false;
	char err[256];
	sigset_t mask;
	struct nlh_nsreg *reg;
	const char *src = NULL;
	int c, r, sfd;

	while ((c = getopt_long(argc, argv, "+jtdah", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all_netns = true;
			break;
		case 'j':
			mon.json = true;
			break;
		case 't':
			mon.timestamp = true;
			break;
		case 'd':
			direct = true;
			break;
		case OPT_CONTROL:
		case OPT_TIMEOUT:
			if (ctl_option("monitor", c, optarg) < 0)
				return 2;
			break;
		case 'h':
			printf("Usage: nlhook monitor [--json] [--timestamp] [--direct] [--all-netns] [--control PATH]\n"
			       "                      [--timeout SECONDS] [TYPE-GLOB...] [FIELD=PATTERN...]\n\n"
			       "Print events as they happen: one line each like `ip monitor`, or\n"
			       "one JSON object per line with --json.  TYPE-GLOB selects event types\n"
			       "(\"link.*\", \"route.add\"); FIELD=PATTERN keeps events whose field matches\n"
			       "(globs, !negation, CIDR prefixes for addresses, numbers).\n\n"
			       "Through nlhookd when it runs (the only way to see the nflog groups it\n"
			       "has bound), else straight from netlink; --direct forces the latter.\n"
			       "The daemon must answer the request within SECONDS (default 5).\n"
			       "--all-netns shows every network namespace's events (the daemon's when\n"
			       "it runs with --all-netns), the namespace as a column or the netns field.\n");
			return 0;
		default:
			return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (nlh_filter_add(&mon.filter, argv[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "nlhook monitor: %s\n", err);
			return 2;
		}
	}
	if (nlh_filter_check(&mon.filter, err, sizeof(err)) < 0) {
		fprintf(stderr, "nlhook monitor: %s\n", err);
		return 2;
	}
	mon.filter.all_netns = all_netns;
	if (!direct) {
		int fd = ctl_connect();

		if (fd >= 0)
			return monitor_daemon(fd, argc, argv);
		if (fd != -ENOENT && fd != -ECONNREFUSED)
			fprintf(stderr, "nlhook monitor: %s: %s; reading netlink directly\n", control_path, strerror(-fd));
	}
	nlh_filter_want(&mon.filter, &mon.want);
	if (monitor_nflog_check(&mon.want) < 0)
		return 1;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_DFL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || loop_init() < 0 || loop_add_fd(sfd, EPOLLIN, signal_cb, NULL) < 0) {
		fprintf(stderr, "nlhook monitor: event loop: %m\n");
		return 1;
	}
	{
		const struct nlh_nsreg_config cfg = {
			.all = all_netns,
			.dirs = netns_dirs,
			.n_dirs = 2,
			.sink = { monitor_print, NULL },
			.want = monitor_want,
		};

		r = nlh_nsreg_new(&reg, &cfg);
		if (r < 0) {
			fprintf(stderr, "nlhook monitor: cannot watch network namespaces: %s\n", strerror(-r));
			return 1;
		}
	}
	r = nlh_nsreg_update(reg, &src);
	if (r < 0) {
		fprintf(stderr, "nlhook monitor: %s: %s\n", src, strerror(-r));
		nlh_nsreg_free(reg);
		return 1;
	}
	r = loop_run();
	nlh_nsreg_free(reg);
	loop_exit();
	return r < 0 ? 1 : 0;
}

static void check_report(const char *msg, void *data)
{
	unsigned int *n = data;

	fprintf(stderr, "%s\n", msg);
	(*n)++;
}

/*
 * A path action that the daemon could not run: a warning, not an error
 * (the program may be installed after the rules).  The daemon runs it as
 * root, so any execute bit will do.
 */
static void check_action(const struct rule_stats *st, void *data)
{
	const char *line = strrchr(st->where, ':'), *why = NULL, *interp;
	unsigned int *n = data;
	char ibuf[256], iwhy[512];
	struct stat sb;

	if (!st->action)
		return;
	if (stat(st->action, &sb) < 0)
		why = strerror(errno);
	else if (!S_ISREG(sb.st_mode))
		why = "not a regular file";
	else if (!(sb.st_mode & 0111))
		why = "not executable";
	else if ((interp = exec_interpreter(st->action, ibuf, sizeof(ibuf))) && access(interp, X_OK) < 0) {
		snprintf(iwhy, sizeof(iwhy), "its interpreter %s: %s", interp, strerror(errno));
		why = iwhy;
	}
	if (!why)
		return;
	fprintf(stderr, "%s%s: warning: action %s: %s\n", st->file, line ? line : "", st->action, why);
	(*n)++;
}

struct check_counts {
	unsigned int errors;
	unsigned int warnings;
};

static void check_script(bool error, const char *path, const char *what, void *data)
{
	struct check_counts *n = data;

	fprintf(stderr, "%s: %s%s\n", path, error ? "" : "warning: ", what);
	if (error)
		n->errors++;
	else
		n->warnings++;
}

/* "a:b:c" into up to max dirs of split (which the caller frees). */
static size_t split_dirs(const char *list, char **split, char **dirs, size_t max)
{
	char *save = NULL;
	size_t n = 0;

	*split = strdup(list);
	for (char *d = *split ? strtok_r(*split, ":", &save) : NULL; d && n < max; d = strtok_r(NULL, ":", &save))
		dirs[n++] = d;
	return n;
}

static int cmd_check(int argc, char **argv)
{
	enum { OPT_DISPATCH_DIR = 256, OPT_NETWORKD_DISPATCHER };
	static const struct option opts[] = {
		{ "dispatch-dir", required_argument, NULL, OPT_DISPATCH_DIR },
		{ "networkd-dispatcher", required_argument, NULL, OPT_NETWORKD_DISPATCHER },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct rules_set *rs = NULL;
	char *defaults[8], *split = NULL, *dsplit = NULL, *ddefaults[8];
	char **ddirs = calloc(argc, sizeof(char *)), **nd = calloc(argc, sizeof(char *)), **dirs;
	struct dispatch_config dcfg = { .dirs = ddirs, .nd_dirs = nd, .check_perms = geteuid() == 0 };
	struct check_counts n = {};
	size_t n_dirs, scripts = 0;
	int c, r = -ENOMEM;

	if (!ddirs || !nd) {
		fprintf(stderr, "nlhook check: out of memory\n");
		goto out;
	}
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DISPATCH_DIR:
			ddirs[dcfg.n_dirs++] = optarg;
			dcfg.named = true;
			break;
		case OPT_NETWORKD_DISPATCHER:
			nd[dcfg.n_nd_dirs++] = optarg;
			break;
		case 'h':
			printf("Usage: nlhook check [--dispatch-dir DIR]... [--networkd-dispatcher DIR]... [DIR...]\n\n"
			       "Load the rules of DIRs (default: %s) the way nlhookd does,\n"
			       "print each error as FILE:LINE: message, exit 1 if there is any.\n"
			       "Path actions that are missing, not executable or whose #! interpreter\n"
			       "is missing are warnings (FILE:LINE: warning: ...), which leave the\n"
			       "exit status alone.\n\n"
			       "The scripts of the dispatch dirs (default, without DIRs: %s)\n"
			       "and of networkd-dispatcher's dirs are checked too: a script nlhookd\n"
			       "would refuse (writable by others), a subdirectory that names no\n"
			       "event type are errors; a file that is not executable, scripts that\n"
			       "never run (configuring.d, configured.d) are warnings.\n",
			       NLH_RULES_DIRS, NLH_DISPATCH_DIRS);
			r = 0;
			goto out;
		default:
			r = -EINVAL;
			goto out;
		}
	}
	dirs = argv + optind;
	n_dirs = argc - optind;
	if (!n_dirs) {
		dirs = defaults;
		n_dirs = split_dirs(NLH_RULES_DIRS, &split, defaults, 8);
		/* The daemon's defaults, rules and scripts alike. */
		if (!dcfg.n_dirs) {
			dcfg.dirs = ddefaults;
			dcfg.n_dirs = split_dirs(NLH_DISPATCH_DIRS, &dsplit, ddefaults, 8);
		}
	}
	/* Everything reported, not just the first broken file. */
	r = rules_set_load(&rs, dirs, n_dirs, RULES_KEEP_GOING | (geteuid() == 0 ? RULES_CHECK_PERMS : 0) |
			   (split ? 0 : RULES_DIRS_NAMED), check_report, &n.errors);
	if (r == 0)
		rules_set_foreach_rule(rs, check_action, &n.warnings);
	if (dcfg.n_dirs || dcfg.n_nd_dirs)
		scripts = dispatch_check(&dcfg, check_script, &n);
	if (r < 0 || n.errors) {
		fprintf(stderr, "%u error%s\n", n.errors ? n.errors : 1, n.errors == 1 ? "" : "s");
	} else {
		printf("%zu rules OK", rules_set_count(rs));
		if (scripts)
			printf(", %zu script%s OK", scripts, scripts == 1 ? "" : "s");
		if (n.warnings)
			printf(", %u warning%s", n.warnings, n.warnings == 1 ? "" : "s");
		putchar('\n');
	}
	rules_set_free(rs);
out:
	free(split);
	free(dsplit);
	free(ddirs);
	free(nd);
	if (r == -EINVAL)
		return 2;
	return r < 0 || n.errors ? 1 : 0;
}

static int simple_call(const char *name, const char *cmd, char **ret_reply, struct json_doc **ret_doc)
{
	char req[128], *reply;
	const char *e;
	int fd, r;

	fd = ctl_connect();
	if (fd == -ETIMEDOUT) {
		ctl_report(name, fd);
		return 1;
	}
	if (fd < 0) {
		fprintf(stderr, "nlhook %s: cannot reach nlhookd at %s: %s\n", name, control_path, strerror(-fd));
		return 1;
	}
	snprintf(req, sizeof(req), "{\"v\":%d,\"cmd\":\"%s\"}", CTL_PROTO_VERSION, cmd);
	r = ctl_call(fd, req, &reply);
	close(fd);
	if (r < 0) {
		ctl_report(name, r);
		return 1;
	}
	e = reply_error(reply, ret_doc);
	if (e) {
		const struct json_value *errs = *ret_doc ? json_get(json_root(*ret_doc), "errors") : NULL;

		fprintf(stderr, "nlhook %s: %s\n", name, e);
		if (errs && errs->type == JSON_ARRAY)
			for (const struct json_value *v = errs->child; v; v = v->next)
				if (v->type == JSON_STRING)
					fprintf(stderr, "%s\n", v->str);
		free(reply);
		return 1;
	}
	*ret_reply = reply;
	return 0;
}

static double num(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v && v->type == JSON_NUMBER ? v->num : 0;
}

/* The rule table's counters: the JSON member, its header, width, decimals. */
static const struct {
	const char *key;
	const char *head;
	int width;
	int prec;
	bool optional;		/* a column only when some rule has the member */
} rule_cols[] = {
	{ "hits", "HITS", 7, 0, false },
	{ "runs", "RUNS", 7, 0, false },
	{ "rate_dropped", "RATE-DROP", 9, 0, false },
	{ "errors", "ERRORS", 7, 0, false },
	{ "stuck", "STUCK", 5, 0, false },
	{ "time", "TIME(s)", 9, 4, false },
	{ "execs_running", "EXECS", 5, 0, false },
	{ "execs_pending", "PENDING", 7, 0, false },
	{ "exec_dropped", "EXEC-DROP", 9, 0, true },
	{ "after_dropped", "AFTER-DROP", 10, 0, true },
};
#define N_RULE_COLS (sizeof(rule_cols) / sizeof(rule_cols[0]))
#define RULE_NAME_MAX 40	/* a longer name gets a line of its own */

static void status_rules(const struct json_value *rules)
{
	const struct json_value *first = rules && rules->type == JSON_ARRAY ? rules->child : NULL, *v;
	bool shown[N_RULE_COLS];
	int name_w = 4;

	for (size_t i = 0; i < N_RULE_COLS; i++)
		shown[i] = !rule_cols[i].optional;
	for (v = first; v; v = v->next) {
		int len = strlen(json_get_str(v, "name") ?: "?");

		if (len > name_w && len <= RULE_NAME_MAX)
			name_w = len;
		for (size_t i = 0; i < N_RULE_COLS; i++)
			shown[i] = shown[i] || json_get(v, rule_cols[i].key);
	}
	printf("\n%-*s", name_w, "RULE");
	for (size_t i = 0; i < N_RULE_COLS; i++)
		if (shown[i])
			printf(" %*s", rule_cols[i].width, rule_cols[i].head);
	putchar('\n');
	for (v = first; v; v = v->next) {
		const struct json_value *dis = json_get(v, "disabled");
		const char *name = json_get_str(v, "name") ?: "?";

		if ((int)strlen(name) > name_w)
			printf("%s\n%-*s", name, name_w, "");
		else
			printf("%-*s", name_w, name);
		for (size_t i = 0; i < N_RULE_COLS; i++)
			if (shown[i])
				printf(" %*.*f", rule_cols[i].width, rule_cols[i].prec, num(v, rule_cols[i].key));
		if (dis && dis->b)
			printf("  (disabled%s%s)", json_get_str(v, "disabled_reason") ? ": " : "",
			       json_get_str(v, "disabled_reason") ?: "");
		putchar('\n');
	}
}

/* The daemon's own namespace: what it knows of it. */
static void status_state(const struct json_value *st)
{
	const struct json_value *kept = json_get(st, "routes_kept");

	if (!st)
		return;
	printf("state: %.0f links, %.0f addresses, %.0f neighbours, ", num(st, "links"), num(st, "addrs"),
	       num(st, "neighs"));
	if (kept && kept->b)
		printf("%.0f routes (%.0f IPv4, %.0f IPv6) in %.0f KiB\n", num(st, "routes"), num(st, "routes_inet"),
		       num(st, "routes_inet6"), num(st, "routes_bytes") / 1024);
	else
		printf("routes not kept (nothing needs them)\n");
}

/* The namespaces other than the daemon's own: a row each, its sources' events, drops and resyncs. */
static void status_netns(const struct json_value *list)
{
	const struct json_value *v = list && list->type == JSON_ARRAY ? list->child : NULL;

	if (!v || !v->next)
		return;
	printf("\n%-24s %6s %6s %18s %18s %18s\n", "NETNS", "NSID", "LINKS", "RTNL ev/drop/rsync",
	       "NFLOG ev/drop/rsync", "WIFI ev/drop/rsync");
	for (v = v->next; v; v = v->next) {
		const struct json_value *s = json_get(v, "sources");
		char cols[3][32] = { "-", "-", "-" };
		int i = 0;

		for (s = s && s->type == JSON_ARRAY ? s->child : NULL; s && i < 3; s = s->next, i++)
			snprintf(cols[i], sizeof(cols[i]), "%.0f/%.0f/%.0f", num(s, "events"), num(s, "drops"),
				 num(s, "resyncs"));
		printf("%-24s %6.0f %6.0f %18s %18s %18s\n", json_get_str(v, "name") ?: "?", num(v, "nsid"),
		       num(v, "links"), cols[0], cols[1], cols[2]);
	}
}

/* The MQTT broker's line, when the daemon has one. */
static void status_mqtt(const struct json_value *m)
{
	const char *state = json_get_str(m, "state") ?: "?", *err = json_get_str(m, "last_error");
	bool up = !strcmp(state, "connected");

	printf("broker %s (prefix %s): %s for %.0f s", json_get_str(m, "broker") ?: "?",
	       json_get_str(m, "prefix") ?: "?", state, num(m, "since"));
	if (!up && err)
		printf(" (last error: %s)", err);
	printf("; %.0f queued (%.0f in flight, at most %.0f), %.0f dropped, %.0f published, %.0f reconnects, "
	       "%.0f failed attempts\n", num(m, "queued"), num(m, "in_flight"), num(m, "queue_max"),
	       num(m, "dropped"), num(m, "published"), num(m, "reconnects"), num(m, "failures"));
}

/* The scripts of the dispatch dirs: a row each, with its runs, failures and last exit status. */
static void status_scripts(const struct json_value *dispatch)
{
	const struct json_value *g = json_get(dispatch, "subdirs"), *sc;
	bool head = false;

	for (g = g && g->type == JSON_ARRAY ? g->child : NULL; g; g = g->next) {
		sc = json_get(g, "scripts");
		for (sc = sc && sc->type == JSON_ARRAY ? sc->child : NULL; sc; sc = sc->next) {
			const struct json_value *last = json_get(sc, "last_status");
			const char *why = json_get_str(sc, "refused");

			if (!head) {
				printf("\n%-50s %7s %7s %5s\n", "SCRIPT", "RUNS", "FAILED", "LAST");
				head = true;
			}
			printf("%-50s %7.0f %7.0f", json_get_str(sc, "path") ?: "?", num(sc, "runs"), num(sc, "failures"));
			if (last && last->type == JSON_NUMBER)
				printf(" %5.0f", last->num);
			else
				printf(" %5s", "-");
			if (why)
				printf("  (refused: %s)", why);
			else if ((why = json_get_str(sc, "skipped")))
				printf("  (not run: %s)", why);
			putchar('\n');
		}
	}
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		CTL_OPTIONS,
		{}
	};
	const struct json_value *root, *v;
	struct json_doc *doc = NULL;
	bool json = false;
	char *reply;
	int c;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			printf("Usage: nlhook status [--json] [--control PATH] [--timeout SECONDS]\n\n"
			       "What nlhookd is doing: uptime, the network's state, the state it keeps\n"
			       "(routes per family and their memory), rules with their hits, errors and\n"
			       "time spent, sources with their events, drops and resyncs, running execs,\n"
			       "and the MQTT broker's state, queue and drops.\n"
			       "Fails when the daemon does not answer within SECONDS (default 5).\n");
			return 0;
		case OPT_CONTROL:
		case OPT_TIMEOUT:
			if (ctl_option("status", c, optarg) < 0)
				return 2;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nlhook status: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (simple_call("status", "status", &reply, &doc))
		return 1;
	if (json) {
		puts(reply);
	} else {
		root = json_root(doc);
		printf("nlhookd %s, pid %.0f, up %.0f s, %.0f rules, %.0f execs running, %.0f monitors "
		       "(%.0f dropped for falling behind)\n",
		       json_get_str(root, "version") ?: "?", num(root, "pid"), num(root, "uptime"),
		       num(root, "rules_count"), num(root, "execs_running"), num(root, "monitors"),
		       num(root, "monitor_drops"));
		if (json_get_str(root, "net_state")) {
			v = json_get(root, "online");
			printf("network %s, %s\n", json_get_str(root, "net_state"),
			       !v || v->type != JSON_BOOL ? "online unknown (routes not followed: no rule wants "
			       "net.* or route.* events)" : v->b ? "online" : "offline");
		}
		status_state(json_get(root, "state"));
		v = json_get(root, "mqtt");
		if (v && v->type == JSON_OBJECT)
			status_mqtt(v);
		v = json_get(root, "sources");
		printf("\n%-10s %10s %8s %8s %8s %10s\n", "SOURCE", "EVENTS", "DROPS", "RESYNCS", "ERRORS", "RCVBUF");
		for (v = v ? v->child : NULL; v; v = v->next)
			printf("%-10s %10.0f %8.0f %8.0f %8.0f %10.0f\n", json_get_str(v, "name") ?: "?",
			       num(v, "events"), num(v, "drops"), num(v, "resyncs"), num(v, "errors"), num(v, "rcvbuf"));
		status_netns(json_get(root, "netns"));
		status_rules(json_get(root, "rules"));
		status_scripts(json_get(root, "dispatch"));
	}
	free(reply);
	json_doc_free(doc);
	return 0;
}

static int cmd_reload(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		CTL_OPTIONS,
		{}
	};
	struct json_doc *doc = NULL;
	char *reply;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: nlhook reload [--control PATH] [--timeout SECONDS]\n\n"
			       "Reload nlhookd's rules (as SIGHUP does); print the load errors and\n"
			       "exit 1 if the new rules do not load: the old ones keep running.\n"
			       "Fails when the daemon does not answer within SECONDS (default 5).\n");
			return 0;
		case OPT_CONTROL:
		case OPT_TIMEOUT:
			if (ctl_option("reload", c, optarg) < 0)
				return 2;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nlhook reload: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	r = simple_call("reload", "reload", &reply, &doc);
	json_doc_free(doc);
	if (r)
		return 1;
	free(reply);
	return 0;
}

static struct rules_set *test_rules;

/* "match NAME", "exec NAME: COMMAND", "emit NAME: JSON", "after NAME: 5 s" */
static void test_report(const char *what, const char *rule, const char *text, void *data)
{
	printf("%s %s%s%s\n", what, rule, text ? ": " : "", text ? text : "");
	fflush(stdout);
}

static void test_dispatch(struct nlh_event *ev)
{
	char buf[16384];

	if (nlh_event_text(ev, false, buf, sizeof(buf)) >= 0 || buf[0])
		printf("event %s\n", buf);
	fflush(stdout);
	rules_set_dispatch(test_rules, ev);
}

static int test_event(const char *json)
{
	struct json_doc *doc = NULL;
	struct nlh_event ev;
	uint8_t payload[65536];
	char err[256];

	if (json_parse(json, strlen(json), &doc, err, sizeof(err)) < 0) {
		fprintf(stderr, "nlhook test: --event: %s\n", err);
		return 1;
	}
	if (nlh_event_from_json(json_root(doc), &ev, payload, sizeof(payload), err, sizeof(err)) < 0) {
		fprintf(stderr, "nlhook test: --event: %s\n", err);
		json_doc_free(doc);
		return 1;
	}
	/* Its timers (nlhook.after, debounce) run too, on the event's clock. */
	replay_clock_start(ev.time);
	test_dispatch(&ev);
	replay_clock_finish("nlhook test");
	json_doc_free(doc);
	return 0;
}

static int cmd_test(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "event", required_argument, NULL, 'e' },
		{ "replay", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *event = NULL, *replay = NULL;
	char *dirs[16], *defaults = NULL;
	size_t n_dirs = 0;
	unsigned int errors = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "r:e:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (n_dirs == 16) {
				fprintf(stderr, "nlhook test: at most 16 --rules\n");
				return 2;
			}
			dirs[n_dirs++] = optarg;
			break;
		case 'e':
			event = optarg;
			break;
		case 'p':
			replay = optarg;
			break;
		case 'h':
			printf("Usage: nlhook test [--rules DIR]... (--event JSON | --replay FILE.pcap)\n\n"
			       "Dry run: feed an event (JSON as `monitor --json` prints it) or a\n"
			       "capture through the rules and print, per event, which rules match\n"
			       "and what they would exec, emit or schedule.  Nothing is run.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!event == !replay || optind < argc) {
		fprintf(stderr, "nlhook test: give exactly one of --event JSON or --replay FILE.pcap\n");
		return 2;
	}
	if (!n_dirs) {
		char *save = NULL;

		defaults = strdup(NLH_RULES_DIRS);
		for (char *d = strtok_r(defaults, ":", &save); d && n_dirs < 16; d = strtok_r(NULL, ":", &save))
			dirs[n_dirs++] = d;
	}
	if (loop_init() < 0) {
		fprintf(stderr, "nlhook test: event loop: %m\n");
		return 1;
	}
	r = rules_set_load(&test_rules, dirs, n_dirs, RULES_DRY_RUN | (defaults ? 0 : RULES_DIRS_NAMED),
			   check_report, &errors);
	if (r < 0) {
		fprintf(stderr, "nlhook test: the rules do not load\n");
		free(defaults);
		return 1;
	}
	rules_set_dry_run(test_rules, test_report, NULL);
	r = event ? test_event(event) : replay_file(replay, test_dispatch, "nlhook test");
	rules_set_free(test_rules);
	loop_exit();
	free(defaults);
	return r;
}

static struct rules_set *replay_rules;
static bool replay_json;

static void replay_dispatch(struct nlh_event *ev)
{
	char buf[16384];
	int n = replay_json ? nlh_event_json(ev, buf, sizeof(buf)) : nlh_event_text(ev, true, buf, sizeof(buf));

	if (n >= 0 || n == -ENOSPC)
		puts(buf);
	if (replay_rules)
		rules_set_dispatch(replay_rules, ev);
}

static struct loop_timer *replay_timer;

static void replay_idle_check(void *data)
{
	/* Done when no action is left running (a queue starts its next job on exit). */
	if (!exec_running_total())
		loop_quit(0);
	else
		loop_timer_arm(replay_timer, 0.05);
}

static int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	char *dirs[16];
	size_t n_dirs = 0;
	unsigned int errors = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "r:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (n_dirs == 16) {
				fprintf(stderr, "nlhook replay: at most 16 --rules\n");
				return 2;
			}
			dirs[n_dirs++] = optarg;
			break;
		case 'j':
			replay_json = true;
			break;
		case 'h':
			printf("Usage: nlhook replay FILE.pcap [--rules DIR]... [--json]\n\n"
			       "Feed a capture (from `nlhook record`, or the nlmon device and tcpdump)\n"
			       "through the parsers as if live and print each event; with --rules,\n"
			       "also run those rules for real (`nlhook test --replay` is the dry run).\n"
			       "Names and family ids come from the capture, not from this machine.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "nlhook replay: one capture file expected\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (loop_init() < 0) {
		fprintf(stderr, "nlhook replay: event loop: %m\n");
		return 1;
	}
	if (n_dirs && rules_set_load(&replay_rules, dirs, n_dirs, RULES_DIRS_NAMED, check_report, &errors) < 0) {
		fprintf(stderr, "nlhook replay: the rules do not load\n");
		return 1;
	}
	r = replay_file(argv[optind], replay_dispatch, "nlhook replay");
	/* Let the actions the replay started finish; timers still pending are dropped. */
	if (replay_rules && (replay_timer = loop_timer_new(replay_idle_check, NULL))) {
		loop_timer_arm(replay_timer, 0);
		loop_run();
		loop_timer_free(replay_timer);
	}
	rules_set_free(replay_rules);
	loop_exit();
	return r;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} cmds[] = {
	{ "monitor", cmd_monitor }, { "check", cmd_check },   { "test", cmd_test },	{ "status", cmd_status },
	{ "record", cmd_record },   { "replay", cmd_replay }, { "reload", cmd_reload },
};

int main(int argc, char **argv)
{
	const char *env = getenv("NLHOOK_CONTROL");
	int i = 1;

	if (env && *env)
		control_path = env;
	log_set_ident("nlhook");
	log_set_level(LOG_WARNING);
	while (i < argc && argv[i][0] == '-') {
		if ((!strcmp(argv[i], "--control") || !strcmp(argv[i], "--timeout")) && i + 1 < argc) {
			if (ctl_option(NULL, argv[i][2] == 'c' ? OPT_CONTROL : OPT_TIMEOUT, argv[i + 1]) < 0)
				return 2;
			i += 2;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("nlhook %s\n", NLH_VERSION);
			return 0;
		} else {
			fprintf(stderr, "nlhook: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (!control_path && ctl_default_path(&control_default) < 0) {
		fprintf(stderr, "nlhook: out of memory\n");
		return 1;
	}
	if (!control_path)
		control_path = control_default;
	argv += i;
	argc -= i;
	optind = 1;
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		char name[32];

		if (strcmp(argv[0], cmds[c].name))
			continue;
		/* getopt's messages start with argv[0]: "nlhook status: unrecognized option ...". */
		snprintf(name, sizeof(name), "nlhook %s", cmds[c].name);
		argv[0] = name;
		return cmds[c].run(argc, argv);
	}
	fprintf(stderr, "nlhook: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return 2;
}
