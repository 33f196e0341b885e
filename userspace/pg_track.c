// SPDX-License-Identifier: Apache-2.0
/* pg_track: statements, portals and results of a session. See pg_track.h. */
#include "pg_track.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "hash.h"

#define MAX_COLUMNS 1664 /* PostgreSQL's own limit on a target list */
#define NAME_BYTES 63    /* the server keys statements and portals by so many
			    bytes of their names (NAMEDATALEN - 1) */
#define MAX_BYTES (16u << 20) /* statement texts and parameters per session */

/* A prepared statement, or a portal (with its statement's text and the
 * bound parameters copied from Bind). */
struct named {
	char *name;
	char *text;
	char *statement;          /* portals: the statement name */
	struct pg_param *params;  /* portals */
	uint8_t *param_data;
	size_t param_bytes;
	uint16_t nparams;
	struct pg_column *cols;   /* from a RowDescription answering Describe */
	uint16_t ncols;
	bool described;          /* cols are known (none: NoData) */
	int16_t *formats;         /* portals: Bind's result format codes */
	int16_t nformats;
	struct named *next;
};

/* Names to statements or portals: a chained hash table that doubles as it
 * fills, so a session with thousands of them costs no scan per Bind. */
struct names {
	struct named **buckets;
	unsigned nbuckets, count;
};

/* A frontend request the server has not answered yet. Prepared statements
 * and portals change only when the server confirms (ParseComplete,
 * BindComplete, CloseComplete): a Parse it rejects, or one it skips after
 * an error, must not change what later statements are taken to be. */
enum op_kind {
	OP_PARSE,
	OP_BIND,
	OP_DESCRIBE,
	OP_EXECUTE,
	OP_CLOSE_STATEMENT,
	OP_CLOSE_PORTAL,
	OP_SYNC,             /* Sync: ReadyForQuery ends it */
	OP_QUERY,            /* Query or FunctionCall: its ReadyForQuery ends it; the
				server skips it after an error in an extended
				request, up to the next Sync */
	OP_COPY_END,         /* CopyDone or CopyFail sent before the server said
				CopyInResponse: where the Syncs it ignores end */
	OP_FORGET,           /* SQL DEALLOCATE, PREPARE or DISCARD is about to run:
				the statement (name, or all when NULL) is no longer
				what its Parse made. No answer: it takes effect when
				it reaches the head. */
};

struct op {
	enum op_kind kind;
	struct named *named; /* OP_PARSE, OP_BIND of the job */
	char *name;          /* OP_CLOSE_*, OP_DESCRIBE, OP_EXECUTE: the name */
	bool portal;         /* OP_DESCRIBE: of a portal (else of a statement) */
	bool agent;          /* the agent's own request: the job never sees its answer */
	bool swallow;        /* agent: its error and ReadyForQuery are not the job's either */
	uint8_t *reply;      /* OP_EXECUTE of a refused statement: what the job gets */
	size_t reply_len;
	void *tag;           /* the observer's, for a statement that runs */
	uint32_t seq;        /* the statement this op answers (OP_EXECUTE, OP_QUERY), or 0 */
	uint64_t started_us; /* the observer's stamp of it */
	struct op *next;
};

struct pg_track {
	const struct pg_observer *obs;
	void *ctx;
	struct names statements, portals;     /* confirmed */
	struct op *head, *tail;               /* pending, in order */
	uint32_t seq;                         /* statements judged so far */
	unsigned nops;
	size_t bytes;                         /* texts and parameters held */
	struct pg_column *columns;            /* the latest RowDescription of a */
	uint16_t ncolumns, nlast;             /* Query's result; grown as needed */
	bool copy_in;                         /* the server is in copy-in and the
						 job has not ended it yet */
	bool skipping;                        /* after an error in an extended
						 request, the server ignores what
						 comes before the next Sync, and
						 none is on its way */
};

struct pg_track *pg_track_new(const struct pg_observer *obs, void *ctx)
{
	struct pg_track *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->obs = obs;
	t->ctx = ctx;
	return t;
}

static void named_free(struct named *n)
{
	free(n->cols);
	free(n->formats);
	free(n->name);
	free(n->text);
	free(n->statement);
	free(n->params);
	free(n->param_data);
	free(n);
}

