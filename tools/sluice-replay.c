// SPDX-License-Identifier: Apache-2.0
/*
 * sluice-replay: list, show, play, export and verify session recordings
 * (docs/sluice-replay.md). Reads a recordings folder and the key that
 * verifies it; works as well on a copy of both on another machine.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recording.h"
#include "replay_export.h"
#include "replay_files.h"
#include "replay_list.h"
#include "replay_play.h"
#include "replay_render.h"
#include "replay_session.h"

#define EXIT_BAD   1  /* an error, or a recording that is BAD */
#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: sluice-replay [--dir DIR] [--key FILE] COMMAND ...\n"
	"\n"
	"  list [--identity GLOB] [--target GLOB] [--since T] [--until T] [--decision D] [--json]\n"
	"                         sessions, newest first\n"
	"  show ID                a session as a readable timeline\n"
	"  play ID [--speed X]    a session as a terminal transcript, at its pace (space\n"
	"                         pauses, s or the right arrow skips a wait, q quits)\n"
	"  export ID [--format json|asciicast]\n"
	"                         its events as JSON lines, or an asciicast v2 transcript\n"
	"  verify ID | --all      check recordings: sealed, unsealed, or BAD where\n"
	"\n"
	"  --dir DIR    recordings folder (default /var/lib/sluice/recordings)\n"
	"  --key FILE   the 32-byte recording key (default /var/lib/sluice/recording.key)\n"
	"  ID           a session id, or the start of one no other has\n"
	"  T            2026-12-01 or 2026-12-01T10:02[:03] (UTC), or 30m, 2h, 7d ago\n"
	"\n"
	"Exit status: 0 done, 1 an error or a BAD recording, 2 bad usage.\n";

enum option_id {
	OPT_DIR = 256, OPT_KEY, OPT_IDENTITY, OPT_TARGET, OPT_SINCE, OPT_UNTIL, OPT_DECISION,
	OPT_JSON, OPT_SPEED, OPT_FORMAT, OPT_ALL, OPT_HELP,
};

#define BIT(opt) (1u << ((opt) - OPT_DIR))

struct opts {
	const char *dir, *key;
	const char *identity, *target, *decision, *format;
	int64_t since, until;   /* microseconds, or REPLAY_UNKNOWN */
	double speed;
	unsigned given;         /* BIT() of each option seen */
};

enum takes_id { NO_ID, ONE_ID, ONE_ID_OR_ALL };

struct command {
	const char *name;
	unsigned options;       /* BIT() of the options it takes besides --dir and --key */
	enum takes_id ids;
	const char *wrong_ids;  /* what to say when the ids given do not fit */
	int (*run)(const struct opts *o, const char *id, const uint8_t *key);
};

