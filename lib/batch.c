/*
 * Folding alerts a rate limit held into one batch alert.
 */
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "batch.h"
#include "buf.h"
#include "log.h"
#include "record.h"
#include "store.h"
#include "xmalloc.h"

/* Names shared by every alert carried, else NULL. */
static void
batch_common(char **field, const char *value, int first)
{
	if (first)
		*field = value != NULL ? xstrdup(value) : NULL;
	else if (*field != NULL && (value == NULL ||
	    strcmp(*field, value) != 0)) {
		free(*field);
		*field = NULL;
	}
}

struct alert *
batch_build(struct store *st, const char *notifier, const char *recipient,
    const struct delivery_row *rows, size_t n, int64_t now_us)
{
	struct alert *b, *a;
	struct buf list;
	size_t i, r;

	b = alert_new(ALERT_BATCH);
	b->rule = xstrdup("glasswatch");
	b->severity = 4;
	b->created_us = now_us;
	buf_init(&list);
	buf_printf(&list, "Alerts held by the rate limit of notifier %s:",
	    notifier);
	for (i = 0; i < n; i++) {
		if (store_alert_load(st, rows[i].alert_id, &a) != 1)
			goto fail;
		if (a->severity < b->severity)
			b->severity = a->severity;
		batch_common(&b->tenant, a->tenant, i == 0);
		batch_common(&b->tenant_id, a->tenant_id, i == 0);
		batch_common(&b->account_oid, a->account_oid, i == 0);
		batch_common(&b->account_upn, a->account_upn, i == 0);
		buf_printf(&list, " %s (%s)%s", a->id, a->subject != NULL ?
		    a->subject : alert_kind_name(a->kind), i + 1 < n ? ";" :
		    ".");
		for (r = 0; r < a->nrecords; r++)
			alert_add_record(b, record_dup(a->records[r]));
		alert_free(a);
	}
	b->count = (long)n;
	b->description = buf_steal(&list);
	b->subject = xasprintf("[Sev%d] glasswatch: %zu alerts held by the "
	    "rate limit of %s", b->severity, n, notifier);

	if (store_alert_insert(st, b) == -1 ||
	    store_delivery_insert(st, b->id, notifier, recipient, now_us) != 1)
		goto fail;
	for (i = 0; i < n; i++)
		if (store_delivery_set_batch(st, rows[i].alert_id, notifier,
		    recipient, b->id, now_us) == -1)
			goto fail;
	log_notice("notifier %s: %zu alerts to %s held by its rate limit go "
	    "as batch %s", notifier, n, recipient, b->id);
	return b;

fail:
	buf_free(&list);
	alert_free(b);
	return NULL;
}
