// SPDX-License-Identifier: Apache-2.0
/* approvals: held statements and their decisions. See approvals.h. */
#include "approvals.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "audit.h"
#include "ev.h"
#include "json_out.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"
#include "webhook.h"

#define TICK_MS 1000

/* An approval for more than one statement: by fingerprint, for one session
 * (session set) or for an identity and target until it expires. */
struct grant {
	uint64_t fingerprint;
	const struct session *session;  /* or NULL */
	char *identity, *target;
	int64_t expires;                 /* 0: with the session */
	TAILQ_ENTRY(grant) link;
};

TAILQ_HEAD(approval_list, approval);
TAILQ_HEAD(grant_list, grant);

struct approvals {
	struct approval_list pending;   /* and decided, until the module is done */
	struct grant_list grants;
	struct webhook *hook;           /* or NULL */
	struct json_out body;
};

static const char *const state_names[] = { "pending", "approved", "denied" };
static const char *const scope_names[] = { "once", "session", "identity" };

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* journald and the recording, for each step. */
static void tell(struct approval *ap, const char *event, int priority, const char *message,
		 const struct approval_decider *by, const char *scope, unsigned for_s)
{
	struct session *s = ap->session;
	struct audit_fields f;
	struct json_out *j;

	audit_fields_of(s, event, &f);
	audit_field(&f, "SLUICE_APPROVAL=%s", ap->id);
	audit_field(&f, "SLUICE_DECISION=%s", state_names[ap->state]);
	if (ap->rule >= 0)
		audit_field(&f, "SLUICE_RULE=%d", ap->rule);
	audit_field(&f, "SLUICE_CLASS=%s", ap->cls);
	audit_field(&f, "SLUICE_KIND=%s", ap->kind);
	audit_field(&f, "SLUICE_STATEMENT=%s", ap->statement);
	if (by) {
		audit_field(&f, "SLUICE_DECIDED_BY_UID=%u", (unsigned)by->uid);
		audit_field(&f, "SLUICE_DECIDED_BY=%s", by->user);
	}
	log_event(priority, message, f.v, f.n);
	if (!(j = audit_begin(s, "approval")))
		return;
	json_out_str(j, "id", ap->id);
	json_out_uint(j, "seq", ap->seq);
	json_out_str(j, "state", event + sizeof("approval_") - 1);
	json_out_str(j, "decision", state_names[ap->state]);
	if (ap->state == APPROVAL_PENDING)
		json_out_int(j, "expires", ap->expires);
	if (by) {
		json_out_uint(j, "by_uid", by->uid);
		json_out_str(j, "by", by->user);
	}
	if (scope)
		json_out_str(j, "scope", scope);
	if (for_s)
		json_out_uint(j, "for_s", for_s);
	if (ap->state == APPROVAL_DENIED)
		json_out_str(j, "reason", ap->reason);
	audit_commit(s);
}

static void expire(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct approvals *a = arg;
	struct approval *ap, *next;
	struct grant *g, *gnext;
	int64_t now = now_s();

	(void)loop, (void)fd, (void)events;
	for (ap = TAILQ_FIRST(&a->pending); ap; ap = next) {
		next = TAILQ_NEXT(ap, link);
		if (ap->state != APPROVAL_PENDING || ap->expires > now)
			continue;
		ap->state = APPROVAL_DENIED;
		snprintf(ap->reason, sizeof(ap->reason), "no decision within %" PRId64 " second%s",
			 ap->expires - ap->asked, ap->expires - ap->asked == 1 ? "" : "s");
		{
			char msg[160];

			snprintf(msg, sizeof(msg), "session %s: approval %s expired: denied",
				 ap->session->id, ap->id);
			tell(ap, "approval_expired", LOG_WARNING, msg, NULL, NULL, 0);
		}
		proxy_resume(ap->session);
	}
	for (g = TAILQ_FIRST(&a->grants); g; g = gnext) {
		gnext = TAILQ_NEXT(g, link);
		if (g->expires && g->expires <= now) {
			TAILQ_REMOVE(&a->grants, g, link);
			free(g->identity);
			free(g->target);
			free(g);
		}
	}
}

