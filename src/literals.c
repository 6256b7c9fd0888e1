/*-------------------------------------------------------------------------
 *
 * literals.c
 *		  The filters' kinds and names, and the literal values lemlist accepts
 *
 * This file holds what is known of a filter without the catalog or the
 * planner: which kind of value it takes (text or timestamptz), its column
 * name for messages, which values the API can accept, and how a date is
 * written in a request.  A literal that can never be valid is rejected with
 * SQLSTATE 22023 before anything is sent, and the error names the valid
 * values.
 *
 * Every function here depends on its arguments alone.  It uses no catalog
 * and no locale, and it handles dates in UTC whatever the session's time
 * zone.  (Only the message for an out-of-range timestamp shows the
 * timestamp as timestamptz_out does.)  That is what lets test/fuzz/ link
 * this file into a plain executable and check lemlist_check_filter_value
 * and lemlist_format_timestamp against independent readings of the rules.
 *
 * IDENTIFICATION
 *		  src/literals.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

static bool is_whitespace(char c);
static bool valid_send_user(const char *value);


/*
 * lemlist_is_text_filter / lemlist_is_date_filter
 *		Classify a filter by the kind of clause that can feed it.
 */
bool
lemlist_is_text_filter(LemlistFilterKind filter)
{
	switch (filter)
	{
		case LEMLIST_FILTER_CAMPAIGN_ID:
		case LEMLIST_FILTER_SEND_USER:
		case LEMLIST_FILTER_AB_SELECTED:
		case LEMLIST_FILTER_CHANNEL:
		case LEMLIST_FILTER_STATUS:
		case LEMLIST_FILTER_CREATED_BY:
			return true;
		default:
			return false;
	}
}

bool
lemlist_is_date_filter(LemlistFilterKind filter)
{
	return filter == LEMLIST_FILTER_START_DATE ||
		filter == LEMLIST_FILTER_END_DATE;
}

/*
 * is_whitespace
 *		Whether c is ASCII whitespace.  The test does not depend on the
 *		locale, so that the checks in this file (valid_send_user) are a pure
 *		function of their input.
 */
static bool
is_whitespace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

/*
 * valid_send_user
 *		Is value of the form "usr_<id>|<local>@<domain>"?  Exactly one '|',
 *		an id of at least one character after "usr_", exactly one '@' with
 *		both sides non-empty, and no whitespace anywhere.
 */
static bool
valid_send_user(const char *value)
{
	const char *bar = strchr(value, '|');
	const char *email;
	const char *at;
	const char *p;

	if (bar == NULL || strchr(bar + 1, '|') != NULL)
		return false;

	/* the sendUserId */
	if (strncmp(value, "usr_", 4) != 0 || value + 4 >= bar)
		return false;
	for (p = value; p < bar; p++)
	{
		if (is_whitespace(*p))
			return false;
	}

	/* the sendUserEmail */
	email = bar + 1;
	at = strchr(email, '@');
	if (at == NULL || at == email || at[1] == '\0' ||
		strchr(at + 1, '@') != NULL)
		return false;
	for (p = email; *p != '\0'; p++)
	{
		if (is_whitespace(*p))
			return false;
	}

	return true;
}

/*
 * lemlist_filter_domain_size
 *		The number of values in a finite filter's domain, not counting "not
 *		filtered": 2 for ab_selected, 3 for channel, and 0 for the others
 */
int
lemlist_filter_domain_size(LemlistFilterKind filter)
{
	switch (filter)
	{
		case LEMLIST_FILTER_AB_SELECTED:
			return 2;
		case LEMLIST_FILTER_CHANNEL:
			return 3;
		default:
			return 0;
	}
}

/*
 * lemlist_filter_value_ok
 *		Whether the API can accept value for filter.  The result depends on
 *		the input alone: no catalog, no locale.
 */
bool
lemlist_filter_value_ok(LemlistFilterKind filter, const char *value)
{
	/* NULL is "not filtered", always acceptable */
	if (value == NULL)
		return true;

	switch (filter)
	{
		case LEMLIST_FILTER_CHANNEL:
			return strcmp(value, "email") == 0 || strcmp(value, "linkedin") == 0 ||
				strcmp(value, "others") == 0;
		case LEMLIST_FILTER_AB_SELECTED:
			return strcmp(value, "A") == 0 || strcmp(value, "B") == 0;
		case LEMLIST_FILTER_SEND_USER:
			return valid_send_user(value);
		default:
			/* the API itself judges campaign IDs, statuses and users */
			return true;
	}
}

/*
 * lemlist_check_filter_value
 *		Raise an ERROR (22023) for a literal that lemlist can never accept.
 *		The message names the valid values.
 */
void
lemlist_check_filter_value(LemlistFilterKind filter, const char *value)
{
	if (lemlist_filter_value_ok(filter, value))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for column \"%s\": \"%s\"",
					lemlist_filter_name(filter), value),
			 filter == LEMLIST_FILTER_CHANNEL ?
			 errhint("Valid values are: email, linkedin, others.") :
			 filter == LEMLIST_FILTER_AB_SELECTED ?
			 errhint("Valid values are: A, B.") :
			 errhint("send_user must have the form \"usr_<id>|<email>\", for example \"usr_abc123|jane@example.com\".")));
}

/*
 * lemlist_format_timestamp
 *		Write ts as the API writes dates: "YYYY-MM-DDTHH:MM:SS.sssZ" in UTC,
 *		with the microseconds truncated to milliseconds.
 *
 * The format has four digits for the year and no era, so only years 1 to
 * 9999 can be written.
 */
char *
lemlist_format_timestamp(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timestamp \"%s\" is out of range for lemlist",
						DatumGetCString(DirectFunctionCall1(timestamptz_out,
															TimestampTzGetDatum(ts)))),
				 errdetail("lemlist dates, in UTC, must fall between the years 1 and 9999.")));

	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec,
					(int) (fsec / 1000));
}

/*
 * lemlist_filter_name
 *		The SQL column name of a filter, for messages.
 */
const char *
lemlist_filter_name(LemlistFilterKind filter)
{
	switch (filter)
	{
		case LEMLIST_FILTER_NONE:
			break;
		case LEMLIST_FILTER_CAMPAIGN_ID:
			return "campaign_id";
		case LEMLIST_FILTER_START_DATE:
			return "start_date";
		case LEMLIST_FILTER_END_DATE:
			return "end_date";
		case LEMLIST_FILTER_SEND_USER:
			return "send_user";
		case LEMLIST_FILTER_AB_SELECTED:
			return "ab_selected";
		case LEMLIST_FILTER_CHANNEL:
			return "channel";
		case LEMLIST_FILTER_STATUS:
			return "status";
		case LEMLIST_FILTER_CREATED_BY:
			return "created_by";
	}
	return "none";
}
