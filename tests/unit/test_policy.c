/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for policy/: table-driven, through policy.h only.
 *
 *   test_policy [SRCDIR]    SRCDIR holds policy/examples/ (default ".")
 *
 * Prints one line per failed case to stderr; exits 0 when all pass.
 */
#include <cjson/cJSON.h>

#include "policy.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXPECT 6

#include "unit.h"

static void dump_errors(const struct policy_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(stderr, "    got: %s\n", e->msg[i]);
}

static struct policy *parse(const char *json, struct policy_errors *errs)
{
	return policy_parse(json, strlen(json), errs);
}

/* ------------------------------------------------------- error reporting */

struct error_case {
	const char *name;
	const char *json;
	/* Each must begin some message; nexpect > 0 also pins the count. */
	const char *expect[MAX_EXPECT];
	size_t nexpect;
};

#define T1 "{\"targets\":[{\"name\":\"t\",\"protocol\":\"tcp\",\"address\":"
#define PG "{\"targets\":[{\"name\":\"t\",\"protocol\":\"postgres\",\"address\":\"127.0.0.2:5432\","
#define ID "{\"identities\":[{\"name\":\"i\",\"roles\":[\"r\"],"
#define RULE "{\"targets\":[{\"name\":\"t\",\"protocol\":\"tcp\",\"address\":\"127.0.0.2:1\"}]," \
	     "\"rules\":[{\"target\":\"t\",\"roles\":[\"r\"],"

