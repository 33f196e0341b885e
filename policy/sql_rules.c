// SPDX-License-Identifier: Apache-2.0
/* sql_rules: compiled rules and the decision for a statement. See sql_rules.h. */
#include "sql_rules.h"

#include <limits.h>
#include <string.h>

#define C(x) (1u << SQL_CLASS_##x)

/* Where each kind lives when nothing in the statement raises it: what an
 * allow of the kind covers. docs/sql-classes.md lists the classes. */
static const uint32_t kind_home[SQL_KIND_COUNT] = {
	[SQL_KIND_SELECT] = C(READ),
	[SQL_KIND_INSERT] = C(WRITE),
	[SQL_KIND_UPDATE] = C(WRITE),
	[SQL_KIND_DELETE] = C(WRITE),
	[SQL_KIND_MERGE] = C(WRITE),
	[SQL_KIND_TRUNCATE] = C(WRITE),
	[SQL_KIND_COPY] = C(COPY_IN) | C(COPY_OUT),
	[SQL_KIND_CREATE] = C(DDL),
	[SQL_KIND_ALTER] = C(DDL),
	[SQL_KIND_DROP] = C(DDL),
	[SQL_KIND_COMMENT] = C(DDL),
	[SQL_KIND_SECURITY_LABEL] = C(DCL),
	[SQL_KIND_GRANT] = C(DCL),
	[SQL_KIND_REVOKE] = C(DCL),
	[SQL_KIND_REASSIGN] = C(DCL),
	[SQL_KIND_REFRESH] = C(WRITE),
	[SQL_KIND_IMPORT] = C(DDL),
	[SQL_KIND_SET] = C(SESSION),
	[SQL_KIND_RESET] = C(SESSION),
	[SQL_KIND_SHOW] = C(SESSION),
	[SQL_KIND_DISCARD] = C(SESSION),
	[SQL_KIND_TRANSACTION] = C(SESSION),
	[SQL_KIND_PREPARE] = C(SESSION),
	[SQL_KIND_EXECUTE] = C(READ),
	[SQL_KIND_DEALLOCATE] = C(SESSION),
	[SQL_KIND_DECLARE] = C(READ),
	[SQL_KIND_FETCH] = C(READ),
	[SQL_KIND_MOVE] = C(READ),
	[SQL_KIND_CLOSE] = C(SESSION),
	[SQL_KIND_EXPLAIN] = C(READ),
	[SQL_KIND_CALL] = C(PROCEDURAL),
	[SQL_KIND_DO] = C(PROCEDURAL),
	[SQL_KIND_LISTEN] = C(SESSION),
	[SQL_KIND_UNLISTEN] = C(SESSION),
	[SQL_KIND_NOTIFY] = C(WRITE),
	[SQL_KIND_LOCK] = C(READ) | C(WRITE),
	[SQL_KIND_VACUUM] = C(ADMIN),
	[SQL_KIND_ANALYZE] = C(ADMIN),
	[SQL_KIND_CLUSTER] = C(ADMIN),
	[SQL_KIND_REINDEX] = C(ADMIN),
	[SQL_KIND_CHECKPOINT] = C(ADMIN),
	[SQL_KIND_LOAD] = C(ADMIN),
	[SQL_KIND_OTHER] = 0,
};

static const uint32_t guard_flag[SQL_GUARD_COUNT] = {
	SQL_F_DELETE_WITHOUT_WHERE,
	SQL_F_UPDATE_WITHOUT_WHERE,
};

static const char *const guard_word[SQL_GUARD_COUNT] = {
	"delete_without_where",
	"update_without_where",
};

uint32_t sql_kind_home(enum sql_kind k)
{
	return (unsigned)k < SQL_KIND_COUNT ? kind_home[k] : 0;
}

const char *sql_decision_name(enum sql_decision d)
{
	return d == SQL_ALLOW ? "allow" : d == SQL_APPROVE ? "approve" : "deny";
}

