// SPDX-License-Identifier: Apache-2.0
/* ctl_explain: a policy's decision for SQL, and why. See ctl_explain.h. */
#include "ctl_explain.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay_text.h"
#include "sql_classify.h"

#define SHOWN_SQL_MAX 200 /* characters of a statement shown in its heading */
#define LABEL_WIDTH 11    /* "raised by: " */

/* A mask of a rule that applies to the target and the identity's roles. */
struct mask_ref {
	const struct policy_mask *m;
	int rule;
	size_t index;            /* in the rule's mask list */
	bool has_re;
	regex_t re;
};

struct judged {
	struct sql_judgement j;
	bool unprepared;         /* an EXECUTE with no PREPARE of its name before it */
};

struct explain {
	const struct policy *p;
	const struct policy_identity *id;
	const struct policy_target *target;
	const char *sql;
	int session_rule;        /* the rule that admits the session, or -1 */
	int classify_err;        /* 0, or sql_classify's -EINVAL or -E2BIG */
	struct sql_verdict v;
	struct judged *judged;   /* one per statement of v */
	struct mask_ref *masks;
	size_t nmasks;
	enum sql_decision decision;
	size_t decider;          /* the statement that decided, when there is one */
	struct text why;         /* for the string as a whole */
};

/* Policy words of a statement: its classes, its kinds or its guards. */
struct words {
	const char *v[SQL_KIND_COUNT];
	size_t n;
};

static const struct {
	uint32_t flag;
	const char *word;
} guards[] = {
	{ SQL_F_DELETE_WITHOUT_WHERE, "delete_without_where" },
	{ SQL_F_UPDATE_WITHOUT_WHERE, "update_without_where" },
};

static void stmt_words(const struct sql_stmt *st, struct words *cls, struct words *kinds,
		       struct words *guard)
{
	uint32_t classes = st->classes | (1u << st->cls);
	uint64_t all_kinds = st->kinds | (1ull << st->kind);

	cls->n = kinds->n = guard->n = 0;
	for (int c = 0; c < SQL_CLASS_COUNT; c++)
		if (classes & (1u << c))
			cls->v[cls->n++] = sql_class_name((enum sql_class)c);
	for (int k = 0; k < SQL_KIND_COUNT; k++)
		if (all_kinds & (1ull << k))
			kinds->v[kinds->n++] = sql_kind_name((enum sql_kind)k);
	for (size_t g = 0; g < sizeof(guards) / sizeof(guards[0]); g++)
		if (st->flags & guards[g].flag)
			guard->v[guard->n++] = guards[g].word;
}

/* What kind of policy word decided: "class", "kind" or "guard". */
static const char *word_is(const char *word)
{
	if (sql_class_from_name(word) >= 0)
		return "class";
	return sql_kind_from_name(word) >= 0 ? "kind" : "guard";
}

static void put_escaped(struct text *t, const char *s)
{
	text_escape(t, s, strlen(s), NULL, 0);
}

/* Names joined by ", ", escaped; "-" for none. */
static void put_names(struct text *t, const char *const *v, size_t n)
{
	if (!n)
		text_puts(t, "-");
	for (size_t i = 0; i < n; i++) {
		put_escaped(t, v[i]);
		text_puts(t, i + 1 < n ? ", " : "");
	}
}

static void put_roles(struct text *t, const struct policy_strv *roles)
{
	text_puts(t, "[");
	put_names(t, (const char *const *)roles->v, roles->n);
	text_puts(t, "]");
}

/* ------------------------------------------------------------- masks */

static void masks_free(struct explain *e)
{
	for (size_t i = 0; i < e->nmasks; i++)
		if (e->masks[i].has_re)
			regfree(&e->masks[i].re);
	free(e->masks);
}

