/*
 * One readable line from an audit event's modified properties.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit-modified.h"
#include "buf.h"

/* Appends s (len bytes) with control characters as spaces. */
static void
audit_put_text(struct buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf_putc(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ?
		    ' ' : s[i]);
}

/* The longest prefix of s no longer than max that does not end inside a
 * UTF-8 sequence. */
static size_t
audit_utf8_cut(const char *s, size_t max)
{
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* Entra encodes old and new values as JSON text: "\"Global Admin\"",
 * "[\"x\"]", "true". A quoted string reads better unquoted; the rest is
 * kept as it came. */
static void
audit_put_value(struct buf *b, const json_t *v)
{
	const char *s;
	size_t len;
	json_t *inner = NULL;

	if (v == NULL || json_is_null(v)) {
		buf_puts(b, "(none)");
		return;
	}
	if (!json_is_string(v)) {
		buf_puts(b, "(not text)");
		return;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"' &&
	    (inner = json_loadb(s, len, JSON_DECODE_ANY, NULL)) != NULL &&
	    json_is_string(inner)) {
		s = json_string_value(inner);
		len = json_string_length(inner);
	}
	if (len == 0)
		buf_puts(b, "(empty)");
	else if (len > AUDIT_VALUE_MAX) {
		audit_put_text(b, s, audit_utf8_cut(s, AUDIT_VALUE_MAX));
		buf_puts(b, "...");
	} else
		audit_put_text(b, s, len);
	json_decref(inner);
}

char *
audit_modified_text(const json_t *targets)
{
	const json_t *target, *props, *prop, *name;
	struct buf b;
	size_t i, j;

	if (!json_is_array(targets))
		return NULL;
	buf_init(&b);
	json_array_foreach(targets, i, target) {
		props = json_object_get(target, "modifiedProperties");
		json_array_foreach(props, j, prop) {
			if (!json_is_object(prop))
				continue;
			if (b.len > 0)
				buf_puts(&b, "; ");
			name = json_object_get(prop, "displayName");
			if (json_is_string(name))
				audit_put_text(&b, json_string_value(name),
				    json_string_length(name));
			else
				buf_puts(&b, "(unnamed)");
			buf_puts(&b, ": ");
			audit_put_value(&b, json_object_get(prop, "oldValue"));
			buf_puts(&b, " -> ");
			audit_put_value(&b, json_object_get(prop, "newValue"));
		}
	}
	if (b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	if (b.len > AUDIT_MODIFIED_MAX) {
		b.len = audit_utf8_cut(b.data, AUDIT_MODIFIED_MAX - 3);
		buf_puts(&b, "...");
	}
	return buf_steal(&b);
}
