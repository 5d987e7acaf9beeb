/*
 * provider: http. A generic SMS gateway: one request to `url` per number,
 * its fields written by the operator as templates.
 *
 * `form:` (x-www-form-urlencoded; in the query string with method: GET)
 * or `json:` (a JSON document built with jansson, never pasted: values
 * may nest as mappings and lists) and `headers:` are mappings whose
 * string values are templates: the alert's placeholders (template.h),
 * plus {to} (the number of this delivery) and {message} (the page text,
 * already cut to max_length). An optional auth_token_file is sent as
 * "Authorization: Bearer TOKEN", or as the header auth_header names.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <yaml.h>

#include "buf.h"
#include "cfgparse.h"
#include "http.h"
#include "log.h"
#include "notifier.h"
#include "notify-http.h"
#include "secretfile.h"
#include "sms-provider.h"
#include "template.h"
#include "xmalloc.h"

#define GATEWAY_TOKEN_MAX	4096

static const char *const gateway_keys[] = {
	"url", "method", "headers", "form", "json", "auth_token_file",
	"auth_header", NULL
};

enum gw_part_kind { GW_TEMPLATE, GW_TO, GW_MESSAGE };

/* A value: the alert's template pieces with {to} and {message} between
 * them. */
struct gw_part {
	enum gw_part_kind	 kind;
	struct template		*tpl;		/* GW_TEMPLATE */
};

struct gw_value {
	struct gw_part	*parts;
	size_t		 nparts;
};

enum sms_field_kind { SMS_FIELD_TEXT, SMS_FIELD_MAP, SMS_FIELD_LIST };

struct sms_field {
	char			*key;		/* NULL in a list */
	enum sms_field_kind	 kind;
	struct gw_value		*value;		/* a text */
	struct sms_fields	*sub;		/* SMS_FIELD_MAP, _LIST */
};

struct sms_fields {
	struct sms_field	*v;
	size_t			 n;
};

/* ---- values --------------------------------------------------------- */

static void
gw_value_free(struct gw_value *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->nparts; i++)
		template_free(v->parts[i].tpl);
	free(v->parts);
	free(v);
}

static void
gw_value_add(struct gw_value *v, enum gw_part_kind kind, struct template *t)
{
	v->parts = xreallocarray(v->parts, v->nparts + 1, sizeof *v->parts);
	v->parts[v->nparts].kind = kind;
	v->parts[v->nparts].tpl = t;
	v->nparts++;
}

/* The template text between {to} and {message}; -1 with *err and *off. */
static int
gw_value_add_text(struct gw_value *v, const char *src, size_t len,
    char **err, size_t *off)
{
	struct template *t;
	char *piece;

	if (len == 0)
		return 0;
	piece = xstrndup(src, len);
	t = template_compile(piece, err, off);
	free(piece);
	if (t == NULL)
		return -1;
	gw_value_add(v, GW_TEMPLATE, t);
	return 0;
}

/* NULL with *err and *off (the byte of src at fault) when src is not a
 * valid template. */
static struct gw_value *
gw_value_compile(const char *src, char **err, size_t *off)
{
	static const struct {
		const char		*name;
		enum gw_part_kind	 kind;
	} vars[] = { { "{to}", GW_TO }, { "{message}", GW_MESSAGE } };
	struct gw_value *v = xcalloc(1, sizeof *v);
	size_t i = 0, start = 0, k;

	while (src[i] != '\0') {
		/* Doubled braces are literal: never the start of a name. */
		if ((src[i] == '{' && src[i + 1] == '{') ||
		    (src[i] == '}' && src[i + 1] == '}')) {
			i += 2;
			continue;
		}
		for (k = 0; k < sizeof vars / sizeof vars[0]; k++)
			if (strncmp(src + i, vars[k].name,
			    strlen(vars[k].name)) == 0)
				break;
		if (src[i] != '{' || k == sizeof vars / sizeof vars[0]) {
			i++;
			continue;
		}
		if (gw_value_add_text(v, src + start, i - start, err,
		    off) == -1) {
			*off += start;
			gw_value_free(v);
			return NULL;
		}
		gw_value_add(v, vars[k].kind, NULL);
		i += strlen(vars[k].name);
		start = i;
	}
	if (gw_value_add_text(v, src + start, i - start, err, off) == -1) {
		*off += start;
		gw_value_free(v);
		return NULL;
	}
	return v;
}

