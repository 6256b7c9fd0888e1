/*-------------------------------------------------------------------------
 *
 * option_value.c
 *		  Parsing and checking the value of one lemlist_fdw option
 *
 * lemlist_check_option_value reads the text of an option as its kind in
 * option.c's table says (an integer in a range, a Boolean, a URL, a
 * timestamp, ...), or raises an ERROR naming the option.  The validator and
 * lemlist_get_options both parse values with it, so a value accepted by
 * CREATE or ALTER means the same thing at query time, and a value that
 * somehow reached the catalog without going through the validator still
 * cannot reach the scan unchecked.
 *
 * Design rules:
 *
 * - Messages follow PostgreSQL's style guide and always name the option.
 *	 The value of api_key never appears in any of them, and neither does an
 *	 api_url that carries credentials: both may hold secrets.
 *
 * - Stricter than PostgreSQL's own readers where looser would surprise:
 *	 integers take no units, no hexadecimal and no fraction; a timestamp
 *	 without a time zone is UTC whatever the session's TimeZone, and words
 *	 that move with the clock are refused.
 *
 * IDENTIFICATION
 *		  src/option_value.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

static const struct
{
	const char *name;
	LemlistCampaignErrors value;
}			campaign_errors_values[] = {
	{"notice", LEMLIST_ERRORS_NOTICE},
	{"warning", LEMLIST_ERRORS_WARNING},
	{"error", LEMLIST_ERRORS_ERROR}
};

static void check_integer(const LemlistOptionDef *opt, const char *value, int *result);
static void check_url(const LemlistOptionDef *opt, const char *value);
static int	parse_timestamptz(const char *value, TimestampTz *result);


/*
 * lemlist_check_option_value
 *		Parse an option's value into val, or raise an ERROR naming it
 */
void
lemlist_check_option_value(const LemlistOptionDef *opt, const char *value,
						   LemlistOptionValue *val)
{
	int			i;

	memset(val, 0, sizeof(LemlistOptionValue));
	val->sval = value;

	switch (opt->kind)
	{
		case LEMLIST_VALUE_INTEGER:
			check_integer(opt, value, &val->ival);
			break;

		case LEMLIST_VALUE_BOOLEAN:
			if (!parse_bool(value, &val->bval))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("Option \"%s\" requires a Boolean value.",
								   opt->name)));
			break;

		case LEMLIST_VALUE_URL:
			check_url(opt, value);
			break;

		case LEMLIST_VALUE_PATH:
			if (!is_absolute_path(value))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("The file name must be an absolute path.")));
			break;

		case LEMLIST_VALUE_CAMPAIGN_ERRORS:
			for (i = 0; i < (int) lengthof(campaign_errors_values); i++)
			{
				if (strcmp(campaign_errors_values[i].name, value) == 0)
				{
					val->errors = campaign_errors_values[i].value;
					return;
				}
			}
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"",
							opt->name, value),
					 errhint("Valid values are: notice, warning, error")));
			break;

		case LEMLIST_VALUE_TIMESTAMPTZ:
			switch (parse_timestamptz(value, &val->tval))
			{
				case 0:
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, value),
							 errdetail("The value must be a fixed, finite timestamp, such as \"2025-01-01T00:00:00Z\"; without a time zone it is read as UTC.")));
					break;
				case -1:
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, value),
							 errdetail("lemlist dates, in UTC, must fall between the years 1 and 9999.")));
					break;
			}
			break;

		case LEMLIST_VALUE_SECRET:
			/* never show the value */
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\"", opt->name),
						 errdetail("The value must not be empty.")));
			break;

		case LEMLIST_VALUE_RESOURCE:
			{
				const LemlistResourceDef *res = lemlist_resource_by_name(value);

				if (res == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, value),
							 errhint("Valid values are: %s",
									 lemlist_resource_names())));
				val->resource = res->kind;
			}
			break;

		case LEMLIST_VALUE_STRING:
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("The value must not be empty.")));
			break;
	}
}

/*
 * check_integer
 *		Parse a decimal integer option and check its range
 *
 * Stricter than parse_int: no units, no hexadecimal, no fraction.
 */
