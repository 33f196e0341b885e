// SPDX-License-Identifier: Apache-2.0
/* replay_render: a session's timeline and transcript. See replay_render.h. */
#include "replay_render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replay_list.h"
#include "replay_text.h"

#define J_STR  cJSON_String
#define J_NUM  cJSON_Number
#define J_BOOL (cJSON_True | cJSON_False)
#define J_ARR  cJSON_Array
#define J_OBJ  cJSON_Object

#define VALUE_MAX  200   /* characters of a value shown on one line */
#define CELL_MAX   80    /* of a table cell */
#define TEXT_MAX   4000  /* of a statement's text in the timeline (export has it all) */
#define TABLE_COLS 64    /* columns of a table shown */
#define INDENT     "           "  /* detail lines, under the timeline's offsets */

/* A field an event kind is known to have, and the JSON types it may take:
 * anything else in an event is shown as name=value. */
struct field {
	const char *name;
	int types;
};

static const struct field common_fields[] = {
	{ "ev", J_STR }, { "ts", J_NUM }, { "mono", J_NUM }, { 0 },
};

struct render;

struct kind {
	const char *ev;
	const struct field *fields;
	void (*show)(struct render *r, const cJSON *ev);
	void (*play)(struct render *r, const cJSON *ev);
	const char *said_as;  /* play NULL: the transcript's line is this, then what show writes */
};

struct render {
	const struct replay_session *s;
	const struct kind *kind;  /* of the event being rendered */
	struct text out;          /* what the event renders to */
	struct text cell;         /* scratch for measuring */
	const char *eol;
	const char *indent;       /* of table lines */
	size_t next;              /* the next event: a table takes its rows along */

	/* The transcript's. */
	replay_frame_fn frame;
	void *ctx;
	int64_t at;               /* time of the last frame */
	int64_t table_seq;        /* the statement whose rows were last shown */
	size_t table_rows;
	int64_t refused_seq;      /* the last refused statement, and what it was told */
	const char *refused_reason;
};

/* ----------------------------------------------------------------- values */

static bool field_known(const struct field *fields, const cJSON *v)
{
	for (; fields && fields->name; fields++)
		if (v->string && !strcmp(fields->name, v->string))
			return (v->type & 0xff & fields->types) != 0;
	return false;
}

static bool known(const struct render *r, const cJSON *v)
{
	return field_known(common_fields, v) || (r->kind && field_known(r->kind->fields, v));
}

/* The field if this kind knows it with this type, else NULL (it is then
 * shown with the unknown ones). */
static const cJSON *field(const struct render *r, const cJSON *ev, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, name);

	return v && known(r, v) ? v : NULL;
}

static void put_value(struct text *t, const cJSON *v, size_t max)
{
	char *json;

	if (cJSON_IsString(v)) {
		text_escape(t, v->valuestring, strlen(v->valuestring), NULL, max);
	} else if (cJSON_IsNumber(v) && v->valuedouble > -9e15 && v->valuedouble < 9e15 &&
		   v->valuedouble == (double)(long long)v->valuedouble) {
		text_printf(t, "%lld", (long long)v->valuedouble);
	} else if ((json = cJSON_PrintUnformatted(v))) {
		text_escape(t, json, strlen(json), NULL, max);
		free(json);
	} else {
		t->failed = true;
	}
}

/* label and the value of a field the kind knows, when present. */
static void put_field(struct render *r, const cJSON *ev, const char *name, const char *label)
{
	const cJSON *v = field(r, ev, name);

	if (!v)
		return;
	text_puts(&r->out, label);
	put_value(&r->out, v, VALUE_MAX);
}

/* The members of an object as name=value, but those the field lists
 * (either may be NULL) know; before goes ahead of the first. */
static void put_pairs(struct text *t, const cJSON *o, const struct field *known_a,
		      const struct field *known_b, const char *before)
{
	const char *sep = before;

	for (const cJSON *v = o->child; v; v = v->next) {
		if (field_known(known_a, v) || field_known(known_b, v))
			continue;
		text_puts(t, sep);
		text_escape(t, v->string ? v->string : "", v->string ? strlen(v->string) : 0, NULL,
			    VALUE_MAX);
		text_puts(t, "=");
		put_value(t, v, VALUE_MAX);
		sep = " ";
	}
}

