/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for policy/sql_classify: table-driven, through sql_classify.h.
 *
 *   test_sql_classify [SRCDIR]   SRCDIR holds docs/sql-classes.md (default ".")
 *
 * Prints one line per failed case to stderr; exits 0 when all pass. Meant to
 * run under ASan/LSan too: every verdict is freed.
 */
#include "sql_classify.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static void dump(const struct sql_verdict *v)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct sql_stmt *s = &v->stmts[i];

		fprintf(stderr, "    [%zu] cls=%s kind=%s kinds=", i, sql_class_name(s->cls),
			sql_kind_name(s->kind));
		for (int k = 0; k < SQL_KIND_COUNT; k++)
			if (s->kinds & (1ull << k))
				fprintf(stderr, "%s,", sql_kind_name(k));
		fprintf(stderr, " flags=%#x reason=\"%s\" name=\"%s\" tables=", s->flags,
			s->reason, s->name);
		for (size_t t = 0; t < s->ntables; t++)
			fprintf(stderr, "%s%s", t ? " " : "", s->tables[t]);
		fputc('\n', stderr);
	}
	if (v->error[0])
		fprintf(stderr, "    error=\"%s\" pos=%d\n", v->error, v->error_pos);
}

/* ------------------------------------------------------------ the table */

#define ANY (-1)

struct tcase {
	const char *name;
	const char *sql;
	int rc;             /* expected return */
	int n;              /* statements, or ANY */
	int at;             /* the statement the checks below are about */
	int cls;            /* enum sql_class, or ANY */
	int kind;           /* enum sql_kind, or ANY */
	const char *kinds;  /* kinds that must be in the mask, space-separated */
	const char *nokinds; /* kinds that must not be */
	uint32_t on;        /* flags that must be set */
	uint32_t off;       /* flags that must be clear */
	const char *tables; /* the exact table list, space-separated ("" for none) */
	const char *columns; /* the exact column references, likewise */
	const char *functions; /* the exact functions called, likewise */
	const char *sources; /* the exact stored-value references, likewise */
	const char *pairs;   /* the exact pairs, column and source joined by \x1f, likewise */
	const char *target;  /* the table an INSERT/UPDATE writes, "" for none */
	const char *targets; /* the columns it names, likewise */
	const char *sname;  /* expected name */
	const char *text;   /* substring of reason (or of error when rc < 0) */
	int pos;            /* expected error_pos, when nonzero */
};

/* one statement of class CL and kind KD */
#define ONE(nm, q, cl, kd) .name = nm, .sql = q, .n = 1, .cls = SQL_CLASS_##cl, .kind = SQL_KIND_##kd
#define ERR(nm, q, code) .name = nm, .sql = q, .rc = code, .n = 0, .cls = ANY, .kind = ANY

#define DWW SQL_F_DELETE_WITHOUT_WHERE
#define UWW SQL_F_UPDATE_WITHOUT_WHERE

