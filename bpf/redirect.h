/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types shared by redirect.bpf.c and its loader (userspace/redirect.c).
 * Fixed-width kernel types only: no pointers, no libc.
 *
 * Addresses are 16 bytes in network byte order, IPv4 v4-mapped
 * (::ffff:a.b.c.d), so one key shape serves both families. Ports are in host
 * byte order unless a field says otherwise.
 */
#ifndef SLUICE_REDIRECT_H
#define SLUICE_REDIRECT_H

#define SLUICE_COMM_LEN 16
/* Deepest cgroup level the kernel checks for a selected ancestor. */
#define SLUICE_MAX_CGROUP_LEVEL 64

/* Key of the targets LPM trie: the port is matched in full, then the
 * address by prefix, so prefixlen = 16 + address prefix bits. */
struct sluice_target_key {
	__u32 prefixlen;
	__u8 port[2];   /* network byte order */
	__u8 addr[16];
};

/* The target id of an address a reload removed from the policy: its
 * connections still reach the agent, which refuses them (a reload never
 * lets a selected job around the agent), until the agent restarts. */
#define SLUICE_TARGET_RETIRED 0xffffffffu

/* Where a redirected socket wanted to go and who asked. Stored on the job's
 * socket at connect(), copied to the agent's accepted socket at accept. */
struct sluice_origin {
	__u8 daddr[16];
	__u16 dport;
	__u16 family;      /* AF_INET or AF_INET6: the family of the job's socket */
	__u32 target_id;   /* index of the target in the policy */
	__u64 cgroup_id;   /* the task's cgroup v2 id at connect() */
	__u32 pid;         /* thread id, in the initial pid namespace */
	__u32 tgid;        /* process id */
	__u32 uid;
	__u32 gid;
	__u64 connect_ns;  /* bpf_ktime_get_ns() at connect() */
	char comm[SLUICE_COMM_LEN];
};

/* Key of the hand-off map: the job socket's 4-tuple as the agent's accepted
 * socket sees it reversed. Lives from the job's SYN to the agent's accept. */
struct sluice_tuple {
	__u8 saddr[16]; /* job side */
	__u8 daddr[16]; /* agent listener */
	__u16 sport;
	__u16 dport;
};

/* Longest selected cgroup path the kernel side can compare, with its NUL. */
#define SLUICE_CGROUP_PATH 256

/* Key of selected_paths: a selected cgroup's path relative to the cgroup2
 * root, NUL-padded, so a cgroup made again under that path is selected at
 * once (cgroup_mkdir), before any process can be moved into it. */
struct sluice_cgroup_path {
	char path[SLUICE_CGROUP_PATH];
};

/* Marks on the agent's own sockets (agent_socks), set from user space. */
#define SLUICE_SOCK_LISTENER 1 /* jobs are redirected here */
#define SLUICE_SOCK_UPSTREAM 2 /* never redirected */

/* Settings the agent may change while running (.bss of the program). */
struct sluice_live {
	__u64 cgroup_levels; /* bit n set: some selected cgroup sits at level n */
	__u32 select_uids;   /* nonzero: the selected_uids map has entries */
	__u32 pad;
};

#endif
