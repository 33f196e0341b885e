/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log: the agent's diagnostics, to stderr and to journald.
 *
 * Lines go to stderr unless stderr already is the journal (JOURNAL_STREAM),
 * and to journald with PRIORITY and SYSLOG_IDENTIFIER; journald being absent
 * is not an error. log_event() adds structured fields ("SLUICE_SESSION=..."):
 * on stderr they follow the message as KEY=value pairs.
 * Never pass secrets: everything logged is kept.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stddef.h>
#include <syslog.h>

void log_init(const char *ident, int debug);

/* Is debug logging on? Check before formatting costly debug events. */
int log_debug_enabled(void);

void log_msg(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* The most fields an entry keeps; the rest are dropped. */
#define LOG_FIELDS_MAX 64

/* One structured entry: fields are "KEY=value" strings, KEY in journald's
 * alphabet (A-Z, 0-9, _). */
void log_event(int priority, const char *message, const char *const *fields,
	       size_t nfields);

/* The same to journald only: entries too many for a terminal (one per
 * allowed statement). */
void log_journal(int priority, const char *message, const char *const *fields,
		 size_t nfields);

#endif
