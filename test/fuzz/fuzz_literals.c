/*-------------------------------------------------------------------------
 *
 * fuzz_literals.c
 *		  libFuzzer harness over the values lemlist_fdw sends
 *
 * Built three times by test/fuzz/run.sh, with FUZZ_TARGET set to:
 *
 * FUZZ_FILTER_VALUE: lemlist_check_filter_value (literals.c).  The first
 *	 byte picks the filter, the rest is the value (up to a NUL, as SQL text
 *	 cannot hold one).  The verdict must agree with a second, independently
 *	 written reading of the documented rules (channel email, linkedin or
 *	 others; A/B variant A or B; send_user "usr_<id>|<local>@<domain>"
 *	 without whitespace; anything for the other filters), and a rejection
 *	 must be SQLSTATE 22023 naming the column, with a hint.
 *
 * FUZZ_TIMESTAMP: lemlist_format_timestamp (literals.c).  The first eight
 *	 bytes are a TimestampTz.  The text must be exactly what the C library's
 *	 gmtime_r() says for the same instant, truncated to milliseconds, for
 *	 every year from 1 to 9999; anything else must be SQLSTATE 22023.
 *
 * FUZZ_REQUEST: lemlist_json_stats_request (json.c).  The first line is
 *	 "sendUser<TAB>ABSelected<TAB>channel" (an empty field is not sent), each
 *	 further line a campaign ID.  The body must be JSON that parses back to
 *	 exactly those values, with campaignIds as the first key.
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_literals.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"

#include "lemlist_fdw.h"
#include "fuzz.h"

#define FUZZ_FILTER_VALUE	1
#define FUZZ_TIMESTAMP		2
#define FUZZ_REQUEST		3

#ifndef FUZZ_TARGET
#error "define FUZZ_TARGET as FUZZ_FILTER_VALUE, FUZZ_TIMESTAMP or FUZZ_REQUEST"
#endif

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The error caught must be an ERROR with this SQLSTATE and a message. */
static void
expect_error(int sqlerrcode, const char *what)
{
	if (!fuzz_error.thrown || fuzz_error.elevel != ERROR)
		fuzz_fail("%s: caught something that is not an ERROR", what);
	if (fuzz_error.sqlerrcode != sqlerrcode)
		fuzz_fail("%s: SQLSTATE %s, expected %s: %s", what,
				  unpack_sql_state(fuzz_error.sqlerrcode),
				  unpack_sql_state(sqlerrcode), fuzz_error.message);
	if (fuzz_error.message[0] == '\0')
		fuzz_fail("%s: an error without a message", what);
}

static void
expect_clean_state(void)
{
	if (PG_exception_stack != NULL || error_context_stack != NULL)
		fuzz_fail("error handling state left behind");
	if (fuzz_error.active || fuzz_error.count_below_error != 0)
		fuzz_fail("an unfinished error or a notice");
}

#if FUZZ_TARGET == FUZZ_FILTER_VALUE

static bool
ref_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The documented form of a sendUser, read a second way: by counting. */
static bool
ref_send_user(const char *v)
{
	size_t		len = strlen(v);
	size_t		bars = 0,
				ats = 0,
				bar = 0,
				at = 0,
				i;

	for (i = 0; i < len; i++)
	{
		if (ref_space(v[i]))
			return false;
		if (v[i] == '|')
		{
			bars++;
			bar = i;
		}
	}
	if (bars != 1)
		return false;
	/* "usr_" and at least one more character before the bar */
	if (bar < 5 || memcmp(v, "usr_", 4) != 0)
		return false;
	for (i = bar + 1; i < len; i++)
	{
		if (v[i] == '@')
		{
			ats++;
			at = i;
		}
	}
	/* one '@', with something on both sides */
	return ats == 1 && at > bar + 1 && at < len - 1;
}

