/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_review: the access review of `sluicectl review` (docs/review.md).
 *
 * From the policy, the session recordings of the period (verified with the
 * recording key; a recording that does not verify is counted, not used)
 * and journald's refusals of callers that match no identity, it tells for
 * each identity what it reached and used, which of its grants it never
 * used, and ends with least-privilege suggestions; plus a catalogue of the
 * stored credentials. ctl_review_build() makes the JSON document (the
 * stable format); ctl_review_print() shows it as a table or markdown.
 * Return convention: 0 or a negative errno with one line in err.
 */
#ifndef SLUICE_CTL_REVIEW_H
#define SLUICE_CTL_REVIEW_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"

struct review_options {
	const struct policy *policy;
	const char *policy_file;
	const char *recordings_dir;  /* agent.recordings_dir unless given */
	const char *key_file;        /* <state_dir>/recording.key unless given */
	unsigned since_days;         /* the period: the last N days up to now */
	int64_t now;                 /* seconds since the epoch */
	bool journal;                /* read refusals from journald */
};

int ctl_review_build(const struct review_options *o, cJSON **out, char *err, size_t errlen);

enum review_format { REVIEW_TABLE, REVIEW_MARKDOWN };

void ctl_review_print(const cJSON *review, enum review_format f, FILE *out);

#endif
