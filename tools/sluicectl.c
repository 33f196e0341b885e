// SPDX-License-Identifier: Apache-2.0
/*
 * sluicectl: the agent's control tool (docs/sluicectl.md). Online commands
 * send one request over the control socket (docs/control.md) and show the
 * answer; `policy check` and `policy explain` read a policy file and need
 * no agent.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_client.h"
#include "ctl_explain.h"
#include "ctl_review.h"
#include "ctl_show.h"
#include "policy.h"
#include "replay_text.h"

#define EXIT_ERROR   1
#define EXIT_USAGE   2
#define EXIT_APPROVE 3 /* policy explain: the SQL would wait for approval */
#define EXIT_DENY    4 /* policy explain: the SQL would be denied */

#define DEFAULT_SOCKET "/run/sluice/control.sock"
#define DEFAULT_CONFIG "/etc/sluice/policy.json"
#define FOR_MAX_S      604800 /* the longest approval for an identity the agent grants */

static const char usage_text[] =
	"usage: sluicectl [--socket PATH] [--config FILE] [--json] COMMAND ...\n"
	"\n"
	"  status                   the agent: version, policy, sessions, decisions\n"
	"  sessions                 sessions in progress\n"
	"  kill SESSION             end a session at once\n"
	"  approvals                statements waiting for approval\n"
	"  approve ID [--for-session | --for DURATION]\n"
	"                           let a waiting statement run: this once, also later in\n"
	"                           its session, or for its identity for DURATION\n"
	"  deny ID --reason TEXT    refuse a waiting statement; the job reads TEXT\n"
	"  policy reload            make the agent read its policy file again\n"
	"  thaw CGROUP              thaw a cgroup that a rule froze\n"
	"  policy check FILE        validate a policy file (no agent needed)\n"
	"  policy explain --identity NAME --target NAME --sql SQL\n"
	"                           what the policy in --config decides for SQL, and why\n"
	"                           (no agent needed)\n"
	"  review [--since DAYS] [--format table|json|markdown] [--dir DIR] [--key FILE]\n"
	"         [--no-journal]    the access review: what each identity reached and used\n"
	"                           in the last DAYS (30), grants it never used, callers\n"
	"                           that match no identity, stored credentials, and what\n"
	"                           to remove (reads the policy, recordings and journald)\n"
	"\n"
	"  --socket PATH   the agent's control socket (default: agent.control_socket of\n"
	"                  --config when given, else " DEFAULT_SOCKET ")\n"
	"  --config FILE   the policy (default " DEFAULT_CONFIG ")\n"
	"  --json          print the agent's answer, or the offline result, as JSON\n"
	"  DURATION        90s, 15m, 2h, 1d or plain seconds, at most 7d\n"
	"\n"
	"Exit status: 0 done (explain: allow), 1 an error or a refusal, 2 bad usage,\n"
	"3 explain: approve, 4 explain: deny.\n";

enum option_id {
	OPT_SOCKET = 256, OPT_CONFIG, OPT_JSON, OPT_HELP, OPT_IDENTITY, OPT_TARGET, OPT_SQL,
	OPT_FOR_SESSION, OPT_FOR, OPT_REASON, OPT_SINCE, OPT_FORMAT, OPT_DIR, OPT_KEY,
	OPT_NO_JOURNAL,
};

#define BIT(opt) (1u << ((opt) - OPT_SOCKET))
#define GLOBAL_OPTIONS (BIT(OPT_SOCKET) | BIT(OPT_CONFIG) | BIT(OPT_JSON))

struct opts {
	const char *socket, *config;
	const char *identity, *target, *sql, *reason;
	const char *format, *dir, *key;
	long for_s;
	unsigned since_days;
	unsigned given;          /* BIT() of each option seen */
};

typedef int show_fn(const cJSON *answer, FILE *out);

/* A command runs its own function, or else sends {"cmd": request} (with
 * the operand as member arg) and shows the answer with show, or says done. */
struct command {
	const char *word, *sub;  /* "policy", "check"; sub NULL for one word */
	const char *operand;     /* what its one operand is ("SESSION"), or NULL: none */
	unsigned options;        /* BIT() of the options it takes besides the global ones */
	unsigned required;       /* ... and of those it needs */
	int (*run)(const struct opts *o, const char *operand);
	const char *request, *arg;
	show_fn *show;
	const char *done;        /* printf format; %s is the operand */
};

