/*
 * The webhook notifier: one HTTPS POST per alert, its body in one of the
 * formats of webhook-format.c, optionally signed the Standard Webhooks
 * way (webhook-sign.c), sent and classified by notify-http.c.
 *
 * A webhook URL often is the credential (Slack, Teams and Power Automate
 * put the token in the path or query), so url_file is read at each send,
 * like every secret file, and only the URL's origin is ever logged or
 * stored as the delivery's recipient. Cleartext http:// is allowed only to
 * loopback hosts (an Alertmanager beside the daemon), as everywhere else.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <yaml.h>

#include "alert.h"
#include "cfgparse.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "notifier.h"
#include "notify-http.h"
#include "secretfile.h"
#include "strlist.h"
#include "timeutil.h"
#include "webhook-format.h"
#include "webhook-sign.h"
#include "xmalloc.h"

#define WEBHOOK_PAGERDUTY_URL	"https://events.pagerduty.com/v2/enqueue"
#define WEBHOOK_ALERTMANAGER_PATH	"/api/v2/alerts"
#define WEBHOOK_URL_MAX		8192
#define WEBHOOK_SECRET_MAX	4096
#define WEBHOOK_HEADERS_MAX	32

struct webhook_conf {
	char		*url;
	char		*url_file;
	int		 format;	/* enum webhook_format */
	char		*secret_file;
	struct strlist	 headers;	/* "Name: value" */
	char		*ca_file;
	char		*routing_key_file;
};

/* Headers glasswatch sets itself (or libcurl does for it). */
static const char *const webhook_own_headers[] = {
	"content-type", "content-length", "content-encoding", "host",
	"transfer-encoding", "connection", "expect", "user-agent",
	"accept-encoding", "webhook-id", "webhook-timestamp",
	"webhook-signature", NULL
};

static int	webhook_headers_parse(struct cfg *, yaml_node_t *, void *);
static void	webhook_headers_free(void *);

#define W(f)	offsetof(struct webhook_conf, f)
static const struct opt_spec webhook_opts[] = {
	{ .key = "url", .type = OPT_STRING, .offset = W(url) },
	{ .key = "url_file", .type = OPT_SECRET_FILE, .offset = W(url_file) },
	{ .key = "format", .type = OPT_ENUM, .offset = W(format),
	  .names = webhook_format_names, .def = "json" },
	{ .key = "secret_file", .type = OPT_SECRET_FILE,
	  .offset = W(secret_file) },
	{ .key = "headers", .type = OPT_CUSTOM, .offset = W(headers),
	  .custom = webhook_headers_parse,
	  .custom_free = webhook_headers_free },
	{ .key = "ca_file", .type = OPT_FILE, .offset = W(ca_file) },
	{ .key = "routing_key_file", .type = OPT_SECRET_FILE,
	  .offset = W(routing_key_file) },
	OPT_END
};
#undef W

/* ---- configuration -------------------------------------------------- */

/* RFC 9110 token characters: what a header name may hold. */
static int
webhook_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
webhook_header_name_ok(const char *name)
{
	if (*name == '\0')
		return 0;
	for (const unsigned char *p = (const unsigned char *)name;
	    *p != '\0'; p++)
		if (!webhook_tchar(*p))
			return 0;
	return 1;
}

static int
webhook_header_own(const char *name)
{
	for (size_t i = 0; webhook_own_headers[i] != NULL; i++)
		if (strcasecmp(name, webhook_own_headers[i]) == 0)
			return 1;
	return 0;
}

/* Does the list already have a header of that name? */
static int
webhook_header_dup(const struct strlist *l, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < l->n; i++)
		if (strncasecmp(l->v[i], name, len) == 0 &&
		    l->v[i][len] == ':')
			return 1;
	return 0;
}

/* headers: a mapping of name to value. Values are never echoed in errors:
 * they may be credentials (Authorization). */
