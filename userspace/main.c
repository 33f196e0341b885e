// SPDX-License-Identifier: Apache-2.0
/*
 * sluiced: the agent. Reads the policy, attaches the data path, serves.
 *
 * open policy -> listeners -> data path -> serve -> stop, in that order, so
 * that a redirected job never meets a program whose listener is not up yet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "approvals.h"
#include "cgroupfs.h"
#include "control.h"
#include "datapath.h"
#include "ev.h"
#include "identity.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"
#include "recorder.h"

#define SLUICE_VERSION "0.1.0"

struct selection {
	uint64_t *cgroup_ids;
	unsigned *cgroup_levels;
	size_t ncgroups;
	uint32_t *uids;
	size_t nuids;
	struct datapath_target *targets;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluiced --config FILE [--debug]   serve\n"
		"       sluiced --config FILE --check     validate the policy and exit\n"
		"       sluiced --config FILE --detach    remove the pinned BPF links and exit\n"
		"       sluiced --version\n");
}

static struct policy *load_policy(const char *path)
{
	struct policy_errors errs = { 0 };
	struct policy *p = policy_load(path, &errs);

	/* JSON paths need the file named; a file that cannot be read names
	 * itself. */
	for (size_t i = 0; i < errs.n; i++)
		log_err("%s%s%s", errs.msg[i][0] == '$' ? path : "", errs.msg[i][0] == '$' ? ": " : "",
			errs.msg[i]);
	if (!p)
		log_err("%s: %zu error%s, not loaded", path, errs.n, errs.n == 1 ? "" : "s");
	policy_errors_clear(&errs);
	return p;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void selection_free(struct selection *sel)
{
	free(sel->cgroup_ids);
	free(sel->cgroup_levels);
	free(sel->uids);
	free(sel->targets);
}

/* A selected cgroup that does not exist yet is made now: its id must be in
 * the kernel's map before the first job lands in it, or that job would go
 * around the agent. */
static int select_cgroup(const char *root, const char *rel, uint64_t *id)
{
	char path[4096];
	int err = cgroupfs_id(root, rel, id);

	if (err != -ENOENT)
		return err;
	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	log_info("created selected cgroup %s", rel);
	return cgroupfs_id(root, rel, id);
}

static int resolve_uid(const char *user, uint32_t *uid)
{
	struct passwd *pw;
	char *end;
	unsigned long v = strtoul(user, &end, 10);

	if (*user && !*end) {
		*uid = (uint32_t)v;
		return 0;
	}
	pw = getpwnam(user);
	if (!pw)
		return -ENOENT;
	*uid = pw->pw_uid;
	return 0;
}

static int build_selection(const struct policy *p, const char *root, struct selection *sel)
{
	const struct policy_agent *a = &p->agent;
	int err;

	sel->cgroup_ids = calloc(a->select_cgroups.n + 1, sizeof(*sel->cgroup_ids));
	sel->cgroup_levels = calloc(a->select_cgroups.n + 1, sizeof(*sel->cgroup_levels));
	sel->uids = calloc(a->select_users.n + 1, sizeof(*sel->uids));
	sel->targets = calloc(p->ntargets + 1, sizeof(*sel->targets));
	if (!sel->cgroup_ids || !sel->cgroup_levels || !sel->uids || !sel->targets)
		return -ENOMEM;
	for (size_t i = 0; i < a->select_cgroups.n; i++) {
		const char *rel = a->select_cgroups.v[i];

		err = select_cgroup(root, rel, &sel->cgroup_ids[i]);
		if (err) {
			log_err("selected cgroup %s%s: %s", root, rel, strerror(-err));
			return err;
		}
		sel->cgroup_levels[i] = cgroupfs_level(rel);
	}
	sel->ncgroups = a->select_cgroups.n;
	for (size_t i = 0; i < a->select_users.n; i++) {
		if (resolve_uid(a->select_users.v[i], &sel->uids[i])) {
			log_err("selected user %s: no such user", a->select_users.v[i]);
			return -ENOENT;
		}
	}
	sel->nuids = a->select_users.n;
	for (size_t i = 0; i < p->ntargets; i++) {
		memcpy(sel->targets[i].addr, p->targets[i].net.addr, 16);
		sel->targets[i].prefix = p->targets[i].net.prefix;
		sel->targets[i].port = p->targets[i].net.port;
		sel->targets[i].target_id = (uint32_t)i;
	}
	return 0;
}

static void datapath_settings(const struct policy *p, const char *root,
			      const struct selection *sel, const struct proxy *px,
			      struct datapath_config *dc)
{
	const struct sockaddr_in *l4 = (const void *)&p->agent.listen;
	const struct sockaddr_in6 *l6 = (const void *)&p->agent.listen6;

	*dc = (struct datapath_config){
		.bpffs_dir = p->agent.bpffs,
		.cgroup_root = root,
		.listen4_ip = l4->sin_addr.s_addr,
		.listen4_port = ntohs(l4->sin_port),
		.listen6_port = 0,
		.pin = !p->agent.fail_open,
		.targets = sel->targets,
		.ntargets = p->ntargets,
		.cgroup_ids = sel->cgroup_ids,
		.cgroup_levels = sel->cgroup_levels,
		.cgroup_paths = (const char *const *)p->agent.select_cgroups.v,
		.ncgroups = sel->ncgroups,
		.uids = sel->uids,
		.nuids = sel->nuids,
	};
	memcpy(dc->listen6_ip, &l6->sin6_addr, 16);
	proxy_listen_fds(px, dc->listen_fds);
	if (dc->listen_fds[1] >= 0)
		dc->listen6_port = ntohs(l6->sin6_port);
}

