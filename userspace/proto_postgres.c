// SPDX-License-Identifier: Apache-2.0
/*
 * proto_postgres: the PostgreSQL v3 protocol on both sides of a session.
 *
 * Toward the job the agent is the server until authentication is done: it
 * answers SSLRequest with its own certificate (or 'N'), declines
 * GSSENCRequest, takes the StartupMessage and asks for no password. Toward
 * the target it is the client: TLS as the target says, a StartupMessage
 * with the target's user, and SCRAM-SHA-256(-PLUS), md5 or cleartext with
 * the password read from the target's password file at that moment. Once
 * the server says AuthenticationOk, messages flow through in place, each
 * framed and bounded, BackendKeyData rewritten to a key the agent made,
 * every statement and result reported to pg_track. Rows and COPY data
 * stream through without being held whole.
 *
 * Phases advance strictly; bytes that arrive when the phase expects none are
 * a protocol violation: the job gets an ErrorResponse and the session ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "approvals.h"
#include "audit.h"
#include "jobctl.h"
#include "log.h"
#include "pg_audit.h"
#include "pg_auth.h"
#include "pg_cancel.h"
#include "pg_judge.h"
#include "pg_mask.h"
#include "pg_masking.h"
#include "pg_catalog.h"
#include "pg_track.h"
#include "pg_wire.h"
#include "policy.h"
#include "proto.h"
#include "proxy.h"
#include "sql_classify.h"
#include "tls.h"
#include "jwt.h"

#define STARTUP_MAX 10000     /* PostgreSQL's own bound on a startup packet */
#define PASSWORD_MAX 1024
#define ERROR_MAX 2048        /* bytes of an ErrorResponse the agent builds */
#define HELD 1                /* relay_message(): the message stays unread */

enum pg_phase {
	PG_CLIENT_STARTUP,  /* waiting for the job's startup packet */
	PG_CLIENT_TLS,      /* TLS handshake with the job */
	PG_CLIENT_TOKEN,    /* asked the job for its password: the token that
			       says which identity it is */
	PG_UPSTREAM_SSL,    /* SSLRequest sent to the server, its answer due */
	PG_UPSTREAM_TLS,    /* TLS handshake with the server */
	PG_UPSTREAM_AUTH,   /* StartupMessage sent, authenticating */
	PG_UPSTREAM_READY,  /* authenticated, up to the first ReadyForQuery */
	PG_RELAY,           /* the session proper */
	PG_DONE,            /* cancel forwarded, or an error sent: draining */
};

struct pg_state {
	enum pg_phase phase;
	struct pg_track *track;
	struct pg_judge *judge;
	struct pg_masking *masking;  /* NULL: this session masks nothing */
	struct pg_audit audit;
	struct approval *approval;   /* the held statement's, until it runs or is refused */
	struct pg_scram *scram;
	char password[PASSWORD_MAX];
	uint8_t *startup;          /* the job's startup parameters */
	size_t startup_len;
	char user[64], database[64]; /* what the job asked for, for the log */
	const char *auth_method;   /* how the agent authenticated upstream */
	struct pg_cancel_key job_key;
	bool have_key;
	size_t streaming[2];       /* body bytes of a message passing unread */
	bool held;                 /* the job's next message waits for an answer
				      to the agent's own request */
	bool resume;               /* that answer is in: read the job's bytes again */
};

/* Made once at start. server: the agent's TLS context toward jobs (made
 * when a policy first names a PostgreSQL target). stand_in: a portal name
 * no session has (random, never shown to a job): executing it is how a
 * refused statement gets its error from the server in the right place of
 * the stream, with the transaction state the server gives an error. */
static struct {
	SSL_CTX *server;
	char stand_in[40];
} pg;

/* What one policy generation's sessions share: by target index, the TLS
 * context toward the target and the cache of its catalog. */
struct pg_gen {
	const struct policy *policy;
	SSL_CTX **upstream;
	struct pg_catalog **catalogs;
	struct pg_mask_rules *masks;
};

static struct pg_state *state(struct session *s)
{
	return s->proto_state;
}

static struct pg_gen *gen_of(const struct session *s)
{
	return session_module(s);
}

static size_t max_message(const struct session *s)
{
	return session_policy(s)->agent.max_message_bytes;
}

/* ---------------------------------------------------------------- events */

/* SQL PREPARE, DEALLOCATE and DISCARD share the names of protocol-level
 * statements: what a Parse made may be gone or replaced. */
static int forget_statements(struct pg_track *t, const struct sql_verdict *v)
{
	int err = 0;

	for (size_t i = 0; v && i < v->n && !err; i++) {
		const struct sql_stmt *st = &v->stmts[i];

		if (st->kind == SQL_KIND_DISCARD ||
		    ((st->kind == SQL_KIND_DEALLOCATE || st->kind == SQL_KIND_PREPARE) && !st->name[0]))
			err = pg_track_forget(t, NULL);
		else if (st->kind == SQL_KIND_DEALLOCATE || st->kind == SQL_KIND_PREPARE)
			err = pg_track_forget(t, st->name);
	}
	return err;
}

/* The ErrorResponse a refused statement's job gets in its place. */
/* The ErrorResponse the job gets in a refused statement's place. */
static int refusal_reply(const struct pg_ruling *r, struct pg_outcome *out)
{
	struct pg_builder b;

	out->reply = malloc(ERROR_MAX);
	if (!out->reply)
		return -ENOMEM;
	b = pg_builder_on(out->reply, ERROR_MAX);
	pg_put_error(&b, 'E', "ERROR", r->sqlstate, r->message, r->position);
	out->reply_len = b.len;
	return b.bad ? -ENOBUFS : 0;
}

static int refusal(struct session *s, const struct pg_statement *st, const struct pg_ruling *r,
		   struct pg_outcome *out)
{
	pg_audit_statement(s, st, r, state(s)->masking != NULL);
	return refusal_reply(r, out);
}

/* What an allowed statement changes in the session's state. An approval
 * it ran under is spent. */
static int allowed(struct session *s, const struct pg_ruling *r)
{
	struct pg_state *ps = state(s);
	int err = forget_statements(ps->track, r->verdict);

	if (ps->approval) {
		approvals_done(proxy_approvals(s->proxy), ps->approval);
		ps->approval = NULL;
	}
	/* Its own ReadyForQuery comes after those queued now. */
	if (!err && pg_judge_changes_lexing(r))
		pg_judge_hold(ps->judge, pg_track_pending_ready(ps->track) + 1);
	return err;
}

