/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config.h"
#include "core/event.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/source.h"
#include "rtnl/rtnl.h"
#include "rules/match.h"
#include "rules/rules.h"

/* Sources the direct monitor can read without the daemon. */
static const struct nlh_source_ops *const sources[] = {
	&rtnl_source,
};
#define N_SOURCES (sizeof(sources) / sizeof(sources[0]))

static const char *control_path = NLH_CONTROL_PATH;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nlhook [--control PATH] COMMAND [ARG]...\n\n"
		"Commands:\n"
		"  monitor [--json] [--timestamp] [TYPE-GLOB...] [FIELD=PATTERN...]\n"
		"                        print network events as they happen\n"
		"  check [DIR...]        load rules, report errors with file:line\n\n"
		"  nlhook COMMAND --help shows a command's options.\n"
		"Exit status: 0 success, 1 failure (rule errors, netlink errors), 2 usage.\n");
}

/* A monitor filter: field=pattern resolved against every class that has the field. */
struct filter {
	const char *field;
	struct nlh_pattern pat[_NLH_CLASS_MAX];
	bool has[_NLH_CLASS_MAX];
};

static struct {
	bool json;
	bool timestamp;
	nlh_typeset types;
	struct filter *filters;
	size_t n_filters;
} mon;

static bool monitor_match(const struct nlh_event *ev)
{
	enum nlh_class c = nlh_event_type_class(ev->type);

	if (!(mon.types & NLH_TYPE_BIT(ev->type)))
		return false;
	for (size_t i = 0; i < mon.n_filters; i++) {
		const struct filter *f = &mon.filters[i];

		if (!f->has[c] || !nlh_pattern_match(&f->pat[c], ev, nlh_field_find(c, f->field)))
			return false;
	}
	return true;
}

static void monitor_print(struct nlh_event *ev)
{
	char buf[16384];
	int n;

	if (!monitor_match(ev))
		return;
	if (mon.json)
		n = nlh_event_json(ev, buf, sizeof(buf));
	else
		n = nlh_event_text(ev, mon.timestamp, buf, sizeof(buf));
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

static int add_filter(const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct filter *f;
	bool any = false;
	char *field;

	if (!eq || eq == arg) {
		fprintf(stderr, "nlhook monitor: '%s' is neither an event type nor FIELD=PATTERN\n", arg);
		return -EINVAL;
	}
	field = strndup(arg, eq - arg);
	mon.filters = realloc(mon.filters, (mon.n_filters + 1) * sizeof(*mon.filters));
	if (!field || !mon.filters)
		return -ENOMEM;
	f = &mon.filters[mon.n_filters++];
	memset(f, 0, sizeof(*f));
	f->field = field;
	for (int c = 0; c < _NLH_CLASS_MAX; c++) {
		const struct nlh_field *fd = nlh_field_find(c, field);

		if (!fd)
			continue;
		if (nlh_pattern_from_string(eq + 1, fd, &f->pat[c]) < 0) {
			fprintf(stderr, "nlhook monitor: '%s': invalid pattern for %s.%s\n", arg,
				nlh_classes[c].name, field);
			return -EINVAL;
		}
		f->has[c] = any = true;
	}
	if (!any) {
		fprintf(stderr, "nlhook monitor: no event has a field '%s'\n", field);
		return -EINVAL;
	}
	return 0;
}

static int cmd_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "timestamp", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct nlh_want want = {};
	sigset_t mask;
	int c, r, sfd;

	while ((c = getopt_long(argc, argv, "+jth", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			mon.json = true;
			break;
		case 't':
			mon.timestamp = true;
			break;
		case 'h':
			printf("Usage: nlhook monitor [--json] [--timestamp] [TYPE-GLOB...] [FIELD=PATTERN...]\n\n"
			       "Print events as they happen: one line each like `ip monitor`, or\n"
			       "one JSON object per line with --json.  TYPE-GLOB selects event types\n"
			       "(\"link.*\", \"route.add\"); FIELD=PATTERN keeps events whose field matches\n"
			       "(globs, !negation, CIDR prefixes for addresses, numbers).\n");
			return 0;
		default:
			return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (strchr(argv[i], '=')) {
			if (add_filter(argv[i]) < 0)
				return 2;
			continue;
		}
		nlh_typeset t = nlh_event_types_glob(argv[i]);

		if (!t) {
			fprintf(stderr, "nlhook monitor: no event type matches '%s'\n", argv[i]);
			return 2;
		}
		mon.types |= t;
	}
	if (!mon.types)
		mon.types = ~(nlh_typeset)0;
	want.types = mon.types;

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
	nlh_dispatch = monitor_print;
	for (size_t i = 0; i < N_SOURCES; i++) {
		r = sources[i]->start(&want);
		if (r < 0) {
			fprintf(stderr, "nlhook monitor: %s: %s\n", sources[i]->name, strerror(-r));
			return 1;
		}
	}
	r = loop_run();
	for (size_t i = N_SOURCES; i-- > 0;)
		sources[i]->stop();
	loop_exit();
	return r < 0 ? 1 : 0;
}

static void check_report(const char *msg, void *data)
{
	unsigned int *n = data;

	fprintf(stderr, "%s\n", msg);
	(*n)++;
}

static int cmd_check(int argc, char **argv)
{
	struct rules_set *rs = NULL;
	char **dirs = argv + 1;
	size_t n_dirs = argc - 1;
	char *defaults[8];
	unsigned int errors = 0;
	int r;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: nlhook check [DIR...]\n\n"
		       "Load the rules of DIRs (default: %s) the way nlhookd does,\n"
		       "print each error as FILE:LINE: message, exit 1 if there is any.\n",
		       NLH_RULES_DIRS);
		return 0;
	}
	if (!n_dirs) {
		char *s = strdup(NLH_RULES_DIRS), *save = NULL;

		for (char *d = strtok_r(s, ":", &save); d && n_dirs < 8; d = strtok_r(NULL, ":", &save))
			defaults[n_dirs++] = d;
		dirs = defaults;
	}
	/* Everything reported, not just the first broken file. */
	r = rules_set_load(&rs, dirs, n_dirs, RULES_KEEP_GOING | (geteuid() == 0 ? RULES_CHECK_PERMS : 0),
			   check_report, &errors);
	if (r < 0 || errors) {
		fprintf(stderr, "%u error%s\n", errors ? errors : 1, errors == 1 ? "" : "s");
		rules_set_free(rs);
		return 1;
	}
	printf("%zu rules OK\n", rules_set_count(rs));
	rules_set_free(rs);
	return 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("NLHOOK_CONTROL");
	int i = 1;

	if (env && *env)
		control_path = env;
	log_set_level(LOG_WARNING);
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--control") && i + 1 < argc) {
			control_path = argv[i + 1];
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
	argv += i;
	argc -= i;
	optind = 1;
	if (!strcmp(argv[0], "monitor"))
		return cmd_monitor(argc, argv);
	if (!strcmp(argv[0], "check"))
		return cmd_check(argc, argv);
	fprintf(stderr, "nlhook: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return 2;
}
