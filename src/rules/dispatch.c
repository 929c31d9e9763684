/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/json.h"
#include "core/log.h"
#include "core/loop.h"
#include "dispatch.h"
#include "exec/exec.h"
#include "rtnl/opstate.h"
#include "rtnl/rtnl.h"
#include "rules-internal.h"

/* Room for why a script does not run: it may name a directory. */
#define WHY_MAX (4096 + 128)

/* networkd-dispatcher's states that nothing here ever enters: nothing configures links. */
static const char *const nd_never[] = { "configuring", "configured" };

struct script {
	char *path;
	uint64_t runs;		/* started */
	uint64_t failures;	/* did not start, exited non-zero or were killed */
	int last;		/* the last run's exit status (128 + signal; 126, 127: not started); -1: none */
	double refused_logged;	/* when its refusal was last logged */
	struct script *next;
};

/* One subdirectory name across the dirs: an event type's, or a STATE.d. */
struct group {
	char name[32];
	bool nd;		/* networkd-dispatcher's STATE.d */
	bool active;		/* it exists in some dir (as of the last load) */
	struct exec_queue *q;	/* its own, or the one networkd-dispatcher's share */
	struct script *scripts;	/* every one it ran or refused, in the order first seen */
	uint64_t refused;
	uint64_t dropped;	/* EXEC_PENDING_MAX waiting already */
	double dropped_logged;
};

struct wifi_link {
	uint32_t ifindex;
	struct nlh_ssid ssid;	/* len 0: not connected */
};

struct dispatch {
	struct dispatch_config cfg;
	struct group *types[_NLH_EV_MAX];
	struct group *states[_OPSTATE_MAX];
	struct exec_queue *nd_q;
	struct wifi_link *wifi;	/* the daemon's own namespace's, for ESSID and Type */
	size_t n_wifi;
};

struct job {
	struct group *g;
	struct script *s;
};

/* An environment and the blocks its strings live in. */
struct envbuf {
	char **base;		/* the event's own variables */
	struct sbuf vars;	/* NUL-separated "K=V" strings: networkd-dispatcher's */
	char **env;		/* base and vars together; NULL: base alone */
};

static void envbuf_free(struct envbuf *e)
{
	free(e->base);
	sbuf_free(&e->vars);
	free(e->env);
}

static int event_env(struct dispatch *d, const struct group *g, const struct nlh_event *ev, struct envbuf *e);

/* Files */

/* The paths of the subdirectory name in each dir, for the resolver. */
static int group_paths(char *const *dirs, size_t n_dirs, const char *name, char ***ret, size_t *ret_n)
{
	char **subs = calloc(n_dirs ? n_dirs : 1, sizeof(char *));
	int r = 0;

	if (!subs)
		return -ENOMEM;
	for (size_t i = 0; i < n_dirs && r == 0; i++)
		if (asprintf(&subs[i], "%s/%s", dirs[i], name) < 0)
			r = -ENOMEM;
	if (r == 0)
		r = rules_dirs_resolve_all(subs, n_dirs, ret, ret_n);
	for (size_t i = 0; i < n_dirs; i++)
		free(subs[i]);
	free(subs);
	return r;
}

static void paths_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

/*
 * Why a script does not run, or NULL.  *refused: it is one, but someone
 * other than root could change it (or its dir, or the dir above); else it
 * is no script at all (a README, a subdirectory).
 */
static const char *script_problem(const char *path, bool check_perms, char *buf, size_t size, bool *refused)
{
	char dir[4096], why[64], *slash;
	const char *problem;
	struct stat st;

	*refused = false;
	if (stat(path, &st) < 0) {
		snprintf(buf, size, "%s", strerror(errno));
		return buf;
	}
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if (!(st.st_mode & 0111))
		return "not executable";
	if (!check_perms)
		return NULL;
	*refused = true;
	if ((problem = rules_perms_problem(&st, buf, size)) || (problem = rules_real_dir_problem(path, buf, size)))
		return problem;
	snprintf(dir, sizeof(dir), "%s", path);
	for (int up = 0; up < 2 && (slash = strrchr(dir, '/')) && slash != dir; up++) {
		*slash = '\0';
		if (stat(dir, &st) == 0 && (problem = rules_perms_problem(&st, why, sizeof(why)))) {
			snprintf(buf, size, "its directory %s is %s", dir, problem);
			return buf;
		}
	}
	*refused = false;
	return NULL;
}

