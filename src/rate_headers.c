/*-------------------------------------------------------------------------
 *
 * rate_headers.c
 *		  What lemlist's answers say of its rate limit: the X-RateLimit-*
 *		  and Retry-After headers
 *
 * http.c hands over each header line of an answer; those about the rate
 * limit are kept, as numbers or as sent, in the attempt's LemlistRateHeaders.
 * pacing.c corrects its model with them, reading X-RateLimit-Reset with
 * lemlist_parse_rate_reset, and the Retry-After of a 429 is the wait before
 * the next attempt.
 *
 * Design rules:
 *
 * - lemlist_rate_header runs in curl's header callback: it never throws and
 *	 never allocates.  Nothing here includes curl.h.
 *
 * - A value that does not read is as if the header had not been sent: -1,
 *	 or no time.  Counts are capped, Retry-After at an hour.
 *
 * IDENTIFICATION
 *		  src/rate_headers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>

#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

/* Longest Retry-After we accept, in seconds. */
#define RATE_MAX_RETRY_AFTER_S 3600
/* Unix seconds of 10000-01-01: a larger X-RateLimit-Reset is no time. */
#define RATE_MAX_UNIX_S		253402300800L

static bool header_value(const char *line, size_t len, const char *name,
						 char *value, size_t valuesize);
static long parse_count(const char *s, long max);
static bool parse_js_date(const char *s, TimestampTz *result);
static bool parse_http_date(const char *s, TimestampTz *result);
static int	month_number(const char *s);


/*
 * lemlist_rate_headers_clear
 *		Nothing said yet
 */
void
lemlist_rate_headers_clear(LemlistRateHeaders *headers)
{
	headers->retry_after_s = -1;
	headers->limit = -1;
	headers->remaining = -1;
	headers->reset[0] = '\0';
}

/*
 * lemlist_rate_header
 *		Note one header line of an answer if it is about the rate limit
 *
 * Runs in curl's header callback: never throws, never allocates.
 */
bool
lemlist_rate_header(const char *line, size_t len, LemlistRateHeaders *headers)
{
	char		value[sizeof(headers->reset)];

	if (header_value(line, len, "Retry-After", value, sizeof(value)))
		headers->retry_after_s = parse_count(value, RATE_MAX_RETRY_AFTER_S);
	else if (header_value(line, len, "X-RateLimit-Limit", value, sizeof(value)))
		headers->limit = parse_count(value, INT_MAX);
	else if (header_value(line, len, "X-RateLimit-Remaining", value, sizeof(value)))
		headers->remaining = parse_count(value, INT_MAX);
	else if (header_value(line, len, "X-RateLimit-Reset", value, sizeof(value)))
		strlcpy(headers->reset, value, sizeof(headers->reset));
	else
		return false;
	return true;
}

/*
 * lemlist_retry_after_ms
 *		The wait lemlist asked for after a 429: Retry-After, or else the
 *		whole window
 */
long
lemlist_retry_after_ms(const LemlistRateHeaders *headers, int window_ms)
{
	return headers->retry_after_s >= 0 ? headers->retry_after_s * 1000L : window_ms;
}

/*
 * lemlist_parse_rate_reset
 *		The time an X-RateLimit-Reset value names, or 0 if it names none
 *
 * lemlist sends JavaScript's Date.toString(), "Tue Feb 16 2021 09:02:42
 * GMT+0100 (Central European Standard Time)".  An HTTP date ("Tue, 16 Feb
 * 2021 08:02:42 GMT") and Unix seconds are accepted too, as are seconds
 * from now (a number below a day's worth).
 */
TimestampTz
lemlist_parse_rate_reset(const char *value, TimestampTz now)
{
	TimestampTz result;

	while (isspace((unsigned char) *value))
		value++;

	if (isdigit((unsigned char) *value))
	{
		char	   *end;
		long		n;

		errno = 0;
		n = strtol(value, &end, 10);
		while (isspace((unsigned char) *end))
			end++;
		if (errno != 0 || *end != '\0' || n < 0 || n >= RATE_MAX_UNIX_S)
			return 0;
		if (n < SECS_PER_DAY)
			return TimestampTzPlusMilliseconds(now, (int64) n * 1000);
		return (TimestampTz) (n - ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)) *
			USECS_PER_SEC;
	}

	if (parse_js_date(value, &result) || parse_http_date(value, &result))
		return result;
	return 0;
}

