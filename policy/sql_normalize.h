/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sql_normalize: a query string as it may be logged and recorded: every
 * constant replaced by $1, $2, ... and every comment dropped, whatever the
 * statement (a password in CREATE ROLE, a token in set_config(), a value
 * in a DO block or a view's WHERE alike).
 *
 * Done on PostgreSQL's own lexer (libpg_query's scanner), token by token:
 * string, number, bit-string and dollar-quoted constants all go, nothing
 * else changes (names, keywords, operators, spacing), and numbering starts
 * after the highest $n the text already has. libpg_query's
 * pg_query_normalize() keeps the constants of many utility statements, so
 * it is not used. Not thread-safe beyond what libpg_query is.
 */
#ifndef SLUICE_SQL_NORMALIZE_H
#define SLUICE_SQL_NORMALIZE_H

#include <stddef.h>

/* text normalized into out (outlen bytes, NUL-terminated, cut to fit).
 * 0, -EINVAL (the lexer rejects it: an unterminated string or comment),
 * -E2BIG (longer than SQL_MAX_TEXT) or -ENOMEM. */
int sql_normalize(const char *text, char *out, size_t outlen);

#endif
