/* The notifier interface (STYLE.md): a notifier renders, sends and
 * classifies; the core (outbox.c) owns retries, backoff, the durable outbox
 * and metrics. One file per notifier exporting one const ops struct,
 * listed in notifiers.c. */
#ifndef GW_NOTIFIER_H
#define GW_NOTIFIER_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "config.h"

struct alert;
struct cfg;
struct event_base;
struct http_engine;
struct opt_spec;

enum deliver_result { DELIVER_OK, DELIVER_RETRY, DELIVER_DROP };

/* What a notifier runs on. */
struct notifier_env {
	struct event_base	*base;
	struct http_engine	*http;
	const struct config	*config;
};

/* A running notifier: built from its config at start and on reload. Held
 * by reference while a send is in flight, so a reload never frees a
 * notifier under a transfer. */
struct notifier {
	const struct notifier_config	*cfg;
	const struct notifier_ops	*ops;
	struct notifier_env		 env;
	void				*priv;		/* ops->priv_size */
	int				 refs;
};

/* One send of one alert to one recipient of one notifier. */
struct delivery {
	char			*alert_id;
	char			*notifier_name;
	char			*recipient;
	int			 attempts;	/* before this one */
	const struct alert	*alert;
	struct notifier		*notifier;
	/* Set by the notifier before delivery_done when the server asked
	 * for a pause (Retry-After, SMTP 4xx with a hint); -1 otherwise. */
	int64_t			 retry_after;
	/* The owner's (the outbox's, or --test-notify's): delivery_done
	 * hands the outcome to finish, with core for its bookkeeping. */
	void			(*finish)(struct delivery *,
				    enum deliver_result, const char *why);
	void			*core;
};

struct notifier_ops {
	const char		*type;		/* "email" */
	const struct opt_spec	*opts;		/* its YAML keys */
	size_t			 conf_size;	/* the struct opts fill */
	/* Cross-key checks of the parsed conf (errors via cfg_error). */
	void	(*check)(struct cfg *, yaml_node_t *map, void *conf);
	/* The recipients: one delivery row each. Caller frees the list
	 * (strlist_clear). */
	void	(*recipients)(const void *conf, struct strlist *out);
	size_t	  priv_size;
	int	(*init)(struct notifier *, char **cause);
	/* Asynchronous: ends, from the loop, in exactly one delivery_done().
	 * Returns -1 (with delivery_done already called) on immediate
	 * failure. NULL: the notifier carries no alerts (heartbeat). */
	int	(*send)(struct notifier *, struct delivery *);
	/* A poll cycle ended (every poller ran since the last one): ok when
	 * every one of them read; summary names the failures. Optional: for
	 * notifiers that watch the daemon itself. */
	void	(*cycle)(struct notifier *, int ok, const char *summary);
	void	(*fini)(struct notifier *);
};

/* How a send ended; why is logged (never a secret). */
void	delivery_done(struct delivery *, enum deliver_result, const char *why);

/* The notifiers this build has, each in its own file. */
extern const struct notifier_ops notify_email_ops;	/* notify-email.c */
extern const struct notifier_ops notify_heartbeat_ops;	/* notify-heartbeat.c */
extern const struct notifier_ops notify_sms_ops;	/* notify-sms.c */
extern const struct notifier_ops notify_webhook_ops;	/* notify-webhook.c */

/* The registry (notifiers.c). */
const struct notifier_ops	*notifier_find(const char *type);

/* A running notifier holding one reference (init has run), or NULL with
 * *cause (caller frees). send() reads the notifier_config, so it must
 * outlive the sends started; a transfer in flight needs only the
 * reference it holds. */
struct notifier	*notifier_new(const struct notifier_config *,
		    const struct notifier_env *, char **cause);
void		 notifier_ref(struct notifier *);
/* The last reference runs fini and frees the notifier (and its priv,
 * wiped). */
void		 notifier_unref(struct notifier *);

#endif
