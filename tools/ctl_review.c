// SPDX-License-Identifier: Apache-2.0
/* ctl_review: the access review's facts, as JSON. See ctl_review.h. */
#include "ctl_review.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "replay_files.h"
#include "replay_session.h"

#define US 1000000LL
#define NO_IDENTITY_REASON "caller matches no identity"

/* What is gathered before the document is put together: JSON objects used
 * as maps, keyed by name. */
struct gather {
	const struct review_options *o;
	int64_t since_us, until_us;
	cJSON *identities;  /* name -> usage */
	cJSON *strangers;   /* "target cgroup exe" -> unknown caller */
	unsigned read, unverified, outside;
};

/* ------------------------------------------------------------ small maps */

static cJSON *child(cJSON *obj, const char *key)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!c && (c = cJSON_CreateObject()))
		cJSON_AddItemToObject(obj, key, c);
	return c;
}

static void bump(cJSON *obj, const char *key, double by)
{
	cJSON *n;

	if (!obj || !key)
		return;
	if ((n = cJSON_GetObjectItemCaseSensitive(obj, key)))
		cJSON_SetNumberValue(n, n->valuedouble + by);
	else
		cJSON_AddNumberToObject(obj, key, by);
}

static double number(const cJSON *obj, const char *key)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* A session (or refusal) at us: counted, and the first and last kept. */
static void seen(cJSON *obj, int64_t us)
{
	cJSON *first = cJSON_GetObjectItemCaseSensitive(obj, "first_us");
	cJSON *last = cJSON_GetObjectItemCaseSensitive(obj, "last_us");

	bump(obj, "sessions", 1);
	if (!first)
		cJSON_AddNumberToObject(obj, "first_us", (double)us);
	else if (us < first->valuedouble)
		cJSON_SetNumberValue(first, (double)us);
	if (!last)
		cJSON_AddNumberToObject(obj, "last_us", (double)us);
	else if (us > last->valuedouble)
		cJSON_SetNumberValue(last, (double)us);
}

/* ------------------------------------------------------------ recordings */

static const cJSON *event_of(const struct replay_session *s, size_t i, const char **ev)
{
	const cJSON *j = s->events[i].json;

	*ev = j ? json_str(j, "ev") : NULL;
	return *ev ? j : NULL;
}

/* "unit", "container", "token subject", or the cgroup when none is known:
 * what tells the jobs under one identity apart. */
static void subjects(cJSON *usage, const cJSON *facts, int64_t us)
{
	const cJSON *claims = cJSON_GetObjectItemCaseSensitive(facts, "claims");
	const char *kinds[] = { "unit", "container", "subject" };
	const char *values[] = { json_str(facts, "unit"), json_str(facts, "container"),
				 json_str(claims, "sub") };
	cJSON *all = child(usage, "subjects");
	bool any = false;
	char key[600];

	for (int i = 0; i < 3; i++) {
		if (!values[i])
			continue;
		snprintf(key, sizeof(key), "%s\n%s", kinds[i], values[i]);
		seen(child(all, key), us);
		any = true;
	}
	if (!any && json_str(facts, "cgroup")) {
		snprintf(key, sizeof(key), "cgroup\n%s", json_str(facts, "cgroup"));
		seen(child(all, key), us);
	}
}

static void statement(cJSON *usage, cJSON *target, const cJSON *ev)
{
	const char *decision = json_str(ev, "decision"), *cls = json_str(ev, "class");
	const char *kind = json_str(ev, "kind");
	const cJSON *tables = cJSON_GetObjectItemCaseSensitive(ev, "tables"), *t;

	if (!decision)
		return;
	bump(child(usage, "decisions"), decision, 1);
	/* What ran (or would have): a refused statement used nothing. */
	if (!strcmp(decision, "deny"))
		return;
	if (cls)
		bump(child(target, "classes"), cls, 1);
	if (kind)
		bump(child(target, "kinds"), kind, 1);
	if (!strcmp(decision, "approve")) {
		if (cls)
			bump(child(target, "approve_classes"), cls, 1);
		if (kind)
			bump(child(target, "approve_kinds"), kind, 1);
	}
	cJSON_ArrayForEach(t, tables)
		if (cJSON_IsString(t))
			bump(child(target, "tables"), t->valuestring, 1);
}