static const struct tcase table[] = {
	/* --- plain statements: class and kind */
	{ ONE("select", "SELECT a FROM t WHERE id = 1", READ, SELECT), .tables = "t" },
	{ ONE("values", "VALUES (1), (2)", READ, SELECT), .tables = "" },
	{ ONE("table", "TABLE s.t", READ, SELECT), .tables = "s.t" },
	{ ONE("insert", "INSERT INTO t (a) VALUES (1)", WRITE, INSERT), .tables = "t" },
	{ ONE("insert select", "INSERT INTO t SELECT * FROM u", WRITE, INSERT),
	  .kinds = "insert select", .tables = "t u" },
	{ ONE("upsert is also an update", "INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 2",
	      WRITE, INSERT), .kinds = "insert update" },
	{ ONE("upsert do nothing", "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", WRITE, INSERT),
	  .nokinds = "update" },
	{ ONE("update with where", "UPDATE t SET a = 1 WHERE id = 2", WRITE, UPDATE), .off = UWW },
	{ ONE("update without where", "UPDATE t SET a = 1", WRITE, UPDATE), .on = UWW },
	{ ONE("update where true", "UPDATE t SET a = 1 WHERE true", WRITE, UPDATE), .on = UWW },
	{ ONE("update where 1=1", "UPDATE t SET a = 1 WHERE 1 = 1", WRITE, UPDATE),
	  .on = UWW | SQL_F_NO_SHARE },
	{ ONE("update where 1=2", "UPDATE t SET a = 1 WHERE 1 = 2", WRITE, UPDATE),
	  .on = SQL_F_NO_SHARE, .off = UWW },
	{ ONE("delete with where", "DELETE FROM t WHERE id = 1", WRITE, DELETE), .off = DWW },
	{ ONE("delete without where", "DELETE FROM t", WRITE, DELETE), .on = DWW, .tables = "t" },
	{ ONE("delete where x = x", "DELETE FROM t WHERE id = id", WRITE, DELETE), .on = DWW },
	{ ONE("delete where current of", "DELETE FROM t WHERE CURRENT OF c", WRITE, DELETE), .off = DWW },
	{ ONE("delete using, no where", "DELETE FROM t USING u", WRITE, DELETE), .on = DWW,
	  .tables = "t u" },
	{ ONE("merge carries its actions", "MERGE INTO t USING s ON t.id = s.id "
	      "WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.id)", WRITE, MERGE),
	  .kinds = "merge delete insert", .nokinds = "update", .tables = "t s" },
	{ ONE("truncate", "TRUNCATE a, b.c", WRITE, TRUNCATE), .tables = "a b.c", .off = DWW },
	{ ONE("select for update", "SELECT * FROM t FOR UPDATE", WRITE, SELECT), .text = "FOR UPDATE" },
	{ ONE("select for share in a subquery", "SELECT * FROM (SELECT * FROM t FOR SHARE) x",
	      WRITE, SELECT) },
	{ ONE("select into creates a table", "SELECT * INTO n FROM t", DDL, SELECT),
	  .kinds = "select create", .tables = "n t" },
	{ ONE("create table as", "CREATE TABLE n AS SELECT * FROM t", DDL, CREATE),
	  .kinds = "create select", .tables = "t n" },

	/* --- ddl, dcl, admin */
	{ ONE("create table", "CREATE TABLE t (a int REFERENCES u)", DDL, CREATE), .tables = "t u" },
	{ ONE("create index", "CREATE INDEX i ON t (a)", DDL, CREATE), .tables = "t" },
	{ ONE("alter table", "ALTER TABLE t ADD COLUMN b int", DDL, ALTER), .tables = "t" },
	{ ONE("drop table", "DROP TABLE s.t, u", DDL, DROP), .tables = "s.t u" },
	{ ONE("drop function", "DROP FUNCTION f(int)", DDL, DROP), .tables = "" },
	{ ONE("comment", "COMMENT ON TABLE t IS 'x'", DDL, COMMENT) },
	{ ONE("create view runs its query later", "CREATE VIEW v AS SELECT pg_read_file('/etc/passwd')",
	      ADMIN, CREATE), .kinds = "create select", .on = SQL_F_SIDE_EFFECT_CALL },
	{ ONE("create extension", "CREATE EXTENSION pgcrypto", DDL, CREATE) },
	{ ONE("create database", "CREATE DATABASE d", DDL, CREATE) },
	{ ONE("refresh matview", "REFRESH MATERIALIZED VIEW m", WRITE, REFRESH), .tables = "m" },
	{ ONE("grant", "GRANT SELECT ON t TO u", DCL, GRANT), .tables = "t" },
	{ ONE("revoke", "REVOKE ALL ON t FROM u", DCL, REVOKE) },
	{ ONE("grant role", "GRANT admin TO ci", DCL, GRANT) },
	{ ONE("revoke role", "REVOKE admin FROM ci", DCL, REVOKE) },
	{ ONE("create role", "CREATE ROLE r LOGIN", DCL, CREATE) },
	{ ONE("alter role", "ALTER ROLE r SUPERUSER", DCL, ALTER) },
	{ ONE("rename role", "ALTER ROLE r RENAME TO s", DCL, ALTER) },
	{ ONE("alter table owner", "ALTER TABLE t OWNER TO r", DCL, ALTER), .text = "ChangeOwner" },
	{ ONE("alter table rls off", "ALTER TABLE t DISABLE ROW LEVEL SECURITY", DCL, ALTER) },
	{ ONE("create policy", "CREATE POLICY p ON t USING (true)", DCL, CREATE), .tables = "t" },
	{ ONE("drop policy", "DROP POLICY p ON t", DCL, DROP) },
	{ ONE("alter default privileges", "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO r",
	      DCL, ALTER) },
	{ ONE("user mapping holds credentials", "CREATE USER MAPPING FOR r SERVER s "
	      "OPTIONS (password 'x')", DCL, CREATE) },
	{ ONE("vacuum", "VACUUM t", ADMIN, VACUUM), .tables = "t" },
	{ ONE("analyze", "ANALYZE t", ADMIN, ANALYZE), .tables = "t" },
	{ ONE("vacuum analyze", "VACUUM ANALYZE", ADMIN, VACUUM) },
	{ ONE("checkpoint", "CHECKPOINT", ADMIN, CHECKPOINT) },
	{ ONE("cluster", "CLUSTER t USING i", ADMIN, CLUSTER) },
	{ ONE("reindex", "REINDEX TABLE t", ADMIN, REINDEX) },
	{ ONE("load", "LOAD 'auto_explain'", ADMIN, LOAD) },
	{ ONE("alter system", "ALTER SYSTEM SET work_mem = '1GB'", ADMIN, ALTER) },
	{ ONE("create tablespace", "CREATE TABLESPACE ts LOCATION '/srv'", ADMIN, CREATE) },
	{ ONE("create subscription", "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p",
	      ADMIN, CREATE) },
	{ ONE("lock share mode blocks writers", "LOCK TABLE t IN SHARE MODE", WRITE, LOCK),
	  .tables = "t" },
	{ ONE("lock access share", "LOCK TABLE t IN ACCESS SHARE MODE", READ, LOCK) },
	{ ONE("lock default is access exclusive", "LOCK t", WRITE, LOCK) },

	/* --- session */
	{ ONE("begin", "BEGIN", SESSION, TRANSACTION) },
	{ ONE("start transaction", "START TRANSACTION ISOLATION LEVEL SERIALIZABLE", SESSION,
	      TRANSACTION) },
	{ ONE("commit", "COMMIT", SESSION, TRANSACTION) },
	{ ONE("rollback to savepoint", "ROLLBACK TO SAVEPOINT a", SESSION, TRANSACTION) },
	{ ONE("prepare transaction", "PREPARE TRANSACTION 'x'", ADMIN, TRANSACTION),
	  .text = "two-phase" },
	{ ONE("set", "SET work_mem = '64MB'", SESSION, SET) },
	{ ONE("set local", "SET LOCAL statement_timeout = 0", SESSION, SET) },
	{ ONE("set transaction", "SET TRANSACTION READ ONLY", SESSION, SET) },
	{ ONE("set time zone", "SET TIME ZONE 'UTC'", SESSION, SET) },
	{ ONE("set constraints", "SET CONSTRAINTS ALL DEFERRED", SESSION, SET) },
	{ ONE("reset", "RESET work_mem", SESSION, RESET) },
	{ ONE("reset all", "RESET ALL", SESSION, RESET) },
	{ ONE("show", "SHOW search_path", SESSION, SHOW) },
	{ ONE("show role is harmless", "SHOW role", SESSION, SHOW) },
	{ ONE("listen", "LISTEN jobs", SESSION, LISTEN) },
	{ ONE("unlisten", "UNLISTEN *", SESSION, UNLISTEN) },
	{ ONE("notify reaches other sessions", "NOTIFY jobs, 'go'", WRITE, NOTIFY) },
	{ ONE("discard", "DISCARD ALL", SESSION, DISCARD) },
	{ ONE("advisory lock", "SELECT pg_advisory_lock(42)", SESSION, SELECT),
	  .on = SQL_F_SIDE_EFFECT_CALL },
	{ ONE("try advisory xact lock", "SELECT pg_try_advisory_xact_lock(1, 2)", SESSION, SELECT) },
	{ ONE("declare cursor", "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t", READ, DECLARE),
	  .kinds = "declare select", .sname = "c", .tables = "t" },
	{ ONE("fetch", "FETCH 10 FROM c", READ, FETCH), .sname = "c" },
	{ ONE("move", "MOVE LAST IN c", READ, MOVE), .sname = "c" },
	{ ONE("close", "CLOSE c", SESSION, CLOSE), .sname = "c" },

	/* --- role and authorization are dcl, not session */
	{ ONE("set role", "SET ROLE admin", DCL, SET), .text = "role" },
	{ ONE("set local role", "SET LOCAL ROLE admin", DCL, SET) },
	{ ONE("set role none", "SET ROLE NONE", DCL, SET) },
	{ ONE("reset role", "RESET ROLE", DCL, RESET) },
	{ ONE("set session authorization", "SET SESSION AUTHORIZATION bob", DCL, SET) },
	{ ONE("set session authorization default", "SET SESSION AUTHORIZATION DEFAULT", DCL, SET) },
	{ ONE("reset session authorization", "RESET SESSION AUTHORIZATION", DCL, RESET) },
	{ ONE("set role via set_config", "SELECT set_config('role', 'admin', false)", DCL, SELECT),
	  .on = SQL_F_SIDE_EFFECT_CALL | SQL_F_NO_SHARE },
	{ ONE("set_config ROLE in capitals", "SELECT pg_catalog.set_config('ROLE', 'admin', true)",
	      DCL, SELECT) },
	{ ONE("set_config authorization", "SELECT set_config('session_authorization', 'x', false)",
	      DCL, SELECT) },
	{ ONE("set_config computed name", "SELECT set_config(lower('ROLE'), 'admin', false)",
	      DCL, SELECT), .text = "computed" },
	{ ONE("set_config parameter name", "SELECT set_config($1, $2, false)", DCL, SELECT) },
	{ ONE("set_config ordinary", "SELECT set_config('work_mem', '1MB', false)", SESSION, SELECT),
	  .on = SQL_F_NO_SHARE },
	{ ONE("set_config in a where clause", "SELECT 1 FROM t WHERE set_config('role', 'x', true) "
	      "IS NOT NULL", DCL, SELECT) },

	/* --- settings that change how statements are read */
	{ ONE("scs off", "SET standard_conforming_strings = off", ADMIN, SET) },
	{ ONE("scs 0", "SET standard_conforming_strings = 0", ADMIN, SET) },
	{ ONE("scs on", "SET standard_conforming_strings TO on", SESSION, SET) },
	{ ONE("scs via set_config", "SELECT set_config('standard_conforming_strings', 'off', false)",
	      ADMIN, SELECT) },
	{ ONE("client encoding sjis", "SET NAMES 'SJIS'", ADMIN, SET), .on = SQL_F_NO_SHARE },
	{ ONE("client encoding alias", "SET client_encoding = 'Windows-932'", ADMIN, SET) },
	{ ONE("client encoding utf-8", "SET client_encoding TO 'utf-8'", SESSION, SET) },
	{ ONE("client encoding default", "SET client_encoding TO DEFAULT", SESSION, SET) },
	{ ONE("session replication role", "SET session_replication_role = replica", ADMIN, SET) },
	{ ONE("alter database set scs", "ALTER DATABASE d SET standard_conforming_strings = off",
	      ADMIN, ALTER) },
	{ ONE("alter database set ordinary", "ALTER DATABASE d SET work_mem = '1MB'", DDL, ALTER) },
	{ ONE("alter role set encoding", "ALTER ROLE r SET client_encoding = 'BIG5'", ADMIN, ALTER) },
	{ ONE("alter role set ordinary", "ALTER ROLE r IN DATABASE d SET search_path = s", DCL, ALTER) },

	/* --- statements that run other statements */
	{ ONE("prepare judges the inner statement", "PREPARE p (int) AS DELETE FROM t WHERE id = $1",
	      WRITE, PREPARE), .kinds = "prepare delete", .sname = "p", .off = DWW, .tables = "t" },
	{ ONE("prepare delete without where", "PREPARE q AS DELETE FROM t", WRITE, PREPARE),
	  .on = DWW | SQL_F_NO_SHARE },
	{ ONE("prepare select", "PREPARE r AS SELECT 1", READ, PREPARE) },
	{ ONE("execute needs the prepared statement", "EXECUTE p (1)", READ, EXECUTE),
	  .on = SQL_F_NEEDS_PREPARED | SQL_F_NO_SHARE, .sname = "p" },
	{ ONE("execute params are judged", "EXECUTE p (pg_terminate_backend(7))", ADMIN, EXECUTE),
	  .on = SQL_F_NEEDS_PREPARED },
	{ ONE("deallocate", "DEALLOCATE PREPARE p", SESSION, DEALLOCATE), .sname = "p" },
	{ ONE("deallocate all", "DEALLOCATE ALL", SESSION, DEALLOCATE), .sname = "" },
	{ ONE("explain is a read", "EXPLAIN DELETE FROM t", READ, EXPLAIN), .nokinds = "delete",
	  .off = DWW | SQL_F_EXPLAIN_ANALYZE, .tables = "t" },
	{ ONE("explain analyze runs it", "EXPLAIN ANALYZE DELETE FROM t", WRITE, EXPLAIN),
	  .kinds = "explain delete", .on = DWW | SQL_F_EXPLAIN_ANALYZE },
	{ ONE("explain (analyze) options", "EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1",
	      WRITE, EXPLAIN), .on = UWW },
	{ ONE("explain (analyze false)", "EXPLAIN (ANALYZE false) DELETE FROM t", READ, EXPLAIN),
	  .off = DWW },
	{ ONE("explain (analyze off)", "EXPLAIN (ANALYZE off, VERBOSE) INSERT INTO t VALUES (1)",
	      READ, EXPLAIN) },
	{ ONE("explain (analyze 0)", "EXPLAIN (ANALYZE 0) INSERT INTO t VALUES (1)", READ, EXPLAIN) },
	{ ONE("explain (analyze on)", "EXPLAIN (ANALYZE on) INSERT INTO t VALUES (1)", WRITE, EXPLAIN) },
	{ ONE("explain analyze execute", "EXPLAIN ANALYZE EXECUTE p", READ, EXPLAIN),
	  .on = SQL_F_NEEDS_PREPARED, .sname = "p" },
	{ ONE("plain explain still counts side effects", "EXPLAIN SELECT lo_import('/etc/shadow')",
	      ADMIN, EXPLAIN) },
	{ ONE("writable cte", "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone",
	      WRITE, SELECT), .kinds = "select delete", .on = DWW, .tables = "t" },
	{ ONE("writable cte with where", "WITH x AS (UPDATE t SET a = 1 WHERE id = 2 RETURNING id) "
	      "SELECT * FROM x", WRITE, SELECT), .kinds = "update", .off = UWW | DWW },
	{ ONE("nested writable cte", "WITH a AS (WITH b AS (INSERT INTO t VALUES (1) RETURNING 1) "
	      "SELECT * FROM b) SELECT * FROM a", WRITE, SELECT), .tables = "t" },
	{ ONE("cte names are not tables", "WITH t AS (SELECT 1) SELECT * FROM t, s.t", READ, SELECT),
	  .tables = "s.t" },
	{ ONE("cte body sees the real table", "WITH t AS (SELECT * FROM t) SELECT * FROM t",
	      READ, SELECT), .tables = "t" },
	{ ONE("recursive cte", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
	      "SELECT * FROM r, real", READ, SELECT), .tables = "real" },
	{ ONE("do", "DO $$BEGIN DELETE FROM t; END$$", PROCEDURAL, DO), .on = SQL_F_BODY_PLPGSQL },
	{ ONE("do untrusted", "DO LANGUAGE plpython3u $$import os$$", ADMIN, DO),
	  .on = SQL_F_BODY_OTHER },
	{ ONE("call", "CALL archive(30)", PROCEDURAL, CALL) },
	{ ONE("call with side effect arg", "CALL p(pg_read_file('/x'))", ADMIN, CALL) },
	{ ONE("create function sql body parsed", "CREATE FUNCTION f() RETURNS void AS "
	      "'DELETE FROM t' LANGUAGE sql", DDL, CREATE),
	  .kinds = "create delete", .on = SQL_F_BODY_SQL | DWW | SQL_F_NO_SHARE, .tables = "t" },
	{ ONE("create function sql body with side effect", "CREATE FUNCTION f() RETURNS text AS "
	      "$$ SELECT pg_read_file('/etc/passwd') $$ LANGUAGE sql", ADMIN, CREATE),
	  .text = "SQL function body" },
	{ ONE("create function begin atomic", "CREATE FUNCTION f() RETURNS int LANGUAGE sql "
	      "BEGIN ATOMIC UPDATE t SET a = 1; SELECT 1; END", DDL, CREATE),
	  .kinds = "create update select", .on = SQL_F_BODY_SQL | UWW },
	{ ONE("create function plpgsql", "CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $$ "
	      "BEGIN DELETE FROM t; RETURN NULL; END $$ LANGUAGE plpgsql", DDL, CREATE),
	  .on = SQL_F_BODY_PLPGSQL, .off = SQL_F_BODY_SQL | DWW, .nokinds = "delete" },
	{ ONE("create procedure", "CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN END $$",
	      DDL, CREATE), .on = SQL_F_BODY_PLPGSQL },
	{ ONE("create function in C", "CREATE FUNCTION f() RETURNS int AS 'x.so', 'f' LANGUAGE c",
	      ADMIN, CREATE), .on = SQL_F_BODY_OTHER },
	{ ONE("create function untrusted", "CREATE FUNCTION f() RETURNS int AS $$ return 1 $$ "
	      "LANGUAGE plperlu", ADMIN, CREATE) },
	{ ONE("create function security definer", "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' "
	      "LANGUAGE sql SECURITY DEFINER", DDL, CREATE), .on = SQL_F_SECURITY_DEFINER },
	{ ONE("alter function security definer", "ALTER FUNCTION f() SECURITY DEFINER", DDL, ALTER),
	  .on = SQL_F_SECURITY_DEFINER },
	{ ONE("rule actions count", "CREATE RULE r AS ON INSERT TO t DO ALSO DELETE FROM u",
	      DDL, CREATE), .kinds = "create delete" },
	{ ONE("create schema with grant", "CREATE SCHEMA s CREATE TABLE x (a int) "
	      "GRANT SELECT ON x TO r", DCL, CREATE) },

	/* --- COPY */
	{ ONE("copy from stdin", "COPY t (a, b) FROM STDIN WITH (FORMAT csv)", COPY_IN, COPY),
	  .tables = "t" },
	{ ONE("copy to stdout", "COPY t TO STDOUT", COPY_OUT, COPY), .tables = "t" },
	{ ONE("copy query to stdout", "COPY (SELECT * FROM t) TO STDOUT", COPY_OUT, COPY),
	  .kinds = "copy select", .tables = "t" },
	{ ONE("copy delete returning", "COPY (DELETE FROM t RETURNING *) TO STDOUT", WRITE, COPY),
	  .on = DWW },
	{ ONE("copy to file", "COPY t TO '/tmp/t.csv'", ADMIN, COPY), .text = "server file" },
	{ ONE("copy from file", "COPY t FROM '/etc/passwd'", ADMIN, COPY) },
	{ ONE("copy from program", "COPY t FROM PROGRAM 'curl evil'", ADMIN, COPY),
	  .text = "PROGRAM" },
	{ ONE("copy to program", "COPY (SELECT 1) TO PROGRAM 'sh'", ADMIN, COPY) },

	/* --- functions with side effects */
	{ ONE("pg_read_file", "SELECT pg_read_file('/etc/passwd')", ADMIN, SELECT),
	  .on = SQL_F_SIDE_EFFECT_CALL, .text = "pg_read_file" },
	{ ONE("schema-qualified", "SELECT pg_catalog.pg_read_binary_file('/x')", ADMIN, SELECT) },
	{ ONE("quoted name is the same function", "SELECT \"pg_ls_dir\"('.')", ADMIN, SELECT) },
	{ ONE("prefix entry", "SELECT * FROM pg_ls_waldir()", ADMIN, SELECT) },
	{ ONE("in from clause", "SELECT * FROM pg_stat_file('/x') AS f", ADMIN, SELECT) },
	{ ONE("in a where clause", "SELECT 1 FROM t WHERE pg_terminate_backend(42)", ADMIN, SELECT) },
	{ ONE("in a lateral subquery", "SELECT * FROM t, LATERAL (SELECT lo_export(t.o, '/x')) y",
	      ADMIN, SELECT) },
	{ ONE("prefix: advisory lock shared", "SELECT pg_advisory_lock_shared(1)", SESSION, SELECT) },
	{ ONE("prefix: stat reset shared", "SELECT pg_stat_reset_shared('bgwriter')", ADMIN, SELECT) },
	{ ONE("prefix: logical slot", "SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)",
	      ADMIN, SELECT) },
	{ ONE("prefix: replication origin", "SELECT pg_replication_origin_create('o')", ADMIN, SELECT) },
	{ ONE("near miss is not a prefix", "SELECT pg_stat_get_activity(NULL), pg_lsn('0/0')",
	      READ, SELECT), .off = SQL_F_SIDE_EFFECT_CALL },
	{ ONE("lo_unlink", "SELECT lo_unlink(1234)", WRITE, SELECT) },
	{ ONE("nextval", "SELECT nextval('s')", WRITE, SELECT), .kinds = "select" },
	{ ONE("setval in insert", "INSERT INTO t VALUES (setval('s', 1))", WRITE, INSERT) },
	{ ONE("dblink", "SELECT * FROM dblink('host=x', 'DROP TABLE t') AS r(a int)",
	      PROCEDURAL, SELECT) },
	{ ONE("dblink_exec", "SELECT dblink_exec('DELETE FROM t')", PROCEDURAL, SELECT) },
	{ ONE("dblink_connect_u", "SELECT dblink_connect_u('c', 'dbname=x')", ADMIN, SELECT) },
	{ ONE("query_to_xml runs text", "SELECT query_to_xml('DELETE FROM t', true, true, '')",
	      PROCEDURAL, SELECT) },
	{ ONE("pg_reload_conf", "SELECT pg_reload_conf()", ADMIN, SELECT) },
	{ ONE("txid_current", "SELECT txid_current()", ADMIN, SELECT) },
	{ ONE("replication slot", "SELECT pg_create_logical_replication_slot('s', 'pgoutput')",
	      ADMIN, SELECT) },
	{ ONE("strongest wins", "SELECT nextval('s'), pg_advisory_lock(1), pg_reload_conf()",
	      ADMIN, SELECT), .text = "pg_reload_conf" },
	{ ONE("pg_sleep is no side effect", "SELECT pg_sleep(1)", READ, SELECT),
	  .off = SQL_F_SIDE_EFFECT_CALL },
	{ ONE("ordinary functions", "SELECT lower(a), count(*), now() FROM t GROUP BY 1", READ, SELECT),
	  .off = SQL_F_SIDE_EFFECT_CALL },
	{ ONE("user function in capitals is another function", "SELECT \"PG_READ_FILE\"('x')",
	      READ, SELECT) },
	{ ONE("default expression counts", "CREATE TABLE t (a bigint DEFAULT nextval('s'))",
	      DDL, CREATE), .on = SQL_F_SIDE_EFFECT_CALL },

	/* --- quoting tricks: words in strings, comments, identifiers */
	{ ONE("keywords in a string", "SELECT 'DROP TABLE t; DELETE FROM u'", READ, SELECT),
	  .tables = "" },
	{ ONE("function name in a string", "SELECT 'pg_read_file(''/etc/passwd'')'", READ, SELECT) },
	{ ONE("line comment", "SELECT 1 -- ; DROP TABLE t", READ, SELECT) },
	{ ONE("block comment", "SELECT /* ; DROP TABLE t; */ 1", READ, SELECT) },
	{ ONE("nested block comment", "/* /* */ DROP TABLE t; */ SELECT 1", READ, SELECT) },
	{ ONE("dollar quotes", "SELECT $$; DROP TABLE t; $$", READ, SELECT) },
	{ ONE("tagged dollar quotes", "SELECT $x$ $$; DROP TABLE t; $$ $x$", READ, SELECT) },
	{ ONE("E string with escaped quote", "SELECT E'\\'; DROP TABLE t; --'", READ, SELECT) },
	{ .name = "backslash ends a standard string", .sql = "SELECT 'a\\'; DROP TABLE t; --'",
	  .n = 2, .at = 1, .cls = SQL_CLASS_DDL, .kind = SQL_KIND_DROP },
	{ ONE("identifiers named like keywords", "SELECT \"delete\", \"drop\" FROM \"update\"",
	      READ, SELECT), .tables = "update" },
	{ ONE("table named like a function", "SELECT pg_read_file FROM pg_read_file", READ, SELECT),
	  .tables = "pg_read_file" },
	{ ONE("quoted table names", "SELECT * FROM \"Weird.Name\", public.\"T\", \"a\"\"b\"",
	      READ, SELECT), .tables = "\"Weird.Name\" public.\"T\" \"a\"\"b\"" },
	{ ONE("unicode escape identifier", "SELECT * FROM U&\"d\\0061ta\"", READ, SELECT),
	  .tables = "data" },
	{ ONE("three-part name and dedup", "SELECT * FROM db.s.t, db.s.t, s.t", READ, SELECT),
	  .tables = "db.s.t s.t" },
	{ ONE("upper case folds", "SELECT * FROM Orders JOIN ORDERS o2 USING (id)", READ, SELECT),
	  .tables = "orders" },

	/* --- references, for masking */
	{ ONE("column references", "SELECT u.ssn, Name, upper(x.\"Mail\") FROM users u WHERE id = 1",
	      READ, SELECT), .columns = "ssn name Mail id", .functions = "upper",
	  .off = SQL_F_STAR | SQL_F_WHOLE_ROW },
	{ ONE("star", "SELECT * FROM t", READ, SELECT), .columns = "", .on = SQL_F_STAR,
	  .off = SQL_F_WHOLE_ROW },
	{ ONE("whole row by alias", "SELECT row_to_json(u) FROM users u", READ, SELECT),
	  .columns = "u", .functions = "row_to_json", .on = SQL_F_WHOLE_ROW },
	{ ONE("whole row by name", "SELECT users FROM users", READ, SELECT),
	  .on = SQL_F_WHOLE_ROW },
	{ ONE("columns renamed by an alias", "SELECT x || '' FROM users AS u(i, n, x)", READ,
	      SELECT), .columns = "x", .on = SQL_F_WHOLE_ROW | SQL_F_NO_SHARE },
	{ ONE("an alias is not shared by fingerprint", "SELECT row_to_json(u) FROM users v", READ,
	      SELECT), .on = SQL_F_NO_SHARE, .off = SQL_F_WHOLE_ROW },
	{ ONE("lexing settings", "SET standard_conforming_strings = on", SESSION, SET),
	  .on = SQL_F_LEXING },
	{ ONE("reset all", "RESET ALL", SESSION, RESET), .on = SQL_F_LEXING },
	{ ONE("an ordinary setting", "SET work_mem = '4MB'", SESSION, SET), .off = SQL_F_LEXING },
	{ ONE("schema-qualified function", "SELECT s.f(a), pg_catalog.now() FROM t", READ, SELECT),
	  .columns = "a", .functions = "f now" },
	{ ONE("references in a subquery and CTE",
	      "WITH c AS (SELECT ssn FROM users) SELECT (SELECT max(x) FROM c) FROM t", READ,
	      SELECT), .columns = "ssn x", .functions = "max", .tables = "users t" },

	{ ONE("copy of a table", "COPY t (a) TO STDOUT", COPY_OUT, COPY), .tables = "t",
	  .on = SQL_F_COPY_RELATION },
	{ ONE("copy of a query", "COPY (SELECT a FROM t) TO STDOUT", COPY_OUT, COPY),
	  .tables = "t", .columns = "a", .off = SQL_F_COPY_RELATION },

	/* --- values that may be stored (copies of masked data) */
	{ ONE("select stores nothing", "SELECT ssn FROM users WHERE email = 'x'", READ, SELECT),
	  .sources = "", .off = SQL_F_VALUE_STAR | SQL_F_VALUE_WHOLE_ROW },
	{ ONE("insert select", "INSERT INTO t (a) SELECT upper(ssn) FROM users WHERE id = k", WRITE,
	      INSERT), .sources = "ssn id k" },
	{ ONE("insert select star", "INSERT INTO t SELECT * FROM users", WRITE, INSERT),
	  .on = SQL_F_VALUE_STAR, .sources = "" },
	{ ONE("update set from", "UPDATE t SET a = u.ssn FROM users u WHERE t.id = u.id", WRITE,
	      UPDATE), .sources = "", .pairs = "a\x1f" "ssn", .columns = "ssn id", .target = "t",
	  .targets = "a" },
	{ ONE("update in place", "UPDATE s.acc SET bal = bal + 1, n = 2 WHERE id = 3", WRITE,
	      UPDATE), .sources = "", .pairs = "bal\x1f" "bal", .target = "acc", .targets = "bal n" },
	{ ONE("update from a subquery", "UPDATE t SET a = (SELECT ssn FROM users LIMIT 1)", WRITE,
	      UPDATE), .sources = "", .pairs = "a\x1f" "ssn" },
	{ ONE("update of several at once", "UPDATE t SET (a, b) = (SELECT x, y FROM u)", WRITE,
	      UPDATE), .sources = "x y", .pairs = "" },
	{ ONE("upsert", "INSERT INTO u (id, ssn) VALUES (2, '9') ON CONFLICT (id) DO UPDATE "
	      "SET ssn = EXCLUDED.ssn", WRITE, INSERT), .sources = "", .pairs = "ssn\x1f" "ssn",
	  .target = "u", .targets = "id ssn" },
	{ ONE("with of an insert", "WITH c AS (SELECT ssn AS x FROM users) INSERT INTO n "
	      "SELECT x FROM c", WRITE, INSERT), .sources = "ssn x" },
	{ ONE("insert columns", "INSERT INTO h (a, b) VALUES (1, 2)", WRITE, INSERT),
	  .sources = "", .target = "h", .targets = "a b" },
	{ ONE("two writes keep no target", "WITH x AS (UPDATE a SET c = 1 RETURNING c) "
	      "INSERT INTO b SELECT c FROM x", WRITE, INSERT), .target = "",
	  .on = SQL_F_MANY_TARGETS },
	{ ONE("update keyed by a column", "UPDATE users SET name = 'x' WHERE ssn = '1'", WRITE,
	      UPDATE), .sources = "", .columns = "ssn" },
	{ ONE("create table as", "CREATE TABLE x AS SELECT email FROM users", DDL, CREATE),
	  .sources = "email" },
	{ ONE("select into", "SELECT ssn INTO x FROM users", DDL, SELECT), .sources = "ssn" },
	{ ONE("set_config", "SELECT set_config('application_name', ssn, false) FROM users",
	      SESSION, SELECT), .sources = "ssn" },
	{ ONE("whole row stored", "INSERT INTO t SELECT row_to_json(u) FROM users u", WRITE,
	      INSERT), .on = SQL_F_VALUE_WHOLE_ROW },
	{ ONE("writable cte", "WITH x AS (INSERT INTO t SELECT ssn FROM users RETURNING 1) "
	      "SELECT * FROM x", WRITE, SELECT), .sources = "ssn" },

	/* --- multi-statement strings */
	{ .name = "transaction around an update", .sql = "BEGIN; UPDATE t SET a = 1; COMMIT",
	  .n = 3, .at = 1, .cls = SQL_CLASS_WRITE, .kind = SQL_KIND_UPDATE, .on = UWW },
	{ .name = "third of three", .sql = "SELECT 1; SELECT 2; DROP TABLE x",
	  .n = 3, .at = 2, .cls = SQL_CLASS_DDL, .kind = SQL_KIND_DROP, .tables = "x" },
	{ .name = "empty statements skipped", .sql = ";;SELECT 1;;", .n = 1, .cls = SQL_CLASS_READ,
	  .kind = SQL_KIND_SELECT },
	{ .name = "empty string", .sql = "", .n = 0, .cls = ANY, .kind = ANY },
	{ .name = "only a comment", .sql = "-- nothing\n/* here */", .n = 0, .cls = ANY, .kind = ANY },

	/* --- unparseable: denied with the parser's message and position */
	{ ERR("syntax error", "SELEC 1", -EINVAL), .text = "syntax error at or near \"SELEC\"",
	  .pos = 1 },
	{ ERR("error in the third statement", "SELECT 1; SELECT 2; DELETE t", -EINVAL),
	  .text = "syntax error", .pos = 28 },
	{ ERR("position counts characters", "SELECT 'ä€😀', ? FROM t", -EINVAL), .pos = 17 },
	{ ERR("unterminated string", "SELECT 'abc", -EINVAL), .text = "unterminated" },
	{ ERR("unterminated comment", "SELECT 1 /* x", -EINVAL) },
	{ ERR("unterminated dollar quote", "SELECT $a$ x", -EINVAL) },
	{ ERR("psql meta-command", "\\c otherdb", -EINVAL) },
	{ ERR("null statement text", NULL, -EINVAL) },
	{ ERR("deep nesting", NULL, -E2BIG), .text = "nested too deeply" },
};