static char *
gw_value_render(const struct gw_value *v, const struct alert *a,
    const char *to, const char *text)
{
	struct buf b;
	char *s;

	buf_init(&b);
	for (size_t i = 0; i < v->nparts; i++) {
		switch (v->parts[i].kind) {
		case GW_TO:
			buf_puts(&b, to);
			break;
		case GW_MESSAGE:
			buf_puts(&b, text);
			break;
		default:
			s = template_render(v->parts[i].tpl, a);
			buf_puts(&b, s);
			free(s);
			break;
		}
	}
	return buf_steal(&b);
}

/* ---- configuration -------------------------------------------------- */

static void
gw_fields_free(struct sms_fields *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].key);
		gw_value_free(f->v[i].value);
		gw_fields_free(f->v[i].sub);
	}
	free(f->v);
	free(f);
}

void
sms_fields_free(void *field)
{
	struct sms_fields **f = field;

	gw_fields_free(*f);
	*f = NULL;
}

static int
gw_header_name_valid(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') ||
		    strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return 0;
	return 1;
}

/* A scalar value compiled; errors point at the character at fault. */
static struct gw_value *
gw_value_parse(struct cfg *cfg, yaml_node_t *n, const char *what,
    const char *key)
{
	struct gw_value *v;
	yaml_node_t at;
	char *err = NULL;
	size_t off = 0;

	v = gw_value_compile((const char *)n->data.scalar.value, &err, &off);
	if (v != NULL)
		return v;
	at = *n;
	if (strchr((const char *)n->data.scalar.value, '\n') == NULL)
		at.start_mark.column += off + (n->data.scalar.style ==
		    YAML_PLAIN_SCALAR_STYLE ? 0 : 1);
	cfg_error(cfg, &at, "%s: %s: %s", what, key, err);
	free(err);
	return NULL;
}

static struct sms_fields *gw_fields_parse(struct cfg *, yaml_node_t *,
    const char *what, int nested, int depth);

/* One value of a form, headers or json mapping (or json list). */
static int
gw_field_parse(struct cfg *cfg, yaml_node_t *n, const char *what,
    const char *key, int nested, int depth, struct sms_field *f)
{
	if (n->type == YAML_SCALAR_NODE) {
		f->kind = SMS_FIELD_TEXT;
		f->value = gw_value_parse(cfg, n, what, key);
		return f->value != NULL ? 0 : -1;
	}
	if (!nested) {
		cfg_error(cfg, n, "%s: %s: expected a text (a template), "
		    "found a %s", what, key, n->type == YAML_MAPPING_NODE ?
		    "mapping" : "list");
		return -1;
	}
	if (depth >= 8) {
		cfg_error(cfg, n, "%s: %s: nested too deeply", what, key);
		return -1;
	}
	f->kind = n->type == YAML_MAPPING_NODE ? SMS_FIELD_MAP :
	    SMS_FIELD_LIST;
	f->sub = gw_fields_parse(cfg, n, what, nested, depth + 1);
	return f->sub != NULL ? 0 : -1;
}

static struct sms_fields *
gw_fields_parse(struct cfg *cfg, yaml_node_t *n, const char *what,
    int nested, int depth)
{
	struct sms_fields *f = xcalloc(1, sizeof *f);
	yaml_node_pair_t *p;
	yaml_node_item_t *it;
	yaml_node_t *k, *v;
	int bad = 0;

	if (n->type == YAML_SEQUENCE_NODE) {
		for (it = n->data.sequence.items.start;
		    it < n->data.sequence.items.top; it++) {
			f->v = xreallocarray(f->v, f->n + 1, sizeof *f->v);
			memset(&f->v[f->n], 0, sizeof f->v[f->n]);
			if (gw_field_parse(cfg, cfg_node(cfg, *it), what,
			    "list item", nested, depth, &f->v[f->n++]) == -1)
				bad = 1;
		}
		goto out;
	}
	for (p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		k = cfg_node(cfg, p->key);
		v = cfg_node(cfg, p->value);
		if (k->type != YAML_SCALAR_NODE) {
			cfg_error(cfg, k, "%s: keys must be plain words", what);
			bad = 1;
			continue;
		}
		f->v = xreallocarray(f->v, f->n + 1, sizeof *f->v);
		memset(&f->v[f->n], 0, sizeof f->v[f->n]);
		f->v[f->n].key = xstrdup((const char *)k->data.scalar.value);
		if (gw_field_parse(cfg, v, what, f->v[f->n].key, nested,
		    depth, &f->v[f->n]) == -1)
			bad = 1;
		f->n++;
	}
out:
	if (bad) {
		gw_fields_free(f);
		return NULL;
	}
	return f;
}

