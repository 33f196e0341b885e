// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of sql_rules: real statements through the real classifier,
 * judged by the rules of a real policy file. Each case names the caller's
 * role, the SQL, and the decision, deciding rule and word it must get.
 */
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "sql_rules.h"
#include "unit.h"

static const char policy_json[] =
	"{ \"targets\": [ { \"name\": \"db\", \"protocol\": \"postgres\","
	"                   \"address\": \"127.0.0.2:5432\" },"
	"                 { \"name\": \"other\", \"protocol\": \"postgres\","
	"                   \"address\": \"127.0.0.3:5432\" } ],"
	"  \"rules\": ["
	/* 0 */ "  { \"target\": \"db\", \"roles\": [\"app\"], \"allow\": [\"read\", \"write\", \"session\"],"
	"    \"deny\": [\"drop\", \"truncate\", \"delete_without_where\"], \"approve\": [\"delete\"] },"
	/* 1 */ "  { \"target\": \"db\", \"roles\": [\"app\", \"ops\"], \"deny\": [\"admin\"],"
	"    \"allow\": [\"ddl\"] },"
	/* 2 */ "  { \"target\": \"db\", \"roles\": [\"reader\"], \"allow\": [\"select\", \"set\"] },"
	/* 3 */ "  { \"target\": \"other\", \"roles\": [\"*\"], \"allow\": [\"read\", \"ddl\", \"session\"] },"
	/* 4 */ "  { \"target\": \"db\", \"roles\": [\"ops\"], \"approve\": [\"ddl\"], \"deny\": [\"drop\"] }"
	"  ] }";

struct rule_case {
	const char *target;
	const char *role;
	const char *sql;
	enum sql_decision decision;
	int rule;
	const char *word;
};

static const struct rule_case rule_cases[] = {
	{ "db", "app", "SELECT 1", SQL_ALLOW, 0, "read" },
	{ "db", "app", "INSERT INTO t VALUES (1)", SQL_ALLOW, 0, "write" },
	{ "db", "app", "DROP TABLE t", SQL_DENY, 0, "drop" },
	{ "db", "app", "TRUNCATE t", SQL_DENY, 0, "truncate" },
	/* The guard is in rule 0's deny, delete in its approve: deny wins. */
	{ "db", "app", "DELETE FROM t", SQL_DENY, 0, "delete_without_where" },
	{ "db", "app", "DELETE FROM t WHERE id = 3", SQL_APPROVE, 0, "delete" },
	{ "db", "app", "WITH x AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM x",
	  SQL_APPROVE, 0, "delete" },
	/* ddl is allowed by rule 1 (a second rule for the same role). */
	{ "db", "app", "CREATE TABLE u (a int)", SQL_ALLOW, 1, "ddl" },
	{ "db", "app", "SELECT pg_read_file('/etc/passwd')", SQL_DENY, 1, "admin" },
	{ "db", "app", "VACUUM t", SQL_DENY, 1, "admin" },
	/* No rule allows dcl or procedural: denied by default. */
	{ "db", "app", "GRANT SELECT ON t TO public", SQL_DENY, -1, "dcl" },
	{ "db", "app", "SET ROLE postgres", SQL_DENY, -1, "dcl" },
	{ "db", "app", "DO $$ BEGIN END $$", SQL_DENY, -1, "procedural" },
	/* Kinds in allow cover their home class only. */
	{ "db", "reader", "SELECT * FROM t", SQL_ALLOW, 2, "select" },
	{ "db", "reader", "SET search_path = public", SQL_ALLOW, 2, "set" },
	{ "db", "reader", "SET ROLE postgres", SQL_DENY, -1, "dcl" },
	{ "db", "reader", "SELECT pg_read_file('x')", SQL_DENY, -1, "admin" },
	{ "db", "reader", "SELECT nextval('s')", SQL_DENY, -1, "write" },
	{ "db", "reader", "FETCH ALL FROM c", SQL_DENY, -1, "read" },
	{ "db", "reader", "UPDATE t SET a = 1 WHERE id = 2", SQL_DENY, -1, "write" },
	/* ops: approve ddl (rule 4) against allow ddl (rule 1): approve wins;
	 * drop denied by rule 4 even though rule 1 allows ddl. */
	{ "db", "ops", "CREATE INDEX ON t (a)", SQL_APPROVE, 4, "ddl" },
	{ "db", "ops", "DROP INDEX i", SQL_DENY, 4, "drop" },
	{ "db", "ops", "SELECT 1", SQL_DENY, -1, "read" },
	/* A role no rule names gets nothing; "*" gives everyone rule 3. */
	{ "db", "nobody", "SELECT 1", SQL_DENY, -1, "read" },
	{ "other", "nobody", "SELECT 1", SQL_ALLOW, 3, "read" },
	{ "other", "nobody", "INSERT INTO t VALUES (1)", SQL_DENY, -1, "write" },
	/* EXPLAIN ANALYZE runs its statement. */
	{ "other", "x", "EXPLAIN SELECT 1", SQL_ALLOW, 3, "read" },
	{ "other", "x", "EXPLAIN ANALYZE DELETE FROM t WHERE a = 1", SQL_DENY, -1, "write" },
	/* Strings and comments change nothing. */
	{ "db", "app", "SELECT 'DROP TABLE t' /* TRUNCATE t */", SQL_ALLOW, 0, "read" },
};

