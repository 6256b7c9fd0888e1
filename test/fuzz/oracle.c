/*-------------------------------------------------------------------------
 *
 * oracle.c
 *		  The reference decoder of lemlist's answers, for the fuzz harness
 *
 * lemlist_fdw decoded answers with jansson (json_loadb, then two passes over
 * the tree) until src/jsonread.c replaced it with a one-pass reader.  This
 * is that jansson decoder, kept as the oracle that fuzz_json.c compares the
 * new one with on every input: both must accept and reject the same bodies
 * and give the same rows (JSON text compared as JSON).  It is test code
 * only; the extension does not link it.
 *
 * IDENTIFICATION
 *		  test/fuzz/oracle.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "lemlist_fdw.h"
#include "fuzz.h"

/*
 * Every problem with a response body is this one error; the DETAIL (a
 * translatable format with its arguments) says what is wrong.
 */
#define invalid_response(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE), \
			 errmsg("invalid response from lemlist"), \
			 errdetail(__VA_ARGS__)))

/*
 * Where a value sits in the body, to name it in error details: the top-level
 * array ("results", "errors", "campaigns"; NULL for the body itself), the
 * index in it, and the index in that element's "steps" (-1 if not a step).
 */
typedef struct JsonWhere
{
	const char *array;
	int			index;
	int			step;
} JsonWhere;

static json_t *load_body(const char *body, size_t len);
static char *where_text(const JsonWhere *where);
static const char *json_kind_name(const json_t *value);
static const char *json_type_name(LemlistJsonType type);
static void check_value(const json_t *value, LemlistJsonType type,
						const char *key, const JsonWhere *where);
static void check_object(const json_t *value, const JsonWhere *where);
static void check_fields(const json_t *object, const LemlistResourceDef *res,
						 LemlistColumnSource source, const JsonWhere *where);
static char *string_text(const json_t *value, const char *key, int element,
						 const JsonWhere *where);
static char *required_id(const json_t *object, const char *key,
						 const JsonWhere *where);
static char *dump_text(const json_t *value, size_t flags);
static char *value_text(const json_t *value, LemlistJsonType type,
						const char *key, const JsonWhere *where);
static char **build_row(const LemlistColumn *columns, int ncolumns,
						const json_t *result, const json_t *step,
						const JsonWhere *where);
static int	pagination_field(const json_t *pagination, const char *key);
static const LemlistResourceDef *resource(LemlistResourceKind kind);
static void parse_stats_root(const json_t *root, bool steps,
							 const LemlistColumn *columns, int ncolumns,
							 LemlistParsed *out);
static void parse_campaigns_root(const json_t *root,
								 const LemlistColumn *columns,
								 int ncolumns, LemlistParsed *out);


/* ---------------------------------------------------------------------
 * Parsing responses
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_json_parse_stats
 *		Parse a 200 answer of POST /v2/campaigns/stats/batch.
 *
 * Without steps, one row per element of results[]; with steps, one row per
 * element of each result's steps[].  See LemlistParsed for the rest.
 */
void
oracle_parse_stats(const char *body, size_t len, bool steps,
						 const LemlistColumn *columns, int ncolumns,
						 LemlistParsed *out)
{
	json_t	   *root;

	memset(out, 0, sizeof(*out));
	root = load_body(body, len);

	PG_TRY();
	{
		parse_stats_root(root, steps, columns, ncolumns, out);
	}
	PG_FINALLY();
	{
		json_decref(root);
	}
	PG_END_TRY();
}

/*
 * lemlist_json_parse_campaigns
 *		Parse a 200 answer of GET /campaigns?version=v2.
 *
 * Both shapes the API is known to send are accepted: the documented bare
 * array of campaigns, and {"campaigns": [...], "pagination": {...}}.  Only
 * the second sets has_pagination, and only when "pagination" is an object.
 */
void
oracle_parse_campaigns(const char *body, size_t len,
							 const LemlistColumn *columns, int ncolumns,
							 LemlistParsed *out)
{
	json_t	   *root;

	memset(out, 0, sizeof(*out));
	root = load_body(body, len);

	PG_TRY();
	{
		parse_campaigns_root(root, columns, ncolumns, out);
	}
	PG_FINALLY();
	{
		json_decref(root);
	}
	PG_END_TRY();
}

