/*-------------------------------------------------------------------------
 *
 * pacing.c
 *		  Client-side pacing for lemlist_fdw: at most rate_limit requests per
 *		  rate_window_ms per API key, corrected by lemlist's rate limit
 *		  headers; also how long to wait before a retry
 *
 * lemlist counts requests per API key in windows of 2 seconds, and answers
 * 429 to any request beyond 20 in a window.  This file decides when a
 * request may start so that this never happens, whatever the alignment of
 * the window and however long the network delays a request.  The rule is:
 * a request may start at time s only if fewer than rate_limit requests of
 * the key ended after s - rate_window_ms.  A request that is still in
 * flight counts as not ended.  The API counts each request at some moment
 * between its start and its end.  So under this rule, any rate_limit + 1
 * requests are counted over a span of at least a whole window, and no
 * window, fixed or sliding, can see more than rate_limit of them.  This
 * safety margin costs one response time per window, and nothing else.
 *
 * The model is corrected with what lemlist says.  X-RateLimit-Limit lowers
 * the limit, and a Retry-After that comes with a 429 puts the key on hold.
 * Other clients may use the key too (another cluster, or a backend without
 * shared memory), so lemlist's own window also bounds how many requests of
 * the key we start.  Each answer says how many requests lemlist counted in
 * its window (X-RateLimit-Limit minus X-RateLimit-Remaining).  The requests
 * counted beyond those we started in that window are other clients'.  The
 * window ends at X-RateLimit-Reset (a JavaScript Date string in whole
 * seconds, rounded up) or one window length after our first answer counted
 * in it, whichever comes sooner.
 *
 * Suppose several clients of a key all start their requests at the start
 * of a window.  Each of them sees the others only partly, because the
 * answers to the requests counted first come back before the other
 * requests are counted.  So each window goes in two steps.  First we send
 * our share of the window, all but one request, at once.  The last request
 * of the share (the observer) starts a quarter of a window (at most half a
 * second) after our first answer of the window.  lemlist then counts it
 * after the first requests of anyone who started the window at about the
 * same time as we did, so its answer shows what others use.  Then the
 * share is settled: we take half of what nobody uses of the window, and
 * then half of the rest again at each answer, as long as we are alone in
 * the window.  What others were seen to use of a window is left to them in
 * the next window.  A client that takes more than half of a window that
 * others use too gives back half of the excess.  So two clients of a key
 * end up with half each.  When the observer of one client was counted after
 * the other client's observer and missed it, the one extra request that
 * client takes is what it gives back.  A key whose share is not known (a
 * new key, or one that was idle for a while) starts with half the limit.
 *
 * Where the state lives: when lemlist_fdw is in shared_preload_libraries,
 * it is a table of lemlist_fdw.max_shared_keys entries in shared memory,
 * under one LWLock, and every backend paces against it.  A key in use (one
 * with a request in flight or in its window, or with a hold) keeps its
 * entry.  A key that finds no free entry is paced by its backend alone, and
 * the backend says so with a WARNING, once.  Without shared_preload_libraries,
 * and for keys beyond the shared table, each backend has its own small table
 * (PACING_LOCAL_KEYS entries), where the least recently used key is
 * forgotten.  lemlist_fdw_pacing() shows both tables.
 *
 * Design rules:
 *
 * - Keys are told apart by a 64-bit hash (lemlist_key_hash); neither this
 *	 file nor shared memory ever holds a key.
 *
 * - Each key has a ring of its last LEMLIST_PACING_SLOTS requests.  An entry
 *	 is only read or written between lock_key and unlock_keys, and nothing
 *	 waits or throws in between (the lock is held for microseconds).
 *
 * - Nothing here sleeps.  Callers (http.c) get the time a request may
 *	 start, or the back-off before a retry, and wait on their latch,
 *	 interruptibly.  Nothing here includes curl.h either.  From curl's
 *	 header callback, http.c hands each header line of an answer to
 *	 lemlist_rate_header, which never throws and never allocates.  A header
 *	 value that cannot be parsed is treated as if it had not been sent.
 *	 Counts are capped, and Retry-After is capped at an hour.
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
#include <limits.h>

#include "catalog/pg_authid.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "lemlist_fdw.h"

/* Requests remembered per key: the largest useful rate_limit. */
#define LEMLIST_PACING_SLOTS	1024

/* One request of a key: when it started, and when it ended (or will end). */
typedef struct LemlistPacingSlot
{
	TimestampTz start;
	TimestampTz end;			/* in flight: its deadline */
} LemlistPacingSlot;