static void take_session(struct gather *g, const struct replay_session *s)
{
	cJSON *usage = NULL, *target = NULL;
	const cJSON *ev;
	const char *kind;
	int64_t ts;

	for (size_t i = 0; i < s->nevents; i++) {
		if (!(ev = event_of(s, i, &kind)))
			continue;
		if (!strcmp(kind, "session_start")) {
			const char *id = json_str(ev, "identity"), *tg = json_str(ev, "target");

			if (!id || !tg || !json_int(ev, "ts", &ts))
				return;
			if (ts < g->since_us || ts > g->until_us) {
				g->outside++;
				return;
			}
			usage = child(g->identities, id);
			seen(usage, ts);
			subjects(usage, cJSON_GetObjectItemCaseSensitive(ev, "facts"), ts);
			target = child(child(usage, "targets"), tg);
			seen(target, ts);
		} else if (usage && !strcmp(kind, "statement")) {
			statement(usage, target, ev);
		} else if (usage && !strcmp(kind, "approval") && json_str(ev, "decision") &&
			   strcmp(json_str(ev, "decision"), "pending")) {
			/* "approved" or "denied" by a person, or denied by time */
			bump(child(usage, "decisions"), !strcmp(json_str(ev, "decision"), "approved")
							 ? "approved" : "approval_denied", 1);
		}
	}
}

static int read_recordings(struct gather *g, char *err, size_t errlen)
{
	uint8_t key[RECORDING_KEY_BYTES];
	struct replay_file *files = NULL;
	size_t n = 0;
	struct tm tm;
	time_t since = (time_t)(g->since_us / US);
	char first_day[16];
	int rc;

	if ((rc = replay_key_load(g->o->key_file, key, err, errlen)) ||
	    (rc = replay_scan(g->o->recordings_dir, &files, &n, err, errlen)))
		return rc;
	/* Day folders are UTC dates: ones before the period's are not read. */
	gmtime_r(&since, &tm);
	strftime(first_day, sizeof(first_day), "%Y-%m-%d", &tm);
	for (size_t i = 0; i < n; i++) {
		struct replay_session s;
		char ferr[256];

		if (strcmp(files[i].day, first_day) < 0)
			continue;
		replay_session_init(&s, files[i].id);
		s.keep = true;
		if (replay_load(g->o->recordings_dir, &files[i], key, &s, ferr, sizeof(ferr)) ||
		    s.report.status == RECORDING_BAD || s.failed) {
			g->unverified++;
		} else {
			g->read++;
			take_session(g, &s);
		}
		replay_session_free(&s);
	}
	free(files);
	explicit_bzero(key, sizeof(key));
	return 0;
}

/* -------------------------------------------------------------- journald */

static const char *journal_field(sd_journal *j, const char *name, char *buf, size_t size)
{
	const void *data;
	size_t len, nlen = strlen(name);

	if (sd_journal_get_data(j, name, &data, &len) < 0 || len <= nlen + 1)
		return NULL;
	snprintf(buf, size, "%.*s", (int)(len - nlen - 1), (const char *)data + nlen + 1);
	return buf;
}

static bool has_target(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->ntargets; i++)
		if (!strcmp(p->targets[i].name, name))
			return true;
	return false;
}

/* Callers refused for matching no identity: jobs that hit a target of the
 * policy but match none of its identities. */
