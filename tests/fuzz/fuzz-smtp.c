/* libFuzzer harness: the result of an SMTP transaction (notify-email.c).
 * The input is a server reply ("550 5.1.1 <bg@example>: no such user"):
 * its leading digits are the reply code libcurl reports, and the whole
 * text is what libcurl leaves in its error buffer. Each is read with the
 * libcurl codes a transfer can end in, and the classification is checked
 * against its contract: accepted only without a libcurl error, 4xx worth
 * a retry, 5xx final. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"
#include "notify-email-msg.h"

#include "fuzz-common.h"

static const CURLcode codes[] = {
	CURLE_OK, CURLE_LOGIN_DENIED, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
	CURLE_OPERATION_TIMEDOUT, CURLE_COULDNT_CONNECT,
	CURLE_PEER_FAILED_VERIFICATION, CURLE_URL_MALFORMAT,
	CURLE_UNSUPPORTED_PROTOCOL, CURLE_WEIRD_SERVER_REPLY,
	CURLE_USE_SSL_FAILED, CURLE_UPLOAD_FAILED,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet(argc, argv);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char errbuf[CURL_ERROR_SIZE], why[512];
	enum deliver_result res;
	long reply = 0;
	size_t i, n;

	/* libcurl reads at most three digits of a reply code. */
	for (i = 0; i < len && i < 3 && data[i] >= '0' && data[i] <= '9'; i++)
		reply = reply * 10 + (data[i] - '0');
	n = len < sizeof errbuf - 1 ? len : sizeof errbuf - 1;
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		res = email_classify(codes[i], reply);
		if (codes[i] == CURLE_OK && res != DELIVER_OK)
			abort();
		if (codes[i] != CURLE_OK && res == DELIVER_OK)
			abort();
		if (codes[i] != CURLE_OK && reply >= 400 && reply < 500 &&
		    res != DELIVER_RETRY)
			abort();
		if (codes[i] != CURLE_OK && reply >= 500 && reply < 600 &&
		    res != DELIVER_DROP)
			abort();
		memcpy(errbuf, data, n);
		errbuf[n] = '\0';
		email_why(why, sizeof why, "smtps://mail.example:465",
		    codes[i], reply, errbuf);
		if (strlen(why) >= sizeof why)
			abort();
	}
	return 0;
}