/*
 * What pacing knows about one API key: its last LEMLIST_PACING_SLOTS
 * requests, and lemlist's current window for the key.
 *
 * A window is "unheard" from the moment we begin to count our requests in
 * it (win_start) until an answer counted in it arrives (win_heard and
 * win_end are then set).  While the window is unheard, all but the last of
 * win_cap requests may start, for at most one window length.  Once it is
 * heard, the rest of win_cap may start until win_end, and what others used
 * of the window (win_theirs) bounds them too.
 */
typedef struct LemlistPacingKey
{
	uint64		key_hash;
	bool		used;
	TimestampTz last_used;
	TimestampTz hold_until;		/* start nothing before */
	int			server_limit;	/* last X-RateLimit-Limit, 0 if none */
	/* lemlist's window, as its headers describe it */
	TimestampTz win_reset;		/* its X-RateLimit-Reset, 0 if none */
	TimestampTz win_start;		/* when we began to count in it, 0 if never */
	TimestampTz win_heard;		/* our first answer in it; 0 if unheard */
	TimestampTz win_observe;	/* requests started from then on see others */
	TimestampTz win_end;		/* when it ends at the latest, once heard */
	int			win_cap;		/* at most this many of ours in it */
	int			win_sent;		/* our requests started since win_start */
	int			win_ours;		/* our answers counted in it */
	int			win_theirs;		/* the most requests of others seen in it */
	bool		win_observer;	/* our observer of it has started */
	bool		win_seen;		/* an answer to a request sent once it was heard */
	int			theirs;			/* what others use of a window */
	TimestampTz theirs_at;		/* the end of the window that told it; 0: unknown */
	/* for lemlist_fdw_pacing() */
	int			rate_limit;		/* the options of the last request */
	int			window_ms;
	int64		rate_limited;	/* 429 answers */
	double		waited_ms;		/* time requests waited for the rate limit */
	uint64		next;			/* requests recorded; slot of the next */
	LemlistPacingSlot slots[LEMLIST_PACING_SLOTS];
} LemlistPacingKey;

static LemlistPacingKey *lock_key(uint64 key_hash, TimestampTz now,
								  bool create);
static void unlock_keys(void);
static int	requests_in_window(const LemlistPacingKey *key, TimestampTz now);
static TimestampTz parse_rate_reset(const char *value, TimestampTz now);

/* Added to the window, for clock granularity on either side. */
#define PACING_MARGIN_MS		5
/* How often a request capped in an unheard window looks again. */
#define PACING_POLL_MS			10
/* The observer starts a quarter of a window after our first answer, at most 500 ms. */
#define PACING_OBSERVE_FRACTION	4
#define PACING_OBSERVE_MAX_MS	500
/* After this many windows, what others used is forgotten. */
#define PACING_SHARE_WINDOWS	5
/* Exponential back-off: base * 2^retry, capped, then randomized +-50%. */
#define PACING_BACKOFF_BASE_MS	200
#define PACING_BACKOFF_MAX_MS	5000
#define PACING_KEY_HASH_SEED	UINT64CONST(0x6c656d6c69737466)

static int	pacing_limit(const LemlistPacingKey *key, int rate_limit);
static int	pacing_recent_ends(const LemlistPacingKey *key, TimestampTz since,
							   TimestampTz *ends);
static void pacing_record(LemlistPacingKey *key, TimestampTz start, TimestampTz end);
static int	cmp_timestamp_desc(const void *a, const void *b);
static void pacing_roll_window(LemlistPacingKey *key, int limit, TimestampTz now,
							   TimestampTz window);
static void pacing_close_window(LemlistPacingKey *key, int limit, TimestampTz now);
static void pacing_open_window(LemlistPacingKey *key, int limit, TimestampTz now,
							   TimestampTz window);
static TimestampTz pacing_window_wait(const LemlistPacingKey *key, int limit,
									  TimestampTz now, TimestampTz window, bool more);
static TimestampTz pacing_observe_delay(const LemlistPacingKey *key, TimestampTz now,
										TimestampTz window);
static void pacing_settle_share(LemlistPacingKey *key, int limit, long used,
								TimestampTz now);
static int	pacing_uncounted(const LemlistPacingKey *key, TimestampTz now,
							 TimestampTz since);
static int	pacing_share(int limit, int theirs);

/*
 * The attempt this backend last passed to lemlist_pacing_release.  http.c
 * releases an attempt just before it hands the headers of its answer to
 * lemlist_pacing_observe, which needs to know when that request started.
 */
static uint64 released_key_hash = 0;
static TimestampTz released_start = 0;


/*
 * lemlist_key_hash
 *		Return the hash by which pacing, the memo and the transport know an
 *		API key
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
 * more says whether the caller has more requests of the key to send after
 * this one.  On success, the request is recorded as in flight until
 * deadline, *ticket identifies it (for lemlist_pacing_release), and the
 * result is true.  Otherwise *ready is when to ask again.  The answer can
 * only get better before then if a request of the key ends (in this backend
 * or in another).
 */
