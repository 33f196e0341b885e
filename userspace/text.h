/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text: a string built in memory, and UTF-8 decoding; shared by the
 * agent's JSON writer and sluice-replay.
 *
 * A text grows as it is written; after an allocation fails every later put
 * does nothing and `failed` stays set, so a builder chains its puts and
 * checks once.
 */
#ifndef SLUICE_TEXT_H
#define SLUICE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct text {
	char *s;       /* NUL-terminated once anything was put */
	size_t len, cap;
	bool failed;   /* an allocation failed: s holds less than was put */
};

void text_put(struct text *t, const char *s, size_t n);
void text_puts(struct text *t, const char *s);
__attribute__((format(printf, 2, 3)))
void text_printf(struct text *t, const char *fmt, ...);
/* Empty it, keeping the memory. */
void text_clear(struct text *t);
void text_free(struct text *t);

/* The length of the valid UTF-8 character at s (n bytes left; its code
 * point in *cp), or 0 when the bytes are not one: overlong forms,
 * surrogates and code points past U+10FFFF are not. */
size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp);

#endif
