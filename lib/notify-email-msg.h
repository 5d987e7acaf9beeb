/* Private to notify-email.c and its tests: the message builder and the
 * result classification, kept apart from the transfer so that both can be
 * tested without a mail server. */
#ifndef GW_NOTIFY_EMAIL_MSG_H
#define GW_NOTIFY_EMAIL_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "notifier.h"

struct alert;
struct buf;
struct strlist;

/* One header field, CRLF-terminated. Control characters (CR and LF above
 * all: record fields come from attackers) become spaces and the value is
 * trimmed; a value that is not printable ASCII, that holds "=?", or that
 * cannot be folded into lines of at most 998 octets is written as RFC 2047
 * encoded words (=?UTF-8?B?...?=, at most 75 characters each, never
 * splitting a UTF-8 sequence); otherwise long values are folded at spaces
 * near 78 columns. */
void	email_header_put(struct buf *, const char *name, const char *value);

/* An address header (From, To): the addresses stripped of control
 * characters, comma-separated, one per line when folded; never encoded. */
void	email_address_header_put(struct buf *, const char *name,
	    const char *const *addrs, size_t n);

/* RFC 5322 date: "Tue, 03 Feb 2026 10:00:00 +0000" (always UTC). */
void	email_date_format(int64_t us, char *out, size_t outlen);

/* The whole message (headers, a blank line, the body) with CRLF line
 * ends, ready for DATA (libcurl dot-stuffs). The Message-ID is
 * <ALERT_ID@DOMAIN of from>, the same for every recipient and retry.
 * *lenp is its length. Caller frees. */
char	*email_message_build(const struct alert *, const char *from,
	    const struct strlist *to, int64_t date_us, size_t *lenp);

/* The deliver result of a finished SMTP transaction, from libcurl's code
 * and the last SMTP reply code (CURLINFO_RESPONSE_CODE; 0 when none). */
enum deliver_result	email_classify(CURLcode, long reply);

/* One line for the log: where, the reply code, libcurl's words (errbuf,
 * CURLOPT_ERRORBUFFER, which holds the server's reply text: its control
 * characters become spaces in place). No credentials. */
void	email_why(char *out, size_t outlen, const char *origin, CURLcode,
	    long reply, char *errbuf);

/* 0 when addr is a usable bare address (local@domain, no whitespace,
 * control characters or angle brackets), else -1 with *why. */
int	email_address_check(const char *addr, const char **why);

#endif
