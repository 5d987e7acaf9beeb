/*
 * provider: acs. Azure Communication Services SMS:
 * POST {endpoint}/sms?api-version=2021-03-07 with a JSON body, signed with
 * the resource's access key (HMAC-SHA256 over the verb, path and query,
 * x-ms-date, host and the body's SHA-256).
 *
 * Each recipient carries a repeatabilityRequestId derived from the alert
 * id and the number, and repeatabilityFirstSent from the alert's creation
 * time: a retry is the same request to ACS, which sends it once. ACS
 * answers 202 with a result per recipient; ours is read from there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <yaml.h>

#include "alert.h"
#include "cfgparse.h"
#include "http.h"
#include "log.h"
#include "notifier.h"
#include "notify-http.h"
#include "secretfile.h"
#include "sms-provider.h"
#include "timeutil.h"
#include "xmalloc.h"

#define ACS_KEY_MAX	1024
#define ACS_WHY_MAX	200

static const char *const acs_keys[] = {
	"endpoint", "access_key_file", "from", NULL
};

/* The namespace of glasswatch's name-based (version 5) UUIDs. */
static const unsigned char acs_uuid_ns[16] = {
	0x1d, 0x10, 0xde, 0x0d, 0xb8, 0x72, 0x41, 0xf4,
	0x8c, 0x9b, 0x48, 0x38, 0x22, 0x88, 0x24, 0x66
};

static void
acs_check(struct cfg *cfg, yaml_node_t *map, struct sms_conf *c)
{
	if (cfg_value(cfg, map, "endpoint") == NULL)
		cfg_error(cfg, map, "missing key 'endpoint' (provider: acs)");
	if (cfg_value(cfg, map, "access_key_file") == NULL)
		cfg_error(cfg, map, "missing key 'access_key_file' (provider: "
		    "acs)");
	if (cfg_value(cfg, map, "from") == NULL)
		cfg_error(cfg, map, "missing key 'from' (provider: acs)");
	else if (c->from != NULL && !sms_e164_valid(c->from) &&
	    !sms_sender_id_valid(c->from))
		cfg_error(cfg, cfg_value(cfg, map, "from"), "from: '%.40s' is "
		    "neither an E.164 number nor an alphanumeric sender ID "
		    "(up to 11 letters, digits and spaces)", c->from);
}

/* RFC 4122 version 5: SHA-1 over the namespace and the name. */
char *
sms_acs_repeatability_id(const char *alert_id, const char *to)
{
	unsigned char md[SHA_DIGEST_LENGTH], *in;
	char *name;
	size_t len;

	name = xasprintf("%s/%s", alert_id, to);
	len = sizeof acs_uuid_ns + strlen(name);
	in = xmalloc(len);
	memcpy(in, acs_uuid_ns, sizeof acs_uuid_ns);
	memcpy(in + sizeof acs_uuid_ns, name, strlen(name));
	SHA1(in, len, md);
	free(in);
	free(name);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3], md[4],
	    md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12],
	    md[13], md[14], md[15]);
}

void
sms_acs_date(int64_t us, char *out, size_t outlen)
{
	time_format_rfc1123(us, "GMT", out, outlen);
}

char *
sms_acs_body(const char *from, const char *to, const char *text,
    const char *alert_id, int64_t first_sent_us)
{
	json_t *root, *rcpt, *opts;
	char date[64], *id, *out;

	id = sms_acs_repeatability_id(alert_id, to);
	sms_acs_date(first_sent_us, date, sizeof date);
	rcpt = json_pack("{s:s, s:s, s:s}", "to", to,
	    "repeatabilityRequestId", id, "repeatabilityFirstSent", date);
	opts = json_pack("{s:b}", "enableDeliveryReport", 0);
	root = json_pack("{s:s, s:[o], s:s, s:o}", "from", from,
	    "smsRecipients", rcpt, "message", text, "smsSendOptions", opts);
	if (root == NULL)
		fatalx("sms_acs_body: cannot build the JSON body");
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	free(id);
	if (out == NULL)
		fatalx("sms_acs_body: cannot write the JSON body");
	return out;
}

