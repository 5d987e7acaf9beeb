/*
 * glasswatch's configuration schema: the option tables for every key of
 * DESIGN.md's configuration contract, the per-mapping checks, and the
 * checks across the file (names that must exist, names that must be
 * unique). Keys of features this build does not have are rejected with
 * "not supported in this build".
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "cfgparse.h"
#include "config.h"
#include "guid.h"
#include "http.h"
#include "jwt.h"
#include "log.h"
#include "metrics-http.h"
#include "notifier.h"
#include "source.h"
#include "strlist.h"
#include "template.h"
#include "xmalloc.h"

#define DEFAULT_STATE_DIR	"/var/lib/glasswatch"
#define DEFAULT_RUNTIME_DIR	"/run/glasswatch"
#define DEFAULT_SUBJECT		"[Sev{severity}] {rule}: {upn} from {ip}"
#define DEFAULT_IMDS		"http://169.254.169.254"

static const char *const cloud_names[] = {
	"public", "usgov", "china", "custom", NULL
};
static const char *const source_names[] = { "log_analytics", "graph", NULL };
static const char *const signal_names[] = {
	"sign_in", "non_interactive_sign_in", "audit", NULL
};
static const char *const op_names[] = { "gt", "ge", "lt", "le", "eq", NULL };
static const char *const result_names[] = {
	"any", "success", "failure", NULL
};
static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
	NULL
};
static const char *const format_names[] = { "text", "json", NULL };
static const char *const alg_names[] = { "PS256", "RS256", NULL };

_Static_assert((int)ASSERTION_PS256 == (int)JWT_PS256 &&
    (int)ASSERTION_RS256 == (int)JWT_RS256, "assertion_alg is a jwt_alg");

/* Endpoints and token scopes of each national cloud (API-FACTS 1.7). */
static const struct {
	const char *login, *graph, *log_analytics, *graph_scope, *la_scope;
} cloud_table[] = {
	[CLOUD_PUBLIC] = { "https://login.microsoftonline.com",
	    "https://graph.microsoft.com", "https://api.loganalytics.azure.com",
	    "https://graph.microsoft.com/.default",
	    "https://api.loganalytics.io/.default" },
	[CLOUD_USGOV] = { "https://login.microsoftonline.us",
	    "https://graph.microsoft.us", "https://api.loganalytics.us",
	    "https://graph.microsoft.us/.default",
	    "https://api.loganalytics.us/.default" },
	[CLOUD_CHINA] = { "https://login.partner.microsoftonline.cn",
	    "https://microsoftgraph.chinacloudapi.cn",
	    "https://api.loganalytics.azure.cn",
	    "https://microsoftgraph.chinacloudapi.cn/.default",
	    "https://api.loganalytics.azure.cn/.default" },
	/* custom: endpoints come from the file; scopes default to public. */
	[CLOUD_CUSTOM] = { NULL, NULL, NULL,
	    "https://graph.microsoft.com/.default",
	    "https://api.loganalytics.io/.default" },
};

/* ---- tenants ------------------------------------------------------- */

/* The instance metadata service is link-local by definition, so http:// is
 * allowed to 169.254.0.0/16 as well as to loopback hosts (tests). */
