/* Subject and message templates: {placeholder} from DESIGN.md, {{ and }}
 * for literal braces. A missing (NULL or empty) value renders "-". Record
 * placeholders ({ip} {location} {app} {result} {error} {time} {activity}
 * {initiator} {target} {modified}) take the alert's first record; {upn} and
 * {object_id} are the matched break-glass account; {count} is the number
 * of records carried (absence alerts: the count found). Values are not
 * escaped: a caller that needs escaping uses template_render_escaped(). */
#ifndef GW_TEMPLATE_H
#define GW_TEMPLATE_H

#include <stddef.h>

struct alert;
struct buf;
struct template;

/* NULL with *err (caller frees) and *err_offset (0-based byte offset of
 * the problem in src) when src is not a valid template: for an unknown
 * placeholder and an unclosed '{', the offset of that '{'; for a lone '}',
 * its own offset. */
struct template	*template_compile(const char *src, char **err,
		    size_t *err_offset);
char		*template_render(const struct template *,
		    const struct alert *);	/* caller frees */
/* The same, with each placeholder's value (never the literal text of the
 * template) appended through escape (HTML, Slack mrkdwn, ...). */
char		*template_render_escaped(const struct template *,
		    const struct alert *,
		    void (*escape)(struct buf *, const char *));
void		 template_free(struct template *);
/* Is name (without braces) a placeholder? */
int		 template_is_placeholder(const char *name);

#endif
