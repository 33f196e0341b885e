// SPDX-License-Identifier: Apache-2.0
/* datapath: loader of bpf/redirect.bpf.c. See datapath.h. */
#include "datapath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "log.h"
#include "redirect.skel.h"

/* The programs and the names of their pinned links. The first ones are
 * cgroup programs (swapped in place on restart), the rest tracing ones
 * (replaced: a tracing link cannot change its program). */
enum {
	DP_CONNECT4, DP_CONNECT6, DP_SOCKOPS, DP_PEER4, DP_PEER6,
	DP_FIRST_TRACING, DP_MKDIR = DP_FIRST_TRACING, DP_EXEC, DP_EXIT,
	DP_NPROGS
};
static const char *const pin_names[DP_NPROGS] = {
	"connect4", "connect6", "sockops", "getpeername4", "getpeername6",
	"cgroup_mkdir", "exec", "exit",
};

struct datapath {
	struct redirect_bpf *skel;
	struct bpf_link *links[DP_NPROGS];
};

static struct bpf_program *program(struct redirect_bpf *skel, int which)
{
	switch (which) {
	case DP_CONNECT4: return skel->progs.sluice_connect4;
	case DP_CONNECT6: return skel->progs.sluice_connect6;
	case DP_SOCKOPS:  return skel->progs.sluice_sockops;
	case DP_PEER4:    return skel->progs.sluice_getpeername4;
	case DP_PEER6:    return skel->progs.sluice_getpeername6;
	case DP_MKDIR:    return skel->progs.sluice_cgroup_mkdir;
	case DP_EXEC:
		return bpf_program__autoload(skel->progs.sluice_exec) ? skel->progs.sluice_exec
								      : skel->progs.sluice_exec_late;
	default:          return skel->progs.sluice_exit;
	}
}

/* libbpf's messages, the verifier log among them, one log line per line. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[16384];
	char *line, *save = NULL;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_msg(level == LIBBPF_WARN ? LOG_WARNING : LOG_INFO, "%s", line);
	return 0;
}

/* Say exactly what an old kernel lacks instead of a verifier dump. */
static int check_kernel(void)
{
	static const struct { enum bpf_func_id fn; const char *name; } helpers[] = {
		{ BPF_FUNC_get_current_ancestor_cgroup_id, "bpf_get_current_ancestor_cgroup_id (5.7)" },
		{ BPF_FUNC_sk_storage_get, "bpf_sk_storage_get in cgroup/connect (5.3)" },
		{ BPF_FUNC_ktime_get_boot_ns, "bpf_ktime_get_boot_ns (5.8)" },
	};
	int missing = 0;

	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, NULL) != 1 ||
	    libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCK_OPS, NULL) != 1) {
		log_err("kernel lacks cgroup sock_addr or sockops BPF programs (needs Linux >= 5.8)");
		return -EOPNOTSUPP;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL) != 1) {
		log_err("kernel lacks BPF_MAP_TYPE_SK_STORAGE (needs Linux >= 5.2)");
		missing++;
	}
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, helpers[i].fn, NULL) != 1) {
			log_err("kernel lacks %s", helpers[i].name);
			missing++;
		}
	}
	return missing ? -EOPNOTSUPP : 0;
}

/* Load one of the two exec hooks: the early one where the kernel has it. */
static void choose_exec_hook(struct redirect_bpf *skel)
{
	bool early = libbpf_find_vmlinux_btf_id("sched_prepare_exec", BPF_TRACE_RAW_TP) >= 0;

	bpf_program__set_autoload(skel->progs.sluice_exec, early);
	bpf_program__set_autoload(skel->progs.sluice_exec_late, !early);
	if (!early)
		log_warn("kernel has no sched_prepare_exec (Linux < 6.10): an exec racing "
			 "the accept of its connection may go unnoticed");
}

