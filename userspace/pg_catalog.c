// SPDX-License-Identifier: Apache-2.0
/* pg_catalog: the catalog facts masking needs. See pg_catalog.h. */
#include "pg_catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "hash.h"

#define BUCKETS 1024 /* relations; power of two */
#define FBUCKETS 4096 /* function names; power of two */

/* Rows: kind, oid, relkind, relation, attnum, column. Kinds: 'n' a name
 * asked for and its OID, 'r' a column of a relation, 'v' what a view
 * reads (through views of views), 'f' a user function ("" marks that the
 * function list was sent).
 * It runs with the job's search_path, which the job may have set so that
 * its own functions, operators or types come before pg_catalog's: every
 * one of those is written with its schema, or the job could feed the
 * cache (shared by all sessions of the target) whatever it likes. Only
 * the names asked for resolve through the search_path, as the job's
 * statement will. */
#define EQ " OPERATOR(pg_catalog.=) "
static const char catalog_sql[] =
	"WITH RECURSIVE names AS ("
	" SELECT n, CASE WHEN pg_catalog.array_length(pg_catalog.parse_ident(n), 1)"
	" OPERATOR(pg_catalog.<=) 2 THEN pg_catalog.to_regclass(n)::pg_catalog.oid END AS oid"
	" FROM pg_catalog.unnest($1::pg_catalog.text[]) AS n),"
	" deps(view, ref, sub) AS ("
	" SELECT r.ev_class, d.refobjid, d.refobjsubid FROM pg_catalog.pg_rewrite r"
	" JOIN pg_catalog.pg_depend d ON d.classid" EQ "'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	" AND d.objid" EQ "r.oid AND d.refclassid" EQ "'pg_catalog.pg_class'::pg_catalog.regclass"
	" AND d.refobjid OPERATOR(pg_catalog.<>) r.ev_class"
	" WHERE r.ev_class" EQ "ANY (ARRAY(SELECT oid FROM names))"
	" UNION SELECT deps.view, d.refobjid, d.refobjsubid FROM deps"
	" JOIN pg_catalog.pg_rewrite r ON r.ev_class" EQ "deps.ref"
	" JOIN pg_catalog.pg_depend d ON d.classid" EQ "'pg_catalog.pg_rewrite'::pg_catalog.regclass"
	" AND d.objid" EQ "r.oid AND d.refclassid" EQ "'pg_catalog.pg_class'::pg_catalog.regclass"
	" AND d.refobjid OPERATOR(pg_catalog.<>) r.ev_class)"
	" SELECT 'n', coalesce(oid, 0::pg_catalog.oid), '', n, 0, '' FROM names"
	" UNION ALL SELECT 'r', c.oid, c.relkind::pg_catalog.text, c.relname::pg_catalog.text,"
	" a.attnum, a.attname::pg_catalog.text"
	" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid" EQ "c.oid"
	" AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped"
	" WHERE c.oid" EQ "ANY (ARRAY(SELECT oid FROM names))"
	" UNION ALL SELECT 'v', deps.view, '', c.relname::pg_catalog.text, deps.sub,"
	" coalesce(a.attname::pg_catalog.text, '') FROM deps"
	" JOIN pg_catalog.pg_class c ON c.oid" EQ "deps.ref"
	" LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid" EQ "deps.ref"
	" AND a.attnum" EQ "deps.sub"
	" UNION ALL (SELECT DISTINCT 'f', 0::pg_catalog.oid, '', '', 0, p.proname::pg_catalog.text"
	" FROM pg_catalog.pg_proc p WHERE $2::pg_catalog.bool AND NOT p.pronamespace"
	" OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog'::pg_catalog.regnamespace,"
	" 'information_schema'::pg_catalog.regnamespace]))"
	" UNION ALL SELECT 'f', 0::pg_catalog.oid, '', '', 0, '' WHERE $2::pg_catalog.bool";
#undef EQ

struct fname {
	char *name;
	struct fname *next;
};

struct pg_catalog {
	struct pg_rel *rels[BUCKETS];
	size_t nrels;
	struct fname **functions; /* FBUCKETS chains, or NULL */
	size_t nfunctions;
	bool functions_loaded;
	uint64_t generation;
	uint64_t since_ms;         /* of the oldest entry */
};

static void rel_free(struct pg_rel *r)
{
	for (uint16_t i = 0; i < r->ncolumns; i++)
		free(r->columns[i]);
	for (size_t i = 0; i < r->nreads; i++)
		free(r->reads[i]);
	free(r->columns);
	free(r->reads);
	free(r->name);
	free(r);
}

