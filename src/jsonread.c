/*-------------------------------------------------------------------------
 *
 * jsonread.c
 *		  A strict pull reader of JSON text, for decoding lemlist's answers
 *
 * response.c walks an answer with these functions in one pass, asking for
 * the next key of an object or the next element of an array and reading
 * values as it goes; nothing is built that the caller did not ask for.  A
 * value is handed back as a LemlistJsonValue: its kind and where its text
 * lies in the body.  Strings are decoded (escapes resolved) only when the
 * caller asks for their text, and arrays and objects the caller does not
 * walk are checked and skipped without recursion.
 *
 * The design rules:
 *
 * - The grammar is RFC 8259's, read the way jansson's json_loadb(...,
 *   JSON_ALLOW_NUL) reads it, which lemlist_fdw used before: the body is an
 *   object or an array; integers (no fraction, no exponent) must fit in 64
 *   bits; reals must be finite; "\u0000" may appear in a string value but
 *   not in an object key; a "\uD800"-"\uDBFF" escape must be followed by a
 *   "\uDC00"-"\uDFFF" one; values nest at most LEMLIST_JSON_MAX_DEPTH deep.
 *   test/fuzz/ checks this file against jansson on every input.
 *
 * - The body was checked to be valid UTF-8 without NUL bytes before it gets
 *   here (response.c), so bytes outside strings are ASCII and strings need
 *   no UTF-8 check of their own.  The body is not NUL-terminated: every read
 *   is bounded by its end.
 *
 * - Every syntax error is one ERROR, "invalid response from lemlist", whose
 *   DETAIL says what was expected where (line and column, counted in
 *   characters).  Bytes of the body are never quoted, except a printable
 *   ASCII character.
 *
 * - Everything returned is palloc'd in the caller's memory context; the
 *   reader itself allocates nothing, except a copy of a very long real
 *   number for strtod().
 *
 * IDENTIFICATION
 *		  src/jsonread.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "lemlist_fdw.h"

/* Bytes that end the fast scan of a string: '"', '\\' and controls. */
static bool string_stop[256];
static bool string_stop_ready = false;

static void locate(const LemlistJsonReader *r, const char *at, int *line,
				   int *column);
lemlist_noreturn static void syntax_error(const LemlistJsonReader *r, const char *at,
										  const char *what);
lemlist_noreturn static void unexpected(const LemlistJsonReader *r, const char *at,
										const char *expected);
static inline void skip_space(LemlistJsonReader *r);
static void read_string(LemlistJsonReader *r, LemlistJsonValue *v, bool key);
static int	hex4(const char *p);
static void read_number(LemlistJsonReader *r, LemlistJsonValue *v);
static void read_scalar(LemlistJsonReader *r, LemlistJsonValue *v);
static void skip_container(LemlistJsonReader *r);
static void check_depth(const LemlistJsonReader *r, int depth);
static void append_utf8(StringInfo buf, pg_wchar c);


/*
 * lemlist_json_reader_init
 *		Start reading body (len bytes).
 */
void
lemlist_json_reader_init(LemlistJsonReader *r, const char *body, size_t len)
{
	if (!string_stop_ready)
	{
		for (int c = 0; c < 256; c++)
			string_stop[c] = (c < 0x20 || c == '"' || c == '\\');
		string_stop_ready = true;
	}
	r->body = body;
	r->pos = body;
	r->end = body + len;
	r->depth = 0;
	r->after_open = false;
}

/*
 * lemlist_json_at
 *		Does the next token (after white space) start with c?
 */
bool
lemlist_json_at(LemlistJsonReader *r, char c)
{
	skip_space(r);
	return r->pos < r->end && *r->pos == c;
}

/*
 * lemlist_json_start
 *		Check that the body starts with an object or an array (the only
 *		bodies lemlist sends) and return which, without reading it.
 */
LemlistJsonKind
lemlist_json_start(LemlistJsonReader *r)
{
	skip_space(r);
	if (r->pos < r->end && *r->pos == '{')
		return LEMLIST_JSON_KIND_OBJECT;
	if (r->pos < r->end && *r->pos == '[')
		return LEMLIST_JSON_KIND_ARRAY;
	unexpected(r, r->pos, "'{' or '['");
}

/*
 * lemlist_json_enter
 *		Step into the object or array at the reader's position; then walk it
 *		with lemlist_json_next_key or lemlist_json_next_element until they
 *		return false.
 */