/*
 * load_body
 *		Decode a response body into a jansson tree the caller must release.
 *
 * Checks the things jansson would report less clearly first: an empty body,
 * and bytes that are not UTF-8.  JSON_ALLOW_NUL lets strings holding U+0000
 * through, so that one in an undocumented field does not reject the body;
 * string_text() refuses them when they are used.
 */
static json_t *
load_body(const char *body, size_t len)
{
	json_error_t error;
	json_t	   *root;
	int			valid;
	char	   *p;

	if (len == 0)
		invalid_response("The body is empty.");
	if (len > (size_t) MaxAllocSize)
		invalid_response("The body is too large (%zu bytes).", len);

	valid = lemlist_verifymbstr(PG_UTF8, body, (int) len);
	if ((size_t) valid < len)
	{
		if (body[valid] == '\0')
			invalid_response("The body contains a NUL byte at offset %d.", valid);
		else
			invalid_response("The body is not valid UTF-8: invalid byte sequence at offset %d.",
							 valid);
	}

	root = json_loadb(body, len, JSON_ALLOW_NUL, &error);
	if (root != NULL)
		return root;

	if (json_error_code(&error) == json_error_numeric_overflow)
		invalid_response("The body holds a number too large for a 64-bit integer at line %d, column %d.",
						 error.line, error.column);

	/*
	 * jansson's text may quote a token of the body.  It is short, but the
	 * token ends where the lexer gave up, which can be inside a multibyte
	 * character ("\u0" followed by the first byte of an "é").  Keep
	 * printable ASCII and, in a UTF-8 database only, whole UTF-8
	 * characters; anything else becomes '?', so that the detail is valid in
	 * the server encoding.
	 */
	error.text[JSON_ERROR_TEXT_LENGTH - 1] = '\0';
	p = error.text;
	while (*p != '\0')
	{
		unsigned char c = (unsigned char) *p;
		int			charlen;

		if (c >= 0x20 && c < 0x7f)
		{
			p++;
			continue;
		}
		if (c >= 0x80 && GetDatabaseEncoding() == PG_UTF8)
		{
			charlen = pg_utf_mblen((const unsigned char *) p);
			if (strnlen(p, charlen) == (size_t) charlen &&
				pg_utf8_islegal((const unsigned char *) p, charlen))
			{
				p += charlen;
				continue;
			}
		}
		*p++ = '?';
	}
	invalid_response("The body is not valid JSON: %s at line %d, column %d.",
					 error.text, error.line, error.column);
	return NULL;				/* keep compiler quiet */
}

/*
 * parse_stats_root
 *		The body of lemlist_json_parse_stats, run while root is alive.
 *
 * First pass: check everything (results, every result's documented fields
 * and steps, errors).  Second pass: extract rows and errors.
 */
