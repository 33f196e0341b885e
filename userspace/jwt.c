// SPDX-License-Identifier: Apache-2.0
/* jwt: local verification of RS256 and ES256 tokens. See jwt.h. */
#include "jwt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KID_MAX 128
#define MIN_RSA_BITS 2048

enum jwt_alg { ALG_RS256, ALG_ES256 };

struct jwk {
	char kid[KID_MAX];  /* "" when the key has none */
	enum jwt_alg alg;   /* what the key's type allows */
	EVP_PKEY *pkey;
};

struct jwks {
	struct jwk *keys;
	size_t n;
};

__attribute__((format(printf, 2, 3)))
static int refuse(char why[JWT_WHY], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, JWT_WHY, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ------------------------------------------------------------ base64url */

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decode base64url without padding (RFC 7515 section 2) into a new buffer
 * of *out_len bytes, NUL-terminated for the JSON parts. NULL if malformed. */
static uint8_t *b64url_decode(const char *in, size_t len, size_t *out_len)
{
	uint8_t *out;
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0;

	if (len % 4 == 1 || !(out = malloc(len * 3 / 4 + 1)))
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_value((unsigned char)in[i]);

		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero: one encoding per value. */
	if (acc & ((1u << bits) - 1)) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}

static uint8_t *b64url_member(const cJSON *obj, const char *name, size_t *len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsString(v))
		return NULL;
	return b64url_decode(v->valuestring, strlen(v->valuestring), len);
}

/* ----------------------------------------------------------------- keys */

static EVP_PKEY *pkey_from(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *rsa_key(const cJSON *jwk)
{
	size_t nlen = 0, elen = 0;
	uint8_t *n = b64url_member(jwk, "n", &nlen), *e = b64url_member(jwk, "e", &elen);
	BIGNUM *bn = n ? BN_bin2bn(n, (int)nlen, NULL) : NULL;
	BIGNUM *be = e ? BN_bin2bn(e, (int)elen, NULL) : NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;

	if (bn && be && bld && BN_num_bits(bn) >= MIN_RSA_BITS && BN_num_bits(bn) <= 8192 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		pkey = pkey_from("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return pkey;
}

static EVP_PKEY *p256_key(const cJSON *jwk)
{
	size_t xlen = 0, ylen = 0;
	uint8_t *x = b64url_member(jwk, "x", &xlen), *y = b64url_member(jwk, "y", &ylen);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	uint8_t point[65];
	EVP_PKEY *pkey = NULL;

	if (x && y && bld && xlen == 32 && ylen == 32) {
		point[0] = 4; /* uncompressed */
		memcpy(point + 1, x, 32);
		memcpy(point + 33, y, 32);
		if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
		    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
			pkey = pkey_from("EC", bld);
	}
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return pkey;
}

static bool str_is(const cJSON *obj, const char *name, const char *want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) && !strcmp(v->valuestring, want);
}

/* One key of the set, or false to skip it. */
static bool take_key(const cJSON *jwk, struct jwk *k)
{
	const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");
	const cJSON *use = cJSON_GetObjectItemCaseSensitive(jwk, "use");
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(jwk, "alg");

	if ((use && !str_is(jwk, "use", "sig")) || (kid && !cJSON_IsString(kid)) ||
	    (kid && strlen(kid->valuestring) >= KID_MAX))
		return false;
	if (str_is(jwk, "kty", "RSA") && (!alg || str_is(jwk, "alg", "RS256"))) {
		k->alg = ALG_RS256;
		k->pkey = rsa_key(jwk);
	} else if (str_is(jwk, "kty", "EC") && str_is(jwk, "crv", "P-256") &&
		   (!alg || str_is(jwk, "alg", "ES256"))) {
		k->alg = ALG_ES256;
		k->pkey = p256_key(jwk);
	}
	if (!k->pkey)
		return false;
	snprintf(k->kid, sizeof(k->kid), "%s", kid ? kid->valuestring : "");
	return true;
}

int jwks_parse(const char *json, size_t len, struct jwks **out, char why[JWT_WHY])
{
	cJSON *doc, *keys, *jwk;
	struct jwks *set;

	*out = NULL;
	if (len > JWKS_MAX_BYTES)
		return refuse(why, "JWKS larger than %u bytes", JWKS_MAX_BYTES);
	doc = cJSON_ParseWithLength(json, len);
	keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
	if (!cJSON_IsArray(keys)) {
		cJSON_Delete(doc);
		return refuse(why, "not a JWKS document (an object with a \"keys\" array)");
	}
	set = calloc(1, sizeof(*set));
	if (!set || !(set->keys = calloc((size_t)cJSON_GetArraySize(keys) + 1, sizeof(*set->keys)))) {
		free(set);
		cJSON_Delete(doc);
		return -ENOMEM;
	}
	cJSON_ArrayForEach(jwk, keys)
		if (cJSON_IsObject(jwk) && take_key(jwk, &set->keys[set->n]))
			set->n++;
	cJSON_Delete(doc);
	if (!set->n) {
		jwks_free(set);
		return refuse(why, "the JWKS holds no RS256 (RSA, 2048 bits or more) or ES256 "
			      "(P-256) signing key");
	}
	*out = set;
	return 0;
}

void jwks_free(struct jwks *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		EVP_PKEY_free(k->keys[i].pkey);
	free(k->keys);
	free(k);
}

size_t jwks_count(const struct jwks *k)
{
	return k ? k->n : 0;
}

/* ---------------------------------------------------------------- tokens */

bool jwt_shaped(const char *text, size_t len)
{
	size_t dots = 0;

	if (len < 5 || len > JWT_MAX_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '.')
			dots++;
		else if (b64url_value((unsigned char)text[i]) < 0)
			return false;
	}
	/* The signature may be empty (alg none), so that it is refused for
	 * what it is. */
	return dots == 2 && text[0] != '.' && !memmem(text, len, "..", 2);
}

/* The JWS signature of ES256 is r || s, 32 bytes each; OpenSSL verifies
 * the DER form. */
static uint8_t *es256_der(const uint8_t *sig, size_t len, size_t *der_len)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	uint8_t *der = NULL;
	int n;

	if (len != 64)
		return NULL;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return NULL;
	}
	n = i2d_ECDSA_SIG(es, &der);
	ECDSA_SIG_free(es);
	if (n <= 0)
		return NULL;
	*der_len = (size_t)n;
	return der;
}