struct approvals *approvals_new(const struct policy *p, struct ev_loop *loop)
{
	struct approvals *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	TAILQ_INIT(&a->pending);
	TAILQ_INIT(&a->grants);
	if (webhook_new(p->agent.approval_webhook, loop, &a->hook) ||
	    ev_every(loop, TICK_MS, expire, a)) {
		webhook_free(a->hook);
		free(a);
		return NULL;
	}
	return a;
}

static void grant_free(struct approvals *a, struct grant *g)
{
	TAILQ_REMOVE(&a->grants, g, link);
	free(g->identity);
	free(g->target);
	free(g);
}

static void approval_free(struct approvals *a, struct approval *ap)
{
	TAILQ_REMOVE(&a->pending, ap, link);
	free(ap->statement);
	free(ap);
}

void approvals_free(struct approvals *a)
{
	if (!a)
		return;
	while (TAILQ_FIRST(&a->pending))
		approval_free(a, TAILQ_FIRST(&a->pending));
	while (TAILQ_FIRST(&a->grants))
		grant_free(a, TAILQ_FIRST(&a->grants));
	webhook_free(a->hook);
	json_out_free(&a->body);
	free(a);
}

int approvals_configure(struct approvals *a, const struct policy *p)
{
	return webhook_set_url(a->hook, p->agent.approval_webhook);
}

struct approval *approvals_find(struct approvals *a, const char *id)
{
	struct approval *ap;

	TAILQ_FOREACH(ap, &a->pending, link)
		if (ap->state == APPROVAL_PENDING && !strcmp(ap->id, id))
			return ap;
	return NULL;
}

static void new_id(struct approvals *a, char id[9])
{
	uint32_t r;

	do {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)rand();
		snprintf(id, 9, "%08" PRIx32, r);
	} while (approvals_find(a, id));
}

/* The webhook's body: what sluicectl approvals shows of it. */
static void notify(struct approvals *a, const struct approval *ap)
{
	const struct session *s = ap->session;
	struct json_out *j = &a->body;

	if (!webhook_active(a->hook))
		return;
	json_out_begin(j, 64u << 10);
	json_out_str(j, "event", "approval_pending");
	json_out_str(j, "id", ap->id);
	json_out_str(j, "session", s->id);
	json_out_str(j, "identity", s->identity->name);
	json_out_str(j, "target", s->target->name);
	json_out_str(j, "statement", ap->statement);
	json_out_str(j, "class", ap->cls);
	json_out_str(j, "kind", ap->kind);
	json_out_int(j, "rule", ap->rule);
	json_out_int(j, "asked", ap->asked);
	json_out_int(j, "expires", ap->expires);
	audit_json_facts(j, s);
	webhook_post(a->hook, json_out_end(j) ?: "{}");
}

int approvals_ask(struct approvals *a, struct session *s, const struct approval_request *req,
		  struct approval **out)
{
	const struct policy_rule *rule = req->rule >= 0 ? &session_policy(s)->rules[req->rule] : NULL;
	struct approval *ap = calloc(1, sizeof(*ap));
	char msg[256];

	*out = NULL;
	if (!ap || !(ap->statement = strdup(req->statement))) {
		free(ap);
		return -ENOMEM;
	}
	new_id(a, ap->id);
	ap->session = s;
	ap->seq = req->seq;
	ap->fingerprint = req->fingerprint;
	snprintf(ap->cls, sizeof(ap->cls), "%s", req->cls);
	snprintf(ap->kind, sizeof(ap->kind), "%s", req->kind);
	ap->rule = req->rule;
	ap->asked = now_s();
	ap->expires = ap->asked + (rule ? rule->timeout_s : 300);
	TAILQ_INSERT_TAIL(&a->pending, ap, link);
	snprintf(msg, sizeof(msg), "session %s: %s needs approval %s (sluicectl approve %s)", s->id,
		 ap->kind, ap->id, ap->id);
	tell(ap, "approval_pending", LOG_WARNING, msg, NULL, NULL, 0);
	notify(a, ap);
	*out = ap;
	return 0;
}