/* Subdirectories of dirs that are no event type: a typo runs nothing, silently otherwise. */
static nlh_typeset scan_types(char *const *dirs, size_t n_dirs, bool named, dispatch_report_fn report, void *data)
{
	nlh_typeset set = 0;

	for (size_t i = 0; i < n_dirs; i++) {
		DIR *dir = opendir(dirs[i]);
		struct dirent *de;

		if (!dir) {
			/* Most systems have one or two of the default dirs. */
			if (named || errno != ENOENT)
				report(false, dirs[i], strerror(errno), data);
			continue;
		}
		while ((de = readdir(dir))) {
			char path[4096];
			struct stat st;
			int t;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
				report(false, path, "not a directory: scripts go in a subdirectory named for the "
				       "event type (link.up/, net.online/), ignored", data);
				continue;
			}
			t = nlh_event_type_from_name(de->d_name);
			if (t < 0) {
				report(true, path, "not an event type (link.up, net.online, ...), ignored", data);
				continue;
			}
			set |= NLH_TYPE_BIT(t);
		}
		closedir(dir);
	}
	return set;
}

/* Each script of a subdirectory checked: how many would run. */
static size_t check_group(char *const *dirs, size_t n_dirs, const char *name, bool check_perms,
			  dispatch_report_fn report, void *data)
{
	char **paths = NULL, buf[WHY_MAX], msg[WHY_MAX + 32];
	size_t n = 0, ok = 0;

	if (group_paths(dirs, n_dirs, name, &paths, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		bool refused;
		const char *problem = script_problem(paths[i], check_perms, buf, sizeof(buf), &refused);

		if (!problem) {
			ok++;
			continue;
		}
		snprintf(msg, sizeof(msg), refused ? "%s, refusing to run it" : "%s, not run", problem);
		report(refused, paths[i], msg, data);
	}
	paths_free(paths, n);
	return ok;
}

static size_t check_nd(const struct dispatch_config *cfg, dispatch_report_fn report, void *data)
{
	char name[32], **paths;
	size_t ok = 0, n;
	struct stat st;

	for (size_t i = 0; i < cfg->n_nd_dirs; i++) {
		const char *why = stat(cfg->nd_dirs[i], &st) < 0 ? strerror(errno) :
				  !S_ISDIR(st.st_mode) ? "not a directory" : NULL;

		if (!why)
			continue;
		report(false, cfg->nd_dirs[i], why, data);
	}

	for (int s = 0; s < _OPSTATE_MAX; s++) {
		snprintf(name, sizeof(name), "%s.d", opstate_name(s));
		ok += check_group(cfg->nd_dirs, cfg->n_nd_dirs, name, cfg->check_perms, report, data);
	}
	for (size_t i = 0; i < sizeof(nd_never) / sizeof(nd_never[0]); i++) {
		snprintf(name, sizeof(name), "%s.d", nd_never[i]);
		if (group_paths(cfg->nd_dirs, cfg->n_nd_dirs, name, &paths, &n) < 0)
			continue;
		for (size_t j = 0; j < n; j++)
			report(false, paths[j], "never runs: nothing configures links here "
			       "(AdministrativeState is unmanaged)", data);
		paths_free(paths, n);
	}
	return ok;
}

size_t dispatch_check(const struct dispatch_config *cfg, dispatch_report_fn report, void *data)
{
	nlh_typeset set = scan_types(cfg->dirs, cfg->n_dirs, cfg->named, report, data);
	size_t ok = 0;

	for (int t = 0; t < _NLH_EV_MAX; t++)
		if (set & NLH_TYPE_BIT(t))
			ok += check_group(cfg->dirs, cfg->n_dirs, nlh_event_type_name(t), cfg->check_perms, report,
					  data);
	if (cfg->n_nd_dirs)
		ok += check_nd(cfg, report, data);
	return ok;
}

/* The daemon */

int dispatch_new(struct dispatch **ret, const struct dispatch_config *cfg)
{
	struct dispatch *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	for (int s = 0; cfg->n_nd_dirs && s < _OPSTATE_MAX; s++) {
		d->states[s] = calloc(1, sizeof(*d->states[s]));
		if (!d->states[s])
			goto oom;
		snprintf(d->states[s]->name, sizeof(d->states[s]->name), "%s.d", opstate_name(s));
		d->states[s]->nd = true;
	}
	/* One queue for all: networkd-dispatcher runs one script at a time. */
	if (cfg->n_nd_dirs && !(d->nd_q = exec_queue_new("networkd-dispatcher")))
		goto oom;
	*ret = d;
	return 0;
oom:
	dispatch_free(d);
	return -ENOMEM;
}

static void group_free(struct group *g)
{
	if (!g)
		return;
	if (!g->nd)
		exec_queue_free(g->q);
	while (g->scripts) {
		struct script *s = g->scripts;

		g->scripts = s->next;
		free(s->path);
		free(s);
	}
	free(g);
}

void dispatch_free(struct dispatch *d)
{
	if (!d)
		return;
	/* Queues first: their jobs point at the groups. */
	exec_queue_free(d->nd_q);
	for (int t = 0; t < _NLH_EV_MAX; t++)
		group_free(d->types[t]);
	for (int s = 0; s < _OPSTATE_MAX; s++)
		group_free(d->states[s]);
	free(d->wifi);
	free(d);
}

static void log_report(bool error, const char *path, const char *what, void *data)
{
	if (error)
		log_err("dispatch: %s: %s", path, what);
	else
		log_warn("dispatch: %s: %s", path, what);
}

void dispatch_load(struct dispatch *d)
{
	nlh_typeset set = scan_types(d->cfg.dirs, d->cfg.n_dirs, d->cfg.named, log_report, NULL);
	size_t n = 0;

	for (int t = 0; t < _NLH_EV_MAX; t++) {
		struct group *g = d->types[t];

		if (!(set & NLH_TYPE_BIT(t))) {
			if (g)
				g->active = false;
			continue;
		}
		if (!g && !(g = d->types[t] = calloc(1, sizeof(*g)))) {
			log_err("dispatch: out of memory");
			continue;
		}
		snprintf(g->name, sizeof(g->name), "%s", nlh_event_type_name(t));
		g->active = true;
		n += check_group(d->cfg.dirs, d->cfg.n_dirs, g->name, d->cfg.check_perms, log_report, NULL);
	}
	for (int s = 0; d->cfg.n_nd_dirs && s < _OPSTATE_MAX; s++)
		d->states[s]->active = true;
	if (d->cfg.n_nd_dirs)
		n += check_nd(&d->cfg, log_report, NULL);
	if (n)
		log_info("dispatch: %zu scripts", n);
}

static struct script *script_get(struct group *g, const char *path)
{
	struct script **pp = &g->scripts;

	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->path, path))
			return *pp;
	*pp = calloc(1, sizeof(**pp));
	if (*pp && !((*pp)->path = strdup(path))) {
		free(*pp);
		*pp = NULL;
	}
	if (*pp)
		(*pp)->last = -1;
	return *pp;
}

