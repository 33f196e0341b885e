// SPDX-License-Identifier: Apache-2.0
/* replay_session: a recording's events and their summary. See replay_session.h. */
#include "replay_session.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool json_int(const cJSON *o, const char *name, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	/* 2^53: beyond it a double skips integers, and converting an infinity
	 * (cJSON reads 1e999 as one) would be undefined. */
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 9007199254740992.0)
		return false;
	*out = (int64_t)v->valuedouble;
	return true;
}

static void reset_summary(struct replay_session *s)
{
	s->identity = s->target = s->protocol = NULL;
	s->start_us = s->first_mono = s->last_mono = s->end_ms = REPLAY_UNKNOWN;
	s->statements = s->denied = 0;
	s->decision_found = s->failed = false;
	s->events = NULL;
	s->nevents = s->cap = 0;
}

void replay_session_init(struct replay_session *s, const char *id)
{
	*s = (struct replay_session){ 0 };
	snprintf(s->id, sizeof(s->id), "%s", id);
	reset_summary(s);
}

/* A copy of the string field, for the summary; false when out of memory. */
static bool keep_str(char **dst, const cJSON *o, const char *name)
{
	const char *v = json_str(o, name);

	if (*dst || !v)
		return true;
	return (*dst = strdup(v)) != NULL;
}

static void summarise(struct replay_session *s, const cJSON *ev)
{
	const char *kind = json_str(ev, "ev"), *decision;
	int64_t ts, mono, ms;

	if (json_int(ev, "mono", &mono)) {
		if (s->first_mono == REPLAY_UNKNOWN)
			s->first_mono = mono;
		if (s->last_mono == REPLAY_UNKNOWN || mono > s->last_mono)
			s->last_mono = mono;
	}
	if (!kind)
		return;
	/* The start is session_start's clock; any event's until it comes. */
	if (json_int(ev, "ts", &ts) && (s->start_us == REPLAY_UNKNOWN || !strcmp(kind, "session_start")))
		s->start_us = ts;
	if (!strcmp(kind, "session_start")) {
		if (!keep_str(&s->identity, ev, "identity") || !keep_str(&s->target, ev, "target") ||
		    !keep_str(&s->protocol, ev, "protocol"))
			s->failed = true;
	} else if (!strcmp(kind, "statement")) {
		decision = json_str(ev, "decision");
		s->statements++;
		s->denied += decision && !strcmp(decision, "deny");
		if (decision && s->want_decision && !strcmp(decision, s->want_decision))
			s->decision_found = true;
	} else if (!strcmp(kind, "session_end") && json_int(ev, "ms", &ms)) {
		s->end_ms = ms;
	}
}

static bool keep_event(struct replay_session *s, const char *line, cJSON *json)
{
	struct replay_event *ev;
	size_t cap;

	if (s->nevents == s->cap) {
		cap = s->cap ? s->cap * 2 : 64;
		if (!(ev = realloc(s->events, cap * sizeof(*ev))))
			return false;
		s->events = ev;
		s->cap = cap;
	}
	if (!(s->events[s->nevents].line = strdup(line)))
		return false;
	s->events[s->nevents++].json = json;
	return true;
}

void replay_session_add(void *session, const char *line)
{
	struct replay_session *s = session;
	const char *end = NULL;
	cJSON *json = cJSON_ParseWithOpts(line, &end, true);

	if (json && !cJSON_IsObject(json)) {
		cJSON_Delete(json);
		json = NULL;
	}
	if (json)
		summarise(s, json);
	if (!s->keep) {
		cJSON_Delete(json);
	} else if (!keep_event(s, line, json)) {
		cJSON_Delete(json);
		s->failed = true;
	}
}

int64_t replay_session_duration(const struct replay_session *s)
{
	if (s->end_ms != REPLAY_UNKNOWN && s->end_ms >= 0)
		return s->end_ms * 1000;
	if (s->first_mono != REPLAY_UNKNOWN)
		return s->last_mono - s->first_mono;
	return REPLAY_UNKNOWN;
}

void replay_session_free(struct replay_session *s)
{
	for (size_t i = 0; i < s->nevents; i++) {
		free(s->events[i].line);
		cJSON_Delete(s->events[i].json);
	}
	free(s->events);
	free(s->identity);
	free(s->target);
	free(s->protocol);
	reset_summary(s);
}
