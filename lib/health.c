/*
 * Blind and restored sources, and expired secrets, as system alerts.
 */
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "config.h"
#include "duration.h"
#include "health.h"
#include "jwt.h"
#include "log.h"
#include "outbox.h"
#include "record.h"
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

struct health {
	struct store		*store;
	struct outbox		*outbox;
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
health_new(struct store *st, struct outbox *ob)
{
	struct health *h = xcalloc(1, sizeof *h);

	h->store = st;
	h->outbox = ob;
	return h;
}

void
health_free(struct health *h)
{
	if (h == NULL)
		return;
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
    const char *title, const char *detail)
{
	struct alert *a;

	if (h->config == NULL)
		return;
	a = sysalert_new(severity, title, detail, t->name, t->tenant_id);
	(void)sysalert_raise(h->store, h->outbox, &h->config->system_actions,
	    a);
	alert_free(a);
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
	health_raise(h, t, 1, title, detail);
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
	health_raise(h, t, 1, title, detail);
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
		health_raise(h, t, 3, title, detail);
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

static void
health_check_certificate(struct health *h, const struct tenant_config *t,
    int64_t now_us)
{
	enum cert_level level, *said;
	char why[256], when[TIME_ISO_LEN], *title, *detail;
	int64_t not_after, days;

	if (jwt_cert_not_after(t->credentials.certificate_file, &not_after,
	    why, sizeof why) == -1) {
		log_warnx("tenant %s: cannot read the certificate's expiry: %s",
		    t->name, why);
		return;
	}
	days = (not_after - now_us / USEC_PER_SEC) / 86400;
	level = not_after * USEC_PER_SEC <= now_us ? CERT_EXPIRED :
	    days < CERT_WARN_DAYS ? CERT_EXPIRING : CERT_OK;
	said = health_cert_level(h, t->name);
	if (level <= *said) {
		*said = level;	/* a renewed certificate may warn again */
		return;
	}
	*said = level;
	time_format_iso8601_sec(not_after * USEC_PER_SEC, when);
	if (level == CERT_EXPIRED) {
		title = xasprintf("certificate of tenant %s expired", t->name);
		detail = xasprintf("The certificate glasswatchd signs its token "
		    "requests for tenant %s with (%s) expired on %s: Entra "
		    "refuses it, and the tenant's logs cannot be read. Upload a "
		    "new certificate to the app registration and replace "
		    "certificate_file and private_key_file.", t->name,
		    t->credentials.certificate_file, when);
	} else {
		title = xasprintf("certificate of tenant %s expires in %lld "
		    "day%s", t->name, (long long)days, days == 1 ? "" : "s");
		detail = xasprintf("The certificate glasswatchd signs its token "
		    "requests for tenant %s with (%s) expires on %s. Renew it "
		    "before then, or monitoring of the tenant goes blind.",
		    t->name, t->credentials.certificate_file, when);
	}
	log_warnx("tenant %s: %s", t->name, title);
	health_raise(h, t, level == CERT_EXPIRED ? 1 : 2, title, detail);
	free(title);
	free(detail);
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
			health_raise(h, t, 1, title, detail);
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
				health_raise(h, t, 3, title, detail);
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
	a = sysalert_new(1, "the state store fails", why, NULL, NULL);
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