static void read_refusals(struct gather *g)
{
	char target[256], cgroup[512], exe[512], user[64], unit[256], reason[128], key[1400];
	sd_journal *j;
	uint64_t us;

	if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) < 0)
		return;
	if (sd_journal_add_match(j, "SLUICE_EVENT=session_refused", 0) < 0 ||
	    sd_journal_seek_realtime_usec(j, (uint64_t)g->since_us) < 0) {
		sd_journal_close(j);
		return;
	}
	while (sd_journal_next(j) > 0) {
		cJSON *who;

		if (sd_journal_get_realtime_usec(j, &us) < 0 || (int64_t)us > g->until_us ||
		    !journal_field(j, "SLUICE_REASON", reason, sizeof(reason)) ||
		    strcmp(reason, NO_IDENTITY_REASON) ||
		    !journal_field(j, "SLUICE_TARGET", target, sizeof(target)) ||
		    !has_target(g->o->policy, target))
			continue;
		if (!journal_field(j, "SLUICE_CGROUP", cgroup, sizeof(cgroup)))
			snprintf(cgroup, sizeof(cgroup), "-");
		if (!journal_field(j, "SLUICE_EXE", exe, sizeof(exe)))
			snprintf(exe, sizeof(exe), "-");
		snprintf(key, sizeof(key), "%s\n%s\n%s", target, cgroup, exe);
		if (!(who = cJSON_GetObjectItemCaseSensitive(g->strangers, key))) {
			who = child(g->strangers, key);
			cJSON_AddStringToObject(who, "target", target);
			cJSON_AddStringToObject(who, "cgroup", cgroup);
			cJSON_AddStringToObject(who, "exe", exe);
			if (journal_field(j, "SLUICE_UNIT", unit, sizeof(unit)))
				cJSON_AddStringToObject(who, "unit", unit);
			if (journal_field(j, "SLUICE_USER", user, sizeof(user)))
				cJSON_AddStringToObject(who, "user", user);
		}
		seen(who, (int64_t)us);
	}
	sd_journal_close(j);
}

/* ------------------------------------------------------------- the output */

static void add_time(cJSON *obj, const char *key, double us)
{
	time_t t = (time_t)(us / US);
	struct tm tm;
	char buf[32];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(obj, key, buf);
}

/* first_us/last_us/sessions of a gathered object as the output has them. */
static void add_seen(cJSON *out, const cJSON *from)
{
	cJSON_AddNumberToObject(out, "sessions", number(from, "sessions"));
	if (cJSON_GetObjectItemCaseSensitive(from, "first_us")) {
		add_time(out, "first_seen", number(from, "first_us"));
		add_time(out, "last_seen", number(from, "last_us"));
	}
}

static cJSON *strv_json(const struct policy_strv *v)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < v->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v->v[i]));
	return a;
}

static cJSON *counts_copy(const cJSON *from)
{
	return from ? cJSON_Duplicate(from, true) : cJSON_CreateObject();
}

/* Was word (a class or kind in a rule's list, or "connect") used against
 * the rule's target? */
static bool word_used(const char *word, const cJSON *target, const char *classes,
		      const char *kinds)
{
	if (!target)
		return false;
	if (!strcmp(word, "connect"))
		return number(target, "sessions") > 0;
	return number(cJSON_GetObjectItemCaseSensitive(target, classes), word) > 0 ||
	       number(cJSON_GetObjectItemCaseSensitive(target, kinds), word) > 0;
}

/* The grants of rule r for this identity, and which went unused. */
static cJSON *grant(const struct policy *p, size_t ri, const cJSON *usage)
{
	const struct policy_rule *r = &p->rules[ri];
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(usage, "targets"), r->target);
	cJSON *g = cJSON_CreateObject(), *unused, *approve_unused;

	cJSON_AddNumberToObject(g, "rule", (double)ri);
	cJSON_AddStringToObject(g, "target", r->target);
	cJSON_AddItemToObject(g, "allow", strv_json(&r->allow));
	unused = cJSON_AddArrayToObject(g, "allow_unused");
	for (size_t i = 0; i < r->allow.n; i++)
		if (!word_used(r->allow.v[i], target, "classes", "kinds"))
			cJSON_AddItemToArray(unused, cJSON_CreateString(r->allow.v[i]));
	cJSON_AddItemToObject(g, "approve", strv_json(&r->approve));
	approve_unused = cJSON_AddArrayToObject(g, "approve_unused");
	for (size_t i = 0; i < r->approve.n; i++)
		if (!word_used(r->approve.v[i], target, "approve_classes", "approve_kinds"))
			cJSON_AddItemToArray(approve_unused, cJSON_CreateString(r->approve.v[i]));
	cJSON_AddBoolToObject(g, "used", target && number(target, "sessions") > 0);
	return g;
}

