/* libFuzzer harness: the YAML configuration loader (cfgparse.c, config.c
 * and the notifiers' option tables) on arbitrary file contents.
 *
 * The input is written to g.yaml in a private scratch directory under
 * $TMPDIR, which is also CREDENTIALS_DIRECTORY and holds the secret files
 * the example configurations name, so that a valid input loads all the
 * way through. The loader reads files only; nothing is written elsewhere. */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#include "fuzz-common.h"

static char	dir[4096];
static char	path[4096 + 16];

/* Files the example configurations and the unit-test fixtures name,
 * with contents that pass the checks made at load time. */
static const char *const secrets[][2] = {
	{ "secret", "not-a-real-secret\n" },
	{ "contoso", "not-a-real-secret\n" },
	{ "demo-client-secret", "not-a-real-secret\n" },
	{ "smtp", "not-a-real-password\n" },
	{ "hook-url", "https://hooks.example/services/T0/B0\n" },
	{ "hook-key", "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3\n" },
	{ "pagerduty", "0123456789abcdef0123456789abcdef\n" },
	{ "twilio", "not-a-real-token\n" },
	{ "acs-key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3\n" },
	{ "gateway", "not-a-real-token\n" },
};

static void
fuzz_file(const char *name, const char *text, mode_t mode)
{
	char p[sizeof dir + 64];
	int fd;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror(p);
		abort();
	}
	close(fd);
}

static void
fuzz_cleanup(void)
{
	char p[sizeof dir + 64];

	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, secrets[i][0]);
		unlink(p);
	}
	snprintf(p, sizeof p, "%s/ca.pem", dir);
	unlink(p);
	unlink(path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	fuzz_quiet(argc, argv);
	snprintf(dir, sizeof dir, "%s/gw-fuzz-config-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		abort();
	}
	snprintf(path, sizeof path, "%s/g.yaml", dir);
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		fuzz_file(secrets[i][0], secrets[i][1], 0600);
	/* Public: read only to check that it exists. */
	fuzz_file("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	setenv("STATE_DIRECTORY", dir, 1);
	atexit(fuzz_cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct config_errors errs = { NULL, 0 };
	struct config *c;
	FILE *f;

	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		abort();
	}
	c = config_load(path, &errs);
	config_free(c);
	config_errors_clear(&errs);
	return 0;
}
