/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for policy_parse(): any bytes must give either a policy
 * or errors, never both, never neither, and leak nothing.
 */
#include "policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_errors errs = { 0 };
	struct policy *p = policy_parse((const char *)data, size, &errs);
	uint8_t any[16] = { 0 };
	struct policy_facts f = { .cgroup = "/ci.slice/job", .user = "ci", .uid = 1000 };
	const struct policy_identity *id;

	if (!p == !errs.n)
		abort(); /* the contract: a policy xor errors */
	for (size_t i = 0; i < errs.n; i++)
		if (errs.msg[i][0] == '\0' || strchr(errs.msg[i], '\n'))
			abort(); /* one line each, never empty */
	if (p) {
		/* Walk the queries over what was parsed. */
		for (size_t i = 0; i < p->ntargets; i++)
			policy_find_target(p, p->targets[i].net.addr, p->targets[i].net.port);
		policy_find_target(p, any, 1);
		id = policy_match_identity(p, &f);
		for (size_t i = 0; i < p->ntargets && id; i++)
			policy_allows(p, p->targets[i].name, &id->roles, "connect", NULL);
	}
	policy_free(p);
	policy_errors_clear(&errs);
	return 0;
}
