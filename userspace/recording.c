// SPDX-License-Identifier: Apache-2.0
/* recording: chunked, compressed, chained recordings. See recording.h and
 * docs/recording-format.md. */
#include "recording.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAGIC "SLRC"
#define VERSION 1
#define HEAD_BYTES 20  /* magic, type, version, reserved, seq, raw length, data length */
#define MAC_BYTES 32

enum chunk_type { CHUNK_HEADER = 'H', CHUNK_DATA = 'D', CHUNK_SEAL = 'S' };

struct recording {
	int fd;
	uint8_t key[RECORDING_KEY_BYTES];
	uint8_t mac[MAC_BYTES];   /* of the last chunk written */
	uint32_t seq;             /* of the next chunk */
	off_t size;               /* of the file: where the next chunk starts */
	bool broken;              /* a partial chunk could not be taken back */
	unsigned events;          /* written so far */
	unsigned pending_events;
	char *pending;            /* JSON lines not yet in a chunk */
	size_t pending_len, pending_cap;
	char path[4096];
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* MAC of a chunk: the previous chunk's MAC, then the chunk up to its MAC. */
static void chunk_mac(const uint8_t key[RECORDING_KEY_BYTES], const uint8_t prev[MAC_BYTES],
		      const uint8_t *chunk, size_t len, uint8_t out[MAC_BYTES])
{
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
				OSSL_PARAM_construct_end() };
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	size_t outlen = 0;

	if (!ctx || !EVP_MAC_init(ctx, key, RECORDING_KEY_BYTES, params) ||
	    !EVP_MAC_update(ctx, prev, MAC_BYTES) || !EVP_MAC_update(ctx, chunk, len) ||
	    !EVP_MAC_final(ctx, out, &outlen, MAC_BYTES) || outlen != MAC_BYTES)
		memset(out, 0, MAC_BYTES); /* never matches a real chain */
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
}

