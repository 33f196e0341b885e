/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_track: what a PostgreSQL session does, as statement events.
 *
 * Fed every whole message of the session in order, it keeps the prepared
 * statements and portals of the extended protocol and reports, to an
 * observer, each statement as it is executed (its text, the protocol path
 * it came by, statement and portal names, bound parameters), each result's
 * columns (RowDescription) and each command tag. Policy, masking and the
 * recorder hook in here; today the agent logs the events (debug level).
 * Pointers in events are valid during the callback only.
 * Requests the server has not answered yet are queued (Parse, Bind,
 * Describe, Execute, Close, Sync, Query), so each answer is matched to its
 * request, and a statement the observer refuses is answered by the error
 * it chose, in its place in the stream.
 * Bounds: MAX_STATEMENTS prepared statements and portals per session,
 * PG_TRACK_MAX_PENDING requests in flight.
 * Return convention: 0 or a negative errno (-EBADMSG malformed, -ENOSPC a
 * bound was hit); either way the session cannot be followed any more.
 */
#ifndef SLUICE_PG_TRACK_H
#define SLUICE_PG_TRACK_H

#include <stdint.h>

#include "pg_wire.h"

#define PG_TRACK_MAX_STATEMENTS 10000
#define PG_TRACK_MAX_PENDING    100000

enum pg_path {
	PG_PATH_QUERY,     /* simple query: Query */
	PG_PATH_EXTENDED,  /* Parse -> Bind -> Execute */
	PG_PATH_FUNCTION,  /* FunctionCall */
};

struct pg_param {
	int32_t len;          /* -1: NULL */
	const uint8_t *value;
	int16_t format;       /* 0 text, 1 binary */
};

struct pg_statement {
	enum pg_path path;
	const char *text;      /* the SQL; NULL when the portal is unknown */
	const char *statement; /* prepared statement name, "" unnamed; NULL for Query */
	const char *portal;    /* portal name; NULL for Query */
	uint16_t nparams;
	const struct pg_param *params;
	uint32_t function_oid; /* PG_PATH_FUNCTION */
};

struct pg_column {
	const char *name;
	uint32_t table_oid;   /* 0: not a plain column of a table */
	int16_t attnum;
	uint32_t type_oid;
	int16_t format;
};

/* What pg_track_frontend() and pg_track_backend() may return besides 0. */
#define PG_TRACK_REFUSED 1 /* frontend: do not forward this message; send an
			      Execute of a portal that does not exist instead
			      (and a Sync after a Query or FunctionCall): the
			      server answers it with an error, in order */
#define PG_TRACK_REPLACE 2 /* backend: this error answers a refused
			      statement; send the job the reply instead */

struct pg_observer {
	/* A statement is about to run. Return 0 to let it, or refuse it: store
	 * the ErrorResponse the job is to get (a whole message, malloc'd) in
	 * *reply and *reply_len and return PG_TRACK_REFUSED. */
	int (*statement)(void *ctx, const struct pg_statement *st, uint8_t **reply,
			 size_t *reply_len);
	void (*row_description)(void *ctx, const struct pg_column *cols, uint16_t n);
	void (*command_complete)(void *ctx, const char *tag);
};

struct pg_track;

struct pg_track *pg_track_new(const struct pg_observer *obs, void *ctx);
void pg_track_free(struct pg_track *t);

/* Messages in the order they pass. 0, PG_TRACK_REFUSED, or -errno. */
int pg_track_frontend(struct pg_track *t, const struct pg_msg *m);

/* 0, PG_TRACK_REPLACE with *reply (malloc'd, the caller frees it) and
 * *reply_len set, or -errno. */
int pg_track_backend(struct pg_track *t, const struct pg_msg *m, uint8_t **reply,
		     size_t *reply_len);

#endif
