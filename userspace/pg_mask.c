// SPDX-License-Identifier: Apache-2.0
/* pg_mask: mask rules and row rewriting. See pg_mask.h. */
#include "pg_mask.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "keyfile.h"
#include "log.h"
#include "policy.h"

#define KEY_BYTES 32
#define HASH_TEXT_LEN 18 /* "h:" and 16 hex digits */
#define PARTIAL_SHOWN 4  /* characters shown at most */

/* Type OIDs whose text and binary forms are the characters themselves. */
#define OID_NAME 19
#define OID_TEXT 25
#define OID_UNKNOWN 705
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043

struct compiled_mask {
	const struct policy_mask *m;
	const char *table;   /* "table" of "table.column", or NULL */
	const char *column;  /* the column part, or NULL for a regex */
	size_t table_len;
	bool has_re;
	regex_t re;
	enum pg_mask_method method;
};

struct pg_masks {
	size_t n;
	const struct compiled_mask *m[];
};

struct pg_mask_rules {
	const struct policy *policy;
	struct compiled_mask *masks; /* every mask of every rule, in file order */
	size_t n;
	size_t *first;               /* rule i's masks start at masks[first[i]] */
};

/* The host's mask key: hashed values stay the same across restarts and
 * reloads, and a guess cannot be checked without it. Loaded once. */
static struct {
	uint8_t bytes[KEY_BYTES];
	bool loaded;
} mask_key;

static enum pg_mask_method method_of(const char *with)
{
	if (!with || !strcmp(with, "redact"))
		return PG_MASK_REDACT;
	if (!strcmp(with, "null"))
		return PG_MASK_NULL;
	if (!strcmp(with, "partial"))
		return PG_MASK_PARTIAL;
	return PG_MASK_HASH;
}

void pg_mask_fini(void)
{
	OPENSSL_cleanse(&mask_key, sizeof(mask_key));
}

void pg_mask_rules_free(struct pg_mask_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (r->masks[i].has_re)
			regfree(&r->masks[i].re);
	free(r->masks);
	free(r->first);
	free(r);
}

static int compile(struct compiled_mask *c, const struct policy_mask *m)
{
	const char *dot;

	c->m = m;
	c->method = method_of(m->with);
	if (m->column_regex) {
		if (policy_mask_regcomp(m, &c->re))
			return -EINVAL;
		c->has_re = true;
	} else if ((dot = strchr(m->column, '.'))) {
		c->table = m->column;
		c->table_len = (size_t)(dot - m->column);
		c->column = dot + 1;
	} else {
		c->column = m->column;
	}
	return 0;
}

int pg_mask_rules_new(const struct policy *p, struct pg_mask_rules **out)
{
	struct pg_mask_rules *r = calloc(1, sizeof(*r));
	size_t total = 0;
	int err = -ENOMEM;

	for (size_t i = 0; i < p->nrules; i++)
		total += p->rules[i].nmask;
	if (!r || !(r->masks = calloc(total + 1, sizeof(*r->masks))) ||
	    !(r->first = calloc(p->nrules + 1, sizeof(*r->first))))
		goto fail;
	r->policy = p;
	for (size_t i = 0; i < p->nrules; i++) {
		r->first[i] = r->n;
		for (size_t j = 0; j < p->rules[i].nmask; j++) {
			if ((err = compile(&r->masks[r->n], &p->rules[i].mask[j])))
				goto fail;
			r->n++;
		}
	}
	r->first[p->nrules] = r->n;
	if (r->n && !mask_key.loaded) {
		if (keyfile_load(p->agent.state_dir, "mask.key", mask_key.bytes,
				 sizeof(mask_key.bytes))) {
			log_err("masking: no usable mask key in %s", p->agent.state_dir);
			err = -EINVAL;
			goto fail;
		}
		mask_key.loaded = true;
	}
	*out = r;
	return 0;
fail:
	pg_mask_rules_free(r);
	return err;
}

struct pg_masks *pg_masks_new(const struct pg_mask_rules *r, const char *target,
			      const struct policy_strv *roles, int *err)
{
	const struct policy *p = r->policy;
	struct pg_masks *m;
	size_t n = 0;

	*err = 0;
	for (size_t i = 0; i < p->nrules; i++)
		if (policy_rule_applies(&p->rules[i], target, roles))
			n += r->first[i + 1] - r->first[i];
	if (!n)
		return NULL;
	m = calloc(1, sizeof(*m) + n * sizeof(m->m[0]));
	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < p->nrules; i++)
		if (policy_rule_applies(&p->rules[i], target, roles))
			for (size_t k = r->first[i]; k < r->first[i + 1]; k++)
				m->m[m->n++] = &r->masks[k];
	return m;
}

void pg_masks_free(struct pg_masks *m)
{
	free(m);
}

