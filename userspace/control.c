// SPDX-License-Identifier: Apache-2.0
/* control: the control socket. See control.h and docs/control.md. */
#include "control.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "approvals.h"
#include "audit.h"
#include "ev.h"
#include "log.h"
#include "policy.h"
#include "reload.h"
#include "proxy.h"
#include "recorder.h"
#include "text.h"

#define LINE_MAX_BYTES (64u << 10)
#define IDLE_MS 60000
#define MAX_CLIENTS 64
#define MAX_GROUPS 256

struct client {
	struct control *ctl;
	int fd;
	uid_t uid;
	gid_t gid;
	char user[64];
	gid_t groups[MAX_GROUPS];
	int ngroups;
	char in[LINE_MAX_BYTES];
	size_t inlen;
	struct text out;
	size_t sent;
	bool closing;          /* close once out is sent */
	uint64_t active_ms;
	struct client *next;
};

struct control {
	struct control_config cfg;
	int fd;
	time_t started;
	char path[108];
	struct client *clients;
	unsigned nclients;
};

/* ------------------------------------------------------------- clients */

static void client_close(struct client *cl)
{
	struct control *c = cl->ctl;

	for (struct client **p = &c->clients; *p; p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	c->nclients--;
	ev_del(c->cfg.loop, cl->fd);
	close(cl->fd);
	text_free(&cl->out);
	free(cl);
}

/* The peer's user and groups, as the system has them now. */
static void identify(struct client *cl)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd *pw;

	cl->uid = (uid_t)-1;
	if (getsockopt(cl->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return;
	cl->uid = cred.uid;
	cl->gid = cred.gid;
	pw = getpwuid(cred.uid);
	snprintf(cl->user, sizeof(cl->user), "%s", pw ? pw->pw_name : "?");
	cl->ngroups = MAX_GROUPS;
	if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, cl->groups, &cl->ngroups) < 0) {
		cl->groups[0] = cred.gid;
		cl->ngroups = 1;
	}
}

static bool in_group(const struct client *cl, const char *name)
{
	struct group *g = getgrnam(name);

	for (int i = 0; g && i < cl->ngroups; i++)
		if (cl->groups[i] == g->gr_gid)
			return true;
	return false;
}

static bool may_read(const struct client *cl)
{
	return cl->uid == 0 || in_group(cl, "sluice-auditors") || in_group(cl, "sluice-approvers");
}

/* ------------------------------------------------------------ responses */

static cJSON *ok(void)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddBoolToObject(r, "ok", 1);
	return r;
}

static cJSON *error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static cJSON *error(const char *fmt, ...)
{
	cJSON *r = cJSON_CreateObject();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddBoolToObject(r, "ok", 0);
	cJSON_AddStringToObject(r, "error", msg);
	return r;
}

static cJSON *cmd_status(struct client *cl, const cJSON *req)
{
	struct control *c = cl->ctl;
	const struct audit_counts *n = audit_counted();
	const struct policy_gen *gen = proxy_generation(c->cfg.proxy);
	const struct policy *p = gen->policy;
	cJSON *r = ok(), *o;

	(void)req;
	cJSON_AddStringToObject(r, "version", c->cfg.version);
	cJSON_AddNumberToObject(r, "pid", getpid());
	cJSON_AddNumberToObject(r, "uptime_s", (double)(time(NULL) - c->started));
	o = cJSON_AddObjectToObject(r, "policy");
	cJSON_AddStringToObject(o, "file", c->cfg.policy_file);
	cJSON_AddNumberToObject(o, "generation", gen->number);
	cJSON_AddNumberToObject(o, "loaded", (double)gen->loaded);
	cJSON_AddStringToObject(o, "mode", p->agent.observe ? "observe" : "enforce");
	cJSON_AddNumberToObject(r, "sessions", proxy_session_count(c->cfg.proxy));
	cJSON_AddNumberToObject(r, "approvals_pending", approvals_pending(c->cfg.approvals));
	o = cJSON_AddObjectToObject(r, "decisions");
	cJSON_AddNumberToObject(o, "allow", (double)n->allow);
	cJSON_AddNumberToObject(o, "deny", (double)n->deny);
	cJSON_AddNumberToObject(o, "approve", (double)n->approve);
	cJSON_AddNumberToObject(o, "would_deny", (double)n->would_deny);
	cJSON_AddNumberToObject(o, "would_approve", (double)n->would_approve);
	o = cJSON_AddObjectToObject(r, "bpf");
	cJSON_AddBoolToObject(o, "attached", c->cfg.bpf_attached);
	{
		const struct policy_agent *a = &p->agent;
		cJSON *list = cJSON_AddArrayToObject(o, "cgroups");

		for (size_t i = 0; i < a->select_cgroups.n; i++)
			cJSON_AddItemToArray(list, cJSON_CreateString(a->select_cgroups.v[i]));
		list = cJSON_AddArrayToObject(o, "users");
		for (size_t i = 0; i < a->select_users.n; i++)
			cJSON_AddItemToArray(list, cJSON_CreateString(a->select_users.v[i]));
		cJSON_AddNumberToObject(o, "targets", (double)p->ntargets);
		o = cJSON_AddObjectToObject(r, "recordings");
		cJSON_AddStringToObject(o, "dir", a->recordings_dir);
	}
	return r;
}

