/*
 * The email notifier: one SMTP transaction per delivery (one recipient),
 * sent by libcurl on the shared engine, never by executing sendmail.
 *
 * The message is built from the alert with every header value stripped of
 * control characters (record fields come from attackers) and RFC 2047
 * encoded when it is not ASCII. The Message-ID derives from the alert id,
 * so a message retried or sent to several recipients is one message to
 * receivers that de-duplicate.
 *
 * Classification (STYLE.md "plugins classify, the core retries"): an SMTP
 * 5xx reply or a refused login is permanent; a 4xx reply, connection,
 * timeout and TLS failures are worth retrying.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <yaml.h>

#include "alert.h"
#include "buf.h"
#include "cfgparse.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "notifier.h"
#include "notify-email-msg.h"
#include "secretfile.h"
#include "strlist.h"
#include "timeutil.h"
#include "xmalloc.h"

enum email_tls { EMAIL_TLS_STARTTLS, EMAIL_TLS_IMPLICIT, EMAIL_TLS_NONE };

struct email_conf {
	char		*url;
	int		 tls;		/* enum email_tls */
	char		*from;
	struct strlist	 to;
	char		*username;
	char		*password_file;
	char		*ca_file;
};

struct email_priv {
	char		*origin;	/* "smtp://host:port", for logs */
};

/* One transfer in flight. */
struct email_send {
	struct notifier		*n;
	struct delivery		*d;
	struct curl_slist	*rcpt;
	char			*msg;
	size_t			 len;
	size_t			 off;
	char			*origin;
	struct tls_blob		*ca;		/* until the transfer holds it */
	char			 errbuf[CURL_ERROR_SIZE];
};

#define EMAIL_PASSWORD_MAX	4096
#define EMAIL_LINE_MAX		998	/* RFC 5322 2.1.1, without CRLF */
#define EMAIL_LINE_WANT		78
#define EMAIL_EW_BYTES		45	/* 60 base64 characters: 75 in all */

static const char *const email_tls_names[] = {
	"starttls", "implicit", "none", NULL
};

#define E(f)	offsetof(struct email_conf, f)
static const struct opt_spec email_opts[] = {
	{ .key = "url", .type = OPT_STRING, .offset = E(url),
	  .flags = OPT_REQUIRED },
	{ .key = "tls", .type = OPT_ENUM, .offset = E(tls),
	  .names = email_tls_names },
	{ .key = "from", .type = OPT_STRING, .offset = E(from),
	  .flags = OPT_REQUIRED },
	{ .key = "to", .type = OPT_STRLIST, .offset = E(to),
	  .flags = OPT_REQUIRED },
	{ .key = "username", .type = OPT_STRING, .offset = E(username) },
	{ .key = "password_file", .type = OPT_SECRET_FILE,
	  .offset = E(password_file) },
	{ .key = "ca_file", .type = OPT_FILE, .offset = E(ca_file) },
	OPT_END
};
#undef E

/* ---- the message ---------------------------------------------------- */

static int
email_is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Control characters become spaces; leading and trailing space goes. */
static char *
email_clean(const char *v)
{
	char *s, *p, *end;

	s = xstrdup(v != NULL ? v : "");
	for (p = s; *p != '\0'; p++)
		if (email_is_ctl((unsigned char)*p))
			*p = ' ';
	for (p = s; *p == ' '; p++)
		;
	memmove(s, p, strlen(p) + 1);
	end = s + strlen(s);
	while (end > s && end[-1] == ' ')
		*--end = '\0';
	return s;
}

/* Must the value be written as encoded words? */
static int
email_needs_encoding(const char *v, size_t namelen)
{
	const unsigned char *p;
	size_t word = 0;

	if (strstr(v, "=?") != NULL)
		return 1;
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p >= 0x80)
			return 1;
		/* A word too long for any line cannot be folded. */
		word = *p == ' ' ? 0 : word + 1;
		if (word + namelen + 2 > EMAIL_LINE_MAX)
			return 1;
	}
	return 0;
}

static void
email_header_encoded(struct buf *b, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t left = strlen(v), n;
	unsigned char out[4 * ((EMAIL_EW_BYTES + 2) / 3) + 1];
	int first = 1;

	while (left > 0) {
		n = left < EMAIL_EW_BYTES ? left : EMAIL_EW_BYTES;
		/* Never cut a UTF-8 sequence: back off continuation bytes. */
		if (n < left) {
			size_t m = n;

			while (m > 0 && (p[m] & 0xc0) == 0x80)
				m--;
			if (m > 0)
				n = m;
		}
		EVP_EncodeBlock(out, p, (int)n);
		buf_printf(b, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ",
		    (const char *)out);
		first = 0;
		p += n;
		left -= n;
	}
}

