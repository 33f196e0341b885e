// SPDX-License-Identifier: Apache-2.0
/* pg_auth: SCRAM-SHA-256 and md5 client side. See pg_auth.h. */
#include "pg_auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRAM_KEY 32       /* SHA-256 */
#define SCRAM_NONCE 18     /* raw bytes: 24 base64 characters */
#define SCRAM_MSG 1024     /* bound on any message of the exchange */
/* Key derivation runs on the event loop: a server asking for more would
 * stall every session (10M iterations take seconds). */
#define SCRAM_MAX_ITER 100000

enum scram_step { SCRAM_FIRST_SENT, SCRAM_FINAL_SENT, SCRAM_VERIFIED };

struct pg_scram {
	enum scram_step step;
	char *password;
	uint8_t cbind[64];
	size_t cbind_len;
	char gs2[64];              /* "n,," or "p=tls-server-end-point,," */
	char nonce[2 * SCRAM_NONCE + 4]; /* ours, base64 */
	char first_bare[64];       /* "n=,r=<nonce>" */
	char first[128];
	char final[3 * SCRAM_MSG];
	char auth_message[4 * SCRAM_MSG];
	uint8_t salted[SCRAM_KEY];
};

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void md5_hex(const void *a, size_t alen, const void *b, size_t blen, char out[33])
{
	uint8_t d[16];
	unsigned dlen = sizeof(d);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL) ||
	    !EVP_DigestUpdate(ctx, a, alen) || !EVP_DigestUpdate(ctx, b, blen) ||
	    !EVP_DigestFinal_ex(ctx, d, &dlen))
		memset(d, 0, sizeof(d));
	EVP_MD_CTX_free(ctx);
	hex(d, 16, out);
}

void pg_md5_response(const char *user, const char *password, const uint8_t salt[4],
		     char out[PG_MD5_RESPONSE_LEN + 1])
{
	char inner[33];

	md5_hex(password, strlen(password), user, strlen(user), inner);
	memcpy(out, "md5", 3);
	md5_hex(inner, 32, salt, 4, out + 3);
	OPENSSL_cleanse(inner, sizeof(inner));
}

int pg_scram_new(const char *password, const uint8_t *cbind, size_t cbind_len,
		 bool tls, struct pg_scram **out)
{
	uint8_t nonce[SCRAM_NONCE];
	char nonce64[2 * SCRAM_NONCE + 4];
	struct pg_scram *s;

	if (cbind_len > sizeof(s->cbind))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->password = strdup(password);
	if (!s->password || RAND_bytes(nonce, sizeof(nonce)) != 1) {
		pg_scram_free(s);
		return -ENOMEM;
	}
	EVP_EncodeBlock((unsigned char *)nonce64, nonce, sizeof(nonce));
	snprintf(s->nonce, sizeof(s->nonce), "%s", nonce64);
	if (cbind) {
		memcpy(s->cbind, cbind, cbind_len);
		s->cbind_len = cbind_len;
		snprintf(s->gs2, sizeof(s->gs2), "p=tls-server-end-point,,");
	} else {
		/* "y": we could bind, the server did not offer it. A server that
		 * does support -PLUS then knows the offer was stripped. */
		snprintf(s->gs2, sizeof(s->gs2), tls ? "y,," : "n,,");
	}
	/* PostgreSQL ignores the SCRAM user name; it uses the startup user. */
	snprintf(s->first_bare, sizeof(s->first_bare), "n=,r=%s", nonce64);
	snprintf(s->first, sizeof(s->first), "%s%s", s->gs2, s->first_bare);
	*out = s;
	return 0;
}