/* A top-level form:, headers: or json: mapping into *field. */
static int
gw_fields_top(struct cfg *cfg, yaml_node_t *n, void *field, const char *what,
    int nested)
{
	struct sms_fields **out = field;

	if (n == NULL)
		return 0;
	if (n->type != YAML_MAPPING_NODE) {
		cfg_error(cfg, n, "%s: expected a mapping", what);
		return -1;
	}
	*out = gw_fields_parse(cfg, n, what, nested, 0);
	return *out != NULL ? 0 : -1;
}

int
sms_fields_parse_form(struct cfg *cfg, yaml_node_t *n, void *field)
{
	return gw_fields_top(cfg, n, field, "form", 0);
}

int
sms_fields_parse_json(struct cfg *cfg, yaml_node_t *n, void *field)
{
	return gw_fields_top(cfg, n, field, "json", 1);
}

int
sms_fields_parse_headers(struct cfg *cfg, yaml_node_t *n, void *field)
{
	struct sms_fields *f;
	yaml_node_pair_t *p;
	int rv;

	if ((rv = gw_fields_top(cfg, n, field, "headers", 0)) == -1 ||
	    (f = *(struct sms_fields **)field) == NULL)
		return rv;
	for (p = n->data.mapping.pairs.start;
	    p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = cfg_node(cfg, p->key);
		const char *name = (const char *)k->data.scalar.value;

		if (!gw_header_name_valid(name)) {
			cfg_error(cfg, k, "headers: '%.40s' is not a header "
			    "name", name);
			rv = -1;
		} else if (strcasecmp(name, "Content-Length") == 0 ||
		    strcasecmp(name, "Host") == 0) {
			cfg_error(cfg, k, "headers: %s is set by glasswatch",
			    name);
			rv = -1;
		}
	}
	return rv;
}

static void
gateway_check(struct cfg *cfg, yaml_node_t *map, struct sms_conf *c)
{
	yaml_node_t *fn = cfg_value(cfg, map, "form");
	yaml_node_t *jn = cfg_value(cfg, map, "json");
	yaml_node_t *an = cfg_value(cfg, map, "auth_header");

	if (cfg_value(cfg, map, "url") == NULL)
		cfg_error(cfg, map, "missing key 'url' (provider: http)");
	if (fn == NULL && jn == NULL)
		cfg_error(cfg, map, "missing key 'form' or 'json' (provider: "
		    "http)");
	else if (fn != NULL && jn != NULL)
		sms_error_key(cfg, map, "json", "give either form or json, "
		    "not both");
	if (jn != NULL && c->method == SMS_GET)
		cfg_error(cfg, cfg_value(cfg, map, "method"), "method: GET "
		    "sends form fields in the query; json needs POST or PUT");
	if (an != NULL && cfg_value(cfg, map, "auth_token_file") == NULL)
		cfg_error(cfg, an, "auth_header: needs auth_token_file");
	else if (c->auth_header != NULL &&
	    !gw_header_name_valid(c->auth_header))
		cfg_error(cfg, an, "auth_header: '%.40s' is not a header name",
		    c->auth_header);
}

/* ---- the request ---------------------------------------------------- */

static json_t *
gw_json(const struct sms_fields *f, int list, const struct alert *a,
    const char *to, const char *text)
{
	json_t *out = list ? json_array() : json_object(), *v;
	char *s;

	for (size_t i = 0; i < f->n; i++) {
		const struct sms_field *e = &f->v[i];

		if (e->kind == SMS_FIELD_TEXT) {
			s = gw_value_render(e->value, a, to, text);
			v = json_string(s);
			free(s);
			/* Not UTF-8 (an attacker's bytes): said plainly. */
			if (v == NULL)
				v = json_string("(not valid UTF-8)");
		} else
			v = gw_json(e->sub, e->kind == SMS_FIELD_LIST, a, to,
			    text);
		if (list)
			json_array_append_new(out, v);
		else
			json_object_set_new(out, e->key, v);
	}
	return out;
}

