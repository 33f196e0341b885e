/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webhook: tell someone that an approval waits: an HTTP POST of its JSON
 * to agent.approval_webhook (http://HOST[:PORT][/PATH], HOST an IP address
 * or localhost: no name lookups on the event loop).
 *
 * Fire and forget, on the event loop: each post has 5 seconds, at most
 * WEBHOOK_MAX_POSTS are in flight, and any failure (refused, timed out, a
 * status other than 2xx) is logged. Nothing here decides anything: an
 * approval never depends on its notification.
 * Return convention: 0 or a negative errno.
 */
#ifndef SLUICE_WEBHOOK_H
#define SLUICE_WEBHOOK_H

#include <stdbool.h>

#define WEBHOOK_MAX_POSTS 32

struct ev_loop;
struct webhook;

/* NULL url: no webhook yet (posts go nowhere). -EINVAL for a URL it
 * cannot post to. */
int webhook_new(const char *url, struct ev_loop *loop, struct webhook **out);
void webhook_free(struct webhook *w);

/* Post to url (NULL: nowhere) from now on; posts in flight go on. -EINVAL
 * (logged) for a URL it cannot post to, and nothing changes. */
int webhook_set_url(struct webhook *w, const char *url);

/* Is there a URL to post to? */
bool webhook_active(const struct webhook *w);

/* Post body (a JSON object). w may be NULL. */
void webhook_post(struct webhook *w, const char *body);

#endif