static int masks_compile(struct explain *e)
{
	size_t n = 0;

	for (size_t r = 0; r < e->p->nrules; r++)
		if (policy_rule_applies(&e->p->rules[r], e->target->name, &e->id->roles))
			n += e->p->rules[r].nmask;
	if (!n)
		return 0;
	if (!(e->masks = calloc(n, sizeof(*e->masks))))
		return -ENOMEM;
	for (size_t r = 0; r < e->p->nrules; r++) {
		const struct policy_rule *rule = &e->p->rules[r];

		if (!policy_rule_applies(rule, e->target->name, &e->id->roles))
			continue;
		for (size_t k = 0; k < rule->nmask; k++) {
			struct mask_ref *mr = &e->masks[e->nmasks++];

			*mr = (struct mask_ref){ .m = &rule->mask[k], .rule = (int)r, .index = k };
			/* The policy was validated: a pattern compiled then. */
			if (mr->m->column_regex && policy_mask_regcomp(mr->m, &mr->re))
				return -EINVAL;
			mr->has_re = mr->m->column_regex != NULL;
		}
	}
	return 0;
}

/* The last part of a table name as sql_classify writes it ("s.t",
 * "s.\"My T\""), unquoted. */
static void table_base(const char *name, char *out, size_t outlen)
{
	size_t n = 0;
	bool quoted = false;

	for (const char *s = name; *s; s++) {
		if (*s == '"' && quoted && s[1] == '"') {
			s++; /* a doubled quote inside quotes is one */
		} else if (*s == '"') {
			quoted = !quoted;
			continue;
		} else if (*s == '.' && !quoted) {
			n = 0;
			continue;
		}
		if (n + 1 < outlen)
			out[n++] = *s;
	}
	out[n] = '\0';
}

/* Does a "column" or "table.column" mask name col of a statement on its tables? */
static bool column_named(const char *mask, const char *col, const struct sql_stmt *st)
{
	const char *dot = strchr(mask, '.');
	char base[2 * SQL_NAME_MAX];

	if (!dot)
		return !strcmp(mask, col);
	if (strcmp(dot + 1, col))
		return false;
	for (size_t i = 0; i < st->ntables; i++) {
		table_base(st->tables[i], base, sizeof(base));
		if (strlen(base) == (size_t)(dot - mask) && !memcmp(base, mask, strlen(base)))
			return true;
	}
	return false;
}

/* Does the mask cover col, a column st references? */
static bool mask_covers(const struct mask_ref *mr, const char *col, const struct sql_stmt *st)
{
	return mr->has_re ? !regexec(&mr->re, col, 0, NULL, 0) : column_named(mr->m->column, col, st);
}

static const char *mask_with(const struct policy_mask *m)
{
	return m->with ? m->with : "redact";
}

/* --------------------------------------------------------------- judging */

/* An EXECUTE runs what its PREPAREs earlier in the string prepared: join
 * them all, as the agent joins every PREPARE of the name in the session. */
static int join_prepared(struct sql_verdict *v, size_t i, bool *found)
{
	struct sql_stmt *exec = &v->stmts[i];
	const char *name = exec->name;
	int err = 0;

	*found = false;
	for (size_t k = 0; k < i && !err; k++) {
		if (v->stmts[k].kind != SQL_KIND_PREPARE || strcmp(v->stmts[k].name, name))
			continue;
		err = sql_merge(exec, &v->stmts[k]);
		*found = true;
	}
	return err;
}

static int judge_all(struct explain *e)
{
	struct sql_rules rules;
	int err;

	sql_rules_compile(e->p, e->target->name, &e->id->roles, &rules);
	if (!(e->judged = calloc(e->v.n ? e->v.n : 1, sizeof(*e->judged))))
		return -ENOMEM;
	for (size_t i = 0; i < e->v.n; i++) {
		struct sql_stmt *st = &e->v.stmts[i];
		struct judged *d = &e->judged[i];
		bool prepared = true;

		if ((st->flags & SQL_F_NEEDS_PREPARED) &&
		    (err = join_prepared(&e->v, i, &prepared)))
			return err;
		d->unprepared = !prepared;
		if (d->unprepared)
			d->j = (struct sql_judgement){ SQL_DENY, -1, "execute" };
		else
			sql_rules_judge(&rules, st, &d->j);
		if (i == 0 || d->j.decision > e->decision) {
			e->decision = d->j.decision;
			e->decider = i;
		}
	}
	return 0;
}

