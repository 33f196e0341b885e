/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_export: a session in formats other tools read (docs/sluice-replay.md).
 *
 * - asciicast v2: replay_cast_header(), then the transcript with
 *   replay_cast_frame as its frame callback (ctx: the FILE);
 * - JSON lines: the events as recorded, the session's id added, lines
 *   that are not JSON objects wrapped so that every line is one.
 * Return convention: 0 or -ENOMEM.
 */
#ifndef SLUICE_REPLAY_EXPORT_H
#define SLUICE_REPLAY_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "replay_session.h"

int replay_cast_header(const struct replay_session *s, FILE *out);
/* A replay_frame_fn: one output event, [seconds, "o", text]. */
int replay_cast_frame(void *out, int64_t at_us, const char *text, size_t len);

int replay_export_json(const struct replay_session *s, FILE *out);

#endif
