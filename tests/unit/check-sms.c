/* check-sms: the sms notifier's parts: SMS length arithmetic and the page
 * text, the providers' request bodies, the ACS signature against an
 * independent computation, the reading of answers, and the keys. */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "alert.h"
#include "cfgtest.h"
#include "config.h"
#include "http.h"
#include "notifier.h"
#include "notify-http.h"
#include "record.h"
#include "sms-provider.h"
#include "sms-text.h"
#include "xmalloc.h"

/* 2026-11-22T03:49:15Z */
#define T0		(INT64_C(1795319355) * 1000000)
#define ALERT_ID	"gw-0f8fad5b-d9cb-469f-a165-70867728950e"

static struct alert *
sample_alert(void)
{
	struct alert *a = alert_new(ALERT_EVENT);
	struct record *r = record_new();

	free(a->id);
	a->id = xstrdup(ALERT_ID);
	a->created_us = T0 + 86400 * INT64_C(1000000);
	a->rule = xstrdup("break-glass-sign-in");
	a->severity = 0;
	a->tenant = xstrdup("contoso");
	a->account_oid = xstrdup("33333333-3333-3333-3333-333333333333");
	a->account_upn = xstrdup("bg1@contoso.onmicrosoft.com");
	r->signal = SIGNAL_SIGN_IN;
	r->tenant = xstrdup("contoso");
	r->id = xstrdup("rec-1");
	r->event_us = T0;
	r->user_id = xstrdup(a->account_oid);
	r->upn = xstrdup(a->account_upn);
	r->ip = xstrdup("203.0.113.7");
	r->location = xstrdup("Redmond, Washington, US");
	r->app = xstrdup("Azure Portal");
	r->success = 1;
	alert_add_record(a, r);
	return a;
}

static void
size_is(const char *s, enum sms_encoding enc, size_t units, size_t segs)
{
	struct sms_size sz;

	sms_text_size(s, &sz);
	ck_assert_msg(sz.encoding == enc, "'%s': encoding %d", s,
	    (int)sz.encoding);
	ck_assert_msg(sz.units == units, "'%s': %zu units, want %zu", s,
	    sz.units, units);
	ck_assert_msg(sz.segments == segs, "'%s': %zu segments, want %zu", s,
	    sz.segments, segs);
}

static char *
repeat(const char *s, size_t n)
{
	char *out = xcalloc(n, strlen(s) + 1);

	for (size_t i = 0; i < n; i++)
		strcat(out, s);
	return out;
}

/* ---- length ---------------------------------------------------------- */

START_TEST(gsm7_counting)
{
	size_is("", SMS_GSM7, 0, 0);
	size_is("Hello, world!", SMS_GSM7, 13, 1);
	/* @ $ _ are in the basic table (at other code points than ASCII's). */
	size_is("@$_", SMS_GSM7, 3, 1);
	/* The extension table takes two septets each. */
	size_is("{}[]~^|\\", SMS_GSM7, 16, 1);
	size_is("\xe2\x82\xac" "5", SMS_GSM7, 3, 1);		/* €5 */
	/* Accented letters of the default alphabet stay GSM-7. */
	size_is("\xc3\xa9t\xc3\xa9 \xc3\x9c" "ber \xc3\x87" "a",
	    SMS_GSM7, 11, 1);	/* été Über Ça */
	size_is("\xce\x94\xce\xa9", SMS_GSM7, 2, 1);		/* ΔΩ */
	size_is("line\nbreak", SMS_GSM7, 10, 1);
}
END_TEST

START_TEST(ucs2_counting)
{
	/* ç (lower case) and the backtick have no GSM-7 form. */
	size_is("Fran\xc3\xa7ois", SMS_UCS2, 8, 1);
	size_is("a`b", SMS_UCS2, 3, 1);
	/* In UCS-2 an extension character is one unit like any other. */
	size_is("{\xe6\x9d\xb1}", SMS_UCS2, 3, 1);		/* {東} */
	/* Beyond the BMP: a surrogate pair, two units. */
	size_is("ok \xf0\x9f\x94\xa5", SMS_UCS2, 5, 1);
	/* A malformed byte cannot be sent as GSM-7. */
	size_is("a\xff" "b", SMS_UCS2, 3, 1);
}
END_TEST