static const struct error_case error_cases[] = {
	/* the document */
	{ "comment not closed", "{\n  /* agent\n  \"agent\": {}\n}",
	  { "$: not valid JSON near line 2 column 3: comment not closed" }, 1 },
	{ "error after a comment", "{ // the agent\n  /* multi\nline */ \"agent\": x }",
	  { "$: not valid JSON near line 3 column 18" }, 1 },
	{ "only comments", "// nothing\n/* here */", { "$: empty document" }, 1 },
	{ "bad json line/column", "{\n  \"agent\":\n    x\n}",
	  { "$: not valid JSON near line 3 column 5" }, 1 },
	{ "truncated json", "{ \"agent\": { \"listen\": \"127.0.0.1:1\" }, ",
	  { "$: not valid JSON near line 1" }, 1 },
	{ "trailing data", "{} x", { "$: not valid JSON near line 1 column 4" }, 1 },
	{ "empty document", " \n", { "$: empty document" }, 1 },
	{ "not an object", "[]", { "$: expected an object, got an array" }, 1 },
	{ "NUL escape in key", "{\"agent\\u0000x\":{}}", { "$: not valid JSON near line 1 column 8" }, 1 },
	{ "unknown top-level key", "{\"agents\":{}}",
	  { "$.agents: unknown key (did you mean \"agent\"?)" }, 1 },
	{ "odd key quoted", "{\"a b\":1}", { "$[\"a b\"]: unknown key" }, 1 },
	{ "duplicate key", "{\"agent\":{},\"agent\":{}}", { "$.agent: duplicate key" }, 1 },
	{ "case matters", "{\"Agent\":{}}", { "$.Agent: unknown key" }, 1 },

	/* agent */
	{ "agent type", "{\"agent\":[]}", { "$.agent: expected an object, got an array" }, 1 },
	{ "agent unknown key", "{\"agent\":{\"lisen\":\"127.0.0.1:1\"}}",
	  { "$.agent.lisen: unknown key" }, 1 },
	{ "agent wrong type", "{\"agent\":{\"state_dir\":5}}",
	  { "$.agent.state_dir: expected a string, got a number" }, 1 },
	{ "agent relative path", "{\"agent\":{\"recordings_dir\":\"rec\"}}",
	  { "$.agent.recordings_dir: expected an absolute path" }, 1 },
	{ "agent socket too long", "{\"agent\":{\"control_socket\":\"/run/"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}",
	  { "$.agent.control_socket: longer than" }, 1 },
	{ "listen hostname", "{\"agent\":{\"listen\":\"localhost:15001\"}}",
	  { "$.agent.listen: expected an IP address, not a hostname" }, 1 },
	{ "listen port 0", "{\"agent\":{\"listen\":\"127.0.0.1:0\"}}",
	  { "$.agent.listen: port must be 1..65535" }, 1 },
	{ "listen port big", "{\"agent\":{\"listen\":\"127.0.0.1:99999\"}}",
	  { "$.agent.listen: port must be 1..65535" }, 1 },
	{ "listen no port", "{\"agent\":{\"listen\":\"127.0.0.1\"}}", { "$.agent.listen: expected" }, 1 },
	{ "listen v6", "{\"agent\":{\"listen\":\"[::1]:15001\"}}", { "$.agent.listen: expected" }, 1 },
	{ "listen cidr", "{\"agent\":{\"listen\":\"127.0.0.0/8:1\"}}", { "$.agent.listen: expected" }, 1 },
	{ "listen6 v4", "{\"agent\":{\"listen6\":\"127.0.0.1:1\"}}", { "$.agent.listen6: expected" }, 1 },
	{ "webhook host name", "{\"agent\":{\"approval_webhook\":\"http://hooks.example/x\"}}",
	  { "$.agent.approval_webhook: expected http://HOST[:PORT][/PATH] with HOST an IP" }, 1 },
	{ "webhook bad port", "{\"agent\":{\"approval_webhook\":\"http://127.0.0.1:99999/\"}}",
	  { "$.agent.approval_webhook: expected http://HOST[:PORT][/PATH]" }, 1 },
	{ "webhook bad v6", "{\"agent\":{\"approval_webhook\":\"http://[::g]/\"}}",
	  { "$.agent.approval_webhook: expected http://HOST[:PORT][/PATH]" }, 1 },
	{ "webhook https", "{\"agent\":{\"approval_webhook\":\"https://127.0.0.1/\"}}",
	  { "$.agent.approval_webhook: expected an http:// URL" }, 1 },
	{ "fail enum", "{\"agent\":{\"fail\":\"shut\"}}",
	  { "$.agent.fail: expected \"closed\" or \"open\", got \"shut\"" }, 1 },
	{ "buffer too small", "{\"agent\":{\"buffer_bytes\":100}}",
	  { "$.agent.buffer_bytes: must be between 4096 and 16777216" }, 1 },
	{ "buffer too big", "{\"agent\":{\"buffer_bytes\":16777217}}",
	  { "$.agent.buffer_bytes: must be between" }, 1 },
	{ "buffer fraction", "{\"agent\":{\"buffer_bytes\":4096.5}}",
	  { "$.agent.buffer_bytes: expected an integer" }, 1 },
	{ "timeout string", "{\"agent\":{\"connect_timeout_ms\":\"5\"}}",
	  { "$.agent.connect_timeout_ms: expected an integer, got a string" }, 1 },
	{ "timeout zero", "{\"agent\":{\"connect_timeout_ms\":0}}",
	  { "$.agent.connect_timeout_ms: must be between" }, 1 },
	{ "max_sessions negative", "{\"agent\":{\"max_sessions\":-1}}",
	  { "$.agent.max_sessions: must be between" }, 1 },
	{ "select cgroup relative", "{\"agent\":{\"select\":{\"cgroups\":[\"/ok\",\"ci.slice\"]}}}",
	  { "$.agent.select.cgroups[1]: expected a path relative to the cgroup2 root" }, 1 },
	{ "select users type", "{\"agent\":{\"select\":{\"users\":[1]}}}",
	  { "$.agent.select.users[0]: expected a string, got a number" }, 1 },
	{ "select not array", "{\"agent\":{\"select\":{\"users\":\"ci\"}}}",
	  { "$.agent.select.users: expected an array of strings" }, 1 },
	{ "select unknown", "{\"agent\":{\"select\":{\"uids\":[]}}}", { "$.agent.select.uids: unknown key" }, 1 },

	/* identities */
	{ "identities type", "{\"identities\":{}}", { "$.identities: expected an array, got an object" }, 1 },
	{ "identity type", "{\"identities\":[1]}", { "$.identities[0]: expected an object, got a number" }, 1 },
	{ "identity required", "{\"identities\":[{}]}",
	  { "$.identities[0].name: required field is missing", "$.identities[0].roles: required" }, 2 },
	{ "identity empty roles", "{\"identities\":[{\"name\":\"i\",\"roles\":[]}]}",
	  { "$.identities[0].roles: must not be empty" }, 1 },
	{ "identity role type", "{\"identities\":[{\"name\":\"i\",\"roles\":[\"a\",null]}]}",
	  { "$.identities[0].roles[1]: expected a string, got null" }, 1 },
	{ "identity empty name", "{\"identities\":[{\"name\":\"\",\"roles\":[\"r\"]}]}",
	  { "$.identities[0].name: must not be empty" }, 1 },
	{ "identity duplicate", "{\"identities\":[{\"name\":\"i\",\"roles\":[\"r\"]},"
	  "{\"name\":\"j\",\"roles\":[\"r\"]},{\"name\":\"i\",\"roles\":[\"r\"]}]}",
	  { "$.identities[2].name: duplicate identity name \"i\", first used at $.identities[0]" }, 1 },
	{ "match unknown", ID "\"match\":{\"host\":\"x\"}}]}", { "$.identities[0].match.host: unknown key" }, 1 },
	{ "match type", ID "\"match\":{\"user\":1000}}]}",
	  { "$.identities[0].match.user: expected a string, got a number" }, 1 },
	{ "token from missing", ID "\"token\":{\"jwks\":\"/k\",\"audience\":\"a\"}}]}",
	  { "$.identities[0].token.from: required" }, 1 },
	{ "token from bad", ID "\"token\":{\"from\":\"cookie\",\"jwks\":\"/k\",\"audience\":\"a\"}}]}",
	  { "$.identities[0].token.from: expected \"password\", \"bearer\" or \"env:NAME\"" }, 1 },
	{ "token env name", ID "\"token\":{\"from\":\"env:1X\",\"jwks\":\"/k\",\"audience\":\"a\"}}]}",
	  { "$.identities[0].token.from:" }, 1 },
	{ "token env empty", ID "\"token\":{\"from\":\"env:\",\"jwks\":\"/k\",\"audience\":\"a\"}}]}",
	  { "$.identities[0].token.from:" }, 1 },
	{ "token required bool", ID "\"token\":{\"from\":\"bearer\",\"jwks\":\"/k\",\"audience\":\"a\",\"required\":\"yes\"}}]}",
	  { "$.identities[0].token.required: expected true or false, got a string" }, 1 },
	{ "token jwks relative", ID "\"token\":{\"from\":\"bearer\",\"jwks\":\"k.json\",\"audience\":\"a\"}}]}",
	  { "$.identities[0].token.jwks: expected an absolute path" }, 1 },
	{ "token jwks missing", ID "\"token\":{\"from\":\"bearer\",\"audience\":\"a\"}}]}",
	  { "$.identities[0].token.jwks: required field is missing" }, 1 },
	{ "claims without token", ID "\"match\":{\"claims\":{\"sub\":\"x\"}}}]}",
	  { "$.identities[0].match.claims: claims come from a verified token" }, 1 },
	{ "claims empty", ID "\"match\":{\"claims\":{}},\"token\":{\"from\":\"bearer\",\"jwks\":\"/k\",\"audience\":\"a\"}}]}",
	  { "$.identities[0].match.claims: must not be empty" }, 1 },
	{ "claims type", ID "\"match\":{\"claims\":{\"sub\":1}},\"token\":{\"from\":\"bearer\",\"jwks\":\"/k\",\"audience\":\"a\"}}]}",
	  { "$.identities[0].match.claims.sub: expected a string or an array of strings" }, 1 },
	{ "claims element", ID "\"match\":{\"claims\":{\"groups\":[\"a\",2]}},\"token\":{\"from\":\"bearer\",\"jwks\":\"/k\",\"audience\":\"a\"}}]}",
	  { "$.identities[0].match.claims.groups[1]: expected a string" }, 1 },
	{ "token without audience or claims", ID "\"token\":{\"from\":\"bearer\",\"jwks\":\"/k\"}}]}",
	  { "$.identities[0].token: needs \"audience\" or \"match.claims\"" }, 1 },
	{ "token skew range", "{\"agent\":{\"token_skew_s\":601}}",
	  { "$.agent.token_skew_s: must be between 0 and 600" }, 1 },

	/* targets */
	{ "address syntax", T1 "\"foo\"}]}",
	  { "$.targets[0].address: expected ADDR:PORT or CIDR:PORT, got \"foo\"" }, 1 },
	{ "address hostname", T1 "\"db.example.com:5432\"}]}",
	  { "$.targets[0].address: hostnames are not supported yet; give an IP address or CIDR" }, 1 },
	{ "address port 0", T1 "\"127.0.0.2:0\"}]}", { "$.targets[0].address: port must be 1..65535" }, 1 },
	{ "address port big", T1 "\"127.0.0.2:65536\"}]}", { "$.targets[0].address: port must be" }, 1 },
	{ "address port text", T1 "\"127.0.0.2:pg\"}]}", { "$.targets[0].address: port must be" }, 1 },
	{ "address bad v4", T1 "\"127.0.0.256:1\"}]}", { "$.targets[0].address: not a valid IPv4 address" }, 1 },
	{ "address bad v6", T1 "\"[::g]:1\"}]}", { "$.targets[0].address: not a valid IPv6 address" }, 1 },
	{ "address v6 no brackets", T1 "\"::1:5432\"}]}", { "$.targets[0].address: IPv6 addresses go in brackets" }, 1 },
	{ "address v6 no port", T1 "\"[::1]\"}]}", { "$.targets[0].address: expected ADDR:PORT" }, 1 },
	{ "address prefix v4", T1 "\"10.0.0.0/33:1\"}]}", { "$.targets[0].address: prefix length" }, 1 },
	{ "address prefix v6", T1 "\"[::/129]:1\"}]}", { "$.targets[0].address: prefix length" }, 1 },
	{ "address host bits v4", T1 "\"10.1.2.3/24:5432\"}]}",
	  { "$.targets[0].address: host bits set beyond the prefix in \"10.1.2.3/24:5432\" (the network is 10.1.2.0/24)" }, 1 },
	{ "address host bits v6", T1 "\"[2001:db8::1/32]:1\"}]}",
	  { "$.targets[0].address: host bits set beyond the prefix" }, 1 },
	{ "address type", T1 "5432}]}", { "$.targets[0].address: expected a string, got a number" }, 1 },
	{ "target required", "{\"targets\":[{}]}",
	  { "$.targets[0].name: required", "$.targets[0].protocol: required", "$.targets[0].address: required" }, 3 },
	{ "protocol enum", "{\"targets\":[{\"name\":\"t\",\"protocol\":\"http\",\"address\":\"127.0.0.2:1\"}]}",
	  { "$.targets[0].protocol: expected \"tcp\" or \"postgres\", got \"http\"" }, 1 },
	{ "target duplicate", "{\"targets\":[{\"name\":\"t\",\"protocol\":\"tcp\",\"address\":\"127.0.0.2:1\"},"
	  "{\"name\":\"t\",\"protocol\":\"tcp\",\"address\":\"127.0.0.2:2\"}]}",
	  { "$.targets[1].name: duplicate target name \"t\", first used at $.targets[0]" }, 1 },
	{ "tls upstream enum", PG "\"tls\":{\"upstream\":\"always\"}}]}",
	  { "$.targets[0].tls.upstream: expected \"disable\", \"prefer\", \"require\" or \"verify-full\"" }, 1 },
	{ "tls verify-full needs ca", PG "\"tls\":{\"upstream\":\"verify-full\"}}]}",
	  { "$.targets[0].tls.ca: required when upstream is \"verify-full\"" }, 1 },
	{ "tls on tcp", T1 "\"127.0.0.2:1\",\"tls\":{\"upstream\":\"require\"}}]}",
	  { "$.targets[0].tls: only postgres targets take tls" }, 1 },
	{ "tls unknown", PG "\"tls\":{\"mode\":\"x\"}}]}", { "$.targets[0].tls.mode: unknown key" }, 1 },
	{ "credentials unknown", PG "\"credentials\":{\"password\":\"hunter2\"}}]}",
	  { "$.targets[0].credentials.password: unknown key" }, 1 },
	{ "credentials relative", PG "\"credentials\":{\"password_file\":\"pw\"}}]}",
	  { "$.targets[0].credentials.password_file: expected an absolute path" }, 1 },

	/* rules */
	{ "rule required", "{\"rules\":[{}]}",
	  { "$.rules[0].target: required", "$.rules[0].roles: required" }, 2 },
	{ "rule key twice", RULE "\"target\":\"t\"}]}", { "$.rules[0].target: duplicate key" }, 1 },
	{ "rule target missing", "{\"rules\":[{\"target\":\"nope\",\"roles\":[\"r\"]}]}",
	  { "$.rules[0].target: no target named \"nope\"" }, 1 },
	{ "rule roles empty", "{\"rules\":[{\"target\":\"t\",\"roles\":[]}],\"targets\":"
	  "[{\"name\":\"t\",\"protocol\":\"tcp\",\"address\":\"127.0.0.2:1\"}]}",
	  { "$.rules[0].roles: must not be empty" }, 1 },
	{ "rule allow type", RULE "\"allow\":\"read\"}]}",
	  { "$.rules[0].allow: expected an array of strings, got a string" }, 1 },
	{ "rule allow element", RULE "\"allow\":[\"connect\",1]}]}",
	  { "$.rules[0].allow[1]: expected a string, got a number" }, 1 },
	{ "rule deny shape", RULE "\"deny\":[\"DROP TABLE\"]}]}",
	  { "$.rules[0].deny[0]: expected an action name" }, 1 },
	{ "rule approve shape", RULE "\"approve\":[\"\"]}]}", { "$.rules[0].approve[0]: expected an action name" }, 1 },
	{ "mask type", RULE "\"mask\":{}}]}", { "$.rules[0].mask: expected an array, got an object" }, 1 },
	{ "mask element", RULE "\"mask\":[\"password\"]}]}",
	  { "$.rules[0].mask[0]: expected an object, got a string" }, 1 },
	{ "mask both", RULE "\"mask\":[{\"column\":\"a\",\"column_regex\":\"b\"}]}]}",
	  { "$.rules[0].mask[0]: give either column or column_regex, not both" }, 1 },
	{ "mask neither", RULE "\"mask\":[{\"with\":\"null\"}]}]}",
	  { "$.rules[0].mask[0]: one of column or column_regex is required" }, 1 },
	{ "mask with", RULE "\"mask\":[{\"column\":\"a\",\"with\":\"blur\"}]}]}",
	  { "$.rules[0].mask[0].with: expected \"redact\", \"null\", \"partial\" or \"hash\", got \"blur\"" }, 1 },
	{ "mask column shape", RULE "\"mask\":[{\"column\":\"a.b.c\"}]}]}",
	  { "$.rules[0].mask[0].column: expected \"column\" or \"table.column\"" }, 1 },
	{ "mask regex", RULE "\"mask\":[{\"column\":\"ok\"},{\"column_regex\":\"(secret\"}]}]}",
	  { "$.rules[0].mask[1].column_regex: invalid regular expression \"(secret\"" }, 1 },
	{ "mask regex icase", RULE "\"mask\":[{\"column_regex\":\"(?i)[a\"}]}]}",
	  { "$.rules[0].mask[0].column_regex: invalid regular expression" }, 1 },
	{ "mask regex other flag", RULE "\"mask\":[{\"column_regex\":\"(?s)a\"}]}]}",
	  { "$.rules[0].mask[0].column_regex: invalid regular expression" }, 1 },
	{ "mask regex empty", RULE "\"mask\":[{\"column_regex\":\"(?i)\"}]}]}",
	  { "$.rules[0].mask[0].column_regex: must not be empty" }, 1 },
	{ "mask regex blowup", RULE "\"mask\":[{\"column_regex\":\"((a{255}){255}){255}\"}]}]}",
	  { "$.rules[0].mask[0].column_regex: regular expression \"((a{255}){255}){255}\" is too complex" }, 1 },
	{ "mask regex blowup glibc interval", RULE "\"mask\":[{\"column_regex\":\"((a{,255}){,255}){,255}\"}]}]}",
	  { "$.rules[0].mask[0].column_regex: regular expression \"((a{,255}){,255}){,255}\" is too complex" }, 1 },
	{ "mask regex quadratic", RULE "\"mask\":[{\"column_regex\":\"(a*){9000}\"}]}]}",
	  { "$.rules[0].mask[0].column_regex: regular expression \"(a*){9000}\" is too complex" }, 1 },
	{ "mask regex stacked", RULE "\"mask\":[{\"column_regex\":\"(?i)secret.+?\"}]}]}",
	  { "$.rules[0].mask[0].column_regex: regular expression \"(?i)secret.+?\" has one repetition operator right after another" }, 1 },
	{ "mask regex stacked interval", RULE "\"mask\":[{\"column_regex\":\"(a{2}*){1,3}\"}]}]}",
	  { "$.rules[0].mask[0].column_regex: regular expression" }, 1 },
	{ "mask regex deep", RULE "\"mask\":[{\"column_regex\":\"((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))\"}]}]}",
	  { "$.rules[0].mask[0].column_regex: regular expression" }, 1 },

	/* many at once: every one reported, in one run */
	{ "multiple errors",
	  "{\"agent\":{\"lisen\":\"x\",\"fail\":\"no\"},"
	  "\"identities\":[{\"name\":\"i\",\"roles\":\"r\"}],"
	  "\"targets\":[{\"name\":\"t\",\"protocol\":\"tcp\",\"address\":\"127.0.0.2:5432\"},"
	  "{\"name\":\"u\",\"protocol\":\"tcp\",\"address\":\"foo\"}],"
	  "\"rules\":[{\"target\":\"v\",\"roles\":[\"r\"],\"allow\":[\"connect\"]}]}",
	  { "$.agent.lisen: unknown key", "$.agent.fail: expected", "$.identities[0].roles: expected an array",
	    "$.targets[1].address: expected ADDR:PORT or CIDR:PORT, got \"foo\"",
	    "$.rules[0].target: no target named \"v\"" }, 5 },
};

