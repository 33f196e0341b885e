// SPDX-License-Identifier: Apache-2.0
/* cgroupfs: cgroup2 root, ids and paths. See cgroupfs.h. */
#include "cgroupfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* kernfs file handles: type FILEID_KERNFS, 8 bytes holding the node id,
 * which for a cgroup is its cgroup id. */
#define FILEID_KERNFS 0xfe

struct cgroup_handle {
	struct file_handle fh;
	uint64_t id;
};

int cgroupfs_find_root(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char mnt[4096], fstype[64];
		char *sep = strstr(line, " - ");

		/* id parent major:minor root mountpoint opts... - fstype src opts */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (strlen(mnt) >= size) {
			err = -ENAMETOOLONG;
			break;
		}
		snprintf(buf, size, "%s", mnt);
		err = 0;
		break;
	}
	free(line);
	fclose(f);
	return err;
}

int cgroupfs_id(const char *root, const char *rel, uint64_t *id)
{
	struct cgroup_handle h = { .fh.handle_bytes = sizeof(uint64_t) };
	char path[4096];
	int mount_id;

	if (snprintf(path, sizeof(path), "%s%s", root, rel) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0))
		return -errno;
	if (h.fh.handle_bytes != sizeof(uint64_t))
		return -EPROTO;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

unsigned cgroupfs_level(const char *rel)
{
	unsigned level = 0;

	for (const char *p = rel; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	return level;
}

int cgroupfs_path(int root_fd, const char *root, uint64_t id, char *buf, size_t size)
{
	struct cgroup_handle h = {
		.fh.handle_bytes = sizeof(uint64_t),
		.fh.handle_type = FILEID_KERNFS,
	};
	size_t rn = strlen(root);
	char link[64], target[4096];
	ssize_t n;
	int fd;

	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(root_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (strncmp(target, root, rn) || (target[rn] && target[rn] != '/'))
		return -EXDEV;
	if (snprintf(buf, size, "%s", target[rn] ? target + rn : "/") >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}
