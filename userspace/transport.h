/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport: one side of a session, plain TCP or TLS over it, non-blocking.
 *
 * The proxy core moves bytes through these calls and never asks which kind
 * the side is. TLS is started on a side that has been plain so far (after
 * PostgreSQL's SSLRequest, for instance); until the handshake is done the
 * side moves no application bytes. want says what the socket must become
 * (EV_READ or EV_WRITE) before a call that returned -EAGAIN can progress:
 * OpenSSL may need to write in order to read, and the reverse.
 * Return convention: byte counts, 0 for end of stream, -EAGAIN, or a
 * negative errno (-EPROTO for a TLS failure; transport_error() says why).
 */
#ifndef SLUICE_TRANSPORT_H
#define SLUICE_TRANSPORT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum transport_state {
	TRANSPORT_PLAIN,
	TRANSPORT_TLS_PENDING,   /* TLS asked for: plain bytes still go out, none come in */
	TRANSPORT_TLS_HANDSHAKE,
	TRANSPORT_TLS,
};

struct transport {
	int fd;
	SSL *ssl;
	enum transport_state state;
	unsigned want;     /* EV_READ/EV_WRITE a TLS call waits for */
	char error[128];   /* why the last TLS call failed */
};

ssize_t transport_recv(struct transport *t, void *buf, size_t n);
ssize_t transport_send(struct transport *t, const void *buf, size_t n);

/* Ask for TLS on a plain side: as a server (accept) or a client (connect).
 * The side is TRANSPORT_TLS_PENDING until transport_handshake() is first
 * called: bytes already queued for the peer may still be sent in plain.
 * verify_ip: for a client, the address the peer certificate must name, or
 * NULL. 0 or a negative errno. */
int transport_start_tls(struct transport *t, SSL_CTX *ctx, bool server, const char *verify_ip);

/* Start or drive the handshake: 1 done, 0 in progress (see want), or
 * -EPROTO. */
int transport_handshake(struct transport *t);

/* Bytes OpenSSL holds already decrypted: no epoll event will announce them. */
bool transport_has_pending(const struct transport *t);

/* Send end of stream (close_notify first on TLS). */
void transport_shutdown_write(struct transport *t);

/* Free the TLS state (not the fd). */
void transport_clear(struct transport *t);

#endif
