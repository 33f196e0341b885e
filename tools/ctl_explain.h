/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_explain: what a policy decides for a query string sent by one
 * identity to one postgres target, statement by statement, and why: the
 * work of `sluicectl policy explain` (docs/sluicectl.md). No agent needed.
 *
 * It decides as the agent does (userspace/proxy.c, pg_judge.c): the session
 * needs a rule for the target that names one of the identity's roles; each
 * statement is judged by sql_rules; an EXECUTE by what the PREPAREs of its
 * name earlier in the string prepared (one prepared by the session before
 * is not known here: it is denied, as the agent denies an EXECUTE its
 * session never prepared); a string that does not parse is denied whole;
 * the strictest statement decides the string (deny > approve > allow).
 *
 * Masks are listed by the column names the SQL references, while the agent
 * masks by the column each result value comes from (which takes the
 * database's catalog): a guide to which masks are in play, not a promise.
 *
 * Output goes to out, for people or as one JSON object. Return convention:
 * 0 with the string's decision in *decision, or a negative errno with one
 * line in err (nothing written to out): -ENOENT no such identity or target,
 * -EINVAL the target is not a postgres one, -ENOMEM.
 */
#ifndef SLUICE_CTL_EXPLAIN_H
#define SLUICE_CTL_EXPLAIN_H

#include <stdbool.h>
#include <stdio.h>

#include "policy.h"
#include "sql_rules.h"

int ctl_explain(const struct policy *p, const char *identity, const char *target,
		const char *sql, bool json, FILE *out, enum sql_decision *decision,
		char *err, size_t errlen);

#endif
