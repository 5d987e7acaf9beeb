/* libFuzzer harness: a subject or message template (template.c) compiled,
 * and when it compiles rendered for an event alert with a record, for an
 * absence alert without one, and through an escaping callback. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "buf.h"
#include "log.h"
#include "record.h"
#include "template.h"
#include "xmalloc.h"

#include "fuzz-common.h"

/* 2026-11-22T03:49:15.123456Z */
#define T0	(INT64_C(1795319355) * 1000000 + 123456)

static struct alert	*event, *absence;

static struct alert *
fuzz_alert(enum alert_kind kind)
{
	struct alert *a = alert_new(kind);

	/* Fixed, so that a run is repeatable. */
	free(a->id);
	a->id = xstrdup("gw-6f1d2c3b-4a59-4e7d-8c21-0b9a8f7e6d5c");
	a->created_us = T0;
	a->rule = xstrdup("break-glass-sign-in");
	a->description = xstrdup("An emergency access account signed in");
	a->severity = 1;
	a->tenant = xstrdup("contoso");
	a->tenant_id = xstrdup("00000000-0000-0000-0000-0000000000aa");
	a->account_oid = xstrdup("5f1c2a9e-8d3b-4c7a-9e21-0b6d4f3a7c10");
	a->account_upn = xstrdup("bg1@contoso.onmicrosoft.com");
	a->count = 3;
	return a;
}

static struct record *
fuzz_record(void)
{
	struct record *r = record_new();

	r->signal = SIGNAL_SIGN_IN;
	r->tenant = xstrdup("contoso");
	r->id = xstrdup("rec-1");
	r->event_us = T0;
	r->user_id = xstrdup("5f1c2a9e-8d3b-4c7a-9e21-0b6d4f3a7c10");
	r->upn = xstrdup("bg1@contoso.onmicrosoft.com");
	r->ip = xstrdup("203.0.113.7");
	r->location = xstrdup("Redmond, Washington, US");
	r->app = xstrdup("Azure Portal");
	r->result_code = 50126;
	r->failure_reason = xstrdup("Invalid username or password");
	r->activity = xstrdup("Update user");
	r->initiator = xstrdup("admin@contoso.example");
	r->target = xstrdup("bg2@contoso.onmicrosoft.com");
	r->modified = xstrdup("AccountEnabled: true -> false");
	return r;
}

static void
fuzz_escape_cb(struct buf *b, const char *v)
{
	for (; *v != '\0'; v++)
		if (*v == '<')
			buf_puts(b, "&lt;");
		else
			buf_putc(b, *v);
}

static void
fuzz_free(void)
{
	alert_free(event);
	alert_free(absence);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet(argc, argv);
	event = fuzz_alert(ALERT_EVENT);
	alert_add_record(event, fuzz_record());
	absence = fuzz_alert(ALERT_ABSENCE);
	atexit(fuzz_free);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *src = fuzz_cstr(data, len), *err = NULL;
	struct template *t;
	size_t off = 0;

	if ((t = template_compile(src, &err, &off)) != NULL) {
		free(template_render(t, event));
		free(template_render(t, absence));
		free(template_render_escaped(t, event, fuzz_escape_cb));
		template_free(t);
	} else if (off > strlen(src))
		abort();	/* the offset must point into the source */
	free(err);
	free(src);
	return 0;
}