static int
imds_parse(struct cfg *cfg, yaml_node_t *n, void *field)
{
	CURLU		*u;
	char		*scheme = NULL, *host = NULL, *s;
	const char	*text;
	struct in_addr	 a4;
	int		 rc = -1;

	if (n == NULL)
		return 0;	/* tenant_check fills the default */
	if ((text = cfg_scalar(cfg, n, "a URL")) == NULL)
		return -1;
	u = curl_url();
	if (curl_url_set(u, CURLUPART_URL, text, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		cfg_error(cfg, n, "imds: not a valid URL");
	else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		cfg_error(cfg, n, "imds: the URL must be http:// or https://");
	else if (strcmp(scheme, "http") == 0 && !url_is_loopback(text) &&
	    !(inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 16) == 0xa9fe))
		cfg_error(cfg, n, "imds: cleartext http:// is allowed only to "
		    "the link-local metadata address (169.254.0.0/16) or a "
		    "loopback host");
	else {
		s = xstrdup(text);
		while (strlen(s) > 0 && s[strlen(s) - 1] == '/')
			s[strlen(s) - 1] = '\0';
		free(*(char **)field);
		*(char **)field = s;
		rc = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static void
imds_free(void *field)
{
	free(*(char **)field);
	*(char **)field = NULL;
}

#define E(f)	offsetof(struct endpoints, f)
static const struct opt_spec endpoints_opts[] = {
	{ .key = "login", .type = OPT_URL, .offset = E(login) },
	{ .key = "graph", .type = OPT_URL, .offset = E(graph) },
	{ .key = "log_analytics", .type = OPT_URL, .offset = E(log_analytics) },
	{ .key = "imds", .type = OPT_CUSTOM, .offset = E(imds),
	  .custom = imds_parse, .custom_free = imds_free },
	OPT_END
};
#undef E

#define S(f)	offsetof(struct scopes, f)
static const struct opt_spec scopes_opts[] = {
	{ .key = "graph", .type = OPT_STRING, .offset = S(graph) },
	{ .key = "log_analytics", .type = OPT_STRING,
	  .offset = S(log_analytics) },
	OPT_END
};
#undef S

/* Exactly one kind of credential; a certificate and its key must parse
 * and belong together now, so --check catches a wrong pair. */
static void
credentials_check(struct cfg *cfg, yaml_node_t *map, void *obj)
{
	struct credentials *c = obj;
	yaml_node_t *file = cfg_key(cfg, map, "client_secret_file");
	yaml_node_t *env = cfg_value(cfg, map, "client_secret_env");
	yaml_node_t *cert = cfg_value(cfg, map, "certificate_file");
	yaml_node_t *key = cfg_value(cfg, map, "private_key_file");
	yaml_node_t *alg = cfg_key(cfg, map, "assertion_alg");
	yaml_node_t *mi = cfg_key(cfg, map, "managed_identity");
	yaml_node_t *kinds[4], *second = NULL;
	char why[512];
	size_t nkinds = 0;

	if (file != NULL)
		kinds[nkinds++] = file;
	if (env != NULL)
		kinds[nkinds++] = env;
	if (cert != NULL || key != NULL)
		kinds[nkinds++] = cert != NULL ? cfg_key(cfg, map,
		    "certificate_file") : cfg_key(cfg, map,
		    "private_key_file");
	if (mi != NULL && c->managed_identity)
		kinds[nkinds++] = mi;
	if (nkinds > 1) {
		/* Point at whichever of them comes second in the file. */
		yaml_node_t *first = kinds[0];

		for (size_t i = 1; i < nkinds; i++)
			if (kinds[i]->start_mark.index < first->start_mark.index)
				first = kinds[i];
		for (size_t i = 0; i < nkinds; i++)
			if (kinds[i] != first && (second == NULL ||
			    kinds[i]->start_mark.index <
			    second->start_mark.index))
				second = kinds[i];
	}

	if (nkinds == 0)
		cfg_error(cfg, map, "credentials need one of "
		    "client_secret_file, client_secret_env, certificate_file "
		    "with private_key_file, or managed_identity: true");
	else if (nkinds > 1 && file != NULL && env != NULL && nkinds == 2)
		cfg_error(cfg, env, "give client_secret_file or "
		    "client_secret_env, not both");
	else if (nkinds > 1)
		cfg_error(cfg, second, "give one kind of credential: "
		    "client_secret_file, client_secret_env, certificate_file "
		    "with private_key_file, or managed_identity");
	else if (c->client_secret_env != NULL) {
		const char *v = getenv(c->client_secret_env);

		if (v == NULL || *v == '\0')
			cfg_error(cfg, env, "environment variable %s is not "
			    "set", c->client_secret_env);
	}

	if (cfg_key(cfg, map, "client_id") == NULL && !c->managed_identity)
		cfg_error(cfg, map, "missing key 'client_id'");
	if ((cert != NULL) != (key != NULL))
		cfg_error(cfg, map, "%s needs %s too", cert != NULL ?
		    "certificate_file" : "private_key_file", cert != NULL ?
		    "private_key_file" : "certificate_file");
	if (alg != NULL && cert == NULL && key == NULL)
		cfg_error(cfg, alg, "assertion_alg applies only to a "
		    "certificate credential (certificate_file)");
	/* Both named files exist (or an error was reported already). */
	if (c->certificate_file != NULL && c->private_key_file != NULL) {
		switch (jwt_check_files(c->certificate_file,
		    c->private_key_file, why, sizeof why)) {
		case JWT_BAD_NONE:
			break;
		case JWT_BAD_CERT:
			cfg_error(cfg, cert, "certificate_file: %s", why);
			break;
		case JWT_BAD_KEY:
		case JWT_BAD_PAIR:
			cfg_error(cfg, key, "private_key_file: %s", why);
			break;
		}
	}
}

#define C(f)	offsetof(struct credentials, f)
static const struct opt_spec credentials_opts[] = {
	/* Required unless managed_identity (credentials_check). */
	{ .key = "client_id", .type = OPT_GUID, .offset = C(client_id) },
	{ .key = "client_secret_file", .type = OPT_SECRET_FILE,
	  .offset = C(client_secret_file) },
	{ .key = "client_secret_env", .type = OPT_STRING,
	  .offset = C(client_secret_env) },
	{ .key = "certificate_file", .type = OPT_FILE,
	  .offset = C(certificate_file) },
	{ .key = "private_key_file", .type = OPT_SECRET_FILE,
	  .offset = C(private_key_file) },
	{ .key = "assertion_alg", .type = OPT_ENUM,
	  .offset = C(assertion_alg), .names = alg_names, .def = "PS256" },
	{ .key = "managed_identity", .type = OPT_BOOL,
	  .offset = C(managed_identity), .def = "false" },
	{ .key = NULL, .check = credentials_check }
};
#undef C

#define L(f)	offsetof(struct la_config, f)
static const struct opt_spec la_opts[] = {
	{ .key = "workspace_id", .type = OPT_GUID, .offset = L(workspace_id),
	  .flags = OPT_REQUIRED },
	{ .key = "overlap", .type = OPT_DURATION0, .offset = L(overlap),
	  .def = "2m" },
	{ .key = "lookback", .type = OPT_DURATION, .offset = L(lookback),
	  .def = "2d" },
	OPT_END
};
#undef L

/* graph: { lookback }, read into tenant_config.graph_lookback. */
static const struct opt_spec graph_opts[] = {
	{ .key = "lookback", .type = OPT_DURATION, .offset = 0, .def = "2h" },
	OPT_END
};

#define A(f)	offsetof(struct account, f)
static const struct opt_spec account_opts[] = {
	{ .key = "object_id", .type = OPT_GUID, .offset = A(object_id),
	  .flags = OPT_REQUIRED },
	{ .key = "upn", .type = OPT_STRING, .offset = A(upn) },
	OPT_END
};
#undef A

static void
tenant_check(struct cfg *cfg, yaml_node_t *map, void *obj)
{
	struct tenant_config *t = obj;
	yaml_node_t *ep = cfg_value(cfg, map, "endpoints");

	/* endpoints.imds is the one endpoint a national cloud does not
	 * decide: it belongs to the machine. */
	if (t->cloud != CLOUD_CUSTOM && ep != NULL &&
	    (cfg_key(cfg, ep, "login") != NULL ||
	    cfg_key(cfg, ep, "graph") != NULL ||
	    cfg_key(cfg, ep, "log_analytics") != NULL))
		cfg_error(cfg, ep, "endpoints are set by the cloud; use "
		    "cloud: custom to give them");
	if (t->endpoints.imds == NULL)
		t->endpoints.imds = xstrdup(DEFAULT_IMDS);
	if (t->cloud == CLOUD_CUSTOM) {
		/* A given but invalid endpoint was reported already. */
		if (cfg_value(cfg, ep, "login") == NULL)
			cfg_error(cfg, ep != NULL ? ep : map, "cloud: custom "
			    "needs endpoints.login");
		if (t->log_analytics.enabled &&
		    cfg_value(cfg, ep, "log_analytics") == NULL)
			cfg_error(cfg, ep != NULL ? ep : map, "cloud: custom "
			    "needs endpoints.log_analytics");
		if (t->graph_enabled && cfg_value(cfg, ep, "graph") == NULL)
			cfg_error(cfg, ep != NULL ? ep : map, "cloud: custom "
			    "needs endpoints.graph");
	} else {
		free(t->endpoints.login);
		free(t->endpoints.graph);
		free(t->endpoints.log_analytics);
		t->endpoints.login = xstrdup(cloud_table[t->cloud].login);
		t->endpoints.graph = xstrdup(cloud_table[t->cloud].graph);
		t->endpoints.log_analytics =
		    xstrdup(cloud_table[t->cloud].log_analytics);
	}
	if (t->scopes.graph == NULL)
		t->scopes.graph = xstrdup(cloud_table[t->cloud].graph_scope);
	if (t->scopes.log_analytics == NULL)
		t->scopes.log_analytics =
		    xstrdup(cloud_table[t->cloud].la_scope);
	if (cfg_key(cfg, map, "break_glass") != NULL && t->nbreak_glass == 0)
		cfg_error(cfg, cfg_value(cfg, map, "break_glass"),
		    "break_glass lists no account");
	for (size_t i = 0; i < t->nbreak_glass; i++)
		for (size_t j = 0; j < i; j++)
			if (t->break_glass[i].object_id != NULL &&
			    guid_equal(t->break_glass[i].object_id,
				t->break_glass[j].object_id))
				cfg_error(cfg, cfg_value(cfg, map,
				    "break_glass"), "break_glass lists %s twice",
				    t->break_glass[i].object_id);
}

#define T(f)	offsetof(struct tenant_config, f)
static const struct opt_spec tenant_opts[] = {
	{ .key = "name", .type = OPT_STRING, .offset = T(name),
	  .flags = OPT_REQUIRED },
	{ .key = "tenant_id", .type = OPT_GUID, .offset = T(tenant_id),
	  .flags = OPT_REQUIRED },
	{ .key = "cloud", .type = OPT_ENUM, .offset = T(cloud),
	  .names = cloud_names, .def = "public" },
	{ .key = "endpoints", .type = OPT_MAP, .offset = T(endpoints),
	  .sub = endpoints_opts },
	{ .key = "scopes", .type = OPT_MAP, .offset = T(scopes),
	  .sub = scopes_opts },
	{ .key = "ca_file", .type = OPT_FILE, .offset = T(ca_file) },
	{ .key = "credentials", .type = OPT_MAP, .offset = T(credentials),
	  .sub = credentials_opts, .flags = OPT_REQUIRED },
	{ .key = "log_analytics", .type = OPT_MAP, .offset = T(log_analytics),
	  .sub = la_opts, .flags = OPT_SET_FLAG,
	  .count_offset = T(log_analytics.enabled) },
	{ .key = "graph", .type = OPT_MAP, .offset = T(graph_lookback),
	  .sub = graph_opts, .flags = OPT_SET_FLAG,
	  .count_offset = T(graph_enabled) },
	{ .key = "blind_after", .type = OPT_DURATION,
	  .offset = T(blind_after) },
	{ .key = "silent_after", .type = OPT_DURATION,
	  .offset = T(silent_after), .def = "6h" },
	{ .key = "break_glass", .type = OPT_LIST, .offset = T(break_glass),
	  .sub = account_opts, .elem_size = sizeof(struct account),
	  .count_offset = T(nbreak_glass), .flags = OPT_REQUIRED },
	{ .key = NULL, .check = tenant_check }
};
#undef T

/* ---- rules --------------------------------------------------------- */

#define M(f)	offsetof(struct match_config, f)
static const struct opt_spec match_opts[] = {
	{ .key = "result", .type = OPT_ENUM, .offset = M(result),
	  .names = result_names, .def = "any" },
	{ .key = "error_codes", .type = OPT_INTLIST, .offset = M(error_codes),
	  .count_offset = M(nerror_codes) },
	{ .key = "activities", .type = OPT_STRLIST, .offset = M(activities) },
	{ .key = "categories", .type = OPT_STRLIST, .offset = M(categories) },
	{ .key = "services", .type = OPT_STRLIST, .offset = M(services) },
	{ .key = "apps", .type = OPT_STRLIST, .offset = M(apps) },
	OPT_END
};
#undef M

struct threshold {
	int	op;
	long	value;
};

static void
threshold_check(struct cfg *cfg, yaml_node_t *map, void *obj)
{
	struct threshold *t = obj;
	yaml_node_t *v = cfg_value(cfg, map, "value");

	if (t->value < 0)
		cfg_error(cfg, v, "value: must be 0 or more");
	else if (t->op == OP_LT && t->value == 0)
		cfg_error(cfg, v, "value: 'lt 0' can never hold");
}

static const struct opt_spec threshold_opts[] = {
	{ .key = "operator", .type = OPT_ENUM, .offset =
	  offsetof(struct threshold, op), .names = op_names,
	  .flags = OPT_REQUIRED },
	{ .key = "value", .type = OPT_INT, .offset =
	  offsetof(struct threshold, value), .flags = OPT_REQUIRED },
	{ .key = NULL, .check = threshold_check }
};

/* accounts: all, or a list of object ids / UPNs. */
struct accounts_field {
	int		all;
	struct strlist	list;
};

static int
accounts_parse(struct cfg *cfg, yaml_node_t *n, void *field)
{
	struct accounts_field *a = field;
	yaml_node_item_t *it;

	if (n == NULL) {
		a->all = 1;
		return 0;
	}
	if (n->type == YAML_SCALAR_NODE) {
		if (strcmp((char *)n->data.scalar.value, "all") == 0) {
			a->all = 1;
			return 0;
		}
		cfg_error(cfg, n, "accounts: expected 'all' or a list of "
		    "object IDs or UPNs");
		return -1;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		cfg_error(cfg, n, "accounts: expected 'all' or a list");
		return -1;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		const char *s = cfg_scalar(cfg, cfg_node(cfg, *it),
		    "an object ID or UPN");

		if (s != NULL)
			strlist_add(&a->list, s);
	}
	if (a->list.n == 0) {
		cfg_error(cfg, n, "accounts: the list is empty");
		return -1;
	}
	return 0;
}

static void
accounts_free(void *field)
{
	strlist_clear(&((struct accounts_field *)field)->list);
}

/* match: keys that only one kind of record carries. A rule selecting on a
 * field its signal's records never have could never fire: that is an error,
 * not a silent rule. */
static void
rule_match_check(struct cfg *cfg, yaml_node_t *map,
    const struct rule_config *r)
{
	static const struct {
		const char	*key;
		int		 audit;		/* audit only, else sign-in only */
	} keys[] = {
		{ "error_codes", 0 },
		{ "apps", 0 },
		{ "activities", 1 },
		{ "categories", 1 },
		{ "services", 1 },
	};
	yaml_node_t *m = cfg_value(cfg, map, "match"), *k;
	int audit = r->signal == SIGNAL_AUDIT;

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (keys[i].audit == audit ||
		    (k = cfg_key(cfg, m, keys[i].key)) == NULL)
			continue;
		cfg_error(cfg, k, "%s: applies only to %s; a rule with "
		    "signal: %s would never match", keys[i].key,
		    keys[i].audit ? "signal: audit" :
		    "signals sign_in and non_interactive_sign_in",
		    signal_names[r->signal]);
	}
}

/* The YAML-facing shape of a rule; copied into struct rule_config. */
struct rule_yaml {
	struct rule_config	r;
	struct threshold	threshold;
	struct accounts_field	accounts;
};

static void
rule_check(struct cfg *cfg, yaml_node_t *map, void *obj)
{
	struct rule_yaml *y = obj;
	struct rule_config *r = &y->r;
	const struct source_ops *src;
	yaml_node_t *n;

	r->op = y->threshold.op;
	r->threshold = y->threshold.value;
	r->all_accounts = y->accounts.all;
	r->accounts = y->accounts.list;
	y->accounts.list.v = NULL;
	y->accounts.list.n = 0;

	if ((src = source_find(r->source)) == NULL ||
	    !src->supports(r->signal))
		cfg_error(cfg, (n = cfg_value(cfg, map, "signal")) != NULL ?
		    n : map, "signal: %s is not supported by source %s in "
		    "this build", signal_names[r->signal],
		    source_names[r->source]);
	rule_match_check(cfg, map, r);
	if (r->frequency > r->period && r->period > 0 &&
	    (n = cfg_value(cfg, map, "frequency")) != NULL)
		cfg_error(cfg, n, "frequency: must not be longer than period");
	else if (r->frequency > r->period && r->period > 0)
		cfg_error(cfg, cfg_value(cfg, map, "period"), "period: must "
		    "not be shorter than frequency (default 1m)");
	if (r->severity < 0 || r->severity > 4)
		cfg_error(cfg, cfg_value(cfg, map, "severity"),
		    "severity: must be 0 (Critical) to 4 (Verbose)");
	if (cfg_key(cfg, map, "actions") != NULL && r->actions.n == 0)
		cfg_error(cfg, cfg_value(cfg, map, "actions"),
		    "actions: the list is empty");
	if (r->subject != NULL) {
		char *err = NULL;
		size_t off = 0;

		r->subject_tpl = template_compile(r->subject, &err, &off);
		if (r->subject_tpl == NULL) {
			n = cfg_value(cfg, map, "subject");
			if (n != NULL) {
				/* Point at the character: quotes shift it. */
				size_t q = n->data.scalar.style ==
				    YAML_PLAIN_SCALAR_STYLE ? 0 : 1;
				yaml_node_t at = *n;

				at.start_mark.column += off + q;
				cfg_error(cfg, &at, "subject: %s", err);
			} else
				cfg_error(cfg, map, "subject: %s", err);
			free(err);
		}
	}
}

#define R(f)	offsetof(struct rule_yaml, r.f)
static const struct opt_spec rule_opts[] = {
	{ .key = "name", .type = OPT_STRING, .offset = R(name),
	  .flags = OPT_REQUIRED },
	{ .key = "description", .type = OPT_STRING, .offset = R(description) },
	{ .key = "tenants", .type = OPT_STRLIST, .offset = R(tenants) },
	{ .key = "source", .type = OPT_ENUM, .offset = R(source),
	  .names = source_names, .def = "log_analytics" },
	{ .key = "signal", .type = OPT_ENUM, .offset = R(signal),
	  .names = signal_names, .def = "sign_in" },
	{ .key = "accounts", .type = OPT_CUSTOM,
	  .offset = offsetof(struct rule_yaml, accounts),
	  .custom = accounts_parse, .custom_free = accounts_free },
	{ .key = "match", .type = OPT_MAP, .offset = R(match),
	  .sub = match_opts },
	{ .key = "threshold", .type = OPT_MAP,
	  .offset = offsetof(struct rule_yaml, threshold),
	  .sub = threshold_opts, .flags = OPT_REQUIRED },
	{ .key = "period", .type = OPT_DURATION, .offset = R(period),
	  .def = "5m" },
	{ .key = "frequency", .type = OPT_DURATION, .offset = R(frequency),
	  .def = "1m" },
	{ .key = "severity", .type = OPT_INT, .offset = R(severity),
	  .def = "0" },
	{ .key = "suppress", .type = OPT_DURATION0, .offset = R(suppress),
	  .def = "0s" },
	{ .key = "enabled", .type = OPT_BOOL, .offset = R(enabled),
	  .def = "true" },
	{ .key = "actions", .type = OPT_STRLIST, .offset = R(actions),
	  .flags = OPT_REQUIRED },
	{ .key = "subject", .type = OPT_STRING, .offset = R(subject),
	  .def = DEFAULT_SUBJECT },
	{ .key = NULL, .check = rule_check }
};
#undef R

/* ---- notifiers ----------------------------------------------------- */

#define RT(f)	offsetof(struct retry_config, f)
static const struct opt_spec retry_opts[] = {
	{ .key = "initial", .type = OPT_DURATION, .offset = RT(initial),
	  .def = "5s" },
	{ .key = "max", .type = OPT_DURATION, .offset = RT(max), .def = "5m" },
	{ .key = "expire_after", .type = OPT_DURATION,
	  .offset = RT(expire_after), .def = "24h" },
	OPT_END
};
#undef RT

#define RL(f)	offsetof(struct rate_limit_config, f)
static const struct opt_spec rate_limit_opts[] = {
	{ .key = "count", .type = OPT_INT, .offset = RL(count),
	  .flags = OPT_REQUIRED },
	{ .key = "per", .type = OPT_DURATION, .offset = RL(per),
	  .flags = OPT_REQUIRED },
	OPT_END
};
#undef RL

static void
notifier_common_check(struct cfg *cfg, yaml_node_t *map, void *obj)
{
	struct notifier_config *n = obj;

	if (n->retry.initial > n->retry.max)
		cfg_error(cfg, cfg_value(cfg, map, "retry"),
		    "retry: initial must not be longer than max");
	if (cfg_key(cfg, map, "rate_limit") != NULL &&
	    (n->rate_limit.count < 1 || n->rate_limit.count > 1000000))
		cfg_error(cfg, cfg_value(cfg, cfg_value(cfg, map,
		    "rate_limit"), "count"), "rate_limit: count must be "
		    "from 1 to 1000000");
	if (n->fallback != NULL && n->name != NULL &&
	    strcmp(n->fallback, n->name) == 0)
		cfg_error(cfg, cfg_value(cfg, map, "fallback"), "fallback: "
		    "a notifier cannot be its own fallback");
	if (n->fallback == NULL && cfg_key(cfg, map, "fallback_after") != NULL)
		cfg_error(cfg, cfg_key(cfg, map, "fallback_after"),
		    "fallback_after: needs a fallback");
}

#define N(f)	offsetof(struct notifier_config, f)
static const struct opt_spec notifier_opts[] = {
	{ .key = "name", .type = OPT_STRING, .offset = N(name),
	  .flags = OPT_REQUIRED },
	{ .key = "type", .type = OPT_STRING, .offset = N(type),
	  .flags = OPT_REQUIRED },
	{ .key = "retry", .type = OPT_MAP, .offset = N(retry),
	  .sub = retry_opts },
	{ .key = "fallback", .type = OPT_STRING, .offset = N(fallback) },
	{ .key = "fallback_after", .type = OPT_DURATION,
	  .offset = N(fallback_after), .def = "10m" },
	{ .key = "rate_limit", .type = OPT_MAP, .offset = N(rate_limit),
	  .sub = rate_limit_opts },
	{ .key = NULL, .check = notifier_common_check }
};
#undef N

struct notifier_list {
	struct notifier_config	*v;
	size_t			 n;
};

/* The type decides which keys a notifier takes, so read it first. */
static int
notifiers_parse(struct cfg *cfg, yaml_node_t *seq, void *field)
{
	struct notifier_list *l = field;
	yaml_node_item_t *it;
	size_t i = 0;

	if (seq == NULL)
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE) {
		cfg_error(cfg, seq, "notifiers: expected a list");
		return -1;
	}
	l->n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	l->v = xcalloc(l->n ? l->n : 1, sizeof *l->v);
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++, i++) {
		yaml_node_t *map = cfg_node(cfg, *it);
		struct notifier_config *nc = &l->v[i];
		yaml_node_t *tn;
		const char *type;

		if (map->type != YAML_MAPPING_NODE) {
			cfg_error(cfg, map, "notifiers: each entry must be a "
			    "mapping");
			continue;
		}
		tn = cfg_value(cfg, map, "type");
		type = tn != NULL ? cfg_scalar(cfg, tn, "a notifier type") :
		    NULL;
		if (type != NULL && (nc->ops = notifier_find(type)) == NULL)
			cfg_error(cfg, tn, "type: unknown notifier type '%s' "
			    "(email, sms, webhook or heartbeat)", type);
		if (nc->ops != NULL) {
			nc->conf = xcalloc(1, nc->ops->conf_size);
			cfg_parse_map(cfg, map, notifier_opts, nc,
			    nc->ops->opts, nc->conf);
			if (nc->ops->check != NULL)
				nc->ops->check(cfg, map, nc->conf);
		} else {
			/* Still report the common keys' problems. */
			cfg_parse_map(cfg, map, notifier_opts, nc, NULL, NULL);
		}
	}
	return 0;
}

