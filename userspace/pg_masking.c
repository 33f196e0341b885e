// SPDX-License-Identifier: Apache-2.0
/* pg_masking: masking in one PostgreSQL session. See pg_masking.h. */
#include "pg_masking.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "pg_catalog.h"
#include "pg_mask.h"
#include "policy.h"
#include "proto.h"
#include "proxy.h"
#include "sql_classify.h"

#define MAX_SEEN 512        /* relation names a session keeps resolved */
#define MESSAGE_MAX 2048    /* an error the agent writes */

/* What a statement's tag says of it. */
#define TAG_SENSITIVE (1u << 0) /* its text alone makes it sensitive, beyond
				   the masked columns it names */
#define TAG_COPY_OUT  (1u << 1) /* COPY ... TO STDOUT */
#define TAG_DDL       (1u << 2) /* changes the catalog: flush it when answered */
#define TAG_COPY_TABLE (1u << 3) /* COPY of a table: its every column may go out */

struct masking_tag {
	uint32_t flags;
	enum pg_mask_method refs; /* the strongest mask of a column it names */
	struct pg_catalog *cat;   /* to flush (TAG_DDL) */
	size_t ntables, nfunctions;
	char *names[];            /* tables, then functions; the strings follow */
};

struct seen {
	char *name;
	uint32_t oid;             /* 0: no such relation (or not answered yet) */
	bool answered;            /* the catalog said */
	bool lost;                /* the request ended without saying (it failed) */
};

struct pg_masking {
	struct session *s;
	struct pg_masks *masks;
	struct pg_catalog *cat;
	enum pg_mask_method strongest;
	uint64_t generation;      /* of cat, when seen was filled */
	struct seen seen[MAX_SEEN];
	size_t nseen;
	uint64_t functions_asked; /* generation + 1 when the function list was asked */
	uint64_t requests;        /* made so far: each request has a name of its own
				     (sluice_catalog_SESSION_N),
				     so one whose Close was skipped after an error
				     cannot make the next one fail */
	/* The result now arriving. */
	bool plan_valid;
	bool copy_refused;        /* a COPY's output is being dropped */
	struct pg_mask_plan *plan;
	uint16_t plan_cap;
	uint8_t *out;             /* a rewritten message */
	size_t out_cap;
};

/* ------------------------------------------------------------- lifecycle */

struct pg_masking *pg_masking_new(const struct pg_mask_rules *rules, struct pg_catalog *cat,
				  struct session *s, int *err)
{
	const struct policy_strv *roles = s->identity ? &s->identity->roles : NULL;
	struct pg_masks *masks = pg_masks_new(rules, s->target->name, roles, err);
	struct pg_masking *mk;

	if (!masks)
		return NULL;
	mk = calloc(1, sizeof(*mk));
	if (!mk || !(mk->cat = cat)) {
		free(mk);
		pg_masks_free(masks);
		*err = -ENOMEM;
		return NULL;
	}
	mk->s = s;
	mk->masks = masks;
	mk->generation = pg_catalog_generation(mk->cat);
	mk->strongest = pg_masks_strongest(masks);
	return mk;
}

static void seen_clear(struct pg_masking *mk)
{
	for (size_t i = 0; i < mk->nseen; i++)
		free(mk->seen[i].name);
	mk->nseen = 0;
}

void pg_masking_free(struct pg_masking *mk)
{
	if (!mk)
		return;
	seen_clear(mk);
	pg_masks_free(mk->masks);
	free(mk->plan);
	free(mk->out);
	free(mk);
}

void pg_masking_tag_free(void *tag)
{
	struct masking_tag *t = tag;

	if (t && (t->flags & TAG_DDL))
		pg_catalog_flush(t->cat); /* what it changed is committed or gone */
	free(t);
}

/* -------------------------------------------------- what the catalog says */

static struct seen *seen_find(struct pg_masking *mk, const char *name)
{
	for (size_t i = 0; i < mk->nseen; i++)
		if (!strcmp(mk->seen[i].name, name))
			return &mk->seen[i];
	return NULL;
}

static bool reads_masked(const struct pg_masking *mk, const struct pg_rel *rel)
{
	for (size_t i = 0; i < rel->nreads; i++) {
		const char *relname = rel->reads[i], *col = relname + strlen(relname) + 1;

		if (*col ? pg_masks_column(mk->masks, relname, col) != PG_MASK_NONE
			 : pg_masks_table(mk->masks, relname))
			return true;
	}
	return false;
}

