/*-------------------------------------------------------------------------
 *
 * pacing.c
 *		  Client-side pacing of lemlist_fdw: at most rate_limit requests per
 *		  rate_window_ms per API key; what lemlist's rate limit headers say;
 *		  how long to wait before a retry
 *
 * lemlist counts requests per API key in windows of 2 seconds and answers
 * 429 beyond 20.  This file decides when a request may start so that it
 * never comes to that, whatever the window's alignment and however the
 * network delays a request: a request may start at time s only if fewer
 * than rate_limit requests of the key ended after s - rate_window_ms, a
 * request still in flight counting as not ended.  Since the API counts a
 * request at some moment between its start and its end, any rate_limit + 1
 * requests are then counted at least a whole window apart, so no window,
 * fixed or sliding, can see more than rate_limit of them.  The margin this
 * buys costs one response time per window, and nothing else.
 *
 * The model is corrected with what lemlist says: X-RateLimit-Limit lowers
 * the limit; X-RateLimit-Remaining reveals requests of the key we do not know
 * about (another client, another backend without shared memory), which are
 * then counted until X-RateLimit-Reset (a JavaScript Date string, parsed
 * here); a window used up by others, and Retry-After after a 429, hold the
 * key.
 *
 * Design rules:
 *
 * - Keys are told apart by a 64-bit hash (lemlist_key_hash); neither this
 *	 file nor shared memory ever holds a key.
 *
 * - A small fixed table of keys (PACING_KEYS), each with a ring of its last
 *	 PACING_SLOTS requests.  When lemlist_fdw is in shared_preload_libraries
 *	 the table is in shared memory, under one LWLock, and every backend
 *	 paces against it; otherwise each backend has its own.  The lock is held
 *	 for a few microseconds and nothing waits or throws while holding it.
 *
 * - Nothing here sleeps: callers (connection.c) get the time a request may
 *	 start, or the back-off before a retry, and wait on their latch,
 *	 interruptibly.
 *	 Nothing here includes curl.h either: http.c hands over header lines.
 *
 * - A request in flight counts until it ends or until its deadline (its
 *	 timeout), so that a backend that dies with requests in flight cannot
 *	 hold a key for longer than that.
 *
 * IDENTIFICATION
 *		  src/pacing.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

/* API keys remembered at once; the least recently used is forgotten. */
#define PACING_KEYS				8
/* Requests remembered per key: the largest useful rate_limit. */
#define PACING_SLOTS			1024
/* Added to the window, for clock granularity on either side. */
#define PACING_MARGIN_MS		5
/* Exponential back-off: base * 2^retry, capped, then randomized +-50%. */
#define PACING_BACKOFF_BASE_MS	200
#define PACING_BACKOFF_MAX_MS	5000
/* Longest Retry-After we accept, in seconds. */
#define PACING_MAX_RETRY_AFTER_S 3600
/* Unix seconds of 10000-01-01: a larger X-RateLimit-Reset is no time. */
#define PACING_MAX_UNIX_S		253402300800L
#define PACING_KEY_HASH_SEED	UINT64CONST(0x6c656d6c69737466)
#define PACING_TRANCHE			"lemlist_fdw"

/* One request of a key: when it started, and when it ended (or will have). */
typedef struct PacingSlot
{
	TimestampTz start;
	TimestampTz end;			/* in flight: its deadline */
} PacingSlot;

typedef struct PacingKey
{
	uint64		key_hash;
	bool		used;
	TimestampTz last_used;
	TimestampTz hold_until;		/* start nothing before */
	int			server_limit;	/* last X-RateLimit-Limit, 0 if none */
	uint64		next;			/* requests recorded; slot of the next */
	PacingSlot	slots[PACING_SLOTS];
} PacingKey;

typedef struct PacingTable
{
	LWLock	   *lock;			/* NULL in a backend-local table */
	PacingKey	keys[PACING_KEYS];
} PacingTable;

static PacingTable *pacing_shared = NULL;
static PacingTable *pacing_local = NULL;