/* The fields of ev its kind does not know. */
static void put_others(struct render *r, const cJSON *ev, const char *before)
{
	put_pairs(&r->out, ev, common_fields, r->kind ? r->kind->fields : NULL, before);
}

/* The elements of an array, joined. */
static void put_list(struct text *t, const cJSON *a, const char *sep)
{
	for (const cJSON *v = a ? a->child : NULL; v; v = v->next) {
		put_value(t, v, VALUE_MAX);
		if (v->next)
			text_puts(t, sep);
	}
}

static void put_params(struct text *t, const cJSON *params)
{
	int n = 1;

	for (const cJSON *v = params ? params->child : NULL; v; v = v->next, n++) {
		text_printf(t, "%s$%d = ", n > 1 ? ", " : "", n);
		if (cJSON_IsString(v)) {
			text_puts(t, "'");
			put_value(t, v, VALUE_MAX);
			text_puts(t, "'");
		} else if (cJSON_IsNull(v)) {
			text_puts(t, "NULL");
		} else {
			put_value(t, v, VALUE_MAX);
		}
	}
}

static bool same_seq(const cJSON *a, const cJSON *b)
{
	int64_t x, y;
	bool hx = json_int(a, "seq", &x), hy = json_int(b, "seq", &y);

	return hx == hy && (!hx || x == y);
}

static int64_t seq_of(const cJSON *ev)
{
	int64_t seq;

	return json_int(ev, "seq", &seq) ? seq : REPLAY_UNKNOWN;
}

/* Base64 into out (at least len * 3 / 4 bytes); its length, or -1. */
static long unbase64(const char *in, size_t len, unsigned char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned bits = 0, nbits = 0;
	long n = 0;

	while (len && in[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		const char *p = in[i] ? strchr(alphabet, in[i]) : NULL;

		if (!p)
			return -1;
		bits = (bits << 6 | (unsigned)(p - alphabet)) & 0xffffff;
		if ((nbits += 6) >= 8) {
			nbits -= 8;
			out[n++] = (unsigned char)(bits >> nbits);
		}
	}
	return n;
}

/* A data event's bytes, decoded into *bytes (the caller frees it); their
 * length, or -1 when b64 is missing or not base64. */
static long data_bytes(const struct render *r, const cJSON *ev, unsigned char **bytes)
{
	const cJSON *b64 = field(r, ev, "b64");
	size_t len = b64 ? strlen(b64->valuestring) : 0;

	*bytes = malloc(len * 3 / 4 + 1);
	return b64 && *bytes ? unbase64(b64->valuestring, len, *bytes) : -1;
}

/* ----------------------------------------------------------------- tables */

/* A cell as psql shows it: strings as they are, NULL empty. */
static void put_cell(struct text *t, const cJSON *v)
{
	if (v && !cJSON_IsNull(v))
		put_value(t, v, CELL_MAX);
}

static size_t cell_width(struct render *r, const cJSON *v)
{
	text_clear(&r->cell);
	put_cell(&r->cell, v);
	return text_width(r->cell.s ? r->cell.s : "", r->cell.len);
}

static void put_padded(struct render *r, const cJSON *v, size_t width, bool centre, bool last)
{
	size_t w = cell_width(r, v), pad = width > w ? width - w : 0;
	size_t left = centre ? pad / 2 : 0;

	text_printf(&r->out, "%*s", (int)(left + 1), "");
	text_put(&r->out, r->cell.s ? r->cell.s : "", r->cell.len);
	if (!last)
		text_printf(&r->out, "%*s", (int)(pad - left + 1), "");
}

/* The i-th value of an array, walking from a cursor kept per row. */
static const cJSON *next_value(const cJSON **cursor)
{
	const cJSON *v = *cursor;

	if (v)
		*cursor = v->next;
	return v;
}

/* The column names (NULL: none recorded) and the row events rows[0..n), as
 * a table: header, rule, one line per row. */
static void put_table(struct render *r, const cJSON *names, const struct replay_event *rows,
		      size_t n)
{
	size_t ncols = names ? (size_t)cJSON_GetArraySize(names) : 0, more = 0, c;
	size_t *width;

	for (size_t i = 0; i < n; i++) {
		c = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rows[i].json, "values"));
		ncols = c > ncols ? c : ncols;
	}
	if (ncols > TABLE_COLS) {
		more = ncols - TABLE_COLS;
		ncols = TABLE_COLS;
	}
	if (!ncols)
		return;
	if (!(width = calloc(ncols, sizeof(*width)))) {
		r->out.failed = true;
		return;
	}
	for (size_t i = 0; i <= n; i++) {
		const cJSON *cur = i == n ? (names ? names->child : NULL) :
			cJSON_GetObjectItemCaseSensitive(rows[i].json, "values")->child;

		for (c = 0; c < ncols; c++) {
			size_t w = cell_width(r, next_value(&cur));

			width[c] = w > width[c] ? w : width[c];
		}
	}
	if (names) {
		const cJSON *cur = names->child;

		text_puts(&r->out, r->indent);
		for (c = 0; c < ncols; c++) {
			put_padded(r, next_value(&cur), width[c], true, c + 1 == ncols);
			text_puts(&r->out, c + 1 < ncols ? "|" : r->eol);
		}
		text_puts(&r->out, r->indent);
		for (c = 0; c < ncols; c++) {
			for (size_t k = 0; k < width[c] + 2; k++)
				text_puts(&r->out, "-");
			text_puts(&r->out, c + 1 < ncols ? "+" : r->eol);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const cJSON *cur = cJSON_GetObjectItemCaseSensitive(rows[i].json, "values")->child;

		text_puts(&r->out, r->indent);
		for (c = 0; c < ncols; c++) {
			put_padded(r, next_value(&cur), width[c], false, c + 1 == ncols);
			text_puts(&r->out, c + 1 < ncols ? "|" : r->eol);
		}
	}
	if (more)
		text_printf(&r->out, "%s(%zu more columns not shown)%s", r->indent, more, r->eol);
	free(width);
}

