// SPDX-License-Identifier: Apache-2.0
/*
 * ctl_review_print: the access review for people: a table on a terminal,
 * or markdown for an audit ticket. Every string comes from recordings,
 * journald or the policy and is escaped for where it goes (a table name
 * could hold terminal escapes, a markdown cell a '|').
 */
#include <string.h>

#include "ctl_review.h"
#include "replay_session.h"
#include "replay_text.h"

struct printer {
	enum review_format f;
	FILE *out;
	struct text t;
};

/* s escaped on one line; in markdown, the characters markdown would act
 * on too. */
static const char *esc(struct printer *pr, const char *s)
{
	struct text raw = { 0 };

	text_clear(&pr->t);
	if (!s)
		return "-";
	text_escape(&raw, s, strlen(s), NULL, 0);
	for (const char *c = raw.s ? raw.s : ""; *c; c++) {
		if (pr->f == REVIEW_MARKDOWN && strchr("|`*_[]<>#", *c))
			text_put(&pr->t, "\\", 1);
		text_put(&pr->t, c, 1);
	}
	text_free(&raw);
	return pr->t.failed ? "(out of memory)" : pr->t.s ? pr->t.s : "";
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* "read 10, write 2" of a counts object, or "-". */
static void counts(struct printer *pr, const cJSON *o)
{
	const cJSON *c;
	int n = 0;

	cJSON_ArrayForEach(c, o)
		fprintf(pr->out, "%s%s %.0f", n++ ? ", " : "", esc(pr, c->string), c->valuedouble);
	if (!n)
		fputs("-", pr->out);
}

/* "a b c" of an array of strings, or "-". */
static void words(struct printer *pr, const cJSON *a)
{
	const cJSON *w;
	int n = 0;

	cJSON_ArrayForEach(w, a)
		if (cJSON_IsString(w))
			fprintf(pr->out, "%s%s", n++ ? " " : "", esc(pr, w->valuestring));
	if (!n)
		fputs("-", pr->out);
}

static void seen(struct printer *pr, const cJSON *o)
{
	fprintf(pr->out, "%.0f session%s", num(o, "sessions"), num(o, "sessions") == 1 ? "" : "s");
	if (json_str(o, "first_seen"))
		fprintf(pr->out, ", first %s, last %s", json_str(o, "first_seen"),
			json_str(o, "last_seen"));
}

static void identity(struct printer *pr, const cJSON *id)
{
	bool md = pr->f == REVIEW_MARKDOWN;
	const cJSON *c;

	fprintf(pr->out, md ? "\n## Identity %s" : "\nIDENTITY %s", esc(pr, json_str(id, "name")));
	if (!cJSON_IsTrue(cJSON_GetObjectItem(id, "in_policy")))
		fputs(" (no longer in the policy)", pr->out);
	fputs(md ? "\n\n- roles: " : "\n  roles: ", pr->out);
	words(pr, cJSON_GetObjectItem(id, "roles"));
	fputs(md ? "\n- seen: " : "\n  seen: ", pr->out);
	seen(pr, id);
	fputs(md ? "\n- decisions: " : "\n  decisions: ", pr->out);
	counts(pr, cJSON_GetObjectItem(id, "decisions"));
	fputs(md ? "\n- subjects:\n" : "\n  subjects:\n", pr->out);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(id, "subjects")) {
		fprintf(pr->out, md ? "  - %s " : "    %s ", esc(pr, json_str(c, "kind")));
		fprintf(pr->out, "%s: ", esc(pr, json_str(c, "value")));
		seen(pr, c);
		fputc('\n', pr->out);
	}
	fputs(md ? "\n| target | sessions | classes | kinds | tables |\n|---|---|---|---|---|\n"
		 : "  targets:\n", pr->out);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(id, "targets")) {
		fprintf(pr->out, md ? "| %s | %.0f | " : "    %s: %.0f session(s); classes ",
			esc(pr, json_str(c, "name")), num(c, "sessions"));
		counts(pr, cJSON_GetObjectItem(c, "classes"));
		fputs(md ? " | " : "; kinds ", pr->out);
		counts(pr, cJSON_GetObjectItem(c, "kinds"));
		fputs(md ? " | " : "; tables ", pr->out);
		counts(pr, cJSON_GetObjectItem(c, "tables"));
		fputs(md ? " |\n" : "\n", pr->out);
	}
	fputs(md ? "\n| rule | target | allow | unused | approve | unused |\n"
		   "|---|---|---|---|---|---|\n" : "  grants:\n", pr->out);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(id, "grants")) {
		fprintf(pr->out, md ? "| %.0f | %s | " : "    rule %.0f on %s: allow ", num(c, "rule"),
			esc(pr, json_str(c, "target")));
		words(pr, cJSON_GetObjectItem(c, "allow"));
		fputs(md ? " | " : " (unused: ", pr->out);
		words(pr, cJSON_GetObjectItem(c, "allow_unused"));
		fputs(md ? " | " : "); approve ", pr->out);
		words(pr, cJSON_GetObjectItem(c, "approve"));
		fputs(md ? " | " : " (unused: ", pr->out);
		words(pr, cJSON_GetObjectItem(c, "approve_unused"));
		fputs(md ? " |\n" : ")\n", pr->out);
	}
}