void pg_scram_free(struct pg_scram *s)
{
	if (!s)
		return;
	if (s->password) {
		OPENSSL_cleanse(s->password, strlen(s->password));
		free(s->password);
	}
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

const char *pg_scram_mechanism(const struct pg_scram *s)
{
	return s->cbind_len ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
}

const char *pg_scram_client_first(struct pg_scram *s)
{
	return s->first;
}

bool pg_scram_verified(const struct pg_scram *s)
{
	return s->step == SCRAM_VERIFIED;
}

/* SaltedPassword is the costly part (PBKDF2) and the same for every
 * session of a target until its password or the role's salt changes: keep
 * the last few, keyed by a digest of all three. */
#define SALT_CACHE 16

static struct {
	uint8_t key[SCRAM_KEY];
	uint8_t salted[SCRAM_KEY];
	bool used;
} salt_cache[SALT_CACHE];
static unsigned salt_cache_next;

static int salted_password(const char *password, const uint8_t *salt, size_t salt_len,
			   int iterations, uint8_t out[SCRAM_KEY])
{
	uint8_t key[SCRAM_KEY];
	unsigned klen = SCRAM_KEY;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, password, strlen(password) + 1) &&
		 EVP_DigestUpdate(ctx, &iterations, sizeof(iterations)) &&
		 EVP_DigestUpdate(ctx, salt, salt_len) && EVP_DigestFinal_ex(ctx, key, &klen);

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -EIO;
	for (unsigned i = 0; i < SALT_CACHE; i++) {
		if (salt_cache[i].used && !CRYPTO_memcmp(salt_cache[i].key, key, SCRAM_KEY)) {
			memcpy(out, salt_cache[i].salted, SCRAM_KEY);
			return 0;
		}
	}
	if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len,
			       iterations, EVP_sha256(), SCRAM_KEY, out))
		return -EIO;
	memcpy(salt_cache[salt_cache_next].key, key, SCRAM_KEY);
	memcpy(salt_cache[salt_cache_next].salted, out, SCRAM_KEY);
	salt_cache[salt_cache_next].used = true;
	salt_cache_next = (salt_cache_next + 1) % SALT_CACHE;
	return 0;
}

void pg_scram_clear_cache(void)
{
	OPENSSL_cleanse(salt_cache, sizeof(salt_cache));
	salt_cache_next = 0;
}