static size_t named_size(const struct named *n);

/* Free every entry; the bytes they held. */
static size_t names_clear(struct names *t)
{
	size_t bytes = 0;

	for (unsigned i = 0; i < t->nbuckets; i++) {
		while (t->buckets[i]) {
			struct named *n = t->buckets[i];

			t->buckets[i] = n->next;
			bytes += named_size(n);
			named_free(n);
		}
	}
	free(t->buckets);
	*t = (struct names){ 0 };
	return bytes;
}

static struct named **names_slot(const struct names *t, const char *name)
{
	struct named **p;

	if (!t->nbuckets)
		return NULL;
	for (p = &t->buckets[hash_str(name) & (t->nbuckets - 1)]; *p; p = &(*p)->next)
		if (!strcmp((*p)->name, name))
			return p;
	return NULL;
}

static struct named *names_find(const struct names *t, const char *name)
{
	struct named **p = names_slot(t, name);

	return p ? *p : NULL;
}

/* Remove name; the bytes it held. */
static size_t names_remove(struct names *t, const char *name)
{
	struct named **p = names_slot(t, name), *n;
	size_t size;

	if (!p)
		return 0;
	n = *p;
	*p = n->next;
	size = named_size(n);
	named_free(n);
	t->count--;
	return size;
}

static int names_grow(struct names *t)
{
	unsigned nb = t->nbuckets ? t->nbuckets * 2 : 16;
	struct named **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (unsigned i = 0; i < t->nbuckets; i++) {
		while (t->buckets[i]) {
			struct named *n = t->buckets[i];
			uint32_t h = hash_str(n->name) & (nb - 1);

			t->buckets[i] = n->next;
			n->next = b[h];
			b[h] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
	return 0;
}

/* Put n in, replacing one of the same name; the bytes of the one replaced,
 * or -ENOMEM (n is then freed). */
static ssize_t names_put(struct names *t, struct named *n)
{
	size_t replaced = names_remove(t, n->name);
	uint32_t h;

	if (t->count >= t->nbuckets && names_grow(t)) {
		named_free(n);
		return -ENOMEM;
	}
	h = hash_str(n->name) & (t->nbuckets - 1);
	n->next = t->buckets[h];
	t->buckets[h] = n;
	t->count++;
	return (ssize_t)replaced;
}

static void op_free(const struct pg_track *t, struct op *o)
{
	if (o->named)
		named_free(o->named);
	if (o->tag && t->obs->tag_free)
		t->obs->tag_free(o->tag);
	free(o->name);
	free(o->reply);
	free(o);
}


void pg_track_free(struct pg_track *t)
{
	if (!t)
		return;
	while (t->head) {
		struct op *o = t->head;

		t->head = o->next;
		op_free(t, o);
	}
	names_clear(&t->statements);
	names_clear(&t->portals);
	free(t->columns);
	free(t);
}

/* What n holds, against the session's budget. */
static size_t named_size(const struct named *n)
{
	return (n->text ? strlen(n->text) : 0) + n->param_bytes + strlen(n->name) +
	       n->ncols * sizeof(*n->cols) + (size_t)n->nformats * sizeof(*n->formats);
}

static int push(struct pg_track *t, enum op_kind kind, struct named *n, const char *name)
{
	struct op *o;

	if (t->nops >= PG_TRACK_MAX_PENDING || (n && t->bytes + named_size(n) > MAX_BYTES)) {
		if (n)
			named_free(n);
		return -ENOSPC;
	}
	o = calloc(1, sizeof(*o));
	if (!o || (name && !(o->name = strdup(name)))) {
		free(o);
		if (n)
			named_free(n);
		return -ENOMEM;
	}
	o->kind = kind;
	o->named = n;
	if (kind == OP_SYNC)
		t->skipping = false;
	if (n)
		t->bytes += named_size(n);
	if (t->tail)
		t->tail->next = o;
	else
		t->head = o;
	t->tail = o;
	t->nops++;
	return 0;
}

static struct op *pop(struct pg_track *t)
{
	struct op *o = t->head;

	if (!o)
		return NULL;
	t->head = o->next;
	if (!t->head)
		t->tail = NULL;
	t->nops--;
	return o;
}

/* The statement or portal a name will mean when the server gets to the
 * next request: the latest pending Parse/Bind or Close of it, else the
 * confirmed one. (A pending one the server rejects takes the requests
 * after it down with it, up to the next Sync.) */
static const struct named *lookup(const struct pg_track *t, bool portal, const char *name)
{
	enum op_kind put = portal ? OP_BIND : OP_PARSE;
	enum op_kind close = portal ? OP_CLOSE_PORTAL : OP_CLOSE_STATEMENT;
	const struct named *found = NULL;
	bool seen = false;

	for (const struct op *o = t->head; o; o = o->next) {
		if (o->agent)
			continue;
		if (o->kind == put && !strcmp(o->named->name, name))
			found = o->named, seen = true;
		else if (o->kind == close && !strcmp(o->name, name))
			found = NULL, seen = true;
		else if (!portal && o->kind == OP_FORGET && (!o->name || !strcmp(o->name, name)))
			found = NULL, seen = true;
	}
	if (seen)
		return found;
	return names_find(portal ? &t->portals : &t->statements, name);
}

/* A statement or portal name as the server keys it: its first 63 bytes. */
static const char *get_name(struct pg_reader *r, char buf[NAME_BYTES + 1])
{
	const char *s = pg_get_str(r);

	snprintf(buf, NAME_BYTES + 1, "%s", s);
	return buf;
}

static int on_parse(struct pg_track *t, struct pg_reader *r)
{
	char nbuf[NAME_BYTES + 1];
	const char *name = get_name(r, nbuf), *text = pg_get_str(r);
	struct named *n;

	if (r->bad)
		return -EBADMSG;
	if (t->obs->parsed)
		t->obs->parsed(t->ctx, text);
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name)) || !(n->text = strdup(text))) {
		if (n)
			named_free(n);
		return -ENOMEM;
	}
	return push(t, OP_PARSE, n, NULL);
}