/* exec has logged how it ended (the status, the output): counted here. */
static void job_done(int status, const char *out, size_t out_len, const char *err, size_t err_len, void *data)
{
	struct job *j = data;

	if (status >= 0)
		j->s->runs++;
	j->s->last = rules_exit_status(status);
	if (j->s->last)
		j->s->failures++;
}

static void group_run(struct dispatch *d, struct group *g, const struct nlh_event *ev)
{
	char *const *dirs = g->nd ? d->cfg.nd_dirs : d->cfg.dirs;
	size_t n_dirs = g->nd ? d->cfg.n_nd_dirs : d->cfg.n_dirs, n = 0;
	char **paths = NULL, buf[WHY_MAX], qname[64];
	struct envbuf e = {};
	int r;

	r = group_paths(dirs, n_dirs, g->name, &paths, &n);
	if (r < 0) {
		log_err("dispatch: %s: %s", g->name, strerror(-r));
		return;
	}
	snprintf(qname, sizeof(qname), "dispatch.d/%s", g->name);
	if (n && !g->q && !(g->q = g->nd ? d->nd_q : exec_queue_new(qname))) {
		log_err("dispatch: %s: out of memory", g->name);
		n = 0;
	}
	/* Built once there is something to run: an empty subdirectory costs a readdir. */
	if (n && event_env(d, g, ev, &e) < 0) {
		log_err("dispatch: %s: out of memory, its scripts not run", g->name);
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		char *argv[] = { paths[i], NULL };
		struct exec_opts o = { .argv = argv, .env = e.env ? e.env : e.base, .timeout = rules_exec_timeout };
		bool refused;
		const char *problem = script_problem(paths[i], d->cfg.check_perms, buf, sizeof(buf), &refused);
		struct job *j;

		if (problem) {
			/* Not a script (a README): skipped without a word; a dangerous one is refused. */
			if (refused) {
				struct script *s = script_get(g, paths[i]);

				g->refused++;
				if (!s || rule_drop_log_due(&s->refused_logged))
					log_err("dispatch: %s: %s, refusing to run it (%llu refused so far)", paths[i],
						problem, (unsigned long long)g->refused);
			}
			continue;
		}
		j = calloc(1, sizeof(*j));
		if (!j || !(j->s = script_get(g, paths[i]))) {
			free(j);
			log_err("dispatch: %s: out of memory, not run", paths[i]);
			continue;
		}
		j->g = g;
		r = exec_queue_push(g->q, &o, job_done, j, free);
		if (r == -ENOBUFS) {
			g->dropped++;
			if (rule_drop_log_due(&g->dropped_logged))
				log_warn("dispatch: %s: %d scripts waiting already, %s dropped (%llu dropped so far)",
					 g->name, EXEC_PENDING_MAX, paths[i], (unsigned long long)g->dropped);
		} else if (r < 0) {
			log_err("dispatch: %s: cannot queue: %s", paths[i], strerror(-r));
			j->s->failures++;
		}
		/* A push that failed took nothing. */
		if (r < 0)
			free(j);
	}
	envbuf_free(&e);
	paths_free(paths, n);
}

