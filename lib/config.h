/* The typed configuration (DESIGN.md "Configuration contract"). Durations
 * are in seconds. A struct config is immutable once loaded: reload builds a
 * new one and swaps it in. */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "strlist.h"

struct notifier_ops;


enum cloud { CLOUD_PUBLIC, CLOUD_USGOV, CLOUD_CHINA, CLOUD_CUSTOM };

struct endpoints {
	char	*login;
	char	*graph;
	char	*log_analytics;
	char	*imds;			/* default http://169.254.169.254 */
};

struct scopes {
	char	*graph;
	char	*log_analytics;
};

enum assertion_alg { ASSERTION_PS256, ASSERTION_RS256 };	/* = jwt_alg */

/* Exactly one kind: a secret (file or environment), a certificate with
 * its private key, or managed identity. */
struct credentials {
	char	*client_id;		/* MI: NULL (system-assigned) or the
					   user-assigned identity */
	char	*client_secret_file;
	char	*client_secret_env;
	char	*certificate_file;
	char	*private_key_file;
	int	 assertion_alg;		/* enum assertion_alg */
	int	 managed_identity;
};

struct la_config {
	int	 enabled;		/* the tenant has log_analytics: */
	char	*workspace_id;
	int64_t	 overlap;
	int64_t	 lookback;
};

struct account {
	char	*object_id;		/* lower case */
	char	*upn;
};

struct tenant_config {
	char			*name;
	char			*tenant_id;
	enum cloud		 cloud;
	struct endpoints	 endpoints;	/* filled from the cloud */
	struct scopes		 scopes;	/* filled from the cloud */
	char			*ca_file;
	struct credentials	 credentials;
	struct la_config	 log_analytics;
	int64_t			 graph_lookback;	/* graph: lookback (s); 0: 2h */
	int			 graph_enabled;		/* the tenant has graph: */
	/* A source failing this long is "monitoring blind" (seconds; 0
	 * in the file: the default, twice its rules' shortest frequency). */
	int64_t			 blind_after;
	/* No row at all in its Log Analytics tables this long: the log
	 * pipeline is silent (seconds, default 6h). */
	int64_t			 silent_after;
	struct account		*break_glass;
	size_t			 nbreak_glass;
};

enum source_kind { SOURCE_LOG_ANALYTICS, SOURCE_GRAPH, SOURCE_COUNT };

enum threshold_op { OP_GT, OP_GE, OP_LT, OP_LE, OP_EQ };

enum match_result { MATCH_ANY, MATCH_SUCCESS, MATCH_FAILURE };

struct match_config {
	enum match_result	 result;
	long			*error_codes;
	size_t			 nerror_codes;
	struct strlist		 activities;
	struct strlist		 categories;
	struct strlist		 services;
	struct strlist		 apps;
};

struct template;

struct rule_config {
	char			*name;
	char			*description;
	struct strlist		 tenants;	/* empty: every tenant */
	enum source_kind	 source;
	enum signal		 signal;
	int			 all_accounts;
	struct strlist		 accounts;	/* object ids or UPNs */
	struct match_config	 match;
	enum threshold_op	 op;
	long			 threshold;
	int64_t			 period;
	int64_t			 frequency;
	long			 severity;	/* 0..4 */
	int64_t			 suppress;	/* 0: off */
	int			 enabled;
	struct strlist		 actions;	/* notifier names */
	char			*subject;
	struct template		*subject_tpl;	/* compiled subject */
};

struct retry_config {
	int64_t	initial;
	int64_t	max;
	int64_t	expire_after;
};

/* At most count messages per `per` seconds to one recipient; more are
 * held and then sent as one batch. count 0: no limit. */
struct rate_limit_config {
	long	count;
	int64_t	per;
};

struct notifier_config {
	char				*name;
	char				*type;
	const struct notifier_ops	*ops;
	void				*conf;	/* ops->conf_size bytes */
	struct retry_config		 retry;
	/* Another notifier the alert also goes to when a delivery through
	 * this one failed for good, expired, or kept failing for
	 * fallback_after seconds. NULL: none. */
	char				*fallback;
	int64_t				 fallback_after;
	struct rate_limit_config	 rate_limit;
};

/* metrics: the listener of /metrics and /healthz (metrics-http.h). */
struct metrics_config {
	char	*listen;	/* "127.0.0.1:9465"; NULL: no listener */
	int	 allow_remote;	/* a non-loopback listen is allowed */
};

struct config {
	char			*path;
	char			*state_dir;
	/* The control socket's directory (drill announcements). */
	char			*runtime_dir;
	int			 log_level;	/* syslog priority */
	int			 log_format;	/* enum log_format */
	int64_t			 http_timeout;
	uint64_t		 http_max_response;
	int64_t			 incident_window;
	int64_t			 history_keep;
	int64_t			 posture_every;	/* seconds; 0: no schedule */
	struct tenant_config	*tenants;
	size_t			 ntenants;
	struct rule_config	*rules;
	size_t			 nrules;
	struct notifier_config	*notifiers;
	size_t			 nnotifiers;
	/* Where system alerts go (DESIGN.md "System alerts"); when the
	 * file has no system_actions: every notifier a rule uses. */
	struct strlist		 system_actions;
	/* drills: actions: notifiers told of announced drills' alerts
	 * besides the rule's own actions. */
	struct strlist		 drill_actions;
	struct metrics_config	 metrics;
};

/* Every error of the file, each "FILE:LINE:COL: message". */
struct config_errors {
	char	**v;
	size_t	  n;
};

/* Returns the configuration, or NULL with every error in errs. */
struct config	*config_load(const char *path, struct config_errors *errs);
/* The same, every error and their count printed on stderr (the one-shot
 * modes). */
struct config	*config_load_report(const char *path);
void		 config_free(struct config *);
void		 config_errors_clear(struct config_errors *);

const struct tenant_config   *config_tenant(const struct config *,
				  const char *name);
const struct notifier_config *config_notifier(const struct config *,
				  const char *name);
/* Does the rule apply to the tenant? */
int	rule_has_tenant(const struct rule_config *, const char *tenant);
/* The break-glass account of the tenant that the rule watches and that
 * the object id names; NULL when it is not one. */
const struct account *rule_account(const struct rule_config *,
			  const struct tenant_config *, const char *object_id);
const char	*source_kind_name(enum source_kind);

#endif