static bool words_in_mask(const char *words, uint64_t mask, bool want, const char **bad)
{
	static char w[64];
	const char *p = words;

	while (p && *p) {
		size_t n = strcspn(p, " ");
		int k;

		snprintf(w, sizeof w, "%.*s", (int)n, p);
		k = sql_kind_from_name(w);
		if (k < 0 || !!(mask & (1ull << k)) != want) {
			*bad = w;
			return false;
		}
		p += n;
		p += strspn(p, " ");
	}
	return true;
}

static void join_names(char *const *v, size_t n, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " " : "", v[i]);
}

/* The list v of n names is exactly want (space-separated), if want is set. */
static void check_names(const char *name, const char *what, char *const *v, size_t n,
			const char *want)
{
	char got[1024];

	join_names(v, n, got, sizeof got);
	if (want && strcmp(got, want) != 0)
		fail(name, "%s \"%s\", want \"%s\"", what, got, want);
}

static void run_case(const struct tcase *c, const char *sql)
{
	struct sql_verdict v;
	int rc = sql_classify(sql, &v);
	const struct sql_stmt *s;
	const char *bad = NULL;
	int before = failures;

	cases++;
	if (rc != c->rc) {
		fail(c->name, "returned %d, want %d", rc, c->rc);
		goto out;
	}
	if (rc < 0) {
		if (v.n || v.stmts)
			fail(c->name, "an error with statements left in the verdict");
		if (!v.error[0] || strchr(v.error, '\n'))
			fail(c->name, "error text empty or more than one line");
		if (c->text && !strstr(v.error, c->text))
			fail(c->name, "error \"%s\" lacks \"%s\"", v.error, c->text);
		if (c->pos && v.error_pos != c->pos)
			fail(c->name, "error_pos %d, want %d", v.error_pos, c->pos);
		goto out;
	}
	if (c->n != ANY && v.n != (size_t)c->n) {
		fail(c->name, "%zu statements, want %d", v.n, c->n);
		goto out;
	}
	if (v.n == 0)
		goto out;
	s = &v.stmts[c->at];
	if (c->cls != ANY && s->cls != (enum sql_class)c->cls)
		fail(c->name, "class %s, want %s", sql_class_name(s->cls), sql_class_name(c->cls));
	if (!(s->classes & (1u << s->cls)) || s->classes >> (s->cls + 1))
		fail(c->name, "cls %s is not the strongest of classes %#x", sql_class_name(s->cls),
		     s->classes);
	if (c->kind != ANY && s->kind != (enum sql_kind)c->kind)
		fail(c->name, "kind %s, want %s", sql_kind_name(s->kind), sql_kind_name(c->kind));
	if (!(s->kinds & (1ull << s->kind)))
		fail(c->name, "kind %s missing from kinds", sql_kind_name(s->kind));
	if (!words_in_mask(c->kinds, s->kinds, true, &bad))
		fail(c->name, "kinds lack %s", bad);
	if (!words_in_mask(c->nokinds, s->kinds, false, &bad))
		fail(c->name, "kinds have %s", bad);
	if ((s->flags & c->on) != c->on)
		fail(c->name, "flags %#x lack %#x", s->flags, c->on & ~s->flags);
	if (s->flags & c->off)
		fail(c->name, "flags %#x have %#x", s->flags, s->flags & c->off);
	check_names(c->name, "tables", s->tables, s->ntables, c->tables);
	check_names(c->name, "columns", s->columns, s->ncolumns, c->columns);
	check_names(c->name, "functions", s->functions, s->nfunctions, c->functions);
	check_names(c->name, "sources", s->sources, s->nsources, c->sources);
	check_names(c->name, "targets", s->targets, s->ntargets, c->targets);
	check_names(c->name, "pairs", s->pairs, s->npairs, c->pairs);
	if (c->target && strcmp(s->target, c->target))
		fail(c->name, "target \"%s\", want \"%s\"", s->target, c->target);
	if (c->sname && strcmp(s->name, c->sname) != 0)
		fail(c->name, "name \"%s\", want \"%s\"", s->name, c->sname);
	if (c->text && !strstr(s->reason, c->text))
		fail(c->name, "reason \"%s\" lacks \"%s\"", s->reason, c->text);
	if (!s->reason[0])
		fail(c->name, "no reason");
	for (size_t i = 0; i < v.n; i++)
		if (v.stmts[i].offset + v.stmts[i].len > strlen(sql))
			fail(c->name, "statement %zu outside the text", i);
out:
	if (failures != before)
		dump(&v);
	sql_verdict_free(&v);
	sql_verdict_free(&v); /* twice is fine */
}

