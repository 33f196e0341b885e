/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy: the transparent proxy core.
 *
 * Accepts the connections the kernel redirected to the agent's listeners,
 * learns their origin (datapath), who is calling (identity) and which
 * identity and target of the policy that is, opens the agent's own
 * connection to the original destination and relays through the target's
 * protocol module. Non-blocking on one event loop; every session has two
 * bounded buffers, reading pauses while the other side is slow
 * (backpressure); half-close is passed on; connect and idle timeouts end
 * stuck sessions. A bad peer ends its session, never the agent.
 * Return convention: 0 or a negative errno.
 */
#ifndef SLUICE_PROXY_H
#define SLUICE_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "ev.h"
#include "identity.h"
#include "policy.h"
#include "proto.h"
#include "transport.h"

struct cJSON;
struct datapath;
struct proxy;
struct recorder;
struct approvals;

/* A policy in force and what the protocol modules derived from it. New
 * sessions are admitted under the newest generation; a session keeps the
 * one it was admitted under until it ends, so a reload never changes the
 * rules of a live session, and identity, target and rule pointers into
 * the policy stay valid. */
struct policy_gen {
	struct policy *policy;
	unsigned number;                       /* 1 at start, one more per reload */
	int64_t loaded;                        /* wall clock, seconds */
	unsigned refs;                         /* one while current, one per session */
	void *module[POLICY_PROTO_COUNT];      /* each module's load() */
};

/* What a protocol module may read about its session. */
struct session {
	char id[17];                           /* 16 hex digits */
	struct proxy *proxy;
	struct policy_gen *gen;                /* admitted under; held until the end */
	const struct policy_identity *identity; /* NULL: admitted, waiting for
						  * an in-band token */
	bool refusal_logged;                   /* refused once started: no end to log */
	struct cJSON *claims;                  /* of its verified token, or NULL */
	const struct policy_target *target;
	const struct proto_module *proto;
	int rule;                              /* the rule that admitted (or refused), or -1 */
	void *proto_state;                     /* the module's own */
	struct identity_facts facts;
	struct sluice_origin origin;           /* what the kernel recorded at connect */
	struct sockaddr_storage dst;           /* the original destination */
	struct transport io[2];                /* by enum proxy_side */
	struct relay_buf buf[2];               /* bytes that came from side i */
	size_t max_cap;                        /* what a buffer may grow to */
	const char *finishing;                 /* flush, then end with this reason */
	bool eof[2];                           /* side i sent FIN */
	bool shut[2];                          /* we sent FIN to side i */
	bool connecting;
	bool established;                      /* the module's setup is done */
	uint64_t bytes_in[2];                  /* received from side i */
	struct session_rec *rec;               /* its recording, or NULL */
	char *journal_facts;                   /* audit's formatted facts, or NULL */
	uint64_t stream_recorded[2];           /* tcp bytes from side i recorded */
	uint64_t stream_left_out;              /* and not recorded, past the bound */
	uint64_t start_ms, active_ms;
	TAILQ_ENTRY(session) all;
	TAILQ_ENTRY(session) timed;            /* connect or idle deadline */
};

struct proxy_config {
	struct policy *policy;                 /* the proxy's own once proxy_new succeeds */
	struct ev_loop *loop;
	struct identity_resolver *identities;
	struct recorder *recorder;             /* or NULL: nothing recorded */
	struct approvals *approvals;           /* or NULL */
	const char *cgroup_root;               /* the cgroup2 mount, for jobctl */
};

/* Bind and listen on the policy's listen addresses (IPv6 optional). */
int proxy_new(const struct proxy_config *cfg, struct proxy **out);

/* Start accepting; dp answers the origin of accepted sockets. */
int proxy_serve(struct proxy *px, struct datapath *dp);

/* End every session and close the listeners. NULL is fine. */
void proxy_free(struct proxy *px);

/* The listeners (IPv4, IPv6; -1 when absent), for the data path's marks. */
void proxy_listen_fds(const struct proxy *px, int fds[2]);

unsigned proxy_session_count(const struct proxy *px);

/* The policy new sessions are admitted under, and its generation. */
const struct policy *proxy_policy(const struct proxy *px);
const struct policy_gen *proxy_generation(const struct proxy *px);

/* Admit new sessions under p from now on (the proxy takes it); live
 * sessions keep theirs. 0, or a negative errno when a protocol module
 * could not load p: nothing changed then, and p is still the caller's. */
int proxy_set_policy(struct proxy *px, struct policy *p);

static inline const struct policy *session_policy(const struct session *s)
{
	return s->gen->policy;
}

/* What the session's protocol module load()ed for its generation. */
static inline void *session_module(const struct session *s)
{
	return s->gen->module[s->target->protocol];
}

/* The live sessions, for the control socket: by id (NULL: none), and in
 * order of start. */
struct session *proxy_find_session(struct proxy *px, const char *id);
struct session *proxy_first_session(struct proxy *px);
struct session *proxy_next_session(struct session *s);

/* End a session now, with both connections reset. Not from inside one of
 * its own callbacks. */
void proxy_kill(struct session *s, const char *reason);

/* Something outside the session's I/O (an approval) lets its module go on:
 * run the module's resume(), then move what it cleared. Not from inside
 * one of its own callbacks. */
void proxy_resume(struct session *s);

/* Where the cgroup2 hierarchy is mounted (NULL: not known). */
const char *proxy_cgroup_root(const struct proxy *px);

/* The agent-wide registry of approvals (NULL: none, so nothing can be
 * approved). */
struct approvals *proxy_approvals(const struct proxy *px);

/* A session admitted with its identity pending (an identity whose facts
 * match takes its token in band: the PostgreSQL password) is identified
 * with what the job sent (token, len bytes; NULL: nothing). 0: the
 * session starts (identity, rule, recording, journald); or -EACCES, the
 * refusal logged whole, and *why what the job may be told (no identity
 * names, no paths): the module refuses the session with it. */
int proxy_identify(struct session *s, const char *token, size_t len, const char **why);

/* "ip:port" or "[ip6]:port". */
void sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t size);

#endif
