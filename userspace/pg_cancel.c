// SPDX-License-Identifier: Apache-2.0
/* pg_cancel: job-facing cancel keys. See pg_cancel.h. */
#include "pg_cancel.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>

#define BUCKETS 4096 /* power of two */

struct cancel_entry {
	struct pg_cancel_key job, upstream;
	struct session *session;
	struct cancel_entry *next;
};

static struct cancel_entry *buckets[BUCKETS];

static struct cancel_entry **bucket(const struct pg_cancel_key *k)
{
	uint64_t x = (uint64_t)k->pid << 32 | k->secret;

	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ULL;
	return &buckets[(x >> 40) & (BUCKETS - 1)];
}

static struct cancel_entry *find(const struct pg_cancel_key *k)
{
	for (struct cancel_entry *e = *bucket(k); e; e = e->next)
		if (e->job.pid == k->pid && e->job.secret == k->secret)
			return e;
	return NULL;
}

int pg_cancel_register(struct session *s, const struct pg_cancel_key *upstream,
		       struct pg_cancel_key *job)
{
	struct cancel_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	do {
		if (RAND_bytes((unsigned char *)&e->job, sizeof(e->job)) != 1) {
			free(e);
			return -ENOMEM;
		}
		e->job.pid &= 0x7fffffff; /* shown as a pid: keep it positive */
	} while (find(&e->job));
	e->upstream = *upstream;
	e->session = s;
	e->next = *bucket(&e->job);
	*bucket(&e->job) = e;
	*job = e->job;
	return 0;
}

void pg_cancel_forget(const struct pg_cancel_key *job)
{
	for (struct cancel_entry **p = bucket(job); *p; p = &(*p)->next) {
		struct cancel_entry *e = *p;

		if (e->job.pid == job->pid && e->job.secret == job->secret) {
			*p = e->next;
			free(e);
			return;
		}
	}
}

struct session *pg_cancel_find(const struct pg_cancel_key *job, struct pg_cancel_key *upstream)
{
	struct cancel_entry *e = find(job);

	if (!e)
		return NULL;
	*upstream = e->upstream;
	return e->session;
}

void pg_cancel_clear(void)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		while (buckets[i]) {
			struct cancel_entry *e = buckets[i];

			buckets[i] = e->next;
			free(e);
		}
	}
}
