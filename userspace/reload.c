// SPDX-License-Identifier: Apache-2.0
/* reload: a new policy generation, all or nothing. See reload.h. */
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "approvals.h"
#include "datapath.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"
#include "recorder.h"
#include "selection.h"

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen,
		      const struct sockaddr_storage *b, socklen_t blen)
{
	return alen == blen && !memcmp(a, b, alen);
}

/* What the running agent bound, opened or scheduled at start. */
static void fixed_fields(const struct policy_agent *was, const struct policy_agent *now,
			 struct policy_errors *errs)
{
	const struct {
		const char *path;
		bool same;
	} fields[] = {
		{ "listen", same_addr(&was->listen, was->listen_len, &now->listen, now->listen_len) },
		{ "listen6", same_addr(&was->listen6, was->listen6_len, &now->listen6, now->listen6_len) },
		{ "state_dir", same_str(was->state_dir, now->state_dir) },
		{ "recordings_dir", same_str(was->recordings_dir, now->recordings_dir) },
		{ "control_socket", same_str(was->control_socket, now->control_socket) },
		{ "bpffs", same_str(was->bpffs, now->bpffs) },
		{ "fail", was->fail_open == now->fail_open },
		{ "record_flush_ms", was->record_flush_ms == now->record_flush_ms },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!fields[i].same)
			policy_errors_add(errs, "$.agent.%s: differs from the running agent's, and only "
					  "a restart can change it", fields[i].path);
}

static void log_refusal(const struct reload_config *rc, const char *by,
			const struct policy_errors *errs, unsigned generation)
{
	char f[3][96], msg[256];
	const char *v[3] = { f[0], f[1], f[2] };

	for (size_t i = 0; i < errs->n; i++)
		log_err("%s%s%s", errs->msg[i][0] == '$' ? rc->policy_file : "",
			errs->msg[i][0] == '$' ? ": " : "", errs->msg[i]);
	snprintf(f[0], sizeof(f[0]), "SLUICE_EVENT=policy_refused");
	snprintf(f[1], sizeof(f[1]), "SLUICE_GENERATION=%u", generation);
	snprintf(f[2], sizeof(f[2]), "SLUICE_BY=%s", by);
	snprintf(msg, sizeof(msg), "policy %s not reloaded (asked by %s): %zu error%s; generation "
		 "%u stays in force", rc->policy_file, by, errs->n, errs->n == 1 ? "" : "s",
		 generation);
	log_event(LOG_ERR, msg, v, 3);
}

static void log_reload(const struct reload_config *rc, const char *by, const struct policy *p,
		       unsigned generation)
{
	char f[3][96], msg[320];
	const char *v[3] = { f[0], f[1], f[2] };

	snprintf(f[0], sizeof(f[0]), "SLUICE_EVENT=policy_reloaded");
	snprintf(f[1], sizeof(f[1]), "SLUICE_GENERATION=%u", generation);
	snprintf(f[2], sizeof(f[2]), "SLUICE_BY=%s", by);
	snprintf(msg, sizeof(msg), "policy %s reloaded (asked by %s): generation %u, %zu "
		 "identit%s, %zu target%s, %zu rule%s; live sessions keep the policy they started "
		 "under", rc->policy_file, by, generation, p->nidentities,
		 p->nidentities == 1 ? "y" : "ies", p->ntargets, p->ntargets == 1 ? "" : "s",
		 p->nrules, p->nrules == 1 ? "" : "s");
	log_event(LOG_NOTICE, msg, v, 3);
}

int reload_policy(const struct reload_config *rc, const char *by, struct policy_errors *errs)
{
	unsigned running = proxy_generation(rc->proxy)->number;
	struct policy *p = policy_load(rc->policy_file, errs);
	struct selection sel = { 0 };
	struct datapath_config dc;
	const char *why;
	int err = p ? 0 : -EINVAL;

	if (p) {
		fixed_fields(&proxy_policy(rc->proxy)->agent, &p->agent, errs);
		err = errs->n ? -EINVAL : selection_build(p, rc->cgroup_root, &sel, errs);
	}
	if (!err) {
		selection_datapath_config(p, rc->cgroup_root, &sel, rc->proxy, &dc);
		if ((err = datapath_check(rc->datapath, &dc, &why)))
			policy_errors_add(errs, "$.agent.select: %s", why);
	}
	if (!err && (err = proxy_set_policy(rc->proxy, p)))
		policy_errors_add(errs, "$: a protocol module could not load it: %s",
				  strerror(-err));
	if (err) {
		if (!errs->n)
			policy_errors_add(errs, "$: %s", strerror(-err));
		log_refusal(rc, by, errs, running);
		selection_free(&sel);
		policy_free(p);
		return err;
	}
	/* From here the new generation is in force (the proxy owns p). */
	if ((err = datapath_update(rc->datapath, &dc)))
		log_err("policy reload: the BPF maps could not all be updated (%s): restart the "
			"agent", strerror(-err));
	selection_free(&sel);
	if (rc->recorder)
		recorder_configure(rc->recorder, &p->agent);
	if (rc->approvals)
		approvals_configure(rc->approvals, p);
	log_reload(rc, by, p, proxy_generation(rc->proxy)->number);
	if (err)
		policy_errors_add(errs, "$.agent.select: the BPF maps could not all be updated: %s",
				  strerror(-err));
	return err;
}