static cJSON *cmd_sessions(struct client *cl, const cJSON *req)
{
	cJSON *r = ok(), *list = cJSON_AddArrayToObject(r, "sessions");
	char addr[80];

	(void)req;
	for (struct session *s = proxy_first_session(cl->ctl->cfg.proxy); s;
	     s = proxy_next_session(s)) {
		cJSON *o = cJSON_CreateObject();
		const struct identity_facts *f = &s->facts;
		const struct approval *ap;

		cJSON_AddStringToObject(o, "id", s->id);
		cJSON_AddStringToObject(o, "identity", s->identity ? s->identity->name : "");
		cJSON_AddStringToObject(o, "target", s->target ? s->target->name : "");
		cJSON_AddStringToObject(o, "protocol", s->proto ? s->proto->name : "");
		cJSON_AddStringToObject(o, "cgroup", f->cgroup);
		if (f->unit[0])
			cJSON_AddStringToObject(o, "unit", f->unit);
		cJSON_AddStringToObject(o, "user", f->user);
		cJSON_AddNumberToObject(o, "uid", f->uid);
		cJSON_AddNumberToObject(o, "pid", f->tgid);
		cJSON_AddStringToObject(o, "exe", f->exe);
		sockaddr_format(&s->dst, addr, sizeof(addr));
		cJSON_AddStringToObject(o, "upstream", addr);
		cJSON_AddNumberToObject(o, "started",
					(double)(time(NULL) - (time_t)((ev_now_ms() - s->start_ms) / 1000)));
		cJSON_AddNumberToObject(o, "generation", s->gen->number);
		cJSON_AddNumberToObject(o, "bytes_up", (double)s->bytes_in[SIDE_CLIENT]);
		cJSON_AddNumberToObject(o, "bytes_down", (double)s->bytes_in[SIDE_UPSTREAM]);
		for (ap = approvals_first(cl->ctl->cfg.approvals); ap; ap = approvals_next((struct approval *)ap))
			if (ap->session == s)
				cJSON_AddStringToObject(o, "waiting", ap->id);
		cJSON_AddItemToArray(list, o);
	}
	return r;
}

static cJSON *cmd_approvals(struct client *cl, const cJSON *req)
{
	cJSON *r = ok(), *list = cJSON_AddArrayToObject(r, "approvals");

	(void)req;
	for (struct approval *ap = approvals_first(cl->ctl->cfg.approvals); ap;
	     ap = approvals_next(ap)) {
		const struct session *s = ap->session;
		cJSON *o = cJSON_CreateObject(), *f;

		cJSON_AddStringToObject(o, "id", ap->id);
		cJSON_AddStringToObject(o, "session", s->id);
		cJSON_AddStringToObject(o, "identity", s->identity->name);
		f = cJSON_AddObjectToObject(o, "facts");
		cJSON_AddStringToObject(f, "cgroup", s->facts.cgroup);
		if (s->facts.unit[0])
			cJSON_AddStringToObject(f, "unit", s->facts.unit);
		cJSON_AddStringToObject(f, "user", s->facts.user);
		cJSON_AddNumberToObject(f, "uid", s->facts.uid);
		cJSON_AddNumberToObject(f, "pid", s->facts.tgid);
		cJSON_AddStringToObject(f, "exe", s->facts.exe);
		cJSON_AddStringToObject(o, "target", s->target->name);
		cJSON_AddStringToObject(o, "statement", ap->statement);
		cJSON_AddStringToObject(o, "class", ap->cls);
		cJSON_AddStringToObject(o, "kind", ap->kind);
		cJSON_AddNumberToObject(o, "rule", ap->rule);
		cJSON_AddNumberToObject(o, "asked", (double)ap->asked);
		cJSON_AddNumberToObject(o, "expires", (double)ap->expires);
		cJSON_AddItemToArray(list, o);
	}
	return r;
}

