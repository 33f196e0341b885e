// SPDX-License-Identifier: Apache-2.0
/* tokens: token-aware identification. See tokens.h. */
#include "tokens.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"
#include "log.h"
#include "policy.h"

/* One JWKS file as last read. */
struct jwks_file {
	char *path;
	struct jwks *keys;          /* NULL: unusable, for why */
	char why[JWT_WHY];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct jwks_file *next;
};

struct tokens {
	struct jwks_file *files;
};

int tokens_new(struct tokens **out)
{
	return (*out = calloc(1, sizeof(**out))) ? 0 : -ENOMEM;
}

void tokens_free(struct tokens *t)
{
	if (!t)
		return;
	while (t->files) {
		struct jwks_file *f = t->files;

		t->files = f->next;
		jwks_free(f->keys);
		free(f->path);
		free(f);
	}
	free(t);
}

static bool unchanged(const struct jwks_file *f, const struct stat *st)
{
	return f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
	       f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void read_keys(struct jwks_file *f, const struct stat *st)
{
	char *buf = NULL;
	ssize_t n = -1;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);

	jwks_free(f->keys);
	f->keys = NULL;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	if (st->st_size > JWKS_MAX_BYTES)
		snprintf(f->why, sizeof(f->why), "larger than %u bytes", JWKS_MAX_BYTES);
	else if (fd < 0 || !(buf = malloc((size_t)st->st_size + 1)) ||
		 (n = read(fd, buf, (size_t)st->st_size)) != st->st_size)
		snprintf(f->why, sizeof(f->why), "cannot read it: %s",
			 n < 0 ? strerror(errno) : "short read");
	else if (jwks_parse(buf, (size_t)n, &f->keys, f->why) == 0)
		log_info("JWKS %s: %zu key%s", f->path, jwks_count(f->keys),
			 jwks_count(f->keys) == 1 ? "" : "s");
	if (!f->keys)
		log_err("JWKS %s: %s", f->path, f->why);
	if (fd >= 0)
		close(fd);
	free(buf);
}

/* The keys of path as the file is now, or NULL with why. */
static const struct jwks *keys_of(struct tokens *t, const char *path, const char **why)
{
	struct jwks_file *f;
	struct stat st;

	for (f = t->files; f && strcmp(f->path, path); f = f->next)
		;
	if (!f) {
		if (!(f = calloc(1, sizeof(*f))) || !(f->path = strdup(path))) {
			free(f);
			*why = "out of memory";
			return NULL;
		}
		f->next = t->files;
		t->files = f;
		f->ino = (ino_t)-1;
	}
	if (stat(path, &st)) {
		snprintf(f->why, sizeof(f->why), "%s", strerror(errno));
		jwks_free(f->keys);
		f->keys = NULL;
		f->ino = (ino_t)-1;
	} else if (!unchanged(f, &st)) {
		read_keys(f, &st);
	}
	*why = f->why;
	return f->keys;
}

/* The identity's token as the caller gives it: 1 (in buf), 0 none, or
 * NEEDS_IN_BAND's -EAGAIN. */
static int token_of(const struct policy_token *pt, const struct token_source *src, char *buf,
		    size_t size, size_t *len)
{
	if (!strncmp(pt->from, "env:", 4)) {
		if (!src->ids || !src->origin ||
		    identity_env(src->ids, src->origin, pt->from + 4, buf, size))
			return 0;
		*len = strlen(buf);
		return *len > 0;
	}
	if (!strcmp(pt->from, "password") && src->in_band_possible) {
		if (!src->in_band)
			return -EAGAIN;
		if (src->in_band_len >= size)
			return 0;
		memcpy(buf, src->in_band, src->in_band_len);
		buf[src->in_band_len] = '\0';
		*len = src->in_band_len;
		return *len > 0;
	}
	return 0; /* "bearer" comes with the HTTP module */
}

/* Verify the identity's token: 0 and claims, or a refusal in why (for
 * the log) and reason (for the job). */
static int verify(struct tokens *t, const struct policy *p, const struct policy_token *pt,
		  const char *token, size_t len, cJSON **claims, char *why, size_t why_size,
		  char reason[JWT_WHY])
{
	const char *keys_why;
	const struct jwks *keys = keys_of(t, pt->jwks, &keys_why);
	struct jwt_expect want = { pt->issuer, pt->audience, (int64_t)time(NULL),
				   p->agent.token_skew_s };

	if (!keys) {
		snprintf(why, why_size, "no usable keys in %s: %s", pt->jwks, keys_why);
		snprintf(reason, JWT_WHY, "the agent cannot check it (see its log)");
		return -EINVAL;
	}
	if (jwt_verify(token, len, keys, &want, claims, reason)) {
		snprintf(why, why_size, "%s", reason);
		return -EINVAL;
	}
	return 0;
}

enum identify_result tokens_identify(struct tokens *t, const struct policy *p,
				     const struct policy_facts *facts,
				     const struct token_source *src, struct identified *out)
{
	char token[JWT_MAX_BYTES + 1];
	enum identify_result r = NO_IDENTITY;

	*out = (struct identified){ 0 };
	for (size_t i = 0; i < p->nidentities; i++) {
		const struct policy_identity *id = &p->identities[i];
		const struct policy_token *pt = id->token;
		char why[sizeof(out->why)] = "", reason[JWT_WHY] = "";
		cJSON *claims = NULL;
		size_t len = 0;
		int got;

		if (!policy_match_facts(&id->match, facts))
			continue;
		if (!pt) {
			out->identity = id;
			r = IDENTIFIED;
			break;
		}
		got = token_of(pt, src, token, sizeof(token), &len);
		if (got == -EAGAIN) {
			r = NEEDS_IN_BAND;
			break;
		}
		if (got == 0) {
			snprintf(why, sizeof(why), "no token (%s)", pt->from);
			snprintf(reason, sizeof(reason), "no token was given");
		} else if (verify(t, p, pt, token, len, &claims, why, sizeof(why), reason)) {
			claims = NULL;
		}
		explicit_bzero(token, len);
		if (!claims && pt->required) {
			snprintf(out->why, sizeof(out->why), "identity %s requires a valid token: %s",
				 id->name, why);
			snprintf(out->job_why, sizeof(out->job_why), "a valid token is required: %s",
				 reason);
			r = IDENTITY_REFUSED;
			break;
		}
		if (!claims)
			snprintf(out->why, sizeof(out->why), "identity %s: token not taken: %s",
				 id->name, why);
		if (claims ? !policy_match_claims(&id->match, claims) : id->match.nclaims > 0) {
			cJSON_Delete(claims);
			continue;
		}
		out->identity = id;
		out->claims = claims;
		r = IDENTIFIED;
		break;
	}
	return r;
}