/* A statement the rules allow, in a session that masks: masking may still
 * refuse it, or have it wait for the catalog. recorded: its statement
 * event is written already (it waited for an approval). */
static int masked_statement(struct session *s, const struct pg_statement *st,
			    struct pg_ruling *r, struct pg_outcome *out, bool recorded)
{
	struct pg_state *ps = state(s);
	/* Masking may queue requests before the Query the text points into,
	 * moving it: what is recorded reads a copy. */
	struct pg_statement kept = *st;
	char *text = st->path == PG_PATH_QUERY ? strdup(st->text) : NULL;
	int err;

	if (st->path == PG_PATH_QUERY && !text)
		return -ENOMEM;
	if (text)
		kept.text = text;
	err = pg_masking_statement(ps->masking, ps->track, &kept, r->verdict, &out->tag,
				   r->message, sizeof(r->message));
	if (err == PG_MASKING_WAIT) {
		out->wait = true;
		err = 0;
	} else if (err == PG_MASKING_REFUSE) {
		r->decision = SQL_DENY;
		r->rule = -1;
		r->sqlstate = "42501";
		err = refusal(s, &kept, r, out);
	} else if (!err) {
		if (!recorded)
			pg_audit_statement(s, &kept, r, true);
		err = allowed(s, r);
	}
	free(text);
	return err;
}

static int runs(struct session *s, const struct pg_statement *st, struct pg_ruling *r,
		struct pg_outcome *out, bool recorded)
{
	if (state(s)->masking)
		return masked_statement(s, st, r, out, recorded);
	if (!recorded)
		pg_audit_statement(s, st, r, false);
	return allowed(s, r);
}

/* Tell the job, as a notice, what its statement waits for. Not inside a
 * row that is streaming to it: the notice would split it. */
static void notify_waiting(struct session *s, const struct approval *ap, unsigned timeout_s)
{
	uint8_t out[ERROR_MAX];
	struct pg_builder b = pg_builder_on(out, sizeof(out));
	char msg[512];

	if (state(s)->streaming[SIDE_UPSTREAM])
		return;
	snprintf(msg, sizeof(msg), "sluice: this %s needs approval %s (policy rule %d); an "
		 "approver runs: sluicectl approve %s (or deny it); waiting up to %u second%s",
		 ap->kind, ap->id, ap->rule, ap->id, timeout_s, timeout_s == 1 ? "" : "s");
	pg_put_error(&b, 'N', "NOTICE", "00000", msg, 0);
	if (!b.bad && proxy_inject(s, SIDE_CLIENT, out, b.len))
		log_warn("session %s: no room to tell the job about approval %s", s->id, ap->id);
}

/* A statement a rule wants approved: it waits, unread, until a human
 * decides (approvals.h); then it runs or gets the denial. */
static int needs_approval(struct session *s, const struct pg_statement *st,
			  struct pg_ruling *r, struct pg_outcome *out)
{
	struct pg_state *ps = state(s);
	struct approvals *reg = proxy_approvals(s->proxy);
	struct approval *ap = ps->approval;
	struct approval_request req;
	char text[2048];
	uint64_t fp = 0;
	int err;

	if (!reg)
		return refusal(s, st, r, out);
	if (ap && ap->seq == st->seq) {
		if (ap->state == APPROVAL_PENDING) {
			out->wait = true;
			return 0;
		}
		if (ap->state == APPROVAL_APPROVED)
			return runs(s, st, r, out, true);
		snprintf(r->message, sizeof(r->message), "sluice: %s not approved (approval %s): %s",
			 r->kind, ap->id, ap->reason);
		r->decision = SQL_DENY;
		ps->approval = NULL;
		approvals_done(reg, ap);
		return refusal_reply(r, out);
	}
	if (st->text && !sql_fingerprint(st->text, &fp, NULL, 0) && approvals_granted(reg, s, fp)) {
		r->decision = SQL_ALLOW;
		return runs(s, st, r, out, false);
	}
	req = (struct approval_request){
		.seq = st->seq, .fingerprint = fp, .cls = r->cls, .kind = r->kind, .rule = r->rule,
		.statement = pg_audit_normalized(st, text, sizeof(text)) ?: "(not shown: it does not parse)",
	};
	if ((err = approvals_ask(reg, s, &req, &ps->approval)))
		return err;
	snprintf(r->message, sizeof(r->message), "sluice: %s waits for approval %s under policy "
		 "rule %d", r->kind, ps->approval->id, r->rule);
	pg_audit_statement(s, st, r, ps->masking != NULL);
	notify_waiting(s, ps->approval, (unsigned)(ps->approval->expires - ps->approval->asked));
	out->wait = true;
	return 0;
}

/* Is the rule that decided r (or, for a default denial, the agent) in
 * observe mode? */
static bool observing(const struct session *s, const struct pg_ruling *r)
{
	const struct policy *p = session_policy(s);
	enum policy_mode mode = r->rule >= 0 ? p->rules[r->rule].mode : POLICY_MODE_INHERIT;

	return mode == POLICY_MODE_OBSERVE || (mode == POLICY_MODE_INHERIT && p->agent.observe);
}

/* A denial by a rule with on_deny kill_job or freeze_job: the job's cgroup
 * goes too (jobctl.h). */
static void contain_job(struct session *s, const struct pg_ruling *r)
{
	const struct policy_rule *rule = r->rule >= 0 ? &session_policy(s)->rules[r->rule] : NULL;

	if (rule && rule->on_deny != POLICY_ON_DENY_REFUSE)
		jobctl_contain(s, rule->on_deny, r->rule);
}

/* Judge a statement about to run; a refusal becomes the ErrorResponse the
 * job gets in its place. One that runs is prepared for masking. */
