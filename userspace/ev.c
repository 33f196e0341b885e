// SPDX-License-Identifier: Apache-2.0
/* ev: epoll backend. See ev.h for the contract. */
#include "ev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define EV_BATCH 256

struct ev_slot {
	ev_fd_cb *cb;
	void *arg;
	unsigned mask;
	uint32_t gen;    /* bumped on every ev_del: stale events are dropped */
	unsigned char used;
};

struct ev_loop {
	int epfd;
	int stop;
	struct ev_slot *slots; /* indexed by fd */
	size_t nslots;
	int *timerfds;
	size_t ntimers;
};

uint64_t ev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ev_loop_new(struct ev_loop **out)
{
	struct ev_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = -errno;

		free(loop);
		return err;
	}
	*out = loop;
	return 0;
}

void ev_loop_free(struct ev_loop *loop)
{
	if (!loop)
		return;
	for (size_t i = 0; i < loop->ntimers; i++)
		close(loop->timerfds[i]);
	free(loop->timerfds);
	free(loop->slots);
	close(loop->epfd);
	free(loop);
}

static int grow_slots(struct ev_loop *loop, int fd)
{
	size_t n = loop->nslots ? loop->nslots : 64;
	struct ev_slot *s;

	while (n <= (size_t)fd)
		n *= 2;
	s = realloc(loop->slots, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + loop->nslots, 0, (n - loop->nslots) * sizeof(*s));
	loop->slots = s;
	loop->nslots = n;
	return 0;
}

static uint32_t epoll_bits(unsigned mask)
{
	return (mask & EV_READ ? EPOLLIN | EPOLLRDHUP : 0) |
	       (mask & EV_WRITE ? EPOLLOUT : 0);
}

static uint64_t event_token(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd;
}

int ev_add(struct ev_loop *loop, int fd, unsigned mask, ev_fd_cb *cb, void *arg)
{
	struct epoll_event ee = { 0 };
	struct ev_slot *s;

	if (fd < 0)
		return -EBADF;
	if ((size_t)fd >= loop->nslots && grow_slots(loop, fd))
		return -ENOMEM;
	s = &loop->slots[fd];
	if (s->used)
		return -EEXIST;
	ee.events = epoll_bits(mask);
	ee.data.u64 = event_token(fd, s->gen);
	if (mask && epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee))
		return -errno;
	s->cb = cb;
	s->arg = arg;
	s->mask = mask;
	s->used = 1;
	return 0;
}

int ev_set(struct ev_loop *loop, int fd, unsigned mask)
{
	struct epoll_event ee = { 0 };
	int op = EPOLL_CTL_MOD;
	struct ev_slot *s;

	if (fd < 0 || (size_t)fd >= loop->nslots || !loop->slots[fd].used)
		return -ENOENT;
	s = &loop->slots[fd];
	if (s->mask == mask)
		return 0;
	/* With no interest the fd leaves epoll: EPOLLHUP and EPOLLERR cannot be
	 * masked, and a paused fd whose peer hung up would spin the loop. */
	ee.events = epoll_bits(mask);
	ee.data.u64 = event_token(fd, s->gen);
	if (!mask)
		op = EPOLL_CTL_DEL;
	else if (!s->mask)
		op = EPOLL_CTL_ADD;
	if (epoll_ctl(loop->epfd, op, fd, &ee))
		return -errno;
	s->mask = mask;
	return 0;
}

void ev_del(struct ev_loop *loop, int fd)
{
	struct ev_slot *s;

	if (fd < 0 || (size_t)fd >= loop->nslots || !loop->slots[fd].used)
		return;
	s = &loop->slots[fd];
	if (s->mask)
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	s->used = 0;
	s->mask = 0;
	s->cb = NULL;
	s->arg = NULL;
	s->gen++;
}

int ev_every(struct ev_loop *loop, unsigned interval_ms, ev_fd_cb *cb, void *arg)
{
	struct itimerspec its = { 0 };
	int *t, fd, err;

	t = realloc(loop->timerfds, (loop->ntimers + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	loop->timerfds = t;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	its.it_interval.tv_sec = interval_ms / 1000;
	its.it_interval.tv_nsec = (long)(interval_ms % 1000) * 1000000;
	its.it_value = its.it_interval;
	err = timerfd_settime(fd, 0, &its, NULL) ? -errno : ev_add(loop, fd, EV_READ, cb, arg);
	if (err) {
		close(fd);
		return err;
	}
	loop->timerfds[loop->ntimers++] = fd;
	return 0;
}

static int is_timer(const struct ev_loop *loop, int fd)
{
	for (size_t i = 0; i < loop->ntimers; i++)
		if (loop->timerfds[i] == fd)
			return 1;
	return 0;
}

static void dispatch(struct ev_loop *loop, const struct epoll_event *ee)
{
	int fd = (int)(uint32_t)ee->data.u64;
	uint32_t gen = (uint32_t)(ee->data.u64 >> 32);
	unsigned fired = 0;
	struct ev_slot *s;

	if ((size_t)fd >= loop->nslots)
		return;
	s = &loop->slots[fd];
	if (!s->used || s->gen != gen)
		return;
	if (ee->events & (EPOLLIN | EPOLLRDHUP))
		fired |= EV_READ;
	if (ee->events & EPOLLOUT)
		fired |= EV_WRITE;
	/* Errors and hang-ups go to whatever the owner waits for: its read or
	 * write then returns the error or EOF. */
	if (ee->events & (EPOLLERR | EPOLLHUP))
		fired |= s->mask;
	fired &= s->mask;
	if (!fired)
		return;
	if (is_timer(loop, fd)) {
		uint64_t expirations;

		if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
			return;
	}
	s->cb(loop, fd, fired, s->arg);
}

int ev_run(struct ev_loop *loop)
{
	struct epoll_event events[EV_BATCH];

	loop->stop = 0;
	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, events, EV_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->stop; i++)
			dispatch(loop, &events[i]);
	}
	return 0;
}

void ev_stop(struct ev_loop *loop)
{
	loop->stop = 1;
}