/* ------------------------------------------------------- generated texts */

static char *repeat(const char *pre, const char *unit, size_t n, const char *post)
{
	size_t ul = strlen(unit);
	char *s = malloc(strlen(pre) + ul * n + strlen(post) + 1), *p;

	if (!s)
		abort();
	p = stpcpy(s, pre);
	for (size_t i = 0; i < n; i++)
		p = stpcpy(p, unit);
	strcpy(p, post);
	return s;
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct tcase *c = &table[i];
		char *gen = NULL;

		if (strcmp(c->name, "deep nesting") == 0)
			gen = repeat("SELECT 1", "+1", 2000, "");
		run_case(c, gen ? gen : c->sql);
		free(gen);
	}
}

static int classify_expect(const char *name, const char *sql, int want, struct sql_verdict *v)
{
	int rc = sql_classify(sql, v);

	cases++;
	if (rc != want) {
		fail(name, "returned %d (%s), want %d", rc, v->error, want);
		sql_verdict_free(v);
		return -1;
	}
	return 0;
}

static void test_offsets(void)
{
	const char *sql = "SELECT 1;\n  UPDATE t SET a = 2 WHERE b = 3 ; /* c */ DELETE FROM u";
	const char *want[] = { "SELECT 1", "UPDATE t SET a = 2 WHERE b = 3 ", "DELETE FROM u" };
	struct sql_verdict v;

	if (classify_expect("offsets", sql, 0, &v) < 0)
		return;
	if (v.n != 3) {
		fail("offsets", "%zu statements", v.n);
	} else {
		for (size_t i = 0; i < 3; i++) {
			/* PostgreSQL's statement spans start after the previous ';'
			 * and include leading blanks and comments: trim to compare */
			const char *p = sql + v.stmts[i].offset;
			size_t n = v.stmts[i].len;

			while (n && (*p == ' ' || *p == '\n'))
				p++, n--;
			if (strncmp(p, "/* c */ ", 8) == 0)
				p += 8, n -= 8;
			if (n != strlen(want[i]) || strncmp(p, want[i], n) != 0)
				fail("offsets", "statement %zu is \"%.*s\"", i, (int)n, p);
		}
	}
	sql_verdict_free(&v);
}

