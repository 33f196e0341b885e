// SPDX-License-Identifier: MIT
/*
 * sluice-testnet - loopback network helper for sluice integration tests and
 * benchmarks.
 *
 *   sluice-testnet serve ADDR PORT [--ready FILE]
 *   sluice-testnet probe ADDR PORT [--family 4|6]
 *   sluice-testnet load ADDR PORT --conns N --bytes B [--parallel P]
 *                       [--timeout SEC] [--family 4|6]
 *   sluice-testnet connect-rate ADDR PORT --count N [--family 4|6]
 *
 * Build:
 *   gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 \
 *       -o sluice-testnet sluice-testnet.c $(pkg-config --libs libcrypto)
 *
 * Exit codes: 0 success, 1 runtime failure, 2 connection refused (probe,
 * connect-rate), 3 other connect error, 4 bad echo (probe), 64 usage error.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define PROG "sluice-testnet"

enum {
	EXIT_CONNREFUSED = 2,
	EXIT_CONNECT = 3,
	EXIT_BADECHO = 4,
	EXIT_USAGE = 64,
};

#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_MSEC 1000000LL
#define MIB (1024.0 * 1024.0)

#define PROBE_TIMEOUT_MS 5000
#define PROBE_MESSAGE "hello sluice\n"
#define ECHO_BUF_SIZE (64 * 1024)      /* per-connection echo buffer */
#define LOAD_SEND_CHUNK (64 * 1024)    /* bytes generated per send() */
#define LOAD_RECV_CHUNK (256 * 1024)   /* bytes per recv() */
#define LOAD_DEFAULT_TIMEOUT_S 60
#define LOAD_MAX_REPORTED 10           /* failures printed to stderr */
#define LOAD_SCAN_INTERVAL_NS (100 * NSEC_PER_MSEC)
#define IO_BURST 16                    /* syscalls per fd per wakeup */
#define MAX_EVENTS 512

/* ------------------------------------------------------------------ */
/* Diagnostics and small utilities                                     */
/* ------------------------------------------------------------------ */

__attribute__((format(printf, 1, 2)))
static void errmsg(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static double ns_to_s(int64_t ns)
{
	return (double)ns / (double)NSEC_PER_SEC;
}

/* Raise the soft RLIMIT_NOFILE to the hard limit; failure is not fatal. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		errmsg("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		errmsg("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
}

static int set_nonblocking(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, flags);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Parse an unsigned decimal number in [min, max]. With 'suffix', a single
 * trailing K, M or G (binary multiples) is accepted.
 */
static int parse_u64(const char *s, uint64_t min, uint64_t max, bool suffix,
		     uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (suffix && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k': case 'K': mult = 1ULL << 10; break;
		case 'm': case 'M': mult = 1ULL << 20; break;
		case 'g': case 'G': mult = 1ULL << 30; break;
		default: return -1;
		}
		end++;
	}
	if (*end != '\0')
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	v *= mult;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

struct endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;     /* AF_INET or AF_INET6 */
	bool v4mapped;  /* AF_INET6 with a ::ffff:a.b.c.d address */
};

/*
 * Build an endpoint from a literal address and port. 'force_family' is 0
 * (use the address' own family), 4 or 6. Forcing 6 on an IPv4 address
 * yields the v4-mapped address ::ffff:ADDR.
 */
static int parse_endpoint(const char *addr, const char *port, int force_family,
			  struct endpoint *ep)
{
	struct in_addr a4;
	struct in6_addr a6;
	uint64_t p;

	memset(ep, 0, sizeof(*ep));
	if (parse_u64(port, 1, 65535, false, &p) != 0) {
		errmsg("invalid port '%s' (expected 1-65535)", port);
		return -1;
	}
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		if (force_family == 6) {
			memset(&a6, 0, sizeof(a6));
			a6.s6_addr[10] = 0xff;
			a6.s6_addr[11] = 0xff;
			memcpy(&a6.s6_addr[12], &a4, sizeof(a4));
		} else {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ep->ss;

			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)p);
			sin->sin_addr = a4;
			ep->len = sizeof(*sin);
			ep->family = AF_INET;
			return 0;
		}
	} else if (inet_pton(AF_INET6, addr, &a6) == 1) {
		if (force_family == 4) {
			errmsg("--family 4 given with IPv6 address '%s'", addr);
			return -1;
		}
	} else {
		errmsg("invalid address '%s' (expected a literal IPv4 or IPv6 address)",
		       addr);
		return -1;
	}

	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep->ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)p);
	sin6->sin6_addr = a6;
	ep->len = sizeof(*sin6);
	ep->family = AF_INET6;
	ep->v4mapped = IN6_IS_ADDR_V4MAPPED(&a6);
	return 0;
}

/* Format "addr:port" (no brackets for IPv6, as the probe output requires). */
static void format_sockaddr(const struct sockaddr_storage *ss, char *buf,
			    size_t size)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	} else {
		snprintf(buf, size, "?family=%d", (int)ss->ss_family);
		return;
	}
	snprintf(buf, size, "%s:%u", host, port);
}

