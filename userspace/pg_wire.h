/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_wire: the PostgreSQL v3 wire format, shared by the client and server
 * sides of the postgres module. No I/O, no allocation, no state.
 *
 * Framing looks at the header first and answers "whole message here", "need
 * more" or "malformed", with a hard bound on length, so a lying length field
 * can neither allocate nor stall. Readers and builders carry a sticky
 * failure bit: chain the calls, check once.
 * Return convention: framing returns 1 (a message), 0 (need more) or a
 * negative errno; readers and builders report through ->bad.
 */
#ifndef SLUICE_PG_WIRE_H
#define SLUICE_PG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_PROTOCOL_3_0   196608u   /* 3 << 16 */
#define PG_CANCEL_REQUEST 80877102u
#define PG_SSL_REQUEST    80877103u
#define PG_GSSENC_REQUEST 80877104u

/* Authentication request codes ('R'). */
enum pg_auth_code {
	PG_AUTH_OK = 0,
	PG_AUTH_CLEARTEXT = 3,
	PG_AUTH_MD5 = 5,
	PG_AUTH_SASL = 10,
	PG_AUTH_SASL_CONTINUE = 11,
	PG_AUTH_SASL_FINAL = 12,
};

/* A typed message: type byte, int32 length (counting itself), body. */
struct pg_msg {
	uint8_t type;
	uint32_t body_len;     /* length field - 4 */
	const uint8_t *body;
	size_t total;          /* 1 + length field: bytes on the wire */
};

/* Frame one typed message at buf[0, avail). max bounds the whole message. */
int pg_frame(const uint8_t *buf, size_t avail, size_t max, struct pg_msg *m);

/* Frame one untyped startup-phase packet (int32 length, int32 code, body):
 * StartupMessage, SSLRequest, GSSENCRequest, CancelRequest. */
int pg_frame_startup(const uint8_t *buf, size_t avail, size_t max, uint32_t *code,
		     struct pg_msg *m);

/* Is type a message a frontend (client) may send after startup? */
bool pg_frontend_type_known(uint8_t type);
/* Is type a message a backend (server) may send? */
bool pg_backend_type_known(uint8_t type);

struct pg_reader {
	const uint8_t *p, *end;
	bool bad;
};

static inline struct pg_reader pg_reader_of(const struct pg_msg *m)
{
	return (struct pg_reader){ m->body, m->body + m->body_len, false };
}

uint8_t pg_get_u8(struct pg_reader *r);
int16_t pg_get_i16(struct pg_reader *r);
int32_t pg_get_i32(struct pg_reader *r);
/* A NUL-terminated string inside the body, or "" (and bad) if unterminated. */
const char *pg_get_str(struct pg_reader *r);
/* n raw bytes, or NULL (and bad). */
const uint8_t *pg_get_bytes(struct pg_reader *r, size_t n);

/* A builder writes messages into a caller's buffer. */
struct pg_builder {
	uint8_t *buf;
	size_t cap, len;
	size_t msg_start;  /* where the open message's length field sits */
	bool bad;          /* out of room: nothing more is written */
};

static inline struct pg_builder pg_builder_on(uint8_t *buf, size_t cap)
{
	return (struct pg_builder){ buf, cap, 0, 0, false };
}

/* Open a typed message (type 0: an untyped startup packet). */
void pg_begin(struct pg_builder *b, uint8_t type);
void pg_put_u8(struct pg_builder *b, uint8_t v);
void pg_put_i16(struct pg_builder *b, int16_t v);
void pg_put_i32(struct pg_builder *b, int32_t v);
void pg_put_str(struct pg_builder *b, const char *s);   /* with its NUL */
void pg_put_bytes(struct pg_builder *b, const void *p, size_t n);
/* Close the open message: writes its length. */
void pg_end(struct pg_builder *b);

/* ErrorResponse (or NoticeResponse with type 'N'): severity, SQLSTATE,
 * message, and the 1-based character position of a syntax error (0: none). */
void pg_put_error(struct pg_builder *b, uint8_t type, const char *severity,
		  const char *sqlstate, const char *message, int position);

/* Find a field (e.g. 'M' message, 'C' code) of an ErrorResponse or
 * NoticeResponse body; NULL when absent. */
const char *pg_error_field(const struct pg_msg *m, char field);

#endif
