// SPDX-License-Identifier: Apache-2.0
/* json_out: one-line JSON objects. See json_out.h. */
#include "json_out.h"

#include <string.h>

#define CUT_MARK "..."
#define RESERVE 256 /* closing brackets and a count of what was left out */

static void put(struct json_out *j, const char *s, size_t n)
{
	text_put(&j->out, s, n);
}

static void put_uint(struct json_out *j, uint64_t v, bool negative);

/* What string bytes may still take, after the closing reserve. */
static size_t room(const struct json_out *j)
{
	size_t len = j->out.len;

	return len + RESERVE < j->budget ? j->budget - len - RESERVE : 0;
}

/* Valid UTF-8 without NUL: what a JSON string can hold as it is. */
static bool is_text(const uint8_t *s, size_t n)
{
	uint32_t cp;

	for (size_t i = 0, k; i < n; i += k)
		if (!(k = utf8_char(s + i, n - i, &cp)) || !cp)
			return false;
	return true;
}

static void separator(struct json_out *j, const char *key)
{
	uint32_t bit = 1u << j->depth;

	if (j->has_items & bit)
		put(j, ",", 1);
	j->has_items |= bit;
	if (key) {
		put(j, "\"", 1);
		put(j, key, strlen(key)); /* keys are the agent's own words */
		put(j, "\":", 2);
	}
}

/* The string body of text s, escaped, cut to fit max output bytes. */
static void put_text(struct json_out *j, const uint8_t *s, size_t n, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t used = 0, run = 0; /* plain bytes from run on are not put yet */

	for (size_t i = 0, k; i < n; i += k) {
		char esc[8];
		size_t elen;
		uint32_t cp;
		bool plain;

		k = utf8_char(s + i, n - i, &cp);
		plain = k > 1 || (s[i] >= 0x20 && s[i] != 0x7f && s[i] != '"' && s[i] != '\\');
		elen = plain ? k : s[i] == '"' || s[i] == '\\' ? 2 : 6;
		if (used + elen + sizeof(CUT_MARK) > max && i + k < n) {
			put(j, (const char *)s + run, i - run);
			put(j, CUT_MARK, sizeof(CUT_MARK) - 1);
			return;
		}
		used += elen;
		if (plain)
			continue;
		put(j, (const char *)s + run, i - run);
		run = i + k;
		if (elen == 2) {
			esc[0] = '\\', esc[1] = (char)s[i];
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[s[i] >> 4], esc[5] = hex[s[i] & 15];
		}
		put(j, esc, elen);
	}
	put(j, (const char *)s + run, n - run);
}

static void put_hex(struct json_out *j, const uint8_t *s, size_t n, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t fit = max > 4 + sizeof(CUT_MARK) ? (max - 4 - sizeof(CUT_MARK)) / 2 : 0;

	put(j, "\\\\x", 3);
	for (size_t i = 0; i < n && i < fit; i++) {
		char h[2] = { hex[s[i] >> 4], hex[s[i] & 15] };

		put(j, h, 2);
	}
	if (n > fit)
		put(j, CUT_MARK, sizeof(CUT_MARK) - 1);
}

void json_out_begin(struct json_out *j, size_t budget)
{
	text_clear(&j->out);
	j->out.failed = false;
	j->budget = budget;
	j->depth = 0;
	j->has_items = 0;
	j->arrays = 0;
	j->dropped = 0;
	j->bad = false;
	put(j, "{", 1);
}

const char *json_out_end(struct json_out *j)
{
	while (j->depth > 0)
		json_out_close(j);
	/* Written past the budget: the reserve is kept for it. */
	if (j->dropped) {
		separator(j, "items_left_out");
		put_uint(j, j->dropped, false);
	}
	put(j, "}", 1);
	return j->bad || j->out.failed ? NULL : j->out.s;
}

void json_out_free(struct json_out *j)
{
	text_free(&j->out);
}

/* Is there room for another value? If not it is left out, and counted. */
static bool admit(struct json_out *j)
{
	if (room(j) > 0)
		return true;
	j->dropped++;
	return false;
}

void json_out_bytes(struct json_out *j, const char *key, const void *s, size_t n, size_t max)
{
	size_t fit = room(j);

	if (!admit(j))
		return;
	separator(j, key);
	if (max > fit)
		max = fit;
	put(j, "\"", 1);
	if (is_text(s, n))
		put_text(j, s, n, max);
	else
		put_hex(j, s, n, max);
	put(j, "\"", 1);
}

void json_out_hex(struct json_out *j, const char *key, const void *s, size_t n, size_t max)
{
	size_t fit = room(j);

	if (!admit(j))
		return;
	separator(j, key);
	put(j, "\"", 1);
	put_hex(j, s, n, max < fit ? max : fit);
	put(j, "\"", 1);
}

void json_out_ascii(struct json_out *j, const char *key, const char *s, size_t n)
{
	if (!admit(j) || n > room(j))
		return;
	separator(j, key);
	put(j, "\"", 1);
	put(j, s, n);
	put(j, "\"", 1);
}

void json_out_str(struct json_out *j, const char *key, const char *s)
{
	json_out_bytes(j, key, s, strlen(s), SIZE_MAX);
}

/* Digits of v, without printf's machinery: events carry several numbers. */
static void put_uint(struct json_out *j, uint64_t v, bool negative)
{
	char num[24], *p = num + sizeof(num);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10));
	if (negative)
		*--p = '-';
	put(j, p, (size_t)(num + sizeof(num) - p));
}

void json_out_int(struct json_out *j, const char *key, int64_t v)
{
	if (!admit(j))
		return;
	separator(j, key);
	put_uint(j, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void json_out_uint(struct json_out *j, const char *key, uint64_t v)
{
	if (!admit(j))
		return;
	separator(j, key);
	put_uint(j, v, false);
}

void json_out_bool(struct json_out *j, const char *key, bool v)
{
	if (!admit(j))
		return;
	separator(j, key);
	put(j, v ? "true" : "false", v ? 4 : 5);
}

void json_out_null(struct json_out *j, const char *key)
{
	if (!admit(j))
		return;
	separator(j, key);
	put(j, "null", 4);
}

void json_out_raw(struct json_out *j, const char *key, const char *json)
{
	size_t n = strlen(json);

	if (!admit(j) || n > room(j)) {
		j->dropped += n > 0;
		return;
	}
	separator(j, key);
	put(j, json, n);
}

void json_out_open(struct json_out *j, const char *key, char bracket)
{
	if (j->depth + 1 >= JSON_OUT_DEPTH) {
		j->bad = true;
		return;
	}
	separator(j, key);
	put(j, &bracket, 1);
	j->depth++;
	j->has_items &= ~(1u << j->depth);
	if (bracket == '[')
		j->arrays |= 1u << j->depth;
	else
		j->arrays &= ~(1u << j->depth);
}

void json_out_close(struct json_out *j)
{
	if (!j->depth) {
		j->bad = true;
		return;
	}
	put(j, j->arrays & (1u << j->depth) ? "]" : "}", 1);
	j->depth--;
}
