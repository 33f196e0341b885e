// SPDX-License-Identifier: Apache-2.0
/* jobctl: kill or freeze a job's cgroup. See jobctl.h. */
#include "jobctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "json_out.h"
#include "log.h"
#include "proxy.h"

/* Is cg the agent's own cgroup or one above it? Killing it would take the
 * agent down with the job. */
static bool holds_agent(const char *cg)
{
	char line[PATH_MAX + 8];
	size_t n = strlen(cg);
	bool holds = true; /* unknown: do not touch it */
	FILE *f = fopen("/proc/self/cgroup", "re");

	while (f && fgets(line, sizeof(line), f)) {
		char *self;

		if (strncmp(line, "0::", 3))
			continue;
		self = line + 3;
		self[strcspn(self, "\n")] = '\0';
		holds = !strncmp(self, cg, n) && (self[n] == '\0' || self[n] == '/');
	}
	if (f)
		fclose(f);
	return holds;
}

void jobctl_contain(struct session *s, enum policy_on_deny what, int rule)
{
	const char *action = what == POLICY_ON_DENY_KILL_JOB ? "kill" : "freeze";
	const char *cg = s->facts.cgroup;
	const char *root = proxy_cgroup_root(s->proxy);
	char path[PATH_MAX], msg[PATH_MAX + 128], outcome[128] = "done";
	struct audit_fields f;
	struct json_out *j;
	int fd = -1;

	if (!root || !cg[0] || !strcmp(cg, "/") || holds_agent(cg))
		snprintf(outcome, sizeof(outcome), "refused: the cgroup is the root, unknown, or "
			 "holds the agent");
	else if ((size_t)snprintf(path, sizeof(path), "%s%s/cgroup.%s", root, cg, action) >= sizeof(path) ||
		 (fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 || write(fd, "1", 1) != 1)
		snprintf(outcome, sizeof(outcome), "failed: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	snprintf(msg, sizeof(msg), "session %s: rule %d: %s of the job's cgroup %s: %s", s->id, rule,
		 action, cg[0] ? cg : "(unknown)", outcome);
	audit_fields_of(s, "job_contained", &f);
	audit_field(&f, "SLUICE_RULE=%d", rule);
	audit_field(&f, "SLUICE_ACTION=%s", action);
	audit_field(&f, "SLUICE_OUTCOME=%s", outcome);
	log_event(LOG_WARNING, msg, f.v, f.n);
	if ((j = audit_begin(s, "job_contained"))) {
		json_out_str(j, "action", action);
		json_out_str(j, "cgroup", cg);
		json_out_int(j, "rule", rule);
		json_out_str(j, "outcome", outcome);
		audit_commit(s);
	}
}
