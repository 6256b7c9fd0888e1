/*-------------------------------------------------------------------------
 *
 * jsonread.c
 *		  Turn lemlist's answers into rows: a strict pull reader of JSON
 *		  text, the checks of each value against the documented types, and
 *		  the decoders of the stats batch and the campaigns list
 *
 * The file has three layers, each in a section of its own.  The first is
 * the reader.  The decoders use its functions to walk an answer in one
 * pass: they ask for the next key of an object or the next element of an
 * array, and read values as they go.  Nothing is built that the caller did
 * not ask for.  The reader hands a value back as a LemlistJsonValue: its
 * kind and where its text lies in the body.  Strings are decoded (escapes
 * resolved) only when the caller asks for their text.  Arrays and objects
 * that the caller does not walk are checked and skipped without recursion.
 *
 * The design rules:
 *
 * - The grammar is RFC 8259's, read the way jansson's json_loadb(...,
 *   JSON_ALLOW_NUL) reads it (lemlist_fdw used jansson before): the body is
 *   an object or an array; integers (no fraction, no exponent) must fit in
 *   64 bits; reals must be finite; "\u0000" may appear in a string value
 *   but not in an object key; a "\uD800"-"\uDBFF" escape must be followed
 *   by a "\uDC00"-"\uDFFF" one; values nest at most LEMLIST_JSON_MAX_DEPTH
 *   deep.  test/fuzz/ checks this file against jansson on every input.
 *
 * - Before the body gets here, check_body has checked that it is valid
 *   UTF-8 without NUL bytes.  So bytes outside strings are ASCII, and
 *   strings need no UTF-8 check of their own.  The body is not
 *   NUL-terminated: every read is bounded by its end.
 *
 * - Every syntax error is one ERROR, "invalid response from lemlist", whose
 *   DETAIL says what was expected and where (line and column, counted in
 *   characters).  The DETAIL never quotes bytes of the body, except a
 *   printable ASCII character.
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

#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "lemlist_fdw.h"

/* How deep values may nest in an answer (the body is at depth 1). */
#define LEMLIST_JSON_MAX_DEPTH 2048

/* The kind of a JSON value. */
typedef enum LemlistJsonKind
{
	LEMLIST_JSON_KIND_NULL,
	LEMLIST_JSON_KIND_FALSE,
	LEMLIST_JSON_KIND_TRUE,
	LEMLIST_JSON_KIND_INTEGER,	/* no fraction, no exponent; fits in int64 */
	LEMLIST_JSON_KIND_REAL,
	LEMLIST_JSON_KIND_STRING,
	LEMLIST_JSON_KIND_ARRAY,
	LEMLIST_JSON_KIND_OBJECT
} LemlistJsonKind;

/* A value read from a body: its kind and where its text lies. */
typedef struct LemlistJsonValue
{
	LemlistJsonKind kind;
	const char *start;			/* in the body; a string's content, unquoted */
	int			len;
	bool		escaped;		/* a string holding a backslash escape */
	int64		integer;		/* LEMLIST_JSON_KIND_INTEGER */
	double		real;			/* LEMLIST_JSON_KIND_REAL */
} LemlistJsonValue;

/* Where a reader is in a body. */
typedef struct LemlistJsonReader
{
	const char *body;
	const char *pos;
	const char *end;
	int			depth;			/* arrays and objects open at pos */
	bool		after_open;		/* pos is just inside a '{' or '[' */
} LemlistJsonReader;

/* Where a value sits in an answer, to name it in error details. */
typedef struct LemlistJsonWhere
{
	const char *array;			/* "results", "errors", "campaigns"; NULL: the body */
	int			index;			/* in that array */
	int			step;			/* in the element's "steps", or -1 */
} LemlistJsonWhere;

/* The answer being decoded, as far as the checks of its values need it. */
typedef struct LemlistAnswer
{
	const char *body;
	size_t		len;
	bool		ascii;			/* JSON text must be ASCII (not a UTF-8 database) */
} LemlistAnswer;

/*
 * Report a wrong value in an answer: one ERROR whose DETAIL (a translatable
 * format and its arguments) says what is wrong.  The ERROR is raised only
 * once the whole body is known to be JSON, so that a body that is not JSON
 * is always reported as such.
 */
#define lemlist_invalid_answer(answer, ...) \
	do { \
		check_syntax((answer)->body, (answer)->len); \
		lemlist_invalid_response(__VA_ARGS__); \
	} while (0)

static char *value_where(const LemlistJsonWhere *where);
static void value_check(const LemlistAnswer *a, const LemlistJsonValue *v,
						LemlistJsonType type, const char *key,
						const LemlistJsonWhere *where);
static char *value_id(const LemlistAnswer *a, const LemlistJsonValue *v,
					  const char *key, const LemlistJsonWhere *where);
static char *value_string(const LemlistAnswer *a, const LemlistJsonValue *v,
						  const char *key, int element,
						  const LemlistJsonWhere *where);
static char *value_text(const LemlistAnswer *a, const LemlistJsonValue *v,
						LemlistJsonType type, const char *key,
						const LemlistJsonWhere *where);
