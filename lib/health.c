/*
 * Blind and restored sources, and expired secrets, as system alerts.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alert.h"
#include "auth.h"
#include "config.h"
#include "duration.h"
#include "health.h"
#include "jwt.h"
#include "log.h"
#include "http.h"
#include "outbox.h"
#include "record.h"
#include "secretfile.h"
#include "source.h"
#include "store.h"
#include "sysalert.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Entra's code for a client secret past its expiry. */
#define AADSTS_SECRET_EXPIRED	7000222
/* A certificate this close to its end is worth a warning. */
#define CERT_WARN_DAYS		30

struct source_health {
	char	*key;		/* the poller's */
	int64_t	 failing_since;	/* 0: reading */
	int	 blind;		/* the blind alert was raised */
};

enum cert_level { CERT_OK, CERT_EXPIRING, CERT_EXPIRED };

/* Reading the app's own registration for its client secret's end
 * (Graph, Application.Read.All): per tenant with a client secret. */
struct app_check {
	struct health			*h;
	const struct tenant_config	*t;
	struct auth			*auth;
	struct auth_wait		*wait;
	struct http_call		*call;
	int				 denied;	/* 403/404: not tried again */
};

struct health {
	struct store		*store;
	struct outbox		*outbox;
	struct http_engine	*http;
	struct app_check	**apps;
	size_t			  napps;
	const struct config	*config;
	struct source_health	*v;
	size_t			 n;
	int64_t			 storage_said_us;	/* monotonic */
	int			 storage_in_alert;	/* no recursion */
	/* Certificate levels already said, by tenant name. */
	char			**cert_tenants;
	enum cert_level		 *cert_levels;
	size_t			  ncerts;
};

struct health *
health_new(struct store *st, struct outbox *ob, struct http_engine *http)
{
	struct health *h = xcalloc(1, sizeof *h);

	h->store = st;
	h->outbox = ob;
	h->http = http;
	return h;
}

static void
health_apps_clear(struct health *h)
{
	for (size_t i = 0; i < h->napps; i++) {
		struct app_check *ac = h->apps[i];

		if (ac->wait != NULL)
			auth_cancel(ac->wait);
		http_call_cancel(ac->call);
		auth_free(ac->auth);
		free(ac);
	}
	free(h->apps);
	h->apps = NULL;
	h->napps = 0;
}

void
health_free(struct health *h)
{
	if (h == NULL)
		return;
	health_apps_clear(h);
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].key);
	free(h->v);
	for (size_t i = 0; i < h->ncerts; i++)
		free(h->cert_tenants[i]);
	free(h->cert_tenants);
	free(h->cert_levels);
	free(h);
}

void
health_set_config(struct health *h, const struct config *c)
{
	h->config = c;
	/* The checks point into the tenants: made anew for the new file. */
	health_apps_clear(h);
	if (h->http == NULL)
		return;
	for (size_t i = 0; i < c->ntenants; i++) {
		const struct tenant_config *t = &c->tenants[i];
		struct app_check *ac;

		if (t->credentials.client_secret_file == NULL &&
		    t->credentials.client_secret_env == NULL)
			continue;
		if (t->endpoints.graph == NULL || t->scopes.graph == NULL)
			continue;
		ac = xcalloc(1, sizeof *ac);
		ac->h = h;
		ac->t = t;
		ac->auth = auth_new(h->http, t, t->scopes.graph,
		    (long)(c->http_timeout * 1000));
		h->apps = xreallocarray(h->apps, h->napps + 1,
		    sizeof *h->apps);
		h->apps[h->napps++] = ac;
	}
}

static struct source_health *
health_source(struct health *h, const char *key)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].key, key) == 0)
			return &h->v[i];
	h->v = xreallocarray(h->v, h->n + 1, sizeof *h->v);
	memset(&h->v[h->n], 0, sizeof h->v[h->n]);
	h->v[h->n].key = xstrdup(key);
	return &h->v[h->n++];
}

static void
health_raise(struct health *h, const struct tenant_config *t, int severity,
    const char *topic, const char *title, const char *detail)
{
	if (h->config != NULL)
		(void)sysalert_say(h->store, h->outbox,
		    &h->config->system_actions, severity, topic, title, detail,
		    t->name, t->tenant_id);
}

/* The time since a moment, as "25m" or "3h". */
static char *
health_age(int64_t since_us, int64_t now_us)
{
	char buf[32];

	duration_format((now_us - since_us) / USEC_PER_SEC, buf, sizeof buf);
	return xstrdup(buf);
}

