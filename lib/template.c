/*
 * Subject and message templates. A template is compiled once, when the
 * configuration is loaded, into a list of parts: literal text or a
 * placeholder. Rendering walks the parts; it cannot fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "buf.h"
#include "record.h"
#include "template.h"
#include "timeutil.h"
#include "xmalloc.h"

enum tpl_var {
	TV_LITERAL,
	TV_RULE,
	TV_DESCRIPTION,
	TV_SEVERITY,
	TV_SEV,
	TV_TENANT,
	TV_TENANT_ID,
	TV_UPN,
	TV_OBJECT_ID,
	TV_IP,
	TV_LOCATION,
	TV_APP,
	TV_RESULT,
	TV_ERROR,
	TV_TIME,
	TV_COUNT,
	TV_ACTIVITY,
	TV_INITIATOR,
	TV_TARGET,
	TV_MODIFIED,
	TV_ALERT_ID
};

/* The names are DESIGN.md's ("Configuration contract"): binding. */
static const struct {
	const char	*name;
	enum tpl_var	 var;
} template_vars[] = {
	{ "rule",		TV_RULE },
	{ "description",	TV_DESCRIPTION },
	{ "severity",		TV_SEVERITY },
	{ "sev",		TV_SEV },
	{ "tenant",		TV_TENANT },
	{ "tenant_id",		TV_TENANT_ID },
	{ "upn",		TV_UPN },
	{ "object_id",		TV_OBJECT_ID },
	{ "ip",			TV_IP },
	{ "location",		TV_LOCATION },
	{ "app",		TV_APP },
	{ "result",		TV_RESULT },
	{ "error",		TV_ERROR },
	{ "time",		TV_TIME },
	{ "count",		TV_COUNT },
	{ "activity",		TV_ACTIVITY },
	{ "initiator",		TV_INITIATOR },
	{ "target",		TV_TARGET },
	{ "modified",		TV_MODIFIED },
	{ "alert_id",		TV_ALERT_ID },
};

#define TEMPLATE_NVARS	(sizeof template_vars / sizeof template_vars[0])

struct template_part {
	enum tpl_var	 var;
	char		*text;		/* TV_LITERAL */
	size_t		 len;
};

struct template {
	struct template_part	*parts;
	size_t			 nparts;
};

static void
template_add(struct template *t, enum tpl_var var, struct buf *lit)
{
	struct template_part *p;

	t->parts = xreallocarray(t->parts, t->nparts + 1, sizeof *t->parts);
	p = &t->parts[t->nparts++];
	p->var = var;
	p->text = NULL;
	p->len = 0;
	if (var == TV_LITERAL) {
		p->len = lit->len;
		p->text = buf_steal(lit);
	}
}

/* Literal text gathered so far becomes a part of its own. */
static void
template_flush(struct template *t, struct buf *lit)
{
	if (lit->len > 0)
		template_add(t, TV_LITERAL, lit);
}

static int
template_lookup(const char *name, size_t len, enum tpl_var *var)
{
	for (size_t i = 0; i < TEMPLATE_NVARS; i++) {
		if (strlen(template_vars[i].name) == len &&
		    memcmp(template_vars[i].name, name, len) == 0) {
			*var = template_vars[i].var;
			return 0;
		}
	}
	return -1;
}