/* networkd-dispatcher's ESSID and Type "wlan": the links nl80211 spoke of, and what they joined. */
static struct wifi_link *wifi_find(struct dispatch *d, uint32_t ifindex, bool add)
{
	struct wifi_link *w;

	for (size_t i = 0; i < d->n_wifi; i++)
		if (d->wifi[i].ifindex == ifindex)
			return &d->wifi[i];
	if (!add || !(w = realloc(d->wifi, (d->n_wifi + 1) * sizeof(*w))))
		return NULL;
	d->wifi = w;
	w = &d->wifi[d->n_wifi++];
	*w = (struct wifi_link){ .ifindex = ifindex };
	return w;
}

static void wifi_track(struct dispatch *d, const struct nlh_event *ev)
{
	struct wifi_link *w;
	uint32_t ifindex;

	if (ev->netns)
		return;
	if (nlh_event_type_class(ev->type) == NLH_CLASS_WIFI && NLH_HAS(ev, WIFI, ifindex))
		ifindex = ev->wifi.ifindex;
	else if (ev->type == NLH_EV_LINK_DEL)
		ifindex = ev->link.ifindex;
	else
		return;
	w = wifi_find(d, ifindex, ev->type != NLH_EV_LINK_DEL && ev->type != NLH_EV_WIFI_IFACE_DEL);
	if (!w)
		return;
	switch (ev->type) {
	case NLH_EV_WIFI_CONNECT:
	case NLH_EV_WIFI_ROAM:
		if (NLH_HAS(ev, WIFI, ssid))
			w->ssid = ev->wifi.ssid;
		break;
	case NLH_EV_WIFI_DISCONNECT:
		w->ssid.len = 0;
		break;
	case NLH_EV_LINK_DEL:
	case NLH_EV_WIFI_IFACE_DEL:
		*w = d->wifi[--d->n_wifi];
		break;
	default:
		break;
	}
}