/* Above 64 KiB the string is split and parsed statement by statement:
 * same results, offsets and error positions in the whole string. */
static void test_long_string(void)
{
	char *body = repeat("", "INSERT INTO t VALUES (1, 'abcdefgh');\n", 3000, "");
	char *sql = malloc(strlen(body) + 64), *bad;
	struct sql_verdict v;

	sprintf(sql, "%sDELETE FROM t", body);
	if (classify_expect("long string", sql, 0, &v) == 0) {
		if (v.n != 3001)
			fail("long string", "%zu statements", v.n);
		else if (v.stmts[3000].kind != SQL_KIND_DELETE ||
			 !(v.stmts[3000].flags & SQL_F_DELETE_WITHOUT_WHERE) ||
			 strncmp(sql + v.stmts[3000].offset, "\nDELETE FROM t", 14) != 0 ||
			 v.stmts[0].cls != SQL_CLASS_WRITE || v.stmts[1].offset == 0)
			fail("long string", "wrong results");
		sql_verdict_free(&v);
	}
	/* an error in the last statement: position in characters of the whole */
	sprintf(sql, "%sSELECT 'é' FROM FROM", body);
	bad = sql;
	if (classify_expect("long string error", bad, -EINVAL, &v) == 0) {
		int want = (int)strlen(body) + 17;

		if (v.error_pos != want)
			fail("long string error", "error_pos %d, want %d (%s)", v.error_pos, want,
			     v.error);
		sql_verdict_free(&v);
	}
	free(body);
	free(sql);
}