static int
webhook_headers_parse(struct cfg *cfg, yaml_node_t *n, void *field)
{
	struct strlist *l = field;
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	const char *name, *value;
	int rc = 0;

	if (n == NULL)
		return 0;
	if (n->type != YAML_MAPPING_NODE) {
		cfg_error(cfg, n, "headers: expected a mapping of header "
		    "names to values");
		return -1;
	}
	if (n->data.mapping.pairs.top - n->data.mapping.pairs.start >
	    WEBHOOK_HEADERS_MAX) {
		cfg_error(cfg, n, "headers: at most %d headers",
		    WEBHOOK_HEADERS_MAX);
		return -1;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		k = cfg_node(cfg, p->key);
		v = cfg_node(cfg, p->value);
		if (k == NULL || v == NULL ||
		    (name = cfg_scalar(cfg, k, "a header name")) == NULL ||
		    (value = cfg_scalar(cfg, v, "a header value")) == NULL) {
			rc = -1;
			continue;
		}
		if (!webhook_header_name_ok(name)) {
			cfg_error(cfg, k, "headers: '%s' is not a header name",
			    name);
			rc = -1;
		} else if (webhook_header_own(name)) {
			cfg_error(cfg, k, "headers: %s is set by glasswatch "
			    "and cannot be given", name);
			rc = -1;
		} else if (webhook_header_dup(l, name)) {
			cfg_error(cfg, k, "headers: %s is given twice", name);
			rc = -1;
		} else {
			int bad = 0;

			for (const unsigned char *q =
			    (const unsigned char *)value; *q != '\0'; q++)
				if ((*q < 0x20 && *q != '\t') || *q == 0x7f)
					bad = 1;
			if (bad) {
				cfg_error(cfg, v, "headers: the value of %s "
				    "must not hold control characters (CR, "
				    "LF, ...)", name);
				rc = -1;
			} else {
				char *line = xasprintf("%s: %s", name, value);

				strlist_add(l, line);
				freezero_str(line);
			}
		}
	}
	return rc;
}

static void
webhook_headers_free(void *field)
{
	struct strlist *l = field;

	/* A header value may be a credential. */
	for (size_t i = 0; i < l->n; i++)
		explicit_bzero(l->v[i], strlen(l->v[i]));
	strlist_clear(l);
}

/*
 * A URL the notifier may post to: http(s), naming a host, cleartext only
 * to loopback hosts. creds: may it carry user:password (only a URL kept
 * in url_file may). Returns 0, or -1 with *why, which never repeats the
 * URL: it may hold a token.
 */
static int
webhook_url_check(const char *url, int creds, const char **why)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *part = NULL;
	int rc = -1;

	if ((u = curl_url()) == NULL) {
		*why = "cannot parse the URL";
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0')
		*why = "not a valid URL";
	else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		*why = "the URL must be https:// (or http:// to a loopback "
		    "host)";
	else if (strcmp(scheme, "http") == 0 && !url_is_loopback(url))
		*why = "cleartext http:// is allowed only to a loopback host "
		    "(127.0.0.0/8, ::1, localhost)";
	else if (!creds && (curl_url_get(u, CURLUPART_USER, &part, 0) ==
	    CURLUE_OK || curl_url_get(u, CURLUPART_PASSWORD, &part, 0) ==
	    CURLUE_OK))
		*why = "a URL holding credentials belongs in url_file";
	else
		rc = 0;
	curl_free(part);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* The URL a url_file holds, checked; NULL with *err (caller frees). The
 * caller wipes the URL (freezero_str). */
static char *
webhook_url_read(const char *path, char **err)
{
	const char *why;
	char *url;

	if ((url = secret_file_read(path, "url_file", WEBHOOK_URL_MAX,
	    err)) == NULL)
		return NULL;
	if (webhook_url_check(url, 1, &why) == -1) {
		*err = xasprintf("url_file %s: %s", path, why);
		freezero_str(url);
		return NULL;
	}
	return url;
}

/* The signing key of a secret_file; -1 with *err (caller frees). */
static int
webhook_key_read(const char *path, unsigned char **key, size_t *keylen,
    char **err)
{
	const char *why;
	char *secret;
	int rc;

	if ((secret = secret_file_read(path, "secret_file",
	    WEBHOOK_SECRET_MAX, err)) == NULL)
		return -1;
	rc = webhook_key_decode(secret, key, keylen, &why);
	freezero_str(secret);
	if (rc == -1)
		*err = xasprintf("secret_file %s: %s", path, why);
	return rc;
}

/* The PagerDuty integration key; NULL with *err (caller frees). */
static char *
webhook_routing_key_read(const char *path, char **err)
{
	char *key;

	if ((key = secret_file_read(path, "routing_key_file",
	    WEBHOOK_SECRET_MAX, err)) == NULL)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)key; *p != '\0';
	    p++) {
		if (*p <= 0x20 || *p >= 0x7f) {
			*err = xasprintf("routing_key_file %s: the key must be "
			    "printable ASCII without spaces", path);
			freezero_str(key);
			return NULL;
		}
	}
	return key;
}

