/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"
#include "nflog/nflog.h"
#include "nl80211/nl80211.h"
#include "rtnl/rtnl.h"

/* Every event source, in start order: rtnl first, the others name links through it. */
static const struct nlh_source_ops *const sources[NLH_NS_SOURCES] = {
	&rtnl_source,
	&nflog_source,
	&nl80211_source,
};

enum { SRC_RTNL, SRC_NFLOG, SRC_NL80211 };

struct nlh_ns {
	char *name;
	int fd;
	struct nlh_sink sink;
	void *src[NLH_NS_SOURCES];
};

static void ns_event(void *data, struct nlh_event *ev)
{
	struct nlh_ns *ns = data;

	ev->netns = ns->name;
	ns->sink.event(ns->sink.data, ev);
}

static const char *ns_ifname(void *data, uint32_t ifindex)
{
	struct nlh_ns *ns = data;

	return ns->src[SRC_RTNL] ? rtnl_ifname(ns->src[SRC_RTNL], ifindex) : NULL;
}

static void ns_link_changed(void *data, const struct nlh_event *link)
{
	struct nlh_ns *ns = data;

	if (ns->src[SRC_NL80211])
		nl80211_link_changed(ns->src[SRC_NL80211], link);
}

struct nlh_ns *nlh_ns_new(const char *name, int fd, const struct nlh_sink *sink)
{
	struct nlh_ns *ns = calloc(1, sizeof(*ns));
	struct nlh_source_env env;

	if (!ns)
		goto fail;
	ns->fd = fd;
	ns->sink = *sink;
	if (name && !(ns->name = strdup(name)))
		goto fail;
	env = (struct nlh_source_env){
		.sink = { ns_event, ns },
		.netns_fd = fd,
		.netns = ns->name,
		.ifname = ns_ifname,
		.link_changed = ns_link_changed,
		.data = ns,
	};
	for (size_t i = 0; i < NLH_NS_SOURCES; i++)
		if (!(ns->src[i] = sources[i]->new(&env)))
			goto fail;
	return ns;
fail:
	if (!ns && fd >= 0)
		close(fd);
	nlh_ns_free(ns);
	return NULL;
}

void nlh_ns_free(struct nlh_ns *ns)
{
	if (!ns)
		return;
	for (size_t i = NLH_NS_SOURCES; i-- > 0;)
		if (ns->src[i])
			sources[i]->free(ns->src[i]);
	if (ns->fd >= 0)
		close(ns->fd);
	free(ns->name);
	free(ns);
}

int nlh_ns_update(struct nlh_ns *ns, const struct nlh_want *want, const char **ret_source)
{
	int first = 0;

	for (size_t i = 0; i < NLH_NS_SOURCES; i++) {
		int r = sources[i]->update(ns->src[i], want);

		if (r < 0 && !first) {
			first = r;
			if (ret_source)
				*ret_source = sources[i]->name;
		}
	}
	return first;
}

const char *nlh_ns_name(const struct nlh_ns *ns)
{
	return ns->name;
}

const struct rtnl *nlh_ns_rtnl(const struct nlh_ns *ns)
{
	return ns->src[SRC_RTNL];
}

const struct nl80211 *nlh_ns_nl80211(const struct nlh_ns *ns)
{
	return ns->src[SRC_NL80211];
}

const char *nlh_ns_source_stats(const struct nlh_ns *ns, size_t i, struct nlh_source_stats *ret)
{
	if (i >= NLH_NS_SOURCES)
		return NULL;
	memset(ret, 0, sizeof(*ret));
	sources[i]->stats(ns->src[i], ret);
	return sources[i]->name;
}
