/* SPDX-License-Identifier: Apache-2.0 */
/*
 * datapath: loads bpf/redirect.bpf.c, attaches it to the cgroup v2 root
 * through links pinned in bpffs, and answers "where did this accepted socket
 * want to go, and who asked".
 *
 * Pinned links outlive the agent: while it is down, selected jobs get
 * connection refused (fail closed). A new agent swaps its programs into the
 * pinned links atomically instead of attaching twice. datapath_detach()
 * removes the links. Return convention: 0 or a negative errno; errors are
 * logged by the function that saw them.
 */
#ifndef SLUICE_DATAPATH_H
#define SLUICE_DATAPATH_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "redirect.h"

struct datapath;

struct datapath_target {
	uint8_t addr[16];  /* v4-mapped for IPv4 */
	uint8_t prefix;    /* 0..128 */
	uint16_t port;     /* host byte order */
	uint32_t target_id;
};

struct datapath_config {
	const char *bpffs_dir;       /* pins live here */
	const char *cgroup_root;     /* cgroup2 mount point */
	uint32_t listen4_ip;         /* network byte order */
	uint16_t listen4_port;       /* host byte order */
	uint8_t listen6_ip[16];
	uint16_t listen6_port;       /* host byte order; 0: no IPv6 listener */
	bool pin;                    /* false: links die with the agent (fail open) */
	int listen_fds[2];           /* the agent's listeners (-1: none) */
	const struct datapath_target *targets;
	size_t ntargets;
	const uint64_t *cgroup_ids;  /* selected subtrees */
	const unsigned *cgroup_levels; /* level of each, root = 0 */
	const char *const *cgroup_paths; /* relative to the root, for cgroup_mkdir */
	size_t ncgroups;
	const uint32_t *uids;        /* selected users */
	size_t nuids;
};

/* Entries each selection map holds (bpf/redirect.bpf.c). */
#define DATAPATH_MAX_ENTRIES 4096

/* Does cfg's selection fit the kernel maps (of the running dp, whose
 * retired targets take room; NULL: at start)? 0, or -E2BIG with *why. */
int datapath_check(const struct datapath *dp, const struct datapath_config *cfg,
		   const char **why);

/* Check the kernel, load, fill the maps, attach or adopt. */
int datapath_start(const struct datapath_config *cfg, struct datapath **out);

/* Put a reloaded policy's targets and selection in the running maps, in
 * place: added ones first, then removed ones go (a removed target stays,
 * retired: SLUICE_TARGET_RETIRED). Live sessions are not touched. Only the
 * selection fields of cfg are read. */
int datapath_update(struct datapath *dp, const struct datapath_config *cfg);

/* The origin of a socket accepted on the agent's listener: 0, or -ENOENT
 * when the socket was not redirected by us. */
int datapath_origin(struct datapath *r, int accepted_fd, struct sluice_origin *out);

/* Mark a socket of the agent's before it connects: never redirected. */
int datapath_mark_upstream(struct datapath *dp, int fd);

/* Did process tgid exec after since_ns (boot-time ns)? Then the executable
 * seen now is not the one that connected. */
bool datapath_exec_since(struct datapath *dp, uint32_t tgid, uint64_t since_ns);

/* Release the agent's handles. Pinned links stay attached. */
void datapath_close(struct datapath *r);

/* Detach and unpin every link under bpffs_dir; 0 also when none was there. */
int datapath_detach(const char *bpffs_dir);

#endif
