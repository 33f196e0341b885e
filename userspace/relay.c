// SPDX-License-Identifier: Apache-2.0
/* relay: buffer operations. See relay.h and proto.h. */
#include "relay.h"

#include <errno.h>
#include <string.h>

void relay_compact(struct relay_buf *b)
{
	if (!b->sent)
		return;
	memmove(b->data, b->data + b->sent, b->len - b->sent);
	b->ready -= b->sent;
	b->len -= b->sent;
	b->sent = 0;
}

int relay_insert(struct relay_buf *b, const void *data, size_t n)
{
	if (b->cap - b->len < n)
		relay_compact(b);
	if (b->cap - b->len < n)
		return -ENOBUFS;
	memmove(b->data + b->ready + n, b->data + b->ready, b->len - b->ready);
	memcpy(b->data + b->ready, data, n);
	b->ready += n;
	b->len += n;
	if (b->len > b->high)
		b->high = b->len;
	return 0;
}

void relay_drop(struct relay_buf *b, size_t n)
{
	if (n > b->len - b->ready)
		n = b->len - b->ready;
	memmove(b->data + b->ready, b->data + b->ready + n, b->len - b->ready - n);
	b->len -= n;
}