/* Why statement i got its decision, in one line. */
static void put_stmt_why(struct text *t, const struct explain *e, size_t i)
{
	const struct sql_judgement *j = &e->judged[i].j;
	const struct sql_stmt *st = &e->v.stmts[i];

	if (e->judged[i].unprepared) {
		text_puts(t, "denied: EXECUTE of \"");
		put_escaped(t, st->name);
		text_puts(t, "\" without a PREPARE of it earlier in this string (the agent denies "
			  "an EXECUTE that its session has not prepared)");
	} else if (j->decision == SQL_DENY && j->rule >= 0) {
		text_printf(t, "denied by rule %d: \"%s\" is in its deny list", j->rule, j->word);
	} else if (j->decision == SQL_DENY) {
		text_puts(t, "denied by default: no rule for roles ");
		put_roles(t, &e->id->roles);
		text_printf(t, " allows class %s", j->word);
	} else if (j->decision == SQL_APPROVE) {
		text_printf(t, "needs approval by rule %d: \"%s\" is in its approve list", j->rule,
			    j->word);
	} else if (!strcmp(word_is(j->word), "class")) {
		text_printf(t, "allowed by rule %d: class %s is in its allow list", j->rule, j->word);
	} else {
		/* The rule named is the one that covers the strongest class. */
		text_printf(t, "allowed by rule %d: \"%s\" is in its allow list and covers class %s",
			    j->rule, j->word, sql_class_name(st->cls));
	}
}

/* The decision for the whole string, and why. */
static void decide(struct explain *e)
{
	if (e->session_rule < 0) {
		e->decision = SQL_DENY;
		text_puts(&e->why, "denied by default: no rule for target \"");
		put_escaped(&e->why, e->target->name);
		text_puts(&e->why, "\" names any of the roles ");
		put_roles(&e->why, &e->id->roles);
		text_puts(&e->why, ", so the agent refuses the session");
	} else if (e->classify_err) {
		e->decision = SQL_DENY;
		text_puts(&e->why, e->classify_err == -EINVAL
			  ? "denied: the string does not parse, and the agent runs none of it"
			  : "denied: the string is over a limit of the SQL classifier, and the "
			    "agent runs none of it");
	} else if (!e->v.n) {
		e->decision = SQL_ALLOW;
		text_puts(&e->why, "allowed: the string holds no statement");
	} else {
		if (e->v.n > 1)
			text_printf(&e->why, "statement %zu of %zu: ", e->decider + 1, e->v.n);
		put_stmt_why(&e->why, e, e->decider);
	}
}

/* ------------------------------------------------------ text for people */

/* "name:" padded, so that values line up. */
static void label(struct text *t, bool indent, const char *name)
{
	text_printf(t, "%s%-*s", indent ? "  " : "", LABEL_WIDTH, name);
}

