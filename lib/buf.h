/* A growable byte buffer, always NUL-terminated for convenience. */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

void	 buf_init(struct buf *);
void	 buf_append(struct buf *, const void *, size_t);
void	 buf_puts(struct buf *, const char *);
void	 buf_putc(struct buf *, char);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
const char *buf_cstr(struct buf *);	/* never NULL */
char	*buf_steal(struct buf *);	/* caller frees; buffer is reset */
void	 buf_reset(struct buf *);	/* length 0, keeps memory */
void	 buf_free(struct buf *);
void	 buf_wipe(struct buf *);	/* free after zeroing: held a secret */

#endif