static void
health_secret_expired(struct health *h, const struct tenant_config *t,
    const char *why)
{
	char *title, *detail;

	title = xasprintf("client secret of tenant %s expired", t->name);
	detail = xasprintf("The token endpoint refused the client secret of "
	    "tenant %s (%s) as expired (AADSTS%d): glasswatchd cannot read "
	    "its sign-in and audit logs, so a break-glass sign-in there is "
	    "not seen. Create a new secret for the app registration, put it "
	    "in the tenant's client_secret_file; it is read at the next "
	    "token request, no reload needed. What happened meanwhile is "
	    "read then. (%s)", t->name, t->tenant_id, AADSTS_SECRET_EXPIRED,
	    why != NULL ? why : "-");
	health_raise(h, t, 1, SYSALERT_CREDENTIAL_EXPIRY, title, detail);
	free(title);
	free(detail);
}

void
health_failed(struct health *h, const struct tenant_config *t,
    const char *key, const char *why, long aadsts, int64_t now_us)
{
	struct source_health *s;
	char since[TIME_ISO_LEN], *title, *detail, *age;

	if (h == NULL)
		return;
	s = health_source(h, key);
	if (s->failing_since == 0)
		s->failing_since = now_us;
	if (s->blind)
		return;
	if (aadsts == AADSTS_SECRET_EXPIRED) {
		/* Nothing will read until someone acts: say so now, and
		 * count it as this source's blind alert. */
		s->blind = 1;
		health_secret_expired(h, t, why);
		return;
	}
	if (now_us - s->failing_since < t->blind_after * USEC_PER_SEC)
		return;
	s->blind = 1;
	time_format_iso8601_sec(s->failing_since, since);
	age = health_age(s->failing_since, now_us);
	title = xasprintf("monitoring blind: %s", key);
	detail = xasprintf("glasswatchd has not read %s since %s (%s, longer "
	    "than blind_after): %s. A break-glass sign-in in this time is not "
	    "seen until the source reads again; then nothing is lost (its "
	    "cursor is kept). Check the credentials, the app's permissions "
	    "and the service's health.", key, since, age,
	    why != NULL ? why : "-");
	log_crit("tenant %s: %s is blind since %s: %s", t->name, key, since,
	    why != NULL ? why : "-");
	health_raise(h, t, 1, SYSALERT_BLIND, title, detail);
	free(age);
	free(title);
	free(detail);
}

void
health_ok(struct health *h, const struct tenant_config *t, const char *key,
    int64_t now_us)
{
	struct source_health *s;
	char *title, *detail, *age;

	if (h == NULL)
		return;
	s = health_source(h, key);
	if (s->blind) {
		age = health_age(s->failing_since, now_us);
		title = xasprintf("monitoring restored: %s", key);
		detail = xasprintf("glasswatchd reads %s again after %s "
		    "without; the records of that time are read now and "
		    "alerted as usual.", key, age);
		log_notice("tenant %s: %s reads again after %s", t->name, key,
		    age);
		health_raise(h, t, 3, SYSALERT_RESTORED, title, detail);
		free(age);
		free(title);
		free(detail);
	}
	s->failing_since = 0;
	s->blind = 0;
}

/* The level already said for the tenant's certificate. */
static enum cert_level *
health_cert_level(struct health *h, const char *tenant)
{
	for (size_t i = 0; i < h->ncerts; i++)
		if (strcmp(h->cert_tenants[i], tenant) == 0)
			return &h->cert_levels[i];
	h->cert_tenants = xreallocarray(h->cert_tenants, h->ncerts + 1,
	    sizeof *h->cert_tenants);
	h->cert_levels = xreallocarray(h->cert_levels, h->ncerts + 1,
	    sizeof *h->cert_levels);
	h->cert_tenants[h->ncerts] = xstrdup(tenant);
	h->cert_levels[h->ncerts] = CERT_OK;
	return &h->cert_levels[h->ncerts++];
}

/*
 * A credential with an end: one within CERT_WARN_DAYS of it is a Sev-2
 * warning, one past it Sev 1; each level said once (per credential and
 * tenant), and said again after a renewal lowered it.
 */
