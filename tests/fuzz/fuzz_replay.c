// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: sluice-replay's reading and rendering of events (the
 * JSON lines of a recording's good chunks), fed any lines: the timeline,
 * the transcript, the JSON export and the list. Whatever the events say,
 * what reaches a terminal is valid UTF-8 with no control character but
 * newline, carriage return and tab, and the transcript's time never runs
 * backwards.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_export.h"
#include "replay_list.h"
#include "replay_render.h"
#include "replay_session.h"
#include "replay_text.h"

/* What a terminal would be shown: trap on anything it would act on. */
static void check_shown(const char *s, size_t len)
{
	char *copy = malloc(len + 1);

	memcpy(copy, s, len);
	for (size_t i = 0; i < len; i++)
		if (copy[i] == '\n' || copy[i] == '\r' || copy[i] == '\t')
			copy[i] = ' ';
	if (!text_json_safe(copy, len) || memchr(copy, 0x7f, len) ||
	    memmem(copy, len, "\xc2\x9b", 2) || memmem(copy, len, "\xe2\x80\xae", 3))
		__builtin_trap();
	free(copy);
}

static FILE *null_out;  /* where the transcript's frames go */

static int frame(void *ctx, int64_t at, const char *text, size_t len)
{
	int64_t *last = ctx;

	if (at < *last)
		__builtin_trap();
	*last = at;
	check_shown(text, len);
	return replay_cast_frame(null_out, at, text, len) ? -1 : 0;
}

/* Render s into memory with fn, and check what it made. */
static void rendered(const struct replay_session *s, int (*fn)(const struct replay_session *, FILE *),
		     bool shown)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	fn(s, f);
	fclose(f);
	if (shown)
		check_shown(buf, len);
	free(buf);
}

static int list_text(const struct replay_session *s, FILE *out)
{
	struct replay_session *v[1] = { (struct replay_session *)s };

	return replay_list(v, 1, false, out);
}

static int list_json(const struct replay_session *s, FILE *out)
{
	struct replay_session *v[1] = { (struct replay_session *)s };

	return replay_list(v, 1, true, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_session s;
	char *text = malloc(size + 1), *line, *next;
	int64_t last = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	replay_session_init(&s, "0123456789abcdef");
	s.keep = true;
	s.want_decision = "deny";
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		replay_session_add(&s, line);
	}
	rendered(&s, replay_show, true);
	rendered(&s, list_text, true);
	rendered(&s, list_json, false);
	rendered(&s, replay_export_json, false);
	if (!null_out && !(null_out = freopen("/dev/null", "w", stdout)))
		abort();
	replay_transcript(&s, frame, &last);
	replay_session_free(&s);
	free(text);
	return 0;
}
