// SPDX-License-Identifier: Apache-2.0
/* replay_export: asciicast and JSON lines. See replay_export.h. */
#include "replay_export.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replay_text.h"

/* s as a JSON string (quoted and escaped); NULL when out of memory. */
static char *json_quote(const char *s)
{
	cJSON *str = cJSON_CreateString(s);
	char *out = str ? cJSON_PrintUnformatted(str) : NULL;

	cJSON_Delete(str);
	return out;
}

int replay_cast_header(const struct replay_session *s, FILE *out)
{
	struct text title = { 0 };
	char *quoted;

	text_printf(&title, "sluice session %s: ", s->id);
	text_name(&title, s->identity, "?");
	text_puts(&title, " -> ");
	text_name(&title, s->target, "?");
	quoted = title.failed ? NULL : json_quote(title.s);
	text_free(&title);
	if (!quoted)
		return -ENOMEM;
	fprintf(out, "{\"version\": 2, \"width\": 120, \"height\": 40, ");
	if (s->start_us != REPLAY_UNKNOWN && s->start_us >= 0)
		fprintf(out, "\"timestamp\": %lld, ", (long long)(s->start_us / 1000000));
	fprintf(out, "\"title\": %s}\n", quoted);
	free(quoted);
	return 0;
}

int replay_cast_frame(void *out, int64_t at_us, const char *text, size_t len)
{
	char *quoted = json_quote(text);

	(void)len; /* text is escaped: no NUL inside */
	if (!quoted)
		return -ENOMEM;
	fprintf(out, "[%lld.%06lld, \"o\", %s]\n", (long long)(at_us / 1000000),
		(long long)(at_us % 1000000), quoted);
	free(quoted);
	return 0;
}

int replay_export_json(const struct replay_session *s, FILE *out)
{
	char *id = json_quote(s->id), *line;
	struct text t = { 0 };
	int err = 0;

	for (size_t i = 0; id && i < s->nevents && !err; i++) {
		const struct replay_event *ev = &s->events[i];
		const char *brace = strchr(ev->line, '{');

		/* Strict JSON readers refuse invalid UTF-8 and raw control bytes. */
		if (ev->json && brace && text_json_safe(ev->line, strlen(ev->line))) {
			/* As recorded, with the session's id first unless it has one. */
			if (cJSON_HasObjectItem(ev->json, "session"))
				fprintf(out, "%s\n", ev->line);
			else
				fprintf(out, "{\"session\":%s%s%s\n", id, ev->json->child ? "," : "",
					brace + 1);
			continue;
		}
		text_clear(&t);
		text_escape(&t, ev->line, strlen(ev->line), NULL, 0);
		line = t.failed ? NULL : json_quote(t.s ? t.s : "");

		if (line)
			fprintf(out, "{\"session\":%s,\"ev\":\"invalid\",\"line\":%s}\n", id, line);
		else
			err = -ENOMEM;
		free(line);
	}
	text_free(&t);
	if (!id)
		err = -ENOMEM;
	free(id);
	return err;
}
