// SPDX-License-Identifier: Apache-2.0
/*
 * test_jwt: tokens signed by key pairs made for the run (openssl, through
 * tests/helpers/mkjwt.py), each accepted or refused as it should be, with
 * a reason that never quotes the token.
 *
 *   test_jwt [SRCDIR]
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jwt.h"
#include "unit.h"

#define NOW 1800000000LL

static char dir[] = "/tmp/sluice-test-jwt.XXXXXX";
static const char *srcdir = ".";

/* The helper's output, first line, or exit. */
static char *helper(const char *fmt, ...)
{
	char cmd[4096], line[65536];
	va_list ap;
	FILE *p;
	int n;

	n = snprintf(cmd, sizeof(cmd), "python3 %s/tests/helpers/mkjwt.py ", srcdir);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	if (!(p = popen(cmd, "r")) || !fgets(line, sizeof(line), p) || pclose(p)) {
		fprintf(stderr, "test_jwt: %s failed\n", cmd);
		exit(2);
	}
	line[strcspn(line, "\n")] = '\0';
	return strdup(line);
}

static void make_key(const char *type, const char *name)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "python3 %s/tests/helpers/mkjwt.py key %s %s/%s.pem", srcdir,
		 type, dir, name);
	if (system(cmd)) {
		fprintf(stderr, "test_jwt: %s failed\n", cmd);
		exit(2);
	}
}

static char *token(const char *key, const char *header, const char *claims)
{
	return helper("sign %s/%s.pem '%s' '%s'", dir, key, header, claims);
}

struct token_case {
	const char *name;
	const char *key;     /* which key signs */
	const char *header;
	const char *claims;
	const char *refusal; /* NULL: accepted; else a piece of the reason */
};