__attribute__((format(printf, 1, 2)))
static void warn(const char *fmt, ...)
{
	va_list ap;

	fputs("sluicectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Text from the agent on stderr, escaped for the terminal. */
static void warn_escaped(const char *prefix, const char *s)
{
	struct text t = { 0 };

	text_escape(&t, s, strlen(s), NULL, 0);
	fprintf(stderr, "%s%s\n", prefix, t.failed ? "(out of memory)" : t.s);
	text_free(&t);
}

static int usage_error(const char *what)
{
	warn("%s", what);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

/* ---------------------------------------------------------------- policy */

/* FILE's policy, or NULL with every error said on stderr as FILE: $.path: message. */
static struct policy *load_policy(const char *file)
{
	struct policy_errors errs = { 0 };
	struct policy *p = policy_load(file, &errs);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s%s%s\n", errs.msg[i][0] == '$' ? file : "",
			errs.msg[i][0] == '$' ? ": " : "", errs.msg[i]);
	if (!p)
		fprintf(stderr, "%s: %zu error%s, not loaded\n", file, errs.n, errs.n == 1 ? "" : "s");
	policy_errors_clear(&errs);
	return p;
}

static int cmd_check(const struct opts *o, const char *file)
{
	struct policy_errors errs = { 0 };
	struct policy *p;
	cJSON *result, *errors;
	char *line = NULL;

	if (!(o->given & BIT(OPT_JSON))) {
		p = load_policy(file);
		if (p)
			printf("%s: ok\n", file);
		policy_free(p);
		return p ? 0 : EXIT_ERROR;
	}
	p = policy_load(file, &errs);
	if ((result = cJSON_CreateObject())) {
		cJSON_AddStringToObject(result, "file", file);
		cJSON_AddBoolToObject(result, "ok", p != NULL);
		errors = cJSON_AddArrayToObject(result, "errors");
		for (size_t i = 0; errors && i < errs.n; i++)
			cJSON_AddItemToArray(errors, cJSON_CreateString(errs.msg[i]));
		line = cJSON_PrintUnformatted(result);
		cJSON_Delete(result);
	}
	if (line)
		printf("%s\n", line);
	else
		warn("out of memory");
	free(line);
	policy_errors_clear(&errs);
	policy_free(p);
	return p && line ? 0 : EXIT_ERROR;
}

static int cmd_explain(const struct opts *o, const char *operand)
{
	struct policy *p = load_policy(o->config);
	enum sql_decision decision;
	char err[512];
	int rc;

	(void)operand;
	if (!p)
		return EXIT_ERROR;
	rc = ctl_explain(p, o->identity, o->target, o->sql, o->given & BIT(OPT_JSON), stdout,
			 &decision, err, sizeof(err));
	policy_free(p);
	if (rc) {
		warn("%s", err);
		return EXIT_ERROR;
	}
	return decision == SQL_ALLOW ? 0 : decision == SQL_APPROVE ? EXIT_APPROVE : EXIT_DENY;
}

static int cmd_review(const struct opts *o, const char *operand)
{
	struct policy *p = load_policy(o->config);
	bool json = (o->format && !strcmp(o->format, "json")) ||
		    (!o->format && (o->given & BIT(OPT_JSON)));
	char key[4096], err[512];
	struct review_options ro;
	cJSON *review = NULL;
	char *line;
	int rc;

	(void)operand;
	if (!p)
		return EXIT_ERROR;
	snprintf(key, sizeof(key), "%s/recording.key", p->agent.state_dir);
	ro = (struct review_options){
		.policy = p, .policy_file = o->config,
		.recordings_dir = o->dir ? o->dir : p->agent.recordings_dir,
		.key_file = o->key ? o->key : key,
		.since_days = o->since_days ? o->since_days : 30,
		.now = (int64_t)time(NULL),
		.journal = !(o->given & BIT(OPT_NO_JOURNAL)),
	};
	if ((rc = ctl_review_build(&ro, &review, err, sizeof(err)))) {
		warn("%s", err);
		policy_free(p);
		return EXIT_ERROR;
	}
	if (json) {
		if ((line = cJSON_Print(review)))
			printf("%s\n", line);
		free(line);
	} else {
		ctl_review_print(review, o->format && !strcmp(o->format, "markdown")
						 ? REVIEW_MARKDOWN : REVIEW_TABLE, stdout);
	}
	cJSON_Delete(review);
	policy_free(p);
	return 0;
}

/* ---------------------------------------------------- talking to the agent */

/* The socket: --socket, else agent.control_socket of --config if given.
 * *owned is what to free; NULL when the policy does not load. */
static const char *socket_path(const struct opts *o, char **owned)
{
	struct policy *p;

	*owned = NULL;
	if (o->socket)
		return o->socket;
	if (!(o->given & BIT(OPT_CONFIG)))
		return DEFAULT_SOCKET;
	if (!(p = load_policy(o->config)))
		return NULL;
	if (!(*owned = strdup(p->agent.control_socket)))
		warn("out of memory");
	policy_free(p);
	return *owned;
}

/* What the agent said when it refused: its error, and a reload's errors. */
static void say_refusal(const cJSON *answer)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(answer, "error"), *e;

	warn_escaped("sluicectl: ", cJSON_IsString(error) ? error->valuestring
					: "the agent refused without saying why");
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(answer, "errors"))
		if (cJSON_IsString(e))
			warn_escaped("  ", e->valuestring);
}

