// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of recording: real files written and read back, then changed
 * the ways an attacker or a crash would (a byte, a dropped, reordered or
 * foreign chunk, a cut, the wrong key), each found at the right offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "recording.h"
#include "unit.h"

static char dir[] = "/tmp/sluice-test-recording.XXXXXX";
static const uint8_t key[RECORDING_KEY_BYTES] = "0123456789abcdef0123456789abcdef";

struct file {
	uint8_t *data;
	size_t len;
	size_t chunk[16]; /* chunk offsets */
	size_t nchunks;
};

static int read_file(const char *path, struct file *f)
{
	FILE *fp = fopen(path, "rb");
	long n;

	memset(f, 0, sizeof(*f));
	if (!fp || fseek(fp, 0, SEEK_END) || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)) {
		if (fp)
			fclose(fp);
		return -1;
	}
	f->data = malloc((size_t)n + 1);
	f->len = f->data ? fread(f->data, 1, (size_t)n, fp) : 0;
	fclose(fp);
	/* Chunk boundaries: a 20-byte head whose last 4 bytes are the data's
	 * length, the data, a 32-byte MAC. */
	for (size_t off = 0; off + 20 <= f->len && f->nchunks < 16;) {
		size_t dlen = (size_t)f->data[off + 16] << 24 | (size_t)f->data[off + 17] << 16 |
			      (size_t)f->data[off + 18] << 8 | f->data[off + 19];

		f->chunk[f->nchunks++] = off;
		off += 20 + dlen + 32;
	}
	return f->len == (size_t)n ? 0 : -1;
}

struct seen {
	char lines[8][64];
	int n;
};

static void collect(void *ctx, const char *json)
{
	struct seen *s = ctx;

	if (s->n < 8)
		snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s", json);
	s->n++;
}

/* Write a recording with events e1..e5 in two data chunks; its path. */
static int write_events(const char *id, char *path, size_t len, struct recording **out)
{
	struct recording *r;
	char ev[64];

	if (recording_open(dir, id, key, &r))
		return -1;
	snprintf(path, len, "%s", recording_path(r));
	for (int i = 1; i <= 5; i++) {
		snprintf(ev, sizeof(ev), "{\"event\":\"e%d\"}", i);
		if (recording_add(r, ev, strlen(ev)) || (i == 3 && recording_flush(r)))
			return -1;
	}
	*out = r;
	return 0;
}

static int make(const char *id, char *path, size_t len)
{
	struct recording *r;

	if (write_events(id, path, len, &r))
		return -1;
	cases++;
	if (recording_add(r, "{\"a\":\n1}", 8) != -EINVAL)
		fail("newline in an event", "accepted");
	return recording_close(r);
}