static void
parse_stats_root(const json_t *root, bool steps,
				 const LemlistColumn *columns, int ncolumns,
				 LemlistParsed *out)
{
	const LemlistResourceDef *stats_res = resource(LEMLIST_RES_CAMPAIGN_STATS);
	const LemlistResourceDef *step_res = resource(LEMLIST_RES_CAMPAIGN_STEP_STATS);
	JsonWhere	body_where = {NULL, 0, -1};
	json_t	   *results;
	json_t	   *errors;
	json_t	   *result;
	json_t	   *entry;
	size_t		i;

	check_object(root, &body_where);

	results = json_object_get(root, "results");
	if (results == NULL)
		invalid_response("The body has no \"results\" array.");
	if (!json_is_array(results))
		invalid_response("Field \"results\" of the body is %s, expected an array.",
						 json_kind_name(results));

	errors = json_object_get(root, "errors");
	if (errors != NULL && !json_is_null(errors) && !json_is_array(errors))
		invalid_response("Field \"errors\" of the body is %s, expected an array.",
						 json_kind_name(errors));

	/* first pass: validate the whole body */
	json_array_foreach(results, i, result)
	{
		JsonWhere	where = {"results", (int) i, -1};
		json_t	   *steps_array;
		json_t	   *step;
		size_t		j;

		CHECK_FOR_INTERRUPTS();
		check_object(result, &where);
		(void) required_id(result, "campaignId", &where);
		check_fields(result, stats_res, LEMLIST_SRC_RESULT, &where);
		check_fields(result, step_res, LEMLIST_SRC_RESULT, &where);

		steps_array = json_object_get(result, "steps");
		if (steps_array == NULL || json_is_null(steps_array))
			continue;
		if (!json_is_array(steps_array))
			invalid_response("Field \"steps\" of %s is %s, expected an array.",
							 where_text(&where), json_kind_name(steps_array));
		json_array_foreach(steps_array, j, step)
		{
			JsonWhere	step_where = {"results", (int) i, (int) j};

			check_object(step, &step_where);
			check_fields(step, step_res, LEMLIST_SRC_STEP, &step_where);
		}
	}

	if (errors != NULL && json_is_array(errors))
	{
		json_array_foreach(errors, i, entry)
		{
			JsonWhere	where = {"errors", (int) i, -1};
			json_t	   *message;

			check_object(entry, &where);
			(void) required_id(entry, "campaignId", &where);
			message = json_object_get(entry, "error");
			if (message != NULL)
				check_value(message, LEMLIST_JSON_STRING, "error", &where);
		}
	}

	/* second pass: extract */
	json_array_foreach(results, i, result)
	{
		JsonWhere	where = {"results", (int) i, -1};
		char	   *campaign_id;
		json_t	   *steps_array;
		json_t	   *step;
		size_t		j;

		CHECK_FOR_INTERRUPTS();
		campaign_id = required_id(result, "campaignId", &where);
		out->result_ids = lappend(out->result_ids, campaign_id);

		if (!steps)
		{
			out->rows = lappend(out->rows,
								build_row(columns, ncolumns, result, NULL, &where));
			out->row_campaign_ids = lappend(out->row_campaign_ids, campaign_id);
			continue;
		}

		steps_array = json_object_get(result, "steps");
		if (steps_array == NULL || json_is_null(steps_array))
			continue;
		json_array_foreach(steps_array, j, step)
		{
			JsonWhere	step_where = {"results", (int) i, (int) j};

			out->rows = lappend(out->rows,
								build_row(columns, ncolumns, result, step,
										  &step_where));
			out->row_campaign_ids = lappend(out->row_campaign_ids, campaign_id);
		}
	}

	if (errors != NULL && json_is_array(errors))
	{
		json_array_foreach(errors, i, entry)
		{
			JsonWhere	where = {"errors", (int) i, -1};
			LemlistCampaignError *err = palloc(sizeof(LemlistCampaignError));
			json_t	   *message;

			err->campaign_id = required_id(entry, "campaignId", &where);
			message = json_object_get(entry, "error");
			if (message == NULL || json_is_null(message))
				err->message = pstrdup("unknown error");
			else
				err->message = string_text(message, "error", -1, &where);
			out->errors = lappend(out->errors, err);
		}
	}
}

/*
 * parse_campaigns_root
 *		The body of lemlist_json_parse_campaigns, run while root is alive.
 */
static void
parse_campaigns_root(const json_t *root, const LemlistColumn *columns,
					 int ncolumns, LemlistParsed *out)
{
	const LemlistResourceDef *res = resource(LEMLIST_RES_CAMPAIGNS);
	const json_t *campaigns;
	json_t	   *campaign;
	size_t		i;

	if (json_is_array(root))
		campaigns = root;
	else if (json_is_object(root))
	{
		json_t	   *pagination;

		campaigns = json_object_get(root, "campaigns");
		if (campaigns == NULL)
			invalid_response("The body is an object without a \"campaigns\" array.");
		if (!json_is_array(campaigns))
			invalid_response("Field \"campaigns\" of the body is %s, expected an array.",
							 json_kind_name(campaigns));

		pagination = json_object_get(root, "pagination");
		if (pagination != NULL && !json_is_null(pagination))
		{
			if (!json_is_object(pagination))
				invalid_response("Field \"pagination\" of the body is %s, expected an object.",
								 json_kind_name(pagination));
			out->has_pagination = true;
			(void) pagination_field(pagination, "totalRecords");
			out->current_page = pagination_field(pagination, "currentPage");
			out->next_page = pagination_field(pagination, "nextPage");
			out->total_pages = pagination_field(pagination, "totalPage");
		}
	}
	else
		invalid_response("The body is %s, expected an array or an object.",
						 json_kind_name(root));

	/* first pass: validate every campaign */
	json_array_foreach(campaigns, i, campaign)
	{
		JsonWhere	where = {"campaigns", (int) i, -1};

		CHECK_FOR_INTERRUPTS();
		check_object(campaign, &where);
		(void) required_id(campaign, "_id", &where);
		check_fields(campaign, res, LEMLIST_SRC_RESULT, &where);
	}

	/* second pass: extract */
	json_array_foreach(campaigns, i, campaign)
	{
		JsonWhere	where = {"campaigns", (int) i, -1};

		CHECK_FOR_INTERRUPTS();
		out->row_campaign_ids = lappend(out->row_campaign_ids,
										required_id(campaign, "_id", &where));
		out->rows = lappend(out->rows,
							build_row(columns, ncolumns, campaign, NULL, &where));
	}
	out->page_count = (int) json_array_size(campaigns);
}

