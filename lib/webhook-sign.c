/*
 * Standard Webhooks signing: HMAC-SHA256 over "id.timestamp.body" with the
 * shared key, sent base64 encoded as "v1,<signature>". The id is the
 * alert id, so a receiver that stores ids drops a retried delivery it has
 * already handled; the timestamp is the attempt's, so it can refuse old
 * replays.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "log.h"
#include "webhook-sign.h"
#include "xmalloc.h"

#define WEBHOOK_KEY_PREFIX	"whsec_"

static int
webhook_b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Strict base64 (with padding): EVP_DecodeBlock alone skips blanks and
 * cannot say how many bytes the padding stood for. */
static int
webhook_b64_decode(const char *s, unsigned char **out, size_t *outlen)
{
	size_t len = strlen(s), pad = 0;
	unsigned char *dec;
	int n;

	if (len == 0 || len % 4 != 0)
		return -1;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (!webhook_b64_char((unsigned char)s[i]))
			return -1;
	dec = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(dec, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n < pad) {
		freezero(dec, len / 4 * 3 + 1);
		return -1;
	}
	*out = dec;
	*outlen = (size_t)n - pad;
	return 0;
}

int
webhook_key_decode(const char *secret, unsigned char **key, size_t *keylen,
    const char **why)
{
	size_t plen = strlen(WEBHOOK_KEY_PREFIX);

	*key = NULL;
	*keylen = 0;
	if (strncmp(secret, WEBHOOK_KEY_PREFIX, plen) == 0) {
		if (webhook_b64_decode(secret + plen, key, keylen) == -1) {
			*why = "a whsec_ key must be followed by base64";
			return -1;
		}
	} else {
		*keylen = strlen(secret);
		*key = (unsigned char *)xstrdup(secret);
	}
	if (*keylen < WEBHOOK_KEY_MIN || *keylen > WEBHOOK_KEY_MAX) {
		freezero(*key, *keylen);
		*key = NULL;
		*keylen = 0;
		*why = "the key must be 16 to 1024 bytes long (a whsec_ key: "
		    "that many bytes once decoded)";
		return -1;
	}
	return 0;
}

char *
webhook_sign(const unsigned char *key, size_t keylen, const char *id,
    int64_t timestamp, const char *body, size_t bodylen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	struct buf msg;
	char *sig;

	buf_init(&msg);
	buf_printf(&msg, "%s.%" PRId64 ".", id, timestamp);
	buf_append(&msg, body, bodylen);
	if (HMAC(EVP_sha256(), key, (int)keylen,
	    (const unsigned char *)msg.data, msg.len, mac, &maclen) == NULL)
		fatalx("HMAC-SHA256 failed");
	buf_free(&msg);
	EVP_EncodeBlock(b64, mac, (int)maclen);
	sig = xasprintf("v1,%s", (const char *)b64);
	return sig;
}