#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void pacing_shmem_request(void);
static void pacing_shmem_startup(void);
static PacingTable *pacing_lock(void);
static void pacing_unlock(PacingTable *table);
static PacingKey *pacing_key(PacingTable *table, uint64 key_hash, TimestampTz now,
							 bool create);
static int	pacing_limit(const PacingKey *key, int rate_limit);
static int	pacing_recent_ends(const PacingKey *key, TimestampTz since,
							   TimestampTz *ends);
static void pacing_record(PacingKey *key, TimestampTz start, TimestampTz end);
static int	cmp_timestamp_desc(const void *a, const void *b);
static bool header_value(const char *line, size_t len, const char *name,
						 char *value, size_t valuesize);
static long parse_count(const char *s, long max);
static TimestampTz parse_reset(const char *value, TimestampTz now);
static bool parse_js_date(const char *s, TimestampTz *result);
static bool parse_http_date(const char *s, TimestampTz *result);
static int	month_number(const char *s);


/* ---------------------------------------------------------------------
 * Shared memory
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_pacing_init
 *		Ask for the shared table when loaded by shared_preload_libraries
 *
 * Called from _PG_init.  Loaded any other way, backends pace on their own.
 */
void
lemlist_pacing_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pacing_shmem_request;
#else
	pacing_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pacing_shmem_startup;
}

/*
 * pacing_shmem_request
 *		Reserve the table and its lock
 */
static void
pacing_shmem_request(void)
{
#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(PacingTable)));
	RequestNamedLWLockTranche(PACING_TRANCHE, 1);
}

/*
 * pacing_shmem_startup
 *		Create or attach to the shared table
 */