static char *compact_json(const LemlistJsonValue *v, bool ascii);

static void reader_init(LemlistJsonReader *r, const char *body, size_t len);
static LemlistJsonKind reader_start(LemlistJsonReader *r);
static bool reader_at(LemlistJsonReader *r, char c);
static void reader_enter(LemlistJsonReader *r);
static bool reader_next_key(LemlistJsonReader *r, LemlistJsonValue *key);
static bool reader_next_element(LemlistJsonReader *r);
static void reader_read(LemlistJsonReader *r, LemlistJsonValue *v);
static void reader_finish(LemlistJsonReader *r);
static void check_syntax(const char *body, size_t len);
static bool key_is(const LemlistJsonValue *key, const char *name, int namelen);
static char *string_of(const LemlistJsonValue *v, int *len);
static const char *kind_name(LemlistJsonKind kind);

/* Bytes that end the fast scan of a string: '"', '\\' and control bytes. */
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
 * reader_init
 *		Start reading body (len bytes).
 */
static void
reader_init(LemlistJsonReader *r, const char *body, size_t len)
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
 * reader_at
 *		Does the next token (after white space) start with c?
 */
static bool
reader_at(LemlistJsonReader *r, char c)
{
	skip_space(r);
	return r->pos < r->end && *r->pos == c;
}

/*
 * reader_start
 *		Check that the body starts with an object or an array (the only
 *		bodies lemlist sends) and return which, without reading it.
 */
static LemlistJsonKind
reader_start(LemlistJsonReader *r)
{
	skip_space(r);
	if (r->pos < r->end && *r->pos == '{')
		return LEMLIST_JSON_KIND_OBJECT;
	if (r->pos < r->end && *r->pos == '[')
		return LEMLIST_JSON_KIND_ARRAY;
	unexpected(r, r->pos, "'{' or '['");
}

/*
 * reader_enter
 *		Step into the object or array at the reader's position; then walk it
 *		with reader_next_key or reader_next_element until it returns false.
 */
static void
reader_enter(LemlistJsonReader *r)
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
 * reader_next_key
 *		In an object: read the next key into *key and the ':' after it, and
 *		return true; or read the closing '}' and return false.  The caller
 *		must then read the member's value (with reader_read, or by entering
 *		it with reader_enter).
 */
static bool
reader_next_key(LemlistJsonReader *r, LemlistJsonValue *key)
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
 * reader_next_element
 *		In an array: true if another element follows (the caller must read
 *		it), false after reading the closing ']'.
 */
static bool
reader_next_element(LemlistJsonReader *r)
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
 * reader_read
 *		Read the value at the reader's position into *v.  An array or an
 *		object is checked and skipped; *v then spans its whole text.
 */
static void
reader_read(LemlistJsonReader *r, LemlistJsonValue *v)
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
 * reader_finish
 *		After the body's value: nothing but white space may follow.
 */
static void
reader_finish(LemlistJsonReader *r)
{
	skip_space(r);
	if (r->pos < r->end)
		unexpected(r, r->pos, "the end of the body");
}

/*
 * check_syntax
 *		Raise an ERROR for the first syntax error in body, if there is one.
 *
 * lemlist_invalid_answer calls this before it reports a wrong value, so
 * that a body that is not JSON at all is always reported as such.
 */
static void
check_syntax(const char *body, size_t len)
{
	LemlistJsonReader r;
	LemlistJsonValue v;

	reader_init(&r, body, len);
	(void) reader_start(&r);
	reader_read(&r, &v);
	reader_finish(&r);
}

/*
 * key_is
 *		Is key (a string value) equal to name, an ASCII name of namelen
 *		bytes?
 */
static bool
key_is(const LemlistJsonValue *key, const char *name, int namelen)
{
	int			len;
	char	   *text;
	bool		result;

	if (!key->escaped)
		return key->len == namelen && memcmp(key->start, name, namelen) == 0;
	text = string_of(key, &len);
	result = (len == namelen && memcmp(text, name, namelen) == 0);
	pfree(text);
	return result;
}

/*
 * string_of
 *		The UTF-8 text of a string value, escapes resolved, palloc'd and
 *		NUL-terminated; *len receives its length, as it may hold U+0000.
 */
static char *
string_of(const LemlistJsonValue *v, int *len)
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
 * kind_name
 *		The name of a JSON value's kind ("an object", ...), as used in an
 *		error detail.
 */
static const char *
kind_name(LemlistJsonKind kind)
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
	lemlist_invalid_response("The body is not valid JSON: %s at line %d, column %d.",
							 what, line, column);
}