/* Files are read once here so that --check finds a bad one; each send
 * reads them again (a rotated file needs no reload). */
static void
webhook_check(struct cfg *cfg, yaml_node_t *map, void *obj)
{
	struct webhook_conf *c = obj;
	yaml_node_t *un = cfg_value(cfg, map, "url");
	yaml_node_t *fn = cfg_value(cfg, map, "url_file");
	yaml_node_t *rn = cfg_value(cfg, map, "routing_key_file");
	unsigned char *key;
	size_t keylen;
	const char *why;
	char *err = NULL, *s;

	if (un != NULL && fn != NULL)
		cfg_error(cfg, fn, "url_file: give url or url_file, not both");
	else if (un == NULL && fn == NULL && c->format != WEBHOOK_PAGERDUTY)
		cfg_error(cfg, map, "a webhook needs url or url_file");
	if (c->url != NULL && webhook_url_check(c->url, 0, &why) == -1)
		cfg_error(cfg, un, "url: %s", why);
	if (c->url_file != NULL) {
		if ((s = webhook_url_read(c->url_file, &err)) == NULL) {
			cfg_error(cfg, fn, "%s", err);
			free(err);
		}
		freezero_str(s);
	}

	if (c->format == WEBHOOK_PAGERDUTY && rn == NULL)
		cfg_error(cfg, map, "format: pagerduty needs routing_key_file");
	else if (c->format != WEBHOOK_PAGERDUTY && rn != NULL)
		cfg_error(cfg, rn, "routing_key_file: only for format: "
		    "pagerduty");
	else if (c->routing_key_file != NULL) {
		if ((s = webhook_routing_key_read(c->routing_key_file,
		    &err)) == NULL) {
			cfg_error(cfg, rn, "%s", err);
			free(err);
		}
		freezero_str(s);
	}

	if (c->secret_file != NULL) {
		if (webhook_key_read(c->secret_file, &key, &keylen, &err) ==
		    -1) {
			cfg_error(cfg, cfg_value(cfg, map, "secret_file"), "%s",
			    err);
			free(err);
		} else
			freezero(key, keylen);
	}
}

/* One pseudo-recipient: where the webhook goes, as an origin (never the
 * path or query, which may be the token). */
static void
webhook_recipients(const void *conf, struct strlist *out)
{
	const struct webhook_conf *c = conf;
	char *url = NULL, *err = NULL, *origin;

	if (c->url != NULL)
		origin = url_origin(c->url);
	else if (c->url_file != NULL && (url = webhook_url_read(c->url_file,
	    &err)) != NULL)
		origin = url_origin(url);
	else if (c->url_file != NULL)
		origin = xstrdup("url_file");	/* send() says why */
	else
		origin = url_origin(WEBHOOK_PAGERDUTY_URL);
	strlist_add(out, origin);
	free(origin);
	freezero_str(url);
	free(err);
}

/* ---- sending -------------------------------------------------------- */

static int
webhook_init(struct notifier *n, char **cause)
{
	const struct webhook_conf *c = n->cfg->conf;

	if (c == NULL || (c->url == NULL && c->url_file == NULL &&
	    c->format != WEBHOOK_PAGERDUTY) || (c->format ==
	    WEBHOOK_PAGERDUTY && c->routing_key_file == NULL)) {
		*cause = xasprintf("%s: incomplete webhook configuration",
		    n->cfg->name);
		return -1;
	}
	return 0;
}

