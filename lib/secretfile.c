/*
 * Reading a secret from a file without leaving copies of it behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "secretfile.h"
#include "xmalloc.h"

char *
secret_file_read(const char *path, const char *what, size_t max, char **err)
{
	char	*buf, *secret = NULL;
	size_t	 len = 0;
	ssize_t	 r = 0;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*err = xasprintf("cannot open %s %s: %s", what, path,
		    strerror(errno));
		return NULL;
	}
	/* One byte more than allowed tells "too large" from "just fits". */
	buf = xmalloc(max + 1);
	while (len < max + 1) {
		r = read(fd, buf + len, max + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	saved = errno;
	close(fd);
	if (r == -1)
		*err = xasprintf("cannot read %s %s: %s", what, path,
		    strerror(saved));
	else if (len > max)
		*err = xasprintf("%s %s is larger than %zu bytes", what, path,
		    max);
	else {
		while (len > 0 && (buf[len - 1] == '\n' ||
		    buf[len - 1] == '\r'))
			len--;
		if (len == 0 || memchr(buf, '\0', len) != NULL)
			*err = xasprintf("%s %s is empty or holds a NUL byte",
			    what, path);
		else
			secret = xstrndup(buf, len);
	}
	freezero(buf, max + 1);
	return secret;
}
