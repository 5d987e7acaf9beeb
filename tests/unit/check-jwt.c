/* check-jwt: client assertions (API-FACTS 1.2) against make-certs.sh's RSA
 * app certificates: header, thumbprints as openssl x509 -fingerprint
 * computes them, claims, and signatures that verify with the public key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "guid.h"
#include "jwt.h"
#include "xmalloc.h"

/* Only its scratch directory and PKI are used here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "helpers/testserver.h"

#define CLIENT_ID	"11111111-1111-1111-1111-111111111111"
#define AUD		"https://login.example/00000000-0000-0000-0000-" \
			"0000000000aa/oauth2/v2.0/token"

/* base64url without padding, back to bytes. */
static unsigned char *
b64url_decode(const char *s, size_t len, size_t *outlen)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char	*out = xmalloc(len * 3 / 4 + 3);
	unsigned long	 acc = 0;
	size_t		 i, n = 0;
	int		 bits = 0;
	const char	*p;

	for (i = 0; i < len; i++) {
		p = strchr(abc, s[i]);
		ck_assert_msg(p != NULL && s[i] != '\0',
		    "'%c' is not base64url", s[i]);
		acc = acc << 6 | (unsigned long)(p - abc);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	*outlen = n;
	return out;
}

struct jwt_parts {
	json_t		*header;
	json_t		*claims;
	char		*input;		/* header.claims */
	unsigned char	*sig;
	size_t		 siglen;
};

static void
split(const char *jwt, struct jwt_parts *p)
{
	const char	*d1, *d2;
	unsigned char	*raw;
	size_t		 len;

	ck_assert_ptr_null(strchr(jwt, '='));
	ck_assert_ptr_null(strchr(jwt, '+'));
	ck_assert_ptr_null(strchr(jwt, '/'));
	d1 = strchr(jwt, '.');
	ck_assert_ptr_nonnull(d1);
	d2 = strchr(d1 + 1, '.');
	ck_assert_ptr_nonnull(d2);
	ck_assert_ptr_null(strchr(d2 + 1, '.'));
	raw = b64url_decode(jwt, (size_t)(d1 - jwt), &len);
	p->header = json_loadb((char *)raw, len, 0, NULL);
	free(raw);
	raw = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &len);
	p->claims = json_loadb((char *)raw, len, 0, NULL);
	free(raw);
	ck_assert(json_is_object(p->header));
	ck_assert(json_is_object(p->claims));
	p->input = xstrndup(jwt, (size_t)(d2 - jwt));
	p->sig = b64url_decode(d2 + 1, strlen(d2 + 1), &p->siglen);
}

static void
parts_free(struct jwt_parts *p)
{
	json_decref(p->header);
	json_decref(p->claims);
	free(p->input);
	free(p->sig);
}

static const char *
str(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static json_int_t
num(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

/* b64url of what `openssl x509 -fingerprint -<md>` prints for the file. */
static char *
fingerprint(const char *cert, const char *md)
{
	char		 cmd[512], line[512], *eq, *p;
	unsigned char	 bytes[64];
	size_t		 n = 0;
	unsigned int	 b;
	FILE		*f;

	snprintf(cmd, sizeof cmd, "openssl x509 -noout -fingerprint -%s "
	    "-in %s", md, cert);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	pclose(f);
	eq = strchr(line, '=');
	ck_assert_ptr_nonnull(eq);
	for (p = eq + 1; n < sizeof bytes && sscanf(p, "%2x", &b) == 1;
	    p += 3) {
		bytes[n++] = (unsigned char)b;
		if (p[2] != ':')
			break;
	}
	ck_assert_uint_eq(n, strcmp(md, "sha1") == 0 ? 20 : 32);
	return jwt_b64url(bytes, n);
}

static EVP_PKEY *
public_key(const char *cert)
{
	FILE		*f = fopen(cert, "r");
	X509		*x;
	EVP_PKEY	*k;

	ck_assert_ptr_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	k = X509_get_pubkey(x);
	X509_free(x);
	return k;
}

/* Does sig verify over input with padding (and PSS salt 32)? */
static int
verifies(EVP_PKEY *k, int padding, const struct jwt_parts *p)
{
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	EVP_PKEY_CTX	*pctx = NULL;
	int		 ok;

	ck_assert_int_eq(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL,
	    k), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, padding), 1);
	if (padding == RSA_PKCS1_PSS_PADDING)
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
	ok = EVP_DigestVerify(md, p->sig, p->siglen,
	    (const unsigned char *)p->input, strlen(p->input)) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

START_TEST(test_b64url)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*out;
	} v[] = {
		{ "", 0, "" },
		{ "f", 1, "Zg" },
		{ "fo", 2, "Zm8" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg" },
		{ "fooba", 5, "Zm9vYmE" },
		{ "foobar", 6, "Zm9vYmFy" },
		{ "\xfb\xff", 2, "-_8" },
		{ "\xff\xfe\xfd\xfc", 4, "__79_A" },
		/* API-FACTS 1.2's example thumbprint. */
		{ "\x84\xe0\x5c\x1d\x98\xbc\xe3\xa5\x42\x1d\x22\x5b\x14\x0b"
		  "\x36\xe8\x6a\x3d\x55\x34", 20, "hOBcHZi846VCHSJbFAs26Go9VTQ" },
	};
	size_t	i;
	char	*s;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		s = jwt_b64url(v[i].in, v[i].len);
		ck_assert_str_eq(s, v[i].out);
		free(s);
	}
}
END_TEST

