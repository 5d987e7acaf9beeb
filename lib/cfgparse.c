/*
 * The table-driven YAML loader. libyaml builds a document; each mapping is
 * walked against an option table that says, per key, the type and where
 * the value goes. Every problem is reported as FILE:LINE:COL: message and
 * parsing goes on, so one run lists every error of a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cfgparse.h"
#include "config.h"
#include "duration.h"
#include "guid.h"
#include "http.h"
#include "strlist.h"
#include "xmalloc.h"

struct cfg {
	char			*path;
	yaml_document_t		 doc;
	int			 have_doc;
	struct config_errors	*errs;
	int			 nerrors;
	void			*user;
};

static void
cfg_error_at(struct cfg *cfg, size_t line, size_t col, const char *fmt,
    va_list ap) __attribute__((format(printf, 4, 0)));

static void
cfg_error_at(struct cfg *cfg, size_t line, size_t col, const char *fmt,
    va_list ap)
{
	char msg[1024];
	struct config_errors *e = cfg->errs;

	vsnprintf(msg, sizeof msg, fmt, ap);
	e->v = xreallocarray(e->v, e->n + 1, sizeof *e->v);
	e->v[e->n++] = xasprintf("%s:%zu:%zu: %s", cfg->path, line + 1,
	    col + 1, msg);
	cfg->nerrors++;
}

void
cfg_error(struct cfg *cfg, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	size_t line = 0, col = 0;

	if (node != NULL) {
		line = node->start_mark.line;
		col = node->start_mark.column;
	}
	va_start(ap, fmt);
	cfg_error_at(cfg, line, col, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 4, 5)))
cfg_error_mark(struct cfg *cfg, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_error_at(cfg, line, col, fmt, ap);
	va_end(ap);
}

int
cfg_error_count(const struct cfg *cfg)
{
	return cfg->nerrors;
}

void *
cfg_user(struct cfg *cfg)
{
	return cfg->user;
}

const char *
cfg_path(struct cfg *cfg)
{
	return cfg->path;
}

yaml_node_t *
cfg_node(struct cfg *cfg, int index)
{
	return yaml_document_get_node(&cfg->doc, index);
}

struct cfg *
cfg_open(const char *path, struct config_errors *errs, void *user)
{
	struct cfg *cfg = xcalloc(1, sizeof *cfg);
	yaml_parser_t parser;
	FILE *f;

	cfg->path = xstrdup(path);
	cfg->errs = errs;
	cfg->user = user;
	if ((f = fopen(path, "r")) == NULL) {
		cfg_error_mark(cfg, 0, 0, "cannot open: %s", strerror(errno));
		return cfg;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &cfg->doc)) {
		yaml_mark_t m = parser.problem_mark;

		cfg_error_mark(cfg, m.line, m.column, "%s%s%s",
		    parser.problem ? parser.problem : "YAML syntax error",
		    parser.context ? " " : "",
		    parser.context ? parser.context : "");
	} else
		cfg->have_doc = 1;
	yaml_parser_delete(&parser);
	fclose(f);
	return cfg;
}

yaml_node_t *
cfg_root(struct cfg *cfg)
{
	yaml_node_t *root;

	if (!cfg->have_doc)
		return NULL;
	if ((root = yaml_document_get_root_node(&cfg->doc)) == NULL) {
		cfg_error_mark(cfg, 0, 0, "the file is empty");
		return NULL;
	}
	if (root->type != YAML_MAPPING_NODE) {
		cfg_error(cfg, root, "the top level must be a mapping of keys");
		return NULL;
	}
	return root;
}

void
cfg_close(struct cfg *cfg)
{
	if (cfg == NULL)
		return;
	if (cfg->have_doc)
		yaml_document_delete(&cfg->doc);
	free(cfg->path);
	free(cfg);
}

static const char *
scalar_text(yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int
is_plain_null(yaml_node_t *n)
{
	const char *s = scalar_text(n);

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (*s == '\0' || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0);
}

const char *
cfg_scalar(struct cfg *cfg, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		cfg_error(cfg, n, "expected %s, found a %s", what,
		    n->type == YAML_MAPPING_NODE ? "mapping" : "list");
		return NULL;
	}
	if (is_plain_null(n)) {
		cfg_error(cfg, n, "expected %s, found no value", what);
		return NULL;
	}
	return scalar_text(n);
}

static yaml_node_t *
map_find(struct cfg *cfg, yaml_node_t *map, const char *key, int want_key)
{
	yaml_node_pair_t *p;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = cfg_node(cfg, p->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp(scalar_text(k), key) == 0)
			return want_key ? k : cfg_node(cfg, p->value);
	}
	return NULL;
}

yaml_node_t *
cfg_value(struct cfg *cfg, yaml_node_t *map, const char *key)
{
	return map_find(cfg, map, key, 0);
}

yaml_node_t *
cfg_key(struct cfg *cfg, yaml_node_t *map, const char *key)
{
	return map_find(cfg, map, key, 1);
}

char *
cfg_expand_path(struct cfg *cfg, yaml_node_t *node, const char *s)
{
	static const char var[] = "${CREDENTIALS_DIRECTORY}";
	const char *at, *dir;
	struct {
		char *p;
		size_t len;
	} out = { NULL, 0 };

	if ((at = strstr(s, var)) == NULL)
		return xstrdup(s);
	if ((dir = getenv("CREDENTIALS_DIRECTORY")) == NULL || *dir == '\0') {
		cfg_error(cfg, node, "${CREDENTIALS_DIRECTORY} is used but "
		    "not set (systemd sets it with LoadCredential=)");
		return NULL;
	}
	out.len = (size_t)(at - s);
	out.p = xasprintf("%.*s%s%s", (int)out.len, s, dir, at + strlen(var));
	return out.p;
}

/* Files named in the config must exist and be readable now, so --check
 * catches them; secret files must also be private to the owner. */