START_TEST(segments)
{
	static const struct {
		const char		*ch;
		size_t			 n;
		enum sms_encoding	 enc;
		size_t			 units, segs;
	} t[] = {
		{ "a", 160, SMS_GSM7, 160, 1 },
		{ "a", 161, SMS_GSM7, 161, 2 },
		{ "a", 306, SMS_GSM7, 306, 2 },
		{ "a", 307, SMS_GSM7, 307, 3 },
		/* 80 extension characters are 160 septets: one segment. */
		{ "{", 80, SMS_GSM7, 160, 1 },
		{ "\xe6\x9d\xb1", 70, SMS_UCS2, 70, 1 },
		{ "\xe6\x9d\xb1", 71, SMS_UCS2, 71, 2 },
		{ "\xe6\x9d\xb1", 134, SMS_UCS2, 134, 2 },
		{ "\xe6\x9d\xb1", 135, SMS_UCS2, 135, 3 },
	};
	char *s;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		s = repeat(t[i].ch, t[i].n);
		size_is(s, t[i].enc, t[i].units, t[i].segs);
		free(s);
	}
}
END_TEST

START_TEST(limits)
{
	ck_assert_uint_eq(sms_text_limit(SMS_GSM7, 160), 160);
	ck_assert_uint_eq(sms_text_limit(SMS_UCS2, 160), 70);
	ck_assert_uint_eq(sms_text_limit(SMS_UCS2, 306), 134);
	ck_assert_uint_eq(sms_text_limit(SMS_UCS2, 459), 201);
	ck_assert_uint_eq(sms_text_limit(SMS_UCS2, 100), 44);
	ck_assert_uint_eq(sms_text_limit(SMS_UCS2, 1600), 700);
}
END_TEST

/* Fits text + suffix; the result must have this encoding and size and
 * end so. */
static void
fit_is(const char *text, const char *suffix, size_t max_length,
    enum sms_encoding enc, size_t units, const char *end)
{
	struct sms_size sz;
	char *out;

	out = sms_text_fit(text, suffix, max_length);
	sms_text_size(out, &sz);
	ck_assert_msg(sz.encoding == enc && sz.units == units, "'%s': "
	    "encoding %d, %zu units", out, (int)sz.encoding, sz.units);
	ck_assert_uint_le(sz.units, sms_text_limit(enc, max_length));
	ck_assert_msg(strlen(out) >= strlen(end) &&
	    strcmp(out + strlen(out) - strlen(end), end) == 0,
	    "'%s' does not end in '%s'", out, end);
	free(out);
}

START_TEST(fit_and_cut)
{
	char *s, *t;

	/* Fits: unchanged, control characters become spaces. */
	s = sms_text_fit("a\tb\r\nc", " [id]", 160);
	ck_assert_str_eq(s, "a b  c [id]");
	free(s);

	/* Cut to 160 septets, the suffix kept whole. */
	s = repeat("abcd ", 60);
	fit_is(s, " (gw-12345678)", 160, SMS_GSM7, 160,
	    "abcd abc... (gw-12345678)");
	/* Brackets are extension characters: two septets each. */
	fit_is(s, " [gw-12345678]", 160, SMS_GSM7, 160,
	    "abcd a... [gw-12345678]");
	free(s);

	/* An extension character is never split: 78 of them (156) and the
	 * cut mark (3) leave one septet unused. */
	s = repeat("{", 100);
	fit_is(s, "", 160, SMS_GSM7, 159, "{{...");
	free(s);

	/* One non-GSM character near the end: the text that fits in GSM-7
	 * is longer than what UCS-2 would carry, so it is cut before it. */
	s = repeat("a", 200);
	t = xasprintf("%s\xe6\x9d\xb1", s);
	fit_is(t, " [x]", 160, SMS_GSM7, 160, "aa... [x]");
	free(t);
	free(s);

	/* All UCS-2: 70 units. */
	s = repeat("\xe6\x9d\xb1", 100);
	fit_is(s, " [x]", 160, SMS_UCS2, 70, "\xe6\x9d\xb1... [x]");
	free(s);

	/* Two segments allowed: 306 septets. */
	s = repeat("word ", 100);
	fit_is(s, "", 306, SMS_GSM7, 306, "word wor...");
	free(s);
}
END_TEST

#define HEADLINE	"Sev0: Break-glass account "			\
	"bg1@contoso.onmicrosoft.com signed in. IP 203.0.113.7, "	\
	"2026-11-22T03:49:15Z. Rule "