/* "EXECUTE name", the name quoted (malloc'd). */
static char *execute_text(const char *name)
{
	char *out = malloc(10 + 2 * strlen(name) + 2), *p;

	if (!out)
		return NULL;
	p = out + sprintf(out, "EXECUTE \"");
	for (; *name; name++) {
		if (*name == '"')
			*p++ = '"';
		*p++ = *name;
	}
	memcpy(p, "\"", 2);
	return out;
}

/* Bind: portal, statement, parameter formats, parameters, result formats. */
static int read_bind(struct pg_reader *r, struct named *n, const uint8_t *body, size_t len)
{
	int16_t nformats = pg_get_i16(r), nparams;
	const uint8_t *formats = pg_get_bytes(r, nformats > 0 ? 2 * (size_t)nformats : 0);

	nparams = pg_get_i16(r);
	if (r->bad || nformats < 0 || nparams < 0 || (nformats > 1 && nformats != nparams))
		return -EBADMSG;
	n->param_data = malloc(len ? len : 1);
	n->params = calloc((size_t)nparams + 1, sizeof(*n->params));
	if (!n->param_data || !n->params)
		return -ENOMEM;
	memcpy(n->param_data, body, len);
	n->param_bytes = len;
	for (int i = 0; i < nparams; i++) {
		struct pg_param *p = &n->params[i];
		const uint8_t *v;

		p->len = pg_get_i32(r);
		v = p->len > 0 ? pg_get_bytes(r, (size_t)p->len) : NULL;
		if (r->bad || p->len < -1)
			return -EBADMSG;
		p->value = v ? n->param_data + (v - body) : NULL;
		if (nformats == 1)
			p->format = (int16_t)(formats[0] << 8 | formats[1]);
		else if (nformats > 1)
			p->format = (int16_t)(formats[2 * i] << 8 | formats[2 * i + 1]);
	}
	n->nparams = (uint16_t)nparams;
	/* Result formats: none (text), one for all, or one per column. */
	n->nformats = pg_get_i16(r);
	if (r->bad || n->nformats < 0)
		return -EBADMSG;
	if (n->nformats) {
		n->formats = calloc((size_t)n->nformats, sizeof(*n->formats));
		if (!n->formats)
			return -ENOMEM;
		for (int i = 0; i < n->nformats; i++)
			n->formats[i] = pg_get_i16(r);
	}
	return r->bad ? -EBADMSG : 0;
}

