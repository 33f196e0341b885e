// SPDX-License-Identifier: Apache-2.0
/* ctl_show: the agent's answers for people. See ctl_show.h. */
#include "ctl_show.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay_text.h"

#define EXE_MAX 40        /* characters of a program's path in a table */
#define TABLE_MAX_COLS 16
#define LAST_SECOND 253402300799LL /* 9999-12-31 23:59:59: what text_time shows */

/* ------------------------------------------------------------- values */

static const cJSON *field(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* A whole number that a double holds exactly (so the cast is defined). */
static bool json_int(const cJSON *v, long long *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || (double)(long long)d != d)
		return false;
	*out = (long long)d;
	return true;
}

/* Any value on one line: text escaped and cut after max characters (0: not
 * cut), numbers as written, lists joined by ", ", objects as JSON. */
static void put_value(struct text *t, const cJSON *v, size_t max)
{
	long long n;
	char *json;

	if (!v || cJSON_IsNull(v)) {
		text_puts(t, "-");
	} else if (cJSON_IsString(v)) {
		text_escape(t, v->valuestring, strlen(v->valuestring), NULL, max);
	} else if (json_int(v, &n)) {
		text_printf(t, "%lld", n);
	} else if (cJSON_IsNumber(v)) {
		text_printf(t, "%g", v->valuedouble);
	} else if (cJSON_IsBool(v)) {
		text_puts(t, cJSON_IsTrue(v) ? "true" : "false");
	} else if (cJSON_IsArray(v)) {
		if (!v->child)
			text_puts(t, "-");
		for (const cJSON *e = v->child; e; e = e->next) {
			put_value(t, e, max);
			text_puts(t, e->next ? ", " : "");
		}
	} else if ((json = cJSON_PrintUnformatted(v))) {
		text_escape(t, json, strlen(json), NULL, max);
		free(json);
	} else {
		t->failed = true;
	}
}

/* Seconds since the epoch as a UTC time. */
static void put_time(struct text *t, const cJSON *v)
{
	long long secs;

	if (json_int(v, &secs) && secs >= 0 && secs <= LAST_SECOND)
		text_time(t, secs * 1000000);
	else
		put_value(t, v, 0);
}

/* ------------------------------------------------------------- tables */

struct table {
	const char *const *heads;
	size_t ncols;
	unsigned right;       /* bit c: column c is aligned right */
	size_t nrows;         /* with the header */
	struct text *cell;    /* nrows * ncols, row by row */
};

/* Columns two spaces apart, each as wide as its widest cell. */
static void table_print(const struct table *t, FILE *out)
{
	size_t width[TABLE_MAX_COLS] = { 0 };

	for (size_t i = 0; i < t->nrows * t->ncols; i++) {
		size_t c = i % t->ncols, w = text_width(t->cell[i].s, t->cell[i].len);

		width[c] = w > width[c] ? w : width[c];
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++) {
		size_t c = i % t->ncols;
		const char *s = t->cell[i].s ? t->cell[i].s : "";
		int pad = (int)(width[c] - text_width(s, t->cell[i].len));
		bool last = c + 1 == t->ncols;

		if (t->right & (1u << c))
			fprintf(out, "%*s%s", pad, "", s);
		else
			fprintf(out, "%s%*s", s, last ? 0 : pad, "");
		fputs(last ? "\n" : "  ", out);
	}
}

typedef void fill_row(struct text *row, const cJSON *item, time_t now);

/* A header and a row for each item of answer's array list. */
static int show_table(const cJSON *answer, const char *list, struct table *t, fill_row *fill,
		      time_t now, FILE *out)
{
	const cJSON *items = field(answer, list), *item;
	size_t n = 0;
	int rc = 0;

	if (!cJSON_IsArray(items))
		return -EPROTO;
	cJSON_ArrayForEach(item, items)
		n++;
	t->nrows = n + 1;
	t->cell = calloc(t->nrows * t->ncols, sizeof(*t->cell));
	if (!t->cell)
		return -ENOMEM;
	for (size_t c = 0; c < t->ncols; c++)
		text_puts(&t->cell[c], t->heads[c]);
	n = 1;
	cJSON_ArrayForEach(item, items)
		fill(&t->cell[n++ * t->ncols], item, now);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		rc = t->cell[i].failed ? -ENOMEM : rc;
	if (!rc)
		table_print(t, out);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		text_free(&t->cell[i]);
	free(t->cell);
	return rc;
}

/* ------------------------------------------------------------- status */

/* Members of the status answer that are times. */
static bool is_time(const char *key)
{
	return !strcmp(key, "policy.loaded");
}

