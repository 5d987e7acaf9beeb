/* Shared by check-http and check-auth: a throwaway PKI, scripted local
 * servers (helpers/httpd.py) and a bounded event loop. Header-only: each
 * test binary is one file plus this. */
#ifndef GW_TESTSERVER_H
#define GW_TESTSERVER_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define TS_PYTHON	"/usr/bin/python3"
#define TS_HTTPD	GW_SOURCE_ROOT "/tests/unit/helpers/httpd.py"
#define TS_MAKECERTS	GW_SOURCE_ROOT "/tests/sim/make-certs.sh"

struct test_server {
	pid_t	pid;
	int	port;
};

static char	ts_dir[64];	/* scratch directory of this run */

/* Exits 77 (skip) when the tools the servers need are missing. */
static void
ts_require_tools(void)
{
	if (access(TS_PYTHON, X_OK) != 0 || system("openssl version "
	    ">/dev/null 2>&1") != 0) {
		fprintf(stderr, "python3 or openssl missing: skipped\n");
		exit(77);
	}
}

static void
ts_scratch(const char *name)
{
	snprintf(ts_dir, sizeof ts_dir, "/tmp/gw-%s.XXXXXX", name);
	if (mkdtemp(ts_dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static int
ts_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

static void
ts_scratch_remove(void)
{
	if (ts_dir[0] != '\0')
		nftw(ts_dir, ts_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* ts_dir/certs holds make-certs.sh's PKI. */
static void
ts_make_certs(void)
{
	char	cmd[512];

	snprintf(cmd, sizeof cmd, "/bin/sh %s %s/certs", TS_MAKECERTS,
	    ts_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "make-certs.sh failed\n");
		exit(1);
	}
}

static char *
ts_path(const char *name)
{
	static char	bufs[8][256];
	static int	next;
	char		*p = bufs[next++ % 8];

	snprintf(p, sizeof bufs[0], "%s/%s", ts_dir, name);
	return p;
}

/* Starts httpd.py; TLS when cert is not NULL (names under ts_dir/certs). */
static void
ts_start(struct test_server *s, const char *tag, const char *cert,
    const char *key)
{
	char		 portfile[256], certp[256], keyp[256];
	FILE		*f;
	int		 i;

	snprintf(portfile, sizeof portfile, "%s/port-%s", ts_dir, tag);
	snprintf(certp, sizeof certp, "%s/certs/%s", ts_dir,
	    cert != NULL ? cert : "");
	snprintf(keyp, sizeof keyp, "%s/certs/%s", ts_dir,
	    key != NULL ? key : "");
	unlink(portfile);
	if ((s->pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (s->pid == 0) {
		if (cert != NULL)
			execl(TS_PYTHON, "python3", TS_HTTPD, "--port-file",
			    portfile, "--cert", certp, "--key", keyp,
			    "--lifetime", "300", (char *)NULL);
		else
			execl(TS_PYTHON, "python3", TS_HTTPD, "--port-file",
			    portfile, "--lifetime", "300", (char *)NULL);
		_exit(127);
	}
	/* Up to 10 s for the interpreter to start and listen. */
	for (i = 0; i < 500; i++) {
		if ((f = fopen(portfile, "r")) != NULL) {
			if (fscanf(f, "%d", &s->port) == 1) {
				fclose(f);
				return;
			}
			fclose(f);
		}
		usleep(20000);
	}
	fprintf(stderr, "httpd.py (%s) did not start\n", tag);
	kill(s->pid, SIGTERM);
	exit(1);
}

static void
ts_stop(struct test_server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

static char *
ts_url(const struct test_server *s, int tls, const char *path)
{
	static char	bufs[8][256];
	static int	next;
	char		*p = bufs[next++ % 8];

	snprintf(p, sizeof bufs[0], "%s://127.0.0.1:%d%s",
	    tls ? "https" : "http", s->port, path);
	return p;
}

/* A port nobody listens on (bound, then closed). */
static int
ts_dead_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof sin);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void
ts_loop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop until *done reaches want or ms pass; returns elapsed ms. */
static long
ts_run(struct event_base *base, const int *done, int want, int ms)
{
	struct event	*guard;
	struct timeval	 tv;
	struct timespec	 t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	guard = evtimer_new(base, ts_loop_timeout_cb, base);
	evtimer_add(guard, &tv);
	/* One pass at a time, so *done is looked at after each. */
	while (*done < want && evtimer_pending(guard, NULL))
		event_base_loop(base, EVLOOP_ONCE);
	event_free(guard);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

/* Reads a whole file into a NUL-terminated string; caller frees. */
static char *
ts_slurp(const char *path)
{
	FILE	*f;
	char	*s;
	long	 n;

	if ((f = fopen(path, "r")) == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = calloc(1, (size_t)n + 1);
	if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n)
		s[0] = '\0';
	fclose(f);
	return s;
}

#endif