/* May this peer decide ap? NULL, or why not. The rule is that of the
 * policy the session started under. */
static const char *may_decide(const struct client *cl, const struct approval *ap)
{
	const struct policy *p = session_policy(ap->session);
	const struct policy_rule *rule = ap->rule >= 0 ? &p->rules[ap->rule] : NULL;

	if (cl->uid == ap->session->facts.uid)
		return "the job's own uid may not decide its approval";
	if (cl->uid == 0 || in_group(cl, "sluice-approvers"))
		return NULL;
	for (size_t i = 0; rule && i < rule->approvers.n; i++)
		if (in_group(cl, rule->approvers.v[i]))
			return NULL;
	return "permission denied: deciding needs root, group sluice-approvers, or a group in "
	       "the rule's approvers";
}

static cJSON *cmd_decide(struct client *cl, const cJSON *req, bool approve)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	const cJSON *scope = cJSON_GetObjectItemCaseSensitive(req, "scope");
	const cJSON *for_s = cJSON_GetObjectItemCaseSensitive(req, "for_s");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(req, "reason");
	struct approval_decider by = { cl->uid, cl->user };
	enum approval_scope sc = APPROVAL_ONCE;
	struct approval *ap;
	const char *why;
	unsigned secs = 0;

	if (!cJSON_IsString(id))
		return error("bad request: \"id\" must be a string");
	if (!(ap = approvals_find(cl->ctl->cfg.approvals, id->valuestring)))
		return error("no such approval: %.16s", id->valuestring);
	if ((why = may_decide(cl, ap)))
		return error("%s", why);
	if (approve && scope) {
		if (!cJSON_IsString(scope))
			return error("bad request: \"scope\" must be a string");
		if (!strcmp(scope->valuestring, "session"))
			sc = APPROVAL_SESSION;
		else if (!strcmp(scope->valuestring, "identity"))
			sc = APPROVAL_IDENTITY;
		else if (strcmp(scope->valuestring, "once"))
			return error("bad request: scope is once, session or identity");
	}
	if (sc == APPROVAL_IDENTITY) {
		if (!cJSON_IsNumber(for_s) || for_s->valuedouble < 1 || for_s->valuedouble > 604800)
			return error("bad request: scope identity needs for_s, 1..604800 seconds");
		secs = (unsigned)for_s->valuedouble;
	}
	if (!approve && reason && (!cJSON_IsString(reason) ||
				   strlen(reason->valuestring) > APPROVAL_REASON_MAX))
		return error("bad request: \"reason\" must be a string of at most %d bytes",
			     APPROVAL_REASON_MAX);
	approvals_decide(cl->ctl->cfg.approvals, ap, approve, sc, secs,
			 approve || !reason ? NULL : reason->valuestring, &by);
	return ok();
}

static cJSON *cmd_kill(struct client *cl, const cJSON *req)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "session");
	struct session *s;
	char reason[128];

	if (!cJSON_IsString(id))
		return error("bad request: \"session\" must be a string");
	if (!(s = proxy_find_session(cl->ctl->cfg.proxy, id->valuestring)))
		return error("no such session: %.32s", id->valuestring);
	snprintf(reason, sizeof(reason), "killed by uid %u (%s)", (unsigned)cl->uid, cl->user);
	log_warn("session %s %s with sluicectl", s->id, reason);
	proxy_kill(s, reason);
	return ok();
}

