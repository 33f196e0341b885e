// SPDX-License-Identifier: Apache-2.0
/* selection: a policy's selection for the data path. See selection.h. */
#include "selection.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroupfs.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"

void selection_free(struct selection *sel)
{
	free(sel->cgroup_ids);
	free(sel->cgroup_levels);
	free(sel->uids);
	free(sel->targets);
	*sel = (struct selection){ 0 };
}

/* A selected cgroup that does not exist yet is made now: its id must be in
 * the kernel's map before the first job lands in it, or that job would go
 * around the agent. */
static int select_cgroup(const char *root, const char *rel, uint64_t *id)
{
	char path[4096];
	int err = cgroupfs_id(root, rel, id);

	if (err != -ENOENT)
		return err;
	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	log_info("created selected cgroup %s", rel);
	return cgroupfs_id(root, rel, id);
}

static int resolve_uid(const char *user, uint32_t *uid)
{
	struct passwd *pw;
	char *end;
	unsigned long v = strtoul(user, &end, 10);

	if (*user && !*end) {
		*uid = (uint32_t)v;
		return 0;
	}
	pw = getpwnam(user);
	if (!pw)
		return -ENOENT;
	*uid = pw->pw_uid;
	return 0;
}

int selection_build(const struct policy *p, const char *root, struct selection *sel,
		    struct policy_errors *errs)
{
	const struct policy_agent *a = &p->agent;
	int err = 0, e;

	*sel = (struct selection){ 0 };
	sel->cgroup_ids = calloc(a->select_cgroups.n + 1, sizeof(*sel->cgroup_ids));
	sel->cgroup_levels = calloc(a->select_cgroups.n + 1, sizeof(*sel->cgroup_levels));
	sel->uids = calloc(a->select_users.n + 1, sizeof(*sel->uids));
	sel->targets = calloc(p->ntargets + 1, sizeof(*sel->targets));
	if (!sel->cgroup_ids || !sel->cgroup_levels || !sel->uids || !sel->targets)
		return -ENOMEM;
	for (size_t i = 0; i < a->select_cgroups.n; i++) {
		const char *rel = a->select_cgroups.v[i];

		if ((e = select_cgroup(root, rel, &sel->cgroup_ids[i]))) {
			policy_errors_add(errs, "$.agent.select.cgroups[%zu]: %s%s: %s", i, root, rel,
					  strerror(-e));
			err = e;
		}
		sel->cgroup_levels[i] = cgroupfs_level(rel);
	}
	sel->ncgroups = a->select_cgroups.n;
	for (size_t i = 0; i < a->select_users.n; i++) {
		if (resolve_uid(a->select_users.v[i], &sel->uids[i])) {
			policy_errors_add(errs, "$.agent.select.users[%zu]: no such user \"%s\"", i,
					  a->select_users.v[i]);
			err = -ENOENT;
		}
	}
	sel->nuids = a->select_users.n;
	for (size_t i = 0; i < p->ntargets; i++) {
		memcpy(sel->targets[i].addr, p->targets[i].net.addr, 16);
		sel->targets[i].prefix = p->targets[i].net.prefix;
		sel->targets[i].port = p->targets[i].net.port;
		sel->targets[i].target_id = (uint32_t)i;
	}
	sel->ntargets = p->ntargets;
	return err;
}

void selection_datapath_config(const struct policy *p, const char *root,
			       const struct selection *sel, const struct proxy *px,
			       struct datapath_config *dc)
{
	const struct sockaddr_in *l4 = (const void *)&p->agent.listen;
	const struct sockaddr_in6 *l6 = (const void *)&p->agent.listen6;

	*dc = (struct datapath_config){
		.bpffs_dir = p->agent.bpffs,
		.cgroup_root = root,
		.listen4_ip = l4->sin_addr.s_addr,
		.listen4_port = ntohs(l4->sin_port),
		.listen6_port = 0,
		.pin = !p->agent.fail_open,
		.targets = sel->targets,
		.ntargets = sel->ntargets,
		.cgroup_ids = sel->cgroup_ids,
		.cgroup_levels = sel->cgroup_levels,
		.cgroup_paths = (const char *const *)p->agent.select_cgroups.v,
		.ncgroups = sel->ncgroups,
		.uids = sel->uids,
		.nuids = sel->nuids,
	};
	memcpy(dc->listen6_ip, &l6->sin6_addr, 16);
	proxy_listen_fds(px, dc->listen_fds);
	if (dc->listen_fds[1] >= 0)
		dc->listen6_port = ntohs(l6->sin6_port);
}