static void credential(struct printer *pr, const cJSON *c)
{
	bool md = pr->f == REVIEW_MARKDOWN;
	const cJSON *w;
	int n = 0;

	fprintf(pr->out, md ? "| %s " : "  %s: ", esc(pr, json_str(c, "target")));
	fprintf(pr->out, md ? "| %s " : "%s, ", esc(pr, json_str(c, "file")));
	fprintf(pr->out, md ? "| %s " : "owner %s, ", esc(pr, json_str(c, "owner")));
	fprintf(pr->out, md ? "| %s " : "mode %s, ", esc(pr, json_str(c, "mode")));
	fprintf(pr->out, md ? "| %s (%.0f days) | " : "changed %s (%.0f days); identities ",
		esc(pr, json_str(c, "changed")), num(c, "age_days"));
	words(pr, cJSON_GetObjectItem(c, "identities"));
	fputs(md ? " | " : "; warnings: ", pr->out);
	cJSON_ArrayForEach(w, cJSON_GetObjectItem(c, "warnings"))
		fprintf(pr->out, "%s%s", n++ ? "; " : "", esc(pr, w->valuestring));
	if (!n)
		fputs("-", pr->out);
	fputs(md ? " |\n" : "\n", pr->out);
}

void ctl_review_print(const cJSON *r, enum review_format f, FILE *out)
{
	struct printer pr = { .f = f, .out = out };
	const cJSON *period = cJSON_GetObjectItem(r, "period"), *rec, *c;
	bool md = f == REVIEW_MARKDOWN;
	int n = 0;

	rec = cJSON_GetObjectItem(r, "recordings");
	fprintf(out, md ? "# Access review\n\n- policy: %s\n" : "Access review of %s\n",
		esc(&pr, json_str(r, "policy")));
	fprintf(out, md ? "- period: %s to %s (%.0f days)\n" : "period: %s to %s (%.0f days)\n",
		json_str(period, "since"), json_str(period, "until"), num(period, "days"));
	fprintf(out, md ? "- recordings: %.0f read, %.0f that do not verify, in %s\n"
		      : "recordings: %.0f read, %.0f that do not verify, in %s\n",
		num(rec, "read"), num(rec, "unverified"), esc(&pr, json_str(rec, "dir")));
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(r, "identities"))
		identity(&pr, c);
	fputs(md ? "\n## Callers that match no identity\n\n" : "\nCALLERS THAT MATCH NO IDENTITY\n",
	      out);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(r, "unknown_callers")) {
		fprintf(out, md ? "- cgroup %s" : "  cgroup %s", esc(&pr, json_str(c, "cgroup")));
		fprintf(out, ", exe %s", esc(&pr, json_str(c, "exe")));
		fprintf(out, " to %s: refused %.0f time%s, last %s\n", esc(&pr, json_str(c, "target")),
			num(c, "refused"), num(c, "refused") == 1 ? "" : "s", json_str(c, "last_seen"));
		n++;
	}
	if (!n)
		fputs(md ? "None.\n" : "  none\n", out);
	fputs(md ? "\n## Stored credentials\n\n| target | file | owner | mode | changed | identities | "
		   "warnings |\n|---|---|---|---|---|---|---|\n" : "\nSTORED CREDENTIALS\n", out);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(r, "credentials"))
		credential(&pr, c);
	fputs(md ? "\n## Suggestions\n\n" : "\nSUGGESTIONS\n", out);
	n = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(r, "suggestions"))
		fprintf(out, md ? "%d. %s\n" : "  %d. %s\n", ++n, esc(&pr, json_str(c, "text")));
	if (!n)
		fputs(md ? "None.\n" : "  none\n", out);
	text_free(&pr.t);
}
