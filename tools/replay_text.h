/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_text: text for people and terminals (text.h builds it).
 *
 * Everything a recording holds is untrusted: text_escape()
 * turns any bytes into valid UTF-8 that a terminal shows as-is (control
 * characters, invalid bytes and the invisible characters that reorder or
 * hide text become visible escapes such as \x1b or \u{202e}).
 */
#ifndef SLUICE_REPLAY_TEXT_H
#define SLUICE_REPLAY_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

/* Put s[0..n) escaped. eol NULL: one line, newlines and tabs escaped too.
 * Otherwise a newline (or CRLF) becomes eol and tabs stay. At most max
 * characters (0: no limit), then an ellipsis. */
void text_escape(struct text *t, const char *s, size_t n, const char *eol, size_t max);

/* A name from a recording (identity, target...) on one line: escaped, at
 * most TEXT_NAME_MAX characters; absent when it is NULL. */
#define TEXT_NAME_MAX 32
void text_name(struct text *t, const char *name, const char *absent);

/* Valid UTF-8 without control bytes: what strict JSON readers take. */
bool text_json_safe(const char *s, size_t n);

/* How many characters (code points) the valid UTF-8 s[0..n) shows. */
size_t text_width(const char *s, size_t n);

/* UTC wall clock, microseconds since the epoch: 2026-12-01 10:02:03, or ?
 * for a time no calendar shows. */
void text_time(struct text *t, int64_t us);

/* A duration in microseconds: 0.250s, 12.5s, 4m05s, 2h03m, 3d04h. */
void text_duration(struct text *t, int64_t us);

#endif