/* base + /api/v2/alerts, keeping the base's path prefix and query. */
static char *
webhook_alertmanager_url(const char *base)
{
	CURLU *u;
	char *path = NULL, *full = NULL, *out, *p;

	if ((u = curl_url()) == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return NULL;
	}
	p = xstrdup(path);
	while (*p != '\0' && p[strlen(p) - 1] == '/')
		p[strlen(p) - 1] = '\0';
	out = xasprintf("%s%s", p, WEBHOOK_ALERTMANAGER_PATH);
	free(p);
	if (curl_url_set(u, CURLUPART_PATH, out, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
		full = NULL;
	free(out);
	out = full != NULL ? xstrdup(full) : NULL;
	if (full != NULL)
		explicit_bzero(full, strlen(full));
	curl_free(full);
	curl_free(path);
	curl_url_cleanup(u);
	return out;
}

/* The URL of this send (caller wipes); NULL with *err. */
static char *
webhook_target(const struct webhook_conf *c, char **err)
{
	char *url, *am;

	if (c->url_file != NULL) {
		if ((url = webhook_url_read(c->url_file, err)) == NULL)
			return NULL;
	} else
		url = xstrdup(c->url != NULL ? c->url : WEBHOOK_PAGERDUTY_URL);
	if (c->format != WEBHOOK_ALERTMANAGER)
		return url;
	am = webhook_alertmanager_url(url);
	freezero_str(url);
	if (am == NULL)
		*err = xstrdup("cannot build the Alertmanager API URL");
	return am;
}

static int
webhook_send(struct notifier *n, struct delivery *d)
{
	const struct webhook_conf *c = n->cfg->conf;
	const char *hdrs[WEBHOOK_HEADERS_MAX + 5];
	struct http_request req;
	unsigned char *key = NULL;
	size_t keylen = 0, len = 0, nh = 0;
	char *url = NULL, *rkey = NULL, *body = NULL, *err = NULL, *why;
	char *hid = NULL, *hts = NULL, *hsig = NULL, *sig;
	int64_t ts;

	if (d->alert == NULL) {
		delivery_done(d, DELIVER_DROP, "webhook: no alert");
		return -1;
	}
	if ((url = webhook_target(c, &err)) == NULL)
		goto fail;
	if (c->format == WEBHOOK_PAGERDUTY && (rkey =
	    webhook_routing_key_read(c->routing_key_file, &err)) == NULL)
		goto fail;
	if (c->secret_file != NULL && webhook_key_read(c->secret_file, &key,
	    &keylen, &err) == -1)
		goto fail;

	body = webhook_format_body((enum webhook_format)c->format, d->alert,
	    rkey, &len);
	hdrs[nh++] = "Content-Type: application/json";
	if (key != NULL) {
		/* The id is the alert's: the same on every retry. */
		ts = time_now_us() / USEC_PER_SEC;
		sig = webhook_sign(key, keylen, d->alert->id, ts, body, len);
		hid = xasprintf("webhook-id: %s", d->alert->id);
		hts = xasprintf("webhook-timestamp: %lld", (long long)ts);
		hsig = xasprintf("webhook-signature: %s", sig);
		free(sig);
		hdrs[nh++] = hid;
		hdrs[nh++] = hts;
		hdrs[nh++] = hsig;
	}
	for (size_t i = 0; i < c->headers.n && i < WEBHOOK_HEADERS_MAX; i++)
		hdrs[nh++] = c->headers.v[i];
	hdrs[nh] = NULL;

	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.body = body;
	req.body_len = len;
	req.ca_file = c->ca_file;
	/* Everything req points to is copied before this returns. */
	notify_http_send(n, d, &req, NULL);

	freezero(body, len);
	freezero_str(url);
	freezero_str(rkey);
	freezero(key, keylen);
	free(hid);
	free(hts);
	free(hsig);
	return 0;

fail:
	why = xasprintf("%s: %s", n->cfg->name, err != NULL ? err : "-");
	free(err);
	freezero_str(url);
	freezero_str(rkey);
	freezero(key, keylen);
	/* An unreadable file can be fixed while the delivery waits. */
	delivery_done(d, DELIVER_RETRY, why);
	free(why);
	return -1;
}

const struct notifier_ops notify_webhook_ops = {
	.type = "webhook",
	.opts = webhook_opts,
	.conf_size = sizeof(struct webhook_conf),
	.check = webhook_check,
	.recipients = webhook_recipients,
	.init = webhook_init,
	.send = webhook_send,
};