static bool is_kind(const cJSON *ev, const char *kind)
{
	const char *k = json_str(ev, "ev");

	return k && !strcmp(k, kind);
}

static bool is_row(const cJSON *ev)
{
	return ev && is_kind(ev, "row") &&
	       cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(ev, "values"));
}

static const struct field row_fields[] = { { "seq", J_NUM }, { "values", J_ARR }, { 0 } };

/* A row with nothing the table would leave out. */
static bool is_plain_row(const cJSON *ev)
{
	if (!is_row(ev))
		return false;
	for (const cJSON *v = ev->child; v; v = v->next)
		if (!field_known(common_fields, v) && !field_known(row_fields, v))
			return false;
	return true;
}

/* A columns event or a row, with the plain rows of the same statement
 * that follow it, as one table; false for any other event. Sets r->next
 * past the rows taken. */
static bool table_run(struct render *r, size_t i, const cJSON **names, size_t *first, size_t *n)
{
	const struct replay_event *evs = r->s->events;
	const cJSON *ev = evs[i].json;
	size_t j;

	if (is_kind(ev, "columns") && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(ev, "names")))
		*names = cJSON_GetObjectItemCaseSensitive(ev, "names"), *first = i + 1;
	else if (is_row(ev))
		*names = NULL, *first = i;
	else
		return false;
	for (j = i + 1; j < r->s->nevents && is_plain_row(evs[j].json) && same_seq(ev, evs[j].json);
	     j++)
		;
	*n = j - *first;
	r->next = j;
	return true;
}

/* --------------------------------------------------------------- timeline */

static void show_start(struct render *r, const cJSON *ev)
{
	put_field(r, ev, "identity", " ");
	put_field(r, ev, "target", " -> ");
	put_field(r, ev, "protocol", " (");
	if (field(r, ev, "protocol"))
		text_puts(&r->out, ")");
	put_field(r, ev, "rule", "  rule ");
	put_field(r, ev, "client", "  client ");
	put_field(r, ev, "upstream", "  upstream ");
}

static void show_tls(struct render *r, const cJSON *ev)
{
	put_field(r, ev, "side", " ");
	put_field(r, ev, "version", " ");
	put_field(r, ev, "cipher", " ");
}

static void show_login(struct render *r, const cJSON *ev)
{
	put_field(r, ev, "user", " user ");
	put_field(r, ev, "database", "  database ");
	put_field(r, ev, "upstream_user", "  as ");
	put_field(r, ev, "auth", "  auth ");
}

