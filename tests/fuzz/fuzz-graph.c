/* libFuzzer harness: a Microsoft Graph page (source-graph.c) read as a
 * signIns page and as a directoryAudits page, the @odata.nextLink check
 * included. */
#include <stdint.h>
#include <stdlib.h>

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *body = fuzz_cstr(data, len);

	fuzz_page(&source_graph_ops, &tenant, body, len, SIGNAL_SIGN_IN, 0);
	fuzz_page(&source_graph_ops, &tenant, body, len, SIGNAL_AUDIT, 0);
	free(body);
	return 0;
}