static int signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void on_signal(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: policy reload is not implemented yet; restart to apply");
			continue;
		}
		log_info("signal %u: stopping", si.ssi_signo);
		ev_stop(loop);
	}
}

/* What systemd hears while the agent serves: STATUS= with the live session
 * count, and WATCHDOG=1 when the unit has a watchdog (WATCHDOG_USEC). */
struct notifier {
	struct proxy *px;
	bool watchdog;
};

static void on_notify_tick(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct notifier *n = arg;
	unsigned sessions = proxy_session_count(n->px);

	(void)loop, (void)fd, (void)events;
	sd_notifyf(0, "%sSTATUS=serving %u session%s", n->watchdog ? "WATCHDOG=1\n" : "",
		   sessions, sessions == 1 ? "" : "s");
}

/* Every half watchdog period (at most a second apart, for the status). */
static int start_notifier(struct ev_loop *loop, struct notifier *n)
{
	uint64_t usec = 0;
	unsigned ms = 1000;

	n->watchdog = sd_watchdog_enabled(0, &usec) > 0;
	if (n->watchdog && usec / 2000 < ms)
		ms = usec / 2000 ? (unsigned)(usec / 2000) : 1;
	if (!getenv("NOTIFY_SOCKET"))
		return 0; /* not under systemd: nobody listens */
	return ev_every(loop, ms, on_notify_tick, n);
}

static int serve(const struct policy *p, const char *policy_file)
{
	struct notifier notifier = { 0 };
	struct identity_resolver *ids = NULL;
	struct selection sel = { 0 };
	struct datapath *dp = NULL;
	struct ev_loop *loop = NULL;
	struct proxy *px = NULL;
	struct recorder *rec = NULL;
	struct approvals *approvals = NULL;
	struct control *ctl = NULL;
	struct datapath_config dc;
	char root[4096];
	int sfd = -1, err;

	if ((err = cgroupfs_find_root(root, sizeof(root)))) {
		log_err("no cgroup2 hierarchy mounted: %s", strerror(-err));
		return 1;
	}
	if ((err = build_selection(p, root, &sel)))
		goto cleanup;
	if ((err = identity_resolver_new(root, &ids))) {
		log_err("failed to open cgroup root %s: %s", root, strerror(-err));
		goto cleanup;
	}
	if ((err = ev_loop_new(&loop)) || (err = recorder_new(p, loop, &rec)))
		goto cleanup;
	if (!(approvals = approvals_new(p, loop))) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = proxy_new(&(struct proxy_config){ .policy = p, .loop = loop, .identities = ids,
						.recorder = rec, .approvals = approvals,
						.cgroup_root = root },
			&px);
	if (err)
		goto cleanup;
	datapath_settings(p, root, &sel, px, &dc);
	if ((err = datapath_start(&dc, &dp)))
		goto cleanup;
	notifier.px = px;
	if ((sfd = signal_fd()) < 0 || (err = ev_add(loop, sfd, EV_READ, on_signal, NULL)) ||
	    (err = proxy_serve(px, dp)) || (err = start_notifier(loop, &notifier)) ||
	    (err = control_new(&(struct control_config){
			.policy = p, .policy_file = policy_file, .loop = loop, .proxy = px,
			.approvals = approvals, .cgroup_root = root, .version = SLUICE_VERSION,
			.bpf_attached = true }, &ctl))) {
		err = err ? err : -errno;
		log_err("failed to start serving: %s", strerror(-err));
		goto cleanup;
	}
	log_info("sluiced %s serving: cgroup root %s, %zu target%s", SLUICE_VERSION, root,
		 p->ntargets, p->ntargets == 1 ? "" : "s");
	sd_notify(0, "READY=1\nSTATUS=serving 0 sessions");
	err = ev_run(loop);
	sd_notify(0, "STOPPING=1");
cleanup:
	control_free(ctl);
	proxy_free(px);
	approvals_free(approvals);
	recorder_free(rec);
	datapath_close(dp);
	if (p->agent.fail_open)
		datapath_detach(p->agent.bpffs);
	if (sfd >= 0)
		close(sfd);
	ev_loop_free(loop);
	identity_resolver_free(ids);
	selection_free(&sel);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "detach", no_argument, NULL, 'd' },
		{ "debug", no_argument, NULL, 'D' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = NULL;
	int check = 0, detach = 0, debug = 0, c, rc;
	struct policy *p;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'k': check = 1; break;
		case 'd': detach = 1; break;
		case 'D': debug = 1; break;
		case 'V': printf("sluiced %s\n", SLUICE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (!config || optind != argc) {
		usage(stderr);
		return 64;
	}
	/* SLUICE_DEBUG=1 does what --debug does, for wrappers that set the env. */
	log_init("sluiced", debug || (getenv("SLUICE_DEBUG") && !strcmp(getenv("SLUICE_DEBUG"), "1")));
	p = load_policy(config);
	if (!p)
		return 1;
	if (check) {
		printf("%s: ok\n", config);
		rc = 0;
	} else if (detach) {
		rc = datapath_detach(p->agent.bpffs) ? 1 : 0;
		if (!rc)
			log_info("detached and unpinned the BPF links under %s", p->agent.bpffs);
	} else {
		raise_fd_limit();
		rc = serve(p, config);
	}
	policy_free(p);
	return rc;
}