static int write_all(int fd, const struct iovec *iov, int n)
{
	struct iovec v[3];
	ssize_t w;

	memcpy(v, iov, (size_t)n * sizeof(*v));
	while (n > 0) {
		w = writev(fd, v, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		while (n > 0 && (size_t)w >= v[0].iov_len) {
			w -= (ssize_t)v[0].iov_len;
			memmove(v, v + 1, (size_t)--n * sizeof(*v));
		}
		if (n > 0) {
			v[0].iov_base = (uint8_t *)v[0].iov_base + w;
			v[0].iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int write_chunk(struct recording *r, enum chunk_type type, const void *raw, size_t len)
{
	uLongf clen = compressBound((uLong)len);
	uint8_t *chunk, mac[MAC_BYTES];
	struct iovec iov[2];
	int err;

	if (r->broken)
		return -EIO;
	chunk = malloc(HEAD_BYTES + clen);
	if (!chunk)
		return -ENOMEM;
	/* The fastest level: chunks are written on the event loop, and JSON
	 * lines compress well even so. */
	if (compress2(chunk + HEAD_BYTES, &clen, raw, (uLong)len, Z_BEST_SPEED) != Z_OK) {
		free(chunk);
		return -EIO;
	}
	memcpy(chunk, MAGIC, 4);
	chunk[4] = (uint8_t)type;
	chunk[5] = VERSION;
	chunk[6] = chunk[7] = 0;
	put_be32(chunk + 8, r->seq);
	put_be32(chunk + 12, (uint32_t)len);
	put_be32(chunk + 16, (uint32_t)clen);
	chunk_mac(r->key, r->mac, chunk, HEAD_BYTES + clen, mac);
	iov[0] = (struct iovec){ chunk, HEAD_BYTES + clen };
	iov[1] = (struct iovec){ mac, MAC_BYTES };
	err = write_all(r->fd, iov, 2);
	free(chunk);
	/* A chunk written in part (the disk filled) is taken back: the file
	 * stays whole up to its last chunk, and the next write may succeed. */
	if (err && ftruncate(r->fd, r->size))
		r->broken = true;
	if (err)
		return err;
	r->size += HEAD_BYTES + clen + MAC_BYTES;
	memcpy(r->mac, mac, MAC_BYTES);
	r->seq++;
	return 0;
}

static int make_dir(const char *path)
{
	return mkdir(path, 0700) && errno != EEXIST ? -errno : 0;
}

int recording_open(const char *dir, const char *id, const uint8_t key[RECORDING_KEY_BYTES],
		   struct recording **out)
{
	struct recording *r = calloc(1, sizeof(*r));
	char day[16], header[256], sub[4096];
	time_t now = time(NULL);
	struct tm tm;
	int err;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(sub, sizeof(sub), "%s/%s", dir, day);
	if ((size_t)snprintf(r->path, sizeof(r->path), "%s/%s.slrec", sub, id) >= sizeof(r->path)) {
		free(r);
		return -ENAMETOOLONG;
	}
	if ((err = make_dir(dir)) || (err = make_dir(sub))) {
		free(r);
		return err;
	}
	r->fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r->fd < 0) {
		err = -errno;
		free(r);
		return err;
	}
	memcpy(r->key, key, RECORDING_KEY_BYTES);
	snprintf(header, sizeof(header),
		 "{\"format\":\"sluice-recording\",\"version\":%d,\"id\":\"%s\",\"opened\":%lld}",
		 VERSION, id, (long long)now);
	if ((err = write_chunk(r, CHUNK_HEADER, header, strlen(header)))) {
		close(r->fd);
		unlink(r->path);
		OPENSSL_cleanse(r->key, sizeof(r->key));
		free(r);
		return err;
	}
	*out = r;
	return 0;
}

const char *recording_path(const struct recording *r)
{
	return r->path;
}

int recording_add(struct recording *r, const char *json, size_t len)
{
	int err;

	if (len + 1 > RECORDING_BUFFER || memchr(json, '\n', len))
		return -EINVAL;
	if (r->pending_len + len + 1 > RECORDING_BUFFER && (err = recording_flush(r)))
		return err;
	if (r->pending_len + len + 1 > r->pending_cap) {
		size_t cap = r->pending_cap ? r->pending_cap * 2 : 4096;
		char *p;

		while (cap < r->pending_len + len + 1)
			cap *= 2;
		if (!(p = realloc(r->pending, cap)))
			return -ENOMEM;
		r->pending = p;
		r->pending_cap = cap;
	}
	memcpy(r->pending + r->pending_len, json, len);
	r->pending[r->pending_len + len] = '\n';
	r->pending_len += len + 1;
	r->pending_events++;
	return 0;
}

int recording_flush(struct recording *r)
{
	int err;

	if (!r->pending_len)
		return 0;
	err = write_chunk(r, CHUNK_DATA, r->pending, r->pending_len);
	if (err)
		return err;
	r->events += r->pending_events;
	r->pending_events = 0;
	r->pending_len = 0;
	return 0;
}

int recording_close(struct recording *r)
{
	char seal[96];
	int err;

	if (!r)
		return 0;
	err = recording_flush(r);
	if (!err) {
		snprintf(seal, sizeof(seal), "{\"chunks\":%u,\"events\":%u}", r->seq, r->events);
		err = write_chunk(r, CHUNK_SEAL, seal, strlen(seal));
	}
	if (close(r->fd) && !err)
		err = -errno;
	OPENSSL_cleanse(r->key, sizeof(r->key));
	free(r->pending);
	free(r);
	return err;
}

/* ---------------------------------------------------------------- reading */

static void bad(struct recording_report *out, size_t offset, const char *why)
{
	out->status = RECORDING_BAD;
	out->bad_offset = offset;
	snprintf(out->reason, sizeof(out->reason), "%s", why);
}

/* The events of a data chunk, one line each. */
static unsigned each_event(char *raw, size_t len, void (*each)(void *, const char *), void *ctx)
{
	unsigned n = 0;
	char *p = raw, *end = raw + len;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			break;
		*nl = '\0';
		if (each)
			each(ctx, p);
		n++;
		p = nl + 1;
	}
	return n;
}

/* What the header or seal says; false when it is not what it must be. */
static bool check_header(const char *raw, struct recording_report *out)
{
	cJSON *j = cJSON_Parse(raw);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
	bool ok = cJSON_IsString(id) && cJSON_IsString(fmt) &&
		  !strcmp(fmt->valuestring, "sluice-recording");

	if (ok)
		snprintf(out->id, sizeof(out->id), "%s", id->valuestring);
	cJSON_Delete(j);
	return ok;
}

static bool check_seal(const char *raw, unsigned chunks, unsigned events)
{
	cJSON *j = cJSON_Parse(raw);
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "chunks");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "events");
	bool ok = cJSON_IsNumber(c) && cJSON_IsNumber(e) && c->valuedouble == chunks &&
		  e->valuedouble == events;

	cJSON_Delete(j);
	return ok;
}

