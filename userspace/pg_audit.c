// SPDX-License-Identifier: Apache-2.0
/* pg_audit: PostgreSQL events for journald and the recording. See pg_audit.h. */
#include "pg_audit.h"

#include <inttypes.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "hash.h"
#include "json_out.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"
#include "sql_classify.h"
#include "sql_normalize.h"

#define TEXT_MAX  (64u << 10) /* bytes of a statement's text recorded */
#define VALUE_MAX 1024        /* bytes of one parameter or row value */

#define NORM_SLOTS    1024      /* normalized texts kept, direct-mapped by hash */
#define NORM_TEXT_MAX (4u << 10) /* longer texts are normalized every time */

static const char *const path_names[] = { "query", "extended", "function" };

/* The statement texts of a busy agent repeat (prepared statements, an
 * application's few queries): their normalized forms are kept, so the
 * lexer runs once per text rather than once per statement. */
static struct {
	uint64_t hash;
	char *text;
	char *normalized;
} norm_cache[NORM_SLOTS];

/* text normalized, or NULL when the lexer rejects it; valid until the
 * next call. */
static const char *normalize(const char *text)
{
	static char out[TEXT_MAX];
	size_t len = strlen(text);
	uint64_t h;
	char *t, *n;
	unsigned slot;

	if (len > NORM_TEXT_MAX)
		return sql_normalize(text, out, sizeof(out)) ? NULL : out;
	h = hash_bytes(text, len);
	slot = (unsigned)(h & (NORM_SLOTS - 1));
	if (norm_cache[slot].text && norm_cache[slot].hash == h && !strcmp(norm_cache[slot].text, text))
		return norm_cache[slot].normalized;
	if (sql_normalize(text, out, sizeof(out)))
		return NULL;
	if ((t = strdup(text)) && (n = strdup(out))) {
		free(norm_cache[slot].text);
		free(norm_cache[slot].normalized);
		norm_cache[slot].hash = h;
		norm_cache[slot].text = t;
		norm_cache[slot].normalized = n;
		return n;
	}
	free(t);
	return out;
}

void pg_audit_fini(void)
{
	for (unsigned i = 0; i < NORM_SLOTS; i++) {
		free(norm_cache[i].text);
		free(norm_cache[i].normalized);
	}
	memset(norm_cache, 0, sizeof(norm_cache));
}

void pg_audit_init(struct pg_audit *a, const struct session *s)
{
	*a = (struct pg_audit){ .bound = session_policy(s)->agent.record_rows };
}

void pg_audit_login(struct session *s, const char *user, const char *database,
		    const char *auth)
{
	struct json_out *j = audit_begin(s, "login");

	if (!j)
		return;
	json_out_str(j, "user", user);
	json_out_str(j, "database", database);
	json_out_str(j, "upstream_user", s->target->cred_user ? s->target->cred_user : "");
	json_out_str(j, "auth", auth);
	json_out_str(j, "client_tls", s->io[SIDE_CLIENT].ssl ? SSL_get_version(s->io[SIDE_CLIENT].ssl)
							    : "none");
	json_out_str(j, "upstream_tls", s->io[SIDE_UPSTREAM].ssl
						? SSL_get_version(s->io[SIDE_UPSTREAM].ssl) : "none");
	audit_commit(s);
}

const char *pg_audit_normalized(const struct pg_statement *st, char *buf, size_t size)
{
	const char *text;

	if (st->path == PG_PATH_FUNCTION)
		snprintf(buf, size, "(function call, oid %u)", st->function_oid);
	else if (!st->text || !(text = normalize(st->text)))
		return NULL;
	else
		snprintf(buf, size, "%s", text);
	return buf;
}

/* A syntax error quotes the text where the parser stopped, which may be a
 * literal (a password written without quotes): the log and recording say
 * only where. */
static const char *syntax_error(const char *sqlstate, int position, char *buf, size_t size)
{
	if (!sqlstate || strcmp(sqlstate, "42601"))
		return NULL;
	snprintf(buf, size, "syntax error at character %d", position);
	return buf;
}

/* What a refusal says, fit for the log and the recording. */
static const char *refusal_reason(const struct pg_ruling *r, char *buf, size_t size)
{
	return syntax_error(r->sqlstate, r->position, buf, size) ?: r->message;
}

/* allow, deny, approve; would_deny and would_approve when observed. */
static const char *decision_name(const struct pg_ruling *r)
{
	if (r->observed && r->decision == SQL_DENY)
		return "would_deny";
	if (r->observed && r->decision == SQL_APPROVE)
		return "would_approve";
	return sql_decision_name(r->decision);
}

/* journald: one entry per decision. Refusals are warnings and name the
 * statement normalized; an allowed one says what it does, not its text. */
