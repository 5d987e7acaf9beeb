/* What the unit tests that load YAML share: a scratch directory holding the
 * file and two secret files (one private, one world-readable), the
 * loader's errors, and the FILE:LINE:COL assertion. */
#ifndef GW_CFGTEST_H
#define GW_CFGTEST_H

#include <sys/types.h>

#include "config.h"

/* A valid tenant, 14 lines: what follows starts on line 15. */
#define CFGTEST_TENANT							\
	"tenants:\n"							\
	"  - name: contoso\n"						\
	"    tenant_id: 00000000-0000-0000-0000-0000000000AA\n"		\
	"    cloud: custom\n"						\
	"    endpoints: { login: \"https://127.0.0.1:1\", "		\
	"log_analytics: \"https://127.0.0.1:2\" }\n"			\
	"    credentials:\n"						\
	"      client_id: 11111111-1111-1111-1111-111111111111\n"	\
	"      client_secret_file: ${CREDENTIALS_DIRECTORY}/secret\n"	\
	"    log_analytics: { workspace_id: "				\
	"22222222-2222-2222-2222-222222222222 }\n"			\
	"    break_glass:\n"						\
	"      - { object_id: 33333333-3333-3333-3333-333333333333, "	\
	"upn: bg1@contoso.onmicrosoft.com }\n"

/* A rule and the email notifier it names (4 + 7 lines). */
#define CFGTEST_RULE							\
	"rules:\n"							\
	"  - name: bg\n"						\
	"    threshold: { operator: gt, value: 0 }\n"			\
	"    actions: [mail]\n"
#define CFGTEST_NOTIFIER						\
	"notifiers:\n"							\
	"  - name: mail\n"						\
	"    type: email\n"						\
	"    url: smtp://127.0.0.1:2525\n"				\
	"    tls: none\n"						\
	"    from: gw@example.org\n"					\
	"    to: [soc@example.org]\n"

extern char			cfgdir[];	/* the scratch directory */
extern char			cfgpath[];	/* its g.yaml */
extern struct config_errors	errs;	/* of the last load */

/* A fresh scratch directory (CREDENTIALS_DIRECTORY points at it). */
void		 cfgtest_setup(void);
void		 cfgtest_teardown(void);
void		 write_file(const char *name, const char *text, mode_t);
/* text as g.yaml, loaded: the config, or NULL with errs. */
struct config	*load_yaml(const char *text);
/* errs holds exactly "g.yaml:LINE:COL: msg" (else the test
 * fails, listing what it got). */
void		 expect_error(int line, int col, const char *msg);

#endif