bool approvals_granted(struct approvals *a, const struct session *s, uint64_t fingerprint)
{
	struct grant *g;
	int64_t now = now_s();

	if (!fingerprint)
		return false;
	TAILQ_FOREACH(g, &a->grants, link) {
		if (g->fingerprint != fingerprint || (g->expires && g->expires <= now))
			continue;
		if (g->session ? g->session == s
			       : !strcmp(g->identity, s->identity->name) &&
				 !strcmp(g->target, s->target->name))
			return true;
	}
	return false;
}

static void add_grant(struct approvals *a, const struct approval *ap, enum approval_scope scope,
		      unsigned for_s)
{
	struct grant *g = calloc(1, sizeof(*g));

	if (!g || !(g->identity = strdup(ap->session->identity->name)) ||
	    !(g->target = strdup(ap->session->target->name))) {
		if (g)
			free(g->identity);
		free(g);
		log_err("approval %s: out of memory: approved once only", ap->id);
		return;
	}
	g->fingerprint = ap->fingerprint;
	if (scope == APPROVAL_SESSION)
		g->session = ap->session;
	else
		g->expires = now_s() + for_s;
	TAILQ_INSERT_TAIL(&a->grants, g, link);
}

void approvals_decide(struct approvals *a, struct approval *ap, bool approve,
		      enum approval_scope scope, unsigned for_s, const char *reason,
		      const struct approval_decider *by)
{
	char msg[512];

	ap->state = approve ? APPROVAL_APPROVED : APPROVAL_DENIED;
	if (approve && scope != APPROVAL_ONCE && ap->fingerprint)
		add_grant(a, ap, scope, for_s);
	if (!approve)
		snprintf(ap->reason, sizeof(ap->reason), "%s", reason && *reason ? reason
											 : "no reason given");
	snprintf(msg, sizeof(msg), "session %s: approval %s %s by %s (uid %u)%s%s", ap->session->id,
		 ap->id, state_names[ap->state], by->user, (unsigned)by->uid,
		 approve ? ", scope " : ": ", approve ? scope_names[scope] : ap->reason);
	tell(ap, "approval_decided", LOG_INFO, msg, by, approve ? scope_names[scope] : NULL,
	     approve && scope == APPROVAL_IDENTITY ? for_s : 0);
	proxy_resume(ap->session);
}

void approvals_done(struct approvals *a, struct approval *ap)
{
	approval_free(a, ap);
}

void approvals_session_ended(struct approvals *a, struct session *s, const char *why)
{
	struct approval *ap, *next;
	struct grant *g, *gnext;
	char msg[256];

	for (ap = TAILQ_FIRST(&a->pending); ap; ap = next) {
		next = TAILQ_NEXT(ap, link);
		if (ap->session != s)
			continue;
		if (ap->state == APPROVAL_PENDING) {
			snprintf(msg, sizeof(msg), "session %s: approval %s withdrawn: %s", s->id,
				 ap->id, why);
			snprintf(ap->reason, sizeof(ap->reason), "%s", why);
			ap->state = APPROVAL_DENIED;
			tell(ap, "approval_withdrawn", LOG_INFO, msg, NULL, NULL, 0);
		}
		approval_free(a, ap);
	}
	for (g = TAILQ_FIRST(&a->grants); g; g = gnext) {
		gnext = TAILQ_NEXT(g, link);
		if (g->session == s)
			grant_free(a, g);
	}
}

struct approval *approvals_first(struct approvals *a)
{
	struct approval *ap = TAILQ_FIRST(&a->pending);

	while (ap && ap->state != APPROVAL_PENDING)
		ap = TAILQ_NEXT(ap, link);
	return ap;
}

struct approval *approvals_next(struct approval *ap)
{
	while ((ap = TAILQ_NEXT(ap, link)) && ap->state != APPROVAL_PENDING)
		;
	return ap;
}

unsigned approvals_pending(const struct approvals *a)
{
	const struct approval *ap;
	unsigned n = 0;

	TAILQ_FOREACH(ap, &a->pending, link)
		n += ap->state == APPROVAL_PENDING;
	return n;
}