void
lemlist_json_enter(LemlistJsonReader *r)
{
	skip_space(r);
	if (r->pos >= r->end || (*r->pos != '{' && *r->pos != '['))
		unexpected(r, r->pos, "'{' or '['");
	check_depth(r, r->depth + 1);
	r->depth++;
	r->pos++;
	r->after_open = true;
}

/*
 * lemlist_json_next_key
 *		In an object: read the next key into *key and the ':' after it, and
 *		return true; or read the closing '}' and return false.  The caller
 *		must then read the member's value (lemlist_json_read, or enter it).
 */
bool
lemlist_json_next_key(LemlistJsonReader *r, LemlistJsonValue *key)
{
	bool		first = r->after_open;

	r->after_open = false;
	skip_space(r);
	if (r->pos < r->end && *r->pos == '}')
	{
		r->pos++;
		r->depth--;
		return false;
	}
	if (!first)
	{
		if (r->pos >= r->end || *r->pos != ',')
			unexpected(r, r->pos, "',' or '}'");
		r->pos++;
		skip_space(r);
	}
	if (r->pos >= r->end || *r->pos != '"')
		unexpected(r, r->pos, first ? "a string (a key) or '}'" : "a string (a key)");
	read_string(r, key, true);
	skip_space(r);
	if (r->pos >= r->end || *r->pos != ':')
		unexpected(r, r->pos, "':'");
	r->pos++;
	return true;
}

/*
 * lemlist_json_next_element
 *		In an array: true if another element follows (the caller must read
 *		it), false after reading the closing ']'.
 */
bool
lemlist_json_next_element(LemlistJsonReader *r)
{
	bool		first = r->after_open;

	r->after_open = false;
	skip_space(r);
	if (r->pos < r->end && *r->pos == ']')
	{
		r->pos++;
		r->depth--;
		return false;
	}
	if (!first)
	{
		if (r->pos >= r->end || *r->pos != ',')
			unexpected(r, r->pos, "',' or ']'");
		r->pos++;
	}
	return true;
}

/*
 * lemlist_json_read
 *		Read the value at the reader's position into *v.  An array or an
 *		object is checked and skipped; *v then spans its whole text.
 */
void
lemlist_json_read(LemlistJsonReader *r, LemlistJsonValue *v)
{
	skip_space(r);
	r->after_open = false;
	if (r->pos < r->end && (*r->pos == '{' || *r->pos == '['))
	{
		v->kind = (*r->pos == '{') ? LEMLIST_JSON_KIND_OBJECT : LEMLIST_JSON_KIND_ARRAY;
		v->start = r->pos;
		v->escaped = false;
		skip_container(r);
		v->len = (int) (r->pos - v->start);
		return;
	}
	check_depth(r, r->depth + 1);
	read_scalar(r, v);
}

/*
 * lemlist_json_finish
 *		After the body's value: nothing but white space may follow.
 */
void
lemlist_json_finish(LemlistJsonReader *r)
{
	skip_space(r);
	if (r->pos < r->end)
		unexpected(r, r->pos, "the end of the body");
}

/*
 * lemlist_json_check_syntax
 *		ERROR with the first syntax error of body, if there is one.
 *
 * lemlist_invalid_answer calls this before it reports a wrong value, so
 * that a body that is not JSON at all is always reported as such.
 */
void
lemlist_json_check_syntax(const char *body, size_t len)
{
	LemlistJsonReader r;
	LemlistJsonValue v;

	lemlist_json_reader_init(&r, body, len);
	(void) lemlist_json_start(&r);
	lemlist_json_read(&r, &v);
	lemlist_json_finish(&r);
}

/*
 * lemlist_json_key_is
 *		Is key (a string value) the ASCII name of namelen bytes?
 */
bool
lemlist_json_key_is(const LemlistJsonValue *key, const char *name, int namelen)
{
	int			len;
	char	   *text;
	bool		result;

	if (!key->escaped)
		return key->len == namelen && memcmp(key->start, name, namelen) == 0;
	text = lemlist_json_string(key, &len);
	result = (len == namelen && memcmp(text, name, namelen) == 0);
	pfree(text);
	return result;
}

/*
 * lemlist_json_string
 *		The UTF-8 text of a string value, escapes resolved, palloc'd and
 *		NUL-terminated; *len receives its length, as it may hold U+0000.
 */