static int parse_family(const char *s, int *family)
{
	*family = 0;
	if (s == NULL)
		return 0;
	if (strcmp(s, "4") == 0)
		*family = 4;
	else if (strcmp(s, "6") == 0)
		*family = 6;
	else {
		errmsg("invalid --family '%s' (expected 4 or 6)", s);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Command-line parsing                                                */
/* ------------------------------------------------------------------ */

/* A "--name VALUE" / "--name=VALUE" option; value stays NULL if absent. */
struct opt {
	const char *name;
	const char *value;
};

static struct opt *find_opt(struct opt *opts, size_t nopts, const char *name,
			    size_t nlen)
{
	for (size_t i = 0; i < nopts; i++)
		if (strlen(opts[i].name) == nlen &&
		    strncmp(opts[i].name, name, nlen) == 0)
			return &opts[i];
	return NULL;
}

static int parse_option(int argc, char **argv, int *i, struct opt *opts,
			size_t nopts)
{
	const char *arg = argv[*i];
	const char *name = arg + 2;
	const char *eq = strchr(name, '=');
	size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
	struct opt *o = find_opt(opts, nopts, name, nlen);

	if (o == NULL) {
		errmsg("unknown option '%s'", arg);
		return -1;
	}
	if (o->value != NULL) {
		errmsg("option --%s given more than once", o->name);
		return -1;
	}
	if (eq != NULL) {
		o->value = eq + 1;
	} else {
		if (*i + 1 >= argc) {
			errmsg("option --%s requires a value", o->name);
			return -1;
		}
		o->value = argv[++*i];
	}
	if (o->value[0] == '\0') {
		errmsg("option --%s requires a non-empty value", o->name);
		return -1;
	}
	return 0;
}

/*
 * Split argv into exactly 'npos' positional arguments (named in
 * 'posnames' for error messages) and options from 'opts'. Options may
 * appear anywhere; "--" ends option processing.
 */
static int parse_args(int argc, char **argv, const char *const *posnames,
		      const char **pos, size_t npos, struct opt *opts,
		      size_t nopts)
{
	size_t got = 0;
	bool opts_done = false;

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (!opts_done && strcmp(arg, "--") == 0) {
			opts_done = true;
		} else if (!opts_done && strncmp(arg, "--", 2) == 0) {
			if (parse_option(argc, argv, &i, opts, nopts) != 0)
				return -1;
		} else if (got < npos) {
			pos[got++] = arg;
		} else {
			errmsg("unexpected argument '%s'", arg);
			return -1;
		}
	}
	if (got < npos) {
		errmsg("missing argument %s", posnames[got]);
		return -1;
	}
	return 0;
}

static const char *const addr_port_names[] = { "ADDR", "PORT" };

/* ------------------------------------------------------------------ */
/* serve: epoll echo server                                            */
/* ------------------------------------------------------------------ */

enum ep_kind { EP_LISTENER, EP_SIGNAL, EP_CONN };

/* First member of everything registered with epoll (data.ptr). */
struct ep_item {
	enum ep_kind kind;
};

struct echo_conn {
	struct ep_item item;
	int fd;
	uint32_t events;        /* current epoll interest */
	bool rd_eof;            /* peer shut down its write side */
	size_t head, len;       /* ring buffer window in buf */
	struct echo_conn *prev, *next;
	unsigned char buf[ECHO_BUF_SIZE];
};

struct echo_server {
	int epfd;
	struct ep_item listener;
	int lfd;
	bool listener_paused;   /* out of fds: stop accepting for a while */
	struct ep_item sig;
	int sfd;
	struct echo_conn *conns;
	uint64_t live, accepted, errors;
	bool stop;
};

static int create_listener(const struct endpoint *ep)
{
	int one = 1;
	int fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		errmsg("socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
		errmsg("setsockopt(SO_REUSEADDR): %s", strerror(errno));
		goto fail;
	}
	if (ep->family == AF_INET6) {
		int v6only = ep->v4mapped ? 0 : 1;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			       sizeof(v6only)) != 0) {
			errmsg("setsockopt(IPV6_V6ONLY): %s", strerror(errno));
			goto fail;
		}
	}
	if (bind(fd, (const struct sockaddr *)&ep->ss, ep->len) != 0) {
		char where[INET6_ADDRSTRLEN + 8];

		format_sockaddr(&ep->ss, where, sizeof(where));
		errmsg("bind %s: %s", where, strerror(errno));
		goto fail;
	}
	if (listen(fd, 65535) != 0) {
		errmsg("listen: %s", strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Write "ready\n" atomically (temp file + rename) so pollers never see a
 * partial file. */
static int write_ready_file(const char *path)
{
	char tmp[PATH_MAX];
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errmsg("--ready path too long");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		errmsg("open %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, "ready\n", 6) != 0) {
		errmsg("write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		errmsg("rename %s -> %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Block SIGTERM/SIGINT and return a signalfd that reports them. */
static int create_signalfd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) {
		errmsg("sigprocmask: %s", strerror(errno));
		return -1;
	}
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		errmsg("signalfd: %s", strerror(errno));
	return fd;
}

static int epoll_set(int epfd, int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(epfd, op, fd, &ev);
}

static void echo_set_listener(struct echo_server *srv, bool enabled)
{
	if (srv->listener_paused == !enabled)
		return;
	if (epoll_set(srv->epfd, EPOLL_CTL_MOD, srv->lfd,
		      enabled ? EPOLLIN : 0, &srv->listener) != 0)
		errmsg("epoll_ctl(listener): %s", strerror(errno));
	srv->listener_paused = !enabled;
}

static void echo_close(struct echo_server *srv, struct echo_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	close(c->fd);
	free(c);
	srv->live--;
	echo_set_listener(srv, true);
}

static void echo_accept_one(struct echo_server *srv, int fd)
{
	struct echo_conn *c = malloc(sizeof(*c));

	if (c == NULL) {
		srv->errors++;
		close(fd);
		return;
	}
	c->item.kind = EP_CONN;
	c->fd = fd;
	c->events = EPOLLIN;
	c->rd_eof = false;
	c->head = c->len = 0;
	if (epoll_set(srv->epfd, EPOLL_CTL_ADD, fd, c->events, c) != 0) {
		errmsg("epoll_ctl(add): %s", strerror(errno));
		srv->errors++;
		close(fd);
		free(c);
		return;
	}
	c->prev = NULL;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->live++;
	srv->accepted++;
}

static void echo_accept_all(struct echo_server *srv)
{
	for (;;) {
		int fd = accept4(srv->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			echo_accept_one(srv, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Resume when a connection closes. */
			if (!srv->listener_paused)
				errmsg("accept: %s (pausing accepts, %" PRIu64
				       " open)", strerror(errno), srv->live);
			echo_set_listener(srv, false);
			return;
		default:
			errmsg("accept: %s", strerror(errno));
			srv->errors++;
			return;
		}
	}
}

/* Read into the free part of the ring. 1 = progress, 0 = would block,
 * -1 = error. */
static int echo_read(struct echo_conn *c)
{
	struct iovec iov[2];
	size_t tail;
	int iovcnt = 1;
	ssize_t n;

	if (c->len == 0)
		c->head = 0;
	tail = (c->head + c->len) % ECHO_BUF_SIZE;
	iov[0].iov_base = c->buf + tail;
	if (tail >= c->head) {   /* not wrapped: free space is [tail,end)+[0,head) */
		iov[0].iov_len = ECHO_BUF_SIZE - tail;
		iov[1].iov_base = c->buf;
		iov[1].iov_len = c->head;
		iovcnt = c->head > 0 ? 2 : 1;
	} else {
		iov[0].iov_len = c->head - tail;
	}
	do
		n = readv(c->fd, iov, iovcnt);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		c->len += (size_t)n;
		return 1;
	}
	if (n == 0) {
		c->rd_eof = true;
		return 1;
	}
	return errno == EAGAIN ? 0 : -1;
}

/* Write pending ring data. 1 = progress, 0 = would block, -1 = error. */
static int echo_write(struct echo_conn *c)
{
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 1 };
	size_t first = ECHO_BUF_SIZE - c->head;
	ssize_t n;

	iov[0].iov_base = c->buf + c->head;
	if (c->len <= first) {
		iov[0].iov_len = c->len;
	} else {
		iov[0].iov_len = first;
		iov[1].iov_base = c->buf;
		iov[1].iov_len = c->len - first;
		msg.msg_iovlen = 2;
	}
	do
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	c->head = (c->head + (size_t)n) % ECHO_BUF_SIZE;
	c->len -= (size_t)n;
	if (c->len == 0)
		c->head = 0;
	return n > 0;
}

/*
 * Move data for one connection until it would block (bounded, for
 * fairness; epoll is level-triggered so leftovers are picked up later).
 * Returns false if the connection is finished or failed.
 */
static bool echo_pump(struct echo_conn *c)
{
	for (int i = 0; i < IO_BURST; i++) {
		int r = 0, w = 0;

		if (!c->rd_eof && c->len < ECHO_BUF_SIZE) {
			r = echo_read(c);
			if (r < 0)
				return false;
		}
		if (c->len > 0) {
			w = echo_write(c);
			if (w < 0)
				return false;
		}
		if (r == 0 && w == 0)
			break;
	}
	if (c->rd_eof && c->len == 0) {
		/* Everything echoed after the peer's FIN: send ours. */
		shutdown(c->fd, SHUT_WR);
		return false;
	}
	return true;
}

static void echo_handle(struct echo_server *srv, struct echo_conn *c,
			uint32_t events)
{
	uint32_t want;

	if (events & EPOLLERR) {
		srv->errors++;
		echo_close(srv, c);
		return;
	}
	if (!echo_pump(c)) {
		if (!(c->rd_eof && c->len == 0))
			srv->errors++;
		echo_close(srv, c);
		return;
	}
	want = (!c->rd_eof && c->len < ECHO_BUF_SIZE ? EPOLLIN : 0) |
	       (c->len > 0 ? EPOLLOUT : 0);
	if (want != c->events) {
		if (epoll_set(srv->epfd, EPOLL_CTL_MOD, c->fd, want, c) != 0) {
			errmsg("epoll_ctl(mod): %s", strerror(errno));
			srv->errors++;
			echo_close(srv, c);
			return;
		}
		c->events = want;
	}
}

static void echo_dispatch(struct echo_server *srv, struct epoll_event *ev)
{
	struct ep_item *item = ev->data.ptr;
	struct signalfd_siginfo si;

	switch (item->kind) {
	case EP_LISTENER:
		echo_accept_all(srv);
		break;
	case EP_SIGNAL:
		if (read(srv->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			srv->stop = true;
		break;
	case EP_CONN:
		echo_handle(srv, (struct echo_conn *)item, ev->events);
		break;
	}
}

static int echo_loop(struct echo_server *srv)
{
	struct epoll_event evs[MAX_EVENTS];

	while (!srv->stop) {
		int n = epoll_wait(srv->epfd, evs, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			errmsg("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++)
			echo_dispatch(srv, &evs[i]);
	}
	return 0;
}

static void echo_cleanup(struct echo_server *srv)
{
	while (srv->conns)
		echo_close(srv, srv->conns);
	if (srv->lfd >= 0)
		close(srv->lfd);
	if (srv->sfd >= 0)
		close(srv->sfd);
	if (srv->epfd >= 0)
		close(srv->epfd);
}

static int echo_setup(struct echo_server *srv, const struct endpoint *ep)
{
	srv->listener.kind = EP_LISTENER;
	srv->sig.kind = EP_SIGNAL;
	srv->sfd = create_signalfd();
	if (srv->sfd < 0)
		return -1;
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->epfd < 0) {
		errmsg("epoll_create1: %s", strerror(errno));
		return -1;
	}
	srv->lfd = create_listener(ep);
	if (srv->lfd < 0)
		return -1;
	if (epoll_set(srv->epfd, EPOLL_CTL_ADD, srv->lfd, EPOLLIN,
		      &srv->listener) != 0 ||
	    epoll_set(srv->epfd, EPOLL_CTL_ADD, srv->sfd, EPOLLIN,
		      &srv->sig) != 0) {
		errmsg("epoll_ctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	struct opt opts[] = { { "ready", NULL } };
	const char *pos[2];
	struct endpoint ep;
	struct echo_server srv = { .epfd = -1, .lfd = -1, .sfd = -1 };
	int rc = 1;

	if (parse_args(argc, argv, addr_port_names, pos, 2, opts, 1) != 0 ||
	    parse_endpoint(pos[0], pos[1], 0, &ep) != 0)
		return EXIT_USAGE;

	raise_nofile();
	if (echo_setup(&srv, &ep) != 0)
		goto out;
	if (opts[0].value && write_ready_file(opts[0].value) != 0)
		goto out;
	rc = echo_loop(&srv);
	fprintf(stderr, PROG " serve: exiting: accepted=%" PRIu64 " open=%" PRIu64
		" aborted=%" PRIu64 "\n", srv.accepted, srv.live, srv.errors);
out:
	echo_cleanup(&srv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Blocking client helpers (probe, connect-rate)                       */
/* ------------------------------------------------------------------ */

static int connect_exit_code(int err)
{
	return err == ECONNREFUSED ? EXIT_CONNREFUSED : EXIT_CONNECT;
}

/* Non-blocking connect + poll; returns 0 or an errno value. The socket is
 * left in blocking mode. */
static int connect_timeout(int fd, const struct endpoint *ep, int timeout_ms)
{
	int64_t deadline = mono_ns() + (int64_t)timeout_ms * NSEC_PER_MSEC;
	int err = 0;
	socklen_t elen = sizeof(err);

	if (set_nonblocking(fd, true) != 0)
		return errno;
	if (connect(fd, (const struct sockaddr *)&ep->ss, ep->len) != 0) {
		if (errno != EINPROGRESS)
			return errno;
		for (;;) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int64_t left = deadline - mono_ns();
			int r;

			if (left <= 0)
				return ETIMEDOUT;
			r = poll(&pfd, 1, (int)((left + NSEC_PER_MSEC - 1) /
						NSEC_PER_MSEC));
			if (r > 0)
				break;
			if (r < 0 && errno != EINTR)
				return errno;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
			return errno;
		if (err != 0)
			return err;
	}
	if (set_nonblocking(fd, false) != 0)
		return errno;
	return 0;
}

static int set_io_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return -1;
	return 0;
}

/* Read exactly len bytes. Returns bytes read (< len on EOF), or -1. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* ------------------------------------------------------------------ */
/* probe                                                               */
/* ------------------------------------------------------------------ */

/* A blocking connection with I/O timeouts; 0, or the exit code to return
 * (the connect codes of probe, 1 for other failures). */
static int connect_blocking(const struct endpoint *ep, int timeout_ms, int *out)
{
	int fd = socket(ep->family, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0) {
		errmsg("socket: %s", strerror(errno));
		return 1;
	}
	err = connect_timeout(fd, ep, PROBE_TIMEOUT_MS);
	if (err != 0) {
		fprintf(stderr, "connect: %s\n", strerror(err));
		close(fd);
		return connect_exit_code(err);
	}
	if (set_io_timeouts(fd, timeout_ms) != 0) {
		errmsg("setsockopt(SO_RCVTIMEO/SO_SNDTIMEO): %s", strerror(errno));
		close(fd);
		return 1;
	}
	*out = fd;
	return 0;
}

static int probe_report(int fd)
{
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof(peer), llen = sizeof(local);
	char pbuf[INET6_ADDRSTRLEN + 8], lbuf[INET6_ADDRSTRLEN + 8];

	if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0) {
		errmsg("getpeername: %s", strerror(errno));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0) {
		errmsg("getsockname: %s", strerror(errno));
		return -1;
	}
	format_sockaddr(&peer, pbuf, sizeof(pbuf));
	format_sockaddr(&local, lbuf, sizeof(lbuf));
	printf("pid=%ld peer=%s local=%s\n", (long)getpid(), pbuf, lbuf);
	fflush(stdout);
	return 0;
}

static int probe_echo(int fd)
{
	static const char msg[] = PROBE_MESSAGE;
	const size_t len = sizeof(msg) - 1;
	char back[sizeof(msg)];
	ssize_t got;

	if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
		errmsg("send: %s", strerror(errno));
		return EXIT_BADECHO;
	}
	got = read_full(fd, back, len);
	if (got < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			errmsg("recv: no echo within %d ms", PROBE_TIMEOUT_MS);
		else
			errmsg("recv: %s", strerror(errno));
		return EXIT_BADECHO;
	}
	if ((size_t)got < len) {
		errmsg("connection closed after %zd of %zu echo bytes", got, len);
		return EXIT_BADECHO;
	}
	if (memcmp(msg, back, len) != 0) {
		errmsg("echo mismatch");
		return EXIT_BADECHO;
	}
	return 0;
}

/* After connect, hand the socket to a child that runs the probe and exec
 * PATH in the connecting process: a process that connected as one program
 * and became another. The child prints "probe-child: rc=N". */
static int probe_then_exec(int fd, const char *path)
{
	pid_t child = fork();
	int rc;

	if (child < 0) {
		errmsg("fork: %s", strerror(errno));
		return 1;
	}
	if (child > 0) {
		int flags = fcntl(fd, F_GETFD);

		/* Keep the socket open across the exec, as the attack would. */
		fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
		execl(path, path, "1", (char *)NULL);
		errmsg("exec %s: %s", path, strerror(errno));
		_exit(1);
	}
	rc = probe_report(fd) != 0 ? 1 : probe_echo(fd);
	printf("probe-child: rc=%d\n", rc);
	fflush(stdout);
	_exit(rc);
}

static int cmd_probe(int argc, char **argv)
{
	struct opt opts[] = { { "family", NULL }, { "exec-after-connect", NULL } };
	const char *pos[2];
	struct endpoint ep;
	int family, fd, rc;

	if (parse_args(argc, argv, addr_port_names, pos, 2, opts, 2) != 0 ||
	    parse_family(opts[0].value, &family) != 0 ||
	    parse_endpoint(pos[0], pos[1], family, &ep) != 0)
		return EXIT_USAGE;

	rc = connect_blocking(&ep, PROBE_TIMEOUT_MS, &fd);
	if (rc != 0)
		return rc;
	if (opts[1].value)
		return probe_then_exec(fd, opts[1].value);
	rc = probe_report(fd) != 0 ? 1 : probe_echo(fd);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* connect-rate                                                        */
/* ------------------------------------------------------------------ */

/* One blocking connect(); close with SO_LINGER {1,0} (RST, no TIME_WAIT).
 * Returns 0 or an errno value. */
static int connect_once(const struct endpoint *ep)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int fd = socket(ep->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return errno;
	if (set_io_timeouts(fd, PROBE_TIMEOUT_MS) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
		err = errno;
	else if (connect(fd, (const struct sockaddr *)&ep->ss, ep->len) != 0)
		/* A blocking connect that hits SO_SNDTIMEO reports EINPROGRESS. */
		err = errno == EINPROGRESS ? ETIMEDOUT : errno;
	close(fd);
	return err;
}

static int cmd_connect_rate(int argc, char **argv)
{
	struct opt opts[] = { { "count", NULL }, { "family", NULL } };
	const char *pos[2];
	struct endpoint ep;
	uint64_t count;
	int family;
	int64_t start, elapsed;

	if (parse_args(argc, argv, addr_port_names, pos, 2, opts, 2) != 0 ||
	    parse_family(opts[1].value, &family) != 0 ||
	    parse_endpoint(pos[0], pos[1], family, &ep) != 0)
		return EXIT_USAGE;
	if (opts[0].value == NULL) {
		errmsg("--count is required");
		return EXIT_USAGE;
	}
	if (parse_u64(opts[0].value, 1, UINT32_MAX, true, &count) != 0) {
		errmsg("invalid --count '%s'", opts[0].value);
		return EXIT_USAGE;
	}

	start = mono_ns();
	for (uint64_t i = 0; i < count; i++) {
		int err = connect_once(&ep);

		if (err != 0) {
			fprintf(stderr, "connect: %s\n", strerror(err));
			errmsg("failed after %" PRIu64 " successful connects", i);
			return connect_exit_code(err);
		}
	}
	elapsed = mono_ns() - start;
	if (elapsed <= 0)
		elapsed = 1;
	printf("count=%" PRIu64 " seconds=%.3f connects_per_s=%.1f "
	       "ns_per_connect=%.0f\n", count, ns_to_s(elapsed),
	       (double)count / ns_to_s(elapsed), (double)elapsed / (double)count);
	return 0;
}

/* ------------------------------------------------------------------ */
/* load: many concurrent echo transfers in one epoll thread            */
/* ------------------------------------------------------------------ */

/*
 * Payload byte stream for a connection: 64-bit word k of connection
 * 'seed' is a mix of (seed, k). Counter-based rather than a running
 * xorshift so any range can be regenerated on demand (send() may accept
 * only part of a chunk) without buffering per connection.
 */
static uint64_t payload_word(uint64_t seed, uint64_t k)
{
	uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ULL ^
		     (k + 1) * 0xD1B54A32D192ED03ULL;

	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBULL;
	x ^= x >> 31;
	return x;
}

static void payload_fill(uint64_t seed, uint64_t off, unsigned char *buf,
			 size_t len)
{
	uint64_t k = off / 8;
	size_t skip = (size_t)(off % 8);

	while (len > 0) {
		uint64_t w = payload_word(seed, k++);
		size_t take = 8 - skip;

		if (take > len)
			take = len;
		memcpy(buf, (unsigned char *)&w + skip, take);
		buf += take;
		len -= take;
		skip = 0;
	}
}

struct load_cfg {
	struct endpoint ep;
	uint64_t conns, bytes, parallel;
	int64_t timeout_ns;
};

enum load_state { LS_FREE, LS_CONNECTING, LS_RUNNING };

struct load_conn {
	int fd;
	enum load_state state;
	uint32_t events;
	bool wr_shut;
	uint64_t index;
	uint64_t sent, recvd;
	int64_t deadline;
	EVP_MD_CTX *tx, *rx;
};

struct load_failure {
	uint64_t index;
	char reason[160];
};

struct load_run {
	const struct load_cfg *cfg;
	int epfd;
	struct load_conn *slots;
	size_t *free_slots;       /* stack of free slot indices */
	size_t nfree;
	unsigned char *scratch;   /* shared send/recv buffer */
	uint64_t next_index, active, ok, failed, bytes_sent;
	struct load_failure first[LOAD_MAX_REPORTED];
};

static void load_release(struct load_run *run, struct load_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = LS_FREE;
	run->free_slots[run->nfree++] = (size_t)(c - run->slots);
	run->active--;
}

__attribute__((format(printf, 3, 4)))
static void load_fail(struct load_run *run, struct load_conn *c,
		      const char *fmt, ...)
{
	if (run->failed < LOAD_MAX_REPORTED) {
		struct load_failure *f = &run->first[run->failed];
		va_list ap;

		f->index = c->index;
		va_start(ap, fmt);
		vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
		va_end(ap);
	}
	run->failed++;
	run->bytes_sent += c->sent;
	load_release(run, c);
}

static void load_succeed(struct load_run *run, struct load_conn *c)
{
	run->ok++;
	run->bytes_sent += c->sent;
	load_release(run, c);
}

/* Peer closed: verify lengths and digests. */
static void load_finish(struct load_run *run, struct load_conn *c)
{
	unsigned char dtx[EVP_MAX_MD_SIZE], drx[EVP_MAX_MD_SIZE];
	unsigned ltx = 0, lrx = 0;

	if (c->sent < run->cfg->bytes) {
		load_fail(run, c, "early EOF: sent %" PRIu64 " of %" PRIu64
			  ", received %" PRIu64, c->sent, run->cfg->bytes,
			  c->recvd);
		return;
	}
	if (c->recvd != c->sent) {
		load_fail(run, c, "length mismatch: sent %" PRIu64
			  ", received %" PRIu64, c->sent, c->recvd);
		return;
	}
	if (EVP_DigestFinal_ex(c->tx, dtx, &ltx) != 1 ||
	    EVP_DigestFinal_ex(c->rx, drx, &lrx) != 1) {
		load_fail(run, c, "EVP_DigestFinal_ex failed");
		return;
	}
	if (ltx != lrx || memcmp(dtx, drx, ltx) != 0) {
		load_fail(run, c, "sha256 mismatch over %" PRIu64 " bytes",
			  c->sent);
		return;
	}
	load_succeed(run, c);
}

/* Drain readable data. Returns false if the connection was released. */
static bool load_read(struct load_run *run, struct load_conn *c)
{
	for (int i = 0; i < IO_BURST; i++) {
		ssize_t n = recv(c->fd, run->scratch, LOAD_RECV_CHUNK, 0);

		if (n > 0) {
			c->recvd += (uint64_t)n;
			if (c->recvd > c->sent) {
				load_fail(run, c, "received %" PRIu64
					  " bytes but only sent %" PRIu64,
					  c->recvd, c->sent);
				return false;
			}
			EVP_DigestUpdate(c->rx, run->scratch, (size_t)n);
			if ((size_t)n < LOAD_RECV_CHUNK)
				return true;
		} else if (n == 0) {
			load_finish(run, c);
			return false;
		} else if (errno == EAGAIN) {
			return true;
		} else if (errno != EINTR) {
			load_fail(run, c, "recv: %s", strerror(errno));
			return false;
		}
	}
	return true;
}

/* Send as much payload as the socket takes. Returns false if released. */
static bool load_write(struct load_run *run, struct load_conn *c)
{
	for (int i = 0; i < IO_BURST && c->sent < run->cfg->bytes; i++) {
		uint64_t left = run->cfg->bytes - c->sent;
		size_t chunk = left < LOAD_SEND_CHUNK ? (size_t)left
						      : LOAD_SEND_CHUNK;
		ssize_t n;

		payload_fill(c->index, c->sent, run->scratch, chunk);
		n = send(c->fd, run->scratch, chunk, MSG_NOSIGNAL);
		if (n > 0) {
			EVP_DigestUpdate(c->tx, run->scratch, (size_t)n);
			c->sent += (uint64_t)n;
			if ((size_t)n < chunk)
				return true;
		} else if (n < 0 && errno == EAGAIN) {
			return true;
		} else if (n < 0 && errno != EINTR) {
			load_fail(run, c, "send: %s", strerror(errno));
			return false;
		}
	}
	return true;
}

static bool load_update_interest(struct load_run *run, struct load_conn *c)
{
	uint32_t want = EPOLLIN | (c->sent < run->cfg->bytes ? EPOLLOUT : 0);

	if (want == c->events)
		return true;
	if (epoll_set(run->epfd, EPOLL_CTL_MOD, c->fd, want, c) != 0) {
		load_fail(run, c, "epoll_ctl: %s", strerror(errno));
		return false;
	}
	c->events = want;
	return true;
}

static void load_pump(struct load_run *run, struct load_conn *c,
		      uint32_t events)
{
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !load_read(run, c))
		return;
	if ((events & EPOLLOUT) && !load_write(run, c))
		return;
	if (c->sent == run->cfg->bytes && !c->wr_shut) {
		if (shutdown(c->fd, SHUT_WR) != 0) {
			load_fail(run, c, "shutdown: %s", strerror(errno));
			return;
		}
		c->wr_shut = true;
	}
	load_update_interest(run, c);
}

static void load_handle(struct load_run *run, struct load_conn *c,
			uint32_t events)
{
	if (c->state == LS_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			load_fail(run, c, "connect: %s", strerror(err));
			return;
		}
		c->state = LS_RUNNING;
		events |= EPOLLOUT;
	}
	load_pump(run, c, events);
}

/* Start connection number run->next_index in slot c. */
static void load_start(struct load_run *run, struct load_conn *c)
{
	const struct endpoint *ep = &run->cfg->ep;

	c->index = run->next_index++;
	c->sent = c->recvd = 0;
	c->wr_shut = false;
	c->deadline = mono_ns() + run->cfg->timeout_ns;
	c->state = LS_CONNECTING;
	c->events = EPOLLOUT;
	run->active++;
	if (EVP_DigestInit_ex(c->tx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(c->rx, EVP_sha256(), NULL) != 1) {
		load_fail(run, c, "EVP_DigestInit_ex failed");
		return;
	}
	c->fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		load_fail(run, c, "socket: %s", strerror(errno));
		return;
	}
	if (connect(c->fd, (const struct sockaddr *)&ep->ss, ep->len) != 0 &&
	    errno != EINPROGRESS) {
		load_fail(run, c, "connect: %s", strerror(errno));
		return;
	}
	/* Connected or in progress: either way EPOLLOUT reports completion. */
	if (epoll_set(run->epfd, EPOLL_CTL_ADD, c->fd, c->events, c) != 0)
		load_fail(run, c, "epoll_ctl: %s", strerror(errno));
}

static void load_fill_slots(struct load_run *run)
{
	while (run->nfree > 0 && run->next_index < run->cfg->conns) {
		struct load_conn *c = &run->slots[run->free_slots[--run->nfree]];

		load_start(run, c);
	}
}

static void load_check_timeouts(struct load_run *run, int64_t now)
{
	for (uint64_t i = 0; i < run->cfg->parallel; i++) {
		struct load_conn *c = &run->slots[i];

		if (c->state != LS_FREE && now >= c->deadline)
			load_fail(run, c, "timeout after %.0f s (%s, sent %"
				  PRIu64 ", received %" PRIu64 ")",
				  ns_to_s(run->cfg->timeout_ns),
				  c->state == LS_CONNECTING ? "connecting"
							    : "transferring",
				  c->sent, c->recvd);
	}
}

static int load_loop(struct load_run *run)
{
	struct epoll_event evs[MAX_EVENTS];
	int64_t next_scan = mono_ns() + LOAD_SCAN_INTERVAL_NS;

	load_fill_slots(run);
	while (run->active > 0) {
		int n = epoll_wait(run->epfd, evs, MAX_EVENTS,
				   (int)(LOAD_SCAN_INTERVAL_NS / NSEC_PER_MSEC));
		int64_t now;

		if (n < 0 && errno != EINTR) {
			errmsg("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++)
			load_handle(run, evs[i].data.ptr, evs[i].events);
		now = mono_ns();
		if (now >= next_scan) {
			load_check_timeouts(run, now);
			next_scan = now + LOAD_SCAN_INTERVAL_NS;
		}
		load_fill_slots(run);
	}
	return 0;
}

static void load_free(struct load_run *run)
{
	if (run->slots) {
		for (uint64_t i = 0; i < run->cfg->parallel; i++) {
			if (run->slots[i].fd >= 0)
				close(run->slots[i].fd);
			EVP_MD_CTX_free(run->slots[i].tx);
			EVP_MD_CTX_free(run->slots[i].rx);
		}
	}
	free(run->slots);
	free(run->free_slots);
	free(run->scratch);
	if (run->epfd >= 0)
		close(run->epfd);
}

static int load_init(struct load_run *run, const struct load_cfg *cfg)
{
	size_t n = (size_t)cfg->parallel;
	size_t scratch = LOAD_RECV_CHUNK > LOAD_SEND_CHUNK ? LOAD_RECV_CHUNK
							   : LOAD_SEND_CHUNK;

	memset(run, 0, sizeof(*run));
	run->cfg = cfg;
	run->epfd = epoll_create1(EPOLL_CLOEXEC);
	run->slots = calloc(n, sizeof(*run->slots));
	run->free_slots = calloc(n, sizeof(*run->free_slots));
	run->scratch = malloc(scratch);
	if (run->epfd < 0 || !run->slots || !run->free_slots || !run->scratch) {
		errmsg("load setup: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		run->slots[i].fd = -1;
	for (size_t i = 0; i < n; i++) {
		struct load_conn *c = &run->slots[i];

		c->state = LS_FREE;
		c->tx = EVP_MD_CTX_new();
		c->rx = EVP_MD_CTX_new();
		if (!c->tx || !c->rx) {
			errmsg("EVP_MD_CTX_new failed");
			return -1;
		}
		run->free_slots[n - 1 - i] = i;  /* pop slot 0 first */
	}
	run->nfree = n;
	return 0;
}

static void load_report(const struct load_run *run, int64_t elapsed)
{
	double secs = ns_to_s(elapsed > 0 ? elapsed : 1);

	printf("conns=%" PRIu64 " ok=%" PRIu64 " failed=%" PRIu64
	       " bytes_each_way=%" PRIu64 " seconds=%.3f mib_per_s=%.1f"
	       " conns_per_s=%.1f\n",
	       run->cfg->conns, run->ok, run->failed, run->bytes_sent, secs,
	       (double)run->bytes_sent / MIB / secs,
	       (double)run->cfg->conns / secs);
	fflush(stdout);
	for (uint64_t i = 0; i < run->failed && i < LOAD_MAX_REPORTED; i++)
		fprintf(stderr, "failed: conn=%" PRIu64 " reason=%s\n",
			run->first[i].index, run->first[i].reason);
	if (run->failed > LOAD_MAX_REPORTED)
		fprintf(stderr, "failed: ... and %" PRIu64 " more\n",
			run->failed - LOAD_MAX_REPORTED);
}

static int load_parse(int argc, char **argv, struct load_cfg *cfg)
{
	enum { O_CONNS, O_BYTES, O_PARALLEL, O_TIMEOUT, O_FAMILY, O_COUNT };
	struct opt opts[] = {
		[O_CONNS] = { "conns", NULL },
		[O_BYTES] = { "bytes", NULL },
		[O_PARALLEL] = { "parallel", NULL },
		[O_TIMEOUT] = { "timeout", NULL },
		[O_FAMILY] = { "family", NULL },
	};
	const char *pos[2];
	uint64_t timeout_s = LOAD_DEFAULT_TIMEOUT_S;
	int family;

	if (parse_args(argc, argv, addr_port_names, pos, 2, opts, O_COUNT) != 0 ||
	    parse_family(opts[O_FAMILY].value, &family) != 0 ||
	    parse_endpoint(pos[0], pos[1], family, &cfg->ep) != 0)
		return -1;
	if (!opts[O_CONNS].value || !opts[O_BYTES].value) {
		errmsg("--conns and --bytes are required");
		return -1;
	}
	if (parse_u64(opts[O_CONNS].value, 1, 10000000, true, &cfg->conns)) {
		errmsg("invalid --conns '%s' (1-10000000)", opts[O_CONNS].value);
		return -1;
	}
	if (parse_u64(opts[O_BYTES].value, 0, 1ULL << 50, true, &cfg->bytes)) {
		errmsg("invalid --bytes '%s'", opts[O_BYTES].value);
		return -1;
	}
	cfg->parallel = cfg->conns;
	if (opts[O_PARALLEL].value &&
	    parse_u64(opts[O_PARALLEL].value, 1, 10000000, true, &cfg->parallel)) {
		errmsg("invalid --parallel '%s' (1-10000000)",
		       opts[O_PARALLEL].value);
		return -1;
	}
	if (cfg->parallel > cfg->conns)
		cfg->parallel = cfg->conns;
	if (opts[O_TIMEOUT].value &&
	    parse_u64(opts[O_TIMEOUT].value, 1, 86400, false, &timeout_s)) {
		errmsg("invalid --timeout '%s' (1-86400 seconds)",
		       opts[O_TIMEOUT].value);
		return -1;
	}
	cfg->timeout_ns = (int64_t)timeout_s * NSEC_PER_SEC;
	return 0;
}

static int cmd_load(int argc, char **argv)
{
	struct load_cfg cfg;
	struct load_run run;
	int64_t start;
	int rc = 1;

	if (load_parse(argc, argv, &cfg) != 0)
		return EXIT_USAGE;
	raise_nofile();
	if (load_init(&run, &cfg) == 0) {
		start = mono_ns();
		if (load_loop(&run) == 0) {
			load_report(&run, mono_ns() - start);
			rc = run.ok == cfg.conns ? 0 : 1;
		}
	}
	load_free(&run);
	return rc;
}

/* ------------------------------------------------------------------ */
/* send: raw bytes in, whatever comes back out                          */
/* ------------------------------------------------------------------ */

/* Connect, send all of stdin and end the stream, then copy what the peer
 * sends to stdout until it closes. Exit 0 when the peer closed (or reset) within 10 s, 5 when it
 * kept the connection open (a hang), or the connect codes of probe. */
static int cmd_send(int argc, char **argv)
{
	const char *pos[2];
	struct endpoint ep;
	char buf[65536];
	ssize_t n;
	int fd, err;

	if (parse_args(argc, argv, addr_port_names, pos, 2, NULL, 0) != 0 ||
	    parse_endpoint(pos[0], pos[1], 0, &ep) != 0)
		return EXIT_USAGE;
	err = connect_blocking(&ep, 10000, &fd);
	if (err != 0)
		return err;
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		if (write_all(fd, buf, (size_t)n) != 0)
			break; /* the peer may hang up mid-way: read what it said */
	shutdown(fd, SHUT_WR);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if (write_all(STDOUT_FILENO, buf, (size_t)n) != 0)
			break;
	err = n < 0 ? errno : 0;
	close(fd);
	if (err == EAGAIN || err == EWOULDBLOCK) {
		errmsg("the peer kept the connection open for 10 s");
		return 5;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Subcommand table and main                                           */
/* ------------------------------------------------------------------ */

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *args;
};

static const struct command commands[] = {
	{ "serve", cmd_serve, "ADDR PORT [--ready FILE]" },
	{ "send", cmd_send, "ADDR PORT  (stdin to the peer, the peer to stdout)" },
	{ "probe", cmd_probe, "ADDR PORT [--family 4|6] [--exec-after-connect PATH]" },
	{ "load", cmd_load,
	  "ADDR PORT --conns N --bytes B [--parallel P] [--timeout SEC]"
	  " [--family 4|6]" },
	{ "connect-rate", cmd_connect_rate,
	  "ADDR PORT --count N [--family 4|6]" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  " PROG " %s %s\n", commands[i].name,
			commands[i].args);
	fprintf(out,
		"\nADDR is a literal IPv4 or IPv6 address. --family 6 connects an\n"
		"AF_INET6 socket to ::ffff:ADDR for an IPv4 ADDR. N, B and P accept\n"
		"K/M/G suffixes (binary). Exit: 0 ok, 1 failure, 2 connection\n"
		"refused, 3 other connect error, 4 bad echo, 64 usage.\n");
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		rc = commands[i].run(argc - 2, argv + 2);
		if (rc == EXIT_USAGE)
			fprintf(stderr, "usage: " PROG " %s %s\n",
				commands[i].name, commands[i].args);
		return rc;
	}
	errmsg("unknown subcommand '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