/*
 * pagination_field
 *		A field of "pagination": a non-negative int, 0 when missing or null.
 */
static int
pagination_field(const json_t *pagination, const char *key)
{
	json_t	   *value = json_object_get(pagination, key);
	json_int_t	n;

	if (value == NULL || json_is_null(value))
		return 0;
	if (!json_is_integer(value))
		invalid_response("Field \"%s\" of pagination is %s, expected a non-negative integer.",
						 key, json_kind_name(value));
	n = json_integer_value(value);
	if (n < 0 || n > PG_INT32_MAX)
		invalid_response("Field \"%s\" of pagination is %lld, expected a non-negative 32-bit integer.",
						 key, (long long) n);
	return (int) n;
}

/*
 * build_row
 *		One row of column texts (NULL for SQL NULL), following columns.
 *
 * result is the result (or campaign) object; step is the step object in
 * steps mode, NULL otherwise.  RAW takes the step when there is one.
 */
static char **
build_row(const LemlistColumn *columns, int ncolumns,
		  const json_t *result, const json_t *step, const JsonWhere *where)
{
	char	  **row = palloc0(sizeof(char *) * Max(ncolumns, 1));
	JsonWhere	result_where = {where->array, where->index, -1};
	int			i;

	for (i = 0; i < ncolumns; i++)
	{
		const LemlistColumn *col = &columns[i];

		switch (col->source)
		{
			case LEMLIST_SRC_RESULT:
				if (col->key != NULL)
					row[i] = value_text(json_object_get(result, col->key),
										col->json_type, col->key, &result_where);
				break;
			case LEMLIST_SRC_STEP:
				if (step != NULL && col->key != NULL)
					row[i] = value_text(json_object_get(step, col->key),
										col->json_type, col->key, where);
				break;
			case LEMLIST_SRC_RAW:
				row[i] = dump_text(step != NULL ? step : result, 0);
				break;
			case LEMLIST_SRC_FILTER:
				break;
		}
	}
	return row;
}


/* ---------------------------------------------------------------------
 * Checking values
 * ---------------------------------------------------------------------
 */

/*
 * resource
 *		The resource definition of kind, which must exist.
 */
static const LemlistResourceDef *
resource(LemlistResourceKind kind)
{
	const LemlistResourceDef *res = lemlist_resource_by_kind(kind);

	if (res == NULL)
		elog(ERROR, "unknown lemlist resource kind %d", (int) kind);
	return res;
}

/*
 * where_text
 *		"results[3]", "results[3].steps[1]", or "the body".
 */
static char *
where_text(const JsonWhere *where)
{
	if (where->array == NULL)
		return pstrdup("the body");
	if (where->step >= 0)
		return psprintf("%s[%d].steps[%d]", where->array, where->index, where->step);
	return psprintf("%s[%d]", where->array, where->index);
}

/*
 * json_kind_name
 *		What a JSON value is, as the subject of an error detail.
 */
static const char *
json_kind_name(const json_t *value)
{
	switch (json_typeof(value))
	{
		case JSON_OBJECT:
			return "an object";
		case JSON_ARRAY:
			return "an array";
		case JSON_STRING:
			return "a string";
		case JSON_INTEGER:
			return "an integer";
		case JSON_REAL:
			return "a real number";
		case JSON_TRUE:
		case JSON_FALSE:
			return "a boolean";
		case JSON_NULL:
			return "null";
	}
	return "an unknown JSON value";
}