/* Fold at spaces so that lines stay near 78 columns: each piece is the
 * spaces before a word and the word, and a fold goes before a piece. */
static void
email_header_folded(struct buf *b, const char *v, size_t col)
{
	const char *p = v, *q;
	size_t len;
	int first = 1;

	while (*p != '\0') {
		for (q = p; *q == ' '; q++)
			;
		for (; *q != '\0' && *q != ' '; q++)
			;
		len = (size_t)(q - p);
		if (!first && col + len > EMAIL_LINE_WANT) {
			buf_puts(b, "\r\n");
			col = 0;
		}
		buf_append(b, p, len);
		col += len;
		first = 0;
		p = q;
	}
}

void
email_header_put(struct buf *b, const char *name, const char *value)
{
	char *v = email_clean(value);
	size_t namelen = strlen(name);

	buf_printf(b, "%s: ", name);
	if (email_needs_encoding(v, namelen))
		email_header_encoded(b, v);
	else
		email_header_folded(b, v, namelen + 2);
	buf_puts(b, "\r\n");
	free(v);
}

void
email_address_header_put(struct buf *b, const char *name,
    const char *const *addrs, size_t n)
{
	size_t col = strlen(name) + 2;
	char *a;

	buf_printf(b, "%s: ", name);
	for (size_t i = 0; i < n; i++) {
		a = email_clean(addrs[i]);
		for (char *p = a; *p != '\0'; p++)
			if (*p == ' ')
				*p = '_';	/* never in a valid address */
		if (i > 0) {
			buf_putc(b, ',');
			col++;
			if (col + 1 + strlen(a) > EMAIL_LINE_WANT) {
				buf_puts(b, "\r\n");
				col = 0;
			}
			buf_putc(b, ' ');
			col++;
		}
		buf_puts(b, a);
		col += strlen(a);
		free(a);
	}
	buf_puts(b, "\r\n");
}

void
email_date_format(int64_t us, char *out, size_t outlen)
{
	time_format_rfc1123(us, "+0000", out, outlen);
}

/* The domain of the sender address, for the Message-ID. */
static char *
email_domain(const char *from)
{
	const char *at = from != NULL ? strrchr(from, '@') : NULL;
	char *d;

	if (at == NULL || at[1] == '\0')
		return xstrdup("glasswatch.invalid");
	d = email_clean(at + 1);
	for (char *p = d; *p != '\0'; p++)
		if (*p == ' ' || *p == '<' || *p == '>')
			*p = '_';
	return d;
}

static char *
email_subject(const struct alert *a)
{
	const char *s = a->subject;
	char *dflt = NULL, *out;

	if (s == NULL || *s == '\0') {
		if (a->kind == ALERT_TEST)
			s = dflt = xstrdup("glasswatch test alert");
		else
			s = dflt = xasprintf("[Sev%d] glasswatch: %s",
			    a->severity, a->rule != NULL ? a->rule :
			    alert_kind_name(a->kind));
	}
	if (a->kind == ALERT_TEST && strncmp(s, "[TEST] ", 7) != 0)
		out = xasprintf("[TEST] %s", s);
	else
		out = xstrdup(s);
	free(dflt);
	return out;
}

/* Can the body go as 8bit: no line longer than SMTP allows? */
static int
email_body_8bit(const char *body)
{
	size_t col = 0;

	for (const char *p = body; *p != '\0'; p++) {
		if (*p == '\n') {
			col = 0;
			continue;
		}
		if (*p == '\r' || ++col > EMAIL_LINE_MAX)
			return 0;
	}
	return 1;
}

static void
email_body_put_8bit(struct buf *b, const char *body)
{
	for (const char *p = body; *p != '\0'; p++) {
		if (*p == '\n')
			buf_puts(b, "\r\n");
		else if (*p != '\r')
			buf_putc(b, *p);
	}
}

static void	email_body_put_qp(struct buf *, const char *);

/* One part of the multipart/alternative body: 8bit when every line is
 * short enough, else quoted-printable. */