char *
lemlist_json_string(const LemlistJsonValue *v, int *len)
{
	StringInfoData buf;
	const char *p = v->start;
	const char *end = v->start + v->len;

	Assert(v->kind == LEMLIST_JSON_KIND_STRING);
	if (!v->escaped)
	{
		char	   *text = palloc(v->len + 1);

		memcpy(text, v->start, v->len);
		text[v->len] = '\0';
		*len = v->len;
		return text;
	}

	/* the reader checked every escape: decode without checking again */
	initStringInfo(&buf);
	while (p < end)
	{
		const char *run = p;

		while (p < end && *p != '\\')
			p++;
		appendBinaryStringInfo(&buf, run, (int) (p - run));
		if (p >= end)
			break;
		p++;
		switch (*p++)
		{
			case 'b':
				appendStringInfoChar(&buf, '\b');
				break;
			case 'f':
				appendStringInfoChar(&buf, '\f');
				break;
			case 'n':
				appendStringInfoChar(&buf, '\n');
				break;
			case 'r':
				appendStringInfoChar(&buf, '\r');
				break;
			case 't':
				appendStringInfoChar(&buf, '\t');
				break;
			case 'u':
				{
					pg_wchar	c = hex4(p);

					p += 4;
					if (c >= 0xD800 && c <= 0xDBFF)
					{
						c = 0x10000 + ((c - 0xD800) << 10) + (hex4(p + 2) - 0xDC00);
						p += 6;
					}
					append_utf8(&buf, c);
				}
				break;
			default:
				/* '"', '\\' and '/' stand for themselves */
				appendStringInfoChar(&buf, p[-1]);
				break;
		}
	}
	*len = buf.len;
	return buf.data;
}

/*
 * lemlist_json_kind_name
 *		What a JSON value is, as the subject of an error detail.
 */
const char *
lemlist_json_kind_name(LemlistJsonKind kind)
{
	switch (kind)
	{
		case LEMLIST_JSON_KIND_OBJECT:
			return "an object";
		case LEMLIST_JSON_KIND_ARRAY:
			return "an array";
		case LEMLIST_JSON_KIND_STRING:
			return "a string";
		case LEMLIST_JSON_KIND_INTEGER:
			return "an integer";
		case LEMLIST_JSON_KIND_REAL:
			return "a real number";
		case LEMLIST_JSON_KIND_TRUE:
		case LEMLIST_JSON_KIND_FALSE:
			return "a boolean";
		case LEMLIST_JSON_KIND_NULL:
			return "null";
	}
	return "an unknown JSON value";
}


/* ---------------------------------------------------------------------
 * The lexer
 * ---------------------------------------------------------------------
 */

/*
 * locate
 *		The line and column (in characters, from 1) of position at.
 */
static void
locate(const LemlistJsonReader *r, const char *at, int *line, int *column)
{
	*line = 1;
	*column = 1;
	for (const char *p = r->body; p < at && p < r->end; p++)
	{
		if (*p == '\n')
		{
			(*line)++;
			*column = 1;
		}
		else if ((*p & 0xC0) != 0x80)
			(*column)++;
	}
}

/*
 * syntax_error
 *		ERROR: the body is not valid JSON, at position at.
 */
static void
syntax_error(const LemlistJsonReader *r, const char *at, const char *what)
{
	int			line;
	int			column;

	locate(r, at, &line, &column);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("invalid response from lemlist"),
			 errdetail("The body is not valid JSON: %s at line %d, column %d.",
					   what, line, column)));
}

/*
 * unexpected
 *		ERROR: something else than expected at position at.
 */
static void
unexpected(const LemlistJsonReader *r, const char *at, const char *expected)
{
	char	   *what;

	if (at >= r->end)
		what = psprintf("expected %s, found the end of the body", expected);
	else if (*at > ' ' && *at < 0x7f)
		what = psprintf("expected %s, found '%c'", expected, *at);
	else if (*at == ' ' || *at == '\t' || *at == '\n' || *at == '\r')
		what = psprintf("expected %s, found white space", expected);
	else if ((unsigned char) *at < 0x20)
		what = psprintf("expected %s, found control character 0x%02x",
						expected, (unsigned char) *at);
	else
		what = psprintf("expected %s, found a non-ASCII character", expected);
	syntax_error(r, at, what);
}

static inline void
skip_space(LemlistJsonReader *r)
{
	while (r->pos < r->end &&
		   (*r->pos == ' ' || *r->pos == '\n' || *r->pos == '\r' || *r->pos == '\t'))
		r->pos++;
}

