/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "filter.h"

int nlh_filter_add(struct nlh_filter *f, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	struct nlh_filter_term *t, *terms;
	bool any = false, found = false;
	char why[160] = "", other[160];

	if (!eq) {
		nlh_typeset set = nlh_event_types_glob(arg);

		if (!set) {
			snprintf(err, errlen, "no event type matches '%s'", arg);
			return -EINVAL;
		}
		f->types |= set;
		return 0;
	}
	if (eq == arg) {
		snprintf(err, errlen, "'%s': FIELD=PATTERN needs a field", arg);
		return -EINVAL;
	}
	terms = realloc(f->terms, (f->n_terms + 1) * sizeof(*terms));
	if (!terms)
		return -ENOMEM;
	f->terms = terms;
	t = &terms[f->n_terms];
	memset(t, 0, sizeof(*t));
	t->field = strndup(arg, eq - arg);
	if (!t->field)
		return -ENOMEM;
	f->n_terms++;
	/* Naming namespaces asks for them. */
	if (!strcmp(t->field, "netns") || !strcmp(t->field, "nsid"))
		f->all_netns = true;
	/*
	 * A field of the same name may have another type in another class
	 * (dst: a route's prefix, a packet's address): the term applies to
	 * the classes where the pattern makes sense, and fails only if none.
	 */
	for (int c = 0; c < _NLH_CLASS_MAX; c++) {
		const struct nlh_field *fd = nlh_field_find(c, t->field);
		int r;

		if (!fd)
			continue;
		found = true;
		/* The first class's reason is the one told. */
		r = nlh_pattern_from_string(eq + 1, fd, &t->pat[c], why[0] ? other : why, sizeof(why));
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			continue;
		t->has[c] = any = true;
	}
	if (!found) {
		snprintf(err, errlen, "'%s': no event has a field '%s'", arg, t->field);
		return -EINVAL;
	}
	if (!any) {
		snprintf(err, errlen, "'%s': %s", arg, why);
		return -EINVAL;
	}
	return 0;
}

int nlh_filter_check(const struct nlh_filter *f, char *err, size_t errlen)
{
	unsigned int classes = 0;

	/* With no type named, a field names the classes that have it. */
	if (!f->types)
		return 0;
	for (int t = 0; t < _NLH_EV_MAX; t++)
		if (f->types & NLH_TYPE_BIT(t))
			classes |= 1u << nlh_event_type_class(t);
	for (size_t i = 0; i < f->n_terms; i++)
		for (int c = 0; c < _NLH_CLASS_MAX; c++) {
			if (!(classes & (1u << c)) || f->terms[i].has[c])
				continue;
			/* Such an event would never show: say so, as nlhook check does for a rule. */
			if (nlh_field_find(c, f->terms[i].field))
				snprintf(err, errlen, "'%s': its pattern does not fit that field of %s events",
					 f->terms[i].field, nlh_classes[c].name);
			else
				snprintf(err, errlen, "'%s' is not a field of %s events", f->terms[i].field,
					 nlh_classes[c].name);
			return -EINVAL;
		}
	return 0;
}

int nlh_filter_add_escaped(struct nlh_filter *f, const char *s, size_t len, char *err, size_t errlen)
{
	char *arg = malloc(len + 1);
	int n, r;

	if (!arg)
		return -ENOMEM;
	n = nlh_text_unescape(s, len, arg, len, true);
	if (n < 0 || memchr(arg, '\0', n)) {
		free(arg);
		snprintf(err, errlen, "'%.*s': not text as nlhook writes it", (int)(len > 128 ? 128 : len), s);
		return -EINVAL;
	}
	arg[n] = '\0';
	r = nlh_filter_add(f, arg, err, errlen);
	free(arg);
	return r;
}

bool nlh_filter_match(const struct nlh_filter *f, const struct nlh_event *ev)
{
	enum nlh_class c = nlh_event_type_class(ev->type);

	if (f->types && !(f->types & NLH_TYPE_BIT(ev->type)))
		return false;
	/* Other namespaces' events only when asked for: all_netns, or a netns term. */
	if (ev->netns && !f->all_netns)
		return false;
	for (size_t i = 0; i < f->n_terms; i++) {
		const struct nlh_filter_term *t = &f->terms[i];

		if (!t->has[c] || !nlh_pattern_match(&t->pat[c], ev, nlh_field_find(c, t->field)))
			return false;
	}
	return true;
}

void nlh_filter_want(const struct nlh_filter *f, struct nlh_want *want)
{
	want->types |= f->types ? f->types : ~(nlh_typeset)0;
	for (size_t i = 0; i < f->n_terms; i++)
		if (f->terms[i].has[NLH_CLASS_NFLOG] && !strcmp(f->terms[i].field, "group"))
			nlh_pattern_want_groups(&f->terms[i].pat[NLH_CLASS_NFLOG], want);
}

void nlh_filter_clear(struct nlh_filter *f)
{
	for (size_t i = 0; i < f->n_terms; i++) {
		for (int c = 0; c < _NLH_CLASS_MAX; c++)
			if (f->terms[i].has[c])
				nlh_pattern_clear(&f->terms[i].pat[c]);
		free(f->terms[i].field);
	}
	free(f->terms);
	memset(f, 0, sizeof(*f));
}

int nlh_monitor_text(const struct nlh_event *ev, bool timestamp, bool all_netns, char *buf, size_t size)
{
	int n;

	if (!all_netns)
		return nlh_event_text(ev, timestamp, buf, size);
	n = snprintf(buf, size, "[%.64s] ", ev->netns ? ev->netns : "current");
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return nlh_event_text(ev, timestamp, buf + n, size - n) < 0 ? -ENOSPC : (int)strlen(buf);
}
