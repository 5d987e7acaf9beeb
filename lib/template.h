/* Subject and message templates: {placeholder} from DESIGN.md, {{ and }}
 * for literal braces. A missing value renders "-". */
#ifndef GW_TEMPLATE_H
#define GW_TEMPLATE_H

#include <stddef.h>

struct alert;
struct template;

/* NULL with *err (caller frees) and *err_offset (0-based byte offset of
 * the problem in src) when src is not a valid template. */
struct template	*template_compile(const char *src, char **err,
		    size_t *err_offset);
char		*template_render(const struct template *,
		    const struct alert *);	/* caller frees */
void		 template_free(struct template *);

#endif