/* Send request (taken over; NULL when making it ran out of memory) and
 * show the answer: with show, or as done when there is nothing to show. */
static int ask(const struct opts *o, cJSON *request, show_fn *show, const char *done)
{
	const char *path;
	char *owned = NULL, *json = NULL, err[512];
	cJSON *answer = NULL;
	int rc = EXIT_ERROR, shown;

	if (!request) {
		warn("out of memory");
		return EXIT_ERROR;
	}
	if (!(path = socket_path(o, &owned)))
		goto out;
	if (ctl_request(path, request, &answer, err, sizeof(err))) {
		warn("%s", err);
		goto out;
	}
	if (o->given & BIT(OPT_JSON)) {
		/* Printed again by cJSON: control characters escaped. */
		if (!(json = cJSON_PrintUnformatted(answer))) {
			warn("out of memory");
			goto out;
		}
		printf("%s\n", json);
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answer, "ok"))) {
		say_refusal(answer);
		goto out;
	}
	rc = 0;
	if (o->given & BIT(OPT_JSON))
		goto out;
	if (!show) {
		printf("%s\n", done);
	} else if ((shown = show(answer, stdout))) {
		warn("%s", shown == -EPROTO ? "the agent's answer lacks what docs/control.md says "
		     "it holds" : "out of memory");
		rc = EXIT_ERROR;
	}
out:
	free(json);
	free(owned);
	cJSON_Delete(answer);
	cJSON_Delete(request);
	return rc;
}

/* {"cmd": cmd} with a string argument name: value if name is given. */
static cJSON *request(const char *cmd, const char *name, const char *value)
{
	cJSON *r = cJSON_CreateObject();

	if (r && (!cJSON_AddStringToObject(r, "cmd", cmd) ||
		  (name && !cJSON_AddStringToObject(r, name, value)))) {
		cJSON_Delete(r);
		r = NULL;
	}
	return r;
}

static int show_approvals(const cJSON *answer, FILE *out)
{
	return ctl_show_approvals(answer, time(NULL), out);
}

static int show_reloaded(const cJSON *answer, FILE *out)
{
	const cJSON *gen = cJSON_GetObjectItemCaseSensitive(answer, "generation");

	if (cJSON_IsNumber(gen))
		fprintf(out, "policy reloaded: generation %.0f\n", gen->valuedouble);
	else
		fputs("policy reloaded\n", out);
	return 0;
}

/* A command that sends its request and shows the answer (struct command). */
static int ask_simply(const struct opts *o, const struct command *c, const char *operand)
{
	char done[512];

	snprintf(done, sizeof(done), c->done ? c->done : "", operand);
	return ask(o, request(c->request, c->arg, operand), c->show, done);
}

