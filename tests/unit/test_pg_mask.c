// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of pg_mask: which masks a column gets from a real policy
 * file, and what a DataRow looks like after masking, byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg_mask.h"
#include "policy.h"
#include "unit.h"

static char state_dir[] = "/tmp/sluice-test-pg-mask.XXXXXX";

static struct policy *load(void)
{
	struct policy_errors errs = { 0 };
	char json[2048];
	struct policy *p;

	snprintf(json, sizeof(json),
		 "{ \"agent\": { \"state_dir\": \"%s\" },"
		 "  \"targets\": [ { \"name\": \"db\", \"protocol\": \"postgres\","
		 "                   \"address\": \"127.0.0.2:5432\" } ],"
		 "  \"rules\": ["
		 "    { \"target\": \"db\", \"roles\": [\"a\"], \"allow\": [\"read\"],"
		 "      \"mask\": [ { \"column\": \"ssn\" },"
		 "                  { \"column\": \"users.email\", \"with\": \"partial\" },"
		 "                  { \"column_regex\": \"(?i)^secret\", \"with\": \"hash\" } ] },"
		 "    { \"target\": \"db\", \"roles\": [\"b\"], \"allow\": [\"read\"],"
		 "      \"mask\": [ { \"column\": \"ssn\", \"with\": \"null\" } ] } ] }",
		 state_dir);
	p = policy_parse(json, strlen(json), &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "policy: %s\n", errs.msg[i]);
	policy_errors_clear(&errs);
	return p;
}

struct column_case {
	const char *role;
	const char *table;
	const char *column;
	enum pg_mask_method want;
};

static const struct column_case column_cases[] = {
	{ "a", "users", "ssn", PG_MASK_REDACT },
	{ "a", "orders", "ssn", PG_MASK_REDACT },    /* "column": any table */
	{ "a", "users", "email", PG_MASK_PARTIAL },
	{ "a", "orders", "email", PG_MASK_NONE },     /* "table.column": that table */
	{ "a", NULL, "email", PG_MASK_PARTIAL },      /* table unknown: assume it */
	{ "a", "t", "SECRET_key", PG_MASK_HASH },     /* (?i) */
	{ "a", "t", "my_secret", PG_MASK_NONE },      /* ^ anchors */
	{ "a", "users", "name", PG_MASK_NONE },
	{ "b", "users", "ssn", PG_MASK_NULL },
	{ "b", "users", "email", PG_MASK_NONE },
};

static void check_columns(const struct pg_mask_rules *rules)
{
	for (size_t i = 0; i < sizeof(column_cases) / sizeof(column_cases[0]); i++) {
		const struct column_case *c = &column_cases[i];
		char *role = (char *)c->role;
		struct policy_strv roles = { &role, 1 };
		int err;
		struct pg_masks *m = pg_masks_new(rules, "db", &roles, &err);
		enum pg_mask_method got = pg_masks_column(m, c->table, c->column);

		cases++;
		if (got != c->want)
			fail(c->column, "role %s table %s: method %d, want %d", c->role,
			     c->table ? c->table : "(unknown)", got, c->want);
		pg_masks_free(m);
	}
}

/* A DataRow body from values: NULL pointers are SQL NULLs. */
static size_t row(uint8_t *out, const char *const *v, uint16_t n)
{
	size_t at = 2;

	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	for (uint16_t i = 0; i < n; i++) {
		uint32_t len = v[i] ? (uint32_t)strlen(v[i]) : 0xffffffffu;

		out[at++] = (uint8_t)(len >> 24);
		out[at++] = (uint8_t)(len >> 16);
		out[at++] = (uint8_t)(len >> 8);
		out[at++] = (uint8_t)len;
		if (v[i]) {
			memcpy(out + at, v[i], strlen(v[i]));
			at += strlen(v[i]);
		}
	}
	return at;
}

struct row_case {
	const char *name;
	uint8_t method;
	uint32_t type;
	const char *in;
	const char *want; /* NULL: SQL NULL */
};

