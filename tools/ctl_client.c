// SPDX-License-Identifier: Apache-2.0
/* ctl_client: a request to the control socket and its answer. See ctl_client.h. */
#include "ctl_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events (or in error, which the next call on
 * it reports): 0, -ETIMEDOUT at the deadline, or -errno. */
static int wait_ready(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* A connected, non-blocking socket, or -errno with err said. */
static int connect_to(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_MS / 1000 };
	size_t len = strlen(path);
	int fd, e;

	if (len >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "cannot connect to %s: the path is longer than %zu bytes",
			 path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot make a socket: %s", strerror(e));
		return -e;
	}
	/* connect() to a listener whose backlog is full waits; on Linux
	 * SO_SNDTIMEO bounds that wait (and it ends in EAGAIN). */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    fcntl(fd, F_SETFL, O_NONBLOCK)) {
		e = errno;
		close(fd);
		snprintf(err, errlen, "cannot connect to %s: %s%s", path,
			 e == EAGAIN ? "the agent does not accept connections" : strerror(e),
			 e == ENOENT || e == ECONNREFUSED ? " (is sluiced running?)" : "");
		return -e;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		int err;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			if ((err = wait_ready(fd, POLLOUT, deadline)))
				return err;
		} else if (n < 0 && errno != EINTR) {
			return -errno;
		}
	}
	return 0;
}

/* Read up to the first newline into *line (NUL-terminated, without the
 * newline); bytes after it are left unread. */
static int read_line(int fd, char **line, size_t *len, int64_t deadline, char *err,
		     size_t errlen)
{
	size_t have = 0, cap = 4096;
	char *buf = malloc(cap + 1), *nl = NULL, *grown;
	int rc = 0;

	while (buf && !nl) {
		ssize_t n;

		if (have == cap) {
			if (cap >= CTL_ANSWER_MAX) {
				snprintf(err, errlen, "the agent's answer is longer than %u MiB",
					 CTL_ANSWER_MAX >> 20);
				rc = -EMSGSIZE;
				break;
			}
			cap = cap * 2 > CTL_ANSWER_MAX ? CTL_ANSWER_MAX : cap * 2;
			if (!(grown = realloc(buf, cap + 1)))
				break;
			buf = grown;
		}
		n = recv(fd, buf + have, cap - have, 0);
		if (n > 0) {
			nl = memchr(buf + have, '\n', (size_t)n);
			have += (size_t)n;
		} else if (n == 0) {
			snprintf(err, errlen, have ? "the agent closed the connection in the middle "
				 "of its answer (after %zu bytes)" : "the agent closed the connection "
				 "without answering", have);
			rc = -ECONNRESET;
			break;
		} else if (errno == EAGAIN) {
			if ((rc = wait_ready(fd, POLLIN, deadline))) {
				if (rc == -ETIMEDOUT)
					snprintf(err, errlen, "no answer from the agent within %d "
						 "seconds", CTL_TIMEOUT_MS / 1000);
				else
					snprintf(err, errlen, "cannot wait for the agent's answer: "
						 "%s", strerror(-rc));
				break;
			}
		} else if (errno != EINTR) {
			rc = -errno;
			snprintf(err, errlen, "cannot read the agent's answer: %s", strerror(errno));
			break;
		}
	}
	if (!buf || (!nl && !rc)) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
	if (rc) {
		free(buf);
		return rc;
	}
	*nl = '\0';
	*line = buf;
	*len = (size_t)(nl - buf);
	return 0;
}

/* The answer in line[0..len): one JSON object with a boolean "ok". */
static int parse_answer(const char *line, size_t len, cJSON **answer, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *a;

	/* cJSON would end a string at a NUL and take the rest as read. */
	if (memchr(line, '\0', len)) {
		snprintf(err, errlen, "the agent's answer holds a NUL byte");
		return -EPROTO;
	}
	a = cJSON_ParseWithLengthOpts(line, len, &end, false);
	if (a && end)
		end += strspn(end, " \t\r");
	if (!a || !end || end != line + len || !cJSON_IsObject(a) ||
	    !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(a, "ok"))) {
		snprintf(err, errlen, "the agent's answer is not a JSON object with \"ok\"");
		cJSON_Delete(a);
		return -EPROTO;
	}
	*answer = a;
	return 0;
}

int ctl_request(const char *socket_path, const cJSON *request, cJSON **answer,
		char *err, size_t errlen)
{
	int64_t deadline = now_ms() + CTL_TIMEOUT_MS;
	char *req = cJSON_PrintUnformatted(request), *line = NULL;
	size_t len = req ? strlen(req) : 0;
	int fd = -1, rc;

	*answer = NULL;
	if (!req) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (len + 1 > CTL_REQUEST_MAX) {
		snprintf(err, errlen, "the request is longer than the agent takes (%u KiB)",
			 CTL_REQUEST_MAX >> 10);
		rc = -EMSGSIZE;
		goto out;
	}
	req[len++] = '\n'; /* over the NUL: the line is sent by length */
	fd = connect_to(socket_path, err, errlen);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if ((rc = send_all(fd, req, len, deadline))) {
		snprintf(err, errlen, "cannot send to %s: %s", socket_path,
			 rc == -ETIMEDOUT ? "the agent does not read" : strerror(-rc));
		goto out;
	}
	if (!(rc = read_line(fd, &line, &len, deadline, err, errlen)))
		rc = parse_answer(line, len, answer, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	free(line);
	free(req);
	return rc;
}
