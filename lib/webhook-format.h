/* The bodies the webhook notifier posts: one pure function per format,
 * alert in, JSON text out (built with jansson, never by pasting strings).
 * README.md "Webhooks" documents each shape. */
#ifndef GW_WEBHOOK_FORMAT_H
#define GW_WEBHOOK_FORMAT_H

#include <stddef.h>

#include <jansson.h>

struct alert;
struct buf;

enum webhook_format {
	WEBHOOK_JSON,			/* glasswatch.alert/v1 */
	WEBHOOK_AZURE,			/* Azure Monitor common alert schema */
	WEBHOOK_SLACK,			/* Slack incoming webhook */
	WEBHOOK_TEAMS,			/* Teams Workflows: Adaptive Card */
	WEBHOOK_PAGERDUTY,		/* PagerDuty Events API v2 trigger */
	WEBHOOK_ALERTMANAGER		/* Alertmanager POST /api/v2/alerts */
};

/* The format names of the YAML key format:, in enum order, NULL-ended. */
extern const char *const webhook_format_names[];

#define WEBHOOK_SCHEMA		"glasswatch.alert/v1"
/* Slack and Teams show this many records; the rest are counted. */
#define WEBHOOK_SHOWN_RECORDS	5
/* PagerDuty's payload.summary limit. */
#define WEBHOOK_PD_SUMMARY_MAX	1024
/* Records in PagerDuty's custom_details, which must stay under 512 KB. */
#define WEBHOOK_PD_MAX_RECORDS	100

/* The body for one alert (compact JSON, UTF-8). routing_key is the
 * PagerDuty integration key (pagerduty only; NULL otherwise). Caller frees
 * (wipes, for pagerduty: the body holds the key). */
char	*webhook_format_body(enum webhook_format, const struct alert *,
	    const char *routing_key, size_t *lenp);

/* The glasswatch.alert/v1 object: the json format, and the extension that
 * the other formats carry (Azure alertContext.glasswatch, PagerDuty
 * custom_details). */
json_t	*webhook_alert_json(const struct alert *);

/* Severity 0..4 as PagerDuty (and the Alertmanager label) name it:
 * critical, error, warning, info, info. */
const char	*webhook_pagerduty_severity(int severity);

/* One line for a pager or a chat heading: the alert's subject, else
 * "[SevN] " and its headline; "[TEST] " first for a test alert; control
 * characters become spaces. Caller frees. */
char	*webhook_summary(const struct alert *);

/* Text escaping for values placed in chat text: Slack mrkdwn (&, <, >) and
 * Teams Adaptive Card markdown (backslash before markdown punctuation).
 * Both make control characters spaces (one value stays one line) and stop
 * before max bytes of output, ending in "..." when cut. */
void	webhook_slack_escape(struct buf *, const char *, size_t max);
void	webhook_teams_escape(struct buf *, const char *, size_t max);

#endif