START_TEST(page_text)
{
	struct alert *a = sample_alert();
	struct sms_size sz;
	char *out;

	out = sms_text_build(a, 400);
	ck_assert_str_eq(out, "Sev0: Break-glass account "
	    "bg1@contoso.onmicrosoft.com signed in. IP 203.0.113.7, "
	    "2026-11-22T03:49:15Z. Rule break-glass-sign-in, tenant contoso, "
	    "Redmond, Washington, US, app Azure Portal (gw-0f8fad5b)");
	free(out);

	/* One SMS: the essentials first, the alert id kept. */
	out = sms_text_build(a, 160);
	sms_text_size(out, &sz);
	ck_assert_uint_le(sz.units, 160);
	ck_assert_uint_eq(sz.segments, 1);
	ck_assert_msg(strncmp(out, HEADLINE, strlen(HEADLINE)) == 0, "%s",
	    out);
	ck_assert_str_eq(out + strlen(out) - 17, "... (gw-0f8fad5b)");
	free(out);

	/* A location in another script makes it UCS-2: 70 units. */
	free(a->records[0]->location);
	a->records[0]->location = xstrdup("\xe6\x9d\xb1\xe4\xba\xac");
	out = sms_text_build(a, 160);
	sms_text_size(out, &sz);
	ck_assert_int_eq(sz.encoding, SMS_GSM7);	/* cut before it */
	ck_assert_uint_le(sz.units, 160);
	free(out);
	free(a->account_upn);
	a->account_upn = xstrdup("\xe6\x9d\xb1@contoso.example");
	out = sms_text_build(a, 160);
	sms_text_size(out, &sz);
	ck_assert_int_eq(sz.encoding, SMS_UCS2);
	ck_assert_uint_le(sz.units, 70);
	ck_assert_str_eq(out + strlen(out) - 17, "... (gw-0f8fad5b)");
	free(out);

	/* Attackers' control characters never reach the message. */
	free(a->records[0]->ip);
	a->records[0]->ip = xstrdup("1.2.3.4\r\nSTOP");
	out = sms_text_build(a, 400);
	ck_assert_ptr_null(strchr(out, '\r'));
	ck_assert_ptr_null(strchr(out, '\n'));
	free(out);
	alert_free(a);
}
END_TEST

START_TEST(numbers)
{
	ck_assert(sms_e164_valid("+15005550006"));
	ck_assert(sms_e164_valid("+447700900123"));
	ck_assert(!sms_e164_valid("15005550006"));
	ck_assert(!sms_e164_valid("+0123456"));
	ck_assert(!sms_e164_valid("+1 500 555 0006"));
	ck_assert(!sms_e164_valid("+1234567890123456"));	/* 16 digits */
	ck_assert(!sms_e164_valid("+1"));
	ck_assert(sms_sender_id_valid("Glasswatch"));
	ck_assert(sms_sender_id_valid("SOC 24x7"));
	ck_assert(!sms_sender_id_valid("123456"));
	ck_assert(!sms_sender_id_valid("TooLongSenderId"));
	ck_assert(!sms_sender_id_valid("SOC-24x7"));
}
END_TEST

/* ---- twilio ---------------------------------------------------------- */

START_TEST(twilio_form)
{
	char *f;

	f = sms_twilio_form("+15005550009", "+15005550006", NULL,
	    "[Sev0] a&b = 100% caf\xc3\xa9");
	ck_assert_str_eq(f, "To=%2B15005550009&From=%2B15005550006&Body="
	    "%5BSev0%5D%20a%26b%20%3D%20100%25%20caf%C3%A9");
	free(f);
	f = sms_twilio_form("+15005550009", NULL,
	    "MG00000000000000000000000000000000", "x");
	ck_assert_str_eq(f, "To=%2B15005550009&MessagingServiceSid="
	    "MG00000000000000000000000000000000&Body=x");
	free(f);
}
END_TEST

static enum deliver_result
judge(notify_http_judge fn, long status, const char *body, int64_t ra,
    struct delivery *d, char **why)
{
	struct http_response r = { 0 };

	memset(d, 0, sizeof *d);
	d->recipient = (char *)"+15005550009";
	d->retry_after = -7;
	r.status = status;
	r.body = body;
	r.body_len = strlen(body);
	r.retry_after = ra;
	r.error = status == 0 ? "Couldn't connect to server" : NULL;
	*why = NULL;
	return fn(d, &r, "https://api.twilio.example", why);
}