static void
notifier_config_free(struct notifier_config *nc)
{
	if (nc->ops != NULL && nc->conf != NULL)
		cfg_free_fields(nc->ops->opts, nc->conf);
	free(nc->conf);
	cfg_free_fields(notifier_opts, nc);
}

static void
notifiers_free(void *field)
{
	struct notifier_list *l = field;

	for (size_t i = 0; i < l->n; i++)
		notifier_config_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- the file ------------------------------------------------------ */

struct rule_list {
	struct rule_yaml	*v;
	size_t			 n;
};

struct config_yaml {
	struct config		 c;
	struct rule_list	 rules;
	struct notifier_list	 notifiers;
	struct {
		int64_t keep;
	} history;
};

#define G(f)	offsetof(struct config_yaml, c.f)
static const struct opt_spec log_opts[] = {
	{ .key = "level", .type = OPT_ENUM, .offset = 0, .names = level_names,
	  .def = "info" },
	{ .key = "format", .type = OPT_ENUM, .offset = sizeof(int),
	  .names = format_names, .def = "text" },
	OPT_END
};

static const struct opt_spec http_opts[] = {
	{ .key = "timeout", .type = OPT_DURATION, .offset = 0, .def = "30s" },
	{ .key = "max_response", .type = OPT_SIZE, .offset = sizeof(int64_t),
	  .def = "64MiB" },
	OPT_END
};

static const struct opt_spec history_opts[] = {
	{ .key = "keep", .type = OPT_DURATION, .offset = 0, .def = "365d" },
	OPT_END
};

/* Off unless the file asks: the checks need permissions of their own. */
static const struct opt_spec posture_opts[] = {
	{ .key = "every", .type = OPT_DURATION, .offset = 0,
	  .flags = OPT_REQUIRED },
	OPT_END
};

static const struct opt_spec drills_opts[] = {
	{ .key = "actions", .type = OPT_STRLIST, .offset = 0 },
	OPT_END
};

static const struct opt_spec config_opts[] = {
	{ .key = "state_dir", .type = OPT_STRING, .offset = G(state_dir) },
	{ .key = "runtime_dir", .type = OPT_STRING, .offset = G(runtime_dir) },
	{ .key = "log", .type = OPT_MAP, .offset = G(log_level),
	  .sub = log_opts },
	{ .key = "http", .type = OPT_MAP, .offset = G(http_timeout),
	  .sub = http_opts },
	{ .key = "metrics", .type = OPT_MAP, .offset = G(metrics),
	  .sub = metrics_opts },
	{ .key = "incident_window", .type = OPT_DURATION,
	  .offset = G(incident_window), .def = "10m" },
	{ .key = "history", .type = OPT_MAP,
	  .offset = offsetof(struct config_yaml, history),
	  .sub = history_opts },
	{ .key = "posture", .type = OPT_MAP, .offset = G(posture_every),
	  .sub = posture_opts },
	{ .key = "drills", .type = OPT_MAP, .offset = G(drill_actions),
	  .sub = drills_opts },
	{ .key = "system_actions", .type = OPT_STRLIST,
	  .offset = G(system_actions) },
	{ .key = "tenants", .type = OPT_LIST, .offset = G(tenants),
	  .sub = tenant_opts, .elem_size = sizeof(struct tenant_config),
	  .count_offset = G(ntenants), .flags = OPT_REQUIRED },
	{ .key = "rules", .type = OPT_LIST,
	  .offset = offsetof(struct config_yaml, rules.v),
	  .sub = rule_opts, .elem_size = sizeof(struct rule_yaml),
	  .count_offset = offsetof(struct config_yaml, rules.n),
	  .flags = OPT_REQUIRED },
	{ .key = "notifiers", .type = OPT_CUSTOM,
	  .offset = offsetof(struct config_yaml, notifiers),
	  .custom = notifiers_parse, .custom_free = notifiers_free },
	OPT_END
};
#undef G

/* The struct layouts the nested tables above rely on. */
_Static_assert(offsetof(struct config, log_format) ==
    offsetof(struct config, log_level) + sizeof(int), "log layout");
_Static_assert(offsetof(struct config, http_max_response) ==
    offsetof(struct config, http_timeout) + sizeof(int64_t), "http layout");

static yaml_node_t *
seq_item(struct cfg *cfg, yaml_node_t *seq, size_t i)
{
	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE ||
	    i >= (size_t)(seq->data.sequence.items.top -
		seq->data.sequence.items.start))
		return NULL;
	return cfg_node(cfg, seq->data.sequence.items.start[i]);
}