static void
pacing_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pacing_shared = ShmemInitStruct("lemlist_fdw pacing", sizeof(PacingTable), &found);
	if (!found)
	{
		memset(pacing_shared, 0, sizeof(PacingTable));
		pacing_shared->lock = &(GetNamedLWLockTranche(PACING_TRANCHE))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * pacing_lock
 *		The table to use, locked if shared
 */
static PacingTable *
pacing_lock(void)
{
	if (pacing_shared != NULL)
	{
		LWLockAcquire(pacing_shared->lock, LW_EXCLUSIVE);
		return pacing_shared;
	}
	if (pacing_local == NULL)
		pacing_local = MemoryContextAllocZero(TopMemoryContext, sizeof(PacingTable));
	return pacing_local;
}

static void
pacing_unlock(PacingTable *table)
{
	if (table->lock != NULL)
		LWLockRelease(table->lock);
}


/* ---------------------------------------------------------------------
 * The interface
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_key_hash
 *		What pacing, the memo and the transport know of an API key
 */
uint64
lemlist_key_hash(const char *api_key)
{
	return hash_bytes_extended((const unsigned char *) api_key, strlen(api_key),
							   PACING_KEY_HASH_SEED);
}

/*
 * lemlist_pacing_acquire
 *		Start a request of a key now, if pacing allows
 *
 * On success the request is recorded as in flight until deadline, *ticket
 * says which it is (for lemlist_pacing_release), and the result is true.
 * Otherwise *ready is when to ask again: the answer can only get better
 * earlier if a request of the key ends (or another backend's does).
 */
bool
lemlist_pacing_acquire(uint64 key_hash, int rate_limit, int window_ms,
					   TimestampTz now, TimestampTz deadline,
					   LemlistPacingTicket *ticket, TimestampTz *ready)
{
	PacingTable *table = pacing_lock();
	PacingKey  *key = pacing_key(table, key_hash, now, true);
	int			limit = pacing_limit(key, rate_limit);
	TimestampTz window = (TimestampTz) (window_ms + PACING_MARGIN_MS) * 1000;
	TimestampTz at = key->hold_until;
	TimestampTz ends[PACING_SLOTS];
	int			n;

	n = pacing_recent_ends(key, now - window, ends);
	if (n >= limit)
	{
		/* the limit-th latest end must be a window ago */
		qsort(ends, n, sizeof(TimestampTz), cmp_timestamp_desc);
		at = Max(at, ends[limit - 1] + window);
	}
	if (key->next >= PACING_SLOTS)
	{
		/* never forget a request that still counts */
		const PacingSlot *oldest = &key->slots[key->next % PACING_SLOTS];

		if (oldest->end > now - window)
			at = Max(at, oldest->end + window);
	}

	if (at > now)
	{
		pacing_unlock(table);
		*ready = at;
		return false;
	}

	ticket->key_hash = key_hash;
	ticket->seq = key->next;
	ticket->start = now;
	pacing_record(key, now, Max(deadline, now));
	pacing_unlock(table);
	return true;
}

/*
 * lemlist_pacing_release
 *		A request has ended (answered or failed): it counts from now on
 *		only for a window
 *
 * Never throws, so that cleanup after an ERROR may call it.
 */
void
lemlist_pacing_release(const LemlistPacingTicket *ticket, TimestampTz now)
{
	PacingTable *table = pacing_lock();
	PacingKey  *key = pacing_key(table, ticket->key_hash, now, false);

	if (key != NULL && ticket->seq < key->next &&
		key->next - ticket->seq <= PACING_SLOTS)
	{
		PacingSlot *slot = &key->slots[ticket->seq % PACING_SLOTS];

		if (slot->start == ticket->start && slot->end > now)
			slot->end = Max(now, slot->start);
	}
	pacing_unlock(table);
}

/*
 * lemlist_pacing_observe
 *		Correct the model with the rate limit headers of an answer
 *
 * lemlist counted the answer's request after all of ours that it counted,
 * so requests it counts beyond those we know of are someone else's: they
 * count until the reset (or for a window), and if they used the window up,
 * the key waits for the reset.
 */
void
lemlist_pacing_observe(uint64 key_hash, int rate_limit, int window_ms,
					   TimestampTz now, const LemlistRateHeaders *headers)
{
	PacingTable *table;
	PacingKey  *key;
	TimestampTz window = (TimestampTz) (window_ms + PACING_MARGIN_MS) * 1000;
	TimestampTz ends[PACING_SLOTS];
	TimestampTz reset_at = 0;
	long		limit = headers->limit;
	long		remaining = headers->remaining;
	long		used;
	int			ours;
	int			theirs;

	if (limit < 0 && remaining < 0)
		return;

	/* a reset in the past, or further than a window, is not believed */
	if (headers->reset[0] != '\0')
		reset_at = parse_reset(headers->reset, now);
	if (reset_at != 0 && (reset_at <= now || reset_at > now + window))
		reset_at = 0;

	table = pacing_lock();
	key = pacing_key(table, key_hash, now, true);
	if (limit > 0)
		key->server_limit = (int) Min(limit, (long) INT_MAX);
	if (remaining < 0)
	{
		pacing_unlock(table);
		return;
	}

	used = (limit > 0 ? limit : pacing_limit(key, rate_limit)) - remaining;
	ours = pacing_recent_ends(key, now - window, ends);
	theirs = (int) Min(used - ours, (long) pacing_limit(key, rate_limit));
	if (theirs > 0)
	{
		TimestampTz until = reset_at ? reset_at : now + window;

		for (int i = 0; i < theirs; i++)
			pacing_record(key, now, until - window);
		if (remaining == 0)
			key->hold_until = Max(key->hold_until, until);
	}
	pacing_unlock(table);

	if (theirs > 0)
		elog(DEBUG2, "lemlist_fdw: lemlist counts %ld requests of the key in its window, %d more than were sent from here",
			 used, theirs);
}

/*
 * lemlist_pacing_hold
 *		Start no request of the key before until (Retry-After)
 */
void
lemlist_pacing_hold(uint64 key_hash, TimestampTz now, TimestampTz until)
{
	PacingTable *table = pacing_lock();
	PacingKey  *key = pacing_key(table, key_hash, now, true);

	key->hold_until = Max(key->hold_until, until);
	pacing_unlock(table);
}


/* ---------------------------------------------------------------------
 * The table
 * ---------------------------------------------------------------------
 */

/*
 * pacing_key
 *		The entry of a key, made (forgetting the least recently used key) if
 *		create, NULL otherwise
 */
static PacingKey *
pacing_key(PacingTable *table, uint64 key_hash, TimestampTz now, bool create)
{
	PacingKey  *victim = &table->keys[0];

	for (int i = 0; i < PACING_KEYS; i++)
	{
		PacingKey  *key = &table->keys[i];

		if (key->used && key->key_hash == key_hash)
		{
			key->last_used = now;
			return key;
		}
		if (victim->used && (!key->used || key->last_used < victim->last_used))
			victim = key;
	}
	if (!create)
		return NULL;

	memset(victim, 0, sizeof(PacingKey));
	victim->used = true;
	victim->key_hash = key_hash;
	victim->last_used = now;
	return victim;
}

/*
 * pacing_limit
 *		Requests per window: rate_limit, or lemlist's own limit if lower
 */
static int
pacing_limit(const PacingKey *key, int rate_limit)
{
	int			limit = Max(rate_limit, 1);

	if (key->server_limit > 0)
		limit = Min(limit, key->server_limit);
	return Min(limit, PACING_SLOTS);
}

/*
 * pacing_recent_ends
 *		The ends of the key's requests that end after since (in flight
 *		included), into ends; returns how many
 */
static int
pacing_recent_ends(const PacingKey *key, TimestampTz since, TimestampTz *ends)
{
	uint64		first = key->next > PACING_SLOTS ? key->next - PACING_SLOTS : 0;
	int			n = 0;

	for (uint64 seq = first; seq < key->next; seq++)
	{
		const PacingSlot *slot = &key->slots[seq % PACING_SLOTS];

		if (slot->end > since)
			ends[n++] = slot->end;
	}
	return n;
}

static void
pacing_record(PacingKey *key, TimestampTz start, TimestampTz end)
{
	PacingSlot *slot = &key->slots[key->next % PACING_SLOTS];

	slot->start = start;
	slot->end = end;
	key->next++;
}

static int
cmp_timestamp_desc(const void *a, const void *b)
{
	TimestampTz x = *(const TimestampTz *) a;
	TimestampTz y = *(const TimestampTz *) b;

	return (x < y) ? 1 : (x > y) ? -1 : 0;
}


/* ---------------------------------------------------------------------
 * What lemlist says: the rate limit headers; waits before a retry
 * ---------------------------------------------------------------------
 */

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
		headers->retry_after_s = parse_count(value, PACING_MAX_RETRY_AFTER_S);
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
 * lemlist_backoff_ms
 *		Back-off before retry number retry (from 0): 200 ms * 2^retry, at most
 *		5 s, randomized by +-50% so that parallel requests spread out
 */
long
lemlist_backoff_ms(int retry)
{
	long		ms = PACING_BACKOFF_BASE_MS;

	while (retry-- > 0 && ms < PACING_BACKOFF_MAX_MS)
		ms *= 2;
	ms = Min(ms, PACING_BACKOFF_MAX_MS);

	/* random() yields 0 .. 2^31-1 */
	return (long) (ms * (0.5 + (double) random() / 2147483648.0));
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
 * parse_reset
 *		The time an X-RateLimit-Reset value names, or 0 if it names none
 *
 * lemlist sends JavaScript's Date.toString(), "Tue Feb 16 2021 09:02:42
 * GMT+0100 (Central European Standard Time)".  An HTTP date ("Tue, 16 Feb
 * 2021 08:02:42 GMT") and Unix seconds are accepted too, as are seconds
 * from now (a number below a day's worth).
 */
static TimestampTz
parse_reset(const char *value, TimestampTz now)
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
		if (errno != 0 || *end != '\0' || n < 0 || n >= PACING_MAX_UNIX_S)
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