static void show_statement(struct render *r, const cJSON *ev)
{
	const cJSON *text = field(r, ev, "text"), *params = field(r, ev, "params");
	const cJSON *tables = field(r, ev, "tables");

	put_field(r, ev, "seq", " #");
	put_field(r, ev, "decision", "  ");
	put_field(r, ev, "rule", "  rule ");
	put_field(r, ev, "class", "  class ");
	put_field(r, ev, "kind", "  kind ");
	if (tables && tables->child) {
		text_puts(&r->out, "  tables ");
		put_list(&r->out, tables, ", ");
	}
	put_field(r, ev, "path", "  (");
	if (field(r, ev, "path"))
		text_puts(&r->out, ")");
	if (text) {
		text_puts(&r->out, "\n" INDENT);
		text_escape(&r->out, text->valuestring, strlen(text->valuestring), "\n" INDENT,
			    TEXT_MAX);
	}
	put_field(r, ev, "reason", "\n" INDENT "reason: ");
	if (cJSON_IsTrue(field(r, ev, "normalized")))
		text_puts(&r->out, "\n" INDENT "normalized: constants replaced by $n");
	if (cJSON_IsTrue(field(r, ev, "params_masked")))
		text_puts(&r->out, "\n" INDENT "parameters withheld");
	if (params && params->child) {
		text_puts(&r->out, "\n" INDENT "params: ");
		put_params(&r->out, params);
	}
	if (field(r, ev, "prepared") || field(r, ev, "portal") || field(r, ev, "function_oid"))
		text_puts(&r->out, "\n" INDENT);
	put_field(r, ev, "prepared", "prepared ");
	put_field(r, ev, "portal", " portal ");
	put_field(r, ev, "function_oid", " function oid ");
}

static const struct field sql_error_fields[] = {
	{ "sqlstate", J_STR }, { "message", J_STR }, { 0 },
};

static void show_result(struct render *r, const cJSON *ev)
{
	const cJSON *error = field(r, ev, "error");
	int64_t us;

	put_field(r, ev, "seq", " #");
	put_field(r, ev, "tag", "  ");
	put_field(r, ev, "rows", "  rows ");
	if (error) {
		text_puts(&r->out, "  ERROR");
		if (json_str(error, "sqlstate")) {
			text_puts(&r->out, " ");
			put_value(&r->out, cJSON_GetObjectItemCaseSensitive(error, "sqlstate"), 16);
		}
		text_puts(&r->out, ": ");
		if (json_str(error, "message"))
			put_value(&r->out, cJSON_GetObjectItemCaseSensitive(error, "message"), VALUE_MAX);
		put_pairs(&r->out, error, sql_error_fields, NULL, "  ");
	}
	if (field(r, ev, "us") && json_int(ev, "us", &us))
		text_printf(&r->out, "  %.3f ms", (double)us / 1e3);
	put_field(r, ev, "rows_left_out", "  rows left out ");
}

static void show_data(struct render *r, const cJSON *ev)
{
	unsigned char *bytes;
	long n = data_bytes(r, ev, &bytes);

	put_field(r, ev, "from", " from ");
	if (n < 0) {
		put_field(r, ev, "b64", "  b64 (not base64) ");
	} else {
		text_printf(&r->out, "  %ld bytes  \"", n);
		text_escape(&r->out, (const char *)bytes, (size_t)n, NULL, VALUE_MAX);
		text_puts(&r->out, "\"");
	}
	free(bytes);
}

static void show_error(struct render *r, const cJSON *ev)
{
	put_field(r, ev, "message", "  ");
}

static void show_end(struct render *r, const cJSON *ev)
{
	int64_t ms;

	put_field(r, ev, "reason", "  ");
	put_field(r, ev, "bytes_up", "  bytes up ");
	put_field(r, ev, "bytes_down", "  down ");
	if (field(r, ev, "ms") && json_int(ev, "ms", &ms)) {
		text_puts(&r->out, "  ");
		text_duration(&r->out, ms < 0 ? -1 : ms * 1000);
	}
	put_field(r, ev, "stream_bytes_left_out", "  stream bytes left out ");
}

/* -------------------------------------------------------------- transcript */

static void play_start(struct render *r, const cJSON *ev)
{
	text_printf(&r->out, "-- sluice session %s:", r->s->id);
	show_start(r, ev);
	text_puts(&r->out, r->eol);
}