struct addr_list {
	uint32_t ifindex;
	struct nlh_event *a;
	size_t n, max;
};

static void addr_collect(const struct nlh_event *ev, void *data)
{
	struct addr_list *l = data;

	if (ev->addr.ifindex != l->ifindex)
		return;
	if (l->n == l->max) {
		size_t m = l->max ? l->max * 2 : 8;
		struct nlh_event *na = realloc(l->a, m * sizeof(*na));

		if (!na)
			return;
		l->a = na;
		l->max = m;
	}
	l->a[l->n++] = *ev;
}

/* IPv4 first, then by scope (global first), primary before secondary, then by address. */
static int addr_cmp(const void *pa, const void *pb)
{
	const struct nlh_addrev *a = &((const struct nlh_event *)pa)->addr, *b = &((const struct nlh_event *)pb)->addr;
	unsigned int sa = opstate_addr_scope(pa), sb = opstate_addr_scope(pb);

	if (a->address.family != b->address.family)
		return a->address.family == AF_INET ? -1 : 1;
	if (sa != sb)
		return sa < sb ? -1 : 1;
	if ((a->flags & IFA_F_SECONDARY) != (b->flags & IFA_F_SECONDARY))
		return a->flags & IFA_F_SECONDARY ? 1 : -1;
	return memcmp(a->address.a, b->address.a, sizeof(a->address.a));
}

static const char *nd_type(const struct nlh_event *ev, bool wifi)
{
	if (ev->link.flags & IFF_LOOPBACK)
		return "loopback";
	if (wifi)
		return "wlan";
	return NLH_HAS(ev, LINK, kind) ? ev->link.kind : "ether";
}

static void json_key_str(struct sbuf *b, const char *key, const char *s, size_t n)
{
	sbuf_printf(b, ",\"%s\":", key);
	sbuf_json_str(b, s, n);
}

/*
 * networkd-dispatcher's variables for a link.state, after the event's own:
 * IFACE, STATE, AdministrativeState, OperationalState, ESSID, ADDR,
 * IP_ADDRS, IP6_ADDRS and json.
 */