static bool rel_has_masked(const struct pg_masking *mk, const struct pg_rel *rel)
{
	if (!rel)
		return true;
	for (uint16_t i = 0; i < rel->ncolumns; i++)
		if (rel->columns[i] &&
		    pg_masks_column(mk->masks, rel->name, rel->columns[i]) != PG_MASK_NONE)
			return true;
	return reads_masked(mk, rel);
}

/* A relation a statement named, as resolved for this session; NULL if it
 * did not resolve or is not cached. */
static const struct pg_rel *named_rel(struct pg_masking *mk, const char *name)
{
	struct seen *e = seen_find(mk, name);

	return e && e->oid ? pg_catalog_rel(mk->cat, e->oid) : NULL;
}

/* ------------------------------------------------------ before it runs */

static void on_resolved(void *ctx, const char *name, uint32_t oid)
{
	struct seen *e = seen_find(ctx, name);

	if (e) {
		e->oid = oid;
		e->answered = true;
		e->lost = false;
	}
}

/* The statement's text alone: what it references. */
static uint32_t text_flags(const struct pg_masking *mk, const struct sql_stmt *st,
			   enum pg_mask_method *refs)
{
	const uint32_t risky = SQL_F_STAR | SQL_F_WHOLE_ROW | SQL_F_REFS_TRUNCATED |
			       SQL_F_TABLES_TRUNCATED | SQL_F_NEEDS_PREPARED;
	uint32_t flags = 0;

	if ((st->classes & ((1u << SQL_CLASS_PROCEDURAL) | (1u << SQL_CLASS_ADMIN))) ||
	    (st->flags & risky) || (st->kinds & ((1ull << SQL_KIND_FETCH) | (1ull << SQL_KIND_MOVE))))
		flags |= TAG_SENSITIVE;
	for (size_t i = 0; i < st->ncolumns; i++) {
		enum pg_mask_method m = pg_masks_column(mk->masks, NULL, st->columns[i]);

		if (m > *refs)
			*refs = m;
	}
	if (st->classes & (1u << SQL_CLASS_COPY_OUT))
		flags |= TAG_COPY_OUT;
	if (st->flags & SQL_F_COPY_RELATION)
		flags |= TAG_COPY_TABLE;
	if (st->classes & ((1u << SQL_CLASS_DDL) | (1u << SQL_CLASS_DCL)))
		flags |= TAG_DDL;
	return flags;
}

static struct masking_tag *make_tag(struct pg_masking *mk, const struct sql_verdict *v)
{
	enum pg_mask_method refs = PG_MASK_NONE;
	size_t nnames = 0, bytes = 0;
	struct masking_tag *tag;
	uint32_t flags = 0;
	char *p;

	for (size_t i = 0; i < v->n; i++) {
		const struct sql_stmt *st = &v->stmts[i];

		flags |= text_flags(mk, st, &refs);
		nnames += st->ntables + st->nfunctions;
		for (size_t k = 0; k < st->ntables; k++)
			bytes += strlen(st->tables[k]) + 1;
		for (size_t k = 0; k < st->nfunctions; k++)
			bytes += strlen(st->functions[k]) + 1;
	}
	tag = malloc(sizeof(*tag) + nnames * sizeof(char *) + bytes);
	if (!tag)
		return NULL;
	*tag = (struct masking_tag){ .flags = flags, .refs = refs, .cat = mk->cat };
	p = (char *)&tag->names[nnames];
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < v->n; i++) {
			const struct sql_stmt *st = &v->stmts[i];
			char *const *list = pass ? st->functions : st->tables;
			size_t n = pass ? st->nfunctions : st->ntables;

			for (size_t k = 0; k < n; k++) {
				size_t len = strlen(list[k]) + 1;

				memcpy(p, list[k], len);
				tag->names[tag->ntables + tag->nfunctions] = p;
				*(pass ? &tag->nfunctions : &tag->ntables) += 1;
				p += len;
			}
		}
	return tag;
}

/* Ask the catalog about the relations this session has not resolved
 * since the cache last changed, and for the user functions if unknown. */