static void play_statement(struct render *r, const cJSON *ev)
{
	const cJSON *text = field(r, ev, "text"), *params = field(r, ev, "params");
	const char *decision = json_str(ev, "decision");

	text_name(&r->out, r->s->identity, "?");
	text_puts(&r->out, "@");
	text_name(&r->out, r->s->target, "?");
	text_puts(&r->out, "=> ");
	if (text)
		text_escape(&r->out, text->valuestring, strlen(text->valuestring), r->eol, 0);
	else
		put_field(r, ev, "function_oid", "-- function call, oid ");
	text_puts(&r->out, r->eol);
	if (params && params->child) {
		text_puts(&r->out, "-- ");
		put_params(&r->out, params);
		text_puts(&r->out, r->eol);
	}
	if (cJSON_IsTrue(field(r, ev, "params_masked")))
		text_printf(&r->out, "-- parameters withheld%s", r->eol);
	if (!decision || !strcmp(decision, "allow"))
		return;
	if (!strcmp(decision, "deny")) {
		r->refused_seq = seq_of(ev);
		r->refused_reason = json_str(ev, "reason");
		text_puts(&r->out, "ERROR:  ");
		if (r->refused_reason)
			put_field(r, ev, "reason", "");
		else
			text_puts(&r->out, "refused by the policy");
		text_printf(&r->out, "%sDETAIL:  decision deny", r->eol);
	} else {
		text_puts(&r->out, "NOTICE:  decision ");
		put_value(&r->out, cJSON_GetObjectItemCaseSensitive(ev, "decision"), VALUE_MAX);
		put_field(r, ev, "reason", ": ");
	}
	put_field(r, ev, "rule", ", rule ");
	text_puts(&r->out, r->eol);
}

static void play_table(struct render *r, const cJSON *names, size_t first, size_t n)
{
	put_table(r, names, r->s->events + first, n);
	r->table_seq = seq_of(r->s->events[r->next - 1].json);
	r->table_rows = n;
}

static void play_result(struct render *r, const cJSON *ev)
{
	const cJSON *error = field(r, ev, "error");
	const char *message = json_str(error, "message");
	int64_t seq = seq_of(ev), rows, left_out;

	if (error) {
		/* The refusal the statement showed, unless the job was told more. */
		if (seq != REPLAY_UNKNOWN && seq == r->refused_seq && message && r->refused_reason &&
		    !strcmp(message, r->refused_reason))
			return;
		text_puts(&r->out, "ERROR:  ");
		if (message)
			put_value(&r->out, cJSON_GetObjectItemCaseSensitive(error, "message"), 0);
		text_puts(&r->out, r->eol);
		return;
	}
	if (seq != REPLAY_UNKNOWN && seq == r->table_seq) {
		if (!field(r, ev, "rows") || !json_int(ev, "rows", &rows))
			rows = (int64_t)r->table_rows;
		text_printf(&r->out, "(%lld row%s)%s", (long long)rows, rows == 1 ? "" : "s", r->eol);
	} else {
		put_field(r, ev, "tag", "");
		text_puts(&r->out, r->eol);
	}
	if (field(r, ev, "rows_left_out") && json_int(ev, "rows_left_out", &left_out) && left_out)
		text_printf(&r->out, "-- %lld more rows not recorded%s", (long long)left_out, r->eol);
	text_puts(&r->out, r->eol);
}

static void play_data(struct render *r, const cJSON *ev)
{
	unsigned char *bytes;
	long n = data_bytes(r, ev, &bytes);

	if (n >= 0)
		text_escape(&r->out, (const char *)bytes, (size_t)n, r->eol, 0);
	else
		text_printf(&r->out, "-- data that is not base64%s", r->eol);
	free(bytes);
}

/* ------------------------------------------------------------------ kinds */