static bool signature_holds(const struct jwk *k, const char *input, size_t input_len,
			    const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t *der = NULL;
	size_t der_len = 0;
	bool ok = false;

	if (k->alg == ALG_ES256) {
		if (!(der = es256_der(sig, sig_len, &der_len)))
			goto out;
		sig = der;
		sig_len = der_len;
	}
	ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
	     EVP_DigestVerify(md, sig, sig_len, (const uint8_t *)input, input_len) == 1;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return ok;
}

/* A header value fit to quote in a log: a short plain word, or not. */
static const char *word(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

	return n == strlen(s) && n > 0 && n <= 16 ? s : "(not a plain name)";
}

/* A JSON part of the token, decoded and parsed: an object, or NULL. */
static cJSON *json_part(const char *b64, size_t len)
{
	size_t n;
	uint8_t *raw = b64url_decode(b64, len, &n);
	cJSON *obj = raw ? cJSON_ParseWithLength((const char *)raw, n) : NULL;

	free(raw);
	if (obj && !cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}

static const struct jwk *key_for(const struct jwks *keys, const cJSON *header, enum jwt_alg alg,
				 char why[JWT_WHY])
{
	const cJSON *kid = cJSON_GetObjectItemCaseSensitive(header, "kid");
	const struct jwk *only = NULL;
	size_t candidates = 0;

	if (kid && (!cJSON_IsString(kid) || strlen(kid->valuestring) >= KID_MAX)) {
		refuse(why, "malformed \"kid\" in the token header");
		return NULL;
	}
	for (size_t i = 0; i < keys->n; i++) {
		if (kid && strcmp(keys->keys[i].kid, kid->valuestring))
			continue;
		if (keys->keys[i].alg != alg) {
			if (kid) {
				refuse(why, "the key the token names is not a key for %s",
				       alg == ALG_RS256 ? "RS256" : "ES256");
				return NULL;
			}
			continue;
		}
		only = &keys->keys[i];
		candidates++;
	}
	if (kid && !only)
		refuse(why, "unknown key id: the JWKS has no key the token names");
	else if (!kid && candidates != 1)
		refuse(why, "the token names no key (\"kid\") and the JWKS has %zu for its algorithm",
		       candidates);
	return kid || candidates == 1 ? only : NULL;
}

static bool audience_holds(const cJSON *aud, const char *want)
{
	const cJSON *a;

	if (cJSON_IsString(aud))
		return !strcmp(aud->valuestring, want);
	if (!cJSON_IsArray(aud))
		return false;
	cJSON_ArrayForEach(a, aud)
		if (cJSON_IsString(a) && !strcmp(a->valuestring, want))
			return true;
	return false;
}

static int check_claims(const cJSON *claims, const struct jwt_expect *want, char why[JWT_WHY])
{
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
	const cJSON *iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");

	/* ID tokens always expire: one that does not is refused. */
	if (!cJSON_IsNumber(exp))
		return refuse(why, "the token has no \"exp\"");
	if (exp->valuedouble + want->skew_s <= (double)want->now)
		return refuse(why, "the token expired at %.0f (now %lld)", exp->valuedouble,
			      (long long)want->now);
	if (nbf && !cJSON_IsNumber(nbf))
		return refuse(why, "malformed \"nbf\"");
	if (nbf && nbf->valuedouble > (double)want->now + want->skew_s)
		return refuse(why, "the token is not valid before %.0f (now %lld)", nbf->valuedouble,
			      (long long)want->now);
	if (want->issuer && !(cJSON_IsString(iss) && !strcmp(iss->valuestring, want->issuer)))
		return refuse(why, "the token's issuer is not %.80s", want->issuer);
	if (want->audience && !audience_holds(aud, want->audience))
		return refuse(why, "the token's audience does not hold %.80s", want->audience);
	return 0;
}

int jwt_verify(const char *token, size_t len, const struct jwks *keys,
	       const struct jwt_expect *want, cJSON **claims, char why[JWT_WHY])
{
	const char *dot1, *dot2;
	cJSON *header = NULL, *payload = NULL;
	const struct jwk *key;
	enum jwt_alg alg;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	int err;

	*claims = NULL;
	if (!jwt_shaped(token, len))
		return refuse(why, "not a JWT (three base64url parts, at most %u bytes)", JWT_MAX_BYTES);
	dot1 = memchr(token, '.', len);
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
	if (!(header = json_part(token, (size_t)(dot1 - token)))) {
		err = refuse(why, "malformed token header");
		goto out;
	}
	if (str_is(header, "alg", "RS256")) {
		alg = ALG_RS256;
	} else if (str_is(header, "alg", "ES256")) {
		alg = ALG_ES256;
	} else {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(header, "alg");

		err = refuse(why, "algorithm %s is not accepted (RS256 and ES256 are)",
			     cJSON_IsString(a) ? word(a->valuestring) : "(none)");
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(header, "crit")) {
		err = refuse(why, "the token header has \"crit\" extensions");
		goto out;
	}
	if (!(key = key_for(keys, header, alg, why))) {
		err = -EINVAL;
		goto out;
	}
	sig = b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &sig_len);
	if (!sig || !signature_holds(key, token, (size_t)(dot2 - token), sig, sig_len)) {
		err = refuse(why, "bad signature");
		goto out;
	}
	if (!(payload = json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1)))) {
		err = refuse(why, "malformed token payload");
		goto out;
	}
	if ((err = check_claims(payload, want, why)))
		goto out;
	*claims = payload;
	payload = NULL;
out:
	free(sig);
	cJSON_Delete(header);
	cJSON_Delete(payload);
	return err;
}
