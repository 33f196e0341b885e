// SPDX-License-Identifier: Apache-2.0
/* audit: journald entries and recording events of a session. See audit.h. */
#include "audit.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ev.h"
#include "identity.h"
#include "json_out.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"
#include "recorder.h"

#define STREAM_PIECE (48u << 10) /* bytes of one data event: its base64 fits the budget */

/* One event is built at a time, on the event loop. */
static struct json_out event;
static struct audit_counts counts;

static const char *side_word(enum proxy_side side)
{
	return side == SIDE_CLIENT ? "client" : "upstream";
}

static uint64_t clock_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

_Static_assert(AUDIT_FIELDS_MAX <= LOG_FIELDS_MAX, "log_event keeps every audit field");

void audit_field(struct audit_fields *f, const char *fmt, ...)
{
	va_list ap;

	if (f->n >= AUDIT_FIELDS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(f->buf[f->n], sizeof(f->buf[0]), fmt, ap);
	va_end(ap);
	f->v[f->n] = f->buf[f->n];
	f->n++;
}

/* "parent < grandparent < ...": the executables above the caller. */
static void lineage_field(struct audit_fields *f, const struct identity_facts *id)
{
	char buf[sizeof(f->buf[0])];
	size_t n = 0;

	if (!id->nlineage)
		return;
	for (unsigned i = 0; i < id->nlineage && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " < " : "", id->lineage[i]);
	audit_field(f, "SLUICE_LINEAGE=%s", buf);
}

/* A verified token's issuer and subject, and its claims as compact JSON
 * (cut to the field's size). */
static void claims_fields(struct audit_fields *f, const cJSON *claims)
{
	const cJSON *iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
	const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
	char *all;

	if (!claims)
		return;
	if (cJSON_IsString(iss))
		audit_field(f, "SLUICE_TOKEN_ISSUER=%s", iss->valuestring);
	if (cJSON_IsString(sub))
		audit_field(f, "SLUICE_TOKEN_SUBJECT=%s", sub->valuestring);
	if ((all = cJSON_PrintUnformatted(claims))) {
		audit_field(f, "SLUICE_CLAIMS=%s", all);
		free(all);
	}
}

/* Who and where, as journald fields. */
static void format_facts(const struct session *s, struct audit_fields *f)
{
	const struct identity_facts *id = &s->facts;
	char dst[80];

	sockaddr_format(&s->dst, dst, sizeof(dst));
	audit_field(f, "SLUICE_SESSION=%s", s->id);
	audit_field(f, "SLUICE_IDENTITY=%s", s->identity ? s->identity->name : "-");
	audit_field(f, "SLUICE_TARGET=%s", s->target ? s->target->name : "-");
	audit_field(f, "SLUICE_DST=%s", dst);
	audit_field(f, "SLUICE_CGROUP=%s", id->cgroup[0] ? id->cgroup : "-");
	if (id->unit[0])
		audit_field(f, "SLUICE_UNIT=%s", id->unit);
	if (id->container[0])
		audit_field(f, "SLUICE_CONTAINER=%s", id->container);
	audit_field(f, "SLUICE_UID=%u", id->uid);
	audit_field(f, "SLUICE_USER=%s", id->user[0] ? id->user : "-");
	audit_field(f, "SLUICE_PID=%u", id->tgid);
	audit_field(f, "SLUICE_TID=%u", id->pid);
	audit_field(f, "SLUICE_GID=%u", id->gid);
	audit_field(f, "SLUICE_EXE=%s", id->exe[0] ? id->exe : "-");
	audit_field(f, "SLUICE_COMM=%s", id->comm);
	lineage_field(f, id);
	for (size_t i = 0; i < IDENTITY_CI_VARS; i++)
		if (id->ci[i][0])
			audit_field(f, "SLUICE_%s=%s", identity_ci_names[i], id->ci[i]);
	claims_fields(f, s->claims);
}

/* A session's facts are formatted once, when it starts: a busy session
 * logs every statement. NUL-separated in one block. */
static void keep_facts(struct session *s)
{
	struct audit_fields f = { .n = 0 };
	size_t total = 0;
	char *p;

	format_facts(s, &f);
	for (size_t i = 0; i < f.n; i++)
		total += strlen(f.v[i]) + 1;
	if (!(p = s->journal_facts = malloc(total + 1)))
		return; /* formatted each time instead */
	for (size_t i = 0; i < f.n; i++)
		p = stpcpy(p, f.v[i]) + 1;
	*p = '\0';
}

void audit_fields_of(const struct session *s, const char *event_kind, struct audit_fields *f)
{
	f->n = 0;
	audit_field(f, "SLUICE_EVENT=%s", event_kind);
	if (!s->journal_facts) {
		format_facts(s, f);
		return;
	}
	for (const char *p = s->journal_facts; *p && f->n < AUDIT_FIELDS_MAX; p += strlen(p) + 1)
		f->v[f->n++] = p;
}

/* A session event: its facts, and the rule that admitted (or refused) it. */
static void session_fields(const struct session *s, const char *event_kind,
			   struct audit_fields *f)
{
	audit_fields_of(s, event_kind, f);
	if (s->rule >= 0)
		audit_field(f, "SLUICE_RULE=%d", s->rule);
}

struct json_out *audit_begin(struct session *s, const char *ev)
{
	if (!s->rec)
		return NULL;
	json_out_begin(&event, AUDIT_EVENT_BUDGET);
	json_out_str(&event, "ev", ev);
	json_out_uint(&event, "ts", clock_us(CLOCK_REALTIME));
	json_out_uint(&event, "mono", clock_us(CLOCK_MONOTONIC));
	return &event;
}

void audit_commit(struct session *s)
{
	const char *json = json_out_end(&event);

	recorder_add(s->rec, json, json ? event.out.len : 0);
}

/* A string member only when the fact is known. */
static void known(struct json_out *j, const char *key, const char *v)
{
	if (v && *v)
		json_out_str(j, key, v);
}

static bool has_ci(const struct identity_facts *id)
{
	for (size_t i = 0; i < IDENTITY_CI_VARS; i++)
		if (id->ci[i][0])
			return true;
	return false;
}

void audit_json_facts(struct json_out *j, const struct session *s)
{
	const struct identity_facts *id = &s->facts;
	char *claims;

	json_out_open(j, "facts", '{');
	known(j, "cgroup", id->cgroup);
	known(j, "unit", id->unit);
	known(j, "container", id->container);
	json_out_uint(j, "uid", id->uid);
	known(j, "user", id->user);
	json_out_uint(j, "gid", id->gid);
	json_out_uint(j, "pid", id->tgid);
	json_out_uint(j, "tid", id->pid);
	known(j, "exe", id->exe);
	known(j, "comm", id->comm);
	if (id->nlineage) {
		json_out_open(j, "lineage", '[');
		for (unsigned i = 0; i < id->nlineage; i++)
			json_out_str(j, NULL, id->lineage[i]);
		json_out_close(j);
	}
	if (has_ci(id)) {
		json_out_open(j, "ci", '{');
		for (size_t i = 0; i < IDENTITY_CI_VARS; i++)
			if (id->ci[i][0])
				json_out_str(j, identity_ci_names[i], id->ci[i]);
		json_out_close(j);
	}
	if (s->claims && (claims = cJSON_PrintUnformatted(s->claims))) {
		json_out_raw(j, "claims", claims);
		free(claims);
	}
	json_out_close(j);
}

static void record_start(struct session *s)
{
	struct json_out *j = audit_begin(s, "session_start");
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	char addr[80];

	if (!j)
		return;
	json_out_str(j, "session", s->id);
	json_out_str(j, "protocol", s->proto->name);
	json_out_str(j, "target", s->target->name);
	json_out_str(j, "identity", s->identity->name);
	if (s->rule >= 0)
		json_out_int(j, "rule", s->rule);
	if (!getpeername(s->io[SIDE_CLIENT].fd, (struct sockaddr *)&peer, &len)) {
		sockaddr_format(&peer, addr, sizeof(addr));
		json_out_str(j, "client", addr);
	}
	sockaddr_format(&s->dst, addr, sizeof(addr));
	json_out_str(j, "upstream", addr);
	audit_json_facts(j, s);
	audit_commit(s);
}

int audit_session_start(struct session *s, struct recorder *rec)
{
	struct audit_fields f;
	char msg[128];
	int err;

	if (rec && (err = recorder_open(rec, s->id, &s->rec)) && recorder_blocks(rec))
		return err;
	keep_facts(s);
	session_fields(s, "session_start", &f);
	audit_field(&f, "SLUICE_PROTOCOL=%s", s->proto->name);
	snprintf(msg, sizeof(msg), "session %s start", s->id);
	log_event(LOG_INFO, msg, f.v, f.n);
	record_start(s);
	return 0;
}

void audit_refused(const struct session *s, const char *reason)
{
	struct audit_fields f;
	char msg[256];

	session_fields(s, "session_refused", &f);
	audit_field(&f, "SLUICE_DECISION=deny");
	audit_field(&f, "SLUICE_REASON=%s", reason);
	snprintf(msg, sizeof(msg), "refused connection: %s", reason);
	log_event(LOG_WARNING, msg, f.v, f.n);
}

void audit_tls(struct session *s, enum proxy_side side)
{
	SSL *ssl = s->io[side].ssl;
	struct json_out *j = audit_begin(s, "tls");

	if (!j || !ssl)
		return;
	json_out_str(j, "side", side_word(side));
	json_out_str(j, "version", SSL_get_version(ssl));
	json_out_str(j, "cipher", SSL_get_cipher_name(ssl));
	audit_commit(s);
}

void audit_error(struct session *s, const char *message)
{
	struct json_out *j = audit_begin(s, "error");

	if (!j)
		return;
	json_out_str(j, "message", message);
	audit_commit(s);
}

void audit_stream(struct session *s, enum proxy_side from, const uint8_t *p, size_t n)
{
	static unsigned char b64[4 * ((STREAM_PIECE + 2) / 3) + 1];
	uint64_t bound = session_policy(s)->agent.record_stream_bytes;
	uint64_t *done = &s->stream_recorded[from];

	if (!s->rec)
		return;
	while (n > 0) {
		size_t piece = n < STREAM_PIECE ? n : STREAM_PIECE;
		struct json_out *j;

		if (*done >= bound) {
			s->stream_left_out += n;
			return;
		}
		if (piece > bound - *done)
			piece = (size_t)(bound - *done);
		j = audit_begin(s, "data");
		json_out_str(j, "from", side_word(from));
		json_out_ascii(j, "b64", (const char *)b64, (size_t)EVP_EncodeBlock(b64, p, (int)piece));
		audit_commit(s);
		*done += piece;
		p += piece;
		n -= piece;
	}
}

void audit_session_end(struct session *s, const char *reason)
{
	uint64_t ms = ev_now_ms() - s->start_ms;
	struct audit_fields f;
	struct json_out *j;
	char msg[256];

	session_fields(s, s->connecting ? "session_failed" : "session_end", &f);
	audit_field(&f, "SLUICE_REASON=%s", reason);
	audit_field(&f, "SLUICE_BYTES_UP=%" PRIu64, s->bytes_in[SIDE_CLIENT]);
	audit_field(&f, "SLUICE_BYTES_DOWN=%" PRIu64, s->bytes_in[SIDE_UPSTREAM]);
	audit_field(&f, "SLUICE_DURATION_MS=%" PRIu64, ms);
	snprintf(msg, sizeof(msg), "session %s %s: %s", s->id,
		 s->connecting ? "failed" : "end", reason);
	log_event(s->connecting ? LOG_WARNING : LOG_INFO, msg, f.v, f.n);
	if ((j = audit_begin(s, "session_end"))) {
		json_out_str(j, "reason", reason);
		json_out_uint(j, "bytes_up", s->bytes_in[SIDE_CLIENT]);
		json_out_uint(j, "bytes_down", s->bytes_in[SIDE_UPSTREAM]);
		json_out_uint(j, "ms", ms);
		if (s->stream_left_out)
			json_out_uint(j, "stream_bytes_left_out", s->stream_left_out);
		audit_commit(s);
	}
	recorder_close(s->rec);
	s->rec = NULL;
	free(s->journal_facts);
	s->journal_facts = NULL;
}

void audit_count(const char *decision)
{
	if (!strcmp(decision, "allow"))
		counts.allow++;
	else if (!strcmp(decision, "deny"))
		counts.deny++;
	else if (!strcmp(decision, "approve"))
		counts.approve++;
	else if (!strcmp(decision, "would_deny"))
		counts.would_deny++;
	else if (!strcmp(decision, "would_approve"))
		counts.would_approve++;
}

const struct audit_counts *audit_counted(void)
{
	return &counts;
}

uint64_t audit_mono_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

void audit_fini(void)
{
	json_out_free(&event);
}
