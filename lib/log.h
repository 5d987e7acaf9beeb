/* OpenBSD-style logging: log_warn appends strerror(errno), log_warnx does
 * not. Under systemd (JOURNAL_STREAM set) lines carry <N> priority prefixes
 * so journald keeps the levels; format json writes one JSON object a line. */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdarg.h>
#include <syslog.h>

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void	log_init(int level, enum log_format);
void	log_set_level(int level);
void	log_set_format(enum log_format);
int	log_level_from_name(const char *name);	/* -1 when unknown */

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_crit(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_vmsg(int pri, const char *, va_list) __attribute__((format(printf, 2, 0)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
