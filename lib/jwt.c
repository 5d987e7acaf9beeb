/*
 * Client assertions (API-FACTS 1.2): a compact JWS over a JSON header and
 * claims built with jansson, signed with EVP_DigestSign. PS256 (the
 * documented default) uses PSS padding with a salt as long as the digest;
 * RS256 uses PKCS#1 v1.5. The certificate is named by x5t#S256
 * (SHA-256 of its DER form) or, for RS256, x5t (SHA-1).
 *
 * The private key file is read into a buffer that is wiped before it is
 * freed; the parsed key is freed at once after signing. Nothing here logs.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "guid.h"
#include "jwt.h"
#include "xmalloc.h"

#define JWT_MAX_FILE	(64 * 1024)
#define JWT_MIN_BITS	2048

const char *
jwt_alg_name(enum jwt_alg alg)
{
	return alg == JWT_RS256 ? "RS256" : "PS256";
}

char *
jwt_b64url(const void *data, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char	*p = data;
	char			*out, *o;
	size_t			 i;
	unsigned long		 v;

	out = o = xmalloc(len / 3 * 4 + 5);
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 |
		    p[i + 2];
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = abc[v >> 6 & 63];
		*o++ = abc[v & 63];
	}
	if (len - i == 1) {
		v = (unsigned long)p[i] << 16;
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8;
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = abc[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

/* Never ask a terminal for a pass phrase: an encrypted key is an error. */
static int
jwt_no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static X509 *
jwt_load_cert(const char *path, char *why, size_t whysize)
{
	BIO	*bio;
	X509	*x;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		snprintf(why, whysize, "cannot read %s: %s", path,
		    strerror(errno != 0 ? errno : EIO));
		ERR_clear_error();
		return NULL;
	}
	x = PEM_read_bio_X509(bio, NULL, jwt_no_passphrase_cb, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (x == NULL)
		snprintf(why, whysize, "%s holds no PEM certificate", path);
	return x;
}

/* Reads the key file into a wiped-after-use buffer and parses it. */
static EVP_PKEY *
jwt_load_key(const char *path, char *why, size_t whysize)
{
	EVP_PKEY	*pkey = NULL;
	BIO		*bio;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(why, whysize, "cannot read %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	buf = xmalloc(JWT_MAX_FILE + 1);
	while (len <= JWT_MAX_FILE) {
		n = read(fd, buf + len, JWT_MAX_FILE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (n == -1)
		snprintf(why, whysize, "cannot read %s: %s", path,
		    strerror(errno));
	close(fd);
	if (n == -1)
		goto out;
	if (len > JWT_MAX_FILE) {
		snprintf(why, whysize, "%s is larger than %d bytes", path,
		    JWT_MAX_FILE);
		goto out;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto out;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, jwt_no_passphrase_cb, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (pkey == NULL) {
		snprintf(why, whysize, "%s holds no unencrypted PEM private "
		    "key", path);
		goto out;
	}
	if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
		snprintf(why, whysize, "%s: the private key is not an RSA "
		    "key (PS256 and RS256 need one)", path);
		EVP_PKEY_free(pkey);
		pkey = NULL;
	} else if (EVP_PKEY_bits(pkey) < JWT_MIN_BITS) {
		snprintf(why, whysize, "%s: the RSA key has %d bits; Entra "
		    "needs at least %d", path, EVP_PKEY_bits(pkey),
		    JWT_MIN_BITS);
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	freezero(buf, JWT_MAX_FILE + 1);
	return pkey;
}

static int
jwt_pair_matches(X509 *x, EVP_PKEY *pkey)
{
	int	ok;

	ok = X509_check_private_key(x, pkey) == 1;
	ERR_clear_error();
	return ok;
}

enum jwt_bad
jwt_check_files(const char *cert_file, const char *key_file, char *why,
    size_t whysize)
{
	X509		*x;
	EVP_PKEY	*pkey;
	enum jwt_bad	 bad = JWT_BAD_NONE;

	if ((x = jwt_load_cert(cert_file, why, whysize)) == NULL)
		return JWT_BAD_CERT;
	if ((pkey = jwt_load_key(key_file, why, whysize)) == NULL)
		bad = JWT_BAD_KEY;
	else if (!jwt_pair_matches(x, pkey)) {
		snprintf(why, whysize, "the private key in %s does not belong "
		    "to the certificate in %s", key_file, cert_file);
		bad = JWT_BAD_PAIR;
	}
	EVP_PKEY_free(pkey);
	X509_free(x);
	return bad;
}

/* b64url(digest(DER certificate)). */
static char *
jwt_thumbprint(X509 *x, const EVP_MD *md)
{
	unsigned char	*der = NULL, dig[EVP_MAX_MD_SIZE];
	unsigned int	 diglen = 0;
	int		 len;
	char		*out = NULL;

	if ((len = i2d_X509(x, &der)) <= 0)
		return NULL;
	if (EVP_Digest(der, (size_t)len, dig, &diglen, md, NULL) == 1)
		out = jwt_b64url(dig, diglen);
	OPENSSL_free(der);
	return out;
}

static char *
jwt_json_b64(json_t *o)
{
	char	*s, *out;

	if ((s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		return NULL;
	out = jwt_b64url(s, strlen(s));
	free(s);
	return out;
}

/* The signature over input, b64url; NULL on failure. */
static char *
jwt_sign(EVP_PKEY *pkey, enum jwt_alg alg, const char *input)
{
	EVP_MD_CTX	*md;
	EVP_PKEY_CTX	*pctx = NULL;
	unsigned char	*sig = NULL;
	size_t		 siglen = 0;
	char		*out = NULL;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return NULL;
	if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pkey) != 1)
		goto out;
	if (alg == JWT_PS256) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
		    RSA_PSS_SALTLEN_DIGEST) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)
			goto out;
	} else if (EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PADDING) != 1)
		goto out;
	if (EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input,
	    strlen(input)) != 1)
		goto out;
	sig = xmalloc(siglen);
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input,
	    strlen(input)) != 1)
		goto out;
	out = jwt_b64url(sig, siglen);
