/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relay: operations on one direction's buffer (struct relay_buf, proto.h):
 * the invariant sent <= ready <= len <= cap holds before and after each.
 * No I/O, no allocation.
 */
#ifndef SLUICE_RELAY_H
#define SLUICE_RELAY_H

#include <stddef.h>

#include "proto.h"

/* Move unsent bytes to the front. */
void relay_compact(struct relay_buf *b);

/* Insert n bytes at ready and clear them for sending: 0, or -ENOBUFS. */
int relay_insert(struct relay_buf *b, const void *data, size_t n);

#endif