/*
 * check_depth
 *		ERROR if a value at depth (1: the body) is nested too deep.
 */
static void
check_depth(const LemlistJsonReader *r, int depth)
{
	if (depth > LEMLIST_JSON_MAX_DEPTH)
		syntax_error(r, r->pos,
					 psprintf("values nest more than %d deep", LEMLIST_JSON_MAX_DEPTH));
}

/*
 * hex4
 *		The value of the four hexadecimal digits at p, or -1.
 */
static int
hex4(const char *p)
{
	int			value = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = p[i];

		value <<= 4;
		if (c >= '0' && c <= '9')
			value += c - '0';
		else if (c >= 'a' && c <= 'f')
			value += c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			value += c - 'A' + 10;
		else
			return -1;
	}
	return value;
}

/*
 * read_string
 *		Read the string at the reader's position (on its '"'), checking its
 *		escapes; *v spans its content.  A key may not hold "\u0000".
 */
static void
read_string(LemlistJsonReader *r, LemlistJsonValue *v, bool key)
{
	const char *p = r->pos + 1;
	const char *end = r->end;

	v->kind = LEMLIST_JSON_KIND_STRING;
	v->start = p;
	v->escaped = false;
	for (;;)
	{
		while (p < end && !string_stop[(unsigned char) *p])
			p++;
		if (p >= end)
			syntax_error(r, p, "expected '\"', found the end of the body");
		if (*p == '"')
			break;
		if (*p != '\\')
			syntax_error(r, p,
						 psprintf("control character 0x%02x in a string",
								  (unsigned char) *p));

		v->escaped = true;
		if (p + 1 >= end)
			syntax_error(r, p + 1, "expected an escape, found the end of the body");
		switch (p[1])
		{
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				p += 2;
				break;
			case 'u':
				{
					int			c;

					if (end - p < 6 || (c = hex4(p + 2)) < 0)
						syntax_error(r, p, "invalid \\u escape in a string");
					if (c >= 0xDC00 && c <= 0xDFFF)
						syntax_error(r, p, "unpaired UTF-16 surrogate (\\u escape) in a string");
					if (c >= 0xD800 && c <= 0xDBFF)
					{
						int			low;

						if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
							(low = hex4(p + 8)) < 0xDC00 || low > 0xDFFF)
							syntax_error(r, p, "unpaired UTF-16 surrogate (\\u escape) in a string");
						p += 6;
					}
					if (c == 0 && key)
						syntax_error(r, p, "\\u0000 in an object key");
					p += 6;
				}
				break;
			default:
				syntax_error(r, p, "invalid escape in a string");
		}
	}
	v->len = (int) (p - v->start);
	r->pos = p + 1;
}

/*
 * read_number
 *		Read the number at the reader's position: an integer (no fraction,
 *		no exponent) that fits in 64 bits, or a finite real.
 */
static void
read_number(LemlistJsonReader *r, LemlistJsonValue *v)
{
	const char *p = r->pos;
	const char *end = r->end;
	bool		negative = false;
	bool		real = false;
	uint64		magnitude = 0;
	bool		overflow = false;

	v->start = p;
	v->escaped = false;
	if (*p == '-')
	{
		negative = true;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		unexpected(r, p, "a digit");
	if (*p == '0')
	{
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			syntax_error(r, p, "a number with a leading zero");
	}
	else
	{
		while (p < end && *p >= '0' && *p <= '9')
		{
			int			digit = *p++ - '0';

			if (magnitude > (PG_UINT64_MAX - digit) / 10)
				overflow = true;
			else
				magnitude = magnitude * 10 + digit;
		}
	}
	if (p < end && *p == '.')
	{
		real = true;
		p++;
		if (p >= end || *p < '0' || *p > '9')
			unexpected(r, p, "a digit");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			unexpected(r, p, "a digit");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	v->len = (int) (p - v->start);

	if (!real)
	{
		int			line;
		int			column;

		if (overflow ||
			magnitude > (negative ? (uint64) PG_INT64_MAX + 1 : (uint64) PG_INT64_MAX))
		{
			locate(r, v->start, &line, &column);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("invalid response from lemlist"),
					 errdetail("The body holds a number too large for a 64-bit integer at line %d, column %d.",
							   line, column)));
		}
		v->kind = LEMLIST_JSON_KIND_INTEGER;
		v->integer = negative ? (int64) (0 - magnitude) : (int64) magnitude;
	}
	else
	{
		char		small[64];
		char	   *copy = (v->len < (int) sizeof(small)) ? small : palloc(v->len + 1);

		memcpy(copy, v->start, v->len);
		copy[v->len] = '\0';
		errno = 0;
		v->real = strtod(copy, NULL);
		if (errno == ERANGE && isinf(v->real))
		{
			int			line;
			int			column;

			locate(r, v->start, &line, &column);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("invalid response from lemlist"),
					 errdetail("The body holds a number too large for a double precision real at line %d, column %d.",
							   line, column)));
		}
		if (copy != small)
			pfree(copy);
		v->kind = LEMLIST_JSON_KIND_REAL;
	}
	r->pos = p;
}

