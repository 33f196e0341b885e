/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_client: one request to the agent's control socket and its answer
 * (docs/control.md): a JSON object on one line each way.
 *
 * The agent is a peer that may misbehave (a bug, an old version, something
 * else listening on the path): its answer is read within CTL_ANSWER_MAX
 * bytes and CTL_TIMEOUT_MS, and anything but one JSON object with a boolean
 * "ok" on one line is an error. Errors come back as one line of text in the
 * caller's buffer, naming the socket.
 * Return convention: 0 or a negative errno. No global state.
 */
#ifndef SLUICE_CTL_CLIENT_H
#define SLUICE_CTL_CLIENT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define CTL_REQUEST_MAX (64u << 10)  /* what the agent reads of a request line */
#define CTL_ANSWER_MAX  (16u << 20)  /* approvals and sessions lists can be long */
#define CTL_TIMEOUT_MS  10000        /* connect, send and the whole answer */

/* Send request to the agent listening at socket_path and read its answer
 * into *answer (release it with cJSON_Delete). */
int ctl_request(const char *socket_path, const cJSON *request, cJSON **answer,
		char *err, size_t errlen);

#endif
