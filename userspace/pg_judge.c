// SPDX-License-Identifier: Apache-2.0
/* pg_judge: SQL rulings for a PostgreSQL session. See pg_judge.h. */
#include "pg_judge.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "hash.h"
#include "policy.h"
#include "sql_classify.h"

#define CACHE_BUCKETS 8192 /* power of two, one per entry at the bound */
#define PREPARED_BUCKETS 256

/* ------------------------------------------------------------- the cache */

struct cached {
	uint64_t hash;
	char *key;            /* the text, or the 8 bytes of a fingerprint */
	size_t key_len;
	struct sql_verdict v;
	struct cached *chain;
	TAILQ_ENTRY(cached) lru;
};

TAILQ_HEAD(cached_lru, cached);

struct vcache {
	struct cached **buckets;
	unsigned count;
	size_t bytes;
	struct cached_lru lru; /* most recently used first */
};

static struct vcache by_text = { .lru = TAILQ_HEAD_INITIALIZER(by_text.lru) };
static struct vcache by_fingerprint = { .lru = TAILQ_HEAD_INITIALIZER(by_fingerprint.lru) };

static struct cached **cache_slot(struct vcache *c, const void *key, size_t len, uint64_t h)
{
	struct cached **p = &c->buckets[h & (CACHE_BUCKETS - 1)];

	for (; *p; p = &(*p)->chain)
		if ((*p)->hash == h && (*p)->key_len == len && !memcmp((*p)->key, key, len))
			return p;
	return p;
}

static const struct sql_verdict *cache_get(struct vcache *c, const void *key, size_t len)
{
	struct cached *e;

	if (!c->buckets)
		return NULL;
	e = *cache_slot(c, key, len, hash_bytes(key, len));
	if (!e)
		return NULL;
	TAILQ_REMOVE(&c->lru, e, lru);
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	return &e->v;
}

static void cache_evict(struct vcache *c, struct cached *e)
{
	struct cached **p = cache_slot(c, e->key, e->key_len, e->hash);

	*p = e->chain;
	TAILQ_REMOVE(&c->lru, e, lru);
	c->count--;
	c->bytes -= e->key_len;
	sql_verdict_free(&e->v);
	free(e->key);
	free(e);
}

/* Keep v (taken over, left empty) under key; on failure v stays the
 * caller's. Returns the cached verdict or NULL. */
static const struct sql_verdict *cache_put(struct vcache *c, const void *key, size_t len,
					   struct sql_verdict *v)
{
	struct cached *e;

	if (len > PG_JUDGE_CACHE_TEXT_MAX)
		return NULL;
	if (!c->buckets && !(c->buckets = calloc(CACHE_BUCKETS, sizeof(*c->buckets))))
		return NULL;
	while (c->count && (c->count >= PG_JUDGE_CACHE_ENTRIES ||
			    c->bytes + len > PG_JUDGE_CACHE_BYTES))
		cache_evict(c, TAILQ_LAST(&c->lru, cached_lru));
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = malloc(len ? len : 1))) {
		free(e);
		return NULL;
	}
	memcpy(e->key, key, len);
	e->key_len = len;
	e->hash = hash_bytes(key, len);
	e->v = *v;
	*v = (struct sql_verdict){ 0 };
	e->chain = NULL;
	*cache_slot(c, key, len, e->hash) = e;
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->count++;
	c->bytes += len;
	return &e->v;
}

static void cache_clear(struct vcache *c)
{
	while (!TAILQ_EMPTY(&c->lru))
		cache_evict(c, TAILQ_FIRST(&c->lru));
	free(c->buckets);
	c->buckets = NULL;
}

void pg_judge_cache_clear(void)
{
	cache_clear(&by_text);
	cache_clear(&by_fingerprint);
}

/* The verdict for text: cached, or classified now into *fresh (which the
 * caller frees). NULL with fresh->error set when it does not classify. */
static const struct sql_verdict *classify(const char *text, struct sql_verdict *fresh,
					  int *err)
{
	size_t len = strlen(text);
	const struct sql_verdict *v = cache_get(&by_text, text, len), *shared;
	uint64_t fp = 0;
	bool have_fp;

	*err = 0;
	if (v)
		return v;
	have_fp = len <= PG_JUDGE_CACHE_TEXT_MAX && !sql_fingerprint(text, &fp, NULL, 0);
	if (have_fp && (shared = cache_get(&by_fingerprint, &fp, sizeof(fp))))
		return shared;
	*err = sql_classify(text, fresh);
	if (*err)
		return NULL;
	if (have_fp && fresh->n == 1 && !(fresh->stmts[0].flags & SQL_F_NO_SHARE)) {
		struct sql_verdict copy;

		if (!sql_verdict_copy(fresh, &copy) &&
		    !cache_put(&by_fingerprint, &fp, sizeof(fp), &copy))
			sql_verdict_free(&copy);
	}
	v = cache_put(&by_text, text, len, fresh);
	return v ? v : fresh;
}

