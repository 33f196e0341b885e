// SPDX-License-Identifier: Apache-2.0
/* identity: facts about a connection's caller. See identity.h. */
#include "identity.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "ev.h"

#define CGROUP_CACHE 4096 /* power of two */
#define USER_CACHE 256    /* power of two */
#define USER_TTL_MS 60000 /* names change rarely; lookups may be slow (NSS) */

struct cgroup_entry {
	uint64_t id;
	char *path;
};

struct user_entry {
	uint32_t uid;
	bool used;
	uint64_t expires_ms;
	char name[64];
};

struct identity_resolver {
	int root_fd;
	char root[4096];
	size_t ncgroups;
	struct cgroup_entry cgroups[CGROUP_CACHE];
	struct user_entry users[USER_CACHE];
	long ticks_per_s;
};

int identity_resolver_new(const char *cgroup_root, struct identity_resolver **out)
{
	struct identity_resolver *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->root_fd = open(cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->root_fd < 0) {
		int err = -errno;

		free(r);
		return err;
	}
	snprintf(r->root, sizeof(r->root), "%s", cgroup_root);
	r->ticks_per_s = sysconf(_SC_CLK_TCK);
	*out = r;
	return 0;
}

static void clear_cgroups(struct identity_resolver *r)
{
	for (size_t i = 0; i < CGROUP_CACHE; i++) {
		free(r->cgroups[i].path);
		r->cgroups[i] = (struct cgroup_entry){ 0 };
	}
	r->ncgroups = 0;
}

void identity_resolver_free(struct identity_resolver *r)
{
	if (!r)
		return;
	clear_cgroups(r);
	close(r->root_fd);
	free(r);
}

static size_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

/* Open addressing; when three quarters full, start over: a cache, not a
 * record, and cheap to refill. */
static void cgroup_path(struct identity_resolver *r, uint64_t id, char *buf, size_t size)
{
	size_t i = hash64(id) & (CGROUP_CACHE - 1);
	char path[512];

	for (; r->cgroups[i].path; i = (i + 1) & (CGROUP_CACHE - 1)) {
		if (r->cgroups[i].id == id) {
			snprintf(buf, size, "%s", r->cgroups[i].path);
			return;
		}
	}
	if (cgroupfs_path(r->root_fd, r->root, id, path, sizeof(path))) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, size, "%s", path);
	if (r->ncgroups >= CGROUP_CACHE * 3 / 4) {
		clear_cgroups(r);
		i = hash64(id) & (CGROUP_CACHE - 1);
	}
	r->cgroups[i].path = strdup(path);
	if (r->cgroups[i].path) {
		r->cgroups[i].id = id;
		r->ncgroups++;
	}
}

static void user_name(struct identity_resolver *r, uint32_t uid, char *buf, size_t size)
{
	struct user_entry *e = &r->users[hash64(uid) & (USER_CACHE - 1)];
	struct passwd pw, *res = NULL;
	uint64_t now = ev_now_ms();
	char tmp[16384];

	if (!e->used || e->uid != uid || e->expires_ms < now) {
		e->uid = uid;
		e->used = true;
		e->expires_ms = now + USER_TTL_MS;
		e->name[0] = '\0';
		if (!getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) && res)
			snprintf(e->name, sizeof(e->name), "%s", pw.pw_name);
	}
	snprintf(buf, size, "%s", e->name);
}

/* A small file of /proc/PID, NUL-terminated: its length, 0 when unreadable. */
static size_t read_proc(int dirfd, const char *name, char *buf, size_t size)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

struct proc_stat {
	uint32_t ppid;
	uint64_t start_ns; /* since boot */
};