/*
 * json_type_name
 *		What a documented type expects, as the end of an error detail.
 */
static const char *
json_type_name(LemlistJsonType type)
{
	switch (type)
	{
		case LEMLIST_JSON_ANY:
			return "any JSON value";
		case LEMLIST_JSON_STRING:
			return "a string";
		case LEMLIST_JSON_COUNTER:
			return "a non-negative integer";
		case LEMLIST_JSON_INTEGER:
			return "an integer";
		case LEMLIST_JSON_BOOLEAN:
			return "a boolean";
		case LEMLIST_JSON_STRING_ARRAY:
			return "an array of strings";
	}
	return "an unknown type";
}

/*
 * check_object
 *		ERROR unless value is a JSON object.
 */
static void
check_object(const json_t *value, const JsonWhere *where)
{
	if (!json_is_object(value))
	{
		if (where->array == NULL)
			invalid_response("The body is %s, expected an object.",
							 json_kind_name(value));
		else
			invalid_response("%s is %s, expected an object.",
							 where_text(where), json_kind_name(value));
	}
}

/*
 * check_value
 *		ERROR unless value (field key of where) has the documented type.
 *
 * JSON null is always accepted: it reads as SQL NULL.  Elements of a string
 * array may be null too (NULL elements of the text[]).
 */
static void
check_value(const json_t *value, LemlistJsonType type, const char *key,
			const JsonWhere *where)
{
	bool		ok;

	if (json_is_null(value))
		return;

	switch (type)
	{
		case LEMLIST_JSON_ANY:
			ok = true;
			break;
		case LEMLIST_JSON_STRING:
			ok = json_is_string(value);
			break;
		case LEMLIST_JSON_COUNTER:
			if (json_is_integer(value) && json_integer_value(value) < 0)
				invalid_response("Field \"%s\" of %s is %lld, expected a non-negative integer.",
								 key, where_text(where),
								 (long long) json_integer_value(value));
			ok = json_is_integer(value);
			break;
		case LEMLIST_JSON_INTEGER:
			ok = json_is_integer(value);
			break;
		case LEMLIST_JSON_BOOLEAN:
			ok = json_is_boolean(value);
			break;
		case LEMLIST_JSON_STRING_ARRAY:
			ok = json_is_array(value);
			if (ok)
			{
				size_t		i;
				json_t	   *element;

				json_array_foreach(value, i, element)
				{
					if (!json_is_string(element) && !json_is_null(element))
						invalid_response("Element %zu of field \"%s\" of %s is %s, expected a string.",
										 i, key, where_text(where),
										 json_kind_name(element));
				}
			}
			break;
		default:
			elog(ERROR, "unrecognized lemlist JSON type %d", (int) type);
			ok = false;			/* keep compiler quiet */
	}

	if (!ok)
		invalid_response("Field \"%s\" of %s is %s, expected %s.",
						 key, where_text(where), json_kind_name(value),
						 json_type_name(type));
}

/*
 * check_fields
 *		Check the documented fields of object: the columns of res whose
 *		source is source and that read a JSON key.
 */
static void
check_fields(const json_t *object, const LemlistResourceDef *res,
			 LemlistColumnSource source, const JsonWhere *where)
{
	int			i;

	for (i = 0; i < res->ncolumns; i++)
	{
		const LemlistColumnDef *col = &res->columns[i];
		json_t	   *value;

		if (col->source != source || col->json_key == NULL)
			continue;
		value = json_object_get(object, col->json_key);
		if (value != NULL)
			check_value(value, col->json_type, col->json_key, where);
	}
}

/*
 * required_id
 *		The non-empty string field key of object, in the server encoding.
 */
static char *
required_id(const json_t *object, const char *key, const JsonWhere *where)
{
	json_t	   *value = json_object_get(object, key);

	if (value == NULL)
		invalid_response("Field \"%s\" of %s is missing.",
						 key, where_text(where));
	if (!json_is_string(value))
		invalid_response("Field \"%s\" of %s is %s, expected a non-empty string.",
						 key, where_text(where), json_kind_name(value));
	if (json_string_length(value) == 0)
		invalid_response("Field \"%s\" of %s is an empty string, expected a non-empty string.",
						 key, where_text(where));
	return string_text(value, key, -1, where);
}