static int cmd_deny(const struct opts *o, const char *id)
{
	cJSON *r = request("deny", "id", id);

	char done[512];

	if (r && !cJSON_AddStringToObject(r, "reason", o->reason)) {
		cJSON_Delete(r);
		r = NULL;
	}
	snprintf(done, sizeof(done), "approval %s denied", id);
	return ask(o, r, NULL, done);
}

static int cmd_approve(const struct opts *o, const char *id)
{
	cJSON *r = request("approve", "id", id);
	struct text done = { 0 };
	bool made = r != NULL;
	int rc;

	text_printf(&done, "approval %s granted: ", id);
	if (o->given & BIT(OPT_FOR_SESSION)) {
		made = made && cJSON_AddStringToObject(r, "scope", "session");
		text_puts(&done, "this statement, and the same again in its session");
	} else if (o->given & BIT(OPT_FOR)) {
		made = made && cJSON_AddStringToObject(r, "scope", "identity") &&
		       cJSON_AddNumberToObject(r, "for_s", (double)o->for_s);
		text_puts(&done, "the same statement for its identity on its target for ");
		text_duration(&done, (int64_t)o->for_s * 1000000);
	} else {
		text_puts(&done, "this statement, this once");
	}
	if (!made || done.failed) {
		cJSON_Delete(r);
		r = NULL;
	}
	rc = ask(o, r, NULL, done.s);
	text_free(&done);
	return rc;
}

/* ------------------------------------------------------------------ main */

static const struct command commands[] = {
	{ "status", .request = "status", .show = ctl_show_status },
	{ "sessions", .request = "sessions", .show = ctl_show_sessions },
	{ "kill", .operand = "SESSION", .request = "kill", .arg = "session",
	  .done = "session %s killed" },
	{ "approvals", .request = "approvals", .show = show_approvals },
	{ "approve", .operand = "ID", .options = BIT(OPT_FOR_SESSION) | BIT(OPT_FOR),
	  .run = cmd_approve },
	{ "deny", .operand = "ID", .options = BIT(OPT_REASON), .required = BIT(OPT_REASON),
	  .run = cmd_deny },
	{ "thaw", .operand = "CGROUP", .request = "thaw", .arg = "cgroup",
	  .done = "cgroup %s thawed" },
	{ "policy", "reload", .request = "policy_reload", .show = show_reloaded },
	{ "policy", "check", "FILE", .run = cmd_check },
	{ "review", .options = BIT(OPT_SINCE) | BIT(OPT_FORMAT) | BIT(OPT_DIR) | BIT(OPT_KEY) |
	  BIT(OPT_NO_JOURNAL), .run = cmd_review },
	{ "policy", "explain", .options = BIT(OPT_IDENTITY) | BIT(OPT_TARGET) | BIT(OPT_SQL),
	  .required = BIT(OPT_IDENTITY) | BIT(OPT_TARGET) | BIT(OPT_SQL), .run = cmd_explain },
};

static const struct option long_options[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "identity", required_argument, NULL, OPT_IDENTITY },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "sql", required_argument, NULL, OPT_SQL },
	{ "for-session", no_argument, NULL, OPT_FOR_SESSION },
	{ "for", required_argument, NULL, OPT_FOR },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "no-journal", no_argument, NULL, OPT_NO_JOURNAL },
	{ 0 },
};

/* 90s, 15m, 2h, 1d or plain seconds: 1 second to FOR_MAX_S. */
static bool parse_duration(const char *arg, long *secs)
{
	long n = 0, unit;
	const char *s = arg;

	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++)
		if ((n = n * 10 + (*s - '0')) > FOR_MAX_S)
			return false;
	if (*s && s[1])
		return false;
	unit = !*s ? 1 : *s == 's' ? 1 : *s == 'm' ? 60 : *s == 'h' ? 3600 : *s == 'd' ? 86400 : 0;
	*secs = n * unit;
	return *secs >= 1 && *secs <= FOR_MAX_S;
}

/* 1 to 3650 days. */
static bool parse_days(const char *arg, unsigned *days)
{
	char *end;
	unsigned long n = strtoul(arg, &end, 10);

	if (!isdigit((unsigned char)*arg) || *end || n < 1 || n > 3650)
		return false;
	*days = (unsigned)n;
	return true;
}

