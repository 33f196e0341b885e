// SPDX-License-Identifier: Apache-2.0
/* replay_files: recordings and the key on disk. See replay_files.h. */
#include "replay_files.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUFFIX ".slrec"

/* The message, then ": " and what code (a negative errno) means; code. */
__attribute__((format(printf, 4, 5)))
static int error(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, ": %s", strerror(-code));
	return code;
}

int replay_key_load(const char *path, uint8_t key[RECORDING_KEY_BYTES], char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat sb;
	ssize_t n;

	if (fd < 0)
		return error(err, errlen, -errno, "cannot open the key %s", path);
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size != RECORDING_KEY_BYTES) {
		close(fd);
		snprintf(err, errlen, "the key %s is not a %d-byte file", path, RECORDING_KEY_BYTES);
		return -EINVAL;
	}
	/* Who holds the key can write recordings that verify. */
	if (sb.st_mode & 077) {
		close(fd);
		snprintf(err, errlen, "the key %s may be read by others than its owner (chmod 600 it)",
			 path);
		return -EPERM;
	}
	n = read(fd, key, RECORDING_KEY_BYTES);
	close(fd);
	if (n != RECORDING_KEY_BYTES) {
		OPENSSL_cleanse(key, RECORDING_KEY_BYTES);
		return error(err, errlen, n < 0 ? -errno : -EIO, "cannot read the key %s", path);
	}
	return 0;
}

static bool is_day(const char *name)
{
	static const char shape[] = "dddd-dd-dd";

	for (size_t i = 0; i < sizeof(shape); i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)name[i]) : name[i] != shape[i])
			return false;
	return true;
}

/* ID.slrec, ID of letters, digits, - and _ (what a session id is made of);
 * the ID into id. */
static bool is_recording(const char *name, char id[64])
{
	size_t len = strlen(name), n = len - (sizeof(SUFFIX) - 1);

	if (len <= sizeof(SUFFIX) - 1 || n >= 64 || strcmp(name + n, SUFFIX))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
			return false;
	memcpy(id, name, n);
	id[n] = '\0';
	return true;
}

/* A folder below dirfd, not through a symbolic link. */
static DIR *open_below(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (fd >= 0 && !d)
		close(fd);
	return d;
}

static int add_file(struct replay_file **v, size_t *n, size_t *cap, const struct replay_file *f)
{
	struct replay_file *p;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		if (!(p = realloc(*v, *cap * sizeof(*p))))
			return -ENOMEM;
		*v = p;
	}
	(*v)[(*n)++] = *f;
	return 0;
}

/* The recordings of one date folder, added to v. */
static int scan_day(DIR *top, const char *day, struct replay_file **v, size_t *n, size_t *cap)
{
	DIR *d = open_below(dirfd(top), day);
	struct replay_file f = { 0 };
	struct dirent *de;
	struct stat sb;
	int err = 0;

	if (!d)
		return 0; /* not a folder, or a link: not ours */
	memcpy(f.day, day, sizeof("YYYY-MM-DD")); /* is_day() said what it holds */
	while (!err && (de = readdir(d))) {
		if (!is_recording(de->d_name, f.id) ||
		    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) || !S_ISREG(sb.st_mode))
			continue;
		f.mtime_us = (int64_t)sb.st_mtim.tv_sec * 1000000 + sb.st_mtim.tv_nsec / 1000;
		err = add_file(v, n, cap, &f);
	}
	closedir(d);
	return err;
}

static int by_path(const void *a, const void *b)
{
	const struct replay_file *x = a, *y = b;
	int c = strcmp(x->day, y->day);

	return c ? c : strcmp(x->id, y->id);
}

int replay_scan(const char *dir, struct replay_file **out, size_t *n, char *err, size_t errlen)
{
	DIR *top = opendir(dir);
	struct replay_file *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	int e = 0;

	*out = NULL;
	*n = 0;
	if (!top)
		return error(err, errlen, -errno, "cannot open the folder %s", dir);
	while (!e && (de = readdir(top)))
		if (is_day(de->d_name))
			e = scan_day(top, de->d_name, &v, n, &cap);
	closedir(top);
	if (e) {
		free(v);
		*n = 0;
		return error(err, errlen, e, "cannot list %s", dir);
	}
	qsort(v, *n, sizeof(*v), by_path);
	*out = v;
	return 0;
}