static bool has_prefix(const struct policy_errors *e, const char *prefix)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->msg[i], prefix, strlen(prefix)))
			return true;
	return false;
}

static void run_error_case(const struct error_case *c)
{
	struct policy_errors errs = { 0 };
	struct policy *p = parse(c->json, &errs);
	bool bad = false;

	cases++;
	if (p) {
		fail(c->name, "parsed, want errors");
		policy_free(p);
		return;
	}
	for (size_t i = 0; i < MAX_EXPECT && c->expect[i]; i++) {
		if (!has_prefix(&errs, c->expect[i])) {
			fail(c->name, "no error starting with '%s'", c->expect[i]);
			bad = true;
		}
	}
	if (c->nexpect && errs.n != c->nexpect) {
		fail(c->name, "%zu errors, want %zu", errs.n, c->nexpect);
		bad = true;
	}
	if (bad)
		dump_errors(&errs);
	policy_errors_clear(&errs);
}

static void test_nul_byte(void)
{
	static const char doc[] = "{\n\"agent\":{}\0}";
	struct policy_errors errs = { 0 };
	struct policy *p = policy_parse(doc, sizeof(doc) - 1, &errs);

	cases++;
	if (p || !has_prefix(&errs, "$: not valid JSON near line 2 column 11")) {
		fail("NUL byte", "want a JSON error at line 2 column 11");
		dump_errors(&errs);
	}
	policy_free(p);
	policy_errors_clear(&errs);
}

