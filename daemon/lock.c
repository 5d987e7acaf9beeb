/* Only one daemon (or --once) may own a state directory: two writers would
 * each page for the same records. flock() is released by the kernel when
 * the process dies, even on kill -9, so a stale lock cannot wedge a
 * restart. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "xmalloc.h"

#define LOCK_FILE	"glasswatch.lock"

int
state_dir_lock(const char *state_dir, int *exit_code)
{
	struct stat st;
	char *path;
	int fd;

	if (mkdir(state_dir, 0700) == -1 && errno != EEXIST) {
		log_warn("state_dir %s cannot be created", state_dir);
		*exit_code = EXIT_STATE_DIR;
		return -1;
	}
	if (stat(state_dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warnx("state_dir %s is not a directory", state_dir);
		*exit_code = EXIT_STATE_DIR;
		return -1;
	}
	path = xasprintf("%s/%s", state_dir, LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("state_dir lock %s cannot be opened", path);
		free(path);
		*exit_code = EXIT_STATE_DIR;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			log_warnx("state_dir %s is locked by another "
			    "glasswatchd", state_dir);
			*exit_code = EXIT_LOCKED;
		} else {
			log_warn("state_dir lock %s", path);
			*exit_code = EXIT_STATE_DIR;
		}
		close(fd);
		free(path);
		return -1;
	}
	free(path);
	return fd;
}
