/* SPDX-License-Identifier: Apache-2.0 */
/*
 * recorder: the agent's session recordings (recording.h is the file
 * format): where they go, the host key, what a failure to write does, and
 * how long they are kept.
 *
 * Each session gets one recording, opened at its start. Events are queued
 * in memory and reach the disk every agent.record_flush_ms (a timer of the
 * recorder's) and when the session ends, so a killed agent loses at most
 * that interval. Writes are synchronous, on the
 * event loop: a local append of one compressed chunk per session and
 * interval.
 *
 * When a recording cannot be written, agent.on_record_failure decides:
 * "block" (the default) fails that session's recording for good (the
 * proxy ends the session) and new sessions are refused while a recording
 * cannot be opened; "continue" raises a journald alert once per session and
 * lets it run unrecorded. A chunk that cannot be written whole is taken
 * back, so the file stays verifiable either way.
 *
 * Retention: day folders older than agent.retention_days are removed at
 * start and then hourly.
 * Event loop only: not thread-safe. Return convention: 0 or a negative errno.
 */
#ifndef SLUICE_RECORDER_H
#define SLUICE_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct policy;
struct policy_agent;
struct recorder;
struct session_rec;

/* Load (or make) state_dir/recording.key, make recordings_dir, and start
 * the retention sweep. */
int recorder_new(const struct policy *p, struct ev_loop *loop, struct recorder **out);
void recorder_free(struct recorder *r);

/* Take on_record_failure and retention_days from a reloaded policy (the
 * folder and the flush period stay as they were at start). */
void recorder_configure(struct recorder *r, const struct policy_agent *a);

/* Open session id's recording. An error means the session must not start
 * when the policy blocks (recorder_blocks()); otherwise *out is NULL and
 * the session runs unrecorded (the failure was logged). */
int recorder_open(struct recorder *r, const char *id, struct session_rec **out);
bool recorder_blocks(const struct recorder *r);

/* Queue one event (a JSON line of len bytes; NULL: it could not be made).
 * A failure is handled as the policy says; sr may be NULL (an unrecorded
 * session). */
void recorder_add(struct session_rec *sr, const char *json, size_t len);

/* Has this session's recording failed so that the session must end
 * (before it forwards anything more)? */
bool recorder_failed(const struct session_rec *sr);

/* The file of a session's recording. */
const char *recorder_path(const struct session_rec *sr);

/* Flush, seal and close (NULL is fine). */
void recorder_close(struct session_rec *sr);

/* Remove day folders older than the retention (also run hourly). */
void recorder_sweep(struct recorder *r, int64_t now);

#endif