/* Value of attribute "k=" in a comma-separated SCRAM message, or NULL. */
static const char *attr(const char *msg, char k, char *buf, size_t size)
{
	for (const char *p = msg; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (p[0] == k && p[1] == '=') {
			size_t n = strcspn(p + 2, ",");

			if (n >= size)
				return NULL;
			memcpy(buf, p + 2, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return NULL;
}

/* Did snprintf's result n fit in size? A server's long nonce must not be
 * cut silently into a different message. */
static bool fits(size_t size, int n)
{
	return n >= 0 && (size_t)n < size;
}

static int hmac(const uint8_t *key, size_t klen, const void *data, size_t dlen,
		uint8_t out[SCRAM_KEY])
{
	unsigned len = SCRAM_KEY;

	return HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &len) ? 0 : -EIO;
}

static int b64_decode(const char *in, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(in);
	int got;

	if (n % 4 || n / 4 * 3 > cap)
		return -EBADMSG;
	got = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (got < 0)
		return -EBADMSG;
	/* EVP_DecodeBlock counts padding as data. */
	while (n && in[--n] == '=')
		got--;
	if (got < 0)
		return -EBADMSG;
	*len = (size_t)got;
	return 0;
}

int pg_scram_client_final(struct pg_scram *s, const char *server_first, size_t len,
			  const char **client_final)
{
	char msg[SCRAM_MSG], nonce[SCRAM_MSG], salt64[SCRAM_MSG], iter[16];
	char cbind_input[128 + 64], c64[4 * (sizeof(cbind_input) / 3) + 8];
	char final_bare[2 * SCRAM_MSG], proof64[64];
	uint8_t salt[SCRAM_MSG], client_key[SCRAM_KEY], stored[SCRAM_KEY], sig[SCRAM_KEY];
	size_t salt_len, gs2_len = strlen(s->gs2);
	unsigned stored_len = SCRAM_KEY;
	long iterations;
	char *end;
	int err = -EBADMSG;

	if (s->step != SCRAM_FIRST_SENT || len >= sizeof(msg) || memchr(server_first, 0, len))
		return -EBADMSG;
	memcpy(msg, server_first, len);
	msg[len] = '\0';
	if (!attr(msg, 'r', nonce, sizeof(nonce)) || !attr(msg, 's', salt64, sizeof(salt64)) ||
	    !attr(msg, 'i', iter, sizeof(iter)))
		return -EBADMSG;
	/* The server's nonce must extend ours. */
	if (strncmp(nonce, s->nonce, strlen(s->nonce)) || strlen(nonce) == strlen(s->nonce))
		return -EBADMSG;
	iterations = strtol(iter, &end, 10);
	if (*end || iterations < 1 || iterations > SCRAM_MAX_ITER)
		return -EBADMSG;
	if (b64_decode(salt64, salt, sizeof(salt), &salt_len) || !salt_len)
		return -EBADMSG;
	if (salted_password(s->password, salt, salt_len, (int)iterations, s->salted))
		return -EIO;

	memcpy(cbind_input, s->gs2, gs2_len);
	memcpy(cbind_input + gs2_len, s->cbind, s->cbind_len);
	EVP_EncodeBlock((unsigned char *)c64, (const unsigned char *)cbind_input,
			(int)(gs2_len + s->cbind_len));
	if (!fits(sizeof(final_bare), snprintf(final_bare, sizeof(final_bare),
							  "c=%s,r=%s", c64, nonce)) ||
	    !fits(sizeof(s->auth_message),
		  snprintf(s->auth_message, sizeof(s->auth_message), "%s,%s,%s",
			   s->first_bare, msg, final_bare)))
		return -EBADMSG;

	if (hmac(s->salted, SCRAM_KEY, "Client Key", 10, client_key) ||
	    !EVP_Digest(client_key, SCRAM_KEY, stored, &stored_len, EVP_sha256(), NULL) ||
	    hmac(stored, SCRAM_KEY, s->auth_message, strlen(s->auth_message), sig)) {
		err = -EIO;
		goto out;
	}
	for (int i = 0; i < SCRAM_KEY; i++)
		client_key[i] ^= sig[i];
	EVP_EncodeBlock((unsigned char *)proof64, client_key, SCRAM_KEY);
	if (fits(sizeof(s->final),
		 snprintf(s->final, sizeof(s->final), "%s,p=%s", final_bare, proof64))) {
		*client_final = s->final;
		s->step = SCRAM_FINAL_SENT;
		err = 0;
	}
out:
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(stored, sizeof(stored));
	return err;
}

int pg_scram_verify_server(struct pg_scram *s, const char *server_final, size_t len)
{
	char msg[SCRAM_MSG], v64[128];
	uint8_t server_key[SCRAM_KEY], expect[SCRAM_KEY], got[96];
	size_t got_len;
	int err = -EBADMSG;

	if (s->step != SCRAM_FINAL_SENT || len >= sizeof(msg) || memchr(server_final, 0, len))
		return -EBADMSG;
	memcpy(msg, server_final, len);
	msg[len] = '\0';
	if (!attr(msg, 'v', v64, sizeof(v64)) || b64_decode(v64, got, sizeof(got), &got_len) ||
	    got_len != SCRAM_KEY)
		return -EBADMSG;
	if (hmac(s->salted, SCRAM_KEY, "Server Key", 10, server_key) ||
	    hmac(server_key, SCRAM_KEY, s->auth_message, strlen(s->auth_message), expect))
		err = -EIO;
	else if (!CRYPTO_memcmp(expect, got, SCRAM_KEY)) {
		s->step = SCRAM_VERIFIED;
		err = 0;
	}
	OPENSSL_cleanse(server_key, sizeof(server_key));
	return err;
}