static void
health_expiry(struct health *h, const struct tenant_config *t,
    const char *what, const char *where, int64_t not_after, int64_t now_us)
{
	enum cert_level level, *said;
	char when[TIME_ISO_LEN], *key, *title, *detail;
	int64_t days;

	days = (not_after - now_us / USEC_PER_SEC) / 86400;
	level = not_after * USEC_PER_SEC <= now_us ? CERT_EXPIRED :
	    days < CERT_WARN_DAYS ? CERT_EXPIRING : CERT_OK;
	key = xasprintf("%s:%s", what, t->name);
	said = health_cert_level(h, key);
	free(key);
	if (level <= *said) {
		*said = level;	/* a renewed one may warn again */
		return;
	}
	*said = level;
	time_format_iso8601_sec(not_after * USEC_PER_SEC, when);
	if (level == CERT_EXPIRED) {
		title = xasprintf("%s of tenant %s expired", what, t->name);
		detail = xasprintf("The %s glasswatchd authenticates to tenant "
		    "%s with (%s) expired on %s: Entra refuses it, and the "
		    "tenant's logs cannot be read. Create a new one in the app "
		    "registration and put it in place.", what, t->name, where,
		    when);
	} else {
		title = xasprintf("%s of tenant %s expires in %lld day%s",
		    what, t->name, (long long)days, days == 1 ? "" : "s");
		detail = xasprintf("The %s glasswatchd authenticates to tenant "
		    "%s with (%s) expires on %s. Renew it before then, or "
		    "monitoring of the tenant goes blind.", what, t->name,
		    where, when);
	}
	log_warnx("tenant %s: %s", t->name, title);
	health_raise(h, t, level == CERT_EXPIRED ? 1 : 2,
	    SYSALERT_CREDENTIAL_EXPIRY, title, detail);
	free(title);
	free(detail);
}

static void
health_check_certificate(struct health *h, const struct tenant_config *t,
    int64_t now_us)
{
	char why[256];
	int64_t not_after;

	if (jwt_cert_not_after(t->credentials.certificate_file, &not_after,
	    why, sizeof why) == -1) {
		log_warnx("tenant %s: cannot read the certificate's expiry: %s",
		    t->name, why);
		return;
	}
	health_expiry(h, t, "certificate", t->credentials.certificate_file,
	    not_after, now_us);
}

/* The first three characters of the secret in use: Graph's "hint" of a
 * password credential, the only way to tell which one is ours. */
static int
health_secret_hint(const struct tenant_config *t, char hint[4])
{
	const struct credentials *cr = &t->credentials;
	char *secret = NULL, *err = NULL;
	const char *env;

	if (cr->client_secret_file != NULL) {
		if ((secret = secret_file_read(cr->client_secret_file,
		    "client_secret_file", 16384, &err)) == NULL) {
			free(err);
			return -1;
		}
	} else if ((env = getenv(cr->client_secret_env)) != NULL)
		secret = xstrdup(env);
	if (secret == NULL || strlen(secret) < 3) {
		freezero_str(secret);
		return -1;
	}
	memcpy(hint, secret, 3);
	hint[3] = '\0';
	freezero_str(secret);
	return 0;
}

static void
app_response_cb(const struct http_response *r, void *arg)
{
	struct app_check *ac = arg;
	const struct tenant_config *t = ac->t;
	json_t *root, *creds, *c;
	const char *hint, *end;
	char mine[4];
	int64_t end_us = 0;
	size_t i;

	ac->call = NULL;
	if (r->status == 403 || r->status == 404) {
		ac->denied = 1;
		log_notice("tenant %s: the app may not read its own registration "
		    "(HTTP %ld; Application.Read.All): its client secret's "
		    "expiry is not checked", t->name, r->status);
		return;
	}
	if (r->status != 200) {
		log_info("tenant %s: reading the app registration: %s%ld",
		    t->name, r->error != NULL ? r->error : "HTTP ",
		    r->error != NULL ? 0L : r->status);
		return;
	}
	if (health_secret_hint(t, mine) == -1 ||
	    (root = json_loadb(r->body, r->body_len, 0, NULL)) == NULL)
		return;
	creds = json_object_get(root, "passwordCredentials");
	json_array_foreach(creds, i, c) {
		hint = json_string_value(json_object_get(c, "hint"));
		end = json_string_value(json_object_get(c, "endDateTime"));
		if (hint != NULL && strcmp(hint, mine) == 0 && end != NULL &&
		    time_parse_iso8601(end, &end_us) == 0)
			break;
		end_us = 0;
	}
	json_decref(root);
	explicit_bzero(mine, sizeof mine);
	if (end_us == 0) {
		log_info("tenant %s: no credential of the app registration "
		    "matches the client secret in use", t->name);
		return;
	}
	health_expiry(ac->h, t, "client secret",
	    t->credentials.client_secret_file != NULL ?
	    t->credentials.client_secret_file : t->credentials.client_secret_env,
	    end_us / USEC_PER_SEC, time_now_us());
}