static void
email_part_put(struct buf *b, const char *boundary, const char *type,
    const char *body)
{
	int eightbit = email_body_8bit(body);

	buf_printf(b, "\r\n--%s\r\n", boundary);
	buf_printf(b, "Content-Type: %s; charset=utf-8\r\n", type);
	buf_printf(b, "Content-Transfer-Encoding: %s\r\n\r\n",
	    eightbit ? "8bit" : "quoted-printable");
	if (eightbit)
		email_body_put_8bit(b, body);
	else
		email_body_put_qp(b, body);
	if (b->len < 2 || memcmp(b->data + b->len - 2, "\r\n", 2) != 0)
		buf_puts(b, "\r\n");
}

/* Quoted-printable (RFC 2045 6.7): lines of at most 76 characters. */
static void
email_body_put_qp(struct buf *b, const char *body)
{
	const unsigned char *p;
	size_t col = 0;
	char enc[4];
	int literal;

	for (p = (const unsigned char *)body; *p != '\0'; p++) {
		if (*p == '\n') {
			buf_puts(b, "\r\n");
			col = 0;
			continue;
		}
		if (*p == '\r')
			continue;
		literal = (*p >= 33 && *p <= 126 && *p != '=') ||
		    ((*p == ' ' || *p == '\t') && p[1] != '\n' &&
		    p[1] != '\r' && p[1] != '\0');
		if (literal) {
			enc[0] = (char)*p;
			enc[1] = '\0';
		} else
			snprintf(enc, sizeof enc, "=%02X", *p);
		if (col + strlen(enc) > 75) {
			buf_puts(b, "=\r\n");
			col = 0;
		}
		buf_puts(b, enc);
		col += strlen(enc);
	}
}

char *
email_message_build(const struct alert *a, const char *from,
    const struct strlist *to, int64_t date_us, size_t *lenp)
{
	struct buf b;
	char date[64], *domain, *subject, *body, *msgid, *boundary, *ctype;

	buf_init(&b);
	email_address_header_put(&b, "From", &from, 1);
	email_address_header_put(&b, "To", (const char *const *)to->v,
	    to->n);
	email_date_format(date_us, date, sizeof date);
	email_header_put(&b, "Date", date);
	domain = email_domain(from);
	msgid = xasprintf("<%s@%s>", a->id != NULL ? a->id : "gw-unknown",
	    domain);
	email_header_put(&b, "Message-ID", msgid);
	free(msgid);
	free(domain);
	subject = email_subject(a);
	email_header_put(&b, "Subject", subject);
	free(subject);

	email_header_put(&b, "MIME-Version", "1.0");
	/* The boundary holds the alert's random id: no field an attacker
	 * writes into a record can guess it. */
	boundary = xasprintf("=_glasswatch_%s",
	    a->id != NULL ? a->id : "gw-unknown");
	ctype = xasprintf("multipart/alternative; boundary=\"%s\"", boundary);
	email_header_put(&b, "Content-Type", ctype);
	free(ctype);
	email_header_put(&b, "Auto-Submitted", "auto-generated");
	/* Keeps Exchange from answering a page with an out-of-office. */
	email_header_put(&b, "X-Auto-Response-Suppress", "All");
	if (a->severity <= 1 && a->kind != ALERT_TEST) {
		email_header_put(&b, "Importance", "high");
		email_header_put(&b, "X-Priority", "1 (Highest)");
	}
	email_header_put(&b, "X-Glasswatch-Alert-Id", a->id);
	buf_printf(&b, "X-Glasswatch-Severity: %d\r\n", a->severity);
	email_header_put(&b, "X-Glasswatch-Kind", alert_kind_name(a->kind));
	buf_puts(&b, "\r\nThis is a MIME message: the alert is in the text "
	    "part and in the HTML part.\r\n");

	/* Mail readers show the last part they can: plain text first. */
	body = alert_text_body(a);
	email_part_put(&b, boundary, "text/plain", body);
	free(body);
	body = alert_html_body(a);
	email_part_put(&b, boundary, "text/html", body);
	free(body);
	buf_printf(&b, "--%s--\r\n", boundary);
	free(boundary);

	*lenp = b.len;
	return buf_steal(&b);
}

/* ---- configuration -------------------------------------------------- */

