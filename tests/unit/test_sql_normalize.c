// SPDX-License-Identifier: Apache-2.0
/*
 * sql_normalize: every constant goes, whatever the statement, and nothing
 * else changes. Cases include those libpg_query's own normaliser leaves
 * alone (utility statements, EXECUTE arguments, view bodies).
 */
#include <errno.h>
#include <string.h>

#include "sql_normalize.h"
#include "unit.h"

int main(void)
{
	static const struct {
		const char *in, *want;
	} ok[] = {
		{ "select 1", "select $1" },
		{ "select name from users where ssn = '111-22-3333'",
		  "select name from users where ssn = $1" },
		{ "create role r login password 'hunter2'", "create role r login password $1" },
		{ "alter user app with password 'x' valid until '2030-01-01'",
		  "alter user app with password $1 valid until $2" },
		{ "EXECUTE p('LEAK01EXEC', 42)", "EXECUTE p($1, $2)" },
		{ "PREPARE p2 AS select 1 from users where ssn='LEAK'",
		  "PREPARE p2 AS select $1 from users where ssn=$2" },
		{ "create view v2 as select * from users where ssn='LEAK06DDL'",
		  "create view v2 as select * from users where ssn=$1" },
		{ "call pr('LEAK07CALL')", "call pr($1)" },
		{ "select 1 /* LEAK08COMMENT */ -- and this\n", "select $1    \n" },
		{ "select 1;  \n", "select $1;  \n" },
		{ "select set_config('app.token', 'tok', false)", "select set_config($1, $2, false)" },
		{ "do $$ begin perform 'secret'; end $$", "do $1" },
		{ "select $tag$a'b$tag$, E'it\\'s', B'101', X'ff', 1.5e3",
		  "select $1, $2, $3, $4, $5" },
		{ "select * from t where a = $1 and b = 'x'", "select * from t where a = $1 and b = $2" },
		{ "select $3, 'y'", "select $3, $4" },
		{ "select \"quoted ident\", ident from \"t\"", "select \"quoted ident\", ident from \"t\"" },
		{ "create server s foreign data wrapper f options (password 'pw')",
		  "create server s foreign data wrapper f options (password $1)" },
		{ "notify ch, 'payload'; set app.x = 'v'", "notify ch, $1; set app.x = $2" },
		{ "select 'a'b, x'1f'y", "select $1 b, $2 y" },
		{ "", "" },
	};
	/* Unterminated; and U& forms, whose tokens do not cover their prefix:
	 * withheld rather than guessed at. */
	static const char *const bad[] = {
		"select 'unterminated", "select /* unterminated", "select $$ unterminated",
		"select U&'d\\0061t'", "select u&\"ident\"",
	};
	char out[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int rc = sql_normalize(ok[i].in, out, sizeof(out));

		cases++;
		if (rc || strcmp(out, ok[i].want))
			fail(ok[i].in, "rc %d, got \"%s\", want \"%s\"", rc, out, ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = sql_normalize(bad[i], out, sizeof(out));

		cases++;
		if (rc != -EINVAL || out[0])
			fail(bad[i], "rc %d, out \"%s\": want -EINVAL and nothing", rc, out);
	}
	/* Cut to fit, never past the buffer. */
	cases++;
	if (sql_normalize("select 'a', 'b', 'c'", out, 10) || strcmp(out, "select $1"))
		fail("cut", "got \"%s\"", out);
	printf("%d cases, %d failed\n", cases, failures);
	return failures ? 1 : 0;
}
