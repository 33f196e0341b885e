/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy: the JSON policy file, validated against the contract in
 * ../docs/policy.md, and the queries the agent asks of it.
 *
 * Parsing walks the cJSON tree once, filling a struct policy and collecting
 * errors as it goes; any error (or allocation failure) discards the policy.
 * Every object is checked against its list of known keys, so a typo is an
 * error and never a silently ignored setting.
 */
#include "policy.h"
#include "sql_classify.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define POLICY_MAX_BYTES (16u << 20)
#define MAX_ERRORS 200           /* a broken file should not flood the terminal */
#define PATH_LEN 512             /* JSON paths: our schema is at most 4 deep */
#define QUOTE_LEN 64             /* bytes of a value echoed in a message */
#define QBUF (QUOTE_LEN * 6 + 8) /* ... after escaping: \u00XX per byte */
#define REGEX_MAX_LEN 1024
#define REGEX_MAX_COST 2000UL    /* see regex_lint() */
#define REGEX_MAX_DEPTH 32

enum { OPTIONAL, REQUIRED };

struct name_ix {
	const char *name;
	size_t i;
};

struct ctx {
	struct policy_errors *errs; /* or NULL: only count */
	size_t nerr;
	bool oom;
	struct name_ix *targets; /* sorted target names, for rules[].target */
	const struct policy_target *target_defs; /* what targets[].i indexes */
	size_t ntargets;
	bool targets_broken;     /* "targets" is no array: skip rules[].target */
};

typedef bool (*check_fn)(struct ctx *c, const char *path, const char *s);
typedef void (*elem_fn)(struct ctx *c, const cJSON *j, const char *path, void *out);

/* ------------------------------------------------------------------ errors */

static void err_add(struct ctx *c, char *line)
{
	char **v;

	if (!line) {
		c->oom = true;
		return;
	}
	if (!c->errs) {
		free(line);
		return;
	}
	v = realloc(c->errs->msg, (c->errs->n + 1) * sizeof(*v));
	if (!v) {
		free(line);
		c->oom = true;
		return;
	}
	v[c->errs->n++] = line;
	c->errs->msg = v;
}

