/*
 * The sms notifier: one message per delivery (one phone number), through
 * Twilio, Azure Communication Services, or a generic HTTP gateway.
 *
 * This file holds what the providers share: the keys, the checks every
 * provider needs (E.164 numbers, max_length, keys given to the wrong
 * provider), the page text (sms-text.c), and the dispatch. Each provider
 * builds its request and reads its answer in its own file; notify-http.c
 * sends it. Secrets are read from their files at every send and wiped
 * after; URLs are logged as their origin only.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "alert.h"
#include "cfgparse.h"
#include "config.h"
#include "http.h"
#include "notifier.h"
#include "notify-http.h"
#include "sms-provider.h"
#include "sms-text.h"
#include "strlist.h"
#include "xmalloc.h"

static const char *const sms_provider_names[] = {
	"twilio", "acs", "http", NULL
};

static const char *const sms_method_names[] = {
	"POST", "PUT", "GET", NULL
};

/* In the order of enum sms_provider_kind. */
static const struct sms_provider *const sms_providers[] = {
	&sms_twilio, &sms_acs, &sms_gateway
};

/* Keys every provider takes; the rest belong to one provider or two. */
static const char *const sms_common_keys[] = {
	"provider", "to", "max_length", "ca_file", NULL
};

#define S(f)	offsetof(struct sms_conf, f)
static const struct opt_spec sms_opts[] = {
	{ .key = "provider", .type = OPT_ENUM, .offset = S(provider),
	  .flags = OPT_REQUIRED, .names = sms_provider_names },
	{ .key = "to", .type = OPT_STRLIST, .offset = S(to),
	  .flags = OPT_REQUIRED },
	{ .key = "max_length", .type = OPT_INT, .offset = S(max_length),
	  .def = "160" },
	{ .key = "ca_file", .type = OPT_FILE, .offset = S(ca_file) },
	{ .key = "account_sid", .type = OPT_STRING, .offset = S(account_sid) },
	{ .key = "auth_token_file", .type = OPT_SECRET_FILE,
	  .offset = S(auth_token_file) },
	{ .key = "from", .type = OPT_STRING, .offset = S(from) },
	{ .key = "messaging_service_sid", .type = OPT_STRING,
	  .offset = S(messaging_service_sid) },
	{ .key = "api_url", .type = OPT_URL, .offset = S(api_url),
	  .def = "https://api.twilio.com" },
	{ .key = "endpoint", .type = OPT_URL, .offset = S(endpoint) },
	{ .key = "access_key_file", .type = OPT_SECRET_FILE,
	  .offset = S(access_key_file) },
	{ .key = "url", .type = OPT_URL, .offset = S(url) },
	{ .key = "method", .type = OPT_ENUM, .offset = S(method),
	  .names = sms_method_names, .def = "POST" },
	{ .key = "auth_header", .type = OPT_STRING, .offset = S(auth_header) },
	{ .key = "headers", .type = OPT_CUSTOM, .offset = S(headers),
	  .custom = sms_fields_parse_headers, .custom_free = sms_fields_free },
	{ .key = "form", .type = OPT_CUSTOM, .offset = S(form),
	  .custom = sms_fields_parse_form, .custom_free = sms_fields_free },
	{ .key = "json", .type = OPT_CUSTOM, .offset = S(json),
	  .custom = sms_fields_parse_json, .custom_free = sms_fields_free },
	OPT_END
};
#undef S

/* ---- shared helpers ------------------------------------------------- */

int
sms_e164_valid(const char *s)
{
	size_t n;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	for (n = 1; s[n] != '\0'; n++)
		if (s[n] < '0' || s[n] > '9')
			return 0;
	n--;
	return n >= 2 && n <= 15;
}

int
sms_sender_id_valid(const char *s)
{
	size_t n;
	int letter = 0;

	for (n = 0; s[n] != '\0'; n++) {
		if ((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= 'A' && s[n] <= 'Z'))
			letter = 1;
		else if ((s[n] < '0' || s[n] > '9') && s[n] != ' ')
			return 0;
	}
	return n >= 1 && n <= 11 && letter;
}

char *
sms_base64(const void *p, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

unsigned char *
sms_base64_decode(const char *s, size_t *lenp)
{
	size_t len = strlen(s), pad = 0, cap;
	unsigned char *out;
	int n;

	if (len == 0 || len % 4 != 0 || len > 1 << 20)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '=') {
			/* Only at the end, at most two. */
			if (i < len - 2 || (i == len - 2 && s[len - 1] != '='))
				return NULL;
			pad++;
		} else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' &&
		    c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
		    c == '/'))
			return NULL;
	}
	cap = len / 4 * 3;
	out = xmalloc(cap + 1);
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n != cap) {
		freezero(out, cap + 1);
		return NULL;
	}
	*lenp = cap - pad;
	return out;
}