/* ---------------------------------------------------------------------
 * Values to text
 * ---------------------------------------------------------------------
 */

/*
 * string_text
 *		A JSON string converted to the server encoding, palloc'd.
 *
 * element is the index in a string array, or -1 for a plain field.
 */
static char *
string_text(const json_t *value, const char *key, int element,
			const JsonWhere *where)
{
	const char *s = json_string_value(value);
	size_t		len = json_string_length(value);
	char	   *converted;

	if (memchr(s, '\0', len) != NULL)
	{
		if (element >= 0)
			invalid_response("Element %d of field \"%s\" of %s contains a NUL character (\\u0000).",
							 element, key, where_text(where));
		else
			invalid_response("Field \"%s\" of %s contains a NUL character (\\u0000).",
							 key, where_text(where));
	}

	converted = pg_any_to_server(s, (int) len, PG_UTF8);
	if (converted == s)
		converted = pnstrdup(s, len);
	return converted;
}

/*
 * dump_text
 *		The compact JSON text of value, palloc'd.
 *
 * json_dumpb() is called twice, once to size the buffer, so that the text
 * never lives in malloc'd memory.  JSON_ENSURE_ASCII is added outside
 * UTF-8 databases, making the text valid in any server encoding.
 */
static char *
dump_text(const json_t *value, size_t flags)
{
	size_t		size;
	char	   *buf;

	flags |= JSON_COMPACT | JSON_ENCODE_ANY;
	if (GetDatabaseEncoding() != PG_UTF8)
		flags |= JSON_ENSURE_ASCII;

	size = json_dumpb(value, NULL, 0, flags);
	if (size == 0 || size >= (size_t) MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("could not serialize a JSON value from lemlist")));
	buf = palloc(size + 1);
	if (json_dumpb(value, buf, size, flags) != size)
		elog(ERROR, "JSON value changed size while being serialized");
	buf[size] = '\0';
	return buf;
}

/*
 * value_text
 *		The text of field key (value, NULL when missing) for a column whose
 *		documented type is type: NULL for SQL NULL.
 *
 * Strings in the server encoding; integers in decimal; booleans as
 * true/false; string arrays as a text[] literal with every element quoted;
 * for undocumented (ANY) fields, reals as their shortest exact decimal and
 * arrays and objects as compact JSON text.
 */
static char *
value_text(const json_t *value, LemlistJsonType type, const char *key,
		   const JsonWhere *where)
{
	if (value == NULL || json_is_null(value))
		return NULL;

	check_value(value, type, key, where);

	switch (json_typeof(value))
	{
		case JSON_STRING:
			return string_text(value, key, -1, where);
		case JSON_INTEGER:
			return psprintf("%lld", (long long) json_integer_value(value));
		case JSON_REAL:
			{
				char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

				double_to_shortest_decimal_buf(json_real_value(value), buf);
				return pstrdup(buf);
			}
		case JSON_TRUE:
			return pstrdup("true");
		case JSON_FALSE:
			return pstrdup("false");
		case JSON_ARRAY:
			if (type == LEMLIST_JSON_STRING_ARRAY)
			{
				StringInfoData lit;
				size_t		i;
				json_t	   *element;

				initStringInfo(&lit);
				appendStringInfoChar(&lit, '{');
				json_array_foreach(value, i, element)
				{
					if (i > 0)
						appendStringInfoChar(&lit, ',');
					if (json_is_null(element))
						appendStringInfoString(&lit, "NULL");
					else
					{
						char	   *s = string_text(element, key, (int) i, where);
						char	   *p;

						appendStringInfoChar(&lit, '"');
						for (p = s; *p != '\0'; p++)
						{
							if (*p == '"' || *p == '\\')
								appendStringInfoChar(&lit, '\\');
							appendStringInfoChar(&lit, *p);
						}
						appendStringInfoChar(&lit, '"');
						pfree(s);
					}
				}
				appendStringInfoChar(&lit, '}');
				return lit.data;
			}
			return dump_text(value, 0);
		case JSON_OBJECT:
			return dump_text(value, 0);
		case JSON_NULL:
			break;
	}
	return NULL;
}