void pg_catalog_flush(struct pg_catalog *c)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		while (c->rels[b]) {
			struct pg_rel *r = c->rels[b];

			c->rels[b] = r->next;
			rel_free(r);
		}
	}
	for (size_t b = 0; c->functions && b < FBUCKETS; b++) {
		while (c->functions[b]) {
			struct fname *f = c->functions[b];

			c->functions[b] = f->next;
			free(f->name);
			free(f);
		}
	}
	free(c->functions);
	c->functions = NULL;
	c->nrels = c->nfunctions = 0;
	c->functions_loaded = false;
	c->generation++;
	c->since_ms = 0;
}

struct pg_catalog *pg_catalog_new(void)
{
	return calloc(1, sizeof(struct pg_catalog));
}

void pg_catalog_free(struct pg_catalog *c)
{
	if (!c)
		return;
	pg_catalog_flush(c);
	free(c);
}

uint64_t pg_catalog_generation(const struct pg_catalog *c)
{
	return c->generation;
}

void pg_catalog_expire(struct pg_catalog *c, uint64_t now_ms)
{
	if (c->since_ms && now_ms - c->since_ms > PG_CATALOG_TTL_MS)
		pg_catalog_flush(c);
}

const struct pg_rel *pg_catalog_rel(const struct pg_catalog *c, uint32_t oid)
{
	for (const struct pg_rel *r = c->rels[oid & (BUCKETS - 1)]; r; r = r->next)
		if (r->oid == oid)
			return r;
	return NULL;
}

bool pg_catalog_functions_loaded(const struct pg_catalog *c)
{
	return c->functions_loaded;
}

bool pg_catalog_user_function(const struct pg_catalog *c, const char *name)
{
	if (!c->functions_loaded)
		return true;
	if (!c->functions)
		return false;
	for (const struct fname *f = c->functions[hash_str(name) & (FBUCKETS - 1)]; f; f = f->next)
		if (!strcmp(f->name, name))
			return true;
	return false;
}

