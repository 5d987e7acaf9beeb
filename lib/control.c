/* The control socket, daemon and client sides (control.h). */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "control.h"
#include "log.h"
#include "xmalloc.h"

#define CONTROL_REPLY_MAX	65536	/* what the client reads at most */

struct control_client {
	struct control		*ctl;
	struct bufferevent	*bev;
	long			 uid;
	char			*user;
	struct control_client	*next;
	struct control_client	**prevp;
};

struct control {
	struct event_base	*base;
	struct evconnlistener	*lev;
	control_request_cb	 cb;
	void			*arg;
	char			*path;		/* NULL: not listening */
	dev_t			 dev;		/* the socket we made */
	ino_t			 ino;
	struct control_client	*clients;
};

char *
control_path(const char *runtime_dir)
{
	return xasprintf("%s/%s", runtime_dir, CONTROL_SOCKET);
}

static int
control_sockaddr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* --- the daemon side --------------------------------------------------- */

static void
control_client_free(struct control_client *cl)
{
	if (cl->next != NULL)
		cl->next->prevp = cl->prevp;
	*cl->prevp = cl->next;
	bufferevent_free(cl->bev);
	free(cl->user);
	free(cl);
}

/* Everything is written: the exchange is over. */
static void
control_write_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		control_client_free(arg);
}

static void
control_reply(struct control_client *cl, json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT);

	json_decref(reply);
	bufferevent_disable(cl->bev, EV_READ);
	bufferevent_setcb(cl->bev, NULL, control_write_cb, NULL, cl);
	bufferevent_setwatermark(cl->bev, EV_WRITE, 0, 0);
	if (s == NULL || bufferevent_write(cl->bev, s, strlen(s)) == -1 ||
	    bufferevent_write(cl->bev, "\n", 1) == -1) {
		free(s);
		control_client_free(cl);
		return;
	}
	free(s);
}

static json_t *
control_refuse(const char *why)
{
	return json_pack("{s:b, s:s, s:b}", "ok", 0, "error", why, "usage", 1);
}

static void
control_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	json_error_t jerr;
	json_t *req, *reply;
	size_t n;
	char *line;

	if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF)) == NULL) {
		if (evbuffer_get_length(in) >= CONTROL_REQUEST_MAX) {
			log_warnx("control: uid %ld sent a request longer "
			    "than %d bytes", cl->uid, CONTROL_REQUEST_MAX);
			control_reply(cl, control_refuse("request too long"));
		}
		return;
	}
	req = json_loadb(line, n, 0, &jerr);
	free(line);
	if (!json_is_object(req))
		reply = control_refuse("the request is not a JSON object");
	else
		reply = cl->ctl->cb(req, cl->uid, cl->user, cl->ctl->arg);
	json_decref(req);
	control_reply(cl, reply);
}

static void
control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_client *cl = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_info("control: uid %ld idle for %d s: closed", cl->uid,
		    CONTROL_IDLE_SEC);
	control_client_free(cl);
}

/* The peer's user name, from its uid: never from what it sends. */
static char *
control_user(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 &&
	    res != NULL && pw.pw_name != NULL && *pw.pw_name != '\0')
		return xstrdup(pw.pw_name);
	return xasprintf("uid %ld", (long)uid);
}

