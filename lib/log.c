#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"

static int		log_level = LOG_INFO;
static enum log_format	log_format = LOG_FORMAT_TEXT;
static int		log_journal = -1;	/* -1: not decided yet */

static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"
};

void
log_init(int level, enum log_format format)
{
	log_level = level;
	log_format = format;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_set_level(int level)
{
	log_level = level;
}

void
log_set_format(enum log_format format)
{
	log_format = format;
}

int
log_level_from_name(const char *name)
{
	for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]);
	    i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	if (strcmp(name, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

static void
log_write(int pri, const char *msg)
{
	char stamp[96];
	struct timespec ts;
	struct tm tm;

	if (log_journal == -1)
		log_journal = getenv("JOURNAL_STREAM") != NULL;

	if (log_format == LOG_FORMAT_JSON) {
		json_t *o;
		char *line;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
		o = json_pack("{s:s, s:s, s:s}", "time", stamp, "level",
		    level_names[pri], "msg", msg);
		line = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line != NULL) {
			if (log_journal)
				fprintf(stderr, "<%d>%s\n", pri, line);
			else
				fprintf(stderr, "%s\n", line);
		}
		free(line);
		json_decref(o);
	} else if (log_journal) {
		/* journald stamps the time itself. */
		fprintf(stderr, "<%d>%s\n", pri, msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(stderr, "%s %s: %s\n", stamp, level_names[pri], msg);
	}
	fflush(stderr);
}

void
log_vmsg(int pri, const char *fmt, va_list ap)
{
	char msg[4096];
	char *p;

	if (pri > log_level)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* One event, one line: never let a value split a log line. */
	for (p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	log_write(pri, msg);
}

#define LOG_FUNC(name, pri)                                                    \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vmsg(pri, fmt, ap);                                        \
		va_end(ap);                                                    \
	}

LOG_FUNC(log_warnx, LOG_WARNING)
LOG_FUNC(log_notice, LOG_NOTICE)
LOG_FUNC(log_info, LOG_INFO)
LOG_FUNC(log_debug, LOG_DEBUG)
LOG_FUNC(log_crit, LOG_CRIT)

static void __attribute__((format(printf, 2, 3)))
log_msgf(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(pri, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 2, 0)))
log_verrno(int pri, const char *fmt, va_list ap)
{
	char msg[4096];
	int saved = errno;

	vsnprintf(msg, sizeof msg, fmt, ap);
	log_msgf(pri, "%s: %s", msg, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verrno(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verrno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
