/* libFuzzer harness: every reading of an HTTP answer. The input is
 *	STATUS\n RETRY-AFTER\n CONTENT-TYPE\n BODY
 * (a missing line is empty; STATUS empty or 0: no answer). The answer
 * goes through the common notifier classification (webhooks, the generic
 * SMS gateway), the Twilio and ACS judges, the token endpoint's error and
 * token readers (client credentials and managed identity), the service
 * error reader of the pollers, and the Retry-After parser. Each result is
 * checked against the contract that a 2xx alone is delivered by the
 * common reading. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth-answer.h"
#include "http-internal.h"
#include "http.h"
#include "log.h"
#include "notifier.h"
#include "notify-http.h"
#include "service-error.h"
#include "sms-provider.h"
#include "xmalloc.h"

#include "fuzz-common.h"

#define ORIGIN	"https://hooks.example:443"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet(argc, argv);
	return 0;
}

/* The next line of the input (without its LF), or what is left. */
static char *
fuzz_line(const char **p, const char *end)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	char *line;

	if (nl == NULL)
		nl = end;
	line = xstrndup(*p, (size_t)(nl - *p));
	*p = nl < end ? nl + 1 : end;
	return line;
}

static void
fuzz_judge(notify_http_judge judge, const struct http_response *r)
{
	struct delivery d;
	enum deliver_result res;
	char *why = NULL;

	memset(&d, 0, sizeof d);
	d.alert_id = "gw-6f1d2c3b-4a59-4e7d-8c21-0b9a8f7e6d5c";
	d.notifier_name = "pager";
	d.recipient = "+15551234567";
	d.retry_after = -2;
	res = judge(&d, r, ORIGIN, &why);
	if (why == NULL || d.retry_after < -1)
		abort();
	if (judge == notify_http_classify &&
	    (res == DELIVER_OK) != (r->status >= 200 && r->status < 300))
		abort();
	free(why);
}

static void
fuzz_auth(const struct http_response *r)
{
	struct auth_error err;
	struct auth_errbuf eb;
	char why[256], *token = NULL;
	int64_t expires_in = 0;

	for (int mi = 0; mi <= 1; mi++) {
		auth_answer_error(mi, r, &err, &eb);
		if (err.error == NULL || err.description == NULL)
			abort();
		if (err.http_status == 429 && err.permanent)
			abort();
	}
	if (auth_answer_token(r, &token, &expires_in, why, sizeof why) == 0) {
		if (expires_in <= 0 || expires_in > 86400 || *token == '\0')
			abort();
		freezero_str(token);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *p = (const char *)data, *end = p + len;
	char *status, *retry, *ctype, *body, summary[512];
	struct http_response r;
	size_t blen;

	status = fuzz_line(&p, end);
	retry = fuzz_line(&p, end);
	ctype = fuzz_line(&p, end);
	blen = (size_t)(end - p);
	body = fuzz_cstr((const uint8_t *)p, blen);

	memset(&r, 0, sizeof r);
	r.status = strtol(status, NULL, 10);
	if (r.status < 0 || r.status > 999)
		r.status = 0;
	if (r.status == 0) {
		r.curl_code = CURLE_COULDNT_CONNECT;
		r.error = "Failed to connect to hooks.example port 443";
	}
	r.body = body;
	r.body_len = blen;
	r.content_type = *ctype != '\0' ? ctype : NULL;
	r.retry_after = http_parse_retry_after(retry);
	if (r.retry_after < -1 || r.retry_after > 7 * 86400)
		abort();

	fuzz_judge(notify_http_classify, &r);
	fuzz_judge(sms_twilio_judge, &r);
	fuzz_judge(sms_acs_judge, &r);
	fuzz_auth(&r);
	service_error_summary(body, blen, summary, sizeof summary);
	(void)service_error_token_refused(body, blen);

	free(status);
	free(retry);
	free(ctype);
	free(body);
	return 0;
}
