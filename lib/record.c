#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "xmalloc.h"

static const char *const signal_names[SIGNAL_COUNT] = {
	"sign_in", "non_interactive_sign_in", "audit"
};

const char *
signal_name(enum signal s)
{
	return (unsigned)s < SIGNAL_COUNT ? signal_names[s] : "unknown";
}

int
signal_from_name(const char *name, enum signal *s)
{
	for (int i = 0; i < SIGNAL_COUNT; i++) {
		if (strcmp(name, signal_names[i]) == 0) {
			*s = (enum signal)i;
			return 0;
		}
	}
	return -1;
}

struct record *
record_new(void)
{
	return xcalloc(1, sizeof(struct record));
}

static char *
dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct record *
record_dup(const struct record *r)
{
	struct record *c = record_new();

	*c = *r;
	c->tenant = dupnull(r->tenant);
	c->id = dupnull(r->id);
	c->user_id = dupnull(r->user_id);
	c->upn = dupnull(r->upn);
	c->ip = dupnull(r->ip);
	c->location = dupnull(r->location);
	c->app = dupnull(r->app);
	c->failure_reason = dupnull(r->failure_reason);
	c->correlation_id = dupnull(r->correlation_id);
	c->activity = dupnull(r->activity);
	c->category = dupnull(r->category);
	c->service = dupnull(r->service);
	c->initiator = dupnull(r->initiator);
	c->initiator_id = dupnull(r->initiator_id);
	c->target = dupnull(r->target);
	c->target_ids = dupnull(r->target_ids);
	c->modified = dupnull(r->modified);
	c->raw = dupnull(r->raw);
	return c;
}

void
record_free(struct record *r)
{
	if (r == NULL)
		return;
	free(r->tenant);
	free(r->id);
	free(r->user_id);
	free(r->upn);
	free(r->ip);
	free(r->location);
	free(r->app);
	free(r->failure_reason);
	free(r->correlation_id);
	free(r->activity);
	free(r->category);
	free(r->service);
	free(r->initiator);
	free(r->initiator_id);
	free(r->target);
	free(r->target_ids);
	free(r->modified);
	free(r->raw);
	free(r);
}

const char *
record_result_text(const struct record *r, char *out, size_t outlen)
{
	if (r->success)
		snprintf(out, outlen, "success");
	else if (r->signal == SIGNAL_AUDIT)
		snprintf(out, outlen, "failure");
	else
		snprintf(out, outlen, "failure:%ld", r->result_code);
	return out;
}

void
record_list_init(struct record_list *l)
{
	l->v = NULL;
	l->n = l->cap = 0;
}

void
record_list_add(struct record_list *l, struct record *r)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
	}
	l->v[l->n++] = r;
}

void
record_list_clear(struct record_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		record_free(l->v[i]);
	free(l->v);
	record_list_init(l);
}
