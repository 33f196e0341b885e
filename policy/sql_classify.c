/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sql_classify: classify PostgreSQL statements from libpg_query's JSON parse
 * tree. See sql_classify.h for the contract and docs/sql-classes.md for the
 * rules; this file keeps the two tables (statements, side-effect functions)
 * that the document describes.
 *
 * Shape of the work for one query string:
 *   1. guard: refuse what libpg_query cannot handle safely (length; left-deep
 *      operator chains, whose JSON output recurses once per level with no
 *      stack check in this build: 70,000 levels of "1+1+..." overflow 8 MiB);
 *   2. pg_query_parse() the string (or, above 64 KiB, split it with the
 *      parser and parse statement by statement, so that memory follows the
 *      largest statement rather than the whole string);
 *   3. cJSON_Parse() the tree (cJSON refuses more than 1000 levels: an error);
 *   4. walk each statement once, depth-first, collecting classes, kinds,
 *      flags and tables into its struct sql_stmt.
 */
#include "sql_classify.h"

#include <cjson/cJSON.h>
#include <pg_query.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCAN_ABOVE      (16u << 10) /* statements longer than this get the token guard */
#define WHOLE_PARSE_MAX (64u << 10) /* strings up to this are parsed in one call */
#define JSON_MAX_DEPTH  1000        /* cJSON's CJSON_NESTING_LIMIT */
#define MAX_BODY_DEPTH  2           /* SQL function bodies inside bodies */
#define MAX_CTES        256         /* CTE names in scope that we track */
#define MAX_RELNAMES    256         /* relation names and aliases we compare
				       column references with */

/* ------------------------------------------- the side-effect function table */

/*
 * Functions whose call is an action, not a computation. Matched on the
 * function's own name whatever schema is written (pg_catalog.pg_read_file
 * and a user's myschema.pg_read_file both count: erring towards strict).
 * Sorted by name (the unit test checks); prefix entries match any name that
 * starts with them. Mirrored in docs/sql-classes.md (the unit test checks
 * that every name appears there).
 */
static const struct sql_side_effect side_effects[] = {
	{ "cursor_to_xml", SQL_CLASS_PROCEDURAL, false, "returns a cursor's rows as one value" },
	{ "cursor_to_xmlschema", SQL_CLASS_PROCEDURAL, false, "reads a cursor" },
	{ "database_to_xml", SQL_CLASS_PROCEDURAL, true, "reads every table named at run time" },
	{ "dblink", SQL_CLASS_PROCEDURAL, true, "runs SQL text on a server" },
	{ "dblink_connect_u", SQL_CLASS_ADMIN, false, "connects without a password check" },
	{ "lo_creat", SQL_CLASS_WRITE, false, "creates a large object" },
	{ "lo_create", SQL_CLASS_WRITE, false, "creates a large object" },
	{ "lo_export", SQL_CLASS_ADMIN, false, "writes a server file" },
	{ "lo_from_bytea", SQL_CLASS_WRITE, false, "creates a large object" },
	{ "lo_import", SQL_CLASS_ADMIN, false, "reads a server file" },
	{ "lo_put", SQL_CLASS_WRITE, false, "writes a large object" },
	{ "lo_truncate", SQL_CLASS_WRITE, false, "writes a large object" },
	{ "lo_truncate64", SQL_CLASS_WRITE, false, "writes a large object" },
	{ "lo_unlink", SQL_CLASS_WRITE, false, "deletes a large object" },
	{ "lowrite", SQL_CLASS_WRITE, false, "writes a large object" },
	{ "nextval", SQL_CLASS_WRITE, false, "advances a sequence" },
	{ "pg_advisory_lock", SQL_CLASS_SESSION, true, "takes or releases an advisory lock" },
	{ "pg_advisory_unlock", SQL_CLASS_SESSION, true, "takes or releases an advisory lock" },
	{ "pg_advisory_xact_lock", SQL_CLASS_SESSION, true, "takes an advisory lock" },
	{ "pg_backup_start", SQL_CLASS_ADMIN, false, "starts a base backup" },
	{ "pg_backup_stop", SQL_CLASS_ADMIN, false, "ends a base backup" },
	{ "pg_cancel_backend", SQL_CLASS_ADMIN, false, "signals a backend" },
	{ "pg_copy_logical_replication_slot", SQL_CLASS_ADMIN, false, "replication" },
	{ "pg_copy_physical_replication_slot", SQL_CLASS_ADMIN, false, "replication" },
	{ "pg_create_logical_replication_slot", SQL_CLASS_ADMIN, false, "replication" },
	{ "pg_create_physical_replication_slot", SQL_CLASS_ADMIN, false, "replication" },
	{ "pg_create_restore_point", SQL_CLASS_ADMIN, false, "writes WAL" },
	{ "pg_current_xact_id", SQL_CLASS_ADMIN, false, "assigns a transaction id" },
	{ "pg_drop_replication_slot", SQL_CLASS_ADMIN, false, "replication" },
	{ "pg_export_snapshot", SQL_CLASS_SESSION, false, "exports a snapshot" },
	{ "pg_file_rename", SQL_CLASS_ADMIN, false, "renames a server file" },
	{ "pg_file_sync", SQL_CLASS_ADMIN, false, "syncs a server file" },
	{ "pg_file_unlink", SQL_CLASS_ADMIN, false, "deletes a server file" },
	{ "pg_file_write", SQL_CLASS_ADMIN, false, "writes a server file" },
	{ "pg_import_system_collations", SQL_CLASS_DDL, false, "creates collations" },
	{ "pg_log_backend_memory_contexts", SQL_CLASS_ADMIN, false, "signals a backend" },
	{ "pg_logdir_ls", SQL_CLASS_ADMIN, false, "lists a server directory" },
	{ "pg_logical_emit_message", SQL_CLASS_ADMIN, false, "writes WAL" },
	{ "pg_logical_slot_", SQL_CLASS_ADMIN, true, "consumes a replication slot" },
	{ "pg_ls_", SQL_CLASS_ADMIN, true, "lists a server directory" },
	{ "pg_notify", SQL_CLASS_WRITE, false, "notifies other sessions (as NOTIFY)" },
	{ "pg_promote", SQL_CLASS_ADMIN, false, "promotes a standby" },
	{ "pg_read_binary_file", SQL_CLASS_ADMIN, false, "reads a server file" },
	{ "pg_read_file", SQL_CLASS_ADMIN, false, "reads a server file" },
	{ "pg_reload_conf", SQL_CLASS_ADMIN, false, "signals the postmaster" },
	{ "pg_replication_origin_", SQL_CLASS_ADMIN, true, "replication" },
	{ "pg_replication_slot_advance", SQL_CLASS_ADMIN, false, "replication" },
	{ "pg_rotate_logfile", SQL_CLASS_ADMIN, false, "signals the logger" },
	{ "pg_start_backup", SQL_CLASS_ADMIN, false, "starts a base backup" },
	{ "pg_stat_file", SQL_CLASS_ADMIN, false, "reads server file metadata" },
	{ "pg_stat_reset", SQL_CLASS_ADMIN, true, "resets statistics" },
	{ "pg_stat_statements_reset", SQL_CLASS_ADMIN, false, "resets statistics" },
	{ "pg_stop_backup", SQL_CLASS_ADMIN, false, "ends a base backup" },
	{ "pg_switch_wal", SQL_CLASS_ADMIN, false, "writes WAL" },
	{ "pg_terminate_backend", SQL_CLASS_ADMIN, false, "signals a backend" },
	{ "pg_try_advisory_", SQL_CLASS_SESSION, true, "takes an advisory lock" },
	{ "pg_wal_replay_pause", SQL_CLASS_ADMIN, false, "controls recovery" },
	{ "pg_wal_replay_resume", SQL_CLASS_ADMIN, false, "controls recovery" },
	{ "query_to_xml", SQL_CLASS_PROCEDURAL, true, "runs SQL text" },
	{ "schema_to_xml", SQL_CLASS_PROCEDURAL, true, "reads every table named at run time" },
	{ "set_config", SQL_CLASS_SESSION, false, "changes a setting (role: dcl)" },
	{ "setseed", SQL_CLASS_SESSION, false, "changes session state" },
	{ "setval", SQL_CLASS_WRITE, false, "sets a sequence" },
	{ "table_to_xml", SQL_CLASS_PROCEDURAL, true, "reads a table named at run time" },
	{ "ts_rewrite", SQL_CLASS_PROCEDURAL, false, "runs SQL text (two-argument form)" },
	{ "ts_stat", SQL_CLASS_PROCEDURAL, false, "runs SQL text" },
	{ "txid_current", SQL_CLASS_ADMIN, false, "assigns a transaction id" },
};

#define N_SIDE_EFFECTS (sizeof side_effects / sizeof side_effects[0])
#define MIN_PREFIX 6 /* the shortest prefix entry ("dblink", "pg_ls_") */

const struct sql_side_effect *sql_side_effects(size_t *n)
{
	*n = N_SIDE_EFFECTS;
	return side_effects;
}

/* The entry for a function name, or NULL. Exact names by binary search;
 * prefix entries by their own comparison. */
static const struct sql_side_effect *side_effect_find(const char *name)
{
	size_t lo = 0, hi = N_SIDE_EFFECTS;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, side_effects[mid].name);

		if (c == 0)
			return &side_effects[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* A prefix P of name sorts before it, and every entry between the
	 * two starts with P too: look back from the insertion point while
	 * entries share at least MIN_PREFIX characters with name. */
	for (size_t i = lo; i-- > 0;) {
		const char *e = side_effects[i].name;
		size_t common = 0;

		while (e[common] && e[common] == name[common])
			common++;
		if (common < MIN_PREFIX)
			break;
		if (side_effects[i].prefix && e[common] == '\0')
			return &side_effects[i];
	}
	return NULL;
}