static int on_statement(void *ctx, const struct pg_statement *st, struct pg_outcome *out)
{
	struct session *s = ctx;
	struct pg_state *ps = state(s);
	struct pg_ruling r;

	out->started_us = audit_mono_us();
	if (st->path == PG_PATH_FUNCTION)
		pg_judge_function_call(ps->judge, &r);
	else /* a portal no Bind made is an SQL cursor: executing it fetches */
		pg_judge_sql(ps->judge, st->text ? st->text : "FETCH ALL FROM c", &r);
	if (r.decision != SQL_ALLOW && observing(s, &r)) {
		/* Shadow mode: what would have happened is logged and
		 * recorded; the statement runs. */
		r.observed = true;
		pg_audit_statement(s, st, &r, ps->masking != NULL);
		return runs(s, st, &r, out, true);
	}
	if (r.decision == SQL_APPROVE)
		return needs_approval(s, st, &r, out);
	if (r.decision != SQL_ALLOW) {
		contain_job(s, &r);
		return refusal(s, st, &r, out);
	}
	return runs(s, st, &r, out, false);
}

/* ParameterStatus: settings that decide whether statements can be judged. */
static void note_parameter(struct session *s, const struct pg_msg *m)
{
	struct pg_reader r = pg_reader_of(m);
	const char *name = pg_get_str(&r), *value = pg_get_str(&r);

	if (!r.bad)
		pg_judge_setting(state(s)->judge, name, value);
}

static void on_parsed(void *ctx, const char *text)
{
	pg_judge_classify(state((struct session *)ctx)->judge, text);
}

static const struct pg_observer observer = {
	.parsed = on_parsed,
	.statement = on_statement,
	.tag_free = pg_masking_tag_free,
};

/* ---------------------------------------------------------------- errors */

/* Tell the job why in an ErrorResponse, then end the session. */
static int fail(struct session *s, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct session *s, const char *sqlstate, const char *fmt, ...)
{
	uint8_t out[ERROR_MAX];
	struct pg_builder b = pg_builder_on(out, sizeof(out));
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pg_put_error(&b, 'E', "FATAL", sqlstate, msg, 0);
	state(s)->phase = PG_DONE;
	log_warn("session %s: %s", s->id, msg);
	audit_error(s, msg);
	/* Inside a row still streaming to the job the error would corrupt it:
	 * the session ends with a reset instead. */
	if (state(s)->streaming[SIDE_UPSTREAM] || b.bad ||
	    proxy_inject(s, SIDE_CLIENT, out, b.len))
		return -EPROTO;
	proxy_finish(s, "protocol error sent to the client");
	return 0;
}

static int violation(struct session *s, enum proxy_side from, const char *what)
{
	return fail(s, "08P01", "sluice: protocol violation from the %s: %s",
		    from == SIDE_CLIENT ? "client" : "server", what);
}

/* -------------------------------------------------------------- upstream */

/* The target's password, read now: a rotated file is used at once. A file
 * others may read is refused, as a secret should not be. */
static int read_password(struct session *s)
{
	const struct policy_target *t = s->target;
	struct pg_state *st = state(s);
	struct stat sb;
	ssize_t n;
	int fd;

	if (!t->cred_user || !t->cred_password_file)
		return fail(s, "28000", "sluice: target \"%s\" has no credentials configured",
			    t->name);
	fd = open(t->cred_password_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &sb) || (sb.st_mode & 077)) {
		log_err("password file %s of target %s: %s", t->cred_password_file, t->name,
			fd < 0 ? strerror(errno) : "readable by group or others, refused");
		if (fd >= 0)
			close(fd);
		return fail(s, "28000", "sluice: credentials of target \"%s\" are not usable; "
			    "see the agent's log", t->name);
	}
	n = read(fd, st->password, sizeof(st->password) - 1);
	close(fd);
	if (n <= 0)
		return fail(s, "28000", "sluice: credentials of target \"%s\" are empty", t->name);
	while (n > 0 && (st->password[n - 1] == '\n' || st->password[n - 1] == '\r'))
		n--;
	st->password[n] = '\0';
	return 0;
}

static void wipe_password(struct pg_state *st)
{
	OPENSSL_cleanse(st->password, sizeof(st->password));
	pg_scram_free(st->scram);
	st->scram = NULL;
}

/* StartupMessage for the server: the target's user, then the job's other
 * parameters (database, application_name, options...). */
static int send_startup(struct session *s)
{
	struct pg_state *st = state(s);
	uint8_t out[STARTUP_MAX + 256];
	struct pg_builder b = pg_builder_on(out, sizeof(out));
	struct pg_msg m = { .body = st->startup, .body_len = (uint32_t)st->startup_len };
	struct pg_reader r = pg_reader_of(&m);

	pg_begin(&b, 0);
	pg_put_i32(&b, (int32_t)PG_PROTOCOL_3_0);
	pg_put_str(&b, "user");
	pg_put_str(&b, s->target->cred_user);
	for (;;) {
		const char *k = pg_get_str(&r), *v;

		if (r.bad || !*k)
			break;
		v = pg_get_str(&r);
		if (!strcmp(k, "user") || !strncmp(k, "_pq_.", 5))
			continue;
		pg_put_str(&b, k);
		pg_put_str(&b, v);
	}
	pg_put_u8(&b, 0);
	pg_end(&b);
	if (b.bad || proxy_inject(s, SIDE_UPSTREAM, out, b.len))
		return -ENOBUFS;
	st->phase = PG_UPSTREAM_AUTH;
	return 0;
}

static int send_password_message(struct session *s, const void *data, size_t len,
				 const char *mechanism)
{
	uint8_t out[4096];
	struct pg_builder b = pg_builder_on(out, sizeof(out));
	int err;

	pg_begin(&b, 'p');
	if (mechanism) {
		pg_put_str(&b, mechanism);
		pg_put_i32(&b, (int32_t)len);
	}
	pg_put_bytes(&b, data, len);
	pg_end(&b);
	err = b.bad ? -ENOBUFS : proxy_inject(s, SIDE_UPSTREAM, out, b.len);
	OPENSSL_cleanse(out, sizeof(out));
	return err;
}