START_TEST(test_ps256)
{
	struct jwt_parts	 p;
	EVP_PKEY		*k;
	char			 why[256], *jwt, *want;
	int64_t			 now = (int64_t)time(NULL);

	jwt = jwt_client_assertion(ts_path("certs/client.pem"),
	    ts_path("certs/client.key"), JWT_PS256, AUD, CLIENT_ID, now, why,
	    sizeof why);
	ck_assert_msg(jwt != NULL, "%s", why);
	split(jwt, &p);

	ck_assert_uint_eq(json_object_size(p.header), 3);
	ck_assert_str_eq(str(p.header, "alg"), "PS256");
	ck_assert_str_eq(str(p.header, "typ"), "JWT");
	want = fingerprint(ts_path("certs/client.pem"), "sha256");
	ck_assert_str_eq(str(p.header, "x5t#S256"), want);
	free(want);
	ck_assert_ptr_null(json_object_get(p.header, "x5t"));

	ck_assert_uint_eq(json_object_size(p.claims), 7);
	ck_assert_str_eq(str(p.claims, "aud"), AUD);
	ck_assert_str_eq(str(p.claims, "iss"), CLIENT_ID);
	ck_assert_str_eq(str(p.claims, "sub"), CLIENT_ID);
	ck_assert(guid_valid(str(p.claims, "jti")));
	ck_assert_int_eq(num(p.claims, "nbf"), now);
	ck_assert_int_eq(num(p.claims, "iat"), now);
	ck_assert_int_eq(num(p.claims, "exp"), now + 600);

	/* 2048-bit key: 256 bytes of signature. */
	ck_assert_uint_eq(p.siglen, 256);
	k = public_key(ts_path("certs/client.pem"));
	ck_assert(verifies(k, RSA_PKCS1_PSS_PADDING, &p));
	ck_assert(!verifies(k, RSA_PKCS1_PADDING, &p));
	EVP_PKEY_free(k);
	/* Not with the other certificate's key. */
	k = public_key(ts_path("certs/other-client.pem"));
	ck_assert(!verifies(k, RSA_PKCS1_PSS_PADDING, &p));
	EVP_PKEY_free(k);
	parts_free(&p);
	free(jwt);
}
END_TEST

START_TEST(test_rs256)
{
	struct jwt_parts	 p;
	EVP_PKEY		*k;
	char			 why[256], *jwt, *want;

	jwt = jwt_client_assertion(ts_path("certs/client.pem"),
	    ts_path("certs/client.key"), JWT_RS256, AUD, CLIENT_ID,
	    1735689600, why, sizeof why);
	ck_assert_msg(jwt != NULL, "%s", why);
	split(jwt, &p);
	ck_assert_uint_eq(json_object_size(p.header), 3);
	ck_assert_str_eq(str(p.header, "alg"), "RS256");
	ck_assert_str_eq(str(p.header, "typ"), "JWT");
	want = fingerprint(ts_path("certs/client.pem"), "sha1");
	ck_assert_str_eq(str(p.header, "x5t"), want);
	free(want);
	ck_assert_ptr_null(json_object_get(p.header, "x5t#S256"));
	ck_assert_int_eq(num(p.claims, "nbf"), 1735689600);
	ck_assert_int_eq(num(p.claims, "exp"), 1735690200);

	k = public_key(ts_path("certs/client.pem"));
	ck_assert(verifies(k, RSA_PKCS1_PADDING, &p));
	ck_assert(!verifies(k, RSA_PKCS1_PSS_PADDING, &p));
	EVP_PKEY_free(k);
	parts_free(&p);
	free(jwt);
}
END_TEST

