/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <inttypes.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "rules-internal.h"

unsigned long rules_budget = 10000000;
size_t rules_mem_cap = 32 << 20;
unsigned int rules_max_failures = 10;
double rules_exec_timeout = 60;

/* A rule file is source text; anything bigger is a mistake, not a rule. */
#define RULE_FILE_MAX (4 << 20)

struct rules_set {
	unsigned int flags;
	struct rules_set *old;		/* a reload's: the files it lends are not ours until it succeeds */
	size_t n_kept;
	rules_dry_fn dry;
	void *dry_data;
	struct rules_file **files;
	size_t n_files;
	size_t n_rules;
	/* Per event type, the rules that want it, in load order. */
	struct rule **index[_NLH_EV_MAX];
	size_t n_index[_NLH_EV_MAX];
};

static void __attribute__((format(printf, 3, 4)))
report_fmt(rules_report_fn report, void *data, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (report)
		report(msg, data);
	else
		log_err("%s", msg);
}

/* Dirs and files */

struct entry {
	char *name;
	char *path;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* udev's convention: a symlink to /dev/null masks the name. */
static bool is_masked(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

static bool is_rule_name(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 4 && !strcmp(name + len - 4, ".lua");
}

static bool is_visible(const char *name)
{
	return name[0] != '.';
}

/* A dir that cannot be read: every one is reported, then the load fails. */
static int dir_unreadable(const char *dir, int err, rules_report_fn report, void *data)
{
	if (err == ENOENT)
		report_fmt(report, data, "%s: no such rules directory", dir);
	else if (err == ENOTDIR)
		report_fmt(report, data, "%s: not a directory", dir);
	else
		report_fmt(report, data, "%s: cannot read the rules dir: %s", dir, strerror(err));
	return -err;
}

/*
 * A default dir may be missing (most systems use one or two of them); a
 * dir the user named must be there: a typo must not load nothing quietly.
 */
static int resolve(char *const *dirs, size_t n_dirs, bool named, bool (*want)(const char *name),
		   char ***ret_paths, size_t *ret_n, rules_report_fn report, void *data)
{
	struct entry *e = NULL;
	size_t n = 0, n_out = 0;
	char **paths = NULL;
	int r = 0;

	for (size_t i = 0; i < n_dirs; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		if (!d) {
			if ((errno == ENOENT || errno == ENOTDIR) && !named)
				continue;
			r = dir_unreadable(dirs[i], errno, report, data);
			continue;
		}
		while ((de = readdir(d))) {
			size_t j;
			char *path;

			if (!want(de->d_name))
				continue;
			if (asprintf(&path, "%s/%s", dirs[i], de->d_name) < 0) {
				closedir(d);
				r = -ENOMEM;
				goto fail;
			}
			for (j = 0; j < n && strcmp(e[j].name, de->d_name); j++)
				;
			if (j < n) {
				/* A later dir's file of the same name replaces it. */
				free(e[j].path);
				e[j].path = path;
				continue;
			}
			if (n % 16 == 0) {
				struct entry *ne = realloc(e, (n + 16) * sizeof(*e));

				if (!ne) {
					free(path);
					closedir(d);
					r = -ENOMEM;
					goto fail;
				}
				e = ne;
			}
			e[n].path = path;
			e[n].name = strdup(de->d_name);
			if (!e[n].name) {
				free(path);
				closedir(d);
				r = -ENOMEM;
				goto fail;
			}
			n++;
		}
		closedir(d);
	}
	if (r < 0)
		goto fail;
	if (n)
		qsort(e, n, sizeof(*e), entry_cmp);
	paths = calloc(n + 1, sizeof(char *));
	if (!paths) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if (is_masked(e[i].path)) {
			free(e[i].path);
		} else {
			paths[n_out++] = e[i].path;
		}
		free(e[i].name);
	}
	free(e);
	*ret_paths = paths;
	*ret_n = n_out;
	return 0;

fail:
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].path);
	}
	free(e);
	return r;
}

int rules_dirs_resolve(char *const *dirs, size_t n_dirs, char ***ret_paths, size_t *ret_n)
{
	return resolve(dirs, n_dirs, false, is_rule_name, ret_paths, ret_n, NULL, NULL);
}

int rules_dirs_resolve_all(char *const *dirs, size_t n_dirs, char ***ret_paths, size_t *ret_n)
{
	return resolve(dirs, n_dirs, false, is_visible, ret_paths, ret_n, NULL, NULL);
}