/* AuthenticationSASL: pick SCRAM-SHA-256-PLUS when offered over TLS. */
static int start_sasl(struct session *s, struct pg_reader *r)
{
	struct pg_state *st = state(s);
	bool plus = false, plain = false;
	uint8_t cbind[64];
	size_t cbind_len = 0;
	const char *first;
	int err;

	if (st->scram)
		return violation(s, SIDE_UPSTREAM, "second SASL exchange");
	for (;;) {
		const char *mech = pg_get_str(r);

		if (r->bad || !*mech)
			break;
		plus |= !strcmp(mech, "SCRAM-SHA-256-PLUS");
		plain |= !strcmp(mech, "SCRAM-SHA-256");
	}
	if (plus && s->io[SIDE_UPSTREAM].ssl &&
	    tls_server_end_point(s->io[SIDE_UPSTREAM].ssl, cbind, sizeof(cbind), &cbind_len))
		plus = false;
	if (!plus && !plain)
		return fail(s, "28000", "sluice: target \"%s\" offers no SASL mechanism sluice "
			    "supports", s->target->name);
	err = pg_scram_new(st->password, plus ? cbind : NULL, plus ? cbind_len : 0,
			   s->io[SIDE_UPSTREAM].ssl != NULL, &st->scram);
	if (err)
		return err;
	st->auth_method = pg_scram_mechanism(st->scram);
	first = pg_scram_client_first(st->scram);
	return send_password_message(s, first, strlen(first), pg_scram_mechanism(st->scram));
}

static int on_auth_request(struct session *s, const struct pg_msg *m)
{
	struct pg_state *st = state(s);
	struct pg_reader r = pg_reader_of(m);
	int32_t code = pg_get_i32(&r);
	char md5[PG_MD5_RESPONSE_LEN + 1];
	const char *final;
	int err;

	if (r.bad)
		return violation(s, SIDE_UPSTREAM, "malformed authentication request");
	if ((code == PG_AUTH_CLEARTEXT && !(s->target->cred_methods & POLICY_AUTH_PASSWORD)) ||
	    (code == PG_AUTH_MD5 && !(s->target->cred_methods & POLICY_AUTH_MD5)) ||
	    (code == PG_AUTH_SASL && !(s->target->cred_methods & POLICY_AUTH_SCRAM)))
		return fail(s, "28000", "sluice: target \"%s\" asks for %s authentication, which "
			    "its credentials.methods does not allow", s->target->name,
			    code == PG_AUTH_CLEARTEXT ? "password" : code == PG_AUTH_MD5 ? "md5"
										  : "SCRAM");
	switch (code) {
	case PG_AUTH_CLEARTEXT:
		st->auth_method = "password";
		return send_password_message(s, st->password, strlen(st->password) + 1, NULL);
	case PG_AUTH_MD5: {
		const uint8_t *salt = pg_get_bytes(&r, 4);

		if (!salt)
			return violation(s, SIDE_UPSTREAM, "md5 request without salt");
		st->auth_method = "md5";
		pg_md5_response(s->target->cred_user, st->password, salt, md5);
		err = send_password_message(s, md5, sizeof(md5), NULL);
		OPENSSL_cleanse(md5, sizeof(md5));
		return err;
	}
	case PG_AUTH_SASL:
		return start_sasl(s, &r);
	case PG_AUTH_SASL_CONTINUE:
		if (!st->scram || pg_scram_client_final(st->scram, (const char *)r.p,
							(size_t)(r.end - r.p), &final))
			return fail(s, "28000", "sluice: SCRAM exchange with target \"%s\" failed",
				    s->target->name);
		return send_password_message(s, final, strlen(final), NULL);
	case PG_AUTH_SASL_FINAL:
		if (!st->scram || pg_scram_verify_server(st->scram, (const char *)r.p,
							 (size_t)(r.end - r.p)))
			return fail(s, "28000", "sluice: target \"%s\" did not prove it knows the "
				    "password (SCRAM server signature)", s->target->name);
		return 0;
	default:
		return fail(s, "28000", "sluice: target \"%s\" asks for authentication method %d, "
			    "which sluice does not support", s->target->name, code);
	}
}

/* Take a message out of the buffer into copy, for a handler that answers
 * it: injecting or dropping moves the bytes the message points at. */
static int take_message(struct relay_buf *b, const struct pg_msg *m, uint8_t *copy,
			size_t size, struct pg_msg *out)
{
	if (m->total > size)
		return -EMSGSIZE;
	memcpy(copy, b->data + b->ready, m->total);
	*out = *m;
	out->body = copy + (m->body - (b->data + b->ready));
	relay_drop(b, m->total);
	return 0;
}

/* Messages from the server while authenticating. */
static int upstream_auth(struct session *s, struct relay_buf *b, const struct pg_msg *m)
{
	struct pg_state *st = state(s);
	uint8_t copy[8192];
	struct pg_msg c;
	const char *why;

	if (m->type == 'R' && m->body_len == 4 && !memcmp(m->body, "\0\0\0\0", 4)) {
		if (st->scram && !pg_scram_verified(st->scram))
			return fail(s, "28000", "sluice: target \"%s\" accepted the login without "
				    "proving it knows the password (SCRAM)", s->target->name);
		log_info("session %s: authenticated to target %s as %s (%s, %s)", s->id,
			 s->target->name, s->target->cred_user,
			 st->auth_method ? st->auth_method : "trust",
			 s->io[SIDE_UPSTREAM].ssl ? SSL_get_version(s->io[SIDE_UPSTREAM].ssl) : "no TLS");
		wipe_password(st);
		pg_audit_login(s, st->user, st->database[0] ? st->database : st->user,
			       st->auth_method ? st->auth_method : "trust");
		st->phase = PG_UPSTREAM_READY;
		b->ready += m->total; /* the job's AuthenticationOk */
		return 0;
	}
	if (take_message(b, m, copy, sizeof(copy), &c))
		return violation(s, SIDE_UPSTREAM, "authentication message too large");
	switch (c.type) {
	case 'R':
		return on_auth_request(s, &c);
	case 'E':
		why = pg_error_field(&c, 'M');
		return fail(s, "28P01", "sluice: authentication to target \"%s\" as user \"%s\" "
			    "failed: %s", s->target->name, s->target->cred_user,
			    why ? why : "no reason given");
	case 'v':
	case 'N':
		return 0;
	default:
		return violation(s, SIDE_UPSTREAM, "unexpected message during authentication");
	}
}

