/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_play: a session's transcript written to a terminal at the pace it
 * was recorded.
 *
 * Each wait is the recorded gap between two frames, shortened to at most
 * REPLAY_WAIT_MAX of recording time, then divided by the speed. When the
 * standard input and out are both terminals, keys steer it: space pauses
 * and resumes, s or the right arrow skips the wait, q (or ^C) quits; the
 * terminal is set back on return, a SIGINT, SIGTERM or SIGHUP included.
 * Returns 0 at the end or on q, -EINTR after one of those signals, another
 * negative errno when writing failed.
 */
#ifndef SLUICE_REPLAY_PLAY_H
#define SLUICE_REPLAY_PLAY_H

#include <stdio.h>

#include "replay_session.h"

#define REPLAY_WAIT_MAX 5000000  /* microseconds */

int replay_play(const struct replay_session *s, double speed, FILE *out);

#endif