static void test_no_errs_buffer(void)
{
	struct policy *p = parse("{\"x\":1}", NULL);

	cases++;
	if (p)
		fail("errs NULL", "an invalid policy parsed");
	policy_free(p);
}

/* -------------------------------------------------------- valid policies */

static struct policy *must_parse(const char *name, const char *json)
{
	struct policy_errors errs = { 0 };
	struct policy *p = parse(json, &errs);

	if (!p) {
		fail(name, "did not parse");
		dump_errors(&errs);
	}
	policy_errors_clear(&errs);
	return p;
}

static void check_sockaddr(const char *name, const struct sockaddr_storage *ss,
			   socklen_t len, const char *ip, unsigned port)
{
	char buf[INET6_ADDRSTRLEN] = "";
	unsigned got_port = 0;

	if (ss->ss_family == AF_INET && len == sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf));
		got_port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf));
		got_port = ntohs(s->sin6_port);
	}
	if (strcmp(buf, ip) || got_port != port)
		fail(name, "address %s port %u, want %s port %u", buf, got_port, ip, port);
}

static void test_defaults(void)
{
	struct policy *p = must_parse("defaults", "{}");
	const struct policy_agent *a;

	cases++;
	if (!p)
		return;
	a = &p->agent;
	check_sockaddr("defaults listen", &a->listen, a->listen_len, "127.0.0.1", 15001);
	check_sockaddr("defaults listen6", &a->listen6, a->listen6_len, "::1", 15001);
	if (strcmp(a->state_dir, "/var/lib/sluice") ||
	    strcmp(a->recordings_dir, "/var/lib/sluice/recordings") ||
	    strcmp(a->control_socket, "/run/sluice/control.sock") ||
	    strcmp(a->bpffs, "/sys/fs/bpf/sluice"))
		fail("defaults", "wrong default paths");
	if (a->fail_open || a->connect_timeout_ms != 5000 || a->idle_timeout_s != 3600 ||
	    a->buffer_bytes != 65536 || a->max_sessions != 10000)
		fail("defaults", "wrong default numbers");
	if (p->nidentities || p->ntargets || p->nrules || a->select_cgroups.n || a->select_users.n)
		fail("defaults", "lists not empty");
	policy_free(p);

	p = must_parse("listen6 follows listen",
		       "{\"agent\":{\"listen\":\"127.0.0.9:2000\",\"state_dir\":\"/srv/s/\","
		       "\"fail\":\"open\",\"idle_timeout_s\":0,\"buffer_bytes\":4096}}");
	cases++;
	if (!p)
		return;
	a = &p->agent;
	check_sockaddr("listen", &a->listen, a->listen_len, "127.0.0.9", 2000);
	check_sockaddr("listen6 default port", &a->listen6, a->listen6_len, "::1", 2000);
	if (strcmp(a->recordings_dir, "/srv/s/recordings"))
		fail("recordings_dir default", "got %s", a->recordings_dir);
	if (!a->fail_open || a->idle_timeout_s != 0 || a->buffer_bytes != 4096)
		fail("agent values", "fail/idle/buffer not as written");
	policy_free(p);

	p = must_parse("explicit listen6", "{\"agent\":{\"listen6\":\"[fd00::1]:7\"}}");
	cases++;
	if (p)
		check_sockaddr("listen6", &p->agent.listen6, p->agent.listen6_len, "fd00::1", 7);
	policy_free(p);
}