/* After AuthenticationOk: ParameterStatus, BackendKeyData, ReadyForQuery. */
static int upstream_ready(struct session *s, struct relay_buf *b, const struct pg_msg *m)
{
	struct pg_state *st = state(s);

	if (m->type == 'K') {
		struct pg_reader r = pg_reader_of(m);
		struct pg_cancel_key up = { (uint32_t)pg_get_i32(&r), (uint32_t)pg_get_i32(&r) };
		uint32_t be[2];

		if (r.bad || m->body_len != 8)
			return violation(s, SIDE_UPSTREAM, "malformed BackendKeyData");
		if (st->have_key)
			pg_cancel_forget(&st->job_key);
		if (pg_cancel_register(s, &up, &st->job_key))
			return -ENOMEM;
		st->have_key = true;
		/* Same size: rewritten in place. */
		be[0] = htonl(st->job_key.pid);
		be[1] = htonl(st->job_key.secret);
		memcpy(b->data + b->ready + 5, be, 8);
	} else if (m->type == 'Z') {
		st->phase = PG_RELAY;
		proxy_established(s);
	} else if (m->type == 'S') {
		note_parameter(s, m);
	} else if (!strchr("NE", m->type)) {
		return violation(s, SIDE_UPSTREAM, "unexpected message before ReadyForQuery");
	}
	b->ready += m->total;
	return 0;
}

/* --------------------------------------------------------------- startup */

static int answer_byte(struct session *s, char c)
{
	return proxy_inject(s, SIDE_CLIENT, &c, 1);
}

/* A job cancelling a statement that awaits approval (psql's Ctrl-C) takes
 * the request back: it is denied, and the server, where nothing runs, is
 * not bothered. */
static bool withdraw_by_cancel(struct session *victim)
{
	struct approval *ap = state(victim)->approval;
	struct approval_decider job = { victim->facts.uid, "the job" };

	if (!ap || ap->state != APPROVAL_PENDING)
		return false;
	approvals_decide(proxy_approvals(victim->proxy), ap, false, APPROVAL_ONCE, 0,
			 "cancelled by the job", &job);
	return true;
}

static int on_cancel_request(struct session *s, const struct pg_msg *m)
{
	struct pg_reader r = pg_reader_of(m);
	struct pg_cancel_key job = { (uint32_t)pg_get_i32(&r), (uint32_t)pg_get_i32(&r) }, up;
	struct session *victim = r.bad ? NULL : pg_cancel_find(&job, &up);
	uint8_t out[16];
	struct pg_builder b = pg_builder_on(out, sizeof(out));

	state(s)->phase = PG_DONE;
	if (!victim || victim->target != s->target ||
	    memcmp(&victim->dst, &s->dst, sizeof(s->dst))) {
		log_warn("session %s: cancel request with an unknown key, ignored", s->id);
		proxy_finish(s, "cancel request with an unknown key");
		return 0;
	}
	if (withdraw_by_cancel(victim)) {
		proxy_finish(s, "cancel request withdrew an approval");
		return 0;
	}
	pg_begin(&b, 0);
	pg_put_i32(&b, (int32_t)PG_CANCEL_REQUEST);
	pg_put_i32(&b, (int32_t)up.pid);
	pg_put_i32(&b, (int32_t)up.secret);
	pg_end(&b);
	log_info("session %s: cancel request for session %s forwarded", s->id, victim->id);
	proxy_finish(s, "cancel request forwarded");
	return proxy_inject(s, SIDE_UPSTREAM, out, b.len);
}

static int send_ssl_request(struct session *s)
{
	uint8_t out[8];
	struct pg_builder b = pg_builder_on(out, sizeof(out));

	pg_begin(&b, 0);
	pg_put_i32(&b, (int32_t)PG_SSL_REQUEST);
	pg_end(&b);
	state(s)->phase = PG_UPSTREAM_SSL;
	return proxy_inject(s, SIDE_UPSTREAM, out, b.len);
}

/* What a job may set at startup. "replication" would open a session whose
 * commands and streams the agent does not follow; "options" could set
 * anything (-c role=...) before the first statement. */
static bool startup_parameter_allowed(const char *k)
{
	static const char *const allowed[] = {
		"application_name", "client_encoding", "DateStyle", "TimeZone", "IntervalStyle",
		"extra_float_digits", "search_path", "datestyle", "timezone", "intervalstyle",
		"lc_messages", "lc_monetary", "lc_numeric", "lc_time", "statement_timeout",
		"lock_timeout", "idle_in_transaction_session_timeout", "geqo", "bytea_output",
		"standard_conforming_strings", "default_transaction_isolation",
		"default_transaction_read_only", "fallback_application_name", NULL,
	};

	if (!strncmp(k, "_pq_.", 5))
		return true; /* protocol options: dropped, never forwarded */
	for (size_t i = 0; allowed[i]; i++)
		if (!strcmp(k, allowed[i]))
			return true;
	return false;
}

/* With credentials in hand, to the target: TLS first if it wants. */
static int connect_upstream(struct session *s)
{
	const struct policy_target *t = s->target;

	if (read_password(s) || state(s)->phase == PG_DONE)
		return 0;
	return t->tls_upstream == POLICY_TLS_DISABLE ? send_startup(s) : send_ssl_request(s);
}

/* AuthenticationCleartextPassword: the job's password is its token (the
 * identity says "from": "password"); it travels only to the agent. */
static int ask_token(struct session *s)
{
	uint8_t out[16];
	struct pg_builder b = pg_builder_on(out, sizeof(out));

	pg_begin(&b, 'R');
	pg_put_i32(&b, 3);
	pg_end(&b);
	state(s)->phase = PG_CLIENT_TOKEN;
	return proxy_inject(s, SIDE_CLIENT, out, b.len);
}

static int session_rules(struct session *s);

/* The job's PasswordMessage: identify the session by it, then go on. */
static int client_token(struct session *s, struct relay_buf *b)
{
	struct pg_msg m;
	const char *why;
	size_t len;
	int r = pg_frame(b->data + b->ready, b->len - b->ready, JWT_MAX_BYTES + 64, &m);

	if (r <= 0)
		return r ? violation(s, SIDE_CLIENT, "malformed password message") : 0;
	if (m.type != 'p')
		return violation(s, SIDE_CLIENT, "expected a password message");
	len = strnlen((const char *)m.body, m.body_len);
	r = proxy_identify(s, (const char *)m.body, len, &why);
	/* The token is in no buffer once judged. */
	explicit_bzero(b->data + b->ready, m.total);
	relay_drop(b, m.total);
	if (r)
		return fail(s, "28000", "sluice: %s", why);
	log_info("session %s: identified as %s by its token", s->id, s->identity->name);
	if ((r = session_rules(s)))
		return r;
	return connect_upstream(s) ?: 1;
}

