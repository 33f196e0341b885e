// SPDX-License-Identifier: Apache-2.0
/* webhook: HTTP POSTs of pending approvals. See webhook.h. */
#include "webhook.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"

#define POST_MS 5000

struct post {
	struct webhook *w;
	int fd;
	char *req;
	size_t len, sent;
	char status[64];        /* the response's first bytes */
	size_t got;
	uint64_t deadline;
	struct post *next;
};

struct webhook_url {
	struct sockaddr_storage addr;
	socklen_t addrlen;                /* 0: no webhook */
	char host[80], path[512];
};

struct webhook {
	struct ev_loop *loop;
	struct webhook_url url;
	struct post *posts;
	unsigned nposts;
};

static void post_end(struct post *p, const char *outcome)
{
	struct webhook *w = p->w;
	bool ok = !strncmp(p->status, "HTTP/1.", 7) && p->got >= 12 && p->status[9] == '2';

	if (outcome)
		log_warn("approval webhook http://%s%s: %s", w->url.host, w->url.path, outcome);
	else if (!ok)
		log_warn("approval webhook http://%s%s: answered \"%.12s\", not 2xx", w->url.host,
			 w->url.path, p->got ? p->status : "");
	else
		log_info("approval webhook http://%s%s: notified (%.12s)", w->url.host, w->url.path,
			 p->status);
	for (struct post **q = &w->posts; *q; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			break;
		}
	w->nposts--;
	ev_del(w->loop, p->fd);
	close(p->fd);
	free(p->req);
	free(p);
}

static void post_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct post *p = arg;
	ssize_t n;
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	(void)loop, (void)events;
	if (p->sent < p->len) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
			post_end(p, strerror(soerr ? soerr : errno));
			return;
		}
		n = send(fd, p->req + p->sent, p->len - p->sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			post_end(p, strerror(errno));
			return;
		}
		if (n > 0 && (p->sent += (size_t)n) == p->len)
			ev_set(p->w->loop, fd, EV_READ);
		return;
	}
	n = recv(fd, p->status + p->got, sizeof(p->status) - 1 - p->got, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n > 0)
		p->got += (size_t)n;
	/* The status line is all it needs. */
	if (n <= 0 || p->got == sizeof(p->status) - 1 || memchr(p->status, '\n', p->got)) {
		p->status[p->got] = '\0';
		post_end(p, n < 0 ? strerror(errno) : NULL);
	}
}

static void expire(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct webhook *w = arg;
	uint64_t now = ev_now_ms();
	struct post *p, *next;

	(void)loop, (void)fd, (void)events;
	for (p = w->posts; p; p = next) {
		next = p->next;
		if (p->deadline <= now)
			post_end(p, "no answer within 5 seconds");
	}
}

bool webhook_active(const struct webhook *w)
{
	return w && w->url.addrlen;
}

void webhook_post(struct webhook *w, const char *body)
{
	struct post *p;
	size_t blen = strlen(body);

	if (!w || !w->url.addrlen)
		return;
	if (w->nposts >= WEBHOOK_MAX_POSTS || !(p = calloc(1, sizeof(*p)))) {
		log_warn("approval webhook http://%s%s: too many posts in flight, one not sent",
			 w->url.host, w->url.path);
		return;
	}
	p->w = w;
	p->len = (size_t)asprintf(&p->req, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
				  "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n"
				  "\r\n%s", w->url.path, w->url.host, blen, body);
	p->fd = socket(w->url.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if ((int)p->len < 0 || p->fd < 0 ||
	    (connect(p->fd, (struct sockaddr *)&w->url.addr, w->url.addrlen) && errno != EINPROGRESS) ||
	    ev_add(w->loop, p->fd, EV_WRITE, post_io, p)) {
		log_warn("approval webhook http://%s%s: %s", w->url.host, w->url.path, strerror(errno));
		if (p->fd >= 0)
			close(p->fd);
		if ((int)p->len >= 0)
			free(p->req);
		free(p);
		return;
	}
	p->deadline = ev_now_ms() + POST_MS;
	p->next = w->posts;
	w->posts = p;
	w->nposts++;
}

/* http://HOST[:PORT][/PATH], HOST an IPv4 or [IPv6] literal or localhost. */
static int parse_url(const char *url, struct webhook_url *w)
{
	const char *h = url + 7, *end, *slash;
	char host[64];
	unsigned long port = 80;
	struct sockaddr_in *in = (void *)&w->addr;
	struct sockaddr_in6 *in6 = (void *)&w->addr;

	if (strncmp(url, "http://", 7))
		return -EINVAL;
	slash = strchr(h, '/');
	snprintf(w->path, sizeof(w->path), "%s", slash ? slash : "/");
	end = slash ? slash : h + strlen(h);
	snprintf(w->host, sizeof(w->host), "%.*s", (int)(end - h), h);
	if (h[0] == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (!close || (size_t)(close - h - 1) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(close - h - 1), h + 1);
		h = close + 1;
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));
		const char *stop = colon ? colon : end;

		if ((size_t)(stop - h) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(stop - h), h);
		h = stop;
	}
	if (h < end) {
		char *e;

		if (*h != ':')
			return -EINVAL;
		port = strtoul(h + 1, &e, 10);
		if (e != end || !port || port > 65535)
			return -EINVAL;
	}
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	memset(&w->addr, 0, sizeof(w->addr));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		w->addrlen = sizeof(*in);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		w->addrlen = sizeof(*in6);
	} else {
		return -EINVAL;
	}
	return 0;
}

int webhook_set_url(struct webhook *w, const char *url)
{
	struct webhook_url parsed = { 0 };

	if (url && parse_url(url, &parsed)) {
		log_err("approval webhook %s: expected http://HOST[:PORT][/PATH] with HOST an IP "
			"address or localhost", url);
		return -EINVAL;
	}
	w->url = parsed;
	return 0;
}

int webhook_new(const char *url, struct ev_loop *loop, struct webhook **out)
{
	struct webhook *w;
	int err;

	*out = NULL;
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->loop = loop;
	if ((err = webhook_set_url(w, url)) || (err = ev_every(loop, 1000, expire, w))) {
		if (err != -EINVAL)
			log_err("approval webhook: %s", strerror(-err));
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

void webhook_free(struct webhook *w)
{
	if (!w)
		return;
	while (w->posts)
		post_end(w->posts, "the agent stops");
	free(w);
}