static void journal_statement(struct session *s, const struct pg_statement *st,
			      const struct pg_ruling *r)
{
	const struct sql_verdict *v = r->verdict;
	struct audit_fields f;
	char text[512], msg[700];
	bool allowed = r->decision == SQL_ALLOW;

	audit_count(decision_name(r));
	audit_fields_of(s, "statement", &f);
	audit_field(&f, "SLUICE_DECISION=%s", decision_name(r));
	if (r->rule >= 0)
		audit_field(&f, "SLUICE_RULE=%d", r->rule);
	audit_field(&f, "SLUICE_SEQ=%" PRIu32, st->seq);
	audit_field(&f, "SLUICE_CLASS=%s", r->cls);
	audit_field(&f, "SLUICE_KIND=%s", r->kind);
	if (v && v->n && v->stmts[0].ntables) {
		char *p = f.buf[AUDIT_FIELDS_MAX - 1];
		size_t room = sizeof(f.buf[0]), len = 0;

		len += (size_t)snprintf(p, room, "SLUICE_TABLES=");
		for (size_t i = 0; i < v->n && len < room; i++)
			for (size_t k = 0; k < v->stmts[i].ntables && len < room; k++)
				len += (size_t)snprintf(p + len, room - len, "%s%s",
							len > 14 ? "," : "", v->stmts[i].tables[k]);
		audit_field(&f, "%s", p);
	}
	if (allowed) {
		snprintf(msg, sizeof(msg), "session %s: %s allowed", s->id, r->kind);
		log_journal(LOG_INFO, msg, f.v, f.n);
		return;
	}
	audit_field(&f, "SLUICE_STATEMENT=%s",
		    pg_audit_normalized(st, text, sizeof(text)) ?: "(not shown: it does not parse)");
	snprintf(msg, sizeof(msg), "session %s: %s%s", s->id, r->observed ? "observe mode, let "
		 "through: " : "", refusal_reason(r, text, sizeof(text)));
	log_event(r->observed ? LOG_NOTICE : LOG_WARNING, msg, f.v, f.n);
}

static void record_tables(struct json_out *j, const struct sql_verdict *v)
{
	json_out_open(j, "tables", '[');
	for (size_t i = 0; v && i < v->n; i++)
		for (size_t k = 0; k < v->stmts[i].ntables; k++)
			json_out_str(j, NULL, v->stmts[i].tables[k]);
	json_out_close(j);
}

/* Could the bound parameters carry a secret the policy does not name: a
 * value for set_config() or a function, a password, code? Only plain reads
 * and writes without function calls are recorded with them. */
static bool params_risky(const struct sql_verdict *v)
{
	const uint32_t plain = (1u << SQL_CLASS_READ) | (1u << SQL_CLASS_WRITE);

	if (!v)
		return true;
	for (size_t i = 0; i < v->n; i++)
		if ((v->stmts[i].classes & ~plain) || v->stmts[i].nfunctions)
			return true;
	return false;
}

/* The text with its constants replaced: literals may be secrets whatever
 * the policy masks (a password in CREATE ROLE, a token in set_config). */
static void record_text(struct json_out *j, const struct pg_statement *st,
			const struct sql_verdict *v, bool masking)
{
	const char *norm;

	if (st->path == PG_PATH_FUNCTION) {
		json_out_uint(j, "function_oid", st->function_oid);
		if (st->nparams)
			json_out_bool(j, "params_masked", true);
		return;
	}
	if (st->text && (norm = normalize(st->text)))
		json_out_str(j, "text", norm);
	else
		json_out_bool(j, "text_withheld", true);
	if (st->path != PG_PATH_EXTENDED)
		return;
	if (st->nparams && (masking || params_risky(v))) {
		json_out_bool(j, "params_masked", true);
		return;
	}
	json_out_open(j, "params", '[');
	for (uint16_t i = 0; i < st->nparams; i++) {
		const struct pg_param *p = &st->params[i];

		if (p->len < 0)
			json_out_null(j, NULL);
		else if (p->format == 1)
			json_out_hex(j, NULL, p->value, (size_t)p->len, VALUE_MAX);
		else
			json_out_bytes(j, NULL, p->value, (size_t)p->len, VALUE_MAX);
	}
	json_out_close(j);
}

void pg_audit_statement(struct session *s, const struct pg_statement *st,
			const struct pg_ruling *r, bool masking)
{
	struct json_out *j;
	char why[64];

	journal_statement(s, st, r);
	if (!(j = audit_begin(s, "statement")))
		return;
	/* What decides first: a huge text or parameter list is cut, not it. */
	json_out_uint(j, "seq", st->seq);
	json_out_str(j, "path", path_names[st->path]);
	json_out_str(j, "decision", decision_name(r));
	if (r->rule >= 0)
		json_out_int(j, "rule", r->rule);
	json_out_str(j, "class", r->cls);
	json_out_str(j, "kind", r->kind);
	if (r->decision != SQL_ALLOW)
		json_out_str(j, "reason", refusal_reason(r, why, sizeof(why)));
	if (st->path == PG_PATH_EXTENDED) {
		if (st->statement)
			json_out_str(j, "prepared", st->statement);
		json_out_str(j, "portal", st->portal);
	}
	record_text(j, st, r->verdict, masking);
	record_tables(j, r->verdict);
	audit_commit(s);
}

