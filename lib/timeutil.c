#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

int64_t
time_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}

int64_t
time_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}

static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (no timegm: it is
 * not in C11 and this must not depend on TZ). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
time_parse_iso8601(const char *s, int64_t *us)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	const char *p = s;
	int y, mo, d, h, mi, sec, frac = 0, fdigits = 0, oh, om;
	int64_t t;

	if (s == NULL || digits(&p, 4, &y) || *p++ != '-' ||
	    digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d) ||
	    (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
	    *p++ != ':' || digits(&p, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			if (fdigits < 6) {
				frac = frac * 10 + (*p - '0');
				fdigits++;
			}
			p++;
		}
		while (fdigits < 6) {
			frac *= 10;
			fdigits++;
		}
	}
	t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '+' ? 1 : -1;

		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return -1;
		t -= sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	*us = t * USEC_PER_SEC + frac;
	return 0;
}

static void
format_tm(int64_t us, struct tm *tm, int64_t *frac)
{
	int64_t secs = us / USEC_PER_SEC;
	time_t tt;

	*frac = us % USEC_PER_SEC;
	if (*frac < 0) {
		*frac += USEC_PER_SEC;
		secs--;
	}
	tt = (time_t)secs;
	gmtime_r(&tt, tm);
}

void
time_format_iso8601(int64_t us, char out[TIME_ISO_LEN])
{
	struct tm tm;
	int64_t frac;

	format_tm(us, &tm, &frac);
	snprintf(out, TIME_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long long)frac);
}

void
time_format_iso8601_sec(int64_t us, char out[TIME_ISO_LEN])
{
	struct tm tm;
	int64_t frac;

	format_tm(us, &tm, &frac);
	snprintf(out, TIME_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

void
time_format_rfc1123(int64_t us, const char *zone, char *out, size_t outlen)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	time_t t = (time_t)(us / USEC_PER_SEC);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);	/* the epoch rather than garbage */
	}
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d %s",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
}