out:
	free(sig);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return out;
}

char *
jwt_client_assertion(const char *cert_file, const char *key_file,
    enum jwt_alg alg, const char *aud, const char *client_id, int64_t now,
    char *why, size_t whysize)
{
	X509		*x;
	EVP_PKEY	*pkey = NULL;
	json_t		*hdr = NULL, *claims = NULL;
	char		*thumb = NULL, *h64 = NULL, *c64 = NULL, *input = NULL;
	char		*sig = NULL, *jwt = NULL, jti[GUID_LEN];

	if ((x = jwt_load_cert(cert_file, why, whysize)) == NULL)
		return NULL;
	if ((pkey = jwt_load_key(key_file, why, whysize)) == NULL)
		goto out;
	if (!jwt_pair_matches(x, pkey)) {
		snprintf(why, whysize, "the private key in %s does not belong "
		    "to the certificate in %s", key_file, cert_file);
		goto out;
	}
	thumb = jwt_thumbprint(x, alg == JWT_RS256 ? EVP_sha1() :
	    EVP_sha256());
	if (thumb == NULL) {
		snprintf(why, whysize, "%s: cannot compute the certificate "
		    "thumbprint", cert_file);
		goto out;
	}
	hdr = json_pack("{s:s, s:s, s:s}", "alg", jwt_alg_name(alg),
	    "typ", "JWT", alg == JWT_RS256 ? "x5t" : "x5t#S256", thumb);
	guid_random(jti);
	claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}",
	    "aud", aud, "iss", client_id, "sub", client_id, "jti", jti,
	    "nbf", (json_int_t)now, "iat", (json_int_t)now,
	    "exp", (json_int_t)(now + JWT_LIFETIME));
	if (hdr == NULL || claims == NULL ||
	    (h64 = jwt_json_b64(hdr)) == NULL ||
	    (c64 = jwt_json_b64(claims)) == NULL) {
		snprintf(why, whysize, "cannot encode the client assertion");
		goto out;
	}
	input = xasprintf("%s.%s", h64, c64);
	if ((sig = jwt_sign(pkey, alg, input)) == NULL) {
		snprintf(why, whysize, "signing the client assertion (%s) "
		    "with the key in %s failed", jwt_alg_name(alg), key_file);
		goto out;
	}
	jwt = xasprintf("%s.%s", input, sig);
out:
	json_decref(hdr);
	json_decref(claims);
	free(thumb);
	free(h64);
	free(c64);
	free(input);
	free(sig);
	EVP_PKEY_free(pkey);
	X509_free(x);
	return jwt;
}

int
jwt_cert_not_after(const char *cert_file, int64_t *not_after, char *why,
    size_t whysize)
{
	const ASN1_TIME *t;
	struct tm tm;
	X509 *x;

	if ((x = jwt_load_cert(cert_file, why, whysize)) == NULL)
		return -1;
	if ((t = X509_get0_notAfter(x)) == NULL ||
	    ASN1_TIME_to_tm(t, &tm) != 1) {
		snprintf(why, whysize, "%s: no readable notAfter", cert_file);
		X509_free(x);
		return -1;
	}
	X509_free(x);
	*not_after = (int64_t)timegm(&tm);
	return 0;
}