int
sms_acs_sign(const char *key_b64, const char *method,
    const char *path_and_query, const char *host, const char *date,
    const char *body, size_t body_len, char **content_hash,
    char **authorization, char **err)
{
	unsigned char digest[SHA256_DIGEST_LENGTH], mac[EVP_MAX_MD_SIZE];
	unsigned char *key;
	unsigned int maclen = 0;
	size_t keylen;
	char *sts, *sig;

	if ((key = sms_base64_decode(key_b64, &keylen)) == NULL) {
		*err = xstrdup("the access key is not base64 (copy the "
		    "resource's key as the portal shows it)");
		return -1;
	}
	SHA256((const unsigned char *)body, body_len, digest);
	*content_hash = sms_base64(digest, sizeof digest);
	sts = xasprintf("%s\n%s\n%s;%s;%s", method, path_and_query, date,
	    host, *content_hash);
	if (HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)sts,
	    strlen(sts), mac, &maclen) == NULL) {
		freezero(key, keylen + 1);
		free(sts);
		free(*content_hash);
		*content_hash = NULL;
		*err = xstrdup("HMAC-SHA256 failed");
		return -1;
	}
	freezero(key, keylen + 1);
	free(sts);
	sig = sms_base64(mac, maclen);
	*authorization = xasprintf("HMAC-SHA256 SignedHeaders="
	    "x-ms-date;host;x-ms-content-sha256&Signature=%s", sig);
	free(sig);
	return 0;
}

/* ACS's own words in an error answer: {"error": {"code", "message"}}. */
static char *
acs_error_text(json_t *root)
{
	json_t *e = json_object_get(root, "error");
	char *code, *msg, *out;

	if (!json_is_object(e))
		return NULL;
	code = sms_printable(json_string_value(json_object_get(e, "code")),
	    64);
	msg = sms_printable(json_string_value(json_object_get(e,
	    "message")), ACS_WHY_MAX);
	out = xasprintf("ACS error %s: %s", code, msg);
	free(code);
	free(msg);
	return out;
}

/* The result for our number: the entry naming it, else the only one. */
static json_t *
acs_result_for(json_t *root, const char *to)
{
	json_t *value = json_object_get(root, "value"), *r;
	size_t i;

	if (!json_is_array(value) || json_array_size(value) == 0)
		return NULL;
	json_array_foreach(value, i, r) {
		const char *t = json_string_value(json_object_get(r, "to"));

		if (t != NULL && to != NULL && strcmp(t, to) == 0)
			return r;
	}
	return json_array_size(value) == 1 ? json_array_get(value, 0) : NULL;
}

enum deliver_result
sms_acs_judge(struct delivery *d, const struct http_response *r,
    const char *origin, char **why)
{
	enum deliver_result res;
	json_t *root = NULL, *rcpt, *v;
	char *generic = NULL, *text = NULL, *msg, *rep;
	long status;

	res = notify_http_classify(d, r, origin, &generic);
	if (r->status == 0)
		goto plain;
	root = json_loadb(r->body, r->body_len, 0, NULL);
	if (res != DELIVER_OK) {
		if ((text = acs_error_text(root)) == NULL)
			goto plain;
		*why = xasprintf("%s, %s", generic, text);
		goto out;
	}

	/* 202: accepted as a request; each recipient has its own fate. */
	if ((rcpt = acs_result_for(root, d->recipient)) == NULL) {
		/* Repeatability makes a second try safe: ACS sends once. */
		d->retry_after = -1;
		*why = xasprintf("%s: HTTP %ld without a result for this "
		    "number, will retry", origin, r->status);
		res = DELIVER_RETRY;
		goto out;
	}
	v = json_object_get(rcpt, "successful");
	rep = sms_printable(json_string_value(json_object_get(rcpt,
	    "repeatabilityResult")), 32);
	if (json_is_true(v)) {
		msg = sms_printable(json_string_value(json_object_get(rcpt,
		    "messageId")), 96);
		*why = xasprintf("%s: accepted (HTTP %ld), message %s, "
		    "repeatability %s", origin, r->status, msg, rep);
		free(msg);
		free(rep);
		goto out;
	}
	v = json_object_get(rcpt, "httpStatusCode");
	status = json_is_integer(v) ? (long)json_integer_value(v) : 0;
	msg = sms_printable(json_string_value(json_object_get(rcpt,
	    "errorMessage")), ACS_WHY_MAX);
	if (status == 0 || status == 408 || status == 429 || status >= 500) {
		res = DELIVER_RETRY;
		d->retry_after = r->retry_after;
	} else {
		res = DELIVER_DROP;
		d->retry_after = -1;
	}
	*why = xasprintf("%s: HTTP %ld, this number's result %ld: %s "
	    "(repeatability %s), %s", origin, r->status, status, msg, rep,
	    res == DELIVER_RETRY ? "will retry" : "refused");
	free(msg);
	free(rep);
	goto out;
plain:
	*why = generic;
	generic = NULL;
out:
	free(text);
	free(generic);
	json_decref(root);
	return res;
}