static cJSON *cmd_reload(struct client *cl, const cJSON *req)
{
	struct control *c = cl->ctl;
	struct policy_errors errs = { 0 };
	unsigned was = proxy_generation(c->cfg.proxy)->number, now;
	char by[96];
	cJSON *r, *list;
	int err;

	(void)req;
	snprintf(by, sizeof(by), "uid %u (%s) on the control socket", (unsigned)cl->uid, cl->user);
	err = reload_policy(c->cfg.reload, by, &errs);
	now = proxy_generation(c->cfg.proxy)->number;
	if (!err)
		r = ok();
	else if (now != was)
		r = error("policy generation %u is in force, but the data path could not take all "
			  "of it: restart the agent", now);
	else
		r = error("policy not reloaded: %zu error%s", errs.n, errs.n == 1 ? "" : "s");
	cJSON_AddNumberToObject(r, "generation", now);
	if (err) {
		list = cJSON_AddArrayToObject(r, "errors");
		for (size_t i = 0; i < errs.n; i++)
			cJSON_AddItemToArray(list, cJSON_CreateString(errs.msg[i]));
	}
	policy_errors_clear(&errs);
	return r;
}

static cJSON *cmd_thaw(struct client *cl, const cJSON *req)
{
	const cJSON *cg = cJSON_GetObjectItemCaseSensitive(req, "cgroup");
	char path[PATH_MAX];
	int fd;

	if (!cJSON_IsString(cg) || cg->valuestring[0] != '/' || strstr(cg->valuestring, ".."))
		return error("bad request: \"cgroup\" must be a path from the cgroup root");
	snprintf(path, sizeof(path), "%s%s/cgroup.freeze", cl->ctl->cfg.cgroup_root,
		 cg->valuestring);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return error("cannot thaw %.200s: %s", cg->valuestring, strerror(e));
	}
	close(fd);
	log_info("cgroup %s thawed by uid %u (%s)", cg->valuestring, (unsigned)cl->uid, cl->user);
	return ok();
}

enum need { NEED_READ, NEED_DECIDE, NEED_ROOT };

static const struct command {
	const char *name;
	enum need need;
	cJSON *(*run)(struct client *cl, const cJSON *req);
} commands[] = {
	{ "status", NEED_READ, cmd_status },
	{ "sessions", NEED_READ, cmd_sessions },
	{ "approvals", NEED_READ, cmd_approvals },
	{ "approve", NEED_DECIDE, NULL },
	{ "deny", NEED_DECIDE, NULL },
	{ "kill", NEED_ROOT, cmd_kill },
	{ "policy_reload", NEED_ROOT, cmd_reload },
	{ "thaw", NEED_ROOT, cmd_thaw },
};

static cJSON *dispatch(struct client *cl, const char *line)
{
	cJSON *req = cJSON_Parse(line), *resp;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	const struct command *c = NULL;

	if (!cJSON_IsObject(req) || !cJSON_IsString(cmd)) {
		cJSON_Delete(req);
		cl->closing = true;
		return error("bad request: expected a JSON object with \"cmd\"");
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, cmd->valuestring))
			c = &commands[i];
	if (!c)
		resp = error("unknown command: %.40s", cmd->valuestring);
	else if (c->need == NEED_ROOT && cl->uid != 0)
		resp = error("permission denied: %s needs root", c->name);
	else if (c->need == NEED_READ && !may_read(cl))
		resp = error("permission denied: %s needs root, group sluice-auditors or "
			     "sluice-approvers", c->name);
	else if (c->need == NEED_DECIDE)
		resp = cmd_decide(cl, req, !strcmp(c->name, "approve"));
	else
		resp = c->run(cl, req);
	cJSON_Delete(req);
	return resp;
}

static void respond(struct client *cl, cJSON *resp)
{
	char *s = resp ? cJSON_PrintUnformatted(resp) : NULL;

	if (s) {
		text_puts(&cl->out, s);
		text_put(&cl->out, "\n", 1);
	}
	if (!s || cl->out.failed)
		cl->closing = true;
	free(s);
	cJSON_Delete(resp);
}

static void client_io(struct ev_loop *loop, int fd, unsigned events, void *arg);