/* A name given twice in a list of mappings. */
static void
check_unique(struct cfg *cfg, yaml_node_t *seq, const char *what,
    const char *(*name_of)(const void *, size_t), const void *arr, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *a = name_of(arr, i);

		if (a == NULL)
			continue;
		for (size_t j = 0; j < i; j++) {
			const char *b = name_of(arr, j);

			if (b != NULL && strcmp(a, b) == 0) {
				cfg_error(cfg, cfg_value(cfg, seq_item(cfg, seq,
				    i), "name"), "%s name '%s' is used twice",
				    what, a);
				break;
			}
		}
	}
}

static const char *
tenant_name_of(const void *arr, size_t i)
{
	return ((const struct tenant_config *)arr)[i].name;
}

static const char *
rule_name_of(const void *arr, size_t i)
{
	return ((const struct rule_yaml *)arr)[i].r.name;
}

static const char *
notifier_name_of(const void *arr, size_t i)
{
	return ((const struct notifier_config *)arr)[i].name;
}

static int
tenant_has_account(const struct tenant_config *t, const char *name)
{
	for (size_t i = 0; i < t->nbreak_glass; i++) {
		const struct account *a = &t->break_glass[i];

		if ((a->object_id && strcasecmp(a->object_id, name) == 0) ||
		    (a->upn && strcasecmp(a->upn, name) == 0))
			return 1;
	}
	return 0;
}

