/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_masking: masking in one PostgreSQL session.
 *
 * Before a statement runs: the relations it names that this session has
 * not looked up since the target's catalog cache last changed are asked
 * for (pg_catalog), a portal nobody described is described, both in band
 * just before the statement; the statement is tagged with what it
 * references. When its answer comes, each result column is judged by its
 * origin (RowDescription's table OID and attribute number):
 *   - a column of a table: masked if a mask names it;
 *   - a column of a view: masked if a mask names it, or if the view reads
 *     any masked column (PostgreSQL records what a view reads per column,
 *     not which output each feeds, so all of its columns are masked);
 *   - an expression, or a relation the cache does not know: masked when
 *     the statement is "sensitive": it references a masked column by name,
 *     a whole row, *, a view that reads masked columns, a relation that did
 *     not resolve, a user function, or runs procedural or admin code.
 * Unknown columns take the strongest method among the session's masks.
 * Rows of a result with a masked column are read whole (at most
 * agent.max_message_bytes) and rewritten; other rows stream untouched.
 * Errors and notices answering a sensitive statement, or one that reads or
 * writes a table with a masked column, keep their SQLSTATE and position and
 * lose their texts (a cast error quotes the value, a constraint error the
 * whole row).
 * COPY ... TO STDOUT that would carry a masked column is refused: its
 * CopyOutResponse and data are dropped and the job gets an error instead.
 * A statement that would store values of a masked column (INSERT ...
 * SELECT, UPDATE ... SET, CREATE TABLE AS, SELECT INTO, set_config) where
 * they are not masked as strongly is refused before it runs: judged from
 * the column names it stores, for * and whole rows from the tables a mask
 * could apply to, and from the views it reads. For the views the catalog
 * must have answered first: such a statement waits (PG_MASKING_WAIT) until
 * it has.
 * Event loop only: not thread-safe.
 */
#ifndef SLUICE_PG_MASKING_H
#define SLUICE_PG_MASKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg_track.h"
#include "pg_wire.h"

struct pg_catalog;
struct pg_mask_rules;
struct policy_identity;
struct session;
struct sql_verdict;
struct pg_masking;

/* Results of pg_masking_backend(). */
#define PG_MASKING_PASS    0
#define PG_MASKING_REPLACE 1 /* send *out instead */
#define PG_MASKING_DROP    2 /* send nothing */
#define PG_MASKING_REFUSE  3 /* pg_masking_statement(): refuse the statement */
#define PG_MASKING_WAIT    4 /* pg_masking_statement(): judge it again once the
				agent's catalog request is answered */

/* The masking of session s under rules, with cat the cache of its target
 * (NULL: out of memory); NULL when its rules mask nothing (*err 0) or on
 * failure (*err a negative errno). */
struct pg_masking *pg_masking_new(const struct pg_mask_rules *rules, struct pg_catalog *cat,
				  struct session *s, int *err);
void pg_masking_free(struct pg_masking *mk);

/* Statement st, judged v, was allowed by the rules: queue what masking
 * needs to know before its answer, and tag it (*tag, for pg_track).
 * 0; PG_MASKING_REFUSE when it would store masked values where they are
 * not masked (why says so, for the job); or -errno. */
int pg_masking_statement(struct pg_masking *mk, struct pg_track *t,
			 const struct pg_statement *st, const struct sql_verdict *v, void **tag,
			 char *why, size_t whylen);
void pg_masking_tag_free(void *tag);


/* Must the server's next message, of this type, be read whole rather than
 * stream through? */
bool pg_masking_frames(struct pg_masking *mk, const struct pg_track *t, uint8_t type);

/* A whole message from the server, before pg_track sees it. */
int pg_masking_backend(struct pg_masking *mk, const struct pg_track *t, const struct pg_msg *m,
		       const uint8_t **out, size_t *outlen);

/* A DataRow answering the agent's catalog query. 0 or -errno. */
int pg_masking_catalog_row(struct pg_masking *mk, const struct pg_msg *m);

/* No request of the agent is pending any more: what was asked is known
 * (or will not be: a name without an answer counts as unresolved). NULL
 * is fine. */
void pg_masking_catalog_done(struct pg_masking *mk);

#endif