int replay_find(const char *dir, const char *id, struct replay_file *out, char *err,
		size_t errlen)
{
	struct replay_file *v;
	size_t n, matches = 0, exact = 0, len = strlen(id), at = 0, at_exact = 0;
	int e = replay_scan(dir, &v, &n, err, errlen);

	if (e)
		return e;
	for (size_t i = 0; i < n; i++) {
		if (strncasecmp(v[i].id, id, len))
			continue;
		at = i, matches++;
		if (!v[i].id[len])
			at_exact = i, exact++;
	}
	if (exact == 1 || (matches == 1 && len)) {
		*out = v[exact == 1 ? at_exact : at];
		e = 0;
	} else if (!matches || !len) {
		snprintf(err, errlen, "no recording %s in %s", len ? id : "''", dir);
		e = -ENOENT;
	} else {
		snprintf(err, errlen, "%s is ambiguous: %zu recordings start with it, say more of it",
			 id, matches);
		e = -EINVAL;
	}
	free(v);
	return e;
}

/* The file, opened below dir without following links, no bigger than the
 * limit: its descriptor and size, or a negative errno. */
static int open_recording(const char *dir, const struct replay_file *f, off_t *size, char *err,
			  size_t errlen)
{
	char name[80];
	int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), day = -1, fd = -1;
	struct stat sb;

	snprintf(name, sizeof(name), "%s" SUFFIX, f->id);
	if (top >= 0)
		day = openat(top, f->day, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (day >= 0)
		fd = openat(day, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fd = error(err, errlen, -errno, "%s/%s/%s", dir, f->day, name);
	} else if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		close(fd);
		fd = error(err, errlen, -EINVAL, "%s/%s/%s", dir, f->day, name);
	} else if ((unsigned long long)sb.st_size > REPLAY_FILE_MAX) {
		close(fd);
		fd = error(err, errlen, -EFBIG, "%s/%s/%s: %lld bytes, more than this tool reads",
			   dir, f->day, name, (long long)sb.st_size);
	} else {
		*size = sb.st_size;
	}
	if (day >= 0)
		close(day);
	if (top >= 0)
		close(top);
	return fd;
}

static int read_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(fd, buf + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	return 0;
}

int replay_load(const char *dir, const struct replay_file *f, const uint8_t *key,
		struct replay_session *s, char *err, size_t errlen)
{
	off_t size = 0;
	int fd = open_recording(dir, f, &size, err, errlen), e = 0;
	struct stat sb;
	uint8_t *buf;

	if (fd < 0)
		return fd;
	s->mtime_us = f->mtime_us;
	/* A session still being written grows by whole chunks; one read while a
	 * chunk was half written is read again rather than called bad. */
	for (int tries = 0; tries < 3; tries++) {
		if (!(buf = malloc((size_t)size + 1))) {
			e = error(err, errlen, -ENOMEM, "%s", f->id);
			break;
		}
		if ((e = read_all(fd, buf, (size_t)size))) {
			error(err, errlen, e, "%s", f->id);
			free(buf);
			break;
		}
		replay_session_free(s);
		recording_verify(buf, (size_t)size, key, replay_session_add, s, &s->report);
		free(buf);
		if (s->report.status != RECORDING_BAD || fstat(fd, &sb) || sb.st_size <= size ||
		    (unsigned long long)sb.st_size > REPLAY_FILE_MAX)
			break;
		size = sb.st_size;
	}
	close(fd);
	if (!e && s->failed)
		e = error(err, errlen, -ENOMEM, "%s", f->id);
	/* The name is not under the MAC, the header is: a renamed file. */
	if (!e && s->report.status != RECORDING_BAD && strcmp(s->report.id, f->id)) {
		s->report.status = RECORDING_BAD;
		s->report.bad_offset = 0;
		snprintf(s->report.reason, sizeof(s->report.reason),
			 "the file is named %.40s but its header says %.40s", f->id, s->report.id);
	}
	return e;
}
