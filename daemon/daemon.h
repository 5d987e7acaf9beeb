/* The daemon's process glue: building the runtime from a configuration,
 * the loop, signals, reload and shutdown. */
#ifndef GW_DAEMON_H
#define GW_DAEMON_H

#include <stdint.h>

/* Exit codes of DESIGN.md's command-line contract (sysexits values). */
#define EXIT_OK			0
#define EXIT_CHECK_FAILED	1
#define EXIT_INCOMPLETE		2	/* --once: a source or delivery failed */
#define EXIT_USAGE		64
#define EXIT_DATAERR		65	/* --replay: input not readable as records */
#define EXIT_NOINPUT		66	/* --replay: the file cannot be opened */
#define EXIT_STATE_DIR		73	/* state_dir unusable */
#define EXIT_LOCKED		75	/* another daemon holds state_dir */
#define EXIT_CONFIG		78

struct daemon_opts {
	const char	*config_path;
	int		 once;
	int		 debug;		/* log at debug whatever the file says */
};

int	daemon_run(const struct daemon_opts *);

/* sdnotify.c: a message to systemd (sd_notify(3) protocol), printf-style;
 * nothing without $NOTIFY_SOCKET. */
void	systemd_notify(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* The watchdog interval systemd expects pings within (WATCHDOG_USEC, for
 * this process), 0 when none. */
int64_t	systemd_watchdog_usec(void);

/* testnotify.c: --test-notify NAME; returns the exit code. */
int	test_notify(const char *config_path, const char *name, int debug);

struct config;

/* operator.c: --status, --history (since: seconds back), --replay FILE
 * (tenant NULL: every tenant); each returns the exit code. */
int	operator_status(const char *config_path, int debug);
/* The configuration, its errors printed on stderr (NULL then). */
struct config *operator_config(const char *path, int debug);
int	operator_history(const char *config_path, int64_t since, int debug);
int	operator_replay(const char *config_path, const char *file,
	    const char *tenant, int debug);
/* posture.c: --posture; returns the exit code (0 all passed, 2 a check
 * failed or could not be read, 78 invalid config). */
int	posture_cli(const char *config_path, int debug);

/* drill.c: --drill ACCOUNT --window D [--reason TEXT]; returns the exit
 * code (0 accepted, 2 no daemon answered, 64, 78). */
int	drill_cli(const char *config_path, const char *account,
	    const char *window, const char *reason, int debug);

/* lock.c: the exclusive lock on state_dir; returns the held fd, or -1
 * with *exit_code (EXIT_LOCKED or EXIT_STATE_DIR) after logging why. */
int	state_dir_lock(const char *state_dir, int *exit_code);

#endif
