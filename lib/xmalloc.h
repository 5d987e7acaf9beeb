/* Allocation that cannot fail: out of memory is fatal, so callers never
 * carry error paths for it. */
#ifndef GW_XMALLOC_H
#define GW_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Wipe, then free: for anything that held a secret. */
void	 freezero(void *, size_t);
void	 freezero_str(char *);

#endif
