/* SPDX-License-Identifier: MIT */
/*
 * Rule files, as a user or a package drops them into rules.d: any text is
 * loaded (Lua compile, the sandbox, nlhook.on's types, match tables and
 * options) and, when it loads, gets an event.  Errors, never crashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/loop.h"
#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(const char *msg, void *data)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64], path[96];
	char *dirs[1];
	struct rules_set *rs;
	struct nlh_event ev;
	FILE *f;

	if (!dir[0]) {
		strcpy(dir, "/tmp/nlhook-fuzz-rules-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/50-fuzz.lua", dir);
		loop_init();
		rules_budget = 100000;
		rules_mem_cap = 8 << 20;
	}
	f = fopen(path, "w");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	dirs[0] = dir;
	if (rules_set_load(&rs, dirs, 1, RULES_DRY_RUN, quiet, NULL) == 0) {
		nlh_event_init(&ev, NLH_EV_LINK_UP);
		strcpy(ev.link.ifname, "eth0");
		NLH_SET(&ev, LINK, ifname);
		ev.link.ifindex = 2;
		NLH_SET(&ev, LINK, ifindex);
		rules_set_dispatch(rs, &ev);
		rules_set_free(rs);
	}
	unlink(path);
	return 0;
}
