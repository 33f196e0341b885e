/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_mask: the mask rules of a session and what they do to result rows.
 *
 * A session's masks are those of the rules that apply to its target and
 * roles (docs/policy.md). A column is masked when a mask names it:
 * "column" matches that column name in any table, "table.column" that
 * column of a table of that name (any schema), "column_regex" a column name.
 * When several masks match, the strongest method wins:
 * null > redact > hash > partial.
 *
 * Values are rewritten so that drivers keep working: text-like types
 * (text, varchar, char, name) get a masked string in either format; other
 * types become NULL, whatever the method. A row is rewritten whole, into a
 * caller's buffer; rows never held across calls.
 * Event loop only: not thread-safe.
 */
#ifndef SLUICE_PG_MASK_H
#define SLUICE_PG_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy;
struct policy_strv;

enum pg_mask_method {
	PG_MASK_NONE,
	PG_MASK_PARTIAL, /* the last few characters shown, the rest '*' */
	PG_MASK_HASH,    /* "h:" and 16 hex digits of HMAC-SHA256 under the host's mask key */
	PG_MASK_REDACT,  /* "***" */
	PG_MASK_NULL,    /* NULL */
};

struct pg_mask_rules;

/* Compile every mask of p (the policy must outlive the result), loading
 * (or making) the host's mask key in state_dir/mask.key the first time
 * any mask exists. 0 or a negative errno. */
int pg_mask_rules_new(const struct policy *p, struct pg_mask_rules **out);
void pg_mask_rules_free(struct pg_mask_rules *r);

/* Wipe the mask key: when the agent stops. */
void pg_mask_fini(void);

struct pg_masks;

/* The masks of target for roles: NULL when there are none (or no memory:
 * *err says which). r must outlive the result. */
struct pg_masks *pg_masks_new(const struct pg_mask_rules *r, const char *target,
			      const struct policy_strv *roles, int *err);
void pg_masks_free(struct pg_masks *m);

/* The method for column of table (either may be NULL: unknown). An unknown
 * table matches any "table.column" mask of that column. */
enum pg_mask_method pg_masks_column(const struct pg_masks *m, const char *table,
				    const char *column);

/* The strongest method among m's masks: what a column gets whose origin
 * is unknown. */
enum pg_mask_method pg_masks_strongest(const struct pg_masks *m);

/* Could a mask apply to some column of table? (For a whole-row reference.) */
bool pg_masks_table(const struct pg_masks *m, const char *table);

/* One result column's treatment. */
struct pg_mask_col {
	uint8_t method;   /* enum pg_mask_method */
	uint8_t binary;   /* the column is sent in binary format */
	uint32_t type;    /* type OID */
};

struct pg_mask_plan {
	uint16_t n;
	bool any;         /* some column is masked */
	struct pg_mask_col col[];
};

/* Rewrite the DataRow whose body is body[0, len) under plan into out (a
 * whole message, type and length included). 0, -EBADMSG when the row does
 * not match the plan, or -ENOBUFS when out is too small. */
int pg_mask_row(const struct pg_mask_plan *plan, const uint8_t *body, size_t len, uint8_t *out,
		size_t cap, size_t *outlen);

/* The most bytes pg_mask_row() may write for a row of len body bytes. */
size_t pg_mask_row_max(const struct pg_mask_plan *plan, size_t len);

#endif