/* An action names a notifier that carries alerts. */
static void
check_action(struct cfg *cfg, const struct config *c, yaml_node_t *node,
    const char *key, const char *name)
{
	const struct notifier_config *nc = config_notifier(c, name);

	if (nc == NULL)
		cfg_error(cfg, node, "%s: no notifier is named '%s'", key, name);
	else if (nc->ops != NULL && nc->ops->send == NULL)
		cfg_error(cfg, node, "%s: '%s' is a %s: it carries no alerts",
		    key, name, nc->ops->type);
}

/* Names that must refer to something elsewhere in the file. */
static void
check_references(struct cfg *cfg, yaml_node_t *root, struct config_yaml *y)
{
	struct config *c = &y->c;
	yaml_node_t *rules = cfg_value(cfg, root, "rules");
	yaml_node_t *list, *nlist;

	check_unique(cfg, cfg_value(cfg, root, "tenants"), "tenant",
	    tenant_name_of, c->tenants, c->ntenants);
	check_unique(cfg, rules, "rule", rule_name_of, y->rules.v, y->rules.n);
	check_unique(cfg, cfg_value(cfg, root, "notifiers"), "notifier",
	    notifier_name_of, y->notifiers.v, y->notifiers.n);

	list = cfg_value(cfg, root, "system_actions");
	for (size_t k = 0; k < c->system_actions.n; k++)
		check_action(cfg, c, seq_item(cfg, list, k), "system_actions",
		    c->system_actions.v[k]);
	if (list != NULL && c->system_actions.n == 0)
		cfg_error(cfg, list, "system_actions: an empty list would "
		    "leave system alerts (a blind monitor, a failed "
		    "delivery) unsent");
	list = cfg_value(cfg, cfg_value(cfg, root, "drills"), "actions");
	for (size_t k = 0; k < c->drill_actions.n; k++)
		check_action(cfg, c, seq_item(cfg, list, k), "drills.actions",
		    c->drill_actions.v[k]);
	nlist = cfg_value(cfg, root, "notifiers");
	for (size_t k = 0; k < y->notifiers.n; k++) {
		const struct notifier_config *n = &y->notifiers.v[k];

		if (n->fallback != NULL &&
		    config_notifier(c, n->fallback) == NULL)
			cfg_error(cfg, cfg_value(cfg, seq_item(cfg, nlist, k),
			    "fallback"), "fallback: no notifier is named '%s'",
			    n->fallback);
	}

	for (size_t i = 0; i < y->rules.n; i++) {
		const struct rule_config *r = &y->rules.v[i].r;
		yaml_node_t *rn = seq_item(cfg, rules, i);

		list = cfg_value(cfg, rn, "actions");
		for (size_t k = 0; k < r->actions.n; k++)
			check_action(cfg, c, seq_item(cfg, list, k), "actions",
			    r->actions.v[k]);
		list = cfg_value(cfg, rn, "tenants");
		for (size_t k = 0; k < r->tenants.n; k++)
			if (config_tenant(c, r->tenants.v[k]) == NULL)
				cfg_error(cfg, seq_item(cfg, list, k), "tenants: "
				    "no tenant is named '%s'", r->tenants.v[k]);
		for (size_t t = 0; t < c->ntenants; t++) {
			const struct tenant_config *tc = &c->tenants[t];

			if (tc->name == NULL || !rule_has_tenant(r, tc->name))
				continue;
			if (r->source == SOURCE_LOG_ANALYTICS &&
			    !tc->log_analytics.enabled)
				cfg_error(cfg, rn, "rule '%s' reads Log "
				    "Analytics but tenant '%s' has no "
				    "log_analytics workspace", r->name,
				    tc->name);
			if (r->source == SOURCE_GRAPH && !tc->graph_enabled)
				cfg_error(cfg, rn, "rule '%s' reads Graph but "
				    "tenant '%s' has no graph: section",
				    r->name, tc->name);
			list = cfg_value(cfg, rn, "accounts");
			for (size_t k = 0; k < r->accounts.n; k++)
				if (!tenant_has_account(tc, r->accounts.v[k]))
					cfg_error(cfg, seq_item(cfg, list, k),
					    "accounts: '%s' is not a "
					    "break_glass account of tenant '%s'",
					    r->accounts.v[k], tc->name);
		}
	}
}