static int on_bind(struct pg_track *t, const struct pg_msg *m, struct pg_reader *r)
{
	char pbuf[NAME_BYTES + 1], sbuf[NAME_BYTES + 1];
	const char *portal = get_name(r, pbuf), *stmt = get_name(r, sbuf);
	const struct named *s;
	struct named *n;
	int err;

	if (r->bad)
		return -EBADMSG;
	s = lookup(t, false, stmt);
	n = calloc(1, sizeof(*n));
	/* A statement no Parse made was made by SQL PREPARE: running the
	 * portal is an EXECUTE of it. */
	if (!n || !(n->name = strdup(portal)) || !(n->statement = strdup(stmt)) ||
	    !(n->text = s ? strdup(s->text) : execute_text(stmt))) {
		if (n)
			named_free(n);
		return -ENOMEM;
	}
	err = read_bind(r, n, m->body, m->body_len);
	if (err) {
		named_free(n);
		return err;
	}
	return push(t, OP_BIND, n, NULL);
}

/* A statement about to run: ask the observer; queue what the server will
 * answer (an Execute, and for Query and FunctionCall their ReadyForQuery). */
static int run(struct pg_track *t, const struct pg_statement *judged)
{
	struct pg_statement st = *judged;
	struct pg_outcome out = { 0 };
	bool whole = st.path != PG_PATH_EXTENDED, refused;
	/* The observer may queue requests of its own, moving the message st
	 * points into: keep the portal's name. */
	char *portal = st.portal ? strdup(st.portal) : NULL;
	struct op *answer = NULL;
	int err;

	st.seq = t->seq + 1;
	err = st.portal && !portal ? -ENOMEM
	    : t->obs->statement ? t->obs->statement(t->ctx, &st, &out) : 0;
	if (!err && out.wait) {
		free(portal);
		free(out.reply);
		if (out.tag && t->obs->tag_free)
			t->obs->tag_free(out.tag);
		return PG_TRACK_WAIT;
	}
	t->seq++;
	refused = out.reply != NULL;
	/* After an error in an extended request the server skips a Query or
	 * FunctionCall without a word, up to the next Sync: queue no answer
	 * for it, and a refused one need not even be sent. */
	if (!err && whole && t->skipping) {
		free(portal);
		free(out.reply);
		if (out.tag && t->obs->tag_free)
			t->obs->tag_free(out.tag);
		return refused ? PG_TRACK_DROP : 0;
	}
	if (!err && (refused || !whole) && !(err = push(t, OP_EXECUTE, NULL, portal))) {
		answer = t->tail;
		answer->reply = out.reply;
		answer->reply_len = out.reply_len;
		out.reply = NULL;
	}
	/* A refused one is replaced by an Execute and a real Sync. */
	if (!err && whole && !(err = push(t, refused ? OP_SYNC : OP_QUERY, NULL, NULL)) &&
	    !refused)
		answer = t->tail;
	if (!err) {
		/* With what its rows will answer: the Execute, or the Query. */
		answer->seq = st.seq;
		answer->started_us = out.started_us;
		if (!refused) {
			answer->tag = out.tag;
			out.tag = NULL;
		}
	}
	free(portal);
	free(out.reply);
	if (out.tag && t->obs->tag_free)
		t->obs->tag_free(out.tag);
	return err ? err : refused ? PG_TRACK_REFUSED : 0;
}

static int on_execute(struct pg_track *t, struct pg_reader *r)
{
	char pbuf[NAME_BYTES + 1];
	const char *portal = get_name(r, pbuf);
	const struct named *p;
	struct pg_statement st = { .path = PG_PATH_EXTENDED, .portal = portal };

	if (r->bad)
		return -EBADMSG;
	p = lookup(t, true, portal);
	if (p) {
		st.text = p->text;
		st.statement = p->statement;
		st.nparams = p->nparams;
		st.params = p->params;
	}
	return run(t, &st);
}