int
email_address_check(const char *addr, const char **why)
{
	const char *at;

	for (const unsigned char *p = (const unsigned char *)addr;
	    *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n') {
			*why = "must not contain CR or LF";
			return -1;
		}
		if (email_is_ctl(*p) || *p == ' ') {
			*why = "must not contain spaces or control characters";
			return -1;
		}
		if (*p == '<' || *p == '>' || *p == ',') {
			*why = "must be a bare address (local@domain), without "
			    "a name, angle brackets or commas";
			return -1;
		}
	}
	at = strrchr(addr, '@');
	if (at == NULL || at == addr || at[1] == '\0') {
		*why = "is not an address (local@domain)";
		return -1;
	}
	return 0;
}

/* A copy fit for a one-line message: control characters as \xHH. */
static char *
email_printable(const char *v)
{
	struct buf b;

	buf_init(&b);
	for (const unsigned char *p = (const unsigned char *)v; *p != '\0';
	    p++) {
		if (email_is_ctl(*p))
			buf_printf(&b, "\\x%02x", *p);
		else
			buf_putc(&b, (char)*p);
	}
	return buf_steal(&b);
}

/* 0 (smtp) or 1 (smtps), -1 for any other scheme. */
static int
email_url_scheme(const char *url)
{
	if (strncasecmp(url, "smtp://", 7) == 0)
		return 0;
	if (strncasecmp(url, "smtps://", 8) == 0)
		return 1;
	return -1;
}

/* The URL names a host and carries no credentials. */
static int
email_url_check(const char *url, const char **why)
{
	CURLU *h;
	char *part = NULL;
	int rv = -1;

	if ((h = curl_url()) == NULL) {
		*why = "cannot parse the URL";
		return -1;
	}
	if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK) {
		*why = "not a valid URL";
		goto out;
	}
	if (curl_url_get(h, CURLUPART_HOST, &part, 0) != CURLUE_OK ||
	    *part == '\0') {
		*why = "the URL names no host";
		goto out;
	}
	curl_free(part);
	part = NULL;
	if (curl_url_get(h, CURLUPART_USER, &part, 0) == CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
		*why = "the URL must not carry credentials (use username "
		    "and password_file)";
		goto out;
	}
	rv = 0;
out:
	curl_free(part);
	curl_url_cleanup(h);
	return rv;
}

/* The TLS mode a conf means, whether or not check() filled the default:
 * smtps:// is always implicit TLS. */
static enum email_tls
email_tls_mode(const struct email_conf *c)
{
	if (c->url != NULL && email_url_scheme(c->url) == 1)
		return EMAIL_TLS_IMPLICIT;
	if (c->tls == EMAIL_TLS_NONE)
		return EMAIL_TLS_NONE;
	return EMAIL_TLS_STARTTLS;
}

static void
email_check(struct cfg *cfg, yaml_node_t *map, void *obj)
{
	struct email_conf *c = obj;
	yaml_node_t *un, *tn, *node, *item;
	yaml_node_item_t *it;
	const char *why;
	char *shown;
	int scheme = -1;

	un = cfg_value(cfg, map, "url");
	tn = cfg_value(cfg, map, "tls");
	if (c->url != NULL) {
		if ((scheme = email_url_scheme(c->url)) == -1) {
			/* Never echo the URL: it may carry credentials. */
			cfg_error(cfg, un, "url: not an smtp:// or smtps:// "
			    "URL");
		} else if (email_url_check(c->url, &why) == -1) {
			cfg_error(cfg, un, "url: %s", why);
			scheme = -1;
		}
	}
	if (scheme != -1 && tn == NULL)
		c->tls = scheme == 1 ? EMAIL_TLS_IMPLICIT : EMAIL_TLS_STARTTLS;
	else if (scheme == 1 && c->tls != EMAIL_TLS_IMPLICIT)
		cfg_error(cfg, tn, "tls: an smtps:// URL means tls: implicit");
	else if (scheme == 0 && c->tls == EMAIL_TLS_IMPLICIT)
		cfg_error(cfg, tn, "tls: implicit needs an smtps:// URL "
		    "(smtp:// is starttls or none)");
	else if (scheme == 0 && c->tls == EMAIL_TLS_NONE &&
	    !url_is_loopback(c->url))
		cfg_error(cfg, tn, "tls: none is allowed only to loopback "
		    "hosts (127.0.0.0/8, ::1, localhost)");

	if (c->from != NULL && email_address_check(c->from, &why) == -1) {
		shown = email_printable(c->from);
		cfg_error(cfg, cfg_value(cfg, map, "from"), "from: '%s' %s",
		    shown, why);
		free(shown);
	}

	node = cfg_value(cfg, map, "to");
	if (node != NULL && node->type == YAML_SEQUENCE_NODE) {
		if (node->data.sequence.items.start ==
		    node->data.sequence.items.top)
			cfg_error(cfg, node, "to: needs at least one address");
		for (it = node->data.sequence.items.start;
		    it < node->data.sequence.items.top; it++) {
			item = cfg_node(cfg, *it);
			if (item == NULL || item->type != YAML_SCALAR_NODE)
				continue;
			if (email_address_check((const char *)
			    item->data.scalar.value, &why) == 0)
				continue;
			shown = email_printable((const char *)
			    item->data.scalar.value);
			cfg_error(cfg, item, "to: '%s' %s", shown, why);
			free(shown);
		}
	}

	node = cfg_value(cfg, map, "username");
	if (node != NULL && cfg_value(cfg, map, "password_file") == NULL)
		cfg_error(cfg, node, "username: needs password_file");
	node = cfg_value(cfg, map, "password_file");
	if (node != NULL && cfg_value(cfg, map, "username") == NULL)
		cfg_error(cfg, node, "password_file: needs username");
}

