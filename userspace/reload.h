/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reload: put the policy file in force in a running agent (SIGHUP, the
 * control socket's policy_reload), all of it or none of it.
 *
 * The new file is read and checked whole first: parse errors, fields only
 * a restart can change (listeners, folders, sockets, bpffs, fail mode, the
 * flush period), selected users that do not exist, selected cgroups that
 * cannot be made, a selection the kernel maps cannot hold, a protocol
 * module that cannot load it. Any of these leaves the running policy in
 * force. Then new sessions are admitted under the new generation, the BPF
 * selection maps are updated in place, and the recorder and approvals take
 * their settings. Live sessions keep the generation they started under.
 * Return convention: 0 or a negative errno.
 */
#ifndef SLUICE_RELOAD_H
#define SLUICE_RELOAD_H

struct approvals;
struct datapath;
struct policy_errors;
struct proxy;
struct recorder;

struct reload_config {
	const char *policy_file;
	const char *cgroup_root;
	struct proxy *proxy;
	struct datapath *datapath;
	struct recorder *recorder;   /* or NULL */
	struct approvals *approvals; /* or NULL */
};

/* by: who asked, for the log ("SIGHUP from pid 12", "uid 0 (root)").
 * On failure errs holds one line per problem, JSON path first, and each is
 * logged; the running generation stays. */
int reload_policy(const struct reload_config *rc, const char *by, struct policy_errors *errs);

#endif