static int ask_catalog(struct pg_masking *mk, struct pg_track *t, const struct sql_verdict *v,
		       bool sync)
{
	const char *ask[MAX_SEEN];
	size_t nask = 0, bytes = 0, len, fresh = 0;
	bool functions = false;
	char name[64];
	uint8_t *buf;
	int err;

	if (pg_catalog_generation(mk->cat) != mk->generation) {
		seen_clear(mk);
		mk->generation = pg_catalog_generation(mk->cat);
	}
	/* Make room first: ask[] points at the names kept in seen. */
	for (size_t i = 0; i < v->n; i++)
		for (size_t k = 0; k < v->stmts[i].ntables; k++)
			fresh += !seen_find(mk, v->stmts[i].tables[k]);
	if (mk->nseen + fresh > MAX_SEEN)
		seen_clear(mk);
	for (size_t i = 0; i < v->n; i++) {
		const struct sql_stmt *st = &v->stmts[i];

		functions |= st->nfunctions > 0;
		for (size_t k = 0; k < st->ntables && nask < MAX_SEEN; k++) {
			const char *table = st->tables[k];
			struct seen *e = seen_find(mk, table);

			/* Asked before, but that answer is lost: ask again. */
			if (e && (e->answered || pg_track_agent_pending(t)))
				continue;
			if (!e) {
				if (mk->nseen == MAX_SEEN)
					break; /* more than fit: those stay unknown */
				e = &mk->seen[mk->nseen];
				if (!(e->name = strdup(table)))
					return -ENOMEM;
				mk->nseen++;
			}
			e->oid = 0;
			e->answered = e->lost = false;
			ask[nask++] = e->name;
			bytes += 2 * strlen(table) + 3;
		}
	}
	functions &= !pg_catalog_functions_loaded(mk->cat) &&
		     mk->functions_asked != mk->generation + 1;
	if (!nask && !functions)
		return 0;
	if (functions)
		mk->functions_asked = mk->generation + 1;
	len = bytes + 4096;
	if (!(buf = malloc(len)))
		return -ENOMEM;
	snprintf(name, sizeof(name), "sluice_catalog_%s_%llu", mk->s->id,
		 (unsigned long long)++mk->requests);
	len = pg_catalog_request(buf, len, name, ask, nask, functions, sync);
	err = len ? proxy_inject(mk->s, SIDE_UPSTREAM, buf, len) : -ENOBUFS;
	free(buf);
	return err ? err : pg_track_agent_query(t, sync);
}

static int ask_description(struct pg_masking *mk, struct pg_track *t, const char *portal)
{
	uint8_t buf[256];
	struct pg_builder b = pg_builder_on(buf, sizeof(buf));
	int err;

	pg_begin(&b, 'D');
	pg_put_u8(&b, 'P');
	pg_put_str(&b, portal);
	pg_end(&b);
	if (b.bad)
		return -ENOBUFS;
	err = proxy_inject(mk->s, SIDE_UPSTREAM, buf, b.len);
	return err ? err : pg_track_agent_describe(t, portal);
}

/* The relation part of a name as the classifier writes it ("s.t" -> "t");
 * a quoted name is kept whole, which no "table.column" mask matches. */
static const char *relation_part(const char *name)
{
	const char *dot = strrchr(name, '.');

	return strchr(name, '"') || !dot ? name : dot + 1;
}

/* Would st store values of a masked column where they are not masked as
 * strongly? Then why says which, for the job. */