static void
email_recipients(const void *conf, struct strlist *out)
{
	const struct email_conf *c = conf;

	for (size_t i = 0; i < c->to.n; i++)
		if (!strlist_contains_nocase(out, c->to.v[i]))
			strlist_add(out, c->to.v[i]);
}

/* ---- sending -------------------------------------------------------- */

static int
email_init(struct notifier *n, char **cause)
{
	const struct email_conf *c = n->cfg->conf;
	struct email_priv *p = n->priv;

	if (c == NULL || c->url == NULL || c->from == NULL) {
		*cause = xasprintf("%s: incomplete email configuration",
		    n->cfg->name);
		return -1;
	}
	p->origin = url_origin(c->url);
	if (p->origin == NULL)
		p->origin = xstrdup("smtp server");
	return 0;
}

static void
email_fini(struct notifier *n)
{
	struct email_priv *p = n->priv;

	free(p->origin);
	p->origin = NULL;
}

static size_t
email_read_cb(char *ptr, size_t size, size_t nitems, void *arg)
{
	struct email_send *s = arg;
	size_t n = size * nitems;

	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(ptr, s->msg + s->off, n);
	s->off += n;
	return n;
}

static void
email_send_free(struct email_send *s)
{
	curl_slist_free_all(s->rcpt);
	http_tls_release(s->ca);
	free(s->msg);
	free(s->origin);
	free(s);
}

enum deliver_result
email_classify(CURLcode rc, long reply)
{
	if (rc == CURLE_OK)
		return DELIVER_OK;
	/* The server's word first: 4xx is "try again later" even when it
	 * refused a login (454), 5xx is final. */
	if (reply >= 400 && reply <= 499)
		return DELIVER_RETRY;
	if (reply >= 500 && reply <= 599)
		return DELIVER_DROP;
	switch (rc) {
	case CURLE_LOGIN_DENIED:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return DELIVER_DROP;
	default:
		return DELIVER_RETRY;
	}
}

void
email_why(char *out, size_t outlen, const char *origin, CURLcode rc,
    long reply, char *errbuf)
{
	char *p;

	for (p = errbuf; *p != '\0'; p++)
		if (email_is_ctl((unsigned char)*p))
			*p = ' ';
	while (p > errbuf && p[-1] == ' ')
		*--p = '\0';

	if (rc == CURLE_OK)
		snprintf(out, outlen, "%s: accepted (%ld)", origin, reply);
	else if (reply >= 400)
		snprintf(out, outlen, "%s: SMTP reply %ld: %s", origin, reply,
		    *errbuf != '\0' ? errbuf : curl_easy_strerror(rc));
	else if (*errbuf != '\0')
		snprintf(out, outlen, "%s: %s: %s", origin,
		    curl_easy_strerror(rc), errbuf);
	else
		snprintf(out, outlen, "%s: %s", origin,
		    curl_easy_strerror(rc));
}

static void
email_done_cb(CURL *easy, CURLcode rc, void *arg)
{
	struct email_send *s = arg;
	struct notifier *n = s->n;
	struct delivery *d = s->d;
	enum deliver_result res;
	long reply = 0;
	char why[512];

	if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &reply) !=
	    CURLE_OK)
		reply = 0;
	res = email_classify(rc, reply);
	email_why(why, sizeof why, s->origin, rc, reply, s->errbuf);
	curl_easy_cleanup(easy);
	email_send_free(s);

	d->retry_after = -1;
	delivery_done(d, res, why);
	notifier_unref(n);
}