static cJSON *identity_out(const struct policy *p, const char *name,
			   const struct policy_identity *id, const cJSON *usage)
{
	cJSON *o = cJSON_CreateObject(), *list, *s;
	const cJSON *from;

	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddBoolToObject(o, "in_policy", id != NULL);
	if (id)
		cJSON_AddItemToObject(o, "roles", strv_json(&id->roles));
	add_seen(o, usage);
	list = cJSON_AddArrayToObject(o, "subjects");
	cJSON_ArrayForEach(from, cJSON_GetObjectItemCaseSensitive(usage, "subjects")) {
		const char *nl = strchr(from->string, '\n');

		s = cJSON_CreateObject();
		if (nl) {
			char kind[32];

			snprintf(kind, sizeof(kind), "%.*s", (int)(nl - from->string), from->string);
			cJSON_AddStringToObject(s, "kind", kind);
			cJSON_AddStringToObject(s, "value", nl + 1);
		}
		add_seen(s, from);
		cJSON_AddItemToArray(list, s);
	}
	list = cJSON_AddArrayToObject(o, "targets");
	cJSON_ArrayForEach(from, cJSON_GetObjectItemCaseSensitive(usage, "targets")) {
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "name", from->string);
		add_seen(s, from);
		cJSON_AddItemToObject(s, "classes", counts_copy(cJSON_GetObjectItem(from, "classes")));
		cJSON_AddItemToObject(s, "kinds", counts_copy(cJSON_GetObjectItem(from, "kinds")));
		cJSON_AddItemToObject(s, "tables", counts_copy(cJSON_GetObjectItem(from, "tables")));
		cJSON_AddItemToArray(list, s);
	}
	s = cJSON_AddObjectToObject(o, "decisions");
	for (const char *const *d = (const char *const[]){ "allow", "deny", "approve", "approved",
							  "approval_denied", "would_deny",
							  "would_approve", NULL }; *d; d++)
		cJSON_AddNumberToObject(s, *d, number(cJSON_GetObjectItem(usage, "decisions"), *d));
	list = cJSON_AddArrayToObject(o, "grants");
	for (size_t ri = 0; id && ri < p->nrules; ri++)
		if (policy_rule_applies(&p->rules[ri], p->rules[ri].target, &id->roles))
			cJSON_AddItemToArray(list, grant(p, ri, usage));
	return o;
}

