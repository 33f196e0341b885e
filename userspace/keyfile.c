// SPDX-License-Identifier: Apache-2.0
/* keyfile: host secrets in files. See keyfile.h. */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int make_key(const char *dir, const char *path, uint8_t *key, size_t len)
{
	ssize_t n;
	int fd;

	if (RAND_bytes(key, (int)len) != 1)
		return -EIO;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	n = write(fd, key, len);
	if (close(fd) || n != (ssize_t)len) {
		unlink(path);
		return -EIO;
	}
	return 0;
}

int keyfile_load(const char *dir, const char *name, uint8_t *key, size_t len)
{
	char path[4096];
	struct stat sb;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return make_key(dir, path, key, len);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) || (sb.st_mode & 077) || sb.st_size != (off_t)len ||
	    read(fd, key, len) != (ssize_t)len) {
		close(fd);
		log_err("%s: not a %zu-byte file readable by its owner only", path, len);
		return -EINVAL;
	}
	close(fd);
	return 0;
}
