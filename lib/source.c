/* The sources, registered by table (STYLE.md: name by file, register by
 * table). */
#include <stdlib.h>
#include <string.h>

#include "source.h"

static const struct source_ops *const source_table[] = {
	&source_loganalytics_ops,
	&source_graph_ops,
};

const struct source_ops *
source_find(enum source_kind kind)
{
	for (size_t i = 0; i < sizeof source_table / sizeof source_table[0];
	    i++)
		if (source_table[i]->kind == kind)
			return source_table[i];
	return NULL;
}

void
source_req_clear(struct source_req *req)
{
	free(req->method);
	free(req->url);
	free(req->body);
	free(req->content_type);
	memset(req, 0, sizeof *req);
}

void
page_info_clear(struct page_info *pi)
{
	free(pi->partial_why);
	free(pi->next_url);
	memset(pi, 0, sizeof *pi);
}
