/*
 * The local control socket: <runtime_dir>/glasswatchd.sock, mode 0660.
 * One JSON request line in, one JSON reply line out, then the daemon
 * closes. The daemon side runs on its libevent loop and never blocks it:
 * requests are bounded in size and idle clients time out. Who asks comes
 * from the kernel (SO_PEERCRED), never from the request.
 */
#ifndef GW_CONTROL_H
#define GW_CONTROL_H

#include <jansson.h>

struct control;
struct event_base;

#define CONTROL_SOCKET		"glasswatchd.sock"
#define CONTROL_REQUEST_MAX	4096	/* bytes of one request line */
#define CONTROL_IDLE_SEC	5	/* a client that sends nothing */

/* The reply to a request (a JSON object) from the peer's uid and user
 * name (getpwuid_r; "uid N" without one). The control socket frees it. */
typedef json_t *(*control_request_cb)(const json_t *req, long uid,
    const char *user, void *arg);

struct control	*control_new(struct event_base *, control_request_cb,
		    void *arg);
/* Creates runtime_dir when missing and listens on its socket; a stale
 * socket (nothing answers) is replaced, a live one is left alone. 0, or
 * -1 (logged): the daemon then runs without a control socket. */
int		 control_listen(struct control *, const char *runtime_dir);
/* Stops listening, drops clients, removes the socket it created. */
void		 control_free(struct control *);
/* The socket's path for a runtime_dir. Caller frees. */
char		*control_path(const char *runtime_dir);

/* Client (blocking; for the one-shot commands): sends req and waits up to
 * timeout_ms for the reply. 0 with *reply, or -1 with *why (caller frees)
 * when no daemon answered. */
int		 control_call(const char *runtime_dir, const json_t *req,
		    int timeout_ms, json_t **reply, char **why);

#endif