/* One option into o; false when its value is not one it takes. */
static bool take_option(struct opts *o, int opt, const char *arg)
{
	switch (opt) {
	case OPT_SOCKET: o->socket = arg; return *arg;
	case OPT_CONFIG: o->config = arg; return *arg;
	case OPT_IDENTITY: o->identity = arg; return true;
	case OPT_TARGET: o->target = arg; return true;
	case OPT_SQL: o->sql = arg; return true;
	case OPT_REASON: o->reason = arg; return *arg; /* the job is owed a reason */
	case OPT_FOR: return parse_duration(arg, &o->for_s);
	case OPT_SINCE: return parse_days(arg, &o->since_days);
	case OPT_FORMAT:
		o->format = arg;
		return !strcmp(arg, "table") || !strcmp(arg, "json") || !strcmp(arg, "markdown");
	case OPT_DIR: o->dir = arg; return *arg;
	case OPT_KEY: o->key = arg; return *arg;
	default: return true;
	}
}

static const char *option_name(int opt)
{
	return long_options[opt - OPT_SOCKET].name;
}

/* The option of the lowest BIT() in bits, or 0 for none. */
static int first_option(unsigned bits)
{
	return bits ? OPT_SOCKET + __builtin_ctz(bits) : 0;
}

/* The command argv[0..] names and how many words it took, or NULL. */
static const struct command *find_command(char **argv, int argc, int *words)
{
	for (size_t i = 0; argc > 0 && i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];

		if (strcmp(argv[0], c->word))
			continue;
		if (!c->sub) {
			*words = 1;
			return c;
		}
		if (argc > 1 && !strcmp(argv[1], c->sub)) {
			*words = 2;
			return c;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct opts o = { .config = DEFAULT_CONFIG };
	const struct command *cmd;
	const char *operand;
	char bad[600], name[32];
	int opt, words = 0, rc;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		if (opt == 'h' || opt == OPT_HELP) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (opt == '?' || opt == ':') {
			snprintf(bad, sizeof(bad), "%s: %s", opt == ':' ? "option lacks its value"
				 : "unknown option", argv[optind - 1]);
			return usage_error(bad);
		}
		if (!take_option(&o, opt, optarg)) {
			snprintf(bad, sizeof(bad), "--%s: \"%s\" is not a value it takes",
				 option_name(opt), optarg);
			return usage_error(bad);
		}
		o.given |= BIT(opt);
	}
	if (!(cmd = find_command(argv + optind, argc - optind, &words))) {
		snprintf(bad, sizeof(bad), "unknown command: %s", optind < argc ? argv[optind] : "");
		return usage_error(optind < argc ? bad : "no command");
	}
	optind += words;
	snprintf(name, sizeof(name), "%s%s%s", cmd->word, cmd->sub ? " " : "",
		 cmd->sub ? cmd->sub : "");
	if ((opt = first_option(o.given & ~(cmd->options | GLOBAL_OPTIONS)))) {
		snprintf(bad, sizeof(bad), "%s does not take --%s", name, option_name(opt));
		return usage_error(bad);
	}
	if ((opt = first_option(cmd->required & ~o.given))) {
		snprintf(bad, sizeof(bad), "%s needs --%s", name, option_name(opt));
		return usage_error(bad);
	}
	if ((o.given & BIT(OPT_FOR_SESSION)) && (o.given & BIT(OPT_FOR)))
		return usage_error("--for-session and --for exclude each other");
	if (argc - optind != (cmd->operand ? 1 : 0)) {
		snprintf(bad, sizeof(bad), "%s takes %s%s", name, cmd->operand ? "one " : "no operand",
			 cmd->operand ? cmd->operand : "");
		return usage_error(bad);
	}
	operand = cmd->operand ? argv[optind] : NULL;
	rc = cmd->run ? cmd->run(&o, operand) : ask_simply(&o, cmd, operand);
	if (fflush(stdout) || ferror(stdout)) {
		warn("cannot write the output");
		return EXIT_ERROR;
	}
	return rc;
}