size_t pg_catalog_request(uint8_t *buf, size_t cap, const char *stmt_name,
			  const char *const *names, size_t nnames, bool functions, bool sync)
{
	struct pg_builder b = pg_builder_on(buf, cap);
	size_t array_start;

	pg_begin(&b, 'P');
	pg_put_str(&b, stmt_name);
	pg_put_str(&b, catalog_sql);
	pg_put_i16(&b, 0);
	pg_end(&b);
	/* Bind: text parameters $1 (a text[] literal) and $2. */
	pg_begin(&b, 'B');
	pg_put_str(&b, stmt_name);
	pg_put_str(&b, stmt_name);
	pg_put_i16(&b, 0);
	pg_put_i16(&b, 2);
	array_start = b.len;
	pg_put_i32(&b, 0); /* length, set below */
	pg_put_u8(&b, '{');
	for (size_t i = 0; i < nnames; i++) {
		if (i)
			pg_put_u8(&b, ',');
		pg_put_u8(&b, '"');
		for (const char *p = names[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				pg_put_u8(&b, '\\');
			pg_put_u8(&b, (uint8_t)*p);
		}
		pg_put_u8(&b, '"');
	}
	pg_put_u8(&b, '}');
	if (!b.bad) {
		uint32_t n = (uint32_t)(b.len - array_start - 4);

		buf[array_start] = (uint8_t)(n >> 24);
		buf[array_start + 1] = (uint8_t)(n >> 16);
		buf[array_start + 2] = (uint8_t)(n >> 8);
		buf[array_start + 3] = (uint8_t)n;
	}
	pg_put_i32(&b, 1);
	pg_put_u8(&b, functions ? 't' : 'f');
	pg_put_i16(&b, 0);
	pg_end(&b);
	pg_begin(&b, 'E');
	pg_put_str(&b, stmt_name);
	pg_put_i32(&b, 0);
	pg_end(&b);
	pg_begin(&b, 'C');
	pg_put_u8(&b, 'S');
	pg_put_str(&b, stmt_name);
	pg_end(&b);
	pg_begin(&b, 'C');
	pg_put_u8(&b, 'P');
	pg_put_str(&b, stmt_name);
	pg_end(&b);
	/* In a batch, a Flush: the answer must come before the job's Sync,
	 * which may wait behind a statement held for it. */
	pg_begin(&b, sync ? 'S' : 'H');
	pg_end(&b);
	return b.bad ? 0 : b.len;
}

/* ----------------------------------------------------------- the answer */

static struct pg_rel *rel_get(struct pg_catalog *c, uint32_t oid)
{
	struct pg_rel *r = (struct pg_rel *)pg_catalog_rel(c, oid);

	if (r)
		return r;
	if (c->nrels >= PG_CATALOG_MAX_RELS)
		pg_catalog_flush(c);
	if (!(r = calloc(1, sizeof(*r))))
		return NULL;
	r->oid = oid;
	r->next = c->rels[oid & (BUCKETS - 1)];
	c->rels[oid & (BUCKETS - 1)] = r;
	c->nrels++;
	if (!c->since_ms)
		c->since_ms = ev_now_ms();
	return r;
}

static int rel_column(struct pg_rel *r, long attnum, const char *name)
{
	if (attnum < 1 || attnum > 1600)
		return -EBADMSG;
	if (attnum > r->ncolumns) {
		char **v = realloc(r->columns, (size_t)attnum * sizeof(*v));

		if (!v)
			return -ENOMEM;
		memset(v + r->ncolumns, 0, ((size_t)attnum - r->ncolumns) * sizeof(*v));
		r->columns = v;
		r->ncolumns = (uint16_t)attnum;
	}
	free(r->columns[attnum - 1]);
	return (r->columns[attnum - 1] = strdup(name)) ? 0 : -ENOMEM;
}

static int rel_reads(struct pg_rel *r, const char *rel, const char *col)
{
	size_t a = strlen(rel), b = strlen(col);
	char **v = realloc(r->reads, (r->nreads + 1) * sizeof(*v)), *s;

	if (!v)
		return -ENOMEM;
	r->reads = v;
	if (!(s = malloc(a + b + 2)))
		return -ENOMEM;
	memcpy(s, rel, a + 1);
	memcpy(s + a + 1, col, b + 1);
	r->reads[r->nreads++] = s;
	return 0;
}

static int add_function(struct pg_catalog *c, const char *name)
{
	struct fname *f;
	uint32_t h;

	if (!*name) {
		c->functions_loaded = true;
		return 0;
	}
	if (c->nfunctions >= PG_CATALOG_MAX_FUNCTIONS)
		return 0; /* not loaded in full: every call counts as a user function */
	if (!c->functions && !(c->functions = calloc(FBUCKETS, sizeof(*c->functions))))
		return -ENOMEM;
	if (!(f = calloc(1, sizeof(*f))) || !(f->name = strdup(name))) {
		free(f);
		return -ENOMEM;
	}
	h = hash_str(name) & (FBUCKETS - 1);
	f->next = c->functions[h];
	c->functions[h] = f;
	c->nfunctions++;
	return 0;
}

int pg_catalog_take_row(struct pg_catalog *c, const struct pg_msg *row,
			void (*resolved)(void *ctx, const char *name, uint32_t oid), void *ctx)
{
	struct pg_reader r = pg_reader_of(row);
	char f[6][512];
	struct pg_rel *rel;
	unsigned long oid;
	long attnum;

	if (pg_get_i16(&r) != 6)
		return -EBADMSG;
	for (int i = 0; i < 6; i++) {
		int32_t len = pg_get_i32(&r);
		const uint8_t *v = len > 0 ? pg_get_bytes(&r, (size_t)len) : NULL;

		if (r.bad || len < 0 || (size_t)len >= sizeof(f[i]))
			return -EBADMSG;
		memcpy(f[i], v ? (const char *)v : "", (size_t)len);
		f[i][len] = '\0';
	}
	oid = strtoul(f[1], NULL, 10);
	attnum = strtol(f[4], NULL, 10);
	switch (f[0][0]) {
	case 'n':
		if (resolved)
			resolved(ctx, f[3], (uint32_t)oid);
		return 0;
	case 'r':
		if (!(rel = rel_get(c, (uint32_t)oid)))
			return -ENOMEM;
		rel->kind = f[2][0];
		if (!rel->name && !(rel->name = strdup(f[3])))
			return -ENOMEM;
		return rel_column(rel, attnum, f[5]);
	case 'v':
		if (!(rel = rel_get(c, (uint32_t)oid)))
			return -ENOMEM;
		return rel_reads(rel, f[3], f[5]);
	case 'f':
		return add_function(c, f[5]);
	default:
		return -EBADMSG;
	}
}
