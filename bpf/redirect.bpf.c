// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Transparent redirect of selected jobs' TCP connections to sluiced.
 *
 * connect4/6   select the socket (caller's cgroup subtree or uid, and a target
 *              destination), remember the origin in the socket's storage and
 *              rewrite the destination to the agent's listener.
 * sockops      at the job's SYN, publish the origin under the 4-tuple; when
 *              the agent's side of that connection is established, move it
 *              into the accepted socket's storage. The agent reads it by fd:
 *              exact per socket, no races, nothing left behind.
 * getpeername  gives the job its original destination back.
 * cgroup_mkdir selects a cgroup made again under a selected path (systemd
 *              does so on every restart of a unit) as it is created.
 * exec         remembers when each process last began an exec, so the agent
 *              can tell an executable that connected from one exec'd since.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "redirect.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader between open and load. */
const volatile __u32 listen4_ip;   /* network byte order */
const volatile __u16 listen4_port; /* network byte order */
const volatile __u32 listen6_ip[4];
const volatile __u16 listen6_port; /* network byte order, 0: no v6 listener */

/* Changed by the agent while running (mmapped .bss). */
struct sluice_live live;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct sluice_target_key);
	__type(value, __u32);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} selected_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} selected_uids SEC(".maps");

/* Origin on the job's socket: dies with it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sluice_origin);
} job_origin SEC(".maps");

/* Origin on the agent's accepted socket: dies with it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sluice_origin);
} agent_origin SEC(".maps");

/* The agent's own sockets: its listeners and its upstream connections. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} agent_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sluice_cgroup_path);
	__type(value, __u8);
} selected_paths SEC(".maps");

/* tgid -> boot-time ns of its last exec. Deleted when the process exits. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} exec_time SEC(".maps");

/* From the job's SYN to the agent's accept, normally microseconds. Entries
 * are deleted at accept or when the job's socket closes; LRU is only the
 * backstop against a flood of connects that never complete. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sluice_tuple);
	__type(value, struct sluice_origin);
} handoff SEC(".maps");

static __always_inline void map_v4(__u8 out[16], __u32 ip)
{
	__u32 *w = (__u32 *)out;

	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0xffff);
	w[3] = ip;
}

static __always_inline void copy_v6(__u8 out[16], const __u32 ip[4])
{
	__u32 *w = (__u32 *)out;

	w[0] = ip[0];
	w[1] = ip[1];
	w[2] = ip[2];
	w[3] = ip[3];
}

static __always_inline bool caller_selected(void)
{
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u64 levels = live.cgroup_levels;

	if (live.select_uids && bpf_map_lookup_elem(&selected_uids, &uid))
		return true;
	for (int level = 0; level < SLUICE_MAX_CGROUP_LEVEL && levels; level++) {
		__u64 id;

		if (!(levels & (1ULL << level)))
			continue;
		id = bpf_get_current_ancestor_cgroup_id(level);
		if (!id)
			break;
		if (bpf_map_lookup_elem(&selected_cgroups, &id))
			return true;
	}
	return false;
}

/* Is the listener the job would reach the agent's? Nothing listening is
 * fine: the connect is refused (fail closed while the agent is down). A
 * listener that is not the agent's (someone took the port of a dead agent,
 * or the job sits in another network namespace) must not get the job's
 * bytes. */
static __always_inline bool listener_trusted(struct bpf_sock_addr *ctx, bool v6)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	bool ours;

	if (v6) {
		__builtin_memcpy(t.ipv6.daddr, (const void *)listen6_ip, 16);
		t.ipv6.dport = listen6_port;
		sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	} else {
		t.ipv4.daddr = listen4_ip;
		t.ipv4.dport = listen4_port;
		sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	}
	if (!sk)
		return true;
	ours = bpf_sk_storage_get(&agent_socks, sk, 0, 0) != NULL;
	bpf_sk_release(sk);
	return ours;
}

/* 1: not ours, leave it; 0: selected and origin stored; -1: selected but
 * it must fail (fail closed): no storage, or an untrusted listener. */