static void text_masks(struct text *t, const struct explain *e, const struct sql_stmt *st)
{
	for (size_t i = 0; i < e->nmasks; i++) {
		const struct mask_ref *mr = &e->masks[i];
		size_t hits = 0;

		for (size_t c = 0; c < st->ncolumns; c++) {
			if (!mask_covers(mr, st->columns[c], st))
				continue;
			if (!hits++)
				label(t, true, "masked:");
			else
				text_puts(t, ", ");
			put_escaped(t, st->columns[c]);
		}
		if (!hits)
			continue;
		text_printf(t, ": rule %d, mask %zu (%s \"", mr->rule, mr->index,
			    mr->has_re ? "column_regex" : "column");
		put_escaped(t, mr->has_re ? mr->m->column_regex : mr->m->column);
		text_puts(t, "\", with ");
		put_escaped(t, mask_with(mr->m));
		text_puts(t, ")\n");
	}
	if (e->nmasks && (st->flags & (SQL_F_STAR | SQL_F_WHOLE_ROW))) {
		label(t, true, "note:");
		text_puts(t, "it reads * or whole rows: masks may cover result columns it does "
			  "not name\n");
	}
	if (st->flags & SQL_F_REFS_TRUNCATED) {
		label(t, true, "note:");
		text_printf(t, "it names more than %d columns: the list is cut\n", SQL_MAX_REFS);
	}
}

static void text_stmt(struct text *t, const struct explain *e, size_t i)
{
	const struct sql_stmt *st = &e->v.stmts[i];
	const struct sql_judgement *j = &e->judged[i].j;
	struct words cls, kinds, guard;
	const char *sql = e->sql + st->offset;
	size_t blank = 0;

	/* The statement as written, without the blanks that follow a ";". */
	while (blank < st->len && isspace((unsigned char)sql[blank]))
		blank++;
	stmt_words(st, &cls, &kinds, &guard);
	text_printf(t, "statement %zu of %zu: ", i + 1, e->v.n);
	text_escape(t, sql + blank, st->len - blank, NULL, SHOWN_SQL_MAX);
	text_puts(t, "\n");
	label(t, true, "class:");
	text_printf(t, "%s\n", sql_class_name(st->cls));
	label(t, true, "kind:");
	text_printf(t, "%s\n", sql_kind_name(st->kind));
	label(t, true, "classes:");
	put_names(t, cls.v, cls.n);
	text_puts(t, "\n");
	label(t, true, "kinds:");
	put_names(t, kinds.v, kinds.n);
	text_puts(t, "\n");
	label(t, true, "guards:");
	put_names(t, guard.v, guard.n);
	text_puts(t, "\n");
	if (st->reason[0] && strcmp(st->reason, sql_kind_name(st->kind))) {
		label(t, true, "raised by:");
		put_escaped(t, st->reason);
		text_puts(t, "\n");
	}
	label(t, true, "tables:");
	put_names(t, (const char *const *)st->tables, st->ntables);
	text_puts(t, "\n");
	label(t, true, "columns:");
	put_names(t, (const char *const *)st->columns, st->ncolumns);
	text_puts(t, "\n");
	label(t, true, "decision:");
	text_printf(t, "%s\n", sql_decision_name(j->decision));
	label(t, true, "rule:");
	if (j->rule >= 0)
		text_printf(t, "%d\n", j->rule);
	else
		text_puts(t, "-\n");
	label(t, true, "word:");
	text_printf(t, "%s %s\n", word_is(j->word), j->word);
	label(t, true, "why:");
	put_stmt_why(t, e, i);
	text_puts(t, "\n");
	text_masks(t, e, st);
}

static void text_explain(struct text *t, const struct explain *e)
{
	label(t, false, "identity:");
	put_escaped(t, e->id->name);
	text_puts(t, " (roles ");
	put_roles(t, &e->id->roles);
	text_puts(t, ")\n");
	label(t, false, "target:");
	put_escaped(t, e->target->name);
	text_puts(t, "\n");
	label(t, false, "session:");
	if (e->session_rule >= 0)
		text_printf(t, "admitted by rule %d\n", e->session_rule);
	else
		text_puts(t, "refused: no rule for the target names one of the roles\n");
	if (e->classify_err) {
		label(t, false, "error:");
		put_escaped(t, e->v.error);
		if (e->v.error_pos > 0)
			text_printf(t, " (at character %d)", e->v.error_pos);
		text_puts(t, "\n");
	}
	for (size_t i = 0; i < e->v.n; i++)
		text_stmt(t, e, i);
	label(t, false, "decision:");
	text_printf(t, "%s\n", sql_decision_name(e->decision));
	label(t, false, "why:");
	text_printf(t, "%s\n", e->why.s ? e->why.s : "");
}