/* ------------------------------------------------ the statement type table */

enum special {
	SP_NONE,
	SP_SELECT, SP_INSERT, SP_UPDATE, SP_DELETE, SP_MERGE, SP_COPY,
	SP_EXPLAIN, SP_PREPARE, SP_EXECUTE, SP_DEALLOCATE, SP_CURSOR, SP_FETCH,
	SP_CALL, SP_DO, SP_CREATE_FUNCTION, SP_ALTER_FUNCTION, SP_SET,
	SP_TRANSACTION, SP_LOCK, SP_VACUUM, SP_GRANT, SP_DROP, SP_ALTER_TABLE,
	SP_RENAME, SP_ALTER_SET,
};

#define NOKIND -1
#define NOCLASS -1

struct stmt_type {
	const char *node;   /* libpg_query node name */
	int kind;           /* enum sql_kind, or NOKIND */
	int cls;            /* enum sql_class, or NOCLASS: the inner statement decides */
	enum special sp;
};

/*
 * Every statement node of the PostgreSQL 15 raw grammar. Searched linearly,
 * the common ones first. A node not here is classed admin, kind "other".
 */
static const struct stmt_type stmt_types[] = {
	{ "SelectStmt", SQL_KIND_SELECT, SQL_CLASS_READ, SP_SELECT },
	{ "InsertStmt", SQL_KIND_INSERT, SQL_CLASS_WRITE, SP_INSERT },
	{ "UpdateStmt", SQL_KIND_UPDATE, SQL_CLASS_WRITE, SP_UPDATE },
	{ "DeleteStmt", SQL_KIND_DELETE, SQL_CLASS_WRITE, SP_DELETE },
	{ "TransactionStmt", SQL_KIND_TRANSACTION, SQL_CLASS_SESSION, SP_TRANSACTION },
	{ "VariableSetStmt", SQL_KIND_SET, SQL_CLASS_SESSION, SP_SET },
	{ "VariableShowStmt", SQL_KIND_SHOW, SQL_CLASS_SESSION, SP_NONE },
	{ "MergeStmt", SQL_KIND_MERGE, SQL_CLASS_WRITE, SP_MERGE },
	{ "CopyStmt", SQL_KIND_COPY, NOCLASS, SP_COPY },
	{ "ExplainStmt", SQL_KIND_EXPLAIN, SQL_CLASS_READ, SP_EXPLAIN },
	{ "PrepareStmt", SQL_KIND_PREPARE, NOCLASS, SP_PREPARE },
	{ "ExecuteStmt", SQL_KIND_EXECUTE, SQL_CLASS_READ, SP_EXECUTE },
	{ "DeallocateStmt", SQL_KIND_DEALLOCATE, SQL_CLASS_SESSION, SP_DEALLOCATE },
	{ "DeclareCursorStmt", SQL_KIND_DECLARE, NOCLASS, SP_CURSOR },
	{ "FetchStmt", SQL_KIND_FETCH, SQL_CLASS_READ, SP_FETCH },
	{ "ClosePortalStmt", SQL_KIND_CLOSE, SQL_CLASS_SESSION, SP_CURSOR },
	{ "TruncateStmt", SQL_KIND_TRUNCATE, SQL_CLASS_WRITE, SP_NONE },
	{ "CallStmt", SQL_KIND_CALL, SQL_CLASS_PROCEDURAL, SP_CALL },
	{ "DoStmt", SQL_KIND_DO, SQL_CLASS_PROCEDURAL, SP_DO },
	{ "ListenStmt", SQL_KIND_LISTEN, SQL_CLASS_SESSION, SP_NONE },
	{ "UnlistenStmt", SQL_KIND_UNLISTEN, SQL_CLASS_SESSION, SP_NONE },
	{ "NotifyStmt", SQL_KIND_NOTIFY, SQL_CLASS_WRITE, SP_NONE },
	{ "DiscardStmt", SQL_KIND_DISCARD, SQL_CLASS_SESSION, SP_NONE },
	{ "ConstraintsSetStmt", SQL_KIND_SET, SQL_CLASS_SESSION, SP_NONE },
	{ "LockStmt", SQL_KIND_LOCK, NOCLASS, SP_LOCK },
	{ "ReturnStmt", NOKIND, SQL_CLASS_READ, SP_NONE },
	{ "SetOperationStmt", SQL_KIND_SELECT, SQL_CLASS_READ, SP_NONE },
	/* ddl */
	{ "CreateStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterTableStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_ALTER_TABLE },
	{ "DropStmt", SQL_KIND_DROP, NOCLASS, SP_DROP },
	{ "IndexStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "ViewStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateTableAsStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateFunctionStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_CREATE_FUNCTION },
	{ "AlterFunctionStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_ALTER_FUNCTION },
	{ "CreateSeqStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterSeqStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "CreateSchemaStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateExtensionStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterExtensionStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "AlterExtensionContentsStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "RenameStmt", SQL_KIND_ALTER, NOCLASS, SP_RENAME },
	{ "AlterObjectSchemaStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "AlterObjectDependsStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "CommentStmt", SQL_KIND_COMMENT, SQL_CLASS_DDL, SP_NONE },
	{ "CreateTrigStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateEventTrigStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterEventTrigStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "RuleStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "DefineStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CompositeTypeStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateEnumStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateRangeStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterEnumStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "AlterTypeStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "CreateDomainStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterDomainStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "CreateConversionStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateCastStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateOpClassStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateOpFamilyStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterOpFamilyStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "AlterOperatorStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "CreatePLangStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateFdwStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterFdwStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "CreateForeignServerStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterForeignServerStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "CreateForeignTableStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "ImportForeignSchemaStmt", SQL_KIND_IMPORT, SQL_CLASS_DDL, SP_NONE },
	{ "CreateStatsStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterStatsStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "CreateTransformStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "CreateAmStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "AlterCollationStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "AlterTSDictionaryStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "AlterTSConfigurationStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "ReplicaIdentityStmt", NOKIND, SQL_CLASS_DDL, SP_NONE },
	{ "CreatedbStmt", SQL_KIND_CREATE, SQL_CLASS_DDL, SP_NONE },
	{ "DropdbStmt", SQL_KIND_DROP, SQL_CLASS_DDL, SP_NONE },
	{ "AlterDatabaseStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "AlterDatabaseSetStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_ALTER_SET },
	{ "AlterDatabaseRefreshCollStmt", SQL_KIND_ALTER, SQL_CLASS_DDL, SP_NONE },
	{ "RefreshMatViewStmt", SQL_KIND_REFRESH, SQL_CLASS_WRITE, SP_NONE },
	/* dcl */
	{ "GrantStmt", SQL_KIND_GRANT, SQL_CLASS_DCL, SP_GRANT },
	{ "GrantRoleStmt", SQL_KIND_GRANT, SQL_CLASS_DCL, SP_GRANT },
	{ "CreateRoleStmt", SQL_KIND_CREATE, SQL_CLASS_DCL, SP_NONE },
	{ "AlterRoleStmt", SQL_KIND_ALTER, SQL_CLASS_DCL, SP_NONE },
	{ "AlterRoleSetStmt", SQL_KIND_ALTER, SQL_CLASS_DCL, SP_ALTER_SET },
	{ "DropRoleStmt", SQL_KIND_DROP, SQL_CLASS_DCL, SP_NONE },
	{ "AlterDefaultPrivilegesStmt", SQL_KIND_ALTER, SQL_CLASS_DCL, SP_NONE },
	{ "ReassignOwnedStmt", SQL_KIND_REASSIGN, SQL_CLASS_DCL, SP_NONE },
	{ "DropOwnedStmt", SQL_KIND_DROP, SQL_CLASS_DCL, SP_NONE },
	{ "AlterOwnerStmt", SQL_KIND_ALTER, SQL_CLASS_DCL, SP_NONE },
	{ "CreatePolicyStmt", SQL_KIND_CREATE, SQL_CLASS_DCL, SP_NONE },
	{ "AlterPolicyStmt", SQL_KIND_ALTER, SQL_CLASS_DCL, SP_NONE },
	{ "SecLabelStmt", SQL_KIND_SECURITY_LABEL, SQL_CLASS_DCL, SP_NONE },
	{ "CreateUserMappingStmt", SQL_KIND_CREATE, SQL_CLASS_DCL, SP_NONE },
	{ "AlterUserMappingStmt", SQL_KIND_ALTER, SQL_CLASS_DCL, SP_NONE },
	{ "DropUserMappingStmt", SQL_KIND_DROP, SQL_CLASS_DCL, SP_NONE },
	/* admin */
	{ "VacuumStmt", SQL_KIND_VACUUM, SQL_CLASS_ADMIN, SP_VACUUM },
	{ "ClusterStmt", SQL_KIND_CLUSTER, SQL_CLASS_ADMIN, SP_NONE },
	{ "ReindexStmt", SQL_KIND_REINDEX, SQL_CLASS_ADMIN, SP_NONE },
	{ "CheckPointStmt", SQL_KIND_CHECKPOINT, SQL_CLASS_ADMIN, SP_NONE },
	{ "LoadStmt", SQL_KIND_LOAD, SQL_CLASS_ADMIN, SP_NONE },
	{ "AlterSystemStmt", SQL_KIND_ALTER, SQL_CLASS_ADMIN, SP_NONE },
	{ "CreateTableSpaceStmt", SQL_KIND_CREATE, SQL_CLASS_ADMIN, SP_NONE },
	{ "DropTableSpaceStmt", SQL_KIND_DROP, SQL_CLASS_ADMIN, SP_NONE },
	{ "AlterTableSpaceOptionsStmt", SQL_KIND_ALTER, SQL_CLASS_ADMIN, SP_NONE },
	{ "AlterTableMoveAllStmt", SQL_KIND_ALTER, SQL_CLASS_ADMIN, SP_NONE },
	{ "CreatePublicationStmt", SQL_KIND_CREATE, SQL_CLASS_ADMIN, SP_NONE },
	{ "AlterPublicationStmt", SQL_KIND_ALTER, SQL_CLASS_ADMIN, SP_NONE },
	{ "CreateSubscriptionStmt", SQL_KIND_CREATE, SQL_CLASS_ADMIN, SP_NONE },
	{ "AlterSubscriptionStmt", SQL_KIND_ALTER, SQL_CLASS_ADMIN, SP_NONE },
	{ "DropSubscriptionStmt", SQL_KIND_DROP, SQL_CLASS_ADMIN, SP_NONE },
	/* only in PL/pgSQL parse mode, never from a client: opaque */
	{ "PLAssignStmt", SQL_KIND_OTHER, SQL_CLASS_PROCEDURAL, SP_NONE },
};

static const struct stmt_type *stmt_type_find(const char *node)
{
	for (size_t i = 0; i < sizeof stmt_types / sizeof stmt_types[0]; i++)
		if (strcmp(node, stmt_types[i].node) == 0)
			return &stmt_types[i];
	return NULL;
}

/* ------------------------------------------------------------ JSON helpers */

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool str_is(const char *s, const char *want)
{
	return s && strcmp(s, want) == 0;
}

/* A node is an object with one member named by its type ("FuncCall": {...}).
 * Returns the body and sets *type, or NULL for anything else. Field names
 * start lower case, node types upper case. */
static const cJSON *node_body(const cJSON *n, const char **type)
{
	const cJSON *c;

	*type = NULL;
	if (!cJSON_IsObject(n) || !(c = n->child) || c->next || !c->string)
		return NULL;
	if (c->string[0] < 'A' || c->string[0] > 'Z')
		return NULL;
	*type = c->string;
	return c;
}

/* The text of a constant (A_Const, possibly under a TypeCast), or NULL. */
static const char *const_text(const cJSON *n, char *buf, size_t len)
{
	const char *type = NULL;
	const cJSON *b = node_body(n, &type), *v;

	if (b && str_is(type, "TypeCast"))
		b = node_body(get(b, "arg"), &type);
	if (!b || !str_is(type, "A_Const"))
		return NULL;
	if ((v = get(b, "sval")))
		return get_str(v, "sval") ? get_str(v, "sval") : "";
	if ((v = get(b, "ival"))) {
		snprintf(buf, len, "%d", get(v, "ival") ? get(v, "ival")->valueint : 0);
		return buf;
	}
	if ((v = get(b, "fval")))
		return get_str(v, "fval") ? get_str(v, "fval") : "0";
	if ((v = get(b, "boolval")))
		return cJSON_IsTrue(get(v, "boolval")) ? "true" : "false";
	if ((v = get(b, "bsval")))
		return get_str(v, "bsval") ? get_str(v, "bsval") : "";
	return NULL; /* NULL constant */
}

/* Equal trees, ignoring "location" members. */
static bool json_same(const cJSON *a, const cJSON *b)
{
	const cJSON *x, *y;

	if ((a->type & 0xff) != (b->type & 0xff))
		return false;
	if (cJSON_IsString(a))
		return strcmp(a->valuestring, b->valuestring) == 0;
	if (cJSON_IsNumber(a))
		return a->valuedouble == b->valuedouble;
	if (!cJSON_IsObject(a) && !cJSON_IsArray(a))
		return true;
	for (x = a->child, y = b->child;; x = x->next, y = y->next) {
		while (x && str_is(x->string, "location"))
			x = x->next;
		while (y && str_is(y->string, "location"))
			y = y->next;
		if (!x || !y)
			return x == y;
		if (cJSON_IsObject(a) && strcmp(x->string, y->string) != 0)
			return false;
		if (!json_same(x, y))
			return false;
	}
}

/* ---------------------------------------------------------------- the walk */

struct walk {
	struct sql_stmt *st;
	int passive;            /* > 0: under a plain EXPLAIN, statements do not run */
	int body_depth;         /* SQL function bodies around this walk */
	int top_kind;           /* the first statement kind seen, or -1 */
	int maxcls;             /* strongest class so far, or -1 */
	const char *why;        /* what raised maxcls ... */
	const char *why_arg;    /* ... and its object (points into the tree) */
	char why_buf[128];      /* for reasons that outlive the tree */
	const char *ctes[MAX_CTES]; /* CTE names in scope */
	size_t nctes;
	const char *relnames[MAX_RELNAMES]; /* relation names and aliases, for */
	size_t nrelnames;                   /* whole-row references */
	int values;             /* > 0: references here may be stored (sources) */
	const cJSON *set_body;  /* whose "targetList" is a SET list */
	bool set_list;          /* walking a SET list's entries */
	const char *into;       /* the column a SET entry stores into, or NULL */
	const cJSON *value_body;            /* the statement body whose ... */
	const char *const *value_keys;      /* ... fields hold stored values */
	int err;                /* sticky: -ENOMEM */
};

static void walk(struct walk *w, const cJSON *n);
static void walk_fields(struct walk *w, const cJSON *body);
static int classify_text(const char *text, int body_depth, struct sql_verdict *out);
static int merge_stmt(struct sql_stmt *dst, const struct sql_stmt *src);

static void raise(struct walk *w, enum sql_class cls, const char *why, const char *arg)
{
	w->st->classes |= 1u << cls;
	if ((int)cls > w->maxcls) {
		w->maxcls = cls;
		w->why = why;
		w->why_arg = arg;
	}
}

static void add_kind(struct walk *w, int kind)
{
	if (kind < 0)
		return;
	w->st->kinds |= 1ull << kind;
	if (w->top_kind < 0)
		w->top_kind = kind;
}

static bool ident_needs_quotes(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9') || *s == '$')
		return true;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '$' || c >= 0x80))
			return true;
	}
	return false;
}

