/*-------------------------------------------------------------------------
 *
 * stubs.c
 *		  Stand-ins for the backend functions the fuzzed code calls
 *
 * The fuzz harnesses link src/json.c, src/jsonread.c, src/pushdown.c and
 * src/resources.c (and test/fuzz/oracle.c) into a plain executable, without a postgres backend around them.  This
 * file provides the few backend services those files reach on the paths
 * the harnesses drive, written to behave as the backend does where it
 * matters to the caller and to be strict everywhere else:
 *
 * - palloc and friends allocate each chunk with malloc and keep it on a list
 *   (the "arena") that fuzz_reset_memory() frees after every input, as the
 *   backend resets a memory context.  One malloc per chunk lets
 *   AddressSanitizer see the bounds of every palloc'd chunk, which the real
 *   allocator would hide, and anything still allocated after the reset is
 *   memory the code malloc'd itself (jansson trees), so LeakSanitizer
 *   reports it as a leak.  pfree really frees: a use after pfree is caught.
 *
 * - ereport/elog: errstart() starts collecting an error, errmsg() and the
 *   others format their part into it (with the same printf as the backend,
 *   libpgport's), and errfinish() of an ERROR runs the error context
 *   callbacks and siglongjmp()s to PG_exception_stack, as the backend does,
 *   so PG_TRY/PG_FINALLY in the fuzzed code run as they do in production.
 *   With no PG_TRY around, or at FATAL and above, it aborts: the fuzzer
 *   reports that as a crash.  The harness reads the error from fuzz_error.
 *
 * - The database encoding is UTF-8 (or SQL_ASCII, when the harness sets
 *   fuzz_database_encoding) and conversions to and from it are the
 *   identity after pg_verify_mbstr's check, as in such a database.
 *
 * - timestamp2tm() is an independent implementation of the proleptic
 *   Gregorian calendar (UTC only); the timestamp harness checks the result
 *   against the C library's gmtime_r().
 *
 * - json_object: in a backend the postgres binary exports a function of
 *   that name (the SQL function), which the dynamic linker binds json.c's
 *   calls to instead of jansson's, so json.c never calls json_object() (see
 *   its header comment).  The harness recreates the clash: it exports (-rdynamic)
 *   a json_object of its own that aborts, so a direct call creeping into
 *   json.c crashes the fuzzers rather than a production backend.
 *
 * - Anything else the linker asks for (IMPORT FOREIGN SCHEMA in
 *   resources.c) is code the harnesses never reach: test/fuzz/run.sh
 *   generates a function for each such name that aborts with it.
 *
 * IDENTIFICATION
 *		  test/fuzz/stubs.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "pgtime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"
#include "fuzz.h"

/* ---------------------------------------------------------------------
 * Globals the backend headers declare
 * ---------------------------------------------------------------------
 */
sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;
volatile sig_atomic_t InterruptPending = false;
MemoryContext CurrentMemoryContext = NULL;

FuzzError	fuzz_error;

/* ---------------------------------------------------------------------
 * Memory: one malloc per chunk, all on one list
 * ---------------------------------------------------------------------
 */
typedef struct ArenaChunk
{
	struct ArenaChunk *prev;
	struct ArenaChunk *next;
	size_t		size;
	/* keep the payload MAXALIGNed, as palloc's is */
	double		align[FLEXIBLE_ARRAY_MEMBER];
} ArenaChunk;

static ArenaChunk *arena_head = NULL;
static size_t arena_count = 0;

#define CHUNK_OF(p) ((ArenaChunk *) ((char *) (p) - offsetof(ArenaChunk, align)))