static int on_close(struct pg_track *t, struct pg_reader *r)
{
	char nbuf[NAME_BYTES + 1];
	uint8_t what = pg_get_u8(r);
	const char *name = get_name(r, nbuf);

	if (r->bad || (what != 'S' && what != 'P'))
		return -EBADMSG;
	return push(t, what == 'S' ? OP_CLOSE_STATEMENT : OP_CLOSE_PORTAL, NULL, name);
}

int pg_track_frontend(struct pg_track *t, const struct pg_msg *m)
{
	struct pg_reader r = pg_reader_of(m);
	struct pg_statement st = { 0 };

	switch (m->type) {
	case 'Q':
		st.path = PG_PATH_QUERY;
		st.text = pg_get_str(&r);
		if (r.bad)
			return -EBADMSG;
		return run(t, &st);
	case 'P':
		return on_parse(t, &r);
	case 'B':
		return on_bind(t, m, &r);
	case 'E':
		return on_execute(t, &r);
	case 'C':
		return on_close(t, &r);
	case 'S':
		/* In copy-in the server ignores Sync. */
		return t->copy_in ? 0 : push(t, OP_SYNC, NULL, NULL);
	case 'c':
	case 'f':
		if (t->copy_in) {
			t->copy_in = false;
			return 0;
		}
		return push(t, OP_COPY_END, NULL, NULL);
	case 'F':
		st.path = PG_PATH_FUNCTION;
		st.function_oid = (uint32_t)pg_get_i32(&r);
		if (r.bad)
			return -EBADMSG;
		return run(t, &st);
	case 'D': {
		char nbuf[NAME_BYTES + 1];
		uint8_t what = pg_get_u8(&r);
		const char *name = get_name(&r, nbuf);
		int err;

		if (r.bad || (what != 'S' && what != 'P'))
			return -EBADMSG;
		if ((err = push(t, OP_DESCRIBE, NULL, name)))
			return err;
		t->tail->portal = what == 'P';
		return 0;
	}
	default:
		return 0;
	}
}

static int on_row_description(struct pg_track *t, struct pg_reader *r)
{
	int16_t n = pg_get_i16(r);

	if (r->bad || n < 0 || n > MAX_COLUMNS)
		return -EBADMSG;
	if (n > t->ncolumns) {
		struct pg_column *c = realloc(t->columns, (size_t)n * sizeof(*c));

		if (!c)
			return -ENOMEM;
		t->columns = c;
		t->ncolumns = (uint16_t)n;
	}
	for (int i = 0; i < n; i++) {
		struct pg_column *c = &t->columns[i];

		c->name = pg_get_str(r);
		c->table_oid = (uint32_t)pg_get_i32(r);
		c->attnum = pg_get_i16(r);
		c->type_oid = (uint32_t)pg_get_i32(r);
		pg_get_i16(r); /* type length */
		pg_get_i32(r); /* type modifier */
		c->format = pg_get_i16(r);
	}
	if (r->bad)
		return -EBADMSG;
	t->nlast = (uint16_t)n;
	if (t->obs->row_description)
		t->obs->row_description(t->ctx, t->columns, (uint16_t)n);
	for (int i = 0; i < n; i++)
		t->columns[i].name = NULL; /* it pointed into the message */
	return 0;
}

/* A portal's columns in the formats its Bind asked for. */
static void apply_formats(struct named *portal)
{
	for (uint16_t i = 0; i < portal->ncols; i++)
		portal->cols[i].format = portal->nformats == 0 ? 0
				       : portal->nformats == 1 ? portal->formats[0]
				       : i < portal->nformats ? portal->formats[i] : 0;
}

/* Keep cols (n of them; NULL: NoData) as what named returns. named is in
 * the session's tables, so its bytes count against the budget. */
static int describe(struct pg_track *t, struct named *named, const struct pg_column *cols,
		    uint16_t n)
{
	size_t before = named_size(named), bytes = n * sizeof(*cols);
	struct pg_column *c;

	if (t->bytes - before + bytes + named->nformats * sizeof(*named->formats) > MAX_BYTES)
		return -ENOSPC;
	c = n ? malloc(bytes) : NULL;
	if (n && !c)
		return -ENOMEM;
	if (n)
		memcpy(c, cols, bytes);
	free(named->cols);
	named->cols = c;
	named->ncols = n;
	named->described = true;
	t->bytes = t->bytes - before + named_size(named);
	return 0;
}

