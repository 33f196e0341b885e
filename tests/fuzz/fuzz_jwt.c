/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the token parsers: the first byte picks the JWKS
 * parser (the rest is a JWKS document) or the JWT verifier (the rest is a
 * token, checked against a fixed set of one RSA and one P-256 public key).
 * Any bytes give a verdict with a reason, never claims without success,
 * never a crash or a leak.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Public halves only (tests/helpers/mkjwt.py jwks). */
static const char fixed_jwks[] = "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"r1\", \"use\": \"sig\", \"alg\": \"RS256\", \"n\": \"oGzXi0Jrk6p4X60tQZaElYAJoEob67jFfy3IbArcgn_UF8PLl8pLx-w4adzTk97c5hcTE570ckssHspdU7qHKw0hSA7vb64NsXeb61BK5xmlmSRwPwHVwN-jmlUz3JYJymwvPuKwOTz760J7BS7QsVyUqD2E319NrcmldT4yzffnbp9YjqCcPUcDCs94z2HNkKaExcUZG-YZQsQFCVzFvfPVaFkCfCvNHXgCrvVO0ZohZsh0ZdbuTGjvu1vhBXEEYesW0JGTf5tqewVioIew7MZB8AiBJsDOKfenJfkU0PErQAmljPRiSTGxLGBOGwCbq2g3ihi1RIfn-JWwjs1LOw\", \"e\": \"AQAB\"}, {\"kty\": \"EC\", \"crv\": \"P-256\", \"kid\": \"e1\", \"use\": \"sig\", \"alg\": \"ES256\", \"x\": \"Nc82xoeL3by9DqiFHW6eDT-nClxteq90Gk0sUEfKk9o\", \"y\": \"Ngb7HPMIAz3VMfdLQ-TJJjw9PhovQg_TOL2DBvaMWxM\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jwks *keys;
	struct jwt_expect want = { NULL, NULL, 1800000000, 60 };
	char why[JWT_WHY] = "";
	cJSON *claims = NULL;
	struct jwks *parsed;
	int err;

	if (!keys && jwks_parse(fixed_jwks, strlen(fixed_jwks), &keys, why))
		abort();
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		err = jwks_parse((const char *)data + 1, size - 1, &parsed, why);
		if (!err == !parsed || (err == -EINVAL && !why[0]))
			abort();
		jwks_free(parsed);
		return 0;
	}
	err = jwt_verify((const char *)data + 1, size - 1, keys, &want, &claims, why);
	if (!err == !claims || (err == -EINVAL && !why[0]))
		abort();
	cJSON_Delete(claims);
	return 0;
}
