/*-------------------------------------------------------------------------
 *
 * pacing.c
 *		  Client-side pacing of lemlist_fdw: at most rate_limit requests per
 *		  rate_window_ms per API key, corrected by what lemlist's rate limit
 *		  headers say; how long to wait before a retry
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
 * then counted until X-RateLimit-Reset (a JavaScript Date string, read by
 * rate_headers.c); a window used up by others, and Retry-After after a 429,
 * hold the key.
 *
 * Design rules:
 *
 * - Keys are told apart by a 64-bit hash (lemlist_key_hash); neither this
 *	 file nor shared memory ever holds a key.
 *
 * - Each key has a ring of its last LEMLIST_PACING_SLOTS requests, in the
 *	 table of pacing_table.c, which every backend may share: an entry is
 *	 only read or written between lemlist_pacing_lock and
 *	 lemlist_pacing_unlock, and nothing waits or throws in between.
 *
 * - Nothing here sleeps: callers (connection.c) get the time a request may
 *	 start, or the back-off before a retry, and wait on their latch,
 *	 interruptibly.
 *	 Nothing here includes curl.h either: http.c hands header lines over to
 *	 rate_headers.c.
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

#include <limits.h>

#include "common/hashfn.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

/* Added to the window, for clock granularity on either side. */
#define PACING_MARGIN_MS		5
/* Exponential back-off: base * 2^retry, capped, then randomized +-50%. */
#define PACING_BACKOFF_BASE_MS	200
#define PACING_BACKOFF_MAX_MS	5000
#define PACING_KEY_HASH_SEED	UINT64CONST(0x6c656d6c69737466)

static int	pacing_limit(const LemlistPacingKey *key, int rate_limit);
static int	pacing_recent_ends(const LemlistPacingKey *key, TimestampTz since,
							   TimestampTz *ends);
static void pacing_record(LemlistPacingKey *key, TimestampTz start, TimestampTz end);
static int	cmp_timestamp_desc(const void *a, const void *b);


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
	LemlistPacingKey *key = lemlist_pacing_lock(key_hash, now, true);
	int			limit = pacing_limit(key, rate_limit);
	TimestampTz window = (TimestampTz) (window_ms + PACING_MARGIN_MS) * 1000;
	TimestampTz at = key->hold_until;
	TimestampTz ends[LEMLIST_PACING_SLOTS];
	int			n;

	n = pacing_recent_ends(key, now - window, ends);
	if (n >= limit)
	{
		/* the limit-th latest end must be a window ago */
		qsort(ends, n, sizeof(TimestampTz), cmp_timestamp_desc);
		at = Max(at, ends[limit - 1] + window);
	}
	if (key->next >= LEMLIST_PACING_SLOTS)
	{
		/* never forget a request that still counts */
		const LemlistPacingSlot *oldest = &key->slots[key->next % LEMLIST_PACING_SLOTS];

		if (oldest->end > now - window)
			at = Max(at, oldest->end + window);
	}

	if (at > now)
	{
		lemlist_pacing_unlock();
		*ready = at;
		return false;
	}

	key->rate_limit = rate_limit;
	key->window_ms = window_ms;
	ticket->key_hash = key_hash;
	ticket->seq = key->next;
	ticket->start = now;
	pacing_record(key, now, Max(deadline, now));
	lemlist_pacing_unlock();
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
	LemlistPacingKey *key = lemlist_pacing_lock(ticket->key_hash, now, false);

	if (key != NULL && ticket->seq < key->next &&
		key->next - ticket->seq <= LEMLIST_PACING_SLOTS)
	{
		LemlistPacingSlot *slot = &key->slots[ticket->seq % LEMLIST_PACING_SLOTS];

		if (slot->start == ticket->start && slot->end > now)
			slot->end = Max(now, slot->start);
	}
	lemlist_pacing_unlock();
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
	LemlistPacingKey *key;
	TimestampTz window = (TimestampTz) (window_ms + PACING_MARGIN_MS) * 1000;
	TimestampTz ends[LEMLIST_PACING_SLOTS];
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
		reset_at = lemlist_parse_rate_reset(headers->reset, now);
	if (reset_at != 0 && (reset_at <= now || reset_at > now + window))
		reset_at = 0;

	key = lemlist_pacing_lock(key_hash, now, true);
	if (limit > 0)
		key->server_limit = (int) Min(limit, (long) INT_MAX);
	if (remaining < 0)
	{
		lemlist_pacing_unlock();
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
	lemlist_pacing_unlock();

	if (theirs > 0)
		elog(DEBUG2, "lemlist_fdw: lemlist counts %ld requests of the key in its window, %d more than were sent from here",
			 used, theirs);
}

/*
 * lemlist_pacing_hold
 *		After a 429: start no request of the key before until (Retry-After)
 */
void
lemlist_pacing_hold(uint64 key_hash, TimestampTz now, TimestampTz until)
{
	LemlistPacingKey *key = lemlist_pacing_lock(key_hash, now, true);

	key->hold_until = Max(key->hold_until, until);
	key->rate_limited++;
	lemlist_pacing_unlock();
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
 * pacing_limit
 *		Requests per window: rate_limit, or lemlist's own limit if lower
 */
static int
pacing_limit(const LemlistPacingKey *key, int rate_limit)
{
	int			limit = Max(rate_limit, 1);

	if (key->server_limit > 0)
		limit = Min(limit, key->server_limit);
	return Min(limit, LEMLIST_PACING_SLOTS);
}

/*
 * pacing_recent_ends
 *		The ends of the key's requests that end after since (in flight
 *		included), into ends; returns how many
 */
static int
pacing_recent_ends(const LemlistPacingKey *key, TimestampTz since, TimestampTz *ends)
{
	uint64		first = key->next > LEMLIST_PACING_SLOTS ? key->next - LEMLIST_PACING_SLOTS : 0;
	int			n = 0;

	for (uint64 seq = first; seq < key->next; seq++)
	{
		const LemlistPacingSlot *slot = &key->slots[seq % LEMLIST_PACING_SLOTS];

		if (slot->end > since)
			ends[n++] = slot->end;
	}
	return n;
}

static void
pacing_record(LemlistPacingKey *key, TimestampTz start, TimestampTz end)
{
	LemlistPacingSlot *slot = &key->slots[key->next % LEMLIST_PACING_SLOTS];

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

/*
 * lemlist_pacing_waited
 *		Requests of the key waited ms for the rate limit
 */
void
lemlist_pacing_waited(uint64 key_hash, TimestampTz now, double ms)
{
	LemlistPacingKey *key = lemlist_pacing_lock(key_hash, now, false);

	if (key != NULL)
		key->waited_ms += ms;
	lemlist_pacing_unlock();
}

/*
 * lemlist_pacing_in_window
 *		The requests of a key that count in its current window (in flight,
 *		or ended less than a window ago), for lemlist_fdw_pacing()
 */
int
lemlist_pacing_in_window(const LemlistPacingKey *key, TimestampTz now)
{
	TimestampTz ends[LEMLIST_PACING_SLOTS];
	TimestampTz window = (TimestampTz) (key->window_ms + PACING_MARGIN_MS) * 1000;

	return pacing_recent_ends(key, now - window, ends);
}
