/*-------------------------------------------------------------------------
 *
 * fuzz_json.c
 *		  libFuzzer harness over jsonread.c's decoders of lemlist's answers
 *
 * Built three times by test/fuzz/run.sh, with FUZZ_TARGET set to
 * FUZZ_STATS (lemlist_parse_stats without steps), FUZZ_STEPS (with
 * steps) or FUZZ_CAMPAIGNS (lemlist_parse_campaigns).  The input is
 * the response body, exactly: no terminating NUL follows it in memory, so
 * a read past len is caught by AddressSanitizer.  Inputs of odd length are
 * decoded as for a SQL_ASCII database (JSON text escaped to ASCII), even
 * ones as for a UTF-8 database.
 *
 * The columns asked for are every column of the resource, as
 * IMPORT FOREIGN SCHEMA declares them, plus what hand-written tables can
 * add: a "raw" json column, a column reading an undocumented field
 * ("extraField", any JSON value), a documented field read under an
 * overridden key (any JSON value), and for campaigns "labels" in a
 * non-array column.
 *
 * An input passes when the parser either accepts it or raises exactly
 * "invalid response from lemlist" (ERRCODE_FDW_INVALID_DATA_TYPE) with a
 * detail, and in both cases leaves no error state behind and no malloc'd
 * memory (stubs.c frees the palloc'd memory after each input, so
 * LeakSanitizer sees only what jansson allocated).  An accepted body must
 * also give a coherent answer:
 *
 * - one campaign ID per row, non-empty; without steps one row per result;
 * - every text valid UTF-8; counters non-negative decimal integers,
 *   integers decimal, booleans true/false, string arrays {...} literals;
 * - raw values JSON objects that parse back;
 * - every errors[] entry with a non-empty ID and a message.
 *
 * And it must be the answer of the reference decoder (oracle.c, the jansson
 * decoder jsonread.c replaced): the same bodies accepted, the same rows,
 * IDs, errors and pagination, JSON text compared as JSON.  The one allowed
 * difference: jsonread.c rejects a field it reads that appears twice in an
 * object, where jansson keeps the last.
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "mb/pg_wchar.h"

#include "lemlist_fdw.h"
#include "fuzz.h"

#define FUZZ_STATS		1
#define FUZZ_STEPS		2
#define FUZZ_CAMPAIGNS	3

#ifndef FUZZ_TARGET
#error "define FUZZ_TARGET as FUZZ_STATS, FUZZ_STEPS or FUZZ_CAMPAIGNS"
#endif

#define MAX_COLUMNS 64

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int			LLVMFuzzerInitialize(int *argc, char ***argv);

static LemlistColumn columns[MAX_COLUMNS];
static int	ncolumns = 0;

static void
add_column(LemlistColumnSource source, const char *key, LemlistJsonType type)
{
	if (ncolumns >= MAX_COLUMNS)
		fuzz_fail("too many columns");
	columns[ncolumns].source = source;
	columns[ncolumns].key = key;
	columns[ncolumns].json_type = type;
	ncolumns++;
}

/*
 * LLVMFuzzerInitialize
 *		Build the column list, as scan.c would for a table declaring them.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	LemlistResourceKind kind;
	const LemlistResourceDef *res;
	int			i;

#if FUZZ_TARGET == FUZZ_STATS
	kind = LEMLIST_RES_CAMPAIGN_STATS;
#elif FUZZ_TARGET == FUZZ_STEPS
	kind = LEMLIST_RES_CAMPAIGN_STEP_STATS;
#else
	kind = LEMLIST_RES_CAMPAIGNS;
#endif
	res = lemlist_resource_by_kind(kind);
	if (res == NULL)
		fuzz_fail("no resource %d", (int) kind);

	for (i = 0; i < res->ncolumns; i++)
	{
		const LemlistColumnDef *def = &res->columns[i];

		/* filter echoes are not extracted: scan.c passes them as FILTER */
		add_column(def->source, def->json_key, def->json_type);
	}
	add_column(LEMLIST_SRC_RAW, NULL, LEMLIST_JSON_ANY);
