/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identity: the facts about who opened a redirected connection.
 *
 * From the origin the kernel recorded at connect() (cgroup id, pid, uid...)
 * it derives the cgroup path, systemd unit or scope, container id, user
 * name and executable. Lookups are cached (cgroup ids are never reused).
 * A fact that cannot be established is left empty, never guessed: a pid
 * that exited, or was reused after the connect, has no exe.
 * Return convention: 0 or a negative errno. Single-threaded.
 */
#ifndef SLUICE_IDENTITY_H
#define SLUICE_IDENTITY_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>

#include "redirect.h"

#define IDENTITY_LINEAGE 8  /* ancestors' executables kept */
#define IDENTITY_CI_VARS 10 /* identity_ci_names */

/* The CI run facts read from the caller's environment, by these names
 * only (GitLab, GitHub Actions, Jenkins): never any other variable. */
extern const char *const identity_ci_names[IDENTITY_CI_VARS];

struct identity_facts {
	uint64_t cgroup_id;
	char cgroup[512];    /* relative to the cgroup2 root; "" if gone */
	char unit[256];      /* deepest *.service or *.scope, or "" */
	char container[128]; /* container id, or "" */
	char user[64];       /* name of uid, or "" */
	char exe[512];       /* /proc/PID/exe at accept, or "" */
	char comm[SLUICE_COMM_LEN];
	uint32_t pid, tgid, uid, gid;
	/* The executables of the caller's parent, its parent, ... up to the
	 * job's top process (the last ancestor in the caller's cgroup). */
	char lineage[IDENTITY_LINEAGE][256];
	unsigned nlineage;
	char ci[IDENTITY_CI_VARS][128]; /* by identity_ci_names; "" when unset */
};

struct identity_resolver;

int identity_resolver_new(const char *cgroup_root, struct identity_resolver **out);
void identity_resolver_free(struct identity_resolver *r);

void identity_resolve(struct identity_resolver *r, const struct sluice_origin *o,
		      struct identity_facts *f);

/* The value of the caller's environment variable name, into out (size
 * bytes with the NUL), if the process that connected is still there.
 * 0, -ENOENT (not set), -E2BIG (longer), -ESRCH (the process is gone or
 * is not the one that connected). The caller wipes out after use. */
int identity_env(struct identity_resolver *r, const struct sluice_origin *o, const char *name,
		 char *out, size_t size);

/* Unit and container id named by a cgroup path (exported for tests). */
void identity_parse_cgroup(const char *path, char *unit, size_t unit_size,
			   char *container, size_t container_size);

#endif
