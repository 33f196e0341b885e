/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control: the agent's unix control socket (docs/control.md), for
 * sluicectl and scripts: line-delimited JSON, one response per request.
 *
 * Who may do what comes from the peer's credentials (SO_PEERCRED) and its
 * user's groups: reads for sluice-auditors and sluice-approvers, decisions
 * for sluice-approvers and a rule's approvers (never the job's own uid),
 * the rest for root. Every decision and action is logged with the peer.
 * Clients are served on the event loop like sessions: bounded input,
 * output queued, idle ones closed.
 * Return convention: 0 or a negative errno.
 */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

struct approvals;
struct ev_loop;
struct proxy;
struct control;
struct reload_config;

struct control_config {
	const char *policy_file;
	struct ev_loop *loop;
	struct proxy *proxy;
	struct approvals *approvals;
	const struct reload_config *reload; /* for policy_reload */
	const char *cgroup_root;    /* for thaw */
	const char *version;
	/* What the data path selects, for status. */
	bool bpf_attached;
};

/* Listen on the proxy's policy's agent.control_socket (its folder is
 * made, a stale socket replaced). */
int control_new(const struct control_config *cfg, struct control **out);
void control_free(struct control *c);

#endif
