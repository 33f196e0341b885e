// SPDX-License-Identifier: Apache-2.0
/* proxy: accept, identify, connect upstream, relay. See proxy.h. */
#include "proxy.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "datapath.h"
#include "log.h"
#include "policy.h"
#include "recorder.h"
#include "relay.h"
#include "tokens.h"

#define ACCEPT_BATCH 128
#define TICK_MS 500
#define INJECT_SLACK 4096 /* what a module may queue past a buffer at its bound */

TAILQ_HEAD(session_list, session);

struct proxy {
	struct policy_gen *gen;         /* new sessions are admitted under it */
	struct ev_loop *loop;
	struct datapath *datapath;
	struct identity_resolver *identities;
	struct tokens *tokens;
	struct recorder *recorder;
	struct approvals *approvals;
	const char *cgroup_root;
	int listen_fd[2];       /* IPv4, IPv6 (or -1) */
	int spare_fd;           /* given up to accept and refuse when out of fds */
	unsigned nsessions;
	uint64_t next_id;
	struct session_list sessions;
	struct session_list connecting; /* ordered by start: connect deadline */
	struct session_list setting_up; /* ordered by connect: setup deadline */
	struct session_list idle;       /* ordered by last activity */
};

static void session_io(struct ev_loop *loop, int fd, unsigned events, void *arg);

static const char *side_name(enum proxy_side side)
{
	return side == SIDE_CLIENT ? "client" : "upstream";
}

void sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(buf, size, "%s:%u", ip, port);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(buf, size, "[%s]:%u", ip, port);
	}
}

/* The kernel keeps addresses v4-mapped; connect as the family they are. */
static void origin_sockaddr(const struct sluice_origin *o, struct sockaddr_storage *ss)
{
	static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(ss, 0, sizeof(*ss));
	if (!memcmp(o->daddr, v4_prefix, sizeof(v4_prefix))) {
		struct sockaddr_in *in = (void *)ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, o->daddr + 12, 4);
		in->sin_port = htons(o->dport);
	} else {
		struct sockaddr_in6 *in6 = (void *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, o->daddr, 16);
		in6->sin6_port = htons(o->dport);
	}
}

/* Close with RST: the job sees a reset, as from a refusing server, not a
 * clean end of stream that could pass for success. */
static void close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* The agent forwards what each end already chose to send together; Nagle
 * would only hold the last piece of a response back. */
static void no_delay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static const struct proto_module *const modules[] = {
	[POLICY_PROTO_TCP] = &proto_tcp,
	[POLICY_PROTO_POSTGRES] = &proto_postgres,
};
_Static_assert(sizeof(modules) / sizeof(modules[0]) == POLICY_PROTO_COUNT,
	       "a module for each protocol");

static void gen_release(struct policy_gen *g)
{
	if (!g || --g->refs)
		return;
	for (size_t i = 0; i < POLICY_PROTO_COUNT; i++)
		if (g->module[i] && modules[i]->unload)
			modules[i]->unload(g->module[i]);
	policy_free(g->policy);
	free(g);
}

static int gen_new(struct policy *p, unsigned number, struct policy_gen **out)
{
	struct policy_gen *g = calloc(1, sizeof(*g));
	int err = 0;

	if (!g)
		return -ENOMEM;
	g->number = number;
	g->loaded = (int64_t)time(NULL);
	g->refs = 1;
	for (size_t i = 0; i < POLICY_PROTO_COUNT && !err; i++)
		if (modules[i]->load)
			err = modules[i]->load(p, &g->module[i]);
	if (err) {
		gen_release(g); /* p stays the caller's */
		return err;
	}
	g->policy = p;
	*out = g;
	return 0;
}

static void session_free(struct session *s)
{
	/* Injected credentials passed through these buffers. */
	for (int i = 0; i < 2; i++) {
		if (s->buf[i].data)
			explicit_bzero(s->buf[i].data, s->buf[i].high);
		free(s->buf[i].data);
	}
	gen_release(s->gen);
	cJSON_Delete(s->claims);
	free(s);
}

/* The deadline list a session is on. */
static struct session_list *timed_list(struct session *s)
{
	struct proxy *px = s->proxy;

	if (s->connecting)
		return &px->connecting;
	return s->established ? &px->idle : &px->setting_up;
}

