// SPDX-License-Identifier: Apache-2.0
/* pg_track: statements, portals and results of a session. See pg_track.h. */
#include "pg_track.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define MAX_COLUMNS 1664 /* PostgreSQL's own limit on a target list */
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
	OP_SYNC,             /* Sync, and Query and FunctionCall: ReadyForQuery ends them */
	OP_COPY_END,         /* CopyDone or CopyFail sent before the server said
				CopyInResponse: where the Syncs it ignores end */
};

struct op {
	enum op_kind kind;
	struct named *named; /* OP_PARSE, OP_BIND */
	char *name;          /* OP_CLOSE_* */
	uint8_t *reply;      /* OP_EXECUTE of a refused statement: what the job gets */
	size_t reply_len;
	struct op *next;
};

struct pg_track {
	const struct pg_observer *obs;
	void *ctx;
	struct names statements, portals;     /* confirmed */
	struct op *head, *tail;               /* pending, in order */
	unsigned nops;
	size_t bytes;                         /* texts and parameters held */
	struct pg_column *columns;            /* grown to the widest result */
	uint16_t ncolumns;
	bool copy_in;                         /* the server is in copy-in and the
						 job has not ended it yet */
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
	free(n->name);
	free(n->text);
	free(n->statement);
	free(n->params);
	free(n->param_data);
	free(n);
}

static size_t named_size(const struct named *n);

static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h;
}

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
	for (p = &t->buckets[name_hash(name) & (t->nbuckets - 1)]; *p; p = &(*p)->next)
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
			uint32_t h = name_hash(n->name) & (nb - 1);

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
	h = name_hash(n->name) & (t->nbuckets - 1);
	n->next = t->buckets[h];
	t->buckets[h] = n;
	t->count++;
	return (ssize_t)replaced;
}

static void op_free(struct op *o)
{
	if (o->named)
		named_free(o->named);
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
		op_free(o);
	}
	names_clear(&t->statements);
	names_clear(&t->portals);
	free(t->columns);
	free(t);
}

static size_t named_size(const struct named *n)
{
	return (n->text ? strlen(n->text) : 0) + n->param_bytes + strlen(n->name);
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
		if (o->kind == put && !strcmp(o->named->name, name))
			found = o->named, seen = true;
		else if (o->kind == close && !strcmp(o->name, name))
			found = NULL, seen = true;
	}
	if (seen)
		return found;
	return names_find(portal ? &t->portals : &t->statements, name);
}

static int on_parse(struct pg_track *t, struct pg_reader *r)
{
	const char *name = pg_get_str(r), *text = pg_get_str(r);
	struct named *n;

	if (r->bad)
		return -EBADMSG;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name)) || !(n->text = strdup(text))) {
		if (n)
			named_free(n);
		return -ENOMEM;
	}
	return push(t, OP_PARSE, n, NULL);
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
	return 0;
}

static int on_bind(struct pg_track *t, const struct pg_msg *m, struct pg_reader *r)
{
	const char *portal = pg_get_str(r), *stmt = pg_get_str(r);
	const struct named *s;
	struct named *n;
	int err;

	if (r->bad)
		return -EBADMSG;
	s = lookup(t, false, stmt);
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(portal)) || !(n->statement = strdup(stmt)) ||
	    (s && !(n->text = strdup(s->text)))) {
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
static int run(struct pg_track *t, const struct pg_statement *st)
{
	uint8_t *reply = NULL;
	size_t reply_len = 0;
	int verdict = t->obs->statement ? t->obs->statement(t->ctx, st, &reply, &reply_len) : 0;
	bool whole = st->path != PG_PATH_EXTENDED;
	int err;

	if (verdict == PG_TRACK_REFUSED || !whole) {
		err = push(t, OP_EXECUTE, NULL, NULL);
		if (err) {
			free(reply);
			return err;
		}
		t->tail->reply = reply;
		t->tail->reply_len = reply_len;
	}
	if (whole && (err = push(t, OP_SYNC, NULL, NULL)))
		return err;
	return verdict == PG_TRACK_REFUSED ? PG_TRACK_REFUSED : 0;
}

static int on_execute(struct pg_track *t, struct pg_reader *r)
{
	const char *portal = pg_get_str(r);
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
	uint8_t what = pg_get_u8(r);
	const char *name = pg_get_str(r);

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
	case 'D':
		return push(t, OP_DESCRIBE, NULL, NULL);
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
	if (t->obs->row_description)
		t->obs->row_description(t->ctx, t->columns, (uint16_t)n);
	return 0;
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

		o->named = NULL;
		if (replaced < 0) {
			t->bytes -= size;
			op_free(o);
			return -ENOMEM;
		}
		t->bytes -= (size_t)replaced;
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
	case OP_COPY_END:
		break;
	}
	op_free(o);
	return 0;
}

/* After an error the server skips everything up to the next Sync. */
static void discard_to_sync(struct pg_track *t)
{
	while (t->head && t->head->kind != OP_SYNC) {
		struct op *o = pop(t);

		if (o->named)
			t->bytes -= named_size(o->named);
		op_free(o);
	}
}

/* The request at the head was answered in full. */
static void answered(struct pg_track *t, enum op_kind kind)
{
	if (t->head && t->head->kind == kind)
		op_free(pop(t));
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
		op_free(o);
		if (end)
			return;
	}
	t->copy_in = true;
}

int pg_track_backend(struct pg_track *t, const struct pg_msg *m, uint8_t **reply,
		     size_t *reply_len)
{
	struct pg_reader r = pg_reader_of(m);
	const char *tag;
	int ret = 0;

	/* A CopyDone the server ignored (it was in no copy). */
	while (t->head && t->head->kind == OP_COPY_END)
		op_free(pop(t));
	switch (m->type) {
	case 'G':
		copy_in_started(t);
		return 0;
	case 'T':
		answered(t, OP_DESCRIBE);
		return on_row_description(t, &r);
	case 'n':
		answered(t, OP_DESCRIBE);
		return 0;
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
		discard_to_sync(t);
		return ret;
	case 'Z':
		answered(t, OP_SYNC);
		/* Outside a transaction no portal the server confirmed survives;
		 * Binds still pending are not touched. */
		if (pg_get_u8(&r) == 'I')
			t->bytes -= names_clear(&t->portals);
		return 0;
	default:
		return 0;
	}
}