static void
control_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control *ctl = arg;
	struct control_client *cl;
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct timeval idle = { CONTROL_IDLE_SEC, 0 };

	(void)lev;
	(void)sa;
	(void)salen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		close(fd);
		return;
	}
	cl = xcalloc(1, sizeof *cl);
	cl->ctl = ctl;
	cl->uid = (long)cred.uid;
	cl->user = control_user(cred.uid);
	if ((cl->bev = bufferevent_socket_new(ctl->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		free(cl->user);
		free(cl);
		return;
	}
	cl->next = ctl->clients;
	if (cl->next != NULL)
		cl->next->prevp = &cl->next;
	cl->prevp = &ctl->clients;
	ctl->clients = cl;
	/* Reading stops at the limit, so a request never grows past it. */
	bufferevent_setwatermark(cl->bev, EV_READ, 0, CONTROL_REQUEST_MAX);
	bufferevent_set_timeouts(cl->bev, &idle, &idle);
	bufferevent_setcb(cl->bev, control_read_cb, NULL, control_event_cb,
	    cl);
	bufferevent_enable(cl->bev, EV_READ);
}

struct control *
control_new(struct event_base *base, control_request_cb cb, void *arg)
{
	struct control *ctl = xcalloc(1, sizeof *ctl);

	ctl->base = base;
	ctl->cb = cb;
	ctl->arg = arg;
	return ctl;
}

/* A socket already at path: 0 when it was stale and is gone, -1 (logged)
 * when it must stay (a live daemon, or not a socket at all). */
static int
control_clear_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat sb;
	int fd, rc;

	if (lstat(path, &sb) == -1)
		return errno == ENOENT ? 0 : (log_warn("control: %s", path),
		    -1);
	if (!S_ISSOCK(sb.st_mode)) {
		log_warnx("control: %s exists and is not a socket: not "
		    "replacing it", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("control: socket");
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	close(fd);
	if (rc == 0 || errno == EAGAIN) {
		log_crit("control: another glasswatchd answers on %s: not "
		    "taking it over (drills go to that daemon)", path);
		return -1;
	}
	log_info("control: removing the stale socket %s", path);
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("control: unlink %s", path);
		return -1;
	}
	return 0;
}

int
control_listen(struct control *ctl, const char *runtime_dir)
{
	struct sockaddr_un sun;
	struct stat sb;
	char *path = control_path(runtime_dir);
	mode_t old;
	int fd, rc;

	if (mkdir(runtime_dir, 0750) == -1 && errno != EEXIST) {
		log_warn("control: runtime_dir %s", runtime_dir);
		goto fail;
	}
	if (control_sockaddr(path, &sun) == -1) {
		log_warnx("control: %s: path too long for a socket", path);
		goto fail;
	}
	if (control_clear_stale(path, &sun) == -1)
		goto fail;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("control: socket");
		goto fail;
	}
	/* Created 0660 from the start: no moment of a wider mode. */
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc == -1 || chmod(path, 0660) == -1 || stat(path, &sb) == -1) {
		log_warn("control: %s", path);
		close(fd);
		goto fail;
	}
	ctl->lev = evconnlistener_new(ctl->base, control_accept_cb, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
	if (ctl->lev == NULL) {
		log_warnx("control: cannot listen on %s", path);
		close(fd);
		unlink(path);
		goto fail;
	}
	ctl->path = path;
	ctl->dev = sb.st_dev;
	ctl->ino = sb.st_ino;
	log_info("control: listening on %s", path);
	return 0;

fail:
	free(path);
	return -1;
}

void
control_free(struct control *ctl)
{
	struct stat sb;

	if (ctl == NULL)
		return;
	while (ctl->clients != NULL)
		control_client_free(ctl->clients);
	if (ctl->lev != NULL)
		evconnlistener_free(ctl->lev);
	/* Only our own: a later daemon may have replaced it. */
	if (ctl->path != NULL && lstat(ctl->path, &sb) == 0 &&
	    sb.st_dev == ctl->dev && sb.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

/* --- the client side --------------------------------------------------- */

static int64_t
control_ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for ev until deadline (ms, monotonic). */
static int
control_wait(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { fd, ev, 0 };
	int64_t left;
	int rc;

	for (;;) {
		if ((left = deadline - control_ms_now()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static int
control_send_all(int fd, const char *s, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n > 0) {
			s += n;
			len -= (size_t)n;
		} else if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (control_wait(fd, POLLOUT, deadline) == -1)
				return -1;
		} else
			return -1;
	}
	return 0;
}

int
control_call(const char *runtime_dir, const json_t *req, int timeout_ms,
    json_t **reply, char **why)
{
	struct sockaddr_un sun;
	int64_t deadline = control_ms_now() + timeout_ms;
	char *path = control_path(runtime_dir), *s = NULL, *nl;
	char *buf = xmalloc(CONTROL_REPLY_MAX + 1);
	size_t have = 0;
	json_error_t jerr;
	int fd = -1;

	*reply = NULL;
	*why = NULL;
	if (control_sockaddr(path, &sun) == -1 || (fd = socket(AF_UNIX,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		*why = xasprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	s = json_dumps(req, JSON_COMPACT);
	if (control_send_all(fd, s, strlen(s), deadline) == -1 ||
	    control_send_all(fd, "\n", 1, deadline) == -1) {
		*why = xasprintf("%s: sending: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n = recv(fd, buf + have, CONTROL_REPLY_MAX - have, 0);

		if (n > 0) {
			have += (size_t)n;
			buf[have] = '\0';
			if ((nl = memchr(buf, '\n', have)) != NULL) {
				have = (size_t)(nl - buf);
				break;
			}
			if (have == CONTROL_REPLY_MAX) {
				*why = xasprintf("%s: the reply is too long",
				    path);
				goto out;
			}
		} else if (n == 0) {
			*why = xasprintf("%s: closed without a reply", path);
			goto out;
		} else if (errno == EAGAIN || errno == EINTR) {
			if (control_wait(fd, POLLIN, deadline) == -1) {
				*why = xasprintf("%s: no reply within %d ms",
				    path, timeout_ms);
				goto out;
			}
		} else {
			*why = xasprintf("%s: %s", path, strerror(errno));
			goto out;
		}
	}
	if ((*reply = json_loadb(buf, have, 0, &jerr)) == NULL ||
	    !json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		*why = xasprintf("%s: the reply is not a JSON object", path);
	}
out:
	if (fd != -1)
		close(fd);
	free(s);
	free(buf);
	free(path);
	return *reply != NULL ? 0 : -1;
}