/* What the signature covers: the Host header's value, and the path and
 * query of the request. -1 when the URL cannot be read. */
static int
acs_url_parts(const char *url, char **host, char **pq)
{
	CURLU *h;
	char *hn = NULL, *port = NULL, *path = NULL, *query = NULL;
	int rv = -1;

	if ((h = curl_url()) == NULL)
		return -1;
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &hn, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	/* libcurl names the port in Host only when the URL does and it is
	 * not the scheme's own. */
	if (curl_url_get(h, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
	    !((strncmp(url, "https:", 6) == 0 && strcmp(port, "443") == 0) ||
	    (strncmp(url, "http:", 5) == 0 && strcmp(port, "80") == 0)))
		*host = xasprintf("%s:%s", hn, port);
	else
		*host = xstrdup(hn);
	if (curl_url_get(h, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
		*pq = xasprintf("%s?%s", path, query);
	else
		*pq = xstrdup(path);
	rv = 0;
out:
	curl_free(hn);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(h);
	return rv;
}

static int
acs_send(struct notifier *n, struct delivery *d, const char *text)
{
	const struct sms_conf *c = n->cfg->conf;
	const char *headers[6];
	char date[64], *key, *url, *body, *host = NULL, *pq = NULL;
	char *hash = NULL, *auth = NULL, *h_date, *h_hash, *h_auth;
	char *err = NULL;

	url = xasprintf("%s/sms?api-version=%s", c->endpoint,
	    SMS_ACS_API_VERSION);
	if (acs_url_parts(url, &host, &pq) == -1) {
		sms_send_failed(d, url, xstrdup("cannot read the endpoint "
		    "URL"));
		free(url);
		return -1;
	}
	body = sms_acs_body(c->from, d->recipient, text, d->alert->id,
	    d->alert->created_us);
	sms_acs_date(time_now_us(), date, sizeof date);
	if ((key = secret_file_read(c->access_key_file, "access_key_file",
	    ACS_KEY_MAX, &err)) == NULL ||
	    sms_acs_sign(key, "POST", pq, host, date, body, strlen(body),
	    &hash, &auth, &err) == -1) {
		if (key != NULL)
			freezero_str(key);
		sms_send_failed(d, url, err);
		free(body);
		free(host);
		free(pq);
		free(url);
		return -1;
	}
	freezero_str(key);

	h_date = xasprintf("x-ms-date: %s", date);
	h_hash = xasprintf("x-ms-content-sha256: %s", hash);
	h_auth = xasprintf("Authorization: %s", auth);
	freezero_str(auth);
	headers[0] = "Content-Type: application/json";
	headers[1] = "Accept: application/json";
	headers[2] = h_date;
	headers[3] = h_hash;
	headers[4] = h_auth;
	headers[5] = NULL;
	sms_request(n, d, "POST", url, headers, body, sms_acs_judge);
	freezero_str(h_auth);
	free(h_hash);
	free(h_date);
	free(hash);
	free(body);
	free(host);
	free(pq);
	free(url);
	return 0;
}

const struct sms_provider sms_acs = {
	.name = "acs",
	.keys = acs_keys,
	.check = acs_check,
	.send = acs_send,
};
