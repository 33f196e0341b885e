// SPDX-License-Identifier: Apache-2.0
/*
 * sluice-mkrec: write a real recording from JSON lines, for tests.
 *
 *   sluice-mkrec DIR ID KEYFILE [--unsealed] < EVENTS
 *
 * Each line of EVENTS is one event, passed to recording_add() as it is; a
 * line "#flush" ends a chunk there. The recording is sealed at the end, or
 * with --unsealed flushed and left open, as a killed agent leaves it.
 * Prints the recording's path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recording.h"

static int die(const char *what, int err)
{
	fprintf(stderr, "sluice-mkrec: %s: %s\n", what, strerror(-err));
	return 1;
}

int main(int argc, char **argv)
{
	uint8_t key[RECORDING_KEY_BYTES];
	struct recording *r;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;
	int err = 0;

	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "--unsealed"))) {
		fprintf(stderr, "usage: sluice-mkrec DIR ID KEYFILE [--unsealed] < EVENTS\n");
		return 2;
	}
	if (!(f = fopen(argv[3], "rb")) || fread(key, 1, sizeof(key), f) != sizeof(key)) {
		fprintf(stderr, "sluice-mkrec: %s: not a %d-byte key\n", argv[3], RECORDING_KEY_BYTES);
		return 1;
	}
	fclose(f);
	if ((err = recording_open(argv[1], argv[2], key, &r)))
		return die("open", err);
	while (!err && (len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (!strcmp(line, "#flush"))
			err = recording_flush(r);
		else if (len)
			err = recording_add(r, line, strlen(line));
	}
	free(line);
	printf("%s\n", recording_path(r));
	if (err) {
		recording_close(r);
		return die("add", err);
	}
	if (argc == 5) {
		if ((err = recording_flush(r)))
			return die("flush", err);
		fflush(stdout);
		_exit(0); /* no seal, no cleanup: what a killed agent leaves */
	}
	if ((err = recording_close(r)))
		return die("close", err);
	return 0;
}
