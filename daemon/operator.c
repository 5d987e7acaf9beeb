/*
 * The operator commands (DESIGN.md "Command line contract"): --status and
 * --history read the state store read-only, without the state_dir lock,
 * so they work while the daemon runs; --replay runs the rules over a saved
 * file on a scratch store and sends nothing. Process glue only: the
 * reports are lib/status.c, lib/history.c and lib/replay.c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "duration.h"
#include "history.h"
#include "log.h"
#include "replay-input.h"
#include "replay.h"
#include "status.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

/* A saved file larger than this is not a page anyone saved by hand. */
#define REPLAY_MAX_FILE	(1024 * 1024 * 1024)

struct config *
operator_config(const char *path, int debug)
{
	log_init(debug ? LOG_DEBUG : LOG_WARNING, LOG_FORMAT_TEXT);
	return config_load_report(path);
}

/* The daemon's store, read-only; NULL with the reason printed. */
static struct store *
operator_store(const struct config *c)
{
	struct store *s;
	struct stat sb;
	char *path, *err = NULL;

	path = xasprintf("%s/%s", c->state_dir, STORE_FILE);
	if (stat(path, &sb) == -1 && errno == ENOENT) {
		fprintf(stderr, "glasswatchd: no state yet: %s does not exist "
		    "(glasswatchd has not run with state_dir %s)\n", path,
		    c->state_dir);
		free(path);
		return NULL;
	}
	free(path);
	if (store_open(c->state_dir, 1, &s, &err) == -1) {
		fprintf(stderr, "glasswatchd: %s\n", err);
		free(err);
		return NULL;
	}
	return s;
}

/* The configuration and the store for a report: EXIT_OK with both, or the
 * exit code with the reason printed. */
static int
operator_open(const char *config_path, int debug, struct config **c,
    struct store **s)
{
	if ((*c = operator_config(config_path, debug)) == NULL)
		return EXIT_CONFIG;
	if ((*s = operator_store(*c)) == NULL) {
		config_free(*c);
		return EXIT_STATE_DIR;
	}
	return EXIT_OK;
}

/* After a report: the exit code, and everything closed. */
static int
operator_close(struct config *c, struct store *s, int ok, char *err)
{
	if (!ok) {
		fprintf(stderr, "glasswatchd: %s\n", err);
		free(err);
	}
	store_close(s);
	config_free(c);
	return ok ? EXIT_OK : EXIT_STATE_DIR;
}

int
operator_status(const char *config_path, int debug)
{
	struct config *c;
	struct store *s;
	char *err = NULL;
	int rc;

	if ((rc = operator_open(config_path, debug, &c, &s)) != EXIT_OK)
		return rc;
	rc = status_print(s, c, time_now_us(), stdout, &err);
	return operator_close(c, s, rc == 0, err);
}

int
operator_history(const char *config_path, int64_t since, int debug)
{
	struct config *c;
	struct store *s;
	char *err = NULL, from[TIME_ISO_LEN], d[32];
	int64_t since_us = time_now_us() - since * USEC_PER_SEC;
	int rc;

	if ((rc = operator_open(config_path, debug, &c, &s)) != EXIT_OK)
		return rc;
	time_format_iso8601_sec(since_us, from);
	duration_format(since, d, sizeof d);
	printf("glasswatch history since %s (the last %s), state store "
	    "%s/%s\n", from, d, c->state_dir, STORE_FILE);
	rc = history_print(s, since_us, 0, stdout, NULL, &err);
	return operator_close(c, s, rc == 0, err);
}

/* The whole file; -1 with the reason printed. */
static int
operator_read(const char *path, struct buf *b)
{
	char chunk[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "glasswatchd: --replay %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "glasswatchd: --replay %s: %s\n", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (b->len + (size_t)n > REPLAY_MAX_FILE) {
			fprintf(stderr, "glasswatchd: --replay %s: larger than "
			    "1 GiB\n", path);
			close(fd);
			return -1;
		}
		buf_append(b, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

int
operator_replay(const char *config_path, const char *file,
    const char *tenant, int debug)
{
	struct replay_input *in = NULL;
	struct config *c;
	struct buf b;
	char *err = NULL;
	int rc = EXIT_OK;

	if ((c = operator_config(config_path, debug)) == NULL)
		return EXIT_CONFIG;
	if (tenant != NULL && config_tenant(c, tenant) == NULL) {
		fprintf(stderr, "glasswatchd: --tenant %s: no such tenant in "
		    "%s\n", tenant, config_path);
		config_free(c);
		return EXIT_USAGE;
	}
	buf_init(&b);
	if (operator_read(file, &b) == -1) {
		rc = EXIT_NOINPUT;
		goto done;
	}
	if (replay_input_open(b.data != NULL ? b.data : "", b.len, &in,
	    &err) == -1) {
		fprintf(stderr, "glasswatchd: --replay %s: %s\n", file, err);
		rc = EXIT_DATAERR;
		goto done;
	}
	if (replay_run(c, tenant, in, file, stdout, &err) == -1) {
		fprintf(stderr, "glasswatchd: --replay %s: %s\n", file, err);
		/* A parser refusing the file, or the scratch store. */
		rc = strstr(err, "scratch") != NULL ? EXIT_STATE_DIR :
		    EXIT_DATAERR;
	}
done:
	free(err);
	replay_input_free(in);
	buf_free(&b);
	config_free(c);
	return rc;
}