char *
sms_printable(const char *s, size_t max)
{
	char *out;
	size_t n;

	if (s == NULL || *s == '\0')
		return xstrdup("-");
	n = strlen(s);
	if (n > max) {
		n = max;
		/* Not in the middle of a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	out = xstrndup(s, n);
	for (char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return out;
}

int
sms_send_failed(struct delivery *d, const char *url, char *err)
{
	char *origin = url != NULL ? url_origin(url) : NULL;
	char *why;

	why = xasprintf("%s: %s", origin != NULL ? origin : "sms", err);
	d->retry_after = -1;
	delivery_done(d, DELIVER_RETRY, why);
	free(why);
	free(origin);
	free(err);
	return -1;
}

void
sms_request(struct notifier *n, struct delivery *d, const char *method,
    const char *url, const char *const *headers, const char *body,
    notify_http_judge judge)
{
	const struct sms_conf *c = n->cfg->conf;
	struct http_request req = { 0 };

	req.method = method;
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = body != NULL ? strlen(body) : 0;
	req.ca_file = c->ca_file;
	notify_http_send(n, d, &req, judge);
}

void
sms_error_key(struct cfg *cfg, yaml_node_t *map, const char *key,
    const char *why)
{
	yaml_node_t *k = cfg_key(cfg, map, key);

	cfg_error(cfg, k != NULL ? k : map, "%s: %s", key, why);
}

/* ---- configuration -------------------------------------------------- */

static int
sms_key_in(const char *const *keys, const char *key)
{
	for (; *keys != NULL; keys++)
		if (strcmp(*keys, key) == 0)
			return 1;
	return 0;
}

/* Which providers take a key, for the error: "twilio or acs". */
static void
sms_key_owners(const char *key, char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof sms_providers /
	    sizeof sms_providers[0]; i++) {
		if (!sms_key_in(sms_providers[i]->keys, key))
			continue;
		strncat(out, n++ > 0 ? " or " : "", outlen - strlen(out) - 1);
		strncat(out, sms_providers[i]->name, outlen - strlen(out) - 1);
	}
}

static int
sms_is_number(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	char *end;

	if (n->type != YAML_SCALAR_NODE || *s == '\0')
		return 0;
	(void)strtol(s, &end, 10);
	return *end == '\0';
}

static void
sms_check(struct cfg *cfg, yaml_node_t *map, void *obj)
{
	struct sms_conf *c = obj;
	const struct sms_provider *prov = NULL;
	yaml_node_t *node, *item;
	yaml_node_item_t *it;
	char owners[64];

	/* Only a provider that parsed: an unknown one was reported. */
	node = cfg_value(cfg, map, "provider");
	for (size_t i = 0; node != NULL && node->type == YAML_SCALAR_NODE &&
	    i < sizeof sms_providers / sizeof sms_providers[0]; i++)
		if (strcmp((const char *)node->data.scalar.value,
		    sms_providers[i]->name) == 0)
			prov = sms_providers[i];

	node = cfg_value(cfg, map, "to");
	if (node != NULL && node->type == YAML_SEQUENCE_NODE) {
		if (node->data.sequence.items.start ==
		    node->data.sequence.items.top)
			cfg_error(cfg, node, "to: needs at least one number");
		for (it = node->data.sequence.items.start;
		    it < node->data.sequence.items.top; it++) {
			item = cfg_node(cfg, *it);
			if (item == NULL || item->type != YAML_SCALAR_NODE ||
			    sms_e164_valid((const char *)
			    item->data.scalar.value))
				continue;
			cfg_error(cfg, item, "to: '%.40s' is not an E.164 "
			    "number (+ and the country code, then 2 to 15 "
			    "digits in all, no spaces)",
			    (const char *)item->data.scalar.value);
		}
	}

	/* Not a number at all was reported by the loader already. */
	node = cfg_value(cfg, map, "max_length");
	if ((node == NULL || sms_is_number(node)) &&
	    (c->max_length < SMS_MAX_LENGTH_MIN ||
	    c->max_length > SMS_MAX_LENGTH_MAX))
		cfg_error(cfg, node,
		    "max_length: must be %d to %d (GSM-7 characters; 160 is "
		    "one SMS)", SMS_MAX_LENGTH_MIN, SMS_MAX_LENGTH_MAX);

	if (prov == NULL)
		return;
	/* A key of another provider is a mistake, not something to
	 * ignore: the operator meant something by it. */
	for (const struct opt_spec *o = sms_opts; o->key != NULL; o++) {
		if (sms_key_in(sms_common_keys, o->key) ||
		    sms_key_in(prov->keys, o->key) ||
		    cfg_key(cfg, map, o->key) == NULL)
			continue;
		sms_key_owners(o->key, owners, sizeof owners);
		cfg_error(cfg, cfg_key(cfg, map, o->key), "%s: only with "
		    "provider: %s (this is provider: %s)", o->key, owners,
		    prov->name);
	}
	prov->check(cfg, map, c);
}

static void
sms_recipients(const void *conf, struct strlist *out)
{
	const struct sms_conf *c = conf;

	for (size_t i = 0; i < c->to.n; i++)
		if (!strlist_contains(out, c->to.v[i]))
			strlist_add(out, c->to.v[i]);
}

/* ---- sending -------------------------------------------------------- */

static int
sms_init(struct notifier *n, char **cause)
{
	const struct sms_conf *c = n->cfg->conf;

	if (c == NULL || c->provider < 0 || (size_t)c->provider >=
	    sizeof sms_providers / sizeof sms_providers[0]) {
		*cause = xasprintf("%s: incomplete sms configuration",
		    n->cfg->name);
		return -1;
	}
	return 0;
}

static int
sms_send(struct notifier *n, struct delivery *d)
{
	const struct sms_conf *c = n->cfg->conf;
	char *text;
	int rv;

	if (d->recipient == NULL || d->alert == NULL) {
		delivery_done(d, DELIVER_DROP, "sms: no recipient or alert");
		return -1;
	}
	text = sms_text_build(d->alert, (size_t)c->max_length);
	rv = sms_providers[c->provider]->send(n, d, text);
	free(text);
	return rv;
}

const struct notifier_ops notify_sms_ops = {
	.type = "sms",
	.opts = sms_opts,
	.conf_size = sizeof(struct sms_conf),
	.check = sms_check,
	.recipients = sms_recipients,
	.init = sms_init,
	.send = sms_send,
};