START_TEST(twilio_answers)
{
	struct delivery d;
	char *why;

	ck_assert_int_eq(judge(sms_twilio_judge, 201, "{\"sid\": "
	    "\"SM0123\", \"status\": \"queued\"}", -1, &d, &why), DELIVER_OK);
	ck_assert_ptr_nonnull(strstr(why, "SM0123"));
	free(why);

	ck_assert_int_eq(judge(sms_twilio_judge, 400, "{\"code\": 21211, "
	    "\"message\": \"The 'To' number +1500 is not a valid phone "
	    "number.\", \"status\": 400}", -1, &d, &why), DELIVER_DROP);
	ck_assert_msg(strstr(why, "Twilio error 21211 (invalid To number)")
	    != NULL, "%s", why);
	ck_assert_int_eq(d.retry_after, -1);
	free(why);

	ck_assert_int_eq(judge(sms_twilio_judge, 400, "{\"code\": 21610, "
	    "\"message\": \"unsubscribed\"}", -1, &d, &why), DELIVER_DROP);
	free(why);

	/* Too many requests: retried when the server says. */
	ck_assert_int_eq(judge(sms_twilio_judge, 429, "{\"code\": 20429, "
	    "\"message\": \"Too Many Requests\"}", 7, &d, &why),
	    DELIVER_RETRY);
	ck_assert_int_eq(d.retry_after, 7);
	free(why);

	/* A full queue is a 400 Twilio asks to try again later. */
	ck_assert_int_eq(judge(sms_twilio_judge, 400, "{\"code\": 21611}",
	    -1, &d, &why), DELIVER_RETRY);
	free(why);

	/* Wrong credentials do not fix themselves. */
	ck_assert_int_eq(judge(sms_twilio_judge, 401, "{\"code\": 20003, "
	    "\"message\": \"Authenticate\"}", -1, &d, &why), DELIVER_DROP);
	free(why);

	/* Unknown code: the status decides. */
	ck_assert_int_eq(judge(sms_twilio_judge, 503, "{\"code\": 99999}",
	    3, &d, &why), DELIVER_RETRY);
	ck_assert_int_eq(d.retry_after, 3);
	free(why);
	ck_assert_int_eq(judge(sms_twilio_judge, 500, "<html>oops</html>",
	    -1, &d, &why), DELIVER_RETRY);
	free(why);
	ck_assert_int_eq(judge(sms_twilio_judge, 404, "{\"code\": 20404}",
	    -1, &d, &why), DELIVER_DROP);
	free(why);
	ck_assert_int_eq(judge(sms_twilio_judge, 0, "", -1, &d, &why),
	    DELIVER_RETRY);
	ck_assert_ptr_nonnull(strstr(why, "Couldn't connect"));
	free(why);
	/* Control characters of the answer stay out of the log line. */
	ck_assert_int_eq(judge(sms_twilio_judge, 400, "{\"code\": 21211, "
	    "\"message\": \"a\\nb\"}", -1, &d, &why), DELIVER_DROP);
	ck_assert_ptr_null(strchr(why, '\n'));
	free(why);
}
END_TEST

/* ---- acs ------------------------------------------------------------- */

START_TEST(acs_repeatability)
{
	char *id, *again, *other;

	/* Python: uuid.uuid5(UUID("1d10de0d-b872-41f4-8c9b-483822882466"),
	 * "gw-0f8fad5b-d9cb-469f-a165-70867728950e/+15005550009") */
	id = sms_acs_repeatability_id(ALERT_ID, "+15005550009");
	ck_assert_str_eq(id, "bb44dd46-27fe-5f6d-8524-9603553394f5");
	again = sms_acs_repeatability_id(ALERT_ID, "+15005550009");
	ck_assert_str_eq(id, again);
	other = sms_acs_repeatability_id(ALERT_ID, "+15005550010");
	ck_assert_str_ne(id, other);
	free(id);
	free(again);
	free(other);
}
END_TEST

