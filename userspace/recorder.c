// SPDX-License-Identifier: Apache-2.0
/* recorder: where recordings go and what a failure does. See recorder.h. */
#include "recorder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "keyfile.h"
#include "log.h"
#include "policy.h"
#include "recording.h"

#define SWEEP_MS (3600u * 1000u)

struct session_rec {
	struct recorder *owner;
	struct recording *file;
	char id[24];
	bool failed;      /* nothing more is written */
	TAILQ_ENTRY(session_rec) link;
};

struct recorder {
	char *dir;                 /* agent.recordings_dir: fixed while running */
	bool record_continue;      /* agent.on_record_failure: continue */
	unsigned retention_days;
	uint8_t key[RECORDING_KEY_BYTES];
	TAILQ_HEAD(, session_rec) open;
	bool opening_failed; /* the last open failed: said once, until one works */
};

/* A journald alert: recordings are the audit trail, so losing one is
 * worth waking someone for. */
static void alert(const struct recorder *r, const char *id, const char *what, int err)
{
	char f[3][160], msg[512];
	const char *v[3] = { f[0], f[1], f[2] };

	snprintf(f[0], sizeof(f[0]), "SLUICE_EVENT=record_failed");
	snprintf(f[1], sizeof(f[1]), "SLUICE_SESSION=%s", id ? id : "-");
	snprintf(f[2], sizeof(f[2]), "SLUICE_REASON=%s", strerror(-err));
	snprintf(msg, sizeof(msg), "recording%s%s: %s failed: %s; %s", id ? " of session " : "",
		 id ? id : "", what, strerror(-err),
		 r->record_continue ? "the session goes on unrecorded (on_record_failure: continue)"
					   : "the session is refused (on_record_failure: block)");
	log_event(LOG_CRIT, msg, v, 3);
}

static void fail(struct session_rec *sr, const char *what, int err)
{
	if (sr->failed)
		return;
	sr->failed = true;
	alert(sr->owner, sr->id, what, err);
}

static void flush_all(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct recorder *r = arg;
	struct session_rec *sr;
	int err;

	(void)loop, (void)fd, (void)events;
	TAILQ_FOREACH(sr, &r->open, link)
		if (!sr->failed && (err = recording_flush(sr->file)))
			fail(sr, "writing", err);
}

/* Day folders are YYYY-MM-DD (UTC); anything else in the folder is left. */
static bool day_of(const char *name, time_t *out)
{
	struct tm tm = { 0 };
	char *end = strptime(name, "%Y-%m-%d", &tm);

	if (!end || *end || strlen(name) != 10)
		return false;
	*out = timegm(&tm);
	return true;
}

static void remove_day(const char *dir, const char *day)
{
	char path[4096], file[4352];
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, day);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 7 || strcmp(e->d_name + len - 6, ".slrec"))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		n += !unlink(file);
	}
	closedir(d);
	if (rmdir(path) && errno != ENOTEMPTY)
		log_warn("retention: could not remove %s: %s", path, strerror(errno));
	log_info("retention: removed %u recording%s of %s", n, n == 1 ? "" : "s", day);
}

void recorder_sweep(struct recorder *r, int64_t now)
{
	const char *dir = r->dir;
	int64_t keep = (int64_t)r->retention_days * 86400;
	struct dirent *e;
	time_t day;
	DIR *d;

	if (!r->retention_days || !(d = opendir(dir)))
		return;
	/* A day is over at its end: kept for whole days after it. */
	while ((e = readdir(d)))
		if (day_of(e->d_name, &day) && (int64_t)day + 86400 + keep <= now)
			remove_day(dir, e->d_name);
	closedir(d);
}

static void sweep_tick(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop, (void)fd, (void)events;
	recorder_sweep(arg, time(NULL));
}

int recorder_new(const struct policy *p, struct ev_loop *loop, struct recorder **out)
{
	struct recorder *r = calloc(1, sizeof(*r));
	int err;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	TAILQ_INIT(&r->open);
	recorder_configure(r, &p->agent);
	if (!(r->dir = strdup(p->agent.recordings_dir))) {
		recorder_free(r);
		return -ENOMEM;
	}
	if ((err = keyfile_load(p->agent.state_dir, "recording.key", r->key, sizeof(r->key)))) {
		log_err("recording key in %s: %s", p->agent.state_dir, strerror(-err));
		recorder_free(r);
		return err;
	}
	if (mkdir(p->agent.recordings_dir, 0700) && errno != EEXIST) {
		err = -errno;
		log_err("recordings folder %s: %s", p->agent.recordings_dir, strerror(errno));
		recorder_free(r);
		return err;
	}
	recorder_sweep(r, time(NULL));
	if ((err = ev_every(loop, p->agent.record_flush_ms, flush_all, r)) ||
	    (err = ev_every(loop, SWEEP_MS, sweep_tick, r))) {
		recorder_free(r);
		return err;
	}
	*out = r;
	return 0;
}

void recorder_free(struct recorder *r)
{
	struct session_rec *sr;

	if (!r)
		return;
	while ((sr = TAILQ_FIRST(&r->open)))
		recorder_close(sr);
	OPENSSL_cleanse(r->key, sizeof(r->key));
	free(r->dir);
	free(r);
}

void recorder_configure(struct recorder *r, const struct policy_agent *a)
{
	r->record_continue = a->record_continue;
	r->retention_days = a->retention_days;
}

bool recorder_blocks(const struct recorder *r)
{
	return !r->record_continue;
}

int recorder_open(struct recorder *r, const char *id, struct session_rec **out)
{
	struct session_rec *sr = calloc(1, sizeof(*sr));
	int err = sr ? recording_open(r->dir, id, r->key, &sr->file) : -ENOMEM;

	*out = NULL;
	if (err) {
		free(sr);
		if (!r->opening_failed)
			alert(r, id, "opening", err);
		r->opening_failed = true;
		return err;
	}
	if (r->opening_failed)
		log_info("recordings can be written again (%s)", r->dir);
	r->opening_failed = false;
	sr->owner = r;
	snprintf(sr->id, sizeof(sr->id), "%s", id);
	TAILQ_INSERT_TAIL(&r->open, sr, link);
	*out = sr;
	return 0;
}

void recorder_add(struct session_rec *sr, const char *json, size_t len)
{
	static const char dropped[] = "{\"ev\":\"dropped\",\"why\":\"event too large\"}";
	int err;

	if (!sr || sr->failed)
		return;
	if (!json)
		err = -ENOMEM;
	else if (len >= RECORDING_BUFFER)
		/* Never happens with audit's budget; if it did, the recording
		 * must go on and say so rather than fail. */
		err = recording_add(sr->file, dropped, sizeof(dropped) - 1);
	else
		err = recording_add(sr->file, json, len);
	if (err)
		fail(sr, "writing", err);
}

bool recorder_failed(const struct session_rec *sr)
{
	return sr && sr->failed && !sr->owner->record_continue;
}

const char *recorder_path(const struct session_rec *sr)
{
	return recording_path(sr->file);
}

void recorder_close(struct session_rec *sr)
{
	int err;

	if (!sr)
		return;
	TAILQ_REMOVE(&sr->owner->open, sr, link);
	err = recording_close(sr->file);
	if (err && !sr->failed)
		alert(sr->owner, sr->id, "sealing", err);
	free(sr);
}
