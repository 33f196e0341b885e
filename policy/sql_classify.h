/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sql_classify: what a PostgreSQL query string does, statement by statement,
 * judged from libpg_query's parse tree (the PostgreSQL 15 grammar), never
 * from the text. Classes, kinds and guard flags carry the names the policy
 * file uses; docs/sql-classes.md says which statement lands where and why.
 *
 * sql_classify() parses the whole string first: if any statement fails to
 * parse, or a limit below is exceeded, nothing is classified and the caller
 * should deny the whole string (PostgreSQL would run none of it either).
 * Every statement then gets one struct sql_stmt:
 *   cls      the strongest class the statement contains (enum order below),
 *   classes  every class it contains, one bit each (1u << class),
 *   kind     the statement as written (PREPARE ... AS DELETE is "prepare"),
 *   kinds    every statement kind it contains (1ull << kind): the DELETE of
 *            a writable CTE, the inner statement of PREPARE and EXPLAIN
 *            ANALYZE, MERGE's actions, INSERT ... ON CONFLICT DO UPDATE,
 *   flags    SQL_F_*, among them the guard flags,
 *   tables   the relations it names, as written, deduplicated, bounded,
 *   columns  the column names it references (the last part of each column
 *            reference: "ssn" for u.ssn), deduplicated, bounded,
 *   functions the functions it calls (the name without its schema),
 *   sources  the column names it references where their values may be
 *            stored: INSERT's source, UPDATE's FROM, MERGE's source and
 *            actions, CREATE TABLE AS / SELECT INTO, CALL's and
 *            set_config's arguments, those of functions that write, and
 *            the WITH of such statements;
 *   pairs    for SET lists (UPDATE, ON CONFLICT DO UPDATE), which column of
 *            target each such reference is stored into.
 * Bodies that run later count as if they ran now: a view's query, a rule's
 * actions, an SQL function body, column defaults.
 *
 * Assumptions the caller must keep true: the session has
 * standard_conforming_strings on and an ASCII-safe client_encoding (UTF8,
 * SQL_ASCII, LATIN*, ...). Otherwise the server splits strings differently
 * from this parser. Statements that change either are classed admin. The
 * proxy should also watch ParameterStatus for both.
 *
 * Ownership: a struct sql_verdict owns its statements and their strings;
 * sql_verdict_free() releases them and leaves an empty verdict (calling it
 * twice, or on a zeroed verdict, is fine).
 * Return convention: 0 or a negative errno; on error, out->error holds one
 * line of text.
 * Threads: any thread may call these functions, and calls in different
 * threads are independent. libpg_query keeps a parser context per thread,
 * about 8 KiB, until that thread exits. Don't start a thread per statement:
 * the library takes one pthread key per thread that parses. Parsing needs
 * stack: call from a thread with at least 4 MiB (glibc's default is 8 MiB).
 * Cost: about 8 us for a pgbench statement (parse 3, cJSON 4, walk 1);
 * long statements about 0.3 ms per KiB.
 */
#ifndef SLUICE_SQL_CLASSIFY_H
#define SLUICE_SQL_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits. A string over any of them is an error (-E2BIG), never passed. */
#define SQL_MAX_TEXT      (16u << 20) /* bytes in one query string */
#define SQL_MAX_STMT_TEXT (1u << 20)  /* bytes in one statement */
#define SQL_MAX_STMTS     10000       /* statements in one query string */
#define SQL_MAX_OPS       20000       /* operator and keyword tokens in one
					 statement over 16 KiB (stack guard) */
#define SQL_MAX_TABLES    64          /* tables reported per statement;
					 more sets SQL_F_TABLES_TRUNCATED */
#define SQL_MAX_REFS      256         /* column and function names reported per
					 statement; more sets SQL_F_REFS_TRUNCATED */
#define SQL_NAME_MAX      64          /* PostgreSQL's NAMEDATALEN */

/* Statement classes, weakest first. This is the "strongest" order: a
 * statement's cls is the last of these that it contains. */
enum sql_class {
	SQL_CLASS_READ,       /* SELECT, and anything PostgreSQL allows read-only */
	SQL_CLASS_SESSION,    /* transactions, SET/SHOW/RESET, LISTEN, DISCARD, advisory locks */
	SQL_CLASS_COPY_OUT,   /* COPY ... TO STDOUT */
	SQL_CLASS_WRITE,      /* INSERT, UPDATE, DELETE, MERGE, TRUNCATE, nextval, ... */
	SQL_CLASS_COPY_IN,    /* COPY ... FROM STDIN */
	SQL_CLASS_DDL,        /* CREATE, ALTER, DROP of schema objects */
	SQL_CLASS_DCL,        /* GRANT, REVOKE, roles, ownership, row security, SET ROLE */
	SQL_CLASS_PROCEDURAL, /* DO, CALL, functions that run SQL text */
	SQL_CLASS_ADMIN,      /* server files and programs, signals, replication,
				 maintenance, server configuration */
	SQL_CLASS_COUNT
};

/* Statement kinds: the verb as users write it in a policy. */
enum sql_kind {
	SQL_KIND_SELECT,
	SQL_KIND_INSERT,
	SQL_KIND_UPDATE,
	SQL_KIND_DELETE,
	SQL_KIND_MERGE,
	SQL_KIND_TRUNCATE,
	SQL_KIND_COPY,
	SQL_KIND_CREATE,
	SQL_KIND_ALTER,
	SQL_KIND_DROP,
	SQL_KIND_COMMENT,
	SQL_KIND_SECURITY_LABEL,
	SQL_KIND_GRANT,
	SQL_KIND_REVOKE,
	SQL_KIND_REASSIGN,
	SQL_KIND_REFRESH,
	SQL_KIND_IMPORT,
	SQL_KIND_SET,
	SQL_KIND_RESET,
	SQL_KIND_SHOW,
	SQL_KIND_DISCARD,
	SQL_KIND_TRANSACTION,  /* BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ... */
	SQL_KIND_PREPARE,
	SQL_KIND_EXECUTE,
	SQL_KIND_DEALLOCATE,
	SQL_KIND_DECLARE,
	SQL_KIND_FETCH,
	SQL_KIND_MOVE,
	SQL_KIND_CLOSE,
	SQL_KIND_EXPLAIN,
	SQL_KIND_CALL,
	SQL_KIND_DO,
	SQL_KIND_LISTEN,
	SQL_KIND_UNLISTEN,
	SQL_KIND_NOTIFY,
	SQL_KIND_LOCK,
	SQL_KIND_VACUUM,
	SQL_KIND_ANALYZE,
	SQL_KIND_CLUSTER,
	SQL_KIND_REINDEX,
	SQL_KIND_CHECKPOINT,
	SQL_KIND_LOAD,
	SQL_KIND_OTHER,        /* a statement type this module does not know: class admin */
	SQL_KIND_COUNT
};

/* Guard flags: policy words. */
#define SQL_F_DELETE_WITHOUT_WHERE (1u << 0)  /* no WHERE, or WHERE true / 1=1 / x=x */
#define SQL_F_UPDATE_WITHOUT_WHERE (1u << 1)
/* What the caller must act on. */
#define SQL_F_NEEDS_PREPARED       (1u << 2)  /* EXECUTE name: merge the verdict of
						 PREPARE name with sql_merge(); deny
						 if the session has none */
#define SQL_F_NO_SHARE             (1u << 3)  /* the verdict depends on constants
						 or names that the fingerprint
						 ignores: cache by exact text only */
#define SQL_F_TABLES_TRUNCATED     (1u << 4)  /* more than SQL_MAX_TABLES tables */
/* Facts for reports and rules. */
#define SQL_F_BODY_SQL             (1u << 5)  /* CREATE FUNCTION/PROCEDURE body in SQL (inspected) */
#define SQL_F_BODY_PLPGSQL         (1u << 6)  /* body or DO block in PL/pgSQL (not inspected) */
#define SQL_F_BODY_OTHER           (1u << 7)  /* another language (not inspected) */
#define SQL_F_SECURITY_DEFINER     (1u << 8)  /* CREATE/ALTER FUNCTION ... SECURITY DEFINER */
#define SQL_F_SIDE_EFFECT_CALL     (1u << 9)  /* calls a function of the side-effect table */
#define SQL_F_EXPLAIN_ANALYZE      (1u << 10) /* EXPLAIN that runs its statement */
/* What masking needs to know of the statement's references. */
#define SQL_F_STAR                 (1u << 11) /* a * column reference (t.*, *) */
#define SQL_F_WHOLE_ROW            (1u << 12) /* a reference by a relation's name or
						 alias, a whole row (row_to_json(u)) */
#define SQL_F_REFS_TRUNCATED       (1u << 13) /* more than SQL_MAX_REFS columns or
						 functions: the lists are partial */
#define SQL_F_COPY_RELATION        (1u << 14) /* COPY of a table (its columns, all
						 or listed), not of a query */