/* The answer to the Describe at the head: RowDescription or NoData. */
static int described(struct pg_track *t, bool rows)
{
	struct op *o = t->head;
	struct named *named;
	int err = 0;

	if (!o || o->kind != OP_DESCRIBE)
		return 0;
	named = (struct named *)names_find(o->portal ? &t->portals : &t->statements, o->name);
	if (named)
		err = describe(t, named, rows ? t->columns : NULL, rows ? t->nlast : 0);
	op_free(t, pop(t));
	return err;
}

/* The server confirmed the request at the head of the queue. */
static int confirm(struct pg_track *t, enum op_kind kind)
{
	struct op *o;

	if (!t->head || t->head->kind != kind)
		return -EBADMSG;
	if ((kind == OP_PARSE && t->statements.count >= PG_TRACK_MAX_STATEMENTS) ||
	    (kind == OP_BIND && t->portals.count >= PG_TRACK_MAX_STATEMENTS))
		return -ENOSPC;
	o = pop(t);
	switch (kind) {
	case OP_PARSE: /* its bytes were counted when it was queued */
	case OP_BIND: {
		size_t size = named_size(o->named);
		ssize_t replaced = names_put(kind == OP_PARSE ? &t->statements : &t->portals,
					     o->named);

		struct named *n = o->named;
		const struct named *st;

		o->named = NULL;
		if (replaced < 0) {
			t->bytes -= size;
			op_free(t, o);
			return -ENOMEM;
		}
		t->bytes -= (size_t)replaced;
		/* A portal of a described statement has its columns. */
		if (kind == OP_BIND && (st = names_find(&t->statements, n->statement)) &&
		    st->described) {
			int err = describe(t, n, st->cols, st->ncols);

			if (err) {
				op_free(t, o);
				return err;
			}
			apply_formats(n);
		}
		break;
	}
	case OP_CLOSE_STATEMENT:
		t->bytes -= names_remove(&t->statements, o->name);
		break;
	case OP_CLOSE_PORTAL:
		t->bytes -= names_remove(&t->portals, o->name);
		break;
	case OP_DESCRIBE:
	case OP_EXECUTE:
	case OP_SYNC:
	case OP_QUERY:
	case OP_COPY_END:
	case OP_FORGET:
		break;
	}
	op_free(t, o);
	return 0;
}

/* After an error the server skips everything up to the next Sync. */
static void discard_to_sync(struct pg_track *t)
{
	while (t->head && t->head->kind != OP_SYNC) {
		struct op *o = pop(t);

		if (o->named)
			t->bytes -= named_size(o->named);
		op_free(t, o);
	}
	t->skipping = !t->head;
}

/* The request at the head was answered in full. */
static void answered(struct pg_track *t, enum op_kind kind)
{
	if (t->head && t->head->kind == kind)
		op_free(t, pop(t));
}

/* Is this ErrorResponse one that ends only the request, not the session? */
static bool error_is_plain(const struct pg_msg *m)
{
	const char *sev = pg_error_field(m, 'V');

	return sev && !strcmp(sev, "ERROR");
}

/* CopyInResponse: the server ignores the Syncs the job sent after the
 * request that started the copy, up to its CopyDone or CopyFail. */
static void copy_in_started(struct pg_track *t)
{
	struct op *prev = t->head;

	while (prev && prev->next) {
		struct op *o = prev->next;
		bool end = o->kind == OP_COPY_END;

		if (o->kind != OP_SYNC && !end) {
			prev = o;
			continue;
		}
		prev->next = o->next;
		if (t->tail == o)
			t->tail = prev;
		t->nops--;
		op_free(t, o);
		if (end)
			return;
	}
	t->copy_in = true;
}

/* Entries at the head that need no answer: a CopyDone the server ignored
 * (it was in no copy), statements forgotten. */
