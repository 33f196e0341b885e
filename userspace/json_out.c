// SPDX-License-Identifier: Apache-2.0
/* json_out: one-line JSON objects. See json_out.h. */
#include "json_out.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CUT_MARK "..."
#define RESERVE (JSON_OUT_DEPTH + 8) /* closing brackets, always writable */

static bool grow(struct json_out *j, size_t more)
{
	size_t cap = j->cap ? j->cap : 1024;
	char *p;

	if (j->bad)
		return false;
	if (j->len + more + 1 <= j->cap)
		return true;
	while (cap < j->len + more + 1)
		cap *= 2;
	if (!(p = realloc(j->buf, cap))) {
		j->bad = true;
		return false;
	}
	j->buf = p;
	j->cap = cap;
	return true;
}

static void put(struct json_out *j, const char *s, size_t n)
{
	if (!grow(j, n))
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

/* What string bytes may still take, after the closing reserve. */
static size_t room(const struct json_out *j)
{
	return j->len + RESERVE < j->budget ? j->budget - j->len - RESERVE : 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return s[0] ? 1 : 0;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not text. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static bool is_text(const uint8_t *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if (!(k = utf8_len(s + i, n - i)))
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
	size_t used = 0;

	for (size_t i = 0, k; i < n; i += k) {
		char esc[8];
		size_t elen;

		k = utf8_len(s + i, n - i);
		if (k > 1) {
			memcpy(esc, s + i, k);
			elen = k;
		} else if (s[i] == '"' || s[i] == '\\') {
			esc[0] = '\\', esc[1] = (char)s[i], elen = 2;
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[s[i] >> 4], esc[5] = hex[s[i] & 15], elen = 6;
		} else {
			esc[0] = (char)s[i], elen = 1;
		}
		if (used + elen + sizeof(CUT_MARK) > max && i + k < n) {
			put(j, CUT_MARK, sizeof(CUT_MARK) - 1);
			return;
		}
		put(j, esc, elen);
		used += elen;
	}
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
	j->len = 0;
	j->budget = budget;
	j->depth = 0;
	j->has_items = 0;
	j->arrays = 0;
	j->bad = false;
	put(j, "{", 1);
}

const char *json_out_end(struct json_out *j)
{
	while (j->depth > 0)
		json_out_close(j);
	put(j, "}", 1);
	return j->bad ? NULL : j->buf;
}

void json_out_free(struct json_out *j)
{
	free(j->buf);
	*j = (struct json_out){ 0 };
}

void json_out_bytes(struct json_out *j, const char *key, const void *s, size_t n, size_t max)
{
	size_t fit = room(j);

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

	separator(j, key);
	put(j, "\"", 1);
	put_hex(j, s, n, max < fit ? max : fit);
	put(j, "\"", 1);
}

void json_out_str(struct json_out *j, const char *key, const char *s)
{
	json_out_bytes(j, key, s, strlen(s), SIZE_MAX);
}

void json_out_int(struct json_out *j, const char *key, int64_t v)
{
	char num[24];

	separator(j, key);
	put(j, num, (size_t)snprintf(num, sizeof(num), "%" PRId64, v));
}

void json_out_uint(struct json_out *j, const char *key, uint64_t v)
{
	char num[24];

	separator(j, key);
	put(j, num, (size_t)snprintf(num, sizeof(num), "%" PRIu64, v));
}

void json_out_bool(struct json_out *j, const char *key, bool v)
{
	separator(j, key);
	put(j, v ? "true" : "false", v ? 4 : 5);
}

void json_out_null(struct json_out *j, const char *key)
{
	separator(j, key);
	put(j, "null", 4);
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
