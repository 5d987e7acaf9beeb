/*
 * systemd's readiness and watchdog notifications (sd_notify(3)), spoken
 * directly: one datagram to the AF_UNIX socket in $NOTIFY_SOCKET. The
 * protocol is documented and stable and this is all of it, so it is not
 * worth a dependency on libsystemd (which would also pull in its own event
 * loop and logging).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

static int	sdnotify_warned;

void
systemd_notify(const char *fmt, ...)
{
	struct sockaddr_un sun;
	const char *path = getenv("NOTIFY_SOCKET");
	socklen_t len;
	char msg[512];
	va_list ap;
	size_t plen;
	int fd, n;

	if (path == NULL || *path == '\0')
		return;
	plen = strlen(path);
	/* '@' names an abstract socket; otherwise a path. */
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof sun.sun_path) {
		if (!sdnotify_warned++)
			log_warnx("NOTIFY_SOCKET is not a usable socket "
			    "address; systemd is not told of readiness");
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof msg)
		n = (int)strlen(msg);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    len) == -1) {
		if (!sdnotify_warned++)
			log_warn("notifying systemd");
	}
	if (fd != -1)
		close(fd);
}

int64_t
systemd_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid;
	char *end;
	long long v;

	if (usec == NULL)
		return 0;
	/* WATCHDOG_PID, when set, says whom the watchdog is for. */
	if ((pid = getenv("WATCHDOG_PID")) != NULL &&
	    strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoll(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return 0;
	return (int64_t)v;
}