static __always_inline int select_socket(struct bpf_sock_addr *ctx,
					 const __u8 daddr[16], __u16 port_be,
					 __u16 family, bool v6_listener)
{
	struct sluice_target_key key = { .prefixlen = 16 + 128 };
	struct sluice_origin *o;
	__u64 pid_tgid, uid_gid;
	__u32 *target;

	if (ctx->type != SOCK_STREAM || bpf_sk_storage_get(&agent_socks, ctx->sk, 0, 0))
		return 1;
	__builtin_memcpy(key.port, &port_be, 2);
	__builtin_memcpy(key.addr, daddr, 16);
	target = bpf_map_lookup_elem(&targets, &key);
	if (!target || !caller_selected()) {
		/* A socket may connect again elsewhere: no stale origin. */
		bpf_sk_storage_delete(&job_origin, ctx->sk);
		return 1;
	}
	if (!listener_trusted(ctx, v6_listener))
		return -1;

	o = bpf_sk_storage_get(&job_origin, ctx->sk, 0,
			       BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return -1;
	pid_tgid = bpf_get_current_pid_tgid();
	uid_gid = bpf_get_current_uid_gid();
	__builtin_memcpy(o->daddr, daddr, 16);
	o->dport = bpf_ntohs(port_be);
	o->family = family;
	o->target_id = *target;
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->pid = (__u32)pid_tgid;
	o->tgid = (__u32)(pid_tgid >> 32);
	o->uid = (__u32)uid_gid;
	o->gid = (__u32)(uid_gid >> 32);
	o->connect_ns = bpf_ktime_get_boot_ns();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	return 0;
}

SEC("cgroup/connect4")
int sluice_connect4(struct bpf_sock_addr *ctx)
{
	__u8 daddr[16];
	int r;

	map_v4(daddr, ctx->user_ip4);
	r = select_socket(ctx, daddr, (__u16)ctx->user_port, AF_INET, false);
	if (r)
		return r > 0;
	ctx->user_ip4 = listen4_ip;
	ctx->user_port = listen4_port;
	return 1;
}

SEC("cgroup/connect6")
int sluice_connect6(struct bpf_sock_addr *ctx)
{
	__u32 ip[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
			ctx->user_ip6[3] };
	bool mapped = !ip[0] && !ip[1] && ip[2] == bpf_htonl(0xffff);
	__u8 daddr[16];
	int r;

	copy_v6(daddr, ip);
	if (!mapped && !listen6_port) {
		/* No IPv6 listener: a selected IPv6 connect can only fail. */
		r = select_socket(ctx, daddr, (__u16)ctx->user_port, AF_INET6, false);
		return r > 0;
	}
	r = select_socket(ctx, daddr, (__u16)ctx->user_port, AF_INET6, !mapped);
	if (r)
		return r > 0;
	if (mapped) {
		/* A dual-stack socket reaching IPv4: the v4 listener. */
		ctx->user_ip6[3] = listen4_ip;
		ctx->user_port = listen4_port;
		return 1;
	}
	ctx->user_ip6[0] = listen6_ip[0];
	ctx->user_ip6[1] = listen6_ip[1];
	ctx->user_ip6[2] = listen6_ip[2];
	ctx->user_ip6[3] = listen6_ip[3];
	ctx->user_port = listen6_port;
	return 1;
}

/* The addresses of a sockops socket, v4-mapped. Every field is loaded up
 * front and pinned in a register: otherwise the compiler sinks the loads
 * into the branches and merges them into pointer arithmetic on ctx, which
 * the verifier refuses. */
struct sockops_addrs {
	__u8 local[16];
	__u8 remote[16];
	__u16 local_port;
	__u16 remote_port;
};

static __always_inline void sockops_addrs(const struct bpf_sock_ops *skops,
					  struct sockops_addrs *a)
{
	__u32 family = skops->family;
	__u32 l4 = skops->local_ip4, r4 = skops->remote_ip4;
	__u32 l6[4] = { skops->local_ip6[0], skops->local_ip6[1],
			skops->local_ip6[2], skops->local_ip6[3] };
	__u32 r6[4] = { skops->remote_ip6[0], skops->remote_ip6[1],
			skops->remote_ip6[2], skops->remote_ip6[3] };

	barrier_var(l4);
	barrier_var(r4);
	for (int i = 0; i < 4; i++) {
		barrier_var(l6[i]);
		barrier_var(r6[i]);
	}
	if (family == AF_INET) {
		map_v4(a->local, l4);
		map_v4(a->remote, r4);
	} else {
		copy_v6(a->local, l6);
		copy_v6(a->remote, r6);
	}
	a->local_port = (__u16)skops->local_port;
	a->remote_port = (__u16)bpf_ntohl(skops->remote_port);
}

/* The job's side: local is the job, remote the agent's listener. */
static __always_inline void job_tuple(const struct bpf_sock_ops *skops,
				      struct sluice_tuple *t)
{
	struct sockops_addrs a;

	sockops_addrs(skops, &a);
	__builtin_memcpy(t->saddr, a.local, 16);
	__builtin_memcpy(t->daddr, a.remote, 16);
	t->sport = a.local_port;
	t->dport = a.remote_port;
}

static __always_inline int on_job_connect(struct bpf_sock_ops *skops)
{
	struct sluice_tuple t = {};
	struct sluice_origin *o;
	struct bpf_sock *sk = skops->sk;

	if (!sk)
		return 1;
	o = bpf_sk_storage_get(&job_origin, sk, 0, 0);
	if (!o)
		return 1;
	job_tuple(skops, &t);
	bpf_map_update_elem(&handoff, &t, o, BPF_ANY);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
					 BPF_SOCK_OPS_STATE_CB_FLAG);
	return 1;
}