static void *
arena_alloc(size_t size, bool zero)
{
	ArenaChunk *chunk;

	if (!AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	chunk = malloc(offsetof(ArenaChunk, align) + size);
	if (chunk == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	chunk->size = size;
	chunk->prev = NULL;
	chunk->next = arena_head;
	if (arena_head != NULL)
		arena_head->prev = chunk;
	arena_head = chunk;
	arena_count++;
	if (zero)
		memset(chunk->align, 0, size);
	return chunk->align;
}

static void
arena_unlink(ArenaChunk *chunk)
{
	if (chunk->prev != NULL)
		chunk->prev->next = chunk->next;
	else
		arena_head = chunk->next;
	if (chunk->next != NULL)
		chunk->next->prev = chunk->prev;
	arena_count--;
}

void *
palloc(Size size)
{
	return arena_alloc(size, false);
}

void *
palloc0(Size size)
{
	return arena_alloc(size, true);
}

void *
palloc_extended(Size size, int flags)
{
	return arena_alloc(size, (flags & MCXT_ALLOC_ZERO) != 0);
}

void
pfree(void *pointer)
{
	ArenaChunk *chunk = CHUNK_OF(pointer);

	arena_unlink(chunk);
	free(chunk);
}

void *
repalloc(void *pointer, Size size)
{
	ArenaChunk *old = CHUNK_OF(pointer);
	void	   *result;

	/* always move, so that a stale pointer to the old chunk is caught */
	result = arena_alloc(size, false);
	memcpy(result, pointer, Min(size, old->size));
	pfree(pointer);
	return result;
}

char *
pstrdup(const char *in)
{
	size_t		len = strlen(in);
	char	   *out = palloc(len + 1);

	memcpy(out, in, len + 1);
	return out;
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

char *
psprintf(const char *fmt,...)
{
	va_list		args;
	int			needed;
	char	   *out;

	va_start(args, fmt);
	needed = vsnprintf(NULL, 0, fmt, args);
	va_end(args);
	if (needed < 0)
		elog(ERROR, "vsnprintf failed");
	out = palloc((size_t) needed + 1);
	va_start(args, fmt);
	vsnprintf(out, (size_t) needed + 1, fmt, args);
	va_end(args);
	return out;
}

/*
 * fuzz_reset_memory
 *		Free every chunk still allocated: the end of one input's "context".
 */
void
fuzz_reset_memory(void)
{
	while (arena_head != NULL)
	{
		ArenaChunk *chunk = arena_head;

		arena_unlink(chunk);
		free(chunk);
	}
}

/* ---------------------------------------------------------------------
 * StringInfo (the parts lib/stringinfo.h's users here need)
 * ---------------------------------------------------------------------
 */
void
initStringInfo(StringInfo str)
{
	str->maxlen = 64;
	str->data = palloc(str->maxlen);
	resetStringInfo(str);
}

void
resetStringInfo(StringInfo str)
{
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
enlargeStringInfo(StringInfo str, int needed)
{
	int			newlen;

	if (needed < 0 || ((Size) needed) >= (MaxAllocSize - (Size) str->len))
		elog(ERROR, "string buffer too large");
	needed += str->len + 1;
	if (needed <= str->maxlen)
		return;
	newlen = 2 * str->maxlen;
	while (needed > newlen)
		newlen = 2 * newlen;
	if (newlen > (int) MaxAllocSize)
		newlen = (int) MaxAllocSize;
	str->data = repalloc(str->data, newlen);
	str->maxlen = newlen;
}

void
appendBinaryStringInfo(StringInfo str, const char *data, int datalen)
{
	enlargeStringInfo(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
	str->data[str->len] = '\0';
}

void
appendStringInfoString(StringInfo str, const char *s)
{
	appendBinaryStringInfo(str, s, (int) strlen(s));
}

void
appendStringInfo(StringInfo str, const char *fmt,...)
{
	char		buf[1024];
	va_list		args;
	int			n;

	va_start(args, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	if (n < 0 || n >= (int) sizeof(buf))
		fuzz_fail("appendStringInfo: text too long");
	appendBinaryStringInfo(str, buf, n);
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	enlargeStringInfo(str, 1);
	str->data[str->len] = ch;
	str->len++;
	str->data[str->len] = '\0';
}

/* ---------------------------------------------------------------------
 * Lists: lappend with the layout of nodes/pg_list.h
 * ---------------------------------------------------------------------
 */
List *
lappend(List *list, void *datum)
{
	if (list == NIL)
	{
		list = palloc(offsetof(List, initial_elements) + 4 * sizeof(ListCell));
		list->type = T_List;
		list->length = 0;
		list->max_length = 4;
		list->elements = list->initial_elements;
	}
	else if (list->length == list->max_length)
	{
		ListCell   *cells = palloc(2 * list->max_length * sizeof(ListCell));

		memcpy(cells, list->elements, list->length * sizeof(ListCell));
		if (list->elements != list->initial_elements)
			pfree(list->elements);
		list->elements = cells;
		list->max_length *= 2;
	}
	list->elements[list->length].ptr_value = datum;
	list->length++;
	return list;
}

List *
lappend_int(List *list, int datum)
{
	list = lappend(list, NULL);
	list->elements[list->length - 1].int_value = datum;
	return list;
}

void
list_free(List *list)
{
	if (list == NIL)
		return;
	if (list->elements != list->initial_elements)
		pfree(list->elements);
	pfree(list);
}

/* ---------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------
 */
static void
fuzz_format(char *buf, const char *fmt, va_list args)
{
	vsnprintf(buf, FUZZ_ERROR_TEXT, fmt, args);
}

#define FORMAT_INTO(field, fmt) \
	do { \
		va_list		args; \
		va_start(args, fmt); \
		fuzz_format(fuzz_error.field, fmt, args); \
		va_end(args); \
	} while (0)

bool
errstart(int elevel, const char *domain)
{
	if (fuzz_error.active)
	{
		fprintf(stderr, "stubs: ereport inside ereport\n");
		abort();
	}
	memset(&fuzz_error, 0, sizeof(fuzz_error));
	fuzz_error.active = true;
	fuzz_error.elevel = elevel;
	fuzz_error.sqlerrcode = (elevel >= ERROR) ? ERRCODE_INTERNAL_ERROR : 0;
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	ErrorContextCallback *econtext;

	fuzz_error.active = false;
	fuzz_error.filename = filename;
	fuzz_error.lineno = lineno;
	if (fuzz_error.elevel < ERROR)
	{
		fuzz_error.count_below_error++;
		return;
	}
	for (econtext = error_context_stack; econtext != NULL;
		 econtext = econtext->previous)
		econtext->callback(econtext->arg);
	if (fuzz_error.elevel > ERROR || PG_exception_stack == NULL)
	{
		fprintf(stderr, "stubs: uncaught error at %s:%d: %s\n",
				filename, lineno, fuzz_error.message);
		abort();
	}
	fuzz_error.thrown = true;
	siglongjmp(*PG_exception_stack, 1);
}

void
pg_re_throw(void)
{
	if (PG_exception_stack == NULL)
	{
		fprintf(stderr, "stubs: re-thrown error with no handler: %s\n",
				fuzz_error.message);
		abort();
	}
	siglongjmp(*PG_exception_stack, 1);
}

int
errcode(int sqlerrcode)
{
	fuzz_error.sqlerrcode = sqlerrcode;
	return 0;
}

int
errmsg(const char *fmt,...)
{
	FORMAT_INTO(message, fmt);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	FORMAT_INTO(message, fmt);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	FORMAT_INTO(detail, fmt);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	FORMAT_INTO(detail, fmt);
	return 0;
}

int
errhint(const char *fmt,...)
{
	FORMAT_INTO(hint, fmt);
	return 0;
}

void
ProcessInterrupts(void)
{
	/* InterruptPending is never set here */
	fprintf(stderr, "stubs: ProcessInterrupts reached\n");
	abort();
}

/* ---------------------------------------------------------------------
 * Encodings: a UTF-8 database, or SQL_ASCII (no conversion either way)
 * ---------------------------------------------------------------------
 */
int			fuzz_database_encoding = PG_UTF8;

int
GetDatabaseEncoding(void)
{
	return fuzz_database_encoding;
}

/*
 * pg_verify_mbstr
 *		As the backend's: the whole of mbstr (len bytes) is valid in
 *		encoding, or ERROR (or false with noError).  NUL bytes are invalid.
 */
bool
pg_verify_mbstr(int encoding, const char *mbstr, int len, bool noError)
{
	if (lemlist_verifymbstr(encoding, mbstr, len) == len)
		return true;
	if (noError)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
			 errmsg("invalid byte sequence for encoding \"%s\"",
					pg_enc2name_tbl[encoding].name)));
	return false;
}

/*
 * pg_any_to_server / pg_server_to_any
 *		The backend returns the input itself when no conversion is needed
 *		(the caller must cope with a string that is not NUL-terminated at
 *		len), after checking it is valid in the target encoding.
 */
char *
pg_any_to_server(const char *s, int len, int encoding)
{
	if (len <= 0)
		return unconstify(char *, s);
	if (encoding != PG_UTF8 && encoding != PG_SQL_ASCII)
	{
		fprintf(stderr, "stubs: conversion from encoding %d\n", encoding);
		abort();
	}
	(void) pg_verify_mbstr(PG_UTF8, s, len, false);
	return unconstify(char *, s);
}

char *
pg_server_to_any(const char *s, int len, int encoding)
{
	if (len <= 0)
		return unconstify(char *, s);
	if (encoding != PG_UTF8)
	{
		fprintf(stderr, "stubs: conversion to encoding %d\n", encoding);
		abort();
	}
	(void) pg_verify_mbstr(PG_UTF8, s, len, false);
	return unconstify(char *, s);
}

/* ---------------------------------------------------------------------
 * Timestamps (UTC only)
 * ---------------------------------------------------------------------
 */

/*
 * days_to_civil
 *		The proleptic Gregorian date of a day number counted from
 *		1970-01-01, years numbered astronomically (0 is 1 BC), by the
 *		400-year era method.
 */
static void
days_to_civil(int64 days, int *year, int *month, int *day)
{
	int64		z = days + 719468;
	int64		era = (z >= 0 ? z : z - 146096) / 146097;
	int64		doe = z - era * 146097;
	int64		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64		mp = (5 * doy + 2) / 153;
	int64		d = doy - (153 * mp + 2) / 5 + 1;
	int64		m = mp < 10 ? mp + 3 : mp - 9;
	int64		y = yoe + era * 400 + (m <= 2);

	*year = (int) y;
	*month = (int) m;
	*day = (int) d;
}

/*
 * timestamp2tm
 *		Only the UTC form (tzp == NULL, attimezone == NULL) exists here.
 *		Like the backend's, it fails (-1) for a Julian day outside 0 to
 *		INT_MAX, that is before 4714-11-24 BC.
 */
int
timestamp2tm(Timestamp dt, int *tzp, struct pg_tm *tm, fsec_t *fsec,
			 const char **tzn, pg_tz *attimezone)
{
	int64		days;
	int64		time_of_day;
	int			year,
				month,
				day;

	if (tzp != NULL || attimezone != NULL)
	{
		fprintf(stderr, "stubs: timestamp2tm with a time zone\n");
		abort();
	}

	/* floor division of microseconds since 2000-01-01 by a day */
	days = dt / USECS_PER_DAY;
	time_of_day = dt % USECS_PER_DAY;
	if (time_of_day < 0)
	{
		time_of_day += USECS_PER_DAY;
		days--;
	}
	/* 2000-01-01 is Julian day 2451545 */
	if (days + POSTGRES_EPOCH_JDATE < 0 ||
		days + POSTGRES_EPOCH_JDATE > (int64) PG_INT32_MAX)
		return -1;

	days_to_civil(days + 10957, &year, &month, &day);
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = year;
	tm->tm_mon = month;
	tm->tm_mday = day;
	tm->tm_hour = (int) (time_of_day / USECS_PER_HOUR);
	time_of_day -= (int64) tm->tm_hour * USECS_PER_HOUR;
	tm->tm_min = (int) (time_of_day / USECS_PER_MINUTE);
	time_of_day -= (int64) tm->tm_min * USECS_PER_MINUTE;
	tm->tm_sec = (int) (time_of_day / USECS_PER_SEC);
	*fsec = (fsec_t) (time_of_day - (int64) tm->tm_sec * USECS_PER_SEC);
	if (tzn != NULL)
		*tzn = NULL;
	return 0;
}

/*
 * timestamptz_out
 *		Only reached to name an out-of-range timestamp in an error message:
 *		a stand-in text is enough.
 */
Datum
timestamptz_out(PG_FUNCTION_ARGS)
{
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);

	if (TIMESTAMP_IS_NOBEGIN(ts))
		PG_RETURN_CSTRING(pstrdup("-infinity"));
	if (TIMESTAMP_IS_NOEND(ts))
		PG_RETURN_CSTRING(pstrdup("infinity"));
	PG_RETURN_CSTRING(psprintf("timestamp %lld", (long long) ts));
}

Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	result = (*func) (fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

/*
 * json_object
 *		Stands for the backend's SQL function of that name, which shadows
 *		jansson's json_object() in a backend (see json.c's header comment).
 */
extern void *json_object(void);

void *
json_object(void)
{
	fprintf(stderr, "stubs: json_object() called: in a backend this is PostgreSQL's SQL function json_object, not jansson's\n");
	abort();
}

/*
 * unpack_sql_state
 *		The five characters of a SQLSTATE, for the harnesses' messages.
 */
char *
unpack_sql_state(int sql_state)
{
	static char buf[12];
	int			i;

	for (i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(sql_state);
		sql_state >>= 6;
	}
	buf[i] = '\0';
	return buf;
}