__attribute__((format(printf, 1, 2)))
static void warn(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice-replay: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_error(const char *what)
{
	warn("%s", what);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

/* ------------------------------------------------------------------- list */

/* 2026-12-01, 2026-12-01T10:02[:03][Z] (UTC), or an age: 45s, 30m, 2h, 7d. */
static bool parse_time(const char *arg, int64_t *out)
{
	struct tm tm = { 0 };
	const char *p;
	long long n;
	char unit;
	int len = 0;

	if (sscanf(arg, "%lld%c%n", &n, &unit, &len) == 2 && !arg[len] && n >= 0 &&
	    n < 100000000 && strchr("smhd", unit)) {
		int64_t secs = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;

		*out = (int64_t)time(NULL) * 1000000 - n * secs * 1000000;
		return true;
	}
	p = strptime(arg, "%Y-%m-%d", &tm);
	if (p && (*p == 'T' || *p == ' ')) {
		p = strptime(p + 1, "%H:%M", &tm);
		if (p && *p == ':')
			p = strptime(p + 1, "%S", &tm);
	}
	if (p && *p == 'Z')
		p++;
	if (!p || *p)
		return false;
	*out = (int64_t)timegm(&tm) * 1000000;
	return true;
}

/* When it started, or when its file last changed if no event says. */
static int64_t started(const struct replay_session *s)
{
	return s->start_us != REPLAY_UNKNOWN ? s->start_us : s->mtime_us;
}

static int newest_first(const void *a, const void *b)
{
	const struct replay_session *x = *(struct replay_session *const *)a;
	const struct replay_session *y = *(struct replay_session *const *)b;
	int64_t tx = started(x), ty = started(y);

	return tx != ty ? (tx < ty ? 1 : -1) : strcmp(x->id, y->id);
}

static bool glob_matches(const char *glob, const char *value)
{
	return !glob || !fnmatch(glob, value ? value : "", 0);
}

static bool selected(const struct opts *o, const struct replay_session *s)
{
	return glob_matches(o->identity, s->identity) && glob_matches(o->target, s->target) &&
	       (o->since == REPLAY_UNKNOWN || started(s) >= o->since) &&
	       (o->until == REPLAY_UNKNOWN || started(s) < o->until) &&
	       (!o->decision || s->decision_found);
}

static int cmd_list(const struct opts *o, const char *id, const uint8_t *key)
{
	struct replay_session *all, **shown;
	struct replay_file *files;
	size_t nfiles, n = 0;
	int rc = 0;
	char err[512];

	(void)id;
	if (replay_scan(o->dir, &files, &nfiles, err, sizeof(err))) {
		warn("%s", err);
		return EXIT_BAD;
	}
	all = calloc(nfiles ? nfiles : 1, sizeof(*all));
	shown = calloc(nfiles ? nfiles : 1, sizeof(*shown));
	for (size_t i = 0; all && shown && i < nfiles; i++) {
		struct replay_session *s = &all[i];

		replay_session_init(s, files[i].id);
		s->want_decision = o->decision;
		if (replay_load(o->dir, &files[i], key, s, err, sizeof(err))) {
			warn("%s", err);
			rc = EXIT_BAD;
		} else if (selected(o, s)) {
			shown[n++] = s;
		}
	}
	if (!all || !shown) {
		warn("out of memory");
		rc = EXIT_BAD;
	} else {
		qsort(shown, n, sizeof(*shown), newest_first);
		if (replay_list(shown, n, o->given & BIT(OPT_JSON), stdout)) {
			warn("out of memory");
			rc = EXIT_BAD;
		}
	}
	for (size_t i = 0; all && i < nfiles; i++)
		replay_session_free(&all[i]);
	free(all);
	free(shown);
	free(files);
	return rc;
}

/* ----------------------------------------------------------------- verify */

/* Print "ID: what verifying found"; EXIT_BAD unless it is sealed or
 * unsealed but intact. */
static int verify_one(const struct opts *o, const struct replay_file *f, const uint8_t *key)
{
	struct replay_session s;
	struct text line = { 0 };
	char err[512];
	int rc = 0;

	replay_session_init(&s, f->id);
	if (replay_load(o->dir, f, key, &s, err, sizeof(err))) {
		printf("%s: cannot be read: %s\n", f->id, err);
		rc = EXIT_BAD;
	} else {
		replay_status(&line, &s);
		printf("%s: %s\n", f->id, line.failed ? "out of memory" : line.s);
		rc = s.report.status == RECORDING_BAD || line.failed ? EXIT_BAD : 0;
	}
	text_free(&line);
	replay_session_free(&s);
	return rc;
}

static int cmd_verify(const struct opts *o, const char *id, const uint8_t *key)
{
	struct replay_file *files, one;
	size_t n;
	int rc = 0;
	char err[512];

	if (id) {
		if (replay_find(o->dir, id, &one, err, sizeof(err))) {
			warn("%s", err);
			return EXIT_BAD;
		}
		return verify_one(o, &one, key);
	}
	if (replay_scan(o->dir, &files, &n, err, sizeof(err))) {
		warn("%s", err);
		return EXIT_BAD;
	}
	if (!n)
		warn("no recordings in %s", o->dir);
	for (size_t i = 0; i < n; i++)
		rc |= verify_one(o, &files[i], key);
	free(files);
	return rc;
}

/* ------------------------------------------------ show, export and play */

/* The session id names, with its events; EXIT_BAD and said why if not. */
static int load_one(const struct opts *o, const char *id, const uint8_t *key,
		    struct replay_session *s)
{
	struct replay_file f;
	char err[512];

	if (replay_find(o->dir, id, &f, err, sizeof(err))) {
		warn("%s", err);
		return EXIT_BAD;
	}
	replay_session_init(s, f.id);
	s->keep = true;
	if (replay_load(o->dir, &f, key, s, err, sizeof(err))) {
		warn("%s", err);
		replay_session_free(s);
		return EXIT_BAD;
	}
	return 0;
}

/* After the session was rendered: EXIT_BAD, with a warning, when it was
 * BAD or could not be written out. */
static int finish(struct replay_session *s, int err)
{
	int rc = 0;

	if (err == -ENOMEM) {
		warn("out of memory");
		rc = EXIT_BAD;
	} else if (err || fflush(stdout) || ferror(stdout)) {
		warn("cannot write: %s", strerror(err ? -err : errno));
		rc = EXIT_BAD;
	}
	if (s->report.status == RECORDING_BAD) {
		warn("%s: BAD at offset %zu: %s; shown: the %zu events before it", s->id,
		     s->report.bad_offset, s->report.reason, s->nevents);
		rc = EXIT_BAD;
	}
	replay_session_free(s);
	return rc;
}

static int cmd_show(const struct opts *o, const char *id, const uint8_t *key)
{
	struct replay_session s;

	if (load_one(o, id, key, &s))
		return EXIT_BAD;
	return finish(&s, replay_show(&s, stdout));
}

static int cmd_export(const struct opts *o, const char *id, const uint8_t *key)
{
	struct replay_session s;
	int err;

	if (load_one(o, id, key, &s))
		return EXIT_BAD;
	if (!strcmp(o->format, "json")) {
		err = replay_export_json(&s, stdout);
	} else {
		err = replay_cast_header(&s, stdout);
		if (!err)
			err = replay_transcript(&s, replay_cast_frame, stdout);
	}
	return finish(&s, err);
}

static int cmd_play(const struct opts *o, const char *id, const uint8_t *key)
{
	struct replay_session s;
	int err;

	if (load_one(o, id, key, &s))
		return EXIT_BAD;
	err = replay_play(&s, o->speed, stdout);
	if (err == -EINTR) {
		replay_session_free(&s);
		return 130; /* as a shell reports an interrupted command */
	}
	return finish(&s, err);
}

/* ------------------------------------------------------------------ main */

static const struct command commands[] = {
	{ "list", BIT(OPT_IDENTITY) | BIT(OPT_TARGET) | BIT(OPT_SINCE) | BIT(OPT_UNTIL) |
		  BIT(OPT_DECISION) | BIT(OPT_JSON), NO_ID, "list takes no session id", cmd_list },
	{ "show", 0, ONE_ID, "show takes one session id", cmd_show },
	{ "play", BIT(OPT_SPEED), ONE_ID, "play takes one session id", cmd_play },
	{ "export", BIT(OPT_FORMAT), ONE_ID, "export takes one session id", cmd_export },
	{ "verify", BIT(OPT_ALL), ONE_ID_OR_ALL, "verify takes one session id, or --all",
	  cmd_verify },
};

static const struct option long_options[] = {
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "identity", required_argument, NULL, OPT_IDENTITY },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "decision", required_argument, NULL, OPT_DECISION },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "speed", required_argument, NULL, OPT_SPEED },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ 0 },
};