/* DESIGN.md: a tenant's sources are blind after twice the shortest
 * frequency of its rules, unless blind_after says otherwise. */
static void
default_blind_after(struct config *c)
{
	for (size_t t = 0; t < c->ntenants; t++) {
		struct tenant_config *tc = &c->tenants[t];
		int64_t shortest = 0;

		/* A tenant without a name has been reported already. */
		if (tc->blind_after > 0 || tc->name == NULL)
			continue;
		for (size_t i = 0; i < c->nrules; i++) {
			const struct rule_config *r = &c->rules[i];

			if (r->enabled && rule_has_tenant(r, tc->name) &&
			    (shortest == 0 || r->frequency < shortest))
				shortest = r->frequency;
		}
		tc->blind_after = 2 * (shortest > 0 ? shortest : 60);
	}
}

/* DESIGN.md: system alerts go to every notifier that any rule uses when
 * the file names none. */
static void
default_system_actions(struct config *c)
{
	for (size_t i = 0; i < c->nrules; i++) {
		const struct strlist *a = &c->rules[i].actions;

		for (size_t k = 0; k < a->n; k++)
			if (!strlist_contains(&c->system_actions, a->v[k]))
				strlist_add(&c->system_actions, a->v[k]);
	}
}

/* Pruning records that a poll can still return would make them new again
 * and page twice: history must outlive every look-back. */