/* ------------------------------------------------------------------ JSON */

static void add_rule(cJSON *o, const char *name, int rule)
{
	if (rule >= 0)
		cJSON_AddNumberToObject(o, name, rule);
	else
		cJSON_AddNullToObject(o, name);
}

/* A list of strings, also an empty one (cJSON_CreateStringArray makes
 * none of an empty list). */
static void add_strings(cJSON *o, const char *name, const char *const *v, size_t n)
{
	cJSON *list = cJSON_AddArrayToObject(o, name);

	for (size_t i = 0; list && i < n; i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(v[i]));
}

static void add_text(cJSON *o, const char *name, struct text *t)
{
	cJSON_AddStringToObject(o, name, t->s && !t->failed ? t->s : "");
	text_free(t);
}

static cJSON *json_masks(const struct explain *e, const struct sql_stmt *st)
{
	cJSON *list = cJSON_CreateArray();

	for (size_t i = 0; list && i < e->nmasks; i++) {
		const struct mask_ref *mr = &e->masks[i];
		cJSON *m = NULL, *matches = NULL;

		for (size_t c = 0; c < st->ncolumns; c++) {
			if (!mask_covers(mr, st->columns[c], st))
				continue;
			if (!m && (m = cJSON_CreateObject())) {
				cJSON_AddItemToArray(list, m);
				cJSON_AddNumberToObject(m, "rule", mr->rule);
				cJSON_AddNumberToObject(m, "mask", (double)mr->index);
				if (mr->has_re)
					cJSON_AddStringToObject(m, "column_regex", mr->m->column_regex);
				else
					cJSON_AddStringToObject(m, "column", mr->m->column);
				cJSON_AddStringToObject(m, "with", mask_with(mr->m));
				matches = cJSON_AddArrayToObject(m, "matches");
			}
			cJSON_AddItemToArray(matches, cJSON_CreateString(st->columns[c]));
		}
	}
	return list;
}

static cJSON *json_stmt(const struct explain *e, size_t i)
{
	const struct sql_stmt *st = &e->v.stmts[i];
	const struct sql_judgement *j = &e->judged[i].j;
	cJSON *o = cJSON_CreateObject();
	struct words cls, kinds, guard;
	struct text why = { 0 };
	char *text = strndup(e->sql + st->offset, st->len);

	if (!o || !text) {
		free(text);
		return o;
	}
	stmt_words(st, &cls, &kinds, &guard);
	cJSON_AddStringToObject(o, "text", text);
	free(text);
	cJSON_AddNumberToObject(o, "offset", (double)st->offset);
	cJSON_AddNumberToObject(o, "length", (double)st->len);
	cJSON_AddStringToObject(o, "class", sql_class_name(st->cls));
	cJSON_AddStringToObject(o, "kind", sql_kind_name(st->kind));
	add_strings(o, "classes", cls.v, cls.n);
	add_strings(o, "kinds", kinds.v, kinds.n);
	add_strings(o, "guards", guard.v, guard.n);
	cJSON_AddStringToObject(o, "raised_by", st->reason);
	add_strings(o, "tables", (const char *const *)st->tables, st->ntables);
	add_strings(o, "columns", (const char *const *)st->columns, st->ncolumns);
	cJSON_AddStringToObject(o, "decision", sql_decision_name(j->decision));
	add_rule(o, "rule", j->rule);
	cJSON_AddStringToObject(o, "word", j->word);
	cJSON_AddStringToObject(o, "word_is", word_is(j->word));
	put_stmt_why(&why, e, i);
	add_text(o, "why", &why);
	cJSON_AddItemToObject(o, "masks", json_masks(e, st));
	cJSON_AddBoolToObject(o, "whole_rows", st->flags & (SQL_F_STAR | SQL_F_WHOLE_ROW));
	return o;
}