static __always_inline int on_job_close(struct bpf_sock_ops *skops)
{
	struct sluice_tuple t = {};

	if (skops->args[1] != BPF_TCP_CLOSE)
		return 1;
	job_tuple(skops, &t);
	bpf_map_delete_elem(&handoff, &t);
	return 1;
}

static __always_inline bool is_listener(const struct sockops_addrs *a)
{
	const __u32 *ip = (const __u32 *)a->local;
	__u16 port_be = bpf_htons(a->local_port);

	if (!ip[0] && !ip[1] && ip[2] == bpf_htonl(0xffff))
		return port_be == listen4_port && ip[3] == listen4_ip;
	/* The v6 listener is IPv6-only; a v4-mapped job reaches the v4 one. */
	return listen6_port && port_be == listen6_port &&
	       ip[0] == listen6_ip[0] && ip[1] == listen6_ip[1] &&
	       ip[2] == listen6_ip[2] && ip[3] == listen6_ip[3];
}

static __always_inline int on_agent_accept(struct bpf_sock_ops *skops)
{
	struct sluice_tuple t = {};
	struct sluice_origin *o, *dst;
	struct bpf_sock *sk = skops->sk;
	struct sockops_addrs a;

	if (!sk)
		return 1;
	sockops_addrs(skops, &a);
	if (!is_listener(&a))
		return 1;
	__builtin_memcpy(t.saddr, a.remote, 16);
	__builtin_memcpy(t.daddr, a.local, 16);
	t.sport = a.remote_port;
	t.dport = a.local_port;
	o = bpf_map_lookup_elem(&handoff, &t);
	if (!o)
		return 1;
	dst = bpf_sk_storage_get(&agent_origin, sk, 0,
				 BPF_SK_STORAGE_GET_F_CREATE);
	if (dst)
		*dst = *o;
	bpf_map_delete_elem(&handoff, &t);
	return 1;
}

SEC("sockops")
int sluice_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		return on_job_connect(skops);
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		return on_agent_accept(skops);
	case BPF_SOCK_OPS_STATE_CB:
		return on_job_close(skops);
	}
	return 1;
}

SEC("cgroup/getpeername4")
int sluice_getpeername4(struct bpf_sock_addr *ctx)
{
	struct sluice_origin *o = bpf_sk_storage_get(&job_origin, ctx->sk, 0, 0);

	if (o && o->family == AF_INET) {
		ctx->user_ip4 = ((__u32 *)o->daddr)[3];
		ctx->user_port = bpf_htons(o->dport);
	}
	return 1;
}

SEC("cgroup/getpeername6")
int sluice_getpeername6(struct bpf_sock_addr *ctx)
{
	struct sluice_origin *o = bpf_sk_storage_get(&job_origin, ctx->sk, 0, 0);

	if (o && o->family == AF_INET6) {
		const __u32 *ip = (const __u32 *)o->daddr;

		ctx->user_ip6[0] = ip[0];
		ctx->user_ip6[1] = ip[1];
		ctx->user_ip6[2] = ip[2];
		ctx->user_ip6[3] = ip[3];
		ctx->user_port = bpf_htons(o->dport);
	}
	return 1;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(sluice_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct sluice_cgroup_path key = {};
	__u8 one = 1;
	__u64 id;

	/* The cgroup v2 hierarchy is hierarchy 0; v1 ones are not ours. */
	if (cgrp->root->hierarchy_id != 0)
		return 0;
	if (bpf_probe_read_kernel_str(key.path, sizeof(key.path), path) < 0)
		return 0;
	if (!bpf_map_lookup_elem(&selected_paths, &key))
		return 0;
	id = cgrp->kn->id;
	bpf_map_update_elem(&selected_cgroups, &id, &one, BPF_ANY);
	return 0;
}

static __always_inline void note_exec(void)
{
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	__u64 now = bpf_ktime_get_boot_ns();

	bpf_map_update_elem(&exec_time, &tgid, &now, BPF_ANY);
}

/* At the start of an exec, before the new executable replaces the old one
 * in /proc/PID/exe: whoever reads the new one then also sees this time
 * (Linux 6.10 and later). */
SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(sluice_exec, struct task_struct *p, struct linux_binprm *bprm)
{
	note_exec();
	return 0;
}

/* Older kernels: at the end of an exec, which leaves a short window in
 * which the new executable is visible and the time not yet noted. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(sluice_exec_late, struct task_struct *p)
{
	note_exec();
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sluice_exit, struct task_struct *p)
{
	__u32 tgid = p->tgid;

	if (p->pid == p->tgid)
		bpf_map_delete_elem(&exec_time, &tgid);
	return 0;
}
