/* The text of an SMS page: the essentials first, cut to what one message
 * (or as many segments as max_length allows) can carry, counted the way
 * the networks count: GSM 03.38 septets, or UCS-2 (UTF-16) units when a
 * character is not in the GSM 7-bit alphabet. */
#ifndef GW_SMS_TEXT_H
#define GW_SMS_TEXT_H

#include <stddef.h>

struct alert;

enum sms_encoding { SMS_GSM7, SMS_UCS2 };

struct sms_size {
	enum sms_encoding	encoding;
	size_t			units;	/* septets or UTF-16 units */
	size_t			segments; /* 0 for no text */
};

/* Bounds on max_length, in GSM-7 septets (Twilio takes 1600 characters). */
#define SMS_MAX_LENGTH_MIN	40
#define SMS_MAX_LENGTH_MAX	1600
#define SMS_MAX_LENGTH_DEFAULT	160

/* The size of UTF-8 text (invalid bytes count as one UCS-2 character). */
void	 sms_text_size(const char *utf8, struct sms_size *);
/* How many units an encoding may use when max_length is given in GSM-7
 * septets: as many bytes as max_length septets take, but never more
 * segments (160 gives 70 in UCS-2, 306 gives 134). */
size_t	 sms_text_limit(enum sms_encoding, size_t max_length);
/* text (UTF-8) followed by suffix, within max_length: when it does not
 * fit, text is cut at a character and "..." marks the cut; suffix always
 * stays whole. Control characters become spaces. Caller frees. */
char	*sms_text_fit(const char *text, const char *suffix,
	    size_t max_length);
/* The page for an alert: "Sev0: <what happened>. IP <ip>, <time>. Rule
 * <rule>, tenant <tenant>, <location>, app <app> (gw-1a2b3c4d)", cut to
 * max_length. Caller frees. */
char	*sms_text_build(const struct alert *, size_t max_length);

#endif