static const struct field start_fields[] = {
	{ "session", J_STR }, { "protocol", J_STR }, { "target", J_STR }, { "identity", J_STR },
	{ "rule", J_NUM | J_STR }, { "client", J_STR }, { "upstream", J_STR }, { "facts", J_OBJ },
	{ 0 },
};
static const struct field tls_fields[] = {
	{ "side", J_STR }, { "version", J_STR }, { "cipher", J_STR }, { 0 },
};
static const struct field login_fields[] = {
	{ "user", J_STR }, { "database", J_STR }, { "upstream_user", J_STR }, { "auth", J_STR },
	{ 0 },
};
static const struct field statement_fields[] = {
	{ "seq", J_NUM }, { "path", J_STR }, { "text", J_STR }, { "normalized", J_BOOL },
	{ "params", J_ARR }, { "params_masked", J_BOOL }, { "prepared", J_STR },
	{ "portal", J_STR }, { "function_oid", J_NUM }, { "decision", J_STR },
	{ "rule", J_NUM | J_STR }, { "class", J_STR }, { "kind", J_STR }, { "tables", J_ARR },
	{ "reason", J_STR }, { 0 },
};
static const struct field result_fields[] = {
	{ "seq", J_NUM }, { "tag", J_STR }, { "rows", J_NUM }, { "us", J_NUM },
	{ "rows_left_out", J_NUM }, { "error", J_OBJ }, { 0 },
};
static const struct field data_fields[] = {
	{ "from", J_STR }, { "b64", J_STR }, { 0 },
};
static const struct field error_fields[] = {
	{ "message", J_STR }, { 0 },
};
static const struct field end_fields[] = {
	{ "reason", J_STR }, { "bytes_up", J_NUM }, { "bytes_down", J_NUM }, { "ms", J_NUM },
	{ "stream_bytes_left_out", J_NUM }, { 0 },
};
/* A table's: shown by put_table, never through these. */
static const struct field columns_fields[] = { { "seq", J_NUM }, { "names", J_ARR }, { 0 } };

static const struct kind kinds[] = {
	{ "session_start", start_fields, show_start, play_start, NULL },
	{ "tls", tls_fields, show_tls, NULL, "-- tls" },
	{ "login", login_fields, show_login, NULL, "-- login" },
	{ "statement", statement_fields, show_statement, play_statement, NULL },
	{ "columns", columns_fields, NULL, NULL, NULL },
	{ "row", row_fields, NULL, NULL, NULL },
	{ "result", result_fields, show_result, play_result, NULL },
	{ "data", data_fields, show_data, play_data, NULL },
	{ "error", error_fields, show_error, NULL, "FATAL:" },
	{ "session_end", end_fields, show_end, NULL, "-- session ended" },
};

static const struct kind *find_kind(const cJSON *ev)
{
	const char *name = json_str(ev, "ev");

	for (size_t i = 0; name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].ev, name))
			return &kinds[i];
	return NULL;
}

/* The kind's name as the event gives it, escaped; or what is missing. */
static void put_kind(struct render *r, const cJSON *ev)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, "ev");

	if (cJSON_IsString(v))
		put_value(&r->out, v, VALUE_MAX);
	else
		text_puts(&r->out, "(event of no kind)");
}

/* ------------------------------------------------------------ the whole */

static void render_init(struct render *r, const struct replay_session *s, const char *eol,
			const char *indent)
{
	*r = (struct render){ .s = s, .eol = eol, .indent = indent,
			      .table_seq = REPLAY_UNKNOWN, .refused_seq = REPLAY_UNKNOWN };
}

static int render_done(struct render *r)
{
	int err = r->out.failed || r->cell.failed ? -ENOMEM : 0;

	text_free(&r->out);
	text_free(&r->cell);
	return err;
}

static void flush_out(struct render *r, FILE *out)
{
	fwrite(r->out.s ? r->out.s : "", 1, r->out.len, out);
	text_clear(&r->out);
}

static void show_header_line(struct render *r, const char *label, const cJSON *ev,
			     const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, name);

	if (!v)
		return;
	text_printf(&r->out, "%-10s ", label);
	put_value(&r->out, v, VALUE_MAX);
	text_puts(&r->out, "\n");
}

static void show_header(struct render *r)
{
	const cJSON *start = NULL, *login = NULL, *facts;

	for (size_t i = 0; i < r->s->nevents; i++) {
		const cJSON *ev = r->s->events[i].json;

		if (!start && is_kind(ev, "session_start"))
			start = ev;
		else if (!login && is_kind(ev, "login"))
			login = ev;
	}
	text_printf(&r->out, "%-10s %s\n%-10s ", "session", r->s->id, "started");
	text_time(&r->out, r->s->start_us);
	text_puts(&r->out, " UTC\n");
	show_header_line(r, "identity", start, "identity");
	facts = cJSON_GetObjectItemCaseSensitive(start, "facts");
	if (cJSON_IsObject(facts) && facts->child) {
		text_printf(&r->out, "%-10s", "facts");
		put_pairs(&r->out, facts, NULL, NULL, " ");
		text_puts(&r->out, "\n");
	}
	show_header_line(r, "target", start, "target");
	show_header_line(r, "protocol", start, "protocol");
	show_header_line(r, "rule", start, "rule");
	show_header_line(r, "client", start, "client");
	show_header_line(r, "upstream", start, "upstream");
	for (size_t i = 0; i < r->s->nevents; i++) {
		if (is_kind(r->s->events[i].json, "tls")) {
			r->kind = find_kind(r->s->events[i].json);
			text_printf(&r->out, "%-10s", "tls");
			show_tls(r, r->s->events[i].json);
			text_puts(&r->out, "\n");
		}
	}
	if (login) {
		r->kind = find_kind(login);
		text_printf(&r->out, "%-10s", "login");
		show_login(r, login);
		text_puts(&r->out, "\n");
	}
	text_puts(&r->out, "\n");
}

