// SPDX-License-Identifier: Apache-2.0
/* replay_play: a transcript paced on a terminal. See replay_play.h. */
#include "replay_play.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "replay_render.h"

#define QUIT 1  /* a frame callback's "stop here" */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define NSIGNALS (sizeof(stop_signals) / sizeof(stop_signals[0]))

struct player {
	FILE *out;
	double speed;
	int keys;       /* the terminal keys come from, or -1 */
	bool paused;
	int64_t at;     /* the last frame's time */
};

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The terminal went away: play on without keys. */
static void lose_keys(struct player *p)
{
	p->keys = -1;
	p->paused = false;
}

/* The keys pressed: QUIT, or 0 with *skip set for s and the right arrow. */
static int read_keys(struct player *p, bool *skip)
{
	char buf[32];
	ssize_t n = read(p->keys, buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		lose_keys(p);
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 3)
			return QUIT;
		if (buf[i] == ' ')
			p->paused = !p->paused;
		else if (buf[i] == 's' || buf[i] == 'S')
			*skip = true;
		else if (buf[i] == '\x1b' && i + 2 < n && buf[i + 1] == '[' && buf[i + 2] == 'C')
			*skip = true, i += 2;
	}
	return 0;
}

/* Wait us microseconds (longer while paused): 0, QUIT or a negative errno. */
static int wait_frame(struct player *p, int64_t us)
{
	int64_t left = us, since;
	bool skip = false, was_paused;
	struct pollfd pfd;
	int n;

	while (!stop_signal && !skip && (left > 0 || p->paused)) {
		pfd = (struct pollfd){ .fd = p->keys, .events = POLLIN };
		was_paused = p->paused;
		since = now_us();
		n = poll(&pfd, 1, was_paused ? -1 : (int)((left + 999) / 1000));
		if (!was_paused)
			left -= now_us() - since;
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0 && (pfd.revents & POLLIN) && read_keys(p, &skip))
			return QUIT;
		if (n > 0 && !(pfd.revents & POLLIN))
			lose_keys(p);
	}
	return 0;
}

static int play_frame(void *ctx, int64_t at, const char *text, size_t len)
{
	struct player *p = ctx;
	int64_t gap = at - p->at > REPLAY_WAIT_MAX ? REPLAY_WAIT_MAX : at - p->at;
	int err = wait_frame(p, (int64_t)((double)gap / p->speed));

	p->at = at;
	if (err || stop_signal)
		return err ? err : QUIT;
	if (fwrite(text, 1, len, p->out) != len || fflush(p->out))
		return -EIO;
	return 0;
}

int replay_play(const struct replay_session *s, double speed, FILE *out)
{
	struct player p = { .out = out, .speed = speed, .keys = -1 };
	struct sigaction sa = { .sa_handler = on_signal }, old[NSIGNALS];
	struct termios saved, raw;
	bool steered = false;
	int err;

	if (isatty(STDIN_FILENO) && isatty(fileno(out)) && !tcgetattr(STDIN_FILENO, &saved)) {
		/* Handlers first, so no signal finds the terminal changed and
		 * kills us before it is set back. No SA_RESTART: poll returns. */
		for (size_t i = 0; i < NSIGNALS; i++)
			sigaction(stop_signals[i], &sa, &old[i]);
		steered = true;
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		if (!tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw))
			p.keys = STDIN_FILENO;
	}
	err = replay_transcript(s, play_frame, &p);
	if (steered) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		for (size_t i = 0; i < NSIGNALS; i++)
			sigaction(stop_signals[i], &old[i], NULL);
	}
	if (stop_signal)
		return -EINTR;
	return err == QUIT ? 0 : err;
}
