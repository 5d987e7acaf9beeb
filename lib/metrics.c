/*
 * The metric registry and its text exposition (Prometheus format 0.0.4).
 * Families render in the order they were made, series in the order they
 * first appeared; lookups are linear: a daemon has tens of series, not
 * thousands.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "xmalloc.h"

struct metric_series {
	char		**values;
	double		  value;	/* counter, gauge */
	uint64_t	 *buckets;	/* histogram: per bound, not cumulative */
	uint64_t	  count;
	double		  sum;
};

struct metric_family {
	char			*name;
	char			*help;
	enum metric_type	 type;
	char			**labels;
	size_t			  nlabels;
	double			 *bounds;
	size_t			  nbounds;
	struct metric_series	 *v;
	size_t			  n;
	struct metric_family	 *next;
};

struct metrics {
	struct metric_family	*head;
	struct metric_family	**tail;
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof *m);

	m->tail = &m->head;
	return m;
}

static void
series_free(const struct metric_family *f, struct metric_series *s)
{
	for (size_t i = 0; i < f->nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->buckets);
}

void
metrics_clear(struct metric_family *f)
{
	for (size_t i = 0; i < f->n; i++)
		series_free(f, &f->v[i]);
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

void
metrics_free(struct metrics *m)
{
	struct metric_family *f;

	if (m == NULL)
		return;
	while ((f = m->head) != NULL) {
		m->head = f->next;
		metrics_clear(f);
		for (size_t i = 0; i < f->nlabels; i++)
			free(f->labels[i]);
		free(f->labels);
		free(f->bounds);
		free(f->name);
		free(f->help);
		free(f);
	}
	free(m);
}

struct metric_family *
metrics_find(struct metrics *m, const char *name)
{
	for (struct metric_family *f = m->head; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

struct metric_family *
metrics_family(struct metrics *m, enum metric_type type, const char *name,
    const char *help, const char *const *labels, const double *bounds,
    size_t nbounds)
{
	struct metric_family *f;

	if ((f = metrics_find(m, name)) != NULL)
		return f;
	f = xcalloc(1, sizeof *f);
	f->name = xstrdup(name);
	f->help = xstrdup(help);
	f->type = type;
	while (labels != NULL && labels[f->nlabels] != NULL)
		f->nlabels++;
	f->labels = xcalloc(f->nlabels + 1, sizeof *f->labels);
	for (size_t i = 0; i < f->nlabels; i++)
		f->labels[i] = xstrdup(labels[i]);
	if (type == METRIC_HISTOGRAM && nbounds > 0) {
		f->bounds = xcalloc(nbounds, sizeof *f->bounds);
		memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
		f->nbounds = nbounds;
	}
	*m->tail = f;
	m->tail = &f->next;
	return f;
}

static const char *
value_or_empty(const char *const *values, size_t i)
{
	return values != NULL && values[i] != NULL ? values[i] : "";
}

static struct metric_series *
series_lookup(struct metric_family *f, const char *const *values, int make)
{
	struct metric_series *s;
	size_t i, j;

	for (i = 0; i < f->n; i++) {
		for (j = 0; j < f->nlabels; j++)
			if (strcmp(f->v[i].values[j],
			    value_or_empty(values, j)) != 0)
				break;
		if (j == f->nlabels)
			return &f->v[i];
	}
	if (!make)
		return NULL;
	f->v = xreallocarray(f->v, f->n + 1, sizeof *f->v);
	s = &f->v[f->n++];
	memset(s, 0, sizeof *s);
	s->values = xcalloc(f->nlabels + 1, sizeof *s->values);
	for (j = 0; j < f->nlabels; j++)
		s->values[j] = xstrdup(value_or_empty(values, j));
	if (f->type == METRIC_HISTOGRAM)
		s->buckets = xcalloc(f->nbounds + 1, sizeof *s->buckets);
	return s;
}

void
metrics_add(struct metric_family *f, const char *const *values, double v)
{
	if (f->type != METRIC_HISTOGRAM)
		series_lookup(f, values, 1)->value += v;
}

void
metrics_set(struct metric_family *f, const char *const *values, double v)
{
	if (f->type == METRIC_GAUGE)
		series_lookup(f, values, 1)->value = v;
}

void
metrics_observe(struct metric_family *f, const char *const *values, double v)
{
	struct metric_series *s;
	size_t i;

	if (f->type != METRIC_HISTOGRAM || isnan(v))
		return;
	s = series_lookup(f, values, 1);
	for (i = 0; i < f->nbounds && v > f->bounds[i]; i++)
		;
	s->buckets[i]++;		/* i == nbounds: only +Inf */
	s->count++;
	s->sum += v;
}

double
metrics_value(struct metric_family *f, const char *const *values)
{
	struct metric_series *s = series_lookup(f, values, 0);

	if (s == NULL)
		return 0;
	return f->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
}

void
metrics_escape(struct buf *b, const char *s, int label_value)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '"':
			if (label_value) {
				buf_puts(b, "\\\"");
				break;
			}
			/* FALLTHROUGH */
		default:
			buf_putc(b, *s);
		}
	}
}