START_TEST(acs_body)
{
	char *body, date[64];
	json_t *root, *r;

	sms_acs_date(INT64_C(1795405755) * 1000000, date, sizeof date);
	ck_assert_str_eq(date, "Mon, 23 Nov 2026 03:49:15 GMT");

	body = sms_acs_body("+15005550006", "+15005550009", "caf\xc3\xa9 \"x\"",
	    ALERT_ID, INT64_C(1795405755) * 1000000);
	root = json_loads(body, 0, NULL);
	ck_assert_ptr_nonnull(root);
	ck_assert_str_eq(json_string_value(json_object_get(root, "from")),
	    "+15005550006");
	ck_assert_str_eq(json_string_value(json_object_get(root, "message")),
	    "caf\xc3\xa9 \"x\"");
	ck_assert_uint_eq(json_array_size(json_object_get(root,
	    "smsRecipients")), 1);
	r = json_array_get(json_object_get(root, "smsRecipients"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(r, "to")),
	    "+15005550009");
	ck_assert_str_eq(json_string_value(json_object_get(r,
	    "repeatabilityRequestId")),
	    "bb44dd46-27fe-5f6d-8524-9603553394f5");
	ck_assert_str_eq(json_string_value(json_object_get(r,
	    "repeatabilityFirstSent")), "Mon, 23 Nov 2026 03:49:15 GMT");
	ck_assert(json_is_false(json_object_get(json_object_get(root,
	    "smsSendOptions"), "enableDeliveryReport")));
	json_decref(root);
	free(body);
}
END_TEST

#define ACS_KEY		"Z2xhc3N3YXRjaCB0ZXN0IGFjY2VzcyBrZXkgMDEyMzQ1Njc4OQ=="
#define ACS_KEY_RAW	"glasswatch test access key 0123456789"
#define ACS_BODY	"{\"from\":\"+15005550006\",\"message\":\"hi\"}"
#define ACS_PQ		"/sms?api-version=2021-03-07"
#define ACS_HOST	"contoso.communication.azure.com"
#define ACS_DATE	"Mon, 23 Nov 2026 03:49:15 GMT"