static int read_rule_file(const char *path, bool check_perms, char **ret_buf, size_t *ret_len,
			  rules_report_fn report, void *data)
{
	char why[64], rwhy[PATH_MAX + 96], *buf = NULL;
	const char *problem;
	size_t len = 0;
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		report_fmt(report, data, "%s: cannot open: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		report_fmt(report, data, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		report_fmt(report, data, "%s: not a regular file", path);
		goto out;
	}
	if (check_perms && ((problem = rules_perms_problem(&st, why, sizeof(why))) ||
			    (problem = rules_real_dir_problem(path, rwhy, sizeof(rwhy))))) {
		r = -EPERM;
		report_fmt(report, data, "%s: %s, refusing to load it", path, problem);
		goto out;
	}
	if (st.st_size > RULE_FILE_MAX) {
		r = -EFBIG;
		report_fmt(report, data, "%s: larger than %d bytes, refusing to load it", path, RULE_FILE_MAX);
		goto out;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	r = rules_read_fd(fd, buf, st.st_size, &len);
	if (r < 0) {
		report_fmt(report, data, "%s: cannot read: %s", path, strerror(-r));
		goto out;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* The file of old with this path and source, to keep instead of loading again. */
static struct rules_file *same_file(const struct rules_set *old, unsigned int flags, const char *path,
				    const char *buf, size_t len)
{
	for (size_t i = 0; old && i < old->n_files; i++) {
		struct rules_file *f = old->files[i];

		if (f && f->flags == flags && !strcmp(f->path, path) && f->text_len == len &&
		    !memcmp(f->text, buf, len))
			return f;
	}
	return NULL;
}

static int add_file(struct rules_set *rs, struct rules_file *f)
{
	if (rs->n_files % 16 == 0) {
		struct rules_file **nf = realloc(rs->files, (rs->n_files + 16) * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		rs->files = nf;
	}
	rs->files[rs->n_files++] = f;
	return 0;
}

static int load_file(struct rules_set *rs, const struct rules_set *old, const char *path,
		     char *const *dirs, size_t n_dirs,
		     rules_report_fn report, void *data)
{
	struct rules_file *f;
	char err[1024], *buf = NULL;
	size_t len = 0;
	int r;

	r = read_rule_file(path, rs->flags & RULES_CHECK_PERMS, &buf, &len, report, data);
	if (r < 0)
		return r;
	f = same_file(old, rs->flags, path, buf, len);
	if (f) {
		free(buf);
		/* Borrowed until the new set is complete: a failed reload leaves old whole. */
		r = add_file(rs, f);
		if (r == 0)
			rs->n_kept++;
		return r;
	}
	f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path))) {
		free(f);
		free(buf);
		return -ENOMEM;
	}
	f->flags = rs->flags;
	f->dry = rs->dry;
	f->dry_data = rs->dry_data;
	f->dirs = dirs;
	f->n_dirs = n_dirs;
	f->base = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;
	f->text = buf;
	f->text_len = len;
	r = rules_file_load(f, buf, len, err, sizeof(err));
	f->dirs = NULL;
	f->n_dirs = 0;
	if (r < 0) {
		report_fmt(report, data, "%s", err);
		rules_file_free(f);
		return r;
	}
	r = add_file(rs, f);
	if (r < 0)
		rules_file_free(f);
	return r;
}

static int index_rule(struct rules_set *rs, struct rule *r)
{
	for (int t = 0; t < _NLH_EV_MAX; t++) {
		struct rule **ni;

		if (!(r->types & NLH_TYPE_BIT(t)))
			continue;
		ni = realloc(rs->index[t], (rs->n_index[t] + 1) * sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		rs->index[t] = ni;
		ni[rs->n_index[t]++] = r;
	}
	return 0;
}

static bool dir_perms_ok(const char *dir, rules_report_fn report, void *data)
{
	const char *problem;
	struct stat st;
	char why[64];

	if (stat(dir, &st) < 0)
		return true;	/* a missing dir holds no rules; resolve() reports the rest */
	problem = rules_perms_problem(&st, why, sizeof(why));
	if (!problem)
		return true;
	report_fmt(report, data, "%s: rules dir %s, refusing to load from it", dir, problem);
	return false;
}

static bool lent_by(const struct rules_set *old, const struct rules_file *f)
{
	for (size_t i = 0; old && i < old->n_files; i++)
		if (old->files[i] == f)
			return true;
	return false;
}

/* The files the new set kept from old are its own now; their rules start afresh where they had failed. */
static void take_kept(struct rules_set *rs)
{
	struct rules_set *old = rs->old;

	rs->old = NULL;
	for (size_t i = 0; old && i < old->n_files; i++) {
		struct rules_file *f = old->files[i];

		if (!lent_by(rs, f))
			continue;
		old->files[i] = NULL;
		for (size_t j = 0; j < f->n_rules; j++) {
			f->rules[j]->st.disabled = false;
			f->rules[j]->consecutive_errors = 0;
			free(f->rules[j]->disabled_reason);
			f->rules[j]->disabled_reason = NULL;
		}
	}
}

static int load_set(struct rules_set **ret, struct rules_set *old, char *const *dirs, size_t n_dirs,
		    unsigned int flags, rules_report_fn report, void *data)
{
	char **good_dirs = NULL, **paths = NULL;
	size_t n_good = 0, n_paths = 0;
	struct rules_set *rs;
	bool failed = false;
	int r;

	rs = calloc(1, sizeof(*rs));
	good_dirs = calloc(n_dirs + 1, sizeof(char *));
	if (!rs || !good_dirs) {
		r = -ENOMEM;
		goto fail;
	}
	rs->flags = flags;
	rs->old = old;
	for (size_t i = 0; i < n_dirs; i++) {
		if ((flags & RULES_CHECK_PERMS) && !dir_perms_ok(dirs[i], report, data)) {
			failed = true;
			continue;
		}
		good_dirs[n_good++] = dirs[i];
	}
	r = resolve(good_dirs, n_good, flags & RULES_DIRS_NAMED, is_rule_name, &paths, &n_paths, report, data);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < n_paths; i++) {
		r = load_file(rs, old, paths[i], good_dirs, n_good, report, data);
		if (r == -ENOMEM)
			goto fail;
		if (r < 0)
			failed = true;
	}
	if (failed && !(flags & RULES_KEEP_GOING)) {
		r = -EINVAL;
		goto fail;
	}
	for (size_t i = 0; i < rs->n_files; i++) {
		struct rules_file *f = rs->files[i];

		for (size_t j = 0; j < f->n_rules; j++) {
			r = index_rule(rs, f->rules[j]);
			if (r < 0)
				goto fail;
			rs->n_rules++;
		}
	}
	for (size_t i = 0; i < n_paths; i++)
		free(paths[i]);
	free(paths);
	free(good_dirs);
	take_kept(rs);
	*ret = rs;
	return 0;

fail:
	if (r == -ENOMEM)
		report_fmt(report, data, "out of memory loading the rules");
	for (size_t i = 0; i < n_paths; i++)
		free(paths[i]);
	free(paths);
	free(good_dirs);
	rules_set_free(rs);
	return r;
}

int rules_set_load(struct rules_set **ret, char *const *dirs, size_t n_dirs, unsigned int flags,
		   rules_report_fn report, void *data)
{
	return load_set(ret, NULL, dirs, n_dirs, flags, report, data);
}

int rules_set_reload(struct rules_set **ret, struct rules_set *old, char *const *dirs, size_t n_dirs,
		     unsigned int flags, rules_report_fn report, void *data)
{
	int r = load_set(ret, old, dirs, n_dirs, flags, report, data);

	if (r == 0 && (*ret)->n_kept)
		log_info("reload: %zu of %zu rule files unchanged, kept with their state", (*ret)->n_kept,
			 (*ret)->n_files);
	return r;
}

void rules_set_dry_run(struct rules_set *rs, rules_dry_fn fn, void *data)
{
	rs->dry = fn;
	rs->dry_data = data;
	for (size_t i = 0; i < rs->n_files; i++) {
		rs->files[i]->dry = fn;
		rs->files[i]->dry_data = data;
	}
}

void rules_set_free(struct rules_set *rs)
{
	if (!rs)
		return;
	/* A failed reload's set gives back what old lent it; the rest retires. */
	for (size_t i = 0; i < rs->n_files; i++)
		if (rs->files[i] && !lent_by(rs->old, rs->files[i]))
			rules_file_retire(rs->files[i]);
	free(rs->files);
	for (int t = 0; t < _NLH_EV_MAX; t++)
		free(rs->index[t]);
	free(rs);
}

size_t rules_set_count(const struct rules_set *rs)
{
	return rs ? rs->n_rules : 0;
}

/* Dispatch */

static void debounce_fire(void *data)
{
	struct rule *r = data;
	struct nlh_event *ev = r->debounced;

	r->debounced = NULL;
	if (ev && !r->st.disabled)
		rule_run(r, ev);
	free(ev);
}

/* A token bucket: `rate` runs per second, bursts of up to max(rate, 1). */
static bool rate_allow(struct rule *r)
{
	double now = loop_now(), burst = r->rate > 1 ? r->rate : 1;

	r->tokens += (now - r->tokens_time) * r->rate;
	r->tokens_time = now;
	if (r->tokens > burst)
		r->tokens = burst;
	if (r->tokens < 1)
		return false;
	r->tokens -= 1;
	return true;
}

static void rule_fire(struct rule *r, const struct nlh_event *ev)
{
	if (r->debounce > 0) {
		struct nlh_event *copy = nlh_event_copy(ev);

		if (!copy) {
			log_err("rule %s: out of memory, event dropped", r->name);
			return;
		}
		if (!r->debounce_timer && !(r->debounce_timer = loop_timer_new(debounce_fire, r))) {
			free(copy);
			log_err("rule %s: out of memory, event dropped", r->name);
			return;
		}
		/* Quiet for `debounce` seconds since the last event: run with that one. */
		free(r->debounced);
		r->debounced = copy;
		loop_timer_arm(r->debounce_timer, r->debounce);
		return;
	}
	if (r->rate > 0 && !rate_allow(r)) {
		r->st.rate_dropped++;
		log_debug("rule %s: over its rate of %g/s, %s skipped (%llu so far)", r->name, r->rate,
			  nlh_event_type_name(ev->type), (unsigned long long)r->st.rate_dropped);
		return;
	}
	rule_run(r, ev);
}

void rules_set_dispatch(struct rules_set *rs, const struct nlh_event *ev)
{
	enum nlh_class c;

	if (!rs || (unsigned int)ev->type >= _NLH_EV_MAX)
		return;
	c = nlh_event_type_class(ev->type);
	for (size_t i = 0; i < rs->n_index[ev->type]; i++) {
		struct rule *r = rs->index[ev->type][i];

		if (r->st.disabled || !nlh_match_terms(r->terms[c], r->n_terms[c], ev))
			continue;
		if (r->has_func[c] && !rule_predicates(r, ev))
			continue;
		if (r->st.disabled)
			continue;
		r->st.hits++;
		if (rs->flags & RULES_DRY_RUN)
			rules_dry(r->file, "match", r->name, NULL);
		rule_fire(r, ev);
	}
}

/* What the set wants */

/*
 * nflog has one socket bound to chosen groups: the groups are those that
 * rules name with plain numbers (nlhook.on refuses an "nflog" rule without
 * them).  A rule that gets nflog through a type glob adds its plain
 * numbers, if any, and otherwise sees the hits of the groups others bind.
 */
/*
 * Whether the rule can want events of a namespace: its netns terms
 * (those its classes have) let the name through, or it has none.  A
 * predicate on netns is left to dispatch.
 */
static bool rule_in_netns(const struct rule *r, const char *netns)
{
	for (int c = 0; c < _NLH_CLASS_MAX; c++) {
		struct nlh_event ev = { .netns = netns, .nsid = -1 };
		bool ok = true;

		if (!(r->types & nlh_class_types(c)))
			continue;
		for (size_t i = 0; i < r->n_terms[c]; i++)
			if (r->terms[c][i].field == &nlh_field_netns && r->terms[c][i].pat.kind != NLH_PAT_FUNC &&
			    !nlh_pattern_match(&r->terms[c][i].pat, &ev, &nlh_field_netns))
				ok = false;
		if (ok)
			return true;
	}
	return false;
}

void rules_set_want(const struct rules_set *rs, const char *netns, struct nlh_want *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!rs)
		return;
	for (int t = 0; t < _NLH_EV_MAX; t++) {
		for (size_t i = 0; i < rs->n_index[t]; i++) {
			const struct rule *r = rs->index[t][i];

			if (!rule_in_netns(r, netns))
				continue;
			ret->types |= NLH_TYPE_BIT(t);
			if (t != NLH_EV_NFLOG)
				continue;
			for (size_t j = 0; j < r->n_terms[NLH_CLASS_NFLOG]; j++)
				if (!strcmp(r->terms[NLH_CLASS_NFLOG][j].field->name, "group"))
					nlh_pattern_want_groups(&r->terms[NLH_CLASS_NFLOG][j].pat, ret);
		}
	}
}

