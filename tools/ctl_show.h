/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_show: the agent's answers to read commands, for people: status as
 * "key: value" lines, sessions and approvals as aligned tables under a
 * header line, times in UTC (YYYY-MM-DD HH:MM:SS).
 *
 * Everything in an answer comes from the agent and is escaped for the
 * terminal (replay_text.h). A field that is absent or null shows as "-";
 * one of an unexpected type as what it holds, so a newer agent's answer
 * still shows. Return convention: 0, -EPROTO when the answer lacks the
 * list the command asked for (nothing written), or -ENOMEM.
 */
#ifndef SLUICE_CTL_SHOW_H
#define SLUICE_CTL_SHOW_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <time.h>

int ctl_show_status(const cJSON *answer, FILE *out);
int ctl_show_sessions(const cJSON *answer, FILE *out);
/* now: the wall clock, for the time left before each approval expires. */
int ctl_show_approvals(const cJSON *answer, time_t now, FILE *out);

#endif