/* Sets up the easy handle; -1 with *err. */
static int
email_setup(struct notifier *n, struct email_send *s, CURL *easy,
    char **err)
{
	const struct email_conf *c = n->cfg->conf;
	enum email_tls tls = email_tls_mode(c);
	CURLcode rc = CURLE_OK;
	char *password;
	long timeout_ms = 30000;

	if (n->env.config != NULL && n->env.config->http_timeout > 0)
		timeout_ms = (long)(n->env.config->http_timeout * 1000);

#define SETOPT(o, v)	do {						\
	if (rc == CURLE_OK)						\
		rc = curl_easy_setopt(easy, (o), (v));			\
} while (0)
	SETOPT(CURLOPT_URL, c->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	SETOPT(CURLOPT_ERRORBUFFER, s->errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_MAIL_FROM, c->from);
	SETOPT(CURLOPT_MAIL_RCPT, s->rcpt);
	SETOPT(CURLOPT_UPLOAD, 1L);
	SETOPT(CURLOPT_READFUNCTION, email_read_cb);
	SETOPT(CURLOPT_READDATA, s);
	SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->len);
	SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(CURLOPT_USE_SSL, tls == EMAIL_TLS_NONE ? (long)CURLUSESSL_NONE :
	    (long)CURLUSESSL_ALL);
	if (rc != CURLE_OK) {
		*err = xasprintf("cannot set up the transfer: %s",
		    curl_easy_strerror(rc));
		return -1;
	}
	if (tls != EMAIL_TLS_NONE &&
	    http_tls_apply(n->env.http, easy, c->ca_file, &s->ca, err) == -1)
		return -1;

	if (c->username != NULL && c->password_file != NULL) {
		if ((password = secret_file_read(c->password_file,
		    "password_file", EMAIL_PASSWORD_MAX, err)) ==
		    NULL)
			return -1;
		SETOPT(CURLOPT_USERNAME, c->username);
		/* libcurl keeps its own copy: ours is wiped at once. */
		SETOPT(CURLOPT_PASSWORD, password);
		freezero_str(password);
		if (rc != CURLE_OK) {
			*err = xasprintf("cannot set up SMTP AUTH: %s",
			    curl_easy_strerror(rc));
			return -1;
		}
	}
#undef SETOPT
	return 0;
}

static int
email_send(struct notifier *n, struct delivery *d)
{
	const struct email_conf *c = n->cfg->conf;
	struct email_priv *p = n->priv;
	struct email_send *s;
	struct xfer *x;
	CURL *easy;
	char *err = NULL, *why;

	if (d->recipient == NULL || d->alert == NULL) {
		delivery_done(d, DELIVER_DROP, "email: no recipient or alert");
		return -1;
	}

	s = xcalloc(1, sizeof *s);
	s->n = n;
	s->d = d;
	s->origin = xstrdup(p->origin);
	s->msg = email_message_build(d->alert, c->from, &c->to,
	    time_now_us(), &s->len);
	if ((s->rcpt = curl_slist_append(NULL, d->recipient)) == NULL ||
	    (easy = curl_easy_init()) == NULL) {
		err = xstrdup("out of libcurl handles");
		goto fail;
	}
	if (email_setup(n, s, easy, &err) == -1) {
		curl_easy_cleanup(easy);
		goto fail;
	}

	log_debug("%s: sending alert %s to %s through %s", n->cfg->name,
	    d->alert->id, d->recipient, p->origin);
	notifier_ref(n);
	if ((x = xfer_start(n->env.http, easy, email_done_cb, s)) == NULL) {
		notifier_unref(n);
		curl_easy_cleanup(easy);
		err = xstrdup("cannot start the transfer");
		goto fail;
	}
	xfer_hold(x, s->ca);
	s->ca = NULL;
	return 0;

fail:
	why = xasprintf("%s: %s", s->origin, err);
	free(err);
	email_send_free(s);
	delivery_done(d, DELIVER_RETRY, why);
	free(why);
	return -1;
}

const struct notifier_ops notify_email_ops = {
	.type = "email",
	.opts = email_opts,
	.conf_size = sizeof(struct email_conf),
	.check = email_check,
	.recipients = email_recipients,
	.priv_size = sizeof(struct email_priv),
	.init = email_init,
	.send = email_send,
	.fini = email_fini,
};
