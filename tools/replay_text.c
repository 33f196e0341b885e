// SPDX-License-Identifier: Apache-2.0
/* replay_text: text escaped for terminals. See replay_text.h. */
#include "replay_text.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Characters a terminal acts on, or that hide or reorder what is shown
 * (bidirectional overrides, zero-width characters): an audit tool must not
 * show a statement other than the one recorded. */
static bool invisible(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
	       (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

static void put_escape(struct text *t, uint32_t cp)
{
	switch (cp) {
	case '\n': text_puts(t, "\\n"); break;
	case '\r': text_puts(t, "\\r"); break;
	case '\t': text_puts(t, "\\t"); break;
	default:
		if (cp < 0x80)
			text_printf(t, "\\x%02x", cp);
		else
			text_printf(t, "\\u{%04x}", cp);
	}
}

void text_escape(struct text *t, const char *s, size_t n, const char *eol, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, shown = 0, len;
	uint32_t cp;

	while (i < n) {
		if (max && shown >= max) {
			text_puts(t, "\xe2\x80\xa6"); /* … */
			return;
		}
		shown++;
		if (!(len = utf8_char(u + i, n - i, &cp))) {
			text_printf(t, "\\x%02x", u[i++]);
			continue;
		}
		if (eol && (cp == '\n' || (cp == '\r' && i + 1 < n && u[i + 1] == '\n'))) {
			text_puts(t, eol);
			i += cp == '\r' ? 2 : 1;
		} else if (invisible(cp) && !(eol && cp == '\t')) {
			put_escape(t, cp);
			i += len;
		} else {
			text_put(t, s + i, len);
			i += len;
		}
	}
}

void text_name(struct text *t, const char *name, const char *absent)
{
	if (name)
		text_escape(t, name, strlen(name), NULL, TEXT_NAME_MAX);
	else
		text_puts(t, absent);
}

bool text_json_safe(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len;
	uint32_t cp;

	for (size_t i = 0; i < n; i += len)
		if (!(len = utf8_char(u + i, n - i, &cp)) || cp < 0x20)
			return false;
	return true;
}

size_t text_width(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

void text_time(struct text *t, int64_t us)
{
	/* Years 1970 to 9999: what the format has room for. */
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;
	char buf[32];

	if (us < 0 || us >= 253402300800000000LL || !gmtime_r(&secs, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm)) {
		text_puts(t, "?");
		return;
	}
	text_puts(t, buf);
}

void text_duration(struct text *t, int64_t us)
{
	int64_t s = us / 1000000;

	if (us < 0)
		text_puts(t, "?");
	else if (us < 10000000)
		text_printf(t, "%.3fs", (double)us / 1e6);
	else if (s < 60)
		text_printf(t, "%.1fs", (double)us / 1e6);
	else if (s < 3600)
		text_printf(t, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		text_printf(t, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
	else
		text_printf(t, "%lldd%02lldh", (long long)(s / 86400), (long long)(s / 3600 % 24));
}