/* A new statement's answer starts: its own row budget. */
static void answering(struct pg_audit *a, uint32_t seq)
{
	if (seq == a->seq)
		return;
	a->seq = seq;
	a->rows = 0;
	a->result_rows = 0;
	a->skipped = false;
}

bool pg_audit_frames_row(struct pg_audit *a, const struct session *s, uint32_t seq,
			 size_t len)
{
	if (!s->rec || !seq)
		return false;
	answering(a, seq);
	if (a->rows >= a->bound)
		return false;
	/* A larger row streams by unread, counted as left out. */
	if (len > PG_AUDIT_ROW_MAX) {
		a->skipped = true;
		return false;
	}
	return true;
}

static void record_columns(struct session *s, const struct pg_track_result *res,
			   const struct pg_msg *m)
{
	struct pg_reader r = pg_reader_of(m);
	int16_t n = pg_get_i16(&r);
	struct json_out *j;

	if (r.bad || !(j = audit_begin(s, "columns")))
		return;
	if (res->seq && res->running)
		json_out_uint(j, "seq", res->seq);
	json_out_open(j, "names", '[');
	for (int16_t i = 0; i < n && !r.bad; i++) {
		const char *name = pg_get_str(&r);

		pg_get_bytes(&r, 18); /* table, attnum, type, size, modifier, format */
		if (!r.bad)
			json_out_str(j, NULL, name);
	}
	json_out_close(j);
	audit_commit(s);
}

static void record_row(struct session *s, struct pg_audit *a, const struct pg_track_result *res,
		       const struct pg_msg *m)
{
	struct pg_reader r = pg_reader_of(m);
	int16_t n = pg_get_i16(&r);
	struct json_out *j;

	if (a->rows >= a->bound || r.bad || !(j = audit_begin(s, "row")))
		return;
	a->rows++;
	a->result_rows++;
	json_out_uint(j, "seq", res->seq);
	json_out_open(j, "values", '[');
	for (int16_t i = 0; i < n && !r.bad; i++) {
		int32_t len = pg_get_i32(&r);
		const uint8_t *v = len > 0 ? pg_get_bytes(&r, (size_t)len) : NULL;
		bool binary = res->cols && i < res->n && res->cols[i].format == 1;

		if (len < 0)
			json_out_null(j, NULL);
		else if (r.bad)
			break;
		else if (binary)
			json_out_hex(j, NULL, v, (size_t)len, VALUE_MAX);
		else
			json_out_bytes(j, NULL, v ? (const char *)v : "", (size_t)len, VALUE_MAX);
	}
	json_out_close(j);
	audit_commit(s);
}

/* The count a command tag ends with ("SELECT 3", "INSERT 0 3"), or -1. */
static int64_t tag_rows(const char *tag)
{
	const char *sp = strrchr(tag, ' ');
	char *end;
	long long n;

	if (!sp || !sp[1])
		return -1;
	n = strtoll(sp + 1, &end, 10);
	return *end || n < 0 ? -1 : n;
}

static void record_result(struct session *s, struct pg_audit *a,
			  const struct pg_track_result *res, const struct pg_msg *m)
{
	struct json_out *j = audit_begin(s, "result");
	uint64_t now = audit_mono_us();

	if (!j)
		return;
	json_out_uint(j, "seq", res->seq);
	if (m->type == 'C') {
		struct pg_reader r = pg_reader_of(m);
		const char *tag = pg_get_str(&r);
		int64_t rows = r.bad ? -1 : tag_rows(tag);

		json_out_str(j, "tag", r.bad ? "" : tag);
		if (rows >= 0)
			json_out_int(j, "rows", rows);
		/* Past the bound, and rows too large, stream by unread: the
		 * tag counts them. */
		if (((a->bound && a->rows >= a->bound) || a->skipped) &&
		    rows > (int64_t)a->result_rows)
			json_out_int(j, "rows_left_out", rows - (int64_t)a->result_rows);
	} else if (m->type == 's') {
		json_out_bool(j, "suspended", true);
	} else if (m->type == 'I') {
		json_out_str(j, "tag", "");
	} else {
		const char *code = pg_error_field(m, 'C'), *text = pg_error_field(m, 'M');
		const char *at = pg_error_field(m, 'P');
		char where[64];

		text = syntax_error(code, at ? atoi(at) : 0, where, sizeof(where)) ?: text;
		json_out_open(j, "error", '{');
		json_out_str(j, "sqlstate", code ? code : "");
		json_out_str(j, "message", text ? text : "");
		json_out_close(j);
	}
	json_out_uint(j, "us", now > res->started_us ? now - res->started_us : 0);
	a->result_rows = 0;
	a->skipped = false;
	audit_commit(s);
}

void pg_audit_answer(struct session *s, struct pg_audit *a, const struct pg_track_result *res,
		     const struct pg_msg *m)
{
	if (!s->rec || res->agent)
		return;
	if (m->type == 'T') {
		record_columns(s, res, m);
		return;
	}
	if (!res->seq)
		return;
	answering(a, res->seq);
	if (m->type == 'D')
		record_row(s, a, res, m);
	else if (strchr("CsIE", m->type))
		record_result(s, a, res, m);
}