static int on_startup_message(struct session *s, const struct pg_msg *m, uint32_t version)
{
	struct pg_state *st = state(s);
	struct pg_reader r = pg_reader_of(m);
	const struct policy_target *t = s->target;

	if (version >> 16 != 3)
		return fail(s, "0A000", "sluice: unsupported frontend protocol %u.%u",
			    version >> 16, version & 0xffff);
	for (;;) {
		const char *k = pg_get_str(&r), *v;

		if (r.bad)
			return violation(s, SIDE_CLIENT, "malformed startup packet");
		if (!*k)
			break;
		v = pg_get_str(&r);
		if (!strcmp(k, "user"))
			snprintf(st->user, sizeof(st->user), "%s", v);
		else if (!strcmp(k, "database"))
			snprintf(st->database, sizeof(st->database), "%s", v);
		else if (!startup_parameter_allowed(k))
			return fail(s, "0A000", "sluice: startup parameter \"%.64s\" is not allowed "
				    "through sluice", k);
	}
	st->startup = malloc(m->body_len + 1);
	if (!st->startup)
		return -ENOMEM;
	memcpy(st->startup, m->body, m->body_len);
	st->startup_len = m->body_len;
	log_info("session %s: postgres startup as \"%s\" to database \"%s\", upstream user \"%s\"",
		 s->id, st->user, st->database[0] ? st->database : st->user,
		 t->cred_user ? t->cred_user : "-");
	if (!s->identity) /* it waits for its token */
		return ask_token(s);
	return connect_upstream(s);
}

/* One packet of the job's startup phase. */
static int client_startup(struct session *s, struct relay_buf *b)
{
	uint8_t copy[STARTUP_MAX];
	struct pg_msg framed_msg, m;
	uint32_t code;
	int r = pg_frame_startup(b->data + b->ready, b->len - b->ready, STARTUP_MAX, &code,
				 &framed_msg);

	if (r <= 0)
		return r ? violation(s, SIDE_CLIENT, "malformed startup packet") : 0;
	if (take_message(b, &framed_msg, copy, sizeof(copy), &m))
		return violation(s, SIDE_CLIENT, "startup packet too large");
	switch (code) {
	case PG_SSL_REQUEST:
		if (s->io[SIDE_CLIENT].ssl || !pg.server)
			return s->io[SIDE_CLIENT].ssl ? violation(s, SIDE_CLIENT, "second SSLRequest")
						      : answer_byte(s, 'N');
		/* Bytes sent before the handshake would pass as if encrypted. */
		if (b->len > b->ready)
			return violation(s, SIDE_CLIENT, "data after SSLRequest");
		state(s)->phase = PG_CLIENT_TLS;
		return answer_byte(s, 'S') ?: proxy_start_tls(s, SIDE_CLIENT, pg.server, NULL);
	case PG_GSSENC_REQUEST:
		return answer_byte(s, 'N');
	case PG_CANCEL_REQUEST:
		return on_cancel_request(s, &m);
	default:
		return on_startup_message(s, &m, code);
	}
}

/* The server's one-byte answer to our SSLRequest. */
static int upstream_ssl_answer(struct session *s, struct relay_buf *b)
{
	const struct policy_target *t = s->target;
	char answer;
	char ip[64];

	if (b->len == b->ready)
		return 0;
	answer = (char)b->data[b->ready];
	relay_drop(b, 1);
	if (b->len > b->ready)
		return violation(s, SIDE_UPSTREAM, "data after the SSL answer");
	if (answer == 'S') {
		/* The address dialled, which for a CIDR target is one of many. */
		if (s->dst.ss_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)&s->dst)->sin_addr, ip, sizeof(ip));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&s->dst)->sin6_addr, ip,
				  sizeof(ip));
		state(s)->phase = PG_UPSTREAM_TLS;
		return proxy_start_tls(s, SIDE_UPSTREAM, gen_of(s)->upstream[t - session_policy(s)->targets],
				       t->tls_upstream == POLICY_TLS_VERIFY_FULL ? ip : NULL);
	}
	if (answer == 'N' && t->tls_upstream == POLICY_TLS_PREFER)
		return send_startup(s);
	return fail(s, "08001", "sluice: target \"%s\" does not accept TLS, which its "
		    "tls.upstream setting requires", t->name);
}

/* ----------------------------------------------------------------- relay */

/* DataRow and CopyData pass without being held whole: rows stream. (From
 * the job, 'D' is a Describe.) */
static bool streams(enum proxy_side from, uint8_t type)
{
	return type == 'd' || (type == 'D' && from == SIDE_UPSTREAM);
}

/* The refused request m goes no further: an Execute of the stand-in
 * portal (and a Sync, for a Query or FunctionCall, which end with
 * ReadyForQuery) takes its place. */
static int send_stand_in(struct session *s, struct relay_buf *b, const struct pg_msg *m)
{
	uint8_t out[96];
	struct pg_builder o = pg_builder_on(out, sizeof(out));

	pg_begin(&o, 'E');
	pg_put_str(&o, pg.stand_in);
	pg_put_i32(&o, 0);
	pg_end(&o);
	if (m->type != 'E') {
		pg_begin(&o, 'S');
		pg_end(&o);
	}
	relay_drop(b, m->total);
	return o.bad ? -ENOBUFS : proxy_inject(s, SIDE_UPSTREAM, out, o.len);
}

/* A message the agent made or rewrote for the job, for the recording. */
static void record_answer(struct session *s, const struct pg_track_result *answers,
			  const uint8_t *msg, size_t len)
{
	struct pg_msg m;

	if (s->rec && pg_frame(msg, len, len, &m) > 0)
		pg_audit_answer(s, &state(s)->audit, answers, &m);
}