bool
lemlist_pacing_acquire(uint64 key_hash, int rate_limit, int window_ms,
					   TimestampTz now, TimestampTz deadline, bool more,
					   LemlistPacingTicket *ticket, TimestampTz *ready)
{
	LemlistPacingKey *key = lock_key(key_hash, now, true);
	int			limit = pacing_limit(key, rate_limit);
	TimestampTz window = (TimestampTz) (window_ms + PACING_MARGIN_MS) * 1000;
	TimestampTz at = key->hold_until;
	TimestampTz ends[LEMLIST_PACING_SLOTS];
	int			n;

	n = pacing_recent_ends(key, now - window, ends);
	if (n >= limit)
	{
		/* the limit-th latest end must be at least a window ago */
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

	/*
	 * lemlist's window limits us too: our share of it, and, once the window
	 * is heard, what others used of it.  Until the share is settled, an
	 * answer may still raise the share.
	 */
	pacing_roll_window(key, limit, now, window);
	at = Max(at, pacing_window_wait(key, limit, now, window, more));

	if (at > now)
	{
		unlock_keys();
		*ready = at;
		return false;
	}

	if (key->win_heard != 0 && !key->win_seen && now >= key->win_observe)
		key->win_observer = true;
	key->win_sent++;
	key->rate_limit = rate_limit;
	key->window_ms = window_ms;
	ticket->key_hash = key_hash;
	ticket->seq = key->next;
	ticket->start = now;
	pacing_record(key, now, Max(deadline, now));
	unlock_keys();
	return true;
}

/*
 * lemlist_pacing_release
 *		Record that a request has ended (answered or failed): from now on it
 *		counts only for one more window
 *
 * Never throws, so that cleanup after an ERROR may call it.
 */
void
lemlist_pacing_release(const LemlistPacingTicket *ticket, TimestampTz now)
{
	LemlistPacingKey *key = lock_key(ticket->key_hash, now, false);

	if (key != NULL && ticket->seq < key->next &&
		key->next - ticket->seq <= LEMLIST_PACING_SLOTS)
	{
		LemlistPacingSlot *slot = &key->slots[ticket->seq % LEMLIST_PACING_SLOTS];

		if (slot->start == ticket->start && slot->end > now)
			slot->end = Max(now, slot->start);
	}
	unlock_keys();

	released_key_hash = ticket->key_hash;
	released_start = ticket->start;
}

/*
 * lemlist_pacing_observe
 *		Correct the model with the rate limit headers of an answer
 *
 * The answer tells which window it was counted in (its reset) and how many
 * requests lemlist counted in that window.  Those beyond all the requests
 * we started in the window are other clients'.  An answer from the current
 * window can only raise that count.  An answer from a later window starts
 * the count anew.  An answer from an earlier window comes too late to
 * matter.  A 429 was not counted, so its request is taken out of our count
 * for the window.
 */
void
lemlist_pacing_observe(uint64 key_hash, int rate_limit, int window_ms,
					   TimestampTz now, const LemlistRateHeaders *headers)
{
	LemlistPacingKey *key;
	TimestampTz window = (TimestampTz) (window_ms + PACING_MARGIN_MS) * 1000;
	TimestampTz reset_at = 0;
	TimestampTz since = now;
	long		limit = headers->limit;
	long		remaining = headers->remaining;
	long		used = 0;
	int			theirs = 0;
	int			lim;
	bool		counted = headers->retry_after_s < 0;	/* a 429 is not */

	if (limit < 0 && remaining < 0)
		return;

	/*
	 * A reset further away than one window (plus the second it is rounded up
	 * to) is not believed.  A reset in the past says that the answer's window
	 * is over.
	 */
	if (headers->reset[0] != '\0')
		reset_at = parse_rate_reset(headers->reset, now);
	if (reset_at > now + window + USECS_PER_SEC)
		reset_at = 0;

	/* when the answer's request started, if it is the one just released */
	if (released_key_hash == key_hash && released_start <= now &&
		released_start > now - window)
		since = released_start;

	key = lock_key(key_hash, now, true);
	if (limit > 0)
		key->server_limit = (int) Min(limit, (long) INT_MAX);
	lim = pacing_limit(key, rate_limit);
	if (remaining < 0)
	{
		/* no remaining count to go by, and so no reason to hold back */
		key->theirs = 0;
		key->theirs_at = now;
		key->win_cap = Max(key->win_cap, lim);
		unlock_keys();
		return;
	}

	if (reset_at != 0 && (reset_at <= now || reset_at < key->win_reset))
	{
		/* counted in a window that has ended since */
		unlock_keys();
		return;
	}
	if (reset_at != 0 && reset_at == key->win_reset && key->win_heard == 0)
	{
		/* counted in the window we left, which may not have ended yet */
		unlock_keys();
		return;
	}

	pacing_roll_window(key, lim, now, window);
	used = Min((limit > 0 ? limit : lim) - remaining, (long) INT_MAX);
	if (key->win_heard == 0 || (reset_at != 0 && reset_at > key->win_reset) ||
		(reset_at == 0 && now >= key->win_end))
	{
		/* the first answer of a window */
		if (key->win_heard != 0)
		{
			/* a later window than the one we thought current: close it */
			pacing_close_window(key, lim, now);
			pacing_open_window(key, lim, now, window);
			key->win_sent = pacing_uncounted(key, now, since) + 1;
		}
		key->win_reset = reset_at;
		key->win_heard = now;
		key->win_observe = now + pacing_observe_delay(key, now, window);
		key->win_end = reset_at != 0 ? Min(reset_at, now + window) : now + window;
	}
	else
		key->win_end = Min(key->win_end, now + window);
	if (counted)
		key->win_ours++;
	else if (key->win_sent > 0)
		key->win_sent--;
	/*
	 * Any request of ours started in the window may have been counted before
	 * this answer.
	 */
	theirs = (int) Max(Min(used - Max(key->win_sent, key->win_ours), (long) lim), 0L);
	key->win_theirs = Max(key->win_theirs, theirs);

	/* an answer to a request that saw the others settles the share */
	if (since >= key->win_observe && since < now)
	{
		key->win_seen = true;
		pacing_settle_share(key, lim, used, now);
	}
	unlock_keys();

	if (theirs > 0)
		elog(DEBUG2, "lemlist_fdw: lemlist counts %ld requests of the key in its window, %d more than were sent from here",
			 used, theirs);
}

/*
 * lemlist_pacing_hold
 *		After a 429, hold the key: start no request of it before the time
 *		until (Retry-After)
 */
void
lemlist_pacing_hold(uint64 key_hash, TimestampTz now, TimestampTz until)
{
	LemlistPacingKey *key = lock_key(key_hash, now, true);

	key->hold_until = Max(key->hold_until, until);
	key->rate_limited++;
	unlock_keys();
}

/*
 * lemlist_backoff_ms
 *		Return the back-off before retry number retry (counting from 0):
 *		200 ms * 2^retry, at most 5 s, randomized by +-50% so that parallel
 *		requests spread out
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
 *		Store in ends the end times of the key's requests that end after since
 *		(requests in flight included); return how many there are
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

/*
 * pacing_roll_window
 *		Begin a new lemlist window when the current one is over: a heard
 *		window is over at its end, an unheard one a window after its start
 */
static void
pacing_roll_window(LemlistPacingKey *key, int limit, TimestampTz now,
				   TimestampTz window)
{
	if (key->win_start != 0 &&
		(key->win_heard != 0 ? now < key->win_end : now < key->win_start + window))
		return;

	pacing_close_window(key, limit, now);
	pacing_open_window(key, limit, now, window);
	/* our requests in flight may still be counted in the new window */
	key->win_sent = pacing_uncounted(key, now, 0);
}

/*
 * pacing_close_window
 *		Close the current window: what others used of it is left to them in
 *		the next window
 *
 * An answer to a request sent after the window was heard saw the others'
 * first requests.  A window without such an answer tells less than the
 * window before it did.  So such a window may raise what others are known
 * to use, but it does not update theirs_at, so that this value is still
 * forgotten in time.
 */
static void
pacing_close_window(LemlistPacingKey *key, int limit, TimestampTz now)
{
	int			theirs = Min(key->win_theirs, limit);

	if (key->win_heard == 0)
		return;
	if (key->win_seen || key->theirs_at == 0)
	{
		key->theirs = theirs;
		key->theirs_at = now;
	}
	else
		key->theirs = Max(theirs, key->theirs);
}

/*
 * pacing_open_window
 *		Start counting our requests in a new window
 *
 * Our share of the new window is what others left of the last one.  A share
 * learned too long ago is forgotten, and a key without a share starts with
 * half the limit.
 */
static void
pacing_open_window(LemlistPacingKey *key, int limit, TimestampTz now,
				   TimestampTz window)
{
	if (key->theirs_at != 0 && key->theirs_at < now - PACING_SHARE_WINDOWS * window)
		key->theirs_at = 0;

	key->win_start = now;
	key->win_heard = 0;
	key->win_end = 0;
	key->win_cap = key->theirs_at != 0 ? pacing_share(limit, key->theirs) : (limit + 1) / 2;
	key->win_sent = 0;
	key->win_ours = 0;
	key->win_theirs = 0;
	key->win_observer = false;
	key->win_seen = false;
}

/*
 * pacing_window_wait
 *		Return when one more of our requests may start in the current window,
 *		as far as is known now (0 means at once)
 *
 * Until the window is heard, all but the last request of our share may
 * start.  When the caller has no more requests, all of the share may
 * start, since there is nothing to settle.  The last request, the observer,
 * starts a while after our first answer.  (With a share of one request, one
 * observer is still sent when the window has room for it.)  lemlist counts
 * the observer after the first requests of anyone who started the window
 * at about the same time as we did, and its answer settles the share.
 * Until then, an answer may still raise the share.
 */
static TimestampTz
pacing_window_wait(const LemlistPacingKey *key, int limit, TimestampTz now,
				   TimestampTz window, bool more)
{
	TimestampTz poll = TimestampTzPlusMilliseconds(now, PACING_POLL_MS);

	if (key->win_heard == 0)
		return key->win_sent < (more ? Max(key->win_cap - 1, 1) : key->win_cap) ? 0 :
			Min(poll, key->win_start + window);
	if (key->win_sent + key->win_theirs >= limit)
		return key->win_end;
	if (key->win_seen)
		return key->win_sent < key->win_cap ? 0 : key->win_end;
	if (key->win_sent < key->win_cap - 1)
		return 0;
	if (!key->win_observer && key->win_sent < Max(key->win_cap, 2))
		return now >= key->win_observe ? 0 : Min(key->win_observe, key->win_end);
	return Min(poll, key->win_end);
}

/*
 * pacing_observe_delay
 *		Return how long after our first answer of a window the observer starts
 *
 * The delay is long enough that lemlist counts the observer after the first
 * requests of those who started the window a little after us.  It is a
 * quarter of the window (at most PACING_OBSERVE_MAX_MS) when others used
 * the key lately, twice our round trip when we do not know, and nothing
 * when we were alone in the last window.
 */
static TimestampTz
pacing_observe_delay(const LemlistPacingKey *key, TimestampTz now, TimestampTz window)
{
	TimestampTz most = Min(window / PACING_OBSERVE_FRACTION,
						   (TimestampTz) PACING_OBSERVE_MAX_MS * 1000);

	if (key->theirs_at == 0)
		return Min(2 * Max(now - key->win_start, 0), most);
	return key->theirs > 0 ? most : 0;
}

/*
 * pacing_settle_share
 *		Settle our share of the window, after an answer that saw the others'
 *		first requests
 *
 * When we are alone, we take what nobody has used of the window.  With
 * others, we take half of it, minus their observer (which may not be
 * counted yet); and when our share was only a guess, we take no more than
 * that.
 */
static void
pacing_settle_share(LemlistPacingKey *key, int limit, long used, TimestampTz now)
{
	long		free = limit - used - pacing_uncounted(key, now, key->win_start);
	long		take;

	if (key->win_theirs > 0)
		take = Max((free - 1) / 2, 0);
	else
		take = Max(free, 0);
	take = Min(key->win_sent + take, (long) limit);

	/* a share we only guessed gives way to what the window shows */
	if (key->theirs_at == 0 && key->win_theirs > 0)
		key->win_cap = (int) take;
	else
		key->win_cap = Max(key->win_cap, (int) take);
}

/*
 * pacing_share
 *		Return how many requests of a window are ours, given what others used
 *		of the last window
 *
 * We take the rest.  But when others used some and the rest is more than
 * half, we give back half of the excess over half, so that a client that
 * came second gets its half.
 */
static int
pacing_share(int limit, int theirs)
{
	int			half = (limit + 1) / 2;
	int			ours = limit - theirs;

	if (theirs > 0 && ours > half)
		ours -= (ours - half + 1) / 2;
	return Max(1, ours);
}

/*
 * pacing_uncounted
 *		Count our requests of the key that started at or after since and have
 *		not ended by now: lemlist may count them later than anything it has
 *		answered
 *
 * The request just released has ended, so it is not one of them.
 */
static int
pacing_uncounted(const LemlistPacingKey *key, TimestampTz now, TimestampTz since)
{
	uint64		first = key->next > LEMLIST_PACING_SLOTS ? key->next - LEMLIST_PACING_SLOTS : 0;
	int			n = 0;

	for (uint64 seq = first; seq < key->next; seq++)
	{
		const LemlistPacingSlot *slot = &key->slots[seq % LEMLIST_PACING_SLOTS];

		if (slot->end > now && slot->start >= since)
			n++;
	}
	return n;
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
 *		Record that requests of the key waited ms for the rate limit
 */
void
lemlist_pacing_waited(uint64 key_hash, TimestampTz now, double ms)
{
	LemlistPacingKey *key = lock_key(key_hash, now, false);

	if (key != NULL)
		key->waited_ms += ms;
	unlock_keys();
}

/*
 * requests_in_window
 *		Return how many requests of a key count in its current window (in
 *		flight, or ended less than a window ago), for lemlist_fdw_pacing()
 */
static int
requests_in_window(const LemlistPacingKey *key, TimestampTz now)
{
	TimestampTz ends[LEMLIST_PACING_SLOTS];
	TimestampTz window = (TimestampTz) (key->window_ms + PACING_MARGIN_MS) * 1000;

	return pacing_recent_ends(key, now - window, ends);
}

/* ---------------------------------------------------------------------
 * The table of keys, in shared memory or in the backend
 * ---------------------------------------------------------------------
 */

/* API keys a backend-local table remembers; the least recently used is forgotten. */
#define PACING_LOCAL_KEYS		8
#define PACING_TRANCHE			"lemlist_fdw"

typedef struct PacingTable
{
	LWLock	   *lock;			/* NULL in a backend-local table */
	int			nkeys;
	LemlistPacingKey keys[FLEXIBLE_ARRAY_MEMBER];
} PacingTable;

/* lemlist_fdw.max_shared_keys: the number of entries in the shared table */
static int	max_shared_keys = 256;

static PacingTable *pacing_shared = NULL;
static PacingTable *pacing_local = NULL;
static bool locked_shared = false;	/* between lock_key and unlock_keys */
static bool warned_full = false;	/* this backend said the shared table is full */

#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size pacing_table_size(int nkeys);
static void pacing_shmem_request(void);
static void pacing_shmem_startup(void);
static PacingTable *pacing_local_table(void);
static bool pacing_in_use(const LemlistPacingKey *key, TimestampTz now);
static LemlistPacingKey *pacing_key(PacingTable *table, uint64 key_hash,
									TimestampTz now, bool create);


/*
 * lemlist_pacing_init
 *		Define the size of the shared table, and request the table itself
 *		when loaded by shared_preload_libraries
 *
 * Called from _PG_init.  When lemlist_fdw is loaded any other way, each
 * backend paces on its own.
 */
void
lemlist_pacing_init(void)
{
	/* a PGC_POSTMASTER setting may only be made while preloading */
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("lemlist_fdw.max_shared_keys",
							"API keys paced together by all backends (in shared memory).",
							"Takes effect when lemlist_fdw is in shared_preload_libraries.  "
							"Once they are all in use, a backend paces a new key on its own.",
							&max_shared_keys,
							256,
							1,
							4096,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

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
 * pacing_table_size
 *		The size in bytes of a table of nkeys entries
 */
static Size
pacing_table_size(int nkeys)
{
	return add_size(offsetof(PacingTable, keys),
					mul_size(nkeys, sizeof(LemlistPacingKey)));
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
	RequestAddinShmemSpace(MAXALIGN(pacing_table_size(max_shared_keys)));
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
	Size		size = pacing_table_size(max_shared_keys);

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pacing_shared = ShmemInitStruct("lemlist_fdw pacing", size, &found);
	if (!found)
	{
		memset(pacing_shared, 0, size);
		pacing_shared->lock = &(GetNamedLWLockTranche(PACING_TRANCHE))->lock;
		pacing_shared->nkeys = max_shared_keys;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * lock_key
 *		Lock the table and find the entry of a key
 *
 * If the key has no entry, one is made when create is true; otherwise the
 * result is NULL.  In the shared table, a new entry is made from a free
 * entry, or from one whose key is no longer in use (nothing in flight, in
 * its window or held), never from a key in use.  When there is no such
 * entry, the key is paced by this backend alone, in its own table, and the
 * backend says so once with a WARNING.  Either way, the table stays locked
 * until unlock_keys.
 */
static LemlistPacingKey *
lock_key(uint64 key_hash, TimestampTz now, bool create)
{
	if (pacing_shared != NULL)
	{
		LemlistPacingKey *key;

		LWLockAcquire(pacing_shared->lock, LW_EXCLUSIVE);
		key = pacing_key(pacing_shared, key_hash, now, create);
		if (key != NULL)
		{
			locked_shared = true;
			return key;
		}
		LWLockRelease(pacing_shared->lock);

		if (create && !warned_full)
		{
			warned_full = true;
			ereport(WARNING,
					(errmsg("lemlist_fdw's shared pacing table is full"),
					 errdetail("All %d entries of \"lemlist_fdw.max_shared_keys\" are in use: this backend paces API keys beyond them on its own, and other backends do not see its requests.",
							   pacing_shared->nkeys),
					 errhint("Raise \"lemlist_fdw.max_shared_keys\" (it takes a restart).")));
		}
	}
	locked_shared = false;
	return pacing_key(pacing_local_table(), key_hash, now, create);
}

/*
 * unlock_keys
 *		Release the lock that lock_key took on the table
 */
static void
unlock_keys(void)
{
	if (locked_shared)
	{
		locked_shared = false;
		LWLockRelease(pacing_shared->lock);
	}
}

/*
 * pacing_local_table
 *		This backend's own table, made on first use
 */
static PacingTable *
pacing_local_table(void)
{
	if (pacing_local == NULL)
	{
		pacing_local = MemoryContextAllocZero(TopMemoryContext,
											  pacing_table_size(PACING_LOCAL_KEYS));
		pacing_local->nkeys = PACING_LOCAL_KEYS;
	}
	return pacing_local;
}

/*
 * pacing_in_use
 *		Whether the entry's key still has something pacing must know about: a
 *		request in flight or in its window, or a hold
 */
static bool
pacing_in_use(const LemlistPacingKey *key, TimestampTz now)
{
	if (key->hold_until > now || key->win_end > now)
		return true;
	/* the cheap test first: used less than a window ago */
	if (key->last_used > TimestampTzPlusMilliseconds(now, -(key->window_ms + 100)))
		return true;
	return requests_in_window(key, now) > 0;
}

/*
 * pacing_key
 *		Return the entry of a key
 *
 * If the key has none and create is true, an entry is made from a free
 * entry, or else from the least recently used one.  In the shared table,
 * only an entry whose key is no longer in use may be taken; when there is
 * none, the result is NULL.
 */
static LemlistPacingKey *
pacing_key(PacingTable *table, uint64 key_hash, TimestampTz now, bool create)
{
	LemlistPacingKey *victim = NULL;
	bool		shared = table->lock != NULL;

	for (int i = 0; i < table->nkeys; i++)
	{
		LemlistPacingKey *key = &table->keys[i];

		if (key->used && key->key_hash == key_hash)
		{
			key->last_used = now;
			return key;
		}
		if (!create)
			continue;
		if (victim != NULL && !victim->used)
			continue;			/* a free entry: the best there is */
		if (!key->used)
			victim = key;
		else if (shared && pacing_in_use(key, now))
			continue;
		else if (victim == NULL || key->last_used < victim->last_used)
			victim = key;
	}
	if (!create || victim == NULL)
		return NULL;			/* in the shared table: every entry in use */

	memset(victim, 0, sizeof(LemlistPacingKey));
	victim->used = true;
	victim->key_hash = key_hash;
	victim->last_used = now;
	return victim;
}

/*
 * What lemlist_fdw_pacing() shows of one entry: a copy, made under the lock.
 */
typedef struct PacingRow
{
	uint64		key_hash;
	bool		shared;
	int			in_window;
	int			window_ms;
	int			rate_limit;
	int			server_limit;
	int64		rate_limited;
	double		waited_ms;
	TimestampTz last_used;
} PacingRow;

static int	pacing_copy_rows(PacingTable *table, bool shared, TimestampTz now,
							 PacingRow *rows);

PG_FUNCTION_INFO_V1(lemlist_fdw_pacing);

/*
 * lemlist_fdw_pacing
 *		Return one row per API key that pacing knows: first those of the
 *		shared table (when lemlist_fdw is preloaded), then this backend's own
 *
 * Only a superuser or a member of pg_read_all_stats may call it.  A key is
 * shown as the first 12 hex digits of its hash, never as the key itself.
 */
Datum
lemlist_fdw_pacing(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	MemoryContext oldcxt;
	TimestampTz now = GetCurrentTimestamp();
	PacingRow  *rows;
	int			nrows = 0;
	int			nshared = pacing_shared ? pacing_shared->nkeys : 0;

	if (!superuser() && !has_privs_of_role(GetUserId(), LEMLIST_ROLE_READ_ALL_STATS))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function lemlist_fdw_pacing"),
				 errdetail("Only superusers and roles with privileges of the \"pg_read_all_stats\" role may see how API keys are paced.")));

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* allocate first: nothing may allocate while the shared table is locked */
	rows = palloc(sizeof(PacingRow) * (nshared + PACING_LOCAL_KEYS));
	if (pacing_shared != NULL)
	{
		LWLockAcquire(pacing_shared->lock, LW_SHARED);
		nrows += pacing_copy_rows(pacing_shared, true, now, rows);
		LWLockRelease(pacing_shared->lock);
	}
	if (pacing_local != NULL)
		nrows += pacing_copy_rows(pacing_local, false, now, rows + nrows);

	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTupleDescCopy(tupdesc);
	store = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(oldcxt);

	for (int i = 0; i < nrows; i++)
	{
		Datum		values[9];
		bool		nulls[9] = {false};
		char		hash[17];

		snprintf(hash, sizeof(hash), "%016llx", (unsigned long long) rows[i].key_hash);
		hash[12] = '\0';
		values[0] = CStringGetTextDatum(hash);
		values[1] = BoolGetDatum(rows[i].shared);
		values[2] = Int32GetDatum(rows[i].in_window);
		values[3] = Int32GetDatum(rows[i].window_ms);
		values[4] = Int32GetDatum(rows[i].rate_limit);
		values[5] = Int32GetDatum(rows[i].server_limit);
		nulls[5] = rows[i].server_limit == 0;
		values[6] = Int64GetDatum(rows[i].rate_limited);
		values[7] = Float8GetDatum(rows[i].waited_ms);
		values[8] = TimestampTzGetDatum(rows[i].last_used);
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;
	return (Datum) 0;
}

/*
 * pacing_copy_rows
 *		Copy what lemlist_fdw_pacing shows of a table's entries into rows;
 *		return how many there were
 */
static int
pacing_copy_rows(PacingTable *table, bool shared, TimestampTz now, PacingRow *rows)
{
	int			n = 0;

	for (int i = 0; i < table->nkeys; i++)
	{
		const LemlistPacingKey *key = &table->keys[i];
		PacingRow  *row = &rows[n];

		if (!key->used)
			continue;
		row->key_hash = key->key_hash;
		row->shared = shared;
		row->in_window = requests_in_window(key, now);
		row->window_ms = key->window_ms;
		row->rate_limit = key->rate_limit;
		row->server_limit = key->server_limit;
		row->rate_limited = key->rate_limited;
		row->waited_ms = key->waited_ms;
		row->last_used = key->last_used;
		n++;
	}
	return n;
}

/* ---------------------------------------------------------------------
 * What lemlist's answers say about its rate limit
 * ---------------------------------------------------------------------
 */

/* Longest Retry-After we accept, in seconds. */
#define RATE_MAX_RETRY_AFTER_S 3600
/* 10000-01-01 in Unix seconds: a larger X-RateLimit-Reset is not a time. */
#define RATE_MAX_UNIX_S		253402300800L

static bool header_value(const char *line, size_t len, const char *name,
						 char *value, size_t valuesize);
static long parse_count(const char *s, long max);
static bool parse_date_text(const char *s, TimestampTz *result);
static int	month_number(const char *s);


/*
 * lemlist_rate_headers_clear
 *		Reset headers to "nothing said yet"
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
 *		Return the wait lemlist asked for after a 429: Retry-After, or else
 *		the whole window
 */
long
lemlist_retry_after_ms(const LemlistRateHeaders *headers, int window_ms)
{
	return headers->retry_after_s >= 0 ? headers->retry_after_s * 1000L : window_ms;
}

/*
 * parse_rate_reset
 *		Return the time an X-RateLimit-Reset value names, or 0 if it names none
 *
 * lemlist sends JavaScript's Date.toString(), "Tue Feb 16 2021 09:02:42
 * GMT+0100 (Central European Standard Time)".  An HTTP date ("Tue, 16 Feb
 * 2021 08:02:42 GMT") and Unix seconds are accepted too, as are seconds
 * from now (a number below a day's worth).
 */
static TimestampTz
parse_rate_reset(const char *value, TimestampTz now)
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

	if (parse_date_text(value, &result))
		return result;
	return 0;
}

/*
 * header_value
 *		If line is the header "name: value", copy its trimmed value into value
 *		and return true
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
 *		Build a TimestampTz from a broken-down UTC time minus an offset in
 *		seconds
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
 * parse_date_text
 *		Parse a date in a form lemlist may use for X-RateLimit-Reset
 *
 * The forms are RFC 9110's IMF-fixdate "Tue, 16 Feb 2021 08:02:42 GMT", and
 * JavaScript's Date.toString() "Tue Feb 16 2021 09:02:42 GMT+0100 (Central
 * European Standard Time)", whose zone name in parentheses is optional and
 * ignored.
 */
static bool
parse_date_text(const char *s, TimestampTz *result)
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

	if (sscanf(s, "%3[A-Za-z], %d %3s %d %d:%d:%d %3s%n", wday, &mday, mon, &year,
			   &hour, &min, &sec, zone, &used) == 8 && used > 0)
	{
		/* IMF-fixdate: GMT, and nothing after it */
		if (strcmp(zone, "GMT") != 0 || s[used] != '\0')
			return false;
	}
	else
	{
		used = 0;
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
	}

	return make_timestamp_utc(year, month_number(mon), mday, hour, min, sec,
							  offset_s, result);
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