struct template *
template_compile(const char *src, char **err, size_t *err_offset)
{
	struct template *t;
	struct buf lit;
	enum tpl_var var;
	size_t i, j;

	t = xcalloc(1, sizeof *t);
	buf_init(&lit);
	for (i = 0; src[i] != '\0'; i++) {
		if (src[i] == '}') {
			if (src[i + 1] != '}') {
				*err = xstrdup("lone '}' (write '}}' for a "
				    "literal brace)");
				goto fail;
			}
			buf_putc(&lit, '}');
			i++;
			continue;
		}
		if (src[i] != '{') {
			buf_putc(&lit, src[i]);
			continue;
		}
		if (src[i + 1] == '{') {
			buf_putc(&lit, '{');
			i++;
			continue;
		}
		for (j = i + 1; src[j] != '\0' && src[j] != '}' &&
		    src[j] != '{'; j++)
			;
		if (src[j] != '}') {
			*err = xstrdup("unclosed '{' (write '{{' for a "
			    "literal brace)");
			goto fail;
		}
		if (template_lookup(src + i + 1, j - i - 1, &var) == -1) {
			*err = xasprintf("unknown placeholder '{%.*s}'",
			    (int)(j - i - 1 > 64 ? 64 : j - i - 1),
			    src + i + 1);
			goto fail;
		}
		template_flush(t, &lit);
		template_add(t, var, NULL);
		i = j;
	}
	template_flush(t, &lit);
	buf_free(&lit);
	return t;

fail:
	*err_offset = i;
	buf_free(&lit);
	template_free(t);
	return NULL;
}

void
template_free(struct template *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nparts; i++)
		free(t->parts[i].text);
	free(t->parts);
	free(t);
}

/* A placeholder's value, or NULL when missing. tmp holds numbers. */
static const char *
template_value(enum tpl_var var, const struct alert *a, char *tmp,
    size_t tmplen)
{
	const struct record *r;

	r = a->nrecords > 0 ? a->records[0] : NULL;
	switch (var) {
	case TV_LITERAL:
		return NULL;
	case TV_RULE:
		return a->rule;
	case TV_DESCRIPTION:
		return a->description;
	case TV_SEVERITY:
		snprintf(tmp, tmplen, "%d", a->severity);
		return tmp;
	case TV_SEV:
		snprintf(tmp, tmplen, "Sev%d", a->severity);
		return tmp;
	case TV_TENANT:
		if (a->tenant == NULL && r != NULL)
			return r->tenant;
		return a->tenant;
	case TV_TENANT_ID:
		return a->tenant_id;
	case TV_UPN:
		return a->account_upn;
	case TV_OBJECT_ID:
		return a->account_oid;
	case TV_COUNT:
		snprintf(tmp, tmplen, "%ld", a->kind == ALERT_ABSENCE ?
		    a->count : (long)a->nrecords);
		return tmp;
	case TV_ALERT_ID:
		return a->id;
	default:
		break;
	}

	/* The rest belong to the first record. */
	if (r == NULL)
		return NULL;
	switch (var) {
	case TV_IP:
		return r->ip;
	case TV_LOCATION:
		return r->location;
	case TV_APP:
		return r->app;
	case TV_RESULT:
		return record_result_text(r, tmp, tmplen);
	case TV_ERROR:
		return r->failure_reason;
	case TV_TIME:
		if (r->event_us == 0)
			return NULL;
		time_format_iso8601_sec(r->event_us, tmp);
		return tmp;
	case TV_ACTIVITY:
		return r->activity;
	case TV_INITIATOR:
		return r->initiator;
	case TV_TARGET:
		return r->target;
	case TV_MODIFIED:
		return r->modified;
	default:
		return NULL;
	}
}

char *
template_render_escaped(const struct template *t, const struct alert *a,
    void (*escape)(struct buf *, const char *))
{
	struct buf out;
	char tmp[TIME_ISO_LEN];
	const char *v;

	buf_init(&out);
	for (size_t i = 0; i < t->nparts; i++) {
		const struct template_part *p = &t->parts[i];

		if (p->var == TV_LITERAL) {
			buf_append(&out, p->text, p->len);
			continue;
		}
		v = template_value(p->var, a, tmp, sizeof tmp);
		if (v == NULL || *v == '\0')
			v = "-";
		if (escape != NULL)
			escape(&out, v);
		else
			buf_puts(&out, v);
	}
	return buf_steal(&out);
}

char *
template_render(const struct template *t, const struct alert *a)
{
	return template_render_escaped(t, a, NULL);
}

int
template_is_placeholder(const char *name)
{
	enum tpl_var var;

	return template_lookup(name, strlen(name), &var) == 0;
}