static struct policy *load_example(const char *srcdir, const char *file)
{
	struct policy_errors errs = { 0 };
	char path[4096];
	struct policy *p;

	snprintf(path, sizeof(path), "%s/policy/examples/%s", srcdir, file);
	p = policy_load(path, &errs);
	if (!p) {
		fail(file, "does not load");
		dump_errors(&errs);
	}
	policy_errors_clear(&errs);
	return p;
}

static void test_design_example(const char *srcdir)
{
	struct policy *p = load_example(srcdir, "design.json");
	const struct policy_rule *r;
	const struct policy_target *t;
	const struct policy_identity *id;
	regex_t re;

	cases++;
	if (!p)
		return;
	if (p->nidentities != 1 || p->ntargets != 1 || p->nrules != 1) {
		fail("design.json", "wrong counts");
		policy_free(p);
		return;
	}
	id = &p->identities[0];
	t = &p->targets[0];
	r = &p->rules[0];
	if (strcmp(id->name, "ci-deploy") || !id->token || strcmp(id->token->from, "env:CI_JOB_JWT") ||
	    id->token->required || strcmp(id->match.unit, "gitlab-runner*.service") ||
	    id->roles.n != 1 || strcmp(id->roles.v[0], "deployer"))
		fail("design.json", "identity not as written");
	if (t->protocol != POLICY_PROTO_POSTGRES || t->tls_upstream != POLICY_TLS_VERIFY_FULL ||
	    strcmp(t->tls_ca, "/etc/sluice/ca/db.pem") || strcmp(t->cred_user, "app") ||
	    !t->net.v4 || t->net.prefix != 128 || t->net.port != 5432)
		fail("design.json", "target not as written");
	if (r->allow.n != 2 || r->deny.n != 4 || r->approve.n != 2 || r->nmask != 3 ||
	    strcmp(r->mask[0].with, "redact") || strcmp(r->mask[1].with, "partial") ||
	    strcmp(r->mask[1].column, "users.email") || r->mask[2].column)
		fail("design.json", "rule not as written");
	if (p->agent.select_cgroups.n != 2 || p->agent.select_users.n != 1)
		fail("design.json", "select not as written");
	if (r->nmask == 3 && policy_mask_regcomp(&r->mask[2], &re) == 0) {
		if (regexec(&re, "API_Token", 0, NULL, 0) || !regexec(&re, "email", 0, NULL, 0))
			fail("design.json", "(?i) regex does not match case-insensitively");
		regfree(&re);
	} else {
		fail("design.json", "policy_mask_regcomp failed");
	}
	if (policy_mask_regcomp(&r->mask[0], &re) != -EINVAL)
		fail("policy_mask_regcomp", "a column mask compiled");
	policy_free(p);
}