__attribute__((format(printf, 3, 4)))
static void errf(struct ctx *c, const char *path, const char *fmt, ...)
{
	size_t plen = strlen(path);
	va_list ap;
	char *line;
	int n;

	/* Counted before anything can fail, so a lost message still fails. */
	if (++c->nerr > MAX_ERRORS) {
		if (c->nerr == MAX_ERRORS + 1)
			err_add(c, strdup("$: too many errors; stopped reporting"));
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	line = malloc(plen + 2 + (size_t)n + 1);
	if (line) {
		memcpy(line, path, plen);
		memcpy(line + plen, ": ", 2);
		va_start(ap, fmt);
		vsnprintf(line + plen + 2, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	err_add(c, line);
}

/* A value as a JSON string literal, escaped and cut to QUOTE_LEN bytes so
 * hostile input cannot inject lines or balloon messages. */
static const char *quote(char out[QBUF], const char *s)
{
	size_t n = strlen(s), cut = n > QUOTE_LEN ? QUOTE_LEN : n, o = 0;

	while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--; /* not inside a UTF-8 sequence */
	out[o++] = '"';
	for (size_t i = 0; i < cut; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(out + o, QBUF - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o++] = '"';
	if (cut < n)
		o += (size_t)snprintf(out + o, QBUF - o, "...");
	out[o] = '\0';
	return out;
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "an invalid value";
}

static char *xdup(struct ctx *c, const char *s)
{
	char *d = strdup(s);

	if (!d)
		c->oom = true;
	return d;
}

/* ------------------------------------------------------------------- paths */

static bool is_ident(const char *s)
{
	if (!*s || strlen(s) > QUOTE_LEN || !(*s == '_' || (*s >= 'a' && *s <= 'z') ||
					      (*s >= 'A' && *s <= 'Z')))
		return false;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* Paths cannot outgrow PATH_LEN with our schema; cut visibly if they do. */
static void path_done(char out[PATH_LEN], int n)
{
	if (n < 0 || n >= PATH_LEN)
		memcpy(out + PATH_LEN - 4, "...", 4);
}

/* base.key, or base["key"] when key is not a plain identifier. */
static void path_key(char out[PATH_LEN], const char *base, const char *key)
{
	char q[QBUF];

	if (is_ident(key))
		path_done(out, snprintf(out, PATH_LEN, "%s.%s", base, key));
	else
		path_done(out, snprintf(out, PATH_LEN, "%s[%s]", base, quote(q, key)));
}

static void path_index(char out[PATH_LEN], const char *base, size_t i)
{
	path_done(out, snprintf(out, PATH_LEN, "%s[%zu]", base, i));
}

/* -------------------------------------------------------- generic fields */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33], prev, tmp;

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

static void report_unknown(struct ctx *c, const char *path, const char *key,
			   const char *const keys[])
{
	size_t best = SIZE_MAX, d;
	int k = -1;

	for (int i = 0; keys[i]; i++) {
		d = edit_distance(key, keys[i]);
		if (d < best) {
			best = d;
			k = i;
		}
	}
	if (k >= 0 && best <= 2)
		errf(c, path, "unknown key (did you mean \"%s\"?)", keys[k]);
	else
		errf(c, path, "unknown key");
}

/* Unknown and repeated keys of obj; keys[] is NULL-terminated, < 32 long. */
static void check_keys(struct ctx *c, const cJSON *obj, const char *path,
		       const char *const keys[])
{
	char sub[PATH_LEN];
	uint32_t seen = 0;
	const cJSON *e;
	int k;

	cJSON_ArrayForEach(e, obj) {
		for (k = 0; keys[k] && strcmp(keys[k], e->string); k++)
			;
		path_key(sub, path, e->string);
		if (!keys[k])
			report_unknown(c, sub, e->string, keys);
		else if (seen & (UINT32_C(1) << k))
			errf(c, sub, "duplicate key");
		else
			seen |= UINT32_C(1) << k;
	}
}

static bool expect(struct ctx *c, const cJSON *v, const char *path,
		   cJSON_bool (*is)(const cJSON *), const char *what)
{
	if (is(v))
		return true;
	errf(c, path, "expected %s, got %s", what, type_name(v));
	return false;
}

/* obj.key (its path in sub), or NULL when absent; absent required keys are
 * reported. cJSON's plain lookup ignores case, which would let "Listen"
 * stand in for "listen". */
static const cJSON *field(struct ctx *c, const cJSON *obj, const char *path,
			  const char *key, int need, char sub[PATH_LEN])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	path_key(sub, path, key);
	if (!v && need == REQUIRED)
		errf(c, sub, "required field is missing");
	return v;
}

static const cJSON *obj_field(struct ctx *c, const cJSON *obj, const char *path,
			      const char *key, int need, char sub[PATH_LEN])
{
	const cJSON *v = field(c, obj, path, key, need, sub);

	if (v && !expect(c, v, sub, cJSON_IsObject, "an object"))
		return NULL;
	return v;
}

static const char *str_field(struct ctx *c, const cJSON *obj, const char *path,
			     const char *key, int need, char sub[PATH_LEN])
{
	const cJSON *v = field(c, obj, path, key, need, sub);

	if (!v || !expect(c, v, sub, cJSON_IsString, "a string"))
		return NULL;
	return v->valuestring;
}

/* Copy obj.key into *out when it is a string that check accepts. */
static void str_copy(struct ctx *c, const cJSON *obj, const char *path,
		     const char *key, int need, check_fn check, char **out)
{
	char sub[PATH_LEN];
	const char *s = str_field(c, obj, path, key, need, sub);

	if (s && (!check || check(c, sub, s))) {
		free(*out);
		*out = xdup(c, s);
	}
}

/* Index of obj.key in names[]; dflt when absent, -1 when wrong. */
static int enum_field(struct ctx *c, const cJSON *obj, const char *path,
		      const char *key, int need, const char *const names[], int dflt)
{
	char sub[PATH_LEN], q[QBUF], list[128];
	const cJSON *v = field(c, obj, path, key, need, sub);
	size_t o = 0;
	int i;

	if (!v)
		return need == REQUIRED ? -1 : dflt;
	if (!expect(c, v, sub, cJSON_IsString, "a string"))
		return -1;
	for (i = 0; names[i]; i++)
		if (!strcmp(names[i], v->valuestring))
			return i;
	for (i = 0; names[i] && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"",
				      i == 0 ? "" : names[i + 1] ? ", " : " or ",
				      names[i]);
	errf(c, sub, "expected %s, got %s", list, quote(q, v->valuestring));
	return -1;
}

static unsigned uint_field(struct ctx *c, const cJSON *obj, const char *path,
			   const char *key, unsigned min, unsigned max, unsigned dflt)
{
	char sub[PATH_LEN];
	const cJSON *v = field(c, obj, path, key, OPTIONAL, sub);
	double d;

	if (!v)
		return dflt;
	if (!cJSON_IsNumber(v)) {
		errf(c, sub, "expected an integer, got %s", type_name(v));
		return dflt;
	}
	d = v->valuedouble;
	if (!(d >= (double)min && d <= (double)max)) {
		errf(c, sub, "must be between %u and %u, got %.15g", min, max, d);
		return dflt;
	}
	if (d != (double)(unsigned)d) {
		errf(c, sub, "expected an integer, got %.15g", d);
		return dflt;
	}
	return (unsigned)d;
}

/* A duration in seconds: a JSON integer, or a string "90s", "5m", "2h",
 * "1d"; between min and max. */
static unsigned duration_field(struct ctx *c, const cJSON *obj, const char *path,
			       const char *key, unsigned min, unsigned max, unsigned dflt)
{
	char sub[PATH_LEN], q[QBUF];
	const cJSON *v = field(c, obj, path, key, OPTIONAL, sub);
	unsigned long long n;
	char *end;

	if (v && cJSON_IsNumber(v))
		return uint_field(c, obj, path, key, min, max, dflt);
	if (!v || !expect(c, v, sub, cJSON_IsString, "seconds or a duration string"))
		return dflt;
	n = strtoull(v->valuestring, &end, 10);
	if (end == v->valuestring || n > max) {
		errf(c, sub, "expected a duration like \"90s\", \"5m\", \"2h\", got %s",
		     quote(q, v->valuestring));
		return dflt;
	}
	switch (*end ? *end++ : 's') {
	case 's': break;
	case 'm': n *= 60; break;
	case 'h': n *= 3600; break;
	case 'd': n *= 86400; break;
	default: end = (char *)"?";
	}
	if (*end || n < min || n > max) {
		errf(c, sub, "expected a duration between %us and %us like \"90s\", \"5m\", "
		     "\"2h\", got %s", min, max, quote(q, v->valuestring));
		return dflt;
	}
	return (unsigned)n;
}

static bool bool_field(struct ctx *c, const cJSON *obj, const char *path,
		       const char *key, bool dflt)
{
	char sub[PATH_LEN];
	const cJSON *v = field(c, obj, path, key, OPTIONAL, sub);

	if (!v || !expect(c, v, sub, cJSON_IsBool, "true or false"))
		return dflt;
	return cJSON_IsTrue(v);
}

/* obj.key as an array of strings, each approved by check (or NULL). A
 * required array must also be non-empty. */
static void strv_field(struct ctx *c, const cJSON *obj, const char *path,
		       const char *key, int need, check_fn check,
		       struct policy_strv *out)
{
	char sub[PATH_LEN], el[PATH_LEN];
	const cJSON *v = field(c, obj, path, key, need, sub), *e;
	size_t i = 0, n;

	if (!v || !expect(c, v, sub, cJSON_IsArray, "an array of strings"))
		return;
	n = (size_t)cJSON_GetArraySize(v);
	if (n == 0) {
		if (need == REQUIRED)
			errf(c, sub, "must not be empty");
		return;
	}
	out->v = calloc(n, sizeof(*out->v));
	if (!out->v) {
		c->oom = true;
		return;
	}
	out->n = n;
	cJSON_ArrayForEach(e, v) {
		path_index(el, sub, i);
		if (expect(c, e, el, cJSON_IsString, "a string") &&
		    (!check || check(c, el, e->valuestring)))
			out->v[i] = xdup(c, e->valuestring);
		i++;
	}
}

/* obj.key as a zeroed array of n structs of size bytes, one per object in
 * the JSON array, each filled by fn; NULL when empty or out of memory. */
static void *list_field(struct ctx *c, const cJSON *obj, const char *path,
			const char *key, size_t size, elem_fn fn, size_t *n)
{
	char sub[PATH_LEN], el[PATH_LEN];
	const cJSON *v = field(c, obj, path, key, OPTIONAL, sub), *e;
	size_t i = 0, len;
	char *out;

	*n = 0;
	if (!v || !expect(c, v, sub, cJSON_IsArray, "an array"))
		return NULL;
	len = (size_t)cJSON_GetArraySize(v);
	if (len == 0)
		return NULL;
	out = calloc(len, size);
	if (!out) {
		c->oom = true;
		return NULL;
	}
	*n = len;
	cJSON_ArrayForEach(e, v) {
		path_index(el, sub, i);
		if (expect(c, e, el, cJSON_IsObject, "an object"))
			fn(c, e, el, out + i * size);
		i++;
	}
	return out;
}

/* ------------------------------------------------------ value checks */

static bool check_name(struct ctx *c, const char *path, const char *s)
{
	if (!*s) {
		errf(c, path, "must not be empty");
		return false;
	}
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			errf(c, path, "must not contain control characters");
			return false;
		}
	}
	return true;
}

/* The agent posts to it itself: plain HTTP, an IP literal or a name, a
 * port, a path. */
/* http://HOST[:PORT][/PATH] with HOST an IP literal or localhost: the
 * agent posts from its event loop and looks no names up there. */
static bool webhook_host_ok(const char *url)
{
	const char *h = url + 7, *end = h + strcspn(h, "/"), *port;
	char host[64];
	uint8_t a[16];

	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (!close || (size_t)(close - h - 1) >= sizeof(host))
			return false;
		snprintf(host, sizeof(host), "%.*s", (int)(close - h - 1), h + 1);
		if (inet_pton(AF_INET6, host, a) != 1)
			return false;
		port = close + 1;
	} else {
		port = memchr(h, ':', (size_t)(end - h));
		port = port ? port : end;
		if ((size_t)(port - h) >= sizeof(host))
			return false;
		snprintf(host, sizeof(host), "%.*s", (int)(port - h), h);
		if (strcmp(host, "localhost") && inet_pton(AF_INET, host, a) != 1)
			return false;
	}
	if (port == end)
		return true;
	if (*port != ':' || port + 1 == end || (size_t)(end - port) > 6)
		return false;
	for (const char *d = port + 1; d < end; d++)
		if (*d < '0' || *d > '9')
			return false;
	return atoi(port + 1) >= 1 && atoi(port + 1) <= 65535;
}

static bool check_webhook(struct ctx *c, const char *path, const char *s)
{
	char q[QBUF];

	if (strncmp(s, "http://", 7) || !s[7] || s[7] == '/' || strpbrk(s, " \t\r\n")) {
		errf(c, path, "expected an http:// URL, got %s", quote(q, s));
		return false;
	}
	if (!webhook_host_ok(s)) {
		errf(c, path, "expected http://HOST[:PORT][/PATH] with HOST an IP address or "
			"localhost (the agent looks no names up), got %s", quote(q, s));
		return false;
	}
	return check_name(c, path, s);
}

/* Relative paths would depend on the daemon's working directory. */
static bool check_abs_path(struct ctx *c, const char *path, const char *s)
{
	char q[QBUF];

	if (s[0] != '/') {
		errf(c, path, "expected an absolute path, got %s", quote(q, s));
		return false;
	}
	return check_name(c, path, s);
}

static bool check_sock_path(struct ctx *c, const char *path, const char *s)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	if (!check_abs_path(c, path, s))
		return false;
	if (strlen(s) > max) {
		errf(c, path, "longer than the %zu bytes a unix socket path may have", max);
		return false;
	}
	return true;
}

static bool check_cgroup(struct ctx *c, const char *path, const char *s)
{
	char q[QBUF];

	if (s[0] != '/') {
		errf(c, path, "expected a path relative to the cgroup2 root, starting with \"/\", got %s",
		     quote(q, s));
		return false;
	}
	return check_name(c, path, s);
}

