/*-------------------------------------------------------------------------
 *
 * values.c
 *		  A value of lemlist's answer to the text of a column
 *
 * response.c walks an answer; for each value it reads it asks here whether
 * the value has the documented type and for the text of the columns that
 * read it.  The design rules:
 *
 * - Every wrong value is one ERROR, "invalid response from lemlist"
 *   (lemlist_invalid_answer, which first makes sure the whole body is JSON),
 *   whose DETAIL names the field and where it is (results[3].steps[1]) and
 *   says what was expected.  Values are never quoted, except a number.
 *
 * - JSON null is SQL NULL, whatever the type.  Strings are converted from
 *   UTF-8 to the server encoding (an ERROR for a character it lacks, whose
 *   CONTEXT names the field); one holding U+0000 is rejected here, when it
 *   is used.  Integers keep their decimal text, booleans become
 *   true/false, string arrays a text[] literal with every element quoted,
 *   reals (in undocumented fields) their shortest exact decimal, and arrays
 *   and objects compact JSON text, escaped to ASCII when the database is not
 *   UTF-8, so that it is valid in any server encoding.
 *
 * IDENTIFICATION
 *		  src/values.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "lemlist_fdw.h"

/* What string_context names: the field whose string is being converted. */
typedef struct StringContext
{
	const char *key;
	int			element;
	const LemlistJsonWhere *where;
} StringContext;

static const char *json_type_name(LemlistJsonType type);
static void string_context(void *arg);
static char *string_array(const LemlistAnswer *a, const LemlistJsonValue *v,
						  const char *key, const LemlistJsonWhere *where,
						  bool build);
static void append_ascii_escaped(StringInfo buf, const char *p, int len);


/*
 * lemlist_value_where
 *		"results[3]", "results[3].steps[1]", or "the body".
 */