static void show_event(struct render *r, size_t i)
{
	const cJSON *ev = r->s->events[i].json, *names;
	const char *line = r->s->events[i].line;
	size_t first, n;
	int64_t mono;
	char offset[32];

	if (!ev) {
		text_printf(&r->out, "%-10s (not a JSON object) ", "?");
		text_escape(&r->out, line, strlen(line), NULL, VALUE_MAX);
		text_puts(&r->out, "\n");
		return;
	}
	if (json_int(ev, "mono", &mono) && r->s->first_mono != REPLAY_UNKNOWN)
		snprintf(offset, sizeof(offset), "%+.3fs", (double)(mono - r->s->first_mono) / 1e6);
	else
		snprintf(offset, sizeof(offset), "?");
	text_printf(&r->out, "%-10s ", offset);
	r->kind = find_kind(ev);
	put_kind(r, ev);
	if (table_run(r, i, &names, &first, &n)) {
		put_field(r, ev, "seq", " #");
		text_printf(&r->out, "  %zu row%s recorded", n, n == 1 ? "" : "s");
		put_others(r, ev, "  ");
		text_puts(&r->out, "\n");
		put_table(r, names, r->s->events + first, n);
		return;
	}
	if (r->kind && r->kind->show) {
		r->kind->show(r, ev);
		put_others(r, ev, "\n" INDENT);
	} else {
		put_others(r, ev, "  ");
	}
	text_puts(&r->out, "\n");
}

int replay_show(const struct replay_session *s, FILE *out)
{
	struct render r;

	render_init(&r, s, "\n", INDENT);
	show_header(&r);
	flush_out(&r, out);
	for (size_t i = 0; i < s->nevents; i = r.next) {
		r.next = i + 1;
		show_event(&r, i);
		flush_out(&r, out);
	}
	text_printf(&r.out, "\n%-10s ", "integrity");
	replay_status(&r.out, s);
	text_puts(&r.out, "\n");
	flush_out(&r, out);
	return render_done(&r);
}

/* Hand out what the event rendered, at its time (or the last event's in a
 * table run), never before the frame before. */
static int emit(struct render *r, const cJSON *ev)
{
	int64_t mono;

	if (!r->out.len)
		return 0;
	if (json_int(ev, "mono", &mono) && r->s->first_mono != REPLAY_UNKNOWN &&
	    mono - r->s->first_mono > r->at)
		r->at = mono - r->s->first_mono;
	if (r->out.failed)
		return -ENOMEM;
	return r->frame(r->ctx, r->at, r->out.s, r->out.len);
}

int replay_transcript(const struct replay_session *s, replay_frame_fn frame, void *ctx)
{
	struct render r;
	const cJSON *names;
	size_t first, n;
	int err = 0, done;

	render_init(&r, s, "\r\n", "");
	r.frame = frame;
	r.ctx = ctx;
	for (size_t i = 0; i < s->nevents && !err; i = r.next) {
		const cJSON *ev = s->events[i].json;

		r.next = i + 1;
		if (!ev)
			continue;
		r.kind = find_kind(ev);
		if (table_run(&r, i, &names, &first, &n)) {
			play_table(&r, names, first, n);
		} else if (r.kind && r.kind->play) {
			r.kind->play(&r, ev);
		} else if (r.kind && r.kind->said_as) {
			text_puts(&r.out, r.kind->said_as);
			r.kind->show(&r, ev);
			text_puts(&r.out, r.eol);
		} else {
			text_puts(&r.out, "-- ");
			put_kind(&r, ev);
			put_others(&r, ev, ": ");
			text_puts(&r.out, r.eol);
		}
		err = emit(&r, s->events[r.next - 1].json);
		text_clear(&r.out);
	}
	done = render_done(&r);
	return err ? err : done;
}