/* ------------------------------------------------- prepared (SQL PREPARE) */

/* What a prepared statement does, joined over every PREPARE of its name in
 * the session: a PREPARE the server rejects (the name was taken) or a
 * DEALLOCATE that fails can then never make EXECUTE look weaker than what
 * the server holds. */
struct prepared {
	char *name;
	uint32_t classes, flags;
	uint64_t kinds;
	struct prepared *next;
};

struct pg_judge {
	struct sql_rules rules;
	const char *identity;
	const char *target;
	char unsafe[160];           /* a setting the classifier cannot follow, or "" */
	unsigned hold;              /* ReadyForQuery still due before statements
				       are read under known settings again */
	struct sql_verdict fresh;   /* the latest verdict the cache did not take */
	struct prepared **prepared; /* PREPARED_BUCKETS chains, made on first use */
	unsigned nprepared;
};

static struct prepared *prepared_find(const struct pg_judge *j, const char *name)
{
	if (!j->prepared)
		return NULL;
	for (struct prepared *p = j->prepared[hash_str(name) & (PREPARED_BUCKETS - 1)];
	     p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static int prepared_note(struct pg_judge *j, const struct sql_stmt *st)
{
	struct prepared *p = prepared_find(j, st->name);
	size_t h = hash_str(st->name) & (PREPARED_BUCKETS - 1);

	if (!p) {
		if (j->nprepared >= PG_JUDGE_MAX_PREPARED)
			return -ENOSPC;
		if (!j->prepared && !(j->prepared = calloc(PREPARED_BUCKETS, sizeof(*j->prepared))))
			return -ENOMEM;
		p = calloc(1, sizeof(*p));
		if (!p || !(p->name = strdup(st->name))) {
			free(p);
			return -ENOMEM;
		}
		p->next = j->prepared[h];
		j->prepared[h] = p;
		j->nprepared++;
	}
	p->classes |= st->classes | (1u << st->cls);
	p->kinds |= st->kinds;
	p->flags |= st->flags & ~(SQL_F_NEEDS_PREPARED | SQL_F_NO_SHARE);
	return 0;
}

/* ----------------------------------------------------------------- rulings */

struct pg_judge *pg_judge_new(const struct policy *p, const struct policy_target *t,
			      const struct policy_identity *id)
{
	struct pg_judge *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	sql_rules_compile(p, t->name, id ? &id->roles : NULL, &j->rules);
	j->identity = id ? id->name : "(none)";
	j->target = t->name;
	return j;
}

void pg_judge_free(struct pg_judge *j)
{
	if (!j)
		return;
	for (unsigned b = 0; j->prepared && b < PREPARED_BUCKETS; b++) {
		while (j->prepared[b]) {
			struct prepared *p = j->prepared[b];

			j->prepared[b] = p->next;
			free(p->name);
			free(p);
		}
	}
	free(j->prepared);
	sql_verdict_free(&j->fresh);
	free(j);
}

void pg_judge_setting(struct pg_judge *j, const char *name, const char *value)
{
	if (!sql_setting_safe(name, value))
		snprintf(j->unsafe, sizeof(j->unsafe), "%.60s = %.60s", name, value);
	else if (j->unsafe[0] && !strncmp(j->unsafe, name, strlen(name)) &&
		 j->unsafe[strlen(name)] == ' ')
		j->unsafe[0] = '\0'; /* set back to a value we can follow */
}

void pg_judge_hold(struct pg_judge *j, unsigned n)
{
	if (n > j->hold)
		j->hold = n;
}

void pg_judge_ready(struct pg_judge *j)
{
	if (j->hold)
		j->hold--;
}

bool pg_judge_changes_lexing(const struct pg_ruling *r)
{
	for (size_t i = 0; r->verdict && i < r->verdict->n; i++)
		if ((r->verdict->stmts[i].flags & SQL_F_LEXING) ||
		    r->verdict->stmts[i].kind == SQL_KIND_DISCARD)
			return true;
	return false;
}

static void refuse(struct pg_ruling *out, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse(struct pg_ruling *out, const char *sqlstate, const char *fmt, ...)
{
	va_list ap;

	if (out->decision == SQL_ALLOW)
		out->decision = SQL_DENY;
	out->sqlstate = sqlstate;
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

/* The words of the ruling for the job. */
static void explain(const struct pg_judge *j, struct pg_ruling *out)
{
	char where[48] = "";

	if (out->message[0])
		return; /* said already, more precisely */
	if (out->nstmts > 1)
		snprintf(where, sizeof(where), " (statement %zu of %zu)", out->stmt + 1, out->nstmts);
	if (out->decision == SQL_DENY && out->rule >= 0)
		refuse(out, "42501", "sluice: %s%s denied by policy rule %d (deny \"%s\")",
		       out->kind, where, out->rule, out->word);
	else if (out->decision == SQL_DENY)
		refuse(out, "42501", "sluice: %s%s denied: no rule allows class \"%s\" to "
		       "identity \"%s\" on target \"%s\"", out->kind, where, out->word,
		       j->identity, j->target);
	else if (out->decision == SQL_APPROVE)
		refuse(out, "42501", "sluice: %s%s needs approval under policy rule %d "
		       "(approve \"%s\")", out->kind, where, out->rule, out->word);
}

/* Judge one statement into out if it is more severe than what out holds. */
static void judge_stmt(struct pg_judge *j, const struct sql_stmt *st, size_t i,
		       struct pg_ruling *out)
{
	struct sql_stmt joined = *st;
	struct sql_judgement r;

	if (st->flags & SQL_F_NEEDS_PREPARED) {
		const struct prepared *p = prepared_find(j, st->name);

		if (!p) {
			/* The server has no such statement either (every PREPARE
			 * passes here); refuse rather than guess. */
			if (out->decision != SQL_DENY || i == 0) {
				out->decision = SQL_DENY;
				out->rule = -1;
				out->word = "execute";
				out->cls = sql_class_name(st->cls);
				out->kind = "execute";
				out->stmt = i;
				refuse(out, "42501", "sluice: EXECUTE of \"%s\", which was not prepared "
				       "in this session, is denied", st->name);
			}
			return;
		}
		joined.classes |= p->classes;
		joined.kinds |= p->kinds;
		joined.flags |= p->flags;
		for (int c = SQL_CLASS_COUNT - 1; c >= 0; c--)
			if (joined.classes & (1u << c)) {
				joined.cls = (enum sql_class)(c > (int)joined.cls ? c : (int)joined.cls);
				break;
			}
	}
	sql_rules_judge(&j->rules, &joined, &r);
	if (i == 0 || r.decision > out->decision) {
		out->decision = r.decision;
		out->rule = r.rule;
		out->word = r.word;
		out->cls = sql_class_name(joined.cls);
		out->kind = sql_kind_name(joined.kind);
		out->stmt = i;
	}
}

void pg_judge_sql(struct pg_judge *j, const char *text, struct pg_ruling *out)
{
	struct sql_verdict *fresh = &j->fresh;
	const struct sql_verdict *v;
	int err;

	sql_verdict_free(fresh);
	*out = (struct pg_ruling){ .decision = SQL_ALLOW, .rule = -1, .cls = "", .kind = "" };
	if (j->unsafe[0]) {
		refuse(out, "42501", "sluice: statements are refused while the session has %s: "
		       "sluice could not read them as the server does", j->unsafe);
		return;
	}
	if (j->hold) {
		refuse(out, "42501", "sluice: statement sent before the server answered a change "
		       "of standard_conforming_strings or client_encoding; send it after the "
		       "answer");
		return;
	}
	v = classify(text, fresh, &err);
	if (!v) {
		if (err == -EINVAL) {
			refuse(out, "42601", "%s", fresh->error);
			out->position = fresh->error_pos;
		} else if (err == -E2BIG) {
			refuse(out, "54001", "sluice: statement too large or too deeply nested to "
			       "judge: %s", fresh->error);
		} else {
			refuse(out, "53200", "sluice: out of memory judging the statement");
		}
		out->word = "unparseable";
		return;
	}
	out->verdict = v;
	out->nstmts = v->n;
	for (size_t i = 0; i < v->n; i++) {
		const struct sql_stmt *st = &v->stmts[i];

		judge_stmt(j, st, i, out);
		/* Noted even if the string is refused: notes only add, so an
		 * EXECUTE can only be judged stricter for it. */
		if (st->kind == SQL_KIND_PREPARE && st->name[0] && prepared_note(j, st)) {
			refuse(out, "54000", "sluice: too many prepared statements in this session "
			       "(%d)", PG_JUDGE_MAX_PREPARED);
			out->word = "prepare";
			break;
		}
	}
	explain(j, out);
}

void pg_judge_classify(struct pg_judge *j, const char *text)
{
	int err;

	/* What the cache does not keep would be classified again at Execute. */
	if (strnlen(text, PG_JUDGE_CACHE_TEXT_MAX + 1) > PG_JUDGE_CACHE_TEXT_MAX)
		return;
	sql_verdict_free(&j->fresh);
	classify(text, &j->fresh, &err);
}

void pg_judge_function_call(struct pg_judge *j, struct pg_ruling *out)
{
	struct sql_stmt st = { .cls = SQL_CLASS_ADMIN, .kind = SQL_KIND_OTHER,
			       .classes = 1u << SQL_CLASS_ADMIN, .kinds = 1ull << SQL_KIND_OTHER };

	*out = (struct pg_ruling){ .decision = SQL_ALLOW, .rule = -1, .nstmts = 1 };
	judge_stmt(j, &st, 0, out);
	out->kind = "function call";
	explain(j, out);
}