/*
 * read_scalar
 *		Read the string, number, true, false or null at the reader's
 *		position.
 */
static void
read_scalar(LemlistJsonReader *r, LemlistJsonValue *v)
{
	const char *p = r->pos;
	int			left = (int) (r->end - p);

	if (left <= 0)
		unexpected(r, p, "a value");
	switch (*p)
	{
		case '"':
			read_string(r, v, false);
			return;
		case 't':
			if (left >= 4 && memcmp(p, "true", 4) == 0)
			{
				v->kind = LEMLIST_JSON_KIND_TRUE;
				v->len = 4;
				break;
			}
			unexpected(r, p, "a value");
		case 'f':
			if (left >= 5 && memcmp(p, "false", 5) == 0)
			{
				v->kind = LEMLIST_JSON_KIND_FALSE;
				v->len = 5;
				break;
			}
			unexpected(r, p, "a value");
		case 'n':
			if (left >= 4 && memcmp(p, "null", 4) == 0)
			{
				v->kind = LEMLIST_JSON_KIND_NULL;
				v->len = 4;
				break;
			}
			unexpected(r, p, "a value");
		default:
			if (*p == '-' || (*p >= '0' && *p <= '9'))
			{
				read_number(r, v);
				return;
			}
			unexpected(r, p, "a value");
	}
	/* true, false or null */
	v->start = p;
	v->escaped = false;
	r->pos = p + v->len;
}

/*
 * skip_container
 *		Check and step over the array or object at the reader's position,
 *		without recursion: open[] remembers, per level, whether it is an
 *		object, and "first" whether a member was read at the current level.
 */
static void
skip_container(LemlistJsonReader *r)
{
	bool		open[LEMLIST_JSON_MAX_DEPTH + 1];
	int			level = 0;		/* levels open in this container */
	int			base = r->depth;
	LemlistJsonValue scalar;

	for (;;)
	{
		bool		first;

		/* on the '{' or '[' of a new level */
		check_depth(r, base + level + 1);
		open[level++] = (*r->pos == '{');
		r->pos++;
		first = true;

		/* read members until one opens a new level or the last closes */
		for (;;)
		{
			bool		object = open[level - 1];

			skip_space(r);
			if (r->pos < r->end && *r->pos == (object ? '}' : ']'))
			{
				r->pos++;
				if (--level == 0)
					return;
				first = false;
				continue;
			}
			if (!first)
			{
				if (r->pos >= r->end || *r->pos != ',')
					unexpected(r, r->pos, object ? "',' or '}'" : "',' or ']'");
				r->pos++;
				skip_space(r);
			}
			first = false;
			if (object)
			{
				if (r->pos >= r->end || *r->pos != '"')
					unexpected(r, r->pos, "a string (a key)");
				read_string(r, &scalar, true);
				skip_space(r);
				if (r->pos >= r->end || *r->pos != ':')
					unexpected(r, r->pos, "':'");
				r->pos++;
				skip_space(r);
			}
			if (r->pos < r->end && (*r->pos == '{' || *r->pos == '['))
				break;			/* a new level */
			check_depth(r, base + level + 1);
			read_scalar(r, &scalar);
		}
	}
}


/* ---------------------------------------------------------------------
 * Writing text
 * ---------------------------------------------------------------------
 */

/*
 * append_utf8
 *		Append code point c (not a surrogate) in UTF-8.
 */
static void
append_utf8(StringInfo buf, pg_wchar c)
{
	unsigned char utf8[4];

	unicode_to_utf8(c, utf8);
	appendBinaryStringInfo(buf, (char *) utf8, pg_utf_mblen(utf8));
}
