/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_judge: the SQL policy of a PostgreSQL session. Rules a query string
 * (or a fast-path function call) about to run: allowed, denied, or in need
 * of approval, with the rule that decided and, for a refusal, the
 * ErrorResponse text the job gets.
 *
 * Per session it keeps the compiled rules of the caller's roles, the
 * verdicts of SQL-level PREPAREs (an EXECUTE is judged by what its
 * statement does) and whether the session's settings keep the classifier
 * sound (standard_conforming_strings, client_encoding). Classifications
 * are shared by all sessions in a cache (below): they depend on the text
 * only, never on the policy, so a reload needs no flush.
 *
 * Cache: first by exact text, so a hot statement is not parsed again;
 * then, for single statements whose verdict may be shared
 * (no SQL_F_NO_SHARE), by libpg_query's fingerprint, which costs a raw
 * parse but saves the tree walk for texts that differ only in constants.
 * Each level holds at most PG_JUDGE_CACHE_ENTRIES verdicts and
 * PG_JUDGE_CACHE_BYTES of text, least recently used out first; texts over
 * PG_JUDGE_CACHE_TEXT_MAX are judged every time.
 * Event loop only: not thread-safe.
 */
#ifndef SLUICE_PG_JUDGE_H
#define SLUICE_PG_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sql_rules.h"

#define PG_JUDGE_CACHE_ENTRIES   8192
#define PG_JUDGE_CACHE_BYTES     (16u << 20)
#define PG_JUDGE_CACHE_TEXT_MAX  (64u << 10)
#define PG_JUDGE_MAX_PREPARED    10000

struct policy;
struct policy_identity;
struct policy_target;
struct pg_judge;

struct pg_ruling {
	enum sql_decision decision;
	int rule;              /* index in the policy's rules, or -1 */
	const char *word;      /* what decided ("drop", "ddl"), or NULL */
	const char *cls;       /* the deciding statement's class and kind */
	const char *kind;
	size_t stmt, nstmts;   /* which statement decided (0-based), of how many */
	/* For a refusal: what the job reads in the ErrorResponse. */
	const char *sqlstate;
	char message[512];
	int position;          /* a syntax error's character position, or 0 */
	bool observed;         /* the deciding rule (or the agent) is in observe
				  mode: the decision is logged, not enforced */
	/* What the statements do (NULL for a refusal that is not a rule's):
	 * valid until the next call on this judge. */
	const struct sql_verdict *verdict;
};

struct pg_judge *pg_judge_new(const struct policy *p, const struct policy_target *t,
			      const struct policy_identity *id);
void pg_judge_free(struct pg_judge *j);

/* The server reported a setting (ParameterStatus). */
void pg_judge_setting(struct pg_judge *j, const char *name, const char *value);

/* A statement that may change standard_conforming_strings or
 * client_encoding (SQL_F_LEXING, DISCARD) runs; its answer ends with the
 * n-th ReadyForQuery from now. Until then every statement is refused:
 * the settings it will be read under are not known yet. */
void pg_judge_hold(struct pg_judge *j, unsigned n);

/* The server sent ReadyForQuery. */
void pg_judge_ready(struct pg_judge *j);

/* Does the ruling's verdict hold a statement that needs pg_judge_hold()? */
bool pg_judge_changes_lexing(const struct pg_ruling *r);

/* A query string about to run (Query, or the text of an executed portal). */
void pg_judge_sql(struct pg_judge *j, const char *text, struct pg_ruling *out);

/* Classify text now (a Parse), so that judging its Executes finds it in
 * the cache; a text too long for the cache is left to the Execute. */
void pg_judge_classify(struct pg_judge *j, const char *text);

/* A fast-path FunctionCall: judged as class admin, kind other. */
void pg_judge_function_call(struct pg_judge *j, struct pg_ruling *out);

/* Drop every cached classification (at exit, for leak checkers). */
void pg_judge_cache_clear(void);

#endif
