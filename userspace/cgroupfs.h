/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroupfs: the cgroup v2 hierarchy as the agent needs it.
 *
 * Finds the cgroup2 mount (/sys/fs/cgroup on a pure v2 host,
 * /sys/fs/cgroup/unified on a hybrid one) from /proc/self/mountinfo, and maps
 * between cgroup ids (what BPF reports) and paths relative to that root
 * ("/ci.slice/job-1.scope") by file handle: O(1), no walk of the tree.
 * Return convention: 0 or a negative errno.
 */
#ifndef SLUICE_CGROUPFS_H
#define SLUICE_CGROUPFS_H

#include <stddef.h>
#include <stdint.h>

/* Mount point of the cgroup2 hierarchy, written to buf. */
int cgroupfs_find_root(char *buf, size_t size);

/* Id of the cgroup at root + rel ("/a/b"). */
int cgroupfs_id(const char *root, const char *rel, uint64_t *id);

/* Depth of rel below the root: "/" is 0, "/a" is 1, "/a/b" is 2. */
unsigned cgroupfs_level(const char *rel);

/* Path relative to the root of the cgroup with this id, given the root's
 * mount point and an open fd of it. -ESTALE when the cgroup no longer
 * exists. Needs CAP_DAC_READ_SEARCH. */
int cgroupfs_path(int root_fd, const char *root, uint64_t id, char *buf, size_t size);

#endif