static bool copies_masked(const struct pg_masking *mk, const struct sql_stmt *st, char *why,
			  size_t whylen)
{
	enum pg_mask_method from = PG_MASK_NONE;
	const char *col = NULL;
	bool one_target = st->target[0] && !(st->flags & SQL_F_MANY_TARGETS);

	if (!(st->nsources || st->npairs ||
	      (st->flags & (SQL_F_VALUE_STAR | SQL_F_VALUE_WHOLE_ROW))))
		return false;
	for (size_t i = 0; i < st->nsources; i++) {
		enum pg_mask_method m = pg_masks_column(mk->masks, NULL, st->sources[i]);

		if (m > from)
			from = m, col = st->sources[i];
	}
	if (st->flags & (SQL_F_VALUE_STAR | SQL_F_VALUE_WHOLE_ROW | SQL_F_REFS_TRUNCATED))
		for (size_t i = 0; i < st->ntables; i++)
			if (pg_masks_table(mk->masks, relation_part(st->tables[i])) &&
			    mk->strongest > from)
				from = mk->strongest, col = "*";
	/* Into named columns of one table, each masked at least as strongly:
	 * the values stay masked. */
	if (from != PG_MASK_NONE && one_target && st->ntargets) {
		bool kept = true;

		for (size_t i = 0; i < st->ntargets && kept; i++)
			kept = pg_masks_column(mk->masks, st->target, st->targets[i]) >= from;
		if (kept)
			from = PG_MASK_NONE;
	}
	/* SET column = value: each value where it goes (SET ssn = EXCLUDED.ssn
	 * stays masked, SET note = ssn does not). */
	for (size_t i = 0; i < st->npairs && from == PG_MASK_NONE; i++) {
		const char *into = st->pairs[i], *source = into + strcspn(into, "\x1f") + 1;
		enum pg_mask_method m = pg_masks_column(mk->masks, NULL, source);
		char column[SQL_NAME_MAX];

		snprintf(column, sizeof(column), "%.*s", (int)strcspn(into, "\x1f"), into);
		if (m != PG_MASK_NONE &&
		    (!one_target || pg_masks_column(mk->masks, st->target, column) < m))
			from = m, col = source;
	}
	if (from == PG_MASK_NONE)
		return false;
	snprintf(why, whylen, "sluice: %s would store values of masked column \"%s\" where "
		 "they are not masked; refused", sql_kind_name(st->kind), col);
	return true;
}

static bool stores_values(const struct sql_stmt *st)
{
	return st->nsources || st->npairs ||
	       (st->flags & (SQL_F_VALUE_STAR | SQL_F_VALUE_WHOLE_ROW));
}

static int ask_catalog(struct pg_masking *mk, struct pg_track *t, const struct sql_verdict *v,
		       bool sync);

/* A statement that stores values and reads a view that reads masked
 * columns copies them. Which relations are views the catalog says: until
 * it has answered for all of them, the statement waits. */
static int copies_through_views(struct pg_masking *mk, struct pg_track *t,
				const struct pg_statement *st, const struct sql_verdict *v,
				char *why, size_t whylen)
{
	bool known = pg_catalog_generation(mk->cat) == mk->generation, changes = false;
	size_t names = 0;
	int err;

	for (size_t i = 0; i < v->n; i++) {
		const struct sql_stmt *s = &v->stmts[i];

		if (!stores_values(s)) {
			/* A SET (search_path) or DDL (a view made) before it in
			 * the string changes what its names will be. */
			changes |= s->kind == SQL_KIND_SET || s->kind == SQL_KIND_RESET ||
				   s->kind == SQL_KIND_DISCARD ||
				   (s->classes & ((1u << SQL_CLASS_DDL) | (1u << SQL_CLASS_DCL)));
			continue;
		}
		if (changes || (s->flags & SQL_F_TABLES_TRUNCATED) ||
		    (names += s->ntables) > MAX_SEEN / 2) {
			snprintf(why, whylen, "sluice: %s stores values read from relations sluice "
				 "cannot look up before it runs (too many, or changed by the same "
				 "string); send it on its own; refused", sql_kind_name(s->kind));
			return PG_MASKING_REFUSE;
		}
		for (size_t k = 0; k < s->ntables && known; k++) {
			const struct seen *e = seen_find(mk, s->tables[k]);

			known = e && (e->answered || e->lost);
		}
	}
	if (!names)
		return 0;
	if (!known) {
		err = ask_catalog(mk, t, v, st->path != PG_PATH_EXTENDED);
		return err ? err : PG_MASKING_WAIT;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct sql_stmt *s = &v->stmts[i];

		if (!stores_values(s))
			continue;
		for (size_t k = 0; k < s->ntables; k++) {
			const struct seen *e = seen_find(mk, s->tables[k]);
			const struct pg_rel *rel = named_rel(mk, s->tables[k]);

			/* A name that did not resolve (three parts, not there,
			 * the answer lost) could be anything. */
			if (!rel && e && e->oid == 0) {
				snprintf(why, whylen, "sluice: %s stores values read from \"%s\", which "
					 "sluice could not look up; refused", sql_kind_name(s->kind),
					 s->tables[k]);
				return PG_MASKING_REFUSE;
			}
			if (rel && (rel->kind == 'v' || rel->kind == 'm') && reads_masked(mk, rel)) {
				snprintf(why, whylen, "sluice: %s would store values of view \"%s\", "
					 "which reads masked columns, where they are not masked; "
					 "refused", sql_kind_name(s->kind), rel->name);
				return PG_MASKING_REFUSE;
			}
		}
	}
	return 0;
}