START_TEST(acs_signature)
{
	unsigned char digest[SHA256_DIGEST_LENGTH], mac[EVP_MAX_MD_SIZE];
	unsigned char b64[128];
	unsigned int maclen = 0;
	char *hash = NULL, *auth = NULL, *err = NULL, *sts, *want;

	ck_assert_int_eq(sms_acs_sign(ACS_KEY, "POST", ACS_PQ, ACS_HOST,
	    ACS_DATE, ACS_BODY, strlen(ACS_BODY), &hash, &auth, &err), 0);

	/* The same, computed here from the documented recipe. */
	SHA256((const unsigned char *)ACS_BODY, strlen(ACS_BODY), digest);
	EVP_EncodeBlock(b64, digest, sizeof digest);
	ck_assert_str_eq(hash, (char *)b64);
	sts = xasprintf("POST\n%s\n%s;%s;%s", ACS_PQ, ACS_DATE, ACS_HOST,
	    (char *)b64);
	HMAC(EVP_sha256(), ACS_KEY_RAW, (int)strlen(ACS_KEY_RAW),
	    (unsigned char *)sts, strlen(sts), mac, &maclen);
	EVP_EncodeBlock(b64, mac, (int)maclen);
	want = xasprintf("HMAC-SHA256 SignedHeaders=x-ms-date;host;"
	    "x-ms-content-sha256&Signature=%s", (char *)b64);
	ck_assert_str_eq(auth, want);

	/* And Python's hmac module, for a fixed vector. */
	ck_assert_str_eq(hash, "YArwPnZ2oo3X54oQTz4AHxdSUJuEY6c8v69Uf7QbNo4=");
	ck_assert_str_eq(auth, "HMAC-SHA256 SignedHeaders=x-ms-date;host;"
	    "x-ms-content-sha256&Signature="
	    "0DGBKz9/RiE0SXfh5EJhcQRaAiIII4LFNzv/6V0IPok=");
	free(sts);
	free(want);
	free(hash);
	free(auth);

	/* A key that is not base64 is refused, not used. */
	hash = auth = NULL;
	ck_assert_int_eq(sms_acs_sign("not base64!", "POST", ACS_PQ,
	    ACS_HOST, ACS_DATE, ACS_BODY, strlen(ACS_BODY), &hash, &auth,
	    &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_null(auth);
	free(err);
}
END_TEST

START_TEST(base64_decoding)
{
	unsigned char *p;
	size_t len = 0;

	p = sms_base64_decode("YQ==", &len);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(p[0], 'a');
	freezero(p, 4);
	p = sms_base64_decode("YWI=", &len);
	ck_assert_uint_eq(len, 2);
	freezero(p, 4);
	ck_assert_ptr_null(sms_base64_decode("YQ=", &len));
	ck_assert_ptr_null(sms_base64_decode("Y=Q=", &len));
	ck_assert_ptr_null(sms_base64_decode("", &len));
	ck_assert_ptr_null(sms_base64_decode("YW\nI=", &len));
}
END_TEST

START_TEST(acs_answers)
{
	struct delivery d;
	char *why;

	ck_assert_int_eq(judge(sms_acs_judge, 202, "{\"value\": [{\"to\": "
	    "\"+15005550009\", \"messageId\": \"Outgoing_1\", "
	    "\"httpStatusCode\": 202, \"repeatabilityResult\": \"accepted\", "
	    "\"successful\": true}]}", -1, &d, &why), DELIVER_OK);
	ck_assert_ptr_nonnull(strstr(why, "Outgoing_1"));
	free(why);

	/* Our number's own result decides, not the request's 202. */
	ck_assert_int_eq(judge(sms_acs_judge, 202, "{\"value\": [{\"to\": "
	    "\"+15005550010\", \"successful\": true}, {\"to\": "
	    "\"+15005550009\", \"httpStatusCode\": 400, \"successful\": "
	    "false, \"errorMessage\": \"Invalid To phone number format.\"}]}",
	    -1, &d, &why), DELIVER_DROP);
	ck_assert_ptr_nonnull(strstr(why, "Invalid To phone number"));
	free(why);
	ck_assert_int_eq(judge(sms_acs_judge, 202, "{\"value\": [{\"to\": "
	    "\"+15005550009\", \"httpStatusCode\": 503, \"successful\": "
	    "false}]}", 4, &d, &why), DELIVER_RETRY);
	ck_assert_int_eq(d.retry_after, 4);
	free(why);
	ck_assert_int_eq(judge(sms_acs_judge, 202, "{\"value\": [{\"to\": "
	    "\"+15005550009\", \"httpStatusCode\": 429, \"successful\": "
	    "false}]}", -1, &d, &why), DELIVER_RETRY);
	free(why);
	/* No result for us: a retry is safe (repeatable). */
	ck_assert_int_eq(judge(sms_acs_judge, 202, "{}", -1, &d, &why),
	    DELIVER_RETRY);
	free(why);

	ck_assert_int_eq(judge(sms_acs_judge, 401, "{\"error\": {\"code\": "
	    "\"Denied\", \"message\": \"Denied by the resource provider.\"}}",
	    -1, &d, &why), DELIVER_DROP);
	ck_assert_ptr_nonnull(strstr(why, "ACS error Denied"));
	free(why);
	ck_assert_int_eq(judge(sms_acs_judge, 429, "", 9, &d, &why),
	    DELIVER_RETRY);
	ck_assert_int_eq(d.retry_after, 9);
	free(why);
}
END_TEST

/* ---- configuration and the gateway ----------------------------------- */

/* 14 lines; notifiers start on line 15. */
#define HEAD								\
	CFGTEST_TENANT							\
	"rules:\n"							\
	"  - { name: bg, threshold: { operator: gt, value: 0 }, "	\
	"actions: [pager] }\n"						\
	"notifiers:\n"

static struct config *
load(const char *notifier)
{
	char *text = xasprintf("%s%s", HEAD, notifier);
	struct config *c = load_yaml(text);

	free(text);
	return c;
}

START_TEST(config_good)
{
	struct config *c;
	const struct sms_conf *s;
	struct strlist to = { 0 };

	c = load("  - name: pager\n"
	    "    type: sms\n"
	    "    provider: twilio\n"
	    "    account_sid: AC0123456789abcdef0123456789abcdef\n"
	    "    auth_token_file: ${CREDENTIALS_DIRECTORY}/secret\n"
	    "    from: \"+15005550006\"\n"
	    "    to: [\"+15005550009\", \"+15005550010\", \"+15005550009\"]\n");
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "");
	ck_assert_ptr_eq(c->notifiers[0].ops, &notify_sms_ops);
	s = c->notifiers[0].conf;
	ck_assert_int_eq(s->provider, SMS_TWILIO);
	ck_assert_int_eq(s->max_length, 160);
	ck_assert_str_eq(s->api_url, "https://api.twilio.com");
	/* One delivery per number, each number once. */
	notify_sms_ops.recipients(s, &to);
	ck_assert_uint_eq(to.n, 2);
	ck_assert_str_eq(to.v[0], "+15005550009");
	ck_assert_str_eq(to.v[1], "+15005550010");
	strlist_clear(&to);
	config_free(c);

	c = load("  - name: pager\n"
	    "    type: sms\n"
	    "    provider: acs\n"
	    "    endpoint: https://contoso.communication.azure.com\n"
	    "    access_key_file: ${CREDENTIALS_DIRECTORY}/secret\n"
	    "    from: Glasswatch\n"
	    "    to: [\"+15005550009\"]\n"
	    "    max_length: 306\n");
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "");
	s = c->notifiers[0].conf;
	ck_assert_int_eq(s->provider, SMS_ACS);
	ck_assert_int_eq(s->max_length, 306);
	config_free(c);
}
END_TEST

