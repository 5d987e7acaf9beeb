/*
 * Raising a system alert: built like any alert, stored with its
 * deliveries in one transaction.
 */
#include <stdlib.h>

#include "alert.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "store.h"
#include "strlist.h"
#include "sysalert.h"
#include "xmalloc.h"

struct alert *
sysalert_new(int severity, const char *topic, const char *title,
    const char *detail, const char *tenant, const char *tenant_id)
{
	struct alert *a = alert_new(ALERT_SYSTEM);

	a->topic = topic;
	a->rule = xstrdup("glasswatch");
	a->severity = severity;
	a->subject = xasprintf("[Sev%d] glasswatch: %s", severity, title);
	a->description = xstrdup(detail != NULL ? detail : title);
	a->tenant = tenant != NULL ? xstrdup(tenant) : NULL;
	a->tenant_id = tenant_id != NULL ? xstrdup(tenant_id) : NULL;
	return a;
}

int
sysalert_queue(struct store *st, struct outbox *ob,
    const struct strlist *actions, const struct alert *a)
{
	int n;

	if (store_alert_insert(st, a) == -1)
		return -1;
	if ((n = outbox_enqueue(ob, a, actions)) == 0)
		log_crit("system alert %s (%s) has no running notifier to go "
		    "to: check system_actions", a->id, a->subject);
	else if (n > 0) {
		log_warnx("system alert %s raised: %s", a->id, a->subject);
		metrics_alert(a);
	}
	return n;
}

int
sysalert_raise(struct store *st, struct outbox *ob,
    const struct strlist *actions, struct alert *a)
{
	if (store_begin(st) == -1)
		goto fail;
	if (sysalert_queue(st, ob, actions, a) == -1) {
		store_rollback(st);
		goto fail;
	}
	if (store_commit(st) == -1)
		goto fail;
	outbox_kick(ob);
	return 0;
fail:
	log_crit("system alert %s (%s) could not be stored", a->id,
	    a->subject);
	return -1;
}

int
sysalert_say(struct store *st, struct outbox *ob,
    const struct strlist *actions, int severity, const char *topic,
    const char *title, const char *detail, const char *tenant,
    const char *tenant_id)
{
	struct alert *a = sysalert_new(severity, topic, title, detail, tenant,
	    tenant_id);
	int rc = sysalert_raise(st, ob, actions, a);

	alert_free(a);
	return rc;
}
