/* SPDX-License-Identifier: Apache-2.0 */
/*
 * recording: a session's tamper-evident record on disk (docs/recording-format.md).
 *
 * A recording is a sequence of chunks: a header, data chunks (zlib of JSON
 * lines, one event each), and a seal. Every chunk carries HMAC-SHA256 under
 * the host's recording key over the previous chunk's MAC and its own bytes,
 * so a changed byte, a dropped, reordered or appended chunk, or a file cut
 * short is found by recording_verify(), with the offset of the first bad
 * chunk. A file without a seal (the agent was killed) verifies as unsealed,
 * intact up to its last whole chunk.
 *
 * Writing: events are buffered (at most RECORDING_BUFFER bytes, then a chunk
 * is written at once) and written as one chunk by recording_flush(), which
 * the caller runs on a short timer and which recording_close() runs before
 * the seal. Reading and verifying work on a buffer: no I/O, for the fuzzer.
 * Return convention: 0 or a negative errno.
 */
#ifndef SLUICE_RECORDING_H
#define SLUICE_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECORDING_KEY_BYTES 32
#define RECORDING_BUFFER   (256u << 10)  /* events held before a chunk is written */
#define RECORDING_RAW_MAX  (16u << 20)   /* the most one chunk may hold, uncompressed */

struct recording;

/* Create DIR/YYYY-MM-DD/ID.slrec (folders 0700, file 0600, never an
 * existing one) and write its header. */
int recording_open(const char *dir, const char *id, const uint8_t key[RECORDING_KEY_BYTES],
		   struct recording **out);

/* Queue one event: a JSON object on one line (no newline inside). */
int recording_add(struct recording *r, const char *json, size_t len);

/* Write what is queued as one chunk. */
int recording_flush(struct recording *r);

/* Flush, seal and close; frees r (NULL is fine). */
int recording_close(struct recording *r);

/* The file's path. */
const char *recording_path(const struct recording *r);

enum recording_status {
	RECORDING_SEALED,     /* whole and sealed */
	RECORDING_UNSEALED,   /* intact up to its last chunk, never sealed */
	RECORDING_BAD,        /* bad_offset is where it stops being trustworthy */
};

struct recording_report {
	enum recording_status status;
	size_t bad_offset;
	char reason[128];
	char id[64];          /* from the header */
	unsigned chunks;      /* good chunks, the header and seal included */
	unsigned events;      /* in good data chunks */
};

/* Verify the bytes of a recording; if each is not NULL, call it with each
 * event (a NUL-terminated JSON line) of the good chunks, in order. */
void recording_verify(const uint8_t *buf, size_t len, const uint8_t key[RECORDING_KEY_BYTES],
		      void (*each)(void *ctx, const char *json), void *ctx,
		      struct recording_report *out);

#endif