START_TEST(config_errors)
{
	/* No to, both senders. */
	ck_assert_ptr_null(load("  - name: pager\n"
	    "    type: sms\n"
	    "    provider: twilio\n"
	    "    account_sid: AC0123456789abcdef0123456789abcdef\n"
	    "    auth_token_file: ${CREDENTIALS_DIRECTORY}/secret\n"
	    "    from: \"+15005550006\"\n"
	    "    messaging_service_sid: MG0123456789abcdef0123456789abcdef\n"));
	expect_error(15, 5, "missing key 'to'");
	expect_error(21, 5, "messaging_service_sid: give either from or "
	    "messaging_service_sid, not both");
	ck_assert_uint_eq(errs.n, 2);

	/* Unknown provider. */
	ck_assert_ptr_null(load("  - name: pager\n"
	    "    type: sms\n"
	    "    provider: pigeon\n"
	    "    to: [\"+15005550009\"]\n"));
	expect_error(17, 15, "provider: 'pigeon' is not one of twilio, acs, "
	    "http");
	ck_assert_uint_eq(errs.n, 1);

	/* Bad numbers and SIDs; a key of another provider; an open secret. */
	ck_assert_ptr_null(load("  - name: pager\n"
	    "    type: sms\n"
	    "    provider: twilio\n"
	    "    account_sid: AC123\n"
	    "    auth_token_file: ${CREDENTIALS_DIRECTORY}/open-secret\n"
	    "    from: \"+1-500\"\n"
	    "    to: [\"+15005550009\", \"5550009\"]\n"
	    "    access_key_file: ${CREDENTIALS_DIRECTORY}/secret\n"
	    "    max_length: 20\n"));
	expect_error(18, 18, "account_sid: not a Twilio account SID (AC and "
	    "32 hexadecimal digits)");
	expect_error(20, 11, "from: '+1-500' is neither an E.164 number nor "
	    "an alphanumeric sender ID (up to 11 letters, digits and "
	    "spaces)");
	expect_error(21, 26, "to: '5550009' is not an E.164 number (+ and "
	    "the country code, then 2 to 15 digits in all, no spaces)");
	expect_error(22, 5, "access_key_file: only with provider: acs (this "
	    "is provider: twilio)");
	expect_error(23, 17, "max_length: must be 40 to 1600 (GSM-7 "
	    "characters; 160 is one SMS)");
	ck_assert_uint_eq(errs.n, 6);	/* and the open secret */

	/* acs: what it needs. */
	ck_assert_ptr_null(load("  - name: pager\n"
	    "    type: sms\n"
	    "    provider: acs\n"
	    "    to: [\"+15005550009\"]\n"
	    "    messaging_service_sid: MG0123456789abcdef0123456789abcdef\n"));
	expect_error(15, 5, "missing key 'endpoint' (provider: acs)");
	expect_error(15, 5, "missing key 'access_key_file' (provider: acs)");
	expect_error(15, 5, "missing key 'from' (provider: acs)");
	expect_error(19, 5, "messaging_service_sid: only with provider: "
	    "twilio (this is provider: acs)");
	ck_assert_uint_eq(errs.n, 4);

	/* http: one body, templates that compile, GET with form only. */
	ck_assert_ptr_null(load("  - name: pager\n"
	    "    type: sms\n"
	    "    provider: http\n"
	    "    url: https://sms.example/send\n"
	    "    method: GET\n"
	    "    to: [\"+15005550009\"]\n"
	    "    json: { to: \"{to}\", text: \"{message} {nope}\" }\n"
	    "    form: { a: b }\n"
	    "    headers: { \"Bad Name\": x, Host: y }\n"
	    "    auth_header: X-Api-Key\n"));
	expect_error(21, 42, "json: text: unknown placeholder '{nope}'");
	expect_error(21, 5, "json: give either form or json, not both");
	expect_error(19, 13, "method: GET sends form fields in the query; "
	    "json needs POST or PUT");
	expect_error(23, 16, "headers: 'Bad Name' is not a header name");
	expect_error(23, 31, "headers: Host is set by glasswatch");
	expect_error(24, 18, "auth_header: needs auth_token_file");
	ck_assert_uint_eq(errs.n, 6);

	ck_assert_ptr_null(load("  - name: pager\n"
	    "    type: sms\n"
	    "    provider: http\n"
	    "    to: [\"+15005550009\"]\n"
	    "    form: { text: [a] }\n"));
	expect_error(15, 5, "missing key 'url' (provider: http)");
	expect_error(19, 19, "form: text: expected a text (a template), "
	    "found a list");
	ck_assert_uint_eq(errs.n, 2);
}
END_TEST