__attribute__((format(printf, 3, 4)))
static void suggest(cJSON *list, const char *kind, const char *fmt, ...)
{
	cJSON *s = cJSON_CreateObject();
	char text[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(s, "kind", kind);
	cJSON_AddStringToObject(s, "text", text);
	cJSON_AddItemToArray(list, s);
}

/* A word of rule ri's list unused by every identity the rule applies to. */
static bool unused_by_all(const cJSON *identities, size_t ri, const char *list, const char *word)
{
	const cJSON *id, *g, *w;

	cJSON_ArrayForEach(id, identities)
		cJSON_ArrayForEach(g, cJSON_GetObjectItem(id, "grants")) {
			bool unused = false;

			if (number(g, "rule") != (double)ri)
				continue;
			cJSON_ArrayForEach(w, cJSON_GetObjectItem(g, list))
				unused = unused || !strcmp(w->valuestring, word);
			if (!unused)
				return false;
		}
	return true;
}

static void rule_suggestions(const struct policy *p, const cJSON *identities, unsigned days,
			     cJSON *out)
{
	for (size_t ri = 0; ri < p->nrules; ri++) {
		const struct policy_rule *r = &p->rules[ri];
		bool used = false;
		const cJSON *id, *g;

		cJSON_ArrayForEach(id, identities)
			cJSON_ArrayForEach(g, cJSON_GetObjectItem(id, "grants"))
				used = used || (number(g, "rule") == (double)ri &&
						cJSON_IsTrue(cJSON_GetObjectItem(g, "used")));
		if (!used) {
			suggest(out, "unused_rule", "rule %zu (target %s) was not used in %u days: remove "
				"it", ri, r->target, days);
			continue;
		}
		for (size_t i = 0; i < r->allow.n; i++)
			if (unused_by_all(identities, ri, "allow_unused", r->allow.v[i]))
				suggest(out, "unused_grant", "rule %zu: \"%s\" in allow was not used on %s "
					"in %u days: remove it", ri, r->allow.v[i], r->target, days);
		for (size_t i = 0; i < r->approve.n; i++)
			if (unused_by_all(identities, ri, "approve_unused", r->approve.v[i]))
				suggest(out, "unused_grant", "rule %zu: \"%s\" in approve was not asked for "
					"on %s in %u days: remove it", ri, r->approve.v[i], r->target, days);
	}
}

/* Each target's stored credential: file, owner, mode, age, users. */
static void credentials(const struct review_options *o, cJSON *doc, cJSON *suggestions)
{
	const struct policy *p = o->policy;
	cJSON *list = cJSON_AddArrayToObject(doc, "credentials");

	for (size_t t = 0; t < p->ntargets; t++) {
		const struct policy_target *tg = &p->targets[t];
		cJSON *c, *users, *warnings, *w;
		struct passwd *pw;
		struct stat st;
		char mode[8];

		if (!tg->cred_password_file)
			continue;
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "target", tg->name);
		cJSON_AddStringToObject(c, "file", tg->cred_password_file);
		if (tg->cred_user)
			cJSON_AddStringToObject(c, "user", tg->cred_user);
		users = cJSON_AddArrayToObject(c, "identities");
		for (size_t i = 0; i < p->nidentities; i++)
			if (policy_rule_for(p, tg->name, &p->identities[i].roles) >= 0)
				cJSON_AddItemToArray(users, cJSON_CreateString(p->identities[i].name));
		warnings = cJSON_AddArrayToObject(c, "warnings");
		if (stat(tg->cred_password_file, &st)) {
			cJSON_AddItemToArray(warnings, cJSON_CreateString(strerror(errno)));
		} else {
			int64_t age = (o->now - (int64_t)st.st_mtime) / 86400;

			pw = getpwuid(st.st_uid);
			cJSON_AddStringToObject(c, "owner", pw ? pw->pw_name : "?");
			snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
			cJSON_AddStringToObject(c, "mode", mode);
			add_time(c, "changed", (double)st.st_mtime * US);
			cJSON_AddNumberToObject(c, "age_days", (double)age);
			if (st.st_mode & 0004)
				cJSON_AddItemToArray(warnings, cJSON_CreateString("world-readable"));
			else if (st.st_mode & 0040)
				cJSON_AddItemToArray(warnings, cJSON_CreateString("group-readable"));
			if (age > (int64_t)p->agent.rotation_warn_days) {
				char w[96];

				snprintf(w, sizeof(w), "unchanged for %lld days (rotation_warn_days %u)",
					 (long long)age, p->agent.rotation_warn_days);
				cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
			}
		}
		cJSON_ArrayForEach(w, warnings)
			suggest(suggestions, "credential", "the credential of target %s (%s): %s%s",
				tg->name, tg->cred_password_file, w->valuestring,
				strncmp(w->valuestring, "unchanged", 9) ? "" : ": rotate it");
		cJSON_AddItemToArray(list, c);
	}
}

