/* Reading a Microsoft service's error body (service-error.h). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "service-error.h"

void
service_error_summary(const char *body, size_t len, char *out, size_t outlen)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	json_t *e = json_object_get(root, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (code != NULL)
		snprintf(out, outlen, ": %s%s%s", code, msg ? ": " : "",
		    msg ? msg : "");
	else
		out[0] = '\0';
	json_decref(root);
}

int
service_error_token_refused(const char *body, size_t len)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *code = json_string_value(json_object_get(
	    json_object_get(root, "error"), "code"));
	int refused = code != NULL &&
	    strcmp(code, "InvalidAuthenticationToken") == 0;

	json_decref(root);
	return refused;
}
