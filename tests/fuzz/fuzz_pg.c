// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the PostgreSQL module's framing and its startup and
 * authentication state machine, fed hostile bytes from both sides.
 *
 * The input is a sequence of chunks: one byte whose low bit picks the side
 * (0 the job, 1 the server) and whose other bits give a length, then that
 * many bytes. Everything the module clears for sending counts as sent. The
 * core's services are provided here with the same buffer semantics
 * (relay.c); TLS is not negotiated: a handshake completes at once. The
 * policy judges statements and masks columns, so the server's bytes also
 * reach masking and the catalog reader, and every session is recorded
 * (the file is removed after each input).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "approvals.h"
#include "audit.h"
#include "ev.h"
#include "log.h"
#include "policy.h"
#include "proto.h"
#include "proxy.h"
#include "recorder.h"
#include "relay.h"

#define CAP 4096

static struct policy *policy;
static struct policy_gen gen; /* what the proxy would hold for the session */
static struct ev_loop *loop;
static struct recorder *recorder;
static struct approvals *approvals;
static char state_dir[] = "/tmp/sluice-fuzz-pg.XXXXXX";

/* The core's services, as proxy.c gives them. */
int proxy_inject(struct session *s, enum proxy_side to, const void *data, size_t len)
{
	return relay_insert(&s->buf[!to], data, len);
}

int proxy_start_tls(struct session *s, enum proxy_side side, SSL_CTX *ctx, const char *ip)
{
	(void)ctx;
	(void)ip;
	return s->proto->tls_done(s, side, NULL);
}

void proxy_established(struct session *s)
{
	s->established = true;
}

void proxy_finish(struct session *s, const char *reason)
{
	s->finishing = reason;
}

/* Statements that need approval are asked for and wait: nobody decides. */
struct approvals *proxy_approvals(const struct proxy *px)
{
	(void)px;
	return approvals;
}

const char *proxy_cgroup_root(const struct proxy *px)
{
	(void)px;
	return NULL; /* no job is ever killed from here */
}

void proxy_resume(struct session *s)
{
	(void)s;
}

/* Half the runs start with the identity pending on an in-band token: a
 * password that starts with 'e' (as a JWT does) identifies the session. */
int proxy_identify(struct session *s, const char *token, size_t len, const char **why)
{
	if (!token || !len || token[0] != 'e') {
		*why = "no identity";
		return -EACCES;
	}
	s->identity = &policy->identities[0];
	return 0;
}

const struct policy *proxy_policy(const struct proxy *px)
{
	(void)px;
	return policy;
}

void sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	(void)ss;
	snprintf(buf, size, "127.0.0.2:5432");
}

/* Logging goes nowhere: the fuzzer's output stays readable. */
void log_event(int priority, const char *message, const char *const *fields, size_t n)
{
	(void)priority, (void)message, (void)fields, (void)n;
}

void log_journal(int priority, const char *message, const char *const *fields, size_t n)
{
	(void)priority, (void)message, (void)fields, (void)n;
}

void log_msg(int priority, const char *fmt, ...)
{
	(void)priority, (void)fmt;
}

int log_debug_enabled(void)
{
	return 1;
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb, (void)type, (void)ftw;
	return remove(path) ? -1 : 0;
}

/* Leave nothing in /tmp: the password file, the agent's certificate and
 * keys, the recordings folder. */
static void remove_state(void)
{
	recorder_free(recorder);
	approvals_free(approvals);
	ev_loop_free(loop);
	audit_fini();
	nftw(state_dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	struct policy_errors errs = { 0 };
	char json[2048], pw[512];
	FILE *f;

	if (!mkdtemp(state_dir))
		abort();
	atexit(remove_state);
	snprintf(pw, sizeof(pw), "%s/pw", state_dir);
	f = fopen(pw, "w");
	if (!f)
		abort();
	fputs("fuzz-password\n", f);
	fclose(f);
	chmod(pw, 0600);
	snprintf(json, sizeof(json),
		 "{ \"agent\": { \"state_dir\": \"%s\", \"max_message_bytes\": 16384 },"
		 "  \"targets\": [ { \"name\": \"db\", \"protocol\": \"postgres\","
		 "    \"address\": \"127.0.0.2:5432\", \"tls\": { \"upstream\": \"prefer\" },"
		 "    \"credentials\": { \"user\": \"app\", \"password_file\": \"%s\" } } ],"
		 "  \"identities\": [ { \"name\": \"job\", \"roles\": [\"r\"] } ],"
		 "  \"rules\": [ { \"target\": \"db\", \"roles\": [\"r\"],"
		 "    \"allow\": [\"read\", \"write\", \"session\"], \"deny\": [\"drop\"],"
		 "    \"approve\": [\"delete\"], \"mask\": [ { \"column\": \"ssn\" },"
		 "    { \"column_regex\": \"^secret\", \"with\": \"partial\" } ] } ] }",
		 state_dir, pw);
	policy = policy_parse(json, strlen(json), &errs);
	gen = (struct policy_gen){ .policy = policy, .number = 1, .refs = 1 };
	if (!policy || proto_postgres.init() ||
	    proto_postgres.load(policy, &gen.module[POLICY_PROTO_POSTGRES]) || ev_loop_new(&loop) ||
	    recorder_new(policy, loop, &recorder) || !(approvals = approvals_new(policy, loop)))
		abort();
}

/* What the core would write is gone: sent, and the buffer compacted. */
static void drain(struct relay_buf *b)
{
	b->sent = b->ready;
	relay_compact(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t bufs[2][CAP];
	static unsigned long long runs;
	struct session s = { .target = NULL };
	char path[4096];

	if (!policy)
		setup();
	snprintf(s.id, sizeof(s.id), "%016llx", runs++);
	s.gen = &gen;
	s.target = &policy->targets[0];
	s.identity = runs & 1 ? NULL : &policy->identities[0];
	s.proto = &proto_postgres;
	s.max_cap = CAP;
	for (int i = 0; i < 2; i++) {
		s.io[i].fd = -1;
		s.buf[i] = (struct relay_buf){ .data = bufs[i], .cap = CAP };
	}
	s.proxy = NULL;
	s.rule = -1;
	if (recorder_open(recorder, s.id, &s.rec))
		abort();
	snprintf(path, sizeof(path), "%s", recorder_path(s.rec));
	if (proto_postgres.open(&s)) {
		audit_session_end(&s, "fuzz");
		unlink(path);
		return 0;
	}
	while (size > 0 && !s.finishing) {
		enum proxy_side side = data[0] & 1 ? SIDE_UPSTREAM : SIDE_CLIENT;
		size_t n = data[0] >> 1, room;
		struct relay_buf *b = &s.buf[side];

		data++, size--;
		if (n > size)
			n = size;
		room = b->cap - b->len;
		if (n > room)
			n = room;
		memcpy(b->data + b->len, data, n);
		b->len += n;
		data += n, size -= n;
		if (proto_postgres.received(&s, side, b))
			break;
		drain(&s.buf[0]);
		drain(&s.buf[1]);
	}
	proto_postgres.close(&s);
	audit_session_end(&s, "fuzz");
	unlink(path);
	return 0;
}