/* The action vocabulary belongs to the protocol modules; here only its
 * shape, so that a misspelt deny can at least not be mistaken for a glob. */
static bool check_action(struct ctx *c, const char *path, const char *s)
{
	char q[QBUF];
	const char *p = s;

	if (*p >= 'a' && *p <= 'z')
		for (p++; (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'; p++)
			;
	if (p == s || *p) {
		errf(c, path, "expected an action name such as \"connect\" or \"read\", got %s",
		     quote(q, s));
		return false;
	}
	return true;
}

static bool is_env_name(const char *s)
{
	if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return false;
	for (s++; *s; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

static bool check_token_from(struct ctx *c, const char *path, const char *s)
{
	char q[QBUF];

	if (!strcmp(s, "password") || !strcmp(s, "bearer"))
		return true;
	if (!strncmp(s, "env:", 4) && is_env_name(s + 4))
		return true;
	errf(c, path, "expected \"password\", \"bearer\" or \"env:NAME\", got %s", quote(q, s));
	return false;
}

/* "col" or "table.col". */
static bool check_column(struct ctx *c, const char *path, const char *s)
{
	const char *dot = strchr(s, '.');
	char q[QBUF];

	if (!check_name(c, path, s))
		return false;
	if (dot && (dot == s || !dot[1] || strchr(dot + 1, '.'))) {
		errf(c, path, "expected \"column\" or \"table.column\", got %s", quote(q, s));
		return false;
	}
	return true;
}

/* The end of the bracket expression that starts at s ('['). */
static const char *skip_bracket(const char *s)
{
	const char *p = s + 1, *end;

	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	for (; *p && *p != ']'; p++) {
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			char close[3] = { p[1], ']', '\0' };

			end = strstr(p + 2, close);
			if (!end)
				break;
			p = end + 1;
		}
	}
	return *p ? p : p - 1;
}

static unsigned long capped(unsigned long v)
{
	return v > REGEX_MAX_COST + 1 ? REGEX_MAX_COST + 1 : v;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* For an interval "{m}", "{m,}", "{m,n}" or glibc's "{,n}" at s, the
 * copies regcomp() makes of its atom (at least 1), and its '}' in *end;
 * 0 when s starts no interval. */
static unsigned long interval_copies(const char *s, const char **end)
{
	unsigned long m = 0, n = 0;
	bool has_m, comma, has_n = false;

	s++;
	has_m = is_digit(*s);
	while (is_digit(*s))
		m = capped(m * 10 + (unsigned long)(*s++ - '0'));
	comma = *s == ',';
	if (comma) {
		s++;
		has_n = is_digit(*s);
		while (is_digit(*s))
			n = capped(n * 10 + (unsigned long)(*s++ - '0'));
	}
	if (*s != '}' || (!has_m && !has_n))
		return 0;
	*end = s;
	if (!has_n)
		n = comma ? m + 1 : m;
	return n ? n : 1;
}

/* Why s must not reach glibc's regcomp(), or NULL. regcomp() copies a
 * repeated atom once per count of {m,n} and once more for '+', so nested
 * repetitions multiply ("((a{255}){255}){255}" is 16 M states), and its
 * closure tables grow with the square of the states ("(a*){9000}" takes
 * 640 MB). The cost below counts states, saturating just above the limit
 * so the products cannot overflow. Stacked operators ("a**", "+?") are
 * undefined in POSIX and, copied by an interval, take exponential time. */
static const char *regex_lint(const char *s)
{
	unsigned long sum[REGEX_MAX_DEPTH + 1] = { 0 }, last = 0, k;
	bool rep = false, was_rep;
	int d = 0;
	const char *end;

	for (; *s; s++) {
		k = 0;
		was_rep = rep;
		rep = false;
		switch (*s) {
		case '(':
			if (++d > REGEX_MAX_DEPTH)
				return "is nested too deeply";
			sum[d] = 0;
			last = 0;
			continue;
		case ')':
			if (d == 0) {
				last = 1;
				break;
			}
			last = capped(sum[d--] + 1);
			sum[d] = capped(sum[d] + last);
			continue;
		case '|':
			continue;
		case '[':
			s = skip_bracket(s);
			last = 1;
			break;
		case '\\':
			if (s[1])
				s++;
			last = 1;
			break;
		case '*':
		case '?':
			k = 1;
			rep = true;
			break;
		case '+':
			k = 2;
			rep = true;
			break;
		case '{':
			k = interval_copies(s, &end);
			if (!k) {
				last = 1; /* a literal '{' */
				break;
			}
			s = end;
			rep = true;
			break;
		default:
			last = 1;
			break;
		}
		if (rep && was_rep)
			return "has one repetition operator right after another (\"**\", \"+?\", "
			       "\"{2}*\"), which POSIX leaves undefined";
		if (rep) {
			/* the atom is already counted once */
			sum[d] = capped(sum[d] + last * (k - 1));
			last = capped(last * k);
		} else {
			sum[d] = capped(sum[d] + last);
		}
	}
	while (d > 0) {
		sum[d - 1] = capped(sum[d - 1] + sum[d]);
		d--;
	}
	if (sum[0] > REGEX_MAX_COST)
		return "is too complex: its repetitions expand to too many states";
	return NULL;
}

static int compile_regex(regex_t *re, const char *pattern)
{
	int flags = REG_EXTENDED | REG_NOSUB;

	/* "(?i)" is the one PCRE habit worth keeping; POSIX has a flag for it. */
	if (!strncmp(pattern, "(?i)", 4)) {
		pattern += 4;
		flags |= REG_ICASE;
	}
	return regcomp(re, pattern, flags);
}

static bool check_regex(struct ctx *c, const char *path, const char *s)
{
	char q[QBUF], why[128];
	const char *why_not;
	regex_t re;
	int rc;

	if (!*s || !strcmp(s, "(?i)")) {
		errf(c, path, "must not be empty");
		return false;
	}
	if (strlen(s) > REGEX_MAX_LEN) {
		errf(c, path, "longer than %d bytes", REGEX_MAX_LEN);
		return false;
	}
	why_not = regex_lint(s);
	if (why_not) {
		errf(c, path, "regular expression %s %s", quote(q, s), why_not);
		return false;
	}
	rc = compile_regex(&re, s);
	if (rc) {
		if (rc == REG_ESPACE)
			c->oom = true;
		regerror(rc, &re, why, sizeof(why));
		errf(c, path, "invalid regular expression %s: %s", quote(q, s), why);
		return false;
	}
	regfree(&re);
	return true;
}

/* ------------------------------------------------------------ addresses */

enum addr_err {
	ADDR_OK,
	ADDR_SYNTAX,
	ADDR_BRACKETS,
	ADDR_PORT,
	ADDR_HOSTNAME,
	ADDR_BAD_V4,
	ADDR_BAD_V6,
	ADDR_PREFIX,
	ADDR_HOST_BITS,
};

/* Decimal digits in [s, end), at most 5 of them, value <= max. */
static bool parse_small(const char *s, const char *end, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (s == end || end - s > 5)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static bool looks_like_hostname(const char *s, size_t n)
{
	bool alpha = false;

	for (size_t i = 0; i < n; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))
			alpha = true;
		else if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return false;
	}
	return alpha;
}

static bool host_bits_set(const struct policy_net *n)
{
	for (unsigned b = n->prefix; b < 128; b++)
		if (n->addr[b / 8] & (0x80 >> (b % 8)))
			return true;
	return false;
}

/* "A.B.C.D:PORT", "[V6]:PORT" and, when cidr, "A.B.C.D/LEN:PORT",
 * "[V6/LEN]:PORT". Literal addresses only: a name would need a resolver and
 * would change under us. */
static enum addr_err parse_addr(const char *s, bool cidr, struct policy_net *n)
{
	char host[INET6_ADDRSTRLEN];
	const char *h, *he, *port, *slash;
	bool v6 = s[0] == '[';
	unsigned num, len, max;
	size_t hl;

	memset(n, 0, sizeof(*n));
	if (v6) {
		h = s + 1;
		he = strchr(h, ']');
		if (!he || he[1] != ':')
			return ADDR_SYNTAX;
		port = he + 2;
	} else {
		h = s;
		port = strrchr(s, ':');
		if (!port)
			return ADDR_SYNTAX;
		if (memchr(s, ':', (size_t)(port - s)))
			return ADDR_BRACKETS;
		he = port++;
	}
	if (!parse_small(port, port + strlen(port), 65535, &num) || num == 0)
		return ADDR_PORT;
	n->port = (uint16_t)num;
	slash = memchr(h, '/', (size_t)(he - h));
	if (slash && !cidr)
		return ADDR_SYNTAX;
	hl = (size_t)((slash ? slash : he) - h);
	if (hl == 0)
		return ADDR_SYNTAX;
	if (!v6 && looks_like_hostname(h, hl))
		return ADDR_HOSTNAME;
	if (hl >= sizeof(host))
		return v6 ? ADDR_BAD_V6 : ADDR_BAD_V4;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (v6) {
		if (inet_pton(AF_INET6, host, n->addr) != 1)
			return ADDR_BAD_V6;
		max = 128;
	} else {
		if (inet_pton(AF_INET, host, n->addr + 12) != 1)
			return ADDR_BAD_V4;
		n->addr[10] = n->addr[11] = 0xff;
		n->v4 = true;
		max = 32;
	}
	len = max;
	if (slash && !parse_small(slash + 1, he, max, &len))
		return ADDR_PREFIX;
	n->prefix = (uint8_t)(len + (n->v4 ? 96 : 0));
	return host_bits_set(n) ? ADDR_HOST_BITS : ADDR_OK;
}

/* n with its host bits cleared, as "network/len". */
static const char *net_string(char out[INET6_ADDRSTRLEN + 8], const struct policy_net *n)
{
	uint8_t a[16];
	char ip[INET6_ADDRSTRLEN];

	for (unsigned b = 0; b < 128; b++) {
		uint8_t bit = (uint8_t)(0x80 >> (b % 8));

		if (b % 8 == 0)
			a[b / 8] = 0;
		if (b < n->prefix)
			a[b / 8] |= n->addr[b / 8] & bit;
	}
	if (n->v4)
		inet_ntop(AF_INET, a + 12, ip, sizeof(ip));
	else
		inet_ntop(AF_INET6, a, ip, sizeof(ip));
	snprintf(out, INET6_ADDRSTRLEN + 8, "%s/%u", ip, n->prefix - (n->v4 ? 96u : 0u));
	return out;
}

static void report_addr(struct ctx *c, const char *path, const char *s,
			enum addr_err e, const char *expected,
			const struct policy_net *n)
{
	char q[QBUF], net[INET6_ADDRSTRLEN + 8];

	quote(q, s);
	switch (e) {
	case ADDR_OK:
		break;
	case ADDR_SYNTAX:
		errf(c, path, "expected %s, got %s", expected, q);
		break;
	case ADDR_BRACKETS:
		errf(c, path, "IPv6 addresses go in brackets, as in [::1]:5432, got %s", q);
		break;
	case ADDR_PORT:
		errf(c, path, "port must be 1..65535, got %s", q);
		break;
	case ADDR_HOSTNAME:
		errf(c, path, "hostnames are not supported yet; give an IP address or CIDR, got %s", q);
		break;
	case ADDR_BAD_V4:
		errf(c, path, "not a valid IPv4 address: %s", q);
		break;
	case ADDR_BAD_V6:
		errf(c, path, "not a valid IPv6 address: %s", q);
		break;
	case ADDR_PREFIX:
		errf(c, path, "prefix length must be 0..32 for IPv4, 0..128 for IPv6, got %s", q);
		break;
	case ADDR_HOST_BITS:
		errf(c, path, "host bits set beyond the prefix in %s (the network is %s)", q,
		     net_string(net, n));
		break;
	}
}

static void net_to_sockaddr(const struct policy_net *n, struct sockaddr_storage *ss,
			    socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (n->v4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(n->port);
		memcpy(&sin->sin_addr, n->addr + 12, 4);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(n->port);
		memcpy(&sin6->sin6_addr, n->addr, 16);
		*len = sizeof(*sin6);
	}
}

static void default_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct policy_net n;

	parse_addr(s, false, &n);
	net_to_sockaddr(&n, ss, len);
}

/* listen takes IPv4 and listen6 IPv6: the kernel's connect4 and connect6
 * hooks can only rewrite a destination to an address of their own family. */
static void listen_field(struct ctx *c, const cJSON *obj, const char *path,
			 const char *key, bool v6, struct sockaddr_storage *ss,
			 socklen_t *len)
{
	char sub[PATH_LEN];
	const char *s = str_field(c, obj, path, key, OPTIONAL, sub);
	struct policy_net n;
	enum addr_err e;

	if (!s)
		return;
	e = parse_addr(s, false, &n);
	if (e == ADDR_OK && n.v4 == v6)
		e = ADDR_SYNTAX;
	if (e == ADDR_HOSTNAME) {
		errf(c, sub, "expected an IP address, not a hostname");
		return;
	}
	if (e != ADDR_OK) {
		report_addr(c, sub, s, e,
			    v6 ? "[IPV6]:PORT such as [::1]:15001"
			       : "IPV4:PORT such as 127.0.0.1:15001 (IPv6 goes in listen6)",
			    &n);
		return;
	}
	net_to_sockaddr(&n, ss, len);
}

/* ---------------------------------------------------------------- agent */

static void parse_select(struct ctx *c, const cJSON *j, const char *path,
			 struct policy_agent *a)
{
	static const char *const keys[] = { "cgroups", "users", NULL };

	check_keys(c, j, path, keys);
	strv_field(c, j, path, "cgroups", OPTIONAL, check_cgroup, &a->select_cgroups);
	strv_field(c, j, path, "users", OPTIONAL, check_name, &a->select_users);
}

static void agent_default_paths(struct ctx *c, struct policy_agent *a)
{
	size_t n;

	if (!a->state_dir)
		a->state_dir = xdup(c, "/var/lib/sluice");
	if (!a->control_socket)
		a->control_socket = xdup(c, "/run/sluice/control.sock");
	if (!a->bpffs)
		a->bpffs = xdup(c, "/sys/fs/bpf/sluice");
	if (a->recordings_dir || !a->state_dir)
		return;
	n = strlen(a->state_dir);
	while (n > 1 && a->state_dir[n - 1] == '/')
		n--; /* "/srv/sluice/" + "/recordings" */
	a->recordings_dir = malloc(n + sizeof("/recordings"));
	if (!a->recordings_dir) {
		c->oom = true;
		return;
	}
	snprintf(a->recordings_dir, n + sizeof("/recordings"), "%.*s/recordings",
		 (int)n, n == 1 ? "" : a->state_dir);
}

static void parse_agent(struct ctx *c, const cJSON *root, struct policy_agent *a)
{
	static const char *const keys[] = {
		"listen", "listen6", "state_dir", "recordings_dir", "control_socket",
		"bpffs", "fail", "select", "connect_timeout_ms", "setup_timeout_s", "idle_timeout_s",
		"buffer_bytes", "max_message_bytes", "max_sessions", "record_rows",
		"record_stream_bytes", "record_flush_ms", "on_record_failure", "retention_days",
		"mode", "approval_webhook", "token_skew_s", "rotation_warn_days", NULL,
	};
	static const char *const modes[] = { "enforce", "observe", NULL };
	static const char *const fails[] = { "closed", "open", NULL };
	static const char *const record_failures[] = { "block", "continue", NULL };
	char path[PATH_LEN], sub[PATH_LEN], l6[INET6_ADDRSTRLEN + 16];
	const cJSON *j = obj_field(c, root, "$", "agent", OPTIONAL, path), *sel;

	a->connect_timeout_ms = 5000;
	a->setup_timeout_s = 30;
	a->idle_timeout_s = 3600;
	a->buffer_bytes = 65536;
	a->max_message_bytes = 1u << 20;
	a->max_sessions = 10000;
	a->record_rows = 100;
	a->record_stream_bytes = 64u << 10;
	a->record_flush_ms = 1000;
	a->retention_days = 90;
	a->token_skew_s = 60;
	a->rotation_warn_days = 90;
	default_listen("127.0.0.1:15001", &a->listen, &a->listen_len);
	if (j) {
		check_keys(c, j, path, keys);
		listen_field(c, j, path, "listen", false, &a->listen, &a->listen_len);
	}
	snprintf(l6, sizeof(l6), "[::1]:%u",
		 ntohs(((struct sockaddr_in *)&a->listen)->sin_port));
	default_listen(l6, &a->listen6, &a->listen6_len);
	if (j) {
		listen_field(c, j, path, "listen6", true, &a->listen6, &a->listen6_len);
		str_copy(c, j, path, "state_dir", OPTIONAL, check_abs_path, &a->state_dir);
		str_copy(c, j, path, "recordings_dir", OPTIONAL, check_abs_path,
			 &a->recordings_dir);
		str_copy(c, j, path, "control_socket", OPTIONAL, check_sock_path,
			 &a->control_socket);
		str_copy(c, j, path, "bpffs", OPTIONAL, check_abs_path, &a->bpffs);
		a->fail_open = enum_field(c, j, path, "fail", OPTIONAL, fails, 0) == 1;
		sel = obj_field(c, j, path, "select", OPTIONAL, sub);
		if (sel)
			parse_select(c, sel, sub, a);
		/* Timeouts stay below INT_MAX milliseconds, what timers take. */
		a->connect_timeout_ms = uint_field(c, j, path, "connect_timeout_ms", 1,
						   INT_MAX, a->connect_timeout_ms);
		a->setup_timeout_s = uint_field(c, j, path, "setup_timeout_s", 1,
						INT_MAX / 1000, a->setup_timeout_s);
		a->idle_timeout_s = uint_field(c, j, path, "idle_timeout_s", 0,
					       INT_MAX / 1000, a->idle_timeout_s);
		a->buffer_bytes = uint_field(c, j, path, "buffer_bytes", 4096, 16u << 20,
					     a->buffer_bytes);
		a->max_message_bytes = uint_field(c, j, path, "max_message_bytes", 4096,
						  256u << 20, a->max_message_bytes);
		a->max_sessions = uint_field(c, j, path, "max_sessions", 1, 1000000,
					     a->max_sessions);
		a->record_rows = uint_field(c, j, path, "record_rows", 0, 1000000, a->record_rows);
		a->record_stream_bytes = uint_field(c, j, path, "record_stream_bytes", 0,
						    1u << 30, a->record_stream_bytes);
		a->record_flush_ms = uint_field(c, j, path, "record_flush_ms", 10, 60000,
						a->record_flush_ms);
		a->record_continue = enum_field(c, j, path, "on_record_failure", OPTIONAL,
						record_failures, 0) == 1;
		a->retention_days = uint_field(c, j, path, "retention_days", 0, 100000,
					       a->retention_days);
		a->observe = enum_field(c, j, path, "mode", OPTIONAL, modes, 0) == 1;
		str_copy(c, j, path, "approval_webhook", OPTIONAL, check_webhook,
			 &a->approval_webhook);
		a->token_skew_s = uint_field(c, j, path, "token_skew_s", 0, 600, a->token_skew_s);
		a->rotation_warn_days = uint_field(c, j, path, "rotation_warn_days", 1, 100000,
						   a->rotation_warn_days);
	}
	agent_default_paths(c, a);
}

/* ----------------------------------------------------------- identities */

/* "claims": {"sub": "project_path:g/app:ref_type:branch:*", "groups": ["deployers"]} */
static void parse_claims(struct ctx *c, const cJSON *j, const char *path, struct policy_match *m)
{
	size_t n = (size_t)cJSON_GetArraySize(j), i = 0;
	char sub[PATH_LEN];
	const cJSON *v;

	if (!n) {
		errf(c, path, "must not be empty");
		return;
	}
	if (!(m->claims = calloc(n, sizeof(*m->claims)))) {
		c->oom = true;
		return;
	}
	cJSON_ArrayForEach(v, j) {
		struct policy_claim *cl = &m->claims[i++];

		m->nclaims = i;
		cl->name = xdup(c, v->string);
		if (cJSON_IsString(v)) {
			if (!(cl->patterns.v = calloc(1, sizeof(char *)))) {
				c->oom = true;
				return;
			}
			cl->patterns.n = 1;
			cl->patterns.v[0] = xdup(c, v->valuestring);
		} else {
			path_key(sub, path, v->string);
			if (expect(c, v, sub, cJSON_IsArray, "a string or an array of strings"))
				strv_field(c, j, path, v->string, REQUIRED, NULL, &cl->patterns);
		}
	}
}

static void parse_match(struct ctx *c, const cJSON *j, const char *path,
			struct policy_match *m)
{
	static const char *const keys[] = { "cgroup", "unit", "container", "user", "exe", "claims",
					    NULL };
	char sub[PATH_LEN];
	const cJSON *claims;

	check_keys(c, j, path, keys);
	str_copy(c, j, path, "cgroup", OPTIONAL, NULL, &m->cgroup);
	str_copy(c, j, path, "unit", OPTIONAL, NULL, &m->unit);
	str_copy(c, j, path, "container", OPTIONAL, NULL, &m->container);
	str_copy(c, j, path, "user", OPTIONAL, NULL, &m->user);
	str_copy(c, j, path, "exe", OPTIONAL, NULL, &m->exe);
	claims = obj_field(c, j, path, "claims", OPTIONAL, sub);
	if (claims)
		parse_claims(c, claims, sub, m);
}

static struct policy_token *parse_token(struct ctx *c, const cJSON *j, const char *path)
{
	static const char *const keys[] = { "from", "issuer", "audience", "jwks", "required", NULL };
	struct policy_token *t = calloc(1, sizeof(*t));

	if (!t) {
		c->oom = true;
		return NULL;
	}
	check_keys(c, j, path, keys);
	str_copy(c, j, path, "from", REQUIRED, check_token_from, &t->from);
	str_copy(c, j, path, "issuer", OPTIONAL, check_name, &t->issuer);
	str_copy(c, j, path, "audience", OPTIONAL, check_name, &t->audience);
	str_copy(c, j, path, "jwks", REQUIRED, check_abs_path, &t->jwks);
	t->required = bool_field(c, j, path, "required", false);
	return t;
}

static void parse_identity(struct ctx *c, const cJSON *j, const char *path, void *out)
{
	static const char *const keys[] = { "name", "match", "token", "roles", NULL };
	struct policy_identity *id = out;
	char sub[PATH_LEN];
	const cJSON *v;

	check_keys(c, j, path, keys);
	str_copy(c, j, path, "name", REQUIRED, check_name, &id->name);
	v = obj_field(c, j, path, "match", OPTIONAL, sub);
	if (v)
		parse_match(c, v, sub, &id->match);
	v = obj_field(c, j, path, "token", OPTIONAL, sub);
	if (v)
		id->token = parse_token(c, v, sub);
	if (id->token && !id->token->audience && !id->match.nclaims) {
		path_key(sub, path, "token");
		errf(c, sub, "needs \"audience\" or \"match.claims\": without either, any token "
		     "its keys signed would do, for any audience");
	}
	if (id->match.nclaims && !v) {
		char claims[PATH_LEN];

		path_key(sub, path, "match");
		path_key(claims, sub, "claims");
		errf(c, claims, "claims come from a verified token: the identity needs \"token\"");
	}
	strv_field(c, j, path, "roles", REQUIRED, check_name, &id->roles);
}

/* -------------------------------------------------------------- targets */

static void parse_tls(struct ctx *c, const cJSON *j, const char *path,
		      struct policy_target *t)
{
	static const char *const keys[] = { "upstream", "ca", NULL };
	static const char *const modes[] = { "disable", "prefer", "require", "verify-full", NULL };
	char sub[PATH_LEN];
	int k;

	check_keys(c, j, path, keys);
	k = enum_field(c, j, path, "upstream", OPTIONAL, modes, POLICY_TLS_DISABLE);
	if (k >= 0)
		t->tls_upstream = (enum policy_tls_upstream)k;
	str_copy(c, j, path, "ca", OPTIONAL, check_abs_path, &t->tls_ca);
	if (k == POLICY_TLS_VERIFY_FULL && !field(c, j, path, "ca", OPTIONAL, sub))
		errf(c, sub, "required when upstream is \"verify-full\"");
}

static void strv_free(struct policy_strv *s);

/* In the order of enum policy_auth's bits. */
static const char *const auth_methods[] = { "scram-sha-256", "md5", "password", NULL };

static bool check_auth_method(struct ctx *c, const char *path, const char *s)
{
	for (size_t i = 0; auth_methods[i]; i++)
		if (!strcmp(s, auth_methods[i]))
			return true;
	errf(c, path, "expected \"scram-sha-256\", \"md5\" or \"password\"");
	return false;
}

static void parse_credentials(struct ctx *c, const cJSON *j, const char *path,
			      struct policy_target *t)
{
	static const char *const keys[] = { "user", "password_file", "methods", NULL };
	struct policy_strv methods = { 0 };

	check_keys(c, j, path, keys);
	str_copy(c, j, path, "user", OPTIONAL, check_name, &t->cred_user);
	str_copy(c, j, path, "password_file", OPTIONAL, check_abs_path,
		 &t->cred_password_file);
	strv_field(c, j, path, "methods", OPTIONAL, check_auth_method, &methods);
	if (methods.n)
		t->cred_methods = 0;
	for (size_t i = 0; i < methods.n; i++)
		for (size_t m = 0; methods.v[i] && auth_methods[m]; m++)
			if (!strcmp(methods.v[i], auth_methods[m]))
				t->cred_methods |= 1u << m;
	strv_free(&methods);
}

static void parse_target(struct ctx *c, const cJSON *j, const char *path, void *out)
{
	static const char *const keys[] = { "name", "protocol", "address", "tls", "credentials", NULL };
	static const char *const protocols[] = { "tcp", "postgres", NULL };
	struct policy_target *t = out;
	char sub[PATH_LEN];
	const cJSON *v;
	const char *s;
	enum addr_err e;
	int proto;

	t->cred_methods = POLICY_AUTH_SCRAM;
	check_keys(c, j, path, keys);
	str_copy(c, j, path, "name", REQUIRED, check_name, &t->name);
	proto = enum_field(c, j, path, "protocol", REQUIRED, protocols, -1);
	if (proto >= 0)
		t->protocol = (enum policy_protocol)proto;
	s = str_field(c, j, path, "address", REQUIRED, sub);
	if (s) {
		e = parse_addr(s, true, &t->net);
		report_addr(c, sub, s, e, "ADDR:PORT or CIDR:PORT", &t->net);
	}
	/* A byte relay can neither speak TLS nor log in: refuse rather than
	 * let someone believe it does. */
	v = obj_field(c, j, path, "tls", OPTIONAL, sub);
	if (v) {
		if (proto == POLICY_PROTO_TCP)
			errf(c, sub, "only postgres targets take tls");
		parse_tls(c, v, sub, t);
	}
	v = obj_field(c, j, path, "credentials", OPTIONAL, sub);
	if (v) {
		if (proto == POLICY_PROTO_TCP)
			errf(c, sub, "only postgres targets take credentials");
		parse_credentials(c, v, sub, t);
	}
}

/* ------------------------------------------------- cross-entry checks */

_Static_assert(offsetof(struct policy_identity, name) == 0, "name leads");
_Static_assert(offsetof(struct policy_target, name) == 0, "name leads");

static int name_ix_cmp(const void *a, const void *b)
{
	const struct name_ix *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	return d ? d : (x->i > y->i) - (x->i < y->i);
}

static int name_only_cmp(const void *a, const void *b)
{
	return strcmp(((const struct name_ix *)a)->name, ((const struct name_ix *)b)->name);
}

/* The names of n structs of size bytes whose first member is their name,
 * sorted, so that duplicates and lookups cost n log n, not n squared. */
static struct name_ix *index_names(struct ctx *c, const void *base, size_t n,
				   size_t size, size_t *nix)
{
	struct name_ix *ix = n ? calloc(n, sizeof(*ix)) : NULL;
	const char *name;

	*nix = 0;
	if (!ix) {
		c->oom |= n > 0;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		name = *(char *const *)(const void *)((const char *)base + i * size);
		if (name)
			ix[(*nix)++] = (struct name_ix){ name, i };
	}
	qsort(ix, *nix, sizeof(*ix), name_ix_cmp);
	return ix;
}

static void report_duplicates(struct ctx *c, const struct name_ix *ix, size_t nix,
			      size_t n, const char *section, const char *what)
{
	struct name_ix *dup = n ? calloc(n, sizeof(*dup)) : NULL; /* name, first */
	char path[PATH_LEN], q[QBUF];
	size_t start = 0;

	if (!dup) {
		c->oom |= n > 0;
		return;
	}
	for (size_t k = 1; k < nix; k++) {
		if (strcmp(ix[k].name, ix[start].name))
			start = k;
		else
			dup[ix[k].i] = (struct name_ix){ ix[k].name, ix[start].i };
	}
	/* in file order, like every other message */
	for (size_t i = 0; i < n; i++) {
		if (!dup[i].name)
			continue;
		snprintf(path, sizeof(path), "$.%s[%zu].name", section, i);
		errf(c, path, "duplicate %s name %s, first used at $.%s[%zu]", what,
		     quote(q, dup[i].name), section, dup[i].i);
	}
	free(dup);
}

static void check_identity_names(struct ctx *c, const struct policy *p)
{
	size_t nix;
	struct name_ix *ix = index_names(c, p->identities, p->nidentities,
					 sizeof(*p->identities), &nix);

	report_duplicates(c, ix, nix, p->nidentities, "identities", "identity");
	free(ix);
}

static void check_target_names(struct ctx *c, const struct policy *p)
{
	c->targets = index_names(c, p->targets, p->ntargets, sizeof(*p->targets),
				 &c->ntargets);
	c->target_defs = p->targets;
	report_duplicates(c, c->targets, c->ntargets, p->ntargets, "targets", "target");
}

/* The target named name, or NULL (reported unless "targets" is broken). */
static const struct policy_target *check_target_exists(struct ctx *c, const char *path,
						       const char *name)
{
	struct name_ix key = { name, 0 }, *found = NULL;
	char sub[PATH_LEN], q[QBUF];

	if (c->ntargets)
		found = bsearch(&key, c->targets, c->ntargets, sizeof(key), name_only_cmp);
	if (found)
		return &c->target_defs[found->i];
	if (!c->targets_broken) {
		path_key(sub, path, "target");
		errf(c, sub, "no target named %s", quote(q, name));
	}
	return NULL;
}

/* A word of allow/deny/approve must mean something for the target's
 * protocol: a typo in a deny list would otherwise deny nothing. */
static void check_rule_words(struct ctx *c, const char *path, const char *key,
			     const struct policy_strv *words, const struct policy_target *t)
{
	char sub[PATH_LEN], el[PATH_LEN], q[QBUF];

	path_key(sub, path, key);
	for (size_t i = 0; i < words->n; i++) {
		const char *w = words->v[i];

		if (!w || !strcmp(w, "connect"))
			continue;
		path_index(el, sub, i);
		if (t->protocol == POLICY_PROTO_TCP)
			errf(c, el, "%s means nothing for tcp target %s: only \"connect\" does",
			     quote(q, w), t->name);
		else if (sql_class_from_name(w) < 0 && sql_kind_from_name(w) < 0 &&
			 !sql_guard_from_name(w))
			errf(c, el, "%s is not a statement class, kind or guard flag "
			     "(see docs/sql-classes.md)", quote(q, w));
	}
}

/* ---------------------------------------------------------------- rules */

static void parse_mask(struct ctx *c, const cJSON *j, const char *path, void *out)
{
	static const char *const keys[] = { "column", "column_regex", "with", NULL };
	static const char *const withs[] = { "redact", "null", "partial", "hash", NULL };
	struct policy_mask *m = out;
	bool col = cJSON_GetObjectItemCaseSensitive(j, "column");
	bool re = cJSON_GetObjectItemCaseSensitive(j, "column_regex");
	int k;

	check_keys(c, j, path, keys);
	if (col && re)
		errf(c, path, "give either column or column_regex, not both");
	else if (!col && !re)
		errf(c, path, "one of column or column_regex is required");
	str_copy(c, j, path, "column", OPTIONAL, check_column, &m->column);
	str_copy(c, j, path, "column_regex", OPTIONAL, check_regex, &m->column_regex);
	k = enum_field(c, j, path, "with", OPTIONAL, withs, 0);
	m->with = xdup(c, withs[k < 0 ? 0 : k]);
}

static void parse_rule(struct ctx *c, const cJSON *j, const char *path, void *out)
{
	static const char *const keys[] = { "target", "roles", "allow", "deny", "approve", "mask",
					    "approvers", "timeout", "mode", "on_deny", NULL };
	static const char *const modes[] = { "enforce", "observe", NULL };
	static const char *const on_deny[] = { "refuse", "kill_job", "freeze_job", NULL };
	const struct policy_target *t = NULL;
	struct policy_rule *r = out;
	int mode, deny_action;

	check_keys(c, j, path, keys);
	str_copy(c, j, path, "target", REQUIRED, check_name, &r->target);
	if (r->target)
		t = check_target_exists(c, path, r->target);
	strv_field(c, j, path, "roles", REQUIRED, check_name, &r->roles);
	strv_field(c, j, path, "allow", OPTIONAL, check_action, &r->allow);
	strv_field(c, j, path, "deny", OPTIONAL, check_action, &r->deny);
	strv_field(c, j, path, "approve", OPTIONAL, check_action, &r->approve);
	if (t) {
		check_rule_words(c, path, "allow", &r->allow, t);
		check_rule_words(c, path, "deny", &r->deny, t);
		check_rule_words(c, path, "approve", &r->approve, t);
	}
	r->mask = list_field(c, j, path, "mask", sizeof(*r->mask), parse_mask, &r->nmask);
	strv_field(c, j, path, "approvers", OPTIONAL, check_name, &r->approvers);
	r->timeout_s = duration_field(c, j, path, "timeout", 1, 86400, 300);
	mode = enum_field(c, j, path, "mode", OPTIONAL, modes, -2);
	r->mode = mode == -2 ? POLICY_MODE_INHERIT : mode == 1 ? POLICY_MODE_OBSERVE
									: POLICY_MODE_ENFORCE;
	deny_action = enum_field(c, j, path, "on_deny", OPTIONAL, on_deny, 0);
	r->on_deny = deny_action > 0 ? (enum policy_on_deny)deny_action : POLICY_ON_DENY_REFUSE;
}

/* ------------------------------------------------------------- document */

static size_t skip_ws(const char *b, size_t off, size_t len)
{
	while (off < len && (b[off] == ' ' || b[off] == '\t' || b[off] == '\n' || b[off] == '\r'))
		off++;
	return off;
}

/* The offset of the first "\u0000" escape inside a string of a valid JSON
 * text, or len. cJSON would cut the string there without a word, so
 * "agent\u0000x" would pass for "agent". */
static size_t find_nul_escape(const char *b, size_t len)
{
	bool in = false;

	for (size_t i = 0; i < len; i++) {
		if (b[i] == '"') {
			in = !in;
		} else if (in && b[i] == '\\' && i + 1 < len) {
			if (b[i + 1] == 'u' && i + 5 < len && !memcmp(b + i + 2, "0000", 4))
				return i;
			i++;
		}
	}
	return len;
}

static void report_syntax(struct ctx *c, const char *b, size_t off, const char *why)
{
	size_t line = 1, col = 1;

	for (size_t i = 0; i < off; i++) {
		if (b[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	errf(c, "$", "not valid JSON near line %zu column %zu%s", line, col, why);
}

/* Comments ("//" to the end of the line, and "/" "*" to "*" "/") become
 * spaces, newlines kept, so that error positions stay those of the file.
 * Strings are left alone. Returns the offset of a comment left open, or
 * len. */
static size_t blank_comments(char *s, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		if (in_string) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_string = false;
		} else if (s[i] == '"') {
			in_string = true;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '/') {
			for (; i < len && s[i] != '\n'; i++)
				s[i] = ' ';
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			size_t start = i;

			for (s[i++] = ' ', s[i++] = ' '; i < len && !(s[i] == '*' && i + 1 < len &&
								     s[i + 1] == '/'); i++)
				if (s[i] != '\n')
					s[i] = ' ';
			if (i >= len)
				return start;
			s[i] = s[i + 1] = ' ';
			i++;
		}
	}
	return len;
}

static cJSON *parse_json(struct ctx *c, const char *text, size_t len)
{
	const char *end = NULL, *nul;
	char *buf = NULL;
	cJSON *root = NULL;
	size_t off;

	if (len > POLICY_MAX_BYTES) {
		errf(c, "$", "larger than 16 MiB");
		return NULL;
	}
	nul = memchr(text, '\0', len);
	if (nul) {
		report_syntax(c, text, (size_t)(nul - text), ": NUL byte");
		return NULL;
	}
	if (!(buf = malloc(len + 1))) {
		c->oom = true;
		return NULL;
	}
	memcpy(buf, text, len);
	if ((off = blank_comments(buf, len)) < len) {
		report_syntax(c, text, off, ": comment not closed");
		goto out;
	}
	if (skip_ws(buf, 0, len) == len) {
		errf(c, "$", "empty document; expected a JSON object");
		goto out;
	}
	/* The offset comes back through end, the same one cJSON_GetErrorPtr()
	 * gives, but without cJSON's global error state. */
	root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (!root) {
		off = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
		report_syntax(c, text, off, "");
		goto out;
	}
	off = skip_ws(buf, (size_t)(end - buf), len);
	if (off < len)
		report_syntax(c, text, off, ": unexpected data after the document");
	else if ((off = find_nul_escape(buf, len)) < len)
		report_syntax(c, text, off, ": \\u0000 in a string is not supported");
	else
		goto out;
	cJSON_Delete(root);
	root = NULL;
out:
	free(buf);
	return root;
}

static void parse_document(struct ctx *c, const cJSON *root, struct policy *p)
{
	static const char *const keys[] = { "agent", "identities", "targets", "rules", NULL };
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(root, "targets");

	if (!expect(c, root, "$", cJSON_IsObject, "an object"))
		return;
	check_keys(c, root, "$", keys);
	parse_agent(c, root, &p->agent);
	p->identities = list_field(c, root, "$", "identities", sizeof(*p->identities),
				   parse_identity, &p->nidentities);
	check_identity_names(c, p);
	p->targets = list_field(c, root, "$", "targets", sizeof(*p->targets), parse_target,
				&p->ntargets);
	check_target_names(c, p);
	/* With "targets" itself broken, every rule would cry "no target". */
	c->targets_broken = targets && !cJSON_IsArray(targets);
	p->rules = list_field(c, root, "$", "rules", sizeof(*p->rules), parse_rule,
			      &p->nrules);
}

struct policy *policy_parse(const char *buf, size_t len, struct policy_errors *errs)
{
	struct ctx c = { .errs = errs };
	struct policy *p = NULL;
	cJSON *root = parse_json(&c, buf, len);

	if (root) {
		p = calloc(1, sizeof(*p));
		if (p)
			parse_document(&c, root, p);
		else
			c.oom = true;
		cJSON_Delete(root);
	}
	free(c.targets);
	if (c.oom)
		errf(&c, "$", "out of memory");
	if (c.nerr == 0)
		return p;
	policy_free(p);
	return NULL;
}

/* The whole file, up to POLICY_MAX_BYTES; reads pipes too. */
static int read_file(const char *path, char **out, size_t *out_len)
{
	size_t cap = 0, len = 0;
	char *buf = NULL, *nb;
	ssize_t r;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > POLICY_MAX_BYTES + 1)
				cap = POLICY_MAX_BYTES + 1;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : 0;
			break;
		}
		len += (size_t)r;
		if (len > POLICY_MAX_BYTES) {
			rc = -EFBIG;
			break;
		}
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

struct policy *policy_load(const char *path, struct policy_errors *errs)
{
	struct ctx c = { .errs = errs };
	struct policy *p;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (!path)
		path = "";
	rc = read_file(path, &buf, &len);
	if (rc == -EFBIG) {
		errf(&c, path, "cannot read: larger than 16 MiB");
		return NULL;
	}
	if (rc) {
		errf(&c, path, "cannot read: %s", strerror(-rc));
		return NULL;
	}
	p = policy_parse(buf, len, errs);
	free(buf);
	return p;
}

/* ------------------------------------------------------------- freeing */

static void strv_free(struct policy_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static void identity_free(struct policy_identity *id)
{
	free(id->name);
	free(id->match.cgroup);
	free(id->match.unit);
	free(id->match.container);
	free(id->match.user);
	free(id->match.exe);
	for (size_t i = 0; i < id->match.nclaims; i++) {
		free(id->match.claims[i].name);
		strv_free(&id->match.claims[i].patterns);
	}
	free(id->match.claims);
	if (id->token) {
		free(id->token->from);
		free(id->token->issuer);
		free(id->token->audience);
		free(id->token->jwks);
		free(id->token);
	}
	strv_free(&id->roles);
}

static void target_free(struct policy_target *t)
{
	free(t->name);
	free(t->tls_ca);
	free(t->cred_user);
	free(t->cred_password_file);
}

static void rule_free(struct policy_rule *r)
{
	free(r->target);
	strv_free(&r->roles);
	strv_free(&r->allow);
	strv_free(&r->deny);
	strv_free(&r->approve);
	strv_free(&r->approvers);
	for (size_t i = 0; i < r->nmask; i++) {
		free(r->mask[i].column);
		free(r->mask[i].column_regex);
		free(r->mask[i].with);
	}
	free(r->mask);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->agent.state_dir);
	free(p->agent.recordings_dir);
	free(p->agent.approval_webhook);
	free(p->agent.control_socket);
	free(p->agent.bpffs);
	strv_free(&p->agent.select_cgroups);
	strv_free(&p->agent.select_users);
	for (size_t i = 0; i < p->nidentities; i++)
		identity_free(&p->identities[i]);
	free(p->identities);
	for (size_t i = 0; i < p->ntargets; i++)
		target_free(&p->targets[i]);
	free(p->targets);
	for (size_t i = 0; i < p->nrules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	free(p);
}

void policy_errors_clear(struct policy_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msg[i]);
	free(errs->msg);
	errs->msg = NULL;
	errs->n = 0;
}

void policy_errors_add(struct policy_errors *errs, const char *fmt, ...)
{
	char **v = realloc(errs->msg, (errs->n + 1) * sizeof(*v));
	va_list ap;
	int n;

	if (!v)
		return;
	errs->msg = v;
	va_start(ap, fmt);
	n = vasprintf(&v[errs->n], fmt, ap);
	va_end(ap);
	if (n >= 0)
		errs->n++;
}

/* -------------------------------------------------------------- queries */

bool policy_net_contains(const struct policy_net *net, const uint8_t addr[16],
			 uint16_t port)
{
	unsigned bits, full, rest;

	if (!net || !addr || port != net->port)
		return false;
	bits = net->prefix > 128 ? 128 : net->prefix;
	full = bits / 8;
	rest = bits % 8;
	if (memcmp(net->addr, addr, full))
		return false;
	return !rest || !((net->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

const struct policy_target *policy_find_target(const struct policy *p,
					       const uint8_t addr[16], uint16_t port)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->ntargets; i++)
		if (policy_net_contains(&p->targets[i].net, addr, port))
			return &p->targets[i];
	return NULL;
}

/* An unknown fact (NULL, or "" as identity.c leaves it) matches no
 * pattern, not even "*": a job must not pass for what we could not see. */
static bool glob_ok(const char *pattern, const char *fact)
{
	if (!pattern)
		return true;
	return fact && *fact && fnmatch(pattern, fact, 0) == 0;
}

static bool user_ok(const char *pattern, const struct policy_facts *f)
{
	char uid[24];

	if (!pattern || glob_ok(pattern, f->user))
		return true;
	if (f->uid == (uid_t)-1)
		return false;
	snprintf(uid, sizeof(uid), "%ju", (uintmax_t)f->uid);
	return fnmatch(pattern, uid, 0) == 0;
}

const struct policy_identity *policy_match_identity(const struct policy *p,
						    const struct policy_facts *f)
{
	const struct policy_match *m;

	if (!p || !f)
		return NULL;
	for (size_t i = 0; i < p->nidentities; i++) {
		m = &p->identities[i].match;
		if (policy_match_facts(m, f))
			return &p->identities[i];
	}
	return NULL;
}

bool policy_match_facts(const struct policy_match *m, const struct policy_facts *f)
{
	return glob_ok(m->cgroup, f->cgroup) && glob_ok(m->unit, f->unit) &&
	       glob_ok(m->container, f->container) && glob_ok(m->exe, f->exe) &&
	       user_ok(m->user, f);
}

/* A claim value as text: strings as they are, numbers and booleans as in
 * JSON; anything else (objects, null) matches nothing. */
static const char *claim_text(const cJSON *v, char *buf, size_t size)
{
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	if (cJSON_IsNumber(v)) {
		snprintf(buf, size, "%.17g", v->valuedouble);
		return buf;
	}
	return NULL;
}

/* Does the claim (or, for an array, one of its elements) match pattern? */
static bool claim_meets(const cJSON *claim, const char *pattern)
{
	const cJSON *e;
	char buf[32];

	if (!cJSON_IsArray(claim))
		return glob_ok(pattern, claim_text(claim, buf, sizeof(buf)));
	cJSON_ArrayForEach(e, claim)
		if (glob_ok(pattern, claim_text(e, buf, sizeof(buf))))
			return true;
	return false;
}

bool policy_match_claims(const struct policy_match *m, const cJSON *claims)
{
	for (size_t i = 0; i < m->nclaims; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, m->claims[i].name);

		if (!v)
			return false;
		for (size_t k = 0; k < m->claims[i].patterns.n; k++)
			if (!m->claims[i].patterns.v[k] || !claim_meets(v, m->claims[i].patterns.v[k]))
				return false;
	}
	return true;
}

static bool strv_has(const struct policy_strv *s, const char *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] && !strcmp(s->v[i], v))
			return true;
	return false;
}

