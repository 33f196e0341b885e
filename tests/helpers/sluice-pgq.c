// SPDX-License-Identifier: Apache-2.0
/*
 * sluice-pgq: run SQL through libpq by a chosen protocol path and print
 * what came back in a form tests can grep. A real client: what the job's
 * drivers do, without psql's formatting in the way.
 *
 *   sluice-pgq [-m simple|extended|prepared] [-b] [-t] SQL...
 *
 * Connection parameters come from the usual PG* environment variables.
 * Every SQL argument runs on the same connection, in order:
 *   simple    PQexec (a Query message; several statements allowed)
 *   extended  PQexecParams (Parse, Bind, Describe, Execute, Sync)
 *   prepared  PQprepare once, then PQexecPrepared
 * Output, one line each:
 *   OK <command tag>
 *   ERROR <sqlstate> <message>
 *   DETAIL <text>, HINT <text>, CONTEXT <text>   when the error has them
 *   COL <name>                  per result column
 *   ROW <v1>|<v2>|...           NULL as NULL; with -b, values in hex
 *   TX <I|T|E>                  with -t: the transaction status after it
 *   NOTICE <sqlstate> <message> notices, as they arrive
 *   COPY <line>                 each line of a COPY TO STDOUT
 * COPY FROM STDIN gets no rows: the copy is ended at once.
 * Exit status: 0 if it connected (statement errors are output), 2 if not.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_notice(void *arg, const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);

	(void)arg;
	printf("NOTICE %s %s\n", state ? state : "?", msg ? msg : "");
	if (detail)
		printf("DETAIL %s\n", detail);
}

static void print_value(const PGresult *r, int row, int col, int binary)
{
	const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col);

	if (PQgetisnull(r, row, col)) {
		fputs("NULL", stdout);
		return;
	}
	if (!binary) {
		fwrite(v, 1, (size_t)len, stdout);
		return;
	}
	for (int i = 0; i < len; i++)
		printf("%02x", v[i]);
}

/* Finish a COPY: nothing to send in, every line out printed. The
 * command's own result follows. */
static PGresult *finish_copy(PGconn *c, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	char *line;
	int n;

	if (st != PGRES_COPY_IN && st != PGRES_COPY_OUT)
		return r;
	PQclear(r);
	if (st == PGRES_COPY_IN) {
		PQputCopyEnd(c, NULL);
	} else {
		while ((n = PQgetCopyData(c, &line, 0)) > 0) {
			printf("COPY %.*s", n, line);
			PQfreemem(line);
		}
	}
	r = PQgetResult(c);
	/* PQexec-style: drain to the end. */
	for (PGresult *more; (more = PQgetResult(c));)
		PQclear(more);
	return r;
}

static void print_result(PGconn *c, PGresult *r, int binary, int tx)
{
	static const char tx_letter[] = { [PQTRANS_IDLE] = 'I', [PQTRANS_INTRANS] = 'T',
					  [PQTRANS_INERROR] = 'E' };
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

		static const struct { int field; const char *name; } extra[] = {
			{ PG_DIAG_MESSAGE_DETAIL, "DETAIL" }, { PG_DIAG_MESSAGE_HINT, "HINT" },
			{ PG_DIAG_CONTEXT, "CONTEXT" },
		};

		printf("ERROR %s %s\n", state ? state : "?", msg ? msg : PQerrorMessage(c));
		for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
			const char *v = PQresultErrorField(r, extra[i].field);

			if (v)
				printf("%s %s\n", extra[i].name, v);
		}
	} else {
		for (int col = 0; col < PQnfields(r); col++)
			printf("COL %s\n", PQfname(r, col));
		for (int row = 0; row < PQntuples(r); row++) {
			fputs("ROW ", stdout);
			for (int col = 0; col < PQnfields(r); col++) {
				if (col)
					putchar('|');
				print_value(r, row, col, binary);
			}
			putchar('\n');
		}
		printf("OK %s\n", PQcmdStatus(r));
	}
	if (tx) {
		PGTransactionStatusType t = PQtransactionStatus(c);

		printf("TX %c\n", t <= PQTRANS_INERROR ? tx_letter[t] : '?');
	}
}

int main(int argc, char **argv)
{
	const char *mode = "simple";
	int binary = 0, tx = 0, opt;
	PGconn *c;

	while ((opt = getopt(argc, argv, "m:bt")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 'b':
			binary = 1;
			break;
		case 't':
			tx = 1;
			break;
		default:
			fprintf(stderr, "usage: sluice-pgq [-m simple|extended|prepared] [-b] [-t] SQL...\n");
			return 2;
		}
	}
	if (strcmp(mode, "simple") && strcmp(mode, "extended") && strcmp(mode, "prepared")) {
		fprintf(stderr, "sluice-pgq: unknown mode %s\n", mode);
		return 2;
	}
	if (binary && !strcmp(mode, "simple")) {
		fprintf(stderr, "sluice-pgq: -b needs -m extended or prepared\n");
		return 2;
	}
	c = PQconnectdb("");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "sluice-pgq: %s", PQerrorMessage(c));
		PQfinish(c);
		return 2;
	}
	PQsetNoticeReceiver(c, on_notice, NULL);
	for (int i = optind; i < argc; i++) {
		PGresult *r;

		if (!strcmp(mode, "simple")) {
			r = PQexec(c, argv[i]);
		} else if (!strcmp(mode, "extended")) {
			r = PQexecParams(c, argv[i], 0, NULL, NULL, NULL, NULL, binary);
		} else {
			char name[32];

			snprintf(name, sizeof(name), "s%d", i);
			r = PQprepare(c, name, argv[i], 0, NULL);
			if (PQresultStatus(r) == PGRES_COMMAND_OK) {
				PQclear(r);
				r = PQexecPrepared(c, name, 0, NULL, NULL, NULL, binary);
			}
		}
		r = finish_copy(c, r);
		print_result(c, r, binary, tx);
		PQclear(r);
		fflush(stdout);
	}
	PQfinish(c);
	return 0;
}
