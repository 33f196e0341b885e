/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto: the interface between the proxy core and a protocol module.
 *
 * The core moves bytes; a module decides what may pass. Each direction of a
 * session has one bounded buffer, laid out as
 *
 *   data[0, sent)      already written to the other side
 *   data[sent, ready)  cleared by the module, waiting to be written
 *   data[ready, len)   received, not yet looked at by the module
 *
 * with sent <= ready <= len <= cap. After bytes arrive the core calls
 * received(); the module advances ready over whatever may be forwarded as it
 * is (whole messages for a framed protocol, everything for tcp). Bytes stay
 * in place: nothing is copied on the way through. A module that needs more
 * bytes simply leaves them unready; when the buffer is full of unready bytes
 * the module must end the session (its framing bound was exceeded).
 * Callbacks run on the event loop and must not block.
 */
#ifndef SLUICE_PROTO_H
#define SLUICE_PROTO_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy;
struct session;

enum proxy_side {
	SIDE_CLIENT = 0,   /* the job */
	SIDE_UPSTREAM = 1, /* the target */
};

struct relay_buf {
	uint8_t *data;
	size_t cap;
	size_t sent;
	size_t ready;
	size_t len;
	size_t high;  /* the most of data ever used: what to wipe at the end */
};

struct proto_module {
	const char *name;
	/* The module has a handshake of its own (startup, authentication): it
	 * calls proxy_established() when done, within agent.setup_timeout_s. */
	bool sets_up;
	/* Once when the agent starts, and when it stops: state that does not
	 * depend on the policy. May be NULL. */
	int (*init)(void);
	void (*fini)(void);
	/* For each policy generation (the start, each reload): derive from p
	 * what sessions admitted under it need, into *state (session_module()
	 * gives it back). unload() runs when the generation is replaced and
	 * its last session has ended. A load that fails keeps the reload from
	 * happening. May be NULL. */
	int (*load)(const struct policy *p, void **state);
	void (*unload)(void *state);
	/* The upstream is connected; 0 or a negative errno (ends the session). */
	int (*open)(struct session *s);
	/* Bytes from side `from` arrived in buf[ready, len): advance buf->ready.
	 * 0, or a negative errno to end the session. */
	int (*received)(struct session *s, enum proxy_side from, struct relay_buf *buf);
	/* Side `from` ended its stream with bytes the module has not cleared:
	 * true holds the end of stream back until the module has dealt with
	 * them (it will look again later), false lets it pass and the bytes are
	 * dropped. May be NULL (false). */
	bool (*holding)(struct session *s, enum proxy_side from);
	/* Side `from` ended its stream (it may still read, and what it sent
	 * before is still to be dealt with). May be NULL. */
	void (*ended)(struct session *s, enum proxy_side from);
	/* A TLS handshake started with proxy_start_tls() is done: error is
	 * NULL, or says why it failed (that side is then unusable; the module
	 * may still answer the other side). May be NULL. */
	int (*tls_done)(struct session *s, enum proxy_side side, const char *error);
	/* Go on after proxy_resume() (an approval was decided): 0 or a
	 * negative errno (ends the session). May be NULL. */
	int (*resume)(struct session *s);
	/* The session ends; free what open() made. May be NULL. */
	void (*close)(struct session *s);
};

/* Services of the core to modules, for use inside their callbacks. */

/* Queue bytes toward side `to`, after what is already cleared for it and
 * before anything not yet looked at. The buffer grows if it must, to a
 * little past its bound. 0, -ENOBUFS without room, or -ENOMEM. The buffer
 * may move: pointers into it are stale afterwards. */
int proxy_inject(struct session *s, enum proxy_side to, const void *data, size_t len);

/* Remove n bytes at buf->ready (a message the module consumed). */
void relay_drop(struct relay_buf *buf, size_t n);

/* Switch side to TLS (the agent is the server toward the client, the
 * client toward the upstream) once bytes queued for it are out; tls_done()
 * follows the handshake. verify_ip: the address the upstream's certificate
 * must name, or NULL. */
int proxy_start_tls(struct session *s, enum proxy_side side, SSL_CTX *ctx,
		    const char *verify_ip);

/* The module's setup is done: from now on the idle timeout applies. */
void proxy_established(struct session *s);

/* End the session with reason once everything queued is written. */
void proxy_finish(struct session *s, const char *reason);

/* A byte-exact relay: everything received is ready at once. */
extern const struct proto_module proto_tcp;
/* PostgreSQL v3, credentials injected, statements tracked. */
extern const struct proto_module proto_postgres;

#endif
