/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_files: the recordings in a folder and the key that verifies them.
 *
 * Recordings are DIR/YYYY-MM-DD/ID.slrec. Below DIR no symbolic link is
 * followed (a link where a date folder or recording should be is passed
 * over), only regular files are read, and none bigger than
 * REPLAY_FILE_MAX. Errors come back as text in the caller's buffer, with
 * a negative errno.
 */
#ifndef SLUICE_REPLAY_FILES_H
#define SLUICE_REPLAY_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "recording.h"
#include "replay_session.h"

#define REPLAY_FILE_MAX (1ull << 30)

struct replay_file {
	char day[16];   /* the date folder's name */
	char id[64];    /* the file's name without .slrec */
	int64_t mtime_us;
};

/* The 32-byte key at path: exactly that size, readable by its owner only. */
int replay_key_load(const char *path, uint8_t key[RECORDING_KEY_BYTES], char *err, size_t errlen);

/* Every recording under dir, by date folder then id; *out is the caller's
 * to free. */
int replay_scan(const char *dir, struct replay_file **out, size_t *n, char *err, size_t errlen);

/* The one recording whose id is id or starts with it (case aside). */
int replay_find(const char *dir, const char *id, struct replay_file *out, char *err,
		size_t errlen);

/* Read and verify f into s (initialised by the caller, keep and
 * want_decision set): s->report says what verifying found, a file renamed
 * to another session's name included. The error is for a file that could
 * not be read at all. */
int replay_load(const char *dir, const struct replay_file *f, const uint8_t *key,
		struct replay_session *s, char *err, size_t errlen);

#endif
