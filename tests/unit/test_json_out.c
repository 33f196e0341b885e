// SPDX-License-Identifier: Apache-2.0
/*
 * json_out: every line it writes is one valid JSON object that cJSON reads
 * back to what was put in: escapes, bytes that are not UTF-8 (as "\x" hex),
 * NULs, nesting, and strings cut to the budget.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "unit.h"

static struct json_out j;

/* The line parses, and member key is the string want. */
static void expect_str(const char *name, const char *line, const char *key, const char *want)
{
	cJSON *doc = line ? cJSON_Parse(line) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

	cases++;
	if (!doc)
		fail(name, "not JSON: %s", line ? line : "(null)");
	else if (!cJSON_IsString(v) || strcmp(v->valuestring, want))
		fail(name, "%s is %s, want \"%s\"", key, line, want);
	else if (strchr(line, '\n'))
		fail(name, "a newline inside the line");
	cJSON_Delete(doc);
}

static const char *one(const char *key, const void *s, size_t n, size_t max)
{
	json_out_begin(&j, 4096);
	json_out_bytes(&j, key, s, n, max);
	return json_out_end(&j);
}

static void strings(void)
{
	static const struct {
		const char *name;
		const char *in;
		size_t n;
		const char *want;
	} t[] = {
		{ "plain", "select 1", 8, "select 1" },
		{ "quotes and backslash", "a\"b\\c", 5, "a\"b\\c" },
		{ "control characters", "a\nb\r\t\x1b", 6, "a\nb\r\t\x1b" },
		{ "utf-8 kept", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "invalid byte: hex", "a\xff", 2, "\\x61ff" },
		{ "overlong form: hex", "\xc0\xaf", 2, "\\xc0af" },
		{ "surrogate: hex", "\xed\xa0\x80", 3, "\\xeda080" },
		{ "NUL: hex", "a\0b", 3, "\\x610062" },
		{ "empty", "", 0, "" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		expect_str(t[i].name, one("v", t[i].in, t[i].n, SIZE_MAX), "v", t[i].want);
}

static void cuts(void)
{
	char big[10000];

	memset(big, 'a', sizeof(big));
	/* A value cut to its max ends in "...", whole characters only. */
	expect_str("cut at max", one("v", "abcdefghij", 10, 7), "v", "abc...");
	expect_str("cut keeps characters whole", one("v", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, 7),
		   "v", "\xc3\xa9...");
	expect_str("hex cut", one("v", "\xff\xff\xff\xff\xff\xff", 6, 12), "v", "\\xffff...");
	/* The budget bounds the line whatever the max. */
	{
		const char *line = one("v", big, sizeof(big), SIZE_MAX);
		cJSON *doc = line ? cJSON_Parse(line) : NULL;
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "v");

		cases++;
		if (!line || strlen(line) > 4096 || !cJSON_IsString(v) ||
		    strlen(v->valuestring) < 3500 || strcmp(v->valuestring + strlen(v->valuestring) - 3, "..."))
			fail("budget", "line of %zu bytes", line ? strlen(line) : 0);
		cJSON_Delete(doc);
	}
}

/* Past the budget values are left out, counted, and the line stays whole
 * and within it. */
static void left_out(void)
{
	const char *line;
	cJSON *doc;

	json_out_begin(&j, 1024);
	json_out_str(&j, "ev", "row");
	json_out_open(&j, "values", '[');
	for (int i = 0; i < 1000; i++)
		json_out_null(&j, NULL);
	json_out_close(&j);
	line = json_out_end(&j);
	doc = line ? cJSON_Parse(line) : NULL;
	cases++;
	if (!doc || strlen(line) > 1024 || !cJSON_IsNumber(cJSON_GetObjectItem(doc, "items_left_out")) ||
	    cJSON_GetArraySize(cJSON_GetObjectItem(doc, "values")) +
	    cJSON_GetObjectItem(doc, "items_left_out")->valueint != 1000)
		fail("left out", "%s", line ? line : "(null)");
	cJSON_Delete(doc);
}

static void nesting(void)
{
	const char *line;
	cJSON *doc;

	json_out_begin(&j, 4096);
	json_out_str(&j, "ev", "row");
	json_out_uint(&j, "seq", 18446744073709551615ull);
	json_out_int(&j, "neg", -5);
	json_out_open(&j, "values", '[');
	json_out_str(&j, NULL, "x");
	json_out_null(&j, NULL);
	json_out_hex(&j, NULL, "\x01\x02", 2, 100);
	json_out_open(&j, NULL, '{');
	json_out_bool(&j, "deep", true);
	/* Left open: json_out_end() closes what is open. */
	line = json_out_end(&j);
	doc = line ? cJSON_Parse(line) : NULL;
	cases++;
	if (!doc || cJSON_GetArraySize(cJSON_GetObjectItem(doc, "values")) != 4 ||
	    !cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "values"), 1)) ||
	    strcmp(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "values"), 2)->valuestring, "\\x0102") ||
	    !strstr(line, "\"seq\":18446744073709551615,\"neg\":-5"))
		fail("nesting", "%s", line ? line : "(null)");
	cJSON_Delete(doc);

	/* Too deep is an error, never a line with brackets that do not match. */
	json_out_begin(&j, 4096);
	for (int i = 0; i < JSON_OUT_DEPTH + 2; i++)
		json_out_open(&j, NULL, '[');
	cases++;
	if (json_out_end(&j))
		fail("too deep", "gave a line");
	json_out_begin(&j, 4096);
	json_out_close(&j);
	cases++;
	if (json_out_end(&j))
		fail("close without open", "gave a line");
	/* And the next object is whole again. */
	expect_str("after an error", one("v", "ok", 2, SIZE_MAX), "v", "ok");
}

int main(void)
{
	strings();
	cuts();
	left_out();
	nesting();
	json_out_free(&j);
	printf("%d cases, %d failed\n", cases, failures);
	return failures ? 1 : 0;
}