static void session_end(struct session *s, const char *reason, bool reset)
{
	struct proxy *px = s->proxy;

	if (!s->identity && !s->refusal_logged)
		audit_refused(s, reason);
	else if (!s->refusal_logged)
		audit_session_end(s, reason);
	if (s->proto && !s->connecting && s->proto->close)
		s->proto->close(s);
	for (int i = 0; i < 2; i++) {
		struct transport *t = &s->io[i];

		if (t->fd < 0)
			continue;
		ev_del(px->loop, t->fd);
		transport_clear(t);
		if (reset)
			close_reset(t->fd);
		else
			close(t->fd);
	}
	TAILQ_REMOVE(&px->sessions, s, all);
	TAILQ_REMOVE(timed_list(s), s, timed);
	px->nsessions--;
	session_free(s);
}

static void session_touch(struct session *s)
{
	struct proxy *px = s->proxy;

	/* The setup deadline counts from the connect, not the last byte. */
	if (!s->established)
		return;
	s->active_ms = ev_now_ms();
	if (TAILQ_NEXT(s, timed)) {
		TAILQ_REMOVE(&px->idle, s, timed);
		TAILQ_INSERT_TAIL(&px->idle, s, timed);
	}
}

/* Can a read into b make progress: free space, space to compact, or a
 * module waiting for a message the buffer may still grow for? */
static bool has_room(const struct session *s, const struct relay_buf *b)
{
	return b->len < b->cap || b->sent > 0 || (b->cap < s->max_cap && b->ready == b->sent);
}

/* Interest follows the buffers: read a side while its buffer has room and it
 * has not ended; write a side while bytes for it are ready. A TLS side adds
 * what OpenSSL waits for; a side in its handshake waits for nothing else. */
static void session_update_interest(struct session *s)
{
	for (int side = 0; side < 2; side++) {
		const struct relay_buf *in = &s->buf[side], *out = &s->buf[!side];
		struct transport *t = &s->io[side];
		unsigned mask = t->want;

		if ((t->state == TRANSPORT_PLAIN || t->state == TRANSPORT_TLS) &&
		    !s->eof[side] && !s->finishing && has_room(s, in))
			mask |= EV_READ;
		if (out->ready > out->sent && t->state != TRANSPORT_TLS_HANDSHAKE)
			mask |= EV_WRITE;
		ev_set(s->proxy->loop, t->fd, mask);
	}
}

static int drive_handshake(struct session *s, enum proxy_side side);

/* Write what is ready for side `to`; 0, or a negative errno. */
static int pump_write(struct session *s, enum proxy_side to)
{
	struct relay_buf *b = &s->buf[!to];

	while (b->ready > b->sent) {
		ssize_t n = transport_send(&s->io[to], b->data + b->sent, b->ready - b->sent);

		if (n < 0)
			return n == -EAGAIN ? 0 : (int)n;
		b->sent += (size_t)n;
	}
	if (b->sent == b->len)
		b->sent = b->ready = b->len = 0;
	/* TLS asked for once the plain bytes queued before it (PostgreSQL's
	 * 'S') are out. */
	if (s->io[to].state == TRANSPORT_TLS_PENDING)
		return drive_handshake(s, to);
	/* The other side ended and all it sent is through: pass the FIN on. */
	if (s->eof[!to] && b->sent == b->ready && !s->shut[to] &&
	    (b->ready == b->len || !s->proto->holding || !s->proto->holding(s, !to))) {
		transport_shutdown_write(&s->io[to]);
		s->shut[to] = true;
	}
	return 0;
}