/* Append identifier s to buf (quoted if it needs to be); false if it did not fit. */
static bool put_ident(char *buf, size_t len, size_t *at, const char *s)
{
	bool q = ident_needs_quotes(s);

	if (q && *at + 1 < len)
		buf[(*at)++] = '"';
	for (; *s && *at + 2 < len; s++) {
		if (*s == '"')
			buf[(*at)++] = '"';
		buf[(*at)++] = *s;
	}
	if (q && *at + 1 < len)
		buf[(*at)++] = '"';
	buf[*at] = '\0';
	return *s == '\0' && *at + 1 < len;
}

/* Add name to a bounded, deduplicated list; over max, set flag instead. */
static void add_name(struct sql_stmt *st, char ***list, size_t *n, size_t max, uint32_t flag,
		     const char *name, int *err)
{
	char *copy, **v;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*list)[i], name) == 0)
			return;
	if (*n >= max) {
		st->flags |= flag;
		return;
	}
	if ((*n & (*n - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
		size_t cap = *n ? *n * 2 : 1;

		if (!(v = realloc(*list, cap * sizeof *v))) {
			*err = -ENOMEM;
			return;
		}
		*list = v;
	}
	if (!(copy = strdup(name))) {
		*err = -ENOMEM;
		return;
	}
	(*list)[(*n)++] = copy;
}

static void add_table_name(struct sql_stmt *st, const char *name, int *err)
{
	add_name(st, &st->tables, &st->ntables, SQL_MAX_TABLES, SQL_F_TABLES_TRUNCATED, name,
		 err);
}

static void add_column_name(struct sql_stmt *st, const char *name, int *err)
{
	add_name(st, &st->columns, &st->ncolumns, SQL_MAX_REFS, SQL_F_REFS_TRUNCATED, name, err);
}

static void add_source_name(struct sql_stmt *st, const char *name, int *err)
{
	add_name(st, &st->sources, &st->nsources, SQL_MAX_REFS, SQL_F_REFS_TRUNCATED, name, err);
}

/* A reference whose value is stored into column into of the target. */
static void add_pair(struct sql_stmt *st, const char *into, const char *source, int *err)
{
	char buf[2 * SQL_NAME_MAX + 2];

	if (strchr(into, '\x1f') || strchr(source, '\x1f') ||
	    (size_t)snprintf(buf, sizeof buf, "%s\x1f%s", into, source) >= sizeof buf) {
		add_source_name(st, source, err); /* cannot say where: anywhere */
		return;
	}
	add_name(st, &st->pairs, &st->npairs, SQL_MAX_REFS, SQL_F_REFS_TRUNCATED, buf, err);
}

static void add_target_name(struct sql_stmt *st, const char *name, int *err)
{
	add_name(st, &st->targets, &st->ntargets, SQL_MAX_REFS, SQL_F_MANY_TARGETS, name, err);
}

static void add_function_name(struct sql_stmt *st, const char *name, int *err)
{
	add_name(st, &st->functions, &st->nfunctions, SQL_MAX_REFS, SQL_F_REFS_TRUNCATED, name,
		 err);
}

static void note_relname(struct walk *w, const char *name)
{
	if (name && w->nrelnames < MAX_RELNAMES)
		w->relnames[w->nrelnames++] = name;
	else if (name) /* cannot tell: assume the worst */
		w->st->flags |= SQL_F_WHOLE_ROW | (w->values ? SQL_F_VALUE_WHOLE_ROW : 0);
}

/* A column reference: its last name, and whether it is a star. */
static void column_ref(struct walk *w, const cJSON *cr)
{
	const cJSON *fields = get(cr, "fields"), *f;
	const char *type, *last = NULL;

	cJSON_ArrayForEach(f, fields) {
		const cJSON *b = node_body(f, &type);

		if (b && str_is(type, "A_Star"))
			w->st->flags |= SQL_F_STAR | (w->values ? SQL_F_VALUE_STAR : 0);
		else if (b && str_is(type, "String"))
			last = get_str(b, "sval");
	}
	if (last)
		add_column_name(w->st, last, &w->err);
	if (last && w->values && w->into)
		add_pair(w->st, w->into, last, &w->err);
	else if (last && w->values)
		add_source_name(w->st, last, &w->err);
}

/* parts: up to three names (catalog, schema, relation), NULLs skipped. */
static void add_table(struct walk *w, const char *const parts[3])
{
	char buf[3 * (2 * SQL_NAME_MAX + 3)];
	size_t at = 0;
	bool first = true;

	buf[0] = '\0';
	for (int i = 0; i < 3; i++) {
		if (!parts[i])
			continue;
		if (!first)
			buf[at++] = '.';
		first = false;
		if (!put_ident(buf, sizeof buf, &at, parts[i]))
			return; /* longer than any name PostgreSQL keeps */
	}
	if (!first)
		add_table_name(w->st, buf, &w->err);
}

/* A RangeVar (wrapped or not): a table, unless it names a CTE in scope. */
static void range_var(struct walk *w, const cJSON *rv)
{
	const char *parts[3] = { get_str(rv, "catalogname"), get_str(rv, "schemaname"),
				 get_str(rv, "relname") };
	const cJSON *alias = get(rv, "alias");

	note_relname(w, parts[2]);
	if (alias) {
		note_relname(w, get_str(alias, "aliasname"));
		/* The fingerprint ignores aliases, which decide what is a
		 * whole-row reference; AS u(a, b, c) renames the columns, so
		 * their references say nothing of what they read. */
		w->st->flags |= SQL_F_NO_SHARE;
		if (get(alias, "colnames"))
			w->st->flags |= SQL_F_WHOLE_ROW | (w->values ? SQL_F_VALUE_WHOLE_ROW : 0);
	}
	if (!parts[0] && !parts[1])
		for (size_t i = w->nctes; i-- > 0;)
			if (strcmp(w->ctes[i], parts[2]) == 0)
				return;
	add_table(w, parts);
}

/* A List of String: a qualified name as DROP writes it. */
static void name_list_table(struct walk *w, const cJSON *list)
{
	const char *parts[3] = { NULL, NULL, NULL };
	const cJSON *items = get(get(list, "List"), "items"), *it;
	const char *type;
	int n = cJSON_GetArraySize(items), i = 3 - n;

	if (n < 1 || n > 3)
		return;
	cJSON_ArrayForEach(it, items) {
		const cJSON *b = node_body(it, &type);

		if (!b || !str_is(type, "String") || !get_str(b, "sval"))
			return;
		parts[i++] = get_str(b, "sval");
	}
	add_table(w, parts);
}

/* WITH: walk each CTE's query with the names it may see, then leave all
 * names in scope for the rest of the statement (the caller pops them). */
static void walk_with(struct walk *w, const cJSON *with)
{
	const cJSON *ctes = get(with, "ctes"), *c;
	bool recursive = cJSON_IsTrue(get(with, "recursive"));
	const char *type;

	if (recursive)
		cJSON_ArrayForEach(c, ctes) {
			const char *name = get_str(node_body(c, &type), "ctename");

			if (name && w->nctes < MAX_CTES)
				w->ctes[w->nctes++] = name;
		}
	cJSON_ArrayForEach(c, ctes) {
		const char *name = get_str(node_body(c, &type), "ctename");

		walk(w, c);
		if (!recursive && name && w->nctes < MAX_CTES)
			w->ctes[w->nctes++] = name;
	}
}

/* A WHERE that is missing or obviously true: TRUE, 1 = 1, x = x. */
static bool where_matches_all(struct walk *w, const cJSON *where)
{
	const char *type = NULL, *lt = NULL, *rt = NULL;
	const cJSON *b, *l, *r, *op;

	if (!where)
		return true;
	if (!(b = node_body(where, &type)))
		return false;
	if (str_is(type, "A_Const")) {
		w->st->flags |= SQL_F_NO_SHARE; /* WHERE true and WHERE false share a fingerprint */
		return cJSON_IsTrue(get(get(b, "boolval"), "boolval"));
	}
	if (!str_is(type, "A_Expr") || !str_is(get_str(b, "kind"), "AEXPR_OP"))
		return false;
	op = get(b, "name");
	if (cJSON_GetArraySize(op) != 1 ||
	    !str_is(get_str(get(cJSON_GetArrayItem(op, 0), "String"), "sval"), "="))
		return false;
	if (!node_body(l = get(b, "lexpr"), &lt) || !node_body(r = get(b, "rexpr"), &rt))
		return false;
	if (!str_is(lt, rt) || !(str_is(lt, "A_Const") || str_is(lt, "ColumnRef")))
		return false;
	if (str_is(lt, "A_Const"))
		w->st->flags |= SQL_F_NO_SHARE;
	return json_same(l, r);
}

static bool explain_analyze(const cJSON *options)
{
	const cJSON *o;
	bool analyze = false;
	const char *type;

	cJSON_ArrayForEach(o, options) {
		const cJSON *d = node_body(o, &type), *arg, *ab;
		const char *at = NULL, *s;

		if (!d || !str_is(type, "DefElem") || !get_str(d, "defname") ||
		    strcasecmp(get_str(d, "defname"), "analyze") != 0)
			continue;
		/* PostgreSQL's defGetBoolean(): no value is true; 0, "false" and
		 * "off" are false; anything else is true or an error. */
		arg = get(d, "arg");
		ab = node_body(arg, &at);
		if (!ab) {
			analyze = true;
		} else if (str_is(at, "Integer")) {
			analyze |= get(ab, "ival") && get(ab, "ival")->valueint != 0;
		} else if (str_is(at, "Boolean")) {
			analyze |= cJSON_IsTrue(get(ab, "boolval"));
		} else if (str_is(at, "String") && (s = get_str(ab, "sval"))) {
			analyze |= strcasecmp(s, "false") != 0 && strcasecmp(s, "off") != 0;
		} else {
			analyze = true;
		}
	}
	return analyze;
}

/* Server encodings are ASCII-safe; these client-only ones are not: a byte
 * that reads as a quote or backslash here can be half of a character there.
 * Names as PostgreSQL's encnames.c spells them, after lower-casing and
 * dropping everything but letters and digits. */
static bool encoding_unsafe(const char *name)
{
	static const char *const unsafe[] = {
		"big5", "gb18030", "gbk", "johab", "mskanji", "shiftjis",
		"shiftjis2004", "sjis", "uhc", "win932", "win936", "win949",
		"win950", "windows932", "windows936", "windows949", "windows950",
	};
	char clean[32];
	size_t n = 0;

	for (; *name && n + 1 < sizeof clean; name++)
		if ((*name >= 'a' && *name <= 'z') || (*name >= '0' && *name <= '9'))
			clean[n++] = *name;
		else if (*name >= 'A' && *name <= 'Z')
			clean[n++] = (char)(*name - 'A' + 'a');
	clean[n] = '\0';
	for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
		if (strcmp(clean, unsafe[i]) == 0)
			return true;
	return false;
}

static bool bool_on(const char *v)
{
	return v && (strcasecmp(v, "on") == 0 || strcasecmp(v, "true") == 0 ||
		     strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0);
}

bool sql_setting_safe(const char *name, const char *value)
{
	if (!name || !value)
		return true;
	if (strcasecmp(name, "standard_conforming_strings") == 0)
		return bool_on(value);
	if (strcasecmp(name, "client_encoding") == 0)
		return !encoding_unsafe(value);
	return true;
}

/*
 * The settings that are not "session": changing who we are (dcl), and
 * changing how later statements are lexed or enforced (admin).
 * value: the new value, or NULL when it is computed, DEFAULT or RESET
 * (reset: true for RESET/DEFAULT, which return to the server's value).
 */
static void setting(struct walk *w, const char *name, const char *value, bool reset,
		    const char *why)
{
	if (!name) {
		w->st->flags |= SQL_F_LEXING;
		raise(w, SQL_CLASS_DCL, why, "with a computed setting name");
		return;
	}
	if (strcasecmp(name, "role") == 0 || strcasecmp(name, "session_authorization") == 0) {
		raise(w, SQL_CLASS_DCL, why, name);
	} else if (strcasecmp(name, "session_replication_role") == 0) {
		raise(w, SQL_CLASS_ADMIN, why, name);
	} else if (strcasecmp(name, "standard_conforming_strings") == 0) {
		w->st->flags |= SQL_F_NO_SHARE | SQL_F_LEXING;
		raise(w, bool_on(value) ? SQL_CLASS_SESSION : SQL_CLASS_ADMIN, why, name);
	} else if (strcasecmp(name, "client_encoding") == 0) {
		w->st->flags |= SQL_F_NO_SHARE | SQL_F_LEXING;
		if (reset)
			raise(w, SQL_CLASS_SESSION, why, name);
		else
			raise(w, !value || encoding_unsafe(value) ? SQL_CLASS_ADMIN
								   : SQL_CLASS_SESSION, why, name);
	} else {
		raise(w, SQL_CLASS_SESSION, why, name);
	}
}

/* SET, RESET, and the SET clause of ALTER ROLE/DATABASE. */
static void variable_set(struct walk *w, const cJSON *b, const char *why)
{
	const char *k = get_str(b, "kind");
	char buf[32];
	bool reset = str_is(k, "VAR_RESET") || str_is(k, "VAR_SET_DEFAULT");
	const char *value;

	if (str_is(k, "VAR_SET_MULTI") || str_is(k, "VAR_RESET_ALL")) {
		/* SET TRANSACTION / SESSION CHARACTERISTICS; RESET ALL leaves
		 * role and session_authorization alone, and may return the
		 * lexing settings to defaults of the database or role */
		if (str_is(k, "VAR_RESET_ALL"))
			w->st->flags |= SQL_F_LEXING;
		raise(w, SQL_CLASS_SESSION, why, str_is(k, "VAR_RESET_ALL") ? "ALL" : NULL);
		return;
	}
	value = const_text(cJSON_GetArrayItem(get(b, "args"), 0), buf, sizeof buf);
	if (str_is(k, "VAR_SET_CURRENT"))
		value = NULL;
	setting(w, get_str(b, "name"), value, reset, why);
}

/* A function call; true when its arguments may be stored (a function of
 * the side-effect table that is not a plain read or session call). */
static bool func_call(struct walk *w, const cJSON *fc)
{
	const cJSON *names = get(fc, "funcname"), *args, *last;
	const struct sql_side_effect *e;
	const char *name;
	char buf[2][32];

	last = cJSON_GetArrayItem(names, cJSON_GetArraySize(names) - 1);
	if ((name = get_str(get(last, "String"), "sval")))
		add_function_name(w->st, name, &w->err);
	if (!name || !(e = side_effect_find(name)))
		return false;
	w->st->flags |= SQL_F_SIDE_EFFECT_CALL;
	if (strcmp(e->name, "set_config") != 0) {
		raise(w, e->cls, "function", name);
		return e->cls != SQL_CLASS_READ && e->cls != SQL_CLASS_SESSION;
	}
	/* set_config(name, value, is_local): judged like SET name = value. */
	args = get(fc, "args");
	w->st->flags |= SQL_F_NO_SHARE;
	setting(w, const_text(cJSON_GetArrayItem(args, 0), buf[0], sizeof buf[0]),
		const_text(cJSON_GetArrayItem(args, 1), buf[1], sizeof buf[1]), false,
		"set_config");
	return true; /* the setting can be read back */
}

/* CREATE FUNCTION / DO: the language and what we can learn of the body. */
static void routine_language(struct walk *w, const char *lang, const char *why)
{
	size_t n = lang ? strlen(lang) : 0;

	if (lang && strcasecmp(lang, "sql") == 0) {
		w->st->flags |= SQL_F_BODY_SQL;
	} else if (lang && strcasecmp(lang, "plpgsql") == 0) {
		w->st->flags |= SQL_F_BODY_PLPGSQL;
	} else {
		w->st->flags |= SQL_F_BODY_OTHER;
		/* Server code: C and internal load code into the server; the
		 * untrusted languages (plperlu, plpython3u, pltclu, and plsh)
		 * reach the operating system. */
		if (lang && (strcasecmp(lang, "c") == 0 || strcasecmp(lang, "internal") == 0 ||
			     strcasecmp(lang, "plsh") == 0 ||
			     (n > 2 && (lang[n - 1] == 'u' || lang[n - 1] == 'U'))))
			raise(w, SQL_CLASS_ADMIN, why, lang);
	}
}

static void sql_body(struct walk *w, const char *text)
{
	struct sql_verdict sub;

	if (w->body_depth >= MAX_BODY_DEPTH) {
		raise(w, SQL_CLASS_PROCEDURAL, "SQL function body nested too deep", NULL);
		return;
	}
	/* A body that does not parse is refused by the server when the
	 * function is created (check_function_bodies) or called: nothing
	 * there runs, so it adds nothing here. */
	if (classify_text(text, w->body_depth + 1, &sub) == 0) {
		for (size_t i = 0; i < sub.n; i++) {
			int cls = sub.stmts[i].cls;

			if (merge_stmt(w->st, &sub.stmts[i]) < 0)
				w->err = -ENOMEM;
			if (cls > w->maxcls) {
				snprintf(w->why_buf, sizeof w->why_buf, "SQL function body: %.90s",
					 sub.stmts[i].reason);
				raise(w, cls, w->why_buf, NULL);
			}
		}
	}
	sql_verdict_free(&sub);
}

static void create_function(struct walk *w, const cJSON *b)
{
	const cJSON *o;
	const char *type, *lang = NULL, *body = NULL;
	bool has_sql_body = get(b, "sql_body") != NULL;

	cJSON_ArrayForEach(o, get(b, "options")) {
		const cJSON *d = node_body(o, &type);
		const char *def = get_str(d, "defname");
		const char *at;
		const cJSON *arg = node_body(get(d, "arg"), &at);

		if (str_is(def, "language") && str_is(at, "String"))
			lang = get_str(arg, "sval");
		else if (str_is(def, "as") && str_is(at, "List"))
			body = get_str(get(cJSON_GetArrayItem(get(arg, "items"), 0), "String"), "sval");
		else if (str_is(def, "security") && str_is(at, "Boolean") &&
			 cJSON_IsTrue(get(arg, "boolval")))
			w->st->flags |= SQL_F_SECURITY_DEFINER;
	}
	if (!lang && has_sql_body)
		lang = "sql";
	routine_language(w, lang, "function in language");
	if (lang && strcasecmp(lang, "sql") == 0 && body && !has_sql_body) {
		w->st->flags |= SQL_F_NO_SHARE; /* bodies are constants to the fingerprint */
		sql_body(w, body);
	}
}

static void do_block(struct walk *w, const cJSON *b)
{
	const cJSON *o;
	const char *type, *lang = "plpgsql";

	cJSON_ArrayForEach(o, get(b, "args")) {
		const cJSON *d = node_body(o, &type);
		const char *at;
		const cJSON *arg = node_body(get(d, "arg"), &at);

		if (str_is(get_str(d, "defname"), "language") && str_is(at, "String"))
			lang = get_str(arg, "sval");
	}
	routine_language(w, lang, "DO in language");
}

static void set_name(struct walk *w, const char *name)
{
	if (name && !w->st->name[0])
		snprintf(w->st->name, sizeof w->st->name, "%s", name);
}

static bool is_relation_object(const char *objtype)
{
	return str_is(objtype, "OBJECT_TABLE") || str_is(objtype, "OBJECT_VIEW") ||
	       str_is(objtype, "OBJECT_MATVIEW") || str_is(objtype, "OBJECT_FOREIGN_TABLE") ||
	       str_is(objtype, "OBJECT_SEQUENCE");
}

/* The table an INSERT or UPDATE writes and the columns it names: kept for
 * the one such statement in a string's statement; with more, neither. */
static void note_write_target(struct walk *w, const cJSON *b, const char *list)
{
	const char *rel = get_str(get(b, "relation"), "relname");
	const cJSON *rt;
	struct sql_stmt *st = w->st;

	if (st->target[0] || (st->flags & SQL_F_MANY_TARGETS) || !rel) {
		st->flags |= SQL_F_MANY_TARGETS;
		st->target[0] = '\0';
		return;
	}
	snprintf(st->target, sizeof st->target, "%s", rel);
	cJSON_ArrayForEach(rt, get(b, list)) {
		const char *name = get_str(get(rt, "ResTarget"), "name");

		if (name)
			add_target_name(st, name, &w->err);
	}
}

/* Where a statement takes values it stores (or that can be read back):
 * what the walk of b counts as sources. Conservative: INSERT's whole source
 * query, WHERE included. */
static void mark_stored_values(struct walk *w, const char *type, const cJSON *b)
{
	static const char *const insert[] = { "selectStmt", "onConflictClause", "withClause",
					      NULL };
	static const char *const update[] = { "targetList", "fromClause", "withClause", NULL };
	static const char *const merge[] = { "sourceRelation", "mergeWhenClauses", "withClause",
					     NULL };
	static const char *const create_as[] = { "query", NULL };
	static const char *const call[] = { "funccall", NULL };
	static const char *const select_into[] = { "targetList", "fromClause", "whereClause",
						   "groupClause", "havingClause", "valuesLists",
						   "larg", "rarg", NULL };
	const char *const *keys = NULL;

	if (str_is(type, "InsertStmt"))
		keys = insert;
	else if (str_is(type, "UpdateStmt"))
		keys = update;
	else if (str_is(type, "MergeStmt"))
		keys = merge;
	else if (str_is(type, "CreateTableAsStmt"))
		keys = create_as;
	else if (str_is(type, "CallStmt"))
		keys = call;
	else if (str_is(type, "SelectStmt") && get(b, "intoClause"))
		keys = select_into;
	w->value_body = keys ? b : NULL;
	w->value_keys = keys;
	if (keys == insert || keys == update)
		note_write_target(w, b, keys == insert ? "cols" : "targetList");
	if (keys == insert && get(b, "onConflictClause"))
		w->set_body = get(b, "onConflictClause");
	else if (keys == update)
		w->set_body = b;
}

/* A statement node anywhere in the tree. */
static void statement(struct walk *w, const char *type, const cJSON *b)
{
	const struct stmt_type *t = stmt_type_find(type);
	bool active = w->passive == 0;
	const cJSON *o;
	const char *s, *ot;
	int kind;

	if (!t) {
		if (active) {
			add_kind(w, SQL_KIND_OTHER);
			raise(w, SQL_CLASS_ADMIN, "unrecognised statement", type);
		}
		walk_fields(w, b);
		return;
	}
	kind = t->kind;
	/* Kinds that depend on the statement's fields. */
	if (t->sp == SP_SET && str_is(get_str(b, "kind"), "VAR_RESET"))
		kind = SQL_KIND_RESET;
	else if (t->sp == SP_SET && str_is(get_str(b, "kind"), "VAR_RESET_ALL"))
		kind = SQL_KIND_RESET;
	else if (t->sp == SP_GRANT && !cJSON_IsTrue(get(b, "is_grant")))
		kind = SQL_KIND_REVOKE;
	else if (t->sp == SP_VACUUM && !cJSON_IsTrue(get(b, "is_vacuumcmd")))
		kind = SQL_KIND_ANALYZE;
	else if (t->sp == SP_FETCH && cJSON_IsTrue(get(b, "ismove")))
		kind = SQL_KIND_MOVE;
	if (active) {
		add_kind(w, kind);
		if (t->cls != NOCLASS && t->sp != SP_SET)
			raise(w, t->cls, kind >= 0 ? sql_kind_name((enum sql_kind)kind) : type, NULL);
	}

	switch (t->sp) {
	case SP_SELECT: /* FOR UPDATE and INTO are found by walk_fields */
	case SP_NONE:
		break;
	case SP_INSERT:
		if (active && str_is(get_str(get(b, "onConflictClause"), "action"),
				     "ONCONFLICT_UPDATE"))
			add_kind(w, SQL_KIND_UPDATE);
		break;
	case SP_UPDATE:
		if (active && where_matches_all(w, get(b, "whereClause")))
			w->st->flags |= SQL_F_UPDATE_WITHOUT_WHERE;
		break;
	case SP_DELETE:
		if (active && where_matches_all(w, get(b, "whereClause")))
			w->st->flags |= SQL_F_DELETE_WITHOUT_WHERE;
		break;
	case SP_MERGE:
		cJSON_ArrayForEach(o, get(b, "mergeWhenClauses")) {
			const char *ct = get_str(get(o, "MergeWhenClause"), "commandType");

			if (!active)
				break;
			if (str_is(ct, "CMD_UPDATE"))
				add_kind(w, SQL_KIND_UPDATE);
			else if (str_is(ct, "CMD_DELETE"))
				add_kind(w, SQL_KIND_DELETE);
			else if (str_is(ct, "CMD_INSERT"))
				add_kind(w, SQL_KIND_INSERT);
		}
		break;
	case SP_COPY:
		if (!active)
			break;
		if (get(b, "relation"))
			w->st->flags |= SQL_F_COPY_RELATION;
		if (cJSON_IsTrue(get(b, "is_program")))
			raise(w, SQL_CLASS_ADMIN, "COPY ... PROGRAM", NULL);
		else if (get_str(b, "filename"))
			raise(w, SQL_CLASS_ADMIN, "COPY with a server file", NULL);
		else if (cJSON_IsTrue(get(b, "is_from")))
			raise(w, SQL_CLASS_COPY_IN, "COPY FROM STDIN", NULL);
		else
			raise(w, SQL_CLASS_COPY_OUT, "COPY TO STDOUT", NULL);
		break;
	case SP_EXPLAIN:
		if (active && explain_analyze(get(b, "options"))) {
			w->st->flags |= SQL_F_EXPLAIN_ANALYZE;
			walk(w, get(b, "query"));
		} else {
			w->passive++;
			walk(w, get(b, "query"));
			w->passive--;
		}
		return;
	case SP_PREPARE:
		if (active) {
			set_name(w, get_str(b, "name"));
			w->st->flags |= SQL_F_NO_SHARE; /* names are not in the fingerprint */
		}
		break;
	case SP_EXECUTE:
		if (active) {
			set_name(w, get_str(b, "name"));
			w->st->flags |= SQL_F_NEEDS_PREPARED | SQL_F_NO_SHARE;
		}
		break;
	case SP_DEALLOCATE:
		if (active) {
			set_name(w, get_str(b, "name"));
			w->st->flags |= SQL_F_NO_SHARE;
		}
		break;
	case SP_CURSOR:
	case SP_FETCH:
		if (active && get_str(b, "portalname")) {
			set_name(w, get_str(b, "portalname"));
			w->st->flags |= SQL_F_NO_SHARE; /* cursor names neither */
		}
		break;
	case SP_CALL:
		func_call(w, get(b, "funccall"));
		break;
	case SP_DO:
		if (active)
			do_block(w, b);
		break;
	case SP_CREATE_FUNCTION:
		if (active)
			create_function(w, b);
		break;
	case SP_ALTER_FUNCTION:
		cJSON_ArrayForEach(o, get(b, "actions")) {
			const cJSON *d = get(o, "DefElem");

			if (active && str_is(get_str(d, "defname"), "security") &&
			    cJSON_IsTrue(get(get(get(d, "arg"), "Boolean"), "boolval")))
				w->st->flags |= SQL_F_SECURITY_DEFINER;
		}
		break;
	case SP_SET:
		if (active)
			variable_set(w, b, kind == SQL_KIND_RESET ? "RESET" : "SET");
		break;
	case SP_ALTER_SET:
		/* ALTER ROLE/DATABASE ... SET: the setting every later session
		 * starts with */
		if (active && get(b, "setstmt"))
			variable_set(w, get(b, "setstmt"), "ALTER ... SET");
		break;
	case SP_TRANSACTION:
		s = get_str(b, "kind");
		if (active && (str_is(s, "TRANS_STMT_PREPARE") ||
			       str_is(s, "TRANS_STMT_COMMIT_PREPARED") ||
			       str_is(s, "TRANS_STMT_ROLLBACK_PREPARED")))
			raise(w, SQL_CLASS_ADMIN, "two-phase commit", NULL);
		break;
	case SP_LOCK:
		/* As PostgreSQL's read-only transactions: up to ROW EXCLUSIVE
		 * (mode 3) is allowed there. */
		if (active) {
			const cJSON *m = get(b, "mode");

			if (cJSON_IsNumber(m) && m->valueint <= 3)
				raise(w, SQL_CLASS_READ, "lock", NULL);
			else
				raise(w, SQL_CLASS_WRITE, "LOCK in a mode that blocks writers", NULL);
		}
		break;
	case SP_VACUUM:
	case SP_GRANT:
		break;
	case SP_DROP:
		ot = get_str(b, "removeType");
		if (active) {
			if (str_is(ot, "OBJECT_POLICY"))
				raise(w, SQL_CLASS_DCL, "DROP POLICY", NULL);
			else if (str_is(ot, "OBJECT_PUBLICATION"))
				raise(w, SQL_CLASS_ADMIN, "DROP PUBLICATION", NULL);
			else
				raise(w, SQL_CLASS_DDL, "drop", NULL);
		}
		if (is_relation_object(ot))
			cJSON_ArrayForEach(o, get(b, "objects"))
				name_list_table(w, o);
		break;
	case SP_ALTER_TABLE:
		cJSON_ArrayForEach(o, get(b, "cmds")) {
			s = get_str(get(o, "AlterTableCmd"), "subtype");
			if (active && (str_is(s, "AT_ChangeOwner") ||
				       str_is(s, "AT_EnableRowSecurity") ||
				       str_is(s, "AT_DisableRowSecurity") ||
				       str_is(s, "AT_ForceRowSecurity") ||
				       str_is(s, "AT_NoForceRowSecurity")))
				raise(w, SQL_CLASS_DCL, "ALTER TABLE", s + 3);
		}
		break;
	case SP_RENAME:
		ot = get_str(b, "renameType");
		if (!active)
			break;
		if (str_is(ot, "OBJECT_ROLE") || str_is(ot, "OBJECT_POLICY"))
			raise(w, SQL_CLASS_DCL, "rename of a role or policy", NULL);
		else if (str_is(ot, "OBJECT_TABLESPACE"))
			raise(w, SQL_CLASS_ADMIN, "rename of a tablespace", NULL);
		else
			raise(w, SQL_CLASS_DDL, "alter", NULL);
		break;
	}
	mark_stored_values(w, type, b);
	walk_fields(w, b);
}

/* The members of a node's body (or of an unwrapped struct field). */
static bool key_in(const char *const *keys, const char *k)
{
	for (; keys && *keys; keys++)
		if (strcmp(*keys, k) == 0)
			return true;
	return false;
}

static void walk_fields(struct walk *w, const cJSON *body)
{
	const char *const *value_keys = body == w->value_body ? w->value_keys : NULL;
	bool set_here = body == w->set_body;
	const cJSON *c, *with = NULL;
	size_t mark = w->nctes;

	if (!cJSON_IsObject(body)) {
		walk(w, body);
		return;
	}
	for (c = body->child; c; c = c->next) {
		const char *k = c->string;

		if (k[0] == 'r' && strcmp(k, "relname") == 0 && cJSON_IsString(c)) {
			range_var(w, body);
		} else if (k[0] == 'w' && strcmp(k, "withClause") == 0) {
			with = c;
		} else if (k[0] == 'l' && strcmp(k, "lockingClause") == 0 && !w->passive) {
			raise(w, SQL_CLASS_WRITE, "SELECT ... FOR UPDATE/SHARE", NULL);
		} else if (k[0] == 'i' && strcmp(k, "intoClause") == 0 && !w->passive) {
			add_kind(w, SQL_KIND_CREATE);
			raise(w, SQL_CLASS_DDL, "SELECT ... INTO", NULL);
		}
	}
	if (with) {
		bool stored = key_in(value_keys, "withClause");

		w->values += stored;
		walk_with(w, with);
		w->values -= stored;
	}
	for (c = body->child; c; c = c->next) {
		bool stored = key_in(value_keys, c->string);
		bool set = set_here && strcmp(c->string, "targetList") == 0;

		if (c == with || !(c->type & (cJSON_Object | cJSON_Array)))
			continue;
		w->values += stored || set;
		w->set_list = set;
		walk(w, c);
		w->set_list = false;
		w->values -= stored || set;
	}
	w->nctes = mark;
}

static void walk(struct walk *w, const cJSON *n)
{
	const char *type;
	const cJSON *b, *c;
	size_t len;

	if (!n || w->err)
		return;
	if (cJSON_IsArray(n)) {
		for (c = n->child; c; c = c->next)
			walk(w, c);
		return;
	}
	if (!(b = node_body(n, &type))) {
		walk_fields(w, n);
		return;
	}
	/* Leaves: nothing below them matters. */
	if (str_is(type, "ColumnRef")) {
		column_ref(w, b);
		return;
	}
	if (str_is(type, "A_Const") || str_is(type, "String") || str_is(type, "ParamRef") ||
	    str_is(type, "Integer") || str_is(type, "TypeName"))
		return;
	if (str_is(type, "ResTarget") && w->set_list) {
		/* SET column = value: what value references is stored there
		 * (SET (a, b) = (SELECT ...) stores into either: anywhere). */
		const char *saved = w->into;
		const cJSON *val = get(b, "val");

		w->into = get(val, "MultiAssignRef") ? NULL : get_str(b, "name");
		w->set_list = false;
		walk_fields(w, b);
		w->set_list = true;
		w->into = saved;
		return;
	}
	if (str_is(type, "FuncCall")) {
		bool stores = func_call(w, b);

		w->values += stores;
		walk_fields(w, b);
		w->values -= stores;
		return;
	}
	len = strlen(type);
	if (len > 4 && strcmp(type + len - 4, "Stmt") == 0) {
		/* A statement inside (a subquery in a SET value): its own
		 * target list is no SET list, and what it references is stored
		 * where the value is. */
		bool set_list = w->set_list;

		w->set_list = false;
		statement(w, type, b);
		w->set_list = set_list;
		return;
	}
	walk_fields(w, b);
}

/* ---------------------------------------------------------- verdict memory */

static void names_free(char ***list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

static void stmt_free(struct sql_stmt *st)
{
	names_free(&st->tables, &st->ntables);
	names_free(&st->columns, &st->ncolumns);
	names_free(&st->functions, &st->nfunctions);
	names_free(&st->sources, &st->nsources);
	names_free(&st->targets, &st->ntargets);
	names_free(&st->pairs, &st->npairs);
}

void sql_verdict_free(struct sql_verdict *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		stmt_free(&v->stmts[i]);
	free(v->stmts);
	v->stmts = NULL;
	v->n = 0;
}

/* Join src into dst: masks, flags, tables, and the stronger class. */
static int merge_stmt(struct sql_stmt *dst, const struct sql_stmt *src)
{
	int err = 0;

	dst->classes |= src->classes;
	dst->kinds |= src->kinds;
	dst->flags |= src->flags & ~SQL_F_NEEDS_PREPARED;
	if (src->cls > dst->cls) {
		dst->cls = src->cls;
		snprintf(dst->reason, sizeof dst->reason, "%s", src->reason);
	}
	for (size_t i = 0; i < src->ntables && !err; i++)
		add_table_name(dst, src->tables[i], &err);
	for (size_t i = 0; i < src->ncolumns && !err; i++)
		add_column_name(dst, src->columns[i], &err);
	for (size_t i = 0; i < src->nfunctions && !err; i++)
		add_function_name(dst, src->functions[i], &err);
	for (size_t i = 0; i < src->nsources && !err; i++)
		add_source_name(dst, src->sources[i], &err);
	for (size_t i = 0; i < src->npairs && !err; i++)
		add_name(dst, &dst->pairs, &dst->npairs, SQL_MAX_REFS, SQL_F_REFS_TRUNCATED,
			 src->pairs[i], &err);
	if (src->target[0] || dst->target[0]) {
		/* Joined statements (EXECUTE of a PREPARE): keep the target only
		 * when there is one. */
		if (dst->target[0] && strcmp(dst->target, src->target))
			dst->flags |= SQL_F_MANY_TARGETS;
		else
			memcpy(dst->target, src->target, sizeof dst->target);
		for (size_t i = 0; i < src->ntargets && !err; i++)
			add_target_name(dst, src->targets[i], &err);
	}
	if (dst->flags & SQL_F_MANY_TARGETS)
		dst->target[0] = '\0';
	return err;
}

int sql_merge(struct sql_stmt *exec, const struct sql_stmt *prepared)
{
	int err;

	if (!exec || !prepared)
		return -EINVAL;
	err = merge_stmt(exec, prepared);
	exec->flags &= ~SQL_F_NEEDS_PREPARED;
	return err;
}

int sql_verdict_copy(const struct sql_verdict *src, struct sql_verdict *dst)
{
	int err = 0;

	*dst = (struct sql_verdict){ 0 };
	memcpy(dst->error, src->error, sizeof(dst->error));
	dst->error_pos = src->error_pos;
	if (!src->n)
		return 0;
	dst->stmts = calloc(src->n, sizeof(*dst->stmts));
	if (!dst->stmts)
		return -ENOMEM;
	for (size_t i = 0; i < src->n && !err; i++) {
		struct sql_stmt *d = &dst->stmts[i];

		*d = src->stmts[i];
		d->tables = d->columns = d->functions = d->sources = d->targets = d->pairs = NULL;
		d->ntables = d->ncolumns = d->nfunctions = d->nsources = d->ntargets = d->npairs = 0;
		d->target[0] = '\0';
		dst->n = i + 1;
		err = merge_stmt(d, &src->stmts[i]);
	}
	if (err)
		sql_verdict_free(dst);
	return err;
}

/* --------------------------------------------------------------- the guard */

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* The token of one ScanToken message (field 4), or -1. */
static long pb_token(const uint8_t *p, const uint8_t *end)
{
	long token = 0;
	uint64_t key, v;

	while (p < end) {
		if (!pb_varint(&p, end, &key))
			return -1;
		switch (key & 7) {
		case 0:
			if (!pb_varint(&p, end, &v))
				return -1;
			if (key >> 3 == 4)
				token = (long)v;
			break;
		case 2:
			if (!pb_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return -1;
			p += v;
			break;
		default:
			return -1;
		}
	}
	return token;
}

/* Tokens that never make the tree deeper on their own: names, constants,
 * comments and punctuation (brackets are bounded by the parser's own stack). */
static bool token_is_flat(long t)
{
	switch (t) {
	case '(': case ')': case '[': case ']': case ',': case '.': case ';':
	case 258: case 259: case 260: case 261: case 262: case 263: case 264: /* IDENT..XCONST */
	case 266: case 267: case 275: case 276:                               /* ICONST PARAM comments */
		return true;
	}
	return false;
}

/*
 * libpg_query's JSON output recurses once per tree level without checking
 * the stack (this build's check_stack_depth() never fires), and left-deep
 * chains (1+1+1..., UNION ..., a::t::t...) are not bounded by the parser's
 * own stack. Every level of such a chain has an operator or keyword token,
 * so counting those per statement bounds the depth. Statements up to
 * SCAN_ABOVE bytes cannot get deep enough to matter and skip this.
 */
static int guard_depth(const char *text, char *err, size_t errlen)
{
	PgQueryScanResult r;
	const uint8_t *p, *end;
	uint64_t key, v;
	long ops = 0, max = 0, depth = 0;
	int rc = 0;

	if (strlen(text) <= SCAN_ABOVE)
		return 0;
	r = pg_query_scan(text);
	if (r.error) {
		snprintf(err, errlen, "%s", r.error->message);
		pg_query_free_scan_result(r);
		return -EINVAL;
	}
	p = (const uint8_t *)r.pbuf.data;
	end = p + r.pbuf.len;
	while (p < end && rc == 0) {
		if (!pb_varint(&p, end, &key)) {
			rc = -EINVAL;
			break;
		}
		if ((key & 7) == 0) {
			if (!pb_varint(&p, end, &v))
				rc = -EINVAL;
			continue;
		}
		if ((key & 7) != 2 || !pb_varint(&p, end, &v) || v > (uint64_t)(end - p)) {
			rc = -EINVAL;
			break;
		}
		if (key >> 3 == 2) {
			long t = pb_token(p, p + v);

			if (t == '(' || t == '[')
				depth++;
			else if ((t == ')' || t == ']') && depth > 0)
				depth--;
			if (t == ';' && depth == 0)
				ops = 0;
			else if (!token_is_flat(t) && ++ops > max)
				max = ops;
		}
		p += v;
	}
	pg_query_free_scan_result(r);
	if (rc < 0)
		snprintf(err, errlen, "could not read the scanner's output");
	else if (max > SQL_MAX_OPS) {
		snprintf(err, errlen, "statement too complex to inspect: more than %d operators "
			 "and keywords in one statement", SQL_MAX_OPS);
		rc = -E2BIG;
	}
	return rc;
}

/* ----------------------------------------------------------- classify */

__attribute__((format(printf, 3, 4)))
static int fail(struct sql_verdict *out, int rc, const char *fmt, ...)
{
	va_list ap;

	sql_verdict_free(out);
	va_start(ap, fmt);
	vsnprintf(out->error, sizeof out->error, fmt, ap);
	va_end(ap);
	/* one line: the parser's messages have none, but be sure */
	for (char *c = out->error; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return rc;
}

static int json_depth(const char *s)
{
	int d = 0, max = 0;
	bool in_str = false;

	for (; *s; s++) {
		if (in_str) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				in_str = false;
		} else if (*s == '"') {
			in_str = true;
		} else if (*s == '{' || *s == '[') {
			if (++d > max)
				max = d;
		} else if (*s == '}' || *s == ']') {
			d--;
		}
	}
	return max;
}

/* Parse text into a cJSON tree; *root is NULL on error (out->error says). */
static int parse_tree(const char *text, size_t base, const char *whole,
		      struct sql_verdict *out, cJSON **root)
{
	PgQueryParseResult r;
	char msg[sizeof out->error];
	int rc;

	*root = NULL;
	if ((rc = guard_depth(text, msg, sizeof msg)) < 0)
		return fail(out, rc, "%s", msg);
	r = pg_query_parse(text);
	if (r.error) {
		int pos = r.error->cursorpos;

		/* cursorpos counts characters in text; make it count in whole */
		if (pos > 0)
			for (size_t i = 0; i < base; i++)
				pos += ((unsigned char)whole[i] & 0xc0) != 0x80;
		rc = fail(out, -EINVAL, "%s", r.error->message);
		out->error_pos = pos;
		pg_query_free_parse_result(r);
		return rc;
	}
	*root = cJSON_Parse(r.parse_tree);
	if (!*root) {
		bool deep = json_depth(r.parse_tree) >= JSON_MAX_DEPTH;

		pg_query_free_parse_result(r);
		if (deep)
			return fail(out, -E2BIG, "statement nested too deeply to inspect "
				    "(more than %d levels in the parse tree)", JSON_MAX_DEPTH);
		return fail(out, -ENOMEM, "out of memory reading the parse tree");
	}
	pg_query_free_parse_result(r);
	return 0;
}

/* Walk one RawStmt ({"stmt": ..., "stmt_location": ..., "stmt_len": ...}). */
static int classify_raw(const cJSON *raw, size_t base, size_t textlen, int body_depth,
			struct sql_stmt *st)
{
	struct walk w = { .st = st, .body_depth = body_depth, .top_kind = -1, .maxcls = -1 };
	const cJSON *loc = get(raw, "stmt_location"), *len = get(raw, "stmt_len");
	size_t off = cJSON_IsNumber(loc) && loc->valueint > 0 ? (size_t)loc->valueint : 0;
	size_t n = cJSON_IsNumber(len) && len->valueint > 0 ? (size_t)len->valueint : 0;

	memset(st, 0, sizeof *st);
	if (off > textlen)
		off = textlen;
	if (n == 0 || n > textlen - off)
		n = textlen - off; /* 0 means "to the end" */
	st->offset = base + off;
	st->len = n;

	walk(&w, get(raw, "stmt"));
	if (w.err)
		return w.err;
	for (size_t r = 0; r < w.nrelnames; r++) {
		for (size_t i = 0; i < st->ncolumns; i++)
			if (strcmp(st->columns[i], w.relnames[r]) == 0)
				st->flags |= SQL_F_WHOLE_ROW;
		for (size_t i = 0; i < st->nsources; i++)
			if (strcmp(st->sources[i], w.relnames[r]) == 0)
				st->flags |= SQL_F_VALUE_WHOLE_ROW;
	}

	if (w.maxcls < 0) { /* a node without class of its own and nothing inside */
		w.maxcls = SQL_CLASS_READ;
		w.why = "statement";
	}
	st->classes |= 1u << w.maxcls;
	st->cls = w.maxcls;
	st->kind = w.top_kind >= 0 ? (enum sql_kind)w.top_kind : SQL_KIND_OTHER;
	if (w.why)
		snprintf(st->reason, sizeof st->reason, "%s%s%s", w.why, w.why_arg ? " " : "",
			 w.why_arg ? w.why_arg : "");
	return 0;
}

static int grow(struct sql_verdict *out, size_t more)
{
	struct sql_stmt *v;

	if (out->n + more > SQL_MAX_STMTS)
		return -E2BIG;
	if (!(v = realloc(out->stmts, (out->n + more) * sizeof *v)))
		return -ENOMEM;
	out->stmts = v;
	return 0;
}

/* Classify the statements of root, each offset by base within whole. */
static int classify_tree(const cJSON *root, size_t base, size_t textlen, int body_depth,
			 struct sql_verdict *out)
{
	const cJSON *stmts = get(root, "stmts"), *raw;
	int n = cJSON_GetArraySize(stmts), rc;

	if (n == 0)
		return 0;
	if ((rc = grow(out, (size_t)n)) < 0)
		return rc == -E2BIG ? fail(out, rc, "more than %d statements in one string",
					   SQL_MAX_STMTS)
				    : fail(out, rc, "out of memory");
	cJSON_ArrayForEach(raw, stmts) {
		struct sql_stmt *st = &out->stmts[out->n];

		rc = classify_raw(raw, base, textlen, body_depth, st);
		out->n++;
		if (rc < 0)
			return fail(out, rc, "out of memory");
	}
	return 0;
}

static int classify_text(const char *text, int body_depth, struct sql_verdict *out)
{
	size_t len = text ? strlen(text) : 0;
	PgQuerySplitResult split;
	cJSON *root;
	int rc;

	memset(out, 0, sizeof *out);
	if (!text)
		return fail(out, -EINVAL, "no query text");
	if (len > SQL_MAX_TEXT)
		return fail(out, -E2BIG, "query string longer than %u bytes", SQL_MAX_TEXT);

	if (len <= WHOLE_PARSE_MAX) {
		if ((rc = parse_tree(text, 0, text, out, &root)) < 0)
			return rc;
		rc = classify_tree(root, 0, len, body_depth, out);
		cJSON_Delete(root);
		return rc;
	}

	/* Long strings: find the statements with the parser (no tree output),
	 * then parse and classify one statement at a time. */
	split = pg_query_split_with_parser(text);
	if (split.error) {
		rc = fail(out, -EINVAL, "%s", split.error->message);
		out->error_pos = split.error->cursorpos;
		pg_query_free_split_result(split);
		return rc;
	}
	if (split.n_stmts > SQL_MAX_STMTS) {
		pg_query_free_split_result(split);
		return fail(out, -E2BIG, "more than %d statements in one string", SQL_MAX_STMTS);
	}
	rc = 0;
	for (int i = 0; i < split.n_stmts && rc == 0; i++) {
		size_t off = (size_t)split.stmts[i]->stmt_location;
		size_t n = (size_t)split.stmts[i]->stmt_len;
		char *piece;
		size_t before = out->n;

		if (off > len)
			off = len;
		if (n == 0 || n > len - off)
			n = len - off;
		if (n > SQL_MAX_STMT_TEXT) {
			rc = fail(out, -E2BIG, "statement %d is longer than %u bytes", i + 1,
				  SQL_MAX_STMT_TEXT);
			break;
		}
		if (!(piece = strndup(text + off, n))) {
			rc = fail(out, -ENOMEM, "out of memory");
			break;
		}
		if ((rc = parse_tree(piece, off, text, out, &root)) == 0) {
			rc = classify_tree(root, off, n, body_depth, out);
			cJSON_Delete(root);
			if (rc == 0 && out->n != before + 1)
				rc = fail(out, -EINVAL, "statement %d does not stand alone", i + 1);
		}
		free(piece);
	}
	pg_query_free_split_result(split);
	return rc;
}

int sql_classify(const char *text, struct sql_verdict *out)
{
	return classify_text(text, 0, out);
}

/* What sql_classify() refuses before parsing, for the other entry points. */
static int guard_text(const char *text, char *msg, size_t n)
{
	if (!text) {
		snprintf(msg, n, "no query text");
		return -EINVAL;
	}
	if (strlen(text) > SQL_MAX_TEXT) {
		snprintf(msg, n, "query string longer than %u bytes", SQL_MAX_TEXT);
		return -E2BIG;
	}
	return guard_depth(text, msg, n);
}

int sql_fingerprint(const char *text, uint64_t *out, char *err, size_t errlen)
{
	char msg[256] = "";
	PgQueryFingerprintResult r;
	int rc = guard_text(text, msg, sizeof msg);

	if (rc == 0) {
		r = pg_query_fingerprint(text);
		if (r.error) {
			rc = -EINVAL;
			snprintf(msg, sizeof msg, "%s", r.error->message);
		} else {
			*out = r.fingerprint;
		}
		pg_query_free_fingerprint_result(r);
	}
	if (rc < 0 && err && errlen)
		snprintf(err, errlen, "%s", msg);
	return rc;
}