/* As a killed agent leaves it: flushed, never sealed (a child that dies). */
static int make_unsealed(const char *id, char *path, size_t len)
{
	int fds[2], status = 0;
	pid_t pid;

	if (pipe(fds) || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		struct recording *r;

		close(fds[0]);
		if (write_events(id, path, len, &r) || recording_flush(r))
			_exit(1);
		if (write(fds[1], path, strlen(path) + 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	memset(path, 0, len);
	if (read(fds[0], path, len - 1) <= 0)
		status = -1;
	close(fds[0]);
	waitpid(pid, &status, 0);
	return status;
}

static void expect(const char *name, const uint8_t *buf, size_t len, const uint8_t *k,
		   enum recording_status status, size_t offset, unsigned events)
{
	struct recording_report rep;
	struct seen s = { 0 };

	cases++;
	recording_verify(buf, len, k, collect, &s, &rep);
	if (rep.status != status || (status == RECORDING_BAD && rep.bad_offset != offset) ||
	    rep.events != events || (unsigned)s.n != events)
		fail(name, "status %d offset %zu events %u (%d seen) [%s]; want status %d offset %zu "
		     "events %u", rep.status, rep.bad_offset, rep.events, s.n, rep.reason, status,
		     offset, events);
}

int main(void)
{
	char path[4096], other[4096];
	struct file f, g;
	struct recording_report rep;
	struct seen s = { 0 };
	uint8_t *buf, wrong[RECORDING_KEY_BYTES];
	struct stat sb;

	if (!mkdtemp(dir) || make("s1", path, sizeof(path)) || read_file(path, &f) ||
	    make("s2", other, sizeof(other)) || read_file(other, &g) || f.nchunks != 4) {
		fprintf(stderr, "test_recording: could not write recordings (%zu chunks)\n",
			f.nchunks);
		return 1;
	}
	buf = malloc(f.len + g.len);

	/* Whole: sealed, every event in order, the id from the header. */
	cases++;
	recording_verify(f.data, f.len, key, collect, &s, &rep);
	if (rep.status != RECORDING_SEALED || rep.chunks != 4 || rep.events != 5 || s.n != 5 ||
	    strcmp(s.lines[0], "{\"event\":\"e1\"}") || strcmp(s.lines[4], "{\"event\":\"e5\"}") ||
	    strcmp(rep.id, "s1"))
		fail("whole", "status %d chunks %u events %u id %s", rep.status, rep.chunks,
		     rep.events, rep.id);
	cases++;
	if (stat(path, &sb) || (sb.st_mode & 0777) != 0600 ||
	    (path[strlen(dir) + 11] != '/' || stat(dir, &sb) || (sb.st_mode & 0777) != 0700))
		fail("modes", "%s: want 0600 in 0700 folders under a dated folder", path);

	/* A changed byte in the second data chunk's data. */
	memcpy(buf, f.data, f.len);
	buf[f.chunk[2] + 22] ^= 1;
	expect("changed byte", buf, f.len, key, RECORDING_BAD, f.chunk[2], 3);

	/* The first data chunk dropped. */
	memcpy(buf, f.data, f.chunk[1]);
	memcpy(buf + f.chunk[1], f.data + f.chunk[2], f.len - f.chunk[2]);
	expect("dropped chunk", buf, f.len - (f.chunk[2] - f.chunk[1]), key, RECORDING_BAD,
	       f.chunk[1], 0);

	/* The two data chunks swapped. */
	memcpy(buf, f.data, f.chunk[1]);
	memcpy(buf + f.chunk[1], f.data + f.chunk[2], f.chunk[3] - f.chunk[2]);
	memcpy(buf + f.chunk[1] + (f.chunk[3] - f.chunk[2]), f.data + f.chunk[1],
	       f.chunk[2] - f.chunk[1]);
	memcpy(buf + f.chunk[3], f.data + f.chunk[3], f.len - f.chunk[3]);
	expect("reordered chunks", buf, f.len, key, RECORDING_BAD, f.chunk[1], 0);

	/* A chunk appended after the seal. */
	memcpy(buf, f.data, f.len);
	memcpy(buf + f.len, f.data + f.chunk[1], f.chunk[2] - f.chunk[1]);
	expect("appended chunk", buf, f.len + (f.chunk[2] - f.chunk[1]), key, RECORDING_BAD, f.len,
	       5);

	/* Another recording's data chunk in place of ours. */
	memcpy(buf, f.data, f.len);
	memcpy(buf + f.chunk[1], g.data + g.chunk[1], g.chunk[2] - g.chunk[1]);
	expect("foreign chunk", buf, f.len, key, RECORDING_BAD, f.chunk[1], 0);

	/* Cut inside the last data chunk; cut at the seal (intact, unsealed). */
	expect("cut short", f.data, f.chunk[3] - 5, key, RECORDING_BAD, f.chunk[2], 3);
	expect("seal cut off", f.data, f.chunk[3], key, RECORDING_UNSEALED, 0, 5);

	/* The wrong key; nothing at all. */
	memcpy(wrong, key, sizeof(wrong));
	wrong[0] ^= 1;
	expect("wrong key", f.data, f.len, wrong, RECORDING_BAD, 0, 0);
	expect("empty", f.data, 0, key, RECORDING_BAD, 0, 0);

	/* Never sealed, as a killed agent leaves it. */
	free(f.data);
	if (make_unsealed("s3", path, sizeof(path)) || read_file(path, &f))
		fail("unsealed", "could not write");
	else
		expect("unsealed", f.data, f.len, key, RECORDING_UNSEALED, 0, 5);

	free(buf);
	free(f.data);
	free(g.data);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fail("cleanup", "rm failed");
	printf("test_recording: %d cases, %d failed\n", cases, failures);
	return failures != 0;
}