START_TEST(test_fresh_jti)
{
	struct jwt_parts	 a, b;
	char			 why[256], *j1, *j2;

	j1 = jwt_client_assertion(ts_path("certs/client.pem"),
	    ts_path("certs/client.key"), JWT_PS256, AUD, CLIENT_ID, 1000, why,
	    sizeof why);
	j2 = jwt_client_assertion(ts_path("certs/client.pem"),
	    ts_path("certs/client.key"), JWT_PS256, AUD, CLIENT_ID, 1000, why,
	    sizeof why);
	ck_assert_ptr_nonnull(j1);
	ck_assert_ptr_nonnull(j2);
	split(j1, &a);
	split(j2, &b);
	ck_assert_str_ne(str(a.claims, "jti"), str(b.claims, "jti"));
	parts_free(&a);
	parts_free(&b);
	free(j1);
	free(j2);
}
END_TEST

static void
write_text(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Nothing of the key shows in an error. */
static void
assert_clean(const char *why)
{
	ck_assert_ptr_null(strstr(why, "PRIVATE"));
	ck_assert_ptr_null(strstr(why, "MII"));
}

START_TEST(test_bad_files)
{
	char	why[512], cmd[512], *jwt;

	/* A key that belongs to another certificate. */
	ck_assert_int_eq(jwt_check_files(ts_path("certs/client.pem"),
	    ts_path("certs/other-client.key"), why, sizeof why),
	    JWT_BAD_PAIR);
	ck_assert_ptr_nonnull(strstr(why, "does not belong"));
	assert_clean(why);
	jwt = jwt_client_assertion(ts_path("certs/client.pem"),
	    ts_path("certs/other-client.key"), JWT_PS256, AUD, CLIENT_ID, 1,
	    why, sizeof why);
	ck_assert_ptr_null(jwt);
	ck_assert_ptr_nonnull(strstr(why, "does not belong"));

	/* EC keys cannot sign PS256 or RS256. */
	ck_assert_int_eq(jwt_check_files(ts_path("certs/server.pem"),
	    ts_path("certs/server.key"), why, sizeof why), JWT_BAD_KEY);
	ck_assert_ptr_nonnull(strstr(why, "not an RSA key"));

	/* Not a certificate; not a key; no file at all. */
	write_text(ts_path("junk"), "hello\n");
	ck_assert_int_eq(jwt_check_files(ts_path("junk"),
	    ts_path("certs/client.key"), why, sizeof why), JWT_BAD_CERT);
	ck_assert_ptr_nonnull(strstr(why, "no PEM certificate"));
	ck_assert_int_eq(jwt_check_files(ts_path("certs/client.pem"),
	    ts_path("junk"), why, sizeof why), JWT_BAD_KEY);
	ck_assert_ptr_nonnull(strstr(why, "no unencrypted PEM private key"));
	ck_assert_int_eq(jwt_check_files(ts_path("certs/client.pem"),
	    ts_path("missing.key"), why, sizeof why), JWT_BAD_KEY);
	ck_assert_ptr_nonnull(strstr(why, "cannot read"));
	/* A public key is no private key. */
	ck_assert_int_eq(jwt_check_files(ts_path("certs/client.pem"),
	    ts_path("certs/client.pem"), why, sizeof why), JWT_BAD_KEY);

	/* An encrypted key is refused, never prompted for. */
	snprintf(cmd, sizeof cmd, "openssl pkey -in %s -aes256 -passout "
	    "pass:hunter2 -out %s 2>/dev/null </dev/null",
	    ts_path("certs/client.key"), ts_path("enc.key"));
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(jwt_check_files(ts_path("certs/client.pem"),
	    ts_path("enc.key"), why, sizeof why), JWT_BAD_KEY);
	assert_clean(why);

	/* A small key. */
	snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey rsa:1024 -nodes "
	    "-keyout %s -out %s -subj /CN=small -days 1 2>/dev/null",
	    ts_path("small.key"), ts_path("small.pem"));
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(jwt_check_files(ts_path("small.pem"),
	    ts_path("small.key"), why, sizeof why), JWT_BAD_KEY);
	ck_assert_ptr_nonnull(strstr(why, "1024 bits"));

	ck_assert_int_eq(jwt_check_files(ts_path("certs/client.pem"),
	    ts_path("certs/client.key"), why, sizeof why), JWT_BAD_NONE);
}
END_TEST

static Suite *
jwt_suite(void)
{
	Suite	*s = suite_create("jwt");
	TCase	*tc = tcase_create("assertions");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_b64url);
	tcase_add_test(tc, test_ps256);
	tcase_add_test(tc, test_rs256);
	tcase_add_test(tc, test_fresh_jti);
	tcase_add_test(tc, test_bad_files);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	ts_require_tools();
	ts_scratch("check-jwt");
	ts_make_certs();
	sr = srunner_create(jwt_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	ts_scratch_remove();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