struct reader {
	const uint8_t *key;
	uint8_t prev[MAC_BYTES];  /* MAC of the last good chunk */
	bool sealed;
	void (*each)(void *ctx, const char *json);
	void *ctx;
};

/* The chunk at c, len bytes left: NULL and its size in *size when good,
 * else why not. */
static const char *read_chunk(struct reader *rd, const uint8_t *c, size_t len,
			      struct recording_report *out, size_t *size)
{
	uint8_t mac[MAC_BYTES];
	uint32_t seq, raw_len, data_len;
	uLongf got;
	char *raw;
	bool ok;

	if (rd->sealed)
		return "data after the seal";
	if (len < HEAD_BYTES)
		return "cut short inside a chunk header";
	if (memcmp(c, MAGIC, 4) || c[5] != VERSION)
		return "not a chunk";
	seq = get_be32(c + 8);
	raw_len = get_be32(c + 12);
	data_len = get_be32(c + 16);
	if (raw_len > RECORDING_RAW_MAX || data_len > compressBound(raw_len))
		return "chunk lengths out of bounds";
	if (len - HEAD_BYTES < (size_t)data_len + MAC_BYTES)
		return "cut short inside a chunk";
	chunk_mac(rd->key, rd->prev, c, HEAD_BYTES + data_len, mac);
	if (CRYPTO_memcmp(mac, c + HEAD_BYTES + data_len, MAC_BYTES))
		return "MAC does not match: changed, reordered, dropped, from another file, "
		       "or the wrong key";
	if (seq != out->chunks)
		return "chunk out of sequence";
	if ((seq == 0) != (c[4] == CHUNK_HEADER) ||
	    (c[4] != CHUNK_HEADER && c[4] != CHUNK_DATA && c[4] != CHUNK_SEAL))
		return "chunk of the wrong type";
	if (!(raw = malloc((size_t)raw_len + 1)))
		return "out of memory";
	got = raw_len;
	ok = uncompress((Bytef *)raw, &got, c + HEAD_BYTES, data_len) == Z_OK && got == raw_len;
	raw[raw_len] = '\0';
	if (ok && c[4] == CHUNK_HEADER)
		ok = check_header(raw, out);
	else if (ok && c[4] == CHUNK_SEAL)
		ok = rd->sealed = check_seal(raw, out->chunks, out->events);
	else if (ok)
		out->events += each_event(raw, raw_len, rd->each, rd->ctx);
	free(raw);
	if (!ok)
		return "chunk content is not valid";
	memcpy(rd->prev, mac, MAC_BYTES);
	*size = HEAD_BYTES + data_len + MAC_BYTES;
	return NULL;
}

void recording_verify(const uint8_t *buf, size_t len, const uint8_t key[RECORDING_KEY_BYTES],
		      void (*each)(void *ctx, const char *json), void *ctx,
		      struct recording_report *out)
{
	struct reader rd = { .key = key, .each = each, .ctx = ctx };
	size_t off = 0, size = 0;
	const char *why;

	*out = (struct recording_report){ .status = RECORDING_UNSEALED };
	if (!len) {
		bad(out, 0, "empty file");
		return;
	}
	for (; off < len; off += size) {
		if ((why = read_chunk(&rd, buf + off, len - off, out, &size))) {
			bad(out, off, why);
			return;
		}
		out->chunks++;
	}
	out->status = rd.sealed ? RECORDING_SEALED : RECORDING_UNSEALED;
}
