/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_catalog: what masking needs from a target's catalog, cached per target
 * (one cache per target of a policy generation: a reload starts afresh).
 *
 * For each relation a session's statements name: its OID, kind, name and
 * column names; for a view (or materialized view), every column of the
 * relations it reads, through views of views; and the names of functions
 * defined outside pg_catalog and information_schema (user functions, whose
 * bodies may read masked columns).
 *
 * The agent asks on the session's own upstream connection, in band: one
 * Parse/Bind/Execute of a fixed query with the names as a text[]
 * parameter, placed just before the statement that needs it, so the answer
 * arrives before that statement's rows. Names resolve through the session's
 * search_path and see its own uncommitted DDL. pg_catalog_request() builds
 * the messages, pg_catalog_take_row() takes each row of the answer.
 *
 * The cache is flushed when a session runs DDL against the target and after
 * PG_CATALOG_TTL_MS (changes made outside sluice are seen then); every flush
 * bumps the generation, so sessions know to ask again.
 * Event loop only: not thread-safe.
 */
#ifndef SLUICE_PG_CATALOG_H
#define SLUICE_PG_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg_wire.h"

#define PG_CATALOG_TTL_MS 60000
#define PG_CATALOG_MAX_RELS 20000
#define PG_CATALOG_MAX_FUNCTIONS 100000

struct pg_rel {
	uint32_t oid;
	char kind;            /* pg_class.relkind: 'r', 'v', 'm', 'p', 'f', ... */
	char *name;
	char **columns;       /* columns[attnum - 1], or NULL for a gap */
	uint16_t ncolumns;
	char **reads;         /* views: "relation\0column" of what they read;
				 column "" for the whole relation */
	size_t nreads;
	struct pg_rel *next;
};

struct pg_catalog;

/* An empty cache, for one target; NULL without memory. */
struct pg_catalog *pg_catalog_new(void);
void pg_catalog_free(struct pg_catalog *c);

uint64_t pg_catalog_generation(const struct pg_catalog *c);
void pg_catalog_flush(struct pg_catalog *c);
/* Flush if the cache is older than PG_CATALOG_TTL_MS at now_ms. */
void pg_catalog_expire(struct pg_catalog *c, uint64_t now_ms);

const struct pg_rel *pg_catalog_rel(const struct pg_catalog *c, uint32_t oid);

/* Is name a user function? Unknown (functions not loaded yet) counts as yes. */
bool pg_catalog_user_function(const struct pg_catalog *c, const char *name);
bool pg_catalog_functions_loaded(const struct pg_catalog *c);

/* Build the request for names (with the function list when functions is
 * true) into buf: Parse, Bind, Execute and Close of statement and portal
 * stmt_name, then a Sync when sync is true, else a Flush. Its length, or 0 if it does not
 * fit. */
size_t pg_catalog_request(uint8_t *buf, size_t cap, const char *stmt_name,
			  const char *const *names, size_t nnames, bool functions, bool sync);

/* One DataRow of the answer. A name's row reports its OID (0: no such
 * relation) through resolved(ctx, name, oid). 0, -EBADMSG or -ENOMEM. */
int pg_catalog_take_row(struct pg_catalog *c, const struct pg_msg *row,
			void (*resolved)(void *ctx, const char *name, uint32_t oid), void *ctx);

#endif
