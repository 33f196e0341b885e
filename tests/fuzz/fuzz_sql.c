/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for sql_classify(), sql_fingerprint() and
 * sql_normalize(): any text must give either statements or one line of
 * error, never crash, and leak nothing; a normalized text has no constant
 * left (normalizing it again changes nothing). The input is used up to its
 * first NUL, as a Query message is.
 */
#include "sql_classify.h"
#include "sql_normalize.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_stmt(const struct sql_stmt *s, size_t textlen)
{
	if ((unsigned)s->cls >= SQL_CLASS_COUNT || (unsigned)s->kind >= SQL_KIND_COUNT)
		abort();
	if (!(s->classes & (1u << s->cls)) || (s->classes >> s->cls) != 1)
		abort(); /* cls is the strongest class */
	if (!(s->kinds & (1ull << s->kind)) || !s->reason[0])
		abort();
	if (s->offset > textlen || s->len > textlen - s->offset)
		abort();
	if (s->ntables > SQL_MAX_TABLES || memchr(s->name, '\0', sizeof s->name) == NULL)
		abort();
	for (size_t i = 0; i < s->ntables; i++)
		if (!s->tables[i][0])
			abort();
}

/* Room for every byte to become a "$NNNNNN". */
static void check_normalize(const char *text)
{
	size_t cap = strlen(text) * 8 + 64;
	char *once = malloc(cap), *twice = malloc(cap);

	if (once && twice && sql_normalize(text, once, cap) == 0 &&
	    (sql_normalize(once, twice, cap) || strcmp(once, twice)))
		abort();
	free(once);
	free(twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct sql_verdict v;
	uint64_t fp;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	rc = sql_classify(text, &v);
	if (rc < 0) {
		if (v.n || v.stmts || !v.error[0] || strchr(v.error, '\n'))
			abort();
	} else {
		if (rc != 0 || v.n > SQL_MAX_STMTS)
			abort();
		for (size_t i = 0; i < v.n; i++)
			check_stmt(&v.stmts[i], strlen(text));
		/* what the proxy does for EXECUTE: fold another verdict in */
		if (v.n >= 2) {
			if (sql_merge(&v.stmts[0], &v.stmts[1]) < 0)
				abort();
			check_stmt(&v.stmts[0], strlen(text));
		}
	}
	sql_verdict_free(&v);

	/* the fingerprint parses too; it must agree that the text parses */
	if (sql_fingerprint(text, &fp, NULL, 0) == 0 && rc == -EINVAL)
		abort();
	check_normalize(text);
	free(text);
	return 0;
}