static char *
parse_file(struct cfg *cfg, yaml_node_t *n, const char *text, int secret)
{
	struct stat st;
	char *path;
	int fd;

	if ((path = cfg_expand_path(cfg, n, text)) == NULL)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		cfg_error(cfg, n, "cannot read %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		cfg_error(cfg, n, "%s is not a regular file", path);
		close(fd);
		free(path);
		return NULL;
	}
	close(fd);
	if (secret && (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH))) {
		cfg_error(cfg, n, "secret file %s may be read by group or "
		    "others (mode %04o): make it 0600 or 0400", path,
		    (unsigned)(st.st_mode & 07777));
		free(path);
		return NULL;
	}
	return path;
}

static int
parse_url(struct cfg *cfg, yaml_node_t *n, const char *text)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = -1;

	if (curl_url_set(u, CURLUPART_URL, text, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		/* Never echo the value: a URL may carry credentials. */
		cfg_error(cfg, n, "not a valid URL");
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		cfg_error(cfg, n, "the URL must be https:// (or http:// to a "
		    "loopback host)");
		goto out;
	}
	if (strcmp(scheme, "http") == 0 && !url_is_loopback(text)) {
		cfg_error(cfg, n, "cleartext http:// is allowed only to a "
		    "loopback host (127.0.0.0/8, ::1, localhost)");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static int
parse_long(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return (errno != 0 || end == s || *end != '\0') ? -1 : 0;
}

/* A scalar value of a simple type into field. node is where errors point;
 * text is the value (the node's, or a default). */
static int
parse_scalar(struct cfg *cfg, const struct opt_spec *o, yaml_node_t *n,
    const char *text, void *field)
{
	const char *why;
	int64_t secs;
	uint64_t bytes;
	long lv;
	char *s;

	switch (o->type) {
	case OPT_STRING:
		*(char **)field = xstrdup(text);
		return 0;
	case OPT_BOOL:
		if (strcmp(text, "true") == 0)
			*(int *)field = 1;
		else if (strcmp(text, "false") == 0)
			*(int *)field = 0;
		else {
			cfg_error(cfg, n, "%s: expected true or false", o->key);
			return -1;
		}
		return 0;
	case OPT_INT:
		if (parse_long(text, &lv) == -1) {
			cfg_error(cfg, n, "%s: '%s' is not a whole number",
			    o->key, text);
			return -1;
		}
		*(long *)field = lv;
		return 0;
	case OPT_DURATION:
	case OPT_DURATION0:
		if (duration_parse(text, &secs, &why) == -1) {
			cfg_error(cfg, n, "%s: '%s' is not a duration: %s",
			    o->key, text, why);
			return -1;
		}
		if (o->type == OPT_DURATION && secs < 1) {
			cfg_error(cfg, n, "%s: must be at least 1s", o->key);
			return -1;
		}
		*(int64_t *)field = secs;
		return 0;
	case OPT_SIZE:
		if (size_parse(text, &bytes, &why) == -1) {
			cfg_error(cfg, n, "%s: '%s' is not a size: %s", o->key,
			    text, why);
			return -1;
		}
		*(uint64_t *)field = bytes;
		return 0;
	case OPT_GUID:
		if (!guid_valid(text)) {
			cfg_error(cfg, n, "%s: '%s' is not a GUID "
			    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", o->key,
			    text);
			return -1;
		}
		s = xstrdup(text);
		for (char *p = s; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p - 'A' + 'a');
		*(char **)field = s;
		return 0;
	case OPT_URL:
		if (parse_url(cfg, n, text) == -1)
			return -1;
		/* No trailing slash: paths are appended to it. */
		s = xstrdup(text);
		while (strlen(s) > 0 && s[strlen(s) - 1] == '/')
			s[strlen(s) - 1] = '\0';
		*(char **)field = s;
		return 0;
	case OPT_FILE:
	case OPT_SECRET_FILE:
		s = parse_file(cfg, n, text, o->type == OPT_SECRET_FILE);
		if (s == NULL)
			return -1;
		*(char **)field = s;
		return 0;
	case OPT_ENUM:
		for (int i = 0; o->names[i] != NULL; i++) {
			if (strcmp(text, o->names[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		{
			char list[256] = "";

			for (int i = 0; o->names[i] != NULL; i++) {
				if (i > 0)
					strncat(list, ", ",
					    sizeof list - strlen(list) - 1);
				strncat(list, o->names[i],
				    sizeof list - strlen(list) - 1);
			}
			cfg_error(cfg, n, "%s: '%s' is not one of %s", o->key,
			    text, list);
		}
		return -1;
	default:
		cfg_error(cfg, n, "%s: internal error: not a scalar type",
		    o->key);
		return -1;
	}
}

static int parse_list(struct cfg *, const struct opt_spec *, yaml_node_t *,
    void *);

static int
parse_value(struct cfg *cfg, const struct opt_spec *o, yaml_node_t *n,
    void *obj)
{
	void *field = (char *)obj + o->offset;
	const char *text;
	yaml_node_item_t *it;

	switch (o->type) {
	case OPT_UNSUPPORTED:
		cfg_error(cfg, n, "%s: not supported in this build", o->key);
		return -1;
	case OPT_CUSTOM:
		return o->custom(cfg, n, field);
	case OPT_MAP:
		if (o->flags & OPT_SET_FLAG)
			*(int *)((char *)obj + o->count_offset) = 1;
		if (n->type != YAML_MAPPING_NODE) {
			cfg_error(cfg, n, "%s: expected a mapping", o->key);
			cfg_apply_defaults(o->sub, field);
			return -1;
		}
		return cfg_parse_map(cfg, n, o->sub, field, NULL, NULL);
	case OPT_LIST:
		return parse_list(cfg, o, n, obj);
	case OPT_STRLIST:
	case OPT_INTLIST:
		if (n->type != YAML_SEQUENCE_NODE) {
			cfg_error(cfg, n, "%s: expected a list", o->key);
			return -1;
		}
		for (it = n->data.sequence.items.start;
		    it < n->data.sequence.items.top; it++) {
			yaml_node_t *item = cfg_node(cfg, *it);
			long v;

			if ((text = cfg_scalar(cfg, item, "a value")) == NULL)
				continue;
			if (o->type == OPT_STRLIST) {
				strlist_add(field, text);
				continue;
			}
			if (parse_long(text, &v) == -1) {
				cfg_error(cfg, item, "%s: '%s' is not a whole "
				    "number", o->key, text);
				continue;
			}
			{
				long **arr = field;
				size_t *cnt = (size_t *)((char *)obj +
				    o->count_offset);

				*arr = xreallocarray(*arr, *cnt + 1,
				    sizeof **arr);
				(*arr)[(*cnt)++] = v;
			}
		}
		return 0;
	default:
		if ((text = cfg_scalar(cfg, n, "a value")) == NULL)
			return -1;
		return parse_scalar(cfg, o, n, text, field);
	}
}

static int
parse_list(struct cfg *cfg, const struct opt_spec *o, yaml_node_t *n,
    void *obj)
{
	void **arr = (void **)((char *)obj + o->offset);
	size_t *cnt = (size_t *)((char *)obj + o->count_offset);
	yaml_node_item_t *it;
	size_t count, i = 0;

	if (n->type != YAML_SEQUENCE_NODE) {
		cfg_error(cfg, n, "%s: expected a list", o->key);
		return -1;
	}
	count = (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
	*arr = xcalloc(count ? count : 1, o->elem_size);
	*cnt = count;
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = cfg_node(cfg, *it);
		void *elem = (char *)*arr + i * o->elem_size;

		if (item->type != YAML_MAPPING_NODE) {
			cfg_error(cfg, item, "%s: each entry must be a mapping",
			    o->key);
			cfg_apply_defaults(o->sub, elem);
			continue;
		}
		cfg_parse_map(cfg, item, o->sub, elem, NULL, NULL);
	}
	return 0;
}

static const struct opt_spec *
table_find(const struct opt_spec *t, const char *key)
{
	for (; t != NULL && t->key != NULL; t++)
		if (strcmp(t->key, key) == 0)
			return t;
	return NULL;
}

static void apply_default(struct cfg *, yaml_node_t *, const struct opt_spec *,
    void *);

int
cfg_parse_map(struct cfg *cfg, yaml_node_t *map, const struct opt_spec *table,
    void *obj, const struct opt_spec *extra, void *extra_obj)
{
	yaml_node_pair_t *p, *q;
	const struct opt_spec *o;
	int before = cfg->nerrors;

	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = cfg_node(cfg, p->key);
		yaml_node_t *v = cfg_node(cfg, p->value);
		const char *key;
		void *target = obj;
		int dup = 0;

		if (k->type != YAML_SCALAR_NODE) {
			cfg_error(cfg, k, "keys must be plain words");
			continue;
		}
		key = scalar_text(k);
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = cfg_node(cfg, q->key);

			if (k2->type == YAML_SCALAR_NODE &&
			    strcmp(scalar_text(k2), key) == 0)
				dup = 1;
		}
		if (dup) {
			cfg_error(cfg, k, "duplicate key '%s'", key);
			continue;
		}
		if ((o = table_find(table, key)) == NULL) {
			if ((o = table_find(extra, key)) == NULL) {
				cfg_error(cfg, k, "unknown key '%s'", key);
				continue;
			}
			target = extra_obj;
		}
		parse_value(cfg, o, v, target);
	}

	/* Absent keys: required ones are errors, the others get defaults. */
	for (int pass = 0; pass < 2; pass++) {
		const struct opt_spec *t = pass == 0 ? table : extra;
		void *target = pass == 0 ? obj : extra_obj;

		for (o = t; o != NULL && o->key != NULL; o++) {
			if (cfg_key(cfg, map, o->key) != NULL)
				continue;
			if (o->flags & OPT_REQUIRED)
				cfg_error(cfg, map, "missing key '%s'", o->key);
			else
				apply_default(cfg, map, o, target);
		}
	}

	if (table != NULL) {
		for (o = table; o->key != NULL; o++)
			;
		/* The terminator may carry the table's cross-key check. */
		if (o->check != NULL)
			o->check(cfg, map, obj);
	}
	if (extra != NULL) {
		for (o = extra; o->key != NULL; o++)
			;
		if (o->check != NULL)
			o->check(cfg, map, extra_obj);
	}
	return cfg->nerrors == before ? 0 : -1;
}

static void
apply_default(struct cfg *cfg, yaml_node_t *at, const struct opt_spec *o,
    void *obj)
{
	void *field = (char *)obj + o->offset;

	switch (o->type) {
	case OPT_MAP:
		cfg_apply_defaults(o->sub, field);
		break;
	case OPT_CUSTOM:
		o->custom(cfg, NULL, field);
		break;
	default:
		if (o->def != NULL)
			parse_scalar(cfg, o, at, o->def, field);
		break;
	}
}

void
cfg_apply_defaults(const struct opt_spec *table, void *obj)
{
	const struct opt_spec *o;

	for (o = table; o != NULL && o->key != NULL; o++) {
		void *field = (char *)obj + o->offset;
		const char *why;

		if (o->type == OPT_MAP) {
			cfg_apply_defaults(o->sub, field);
			continue;
		}
		if (o->def == NULL)
			continue;
		/* Built-in defaults are trusted: no file, no errors. */
		switch (o->type) {
		case OPT_STRING:
			*(char **)field = xstrdup(o->def);
			break;
		case OPT_BOOL:
			*(int *)field = strcmp(o->def, "true") == 0;
			break;
		case OPT_INT:
			*(long *)field = strtol(o->def, NULL, 10);
			break;
		case OPT_DURATION:
		case OPT_DURATION0:
			duration_parse(o->def, (int64_t *)field, &why);
			break;
		case OPT_SIZE:
			size_parse(o->def, (uint64_t *)field, &why);
			break;
		case OPT_ENUM:
			for (int i = 0; o->names[i] != NULL; i++)
				if (strcmp(o->def, o->names[i]) == 0)
					*(int *)field = i;
			break;
		default:
			break;
		}
	}
}

void
cfg_free_fields(const struct opt_spec *table, void *obj)
{
	const struct opt_spec *o;

	for (o = table; o != NULL && o->key != NULL; o++) {
		void *field = (char *)obj + o->offset;

		switch (o->type) {
		case OPT_STRING:
		case OPT_GUID:
		case OPT_URL:
		case OPT_FILE:
		case OPT_SECRET_FILE:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case OPT_STRLIST:
			strlist_clear(field);
			break;
		case OPT_INTLIST:
			free(*(long **)field);
			*(long **)field = NULL;
			*(size_t *)((char *)obj + o->count_offset) = 0;
			break;
		case OPT_MAP:
			cfg_free_fields(o->sub, field);
			break;
		case OPT_LIST: {
			void **arr = field;
			size_t *cnt = (size_t *)((char *)obj + o->count_offset);

			for (size_t i = 0; *arr != NULL && i < *cnt; i++)
				cfg_free_fields(o->sub,
				    (char *)*arr + i * o->elem_size);
			free(*arr);
			*arr = NULL;
			*cnt = 0;
			break;
		}
		case OPT_CUSTOM:
			if (o->custom_free != NULL)
				o->custom_free(field);
			break;
		default:
			break;
		}
	}
}