int pg_masking_statement(struct pg_masking *mk, struct pg_track *t,
			 const struct pg_statement *st, const struct sql_verdict *v, void **tag,
			 char *why, size_t whylen)
{
	char portal[256];
	int err;

	*tag = NULL;
	pg_catalog_expire(mk->cat, ev_now_ms());
	if (!v)
		return 0; /* a fast-path call: no tag, so its answer counts as sensitive */
	/* The server will skip it (an error earlier in the batch): asking
	 * would get no answer, and there will be no rows. */
	if (pg_track_skipping(t))
		return 0;
	for (size_t i = 0; i < v->n; i++)
		if (copies_masked(mk, &v->stmts[i], why, whylen))
			return PG_MASKING_REFUSE;
	err = copies_through_views(mk, t, st, v, why, whylen);
	if (err)
		return err;
	/* st points into the buffer the requests below are inserted into. */
	if (st->portal)
		snprintf(portal, sizeof(portal), "%s", st->portal);
	*tag = make_tag(mk, v);
	if (!*tag)
		return -ENOMEM;
	if (((struct masking_tag *)*tag)->flags & TAG_DDL)
		pg_catalog_flush(mk->cat);
	if ((err = ask_catalog(mk, t, v, st->path != PG_PATH_EXTENDED)))
		return err;
	if (st->path == PG_PATH_EXTENDED && !pg_track_described(t, portal))
		return ask_description(mk, t, portal);
	return 0;
}

/* --------------------------------------------------------- its answer */

/* Does the statement reference masked data, all things known now? The
 * method for its columns of unknown origin: that of the masked columns it
 * names, or the strongest when it may reach others (PG_MASK_NONE: no). */
static enum pg_mask_method sensitive(struct pg_masking *mk, const struct masking_tag *tag)
{
	if (!tag || (tag->flags & TAG_SENSITIVE))
		return mk->strongest;
	for (size_t i = 0; i < tag->ntables; i++) {
		const struct pg_rel *rel = named_rel(mk, tag->names[i]);

		if (!rel || reads_masked(mk, rel))
			return mk->strongest;
	}
	for (size_t i = 0; i < tag->nfunctions; i++)
		if (pg_catalog_user_function(mk->cat, tag->names[tag->ntables + i]))
			return mk->strongest;
	return tag->refs;
}
/* Does the statement read or write a table with a masked column? An error
 * may then quote a row of it ("Failing row contains (...)"). */
static bool touches_masked_table(struct pg_masking *mk, const struct masking_tag *tag)
{
	for (size_t i = 0; tag && i < tag->ntables; i++)
		if (rel_has_masked(mk, named_rel(mk, tag->names[i])))
			return true;
	return false;
}

static bool copy_carries_masked(struct pg_masking *mk, const struct masking_tag *tag)
{
	return sensitive(mk, tag) != PG_MASK_NONE ||
	       ((tag->flags & TAG_COPY_TABLE) && touches_masked_table(mk, tag));
}

static enum pg_mask_method column_method(struct pg_masking *mk, const struct pg_column *c,
					 enum pg_mask_method unsure)
{
	const struct pg_rel *rel = c->table_oid ? pg_catalog_rel(mk->cat, c->table_oid) : NULL;
	const char *name;
	enum pg_mask_method m;

	if (!rel)
		return unsure;
	name = c->attnum > 0 && c->attnum <= rel->ncolumns ? rel->columns[c->attnum - 1] : NULL;
	if (!name)
		return unsure;
	m = pg_masks_column(mk->masks, rel->name, name);
	if ((rel->kind == 'v' || rel->kind == 'm') && reads_masked(mk, rel))
		m = mk->strongest;
	return m;
}

/* The plan for the rows now arriving; ncols: the count in the first row,
 * for rows whose columns were never described (all masked). */