static const struct row_case row_cases[] = {
	{ "redact text", PG_MASK_REDACT, 25, "123-45-6789", "***" },
	{ "redact int becomes NULL", PG_MASK_REDACT, 23, "42", NULL },
	{ "null", PG_MASK_NULL, 25, "x", NULL },
	{ "partial shows a third, at most 4", PG_MASK_PARTIAL, 1043, "alice@example.com",
	  "*************.com" },
	{ "partial short", PG_MASK_PARTIAL, 25, "abcdef", "****ef" },
	{ "partial keeps UTF-8 whole", PG_MASK_PARTIAL, 25, "\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1",
	  "****\xc3\xb1\xc3\xb1" },
	{ "partial of nothing", PG_MASK_PARTIAL, 25, "", "" },
	{ "none passes", PG_MASK_NONE, 25, "keep", "keep" },
	{ "NULL stays NULL", PG_MASK_REDACT, 25, NULL, NULL },
};

static void check_rows(void)
{
	for (size_t i = 0; i < sizeof(row_cases) / sizeof(row_cases[0]); i++) {
		const struct row_case *c = &row_cases[i];
		struct { struct pg_mask_plan p; struct pg_mask_col c[2]; } plan = {
			{ 2, true }, { { PG_MASK_NONE, 0, 25 }, { c->method, 0, c->type } } };
		const char *in[2] = { "id-1", c->in }, *want[2] = { "id-1", c->want };
		uint8_t body[256], expect[256], out[512];
		size_t len = row(body, in, 2), wlen = row(expect + 5, want, 2) + 5, outlen = 0;
		int err;

		cases++;
		expect[0] = 'D';
		expect[1] = 0, expect[2] = 0, expect[3] = (uint8_t)((wlen - 1) >> 8);
		expect[4] = (uint8_t)(wlen - 1);
		err = pg_mask_row(&plan.p, body, len, out, sizeof(out), &outlen);
		if (err || outlen != wlen || memcmp(out, expect, wlen))
			fail(c->name, "err %d, %zu bytes (want %zu): %.*s", err, outlen, wlen,
			     (int)(outlen > 9 ? outlen - 9 : 0), out + 9);
	}
}

static void check_hash_and_errors(void)
{
	struct { struct pg_mask_plan p; struct pg_mask_col c[1]; } plan = {
		{ 1, true }, { { PG_MASK_HASH, 0, 25 } } };
	const char *v[1] = { "secret-value" };
	uint8_t body[64], out[128], again[128];
	size_t len = row(body, v, 1), n1 = 0, n2 = 0;

	cases++;
	if (pg_mask_row(&plan.p, body, len, out, sizeof(out), &n1) ||
	    pg_mask_row(&plan.p, body, len, again, sizeof(again), &n2) || n1 != n2 ||
	    memcmp(out, again, n1) || n1 != 5 + 2 + 4 + 18 || memcmp(out + 11, "h:", 2))
		fail("hash", "not stable or not h:+16 hex (%zu bytes)", n1);
	cases++;
	if (pg_mask_row(&plan.p, body, len - 1, out, sizeof(out), &n1) != -EBADMSG)
		fail("short row", "accepted");
	cases++;
	body[1] = 2; /* two columns claimed, plan has one */
	if (pg_mask_row(&plan.p, body, len, out, sizeof(out), &n1) != -EBADMSG)
		fail("column count", "accepted");
	cases++;
	body[1] = 1;
	if (pg_mask_row(&plan.p, body, len, out, 10, &n1) != -ENOBUFS)
		fail("small buffer", "accepted");
}

int main(void)
{
	struct pg_mask_rules *rules = NULL;
	struct policy *p;
	struct stat sb;
	char key[256];
	int err;

	if (!mkdtemp(state_dir))
		return 1;
	p = load();
	err = p ? pg_mask_rules_new(p, &rules) : -1;
	snprintf(key, sizeof(key), "%s/mask.key", state_dir);
	cases++;
	if (err || stat(key, &sb) || (sb.st_mode & 0777) != 0600 || sb.st_size != 32)
		fail("mask key", "init %d, key file missing or not 0600 and 32 bytes", err);
	if (p && !err) {
		check_columns(rules);
		check_rows();
		check_hash_and_errors();
	}
	pg_mask_rules_free(rules);
	pg_mask_fini();
	policy_free(p);
	unlink(key);
	rmdir(state_dir);
	printf("test_pg_mask: %d cases, %d failed\n", cases, failures);
	return failures != 0;
}