static cJSON *document(struct gather *g)
{
	const struct review_options *o = g->o;
	const struct policy *p = o->policy;
	cJSON *doc = cJSON_CreateObject(), *period, *rec, *ids, *strangers, *sugg;
	const cJSON *usage, *who;
	cJSON *none = cJSON_CreateObject();

	cJSON_AddNumberToObject(doc, "version", 1);
	cJSON_AddStringToObject(doc, "policy", o->policy_file);
	period = cJSON_AddObjectToObject(doc, "period");
	add_time(period, "since", (double)g->since_us);
	add_time(period, "until", (double)g->until_us);
	cJSON_AddNumberToObject(period, "days", o->since_days);
	rec = cJSON_AddObjectToObject(doc, "recordings");
	cJSON_AddStringToObject(rec, "dir", o->recordings_dir);
	cJSON_AddNumberToObject(rec, "read", g->read);
	cJSON_AddNumberToObject(rec, "unverified", g->unverified);
	cJSON_AddBoolToObject(doc, "journal", o->journal);
	ids = cJSON_AddArrayToObject(doc, "identities");
	for (size_t i = 0; i < p->nidentities; i++) {
		usage = cJSON_GetObjectItemCaseSensitive(g->identities, p->identities[i].name);
		cJSON_AddItemToArray(ids, identity_out(p, p->identities[i].name, &p->identities[i],
						       usage ? usage : none));
	}
	cJSON_ArrayForEach(usage, g->identities) {
		bool known = false;

		for (size_t i = 0; i < p->nidentities; i++)
			known = known || !strcmp(p->identities[i].name, usage->string);
		if (!known)
			cJSON_AddItemToArray(ids, identity_out(p, usage->string, NULL, usage));
	}
	strangers = cJSON_AddArrayToObject(doc, "unknown_callers");
	cJSON_ArrayForEach(who, g->strangers) {
		cJSON *s = cJSON_Duplicate(who, true);

		cJSON_DeleteItemFromObject(s, "sessions");
		cJSON_DeleteItemFromObject(s, "first_us");
		cJSON_DeleteItemFromObject(s, "last_us");
		cJSON_AddNumberToObject(s, "refused", number(who, "sessions"));
		add_time(s, "first_seen", number(who, "first_us"));
		add_time(s, "last_seen", number(who, "last_us"));
		cJSON_AddItemToArray(strangers, s);
	}
	sugg = cJSON_CreateArray();
	rule_suggestions(p, ids, o->since_days, sugg);
	cJSON_ArrayForEach(usage, ids)
		if (cJSON_IsTrue(cJSON_GetObjectItem(usage, "in_policy")) && !number(usage, "sessions"))
			suggest(sugg, "unseen_identity", "identity %s was not seen in %u days: remove it, "
				"or find out why its job no longer runs", json_str(usage, "name"),
				o->since_days);
	cJSON_ArrayForEach(who, strangers)
		suggest(sugg, "unknown_caller", "a job in %s (%s) reached target %s %.0f time%s and "
			"matches no identity: add an identity for it, or stop it",
			json_str(who, "cgroup"), json_str(who, "exe"), json_str(who, "target"),
			number(who, "refused"), number(who, "refused") == 1 ? "" : "s");
	credentials(o, doc, sugg);
	cJSON_AddItemToObject(doc, "suggestions", sugg);
	cJSON_Delete(none);
	return doc;
}

int ctl_review_build(const struct review_options *o, cJSON **out, char *err, size_t errlen)
{
	struct gather g = { .o = o };
	int rc;

	*out = NULL;
	/* To the end of the current second: a session of a moment ago is in. */
	g.until_us = (o->now + 1) * US;
	g.since_us = g.until_us - (int64_t)o->since_days * 86400 * US;
	g.identities = cJSON_CreateObject();
	g.strangers = cJSON_CreateObject();
	if (!g.identities || !g.strangers) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
	} else if (!(rc = read_recordings(&g, err, errlen))) {
		if (o->journal)
			read_refusals(&g);
		if (!(*out = document(&g))) {
			rc = -ENOMEM;
			snprintf(err, errlen, "out of memory");
		}
	}
	cJSON_Delete(g.identities);
	cJSON_Delete(g.strangers);
	return rc;
}