static int make_plan(struct pg_masking *mk, const struct pg_track *t, uint16_t ncols)
{
	struct pg_track_result res;
	enum pg_mask_method unsure;
	uint16_t n;

	pg_track_result(t, &res);
	n = res.cols ? res.n : ncols;
	if (n > mk->plan_cap || !mk->plan) {
		struct pg_mask_plan *p = realloc(mk->plan, sizeof(*p) + n * sizeof(p->col[0]));

		if (!p)
			return -ENOMEM;
		mk->plan = p;
		mk->plan_cap = n;
	}
	unsure = sensitive(mk, res.tag);
	mk->plan->n = n;
	mk->plan->any = false;
	for (uint16_t i = 0; i < n; i++) {
		struct pg_mask_col *c = &mk->plan->col[i];

		if (res.cols) {
			c->method = (uint8_t)column_method(mk, &res.cols[i], unsure);
			c->binary = res.cols[i].format == 1;
			c->type = res.cols[i].type_oid;
		} else {
			*c = (struct pg_mask_col){ .method = (uint8_t)mk->strongest };
		}
		mk->plan->any |= c->method != PG_MASK_NONE;
	}
	mk->plan_valid = true;
	return 0;
}

bool pg_masking_frames(struct pg_masking *mk, const struct pg_track *t, uint8_t type)
{
	struct pg_track_result res;

	if (type == 'd')
		return mk->copy_refused;
	if (type != 'D')
		return false;
	/* Mid-result (the common case, once per row): the plan says. Agent
	 * rows never come with a plan in force: every result ends it. */
	if (mk->plan_valid)
		return mk->plan->any;
	pg_track_result(t, &res);
	if (res.agent)
		return true;
	/* Unknown columns: the plan needs the row's column count. */
	if (!mk->plan_valid && (res.cols || res.n) && make_plan(mk, t, 0))
		return true;
	return !mk->plan_valid || mk->plan->any;
}

static int reserve_out(struct pg_masking *mk, size_t need)
{
	uint8_t *p;

	if (need <= mk->out_cap)
		return 0;
	if (!(p = realloc(mk->out, need)))
		return -ENOMEM;
	mk->out = p;
	mk->out_cap = need;
	return 0;
}

static int write_error(struct pg_masking *mk, uint8_t type, const char *severity,
		       const char *sqlstate, const char *message, int position, size_t *outlen)
{
	struct pg_builder b;
	int err = reserve_out(mk, MESSAGE_MAX);

	if (err)
		return err;
	b = pg_builder_on(mk->out, mk->out_cap);
	pg_put_error(&b, type, severity, sqlstate, message, position);
	*outlen = b.len;
	return b.bad ? -ENOBUFS : PG_MASKING_REPLACE;
}

/* An error or notice answering a sensitive statement: its texts may quote
 * a masked value; the SQLSTATE and position say what the job may know. */
static int scrub(struct pg_masking *mk, const struct pg_msg *m, size_t *outlen)
{
	const char *sev = pg_error_field(m, 'V'), *code = pg_error_field(m, 'C');
	const char *pos = pg_error_field(m, 'P');
	char msg[200];

	snprintf(msg, sizeof(msg), "sluice: the server's message is withheld because the "
		 "statement touches masked columns (SQLSTATE %s)", code ? code : "?");
	return write_error(mk, m->type, sev ? sev : "ERROR", code ? code : "XX000", msg,
			   pos ? atoi(pos) : 0, outlen);
}

/* A setting a sensitive statement changed (set_config('application_name',
 * ssn, false) reports the value): free-text ones lose their value. Those
 * a driver needs to read what follows stay: their values are checked by
 * the server and cannot carry a column's value. */
static int scrub_parameter(struct pg_masking *mk, const struct pg_msg *m, size_t *outlen)
{
	static const char *const kept[] = {
		"client_encoding", "standard_conforming_strings", "DateStyle", "IntervalStyle",
		"TimeZone", "integer_datetimes", "server_version", "server_encoding",
		"is_superuser", "session_authorization", "in_hot_standby",
		"default_transaction_read_only", NULL,
	};
	struct pg_reader r = pg_reader_of(m);
	const char *name = pg_get_str(&r);
	struct pg_builder b;
	int err;

	if (r.bad)
		return PG_MASKING_PASS;
	for (size_t i = 0; kept[i]; i++)
		if (!strcmp(name, kept[i]))
			return PG_MASKING_PASS;
	if ((err = reserve_out(mk, m->body_len + 16)))
		return err;
	b = pg_builder_on(mk->out, mk->out_cap);
	pg_begin(&b, 'S');
	pg_put_str(&b, name);
	pg_put_str(&b, "***");
	pg_end(&b);
	*outlen = b.len;
	return b.bad ? -ENOBUFS : PG_MASKING_REPLACE;
}

