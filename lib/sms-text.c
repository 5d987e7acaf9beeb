/*
 * The SMS text of an alert, and the arithmetic of SMS lengths.
 *
 * A message is sent in the GSM 7-bit default alphabet (GSM 03.38) when
 * every character is in it, else in UCS-2 (UTF-16 in practice). GSM-7
 * carries 160 septets in one segment, 153 per segment of a concatenated
 * message; the extension table's characters (escape + code) take two
 * septets. UCS-2 carries 70 units, 67 per segment; a character beyond the
 * BMP takes two. A page must arrive whole and at once, so the text is cut
 * rather than split beyond what max_length allows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "buf.h"
#include "record.h"
#include "sms-text.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SMS_GSM_SINGLE		160
#define SMS_GSM_MULTI		153
#define SMS_UCS2_SINGLE		70
#define SMS_UCS2_MULTI		67
#define SMS_CUT_MARK		"..."
#define SMS_REPLACEMENT		0xfffd

/* The default alphabet beyond printable ASCII (which is all in it but for
 * the backtick and the extension characters below). */
static const uint16_t sms_gsm_basic[] = {
	0x00a1, 0x00a3, 0x00a4, 0x00a5, 0x00a7, 0x00bf, 0x00c4, 0x00c5,
	0x00c6, 0x00c7, 0x00c9, 0x00d1, 0x00d6, 0x00d8, 0x00dc, 0x00df,
	0x00e0, 0x00e4, 0x00e5, 0x00e6, 0x00e8, 0x00e9, 0x00ec, 0x00f1,
	0x00f2, 0x00f6, 0x00f8, 0x00f9, 0x00fc, 0x0393, 0x0394, 0x0398,
	0x039b, 0x039e, 0x03a0, 0x03a3, 0x03a6, 0x03a8, 0x03a9
};

/* Septets a code point takes in GSM-7: 1, 2 (extension table) or 0 when
 * it has no GSM-7 form. */
