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

#include <stdbool.h>
#include <stddef.h>
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
	uint32_t seq;          /* 1, 2, ... in the session, for statements that are
				  answered (one waiting is numbered again) */
	enum pg_path path;
	const char *text;      /* the SQL; NULL when the portal is unknown */
	const char *statement; /* prepared statement name, "" unnamed; NULL for Query */
	const char *portal;    /* portal name; NULL for Query */
	uint16_t nparams;
	const struct pg_param *params;
	uint32_t function_oid; /* PG_PATH_FUNCTION */
};

struct pg_column {
	const char *name;     /* during a row_description() callback only */
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
#define PG_TRACK_AGENT   3 /* backend: this answers the agent's own request:
			      not for the job (a DataRow of the agent's query
			      is the caller's to read) */
#define PG_TRACK_DROP    5 /* frontend: a refused Query or FunctionCall the
			      server would skip anyway (an error before it, no
			      Sync since): send nothing; nothing is answered */
#define PG_TRACK_WAIT    4 /* frontend: the observer needs an answer first:
			      leave the message unread and feed it again once
			      no request of the agent is pending */

/* What the observer makes of a statement about to run. */
struct pg_outcome {
	uint8_t *reply;    /* to refuse it: the ErrorResponse the job gets instead
			      (a whole message, malloc'd); NULL lets it run */
	size_t reply_len;
	void *tag;         /* kept with the statement until it is answered, then
			      given to tag_free(); may be NULL */
	uint64_t started_us; /* kept with it too: when it was judged */
	bool wait;         /* not yet: see PG_TRACK_WAIT */
};

/* The rows now arriving: their columns (NULL when not known) and the tag
 * of the statement they answer. */
struct pg_track_result {
	const struct pg_column *cols;
	uint16_t n;
	void *tag;
	uint32_t seq;      /* the statement it answers, or 0 */
	uint64_t started_us;
	bool agent;        /* it answers the agent's own request */
	bool running;      /* it answers a statement of the job that runs */
	bool binding;      /* it answers the job's Bind (planning happens there) */
};

struct pg_observer {
	/* A statement is about to run: fill out (zeroed on entry). The
	 * observer may queue requests of its own first (pg_track_agent_*).
	 * 0, or a negative errno. */
	int (*statement)(void *ctx, const struct pg_statement *st, struct pg_outcome *out);
	void (*tag_free)(void *tag);
	/* A Parse of text passed: it will be judged when a portal of it runs. */
	void (*parsed)(void *ctx, const char *text);
	void (*row_description)(void *ctx, const struct pg_column *cols, uint16_t n);
	void (*command_complete)(void *ctx, const char *tag);
};

struct pg_track;

struct pg_track *pg_track_new(const struct pg_observer *obs, void *ctx);
void pg_track_free(struct pg_track *t);

/* Messages in the order they pass. 0, PG_TRACK_REFUSED, or -errno. */
int pg_track_frontend(struct pg_track *t, const struct pg_msg *m);

/* 0, PG_TRACK_REPLACE with *reply (malloc'd, the caller frees it) and
 * *reply_len set, PG_TRACK_AGENT, or -errno. */
int pg_track_backend(struct pg_track *t, const struct pg_msg *m, uint8_t **reply,
		     size_t *reply_len);

/* What the next DataRow, CommandComplete or error from the server answers. */
void pg_track_result(const struct pg_track *t, struct pg_track_result *out);

/* The statement the next DataRow or CommandComplete answers (its seq), or
 * 0; pg_track_result() without the columns, in constant time. */
uint32_t pg_track_seq(const struct pg_track *t);

/* Does the server now ignore requests (an error in an extended request,
 * and no Sync sent since)? The agent must not ask it anything then. */
bool pg_track_skipping(const struct pg_track *t);

/* Is a request of the agent's own still unanswered? */
bool pg_track_agent_pending(const struct pg_track *t);

/* ReadyForQuery messages due for the requests queued so far. */
unsigned pg_track_pending_ready(const struct pg_track *t);

/* Will portal's columns be known before its rows arrive: was a Describe of
 * it or of its statement answered, or is one on its way? */
bool pg_track_described(const struct pg_track *t, const char *portal);

/* An SQL statement about to run changes the prepared statements (DEALLOCATE
 * name, or PREPARE name: name; DEALLOCATE ALL or DISCARD: NULL for all):
 * what the session's Parses made of them no longer holds from there on.
 * 0 or -errno. */
int pg_track_forget(struct pg_track *t, const char *name);

/* The agent queued requests of its own toward the server, before the
 * message now being tracked: a Describe of portal; or its catalog query
 * (Parse, Bind, Execute, Close, Close, and a Sync when sync is true:
 * then the job sees none of its answer, not even an error). 0 or -errno. */
int pg_track_agent_describe(struct pg_track *t, const char *portal);
int pg_track_agent_query(struct pg_track *t, bool sync);

#endif