/*
 * header_value
 *		If line is header "name: value", copy its trimmed value and say so
 */
static bool
header_value(const char *line, size_t len, const char *name,
			 char *value, size_t valuesize)
{
	size_t		namelen = strlen(name);
	size_t		i;
	size_t		n = 0;

	if (len <= namelen || line[namelen] != ':' ||
		pg_strncasecmp(line, name, namelen) != 0)
		return false;

	i = namelen + 1;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (i < len && n < valuesize - 1)
		value[n++] = line[i++];
	while (n > 0 && isspace((unsigned char) value[n - 1]))
		n--;
	value[n] = '\0';
	return true;
}

/*
 * parse_count
 *		A non-negative decimal integer, capped at max; -1 if s is not one
 */
static long
parse_count(const char *s, long max)
{
	char	   *end;
	long		v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0')
		return -1;
	if (errno == ERANGE || v > max)
		return max;
	return v;
}

/*
 * make_timestamp_utc
 *		A TimestampTz from a broken-down UTC time minus an offset in seconds
 */
static bool
make_timestamp_utc(int year, int mon, int mday, int hour, int min, int sec,
				   int offset_s, TimestampTz *result)
{
	int64		days;

	if (year < 1970 || year > 9999 || mon < 1 || mon > 12 || mday < 1 ||
		mday > day_tab[isleap(year)][mon - 1] || hour > 23 || min > 59 || sec > 60)
		return false;
	days = date2j(year, mon, mday) - POSTGRES_EPOCH_JDATE;
	*result = ((days * SECS_PER_DAY) + hour * SECS_PER_HOUR + min * SECS_PER_MINUTE +
			   sec - offset_s) * USECS_PER_SEC;
	return true;
}

/*
 * parse_js_date
 *		"Tue Feb 16 2021 09:02:42 GMT+0100 (Central European Standard Time)";
 *		the zone name in parentheses is optional and ignored
 */
static bool
parse_js_date(const char *s, TimestampTz *result)
{
	char		wday[4];
	char		mon[4];
	char		zone[4];
	int			mday,
				year,
				hour,
				min,
				sec,
				used = 0;
	int			offset_s = 0;
	const char *p;

	if (sscanf(s, "%3s %3s %d %d %d:%d:%d %3s%n", wday, mon, &mday, &year,
			   &hour, &min, &sec, zone, &used) != 8 || used == 0)
		return false;
	if (strcmp(zone, "GMT") != 0 && strcmp(zone, "UTC") != 0)
		return false;

	p = s + used;
	if (*p == '+' || *p == '-')
	{
		int			sign = (*p == '+') ? 1 : -1;
		int			digits = 0;
		int			hhmm = 0;

		for (p++; isdigit((unsigned char) *p) && digits < 4; p++, digits++)
			hhmm = hhmm * 10 + (*p - '0');
		if (digits != 4 || hhmm % 100 > 59 || hhmm / 100 > 14)
			return false;
		offset_s = sign * ((hhmm / 100) * SECS_PER_HOUR + (hhmm % 100) * SECS_PER_MINUTE);
	}
	while (*p == ' ')
		p++;
	if (*p != '\0' && *p != '(')
		return false;

	return make_timestamp_utc(year, month_number(mon), mday, hour, min, sec,
							  offset_s, result);
}

/*
 * parse_http_date
 *		"Tue, 16 Feb 2021 08:02:42 GMT" (RFC 9110's IMF-fixdate)
 */
static bool
parse_http_date(const char *s, TimestampTz *result)
{
	char		wday[4];
	char		mon[4];
	char		zone[4];
	int			mday,
				year,
				hour,
				min,
				sec,
				used = 0;

	if (sscanf(s, "%3[A-Za-z], %d %3s %d %d:%d:%d %3s%n", wday, &mday, mon, &year,
			   &hour, &min, &sec, zone, &used) != 8 || used == 0)
		return false;
	if (strcmp(zone, "GMT") != 0 || s[used] != '\0')
		return false;
	return make_timestamp_utc(year, month_number(mon), mday, hour, min, sec, 0,
							  result);
}

/*
 * month_number
 *		1 to 12 for "Jan" to "Dec", 0 for anything else
 */
static int
month_number(const char *s)
{
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};

	for (int i = 0; i < 12; i++)
	{
		if (strcmp(s, months[i]) == 0)
			return i + 1;
	}
	return 0;
}
