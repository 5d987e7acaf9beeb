/* libFuzzer harness: the Log Analytics query answer, first as a bare
 * result table (la-table.c: every cell read through each accessor), then
 * as a page of the source (source-loganalytics.c) for each signal alone
 * and for the union query that reads them together (the GwSignal path). */
#include <stdint.h>
#include <stdlib.h>

#include "la-table.h"
#include "log.h"
#include "record.h"
#include "source.h"

#include "fuzz-common.h"

static struct tenant_config	tenant;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet(argc, argv);
	fuzz_tenant(&tenant);
	return 0;
}

static void
fuzz_table(const char *body, size_t len)
{
	struct la_table t;
	char *err = NULL;
	int64_t us;

	if (la_table_parse(body, len, &t, &err) == 0) {
		for (size_t c = 0; c < t.ncolumns; c++) {
			(void)la_table_column(&t, t.columns[c].name);
			(void)la_type_name(t.columns[c].type);
		}
		/* A string column holding JSON text, as LocationDetails. */
		if (t.ncolumns > 0)
			la_table_parse_json_column(&t, (int)(len %
			    t.ncolumns));
		la_table_parse_json_column(&t, -1);
		for (size_t r = 0; r < t.nrows; r++)
			for (int c = -1; c < (int)t.ncolumns; c++) {
				(void)la_table_cell(&t, r, c);
				(void)la_table_string(&t, r, c);
				(void)la_table_time(&t, r, c, &us);
			}
	}
	free(err);
	la_table_free(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *body = fuzz_cstr(data, len);

	fuzz_table(body, len);
	for (int s = 0; s < SIGNAL_COUNT; s++)
		fuzz_page(&source_loganalytics_ops, &tenant, body, len,
		    (enum signal)s, 0);
	/* The union query: every row tagged with its GwSignal. */
	fuzz_page(&source_loganalytics_ops, &tenant, body, len, SIGNAL_SIGN_IN,
	    SIGNAL_BIT(SIGNAL_SIGN_IN) | SIGNAL_BIT(SIGNAL_NON_INTERACTIVE) |
	    SIGNAL_BIT(SIGNAL_AUDIT));
	free(body);
	return 0;
}
