/* Standard Webhooks signing (standard-webhooks spec v1): a receiver checks
 * that a webhook came from glasswatch and is not a replay. Headers
 * webhook-id (stable across retries), webhook-timestamp (Unix seconds of
 * the attempt) and webhook-signature "v1,<base64 HMAC-SHA256 of
 * id.timestamp.body>". */
#ifndef GW_WEBHOOK_SIGN_H
#define GW_WEBHOOK_SIGN_H

#include <stddef.h>
#include <stdint.h>

/* Shortest key accepted, in bytes: the spec's secrets are 24 to 64. */
#define WEBHOOK_KEY_MIN		16
#define WEBHOOK_KEY_MAX		1024

/* The key a secret file holds: "whsec_" followed by base64 is decoded,
 * anything else is the key's bytes as written. Returns 0 with *key (caller
 * wipes with freezero(*key, *keylen)) or -1 with *why (static text that
 * never repeats the secret). */
int	webhook_key_decode(const char *secret, unsigned char **key,
	    size_t *keylen, const char **why);

/* "v1,<base64>": the signature of id.timestamp.body. Caller frees. */
char	*webhook_sign(const unsigned char *key, size_t keylen, const char *id,
	    int64_t timestamp, const char *body, size_t bodylen);

#endif
