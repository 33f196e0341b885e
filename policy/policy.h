/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy: parse, validate and query the sluice policy file (JSON).
 *
 * The field names are the contract of ../docs/policy.md. policy_parse()
 * validates the whole document and reports every error it finds in one run,
 * each as one line that starts with the JSON path of the offending field
 * ("$.targets[1].address: expected ADDR:PORT"). Unknown keys are errors.
 *
 * Ownership: a struct policy and everything it points to belong to the policy;
 * policy_free() releases it (NULL is fine). Strings are NUL-terminated and
 * never NULL unless the comment says "or NULL".
 * Return convention: 0 or a negative errno; functions that build an object
 * return it or NULL. Not thread-safe; no global state.
 */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* A list of strings, owned by its container. */
struct policy_strv {
	char **v;
	size_t n;
};

/* An address with an optional prefix: what a target's "address" names.
 * IPv4 is kept v4-mapped (::ffff:a.b.c.d) so one comparison serves both. */
struct policy_net {
	uint8_t addr[16];   /* network byte order, v4-mapped for IPv4 */
	uint8_t prefix;     /* bits of addr that must match, 0..128 (v4: 96+len) */
	uint16_t port;      /* host byte order, 1..65535 */
	bool v4;            /* written as an IPv4 address or CIDR */
};

enum policy_protocol {
	POLICY_PROTO_TCP,
	POLICY_PROTO_POSTGRES,
	POLICY_PROTO_COUNT,
};

enum policy_tls_upstream {
	POLICY_TLS_DISABLE,
	POLICY_TLS_PREFER,
	POLICY_TLS_REQUIRE,
	POLICY_TLS_VERIFY_FULL,
};

/* Authentication methods the agent may use toward a target. */
enum policy_auth {
	POLICY_AUTH_SCRAM = 1u << 0,    /* "scram-sha-256" (the default) */
	POLICY_AUTH_MD5 = 1u << 1,      /* "md5" */
	POLICY_AUTH_PASSWORD = 1u << 2, /* "password": cleartext */
};

struct policy_target {
	char *name;
	enum policy_protocol protocol;
	struct policy_net net;
	enum policy_tls_upstream tls_upstream; /* default DISABLE */
	char *tls_ca;                          /* or NULL */
	char *cred_user;                       /* or NULL */
	char *cred_password_file;              /* or NULL */
	unsigned cred_methods;                 /* enum policy_auth bits */
};

/* A claim of a verified token that "match.claims" compares: the claim
 * (a string, or each element of an array; numbers and booleans as their
 * JSON text) must meet every pattern, an fnmatch(3) glob. */
struct policy_claim {
	char *name;
	struct policy_strv patterns; /* one for a string in the file, or the array's */
};

/* Facts an identity's "match" compares with fnmatch(3) globs; a NULL field
 * is not compared. Every present field must match. */
struct policy_match {
	char *cgroup;    /* or NULL */
	char *unit;      /* or NULL */
	char *container; /* or NULL */
	char *user;      /* or NULL: a user name, or a uid written in decimal */
	char *exe;       /* or NULL */
	struct policy_claim *claims; /* of the identity's token; needs "token" */
	size_t nclaims;
};

struct policy_token {
	char *from;      /* "password", "bearer" or "env:NAME" */
	char *issuer;    /* or NULL: any */
	char *audience;  /* or NULL: any */
	char *jwks;      /* the JWKS file its signatures are checked against */
	bool required;   /* no valid token: the session is refused */
};

struct policy_identity {
	char *name;
	struct policy_match match;
	struct policy_token *token; /* or NULL */
	struct policy_strv roles;
};

struct policy_mask {
	char *column;       /* "col" or "table.col", or NULL */
	char *column_regex; /* or NULL; exactly one of column/column_regex set */
	char *with;         /* "redact" (default), "null", "partial", "hash" */
};

enum policy_mode {
	POLICY_MODE_INHERIT,  /* a rule without "mode": the agent's */
	POLICY_MODE_ENFORCE,
	POLICY_MODE_OBSERVE,  /* decide, log and record; enforce nothing */
};

enum policy_on_deny {
	POLICY_ON_DENY_REFUSE,     /* the statement only (the default) */
	POLICY_ON_DENY_KILL_JOB,   /* and cgroup.kill of the job's cgroup */
	POLICY_ON_DENY_FREEZE_JOB, /* and cgroup.freeze of it */
};

struct policy_rule {
	char *target;
	struct policy_strv roles;
	struct policy_strv allow;
	struct policy_strv deny;
	struct policy_strv approve;
	struct policy_mask *mask;
	size_t nmask;
	struct policy_strv approvers;   /* groups whose members may decide */
	unsigned timeout_s;             /* "timeout": approvals, default 300 */
	enum policy_mode mode;
	enum policy_on_deny on_deny;
};

