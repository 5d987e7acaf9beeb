/* Private to auth.c and its fuzz harness (tests/fuzz/fuzz-answer.c): the
 * reading of a token endpoint's answer, apart from the token cache. */
#ifndef GW_AUTH_ANSWER_H
#define GW_AUTH_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "http.h"

/* Where an auth_error's strings live. */
struct auth_errbuf {
	char	error[64];
	char	description[512];
};

/* A failed token request (no answer, or not a 200): the OAuth error, the
 * first AADSTS code, the first line of the description, and whether a
 * retry can help (IMDS has its own rules). */
void	auth_answer_error(int managed_identity, const struct http_response *,
	    struct auth_error *, struct auth_errbuf *);

/* A 200 answer: 0 with *token (caller wipes with freezero_str) and
 * *expires_in (seconds, capped at a day), or -1 with why. */
int	auth_answer_token(const struct http_response *, char **token,
	    int64_t *expires_in, char *why, size_t whysize);

#endif
