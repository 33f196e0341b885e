/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit: the trail a session leaves: its journald entries and the events
 * of its recording (docs/recording-format.md names every event and field).
 *
 * The proxy reports a session's life (admitted, refused, TLS, end); the
 * protocol modules add their own events with audit_begin() ...
 * audit_commit(), and their journald entries with the session's fields
 * (audit_fields_of()). What is handed in here must already be masked:
 * nothing here knows the policy's masks.
 * Event loop only: not thread-safe.
 */
#ifndef SLUICE_AUDIT_H
#define SLUICE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct json_out;
struct recorder;
struct session;

#define AUDIT_EVENT_BUDGET (128u << 10) /* the most one event takes */
/* A session's facts take up to 29 (CI variables and token claims
 * included); an event's own fields come after them. */
#define AUDIT_FIELDS_MAX 56

/* journald fields of one entry: "KEY=value" strings. */
struct audit_fields {
	char buf[AUDIT_FIELDS_MAX][600];
	const char *v[AUDIT_FIELDS_MAX];
	size_t n;
};

/* SLUICE_EVENT, SLUICE_SESSION, identity, target and the identity facts
 * (the rule is the event's own: not here). Valid while s is. */
void audit_fields_of(const struct session *s, const char *event, struct audit_fields *f);
void audit_field(struct audit_fields *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A session was admitted: open its recording (rec may be NULL: none kept)
 * and log its start. An error means it must be refused: its recording
 * cannot be opened and the policy blocks. */
int audit_session_start(struct session *s, struct recorder *rec);

/* A connection was refused before it became a session. */
void audit_refused(const struct session *s, const char *reason);

/* A TLS handshake on side is done. */
void audit_tls(struct session *s, enum proxy_side side);

/* Something broke the session at the protocol level (no secrets in it). */
void audit_error(struct session *s, const char *message);

/* Bytes of a byte-stream session, up to agent.record_stream_bytes a side. */
void audit_stream(struct session *s, enum proxy_side from, const uint8_t *p, size_t n);

/* The session ends: log it, then seal and close its recording. */
void audit_session_end(struct session *s, const char *reason);

/* An event of kind ev for s's recording: fill the returned object, then
 * commit it. NULL when the session is not recorded (skip the event). */
struct json_out *audit_begin(struct session *s, const char *ev);
void audit_commit(struct session *s);

/* The session's identity facts as member "facts" of j. */
void audit_json_facts(struct json_out *j, const struct session *s);

/* Statement decisions since the agent started, for status. */
struct audit_counts {
	uint64_t allow, deny, approve, would_deny, would_approve;
};

void audit_count(const char *decision);
const struct audit_counts *audit_counted(void);

/* Microseconds of the monotonic clock, as events' "mono". */
uint64_t audit_mono_us(void);

/* Free what audit keeps between events (at exit, for leak checkers). */
void audit_fini(void);

#endif
