// SPDX-License-Identifier: Apache-2.0
/* replay_list: sessions in a line each, and their integrity. See replay_list.h. */
#include "replay_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *replay_integrity(const struct replay_session *s)
{
	switch (s->report.status) {
	case RECORDING_SEALED: return "sealed";
	case RECORDING_UNSEALED: return "unsealed";
	default: return "BAD";
	}
}

void replay_status(struct text *t, const struct replay_session *s)
{
	const struct recording_report *rep = &s->report;

	if (rep->status == RECORDING_BAD)
		text_printf(t, "BAD at offset %zu: %s", rep->bad_offset, rep->reason);
	else if (rep->status == RECORDING_UNSEALED)
		text_printf(t, "unsealed (intact up to its last chunk, agent stopped before closing), "
			    "%u chunks, %u events", rep->chunks, rep->events);
	else
		text_printf(t, "sealed, %u chunks, %u events", rep->chunks, rep->events);
}

enum { COL_START, COL_ID, COL_IDENTITY, COL_TARGET, COL_PROTOCOL, COL_DURATION, COL_STATEMENTS,
       COL_DENIED, COL_INTEGRITY, COLS };

static const char *const list_heads[COLS] = {
	"START", "ID", "IDENTITY", "TARGET", "PROTOCOL", "DURATION", "STATEMENTS", "DENIED",
	"INTEGRITY",
};

static void list_cells(struct text cell[COLS], const struct replay_session *s)
{
	if (s->start_us == REPLAY_UNKNOWN)
		text_puts(&cell[COL_START], "-");
	else
		text_time(&cell[COL_START], s->start_us);
	text_puts(&cell[COL_ID], s->id);
	text_name(&cell[COL_IDENTITY], s->identity, "-");
	text_name(&cell[COL_TARGET], s->target, "-");
	text_name(&cell[COL_PROTOCOL], s->protocol, "-");
	if (replay_session_duration(s) == REPLAY_UNKNOWN)
		text_puts(&cell[COL_DURATION], "-");
	else
		text_duration(&cell[COL_DURATION], replay_session_duration(s));
	text_printf(&cell[COL_STATEMENTS], "%u", s->statements);
	text_printf(&cell[COL_DENIED], "%u", s->denied);
	text_puts(&cell[COL_INTEGRITY], replay_integrity(s));
}

/* Counts aligned right, the rest left, two spaces between. */
static void list_line(FILE *out, struct text cell[COLS], const size_t width[COLS])
{
	for (int c = 0; c < COLS; c++) {
		const char *s = cell[c].s ? cell[c].s : "";
		size_t w = text_width(s, cell[c].len), pad = width[c] > w ? width[c] - w : 0;

		if (c == COL_STATEMENTS || c == COL_DENIED)
			fprintf(out, "%*s%s", (int)pad, "", s);
		else
			fprintf(out, "%s%*s", s, c + 1 < COLS ? (int)pad : 0, "");
		fputs(c + 1 < COLS ? "  " : "\n", out);
		text_clear(&cell[c]);
	}
}

static int list_text(struct replay_session *const *v, size_t n, FILE *out)
{
	struct text cell[COLS] = { 0 };
	size_t width[COLS];
	bool failed = false;

	for (int c = 0; c < COLS; c++)
		width[c] = strlen(list_heads[c]);
	for (size_t i = 0; i < n; i++) {
		list_cells(cell, v[i]);
		for (int c = 0; c < COLS; c++) {
			size_t w = text_width(cell[c].s ? cell[c].s : "", cell[c].len);

			width[c] = w > width[c] ? w : width[c];
			text_clear(&cell[c]);
		}
	}
	for (int c = 0; c < COLS; c++)
		text_puts(&cell[c], list_heads[c]);
	list_line(out, cell, width);
	for (size_t i = 0; i < n; i++) {
		list_cells(cell, v[i]);
		list_line(out, cell, width);
	}
	for (int c = 0; c < COLS; c++) {
		failed |= cell[c].failed;
		text_free(&cell[c]);
	}
	return failed ? -ENOMEM : 0;
}

/* Whole numbers printed as such (cJSON would write 16 digits as 1.7e+15). */
static void add_int(cJSON *o, const char *name, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	cJSON_AddRawToObject(o, name, buf);
}

static void add_str(cJSON *o, const char *name, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

static char *list_json(const struct replay_session *s)
{
	cJSON *o = cJSON_CreateObject();
	struct text start = { 0 };
	int64_t duration = replay_session_duration(s);
	char *line;

	if (!o)
		return NULL;
	add_str(o, "session", s->id);
	if (s->start_us != REPLAY_UNKNOWN) {
		text_time(&start, s->start_us);
		add_str(o, "start", start.failed ? NULL : start.s);
		add_int(o, "start_us", s->start_us);
	}
	add_str(o, "identity", s->identity);
	add_str(o, "target", s->target);
	add_str(o, "protocol", s->protocol);
	if (duration != REPLAY_UNKNOWN)
		add_int(o, "duration_ms", duration / 1000);
	add_int(o, "statements", s->statements);
	add_int(o, "denied", s->denied);
	add_str(o, "integrity", replay_integrity(s));
	add_int(o, "chunks", s->report.chunks);
	add_int(o, "events", s->report.events);
	if (s->report.status == RECORDING_BAD) {
		add_int(o, "bad_offset", (int64_t)s->report.bad_offset);
		add_str(o, "reason", s->report.reason);
	}
	line = cJSON_PrintUnformatted(o);
	text_free(&start);
	cJSON_Delete(o);
	return line;
}

int replay_list(struct replay_session *const *v, size_t n, bool json, FILE *out)
{
	if (!json)
		return list_text(v, n, out);
	for (size_t i = 0; i < n; i++) {
		char *line = list_json(v[i]);

		if (!line)
			return -ENOMEM;
		fprintf(out, "%s\n", line);
		free(line);
	}
	return 0;
}