/*
 * unexpected
 *		ERROR: at position at, the body holds something other than what
 *		was expected.
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
			lemlist_invalid_response("The body holds a number too large for a 64-bit integer at line %d, column %d.",
									 line, column);
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
			lemlist_invalid_response("The body holds a number too large for a double precision real at line %d, column %d.",
									 line, column);
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
 *		Check and step over the array or object at the reader's position
 *
 * This works without recursion: open[] remembers, for each level, whether
 * it is an object, and "first" says whether a member was read yet at the
 * current level.
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


/* ---------------------------------------------------------------------
 * A value of lemlist's answer to the text of a column
 *
 * The decoders walk an answer.  For each value they read, they call the
 * functions here to check that the value has the documented type, and to
 * get the text for the columns that read it.  The design rules:
 *
 * - Every wrong value is one ERROR, "invalid response from lemlist"
 *   (lemlist_invalid_answer, which first makes sure the whole body is JSON),
 *   whose DETAIL names the field and where it is (results[3].steps[1]) and
 *   says what was expected.  Values are never quoted, except a number.
 *
 * - JSON null is SQL NULL, whatever the type.  Strings are converted from
 *   UTF-8 to the server encoding; a character that the server encoding
 *   lacks is an ERROR whose CONTEXT names the field.  A string holding
 *   U+0000 is rejected here, when it is used.  Integers keep their decimal
 *   text, and booleans become true/false.  String arrays become a text[]
 *   literal with every element quoted.  Reals (in undocumented fields)
 *   become their shortest exact decimal.  Arrays and objects become compact
 *   JSON text, escaped to ASCII when the database is not UTF-8, so that it
 *   is valid in any server encoding.
 *
 * ---------------------------------------------------------------------
 */
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
 * value_where
 *		"results[3]", "results[3].steps[1]", or "the body".
 */
static char *
value_where(const LemlistJsonWhere *where)
{
	if (where->array == NULL)
		return pstrdup("the body");
	if (where->step >= 0)
		return psprintf("%s[%d].steps[%d]", where->array, where->index, where->step);
	return psprintf("%s[%d]", where->array, where->index);
}

/*
 * json_type_name
 *		What a documented type expects, as used at the end of an error
 *		detail.
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
 * value_check
 *		Raise an ERROR unless v (the field key of where) has the documented
 *		type.
 *
 * JSON null is always accepted: it reads as SQL NULL.  Elements of a string
 * array may be null too (NULL elements of the text[]).
 */
static void
value_check(const LemlistAnswer *a, const LemlistJsonValue *v,
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
									   key, value_where(where), (long long) v->integer);
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
							   key, value_where(where), kind_name(v->kind),
							   json_type_name(type));
}

/*
 * value_id
 *		Return the non-empty string v (the field key of where), converted to
 *		the server encoding.
 */
static char *
value_id(const LemlistAnswer *a, const LemlistJsonValue *v,
		 const char *key, const LemlistJsonWhere *where)
{
	if (v->kind != LEMLIST_JSON_KIND_STRING)
		lemlist_invalid_answer(a, "Field \"%s\" of %s is %s, expected a non-empty string.",
							   key, value_where(where), kind_name(v->kind));
	if (v->len == 0)
		lemlist_invalid_answer(a, "Field \"%s\" of %s is an empty string, expected a non-empty string.",
							   key, value_where(where));
	return value_string(a, v, key, -1, where);
}


/* ---------------------------------------------------------------------
 * Values to text
 * ---------------------------------------------------------------------
 */

/*
 * value_string
 *		A JSON string converted to the server encoding, palloc'd.
 *
 * element is the index in a string array, or -1 for a plain field.
 */
static char *
value_string(const LemlistAnswer *a, const LemlistJsonValue *v,
			 const char *key, int element,
			 const LemlistJsonWhere *where)
{
	int			len;
	char	   *s = string_of(v, &len);
	char	   *converted;
	StringContext ctx;
	ErrorContextCallback errcallback;

	if (v->escaped && memchr(s, '\0', len) != NULL)
	{
		if (element >= 0)
			lemlist_invalid_answer(a, "Element %d of field \"%s\" of %s contains a NUL character (\\u0000).",
								   element, key, value_where(where));
		else
			lemlist_invalid_answer(a, "Field \"%s\" of %s contains a NUL character (\\u0000).",
								   key, value_where(where));
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
				   ctx->element, ctx->key, value_where(ctx->where));
	else
		errcontext("field \"%s\" of %s in lemlist's answer",
				   ctx->key, value_where(ctx->where));
}

/*
 * string_array
 *		Check that every element of the array v is a string or null.  When
 *		build is true, also return the array as a text[] literal with every
 *		element quoted.
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
	reader_init(&r, v->start, v->len);
	reader_enter(&r);
	while (reader_next_element(&r))
	{
		reader_read(&r, &element);
		if (element.kind != LEMLIST_JSON_KIND_STRING &&
			element.kind != LEMLIST_JSON_KIND_NULL)
			lemlist_invalid_answer(a, "Element %d of field \"%s\" of %s is %s, expected a string.",
								   i, key, value_where(where), kind_name(element.kind));
		if (build)
		{
			if (i > 0)
				appendStringInfoChar(&lit, ',');
			if (element.kind == LEMLIST_JSON_KIND_NULL)
				appendStringInfoString(&lit, "NULL");
			else
			{
				char	   *s = value_string(a, &element, key, i, where);

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
 * value_text
 *		Return the text of v (the field key of where) for a column whose
 *		documented type is type, or NULL for SQL NULL.
 *
 * Strings in the server encoding; integers in decimal; booleans as
 * true/false; string arrays as a text[] literal; for undocumented (ANY)
 * fields, reals as their shortest exact decimal and arrays and objects as
 * compact JSON text.
 */