static char *json_explain(struct explain *e)
{
	cJSON *o = cJSON_CreateObject(), *list;
	char *line;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "identity", e->id->name);
	add_strings(o, "roles", (const char *const *)e->id->roles.v, e->id->roles.n);
	cJSON_AddStringToObject(o, "target", e->target->name);
	add_rule(o, "session_rule", e->session_rule);
	if (e->classify_err) {
		cJSON_AddStringToObject(o, "error", e->v.error);
		cJSON_AddNumberToObject(o, "error_position", e->v.error_pos);
	}
	list = cJSON_AddArrayToObject(o, "statements");
	for (size_t i = 0; list && i < e->v.n; i++)
		cJSON_AddItemToArray(list, json_stmt(e, i));
	cJSON_AddStringToObject(o, "decision", sql_decision_name(e->decision));
	if (e->v.n && !e->classify_err && e->session_rule >= 0) {
		cJSON_AddNumberToObject(o, "statement", (double)e->decider);
		add_rule(o, "rule", e->judged[e->decider].j.rule);
		cJSON_AddStringToObject(o, "word", e->judged[e->decider].j.word);
	}
	add_text(o, "why", &e->why);
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return line;
}

/* ------------------------------------------------------------------ entry */

static const struct policy_identity *find_identity(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nidentities; i++)
		if (!strcmp(p->identities[i].name, name))
			return &p->identities[i];
	return NULL;
}

static const struct policy_target *find_target(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->ntargets; i++)
		if (!strcmp(p->targets[i].name, name))
			return &p->targets[i];
	return NULL;
}

/* Everything explained into e; an error said in err. */
static int explain_run(struct explain *e, const char *identity, const char *target, char *err,
		       size_t errlen)
{
	int rc;

	if (!(e->id = find_identity(e->p, identity))) {
		snprintf(err, errlen, "no identity named \"%s\" in the policy", identity);
		return -ENOENT;
	}
	if (!(e->target = find_target(e->p, target))) {
		snprintf(err, errlen, "no target named \"%s\" in the policy", target);
		return -ENOENT;
	}
	if (e->target->protocol != POLICY_PROTO_POSTGRES) {
		snprintf(err, errlen, "target \"%s\" is not a postgres target: only connect is "
			 "decided for it", target);
		return -EINVAL;
	}
	e->session_rule = policy_rule_for(e->p, e->target->name, &e->id->roles);
	rc = sql_classify(e->sql, &e->v);
	if (rc == -EINVAL || rc == -E2BIG) {
		e->classify_err = rc; /* a decision: the agent denies such a string */
		rc = 0;
	} else if (!rc) {
		rc = judge_all(e);
	}
	if (!rc)
		rc = masks_compile(e);
	if (rc) {
		snprintf(err, errlen, "%s", rc == -EINVAL ? "a column_regex of the policy does "
			 "not compile" : "out of memory");
		return rc;
	}
	decide(e);
	return 0;
}

int ctl_explain(const struct policy *p, const char *identity, const char *target,
		const char *sql, bool json, FILE *out, enum sql_decision *decision,
		char *err, size_t errlen)
{
	struct explain e = { .p = p, .sql = sql };
	struct text t = { 0 };
	char *line = NULL;
	int rc = explain_run(&e, identity, target, err, errlen);

	if (!rc && json) {
		if (!(line = json_explain(&e)))
			rc = -ENOMEM;
		else
			fprintf(out, "%s\n", line);
	} else if (!rc) {
		text_explain(&t, &e);
		if (t.failed || e.why.failed)
			rc = -ENOMEM;
		else
			fputs(t.s, out);
	}
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	*decision = e.decision;
	free(line);
	text_free(&t);
	text_free(&e.why);
	masks_free(&e);
	free(e.judged);
	sql_verdict_free(&e.v);
	return rc;
}
