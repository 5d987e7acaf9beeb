/* Signed client assertions for the certificate credential (API-FACTS 1.2):
 * a JWT signed with the app's RSA private key, naming the certificate by
 * its thumbprint. The key is read from its file at each call (so a rotated
 * key is picked up), wiped after use, and never logged. */
#ifndef GW_JWT_H
#define GW_JWT_H

#include <stddef.h>
#include <stdint.h>

enum jwt_alg {
	JWT_PS256,	/* RSASSA-PSS, SHA-256, salt = 32; "x5t#S256" */
	JWT_RS256,	/* RSASSA-PKCS1-v1_5, SHA-256; "x5t" (SHA-1) */
};

#define JWT_LIFETIME	600	/* seconds from nbf to exp */

/* What jwt_check_files found wrong. */
enum jwt_bad {
	JWT_BAD_NONE,
	JWT_BAD_CERT,		/* the certificate file */
	JWT_BAD_KEY,		/* the private key file */
	JWT_BAD_PAIR,		/* both parse, but do not belong together */
};

/*
 * The assertion for one token request: header {alg, typ, x5t#S256 | x5t},
 * claims {aud, iss, sub, jti, nbf, iat, exp} with iss = sub = client_id,
 * nbf = iat = now, exp = now + JWT_LIFETIME. Returns the compact JWT
 * (caller frees), or NULL with why (never naming key material).
 */
char	*jwt_client_assertion(const char *cert_file, const char *key_file,
	    enum jwt_alg, const char *aud, const char *client_id, int64_t now,
	    char *why, size_t whysize);

/* Do the files hold a PEM certificate and an unencrypted RSA private key
 * (2048 bits or more) of the same key pair? */
enum jwt_bad jwt_check_files(const char *cert_file, const char *key_file,
	    char *why, size_t whysize);

/* When the certificate stops being valid (notAfter, seconds since the
 * epoch): 0, or -1 with why. */
int	jwt_cert_not_after(const char *cert_file, int64_t *not_after,
	    char *why, size_t whysize);

/* base64url without padding (RFC 7515 section 2); caller frees. */
char	*jwt_b64url(const void *, size_t);

const char *jwt_alg_name(enum jwt_alg);

#endif
