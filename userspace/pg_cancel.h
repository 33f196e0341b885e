/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_cancel: the agent's cancel keys.
 *
 * A job gets BackendKeyData with a random key the agent made, never the
 * server's. A CancelRequest arriving on a new connection is looked up here
 * and, when it names a live session, the server's own key is used on that
 * session's upstream. A job can only cancel what it holds the key of.
 * Single-threaded; entries die with their session.
 */
#ifndef SLUICE_PG_CANCEL_H
#define SLUICE_PG_CANCEL_H

#include <stdbool.h>
#include <stdint.h>

struct session;

struct pg_cancel_key {
	uint32_t pid;
	uint32_t secret;
};

/* Make a fresh job-facing key for s, which holds upstream's key.
 * 0 or -ENOMEM. */
int pg_cancel_register(struct session *s, const struct pg_cancel_key *upstream,
		       struct pg_cancel_key *job);

/* Forget a key (the session ends). */
void pg_cancel_forget(const struct pg_cancel_key *job);

/* The session a job key belongs to and the server's key, or NULL. */
struct session *pg_cancel_find(const struct pg_cancel_key *job, struct pg_cancel_key *upstream);

/* Free what is left (at exit). */
void pg_cancel_clear(void);

#endif
