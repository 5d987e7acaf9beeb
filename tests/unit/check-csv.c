/* The RFC 4180 CSV reader (csv.c) and the aligned tables of the operator
 * commands (texttable.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "csv.h"
#include "testdata.h"
#include "texttable.h"

static void
parse_ok(const char *text, struct csv *c)
{
	char *err = NULL;

	ck_assert_msg(csv_parse(text, strlen(text), c, &err) == 0, "%s", err);
	ck_assert_ptr_null(err);
}

static void
parse_fails(const char *text, size_t len, const char *why)
{
	struct csv c;
	char *err = NULL;

	ck_assert_int_eq(csv_parse(text, len, &c, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, why) != NULL, "'%s' lacks '%s'", err, why);
	free(err);
	csv_free(&c);
}

START_TEST(test_plain)
{
	struct csv c;

	parse_ok("a,b,c\n1,,3\nx,y,z\n", &c);
	ck_assert_uint_eq(c.ncols, 3);
	ck_assert_uint_eq(c.nrows, 2);
	ck_assert_str_eq(csv_header(&c, 1), "b");
	ck_assert_str_eq(csv_cell(&c, 0, 0), "1");
	ck_assert_str_eq(csv_cell(&c, 0, 1), "");
	ck_assert_str_eq(csv_cell(&c, 1, 2), "z");
	ck_assert_uint_eq(c.lines[1], 3);
	csv_free(&c);
}
END_TEST

START_TEST(test_bom_crlf_and_no_final_newline)
{
	struct csv c;

	parse_ok("\xef\xbb\xbf" "Date (UTC),User ID\r\n2026,abc\r\nz,last", &c);
	ck_assert_str_eq(csv_header(&c, 0), "Date (UTC)");
	ck_assert_int_eq(csv_column(&c, "date (utc)"), 0);
	ck_assert_int_eq(csv_column(&c, "User ID"), 1);
	ck_assert_int_eq(csv_column(&c, "Request ID"), -1);
	ck_assert_uint_eq(c.nrows, 2);
	ck_assert_str_eq(csv_cell(&c, 0, 1), "abc");
	ck_assert_str_eq(csv_cell(&c, 1, 1), "last");
	csv_free(&c);
}
END_TEST

START_TEST(test_quoted_fields)
{
	struct csv c;

	parse_ok("id,text,n\r\n"
	    "1,\"Seattle, Washington, US\",2\r\n"
	    "2,\"say \"\"hi\"\"\r\nand a second line\",3\r\n"
	    "3,\"\",\"\"\r\n", &c);
	ck_assert_uint_eq(c.nrows, 3);
	ck_assert_str_eq(csv_cell(&c, 0, 1), "Seattle, Washington, US");
	/* A line break inside quotes is kept as it is. */
	ck_assert_str_eq(csv_cell(&c, 1, 1),
	    "say \"hi\"\r\nand a second line");
	ck_assert_str_eq(csv_cell(&c, 2, 1), "");
	ck_assert_str_eq(csv_cell(&c, 2, 2), "");
	/* Records start on lines 2, 3 and 5. */
	ck_assert_uint_eq(c.lines[0], 2);
	ck_assert_uint_eq(c.lines[1], 3);
	ck_assert_uint_eq(c.lines[2], 5);
	csv_free(&c);
}
END_TEST

START_TEST(test_blank_lines_skipped)
{
	struct csv c;

	parse_ok("\n\na,b\n\n1,2\n\n\n", &c);
	ck_assert_uint_eq(c.ncols, 2);
	ck_assert_uint_eq(c.nrows, 1);
	ck_assert_str_eq(csv_cell(&c, 0, 1), "2");
	csv_free(&c);
}
END_TEST

START_TEST(test_errors)
{
	parse_fails("a,b\n1,\"open\n2,3\n", 16, "line 2: a quoted field is "
	    "never closed");
	parse_fails("a,b\n1,2\n1,2,3\n", 14, "line 3: 3 fields, the header "
	    "has 2");
	parse_fails("a,b\n\"x\"y,2\n", 11, "line 2: text after the closing");
	parse_fails("a,b\nx\"y,2\n", 10, "line 2: a quote inside an unquoted");
	parse_fails("", 0, "empty file");
	parse_fails("\xef\xbb\xbf\r\n", 5, "empty file");
	parse_fails("a,b\n1\0,2\n", 9, "NUL byte");
}
END_TEST

/* Five real AuditLogs rows exported from the portal: 39 columns, JSON in
 * the dynamic ones (quotes doubled), an en dash and a trailing space in
 * the activity name. */
START_TEST(test_sentinel_export)
{
	struct csv c;
	json_t *v;
	json_error_t jerr;
	size_t len;
	char *data = testdata_slurp(GW_TEST_DATA,
	    "sentinel-auditlogs-hunting.csv", &len), *err = NULL;
	int op, ib;

	ck_assert_msg(csv_parse(data, len, &c, &err) == 0, "%s", err);
	ck_assert_uint_eq(c.ncols, 39);
	ck_assert_uint_eq(c.nrows, 5);
	op = csv_column(&c, "OperationName");
	ib = csv_column(&c, "InitiatedBy");
	ck_assert_int_eq(op, 0);
	ck_assert_int_ge(ib, 0);
	ck_assert_str_eq(csv_cell(&c, 0, (size_t)op), "Update application "
	    "\xe2\x80\x93 Certificates and secrets management ");
	v = json_loads(csv_cell(&c, 0, (size_t)ib), 0, &jerr);
	ck_assert_msg(v != NULL, "InitiatedBy: %s", jerr.text);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v,
	    "user"), "userPrincipalName")),
	    "victim@buildseccxpninja.onmicrosoft.com");
	json_decref(v);
	csv_free(&c);
	free(data);
}
END_TEST

START_TEST(test_texttable)
{
	static const char *const hdr[] = { "A", "WHAT", "Z" };
	static const char *const r1[] = { "\xe2\x80\x93x", "one\nline", NULL };
	static const char *const r2[] = { "long", "", "end" };
	struct texttable *t = texttable_new(3, hdr);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	texttable_add(t, r1);
	texttable_add(t, r2);
	ck_assert_uint_eq(texttable_rows(t), 2);
	texttable_print(t, f);
	fclose(f);
	/* Widths in characters (the en dash is one); control characters
	 * are spaces; empty and NULL cells print "-". */
	ck_assert_str_eq(out,
	    "A     WHAT      Z\n"
	    "\xe2\x80\x93x    one line  -\n"
	    "long  -         end\n");
	free(out);
	texttable_free(t);
}
END_TEST

static Suite *
csv_suite(void)
{
	Suite *s = suite_create("csv");
	TCase *tc = tcase_create("csv");

	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_bom_crlf_and_no_final_newline);
	tcase_add_test(tc, test_quoted_fields);
	tcase_add_test(tc, test_blank_lines_skipped);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_sentinel_export);
	tcase_add_test(tc, test_texttable);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(csv_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