static int relay_message(struct session *s, enum proxy_side from, struct relay_buf *b,
			 const struct pg_msg *m)
{
	struct pg_state *st = state(s);
	struct pg_track_result answers = { 0 };
	uint8_t *reply = NULL;
	const uint8_t *out = NULL;
	size_t reply_len = 0, out_len = 0;
	int err, masked = PG_MASKING_PASS;

	if (from == SIDE_CLIENT) {
		if (!pg_frontend_type_known(m->type) || m->type == 'p')
			return violation(s, from, "unknown message type");
		err = pg_track_frontend(st->track, m);
		if (err == PG_TRACK_REFUSED)
			return send_stand_in(s, b, m);
		if (err == PG_TRACK_WAIT) {
			st->held = true;
			return HELD;
		}
		if (err == PG_TRACK_DROP) {
			relay_drop(b, m->total);
			return 0;
		}
	} else {
		if (!pg_backend_type_known(m->type) || m->type == 'K' || m->type == 'R')
			return violation(s, from, "unexpected message type");
		if (m->type == 'S')
			note_parameter(s, m);
		else if (m->type == 'Z')
			pg_judge_ready(st->judge);
		/* Only what pg_audit_answer() records needs to know what it answers. */
		if (s->rec && strchr("TDCsIE", m->type))
			pg_track_result(st->track, &answers);
		if (st->masking) {
			masked = pg_masking_backend(st->masking, st->track, m, &out, &out_len);
			if (masked < 0)
				return masked == -ENOMEM ? masked
					: violation(s, from, "a row that does not match its description");
		}
		err = pg_track_backend(st->track, m, &reply, &reply_len);
		if (st->held && err >= 0 && !pg_track_agent_pending(st->track)) {
			st->held = false;
			st->resume = true;
			pg_masking_catalog_done(st->masking);
		}
		if (err == PG_TRACK_AGENT) {
			/* The catalog's answer, for masking; never the job's. */
			if (m->type == 'D' && pg_masking_catalog_row(st->masking, m))
				log_warn("session %s: unreadable catalog row, ignored", s->id);
			relay_drop(b, m->total);
			return 0;
		}
		if (err == PG_TRACK_REPLACE) {
			relay_drop(b, m->total);
			record_answer(s, &answers, reply, reply_len);
			err = proxy_inject(s, SIDE_CLIENT, reply, reply_len);
			free(reply);
			return err;
		}
		if (!err && masked != PG_MASKING_PASS) {
			relay_drop(b, m->total);
			if (masked == PG_MASKING_DROP)
				return 0;
			record_answer(s, &answers, out, out_len);
			return proxy_inject(s, SIDE_CLIENT, out, out_len);
		}
		if (!err && s->rec)
			pg_audit_answer(s, &st->audit, &answers, m);
	}
	if (err)
		return err == -ENOMEM ? err : violation(s, from, err == -ENOSPC ?
			"too many prepared statements, portals or requests in flight" :
			"malformed message");
	b->ready += m->total;
	return 0;
}

/* Pass the first part of a streaming message; the rest follows as read. */
static bool pass_streaming(struct session *s, enum proxy_side from, struct relay_buf *b)
{
	struct pg_state *st = state(s);
	const uint8_t *p = b->data + b->ready;
	size_t avail = b->len - b->ready, total, now;
	uint32_t len;

	if (avail < 5 || !streams(from, p[0]))
		return false;
	len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (len < 4)
		return false;
	total = (size_t)len + 1;
	now = total < avail ? total : avail;
	b->ready += now;
	st->streaming[from] = total - now;
	return true;
}

/* Rows that masking must rewrite, that answer the agent, or that go into
 * the recording are read whole; the rest stream. */
static bool read_whole(struct session *s, const struct relay_buf *b)
{
	struct pg_state *st = state(s);
	const uint8_t *p = b->data + b->ready;
	size_t avail = b->len - b->ready;

	if (st->masking && pg_masking_frames(st->masking, st->track, p[0]))
		return true;
	if (p[0] != 'D' || !s->rec)
		return false;
	if (avail < 5)
		return true; /* its length is not known yet: wait for it */
	return pg_audit_frames_row(&st->audit, s, pg_track_seq(st->track),
				   ((size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4]) + 1);
}

static int upstream_message(struct session *s, struct relay_buf *b, const struct pg_msg *m)
{
	switch (state(s)->phase) {
	case PG_UPSTREAM_AUTH:
		return upstream_auth(s, b, m);
	case PG_UPSTREAM_READY:
		return upstream_ready(s, b, m);
	case PG_RELAY:
		return relay_message(s, SIDE_UPSTREAM, b, m);
	default:
		return violation(s, SIDE_UPSTREAM, "data before the session was set up");
	}
}

/* Frame one typed message and hand it on: 1 done, 0 need more, or -errno. */
static int framed(struct session *s, enum proxy_side from, struct relay_buf *b)
{
	struct pg_msg m;
	int r = pg_frame(b->data + b->ready, b->len - b->ready, max_message(s), &m);

	if (r < 0)
		return violation(s, from, r == -EMSGSIZE ? "message too large" : "malformed length");
	if (r == 0)
		return 0;
	r = from == SIDE_CLIENT ? relay_message(s, from, b, &m) : upstream_message(s, b, &m);
	return r < 0 ? r : r == HELD ? 0 : 1;
}

/* One step over bytes from side `from`: 1 progress, 0 need more, -errno. */
static int step(struct session *s, enum proxy_side from, struct relay_buf *b)
{
	struct pg_state *st = state(s);
	size_t *streaming = &st->streaming[from];
	int r;

	if (*streaming) {
		size_t n = b->len - b->ready < *streaming ? b->len - b->ready : *streaming;

		b->ready += n;
		*streaming -= n;
		return *streaming ? 0 : 1;
	}
	if (b->ready == b->len || st->phase == PG_DONE)
		return 0;
	if (from == SIDE_CLIENT) {
		if (st->held)
			return 0; /* its next message waits for the agent's answer */
		if (st->phase == PG_CLIENT_STARTUP) {
			r = client_startup(s, b);
			return r < 0 ? r : r > 0;
		}
		if (st->phase == PG_CLIENT_TOKEN)
			return client_token(s, b);
		if (st->phase != PG_RELAY)
			return 0; /* the job waits for us: keep its bytes for later */
	} else if (st->phase == PG_UPSTREAM_SSL) {
		r = upstream_ssl_answer(s, b);
		return r < 0 ? r : 1;
	}
	if (st->phase == PG_RELAY && !(from == SIDE_UPSTREAM && read_whole(s, b)) &&
	    pass_streaming(s, from, b))
		return 1;
	return framed(s, from, b);
}

static int pg_received(struct session *s, enum proxy_side from, struct relay_buf *b)
{
	struct pg_state *st = state(s);
	bool was_relay = st->phase == PG_RELAY;
	int r;

	while ((r = step(s, from, b)) > 0)
		;
	if (r < 0)
		return r;
	/* Bytes the job sent while we set up, or while one of its messages
	 * waited for an answer to the agent, may go now. */
	if (from == SIDE_UPSTREAM && ((!was_relay && st->phase == PG_RELAY) || st->resume)) {
		st->resume = false;
		return pg_received(s, SIDE_CLIENT, &s->buf[SIDE_CLIENT]);
	}
	return 0;
}

