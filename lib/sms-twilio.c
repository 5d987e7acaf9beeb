/*
 * provider: twilio. POST {api_url}/2010-04-01/Accounts/{sid}/Messages.json
 * with HTTP basic auth (account SID and auth token) and the form fields
 * To, From or MessagingServiceSid, and Body.
 *
 * Twilio has no idempotency key, so a message whose answer was lost is
 * sent again (at-least-once); the SID Twilio returns is kept in the
 * delivery's history. Its error codes say more than the HTTP status: a
 * number that cannot receive is dropped, a full queue is retried.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "buf.h"
#include "cfgparse.h"
#include "http.h"
#include "notifier.h"
#include "notify-http.h"
#include "secretfile.h"
#include "sms-provider.h"
#include "xmalloc.h"

#define TWILIO_TOKEN_MAX	1024
#define TWILIO_WHY_MAX		200

static const char *const twilio_keys[] = {
	"account_sid", "auth_token_file", "from", "messaging_service_sid",
	"api_url", NULL
};

/* Error codes from Twilio's dictionary that decide the outcome whatever
 * the HTTP status says. Twilio warns that codes evolve: any other code
 * falls back to the status. */
static const struct {
	long			 code;
	enum deliver_result	 result;
	const char		*what;
} twilio_codes[] = {
	{ 20003, DELIVER_DROP,	"authentication failed" },
	{ 20429, DELIVER_RETRY,	"too many requests" },
	{ 21211, DELIVER_DROP,	"invalid To number" },
	{ 21408, DELIVER_DROP,	"region not enabled for this account" },
	{ 21610, DELIVER_DROP,	"recipient opted out (STOP)" },
	{ 21611, DELIVER_RETRY,	"sender's queue is full" },
	{ 21612, DELIVER_DROP,	"To and From cannot connect" },
	{ 21614, DELIVER_DROP,	"To is not a mobile number" },
	{ 30001, DELIVER_RETRY,	"queue overflow" },
	{ 30003, DELIVER_RETRY,	"handset unreachable" },
	{ 30005, DELIVER_DROP,	"unknown handset" },
	{ 30006, DELIVER_DROP,	"landline or unreachable carrier" },
	{ 30007, DELIVER_DROP,	"filtered by the carrier" },
	{ 30008, DELIVER_RETRY,	"unknown carrier error" },
};

/* "AC" or "MG" and 32 hexadecimal digits. */
static int
twilio_sid_valid(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, 2) != 0 || strlen(s) != 34)
		return 0;
	for (s += 2; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		    (*s >= 'A' && *s <= 'F')))
			return 0;
	return 1;
}

static void
twilio_check(struct cfg *cfg, yaml_node_t *map, struct sms_conf *c)
{
	yaml_node_t *fn = cfg_value(cfg, map, "from");
	yaml_node_t *mn = cfg_value(cfg, map, "messaging_service_sid");

	if (cfg_value(cfg, map, "account_sid") == NULL)
		cfg_error(cfg, map, "missing key 'account_sid' (provider: "
		    "twilio)");
	else if (c->account_sid != NULL &&
	    !twilio_sid_valid(c->account_sid, "AC"))
		cfg_error(cfg, cfg_value(cfg, map, "account_sid"),
		    "account_sid: not a Twilio account SID (AC and 32 "
		    "hexadecimal digits)");
	if (cfg_value(cfg, map, "auth_token_file") == NULL)
		cfg_error(cfg, map, "missing key 'auth_token_file' (provider: "
		    "twilio)");
	if (fn == NULL && mn == NULL)
		cfg_error(cfg, map, "missing key 'from' or "
		    "'messaging_service_sid' (provider: twilio)");
	else if (fn != NULL && mn != NULL)
		sms_error_key(cfg, map, "messaging_service_sid", "give "
		    "either from or messaging_service_sid, not both");
	if (c->from != NULL && !sms_e164_valid(c->from) &&
	    !sms_sender_id_valid(c->from))
		cfg_error(cfg, fn, "from: '%.40s' is neither an E.164 number "
		    "nor an alphanumeric sender ID (up to 11 letters, digits "
		    "and spaces)", c->from);
	if (c->messaging_service_sid != NULL &&
	    !twilio_sid_valid(c->messaging_service_sid, "MG"))
		cfg_error(cfg, mn, "messaging_service_sid: not a Twilio "
		    "messaging service SID (MG and 32 hexadecimal digits)");
}

