/* The "modified properties" of a directory audit event, as one line a SOC
 * analyst can read in a page: Graph's targetResources and Log Analytics'
 * TargetResources carry the same modifiedProperties array. */
#ifndef GW_AUDIT_MODIFIED_H
#define GW_AUDIT_MODIFIED_H

#include <jansson.h>

/* Cap of the whole text: a changed Conditional Access policy carries the
 * whole policy JSON in its old and new values. */
#define AUDIT_MODIFIED_MAX	2048
/* Cap of one old or new value. */
#define AUDIT_VALUE_MAX		200

/* "Role.DisplayName: (none) -> Global Administrator; ..." over every
 * target's modifiedProperties, in order; a value that is a JSON string
 * inside a string loses its quotes; control characters become spaces;
 * long values end in "...". NULL when there is none (or targets is not an
 * array). Caller frees. */
char	*audit_modified_text(const json_t *targets);

#endif
