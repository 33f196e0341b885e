// SPDX-License-Identifier: Apache-2.0
/* pg_wire: PostgreSQL v3 framing, readers and builders. See pg_wire.h. */
#include "pg_wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int pg_frame(const uint8_t *buf, size_t avail, size_t max, struct pg_msg *m)
{
	uint32_t len;

	if (avail < 5)
		return 0;
	len = be32(buf + 1);
	if (len < 4)
		return -EBADMSG;
	if ((size_t)len + 1 > max)
		return -EMSGSIZE;
	if (avail < (size_t)len + 1)
		return 0;
	m->type = buf[0];
	m->body_len = len - 4;
	m->body = buf + 5;
	m->total = (size_t)len + 1;
	return 1;
}

int pg_frame_startup(const uint8_t *buf, size_t avail, size_t max, uint32_t *code,
		     struct pg_msg *m)
{
	uint32_t len;

	if (avail < 8)
		return 0;
	len = be32(buf);
	if (len < 8)
		return -EBADMSG;
	if (len > max)
		return -EMSGSIZE;
	if (avail < len)
		return 0;
	*code = be32(buf + 4);
	m->type = 0;
	m->body_len = len - 8;
	m->body = buf + 8;
	m->total = len;
	return 1;
}

bool pg_frontend_type_known(uint8_t type)
{
	return type && strchr("QPBDECSHFdcfXp", type);
}

bool pg_backend_type_known(uint8_t type)
{
	return type && strchr("RKSZTDCENA123nstIGHWdcVv", type);
}

static const uint8_t *take(struct pg_reader *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return p;
}

uint8_t pg_get_u8(struct pg_reader *r)
{
	const uint8_t *p = take(r, 1);

	return p ? p[0] : 0;
}

int16_t pg_get_i16(struct pg_reader *r)
{
	const uint8_t *p = take(r, 2);

	return p ? (int16_t)((uint16_t)p[0] << 8 | p[1]) : 0;
}

int32_t pg_get_i32(struct pg_reader *r)
{
	const uint8_t *p = take(r, 4);

	return p ? (int32_t)be32(p) : 0;
}

const char *pg_get_str(struct pg_reader *r)
{
	const uint8_t *nul;

	if (r->bad || !(nul = memchr(r->p, 0, (size_t)(r->end - r->p)))) {
		r->bad = true;
		return "";
	}
	return (const char *)take(r, (size_t)(nul - r->p) + 1);
}

const uint8_t *pg_get_bytes(struct pg_reader *r, size_t n)
{
	return take(r, n);
}

static void put(struct pg_builder *b, const void *p, size_t n)
{
	if (b->bad || b->cap - b->len < n) {
		b->bad = true;
		return;
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void pg_begin(struct pg_builder *b, uint8_t type)
{
	static const uint8_t zero_len[4];

	if (type)
		put(b, &type, 1);
	b->msg_start = b->len;
	put(b, zero_len, 4);
}

void pg_put_u8(struct pg_builder *b, uint8_t v)
{
	put(b, &v, 1);
}

void pg_put_i16(struct pg_builder *b, int16_t v)
{
	uint8_t p[2] = { (uint8_t)((uint16_t)v >> 8), (uint8_t)v };

	put(b, p, 2);
}

void pg_put_i32(struct pg_builder *b, int32_t v)
{
	uint32_t u = (uint32_t)v;
	uint8_t p[4] = { (uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u };

	put(b, p, 4);
}

void pg_put_str(struct pg_builder *b, const char *s)
{
	put(b, s, strlen(s) + 1);
}

void pg_put_bytes(struct pg_builder *b, const void *p, size_t n)
{
	put(b, p, n);
}

void pg_end(struct pg_builder *b)
{
	uint32_t len;

	if (b->bad)
		return;
	len = (uint32_t)(b->len - b->msg_start);
	b->buf[b->msg_start] = (uint8_t)(len >> 24);
	b->buf[b->msg_start + 1] = (uint8_t)(len >> 16);
	b->buf[b->msg_start + 2] = (uint8_t)(len >> 8);
	b->buf[b->msg_start + 3] = (uint8_t)len;
}

void pg_put_error(struct pg_builder *b, uint8_t type, const char *severity,
		  const char *sqlstate, const char *message, int position)
{
	char pos[16];


	pg_begin(b, type);
	pg_put_u8(b, 'S');
	pg_put_str(b, severity);
	pg_put_u8(b, 'V');
	pg_put_str(b, severity);
	pg_put_u8(b, 'C');
	pg_put_str(b, sqlstate);
	pg_put_u8(b, 'M');
	pg_put_str(b, message);
	if (position > 0) {
		snprintf(pos, sizeof(pos), "%d", position);
		pg_put_u8(b, 'P');
		pg_put_str(b, pos);
	}
	pg_put_u8(b, 0);
	pg_end(b);
}

const char *pg_error_field(const struct pg_msg *m, char field)
{
	struct pg_reader r = pg_reader_of(m);

	for (;;) {
		uint8_t f = pg_get_u8(&r);
		const char *v;

		if (r.bad || f == 0)
			return NULL;
		v = pg_get_str(&r);
		if (r.bad)
			return NULL;
		if (f == (uint8_t)field)
			return v;
	}
}