/* Shortest of %.15g and %.17g that reads back as the same double. */
static void
put_number(struct buf *b, double v)
{
	char s[64];

	if (isnan(v)) {
		buf_puts(b, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	snprintf(s, sizeof s, "%.15g", v);
	if (strtod(s, NULL) != v)
		snprintf(s, sizeof s, "%.17g", v);
	buf_puts(b, s);
}

/* name{a="x",b="y"[,le="..."]} value */
static void
put_sample(struct buf *b, const struct metric_family *f,
    const struct metric_series *s, const char *suffix, const char *le,
    double v)
{
	int any = 0;

	buf_puts(b, f->name);
	buf_puts(b, suffix);
	for (size_t i = 0; i < f->nlabels; i++) {
		buf_printf(b, "%c%s=\"", any ? ',' : '{', f->labels[i]);
		metrics_escape(b, s->values[i], 1);
		buf_putc(b, '"');
		any = 1;
	}
	if (le != NULL) {
		buf_printf(b, "%cle=\"%s\"", any ? ',' : '{', le);
		any = 1;
	}
	if (any)
		buf_putc(b, '}');
	buf_putc(b, ' ');
	put_number(b, v);
	buf_putc(b, '\n');
}

static void
render_histogram(struct buf *b, const struct metric_family *f,
    const struct metric_series *s)
{
	struct buf le;
	uint64_t cum = 0;

	buf_init(&le);
	for (size_t i = 0; i <= f->nbounds; i++) {
		cum += s->buckets[i];
		buf_reset(&le);
		if (i < f->nbounds)
			put_number(&le, f->bounds[i]);
		else
			buf_puts(&le, "+Inf");
		put_sample(b, f, s, "_bucket", buf_cstr(&le), (double)cum);
	}
	buf_free(&le);
	put_sample(b, f, s, "_sum", NULL, s->sum);
	put_sample(b, f, s, "_count", NULL, (double)s->count);
}

void
metrics_render(struct metrics *m, struct buf *b)
{
	static const char *const type_names[] = {
		"counter", "gauge", "histogram"
	};

	for (struct metric_family *f = m->head; f != NULL; f = f->next) {
		buf_printf(b, "# HELP %s ", f->name);
		metrics_escape(b, f->help, 0);
		buf_printf(b, "\n# TYPE %s %s\n", f->name,
		    type_names[f->type]);
		for (size_t i = 0; i < f->n; i++) {
			if (f->type == METRIC_HISTOGRAM)
				render_histogram(b, f, &f->v[i]);
			else
				put_sample(b, f, &f->v[i], "", NULL,
				    f->v[i].value);
		}
	}
}