static int check_rule_case(const struct policy *p, const struct rule_case *c)
{
	char *role = (char *)c->role;
	struct policy_strv roles = { &role, 1 };
	struct sql_verdict v;
	struct sql_rules r;
	struct sql_judgement j;

	cases++;
	sql_rules_compile(p, c->target, &roles, &r);
	if (sql_classify(c->sql, &v) || v.n != 1) {
		fail(c->sql, "does not classify as one statement: %s", v.error);
		sql_verdict_free(&v);
		return 1;
	}
	sql_rules_judge(&r, &v.stmts[0], &j);
	sql_verdict_free(&v);
	if (j.decision != c->decision || j.rule != c->rule || !j.word ||
	    strcmp(j.word, c->word)) {
		fail(c->sql, "role %s on %s: got %s rule %d word %s, want %s rule %d word %s",
		     c->role, c->target, sql_decision_name(j.decision), j.rule,
		     j.word ? j.word : "(none)", sql_decision_name(c->decision), c->rule, c->word);
		return 1;
	}
	return 0;
}

/* Every kind has a home unless it is "other", and every home is a class. */
static void check_kind_homes(void)
{
	for (int k = 0; k < SQL_KIND_COUNT; k++) {
		uint32_t home = sql_kind_home((enum sql_kind)k);

		cases++;
		if ((k == SQL_KIND_OTHER) != (home == 0) || (home >> SQL_CLASS_COUNT))
			fail(sql_kind_name((enum sql_kind)k), "home classes 0x%x", home);
	}
}

/* Words the policy validator must refuse, with the path it must name. */
static void check_word_validation(void)
{
	static const struct {
		const char *rule;
		const char *error;
	} bad[] = {
		{ "{ \"target\": \"db\", \"roles\": [\"a\"], \"deny\": [\"dorp\"] }",
		  "$.rules[0].deny[0]: \"dorp\" is not a statement class" },
		{ "{ \"target\": \"tcp\", \"roles\": [\"a\"], \"allow\": [\"read\"] }",
		  "$.rules[0].allow[0]: \"read\" means nothing for tcp target tcp" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct policy_errors errs = { 0 };
		char json[1024];
		struct policy *p;

		cases++;
		snprintf(json, sizeof(json),
			 "{ \"targets\": [ { \"name\": \"db\", \"protocol\": \"postgres\","
			 " \"address\": \"127.0.0.2:5432\" }, { \"name\": \"tcp\", \"protocol\":"
			 " \"tcp\", \"address\": \"127.0.0.2:80\" } ], \"rules\": [ %s ] }",
			 bad[i].rule);
		p = policy_parse(json, strlen(json), &errs);
		if (p || errs.n != 1 || strncmp(errs.msg[0], bad[i].error, strlen(bad[i].error)))
			fail(bad[i].rule, "got %s", errs.n ? errs.msg[0] : "no error");
		policy_free(p);
		policy_errors_clear(&errs);
	}
}

int main(void)
{
	struct policy_errors errs = { 0 };
	struct policy *p = policy_parse(policy_json, strlen(policy_json), &errs);

	if (!p) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "policy: %s\n", errs.msg[i]);
		return 1;
	}
	for (size_t i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++)
		check_rule_case(p, &rule_cases[i]);
	check_kind_homes();
	check_word_validation();
	policy_free(p);
	printf("test_sql_rules: %d cases, %d failed\n", cases, failures);
	return failures != 0;
}