static bool roles_meet(const struct policy_strv *rule, const struct policy_strv *roles)
{
	if (!roles || roles->n == 0)
		return false;
	if (strv_has(rule, "*"))
		return true;
	for (size_t i = 0; i < roles->n; i++)
		if (roles->v[i] && strv_has(rule, roles->v[i]))
			return true;
	return false;
}

enum rule_list { LIST_ALLOW, LIST_DENY, LIST_APPROVE };

static const struct policy_strv *rule_list(const struct policy_rule *r, enum rule_list l)
{
	return l == LIST_DENY ? &r->deny : l == LIST_APPROVE ? &r->approve : &r->allow;
}

bool policy_rule_applies(const struct policy_rule *r, const char *target,
			 const struct policy_strv *roles)
{
	return r->target && target && !strcmp(r->target, target) && roles_meet(&r->roles, roles);
}

/* The first rule for target and roles whose list l holds action, or -1. */
static int first_listing(const struct policy *p, const char *target,
			 const struct policy_strv *roles, const char *action,
			 enum rule_list l)
{
	for (size_t i = 0; i < p->nrules && i <= INT_MAX; i++)
		if (policy_rule_applies(&p->rules[i], target, roles) &&
		    strv_has(rule_list(&p->rules[i], l), action))
			return (int)i;
	return -1;
}

/* deny beats approve beats allow (DESIGN.md). Approvals are not built yet,
 * so an action that needs one is refused, naming the rule that asks. */
bool policy_allows(const struct policy *p, const char *target,
		   const struct policy_strv *roles, const char *action,
		   int *rule_index)
{
	int deny = -1, approve = -1, allow = -1;

	if (p && target && action) {
		deny = first_listing(p, target, roles, action, LIST_DENY);
		approve = first_listing(p, target, roles, action, LIST_APPROVE);
		allow = first_listing(p, target, roles, action, LIST_ALLOW);
	}
	if (rule_index)
		*rule_index = deny >= 0 ? deny : approve >= 0 ? approve : allow;
	return deny < 0 && approve < 0 && allow >= 0;
}

int policy_rule_for(const struct policy *p, const char *target,
		    const struct policy_strv *roles)
{
	for (size_t i = 0; p && i < p->nrules && i <= INT_MAX; i++)
		if (policy_rule_applies(&p->rules[i], target, roles))
			return (int)i;
	return -1;
}

int policy_mask_regcomp(const struct policy_mask *m, regex_t *re)
{
	if (!m || !m->column_regex || !re)
		return -EINVAL;
	return compile_regex(re, m->column_regex) ? -EINVAL : 0;
}