static void
check_history(struct cfg *cfg, yaml_node_t *root, struct config_yaml *y)
{
	yaml_node_t *rules = cfg_value(cfg, root, "rules");

	for (size_t i = 0; i < y->rules.n; i++)
		if (y->rules.v[i].r.suppress >= y->history.keep)
			cfg_error(cfg, cfg_value(cfg, seq_item(cfg, rules, i),
			    "suppress"), "suppress: must be shorter than "
			    "history.keep");
	for (size_t i = 0; i < y->c.ntenants; i++) {
		const struct la_config *la = &y->c.tenants[i].log_analytics;

		if (la->enabled && y->history.keep <= la->lookback +
		    la->overlap) {
			cfg_error(cfg, cfg_value(cfg, cfg_value(cfg, root,
			    "history"), "keep"), "history.keep must be longer "
			    "than every log_analytics lookback + overlap "
			    "(tenant '%s')", y->c.tenants[i].name);
			return;
		}
		if (y->c.tenants[i].graph_enabled && y->history.keep <=
		    y->c.tenants[i].graph_lookback) {
			/* The seen-set must outlive what a poll re-reads. */
			cfg_error(cfg, cfg_value(cfg, cfg_value(cfg, root,
			    "history"), "keep"), "history.keep must be longer "
			    "than every graph lookback (tenant '%s')",
			    y->c.tenants[i].name);
			return;
		}
	}
}

static void
config_yaml_free(struct config_yaml *y)
{
	struct config *c = &y->c;

	for (size_t i = 0; y->rules.v != NULL && i < y->rules.n; i++) {
		template_free(y->rules.v[i].r.subject_tpl);
		strlist_clear(&y->rules.v[i].r.accounts);
	}
	cfg_free_fields(config_opts, y);
	free(c->path);
}