static int
sms_gsm_septets(uint32_t cp)
{
	size_t lo = 0, hi = sizeof sms_gsm_basic / sizeof sms_gsm_basic[0];

	if (cp == '\n' || cp == '\r')
		return 1;
	if (cp == '\f' || cp == 0x20ac)
		return 2;
	if (cp >= 0x20 && cp < 0x7f) {
		if (cp == '`')
			return 0;
		if (strchr("[\\]^{|}~", (int)cp) != NULL)
			return 2;
		return 1;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sms_gsm_basic[mid] == cp)
			return 1;
		if (sms_gsm_basic[mid] < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static size_t
sms_ucs2_units(uint32_t cp)
{
	return cp > 0xffff ? 2 : 1;
}

/* One code point of UTF-8 at s (not at its NUL); *len is how many bytes
 * it took. Malformed, overlong and surrogate sequences are one byte of
 * U+FFFD. */
static uint32_t
sms_utf8_next(const unsigned char *s, size_t *len)
{
	uint32_t cp, min;
	size_t n;

	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		goto bad;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		goto bad;
	*len = n;
	return cp;
bad:
	*len = 1;
	return SMS_REPLACEMENT;
}

static void
sms_utf8_put(struct buf *b, uint32_t cp)
{
	char out[4];

	if (cp < 0x80) {
		buf_putc(b, (char)cp);
		return;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		buf_append(b, out, 2);
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		buf_append(b, out, 3);
	} else {
		out[0] = (char)(0xf0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		buf_append(b, out, 4);
	}
}

/* Valid UTF-8 on one line: control characters (C0, DEL, C1) become
 * spaces, malformed bytes U+FFFD. Record fields come from attackers. */
static char *
sms_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b;
	uint32_t cp;
	size_t n;

	buf_init(&b);
	while (*p != '\0') {
		cp = sms_utf8_next(p, &n);
		p += n;
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			cp = ' ';
		sms_utf8_put(&b, cp);
	}
	return buf_steal(&b);
}

/* The running size of a text, one code point at a time. */
struct sms_count {
	int	gsm;		/* every code point so far is GSM-7 */
	size_t	septets;
	size_t	units;
};

static void
sms_count_add(struct sms_count *c, uint32_t cp)
{
	int s = sms_gsm_septets(cp);

	if (s == 0)
		c->gsm = 0;
	c->septets += (size_t)s;
	c->units += sms_ucs2_units(cp);
}

static void
sms_count_text(struct sms_count *c, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		sms_count_add(c, sms_utf8_next(p, &n));
		p += n;
	}
}

static size_t
sms_segments(enum sms_encoding enc, size_t units)
{
	size_t single = enc == SMS_GSM7 ? SMS_GSM_SINGLE : SMS_UCS2_SINGLE;
	size_t multi = enc == SMS_GSM7 ? SMS_GSM_MULTI : SMS_UCS2_MULTI;

	if (units == 0)
		return 0;
	if (units <= single)
		return 1;
	return (units + multi - 1) / multi;
}

void
sms_text_size(const char *utf8, struct sms_size *sz)
{
	struct sms_count c = { 1, 0, 0 };

	sms_count_text(&c, utf8);
	sz->encoding = c.gsm ? SMS_GSM7 : SMS_UCS2;
	sz->units = c.gsm ? c.septets : c.units;
	sz->segments = sms_segments(sz->encoding, sz->units);
}

size_t
sms_text_limit(enum sms_encoding enc, size_t max_length)
{
	size_t segs, cap, bytes;

	if (enc == SMS_GSM7)
		return max_length;
	segs = sms_segments(SMS_GSM7, max_length);
	cap = segs <= 1 ? SMS_UCS2_SINGLE : segs * SMS_UCS2_MULTI;
	/* 7 bits a septet, 16 a unit: the same bytes, rounded up. */
	bytes = (max_length * 7 + 15) / 16;
	return bytes < cap ? bytes : cap;
}

/* Does a prefix of size c followed by tail fit? */
static int
sms_fits(const struct sms_count *c, const struct sms_count *tail,
    size_t max_length)
{
	if (c->gsm && tail->gsm && c->septets + tail->septets <=
	    sms_text_limit(SMS_GSM7, max_length))
		return 1;
	return c->units + tail->units <= sms_text_limit(SMS_UCS2, max_length);
}

char *
sms_text_fit(const char *text, const char *suffix, size_t max_length)
{
	struct sms_count whole = { 1, 0, 0 }, tail = { 1, 0, 0 };
	struct sms_count pre = { 1, 0, 0 }, none = { 1, 0, 0 };
	const unsigned char *p;
	char *t, *s, *out;
	size_t n, best = 0;

	t = sms_clean(text);
	s = sms_clean(suffix != NULL ? suffix : "");
	sms_count_text(&whole, t);
	sms_count_text(&whole, s);
	if (sms_fits(&whole, &none, max_length)) {
		out = xasprintf("%s%s", t, s);
		goto done;
	}

	sms_count_text(&tail, SMS_CUT_MARK);
	sms_count_text(&tail, s);
	if (!sms_fits(&pre, &tail, max_length)) {
		/* Not even the suffix fits: it is cut instead. */
		out = *s != '\0' ? sms_text_fit(s, NULL, max_length) :
		    xstrdup("");
		goto done;
	}
	/* The longest prefix that fits, in either encoding: cutting off the
	 * one UCS-2 character may let a longer GSM-7 prefix through. */
	for (p = (const unsigned char *)t; *p != '\0'; p += n) {
		sms_count_add(&pre, sms_utf8_next(p, &n));
		if (sms_fits(&pre, &tail, max_length))
			best = (size_t)(p + n - (const unsigned char *)t);
	}
	while (best > 0 && t[best - 1] == ' ')
		best--;
	out = xasprintf("%.*s%s%s", (int)best, t, SMS_CUT_MARK, s);
done:
	free(t);
	free(s);
	return out;
}

static void
sms_put_field(struct buf *b, const char **sep, const char *label,
    const char *v)
{
	if (v == NULL || *v == '\0')
		return;
	buf_puts(b, *sep);
	buf_puts(b, label);
	buf_puts(b, v);
	*sep = ", ";
}

char *
sms_text_build(const struct alert *a, size_t max_length)
{
	const struct record *r = a->nrecords > 0 ? a->records[0] : NULL;
	char time[TIME_ISO_LEN], *headline, *suffix, *out;
	const char *sep;
	struct buf b;

	buf_init(&b);
	/* No brackets: in GSM-7 each takes two septets. */
	buf_printf(&b, "Sev%d: ", a->severity);
	headline = alert_headline(a);
	buf_puts(&b, headline);
	free(headline);

	if (r != NULL) {
		sep = ". ";
		sms_put_field(&b, &sep, "IP ", r->ip);
		if (r->event_us != 0) {
			time_format_iso8601_sec(r->event_us, time);
			sms_put_field(&b, &sep, "", time);
		}
	}
	sep = ". ";
	sms_put_field(&b, &sep, "Rule ", a->rule);
	sms_put_field(&b, &sep, "tenant ", a->tenant);
	if (r != NULL) {
		sms_put_field(&b, &sep, "", r->location);
		sms_put_field(&b, &sep, "app ", r->app);
	}

	/* The alert id's first 8 hex digits: enough to find it in the
	 * history, and kept whatever else is cut. */
	if (a->id != NULL && strncmp(a->id, "gw-", 3) == 0 &&
	    strlen(a->id) >= 11)
		suffix = xasprintf(" (%.11s)", a->id);
	else
		suffix = xasprintf(" (%.16s)", a->id != NULL ? a->id : "-");
	out = sms_text_fit(buf_cstr(&b), suffix, max_length);
	free(suffix);
	buf_free(&b);
	return out;
}