static void test_limits(void)
{
	struct sql_verdict v;
	char *s;

	/* too many statements */
	s = repeat("", "SELECT 1;", SQL_MAX_STMTS + 1, "");
	if (classify_expect("too many statements", s, -E2BIG, &v) == 0)
		sql_verdict_free(&v);
	free(s);
	/* exactly the limit is fine */
	s = repeat("", "SELECT 1;", SQL_MAX_STMTS, "");
	if (classify_expect("max statements", s, 0, &v) == 0) {
		if (v.n != SQL_MAX_STMTS)
			fail("max statements", "%zu statements", v.n);
		sql_verdict_free(&v);
	}
	free(s);
	/* one statement too long */
	s = repeat("SELECT '", "x", SQL_MAX_STMT_TEXT, "'");
	if (classify_expect("statement too long", s, -E2BIG, &v) == 0)
		sql_verdict_free(&v);
	free(s);
	/* a left-deep chain that would overflow libpg_query's stack */
	s = repeat("SELECT 1", "+1", 500000, "");
	if (classify_expect("chain of 500000", s, -E2BIG, &v) == 0) {
		if (!strstr(v.error, "too complex"))
			fail("chain of 500000", "error \"%s\"", v.error);
		sql_verdict_free(&v);
	}
	free(s);
	s = repeat("SELECT 1", " UNION SELECT 1", 3000, "");
	if (classify_expect("union chain", s, -E2BIG, &v) == 0)
		sql_verdict_free(&v);
	free(s);
	/* parentheses: the parser's own stack gives up first */
	s = repeat("SELECT ", "(", 20000, "1");
	if (classify_expect("parentheses", s, -EINVAL, &v) == 0)
		sql_verdict_free(&v);
	free(s);
	/* wide but shallow is fine: a long IN list and a bulk insert */
	s = repeat("SELECT * FROM t WHERE a IN (0", ",1", 60000, ")");
	if (classify_expect("long in list", s, 0, &v) == 0)
		sql_verdict_free(&v);
	free(s);
	s = repeat("INSERT INTO t VALUES (0, '', 0)", ",(1, 'abc', 2.5)", 30000, "");
	if (classify_expect("bulk insert", s, 0, &v) == 0) {
		if (v.n != 1 || v.stmts[0].cls != SQL_CLASS_WRITE)
			fail("bulk insert", "wrong result");
		sql_verdict_free(&v);
	}
	free(s);
	/* tables are bounded */
	s = malloc(16 * 80 + 64);
	strcpy(s, "SELECT * FROM t0");
	for (int i = 1; i < SQL_MAX_TABLES + 10; i++)
		sprintf(s + strlen(s), ", t%d", i);
	if (classify_expect("many tables", s, 0, &v) == 0) {
		if (v.stmts[0].ntables != SQL_MAX_TABLES ||
		    !(v.stmts[0].flags & SQL_F_TABLES_TRUNCATED))
			fail("many tables", "%zu tables, flags %#x", v.stmts[0].ntables,
			     v.stmts[0].flags);
		sql_verdict_free(&v);
	}
	free(s);
}