#if FUZZ_TARGET == FUZZ_STEPS
	add_column(LEMLIST_SRC_STEP, "extraField", LEMLIST_JSON_ANY);
	add_column(LEMLIST_SRC_STEP, "sent", LEMLIST_JSON_ANY);
#elif FUZZ_TARGET == FUZZ_STATS
	add_column(LEMLIST_SRC_RESULT, "extraField", LEMLIST_JSON_ANY);
	add_column(LEMLIST_SRC_RESULT, "nbLeads", LEMLIST_JSON_ANY);
	add_column(LEMLIST_SRC_RESULT, "steps", LEMLIST_JSON_ANY);
#else
	add_column(LEMLIST_SRC_RESULT, "extraField", LEMLIST_JSON_ANY);
	add_column(LEMLIST_SRC_RESULT, "labels", LEMLIST_JSON_ANY);
#endif
	return 0;
}

/* Is s (NUL-terminated) valid UTF-8? */
static bool
valid_utf8(const char *s)
{
	int			len = (int) strlen(s);

	return lemlist_verifymbstr(PG_UTF8, s, len) == len;
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
	{
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

/*
 * check_text
 *		The text of one column of an accepted row.
 */
static void
check_text(const LemlistColumn *col, const char *text)
{
	if (text == NULL)
		return;
	if (col->source == LEMLIST_SRC_FILTER)
		fuzz_fail("a filter column has a value: \"%s\"", text);
	if (!valid_utf8(text))
		fuzz_fail("column \"%s\": not valid UTF-8", col->key ? col->key : "raw");

	if (col->source == LEMLIST_SRC_RAW)
	{
		json_error_t error;
		json_t	   *back = json_loads(text, JSON_ALLOW_NUL, &error);

		if (back == NULL)
			fuzz_fail("raw column does not parse back: %s", error.text);
		if (!json_is_object(back))
			fuzz_fail("raw column is not an object: %s", text);
		json_decref(back);
		return;
	}

	switch (col->json_type)
	{
		case LEMLIST_JSON_COUNTER:
			if (!all_digits(text))
				fuzz_fail("counter \"%s\" is \"%s\"", col->key, text);
			break;
		case LEMLIST_JSON_INTEGER:
			if (!all_digits(text[0] == '-' ? text + 1 : text))
				fuzz_fail("integer \"%s\" is \"%s\"", col->key, text);
			break;
		case LEMLIST_JSON_BOOLEAN:
			if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
				fuzz_fail("boolean \"%s\" is \"%s\"", col->key, text);
			break;
		case LEMLIST_JSON_STRING_ARRAY:
			if (text[0] != '{' || text[strlen(text) - 1] != '}')
				fuzz_fail("string array \"%s\" is \"%s\"", col->key, text);
			break;
		case LEMLIST_JSON_STRING:
		case LEMLIST_JSON_ANY:
			break;
	}
}

/*
 * same_json
 *		Are a and b the same JSON value?
 */
static bool
same_json(const char *a, const char *b)
{
	json_error_t error;
	json_t	   *ja = json_loads(a, JSON_ALLOW_NUL | JSON_DECODE_ANY, &error);
	json_t	   *jb = json_loads(b, JSON_ALLOW_NUL | JSON_DECODE_ANY, &error);
	bool		same = (ja != NULL && jb != NULL && json_equal(ja, jb));

	json_decref(ja);
	json_decref(jb);
	return same;
}

/*
 * has_duplicate_keys
 *		Does some object of body have a key twice?
 */
static bool
has_duplicate_keys(const char *body, size_t size)
{
	json_error_t error;
	json_t	   *root = json_loadb(body, size, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES,
								  &error);

	if (root != NULL)
	{
		json_decref(root);
		return false;
	}
	return json_error_code(&error) == json_error_duplicate_key;
}

static void
same_string(const char *what, int i, const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		fuzz_fail("%s %d differs from the oracle's: \"%s\" vs \"%s\"", what, i,
				  a ? a : "(null)", b ? b : "(null)");
}

static void
same_strings(const char *what, const List *a, const List *b)
{
	if (list_length(a) != list_length(b))
		fuzz_fail("%d %s, the oracle has %d", list_length(a), what, list_length(b));
	for (int i = 0; i < list_length(a); i++)
		same_string(what, i, list_nth(a, i), list_nth(b, i));
}

/*
 * check_same
 *		An accepted body decodes as the oracle decodes it.
 */
static void
check_same(const LemlistParsed *got, const LemlistParsed *want)
{
	same_strings("row campaign IDs", got->row_campaign_ids, want->row_campaign_ids);
	same_strings("result IDs", got->result_ids, want->result_ids);
	if (list_length(got->rows) != list_length(want->rows))
		fuzz_fail("%d rows, the oracle has %d", list_length(got->rows),
				  list_length(want->rows));
	for (int r = 0; r < list_length(got->rows); r++)
	{
		char	  **a = list_nth(got->rows, r);
		char	  **b = list_nth(want->rows, r);

		for (int i = 0; i < ncolumns; i++)
		{
			if (a[i] != NULL && b[i] != NULL && strcmp(a[i], b[i]) != 0 &&
				(columns[i].source == LEMLIST_SRC_RAW ||
				 columns[i].json_type == LEMLIST_JSON_ANY) &&
				same_json(a[i], b[i]))
				continue;
			same_string("column", i, a[i], b[i]);
		}
	}
	if (list_length(got->errors) != list_length(want->errors))
		fuzz_fail("%d errors[] entries, the oracle has %d",
				  list_length(got->errors), list_length(want->errors));
	for (int i = 0; i < list_length(got->errors); i++)
	{
		LemlistCampaignError *a = list_nth(got->errors, i);
		LemlistCampaignError *b = list_nth(want->errors, i);

		same_string("errors[] ID", i, a->campaign_id, b->campaign_id);
		same_string("errors[] message", i, a->message, b->message);
	}
	if (got->page_count != want->page_count ||
		got->has_pagination != want->has_pagination ||
		got->current_page != want->current_page ||
		got->next_page != want->next_page ||
		got->total_pages != want->total_pages)
		fuzz_fail("pagination differs from the oracle's");
}

/*
 * check_parsed
 *		The invariants of an accepted body.
 */
static void
check_parsed(const LemlistParsed *parsed)
{
	ListCell   *lc;
	ListCell   *lc2;
	int			i;

	if (list_length(parsed->rows) != list_length(parsed->row_campaign_ids))
		fuzz_fail("%d rows but %d row campaign IDs",
				  list_length(parsed->rows),
				  list_length(parsed->row_campaign_ids));
#if FUZZ_TARGET == FUZZ_STATS
	if (list_length(parsed->rows) != list_length(parsed->result_ids))
		fuzz_fail("%d rows for %d results", list_length(parsed->rows),
				  list_length(parsed->result_ids));
#endif
#if FUZZ_TARGET == FUZZ_CAMPAIGNS
	if (parsed->page_count != list_length(parsed->rows))
		fuzz_fail("page_count %d for %d rows", parsed->page_count,
				  list_length(parsed->rows));
	if (parsed->result_ids != NIL || parsed->errors != NIL)
		fuzz_fail("a campaign list has results or errors");
#else
	if (parsed->has_pagination || parsed->page_count != 0)
		fuzz_fail("a stats answer has pagination");
#endif
	if (parsed->current_page < 0 || parsed->next_page < 0 ||
		parsed->total_pages < 0)
		fuzz_fail("negative pagination");

	forboth(lc, parsed->rows, lc2, parsed->row_campaign_ids)
	{
		char	  **row = (char **) lfirst(lc);
		const char *id = (const char *) lfirst(lc2);

		if (id == NULL || id[0] == '\0' || !valid_utf8(id))
			fuzz_fail("row with an empty or invalid campaign ID");
		for (i = 0; i < ncolumns; i++)
			check_text(&columns[i], row[i]);
	}

	foreach(lc, parsed->result_ids)
	{
		const char *id = (const char *) lfirst(lc);

		if (id == NULL || id[0] == '\0' || !valid_utf8(id))
			fuzz_fail("result with an empty or invalid campaign ID");
	}

	foreach(lc, parsed->errors)
	{
		LemlistCampaignError *err = (LemlistCampaignError *) lfirst(lc);

		if (err->campaign_id == NULL || err->campaign_id[0] == '\0' ||
			!valid_utf8(err->campaign_id))
			fuzz_fail("errors[] entry with an empty or invalid campaign ID");
		if (err->message == NULL || !valid_utf8(err->message))
			fuzz_fail("errors[] entry without a valid message");
	}
}

/*
 * decode
 *		Decode body with the decoder under test or with the oracle; false
 *		if it raised the one ERROR a bad body may raise.
 */
static bool
decode(const char *body, size_t size, bool oracle, LemlistParsed *parsed)
{
	volatile bool accepted = false;

	memset(&fuzz_error, 0, sizeof(fuzz_error));
	PG_TRY();
	{
#if FUZZ_TARGET == FUZZ_CAMPAIGNS
		if (oracle)
			oracle_parse_campaigns(body, size, columns, ncolumns, parsed);
		else
			lemlist_parse_campaigns(body, size, columns, ncolumns, parsed);
#else
		if (oracle)
			oracle_parse_stats(body, size, FUZZ_TARGET == FUZZ_STEPS,
							   columns, ncolumns, parsed);
		else
			lemlist_parse_stats(body, size, FUZZ_TARGET == FUZZ_STEPS,
								columns, ncolumns, parsed);
#endif
		accepted = true;
	}
	PG_CATCH();
	{
		if (!fuzz_error.thrown || fuzz_error.elevel != ERROR)
			fuzz_fail("caught something that is not an ERROR");
		if (fuzz_error.sqlerrcode != ERRCODE_FDW_INVALID_DATA_TYPE ||
			strcmp(fuzz_error.message, "invalid response from lemlist") != 0 ||
			fuzz_error.detail[0] == '\0')
			fuzz_fail("unexpected error (SQLSTATE %s) at %s:%d: %s (detail: %s)",
					  unpack_sql_state(fuzz_error.sqlerrcode),
					  fuzz_error.filename, fuzz_error.lineno,
					  fuzz_error.message, fuzz_error.detail);
		if (!valid_utf8(fuzz_error.detail))
			fuzz_fail("error detail is not valid UTF-8");
	}
	PG_END_TRY();

	if (PG_exception_stack != NULL || error_context_stack != NULL)
		fuzz_fail("error handling state left behind");
	if (fuzz_error.active)
		fuzz_fail("an error was started and never finished");
	if (fuzz_error.count_below_error != 0)
		fuzz_fail("the parser raised a notice or warning: %s", fuzz_error.message);
	return accepted;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *body;
	LemlistParsed parsed;
	LemlistParsed expected;
	bool		accepted;
	bool		oracle_accepted;
	char		detail[FUZZ_ERROR_TEXT];

	/* the body alone in its own allocation: no NUL after it */
	body = malloc(size > 0 ? size : 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	fuzz_database_encoding = (size % 2 == 1) ? PG_SQL_ASCII : PG_UTF8;

	accepted = decode(body, size, false, &parsed);
	memcpy(detail, fuzz_error.detail, sizeof(detail));
	if (accepted)
		check_parsed(&parsed);

	oracle_accepted = decode(body, size, true, &expected);
	if (accepted && !oracle_accepted)
		fuzz_fail("accepted a body the oracle rejects: %s", fuzz_error.detail);
	if (!accepted && oracle_accepted && !has_duplicate_keys(body, size))
		fuzz_fail("rejected a body the oracle accepts: %s", detail);
	if (accepted)
		check_same(&parsed, &expected);

	fuzz_reset_memory();
	free(body);
	return 0;
}
