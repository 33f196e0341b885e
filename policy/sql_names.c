/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sql_names: the words of statement classes, kinds and guard flags, as the
 * policy file writes them. Apart from sql_classify.c so that the policy
 * validator can check a rule's words without linking the SQL parser.
 */
#include "sql_classify.h"

#include <string.h>

static const char *const class_names[SQL_CLASS_COUNT] = {
	[SQL_CLASS_READ] = "read",
	[SQL_CLASS_SESSION] = "session",
	[SQL_CLASS_COPY_OUT] = "copy_out",
	[SQL_CLASS_WRITE] = "write",
	[SQL_CLASS_COPY_IN] = "copy_in",
	[SQL_CLASS_DDL] = "ddl",
	[SQL_CLASS_DCL] = "dcl",
	[SQL_CLASS_PROCEDURAL] = "procedural",
	[SQL_CLASS_ADMIN] = "admin",
};

static const char *const kind_names[SQL_KIND_COUNT] = {
	[SQL_KIND_SELECT] = "select",
	[SQL_KIND_INSERT] = "insert",
	[SQL_KIND_UPDATE] = "update",
	[SQL_KIND_DELETE] = "delete",
	[SQL_KIND_MERGE] = "merge",
	[SQL_KIND_TRUNCATE] = "truncate",
	[SQL_KIND_COPY] = "copy",
	[SQL_KIND_CREATE] = "create",
	[SQL_KIND_ALTER] = "alter",
	[SQL_KIND_DROP] = "drop",
	[SQL_KIND_COMMENT] = "comment",
	[SQL_KIND_SECURITY_LABEL] = "security_label",
	[SQL_KIND_GRANT] = "grant",
	[SQL_KIND_REVOKE] = "revoke",
	[SQL_KIND_REASSIGN] = "reassign",
	[SQL_KIND_REFRESH] = "refresh",
	[SQL_KIND_IMPORT] = "import",
	[SQL_KIND_SET] = "set",
	[SQL_KIND_RESET] = "reset",
	[SQL_KIND_SHOW] = "show",
	[SQL_KIND_DISCARD] = "discard",
	[SQL_KIND_TRANSACTION] = "transaction",
	[SQL_KIND_PREPARE] = "prepare",
	[SQL_KIND_EXECUTE] = "execute",
	[SQL_KIND_DEALLOCATE] = "deallocate",
	[SQL_KIND_DECLARE] = "declare",
	[SQL_KIND_FETCH] = "fetch",
	[SQL_KIND_MOVE] = "move",
	[SQL_KIND_CLOSE] = "close",
	[SQL_KIND_EXPLAIN] = "explain",
	[SQL_KIND_CALL] = "call",
	[SQL_KIND_DO] = "do",
	[SQL_KIND_LISTEN] = "listen",
	[SQL_KIND_UNLISTEN] = "unlisten",
	[SQL_KIND_NOTIFY] = "notify",
	[SQL_KIND_LOCK] = "lock",
	[SQL_KIND_VACUUM] = "vacuum",
	[SQL_KIND_ANALYZE] = "analyze",
	[SQL_KIND_CLUSTER] = "cluster",
	[SQL_KIND_REINDEX] = "reindex",
	[SQL_KIND_CHECKPOINT] = "checkpoint",
	[SQL_KIND_LOAD] = "load",
	[SQL_KIND_OTHER] = "other",
};

const char *sql_class_name(enum sql_class c)
{
	return (unsigned)c < SQL_CLASS_COUNT ? class_names[c] : "?";
}

const char *sql_kind_name(enum sql_kind k)
{
	return (unsigned)k < SQL_KIND_COUNT ? kind_names[k] : "?";
}

int sql_class_from_name(const char *word)
{
	for (int i = 0; word && i < SQL_CLASS_COUNT; i++)
		if (strcmp(word, class_names[i]) == 0)
			return i;
	return -1;
}

int sql_kind_from_name(const char *word)
{
	/* "other" is a result, not something a policy can name usefully,
	 * but naming it is harmless: it is how unknown statements show. */
	for (int i = 0; word && i < SQL_KIND_COUNT; i++)
		if (strcmp(word, kind_names[i]) == 0)
			return i;
	return -1;
}

uint32_t sql_guard_from_name(const char *word)
{
	if (word && strcmp(word, "delete_without_where") == 0)
		return SQL_F_DELETE_WITHOUT_WHERE;
	if (word && strcmp(word, "update_without_where") == 0)
		return SQL_F_UPDATE_WITHOUT_WHERE;
	return 0;
}