/* "key: value" for each member of o, nested objects as "outer.inner". */
static void status_lines(struct text *out, const char *prefix, const cJSON *o)
{
	for (const cJSON *m = o->child; m; m = m->next) {
		const char *name = m->string ? m->string : "";
		struct text key = { 0 };
		size_t len = strlen(name);
		long long secs;

		if (!*prefix && !strcmp(name, "ok"))
			continue;
		text_puts(&key, prefix);
		text_escape(&key, name, len, NULL, 0);
		if (key.failed) {
			out->failed = true;
		} else if (cJSON_IsObject(m)) {
			text_puts(&key, ".");
			status_lines(out, key.s, m);
		} else {
			text_printf(out, "%s: ", key.s);
			if (is_time(key.s))
				put_time(out, m);
			else
				put_value(out, m, 0);
			/* Seconds read better as a duration too: 3600 (1h00m). */
			if (len > 2 && !strcmp(name + len - 2, "_s") && json_int(m, &secs) &&
			    secs >= 0 && secs <= LAST_SECOND) {
				text_puts(out, " (");
				text_duration(out, secs * 1000000);
				text_puts(out, ")");
			}
			text_puts(out, "\n");
		}
		text_free(&key);
	}
}

int ctl_show_status(const cJSON *answer, FILE *out)
{
	struct text t = { 0 };
	int rc = 0;

	status_lines(&t, "", answer);
	if (t.failed)
		rc = -ENOMEM;
	else if (t.s)
		fputs(t.s, out);
	text_free(&t);
	return rc;
}

/* ----------------------------------------------------------- sessions */

enum { S_ID, S_IDENTITY, S_TARGET, S_PROTO, S_USER, S_PID, S_EXE, S_STARTED, S_WAITING,
       S_COLS };

static const char *const session_heads[S_COLS] = {
	"ID", "IDENTITY", "TARGET", "PROTO", "USER", "PID", "EXE", "STARTED", "WAITING",
};

static void session_row(struct text *row, const cJSON *s, time_t now)
{
	const cJSON *user = field(s, "user");

	(void)now;
	put_value(&row[S_ID], field(s, "id"), 0);
	put_value(&row[S_IDENTITY], field(s, "identity"), TEXT_NAME_MAX);
	put_value(&row[S_TARGET], field(s, "target"), TEXT_NAME_MAX);
	put_value(&row[S_PROTO], field(s, "protocol"), TEXT_NAME_MAX);
	/* A uid without a name (the user was removed) still says who. */
	put_value(&row[S_USER], cJSON_IsString(user) ? user : field(s, "uid"), TEXT_NAME_MAX);
	put_value(&row[S_PID], field(s, "pid"), 0);
	put_value(&row[S_EXE], field(s, "exe"), EXE_MAX);
	put_time(&row[S_STARTED], field(s, "started"));
	put_value(&row[S_WAITING], field(s, "waiting"), 0);
}

int ctl_show_sessions(const cJSON *answer, FILE *out)
{
	struct table t = { .heads = session_heads, .ncols = S_COLS, .right = 1u << S_PID };

	return show_table(answer, "sessions", &t, session_row, 0, out);
}

/* ---------------------------------------------------------- approvals */

enum { A_ID, A_SESSION, A_IDENTITY, A_TARGET, A_RULE, A_WHAT, A_ASKED, A_EXPIRES, A_STATEMENT,
       A_COLS };

static const char *const approval_heads[A_COLS] = {
	"ID", "SESSION", "IDENTITY", "TARGET", "RULE", "CLASS/KIND", "ASKED", "EXPIRES IN",
	"STATEMENT",
};

static void approval_row(struct text *row, const cJSON *a, time_t now)
{
	long long expires;

	put_value(&row[A_ID], field(a, "id"), 0);
	put_value(&row[A_SESSION], field(a, "session"), 0);
	put_value(&row[A_IDENTITY], field(a, "identity"), TEXT_NAME_MAX);
	put_value(&row[A_TARGET], field(a, "target"), TEXT_NAME_MAX);
	put_value(&row[A_RULE], field(a, "rule"), 0);
	put_value(&row[A_WHAT], field(a, "class"), TEXT_NAME_MAX);
	text_puts(&row[A_WHAT], "/");
	put_value(&row[A_WHAT], field(a, "kind"), TEXT_NAME_MAX);
	put_time(&row[A_ASKED], field(a, "asked"));
	if (!json_int(field(a, "expires"), &expires) || expires > LAST_SECOND)
		put_value(&row[A_EXPIRES], field(a, "expires"), 0);
	else if (expires <= now)
		text_puts(&row[A_EXPIRES], "expired");
	else
		text_duration(&row[A_EXPIRES], (expires - now) * 1000000);
	/* Never cut: the approver decides on all of it. */
	put_value(&row[A_STATEMENT], field(a, "statement"), 0);
}

int ctl_show_approvals(const cJSON *answer, time_t now, FILE *out)
{
	struct table t = { .heads = approval_heads, .ncols = A_COLS, .right = 1u << A_RULE };

	return show_table(answer, "approvals", &t, approval_row, now, out);
}
