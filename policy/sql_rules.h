/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sql_rules: the policy's rules for one target and one caller, compiled
 * into tables, and the decision they give a classified statement.
 *
 * A statement brings a set of words: every class in its classes, every kind
 * in its kinds, and its guard flags. For those words, among the rules that
 * apply (docs/policy.md, Evaluation):
 *   1. a word in some rule's deny list denies: the first such rule decides;
 *   2. else a word in some rule's approve list asks for approval;
 *   3. else the statement is allowed only if each of its classes is
 *      covered: named in an allow list, or the home class of a kind it
 *      contains that is named in an allow list (allow: ["select"] covers
 *      the read class of a SELECT, not the admin class of a SELECT that
 *      calls pg_read_file);
 *   4. else it is denied by default, by no rule.
 * Compiling costs one pass over the rules; a decision is a few table
 * lookups. No allocation, no state.
 */
#ifndef SLUICE_SQL_RULES_H
#define SLUICE_SQL_RULES_H

#include "policy.h"
#include "sql_classify.h"

enum sql_decision {
	SQL_ALLOW,
	SQL_APPROVE,
	SQL_DENY,
};

enum sql_list { SQL_LIST_ALLOW, SQL_LIST_APPROVE, SQL_LIST_DENY, SQL_LIST_COUNT };

#define SQL_GUARD_COUNT 2 /* delete_without_where, update_without_where */

/* For each list and word: the index of the first rule that names it, or -1. */
struct sql_rules {
	int cls[SQL_LIST_COUNT][SQL_CLASS_COUNT];
	int kind[SQL_LIST_COUNT][SQL_KIND_COUNT];
	int guard[SQL_LIST_COUNT][SQL_GUARD_COUNT];
};

struct sql_judgement {
	enum sql_decision decision;
	int rule;          /* index in the policy's rules; -1: denied by default */
	const char *word;  /* the class, kind or guard that decided ("drop"); for
			      a default denial, the class no rule allows */
};

/* The rules of p that apply to target for roles. */
void sql_rules_compile(const struct policy *p, const char *target,
		       const struct policy_strv *roles, struct sql_rules *out);

/* The decision for one statement. */
void sql_rules_judge(const struct sql_rules *r, const struct sql_stmt *st,
		     struct sql_judgement *out);

/* Classes a kind belongs to when nothing else raises it (1u << class):
 * "select" is read, "copy" is copy_in and copy_out, "other" is none. */
uint32_t sql_kind_home(enum sql_kind k);

const char *sql_decision_name(enum sql_decision d);

#endif
