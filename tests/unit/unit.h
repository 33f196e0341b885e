/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unit: the little the table-driven unit tests share. Each test program
 * counts its cases, reports every failing one with fail() on stderr, and
 * exits 1 if any failed.
 */
#ifndef SLUICE_UNIT_H
#define SLUICE_UNIT_H

#include <stdarg.h>
#include <stdio.h>

static int failures;
static int cases;

__attribute__((format(printf, 2, 3)))
static void fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	failures++;
	fprintf(stderr, "FAIL %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#endif