static void
app_token_cb(const char *token, const struct auth_error *err, void *arg)
{
	struct app_check *ac = arg;
	const struct tenant_config *t = ac->t;
	struct http_request req;
	const char *headers[3];
	char *url, *auth;
	size_t elen;

	(void)err;
	ac->wait = NULL;
	if (token == NULL)
		return;		/* the pollers report token trouble */
	elen = strlen(t->endpoints.graph);
	while (elen > 0 && t->endpoints.graph[elen - 1] == '/')
		elen--;
	url = xasprintf("%.*s/v1.0/applications(appId='%s')?$select="
	    "passwordCredentials", (int)elen, t->endpoints.graph,
	    t->credentials.client_id);
	auth = xasprintf("Authorization: Bearer %s", token);
	headers[0] = auth;
	headers[1] = "Accept: application/json";
	headers[2] = NULL;
	memset(&req, 0, sizeof req);
	req.method = "GET";
	req.url = url;
	req.headers = headers;
	req.ca_file = t->ca_file;
	req.max_response = 1024 * 1024;
	ac->call = http_request(ac->h->http, &req, app_response_cb, ac);
	freezero_str(auth);
	free(url);
}

void
health_check_credentials(struct health *h, int64_t now_us)
{
	if (h == NULL || h->config == NULL)
		return;
	for (size_t i = 0; i < h->config->ntenants; i++) {
		const struct tenant_config *t = &h->config->tenants[i];

		if (t->credentials.certificate_file != NULL)
			health_check_certificate(h, t, now_us);
	}
	for (size_t i = 0; i < h->napps; i++) {
		struct app_check *ac = h->apps[i];

		if (!ac->denied && ac->wait == NULL && ac->call == NULL)
			ac->wait = auth_get(ac->auth, app_token_cb, ac);
	}
}

void
health_pipeline(struct health *h, const struct tenant_config *t,
    unsigned checked, unsigned alive)
{
	struct source_health *s;
	const char *table;
	char *key, *title, *detail, *age;
	int64_t now = time_now_us();

	if (h == NULL)
		return;
	for (int sig = 0; sig < SIGNAL_COUNT; sig++) {
		if ((checked & SIGNAL_BIT(sig)) == 0 ||
		    (table = source_la_table((enum signal)sig)) == NULL)
			continue;
		key = xasprintf("%s/log_analytics/%s (pipeline)", t->name,
		    table);
		s = health_source(h, key);
		free(key);
		if ((alive & SIGNAL_BIT(sig)) == 0) {
			if (s->failing_since == 0)
				s->failing_since = now;
			if (s->blind)
				continue;
			s->blind = 1;
			age = health_age(0, t->silent_after * USEC_PER_SEC);
			title = xasprintf("log pipeline silent: tenant %s, %s",
			    t->name, table);
			detail = xasprintf("No row at all, of any user, reached "
			    "%s in the Log Analytics workspace of tenant %s for "
			    "%s (silent_after). The usual cause is a diagnostic "
			    "setting that was removed or changed, in Entra ID > "
			    "Diagnostic settings: while it is, no break-glass "
			    "sign-in can be seen there. Restore the export; the "
			    "Graph source, where configured, still reads.",
			    table, t->name, age);
			log_crit("tenant %s: %s received nothing for %s",
			    t->name, table, age);
			health_raise(h, t, 1, SYSALERT_PIPELINE_SILENT,
			    title, detail);
			free(age);
			free(title);
			free(detail);
		} else {
			if (s->blind) {
				title = xasprintf("log pipeline flowing again: "
				    "tenant %s, %s", t->name, table);
				detail = xasprintf("%s of tenant %s receives "
				    "rows again.", table, t->name);
				log_notice("tenant %s: %s receives rows again",
				    t->name, table);
				health_raise(h, t, 3,
				    SYSALERT_PIPELINE_RESTORED, title, detail);
				free(title);
				free(detail);
			}
			s->failing_since = 0;
			s->blind = 0;
		}
	}
}

/* Once an hour is enough to say the disk is full. */
#define STORAGE_ALERT_EVERY	(3600 * USEC_PER_SEC)

void
health_storage_failed(struct health *h, const char *why)
{
	struct alert *a;
	int64_t now = time_mono_us();

	if (h == NULL || h->config == NULL || h->storage_in_alert ||
	    (h->storage_said_us != 0 &&
	    now - h->storage_said_us < STORAGE_ALERT_EVERY))
		return;
	h->storage_said_us = now;
	h->storage_in_alert = 1;
	a = sysalert_new(1, SYSALERT_STORAGE, "the state store fails", why,
	    NULL, NULL);
	free(a->description);
	a->description = xasprintf("glasswatchd cannot write its state store "
	    "(%s). Records, alerts and deliveries cannot be kept until it is "
	    "fixed: free disk space, or make the state directory writable "
	    "again. Polls are retried and nothing is marked read meanwhile.",
	    why);
	/* The store may still take it (an I/O error on one file, not a full
	 * disk); else straight from memory. */
	if (sysalert_raise(h->store, h->outbox, &h->config->system_actions,
	    a) == 0)
		alert_free(a);
	else
		outbox_send_direct(h->outbox, a);
	h->storage_in_alert = 0;
}