/* Stats */

static void rule_stats_get(const struct rule *r, struct rule_stats *st)
{
	*st = r->st;
	st->disabled_reason = r->st.disabled ? r->disabled_reason : NULL;
	st->name = r->name;
	st->where = r->where;
	st->file = r->file->path;
	st->action = r->action_path;
	st->types = r->types;
	st->execs_running = r->q ? exec_queue_running(r->q) : 0;
	st->execs_pending = r->q ? exec_queue_pending(r->q) : 0;
}

void rules_set_foreach_rule(const struct rules_set *rs, void (*cb)(const struct rule_stats *st, void *data),
			    void *data)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n_files; i++) {
		const struct rules_file *f = rs->files[i];

		for (size_t j = 0; j < f->n_rules; j++) {
			struct rule_stats st;

			rule_stats_get(f->rules[j], &st);
			cb(&st, data);
		}
	}
}

struct status_ctx {
	struct sbuf *out;
	bool first;
};

static void status_one(const struct rule_stats *st, void *data)
{
	struct status_ctx *s = data;
	bool first_type = true;

	sbuf_puts(s->out, s->first ? "{\"name\":" : ",{\"name\":");
	s->first = false;
	sbuf_json_str(s->out, st->name, strlen(st->name));
	sbuf_puts(s->out, ",\"where\":");
	sbuf_json_str(s->out, st->where, strlen(st->where));
	sbuf_puts(s->out, ",\"file\":");
	sbuf_json_str(s->out, st->file, strlen(st->file));
	sbuf_puts(s->out, ",\"types\":[");
	for (int t = 0; t < _NLH_EV_MAX; t++) {
		if (!(st->types & NLH_TYPE_BIT(t)))
			continue;
		sbuf_printf(s->out, "%s\"%s\"", first_type ? "" : ",", nlh_event_type_name(t));
		first_type = false;
	}
	sbuf_printf(s->out, "],\"hits\":%llu,\"runs\":%llu,\"rate_dropped\":%llu,\"exec_dropped\":%llu,"
		    "\"after_dropped\":%llu,\"errors\":%llu,\"stuck\":%llu,\"time\":%.6f,"
		    "\"execs_running\":%u,\"execs_pending\":%u,\"disabled\":%s",
		    (unsigned long long)st->hits, (unsigned long long)st->runs,
		    (unsigned long long)st->rate_dropped, (unsigned long long)st->exec_dropped,
		    (unsigned long long)st->after_dropped, (unsigned long long)st->errors,
		    (unsigned long long)st->stuck, st->time, st->execs_running, st->execs_pending,
		    st->disabled ? "true" : "false");
	if (st->disabled) {
		const char *why = st->disabled_reason ? st->disabled_reason : "repeated failures";

		sbuf_puts(s->out, ",\"disabled_reason\":");
		sbuf_json_str(s->out, why, strlen(why));
	}
	sbuf_puts(s->out, "}");
}

