// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the recording reader (recording_verify), fed any bytes:
 * what sluice-replay will read from files someone may have changed.
 */
#include <stddef.h>
#include <stdint.h>

#include "recording.h"

/* The key the seed corpus was written with (tests/fuzz/corpus/recording). */
static const uint8_t key[RECORDING_KEY_BYTES] = "0123456789abcdef0123456789abcdef";

static void each(void *ctx, const char *json)
{
	(*(size_t *)ctx)++;
	(void)json;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct recording_report rep;
	size_t n = 0;

	recording_verify(data, size, key, each, &n, &rep);
	if (rep.status != RECORDING_BAD && n != rep.events)
		__builtin_trap(); /* the callback and the count must agree */
	return 0;
}
