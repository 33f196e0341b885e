// SPDX-License-Identifier: Apache-2.0
/* log: stderr and journald. See log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>


static const char *log_ident = "sluiced";
static int log_debug_on;
static int log_to_stderr = 1;

/* systemd sets JOURNAL_STREAM=dev:ino when stderr is connected to journald. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st))
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident, int debug)
{
	log_ident = ident;
	log_debug_on = debug;
	log_to_stderr = !stderr_is_journal();
}

int log_debug_enabled(void)
{
	return log_debug_on;
}

static const char *level_name(int priority)
{
	switch (priority) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_DEBUG:
		return "debug";
	default:
		return "info";
	}
}

/* Append s with control characters escaped: a job names its own comm,
 * executable and cgroups, and must not be able to forge log lines. */
static size_t append_escaped(char *line, size_t len, size_t cap, const char *s)
{
	for (; *s && len + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			len += (size_t)snprintf(line + len, cap - len, "\\x%02x", c);
		else
			line[len++] = (char)c;
	}
	return len;
}

/* One write per line: lines from a busy agent stay whole. */
static void write_stderr(int priority, const char *message, const char *const *fields,
			 size_t nfields)
{
	char line[8192];
	size_t cap = sizeof(line) - 1, len;

	len = (size_t)snprintf(line, cap, "%s: %s: ", log_ident, level_name(priority));
	len = append_escaped(line, len, cap, message);
	for (size_t i = 0; i < nfields; i++) {
		len = append_escaped(line, len, cap, " ");
		len = append_escaped(line, len, cap, fields[i]);
	}
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0) {
		/* Nowhere left to say it; journald still gets the entry. */
	}
}

/* MESSAGE_ID per SLUICE_EVENT kind: what journalctl --catalog explains
 * (packaging/sluice.catalog holds the texts; t_journal checks both agree). */
static const struct {
	const char *event;
	const char *id;
} message_ids[] = {
	{ "session_start", "MESSAGE_ID=70002e27de594bcebf8b8a51f4eb11e3" },
	{ "session_end", "MESSAGE_ID=95eb655ef1374581842429bcae909305" },
	{ "session_failed", "MESSAGE_ID=95eb655ef1374581842429bcae909305" },
	{ "session_refused", "MESSAGE_ID=b321ce13a57041c886c5d0928981da52" },
	{ "statement", "MESSAGE_ID=8d3e3db85b5b40859389894d39a54717" },
	{ "record_failed", "MESSAGE_ID=3e5be7edc36c424abc60ebbd6fcc55d4" },
	{ "approval_pending", "MESSAGE_ID=fef62b4fdd344356b4a3df5753b3aae3" },
	{ "approval_decided", "MESSAGE_ID=1cf49d0732e14091a9c6b01d522e500b" },
	{ "approval_expired", "MESSAGE_ID=1cf49d0732e14091a9c6b01d522e500b" },
	{ "approval_withdrawn", "MESSAGE_ID=1cf49d0732e14091a9c6b01d522e500b" },
	{ "job_contained", "MESSAGE_ID=47529760b9f54e19abede646a7171771" },
	{ "policy_reloaded", "MESSAGE_ID=99079318ee9549188963487abe53f297" },
	{ "policy_refused", "MESSAGE_ID=636d00d2344e47aa8ac1dd1aa4529cee" },
};

static const char *message_id(const char *const *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strncmp(fields[i], "SLUICE_EVENT=", 13))
			continue;
		for (size_t k = 0; k < sizeof(message_ids) / sizeof(message_ids[0]); k++)
			if (!strcmp(fields[i] + 13, message_ids[k].event))
				return message_ids[k].id;
	}
	return NULL;
}

void log_journal(int priority, const char *message, const char *const *fields, size_t nfields)
{
	struct iovec iov[LOG_FIELDS_MAX + 4];
	char msgf[1024], prio[16], ident[64];
	const char *id;
	size_t n = 0;

	if (nfields > LOG_FIELDS_MAX)
		nfields = LOG_FIELDS_MAX;
	snprintf(msgf, sizeof(msgf), "MESSAGE=%s", message);
	snprintf(prio, sizeof(prio), "PRIORITY=%d", priority);
	snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", log_ident);
	iov[n++] = (struct iovec){ msgf, strlen(msgf) };
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	iov[n++] = (struct iovec){ ident, strlen(ident) };
	for (size_t i = 0; i < nfields; i++)
		iov[n++] = (struct iovec){ (void *)fields[i], strlen(fields[i]) };
	if ((id = message_id(fields, nfields)))
		iov[n++] = (struct iovec){ (void *)id, strlen(id) };
	sd_journal_sendv(iov, (int)n);
}

void log_event(int priority, const char *message, const char *const *fields,
	       size_t nfields)
{
	if (priority == LOG_DEBUG && !log_debug_on)
		return;
	if (log_to_stderr)
		write_stderr(priority, message, fields, nfields < LOG_FIELDS_MAX ? nfields
										 : LOG_FIELDS_MAX);
	log_journal(priority, message, fields, nfields);
}

void log_msg(int priority, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_event(priority, buf, NULL, 0);
}
