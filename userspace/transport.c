// SPDX-License-Identifier: Apache-2.0
/* transport: plain or TLS I/O on a non-blocking socket. See transport.h. */
#include "transport.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ev.h"
#include "tls.h"

/* Map an OpenSSL result to the return convention, noting what to wait for. */
static ssize_t tls_result(struct transport *t, int r)
{
	int e = SSL_get_error(t->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		t->want = EV_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		t->want = EV_WRITE;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!errno) /* the peer closed without close_notify */
			return 0;
		snprintf(t->error, sizeof(t->error), "%s", strerror(errno));
		return -errno;
	default:
		snprintf(t->error, sizeof(t->error), "%s", tls_error());
		ERR_clear_error();
		return -EPROTO;
	}
}

static ssize_t plain_result(ssize_t r)
{
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	return r;
}

/* Before each TLS call: SSL_get_error reads the thread's error queue and
 * errno, which must hold nothing from an earlier call. */
static void tls_call_start(struct transport *t)
{
	t->want = 0;
	errno = 0;
	ERR_clear_error();
}

ssize_t transport_recv(struct transport *t, void *buf, size_t n)
{
	size_t got = 0;

	if (t->state == TRANSPORT_PLAIN)
		return plain_result(recv(t->fd, buf, n, MSG_DONTWAIT));
	if (t->state != TRANSPORT_TLS)
		return -EAGAIN;
	tls_call_start(t);
	if (SSL_read_ex(t->ssl, buf, n, &got) == 1)
		return (ssize_t)got;
	return tls_result(t, 0);
}

ssize_t transport_send(struct transport *t, const void *buf, size_t n)
{
	size_t put = 0;
	ssize_t r;

	if (t->state == TRANSPORT_PLAIN || t->state == TRANSPORT_TLS_PENDING)
		return plain_result(send(t->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT));
	if (t->state != TRANSPORT_TLS)
		return -EAGAIN;
	tls_call_start(t);
	if (SSL_write_ex(t->ssl, buf, n, &put) == 1)
		return (ssize_t)put;
	r = tls_result(t, 0);
	return r == 0 ? -EPIPE : r;
}

int transport_start_tls(struct transport *t, SSL_CTX *ctx, bool server, const char *verify_ip)
{
	if (t->ssl)
		return -EALREADY;
	t->ssl = SSL_new(ctx);
	if (!t->ssl || SSL_set_fd(t->ssl, t->fd) != 1 ||
	    (verify_ip && tls_expect_ip(t->ssl, verify_ip))) {
		snprintf(t->error, sizeof(t->error), "%s", tls_error());
		transport_clear(t);
		return -ENOMEM;
	}
	if (server)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	t->state = TRANSPORT_TLS_PENDING;
	return 0;
}

int transport_handshake(struct transport *t)
{
	int r;

	t->state = TRANSPORT_TLS_HANDSHAKE;
	tls_call_start(t);
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->state = TRANSPORT_TLS;
		return 1;
	}
	r = (int)tls_result(t, r);
	if (r == -EAGAIN)
		return 0;
	if (!t->error[0] || r == 0)
		snprintf(t->error, sizeof(t->error), "connection closed during the handshake");
	return -EPROTO;
}

bool transport_has_pending(const struct transport *t)
{
	return t->state == TRANSPORT_TLS && SSL_pending(t->ssl) > 0;
}

void transport_shutdown_write(struct transport *t)
{
	if (t->state == TRANSPORT_TLS) {
		ERR_clear_error();
		SSL_shutdown(t->ssl);
	}
	shutdown(t->fd, SHUT_WR);
}

void transport_clear(struct transport *t)
{
	SSL_free(t->ssl);
	t->ssl = NULL;
	t->state = TRANSPORT_PLAIN;
}