static bool table_is(const struct compiled_mask *c, const char *table)
{
	return !table || (strlen(table) == c->table_len && !memcmp(c->table, table, c->table_len));
}

enum pg_mask_method pg_masks_column(const struct pg_masks *m, const char *table,
				    const char *column)
{
	enum pg_mask_method best = PG_MASK_NONE;

	for (size_t i = 0; m && column && i < m->n; i++) {
		const struct compiled_mask *c = m->m[i];
		bool hit;

		if (c->has_re)
			hit = regexec(&c->re, column, 0, NULL, 0) == 0;
		else
			hit = !strcmp(c->column, column) && (!c->table || table_is(c, table));
		if (hit && c->method > best)
			best = c->method;
	}
	return best;
}

enum pg_mask_method pg_masks_strongest(const struct pg_masks *m)
{
	enum pg_mask_method best = PG_MASK_NONE;

	for (size_t i = 0; m && i < m->n; i++)
		if (m->m[i]->method > best)
			best = m->m[i]->method;
	return best;
}

bool pg_masks_table(const struct pg_masks *m, const char *table)
{
	for (size_t i = 0; m && i < m->n; i++)
		if (!m->m[i]->table || table_is(m->m[i], table))
			return true;
	return false;
}

/* ------------------------------------------------------------------ rows */

static bool is_text_type(uint32_t type)
{
	return type == OID_TEXT || type == OID_VARCHAR || type == OID_BPCHAR ||
	       type == OID_NAME || type == OID_UNKNOWN;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

/* Write the masked form of v[0, len) at out; its length, or -1 for NULL. */
static int32_t mask_value(const struct pg_mask_col *c, const uint8_t *v, size_t len, uint8_t *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t chars = 0, shown, at = 0;

	if (c->method == PG_MASK_NULL || !is_text_type(c->type))
		return -1;
	switch (c->method) {
	case PG_MASK_REDACT:
		memcpy(out, "***", 3);
		return 3;
	case PG_MASK_HASH: {
		uint8_t mac[EVP_MAX_MD_SIZE];
		unsigned maclen = 0;

		HMAC(EVP_sha256(), mask_key.bytes, sizeof(mask_key.bytes), v, len, mac, &maclen);
		memcpy(out, "h:", 2);
		for (int i = 0; i < 8; i++) {
			out[2 + 2 * i] = (uint8_t)hex[mac[i] >> 4];
			out[3 + 2 * i] = (uint8_t)hex[mac[i] & 15];
		}
		return HASH_TEXT_LEN;
	}
	default: /* partial: by characters, so UTF-8 stays whole */
		for (size_t i = 0; i < len; i++)
			chars += (v[i] & 0xc0) != 0x80;
		shown = chars / 3 < PARTIAL_SHOWN ? chars / 3 : PARTIAL_SHOWN;
		for (size_t i = 0, ch = 0; i < len; i++) {
			bool starts = (v[i] & 0xc0) != 0x80;

			ch += starts;
			if (ch > chars - shown)
				out[at++] = v[i];
			else if (starts)
				out[at++] = '*';
		}
		return (int32_t)at;
	}
}

size_t pg_mask_row_max(const struct pg_mask_plan *plan, size_t len)
{
	return 5 + len + (size_t)plan->n * HASH_TEXT_LEN;
}

int pg_mask_row(const struct pg_mask_plan *plan, const uint8_t *body, size_t len, uint8_t *out,
		size_t cap, size_t *outlen)
{
	const uint8_t *p = body, *end = body + len;
	size_t at = 5;
	uint16_t n;

	if (len < 2 || cap < pg_mask_row_max(plan, len))
		return len < 2 ? -EBADMSG : -ENOBUFS;
	n = (uint16_t)(p[0] << 8 | p[1]);
	if (n != plan->n)
		return -EBADMSG;
	memcpy(out + at, p, 2);
	at += 2;
	p += 2;
	for (uint16_t i = 0; i < n; i++) {
		int32_t vlen, mlen;

		if (end - p < 4)
			return -EBADMSG;
		vlen = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
		p += 4;
		if (vlen < -1 || (vlen > 0 && end - p < vlen))
			return -EBADMSG;
		if (plan->col[i].method == PG_MASK_NONE || vlen < 0) {
			memcpy(out + at, p - 4, 4 + (size_t)(vlen > 0 ? vlen : 0));
			at += 4 + (size_t)(vlen > 0 ? vlen : 0);
		} else {
			mlen = mask_value(&plan->col[i], p, (size_t)vlen, out + at + 4);
			put_be32(out + at, (uint32_t)mlen);
			at += 4 + (size_t)(mlen > 0 ? mlen : 0);
		}
		p += vlen > 0 ? vlen : 0;
	}
	if (p != end)
		return -EBADMSG;
	out[0] = 'D';
	put_be32(out + 1, (uint32_t)(at - 1));
	*outlen = at;
	return 0;
}