#define SQL_F_VALUE_STAR           (1u << 16) /* a * among the values it stores */
#define SQL_F_VALUE_WHOLE_ROW      (1u << 17) /* a whole row among the values it stores */
#define SQL_F_MANY_TARGETS         (1u << 18) /* more than one INSERT/UPDATE: target
						 and targets are not kept */
#define SQL_F_LEXING               (1u << 15) /* may change standard_conforming_strings
						 or client_encoding (SET, RESET ALL,
						 DISCARD ALL, set_config): statements
						 sent after it must wait for its answer */

struct sql_stmt {
	enum sql_class cls;     /* the strongest class in classes */
	enum sql_kind kind;     /* the statement as written */
	uint32_t classes;       /* 1u << enum sql_class, for each class it contains */
	uint64_t kinds;         /* 1ull << enum sql_kind, for each kind it contains */
	uint32_t flags;         /* SQL_F_* */
	char reason[96];        /* what raised it to cls: "function pg_read_file",
				   "COPY ... PROGRAM", "SET role", "delete" */
	char name[SQL_NAME_MAX]; /* PREPARE/EXECUTE/DEALLOCATE: the prepared statement;
				    DECLARE/FETCH/MOVE/CLOSE: the cursor; else "" */
	size_t offset;          /* the statement's bytes within the query string */
	size_t len;
	char **tables;          /* "table", "schema.table" or "db.schema.table";
				   a part is double-quoted when it needs quotes */
	size_t ntables;
	char **columns;         /* column names referenced, as the parser folds them */
	size_t ncolumns;
	char **functions;       /* function names called, without schema */
	size_t nfunctions;
	char **sources;         /* column names whose values it may store, anywhere */
	size_t nsources;
	char **pairs;           /* "column\x1fsource": a source stored into that column
				   of target (UPDATE SET, ON CONFLICT DO UPDATE SET) */
	size_t npairs;
	char target[SQL_NAME_MAX]; /* the one table an INSERT or UPDATE writes
				      (its name without schema), or "" */
	char **targets;         /* the columns it names to write, or none: all */
	size_t ntargets;
};

