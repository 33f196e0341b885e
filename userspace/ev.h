/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ev: a small epoll event loop, one per process, single-threaded.
 *
 * File descriptors are registered with an interest mask and one callback.
 * Callbacks may add, change or remove any fd, including their own: an event
 * already fetched for an fd that was removed (or removed and reused) in the
 * same round is dropped, never delivered to the new owner.
 * Level-triggered. Timers are periodic ticks backed by timerfd; session
 * deadlines are the caller's business (see proxy.c's ordered lists).
 * Return convention: 0 or a negative errno.
 */
#ifndef SLUICE_EV_H
#define SLUICE_EV_H

#include <stdint.h>

#define EV_NONE  0u
#define EV_READ  1u  /* readable, or peer hung up, or error */
#define EV_WRITE 2u  /* writable, or error */

struct ev_loop;

/* events: EV_READ and/or EV_WRITE that fired. */
typedef void ev_fd_cb(struct ev_loop *loop, int fd, unsigned events, void *arg);

int ev_loop_new(struct ev_loop **out);
void ev_loop_free(struct ev_loop *loop);

/* Register fd (must not be registered) with mask and callback. */
int ev_add(struct ev_loop *loop, int fd, unsigned mask, ev_fd_cb *cb, void *arg);
/* Change the interest mask of a registered fd; a no-op when unchanged. */
int ev_set(struct ev_loop *loop, int fd, unsigned mask);
/* Forget fd; call before closing it. Unknown fds are ignored. */
void ev_del(struct ev_loop *loop, int fd);

/* Call cb every interval_ms (a timerfd registered like any other fd). */
int ev_every(struct ev_loop *loop, unsigned interval_ms, ev_fd_cb *cb, void *arg);

/* Dispatch until ev_stop(); returns 0, or a negative errno if epoll fails. */
int ev_run(struct ev_loop *loop);
void ev_stop(struct ev_loop *loop);

/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
uint64_t ev_now_ms(void);

#endif