/* The job's bytes that arrived while we set the session up are dealt with
 * once it is: its end of stream waits for them. */
static bool pg_holding(struct session *s, enum proxy_side from)
{
	struct pg_state *st = state(s);
	enum pg_phase phase = st->phase;

	return from == SIDE_CLIENT &&
	       ((phase > PG_CLIENT_STARTUP && phase < PG_RELAY) || st->held);
}

/* A job that goes away while its statement awaits approval withdraws it:
 * nothing will read the answer. */
static void pg_ended(struct session *s, enum proxy_side from)
{
	struct pg_state *st = state(s);

	if (from != SIDE_CLIENT || !st->approval || st->approval->state != APPROVAL_PENDING)
		return;
	approvals_session_ended(proxy_approvals(s->proxy), s, "the job disconnected");
	st->approval = NULL;
	st->held = false;
	proxy_finish(s, "the job disconnected while its statement awaited approval");
}

/* An approval was decided: judge the held statement again. */
static int pg_resume(struct session *s)
{
	struct pg_state *st = state(s);

	if (!st->held)
		return 0;
	st->held = false;
	return pg_received(s, SIDE_CLIENT, &s->buf[SIDE_CLIENT]);
}

static int pg_tls_done(struct session *s, enum proxy_side side, const char *error)
{
	struct pg_state *st = state(s);

	if (error && side == SIDE_UPSTREAM)
		return fail(s, "08001", "sluice: TLS to target \"%s\" failed: %s",
			    s->target->name, error);
	if (error)
		return -EPROTO;
	if (side == SIDE_CLIENT) {
		st->phase = PG_CLIENT_STARTUP;
		return pg_received(s, SIDE_CLIENT, &s->buf[SIDE_CLIENT]);
	}
	return send_startup(s);
}

/* The catalog cache of the session's target, made on first use. */
static struct pg_catalog *catalog_of(struct session *s)
{
	struct pg_gen *g = gen_of(s);
	size_t i = (size_t)(s->target - g->policy->targets);

	if (!g->catalogs[i])
		g->catalogs[i] = pg_catalog_new();
	return g->catalogs[i];
}

/* What the session's identity decides: how statements are judged, and
 * what is masked. Once the identity is known. */
static int session_rules(struct session *s)
{
	struct pg_state *st = state(s);
	int err = 0;

	st->judge = pg_judge_new(session_policy(s), s->target, s->identity);
	st->masking = pg_masking_new(gen_of(s)->masks, catalog_of(s), s, &err);
	return !st->judge || err ? -ENOMEM : 0;
}

static void pg_close(struct session *s);

static int pg_open(struct session *s)
{
	struct pg_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	s->proto_state = st;
	if (!(st->track = pg_track_new(&observer, s)) ||
	    (s->identity && session_rules(s))) {
		pg_close(s);
		return -ENOMEM;
	}
	pg_audit_init(&st->audit, s);
	return 0;
}

static void pg_close(struct session *s)
{
	struct pg_state *st = state(s);

	if (!st)
		return;
	if (st->have_key)
		pg_cancel_forget(&st->job_key);
	if (proxy_approvals(s->proxy))
		approvals_session_ended(proxy_approvals(s->proxy), s, "the session ended");
	wipe_password(st);
	pg_track_free(st->track);
	pg_judge_free(st->judge);
	pg_masking_free(st->masking);
	free(st->startup);
	free(st);
	s->proto_state = NULL;
}

static void pg_unload(void *state)
{
	struct pg_gen *g = state;

	if (!g)
		return;
	for (size_t i = 0; i < g->policy->ntargets; i++) {
		if (g->upstream)
			SSL_CTX_free(g->upstream[i]);
		if (g->catalogs)
			pg_catalog_free(g->catalogs[i]);
	}
	free(g->upstream);
	free(g->catalogs);
	pg_mask_rules_free(g->masks);
	free(g);
}

static int pg_load(const struct policy *p, void **state)
{
	struct pg_gen *g = calloc(1, sizeof(*g));
	bool any = false;
	int err = -ENOMEM;

	if (!g)
		return -ENOMEM;
	g->policy = p;
	if (!(g->upstream = calloc(p->ntargets + 1, sizeof(*g->upstream))) ||
	    !(g->catalogs = calloc(p->ntargets + 1, sizeof(*g->catalogs))))
		goto fail;
	for (size_t i = 0; i < p->ntargets; i++) {
		const struct policy_target *t = &p->targets[i];

		if (t->protocol != POLICY_PROTO_POSTGRES)
			continue;
		any = true;
		if (t->tls_upstream == POLICY_TLS_DISABLE)
			continue;
		err = tls_client_ctx(t->tls_upstream == POLICY_TLS_VERIFY_FULL ? t->tls_ca : NULL,
				     &g->upstream[i]);
		if (err) {
			log_err("target %s: no TLS client context", t->name);
			goto fail;
		}
	}
	/* The agent's certificate is made only where PostgreSQL is proxied. */
	if (any && ((!pg.server && (err = tls_server_ctx(p->agent.state_dir, &pg.server))) ||
		    (err = pg_mask_rules_new(p, &g->masks))))
		goto fail;
	*state = g;
	return 0;
fail:
	pg_unload(g);
	return err;
}

static void pg_fini(void)
{
	SSL_CTX_free(pg.server);
	pg_cancel_clear();
	pg_scram_clear_cache();
	pg_judge_cache_clear();
	pg_audit_fini();
	pg_mask_fini();
	memset(&pg, 0, sizeof(pg));
}

static int pg_init(void)
{
	uint8_t rnd[12];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	snprintf(pg.stand_in, sizeof(pg.stand_in), "sluice_refused_");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(pg.stand_in + 15 + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

const struct proto_module proto_postgres = {
	.name = "postgres",
	.sets_up = true,
	.init = pg_init,
	.fini = pg_fini,
	.load = pg_load,
	.unload = pg_unload,
	.open = pg_open,
	.received = pg_received,
	.holding = pg_holding,
	.ended = pg_ended,
	.tls_done = pg_tls_done,
	.resume = pg_resume,
	.close = pg_close,
};