static void settle(struct pg_track *t)
{
	while (t->head && (t->head->kind == OP_COPY_END || t->head->kind == OP_FORGET)) {
		struct op *o = pop(t);

		if (o->kind == OP_FORGET && o->name)
			t->bytes -= names_remove(&t->statements, o->name);
		else if (o->kind == OP_FORGET)
			t->bytes -= names_clear(&t->statements);
		op_free(t, o);
	}
}

/* ReadyForQuery ends the first Sync or Query queued: whatever is queued
 * before it the server skipped (it answered none of it). Was that the
 * agent's own Sync? */
static bool ready(struct pg_track *t)
{
	bool agent = false;

	while (t->head) {
		struct op *o = pop(t);
		bool end = o->kind == OP_SYNC || o->kind == OP_QUERY;

		if (o->named)
			t->bytes -= named_size(o->named);
		agent = o->agent;
		op_free(t, o);
		if (end)
			break;
	}
	return agent;
}

/* A message answering the agent's own request at the head. */
static int agent_answer(struct pg_track *t, const struct pg_msg *m)
{
	struct op *o = t->head;

	switch (m->type) {
	case 'E': {
		/* An error of a request with its own Sync is the agent's alone;
		 * otherwise the server now skips the job's requests to its Sync,
		 * and the job must learn why. */
		bool swallow = o->swallow;

		discard_to_sync(t);
		return swallow ? PG_TRACK_AGENT : 0;
	}
	case 'N':
	case 'S':
	case 'A':
		return 0; /* notices and notifications are the session's */
	case 'T':
	case 'n':
		return described(t, m->type == 'T') ?: PG_TRACK_AGENT;
	case 'D':
		return PG_TRACK_AGENT;
	case 'Z':
		return ready(t) ? PG_TRACK_AGENT : 0;
	default: /* ParseComplete, BindComplete, CommandComplete, CloseComplete */
		op_free(t, pop(t));
		return PG_TRACK_AGENT;
	}
}

int pg_track_backend(struct pg_track *t, const struct pg_msg *m, uint8_t **reply,
		     size_t *reply_len)
{
	struct pg_reader r = pg_reader_of(m);
	const char *tag;
	int ret = 0, err;

	settle(t);
	if (m->type == 'T' && (err = on_row_description(t, &r)))
		return err;
	if (t->head && t->head->agent)
		return agent_answer(t, m);
	switch (m->type) {
	case 'G':
		copy_in_started(t);
		return 0;
	case 'T':
	case 'n':
		return described(t, m->type == 'T');
	case 'C':
		tag = pg_get_str(&r);
		if (r.bad)
			return -EBADMSG;
		answered(t, OP_EXECUTE);
		if (t->obs->command_complete)
			t->obs->command_complete(t->ctx, tag);
		return 0;
	case 'I':
	case 's':
		answered(t, OP_EXECUTE);
		return 0;
	case '1':
		return confirm(t, OP_PARSE);
	case '2':
		return confirm(t, OP_BIND);
	case '3':
		return t->head && t->head->kind == OP_CLOSE_PORTAL ? confirm(t, OP_CLOSE_PORTAL)
								    : confirm(t, OP_CLOSE_STATEMENT);
	case 'E':
		t->copy_in = false; /* an error ends copy-in */
		/* The server's error for the stand-in of a refused statement;
		 * a FATAL one (shutdown, termination) passes as it is. */
		if (t->head && t->head->kind == OP_EXECUTE && t->head->reply && error_is_plain(m)) {
			*reply = t->head->reply;
			*reply_len = t->head->reply_len;
			t->head->reply = NULL;
			ret = PG_TRACK_REPLACE;
		}
		/* An error in a Query ends at its ReadyForQuery; one in an
		 * extended request makes the server skip to the next Sync. */
		if (!t->head || t->head->kind != OP_QUERY)
			discard_to_sync(t);
		return ret;
	case 'Z':
		ready(t);
		/* Outside a transaction no portal the server confirmed survives;
		 * Binds still pending are not touched. */
		if (pg_get_u8(&r) == 'I')
			t->bytes -= names_clear(&t->portals);
		return 0;
	default:
		return 0;
	}
}

