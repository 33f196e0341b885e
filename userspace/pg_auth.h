/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_auth: the client half of PostgreSQL authentication, as the agent
 * performs it toward the server with the target's stored password:
 * SCRAM-SHA-256 (RFC 5802/7677, with tls-server-end-point channel binding
 * for SCRAM-SHA-256-PLUS) and md5. Pure computation, no I/O.
 *
 * The password is never copied into error text. Callers wipe what they
 * hold; pg_scram_free() wipes the exchange's state.
 * Return convention: 0 or a negative errno; -EBADMSG for a malformed or
 * forged server message (a server signature that does not verify).
 */
#ifndef SLUICE_PG_AUTH_H
#define SLUICE_PG_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_MD5_RESPONSE_LEN 35 /* "md5" + 32 hex digits */

/* "md5" + md5hex(md5hex(password + user) + salt), NUL-terminated in out. */
void pg_md5_response(const char *user, const char *password, const uint8_t salt[4],
		     char out[PG_MD5_RESPONSE_LEN + 1]);

struct pg_scram;

/* Start an exchange. cbind (may be NULL) is the tls-server-end-point hash
 * of the server certificate: when given, SCRAM-SHA-256-PLUS is used. tls
 * says the connection is TLS (so channel binding was possible). */
int pg_scram_new(const char *password, const uint8_t *cbind, size_t cbind_len,
		 bool tls, struct pg_scram **out);
void pg_scram_free(struct pg_scram *s);

/* The mechanism name to send in SASLInitialResponse. */
const char *pg_scram_mechanism(const struct pg_scram *s);

/* client-first-message (pointer into the exchange's state). */
const char *pg_scram_client_first(struct pg_scram *s);

/* Take server-first-message, produce client-final-message. */
int pg_scram_client_final(struct pg_scram *s, const char *server_first, size_t len,
			  const char **client_final);

/* Verify server-final-message ("v=..."). Steps must come in order. */
int pg_scram_verify_server(struct pg_scram *s, const char *server_final, size_t len);

/* Has the server proved it knows the password? AuthenticationOk before
 * that is a server (or someone in the path) skipping the proof. */
bool pg_scram_verified(const struct pg_scram *s);

/* Forget the cached salted passwords (at exit). Derived keys of recent
 * (password, salt, iterations) are cached: PBKDF2 runs on the event loop. */
void pg_scram_clear_cache(void);

#endif