static int write_null_result(struct pg_masking *mk, size_t *outlen)
{
	static const uint8_t null_result[] = { 'V', 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff };
	int err = reserve_out(mk, sizeof(null_result));

	if (err)
		return err;
	memcpy(mk->out, null_result, sizeof(null_result));
	*outlen = sizeof(null_result);
	return PG_MASKING_REPLACE;
}

static int rewrite_row(struct pg_masking *mk, const struct pg_track *t, const struct pg_msg *m,
		       size_t *outlen)
{
	int err;

	if (!mk->plan_valid) {
		uint16_t ncols = m->body_len >= 2 ? (uint16_t)(m->body[0] << 8 | m->body[1]) : 0;

		if ((err = make_plan(mk, t, ncols)))
			return err;
	}
	if (!mk->plan->any)
		return PG_MASKING_PASS;
	if ((err = reserve_out(mk, pg_mask_row_max(mk->plan, m->body_len))))
		return err;
	err = pg_mask_row(mk->plan, m->body, m->body_len, mk->out, mk->out_cap, outlen);
	return err ? err : PG_MASKING_REPLACE;
}

int pg_masking_backend(struct pg_masking *mk, const struct pg_track *t, const struct pg_msg *m,
		       const uint8_t **out, size_t *outlen)
{
	struct pg_track_result res;
	int r = PG_MASKING_PASS;

	*out = NULL;
	pg_track_result(t, &res);
	if (res.agent)
		return PG_MASKING_PASS; /* pg_track sorts these out */
	switch (m->type) {
	case 'D':
		r = rewrite_row(mk, t, m, outlen);
		break;
	case 'H': /* CopyOutResponse */
		mk->copy_refused = res.tag && (((struct masking_tag *)res.tag)->flags & TAG_COPY_OUT) &&
				   copy_carries_masked(mk, res.tag);
		r = mk->copy_refused ? PG_MASKING_DROP : PG_MASKING_PASS;
		break;
	case 'd':
	case 'c':
		r = mk->copy_refused ? PG_MASKING_DROP : PG_MASKING_PASS;
		break;
	case 'C':
		if (mk->copy_refused) {
			mk->copy_refused = false;
			r = write_error(mk, 'E', "ERROR", "42501", "sluice: COPY TO STDOUT of masked "
					"columns is refused: sluice cannot mask COPY output; use "
					"SELECT", 0, outlen);
		}
		mk->plan_valid = false;
		break;
	case 'E':
	case 'N':
		if (m->type == 'E')
			mk->copy_refused = mk->plan_valid = false;
		/* Bind plans the statement, which may evaluate a function over
		 * masked data: its errors are not shown either. */
		if (res.binding || (res.running && (sensitive(mk, res.tag) != PG_MASK_NONE ||
						    touches_masked_table(mk, res.tag))))
			r = scrub(mk, m, outlen);
		break;
	case 'S':
		if (res.running && sensitive(mk, res.tag) != PG_MASK_NONE)
			r = scrub_parameter(mk, m, outlen);
		break;
	case 'V': /* a fast-path call's result: nothing says what it holds */
		r = write_null_result(mk, outlen);
		break;
	case 'T':
	case 'I':
	case 's':
	case 'Z':
	case 'G':
	case 'W':
		mk->plan_valid = false;
		break;
	default:
		break;
	}
	if (r == PG_MASKING_REPLACE)
		*out = mk->out;
	return r;
}

void pg_masking_catalog_done(struct pg_masking *mk)
{
	for (size_t i = 0; mk && i < mk->nseen; i++)
		mk->seen[i].lost = !mk->seen[i].answered;
}

int pg_masking_catalog_row(struct pg_masking *mk, const struct pg_msg *m)
{
	return pg_catalog_take_row(mk->cat, m, on_resolved, mk);
}
