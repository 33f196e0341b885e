/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_render: a session's events as people read them (docs/sluice-replay.md).
 *
 * - replay_show(): the readable timeline of `sluice-replay show`;
 * - replay_transcript(): the session as a terminal transcript (a prompt,
 *   the statement, its rows as a table, its tag or error; tcp data as
 *   text), handed out as frames, each with its time from the start;
 *   `export --format asciicast` writes them, `play` paces them.
 *
 * Every field is untrusted: text is escaped for the terminal, fields of
 * unknown names or types and events of unknown kinds are shown as
 * name=value, and nothing in a recording can make these fail but memory.
 * Return convention: 0, -ENOMEM, or what a frame callback returned.
 */
#ifndef SLUICE_REPLAY_RENDER_H
#define SLUICE_REPLAY_RENDER_H

#include <stdint.h>
#include <stdio.h>

#include "replay_session.h"

int replay_show(const struct replay_session *s, FILE *out);

/* A frame: text to write at at_us microseconds from the session's start
 * (never earlier than the frame before). Nonzero stops the transcript. */
typedef int (*replay_frame_fn)(void *ctx, int64_t at_us, const char *text, size_t len);
int replay_transcript(const struct replay_session *s, replay_frame_fn frame, void *ctx);

#endif