static void test_merge(void)
{
	struct sql_verdict ex, prep;

	if (classify_expect("merge", "EXECUTE p (lo_unlink(1))", 0, &ex) < 0)
		return;
	if (classify_expect("merge", "PREPARE p AS DELETE FROM t", 0, &prep) < 0) {
		sql_verdict_free(&ex);
		return;
	}
	if (sql_merge(&ex.stmts[0], &prep.stmts[0]) != 0)
		fail("merge", "sql_merge failed");
	if (ex.stmts[0].cls != SQL_CLASS_WRITE || ex.stmts[0].kind != SQL_KIND_EXECUTE ||
	    !(ex.stmts[0].kinds & (1ull << SQL_KIND_DELETE)) ||
	    !(ex.stmts[0].flags & SQL_F_DELETE_WITHOUT_WHERE) ||
	    (ex.stmts[0].flags & SQL_F_NEEDS_PREPARED) || ex.stmts[0].ntables != 1 ||
	    strcmp(ex.stmts[0].tables[0], "t") != 0)
		fail("merge", "merged verdict wrong");
	sql_verdict_free(&prep);

	/* the stronger class wins with its reason */
	if (classify_expect("merge", "PREPARE q AS SELECT pg_read_file('/x')", 0, &prep) == 0) {
		if (sql_merge(&ex.stmts[0], &prep.stmts[0]) != 0 ||
		    ex.stmts[0].cls != SQL_CLASS_ADMIN || !strstr(ex.stmts[0].reason, "pg_read_file"))
			fail("merge", "stronger class lost: %s", ex.stmts[0].reason);
		sql_verdict_free(&prep);
	}
	sql_verdict_free(&ex);
}

