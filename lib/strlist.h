#ifndef GW_STRLIST_H
#define GW_STRLIST_H

#include <stddef.h>

struct strlist {
	char	**v;
	size_t	  n;
};

void	strlist_add(struct strlist *, const char *);	/* copies */
void	strlist_clear(struct strlist *);
int	strlist_contains(const struct strlist *, const char *);	/* exact */
int	strlist_contains_nocase(const struct strlist *, const char *);

#endif