static void
twilio_put_field(struct buf *b, const char *name, const char *value)
{
	char *v = url_escape(value);

	buf_printf(b, "%s%s=%s", b->len > 0 ? "&" : "", name, v);
	free(v);
}

char *
sms_twilio_form(const char *to, const char *from, const char *service,
    const char *text)
{
	struct buf b;

	buf_init(&b);
	twilio_put_field(&b, "To", to);
	if (service != NULL)
		twilio_put_field(&b, "MessagingServiceSid", service);
	else
		twilio_put_field(&b, "From", from != NULL ? from : "");
	twilio_put_field(&b, "Body", text);
	return buf_steal(&b);
}

enum deliver_result
sms_twilio_judge(struct delivery *d, const struct http_response *r,
    const char *origin, char **why)
{
	enum deliver_result res;
	json_t *root = NULL, *v;
	const char *what = NULL;
	char *generic = NULL, *msg = NULL;
	long code = 0;

	res = notify_http_classify(d, r, origin, &generic);
	if (r->status == 0)
		goto plain;
	root = json_loadb(r->body, r->body_len, 0, NULL);
	if (res == DELIVER_OK) {
		v = json_object_get(root, "sid");
		msg = sms_printable(json_string_value(v), 64);
		*why = xasprintf("%s: accepted (HTTP %ld), message %s", origin,
		    r->status, msg);
		goto out;
	}
	if ((v = json_object_get(root, "code")) != NULL && json_is_integer(v))
		code = (long)json_integer_value(v);
	if (code == 0)
		goto plain;
	for (size_t i = 0; i < sizeof twilio_codes / sizeof twilio_codes[0];
	    i++) {
		if (twilio_codes[i].code != code)
			continue;
		res = twilio_codes[i].result;
		what = twilio_codes[i].what;
		if (res == DELIVER_RETRY)
			d->retry_after = r->retry_after;
		else
			d->retry_after = -1;
		break;
	}
	msg = sms_printable(json_string_value(json_object_get(root,
	    "message")), TWILIO_WHY_MAX);
	*why = xasprintf("%s: HTTP %ld, Twilio error %ld%s%s%s: %s, %s",
	    origin, r->status, code, what != NULL ? " (" : "",
	    what != NULL ? what : "", what != NULL ? ")" : "", msg,
	    res == DELIVER_RETRY ? "will retry" : "refused");
	goto out;
plain:
	*why = generic;
	generic = NULL;
out:
	free(msg);
	free(generic);
	json_decref(root);
	return res;
}

static int
twilio_send(struct notifier *n, struct delivery *d, const char *text)
{
	const struct sms_conf *c = n->cfg->conf;
	const char *headers[4];
	char *token, *pair, *b64, *auth, *url, *body, *err = NULL;

	url = xasprintf("%s/2010-04-01/Accounts/%s/Messages.json",
	    c->api_url, c->account_sid);
	if ((token = secret_file_read(c->auth_token_file, "auth_token_file",
	    TWILIO_TOKEN_MAX, &err)) == NULL) {
		sms_send_failed(d, url, err);
		free(url);
		return -1;
	}
	pair = xasprintf("%s:%s", c->account_sid, token);
	freezero_str(token);
	b64 = sms_base64(pair, strlen(pair));
	freezero_str(pair);
	auth = xasprintf("Authorization: Basic %s", b64);
	freezero_str(b64);

	body = sms_twilio_form(d->recipient, c->from,
	    c->messaging_service_sid, text);
	headers[0] = "Content-Type: application/x-www-form-urlencoded";
	headers[1] = "Accept: application/json";
	headers[2] = auth;
	headers[3] = NULL;
	sms_request(n, d, "POST", url, headers, body, sms_twilio_judge);
	freezero_str(auth);
	free(body);
	free(url);
	return 0;
}

const struct sms_provider sms_twilio = {
	.name = "twilio",
	.keys = twilio_keys,
	.check = twilio_check,
	.send = twilio_send,
};
