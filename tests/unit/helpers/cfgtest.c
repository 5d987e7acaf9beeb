/* Config-file fixtures for the unit tests (cfgtest.h). */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgtest.h"

#define CFGTEST_TEMPLATE	"/tmp/check-cfg-XXXXXX"

char			cfgdir[] = CFGTEST_TEMPLATE;
char			cfgpath[sizeof CFGTEST_TEMPLATE + 16];
struct config_errors	errs;

void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", cfgdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

void
cfgtest_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(cfgdir));
	snprintf(cfgpath, sizeof cfgpath, "%s/g.yaml", cfgdir);
	write_file("secret", "s3cret\n", 0600);
	write_file("open-secret", "s3cret\n", 0644);
	setenv("CREDENTIALS_DIRECTORY", cfgdir, 1);
	unsetenv("STATE_DIRECTORY");
}

void
cfgtest_teardown(void)
{
	char cmd[300];

	config_errors_clear(&errs);
	snprintf(cmd, sizeof cmd, "rm -rf %s", cfgdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(cfgdir, CFGTEST_TEMPLATE);
}

struct config *
load_yaml(const char *text)
{
	config_errors_clear(&errs);
	write_file("g.yaml", text, 0644);
	return config_load(cfgpath, &errs);
}

void
expect_error(int line, int col, const char *msg)
{
	char want[1024];

	snprintf(want, sizeof want, "%s:%d:%d: %s", cfgpath, line, col,
	    msg);
	for (size_t i = 0; i < errs.n; i++)
		if (strcmp(errs.v[i], want) == 0)
			return;
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "  got: %s\n", errs.v[i]);
	ck_abort_msg("missing error: %s", want);
}