static void update(struct client *cl)
{
	bool pending = cl->sent < cl->out.len;

	if (!pending && cl->closing) {
		client_close(cl);
		return;
	}
	ev_set(cl->ctl->cfg.loop, cl->fd, pending ? EV_WRITE : EV_READ);
}

static void client_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct client *cl = arg;
	ssize_t n;
	char *nl;

	(void)loop;
	cl->active_ms = ev_now_ms();
	if (events & EV_WRITE) {
		n = write(fd, cl->out.s + cl->sent, cl->out.len - cl->sent);
		if (n < 0 && errno != EAGAIN) {
			client_close(cl);
			return;
		}
		if (n > 0 && (cl->sent += (size_t)n) == cl->out.len) {
			cl->sent = 0;
			text_clear(&cl->out);
		}
		update(cl);
		return;
	}
	n = read(fd, cl->in + cl->inlen, sizeof(cl->in) - cl->inlen);
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			client_close(cl);
		return;
	}
	cl->inlen += (size_t)n;
	/* One request at a time: the next waits until this answer is out. */
	while (!cl->closing && (nl = memchr(cl->in, '\n', cl->inlen))) {
		size_t used = (size_t)(nl - cl->in) + 1;

		*nl = '\0';
		respond(cl, dispatch(cl, cl->in));
		memmove(cl->in, cl->in + used, cl->inlen - used);
		cl->inlen -= used;
	}
	if (cl->inlen == sizeof(cl->in)) {
		respond(cl, error("bad request: a line longer than %u bytes", LINE_MAX_BYTES));
		cl->closing = true;
	}
	update(cl);
}

static void accept_client(struct ev_loop *loop, int lfd, unsigned events, void *arg)
{
	struct control *c = arg;
	struct client *cl;
	int fd;

	(void)events;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (c->nclients >= MAX_CLIENTS || !(cl = calloc(1, sizeof(*cl)))) {
			close(fd);
			continue;
		}
		cl->ctl = c;
		cl->fd = fd;
		cl->active_ms = ev_now_ms();
		identify(cl);
		if (ev_add(loop, fd, EV_READ, client_io, cl)) {
			close(fd);
			free(cl);
			continue;
		}
		cl->next = c->clients;
		c->clients = cl;
		c->nclients++;
	}
}

static void expire_clients(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct control *c = arg;
	uint64_t now = ev_now_ms();
	struct client *cl, *next;

	(void)loop, (void)fd, (void)events;
	for (cl = c->clients; cl; cl = next) {
		next = cl->next;
		if (cl->active_ms + IDLE_MS < now)
			client_close(cl);
	}
}

/* The socket's folder: made 0755 when missing (/run/sluice). */
static int make_parent(const char *path)
{
	char dir[108];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if (!(slash = strrchr(dir, '/')) || slash == dir)
		return 0;
	*slash = '\0';
	return mkdir(dir, 0755) && errno != EEXIST ? -errno : 0;
}

int control_new(const struct control_config *cfg, struct control **out)
{
	const char *path = proxy_policy(cfg->proxy)->agent.control_socket;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *c = calloc(1, sizeof(*c));
	int err;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->started = time(NULL);
	c->fd = -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((err = make_parent(path)))
		goto fail;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		goto fail;
	}
	/* A socket left by an agent that died is replaced; one that answers
	 * belongs to an agent that runs. */
	if (!connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		log_err("control socket %s: another agent is listening on it", path);
		err = -EADDRINUSE;
		close(c->fd);
		c->fd = -1;
		goto fail;
	}
	close(c->fd);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		goto fail;
	}
	unlink(path);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0666) ||
	    listen(c->fd, 16)) {
		err = -errno;
		goto fail;
	}
	if ((err = ev_add(cfg->loop, c->fd, EV_READ, accept_client, c)) ||
	    (err = ev_every(cfg->loop, 5000, expire_clients, c)))
		goto fail;
	*out = c;
	return 0;
fail:
	log_err("control socket %s: %s", path, strerror(-err));
	control_free(c);
	return err;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_close(c->clients);
	if (c->fd >= 0) {
		ev_del(c->cfg.loop, c->fd);
		close(c->fd);
		unlink(c->path);
	}
	free(c);
}
