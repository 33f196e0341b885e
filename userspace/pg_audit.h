/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_audit: what a PostgreSQL session leaves in its recording and in
 * journald: the login, each statement with its decision, and the answers
 * the job received (columns, rows up to agent.record_rows per statement,
 * command tags, errors) with how long they took.
 *
 * Everything is taken as the job gets it, after masking. A statement's
 * text is recorded with its constants replaced (sql_normalize.h): a
 * literal may be a secret whatever the policy masks. Bound parameters are
 * recorded for plain reads and writes without function calls, and only in
 * sessions that mask nothing.
 * Event loop only: not thread-safe.
 */
#ifndef SLUICE_PG_AUDIT_H
#define SLUICE_PG_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "pg_judge.h"
#include "pg_track.h"
#include "pg_wire.h"

struct session;

#define PG_AUDIT_ROW_MAX (64u << 10) /* the largest row read whole to be recorded */

/* Per session: the answer now arriving. */
struct pg_audit {
	uint32_t seq;          /* the statement it answers */
	uint32_t rows;         /* rows of it recorded */
	uint32_t result_rows;  /* of those, in its current result */
	bool skipped;          /* a row of its current result was too large */
	unsigned bound;        /* agent.record_rows */
};

void pg_audit_init(struct pg_audit *a, const struct session *s);

/* Authenticated to the target. */
void pg_audit_login(struct session *s, const char *user, const char *database,
		    const char *auth);

/* Statement st was judged r (journald and recording); masking: the
 * session masks columns. */
void pg_audit_statement(struct session *s, const struct pg_statement *st,
			const struct pg_ruling *r, bool masking);

/* Should the next DataRow (len bytes), answering statement seq, be read
 * whole to be recorded? Rows over PG_AUDIT_ROW_MAX are not: they stream,
 * and the result counts them as left out. */
bool pg_audit_frames_row(struct pg_audit *a, const struct session *s, uint32_t seq,
			 size_t len);

/* A message from the server as the job receives it (RowDescription,
 * DataRow, CommandComplete, EmptyQueryResponse, PortalSuspended,
 * ErrorResponse), answering res. */
void pg_audit_answer(struct session *s, struct pg_audit *a, const struct pg_track_result *res,
		     const struct pg_msg *m);

/* The statement with its constants replaced (a function call as its oid),
 * cut to size; NULL when the lexer rejects it. */
const char *pg_audit_normalized(const struct pg_statement *st, char *buf, size_t size);

/* Free what is kept between sessions (at exit, for leak checkers). */
void pg_audit_fini(void);

#endif
