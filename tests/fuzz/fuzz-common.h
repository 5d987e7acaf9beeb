/* What the harnesses share: libFuzzer's entry points, a quiet log, the
 * NUL-terminated copy of an input, and for the source harnesses the
 * tenant and poll they read pages for. Header-only (static inline): each
 * harness is one file. */
#ifndef GW_FUZZ_COMMON_H
#define GW_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "record.h"
#include "source.h"
#include "xmalloc.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Nothing is logged: millions of warnings would only slow the run. */
static inline void
fuzz_quiet(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(LOG_EMERG, LOG_FORMAT_TEXT);
}

/* The input as the code under test receives it: answer bodies (struct
 * http_response) and YAML scalars are NUL-terminated. Caller frees. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t len)
{
	char *s = xmalloc(len + 1);

	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/* The break-glass accounts are the users of Microsoft's examples
 * (/work/shared/data) and of the unit tests, so that seed pages produce
 * records. */
static inline void
fuzz_tenant(struct tenant_config *t)
{
	static struct account accounts[] = {
		{ "26be570a-ae82-4189-b4e2-a37c6808512d",
		  "testaccount1@contoso.com" },
		{ "26be570a-1111-5555-b4e2-a37c6808512d",
		  "testaccount1-beta@contoso.com" },
		{ "1f0e98f5-3161-4c6b-9b50-d488572f2bb7", "bob@contoso.com" },
		{ "5f1c2a9e-8d3b-4c7a-9e21-0b6d4f3a7c10",
		  "bg1@contoso.onmicrosoft.com" },
		{ "a7e4b9c2-1d6f-4e8a-b3c5-92f0d1e6a8b4", NULL },
	};

	memset(t, 0, sizeof *t);
	t->name = "contoso";
	t->tenant_id = "00000000-0000-0000-0000-0000000000aa";
	t->endpoints.login = "https://login.microsoftonline.com";
	t->endpoints.graph = "https://graph.microsoft.com";
	t->endpoints.log_analytics = "https://api.loganalytics.io";
	t->scopes.graph = "https://graph.microsoft.com/.default";
	t->scopes.log_analytics = "https://api.loganalytics.io/.default";
	t->log_analytics.enabled = 1;
	t->log_analytics.workspace_id = "63613592-b6f7-4c3d-a390-22ba13102111";
	t->log_analytics.overlap = 120;
	t->log_analytics.lookback = 2 * 86400;
	t->graph_enabled = 1;
	t->break_glass = accounts;
	t->nbreak_glass = sizeof accounts / sizeof accounts[0];
}

/* A poll of signal one hour back from a fixed now (2026-11-22T04:00:00Z),
 * so that a run is repeatable. */
static inline void
fuzz_ctx(struct source_ctx *ctx, const struct tenant_config *t,
    enum signal s, unsigned together)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->tenant = t;
	ctx->signal = s;
	ctx->together = together;
	ctx->now_us = INT64_C(1795320000) * 1000000;
	ctx->cursor_us = ctx->now_us - INT64_C(3600) * 1000000;
	for (int i = 0; i < SIGNAL_COUNT; i++)
		ctx->cursors_us[i] = ctx->cursor_us;
}

/* One page through a source's parse, everything it returns freed. */
static inline void
fuzz_page(const struct source_ops *ops, const struct tenant_config *t,
    const char *body, size_t len, enum signal s, unsigned together)
{
	struct source_ctx ctx;
	struct record_list out;
	struct page_info pi;
	char *err = NULL;

	fuzz_ctx(&ctx, t, s, together);
	record_list_init(&out);
	(void)ops->parse(&ctx, body, len, &out, &pi, &err);
	free(err);
	record_list_clear(&out);
	page_info_clear(&pi);
}

#endif
