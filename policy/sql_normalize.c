// SPDX-License-Identifier: Apache-2.0
/* sql_normalize: constants out, by the lexer. See sql_normalize.h. */
#include "sql_normalize.h"

#include <errno.h>
#include <pg_query.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_classify.h"

/* Token numbers of libpg_query's pg_query.proto (enum Token): the
 * generated C header needs protobuf-c's, which sluice does not depend on,
 * and the scan result is read below with a few lines of protobuf. */
enum {
	TOKEN_FCONST = 260,
	TOKEN_SCONST = 261,
	TOKEN_USCONST = 262,
	TOKEN_BCONST = 263,
	TOKEN_XCONST = 264,
	TOKEN_ICONST = 266,
	TOKEN_PARAM = 267,
	TOKEN_SQL_COMMENT = 275,
	TOKEN_C_COMMENT = 276,
};

struct token {
	uint32_t start, end, kind;
};

struct pb {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t varint(struct pb *b)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64 && b->p < b->end; shift += 7) {
		uint8_t c = *b->p++;

		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	b->bad = true;
	return 0;
}

/* Skip a field of wire type wt. */
static void skip(struct pb *b, unsigned wt)
{
	uint64_t n;

	switch (wt) {
	case 0: varint(b); break;
	case 1: n = 8; goto ahead;
	case 5: n = 4; goto ahead;
	case 2:
		n = varint(b);
	ahead:
		if (n > (uint64_t)(b->end - b->p))
			b->bad = true;
		else
			b->p += n;
		break;
	default:
		b->bad = true;
	}
}

/* ScanToken { int32 start = 1; int32 end = 2; Token token = 4; ... } */
static struct token read_token(const uint8_t *p, size_t len, bool *bad)
{
	struct pb b = { p, p + len, false };
	struct token t = { 0 };

	while (b.p < b.end && !b.bad) {
		uint64_t key = varint(&b);
		unsigned field = (unsigned)(key >> 3), wt = key & 7;

		if (wt == 0 && (field == 1 || field == 2 || field == 4)) {
			uint32_t v = (uint32_t)varint(&b);

			*(field == 1 ? &t.start : field == 2 ? &t.end : &t.kind) = v;
		} else {
			skip(&b, wt);
		}
	}
	*bad |= b.bad;
	return t;
}

/* The tokens of ScanResult { int32 version = 1; repeated ScanToken tokens = 2; }. */
static int read_tokens(const PgQueryProtobuf *pbuf, struct token **out, size_t *n)
{
	struct pb b = { (const uint8_t *)pbuf->data, (const uint8_t *)pbuf->data + pbuf->len, false };
	size_t cap = 0;
	struct token *v = NULL;

	*n = 0;
	while (b.p < b.end && !b.bad) {
		uint64_t key = varint(&b), len;

		if ((key >> 3) != 2 || (key & 7) != 2) {
			skip(&b, key & 7);
			continue;
		}
		len = varint(&b);
		if (b.bad || len > (uint64_t)(b.end - b.p))
			break;
		if (*n == cap) {
			struct token *grown = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!grown) {
				free(v);
				return -ENOMEM;
			}
			v = grown;
		}
		v[(*n)++] = read_token(b.p, (size_t)len, &b.bad);
		b.p += len;
	}
	if (b.bad || b.p != b.end) {
		free(v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static bool is_constant(uint32_t kind)
{
	return kind == TOKEN_FCONST || kind == TOKEN_SCONST || kind == TOKEN_USCONST ||
	       kind == TOKEN_BCONST || kind == TOKEN_XCONST || kind == TOKEN_ICONST;
}

static bool spacing(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\n\r\f\v", s[i]) || !s[i])
			return false;
	return true;
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + 1 >= o->cap)
		return;
	if (n > o->cap - 1 - o->len)
		n = o->cap - 1 - o->len;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

int sql_normalize(const char *text, char *out, size_t outlen)
{
	size_t len = strlen(text), ntok = 0, at = 0;
	struct out o = { out, 0, outlen };
	PgQueryScanResult r;
	struct token *tok = NULL;
	unsigned long next = 1;
	int err;

	if (outlen)
		out[0] = '\0';
	if (len > SQL_MAX_TEXT)
		return -E2BIG;
	r = pg_query_scan(text);
	err = r.error ? -EINVAL : read_tokens(&r.pbuf, &tok, &ntok);
	pg_query_free_scan_result(r);
	if (err)
		return err;
	/* New parameters are numbered after those the text has. */
	for (size_t i = 0; i < ntok; i++) {
		if (tok[i].kind == TOKEN_PARAM && tok[i].start + 1 < tok[i].end && tok[i].end <= len) {
			unsigned long n = strtoul(text + tok[i].start + 1, NULL, 10);

			if (n >= next)
				next = n + 1;
		}
	}
	for (size_t i = 0; i < ntok; i++) {
		const struct token *t = &tok[i];
		char param[24];

		/* Between tokens there is only spacing: anything else would be
		 * copied unread. */
		if (t->start < at || t->end > len || t->start > t->end ||
		    !spacing(text + at, t->start - at))
			break;
		put(&o, text + at, t->start - at);
		if (is_constant(t->kind)) {
			/* A parameter against a name would lex as one token. */
			if (o.len && word_char(o.p[o.len - 1]))
				put(&o, " ", 1);
			put(&o, param, (size_t)snprintf(param, sizeof(param), "$%lu", next++));
			if (t->end < len && word_char(text[t->end]))
				put(&o, " ", 1);
		}
		else if (t->kind == TOKEN_SQL_COMMENT || t->kind == TOKEN_C_COMMENT)
			put(&o, " ", 1);
		else
			put(&o, text + t->start, t->end - t->start);
		at = t->end;
	}
	free(tok);
	if (at == len || spacing(text + at, len - at)) {
		put(&o, text + at, len - at);
		return 0;
	}
	if (outlen)
		out[0] = '\0'; /* half a text would show what it stopped at */
	return -EINVAL;
}