/* A directory left unset: systemd's variable for it (which may list
 * several, separated by ':'), else the built-in default. */
static void
default_dir(char **dir, const char *env_name, const char *def)
{
	const char *env = getenv(env_name);

	if (*dir != NULL)
		return;
	if (env != NULL && *env != '\0')
		*dir = xstrndup(env, strcspn(env, ":"));
	else
		*dir = xstrdup(def);
}

struct config *
config_load(const char *path, struct config_errors *errs)
{
	struct config_yaml *y = xcalloc(1, sizeof *y);
	struct config *c;
	struct cfg *cfg;
	yaml_node_t *root;
	int failed;

	cfg = cfg_open(path, errs, y);
	if ((root = cfg_root(cfg)) != NULL) {
		cfg_parse_map(cfg, root, config_opts, y, NULL, NULL);
		/* Move the lists into the public struct before checking
		 * references: config_notifier() looks there. */
		y->c.rules = xcalloc(y->rules.n ? y->rules.n : 1,
		    sizeof *y->c.rules);
		for (size_t i = 0; i < y->rules.n; i++)
			y->c.rules[i] = y->rules.v[i].r;
		y->c.nrules = y->rules.n;
		y->c.notifiers = y->notifiers.v;
		y->c.nnotifiers = y->notifiers.n;
		check_references(cfg, root, y);
		check_history(cfg, root, y);
		if (y->c.system_actions.n == 0)
			default_system_actions(&y->c);
		default_blind_after(&y->c);
		if (cfg_error_count(cfg) == 0 && y->c.nrules == 0)
			cfg_error(cfg, cfg_value(cfg, root, "rules"),
			    "rules: no rule is configured");
		if (cfg_error_count(cfg) == 0 && y->c.ntenants == 0)
			cfg_error(cfg, cfg_value(cfg, root, "tenants"),
			    "tenants: no tenant is configured");
	}
	failed = root == NULL || cfg_error_count(cfg) > 0;
	cfg_close(cfg);

	/* The rule structs now live in c.rules; the yaml copies only keep
	 * the fields that were moved, so free through the public copy. */
	free(y->c.rules);
	y->c.rules = NULL;
	y->c.notifiers = NULL;
	if (failed) {
		config_yaml_free(y);
		free(y);
		return NULL;
	}

	c = xcalloc(1, sizeof *c);
	*c = y->c;
	c->path = xstrdup(path);
	c->history_keep = y->history.keep;
	default_dir(&c->state_dir, "STATE_DIRECTORY", DEFAULT_STATE_DIR);
	/* The control socket: RuntimeDirectory= sets $RUNTIME_DIRECTORY. */
	default_dir(&c->runtime_dir, "RUNTIME_DIRECTORY", DEFAULT_RUNTIME_DIR);
	c->rules = xcalloc(y->rules.n ? y->rules.n : 1, sizeof *c->rules);
	for (size_t i = 0; i < y->rules.n; i++)
		c->rules[i] = y->rules.v[i].r;
	c->nrules = y->rules.n;
	free(y->rules.v);
	c->notifiers = y->notifiers.v;
	c->nnotifiers = y->notifiers.n;
	free(y);
	return c;
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nrules; i++) {
		struct rule_config *r = &c->rules[i];

		template_free(r->subject_tpl);
		cfg_free_fields(match_opts, &r->match);
		free(r->name);
		free(r->description);
		free(r->subject);
		strlist_clear(&r->tenants);
		strlist_clear(&r->accounts);
		strlist_clear(&r->actions);
	}
	free(c->rules);
	for (size_t i = 0; i < c->nnotifiers; i++)
		notifier_config_free(&c->notifiers[i]);
	free(c->notifiers);
	strlist_clear(&c->system_actions);
	strlist_clear(&c->drill_actions);
	cfg_free_fields(metrics_opts, &c->metrics);
	for (size_t i = 0; i < c->ntenants; i++)
		cfg_free_fields(tenant_opts, &c->tenants[i]);
	free(c->tenants);
	free(c->state_dir);
	free(c->runtime_dir);
	free(c->path);
	free(c);
}

void
config_errors_clear(struct config_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

struct config *
config_load_report(const char *path)
{
	struct config_errors errs = { NULL, 0 };
	struct config *c;

	if ((c = config_load(path, &errs)) == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		fprintf(stderr, "%s: %zu error%s\n", path, errs.n,
		    errs.n == 1 ? "" : "s");
		config_errors_clear(&errs);
	}
	return c;
}

const struct tenant_config *
config_tenant(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->ntenants; i++)
		if (c->tenants[i].name != NULL &&
		    strcmp(c->tenants[i].name, name) == 0)
			return &c->tenants[i];
	return NULL;
}

const struct notifier_config *
config_notifier(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nnotifiers; i++)
		if (c->notifiers[i].name != NULL &&
		    strcmp(c->notifiers[i].name, name) == 0)
			return &c->notifiers[i];
	return NULL;
}

int
rule_has_tenant(const struct rule_config *r, const char *tenant)
{
	return r->tenants.n == 0 || strlist_contains(&r->tenants, tenant);
}

const struct account *
rule_account(const struct rule_config *r, const struct tenant_config *t,
    const char *object_id)
{
	if (object_id == NULL)
		return NULL;
	for (size_t i = 0; i < t->nbreak_glass; i++) {
		const struct account *a = &t->break_glass[i];

		if (!guid_equal(a->object_id, object_id))
			continue;
		if (r->all_accounts ||
		    strlist_contains_nocase(&r->accounts, a->object_id) ||
		    (a->upn != NULL &&
			strlist_contains_nocase(&r->accounts, a->upn)))
			return a;
		return NULL;
	}
	return NULL;
}

const char *
source_kind_name(enum source_kind k)
{
	return (unsigned)k < SOURCE_COUNT ? source_names[k] : "unknown";
}