static bool
ref_accepts(LemlistFilterKind filter, const char *v)
{
	switch (filter)
	{
		case LEMLIST_FILTER_CHANNEL:
			return strcmp(v, "email") == 0 || strcmp(v, "linkedin") == 0 ||
				strcmp(v, "others") == 0;
		case LEMLIST_FILTER_AB_SELECTED:
			return strcmp(v, "A") == 0 || strcmp(v, "B") == 0;
		case LEMLIST_FILTER_SEND_USER:
			return ref_send_user(v);
		default:
			return true;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LemlistFilterKind filter;
	char	   *value;
	volatile bool accepted = false;

	if (size < 1)
		return 0;
	filter = (LemlistFilterKind) (data[0] % LEMLIST_NUM_FILTERS);
	value = strndup((const char *) data + 1, size - 1);
	if (value == NULL)
		return 0;
	memset(&fuzz_error, 0, sizeof(fuzz_error));

	PG_TRY();
	{
		lemlist_check_filter_value(filter, value);
		accepted = true;
	}
	PG_CATCH();
	{
		char		prefix[128];

		expect_error(ERRCODE_INVALID_PARAMETER_VALUE, "lemlist_check_filter_value");
		snprintf(prefix, sizeof(prefix), "invalid value for column \"%s\": \"",
				 lemlist_filter_name(filter));
		if (strncmp(fuzz_error.message, prefix, strlen(prefix)) != 0)
			fuzz_fail("message does not name the column: %s", fuzz_error.message);
		if (fuzz_error.hint[0] == '\0')
			fuzz_fail("rejection without a hint");
	}
	PG_END_TRY();
	expect_clean_state();

	if (accepted != ref_accepts(filter, value))
		fuzz_fail("filter %s value \"%s\": %s, the reference %s",
				  lemlist_filter_name(filter), value,
				  accepted ? "accepted" : "rejected",
				  accepted ? "rejects it" : "accepts it");

	/* NULL means "not filtered" and is always fine */
	lemlist_check_filter_value(filter, NULL);

	fuzz_reset_memory();
	free(value);
	return 0;
}

#elif FUZZ_TARGET == FUZZ_TIMESTAMP

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64		raw = 0;
	TimestampTz ts;
	char	   *volatile text = NULL;
	char		expected[64];
	bool		expect_ok = false;

	memcpy(&raw, data, Min(size, sizeof(raw)));
	ts = (TimestampTz) raw;
	memset(&fuzz_error, 0, sizeof(fuzz_error));

	/* the reference: gmtime_r() of the same instant */
	if (!TIMESTAMP_NOT_FINITE(ts))
	{
		int64		secs = ts / USECS_PER_SEC;
		int64		usecs = ts % USECS_PER_SEC;
		time_t		unix_secs;
		struct tm	tm;

		if (usecs < 0)
		{
			usecs += USECS_PER_SEC;
			secs--;
		}
		unix_secs = (time_t) (secs +
							  (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
		if (gmtime_r(&unix_secs, &tm) != NULL &&
			tm.tm_year + 1900 >= 1 && tm.tm_year + 1900 <= 9999)
		{
			snprintf(expected, sizeof(expected),
					 "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (usecs / 1000));
			expect_ok = true;
		}
	}

	PG_TRY();
	{
		text = lemlist_format_timestamp(ts);
	}
	PG_CATCH();
	{
		expect_error(ERRCODE_INVALID_PARAMETER_VALUE, "lemlist_format_timestamp");
		if (strncmp(fuzz_error.message, "timestamp \"", 11) != 0)
			fuzz_fail("unexpected message: %s", fuzz_error.message);
	}
	PG_END_TRY();
	expect_clean_state();

	if (expect_ok && text == NULL)
		fuzz_fail("%lld (%s) rejected", (long long) ts, expected);
	if (!expect_ok && text != NULL)
		fuzz_fail("%lld accepted as %s", (long long) ts, text);
	if (text != NULL && strcmp(text, expected) != 0)
		fuzz_fail("%lld is %s, expected %s", (long long) ts, text, expected);

	fuzz_reset_memory();
	return 0;
}

#elif FUZZ_TARGET == FUZZ_REQUEST

/* The next line of data (without its \n), as a malloc'd string. */
static char *
next_line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *start = *p;
	const uint8_t *nl = memchr(start, '\n', end - start);
	const uint8_t *stop = nl ? nl : end;

	*p = nl ? nl + 1 : end;
	return strndup((const char *) start, stop - start);
}

static char *
field_or_null(char *s)
{
	return (s == NULL || s[0] == '\0') ? NULL : s;
}

static void
expect_string(json_t *root, const char *key, const char *want)
{
	json_t	   *value = json_object_get(root, key);

	if (want == NULL)
	{
		if (value != NULL)
			fuzz_fail("\"%s\" sent though not set", key);
		return;
	}
	if (!json_is_string(value) || strcmp(json_string_value(value), want) != 0)
		fuzz_fail("\"%s\" does not read back as \"%s\"", key, want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	const uint8_t *end = data + size;
	char	   *first;
	char	   *fields[3] = {NULL, NULL, NULL};
	LemlistCombo combo;
	List	   *ids = NIL;
	char	   *volatile body = NULL;
	json_t	   *root;
	json_t	   *array;
	json_error_t error;
	ListCell   *lc;
	size_t		i;
	char	   *tab;
	char	   *s;

	/* a text value of a UTF-8 database: valid, no NUL */
	if (memchr(data, '\0', size) != NULL ||
		lemlist_verifymbstr(PG_UTF8, (const char *) data, (int) size) != (int) size)
		return 0;
	memset(&fuzz_error, 0, sizeof(fuzz_error));

	first = next_line(&p, end);
	s = first;
	for (i = 0; i < 3 && s != NULL; i++)
	{
		tab = strchr(s, '\t');
		if (tab != NULL)
			*tab = '\0';
		fields[i] = s;
		s = tab ? tab + 1 : NULL;
	}
	combo.send_user = field_or_null(fields[0]);
	combo.ab_selected = field_or_null(fields[1]);
	combo.channel = field_or_null(fields[2]);
	while (p < end)
		ids = lappend(ids, next_line(&p, end));

	PG_TRY();
	{
		body = lemlist_json_stats_request(ids, "2025-01-01T00:00:00.000Z",
										  "2025-06-30T23:59:59.999Z", &combo);
	}
	PG_CATCH();
	{
		fuzz_fail("request building failed: %s", fuzz_error.message);
	}
	PG_END_TRY();
	expect_clean_state();

	if (lemlist_verifymbstr(PG_UTF8, body, (int) strlen(body)) != (int) strlen(body))
		fuzz_fail("request body is not valid UTF-8");
	if (strncmp(body, "{\"campaignIds\":[", 16) != 0)
		fuzz_fail("request body does not start with campaignIds: %s", body);
	root = json_loads(body, 0, &error);
	if (root == NULL)
		fuzz_fail("request body is not JSON: %s", error.text);
	array = json_object_get(root, "campaignIds");
	if (!json_is_array(array) || json_array_size(array) != (size_t) list_length(ids))
		fuzz_fail("campaignIds does not have %d elements", list_length(ids));
	i = 0;
	foreach(lc, ids)
	{
		json_t	   *element = json_array_get(array, i++);

		if (!json_is_string(element) ||
			strcmp(json_string_value(element), (char *) lfirst(lc)) != 0)
			fuzz_fail("campaignIds[%zu] does not read back", i - 1);
	}
	expect_string(root, "startDate", "2025-01-01T00:00:00.000Z");
	expect_string(root, "endDate", "2025-06-30T23:59:59.999Z");
	expect_string(root, "sendUser", combo.send_user);
	expect_string(root, "ABSelected", combo.ab_selected);
	array = json_object_get(root, "channels");
	if (combo.channel == NULL ? array != NULL :
		(!json_is_array(array) || json_array_size(array) != 1 ||
		 !json_is_string(json_array_get(array, 0)) ||
		 strcmp(json_string_value(json_array_get(array, 0)), combo.channel) != 0))
		fuzz_fail("channels does not read back");
	json_decref(root);

	foreach(lc, ids)
		free(lfirst(lc));
	free(first);
	fuzz_reset_memory();
	return 0;
}

#endif