static int resize(struct relay_buf *b, size_t cap)
{
	uint8_t *data = realloc(b->data, cap);

	if (!data)
		return -ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

/* Make room at the end of a buffer: compact, or grow up to the bound when
 * the module is waiting for a message larger than the buffer. */
static int make_room(struct session *s, struct relay_buf *b)
{
	if (b->len < b->cap)
		return 0;
	if (b->sent > 0) {
		relay_compact(b);
		return 0;
	}
	if (b->ready > b->sent || b->cap >= s->max_cap)
		return 0;
	return resize(b, b->cap * 2 < s->max_cap ? b->cap * 2 : s->max_cap);
}

/* Read from side `from` into its buffer; 0, or a negative errno. */
static int pump_read(struct session *s, enum proxy_side from)
{
	struct relay_buf *b = &s->buf[from];
	ssize_t n;
	int err;

	if ((s->io[from].state != TRANSPORT_PLAIN && s->io[from].state != TRANSPORT_TLS) ||
	    s->eof[from] || s->finishing)
		return 0;
	if ((err = make_room(s, b)))
		return err;
	if (b->len == b->cap)
		return 0;
	n = transport_recv(&s->io[from], b->data + b->len, b->cap - b->len);
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return (int)n;
	if (n == 0) {
		s->eof[from] = true;
		if (s->proto->ended)
			s->proto->ended(s, from);
		return 0;
	}
	b->len += (size_t)n;
	if (b->len > b->high)
		b->high = b->len;
	s->bytes_in[from] += (uint64_t)n;
	err = s->proto->received(s, from, b);
	if (err)
		return err;
	/* Full of bytes the module cannot clear, at the largest size allowed. */
	if (b->len - b->sent == b->cap && b->ready == b->sent && b->cap >= s->max_cap)
		return -EMSGSIZE;
	return 0;
}

static int drive_handshake(struct session *s, enum proxy_side side)
{
	int r = transport_handshake(&s->io[side]);

	if (r > 0)
		audit_tls(s, side);
	if (r == 0 || !s->proto->tls_done)
		return r < 0 ? r : 0;
	return s->proto->tls_done(s, side, r < 0 ? s->io[side].error : NULL);
}

static void fail_session(struct session *s, enum proxy_side side, int err)
{
	char reason[224];
	const char *why = err == -EPROTO && s->io[side].error[0] ? s->io[side].error
								   : strerror(-err);

	snprintf(reason, sizeof(reason), "%s: %s", side_name(side), why);
	session_end(s, recorder_failed(s->rec)
		       ? "its recording cannot be written (agent.on_record_failure: block)" : reason,
		    true);
}

/* Bytes just read whose events could not be recorded must not pass (when
 * the policy blocks): -EIO ends the session instead. */
static int unrecorded(struct session *s)
{
	return recorder_failed(s->rec) ? -EIO : 0;
}

static void session_relay(struct session *s, enum proxy_side side, unsigned events)
{
	int err = 0;

	/* Nothing more passes that could not be recorded. */
	if (recorder_failed(s->rec)) {
		session_end(s, "its recording cannot be written (agent.on_record_failure: block)", true);
		return;
	}
	if (s->io[side].state == TRANSPORT_TLS_HANDSHAKE)
		err = drive_handshake(s, side);
	/* A TLS side may need a write to read and the reverse: try both. */
	if (s->io[side].ssl)
		events = EV_READ | EV_WRITE;
	if (!err && (events & EV_READ)) {
		err = pump_read(s, side);
		/* Forward at once: saves a trip through epoll on the hot path. */
		if (!err && !(err = unrecorded(s)))
			err = pump_write(s, !side);
	}
	if (!err && (events & EV_WRITE))
		err = pump_write(s, side);
	/* Bytes OpenSSL already decrypted raise no event: take them now. */
	for (int i = 0; i < 2 && !err; i++)
		for (int n = 0; n < 16 && !err && transport_has_pending(&s->io[i]) &&
				has_room(s, &s->buf[i]) && !s->eof[i]; n++)
			if (!(err = pump_read(s, i)) && !(err = unrecorded(s)))
				err = pump_write(s, !i);
	if (err) {
		fail_session(s, side, err);
		return;
	}
	if (s->finishing && s->buf[SIDE_CLIENT].ready == s->buf[SIDE_CLIENT].sent &&
	    s->buf[SIDE_UPSTREAM].ready == s->buf[SIDE_UPSTREAM].sent) {
		session_end(s, s->finishing, false);
		return;
	}
	if (s->shut[SIDE_CLIENT] && s->shut[SIDE_UPSTREAM]) {
		session_end(s, "closed", false);
		return;
	}
	session_touch(s);
	session_update_interest(s);
}

/* Module services: see proto.h. */

int proxy_inject(struct session *s, enum proxy_side to, const void *data, size_t n)
{
	struct relay_buf *b = &s->buf[!to];

	if (b->cap - b->len < n)
		relay_compact(b);
	if (b->cap - b->len < n && b->len + n <= s->max_cap + INJECT_SLACK &&
	    resize(b, b->len + n))
		return -ENOMEM;
	return relay_insert(b, data, n);
}

int proxy_start_tls(struct session *s, enum proxy_side side, SSL_CTX *ctx,
		    const char *verify_ip)
{
	int err = transport_start_tls(&s->io[side], ctx, side == SIDE_CLIENT, verify_ip);

	if (err)
		return err;
	/* With plain bytes still queued for that side, pump_write starts it. */
	if (s->buf[!side].ready > s->buf[!side].sent)
		return 0;
	return drive_handshake(s, side);
}

void proxy_established(struct session *s)
{
	if (s->established || s->connecting)
		return;
	TAILQ_REMOVE(&s->proxy->setting_up, s, timed);
	s->established = true;
	s->active_ms = ev_now_ms();
	TAILQ_INSERT_TAIL(&s->proxy->idle, s, timed);
}

void proxy_finish(struct session *s, const char *reason)
{
	s->finishing = reason;
}

static void session_connected(struct session *s)
{
	struct proxy *px = s->proxy;
	socklen_t len = sizeof(int);
	int soerr = 0, err;

	if (getsockopt(s->io[SIDE_UPSTREAM].fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
		char reason[96];

		snprintf(reason, sizeof(reason), "upstream connect: %s",
			 strerror(soerr ? soerr : errno));
		session_end(s, reason, true);
		return;
	}
	TAILQ_REMOVE(&px->connecting, s, timed);
	s->connecting = false;
	/* A module with a handshake of its own has setup_timeout_s for it. */
	s->established = !s->proto->sets_up;
	TAILQ_INSERT_TAIL(timed_list(s), s, timed);
	s->active_ms = ev_now_ms();
	err = s->proto->open(s);
	if (err) {
		session_end(s, "protocol module refused the session", true);
		return;
	}
	/* The module may have queued bytes already (a startup message). */
	session_relay(s, SIDE_UPSTREAM, EV_WRITE);
}

static void session_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct session *s = arg;

	(void)loop;
	if (s->connecting) {
		session_connected(s);
		return;
	}
	session_relay(s, fd == s->io[SIDE_CLIENT].fd ? SIDE_CLIENT : SIDE_UPSTREAM, events);
}

static int upstream_connect(struct session *s)
{
	socklen_t len = s->dst.ss_family == AF_INET ? sizeof(struct sockaddr_in)
						     : sizeof(struct sockaddr_in6);
	int fd = socket(s->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	s->io[SIDE_UPSTREAM].fd = fd;
	no_delay(fd);
	if (datapath_mark_upstream(s->proxy->datapath, fd))
		return -EPERM;
	if (connect(fd, (struct sockaddr *)&s->dst, len) && errno != EINPROGRESS)
		return -errno;
	return ev_add(s->proxy->loop, fd, EV_WRITE, session_io, s);
}

static void refuse(int fd, const struct session *s, const char *reason)
{
	audit_refused(s, reason);
	close_reset(fd);
}

static const struct proto_module *module_for(const struct policy_target *t)
{
	return (size_t)t->protocol < POLICY_PROTO_COUNT ? modules[t->protocol] : NULL;
}

static void facts_of(const struct session *s, struct policy_facts *pf)
{
	*pf = (struct policy_facts){
		.cgroup = s->facts.cgroup,
		.unit = s->facts.unit[0] ? s->facts.unit : NULL,
		.container = s->facts.container[0] ? s->facts.container : NULL,
		.user = s->facts.user[0] ? s->facts.user : NULL,
		.uid = s->facts.uid,
		.exe = s->facts.exe[0] ? s->facts.exe : NULL,
	};
}

/* May the identity reach the target at all? NULL, or why not. */
static const char *admit_rule(struct session *s)
{
	const struct policy *p = session_policy(s);
	int rule;

	/* A byte relay sees nothing but the connection: a rule must allow it.
	 * A protocol module judges each statement; any rule for the roles is
	 * needed to get that far. */
	if (s->target->protocol == POLICY_PROTO_TCP) {
		bool allowed = policy_allows(p, s->target->name, &s->identity->roles, "connect",
					     &rule);

		s->rule = rule;
		if (!allowed)
			return rule >= 0 ? "a rule denies connect to this target for the identity's roles"
					 : "no rule allows connect to this target for the identity's roles";
	} else if ((s->rule = policy_rule_for(p, s->target->name, &s->identity->roles)) < 0) {
		return "no rule for this target names the identity's roles";
	}
	return NULL;
}

/* The outcome of identification, for admit and proxy_identify: NULL, or
 * why not (for the log; *job_why: what the job may be told). */
static const char *identified(struct session *s, enum identify_result r, struct identified *id,
			      const char **job_why)
{
	static char refusal[sizeof(id->why)], job[sizeof(id->job_why)];
	const char *why = "caller matches no identity";

	if (r != IDENTITY_REFUSED && id->why[0])
		log_warn("session %s: %s", s->id, id->why); /* a token not taken */
	switch (r) {
	case IDENTIFIED:
		s->identity = id->identity;
		s->claims = id->claims;
		why = admit_rule(s);
		break;
	case NEEDS_IN_BAND: /* s->identity stays NULL until proxy_identify() */
		why = NULL;
		break;
	case IDENTITY_REFUSED:
		snprintf(refusal, sizeof(refusal), "%s", id->why);
		snprintf(job, sizeof(job), "%s", id->job_why);
		*job_why = job;
		return refusal;
	case NO_IDENTITY:
		break;
	}
	*job_why = why;
	return why;
}

/* Who is it, where to, and may they: fills s or says why not. */
static const char *admit(struct proxy *px, struct session *s, const struct sluice_origin *o)
{
	const struct policy *p = session_policy(s);
	struct token_source src = { px->identities, &s->origin, false, NULL, 0 };
	struct policy_facts pf;
	struct identified id;
	const char *job_why;

	s->origin = *o;
	origin_sockaddr(o, &s->dst);
	identity_resolve(px->identities, o, &s->facts);
	/* Read after the executable: an exec since the connect (a process that
	 * handed its socket on and became something else) voids it. */
	if (datapath_exec_since(px->datapath, o->tgid, o->connect_ns))
		s->facts.exe[0] = '\0';
	s->target = o->target_id < p->ntargets ? &p->targets[o->target_id] : NULL;
	if (!s->target || !policy_net_contains(&s->target->net, o->daddr, o->dport))
		s->target = policy_find_target(p, o->daddr, o->dport);
	if (!s->target)
		return o->target_id == SLUICE_TARGET_RETIRED
			       ? "destination was a target until a policy reload removed it"
			       : "destination matches no target";
	s->proto = module_for(s->target);
	if (!s->proto)
		return "protocol of the target is not supported yet";
	facts_of(s, &pf);
	src.in_band_possible = s->target->protocol == POLICY_PROTO_POSTGRES;
	return identified(s, tokens_identify(px->tokens, p, &pf, &src, &id), &id, &job_why);
}

int proxy_identify(struct session *s, const char *token, size_t len, const char **why)
{
	struct proxy *px = s->proxy;
	struct token_source src = { px->identities, &s->origin, true, token ? token : "",
				    token ? len : 0 };
	struct policy_facts pf;
	struct identified id;
	enum identify_result r;

	const char *refusal;

	facts_of(s, &pf);
	r = tokens_identify(px->tokens, session_policy(s), &pf, &src, &id);
	/* Asked and answered: a second NEEDS_IN_BAND cannot be. */
	if (r == NEEDS_IN_BAND)
		r = NO_IDENTITY;
	refusal = identified(s, r, &id, why);
	if (!refusal && audit_session_start(s, px->recorder))
		refusal = *why = "its recording cannot be written (agent.on_record_failure: block)";
	if (!refusal)
		return 0;
	/* Logged now, with the whole reason: the session ends as refused. */
	audit_refused(s, refusal);
	s->refusal_logged = true;
	return -EACCES;
}

static struct session *session_new(struct proxy *px, int fd)
{
	const struct policy_agent *a = &px->gen->policy->agent;
	unsigned cap = a->buffer_bytes;
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->proxy = px;
	s->gen = px->gen;
	s->gen->refs++;
	s->io[SIDE_CLIENT].fd = fd;
	s->io[SIDE_UPSTREAM].fd = -1;
	no_delay(fd);
	s->max_cap = a->max_message_bytes > cap ? a->max_message_bytes + 64 : cap;
	for (int i = 0; i < 2; i++) {
		s->buf[i].cap = cap;
		s->buf[i].data = malloc(cap);
		if (!s->buf[i].data) {
			session_free(s);
			return NULL;
		}
	}
	snprintf(s->id, sizeof(s->id), "%016" PRIx64, px->next_id++);
	s->rule = -1;
	s->start_ms = s->active_ms = ev_now_ms();
	return s;
}

static void accept_one(struct proxy *px, int fd)
{
	struct sluice_origin o;
	struct session *s;
	const char *why;
	int err;

	if (datapath_origin(px->datapath, fd, &o)) {
		log_warn("refused a connection with no origin: not redirected by sluice");
		close_reset(fd);
		return;
	}
	if (px->nsessions >= px->gen->policy->agent.max_sessions) {
		log_warn("refused a connection: %u sessions is the configured maximum",
			 px->nsessions);
		close_reset(fd);
		return;
	}
	s = session_new(px, fd);
	if (!s) {
		log_err("refused a connection: out of memory");
		close_reset(fd);
		return;
	}
	why = admit(px, s, &o);
	if (!why && s->identity && audit_session_start(s, px->recorder))
		why = "its recording cannot be written (agent.on_record_failure: block)";
	if (why) {
		refuse(fd, s, why);
		session_free(s);
		return;
	}
	s->connecting = true;
	TAILQ_INSERT_TAIL(&px->sessions, s, all);
	TAILQ_INSERT_TAIL(&px->connecting, s, timed);
	px->nsessions++;
	if ((err = ev_add(px->loop, fd, EV_NONE, session_io, s)) ||
	    (err = upstream_connect(s))) {
		char reason[96];

		snprintf(reason, sizeof(reason), "upstream connect: %s", strerror(-err));
		session_end(s, reason, true);
	}
}

/* Out of descriptors: a level-triggered listener would spin. Give up the
 * spare, take the connection and refuse it, then hold the spare again. */
static void refuse_without_fds(struct proxy *px, int lfd)
{
	int fd;

	if (px->spare_fd >= 0)
		close(px->spare_fd);
	fd = accept(lfd, NULL, NULL);
	if (fd >= 0)
		close_reset(fd);
	px->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_err("refused a connection: out of file descriptors");
	/* Without a spare the next round would find the queue full again:
	 * drain it rather than spin. */
	while (px->spare_fd < 0 && (fd = accept(lfd, NULL, NULL)) >= 0)
		close_reset(fd);
}

static void listener_ready(struct ev_loop *loop, int lfd, unsigned events, void *arg)
{
	struct proxy *px = arg;

	(void)loop;
	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				refuse_without_fds(px, lfd);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_err("accept: %s", strerror(errno));
			return;
		}
		accept_one(px, fd);
	}
}

