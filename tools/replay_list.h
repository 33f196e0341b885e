/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_list: sessions summed up, one line (or JSON object) each, as
 * `sluice-replay list` prints them, and what verifying found. Names are
 * escaped for the terminal in the table and as recorded in JSON.
 * Return convention: 0 or -ENOMEM.
 */
#ifndef SLUICE_REPLAY_LIST_H
#define SLUICE_REPLAY_LIST_H

#include <stdbool.h>
#include <stdio.h>

#include "replay_session.h"
#include "replay_text.h"

/* The integrity word: sealed, unsealed, BAD. */
const char *replay_integrity(const struct replay_session *s);

/* What verifying found: "sealed, N chunks, M events", "unsealed (...)",
 * "BAD at offset O: reason". */
void replay_status(struct text *t, const struct replay_session *s);

/* The sessions in the order given: a header and a line each, or with json
 * a JSON object each. */
int replay_list(struct replay_session *const *v, size_t n, bool json, FILE *out);

#endif
