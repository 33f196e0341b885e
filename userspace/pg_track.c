// SPDX-License-Identifier: Apache-2.0
/* pg_track: statements, portals and results of a session. See pg_track.h. */
#include "pg_track.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS 1664 /* PostgreSQL's own limit on a target list */

/* A prepared statement, or a portal (with its statement's text and the
 * bound parameters copied from Bind). */
struct named {
	char *name;
	char *text;
	char *statement;          /* portals: the statement name */
	struct pg_param *params;  /* portals */
	uint8_t *param_data;
	uint16_t nparams;
	struct named *next;
};

struct pg_track {
	const struct pg_observer *obs;
	void *ctx;
	struct named *statements, *portals;
	unsigned nstatements, nportals;
	struct pg_column *columns;
};

struct pg_track *pg_track_new(const struct pg_observer *obs, void *ctx)
{
	struct pg_track *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->columns = calloc(MAX_COLUMNS, sizeof(*t->columns));
	if (!t->columns) {
		free(t);
		return NULL;
	}
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

static void list_clear(struct named **list, unsigned *count)
{
	while (*list) {
		struct named *n = *list;

		*list = n->next;
		named_free(n);
	}
	*count = 0;
}

void pg_track_free(struct pg_track *t)
{
	if (!t)
		return;
	list_clear(&t->statements, &t->nstatements);
	list_clear(&t->portals, &t->nportals);
	free(t->columns);
	free(t);
}

static struct named **list_find(struct named **list, const char *name)
{
	for (; *list; list = &(*list)->next)
		if (!strcmp((*list)->name, name))
			return list;
	return NULL;
}

static void list_remove(struct named **list, unsigned *count, const char *name)
{
	struct named **p = list_find(list, name), *n;

	if (!p)
		return;
	n = *p;
	*p = n->next;
	named_free(n);
	(*count)--;
}

/* Put n in the list, replacing one of the same name. */
static int list_put(struct named **list, unsigned *count, struct named *n)
{
	list_remove(list, count, n->name);
	if (*count >= PG_TRACK_MAX_STATEMENTS) {
		named_free(n);
		return -ENOSPC;
	}
	n->next = *list;
	*list = n;
	(*count)++;
	return 0;
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
	return list_put(&t->statements, &t->nstatements, n);
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
	struct named **s, *n;
	int err;

	if (r->bad)
		return -EBADMSG;
	s = list_find(&t->statements, stmt);
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(portal)) || !(n->statement = strdup(stmt)) ||
	    (s && !(n->text = strdup((*s)->text)))) {
		if (n)
			named_free(n);
		return -ENOMEM;
	}
	err = read_bind(r, n, m->body, m->body_len);
	if (err) {
		named_free(n);
		return err;
	}
	return list_put(&t->portals, &t->nportals, n);
}

static int on_execute(struct pg_track *t, struct pg_reader *r)
{
	const char *portal = pg_get_str(r);
	struct named **p;
	struct pg_statement st = { .path = PG_PATH_EXTENDED, .portal = portal };

	if (r->bad)
		return -EBADMSG;
	p = list_find(&t->portals, portal);
	if (p) {
		st.text = (*p)->text;
		st.statement = (*p)->statement;
		st.nparams = (*p)->nparams;
		st.params = (*p)->params;
	}
	if (t->obs->statement)
		t->obs->statement(t->ctx, &st);
	return 0;
}

static int on_close(struct pg_track *t, struct pg_reader *r)
{
	uint8_t what = pg_get_u8(r);
	const char *name = pg_get_str(r);

	if (r->bad || (what != 'S' && what != 'P'))
		return -EBADMSG;
	if (what == 'S')
		list_remove(&t->statements, &t->nstatements, name);
	else
		list_remove(&t->portals, &t->nportals, name);
	return 0;
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
		if (t->obs->statement)
			t->obs->statement(t->ctx, &st);
		return 0;
	case 'P':
		return on_parse(t, &r);
	case 'B':
		return on_bind(t, m, &r);
	case 'E':
		return on_execute(t, &r);
	case 'C':
		return on_close(t, &r);
	case 'F':
		st.path = PG_PATH_FUNCTION;
		st.function_oid = (uint32_t)pg_get_i32(&r);
		if (r.bad)
			return -EBADMSG;
		if (t->obs->statement)
			t->obs->statement(t->ctx, &st);
		return 0;
	default:
		return 0;
	}
}

static int on_row_description(struct pg_track *t, struct pg_reader *r)
{
	int16_t n = pg_get_i16(r);

	if (r->bad || n < 0 || n > MAX_COLUMNS)
		return -EBADMSG;
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

int pg_track_backend(struct pg_track *t, const struct pg_msg *m)
{
	struct pg_reader r = pg_reader_of(m);
	const char *tag;

	switch (m->type) {
	case 'T':
		return on_row_description(t, &r);
	case 'C':
		tag = pg_get_str(&r);
		if (r.bad)
			return -EBADMSG;
		if (t->obs->command_complete)
			t->obs->command_complete(t->ctx, tag);
		return 0;
	default:
		return 0;
	}
}
