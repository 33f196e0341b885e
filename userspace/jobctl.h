/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jobctl: containing a job whose statement a rule denied with on_deny
 * "kill_job" (cgroup.kill: every process of its cgroup dies) or
 * "freeze_job" (cgroup.freeze: they stop until `sluicectl thaw`).
 *
 * Only the job's own cgroup, and never the root cgroup or one that holds
 * the agent itself. The action and its outcome go to journald and the
 * session's recording.
 */
#ifndef SLUICE_JOBCTL_H
#define SLUICE_JOBCTL_H

#include "policy.h"

struct session;

void jobctl_contain(struct session *s, enum policy_on_deny what, int rule);

#endif