/* bpffs must be mounted for pins; systemd does it, a bare host may not. */
static int ensure_pin_dir(const char *dir)
{
	char parent[PATH_MAX];
	struct statfs sfs;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		log_err("bpffs directory %s: give a directory inside a bpffs mount", dir);
		return -EINVAL;
	}
	*slash = '\0';
	if (statfs(parent, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		if (strcmp(parent, "/sys/fs/bpf") ||
		    mount("bpffs", parent, "bpf", 0, "mode=0700")) {
			log_err("%s is not a bpffs mount and could not be mounted: %s",
				parent, strerror(errno ? errno : ENOTDIR));
			return -ENOTDIR;
		}
		log_info("mounted bpffs at %s", parent);
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		log_err("failed to create %s: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

static struct sluice_target_key target_key(const struct datapath_target *t)
{
	struct sluice_target_key k = { .prefixlen = 16u + t->prefix };
	uint16_t port = htons(t->port);

	memcpy(k.port, &port, 2);
	memcpy(k.addr, t->addr, 16);
	return k;
}

static int fill_targets(int fd, const struct datapath_config *cfg)
{
	for (size_t i = 0; i < cfg->ntargets; i++) {
		struct sluice_target_key k = target_key(&cfg->targets[i]);

		if (bpf_map_update_elem(fd, &k, &cfg->targets[i].target_id, BPF_ANY))
			return -errno;
	}
	return 0;
}

static int fill_selection(struct redirect_bpf *skel, const struct datapath_config *cfg)
{
	int cfd = bpf_map__fd(skel->maps.selected_cgroups);
	int ufd = bpf_map__fd(skel->maps.selected_uids);
	int pfd = bpf_map__fd(skel->maps.selected_paths);
	uint8_t one = 1;

	for (size_t i = 0; i < cfg->ncgroups; i++) {
		if (bpf_map_update_elem(cfd, &cfg->cgroup_ids[i], &one, BPF_ANY))
			return -errno;
		skel->bss->live.cgroup_levels |= 1ULL << cfg->cgroup_levels[i];
	}
	for (size_t i = 0; i < cfg->nuids; i++)
		if (bpf_map_update_elem(ufd, &cfg->uids[i], &one, BPF_ANY))
			return -errno;
	if (cfg->nuids)
		skel->bss->live.select_uids = 1;
	for (size_t i = 0; i < cfg->ncgroups; i++) {
		struct sluice_cgroup_path key = { 0 };

		strcpy(key.path, cfg->cgroup_paths[i]);
		if (bpf_map_update_elem(pfd, &key, &one, BPF_ANY))
			return -errno;
	}
	return 0;
}

static bool is_target(const void *key, const struct datapath_config *cfg);

/* Keys of the running target map that cfg does not name: retired ones
 * stay, so they take room. */
static size_t retired_targets(const struct datapath *dp, const struct datapath_config *cfg)
{
	struct sluice_target_key cur, next;
	int fd = bpf_map__fd(dp->skel->maps.targets);
	size_t n = 0;

	for (bool first = true; !bpf_map_get_next_key(fd, first ? NULL : &cur, &next); first = false) {
		cur = next;
		n += !is_target(&cur, cfg);
	}
	return n;
}

int datapath_check(const struct datapath *dp, const struct datapath_config *cfg, const char **why)
{
	*why = NULL;
	if (cfg->ntargets > DATAPATH_MAX_ENTRIES)
		*why = "more targets than the kernel map holds";
	else if (dp && cfg->ntargets + retired_targets(dp, cfg) > DATAPATH_MAX_ENTRIES)
		*why = "more targets than the kernel map holds, with those earlier reloads retired "
		       "(a restart clears them)";
	else if (cfg->ncgroups > DATAPATH_MAX_ENTRIES)
		*why = "more selected cgroups than the kernel map holds";
	else if (cfg->nuids > DATAPATH_MAX_ENTRIES)
		*why = "more selected users than the kernel map holds";
	for (size_t i = 0; !*why && i < cfg->ncgroups; i++) {
		if (cfg->cgroup_levels[i] >= SLUICE_MAX_CGROUP_LEVEL)
			*why = "a selected cgroup is nested deeper than the kernel side checks";
		else if (strlen(cfg->cgroup_paths[i]) >= SLUICE_CGROUP_PATH)
			*why = "a selected cgroup path is longer than the kernel side compares";
	}
	return *why ? -E2BIG : 0;
}

static int fill_maps(struct redirect_bpf *skel, const struct datapath_config *cfg)
{
	int sfd = bpf_map__fd(skel->maps.agent_socks);
	const char *why;
	int err;

	if ((err = datapath_check(NULL, cfg, &why))) {
		log_err("%s", why);
		return err;
	}
	if ((err = fill_targets(bpf_map__fd(skel->maps.targets), cfg)) ||
	    (err = fill_selection(skel, cfg)))
		return err;
	for (int i = 0; i < 2; i++) {
		uint32_t mark = SLUICE_SOCK_LISTENER;

		if (cfg->listen_fds[i] >= 0 &&
		    bpf_map_update_elem(sfd, &cfg->listen_fds[i], &mark, BPF_NOEXIST))
			return -errno;
	}
	return 0;
}

/* A cgroup program is swapped into its pinned link, atomically. */
static int adopt_cgroup_link(struct datapath *dp, int which, const char *path)
{
	struct bpf_link *link = bpf_link__open(path);
	int err;

	if (!link)
		return -errno;
	err = bpf_link__update_program(link, program(dp->skel, which));
	if (err) {
		log_err("failed to update pinned link %s: %s", path, strerror(-err));
		bpf_link__destroy(link);
		return err;
	}
	dp->links[which] = link;
	return 1;
}

/* Attach (a cgroup program to the root, a tracing one to its tracepoint)
 * and pin; a tracing link found pinned is replaced after ours is up. */
static int attach_one(struct datapath *dp, int which, int cgroup_fd,
		      const struct datapath_config *cfg)
{
	struct bpf_program *prog = program(dp->skel, which);
	bool tracing = which >= DP_FIRST_TRACING;
	bool pinned;
	char path[PATH_MAX];
	struct bpf_link *link;
	int err;

	snprintf(path, sizeof(path), "%s/%s", cfg->bpffs_dir, pin_names[which]);
	pinned = cfg->pin && access(path, F_OK) == 0;
	if (pinned && !tracing)
		return adopt_cgroup_link(dp, which, path);
	link = tracing ? bpf_program__attach(prog) : bpf_program__attach_cgroup(prog, cgroup_fd);
	if (!link) {
		err = -errno;
		log_err("failed to attach %s: %s", pin_names[which], strerror(-err));
		return err;
	}
	dp->links[which] = link;
	if (!cfg->pin)
		return 0;
	if (pinned && unlink(path)) {
		log_err("failed to replace pinned link %s: %s", path, strerror(errno));
		return -errno;
	}
	if ((err = bpf_link__pin(link, path))) {
		log_err("failed to pin %s: %s", path, strerror(-err));
		return err;
	}
	return pinned;
}

static int attach_all(struct datapath *dp, const struct datapath_config *cfg)
{
	int cgroup_fd, adopted = 0, err = 0;

	if (!cfg->pin && (err = datapath_detach(cfg->bpffs_dir)))
		return err;
	cgroup_fd = open(cfg->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0) {
		log_err("failed to open cgroup root %s: %s", cfg->cgroup_root, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < DP_NPROGS; i++) {
		err = attach_one(dp, i, cgroup_fd, cfg);
		if (err < 0)
			break;
		adopted += err;
		err = 0;
	}
	close(cgroup_fd);
	if (!err)
		log_info("BPF programs %s on %s (%s)",
			 adopted ? "swapped into pinned links" : "attached", cfg->cgroup_root,
			 cfg->pin ? cfg->bpffs_dir : "not pinned: fail open");
	return err;
}

/* A selected cgroup made again between reading its id and attaching
 * cgroup_mkdir has a new id: read them all once more now. */
static void refresh_selected_ids(struct redirect_bpf *skel, const struct datapath_config *cfg)
{
	int cfd = bpf_map__fd(skel->maps.selected_cgroups);
	uint8_t one = 1;

	for (size_t i = 0; i < cfg->ncgroups; i++) {
		uint64_t id;

		if (!cgroupfs_id(cfg->cgroup_root, cfg->cgroup_paths[i], &id))
			bpf_map_update_elem(cfd, &id, &one, BPF_ANY);
	}
}

int datapath_start(const struct datapath_config *cfg, struct datapath **out)
{
	struct datapath *dp;
	struct redirect_bpf *skel;
	int err;

	libbpf_set_print(libbpf_print);
	if ((err = check_kernel()))
		return err;
	if (cfg->pin && (err = ensure_pin_dir(cfg->bpffs_dir)))
		return err;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	skel = redirect_bpf__open();
	if (!skel) {
		err = -errno;
		log_err("failed to open BPF object: %s", strerror(-err));
		goto cleanup;
	}
	dp->skel = skel;
	choose_exec_hook(skel);
	skel->rodata->listen4_ip = cfg->listen4_ip;
	skel->rodata->listen4_port = htons(cfg->listen4_port);
	memcpy((void *)skel->rodata->listen6_ip, cfg->listen6_ip, 16);
	skel->rodata->listen6_port = htons(cfg->listen6_port);
	err = redirect_bpf__load(skel);
	if (err) {
		log_err("failed to load BPF programs: %s", strerror(-err));
		goto cleanup;
	}
	err = fill_maps(skel, cfg);
	if (err) {
		log_err("failed to fill BPF maps: %s", strerror(-err));
		goto cleanup;
	}
	err = attach_all(dp, cfg);
	if (err)
		goto cleanup;
	refresh_selected_ids(skel, cfg);
	*out = dp;
	return 0;
cleanup:
	datapath_close(dp);
	return err;
}

/* The accepted socket's tuple as the job's side of the hand-off keyed it. */
typedef bool keep_fn(const void *key, const struct datapath_config *cfg);

/* Keys of the map at fd that keep() refuses are deleted (or, with retire,
 * given the value *retire). They are all read first: deleting while
 * walking would restart the walk. */
static int prune(int fd, size_t key_size, keep_fn *keep, const struct datapath_config *cfg,
		 const uint32_t *retire)
{
	uint8_t cur[sizeof(struct sluice_cgroup_path)], next[sizeof(cur)];
	uint8_t *keys = NULL, *more;
	size_t n = 0;
	int err = 0;

	for (bool first = true; !bpf_map_get_next_key(fd, first ? NULL : cur, next); first = false) {
		memcpy(cur, next, key_size);
		if (keep(cur, cfg))
			continue;
		if (!(more = realloc(keys, (n + 1) * key_size))) {
			free(keys);
			return -ENOMEM;
		}
		keys = more;
		memcpy(keys + n++ * key_size, cur, key_size);
	}
	for (size_t i = 0; i < n; i++) {
		void *key = keys + i * key_size;
		int r = retire ? bpf_map_update_elem(fd, key, retire, BPF_EXIST)
			       : bpf_map_delete_elem(fd, key);

		if (r && errno != ENOENT)
			err = -errno;
	}
	free(keys);
	return err;
}

static bool is_target(const void *key, const struct datapath_config *cfg)
{
	for (size_t i = 0; i < cfg->ntargets; i++) {
		struct sluice_target_key k = target_key(&cfg->targets[i]);

		if (!memcmp(&k, key, sizeof(k)))
			return true;
	}
	return false;
}

static bool is_selected_cgroup(const void *key, const struct datapath_config *cfg)
{
	for (size_t i = 0; i < cfg->ncgroups; i++)
		if (!memcmp(&cfg->cgroup_ids[i], key, sizeof(uint64_t)))
			return true;
	return false;
}

static bool is_selected_uid(const void *key, const struct datapath_config *cfg)
{
	for (size_t i = 0; i < cfg->nuids; i++)
		if (!memcmp(&cfg->uids[i], key, sizeof(uint32_t)))
			return true;
	return false;
}

static bool is_selected_path(const void *key, const struct datapath_config *cfg)
{
	const struct sluice_cgroup_path *p = key;

	for (size_t i = 0; i < cfg->ncgroups; i++)
		if (!strncmp(p->path, cfg->cgroup_paths[i], sizeof(p->path)))
			return true;
	return false;
}

int datapath_update(struct datapath *dp, const struct datapath_config *cfg)
{
	struct redirect_bpf *skel = dp->skel;
	const uint32_t retired = SLUICE_TARGET_RETIRED;
	uint64_t levels = 0;
	const char *why;
	int err;

	if ((err = datapath_check(dp, cfg, &why)))
		return err;
	/* Widen first, then narrow: a job selected before and after is never
	 * unselected in between. */
	if ((err = fill_targets(bpf_map__fd(skel->maps.targets), cfg)) ||
	    (err = fill_selection(skel, cfg)))
		return err;
	for (size_t i = 0; i < cfg->ncgroups; i++)
		levels |= 1ULL << cfg->cgroup_levels[i];
	if ((err = prune(bpf_map__fd(skel->maps.targets), sizeof(struct sluice_target_key),
			 is_target, cfg, &retired)) ||
	    (err = prune(bpf_map__fd(skel->maps.selected_paths), sizeof(struct sluice_cgroup_path),
			 is_selected_path, cfg, NULL)) ||
	    (err = prune(bpf_map__fd(skel->maps.selected_cgroups), sizeof(uint64_t),
			 is_selected_cgroup, cfg, NULL)) ||
	    (err = prune(bpf_map__fd(skel->maps.selected_uids), sizeof(uint32_t),
			 is_selected_uid, cfg, NULL)))
		return err;
	skel->bss->live.cgroup_levels = levels;
	skel->bss->live.select_uids = cfg->nuids > 0;
	refresh_selected_ids(skel, cfg);
	return 0;
}

static int accepted_tuple(int fd, struct sluice_tuple *t)
{
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof(peer), llen = sizeof(local);

	if (getpeername(fd, (struct sockaddr *)&peer, &plen) ||
	    getsockname(fd, (struct sockaddr *)&local, &llen))
		return -errno;
	memset(t, 0, sizeof(*t));
	if (peer.ss_family == AF_INET) {
		const struct sockaddr_in *p = (const void *)&peer, *l = (const void *)&local;

		t->saddr[10] = t->saddr[11] = t->daddr[10] = t->daddr[11] = 0xff;
		memcpy(t->saddr + 12, &p->sin_addr, 4);
		memcpy(t->daddr + 12, &l->sin_addr, 4);
		t->sport = ntohs(p->sin_port);
		t->dport = ntohs(l->sin_port);
	} else {
		const struct sockaddr_in6 *p = (const void *)&peer, *l = (const void *)&local;

		memcpy(t->saddr, &p->sin6_addr, 16);
		memcpy(t->daddr, &l->sin6_addr, 16);
		t->sport = ntohs(p->sin6_port);
		t->dport = ntohs(l->sin6_port);
	}
	return 0;
}

int datapath_origin(struct datapath *dp, int accepted_fd, struct sluice_origin *out)
{
	int fd = bpf_map__fd(dp->skel->maps.agent_origin);
	int hfd = bpf_map__fd(dp->skel->maps.handoff);
	struct sluice_tuple t;

	if (!bpf_map_lookup_elem(fd, &accepted_fd, out))
		return 0;
	/* The kernel queues the child for accept() before sockops has moved
	 * the origin onto it: take it from the hand-off map then. */
	if (!accepted_tuple(accepted_fd, &t) && !bpf_map_lookup_and_delete_elem(hfd, &t, out))
		return 0;
	if (!bpf_map_lookup_elem(fd, &accepted_fd, out))
		return 0;
	return -ENOENT;
}

int datapath_mark_upstream(struct datapath *dp, int fd)
{
	uint32_t mark = SLUICE_SOCK_UPSTREAM;

	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.agent_socks), &fd, &mark, BPF_ANY))
		return -errno;
	return 0;
}

bool datapath_exec_since(struct datapath *dp, uint32_t tgid, uint64_t since_ns)
{
	uint64_t exec_ns;

	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.exec_time), &tgid, &exec_ns))
		return false;
	return exec_ns > since_ns;
}

void datapath_close(struct datapath *dp)
{
	if (!dp)
		return;
	for (int i = 0; i < DP_NPROGS; i++)
		bpf_link__destroy(dp->links[i]);
	redirect_bpf__destroy(dp->skel);
	free(dp);
}

int datapath_detach(const char *bpffs_dir)
{
	struct dirent *de;
	int err = 0;
	DIR *d = opendir(bpffs_dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", bpffs_dir, de->d_name);
		fd = bpf_obj_get(path);
		/* Detach first: another holder of the link must not keep it alive. */
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
		if (unlink(path)) {
			log_err("failed to unpin %s: %s", path, strerror(errno));
			err = -errno;
		}
	}
	closedir(d);
	if (!err && rmdir(bpffs_dir) && errno != ENOENT)
		err = -errno;
	return err;
}