static void test_tcp_example(const char *srcdir)
{
	struct policy *p = load_example(srcdir, "tcp-demo.json");
	struct policy_facts f = { .cgroup = "/sluice-demo/job1", .uid = 1000 };
	const struct policy_identity *id;
	int rule;

	cases++;
	if (!p)
		return;
	id = policy_match_identity(p, &f);
	if (!id || strcmp(id->name, "demo-job"))
		fail("tcp-demo.json", "job cgroup does not match demo-job");
	else if (!policy_allows(p, "demo-db", &id->roles, "connect", &rule) || rule != 0)
		fail("tcp-demo.json", "demo-job may not connect to demo-db");
	policy_free(p);
}

static void test_load_errors(void)
{
	struct policy_errors errs = { 0 };
	struct policy *p = policy_load("/nonexistent/sluice.json", &errs);

	cases++;
	if (p || errs.n != 1 ||
	    strcmp(errs.msg[0], "/nonexistent/sluice.json: cannot read: No such file or directory")) {
		fail("load missing file", "want one 'cannot read' error");
		dump_errors(&errs);
	}
	policy_free(p);
	policy_errors_clear(&errs);

	p = policy_load("/", &errs);
	cases++;
	if (p || errs.n != 1 || !has_prefix(&errs, "/: cannot read: Is a directory")) {
		fail("load directory", "want one 'cannot read' error");
		dump_errors(&errs);
	}
	policy_free(p);
	policy_errors_clear(&errs);
}

/* ---------------------------------------------------------- containment */

struct net_case {
	const char *target;  /* a target's address */
	const char *addr;    /* an IPv6 literal; IPv4 as ::ffff:a.b.c.d */
	uint16_t port;
	bool want;
};

static const struct net_case net_cases[] = {
	{ "127.0.0.2:5432", "::ffff:127.0.0.2", 5432, true },
	{ "127.0.0.2:5432", "::ffff:127.0.0.2", 5433, false },
	{ "127.0.0.2:5432", "::ffff:127.0.0.3", 5432, false },
	{ "127.0.0.2:5432", "::127.0.0.2", 5432, false }, /* v4-compatible is not v4 */
	{ "10.1.2.0/24:5432", "::ffff:10.1.2.77", 5432, true },
	{ "10.1.2.0/24:5432", "::ffff:10.1.3.1", 5432, false },
	{ "10.1.2.128/25:1", "::ffff:10.1.2.200", 1, true },
	{ "10.1.2.128/25:1", "::ffff:10.1.2.100", 1, false },
	{ "0.0.0.0/0:80", "::ffff:192.0.2.1", 80, true },
	{ "0.0.0.0/0:80", "::1", 80, false },
	{ "[::1]:5432", "::1", 5432, true },
	{ "[::1]:5432", "::2", 5432, false },
	{ "[2001:db8::/32]:443", "2001:db8:1::5", 443, true },
	{ "[2001:db8::/32]:443", "2001:db9::", 443, false },
	{ "[::/0]:443", "::ffff:127.0.0.1", 443, true },
	{ "[::ffff:127.0.0.0/104]:5432", "::ffff:127.1.2.3", 5432, true },
	{ "[::ffff:127.0.0.0/104]:5432", "::ffff:128.0.0.1", 5432, false },
};

static struct policy *target_policy(const char *name, const char *address)
{
	char json[512];

	snprintf(json, sizeof(json),
		 "{\"targets\":[{\"name\":\"t\",\"protocol\":\"tcp\",\"address\":\"%s\"}]}", address);
	return must_parse(name, json);
}

static void run_net_case(const struct net_case *c)
{
	char name[128];
	uint8_t a[16];
	struct policy *p;

	snprintf(name, sizeof(name), "net %s contains %s:%u", c->target, c->addr, c->port);
	cases++;
	p = target_policy(name, c->target);
	if (!p)
		return;
	if (inet_pton(AF_INET6, c->addr, a) != 1)
		fail(name, "bad test address");
	else if (policy_net_contains(&p->targets[0].net, a, c->port) != c->want)
		fail(name, "got %s", c->want ? "false" : "true");
	policy_free(p);
}

static void test_net_fields(void)
{
	struct policy *p = target_policy("v4 cidr fields", "10.1.2.0/24:5432");

	cases++;
	if (p && (!p->targets[0].net.v4 || p->targets[0].net.prefix != 120 ||
		  p->targets[0].net.port != 5432 || p->targets[0].net.addr[10] != 0xff))
		fail("v4 cidr fields", "want v4-mapped, prefix 120, port 5432");
	policy_free(p);
	p = target_policy("v6 fields", "[fd00::/8]:1");
	cases++;
	if (p && (p->targets[0].net.v4 || p->targets[0].net.prefix != 8))
		fail("v6 fields", "want v6, prefix 8");
	policy_free(p);
}

static void test_find_target(void)
{
	struct policy *p = must_parse("find target",
		"{\"targets\":[{\"name\":\"one\",\"protocol\":\"tcp\",\"address\":\"127.0.0.2:1\"},"
		"{\"name\":\"net\",\"protocol\":\"tcp\",\"address\":\"127.0.0.0/8:1\"},"
		"{\"name\":\"v6\",\"protocol\":\"tcp\",\"address\":\"[::1]:1\"}]}");
	static const struct { const char *addr; uint16_t port; const char *want; } t[] = {
		{ "::ffff:127.0.0.2", 1, "one" },
		{ "::ffff:127.0.0.3", 1, "net" },
		{ "::1", 1, "v6" },
		{ "::1", 2, NULL },
		{ "::ffff:10.0.0.1", 1, NULL },
	};
	const struct policy_target *got;
	uint8_t a[16];

	if (!p)
		return;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cases++;
		inet_pton(AF_INET6, t[i].addr, a);
		got = policy_find_target(p, a, t[i].port);
		if (got ? !t[i].want || strcmp(got->name, t[i].want) : !!t[i].want)
			fail("find target", "%s:%u gave %s, want %s", t[i].addr, t[i].port,
			     got ? got->name : "none", t[i].want ? t[i].want : "none");
	}
	policy_free(p);
}

