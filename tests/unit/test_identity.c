// SPDX-License-Identifier: Apache-2.0
/* Unit test: cgroup path parsing of identity.c and cgroupfs.c, table-driven. */
#include <stdio.h>
#include <string.h>

#include "cgroupfs.h"
#include "identity.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct {
	const char *path, *unit, *container;
} cases[] = {
	{ "/", "", "" },
	{ "/ci.slice", "", "" },
	{ "/system.slice/gitlab-runner.service", "gitlab-runner.service", "" },
	{ "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", "" },
	{ "/system.slice/docker-" HEX64 ".scope", "docker-" HEX64 ".scope", HEX64 },
	{ "/docker/" HEX64, "", HEX64 },
	{ "/kubepods.slice/kubepods-pod1.slice/cri-containerd-" HEX64 ".scope",
	  "cri-containerd-" HEX64 ".scope", HEX64 },
	{ "/machine.slice/libpod-" HEX64 ".scope/container", "libpod-" HEX64 ".scope", HEX64 },
	{ "/system.slice/a.service/sub.scope/x", "sub.scope", "" },
	{ "/system.slice/docker-abc.scope", "docker-abc.scope", "" },  /* not 64 hex */
	{ "/x/" HEX64 "0", "", "" },                                    /* 65 hex */
	{ "/.service", "", "" },
};

static const struct {
	const char *path;
	unsigned level;
} levels[] = {
	{ "/", 0 }, { "/a", 1 }, { "/a/b", 2 }, { "/a/b/", 2 }, { "/a//b", 2 }, { "/a/b/c/d", 4 },
};

int main(void)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char unit[256], container[128];

		identity_parse_cgroup(cases[i].path, unit, sizeof(unit), container, sizeof(container));
		if (strcmp(unit, cases[i].unit) || strcmp(container, cases[i].container)) {
			fprintf(stderr, "parse %s: unit \"%s\" container \"%s\", want \"%s\" \"%s\"\n",
				cases[i].path, unit, container, cases[i].unit, cases[i].container);
			failed++;
		}
	}
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		unsigned got = cgroupfs_level(levels[i].path);

		if (got != levels[i].level) {
			fprintf(stderr, "level %s: %u, want %u\n", levels[i].path, got, levels[i].level);
			failed++;
		}
	}
	return failed ? 1 : 0;
}