char *
lemlist_value_where(const LemlistJsonWhere *where)
{
	if (where->array == NULL)
		return pstrdup("the body");
	if (where->step >= 0)
		return psprintf("%s[%d].steps[%d]", where->array, where->index, where->step);
	return psprintf("%s[%d]", where->array, where->index);
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
 * lemlist_value_check
 *		ERROR unless v (field key of where) has the documented type.
 *
 * JSON null is always accepted: it reads as SQL NULL.  Elements of a string
 * array may be null too (NULL elements of the text[]).
 */
void
lemlist_value_check(const LemlistAnswer *a, const LemlistJsonValue *v,
					LemlistJsonType type, const char *key,
					const LemlistJsonWhere *where)
{
	bool		ok;

	if (v->kind == LEMLIST_JSON_KIND_NULL)
		return;

	switch (type)
	{
		case LEMLIST_JSON_ANY:
			ok = true;
			break;
		case LEMLIST_JSON_STRING:
			ok = (v->kind == LEMLIST_JSON_KIND_STRING);
			break;
		case LEMLIST_JSON_COUNTER:
			ok = (v->kind == LEMLIST_JSON_KIND_INTEGER);
			if (ok && v->integer < 0)
				lemlist_invalid_answer(a, "Field \"%s\" of %s is %lld, expected a non-negative integer.",
									   key, lemlist_value_where(where), (long long) v->integer);
			break;
		case LEMLIST_JSON_INTEGER:
			ok = (v->kind == LEMLIST_JSON_KIND_INTEGER);
			break;
		case LEMLIST_JSON_BOOLEAN:
			ok = (v->kind == LEMLIST_JSON_KIND_TRUE || v->kind == LEMLIST_JSON_KIND_FALSE);
			break;
		case LEMLIST_JSON_STRING_ARRAY:
			ok = (v->kind == LEMLIST_JSON_KIND_ARRAY);
			if (ok)
				(void) string_array(a, v, key, where, false);
			break;
		default:
			elog(ERROR, "unrecognized lemlist JSON type %d", (int) type);
			ok = false;			/* keep compiler quiet */
	}

	if (!ok)
		lemlist_invalid_answer(a, "Field \"%s\" of %s is %s, expected %s.",
							   key, lemlist_value_where(where), lemlist_json_kind_name(v->kind),
							   json_type_name(type));
}

/*
 * lemlist_value_id
 *		The non-empty string v (field key of where) in the server encoding.
 */
char *
lemlist_value_id(const LemlistAnswer *a, const LemlistJsonValue *v,
				 const char *key, const LemlistJsonWhere *where)
{
	if (v->kind != LEMLIST_JSON_KIND_STRING)
		lemlist_invalid_answer(a, "Field \"%s\" of %s is %s, expected a non-empty string.",
							   key, lemlist_value_where(where), lemlist_json_kind_name(v->kind));
	if (v->len == 0)
		lemlist_invalid_answer(a, "Field \"%s\" of %s is an empty string, expected a non-empty string.",
							   key, lemlist_value_where(where));
	return lemlist_value_string(a, v, key, -1, where);
}


/* ---------------------------------------------------------------------
 * Values to text
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_value_string
 *		A JSON string converted to the server encoding, palloc'd.
 *
 * element is the index in a string array, or -1 for a plain field.
 */
char *
lemlist_value_string(const LemlistAnswer *a, const LemlistJsonValue *v,
					 const char *key, int element,
					 const LemlistJsonWhere *where)
{
	int			len;
	char	   *s = lemlist_json_string(v, &len);
	char	   *converted;
	StringContext ctx;
	ErrorContextCallback errcallback;

	if (v->escaped && memchr(s, '\0', len) != NULL)
	{
		if (element >= 0)
			lemlist_invalid_answer(a, "Element %d of field \"%s\" of %s contains a NUL character (\\u0000).",
								   element, key, lemlist_value_where(where));
		else
			lemlist_invalid_answer(a, "Field \"%s\" of %s contains a NUL character (\\u0000).",
								   key, lemlist_value_where(where));
	}

	/* a character the server encoding lacks: say which field holds it */
	ctx.key = key;
	ctx.element = element;
	ctx.where = where;
	errcallback.callback = string_context;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	converted = pg_any_to_server(s, len, PG_UTF8);
	error_context_stack = errcallback.previous;

	if (converted != s)
		pfree(s);
	return converted;
}

/*
 * string_context
 *		Error context of a string's conversion: which field of the answer.
 */
static void
string_context(void *arg)
{
	const StringContext *ctx = (const StringContext *) arg;

	if (ctx->element >= 0)
		errcontext("element %d of field \"%s\" of %s in lemlist's answer",
				   ctx->element, ctx->key, lemlist_value_where(ctx->where));
	else
		errcontext("field \"%s\" of %s in lemlist's answer",
				   ctx->key, lemlist_value_where(ctx->where));
}

/*
 * string_array
 *		Check that every element of the array v is a string or null, and
 *		with build, return it as a text[] literal with every element quoted.
 */
static char *
string_array(const LemlistAnswer *a, const LemlistJsonValue *v,
			 const char *key, const LemlistJsonWhere *where, bool build)
{
	LemlistJsonReader r;
	LemlistJsonValue element;
	StringInfoData lit;
	int			i = 0;

	if (build)
	{
		initStringInfo(&lit);
		appendStringInfoChar(&lit, '{');
	}
	lemlist_json_reader_init(&r, v->start, v->len);
	lemlist_json_enter(&r);
	while (lemlist_json_next_element(&r))
	{
		lemlist_json_read(&r, &element);
		if (element.kind != LEMLIST_JSON_KIND_STRING &&
			element.kind != LEMLIST_JSON_KIND_NULL)
			lemlist_invalid_answer(a, "Element %d of field \"%s\" of %s is %s, expected a string.",
								   i, key, lemlist_value_where(where), lemlist_json_kind_name(element.kind));
		if (build)
		{
			if (i > 0)
				appendStringInfoChar(&lit, ',');
			if (element.kind == LEMLIST_JSON_KIND_NULL)
				appendStringInfoString(&lit, "NULL");
			else
			{
				char	   *s = lemlist_value_string(a, &element, key, i, where);

				appendStringInfoChar(&lit, '"');
				for (char *p = s; *p != '\0'; p++)
				{
					if (*p == '"' || *p == '\\')
						appendStringInfoChar(&lit, '\\');
					appendStringInfoChar(&lit, *p);
				}
				appendStringInfoChar(&lit, '"');
				pfree(s);
			}
		}
		i++;
	}
	if (!build)
		return NULL;
	appendStringInfoChar(&lit, '}');
	return lit.data;
}

/*
 * lemlist_value_text
 *		The text of v (field key of where) for a column whose documented
 *		type is type: NULL for SQL NULL.
 *
 * Strings in the server encoding; integers in decimal; booleans as
 * true/false; string arrays as a text[] literal; for undocumented (ANY)
 * fields, reals as their shortest exact decimal and arrays and objects as
 * compact JSON text.
 */
char *
lemlist_value_text(const LemlistAnswer *a, const LemlistJsonValue *v,
				   LemlistJsonType type, const char *key,
				   const LemlistJsonWhere *where)
{
	if (v->kind == LEMLIST_JSON_KIND_NULL)
		return NULL;

	lemlist_value_check(a, v, type, key, where);

	switch (v->kind)
	{
		case LEMLIST_JSON_KIND_STRING:
			return lemlist_value_string(a, v, key, -1, where);
		case LEMLIST_JSON_KIND_INTEGER:
			/* the token is the decimal text of its value, "-0" aside */
			if (v->integer == 0)
				return pstrdup("0");
			return pnstrdup(v->start, v->len);
		case LEMLIST_JSON_KIND_REAL:
			{
				char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

				double_to_shortest_decimal_buf(v->real, buf);
				return pstrdup(buf);
			}
		case LEMLIST_JSON_KIND_TRUE:
			return pstrdup("true");
		case LEMLIST_JSON_KIND_FALSE:
			return pstrdup("false");
		case LEMLIST_JSON_KIND_ARRAY:
			if (type == LEMLIST_JSON_STRING_ARRAY)
				return string_array(a, v, key, where, true);
			return lemlist_json_compact(v, a->ascii);
		case LEMLIST_JSON_KIND_OBJECT:
			return lemlist_json_compact(v, a->ascii);
		case LEMLIST_JSON_KIND_NULL:
			break;
	}
	return NULL;
}


/* ---------------------------------------------------------------------
 * JSON text
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_json_compact
 *		The text of an array or object without white space between tokens,
 *		palloc'd.  With ascii, characters beyond ASCII in strings become
 *		\uXXXX escapes, so that the text is valid in any server encoding.
 */
char *
lemlist_json_compact(const LemlistJsonValue *v, bool ascii)
{
	StringInfoData buf;
	const char *p = v->start;
	const char *end = v->start + v->len;

	Assert(v->kind == LEMLIST_JSON_KIND_ARRAY || v->kind == LEMLIST_JSON_KIND_OBJECT);
	initStringInfo(&buf);
	while (p < end)
	{
		const char *run = p;

		/* copy up to the next string or white space */
		while (p < end && *p != '"' && *p != ' ' && *p != '\t' &&
			   *p != '\n' && *p != '\r')
			p++;
		appendBinaryStringInfo(&buf, run, (int) (p - run));
		if (p >= end)
			break;
		if (*p != '"')
		{
			p++;
			continue;
		}

		/* a string: copy it whole, up to its unescaped closing quote */
		run = ++p;
		while (*p != '"')
			p += (*p == '\\') ? 2 : 1;
		appendStringInfoChar(&buf, '"');
		if (ascii)
			append_ascii_escaped(&buf, run, (int) (p - run));
		else
			appendBinaryStringInfo(&buf, run, (int) (p - run));
		appendStringInfoChar(&buf, '"');
		p++;
	}
	return buf.data;
}

/*
 * append_ascii_escaped
 *		Append the content of a JSON string (len bytes at p, escapes kept),
 *		characters beyond ASCII written as \uXXXX escapes (UTF-16).
 */
static void
append_ascii_escaped(StringInfo buf, const char *p, int len)
{
	const unsigned char *s = (const unsigned char *) p;
	const unsigned char *end = s + len;

	while (s < end)
	{
		pg_wchar	c;
		int			charlen;

		if (*s < 0x80)
		{
			appendStringInfoChar(buf, (char) *s++);
			continue;
		}
		charlen = pg_utf_mblen(s);
		c = utf8_to_unicode(s);
		s += charlen;
		if (c >= 0x10000)
		{
			c -= 0x10000;
			appendStringInfo(buf, "\\u%04x\\u%04x",
							 (unsigned int) (0xD800 + (c >> 10)),
							 (unsigned int) (0xDC00 + (c & 0x3FF)));
		}
		else
			appendStringInfo(buf, "\\u%04x", (unsigned int) c);
	}
}