/* ---------------------------------------------------------- identities */

static const char identities_json[] =
	"{\"identities\":["
	"{\"name\":\"ci\",\"match\":{\"cgroup\":\"/ci.slice/*\",\"user\":\"ci\"},\"roles\":[\"r\"]},"
	"{\"name\":\"by-uid\",\"match\":{\"user\":\"10??\"},\"roles\":[\"r\"]},"
	"{\"name\":\"unit\",\"match\":{\"unit\":\"gitlab-runner*.service\",\"exe\":\"/usr/bin/*\"},\"roles\":[\"r\"]},"
	"{\"name\":\"container\",\"match\":{\"container\":\"abc*\"},\"roles\":[\"r\"]},"
	"{\"name\":\"any-user\",\"match\":{\"user\":\"*\"},\"roles\":[\"r\"]},"
	"{\"name\":\"everyone\",\"roles\":[\"r\"]}]}";

struct id_case {
	const char *name;
	struct policy_facts f;
	const char *want;
};

#define NOUID ((uid_t)-1)

static const struct id_case id_cases[] = {
	{ "cgroup and user", { .cgroup = "/ci.slice/job1", .user = "ci", .uid = 1000 }, "ci" },
	{ "glob spans slashes", { .cgroup = "/ci.slice/a/b", .user = "ci", .uid = 5 }, "ci" },
	{ "user by uid", { .cgroup = "/ci.slice/job1", .user = "bob", .uid = 1001 }, "by-uid" },
	{ "uid only, no name", { .cgroup = "/x", .uid = 1002 }, "by-uid" },
	{ "user missing", { .cgroup = "/ci.slice/job1", .uid = 5 }, "any-user" },
	{ "cgroup missing", { .user = "ci", .uid = 5 }, "any-user" },
	{ "cgroup differs", { .cgroup = "/other", .user = "ci", .uid = 5 }, "any-user" },
	{ "unit and exe", { .cgroup = "/system.slice", .unit = "gitlab-runner-3.service",
			    .exe = "/usr/bin/psql", .uid = NOUID }, "unit" },
	{ "exe missing", { .unit = "gitlab-runner.service", .uid = NOUID }, "everyone" },
	{ "unit empty", { .unit = "", .exe = "/usr/bin/psql", .uid = NOUID }, "everyone" },
	{ "container", { .container = "abcdef0123", .uid = NOUID }, "container" },
	{ "nothing known", { .uid = NOUID }, "everyone" },
	{ "star needs a fact", { .user = "", .uid = NOUID }, "everyone" },
	{ "star on uid", { .uid = 0 }, "any-user" },
};

static void test_identities(void)
{
	struct policy *p = must_parse("identities", identities_json);
	struct policy_facts f = { .cgroup = "/x", .uid = 0 };
	const struct policy_identity *got;

	if (!p)
		return;
	for (size_t i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++) {
		cases++;
		got = policy_match_identity(p, &id_cases[i].f);
		if (!got || strcmp(got->name, id_cases[i].want))
			fail(id_cases[i].name, "matched %s, want %s", got ? got->name : "none",
			     id_cases[i].want);
	}
	policy_free(p);

	p = must_parse("no catch-all",
		       "{\"identities\":[{\"name\":\"a\",\"match\":{\"user\":\"ci\"},\"roles\":[\"r\"]}]}");
	cases++;
	if (p && policy_match_identity(p, &f))
		fail("no catch-all", "an unmatched caller got an identity");
	cases++;
	if (p && policy_match_identity(p, NULL))
		fail("NULL facts", "matched");
	policy_free(p);
}

/* ---------------------------------------------------------------- rules */

static const char rules_json[] =
	"{\"targets\":["
	"{\"name\":\"t1\",\"protocol\":\"tcp\",\"address\":\"127.0.0.2:1\"},"
	"{\"name\":\"t2\",\"protocol\":\"postgres\",\"address\":\"127.0.0.3:5432\"}],"
	"\"rules\":["
	"{\"target\":\"t2\",\"roles\":[\"dev\"],\"allow\":[\"read\",\"write\"]},"
	"{\"target\":\"t2\",\"roles\":[\"dev\",\"ops\"],\"deny\":[\"write\"]},"
	"{\"target\":\"t2\",\"roles\":[\"*\"],\"allow\":[\"select\"]},"
	"{\"target\":\"t2\",\"roles\":[\"ops\"],\"approve\":[\"ddl\"],\"allow\":[\"ddl\",\"read\"]},"
	"{\"target\":\"t1\",\"roles\":[\"demo\"],\"allow\":[\"connect\"]},"
	"{\"target\":\"t1\",\"roles\":[\"*\"],\"deny\":[\"connect\"]}]}";

struct allow_case {
	const char *name;
	const char *target;
	const char *roles[3];
	const char *action;
	bool want;
	int rule;
};

static const struct allow_case allow_cases[] = {
	{ "allow", "t2", { "dev" }, "read", true, 0 },
	{ "deny beats allow", "t2", { "dev" }, "write", false, 1 },
	{ "deny for other role", "t2", { "ops" }, "write", false, 1 },
	{ "star role allows", "t2", { "guest" }, "select", true, 2 },
	{ "no rule", "t2", { "guest" }, "read", false, -1 },
	{ "approve is not allow", "t2", { "ops" }, "ddl", false, 3 },
	{ "allow later rule", "t2", { "ops" }, "read", true, 3 },
	{ "any of the roles", "t2", { "guest", "dev" }, "read", true, 0 },
	{ "star role denies", "t1", { "demo" }, "connect", false, 5 },
	{ "other target", "t1", { "dev" }, "read", false, -1 },
	{ "no roles", "t2", { NULL }, "select", false, -1 },
	{ "unknown target", "t3", { "dev" }, "read", false, -1 },
};