#define GOOD "\"iss\":\"https://ci.example\",\"aud\":\"sluice\",\"sub\":\"project_path:g/app\""
static const struct token_case token_cases[] = {
	{ "rs256", "rsa", "{\"alg\":\"RS256\",\"kid\":\"r1\"}", "{" GOOD ",\"exp\":1800000600}", NULL },
	{ "es256", "ec", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", "{" GOOD ",\"exp\":1800000600}", NULL },
	{ "aud array", "rsa", "{\"alg\":\"RS256\",\"kid\":\"r1\"}",
	  "{\"iss\":\"https://ci.example\",\"aud\":[\"x\",\"sluice\"],\"exp\":1800000600}", NULL },
	{ "within skew", "rsa", "{\"alg\":\"RS256\",\"kid\":\"r1\"}",
	  "{" GOOD ",\"exp\":1799999990,\"nbf\":1800000010}", NULL },
	{ "expired", "rsa", "{\"alg\":\"RS256\",\"kid\":\"r1\"}", "{" GOOD ",\"exp\":1799999000}",
	  "expired" },
	{ "not yet valid", "rsa", "{\"alg\":\"RS256\",\"kid\":\"r1\"}",
	  "{" GOOD ",\"exp\":1800000600,\"nbf\":1800000300}", "not valid before" },
	{ "no exp", "rsa", "{\"alg\":\"RS256\",\"kid\":\"r1\"}", "{" GOOD "}", "no \"exp\"" },
	{ "wrong audience", "rsa", "{\"alg\":\"RS256\",\"kid\":\"r1\"}",
	  "{\"iss\":\"https://ci.example\",\"aud\":\"other\",\"exp\":1800000600}", "audience" },
	{ "wrong issuer", "rsa", "{\"alg\":\"RS256\",\"kid\":\"r1\"}",
	  "{\"iss\":\"https://evil.example\",\"aud\":\"sluice\",\"exp\":1800000600}", "issuer" },
	{ "unknown kid", "rsa", "{\"alg\":\"RS256\",\"kid\":\"r9\"}", "{" GOOD ",\"exp\":1800000600}",
	  "unknown key id" },
	{ "kid of the other type", "rsa", "{\"alg\":\"RS256\",\"kid\":\"e1\"}",
	  "{" GOOD ",\"exp\":1800000600}", "not a key for RS256" },
	{ "signed by a key not in the set", "stranger", "{\"alg\":\"RS256\",\"kid\":\"r1\"}",
	  "{" GOOD ",\"exp\":1800000600}", "bad signature" },
	{ "alg none", "rsa", "{\"alg\":\"none\",\"kid\":\"r1\"}", "{" GOOD ",\"exp\":1800000600}",
	  "algorithm none is not accepted" },
	{ "HS256 keyed with the public key", "rsa", "{\"alg\":\"HS256\",\"kid\":\"r1\"}",
	  "{" GOOD ",\"exp\":1800000600}", "algorithm HS256 is not accepted" },
	{ "crit header", "rsa", "{\"alg\":\"RS256\",\"kid\":\"r1\",\"crit\":[\"x\"]}",
	  "{" GOOD ",\"exp\":1800000600}", "crit" },
};

static void check_tokens(const struct jwks *keys)
{
	struct jwt_expect want = { "https://ci.example", "sluice", NOW, 30 };

	for (size_t i = 0; i < sizeof(token_cases) / sizeof(token_cases[0]); i++) {
		const struct token_case *c = &token_cases[i];
		char *t = token(c->key, c->header, c->claims), why[JWT_WHY] = "";
		cJSON *claims = NULL;
		int err = jwt_verify(t, strlen(t), keys, &want, &claims, why);

		cases++;
		if (!c->refusal && (err || !claims))
			fail(c->name, "refused: %s", why);
		else if (c->refusal && (err != -EINVAL || claims || !strstr(why, c->refusal)))
			fail(c->name, "err %d, reason \"%s\", want \"%s\"", err, why, c->refusal);
		else if ((strrchr(t, '.')[1] && strstr(why, strrchr(t, '.') + 1)) || strstr(why, t))
			fail(c->name, "the reason quotes the token");
		if (!c->refusal && claims &&
		    strcmp(cJSON_GetObjectItem(claims, "iss")->valuestring, "https://ci.example"))
			fail(c->name, "claims not returned");
		cJSON_Delete(claims);
		free(t);
	}
}

/* Tampering after signing: each must fail, none may crash. */
static void check_malformed(const struct jwks *keys)
{
	struct jwt_expect want = { NULL, NULL, NOW, 30 };
	char *good = token("rsa", "{\"alg\":\"RS256\",\"kid\":\"r1\"}", "{\"exp\":1800000600}");
	size_t len = strlen(good);
	char *dot2 = strrchr(good, '.'), why[JWT_WHY];
	char buf[JWT_MAX_BYTES + 16];
	const char *inputs[] = { "", "a.b", "a.b.c.d", "..", "e30.e30.", "e30.e30.AA",
				 "!!!.e30.AA", "eyJhbGciOiJSUzI1NiJ9.%%%.AA" };
	cJSON *claims;

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		cases++;
		if (jwt_verify(inputs[i], strlen(inputs[i]), keys, &want, &claims, why) != -EINVAL)
			fail("malformed", "accepted \"%s\"", inputs[i]);
	}
	/* Payload changed under the signature. */
	snprintf(buf, sizeof(buf), "%s", good);
	buf[strchr(buf, '.') - buf + 2] ^= 1;
	cases++;
	if (jwt_verify(buf, len, keys, &want, &claims, why) != -EINVAL)
		fail("payload changed", "accepted");
	/* Signature truncated, then one byte changed. */
	cases++;
	if (jwt_verify(good, len - 4, keys, &want, &claims, why) != -EINVAL)
		fail("signature truncated", "accepted");
	snprintf(buf, sizeof(buf), "%s", good);
	buf[dot2 - good + 5] = buf[dot2 - good + 5] == 'A' ? 'B' : 'A';
	cases++;
	if (jwt_verify(buf, len, keys, &want, &claims, why) != -EINVAL ||
	    !strstr(why, "bad signature"))
		fail("signature changed", "%s", why);
	/* ES256 signatures of the wrong size (read past a short one, once). */
	{
		char *es = token("ec", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", "{\"exp\":1800000600}");
		char *dot = strrchr(es, '.');

		for (size_t cut = 0; cut < 6; cut++) {
			dot[1 + cut] = '\0';
			cases++;
			if (jwt_verify(es, strlen(es), keys, &want, &claims, why) != -EINVAL)
				fail("short ES256 signature", "accepted with %zu characters", cut);
		}
		free(es);
	}
	/* Too long. */
	memset(buf, 'A', sizeof(buf) - 1);
	buf[10] = buf[20] = '.';
	cases++;
	if (jwt_verify(buf, sizeof(buf) - 1, keys, &want, &claims, why) != -EINVAL)
		fail("too long", "accepted");
	cases++;
	if (!jwt_shaped(good, len) || jwt_shaped("hunter2", 7) || jwt_shaped("a.b", 3))
		fail("jwt_shaped", "wrong");
	free(good);
}

static void check_jwks(void)
{
	static const char *const bad[] = {
		"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]}",
		"{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}",
		"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", /* 17 bits */
		"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}]}",
		"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}",
	};
	char why[JWT_WHY];
	struct jwks *k;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cases++;
		if (jwks_parse(bad[i], strlen(bad[i]), &k, why) != -EINVAL || k)
			fail("bad jwks", "accepted %s", bad[i]);
	}
}

int main(int argc, char **argv)
{
	char *jwks_json;
	char why[JWT_WHY] = "", cmd[256];
	struct jwks *keys = NULL;

	srcdir = argc > 1 ? argv[1] : ".";
	if (!mkdtemp(dir))
		return 2;
	make_key("rsa", "rsa");
	make_key("ec", "ec");
	make_key("rsa", "stranger");
	jwks_json = helper("jwks r1=%s/rsa.pem e1=%s/ec.pem", dir, dir);
	cases++;
	if (jwks_parse(jwks_json, strlen(jwks_json), &keys, why) || jwks_count(keys) != 2)
		fail("jwks", "%s (%zu keys)", why, jwks_count(keys));
	if (keys) {
		check_tokens(keys);
		check_malformed(keys);
	}
	check_jwks();
	jwks_free(keys);
	free(jwks_json);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fail("cleanup", "%s", cmd);
	printf("test_jwt: %d cases, %d failed\n", cases, failures);
	return failures != 0;
}
