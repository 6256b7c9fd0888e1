/*-------------------------------------------------------------------------
 *
 * fuzz.h
 *		  What the fuzz harnesses share with their backend stand-ins
 *
 * The harnesses (fuzz_json.c, fuzz_literals.c) and stubs.c only: nothing
 * in src/ includes it.
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEMLIST_FUZZ_H
#define LEMLIST_FUZZ_H

#define FUZZ_ERROR_TEXT 1024

/* The last ereport/elog, as stubs.c collected it. */
typedef struct FuzzError
{
	bool		active;			/* between errstart and errfinish */
	bool		thrown;			/* an ERROR was thrown */
	int			elevel;
	int			sqlerrcode;
	int			count_below_error;	/* NOTICEs and the like */
	const char *filename;
	int			lineno;
	char		message[FUZZ_ERROR_TEXT];
	char		detail[FUZZ_ERROR_TEXT];
	char		hint[FUZZ_ERROR_TEXT];
} FuzzError;

extern FuzzError fuzz_error;

/* in stubs.c */
extern void fuzz_reset_memory(void);
extern int	fuzz_database_encoding;	/* what GetDatabaseEncoding() returns */

/* in oracle.c: the jansson decoder jsonread.c replaced */
extern void oracle_parse_stats(const char *body, size_t len, bool steps,
							   const LemlistColumn *columns, int ncolumns,
							   LemlistParsed *out);
extern void oracle_parse_campaigns(const char *body, size_t len,
								   const LemlistColumn *columns, int ncolumns,
								   LemlistParsed *out);

/* fail: print what broke, then abort() so that the fuzzer keeps the input */
#define fuzz_fail(...) \
	do { \
		fprintf(stderr, "fuzz: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

#endif							/* LEMLIST_FUZZ_H */
