/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_out: one JSON object written on one line, into a reusable buffer:
 * the agent's recording events.
 *
 * Strings from outside (statement text, result values, names a job chose)
 * are escaped; bytes that are not valid UTF-8 are written as a "\x" and hex
 * string, as PostgreSQL shows a bytea. A budget bounds the line: a long
 * string is cut (ending in "...") to what is left, so one event never
 * outgrows what a recording chunk takes. Containers nest up to
 * JSON_OUT_DEPTH deep. Errors (no memory, too deep) are sticky: json_out_end()
 * then returns NULL.
 */
#ifndef SLUICE_JSON_OUT_H
#define SLUICE_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

#define JSON_OUT_DEPTH 16

struct json_out {
	struct text out;
	size_t budget;            /* the most out may reach, closing included */
	unsigned depth;
	uint32_t has_items;       /* bit d: container at depth d has an item */
	uint32_t arrays;          /* bit d: container at depth d is an array */
	size_t dropped;           /* values left out for want of room */
	bool bad;                 /* too deep, or unbalanced */
};

/* Start an object of at most budget bytes (reusing j's buffer). */
void json_out_begin(struct json_out *j, size_t budget);

/* Close every open container; the line (no newline), or NULL on error.
 * Valid until the next json_out_begin(). */
const char *json_out_end(struct json_out *j);

void json_out_free(struct json_out *j);

/* Members: key is the name inside an object, NULL inside an array. */
void json_out_str(struct json_out *j, const char *key, const char *s);
/* n bytes of s, at most max of them (cut at a character boundary). */
void json_out_bytes(struct json_out *j, const char *key, const void *s, size_t n, size_t max);
/* n bytes the caller knows need no escape (base64): put as they are, or
 * not at all when they do not fit. */
void json_out_ascii(struct json_out *j, const char *key, const char *s, size_t n);
/* n bytes as a "\x" and hex string, whatever they are. */
void json_out_hex(struct json_out *j, const char *key, const void *s, size_t n, size_t max);
void json_out_int(struct json_out *j, const char *key, int64_t v);
void json_out_uint(struct json_out *j, const char *key, uint64_t v);
void json_out_bool(struct json_out *j, const char *key, bool v);
void json_out_null(struct json_out *j, const char *key);
void json_out_open(struct json_out *j, const char *key, char bracket); /* '{' or '[' */
/* A value already JSON (cJSON's output): as it is, or left out whole when
 * it does not fit. */
void json_out_raw(struct json_out *j, const char *key, const char *json);
void json_out_close(struct json_out *j);

#endif