static char *
value_text(const LemlistAnswer *a, const LemlistJsonValue *v,
		   LemlistJsonType type, const char *key,
		   const LemlistJsonWhere *where)
{
	if (v->kind == LEMLIST_JSON_KIND_NULL)
		return NULL;

	value_check(a, v, type, key, where);

	switch (v->kind)
	{
		case LEMLIST_JSON_KIND_STRING:
			return value_string(a, v, key, -1, where);
		case LEMLIST_JSON_KIND_INTEGER:
			/* the token is the decimal text of its value, except for "-0" */
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
			return compact_json(v, a->ascii);
		case LEMLIST_JSON_KIND_OBJECT:
			return compact_json(v, a->ascii);
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
 * compact_json
 *		The text of an array or object without white space between tokens,
 *		palloc'd.  With ascii, characters beyond ASCII in strings become
 *		\uXXXX escapes, so that the text is valid in any server encoding.
 */
static char *
compact_json(const LemlistJsonValue *v, bool ascii)
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


/* ---------------------------------------------------------------------
 * lemlist's answers to rows: the stats batch and the campaigns list
 *
 * An answer is read in one pass with the pull reader above.  Each object of
 * results[] (or of the campaigns list) is walked key by key, the documented
 * fields are checked as they come, and only the columns the scan asked for
 * are turned into text (the section above checks each value and makes its
 * text).  Nothing else is built: no tree of the body, and no copy of fields
 * that nobody reads.  The design rules:
 *
 * - An answer is accepted whole or not at all.  Every deviation from the
 *   documented types (taken from the resource table of resources.c) is one
 *   ERROR, ERRCODE_FDW_INVALID_DATA_TYPE "invalid response from lemlist",
 *   whose DETAIL says in our own words where and what is wrong.  The rows
 *   are handed back only at the end, so an ERROR anywhere leaves nothing
 *   behind but palloc'd memory in the caller's context.  A body that is not
 *   JSON at all is reported as such even when a wrong value comes first
 *   (lemlist_invalid_answer checks the whole body's syntax before it
 *   reports).  Undocumented fields are not checked; columns reading them
 *   (LEMLIST_JSON_ANY) take any value.
 *
 * - A field that is read or checked may appear only once in its object: a
 *   duplicate would make the answer ambiguous, and is an ERROR.
 *
 * - The raw column takes the compact text of the whole object (the step
 *   object, when there is one row per step): see compact_json.
 *
 * ---------------------------------------------------------------------
 */
#define shape_error(d, ...) lemlist_invalid_answer(&(d)->answer, __VA_ARGS__)

/* The role of a field of an object for the decoder, beyond its columns. */
typedef enum FieldRole
{
	FIELD_PLAIN,
	FIELD_ID,					/* the object's required, non-empty ID */
	FIELD_STEPS					/* a result's steps[], walked in place */
} FieldRole;

/* One field the decoder checks or reads. */
typedef struct FieldSpec
{
	const char *key;
	int			keylen;
	int			documented;		/* its LemlistJsonType, or -1 */
	FieldRole	role;
	int		   *columns;		/* indexes of the columns reading it */
	int			ncolumns;
} FieldSpec;

/* The fields of one kind of object (a result, a step, a campaign). */
typedef struct ObjectSpec
{
	FieldSpec  *fields;
	int			nfields;
	int			maxfields;
	bool	   *seen;			/* per field, while an object is walked */
	const char *id_key;			/* the required FIELD_ID field, or NULL */
	List	   *raw_columns;	/* int indexes of RAW columns taking the object */
} ObjectSpec;

/* The state of one decoding. */
typedef struct Decoder
{
	LemlistJsonReader r;
	LemlistAnswer answer;		/* the body, for lemlist_invalid_answer */
	const LemlistColumn *columns;
	int			ncolumns;
	bool		steps;			/* one row per step */
	ObjectSpec	object;			/* a result, or a campaign */
	ObjectSpec	step;			/* a step of a result */
	LemlistParsed *out;
} Decoder;

static void check_body(const char *body, size_t len);
static void init_decoder(Decoder *d, const char *body, size_t len,
						 const LemlistColumn *columns, int ncolumns,
						 LemlistParsed *out);
static FieldSpec *add_field(ObjectSpec *spec, const char *key, int documented);
static void add_documented(ObjectSpec *spec, LemlistResourceKind kind,
						   LemlistColumnSource source);
static void add_columns(Decoder *d, ObjectSpec *spec, LemlistColumnSource source);
static void finish_spec(ObjectSpec *spec);
static int	find_field(const ObjectSpec *spec, const LemlistJsonValue *key);
static char *read_object(Decoder *d, ObjectSpec *spec, char **row,
						 const LemlistJsonWhere *where, List **step_rows);
static void read_steps(Decoder *d, const LemlistJsonWhere *where, List **step_rows);
static void read_results(Decoder *d);
static void read_errors(Decoder *d);
static void read_campaigns(Decoder *d);
static void read_pagination(Decoder *d);
static int	pagination_field(Decoder *d, const LemlistJsonValue *v, const char *key);
static bool object_key(Decoder *d, const LemlistJsonValue *key, const char *name,
					   bool *seen, const char *where);

/* A member of the body's object, and the function that reads it. */
typedef struct BodyMember
{
	const char *name;
	char		open;			/* '[' or '{': the kind it must be */
	bool		may_be_null;
	void		(*read) (Decoder *d);
	const char *missing;		/* first member only: the DETAIL if absent */
} BodyMember;

static void read_body(Decoder *d, const BodyMember *members, int nmembers);

static const BodyMember stats_body[] = {
	{"results", '[', false, read_results, "The body has no \"results\" array."},
	{"errors", '[', true, read_errors, NULL},
};

static const BodyMember campaigns_body[] = {
	{"campaigns", '[', false, read_campaigns,
	"The body is an object without a \"campaigns\" array."},
	{"pagination", '{', true, read_pagination, NULL},
};


/*
 * lemlist_parse_stats
 *		Parse a 200 answer of POST /v2/campaigns/stats/batch.
 *
 * Without steps, one row per element of results[]; with steps, one row per
 * element of each result's steps[].  See LemlistParsed for the rest.
 */
void
lemlist_parse_stats(const char *body, size_t len, bool steps,
					const LemlistColumn *columns, int ncolumns,
					LemlistParsed *out)
{
	Decoder		d;

	check_body(body, len);
	init_decoder(&d, body, len, columns, ncolumns, out);
	d.steps = steps;

	/* a result: the documented fields of both resources, campaignId, steps */
	add_documented(&d.object, LEMLIST_RES_CAMPAIGN_STATS, LEMLIST_SRC_RESULT);
	add_documented(&d.object, LEMLIST_RES_CAMPAIGN_STEP_STATS, LEMLIST_SRC_RESULT);
	add_field(&d.object, "campaignId", LEMLIST_JSON_STRING)->role = FIELD_ID;
	add_field(&d.object, "steps", -1)->role = FIELD_STEPS;
	add_columns(&d, &d.object, LEMLIST_SRC_RESULT);
	add_documented(&d.step, LEMLIST_RES_CAMPAIGN_STEP_STATS, LEMLIST_SRC_STEP);
	if (steps)
		add_columns(&d, &d.step, LEMLIST_SRC_STEP);
	finish_spec(&d.object);
	finish_spec(&d.step);

	if (reader_start(&d.r) != LEMLIST_JSON_KIND_OBJECT)
	{
		LemlistJsonValue v;

		reader_read(&d.r, &v);
		shape_error(&d, "The body is %s, expected an object.",
					kind_name(v.kind));
	}
	read_body(&d, stats_body, lengthof(stats_body));
}

/*
 * lemlist_parse_campaigns
 *		Parse a 200 answer of GET /campaigns?version=v2.
 *
 * Both shapes the API is known to send are accepted: the documented bare
 * array of campaigns, and {"campaigns": [...], "pagination": {...}}.  Only
 * the second sets has_pagination, and only when "pagination" is an object.
 */
void
lemlist_parse_campaigns(const char *body, size_t len,
						const LemlistColumn *columns, int ncolumns,
						LemlistParsed *out)
{
	Decoder		d;

	check_body(body, len);
	init_decoder(&d, body, len, columns, ncolumns, out);
	add_documented(&d.object, LEMLIST_RES_CAMPAIGNS, LEMLIST_SRC_RESULT);
	add_field(&d.object, "_id", LEMLIST_JSON_STRING)->role = FIELD_ID;
	add_columns(&d, &d.object, LEMLIST_SRC_RESULT);
	finish_spec(&d.object);

	if (reader_start(&d.r) == LEMLIST_JSON_KIND_ARRAY)
	{
		read_campaigns(&d);
		reader_finish(&d.r);
		return;
	}
	read_body(&d, campaigns_body, lengthof(campaigns_body));
}

/*
 * read_body
 *		Walk the body, which is an object: each member listed in members is
 *		read by its read function, any other field is skipped, and the first
 *		member must be there
 */
static void
read_body(Decoder *d, const BodyMember *members, int nmembers)
{
	LemlistJsonValue key;
	LemlistJsonValue v;
	bool		seen[2] = {false, false};

	Assert(nmembers <= (int) lengthof(seen));
	reader_enter(&d->r);
	while (reader_next_key(&d->r, &key))
	{
		const BodyMember *m = NULL;

		for (int i = 0; i < nmembers && m == NULL; i++)
		{
			if (object_key(d, &key, members[i].name, &seen[i], "the body"))
				m = &members[i];
		}
		if (m != NULL && reader_at(&d->r, m->open))
		{
			m->read(d);
			continue;
		}
		reader_read(&d->r, &v);
		if (m != NULL && !(m->may_be_null && v.kind == LEMLIST_JSON_KIND_NULL))
			shape_error(d, "Field \"%s\" of the body is %s, expected %s.",
						m->name, kind_name(v.kind),
						m->open == '[' ? "an array" : "an object");
	}
	reader_finish(&d->r);
	if (!seen[0])
		lemlist_invalid_response("%s", members[0].missing);
}


/* ---------------------------------------------------------------------
 * Setting up
 * ---------------------------------------------------------------------
 */

/*
 * check_body
 *		Check what the reader relies on: the body is not empty, is valid
 *		UTF-8 without NUL bytes, and is small enough for a palloc'd copy.
 */
static void
check_body(const char *body, size_t len)
{
	int			valid;

	if (len == 0)
		lemlist_invalid_response("The body is empty.");
	if (len > (size_t) MaxAllocSize)
		lemlist_invalid_response("The body is too large (%zu bytes).", len);

	valid = lemlist_verifymbstr(PG_UTF8, body, (int) len);
	if ((size_t) valid < len)
	{
		if (body[valid] == '\0')
			lemlist_invalid_response("The body contains a NUL byte at offset %d.", valid);
		else
			lemlist_invalid_response("The body is not valid UTF-8: invalid byte sequence at offset %d.",
							 valid);
	}
}

static void
init_decoder(Decoder *d, const char *body, size_t len,
			 const LemlistColumn *columns, int ncolumns, LemlistParsed *out)
{
	memset(d, 0, sizeof(*d));
	memset(out, 0, sizeof(*out));
	out->total_records = -1;
	reader_init(&d->r, body, len);
	d->answer.body = body;
	d->answer.len = len;
	d->answer.ascii = (GetDatabaseEncoding() != PG_UTF8);
	d->columns = columns;
	d->ncolumns = ncolumns;
	d->out = out;
}

/*
 * add_field
 *		Return the FieldSpec of key in spec, adding it if it is new.  A
 *		documented type given later replaces a documented type of -1.
 */
static FieldSpec *
add_field(ObjectSpec *spec, const char *key, int documented)
{
	FieldSpec  *f;

	for (int i = 0; i < spec->nfields; i++)
	{
		f = &spec->fields[i];
		if (strcmp(f->key, key) == 0)
		{
			if (f->documented < 0)
				f->documented = documented;
			return f;
		}
	}
	if (spec->nfields == spec->maxfields)
	{
		spec->maxfields = Max(16, spec->maxfields * 2);
		spec->fields = spec->fields == NULL ?
			palloc(sizeof(FieldSpec) * spec->maxfields) :
			repalloc(spec->fields, sizeof(FieldSpec) * spec->maxfields);
	}
	f = &spec->fields[spec->nfields++];
	f->key = key;
	f->keylen = (int) strlen(key);
	f->documented = documented;
	f->role = FIELD_PLAIN;
	f->columns = NULL;
	f->ncolumns = 0;
	return f;
}

/*
 * add_documented
 *		Add to spec the documented fields of resource kind whose source is
 *		source.
 */
static void
add_documented(ObjectSpec *spec, LemlistResourceKind kind,
			   LemlistColumnSource source)
{
	const LemlistResourceDef *res = lemlist_resource_by_kind(kind);

	for (int i = 0; i < res->ncolumns; i++)
	{
		const LemlistColumnDef *col = &res->columns[i];

		if (col->source == source && col->json_key != NULL)
			(void) add_field(spec, col->json_key, col->json_type);
	}
}

/*
 * add_columns
 *		Record in spec which of the scan's columns whose source is source
 *		read each field.  RAW columns take the whole object (the step object,
 *		when rows are steps).
 */
static void
add_columns(Decoder *d, ObjectSpec *spec, LemlistColumnSource source)
{
	bool		takes_raw = (source == LEMLIST_SRC_STEP) == d->steps;

	for (int i = 0; i < d->ncolumns; i++)
	{
		const LemlistColumn *col = &d->columns[i];
		FieldSpec  *f;

		if (col->source == LEMLIST_SRC_RAW && takes_raw)
			spec->raw_columns = lappend_int(spec->raw_columns, i);
		if (col->source != source || col->key == NULL)
			continue;
		f = add_field(spec, col->key, -1);
		f->columns = f->columns == NULL ?
			palloc(sizeof(int)) :
			repalloc(f->columns, sizeof(int) * (f->ncolumns + 1));
		f->columns[f->ncolumns++] = i;
	}
}

static void
finish_spec(ObjectSpec *spec)
{
	spec->seen = palloc0(sizeof(bool) * Max(spec->nfields, 1));
	for (int i = 0; i < spec->nfields; i++)
	{
		if (spec->fields[i].role == FIELD_ID)
			spec->id_key = spec->fields[i].key;
	}
}

/*
 * find_field
 *		The index in spec of the field named key, or -1.
 */
static int
find_field(const ObjectSpec *spec, const LemlistJsonValue *key)
{
	const char *name = key->start;
	int			len = key->len;
	int			result = -1;

	if (key->escaped)
		name = string_of(key, &len);
	for (int i = 0; i < spec->nfields; i++)
	{
		const FieldSpec *f = &spec->fields[i];

		if (f->keylen == len && memcmp(f->key, name, len) == 0)
		{
			result = i;
			break;
		}
	}
	if (key->escaped)
		pfree((char *) name);
	return result;
}


/* ---------------------------------------------------------------------
 * Walking the body
 * ---------------------------------------------------------------------
 */

/*
 * read_object
 *		Walk the object at the reader's position as spec says: check its
 *		documented fields, fill row's columns (row may be NULL: nothing to
 *		fill), and return its ID, if spec has one.  A result's steps are
 *		walked in place, and their rows are appended to *step_rows.
 */
static char *
read_object(Decoder *d, ObjectSpec *spec, char **row,
			const LemlistJsonWhere *where, List **step_rows)
{
	LemlistJsonValue key;
	LemlistJsonValue v;
	const char *start;
	char	   *id = NULL;
	ListCell   *lc;

	if (!reader_at(&d->r, '{'))
	{
		reader_read(&d->r, &v);
		shape_error(d, "%s is %s, expected an object.",
					value_where(where), kind_name(v.kind));
	}
	start = d->r.pos;
	memset(spec->seen, 0, sizeof(bool) * spec->nfields);

	reader_enter(&d->r);
	while (reader_next_key(&d->r, &key))
	{
		int			i = find_field(spec, &key);
		FieldSpec  *f;

		if (i < 0)
		{
			reader_read(&d->r, &v);
			continue;
		}
		f = &spec->fields[i];
		if (spec->seen[i])
			shape_error(d, "Field \"%s\" of %s appears twice.",
						f->key, value_where(where));
		spec->seen[i] = true;

		if (f->role == FIELD_STEPS && reader_at(&d->r, '['))
		{
			v.kind = LEMLIST_JSON_KIND_ARRAY;
			v.start = d->r.pos;
			v.escaped = false;
			read_steps(d, where, step_rows);
			v.len = (int) (d->r.pos - v.start);
		}
		else
			reader_read(&d->r, &v);

		if (f->role == FIELD_STEPS && v.kind != LEMLIST_JSON_KIND_ARRAY &&
			v.kind != LEMLIST_JSON_KIND_NULL)
			shape_error(d, "Field \"steps\" of %s is %s, expected an array.",
						value_where(where), kind_name(v.kind));
		if (f->role == FIELD_ID)
			id = value_id(&d->answer, &v, f->key, where);
		else if (f->documented >= 0)
			value_check(&d->answer, &v, (LemlistJsonType) f->documented,
						f->key, where);
		if (row != NULL)
		{
			for (int c = 0; c < f->ncolumns; c++)
			{
				int			col = f->columns[c];
				LemlistJsonType type = d->columns[col].json_type;

				/*
				 * The ID's text is already made, and it is what a string
				 * column would get.
				 */
				if (id != NULL && f->role == FIELD_ID &&
					(type == LEMLIST_JSON_STRING || type == LEMLIST_JSON_ANY))
					row[col] = id;
				else
					row[col] = value_text(&d->answer, &v, type, f->key, where);
			}
		}
	}

	if (spec->id_key != NULL && id == NULL)
		shape_error(d, "Field \"%s\" of %s is missing.",
					spec->id_key, value_where(where));

	if (row != NULL && spec->raw_columns != NIL)
	{
		char	   *text;

		v.kind = LEMLIST_JSON_KIND_OBJECT;
		v.start = start;
		v.len = (int) (d->r.pos - start);
		v.escaped = false;
		text = compact_json(&v, d->answer.ascii);
		foreach(lc, spec->raw_columns)
			row[lfirst_int(lc)] = text;
	}
	return id;
}

/*
 * read_steps
 *		Walk the steps[] of the result at where.  When there is one row per
 *		step, each step's row (its STEP and RAW columns) goes to *step_rows.
 */
static void
read_steps(Decoder *d, const LemlistJsonWhere *where, List **step_rows)
{
	int			j = 0;

	reader_enter(&d->r);
	while (reader_next_element(&d->r))
	{
		LemlistJsonWhere step_where = {where->array, where->index, j++};
		char	  **row = NULL;

		if (d->steps)
			row = palloc0(sizeof(char *) * Max(d->ncolumns, 1));
		(void) read_object(d, &d->step, row, &step_where, NULL);
		if (d->steps)
			*step_rows = lappend(*step_rows, row);
	}
}

/*
 * read_results
 *		Walk results[]: one row per result, or per step of each result.
 */
static void
read_results(Decoder *d)
{
	LemlistParsed *out = d->out;
	int			i = 0;

	reader_enter(&d->r);
	while (reader_next_element(&d->r))
	{
		LemlistJsonWhere where = {"results", i++, -1};
		char	  **row = palloc0(sizeof(char *) * Max(d->ncolumns, 1));
		List	   *step_rows = NIL;
		char	   *id;
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		id = read_object(d, &d->object, row, &where, &step_rows);
		out->result_ids = lappend(out->result_ids, id);
		if (!d->steps)
		{
			out->rows = lappend(out->rows, row);
			out->row_campaign_ids = lappend(out->row_campaign_ids, id);
			continue;
		}

		/* a step's row takes its result's RESULT columns */
		foreach(lc, step_rows)
		{
			char	  **step_row = lfirst(lc);

			for (int c = 0; c < d->ncolumns; c++)
			{
				if (d->columns[c].source == LEMLIST_SRC_RESULT)
					step_row[c] = row[c];
			}
			out->rows = lappend(out->rows, step_row);
			out->row_campaign_ids = lappend(out->row_campaign_ids, id);
		}
		list_free(step_rows);
	}
}

/*
 * read_errors
 *		Walk errors[]: each element is {"campaignId": "...", "error": "..."}.
 */
static void
read_errors(Decoder *d)
{
	int			i = 0;

	reader_enter(&d->r);
	while (reader_next_element(&d->r))
	{
		LemlistJsonWhere where = {"errors", i++, -1};
		LemlistCampaignError *err = palloc0(sizeof(LemlistCampaignError));
		LemlistJsonValue key;
		LemlistJsonValue v;
		bool		seen_id = false;
		bool		seen_error = false;
		char	   *where_str = value_where(&where);

		if (!reader_at(&d->r, '{'))
		{
			reader_read(&d->r, &v);
			shape_error(d, "%s is %s, expected an object.",
						where_str, kind_name(v.kind));
		}
		reader_enter(&d->r);
		while (reader_next_key(&d->r, &key))
		{
			reader_read(&d->r, &v);
			if (object_key(d, &key, "campaignId", &seen_id, where_str))
				err->campaign_id = value_id(&d->answer, &v, "campaignId", &where);
			else if (object_key(d, &key, "error", &seen_error, where_str))
			{
				value_check(&d->answer, &v, LEMLIST_JSON_STRING, "error", &where);
				if (v.kind != LEMLIST_JSON_KIND_NULL)
					err->message = value_string(&d->answer, &v, "error", -1, &where);
			}
		}
		if (!seen_id)
			shape_error(d, "Field \"campaignId\" of %s is missing.", where_str);
		if (err->message == NULL)
			err->message = pstrdup("unknown error");
		d->out->errors = lappend(d->out->errors, err);
	}
}

/*
 * read_campaigns
 *		Walk a page of the campaigns list: one row per campaign.
 */
static void
read_campaigns(Decoder *d)
{
	LemlistParsed *out = d->out;
	int			i = 0;

	reader_enter(&d->r);
	while (reader_next_element(&d->r))
	{
		LemlistJsonWhere where = {"campaigns", i++, -1};
		char	  **row = palloc0(sizeof(char *) * Max(d->ncolumns, 1));
		char	   *id;

		CHECK_FOR_INTERRUPTS();
		id = read_object(d, &d->object, row, &where, NULL);
		out->row_campaign_ids = lappend(out->row_campaign_ids, id);
		out->rows = lappend(out->rows, row);
	}
	out->page_count = i;
}

/*
 * read_pagination
 *		Walk the "pagination" object of the campaigns list.
 */
static void
read_pagination(Decoder *d)
{
	static const char *const names[] = {
		"totalRecords", "currentPage", "nextPage", "totalPage"
	};
	bool		seen[lengthof(names)] = {false};
	LemlistJsonValue key;
	LemlistJsonValue v;
	LemlistParsed *out = d->out;

	out->has_pagination = true;
	reader_enter(&d->r);
	while (reader_next_key(&d->r, &key))
	{
		int			i;
		int			n;

		reader_read(&d->r, &v);
		for (i = 0; i < (int) lengthof(names); i++)
		{
			if (object_key(d, &key, names[i], &seen[i], "pagination"))
				break;
		}
		if (i == (int) lengthof(names))
			continue;
		n = pagination_field(d, &v, names[i]);
		if (i == 0)
			out->total_records = v.kind == LEMLIST_JSON_KIND_NULL ? -1 : n;
		else if (i == 1)
			out->current_page = n;
		else if (i == 2)
			out->next_page = n;
		else if (i == 3)
			out->total_pages = n;
	}
}

/*
 * pagination_field
 *		Read a field of "pagination": a non-negative int, or 0 when it is
 *		null.
 */
static int
pagination_field(Decoder *d, const LemlistJsonValue *v, const char *key)
{
	if (v->kind == LEMLIST_JSON_KIND_NULL)
		return 0;
	if (v->kind != LEMLIST_JSON_KIND_INTEGER)
		shape_error(d, "Field \"%s\" of pagination is %s, expected a non-negative integer.",
					key, kind_name(v->kind));
	if (v->integer < 0 || v->integer > PG_INT32_MAX)
		shape_error(d, "Field \"%s\" of pagination is %lld, expected a non-negative 32-bit integer.",
					key, (long long) v->integer);
	return (int) v->integer;
}

/*
 * object_key
 *		Is key the name of a field that the caller handles?  If so, it must
 *		not have been seen before in this object (where names the object).
 */
static bool
object_key(Decoder *d, const LemlistJsonValue *key, const char *name,
		   bool *seen, const char *where)
{
	if (!key_is(key, name, (int) strlen(name)))
		return false;
	if (*seen)
		shape_error(d, "Field \"%s\" of %s appears twice.", name, where);
	*seen = true;
	return true;
}
