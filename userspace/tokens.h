/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokens: which identity of the policy a caller is, tokens included.
 *
 * Identities are tried in file order. One matches when its "match" facts
 * hold and, if it names a token, when that token (from the caller's
 * environment, or in band from the protocol) verifies against its JWKS,
 * issuer and audience and its claims meet "match.claims". A token bound
 * to facts is only good for a caller that has those facts: one copied to
 * another job or host does not match there.
 *
 * An identity whose facts hold but whose token is missing or does not
 * verify: with "required" the session is refused with the reason;
 * otherwise the identity matches on its facts alone when it names no
 * claims, and the next identity is tried when it does.
 *
 * JWKS files are read on first use and again whenever they change (inode,
 * size or mtime), so a rotated key set needs no reload. Several issuers
 * are several files.
 * Return convention: enum identify_result; single-threaded.
 */
#ifndef SLUICE_TOKENS_H
#define SLUICE_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "jwt.h"

struct cJSON;
struct identity_resolver;
struct policy;
struct policy_facts;
struct policy_identity;
struct sluice_origin;

struct tokens;

int tokens_new(struct tokens **out);
void tokens_free(struct tokens *t);

/* Where a caller's tokens come from. */
struct token_source {
	struct identity_resolver *ids;      /* for "env:NAME" */
	const struct sluice_origin *origin;
	bool in_band_possible;              /* the protocol can carry a password */
	const char *in_band;                /* what the job sent, or NULL: not asked yet */
	size_t in_band_len;
};

enum identify_result {
	IDENTIFIED,        /* *identity, *claims (or NULL) */
	NO_IDENTITY,       /* no identity matches */
	NEEDS_IN_BAND,     /* ask the job for its password (a token), then again */
	IDENTITY_REFUSED,  /* a required token is missing or bad: why */
};

struct identified {
	const struct policy_identity *identity;
	struct cJSON *claims;               /* the caller's to free */
	char why[JWT_WHY + 96];             /* for the log: a refusal, or a token not taken */
	char job_why[JWT_WHY + 48];         /* a refusal as the job may read it: no
					       identity names, no paths */
};

enum identify_result tokens_identify(struct tokens *t, const struct policy *p,
				     const struct policy_facts *facts,
				     const struct token_source *src, struct identified *out);

#endif