/* One option into o; false when its value is not one it takes. */
static bool take_option(struct opts *o, int opt, const char *arg)
{
	char *end;

	switch (opt) {
	case OPT_DIR: o->dir = arg; return true;
	case OPT_KEY: o->key = arg; return true;
	case OPT_IDENTITY: o->identity = arg; return true;
	case OPT_TARGET: o->target = arg; return true;
	case OPT_DECISION: o->decision = arg; return true;
	case OPT_SINCE: return parse_time(arg, &o->since);
	case OPT_UNTIL: return parse_time(arg, &o->until);
	case OPT_FORMAT:
		o->format = arg;
		return !strcmp(arg, "json") || !strcmp(arg, "asciicast");
	case OPT_SPEED:
		o->speed = strtod(arg, &end);
		return end != arg && !*end && isfinite(o->speed) && o->speed >= 0.01 &&
		       o->speed <= 1000;
	default: return true;
	}
}

int main(int argc, char **argv)
{
	struct opts o = { .dir = "/var/lib/sluice/recordings", .key = "/var/lib/sluice/recording.key",
			  .format = "json", .since = REPLAY_UNKNOWN, .until = REPLAY_UNKNOWN,
			  .speed = 1 };
	const struct command *cmd = NULL;
	const char *id = NULL;
	uint8_t key[RECORDING_KEY_BYTES];
	char err[512], bad[600];
	bool ids_fit;
	int opt, rc;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		if (opt == 'h' || opt == OPT_HELP) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (opt == '?' || opt == ':')
			return usage_error(optopt >= OPT_DIR ? "an option lacks its value"
							     : "unknown option");
		if (!take_option(&o, opt, optarg)) {
			snprintf(bad, sizeof(bad), "--%s: %s is not a value it takes",
				 long_options[opt - OPT_DIR].name, optarg);
			return usage_error(bad);
		}
		o.given |= BIT(opt);
	}
	for (size_t i = 0; optind < argc && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[optind], commands[i].name))
			cmd = &commands[i];
	if (!cmd)
		return usage_error(optind < argc ? "unknown command" : "no command");
	if (o.given & ~(cmd->options | BIT(OPT_DIR) | BIT(OPT_KEY)))
		return usage_error("an option that command does not take");
	id = optind + 1 < argc ? argv[optind + 1] : NULL;
	ids_fit = optind + 2 >= argc &&
		  (cmd->ids == NO_ID ? !id :
		   cmd->ids == ONE_ID ? id != NULL : !id != !(o.given & BIT(OPT_ALL)));
	if (!ids_fit)
		return usage_error(cmd->wrong_ids);

	if (replay_key_load(o.key, key, err, sizeof(err))) {
		warn("%s", err);
		return EXIT_BAD;
	}
	rc = cmd->run(&o, id, key);
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}
