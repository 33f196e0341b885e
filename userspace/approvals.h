/* SPDX-License-Identifier: Apache-2.0 */
/*
 * approvals: statements held in their session until a human decides.
 *
 * A protocol module asks when a rule says "approve": the statement waits,
 * unread, in its session (the job's client simply waits) while the agent
 * serves everyone else. A decision comes from the control socket
 * (approvals_decide()): approve once, for the rest of the session (the same
 * statement fingerprint), or for the identity for a while; or deny with a
 * reason. No decision within the rule's timeout denies. A session that ends
 * withdraws what it asked. Each step goes to journald and the session's
 * recording, with who decided, and a pending one is posted to
 * agent.approval_webhook when set (webhook.h). Decided approvals resume their session
 * (proxy_resume()); the module reads the decision when it judges the
 * statement again, and then calls approvals_done().
 * Event loop only: not thread-safe. Return convention: 0 or a negative errno.
 */
#ifndef SLUICE_APPROVALS_H
#define SLUICE_APPROVALS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

struct ev_loop;
struct policy;
struct session;
struct approvals;

enum approval_state {
	APPROVAL_PENDING,
	APPROVAL_APPROVED,
	APPROVAL_DENIED,
};

enum approval_scope {
	APPROVAL_ONCE,      /* this statement, this time */
	APPROVAL_SESSION,   /* its fingerprint, for the rest of the session */
	APPROVAL_IDENTITY,  /* its fingerprint, every session of the identity to
			       the target, for a while */
};

#define APPROVAL_REASON_MAX 200

struct approval {
	char id[9];                 /* 8 hex digits */
	struct session *session;
	uint32_t seq;               /* the statement, in its session */
	uint64_t fingerprint;       /* 0: none (a function call) */
	char *statement;            /* with its constants replaced */
	char cls[24], kind[32];
	int rule;
	int64_t asked, expires;     /* Unix seconds */
	enum approval_state state;
	char reason[APPROVAL_REASON_MAX + 1]; /* why it was denied */
	TAILQ_ENTRY(approval) link;
};

/* What a module asks about. */
struct approval_request {
	uint32_t seq;
	uint64_t fingerprint;
	const char *statement;      /* normalized */
	const char *cls, *kind;
	int rule;                   /* the rule that asks; its timeout applies */
};

struct approvals *approvals_new(const struct policy *p, struct ev_loop *loop);
void approvals_free(struct approvals *a);

/* Take the webhook of a reloaded policy: 0, or -EINVAL (logged) and the
 * old one stays. Pending approvals keep their sessions' rules. */
int approvals_configure(struct approvals *a, const struct policy *p);

/* A new pending approval for statement req->seq of session s. */
int approvals_ask(struct approvals *a, struct session *s, const struct approval_request *req,
		  struct approval **out);

/* Has a grant (scope session or identity) approved fingerprint for s? */
bool approvals_granted(struct approvals *a, const struct session *s, uint64_t fingerprint);

/* The pending approval id, or NULL. */
struct approval *approvals_find(struct approvals *a, const char *id);

/* Who decides, for the log and recording. */
struct approval_decider {
	uid_t uid;
	const char *user;
};

/* Decide a pending approval and resume its session. reason: for a denial
 * (NULL: none given); for_s: APPROVAL_IDENTITY's duration. */
void approvals_decide(struct approvals *a, struct approval *ap, bool approve,
		      enum approval_scope scope, unsigned for_s, const char *reason,
		      const struct approval_decider *by);

/* The module has acted on a decided approval: forget it. */
void approvals_done(struct approvals *a, struct approval *ap);

/* Session s ends: withdraw what it asked, drop its session grants. */
void approvals_session_ended(struct approvals *a, struct session *s, const char *why);

/* Walk the pending approvals, oldest first. */
struct approval *approvals_first(struct approvals *a);
struct approval *approvals_next(struct approval *ap);

unsigned approvals_pending(const struct approvals *a);

#endif
