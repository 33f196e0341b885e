/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls: OpenSSL contexts for the agent's two roles.
 *
 * Toward jobs the agent is a TLS server with its own certificate, made on
 * first start under STATE_DIR/tls (a CA, and a leaf it signs for localhost,
 * 127.0.0.1 and ::1; keys 0600). Toward targets it is a TLS client that
 * verifies the server against the target's CA and address when told to.
 * Return convention: 0 or a negative errno; failures are logged with the
 * OpenSSL reason, never with key material.
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

/* The server context for jobs; makes the certificate if missing. */
int tls_server_ctx(const char *state_dir, SSL_CTX **out);

/* A client context; ca_file NULL means no verification (prefer/require). */
int tls_client_ctx(const char *ca_file, SSL_CTX **out);

/* For verify-full: the peer must present a certificate for this IP address
 * (textual, as in the target's address). */
int tls_expect_ip(SSL *ssl, const char *ip);

/* tls-server-end-point channel binding data (RFC 5929) of the peer's
 * certificate: its hash with the certificate's signature digest, SHA-256
 * for MD5 and SHA-1. 0, or -ENOENT without a peer certificate. */
int tls_server_end_point(SSL *ssl, uint8_t *out, size_t cap, size_t *len);

/* The last OpenSSL error as text, for logs. */
const char *tls_error(void);

#endif
