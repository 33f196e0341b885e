// SPDX-License-Identifier: Apache-2.0
/* proto_tcp: the byte-exact relay. The core logs its start, bytes each way
 * and duration; the recording gets the bytes themselves, up to a bound;
 * there is nothing to parse. */
#include "audit.h"
#include "proto.h"

static int tcp_open(struct session *s)
{
	(void)s;
	return 0;
}

static int tcp_received(struct session *s, enum proxy_side from, struct relay_buf *buf)
{
	audit_stream(s, from, buf->data + buf->ready, buf->len - buf->ready);
	buf->ready = buf->len;
	return 0;
}

const struct proto_module proto_tcp = {
	.name = "tcp",
	.open = tcp_open,
	.received = tcp_received,
};