/* Note rule i under every word of list l it names; the first rule wins. */
static void note_list(struct sql_rules *r, enum sql_list l, const struct policy_strv *words,
		      int i)
{
	for (size_t w = 0; w < words->n; w++) {
		const char *word = words->v[w];
		int cls = sql_class_from_name(word), kind = sql_kind_from_name(word);
		uint32_t guard = sql_guard_from_name(word);

		if (cls >= 0 && r->cls[l][cls] < 0)
			r->cls[l][cls] = i;
		if (kind >= 0 && r->kind[l][kind] < 0)
			r->kind[l][kind] = i;
		for (int g = 0; g < SQL_GUARD_COUNT; g++)
			if (guard == guard_flag[g] && r->guard[l][g] < 0)
				r->guard[l][g] = i;
	}
}

void sql_rules_compile(const struct policy *p, const char *target,
		       const struct policy_strv *roles, struct sql_rules *out)
{
	memset(out, 0xff, sizeof(*out)); /* every entry -1 */
	for (size_t i = 0; p && i < p->nrules && i <= INT_MAX; i++) {
		const struct policy_rule *rule = &p->rules[i];

		if (!policy_rule_applies(rule, target, roles))
			continue;
		note_list(out, SQL_LIST_ALLOW, &rule->allow, (int)i);
		note_list(out, SQL_LIST_APPROVE, &rule->approve, (int)i);
		note_list(out, SQL_LIST_DENY, &rule->deny, (int)i);
	}
}

/* Keep the earlier rule: "the first such rule decides". */
static void take(int rule, const char *word, int *best, const char **best_word)
{
	if (rule >= 0 && (*best < 0 || rule < *best)) {
		*best = rule;
		*best_word = word;
	}
}

/* The first rule whose list l names one of the statement's words. */
static int first_in_list(const struct sql_rules *r, enum sql_list l, uint32_t classes,
			 uint64_t kinds, uint32_t flags, const char **word)
{
	int best = -1;

	for (int c = 0; c < SQL_CLASS_COUNT; c++)
		if (classes & (1u << c))
			take(r->cls[l][c], sql_class_name((enum sql_class)c), &best, word);
	for (int k = 0; k < SQL_KIND_COUNT; k++)
		if (kinds & (1ull << k))
			take(r->kind[l][k], sql_kind_name((enum sql_kind)k), &best, word);
	for (int g = 0; g < SQL_GUARD_COUNT; g++)
		if (flags & guard_flag[g])
			take(r->guard[l][g], guard_word[g], &best, word);
	return best;
}

/* The rule that allows class c of a statement with kinds, or -1. */
static int covering_rule(const struct sql_rules *r, int c, uint64_t kinds, const char **word)
{
	int best = -1;

	take(r->cls[SQL_LIST_ALLOW][c], sql_class_name((enum sql_class)c), &best, word);
	for (int k = 0; k < SQL_KIND_COUNT; k++)
		if ((kinds & (1ull << k)) && (kind_home[k] & (1u << c)))
			take(r->kind[SQL_LIST_ALLOW][k], sql_kind_name((enum sql_kind)k), &best,
			     word);
	return best;
}

void sql_rules_judge(const struct sql_rules *r, const struct sql_stmt *st,
		     struct sql_judgement *out)
{
	uint32_t classes = st->classes | (1u << st->cls);
	uint64_t kinds = st->kinds | (1ull << st->kind);
	const char *word = NULL;
	int rule;

	if ((rule = first_in_list(r, SQL_LIST_DENY, classes, kinds, st->flags, &word)) >= 0) {
		*out = (struct sql_judgement){ SQL_DENY, rule, word };
		return;
	}
	if ((rule = first_in_list(r, SQL_LIST_APPROVE, classes, kinds, st->flags, &word)) >= 0) {
		*out = (struct sql_judgement){ SQL_APPROVE, rule, word };
		return;
	}
	/* Every class must be covered; the rule that covers the strongest
	 * class is the one that allowed the statement. */
	*out = (struct sql_judgement){ SQL_ALLOW, -1, NULL };
	for (int c = 0; c < SQL_CLASS_COUNT; c++) {
		if (!(classes & (1u << c)))
			continue;
		rule = covering_rule(r, c, kinds, &word);
		if (rule < 0) {
			*out = (struct sql_judgement){ SQL_DENY, -1,
						       sql_class_name((enum sql_class)c) };
			return;
		}
		out->rule = rule;
		out->word = word;
	}
}