struct sql_verdict {
	struct sql_stmt *stmts;
	size_t n;               /* 0 for an empty string or only comments */
	char error[256];        /* on error: the parser's message, or which limit */
	int error_pos;          /* on a syntax error: 1-based character position in
				   the string (ErrorResponse field P); else 0 */
};

/*
 * Classify every statement of a NUL-terminated query string.
 * Returns 0, or: -EINVAL the string does not parse (syntax error; error and
 * error_pos say where); -E2BIG a limit above, or nesting too deep to
 * inspect; -ENOMEM. Always initialises *out first.
 */
int sql_classify(const char *text, struct sql_verdict *out);

/* A deep copy of src into dst: 0 or -ENOMEM (dst is then empty). */
int sql_verdict_copy(const struct sql_verdict *src, struct sql_verdict *dst);

/* Release what sql_classify() or sql_merge() stored in v. */
void sql_verdict_free(struct sql_verdict *v);

/*
 * Fold the verdict of a prepared statement (the PREPARE that named it) into
 * that of an EXECUTE: classes, kinds, flags and tables are joined and cls is
 * the stronger one. Clears SQL_F_NEEDS_PREPARED. 0 or -ENOMEM.
 */
int sql_merge(struct sql_stmt *exec, const struct sql_stmt *prepared);

/*
 * libpg_query's fingerprint of a query string: equal for texts that differ
 * only in constants, comments and spacing. Use it to share decisions between
 * such texts, except for statements with SQL_F_NO_SHARE. 0, -EINVAL (does not
 * parse) or -E2BIG; err (or NULL) gets one line of text on failure.
 */
int sql_fingerprint(const char *text, uint64_t *out, char *err, size_t errlen);

/* Can this parser split the session's statements as the server does with
 * setting name at value (a ParameterStatus)? false for
 * standard_conforming_strings off and for client encodings where a quote or
 * backslash byte can be half of a character (SJIS, BIG5, GBK, ...). */
bool sql_setting_safe(const char *name, const char *value);

/* Names as the policy writes them ("copy_in", "select", "delete_without_where"),
 * and back: -1 (or 0 for flags) when the word is not one of ours. */
const char *sql_class_name(enum sql_class c);
const char *sql_kind_name(enum sql_kind k);
int sql_class_from_name(const char *word);
int sql_kind_from_name(const char *word);
uint32_t sql_guard_from_name(const char *word);

/* The side-effect function table, for docs and tests: function name (or
 * prefix, when prefix is true) and the class a call of it gives. */
struct sql_side_effect {
	const char *name;
	enum sql_class cls;
	bool prefix;
	const char *why;
};
const struct sql_side_effect *sql_side_effects(size_t *n);

#endif /* SLUICE_SQL_CLASSIFY_H */
