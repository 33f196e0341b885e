/* SPDX-License-Identifier: Apache-2.0 */
/*
 * selection: what the data path needs from a policy. Selected cgroups
 * resolved to ids (made when missing, so their id is known before a job
 * lands there), selected users to uids, targets to kernel keys.
 * Return convention: 0 or a negative errno; each problem is added to errs
 * with the JSON path of the field it comes from.
 */
#ifndef SLUICE_SELECTION_H
#define SLUICE_SELECTION_H

#include <stddef.h>
#include <stdint.h>

#include "datapath.h"

struct policy;
struct policy_errors;
struct proxy;

struct selection {
	uint64_t *cgroup_ids;
	unsigned *cgroup_levels;
	size_t ncgroups;
	uint32_t *uids;
	size_t nuids;
	struct datapath_target *targets;
	size_t ntargets;
};

/* root: the cgroup2 mount. */
int selection_build(const struct policy *p, const char *root, struct selection *sel,
		    struct policy_errors *errs);
void selection_free(struct selection *sel);

/* The data path settings for p and sel; the listeners come from px. */
void selection_datapath_config(const struct policy *p, const char *root,
			       const struct selection *sel, const struct proxy *px,
			       struct datapath_config *dc);

#endif