static void expire(struct session_list *list, uint64_t timeout_ms, uint64_t now,
		   const char *reason)
{
	struct session *s;

	while ((s = TAILQ_FIRST(list)) && s->active_ms + timeout_ms < now)
		session_end(s, reason, true);
}

static void tick(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct proxy *px = arg;
	const struct policy_agent *a = &px->gen->policy->agent;
	uint64_t now = ev_now_ms();

	(void)loop;
	(void)fd;
	(void)events;
	expire(&px->connecting, a->connect_timeout_ms, now, "upstream connect timeout");
	expire(&px->setting_up, (uint64_t)a->setup_timeout_s * 1000, now, "setup timeout");
	if (a->idle_timeout_s)
		expire(&px->idle, (uint64_t)a->idle_timeout_s * 1000, now, "idle timeout");
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len, int *out)
{
	int one = 1, fd, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) || listen(fd, SOMAXCONN)) {
		err = -errno;
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

int proxy_new(const struct proxy_config *cfg, struct proxy **out)
{
	const struct policy_agent *a = &cfg->policy->agent;
	struct proxy *px = calloc(1, sizeof(*px));
	char where[80];
	int err;

	if (!px)
		return -ENOMEM;
	for (size_t i = 0; i < POLICY_PROTO_COUNT; i++) {
		if (modules[i]->init && (err = modules[i]->init())) {
			while (i-- > 0)
				if (modules[i]->fini)
					modules[i]->fini();
			free(px);
			return err;
		}
	}
	px->listen_fd[0] = px->listen_fd[1] = px->spare_fd = -1;
	px->loop = cfg->loop;
	px->identities = cfg->identities;
	if ((err = tokens_new(&px->tokens))) {
		proxy_free(px);
		return err;
	}
	px->recorder = cfg->recorder;
	px->approvals = cfg->approvals;
	px->cgroup_root = cfg->cgroup_root;
	TAILQ_INIT(&px->sessions);
	TAILQ_INIT(&px->connecting);
	TAILQ_INIT(&px->setting_up);
	TAILQ_INIT(&px->idle);
	if (getrandom(&px->next_id, sizeof(px->next_id), 0) != sizeof(px->next_id))
		px->next_id = (uint64_t)ev_now_ms() << 20;
	px->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	sockaddr_format(&a->listen, where, sizeof(where));
	err = listen_on(&a->listen, a->listen_len, &px->listen_fd[0]);
	if (err) {
		log_err("failed to listen on %s: %s", where, strerror(-err));
		proxy_free(px);
		return err;
	}
	sockaddr_format(&a->listen6, where, sizeof(where));
	err = listen_on(&a->listen6, a->listen6_len, &px->listen_fd[1]);
	if (err)
		log_warn("no IPv6 listener on %s (%s): IPv6 targets will be refused",
			 where, strerror(-err));
	/* Last: until it succeeds the policy is still the caller's. */
	if ((err = gen_new(cfg->policy, 1, &px->gen))) {
		proxy_free(px);
		return err;
	}
	*out = px;
	return 0;
}

int proxy_set_policy(struct proxy *px, struct policy *p)
{
	struct policy_gen *g;
	int err = gen_new(p, px->gen->number + 1, &g);

	if (err)
		return err;
	gen_release(px->gen);
	px->gen = g;
	return 0;
}

int proxy_serve(struct proxy *px, struct datapath *dp)
{
	int err;

	px->datapath = dp;
	for (int i = 0; i < 2; i++) {
		if (px->listen_fd[i] < 0)
			continue;
		err = ev_add(px->loop, px->listen_fd[i], EV_READ, listener_ready, px);
		if (err)
			return err;
	}
	return ev_every(px->loop, TICK_MS, tick, px);
}

void proxy_free(struct proxy *px)
{
	struct session *s;

	if (!px)
		return;
	while ((s = TAILQ_FIRST(&px->sessions)))
		session_end(s, "agent stopping", true);
	for (int i = 0; i < 2; i++) {
		if (px->listen_fd[i] < 0)
			continue;
		ev_del(px->loop, px->listen_fd[i]);
		close(px->listen_fd[i]);
	}
	if (px->spare_fd >= 0)
		close(px->spare_fd);
	gen_release(px->gen);
	tokens_free(px->tokens);
	for (size_t i = 0; i < POLICY_PROTO_COUNT; i++)
		if (modules[i]->fini)
			modules[i]->fini();
	audit_fini();
	free(px);
}

void proxy_listen_fds(const struct proxy *px, int fds[2])
{
	fds[0] = px->listen_fd[0];
	fds[1] = px->listen_fd[1];
}

unsigned proxy_session_count(const struct proxy *px)
{
	return px->nsessions;
}

const struct policy *proxy_policy(const struct proxy *px)
{
	return px->gen->policy;
}

const struct policy_gen *proxy_generation(const struct proxy *px)
{
	return px->gen;
}

const char *proxy_cgroup_root(const struct proxy *px)
{
	return px ? px->cgroup_root : NULL;
}

struct approvals *proxy_approvals(const struct proxy *px)
{
	return px ? px->approvals : NULL;
}

struct session *proxy_find_session(struct proxy *px, const char *id)
{
	struct session *s;

	TAILQ_FOREACH(s, &px->sessions, all)
		if (!strcmp(s->id, id))
			return s;
	return NULL;
}

struct session *proxy_first_session(struct proxy *px)
{
	return TAILQ_FIRST(&px->sessions);
}

struct session *proxy_next_session(struct session *s)
{
	return TAILQ_NEXT(s, all);
}

void proxy_kill(struct session *s, const char *reason)
{
	session_end(s, reason, true);
}

void proxy_resume(struct session *s)
{
	int err = s->proto->resume ? s->proto->resume(s) : 0;

	if (!err)
		err = pump_write(s, SIDE_UPSTREAM);
	if (!err)
		err = pump_write(s, SIDE_CLIENT);
	if (err) {
		fail_session(s, SIDE_CLIENT, err);
		return;
	}
	session_relay(s, SIDE_CLIENT, EV_NONE);
}
