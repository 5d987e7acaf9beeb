#ifndef GW_GUID_H
#define GW_GUID_H

#define GUID_LEN	37	/* 36 characters and the NUL */

/* 8-4-4-4-12 hexadecimal digits, either case. */
int	guid_valid(const char *);
/* A random (version 4) GUID in lower case. */
void	guid_random(char out[GUID_LEN]);
/* Case-insensitive equality of two GUID strings. */
int	guid_equal(const char *, const char *);

#endif
