/* Secrets kept in files (systemd credentials, mode 0400): read when they are
 * needed, so a rotated file takes effect without a reload, and wiped after
 * use. */
#ifndef GW_SECRETFILE_H
#define GW_SECRETFILE_H

#include <stddef.h>

/* The file's contents without trailing CR/LF (editors and echo add one the
 * secret does not have). what names the key in errors ("password_file").
 * Returns the secret (caller wipes with freezero_str), or NULL with *err:
 * unreadable, empty, larger than max bytes, or holding a NUL. The error
 * names the key and path, never the contents. */
char	*secret_file_read(const char *path, const char *what, size_t max,
	    char **err);

#endif