struct policy_agent {
	struct sockaddr_storage listen;  /* "listen", default 127.0.0.1:15001 */
	socklen_t listen_len;
	struct sockaddr_storage listen6; /* "listen6", default [::1]:<listen port> */
	socklen_t listen6_len;
	char *state_dir;      /* default /var/lib/sluice */
	char *recordings_dir; /* default <state_dir>/recordings */
	char *control_socket; /* default /run/sluice/control.sock */
	char *bpffs;          /* default /sys/fs/bpf/sluice */
	bool fail_open;       /* "fail": "closed" (default) or "open" */
	struct policy_strv select_cgroups; /* paths relative to the cgroup2 root */
	struct policy_strv select_users;   /* names or decimal uids */
	unsigned connect_timeout_ms;       /* default 5000 */
	unsigned setup_timeout_s;          /* protocol handshake, default 30 */
	unsigned idle_timeout_s;           /* default 3600; 0 = none */
	unsigned buffer_bytes;             /* per direction, default 65536 */
	unsigned max_message_bytes;        /* a protocol message the agent must
					    * read whole, default 1 MiB */
	unsigned max_sessions;             /* default 10000 */
	unsigned record_rows;              /* result rows recorded per statement,
					    * default 100 */
	unsigned record_stream_bytes;      /* tcp bytes recorded per direction,
					    * default 64 KiB */
	unsigned record_flush_ms;          /* recordings reach the disk this
					    * often, default 1000 */
	bool record_continue;              /* "on_record_failure": "block"
					    * (default) or "continue" */
	unsigned retention_days;           /* recordings older are removed,
					    * default 90; 0 = kept */
	bool observe;                      /* "mode": "enforce" (default) or
					    * "observe" */
	char *approval_webhook;            /* http:// URL, or NULL */
	unsigned token_skew_s;             /* clock difference allowed for a
					    * token's exp and nbf, default 60 */
	unsigned rotation_warn_days;       /* credentials older are flagged by
					    * the access review, default 90 */
};

struct policy {
	struct policy_agent agent;
	struct policy_identity *identities;
	size_t nidentities;
	struct policy_target *targets;
	size_t ntargets;
	struct policy_rule *rules;
	size_t nrules;
};

/* Errors collected while parsing: one line each, JSON path first. */
struct policy_errors {
	char **msg;
	size_t n;
};

/* Parse a policy from a buffer of len bytes (need not be NUL-terminated).
 * On success returns the policy and leaves errs empty; on any error returns
 * NULL and appends every error found to errs. */
struct policy *policy_parse(const char *buf, size_t len, struct policy_errors *errs);

/* Read and parse FILE. A file that cannot be read is one error naming it. */
struct policy *policy_load(const char *path, struct policy_errors *errs);

void policy_free(struct policy *p);
void policy_errors_clear(struct policy_errors *errs);

/* Add one error line (JSON path first), for checks made outside the
 * parser. Out of memory loses the line, not the ones before. */
void policy_errors_add(struct policy_errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Does addr (16 bytes, v4-mapped for IPv4) : port fall in net? */
bool policy_net_contains(const struct policy_net *net, const uint8_t addr[16],
			 uint16_t port);

/* The first target (in file order) whose address contains addr:port, or NULL. */
const struct policy_target *policy_find_target(const struct policy *p,
					       const uint8_t addr[16], uint16_t port);

/* Facts about a caller, compared against identities' match. An unknown
 * fact (NULL or "") matches no pattern, not even "*". */
struct policy_facts {
	const char *cgroup;    /* path relative to the cgroup2 root, "/a/b" */
	const char *unit;      /* or NULL */
	const char *container; /* or NULL */
	const char *user;      /* or NULL: name of uid */
	uid_t uid;             /* (uid_t)-1 if unknown */
	const char *exe;       /* or NULL */
};

/* The first identity (in file order) whose match facts hold, or NULL.
 * Tokens are not looked at: the agent checks them (userspace/tokens.h). */
const struct policy_identity *policy_match_identity(const struct policy *p,
						    const struct policy_facts *f);

/* Do m's facts (not its claims) hold for f? */
bool policy_match_facts(const struct policy_match *m, const struct policy_facts *f);

struct cJSON;

/* Do the verified claims meet every one of m's claim patterns? (None: yes.) */
bool policy_match_claims(const struct policy_match *m, const struct cJSON *claims);

/* Does rule r apply to target for a caller with roles? A rule role "*"
 * matches any role; no roles match nothing. */
bool policy_rule_applies(const struct policy_rule *r, const char *target,
			 const struct policy_strv *roles);

/* Index of the first rule for target whose roles meet roles, or -1. */
int policy_rule_for(const struct policy *p, const char *target,
		    const struct policy_strv *roles);

/* Does any rule for target name grant one of roles the action ("connect",
 * "read", ...) in its allow list, with no rule for those roles denying it?
 * On success *rule_index is the index of the rule that decided, or -1 when
 * no rule applies (denied by default). deny beats approve beats allow; an
 * action in approve is refused until approvals exist, naming that rule.
 * A rule role "*" matches any role; rule_index may be NULL. */
bool policy_allows(const struct policy *p, const char *target,
		   const struct policy_strv *roles, const char *action,
		   int *rule_index);

/* Compile m->column_regex exactly as validation did: POSIX extended,
 * case-insensitive when it starts with "(?i)", REG_NOSUB. Returns 0 (release
 * *re with regfree()) or -EINVAL. */
int policy_mask_regcomp(const struct policy_mask *m, regex_t *re);

#endif