/* Texts with one fingerprint but different verdicts must carry NO_SHARE. */
static void test_fingerprint(void)
{
	static const char *const pairs[][2] = {
		{ "SELECT set_config('work_mem', '1MB', false)", "SELECT set_config('role', 'x', false)" },
		{ "DELETE FROM t WHERE 1 = 2", "DELETE FROM t WHERE 1 = 1" },
		{ "DELETE FROM t WHERE false", "DELETE FROM t WHERE true" },
		{ "SET client_encoding = 'UTF8'", "SET client_encoding = 'SJIS'" },
		{ "SET standard_conforming_strings = on", "SET standard_conforming_strings = off" },
		{ "EXECUTE p", "EXECUTE q" },
		{ "PREPARE p AS SELECT 1", "PREPARE q AS SELECT 1" },
		{ "FETCH 1 FROM a", "FETCH 1 FROM b" },
		{ "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql",
		  "CREATE FUNCTION f() RETURNS int AS 'SELECT pg_reload_conf()' LANGUAGE sql" },
	};
	uint64_t a, b;
	char err[256];

	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		struct sql_verdict va, vb;

		cases++;
		if (sql_fingerprint(pairs[i][0], &a, err, sizeof err) != 0 ||
		    sql_fingerprint(pairs[i][1], &b, err, sizeof err) != 0) {
			fail("fingerprint", "%s: %s", pairs[i][0], err);
			continue;
		}
		if (a != b)
			continue; /* the fingerprint tells them apart: nothing to guard */
		if (classify_expect("fingerprint", pairs[i][0], 0, &va) < 0)
			continue;
		if (classify_expect("fingerprint", pairs[i][1], 0, &vb) == 0) {
			if (!(va.stmts[0].flags & SQL_F_NO_SHARE) ||
			    !(vb.stmts[0].flags & SQL_F_NO_SHARE))
				fail("fingerprint", "\"%s\" shares a fingerprint with \"%s\" "
				     "without SQL_F_NO_SHARE", pairs[i][0], pairs[i][1]);
			sql_verdict_free(&vb);
		}
		sql_verdict_free(&va);
	}
	cases++;
	if (sql_fingerprint("SELECT * FROM t WHERE a = 1", &a, NULL, 0) != 0 ||
	    sql_fingerprint("select *   from t where a = 42 -- x", &b, NULL, 0) != 0 || a != b)
		fail("fingerprint", "constants and spacing should not matter");
	cases++;
	if (sql_fingerprint("SELECT * FROM t", &a, NULL, 0) != 0 ||
	    sql_fingerprint("SELECT * FROM u", &b, NULL, 0) != 0 || a == b)
		fail("fingerprint", "tables should matter");
	cases++;
	if (sql_fingerprint("SELEC 1", &a, err, sizeof err) != -EINVAL || !strstr(err, "syntax"))
		fail("fingerprint", "syntax error not reported: %s", err);
}

static void test_names(void)
{
	cases++;
	for (int c = 0; c < SQL_CLASS_COUNT; c++)
		if (sql_class_from_name(sql_class_name(c)) != c)
			fail("names", "class %d does not round-trip", c);
	for (int k = 0; k < SQL_KIND_COUNT; k++) {
		if (sql_kind_from_name(sql_kind_name(k)) != k)
			fail("names", "kind %d does not round-trip", k);
		if (sql_class_from_name(sql_kind_name(k)) >= 0)
			fail("names", "kind %s is also a class", sql_kind_name(k));
	}
	if (sql_class_from_name("Read") != -1 || sql_kind_from_name("drop table") != -1 ||
	    sql_class_from_name(NULL) != -1)
		fail("names", "unknown words accepted");
	if (sql_guard_from_name("delete_without_where") != SQL_F_DELETE_WITHOUT_WHERE ||
	    sql_guard_from_name("update_without_where") != SQL_F_UPDATE_WITHOUT_WHERE ||
	    sql_guard_from_name("select") != 0)
		fail("names", "guard names");
}

/* The side-effect table is sorted (binary search) and documented. */
static void test_side_effect_table(const char *srcdir)
{
	size_t n;
	const struct sql_side_effect *t = sql_side_effects(&n);
	char path[4096], *doc = NULL;
	size_t len = 0;
	FILE *f;

	cases++;
	for (size_t i = 1; i < n; i++)
		if (strcmp(t[i - 1].name, t[i].name) >= 0)
			fail("side-effect table", "not sorted at %s", t[i].name);
	for (size_t i = 0; i < n; i++)
		if (t[i].prefix && strlen(t[i].name) < 6)
			fail("side-effect table", "prefix %s shorter than MIN_PREFIX", t[i].name);
	snprintf(path, sizeof path, "%s/docs/sql-classes.md", srcdir);
	if (!(f = fopen(path, "r"))) {
		fail("side-effect table", "cannot open %s", path);
		return;
	}
	doc = malloc(1 << 20);
	len = fread(doc, 1, (1 << 20) - 1, f);
	doc[len] = '\0';
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		char want[128];

		snprintf(want, sizeof want, "`%s%s`", t[i].name, t[i].prefix ? "*" : "");
		if (!strstr(doc, want))
			fail("side-effect table", "%s is not in docs/sql-classes.md", want);
	}
	free(doc);
}

/* Threads parse independently; each thread's parser memory goes with it. */
static void *thread_main(void *arg)
{
	long bad = 0;

	(void)arg;
	for (int i = 0; i < 200; i++) {
		struct sql_verdict v;

		if (sql_classify(i % 2 ? "UPDATE t SET a = 1" : "SELEC", &v) != (i % 2 ? 0 : -EINVAL))
			bad++;
		else if (i % 2 && v.stmts[0].cls != SQL_CLASS_WRITE)
			bad++;
		sql_verdict_free(&v);
	}
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t th[4];
	void *bad;

	cases++;
	for (int i = 0; i < 4; i++)
		if (pthread_create(&th[i], NULL, thread_main, NULL) != 0)
			fail("threads", "pthread_create");
	for (int i = 0; i < 4; i++)
		if (pthread_join(th[i], &bad) == 0 && bad)
			fail("threads", "%ld wrong results in a thread", (long)bad);
}

int main(int argc, char **argv)
{
	const char *srcdir = argc > 1 ? argv[1] : ".";

	test_table();
	test_offsets();
	test_long_string();
	test_limits();
	test_merge();
	test_fingerprint();
	test_names();
	test_side_effect_table(srcdir);
	test_threads();
	printf("%d cases, %d failures\n", cases, failures);
	return failures ? 1 : 0;
}