char *
sms_gateway_body(const struct sms_conf *c, const struct alert *a,
    const char *to, const char *text, const char **content_type)
{
	struct buf b;
	json_t *root;
	char *k, *v, *s;

	if (c->json != NULL) {
		*content_type = "application/json";
		root = gw_json(c->json, 0, a, to, text);
		s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(root);
		if (s == NULL)
			fatalx("sms_gateway_body: cannot write the JSON body");
		return s;
	}
	*content_type = "application/x-www-form-urlencoded";
	buf_init(&b);
	for (size_t i = 0; c->form != NULL && i < c->form->n; i++) {
		s = gw_value_render(c->form->v[i].value, a, to, text);
		k = url_escape(c->form->v[i].key);
		v = url_escape(s);
		buf_printf(&b, "%s%s=%s", i > 0 ? "&" : "", k, v);
		free(k);
		free(v);
		free(s);
	}
	return buf_steal(&b);
}

char **
sms_gateway_headers(const struct sms_conf *c, const struct alert *a,
    const char *to, const char *text)
{
	size_t n = c->headers != NULL ? c->headers->n : 0;
	char **out = xcalloc(n + 1, sizeof *out), *v;

	for (size_t i = 0; i < n; i++) {
		v = gw_value_render(c->headers->v[i].value, a, to, text);
		/* No header of ours is split by a value's CR or LF. */
		for (char *p = v; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		out[i] = xasprintf("%s: %s", c->headers->v[i].key, v);
		free(v);
	}
	return out;
}

static int
gw_has_header(char *const *h, const char *name)
{
	size_t len = strlen(name);

	for (; *h != NULL; h++)
		if (strncasecmp(*h, name, len) == 0 && (*h)[len] == ':')
			return 1;
	return 0;
}

static int
gateway_send(struct notifier *n, struct delivery *d, const char *text)
{
	const struct sms_conf *c = n->cfg->conf;
	static const char *const methods[] = { "POST", "PUT", "GET" };
	const char *ctype, **headers;
	char **own, *token = NULL, *auth = NULL, *body, *url, *ct = NULL;
	char *err = NULL;
	size_t nh = 0, i;

	if (c->auth_token_file != NULL && (token = secret_file_read(
	    c->auth_token_file, "auth_token_file", GATEWAY_TOKEN_MAX,
	    &err)) == NULL)
		return sms_send_failed(d, c->url, err);

	body = sms_gateway_body(c, d->alert, d->recipient, text, &ctype);
	if (c->method == SMS_GET) {
		/* The form is the query; no body. */
		url = xasprintf("%s%s%s", c->url, *body == '\0' ? "" :
		    strchr(c->url, '?') != NULL ? "&" : "?", body);
		free(body);
		body = NULL;
	} else
		url = xstrdup(c->url);

	own = sms_gateway_headers(c, d->alert, d->recipient, text);
	for (i = 0; own[i] != NULL; i++)
		;
	headers = xcalloc(i + 3, sizeof *headers);
	for (i = 0; own[i] != NULL; i++)
		headers[nh++] = own[i];
	if (body != NULL && !gw_has_header(own, "Content-Type")) {
		ct = xasprintf("Content-Type: %s", ctype);
		headers[nh++] = ct;
	}
	if (token != NULL) {
		if (c->auth_header == NULL ||
		    strcasecmp(c->auth_header, "Authorization") == 0)
			auth = xasprintf("Authorization: Bearer %s", token);
		else
			auth = xasprintf("%s: %s", c->auth_header, token);
		freezero_str(token);
		headers[nh++] = auth;
	}
	headers[nh] = NULL;

	sms_request(n, d, methods[c->method], url, headers, body, NULL);

	if (auth != NULL)
		freezero_str(auth);
	for (i = 0; own[i] != NULL; i++)
		free(own[i]);
	free(own);
	free(headers);
	free(ct);
	free(body);
	free(url);
	return 0;
}

const struct sms_provider sms_gateway = {
	.name = "http",
	.keys = gateway_keys,
	.check = gateway_check,
	.send = gateway_send,
};
