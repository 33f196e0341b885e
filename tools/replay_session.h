/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_session: one recording's events, read back (docs/recording-format.md).
 *
 * replay_session_add() takes the JSON lines recording_verify() hands out,
 * in order, and keeps a summary (who, where, when, how many statements);
 * with `keep` set it also keeps every event for the renderers. A line is
 * untrusted input: one that is not a JSON object is kept as a line with no
 * object, and a field of the wrong type counts as absent.
 * The session owns its events and strings; replay_session_free() frees
 * them and leaves a session that can be filled again.
 */
#ifndef SLUICE_REPLAY_SESSION_H
#define SLUICE_REPLAY_SESSION_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recording.h"

#define REPLAY_UNKNOWN INT64_MIN  /* a time or duration the recording does not give */

struct replay_event {
	char *line;    /* as recorded */
	cJSON *json;   /* the object, or NULL when the line is not one */
};

struct replay_session {
	char id[64];                     /* from the file's name */
	struct recording_report report;  /* what recording_verify() found */
	int64_t mtime_us;                /* the file's, for ordering when no event tells */

	/* Set before reading. */
	bool keep;                       /* keep the events */
	const char *want_decision;       /* look for a statement with this decision */

	/* The summary. */
	char *identity, *target, *protocol;  /* from session_start, or NULL */
	int64_t start_us;                /* wall clock of the start */
	int64_t first_mono, last_mono;   /* monotonic clock of the first and last events */
	int64_t end_ms;                  /* session_end's duration */
	unsigned statements, denied;
	bool decision_found;             /* a statement had want_decision */
	bool failed;                     /* out of memory: the session is incomplete */

	struct replay_event *events;     /* when keep */
	size_t nevents, cap;
};

/* Start empty (mtime_us, keep and want_decision are the caller's to set). */
void replay_session_init(struct replay_session *s, const char *id);

/* Add one event line; the shape of recording_verify()'s callback. */
void replay_session_add(void *session, const char *line);

/* Wall-clock duration: session_end's, else from the first to the last
 * event; REPLAY_UNKNOWN if neither is known. */
int64_t replay_session_duration(const struct replay_session *s);

void replay_session_free(struct replay_session *s);

/* Fields of an event. */
const char *json_str(const cJSON *o, const char *name);   /* a string, or NULL */
/* A finite number within what a double holds exactly, truncated. */
bool json_int(const cJSON *o, const char *name, int64_t *out);

#endif
