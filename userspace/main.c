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
#include "reload.h"
#include "selection.h"

#ifndef SLUICE_VERSION
#error "SLUICE_VERSION comes from the file VERSION through the Makefile"
#endif

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
	const struct reload_config *rc = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			struct policy_errors errs = { 0 };
			char by[48];

			snprintf(by, sizeof(by), "SIGHUP from pid %u", si.ssi_pid);
			reload_policy(rc, by, &errs);
			policy_errors_clear(&errs);
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

/* Serve under p (the agent's from here on, whatever happens). */
static int serve(struct policy *p, const char *policy_file)
{
	struct notifier notifier = { 0 };
	struct identity_resolver *ids = NULL;
	struct policy_errors errs = { 0 };
	struct selection sel = { 0 };
	struct datapath *dp = NULL;
	struct ev_loop *loop = NULL;
	struct proxy *px = NULL;
	struct recorder *rec = NULL;
	struct approvals *approvals = NULL;
	struct control *ctl = NULL;
	struct reload_config rc;
	struct datapath_config dc;
	bool fail_open = p->agent.fail_open;
	char root[4096], bpffs[4096];
	int sfd = -1, err;

	snprintf(bpffs, sizeof(bpffs), "%s", p->agent.bpffs);
	if ((err = cgroupfs_find_root(root, sizeof(root)))) {
		log_err("no cgroup2 hierarchy mounted: %s", strerror(-err));
		policy_free(p);
		return 1;
	}
	err = selection_build(p, root, &sel, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_err("%s: %s", policy_file, errs.msg[i]);
	policy_errors_clear(&errs);
	if (err)
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
	selection_datapath_config(p, root, &sel, px, &dc);
	p = NULL; /* the proxy's now */
	if ((err = datapath_start(&dc, &dp)))
		goto cleanup;
	notifier.px = px;
	rc = (struct reload_config){ .policy_file = policy_file, .cgroup_root = root, .proxy = px,
				     .datapath = dp, .recorder = rec, .approvals = approvals };
	if ((sfd = signal_fd()) < 0 || (err = ev_add(loop, sfd, EV_READ, on_signal, &rc)) ||
	    (err = proxy_serve(px, dp)) || (err = start_notifier(loop, &notifier)) ||
	    (err = control_new(&(struct control_config){
			.policy_file = policy_file, .loop = loop, .proxy = px,
			.approvals = approvals, .reload = &rc, .cgroup_root = root,
			.version = SLUICE_VERSION, .bpf_attached = true }, &ctl))) {
		err = err ? err : -errno;
		log_err("failed to start serving: %s", strerror(-err));
		goto cleanup;
	}
	log_info("sluiced %s serving: cgroup root %s, %zu target%s", SLUICE_VERSION, root,
		 proxy_policy(px)->ntargets, proxy_policy(px)->ntargets == 1 ? "" : "s");
	sd_notify(0, "READY=1\nSTATUS=serving 0 sessions");
	err = ev_run(loop);
	sd_notify(0, "STOPPING=1");
cleanup:
	control_free(ctl);
	proxy_free(px);
	policy_free(p); /* when the proxy never took it */
	approvals_free(approvals);
	recorder_free(rec);
	datapath_close(dp);
	if (fail_open)
		datapath_detach(bpffs);
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
		return serve(p, config);
	}
	policy_free(p);
	return rc;
}