static void test_allows(void)
{
	struct policy *p = must_parse("rules", rules_json);
	struct policy_strv roles;
	char *v[3];
	bool got;
	int rule;

	if (!p)
		return;
	for (size_t i = 0; i < sizeof(allow_cases) / sizeof(allow_cases[0]); i++) {
		const struct allow_case *c = &allow_cases[i];

		cases++;
		roles.n = 0;
		for (size_t k = 0; k < 3 && c->roles[k]; k++)
			v[roles.n++] = (char *)c->roles[k];
		roles.v = v;
		rule = 99;
		got = policy_allows(p, c->target, &roles, c->action, &rule);
		if (got != c->want || rule != c->rule)
			fail(c->name, "got %s rule %d, want %s rule %d", got ? "allow" : "deny", rule,
			     c->want ? "allow" : "deny", c->rule);
	}
	cases++;
	if (policy_allows(p, "t2", NULL, "select", NULL))
		fail("NULL roles", "allowed");
	policy_free(p);
}

static void test_webhooks(void)
{
	static const char *const urls[] = {
		"http://127.0.0.1:8080/hook", "http://[::1]:9/x", "http://localhost", "http://10.0.0.1",
	};
	char json[256];

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		struct policy *p;

		snprintf(json, sizeof(json), "{\"agent\":{\"approval_webhook\":\"%s\"}}", urls[i]);
		cases++;
		p = must_parse(urls[i], json);
		if (p && strcmp(p->agent.approval_webhook, urls[i]))
			fail(urls[i], "kept as %s", p->agent.approval_webhook);
		policy_free(p);
	}
}

static void test_claims(void)
{
	static const struct {
		const char *claims;
		bool want;
	} cases_[] = {
		{ "{\"sub\":\"project_path:g/app:ref:main\",\"groups\":[\"ops\",\"deployers\"],\"project_id\":42}", true },
		{ "{\"sub\":\"project_path:g/app:ref:main\",\"groups\":\"deployers\",\"project_id\":42}", true },
		{ "{\"sub\":\"project_path:g/other:ref:main\",\"groups\":[\"deployers\"],\"project_id\":42}", false },
		{ "{\"sub\":\"project_path:g/app:x\",\"groups\":[\"ops\"],\"project_id\":42}", false },
		{ "{\"sub\":\"project_path:g/app:x\",\"groups\":[\"deployers\"],\"project_id\":7}", false },
		{ "{\"sub\":\"project_path:g/app:x\",\"groups\":[\"deployers\"]}", false },
		{ "{\"sub\":[\"project_path:g/app:x\"],\"groups\":[\"deployers\"],\"project_id\":\"42\"}", true },
		{ "{\"sub\":{\"a\":1},\"groups\":[\"deployers\"],\"project_id\":42}", false },
	};
	struct policy *p = must_parse("claims", ID "\"match\":{\"claims\":{\"sub\":\"project_path:g/app:*\","
				      "\"groups\":[\"deployers\"],\"project_id\":\"4*\"}},"
				      "\"token\":{\"from\":\"env:CI_JOB_JWT\",\"jwks\":\"/k\"}}]}");

	for (size_t i = 0; p && i < sizeof(cases_) / sizeof(cases_[0]); i++) {
		cJSON *c = cJSON_Parse(cases_[i].claims);

		cases++;
		if (policy_match_claims(&p->identities[0].match, c) != cases_[i].want)
			fail("claims", "%s: want %s", cases_[i].claims, cases_[i].want ? "match" : "none");
		cJSON_Delete(c);
	}
	policy_free(p);
}

static void test_comments(void)
{
	struct policy *p = must_parse("comments",
		"// a policy with comments\n"
		"{ /* the agent */ \"agent\": { \"state_dir\": \"/var/lib/x\" }, // trailing\n"
		"  \"identities\": [ { \"name\": \"a//b\", \"match\": { \"cgroup\": \"/x/*\" },\n"
		"    \"roles\": [\"r/*not a comment*/\"] } ] }\n");

	cases++;
	if (p && (strcmp(p->agent.state_dir, "/var/lib/x") || strcmp(p->identities[0].name, "a//b") ||
		  strcmp(p->identities[0].roles.v[0], "r/*not a comment*/") ||
		  strcmp(p->identities[0].match.cgroup, "/x/*")))
		fail("comments", "strings changed");
	policy_free(p);
}

static void test_errors_add(void)
{
	struct policy_errors errs = { 0 };

	cases++;
	policy_errors_add(&errs, "$.agent.%s: %d", "x", 7);
	policy_errors_add(&errs, "$.b");
	if (errs.n != 2 || strcmp(errs.msg[0], "$.agent.x: 7") || strcmp(errs.msg[1], "$.b"))
		fail("policy_errors_add", "%zu lines", errs.n);
	policy_errors_clear(&errs);
}

int main(int argc, char **argv)
{
	const char *srcdir = argc > 1 ? argv[1] : ".";

	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		run_error_case(&error_cases[i]);
	test_nul_byte();
	test_no_errs_buffer();
	test_defaults();
	test_design_example(srcdir);
	test_tcp_example(srcdir);
	test_load_errors();
	for (size_t i = 0; i < sizeof(net_cases) / sizeof(net_cases[0]); i++)
		run_net_case(&net_cases[i]);
	test_net_fields();
	test_find_target();
	test_identities();
	test_allows();
	test_webhooks();
	test_claims();
	test_comments();
	test_errors_add();
	policy_free(NULL);
	policy_errors_clear(NULL);
	printf("test_policy: %d cases, %d failures\n", cases, failures);
	return failures ? 1 : 0;
}
