/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt: verify an OIDC ID token (a compact JWS) locally, against the keys
 * of a JWKS document, and read its claims.
 *
 * Accepted: RS256 (RSA keys of 2048 bits or more) and ES256 (P-256).
 * Refused, each with its reason: "alg" none, HMAC or anything else; a key
 * of the wrong type for the algorithm (an HS256 token "signed" with a
 * public key); a "kid" the JWKS does not hold; a bad signature; "exp"
 * past or "nbf" ahead (beyond skew); "iss" or "aud" other than expected;
 * malformed input of any kind. A reason never quotes the token, its
 * signature or a claim value that could be one.
 *
 * Input is bounded (JWT_MAX_BYTES, JWKS_MAX_BYTES). Both parsers are
 * fuzzed (tests/fuzz/fuzz_jwt.c).
 * Return convention: 0 or a negative errno (-EINVAL: refused, with why).
 */
#ifndef SLUICE_JWT_H
#define SLUICE_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_BYTES (16u << 10)
#define JWKS_MAX_BYTES (1u << 20)
#define JWT_WHY 160 /* room for a reason */

struct cJSON;
struct jwks;

/* The keys of a JWKS document ({"keys":[...]}). Keys of other types,
 * curves or uses ("use": "enc") are skipped; a document without one
 * usable key is refused. */
int jwks_parse(const char *json, size_t len, struct jwks **out, char why[JWT_WHY]);
void jwks_free(struct jwks *k);
size_t jwks_count(const struct jwks *k);

/* What a token must say besides its signature. */
struct jwt_expect {
	const char *issuer;   /* or NULL: any */
	const char *audience; /* or NULL: any; else "aud" (string or array) holds it */
	int64_t now;          /* seconds since the epoch */
	unsigned skew_s;      /* allowed clock difference for exp and nbf */
};

/* Verify token (len bytes, no NUL needed). On success *claims is the
 * payload (cJSON_Delete it). */
int jwt_verify(const char *token, size_t len, const struct jwks *keys,
	       const struct jwt_expect *want, struct cJSON **claims, char why[JWT_WHY]);

/* Does text look like a compact JWS (three base64url parts)? For telling a
 * token from a password without verifying anything. */
bool jwt_shaped(const char *text, size_t len);

#endif