START_TEST(gateway_requests)
{
	struct config *c;
	const struct sms_conf *s;
	struct alert *a = sample_alert();
	const char *ctype = NULL;
	char *body, **h;

	c = load("  - name: pager\n"
	    "    type: sms\n"
	    "    provider: http\n"
	    "    url: https://sms.example/send\n"
	    "    to: [\"+15005550009\"]\n"
	    "    headers: { X-Idempotency-Key: \"{alert_id}-{to}\" }\n"
	    "    form: { phone: \"{to}\", text: \"{message}\", "
	    "note: \"{{to}} {rule}/{sev}\" }\n");
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "");
	s = c->notifiers[0].conf;
	body = sms_gateway_body(s, a, "+15005550009", "Sev0 & more", &ctype);
	ck_assert_str_eq(ctype, "application/x-www-form-urlencoded");
	ck_assert_str_eq(body, "phone=%2B15005550009&text=Sev0%20%26%20more"
	    "&note=%7Bto%7D%20break-glass-sign-in%2FSev0");
	free(body);
	h = sms_gateway_headers(s, a, "+15005550009", "x");
	ck_assert_str_eq(h[0], "X-Idempotency-Key: " ALERT_ID
	    "-+15005550009");
	ck_assert_ptr_null(h[1]);
	free(h[0]);
	free(h);
	config_free(c);

	c = load("  - name: pager\n"
	    "    type: sms\n"
	    "    provider: http\n"
	    "    url: https://sms.example/send\n"
	    "    to: [\"+15005550009\"]\n"
	    "    json:\n"
	    "      messages:\n"
	    "        - destinations: [\"{to}\"]\n"
	    "          text: \"{message}\"\n"
	    "      ref: \"{alert_id}\"\n");
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "");
	s = c->notifiers[0].conf;
	/* Built by jansson: an attacker's quote stays inside its string. */
	body = sms_gateway_body(s, a, "+15005550009", "a \"b\"\n", &ctype);
	ck_assert_str_eq(ctype, "application/json");
	ck_assert_str_eq(body, "{\"messages\":[{\"destinations\":"
	    "[\"+15005550009\"],\"text\":\"a \\\"b\\\"\\n\"}],\"ref\":\""
	    ALERT_ID "\"}");
	free(body);
	config_free(c);
	alert_free(a);
}
END_TEST

static Suite *
sms_suite(void)
{
	Suite *s = suite_create("sms");
	TCase *tc;

	tc = tcase_create("length");
	tcase_add_test(tc, gsm7_counting);
	tcase_add_test(tc, ucs2_counting);
	tcase_add_test(tc, segments);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, fit_and_cut);
	tcase_add_test(tc, page_text);
	tcase_add_test(tc, numbers);
	suite_add_tcase(s, tc);

	tc = tcase_create("providers");
	tcase_add_test(tc, twilio_form);
	tcase_add_test(tc, twilio_answers);
	tcase_add_test(tc, acs_repeatability);
	tcase_add_test(tc, acs_body);
	tcase_add_test(tc, acs_signature);
	tcase_add_test(tc, base64_decoding);
	tcase_add_test(tc, acs_answers);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, cfgtest_setup, cfgtest_teardown);
	tcase_add_test(tc, config_good);
	tcase_add_test(tc, config_errors);
	tcase_add_test(tc, gateway_requests);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sms_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