static int nd_env(struct dispatch *d, const struct nlh_event *ev, struct envbuf *e)
{
	const struct rtnl *rt = d->cfg.state ? d->cfg.state(d->cfg.data) : NULL;
	struct addr_list l = { .ifindex = ev->link.ifindex };
	struct wifi_link *w = wifi_find(d, ev->link.ifindex, false);
	struct sbuf v4 = {}, v6 = {}, json = {};
	char a[64], first[64] = "", hw[3 * NLH_HWADDR_MAX + 1];
	const char *type = nd_type(ev, w);
	size_t n_base = 0, n_vars = 0;
	int r = -ENOMEM;

	*e = (struct envbuf){ .base = nlh_event_env(ev) };
	if (!e->base)
		return -ENOMEM;
	while (e->base[n_base])
		n_base++;
	if (rt)
		rtnl_state_foreach(rt, NLH_CLASS_ADDR, addr_collect, &l);
	if (l.n)
		qsort(l.a, l.n, sizeof(*l.a), addr_cmp);

	sbuf_puts(&json, "{\"Type\":");
	sbuf_json_str(&json, type, strlen(type));
	json_key_str(&json, "OperationalState", ev->link.state, strlen(ev->link.state));
	sbuf_printf(&json, ",\"AdministrativeState\":\"unmanaged\",\"State\":\"%s (unmanaged)\"", ev->link.state);
	if (NLH_HAS(ev, LINK, mac) && nlh_hwaddr_format(&ev->link.mac, hw, sizeof(hw)) >= 0)
		sbuf_printf(&json, ",\"HW Address\":[\"%s\"]", hw);
	if (NLH_HAS(ev, LINK, mtu))
		sbuf_printf(&json, ",\"MTU\":[\"%u\"]", ev->link.mtu);
	sbuf_puts(&json, ",\"Address\":[");
	for (size_t i = 0; i < l.n; i++) {
		const struct nlh_addr *ad = &l.a[i].addr.address;

		nlh_addr_format(ad, false, a, sizeof(a));
		sbuf_printf(&json, "%s\"%s\"", i ? "," : "", a);
		if (!i)
			snprintf(first, sizeof(first), "%s", a);
		/* As networkd-dispatcher filters them: no loopback, no IPv6 link-local. */
		if (ad->family == AF_INET && ad->a[0] != 127)
			sbuf_printf(&v4, "%s%s", v4.len ? " " : "", a);
		else if (ad->family == AF_INET6 && !(ad->a[0] == 0xfe && (ad->a[1] & 0xc0) == 0x80))
			sbuf_printf(&v6, "%s%s", v6.len ? " " : "", a);
	}
	sbuf_puts(&json, "]");
	if (w)
		json_key_str(&json, "ESSID", (const char *)w->ssid.b, w->ssid.len);
	sbuf_puts(&json, "}");

	sbuf_printf(&e->vars, "IFACE=%s", ev->link.ifname);
	sbuf_printf(&e->vars, "%cSTATE=%s", 0, ev->link.state);
	sbuf_printf(&e->vars, "%cAdministrativeState=unmanaged", 0);
	sbuf_printf(&e->vars, "%cOperationalState=%s", 0, ev->link.state);
	sbuf_printf(&e->vars, "%cESSID=", 0);
	if (w)
		sbuf_add(&e->vars, (const char *)w->ssid.b, strnlen((const char *)w->ssid.b, w->ssid.len));
	sbuf_printf(&e->vars, "%cADDR=%s", 0, first);
	sbuf_printf(&e->vars, "%cIP_ADDRS=%s", 0, v4.p ? v4.p : "");
	sbuf_printf(&e->vars, "%cIP6_ADDRS=%s", 0, v6.p ? v6.p : "");
	sbuf_printf(&e->vars, "%cjson=%s", 0, json.p ? json.p : "");
	if (e->vars.oom || json.oom || v4.oom || v6.oom)
		goto out;
	e->env = calloc(n_base + 10, sizeof(char *));
	if (!e->env)
		goto out;
	memcpy(e->env, e->base, n_base * sizeof(char *));
	/* The buffer no longer moves: point at its strings. */
	for (const char *p = e->vars.p; n_vars < 9; p += strlen(p) + 1)
		e->env[n_base + n_vars++] = (char *)p;
	r = 0;
out:
	free(l.a);
	sbuf_free(&v4);
	sbuf_free(&v6);
	sbuf_free(&json);
	if (r < 0) {
		envbuf_free(e);
		*e = (struct envbuf){};
	}
	return r;
}

static int event_env(struct dispatch *d, const struct group *g, const struct nlh_event *ev, struct envbuf *e)
{
	if (g->nd)
		return nd_env(d, ev, e);
	*e = (struct envbuf){ .base = nlh_event_env(ev) };
	return e->base ? 0 : -ENOMEM;
}

void dispatch_event(struct dispatch *d, const struct nlh_event *ev)
{
	struct group *g;
	int s;

	if (!d || (unsigned int)ev->type >= _NLH_EV_MAX)
		return;
	if (d->cfg.n_nd_dirs)
		wifi_track(d, ev);
	g = d->types[ev->type];
	if (g && g->active)
		group_run(d, g, ev);
	/* networkd-dispatcher knows the host's links, and their changes only. */
	if (!d->cfg.n_nd_dirs || ev->type != NLH_EV_LINK_STATE || ev->netns || !NLH_HAS(ev, LINK, prev_state))
		return;
	s = opstate_from_name(ev->link.state);
	if (s >= 0 && (g = d->states[s]))
		group_run(d, g, ev);
}