static void
check_integer(const LemlistOptionDef *opt, const char *value, int *result)
{
	const char *p = value;
	char	   *end;
	long		lval;

	while (isspace((unsigned char) *p))
		p++;
	if (!(isdigit((unsigned char) *p) ||
		  ((*p == '-' || *p == '+') && isdigit((unsigned char) p[1]))))
		goto syntax_error;

	errno = 0;
	lval = strtol(p, &end, 10);
	while (isspace((unsigned char) *end))
		end++;
	if (*end != '\0')
		goto syntax_error;

	if (errno == ERANGE || lval < opt->min_value || lval > opt->max_value)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value for option \"%s\" must be between %d and %d",
						opt->name, opt->min_value, opt->max_value)));

	*result = (int) lval;
	return;

syntax_error:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for integer option \"%s\": %s",
					opt->name, value),
			 errhint("Valid values are whole numbers between %d and %d.",
					 opt->min_value, opt->max_value)));
}

/*
 * check_url
 *		Check api_url: http or https, a host, no credentials, no fragment
 *
 * Routes are appended to it, so a query string is refused as well.  A URL
 * that carries a user name or password is not echoed back.
 */
static void
check_url(const LemlistOptionDef *opt, const char *value)
{
	const char *authority;
	const char *p;
	size_t		authority_len;
	const char *problem = NULL;

	/* the authority runs from after "scheme://" to the first / ? or # */
	p = strstr(value, "://");
	authority = p ? p + 3 : value;
	authority_len = strcspn(authority, "/?#");

	if (memchr(authority, '@', authority_len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", opt->name),
				 errdetail("The URL must not contain a user name or password."),
				 errhint("Put the API key in the \"api_key\" option of a user mapping.")));

	for (p = value; *p; p++)
	{
		if ((unsigned char) *p <= ' ' || (unsigned char) *p == 0x7f)
		{
			problem = "The URL must not contain spaces or control characters.";
			break;
		}
	}

	if (problem == NULL &&
		pg_strncasecmp(value, "http://", 7) != 0 &&
		pg_strncasecmp(value, "https://", 8) != 0)
		problem = "The URL must start with \"http://\" or \"https://\".";
	else if (problem == NULL &&
			 (authority_len == 0 || authority[0] == ':'))
		problem = "The URL must name a host.";
	else if (problem == NULL && strchr(value, '#') != NULL)
		problem = "The URL must not contain a fragment.";
	else if (problem == NULL && strchr(value, '?') != NULL)
		problem = "The URL must not contain a query string.";

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						opt->name, value),
				 errdetail_internal("%s", problem)));
}

/*
 * parse_timestamptz
 *		Read a timestamptz the way timestamptz_in does, in UTC
 *
 * A value without a time zone means UTC whatever the session's TimeZone,
 * so that one option gives one startDate; words that move with the clock
 * ("now", "today", ...) are refused.  Returns 1 for a good value, 0 for one
 * that does not parse or is not finite, -1 for one outside the years 1 to
 * 9999 that lemlist can take.
 *
 * PostgreSQL 15 has no soft input errors, so timestamptz_in's own ERROR is
 * caught and the caller raises ours instead; a failure is always followed
 * by an ERROR, so the transaction never goes on after the catch.  Only data
 * exceptions (class 22) are caught: anything else (a cancel, out of memory)
 * is re-thrown as it is.
 */
static int
parse_timestamptz(const char *value, TimestampTz *result)
{
	static const char *const moving[] = {"now", "today", "tomorrow", "yesterday"};
	MemoryContext oldcxt = CurrentMemoryContext;
	pg_tz	   *save_tz = session_timezone;
	volatile bool ok = true;
	char	   *word = pstrdup(value);
	struct pg_tm tm;
	fsec_t		fsec;

	for (char *p = word; *p; p++)
		*p = pg_tolower((unsigned char) *p);
	for (size_t i = 0; i < lengthof(moving); i++)
	{
		if (strstr(word, moving[i]) != NULL)
			return 0;
	}

	PG_TRY();
	{
		session_timezone = pg_tzset("UTC");
		*result = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
														  CStringGetDatum(value),
														  ObjectIdGetDatum(InvalidOid),
														  Int32GetDatum(-1)));
		session_timezone = save_tz;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		session_timezone = save_tz;
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();

	if (!ok || TIMESTAMP_NOT_FINITE(*result))
		return 0;
	if (timestamp2tm(*result, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		return -1;
	return 1;
}