/* The parent and start time of the process at dirfd (one read of stat). */
static bool proc_stat(int dirfd, long ticks_per_s, struct proc_stat *st)
{
	char stat[1024], *p;

	/* comm may hold spaces and parens: fields resume after the last ')',
	 * with field 3 first. ppid is field 4, starttime field 22. */
	if (!read_proc(dirfd, "stat", stat, sizeof(stat)) || !(p = strrchr(stat, ')')) ||
	    !(p = strchr(p + 2, ' ')))
		return false;
	st->ppid = (uint32_t)strtoul(p + 1, NULL, 10);
	for (int field = 4; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return false;
	st->start_ns = strtoull(p + 1, NULL, 10) * (1000000000ULL / (unsigned long long)ticks_per_s);
	return true;
}

const char *const identity_ci_names[IDENTITY_CI_VARS] = {
	"CI_PROJECT_PATH", "CI_JOB_ID", "CI_PIPELINE_ID", "CI_COMMIT_SHA",
	"GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_SHA", "GITHUB_WORKFLOW",
	"JOB_NAME", "BUILD_NUMBER",
};

#define ENVIRON_MAX (256u << 10)

/* /proc/PID of the caller (and its stat), or -1 when the pid now names a
 * process started after the connect (a reused pid, not the caller) or
 * none. */
static int caller_dir(struct identity_resolver *r, const struct sluice_origin *o,
		      struct proc_stat *st)
{
	char dir[64];
	int fd;

	snprintf(dir, sizeof(dir), "/proc/%u", o->tgid);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && (!proc_stat(fd, r->ticks_per_s, st) || st->start_ns > o->connect_ns)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void read_link(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n = readlinkat(dirfd, name, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
}

static void wipe_environ(char *buf, size_t len)
{
	if (!buf)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

/* The environment block ("A=1\0B=2\0"), bounded by ENVIRON_MAX; the
 * caller wipes and frees it (wipe_environ). NULL when unreadable. Most
 * blocks are a few KiB: the buffer grows only for larger ones. */
static char *read_environ(int dirfd, size_t *len)
{
	int fd = openat(dirfd, "environ", O_RDONLY | O_CLOEXEC);
	size_t cap = 0, n = 0;
	char *buf = NULL, *bigger;
	ssize_t got;

	if (fd < 0)
		return NULL;
	for (;;) {
		if (n == cap) {
			if (cap == ENVIRON_MAX)
				break;
			cap = cap ? cap * 4 : 16u << 10;
			if (!(bigger = malloc(cap))) {
				wipe_environ(buf, n);
				buf = NULL;
				break;
			}
			if (buf)
				memcpy(bigger, buf, n);
			wipe_environ(buf, n);
			buf = bigger;
		}
		if ((got = read(fd, buf + n, cap - n)) <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	*len = n;
	return buf;
}

/* The value of name in an environment block, or NULL. */
static const char *env_value(const char *env, size_t len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);

	for (const char *p = env, *end = env + len; p < end;) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t elen = nul ? (size_t)(nul - p) : (size_t)(end - p);

		if (elen > nlen && !memcmp(p, name, nlen) && p[nlen] == '=') {
			*vlen = elen - nlen - 1;
			return p + nlen + 1;
		}
		p += elen + 1;
	}
	return NULL;
}

int identity_env(struct identity_resolver *r, const struct sluice_origin *o, const char *name,
		 char *out, size_t size)
{
	struct proc_stat st;
	int dirfd = caller_dir(r, o, &st);
	const char *v;
	size_t len = 0, vlen = 0;
	char *env;
	int err = 0;

	if (dirfd < 0)
		return -ESRCH;
	env = read_environ(dirfd, &len);
	close(dirfd);
	if (!env)
		return -ESRCH;
	if (!(v = env_value(env, len, name, &vlen)))
		err = -ENOENT;
	else if (vlen >= size)
		err = -E2BIG;
	else {
		memcpy(out, v, vlen);
		out[vlen] = '\0';
	}
	wipe_environ(env, len);
	return err;
}

static void ci_facts(int dirfd, struct identity_facts *f)
{
	size_t len = 0, vlen;
	char *env = read_environ(dirfd, &len);
	const char *v;

	for (size_t i = 0; env && i < IDENTITY_CI_VARS; i++)
		if ((v = env_value(env, len, identity_ci_names[i], &vlen)))
			snprintf(f->ci[i], sizeof(f->ci[i]), "%.*s", (int)vlen, v);
	wipe_environ(env, len);
}

static bool in_cgroup(int dirfd, const char *cgroup)
{
	char buf[4096], *line;

	if (!read_proc(dirfd, "cgroup", buf, sizeof(buf)))
		return false;
	for (line = buf; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, "0::", 3))
			return !strncmp(line + 3, cgroup, strlen(cgroup)) &&
			       (line[3 + strlen(cgroup)] == '\n' || !line[3 + strlen(cgroup)]);
	return false;
}

/* Executables of the caller's parent, its parent, ... while they share
 * the caller's cgroup. Each ancestor must have started before the process
 * below it: a pid reused since is not the ancestor. */
static void lineage(struct identity_resolver *r, struct proc_stat child,
		    struct identity_facts *f)
{
	struct proc_stat parent;
	bool ancestor;
	char dir[64];
	int fd;

	while (f->cgroup[0] && f->nlineage < IDENTITY_LINEAGE && child.ppid > 1) {
		snprintf(dir, sizeof(dir), "/proc/%u", child.ppid);
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return;
		ancestor = proc_stat(fd, r->ticks_per_s, &parent) &&
			   parent.start_ns <= child.start_ns && in_cgroup(fd, f->cgroup);
		if (ancestor)
			read_link(fd, "exe", f->lineage[f->nlineage], sizeof(f->lineage[0]));
		close(fd);
		if (!ancestor || !f->lineage[f->nlineage][0])
			return;
		f->nlineage++;
		child = parent;
	}
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "<64 hex>", or "<runtime>-<64 hex>.scope" as docker, containerd, cri-o and
 * podman name them under systemd. */
static bool container_component(const char *c, size_t len, const char **id)
{
	const char *dash;

	if (len == 64 && all_hex(c, 64)) {
		*id = c;
		return true;
	}
	if (len < 64 + 7 || strncmp(c + len - 6, ".scope", 6))
		return false;
	dash = c + len - 6 - 64 - 1;
	if (*dash != '-' || !all_hex(dash + 1, 64))
		return false;
	*id = dash + 1;
	return true;
}

static bool unit_component(const char *c, size_t len)
{
	return (len > 8 && !strncmp(c + len - 8, ".service", 8)) ||
	       (len > 6 && !strncmp(c + len - 6, ".scope", 6));
}

void identity_parse_cgroup(const char *path, char *unit, size_t unit_size,
			   char *container, size_t container_size)
{
	unit[0] = '\0';
	container[0] = '\0';
	for (const char *c = path; *c;) {
		const char *end = strchr(c, '/'), *id;
		size_t len;

		if (!end)
			end = c + strlen(c);
		len = (size_t)(end - c);
		if (len && unit_component(c, len))
			snprintf(unit, unit_size, "%.*s", (int)len, c);
		if (len && container_component(c, len, &id))
			snprintf(container, container_size, "%.64s", id);
		c = *end ? end + 1 : end;
	}
}

void identity_resolve(struct identity_resolver *r, const struct sluice_origin *o,
		      struct identity_facts *f)
{
	struct proc_stat st;
	int dirfd;

	memset(f, 0, sizeof(*f));
	f->cgroup_id = o->cgroup_id;
	f->pid = o->pid;
	f->tgid = o->tgid;
	f->uid = o->uid;
	f->gid = o->gid;
	memcpy(f->comm, o->comm, sizeof(f->comm));
	f->comm[sizeof(f->comm) - 1] = '\0';
	cgroup_path(r, o->cgroup_id, f->cgroup, sizeof(f->cgroup));
	identity_parse_cgroup(f->cgroup, f->unit, sizeof(f->unit), f->container,
			      sizeof(f->container));
	user_name(r, o->uid, f->user, sizeof(f->user));
	if ((dirfd = caller_dir(r, o, &st)) < 0)
		return;
	read_link(dirfd, "exe", f->exe, sizeof(f->exe));
	ci_facts(dirfd, f);
	close(dirfd);
	lineage(r, st, f);
}