void dispatch_want(const struct dispatch *d, const char *netns, struct nlh_want *ret)
{
	if (!d)
		return;
	for (int t = 0; t < _NLH_EV_MAX; t++)
		if (d->types[t] && d->types[t]->active)
			ret->types |= NLH_TYPE_BIT(t);
	if (d->cfg.n_nd_dirs && !netns)
		ret->types |= NLH_TYPE_BIT(NLH_EV_WIFI_CONNECT) | NLH_TYPE_BIT(NLH_EV_WIFI_ROAM) |
			      NLH_TYPE_BIT(NLH_EV_WIFI_DISCONNECT) | NLH_TYPE_BIT(NLH_EV_WIFI_IFACE_NEW) |
			      NLH_TYPE_BIT(NLH_EV_WIFI_IFACE_DEL);
}

static void status_strv(struct sbuf *out, const char *sep, const char *key, char *const *v, size_t n)
{
	sbuf_printf(out, "%s\"%s\":[", sep, key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sbuf_puts(out, ",");
		sbuf_json_str(out, v[i], strlen(v[i]));
	}
	sbuf_puts(out, "]");
}

static void status_group(const struct dispatch *d, const struct group *g, bool *first, struct sbuf *out)
{
	char *const *dirs = g->nd ? d->cfg.nd_dirs : d->cfg.dirs;
	size_t n_dirs = g->nd ? d->cfg.n_nd_dirs : d->cfg.n_dirs, n = 0;
	char **paths = NULL, buf[WHY_MAX];

	if (!g->active || group_paths(dirs, n_dirs, g->name, &paths, &n) < 0)
		return;
	/* An empty STATE.d or none: nothing to say. */
	if (!n && g->nd && !g->scripts) {
		free(paths);
		return;
	}
	sbuf_puts(out, *first ? "{\"name\":" : ",{\"name\":");
	*first = false;
	sbuf_json_str(out, g->name, strlen(g->name));
	sbuf_printf(out, ",\"networkd_dispatcher\":%s,\"refused\":%llu,\"dropped\":%llu,\"running\":%u,"
		    "\"pending\":%u,\"scripts\":[", g->nd ? "true" : "false", (unsigned long long)g->refused,
		    (unsigned long long)g->dropped, g->nd ? 0 : exec_queue_running(g->q),
		    g->nd ? 0 : exec_queue_pending(g->q));
	for (size_t i = 0; i < n; i++) {
		const struct script *s = g->scripts;
		bool refused;
		const char *problem = script_problem(paths[i], d->cfg.check_perms, buf, sizeof(buf), &refused);

		while (s && strcmp(s->path, paths[i]))
			s = s->next;
		sbuf_puts(out, i ? ",{\"path\":" : "{\"path\":");
		sbuf_json_str(out, paths[i], strlen(paths[i]));
		sbuf_printf(out, ",\"runs\":%llu,\"failures\":%llu,\"last_status\":",
			    (unsigned long long)(s ? s->runs : 0), (unsigned long long)(s ? s->failures : 0));
		if (s && s->last >= 0)
			sbuf_printf(out, "%d", s->last);
		else
			sbuf_puts(out, "null");
		if (problem) {
			sbuf_puts(out, refused ? ",\"refused\":" : ",\"skipped\":");
			sbuf_json_str(out, problem, strlen(problem));
		}
		sbuf_puts(out, "}");
	}
	sbuf_puts(out, "]}");
	paths_free(paths, n);
}

void dispatch_status(const struct dispatch *d, struct sbuf *out)
{
	bool first = true;

	if (!d)
		return;
	sbuf_puts(out, ",\"dispatch\":{");
	status_strv(out, "", "dirs", d->cfg.dirs, d->cfg.n_dirs);
	status_strv(out, ",", "networkd_dispatcher", d->cfg.nd_dirs, d->cfg.n_nd_dirs);
	sbuf_printf(out, ",\"networkd_dispatcher_running\":%u,\"networkd_dispatcher_pending\":%u,\"subdirs\":[",
		    exec_queue_running(d->nd_q), exec_queue_pending(d->nd_q));
	for (int t = 0; t < _NLH_EV_MAX; t++)
		if (d->types[t])
			status_group(d, d->types[t], &first, out);
	for (int s = 0; s < _OPSTATE_MAX; s++)
		if (d->states[s])
			status_group(d, d->states[s], &first, out);
	sbuf_puts(out, "]}");
}