void pg_track_result(const struct pg_track *t, struct pg_track_result *out)
{
	const struct op *o = t->head;
	const struct named *portal;

	*out = (struct pg_track_result){ .agent = o && o->agent };
	if (!o || o->agent)
		return;
	out->tag = o->tag;
	out->seq = o->seq;
	out->started_us = o->started_us;
	out->running = o->kind == OP_EXECUTE || o->kind == OP_QUERY;
	out->binding = o->kind == OP_BIND;
	if (o->kind == OP_QUERY) {
		out->cols = t->columns;
		out->n = t->nlast;
	} else if (o->kind == OP_EXECUTE && o->name &&
		   (portal = names_find(&t->portals, o->name)) && portal->described) {
		out->cols = portal->cols;
		out->n = portal->ncols;
	}
}

/* Is statement name described when the server reaches op stop (NULL: the
 * end of the queue)? Its latest Parse before stop resets that; a Describe
 * of it after that Parse sets it. */
static bool statement_described(const struct pg_track *t, const char *name, const struct op *stop)
{
	const struct named *st = names_find(&t->statements, name);
	bool described = st && st->described;

	for (const struct op *o = t->head; o && o != stop; o = o->next) {
		if (o->agent)
			continue;
		if (o->kind == OP_PARSE && !strcmp(o->named->name, name))
			described = false;
		else if (o->kind == OP_CLOSE_STATEMENT && !strcmp(o->name, name))
			described = false;
		else if (o->kind == OP_DESCRIBE && !o->portal && !strcmp(o->name, name))
			described = true;
	}
	return described;
}

bool pg_track_described(const struct pg_track *t, const char *portal)
{
	const struct named *p = names_find(&t->portals, portal);
	bool described = p && p->described;

	/* In queue order: a Bind gives the portal its statement's columns, a
	 * Describe of the portal gives it its own. */
	for (const struct op *o = t->head; o; o = o->next) {
		if (o->agent)
			continue;
		if (o->kind == OP_BIND && !strcmp(o->named->name, portal))
			described = statement_described(t, o->named->statement, o);
		else if (o->kind == OP_CLOSE_PORTAL && !strcmp(o->name, portal))
			described = false;
		else if (o->kind == OP_DESCRIBE && o->portal && !strcmp(o->name, portal))
			described = true;
	}
	return described;
}

uint32_t pg_track_seq(const struct pg_track *t)
{
	return t->head && !t->head->agent ? t->head->seq : 0;
}

bool pg_track_skipping(const struct pg_track *t)
{
	return t->skipping;
}

bool pg_track_agent_pending(const struct pg_track *t)
{
	for (const struct op *o = t->head; o; o = o->next)
		if (o->agent)
			return true;
	return false;
}

unsigned pg_track_pending_ready(const struct pg_track *t)
{
	unsigned n = 0;

	for (const struct op *o = t->head; o; o = o->next)
		n += o->kind == OP_SYNC || o->kind == OP_QUERY;
	return n;
}

int pg_track_forget(struct pg_track *t, const char *name)
{
	char clipped[NAME_BYTES + 1];
	int err;

	if (name)
		snprintf(clipped, sizeof(clipped), "%s", name);
	err = push(t, OP_FORGET, NULL, name ? clipped : NULL);
	if (!err && t->head == t->tail)
		settle(t); /* nothing before it: in effect now */
	return err;
}

int pg_track_agent_describe(struct pg_track *t, const char *portal)
{
	int err = push(t, OP_DESCRIBE, NULL, portal);

	if (!err) {
		t->tail->portal = true;
		t->tail->agent = true;
	}
	return err;
}

int pg_track_agent_query(struct pg_track *t, bool sync)
{
	static const enum op_kind kinds[] = { OP_PARSE, OP_BIND, OP_EXECUTE, OP_CLOSE_STATEMENT,
					      OP_CLOSE_PORTAL, OP_SYNC };
	size_t n = sync ? 6 : 5;

	for (size_t i = 0; i < n; i++) {
		int err = push(t, kinds[i], NULL, NULL);

		if (err)
			return err;
		t->tail->agent = true;
		t->tail->swallow = sync;
	}
	return 0;
}