void rules_set_status(const struct rules_set *rs, struct sbuf *out)
{
	struct status_ctx s = { out, true };

	sbuf_puts(out, ",\"rules\":[");
	rules_set_foreach_rule(rs, status_one, &s);
	sbuf_puts(out, "]");
}

/* Stuck rules from a previous run */

struct stuck_record {
	char path[4096];
	uint64_t hash;
	unsigned long secs;
	char rule[512];
};

static int stuck_read(struct stuck_record *ret)
{
	FILE *f;
	int n;

	if (!rules_stuck_path || !(f = fopen(rules_stuck_path, "re")))
		return -ENOENT;
	n = fscanf(f, "%4095[^\n]\n%" SCNu64 "\n%lu\n%511[^\n]", ret->path, &ret->hash, &ret->secs, ret->rule);
	fclose(f);
	return n == 4 ? 0 : -EBADMSG;
}

void rules_set_apply_stuck(struct rules_set *rs)
{
	struct stuck_record rec;
	bool applied = false;

	if (stuck_read(&rec) < 0)
		return;
	for (size_t i = 0; rs && i < rs->n_files; i++) {
		struct rules_file *f = rs->files[i];
		char *why;

		if (strcmp(f->path, rec.path) || f->text_hash != rec.hash)
			continue;
		if (asprintf(&why, "stuck: rule %s ran for %lu s in the previous run and the daemon was aborted; "
			     "change the file or reload the rules to enable it", rec.rule, rec.secs) < 0)
			why = NULL;
		for (size_t j = 0; j < f->n_rules; j++) {
			f->rules[j]->st.disabled = true;
			free(f->rules[j]->disabled_reason);
			f->rules[j]->disabled_reason = why ? strdup(why) : NULL;
		}
		log_err("%s: disabled: rule %s ran for %lu s in the previous run and the daemon was aborted "
			"(change the file or reload the rules to enable it)", f->path, rec.rule, rec.secs);
		free(why);
		applied = true;
	}
	/* The file changed or went away: the record has done its job. */
	if (!applied)
		rules_stuck_forget();
}

void rules_stuck_forget(void)
{
	if (rules_stuck_path)
		unlink(rules_stuck_path);
}
