/* Inside the sms notifier (notify-sms.c): its configuration, and the small
 * interface each provider file implements (sms-twilio.c, sms-acs.c,
 * sms-gateway.c). A provider checks its keys, builds its request, and
 * reads its answer; notify-http.c sends it. */
#ifndef GW_SMS_PROVIDER_H
#define GW_SMS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "notifier.h"
#include "notify-http.h"
#include "strlist.h"

struct alert;
struct cfg;
struct http_response;
struct sms_fields;

enum sms_provider_kind { SMS_TWILIO, SMS_ACS, SMS_GATEWAY };
enum sms_method { SMS_POST, SMS_PUT, SMS_GET };

/* The keys of a `type: sms` notifier (the common ones are in config.c). */
struct sms_conf {
	int			 provider;	/* sms_provider_kind */
	struct strlist		 to;		/* E.164 numbers */
	long			 max_length;	/* GSM-7 septets */
	char			*ca_file;
	/* twilio */
	char			*account_sid;
	char			*auth_token_file;	/* also http */
	char			*from;			/* also acs */
	char			*messaging_service_sid;
	char			*api_url;
	/* acs */
	char			*endpoint;
	char			*access_key_file;
	/* http */
	char			*url;
	int			 method;	/* enum sms_method */
	char			*auth_header;
	struct sms_fields	*headers;
	struct sms_fields	*form;
	struct sms_fields	*json;
};

struct sms_provider {
	const char		 *name;		/* provider: NAME */
	const char *const	 *keys;		/* its keys, NULL-ended */
	/* Cross-key checks; errors via cfg_error. */
	void	(*check)(struct cfg *, yaml_node_t *map, struct sms_conf *);
	/* One request for d with the page text; ends in delivery_done()
	 * like notifier_ops.send. */
	int	(*send)(struct notifier *, struct delivery *,
		    const char *text);
};

extern const struct sms_provider sms_twilio;	/* sms-twilio.c */
extern const struct sms_provider sms_acs;	/* sms-acs.c */
extern const struct sms_provider sms_gateway;	/* sms-gateway.c */

/* ---- shared by the providers (notify-sms.c) ---- */

/* A phone number in E.164 form: "+" and 2 to 15 digits, no leading 0. */
int	 sms_e164_valid(const char *);
/* An alphanumeric sender id: 1 to 11 letters, digits or spaces, with at
 * least one letter. */
int	 sms_sender_id_valid(const char *);
/* Standard base64 with padding; caller frees. */
char	*sms_base64(const void *, size_t);
/* Decodes standard base64 (padding required); NULL when it is not.
 * Caller wipes with freezero(p, *len). */
unsigned char *sms_base64_decode(const char *, size_t *len);
/* A provider's words for a log line: control characters as spaces, cut
 * at max bytes (at a character); "-" when NULL. Caller frees. */
char	*sms_printable(const char *, size_t max);
/* Ends d before any request was made (a secret file unreadable...):
 * DELIVER_RETRY with "ORIGIN-OF-URL: err"; frees err; returns -1. */
int	 sms_send_failed(struct delivery *, const char *url, char *err);
/* Sends d's request (body NULL: none) with the notifier's ca_file through
 * notify-http.c, read by judge (NULL: the common reading). The request is
 * copied: the caller wipes and frees its parts at once. */
void	 sms_request(struct notifier *, struct delivery *,
	    const char *method, const char *url, const char *const *headers,
	    const char *body, notify_http_judge);
/* A key given for another provider: "KEY: only with provider: ..." */
void	 sms_error_key(struct cfg *, yaml_node_t *map, const char *key,
	    const char *why);

/* ---- the providers' parts, exported for the unit tests ---- */

/* Twilio: the form body of a Messages create (exactly one of from and
 * service); the reading of its answers (error codes). */
char	*sms_twilio_form(const char *to, const char *from,
	    const char *service, const char *text);
enum deliver_result sms_twilio_judge(struct delivery *,
	    const struct http_response *, const char *origin, char **why);

/* ACS: the request body, the repeatability id (a UUID derived from the
 * alert id and the number), and the HMAC-SHA256 access-key signature. */
#define SMS_ACS_API_VERSION	"2021-03-07"
char	*sms_acs_repeatability_id(const char *alert_id, const char *to);
/* RFC 1123: "Mon, 23 Nov 2026 03:49:15 GMT". */
void	 sms_acs_date(int64_t us, char *out, size_t outlen);
char	*sms_acs_body(const char *from, const char *to, const char *text,
	    const char *alert_id, int64_t first_sent_us);
/* The x-ms-content-sha256 value and the Authorization value for a
 * request; -1 (and *err) when the key is not base64. Caller frees both
 * (the authorization with freezero_str). */
int	 sms_acs_sign(const char *key_b64, const char *method,
	    const char *path_and_query, const char *host, const char *date,
	    const char *body, size_t body_len, char **content_hash,
	    char **authorization, char **err);
enum deliver_result sms_acs_judge(struct delivery *,
	    const struct http_response *, const char *origin, char **why);

/* Generic gateway: form, json and headers values are templates with the
 * alert's placeholders and {to} and {message}. */
int	 sms_fields_parse_headers(struct cfg *, yaml_node_t *, void *field);
int	 sms_fields_parse_form(struct cfg *, yaml_node_t *, void *field);
int	 sms_fields_parse_json(struct cfg *, yaml_node_t *, void *field);
void	 sms_fields_free(void *field);
/* The rendered request body and its Content-Type (static); the headers
 * as "Name: value" strings, NULL-ended (caller frees each and the
 * array). */
char	*sms_gateway_body(const struct sms_conf *, const struct alert *,
	    const char *to, const char *text, const char **content_type);
char	**sms_gateway_headers(const struct sms_conf *, const struct alert *,
	    const char *to, const char *text);

#endif
