/*
 * The notifier registry: one const ops struct per notifier file, listed
 * here. Adding a notifier touches its own file and this table.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "notifier.h"
#include "xmalloc.h"

static const struct notifier_ops *const notifier_table[] = {
	&notify_email_ops,
	&notify_heartbeat_ops,
	&notify_sms_ops,
	&notify_webhook_ops,
};

#define NOTIFIER_NTYPES	(sizeof notifier_table / sizeof notifier_table[0])

void
delivery_done(struct delivery *d, enum deliver_result result,
    const char *why)
{
	d->finish(d, result, why);
}

const struct notifier_ops *
notifier_find(const char *type)
{
	if (type == NULL)
		return NULL;
	for (size_t i = 0; i < NOTIFIER_NTYPES; i++)
		if (strcmp(notifier_table[i]->type, type) == 0)
			return notifier_table[i];
	return NULL;
}

struct notifier *
notifier_new(const struct notifier_config *nc, const struct notifier_env *env,
    char **cause)
{
	const struct notifier_ops *ops;
	struct notifier *n;

	if ((ops = nc->ops) == NULL && (ops = notifier_find(nc->type)) ==
	    NULL) {
		*cause = xasprintf("%s: unknown notifier type '%s'",
		    nc->name != NULL ? nc->name : "-",
		    nc->type != NULL ? nc->type : "-");
		return NULL;
	}

	n = xcalloc(1, sizeof *n);
	n->cfg = nc;
	n->ops = ops;
	n->env = *env;
	n->refs = 1;
	if (ops->priv_size > 0)
		n->priv = xcalloc(1, ops->priv_size);
	if (ops->init != NULL && ops->init(n, cause) == -1) {
		freezero(n->priv, ops->priv_size);
		free(n);
		return NULL;
	}
	return n;
}

void
notifier_ref(struct notifier *n)
{
	n->refs++;
}

void
notifier_unref(struct notifier *n)
{
	if (n == NULL || --n->refs > 0)
		return;
	if (n->ops->fini != NULL)
		n->ops->fini(n);
	/* priv may have held a secret. */
	freezero(n->priv, n->ops->priv_size);
	free(n);
}
