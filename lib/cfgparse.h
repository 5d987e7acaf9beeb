/* The table-driven YAML loader: a libyaml document is walked against option
 * tables (key, type, offset, default) that fill typed structs. Errors are
 * counted and reported as FILE:LINE:COL: message, and parsing goes on so
 * that one run reports every error of a file. */
#ifndef GW_CFGPARSE_H
#define GW_CFGPARSE_H

#include <stddef.h>

#include <yaml.h>

struct cfg;

enum opt_type {
	OPT_STRING,
	OPT_BOOL,
	OPT_INT,		/* long */
	OPT_DURATION,		/* int64_t seconds, at least 1s */
	OPT_DURATION0,		/* int64_t seconds, 0s allowed ("off") */
	OPT_SIZE,		/* uint64_t bytes */
	OPT_GUID,		/* char *, stored lower case */
	OPT_URL,		/* char *: http(s), cleartext only to loopback */
	OPT_FILE,		/* char *: a readable file, public */
	OPT_SECRET_FILE,	/* char *: readable, not by group or others */
	OPT_ENUM,		/* int: index into names */
	OPT_STRLIST,		/* struct strlist */
	OPT_INTLIST,		/* long * at offset, size_t at count_offset */
	OPT_MAP,		/* an embedded struct described by sub */
	OPT_LIST,		/* array of structs: sub, elem_size, count */
	OPT_CUSTOM,		/* parsed by custom() */
	OPT_UNSUPPORTED		/* a key of a feature this build lacks */
};

#define OPT_REQUIRED	0x1
#define OPT_SET_FLAG	0x2	/* write 1 to the int at count_offset when
				   the key is present (OPT_MAP) */

struct opt_spec {
	const char		 *key;
	enum opt_type		  type;
	size_t			  offset;
	unsigned int		  flags;
	const char		 *def;		/* default, as YAML text */
	const char *const	 *names;	/* OPT_ENUM, NULL-ended */
	const struct opt_spec	 *sub;		/* OPT_MAP, OPT_LIST */
	size_t			  elem_size;	/* OPT_LIST */
	size_t			  count_offset;	/* OPT_LIST, OPT_INTLIST */
	/* OPT_CUSTOM: parse node into field; 0, or -1 after cfg_error.
	 * Also called with node NULL to apply the default (when the key is
	 * absent). custom_free releases what it filled. */
	int	(*custom)(struct cfg *, yaml_node_t *, void *field);
	void	(*custom_free)(void *field);
	/* After a mapping (OPT_MAP value, OPT_LIST element, or a table
	 * handed to cfg_parse_map) was filled: cross-key checks. */
	void	(*check)(struct cfg *, yaml_node_t *map, void *obj);
};

#define OPT_END	{ .key = NULL }

/* Report an error at a node's start mark. */
void	cfg_error(struct cfg *, const yaml_node_t *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* The value node of key in a mapping node, or NULL. */
yaml_node_t	*cfg_value(struct cfg *, yaml_node_t *map, const char *key);
/* The key node itself (for "unknown key" style positions), or NULL. */
yaml_node_t	*cfg_key(struct cfg *, yaml_node_t *map, const char *key);
yaml_node_t	*cfg_node(struct cfg *, int index);
/* Fill obj from a mapping node with a table; unknown keys are errors.
 * extra (may be NULL) is a second table whose keys are also allowed and
 * fill extra_obj (a notifier's own keys beside the common ones). */
int	cfg_parse_map(struct cfg *, yaml_node_t *map, const struct opt_spec *,
	    void *obj, const struct opt_spec *extra, void *extra_obj);
/* Parse a scalar node as a type of the table (for OPT_CUSTOM helpers). */
const char	*cfg_scalar(struct cfg *, yaml_node_t *, const char *what);
void	*cfg_user(struct cfg *);	/* the loader's context pointer */
const char *cfg_path(struct cfg *);
int	cfg_error_count(const struct cfg *);

/* Loading a file: syntax errors are reported at libyaml's problem mark.
 * Returns the root node (a mapping), or NULL after reporting why. */
struct config_errors;
struct cfg	*cfg_open(const char *path, struct config_errors *errs,
		    void *user);
yaml_node_t	*cfg_root(struct cfg *);
void		 cfg_close(struct cfg *);
/* "${CREDENTIALS_DIRECTORY}/x" expanded; NULL (and an error at node) when
 * the variable is unset. Caller frees. */
char		*cfg_expand_path(struct cfg *, yaml_node_t *, const char *);

/* Free what a table filled in obj (not obj itself). */
void	cfg_free_fields(const struct opt_spec *, void *obj);
/* Apply a table's defaults to obj without any YAML (for built-ins). */
void	cfg_apply_defaults(const struct opt_spec *, void *obj);

#endif
