/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  The requests of one scan: queue, memo, pacing, retries
 *
 * The rest of the extension submits LemlistHttpRequests to a
 * LemlistConnection and gets them back, in completion order, with a 2xx
 * status and a palloc'd body; every other outcome becomes an ERROR.  This
 * file decides when each attempt of a request starts and acts on its
 * outcome; http.c carries the attempt out with curl, says whether a failed
 * attempt is worth another, and raises the ERROR of a request that failed
 * for good.  Nothing here includes curl.h.
 *
 * Design rules:
 *
 * - A connection lives as long as the memory context it is opened in: a
 *	 reset callback on that context gives back the curl resources and the
 *	 pacing ticket of every transfer still held, whether the scan ends well
 *	 or by an ERROR thrown elsewhere, and wipes the copy of the API key.
 *
 * - Nothing blocks for more than CONN_SLICE_MS without CHECK_FOR_INTERRUPTS:
 *	 transfers are driven in slices, and waits (pacing, back-off,
 *	 Retry-After) sleep on the latch.  A request waiting to be retried has
 *	 its own "not before" time and never holds up the others.
 *
 * - Every attempt asks pacing.c first (per API key, shared by backends when
 *	 preloaded), and hands it the rate limit headers of the answer and the
 *	 Retry-After of a 429.
 *
 * - Before an attempt starts, memo.c may answer it: an identical request
 *	 answered earlier in the statement (or within cache_ttl).  A request
 *	 identical to one in flight, in any scan of the backend, waits for that
 *	 one's answer instead of being sent twice.  Every 2xx answer is handed to
 *	 memo.c as soon as curl completes it, whichever scan is driving.
 *
 * IDENTIFICATION
 *		  src/connection.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

/* Longest time between two interrupt checks while driving or waiting. */
#define CONN_SLICE_MS			50
/* An attempt counts for pacing at most this long after its timeout. */
#define CONN_DEADLINE_SLACK_MS	1000

/* Where a transfer is; each state but the last has a list in the connection. */
typedef enum ConnState
{
	CONN_QUEUED,				/* waiting to start, FIFO */
	CONN_INFLIGHT,				/* its attempt is with curl */
	CONN_FINISHED,				/* done by curl, outcome not yet handled */
	CONN_DETACHED				/* being handled, or handed back */
} ConnState;

#define CONN_NUM_LISTS	CONN_DETACHED

/*
 * One submitted request.  Allocated in the connection's context; the curl
 * resources of the current attempt are malloc'd, and released by
 * conn_release_transfer.
 */
typedef struct HttpTransfer
{
	dlist_node	all_node;		/* in conn->all until handed back */
	dlist_node	state_node;		/* in conn->lists[state] */
	ConnState	state;
	LemlistConnection *conn;
	LemlistHttpRequest *req;
	char	   *url;			/* api_url + path */
	int			attempts;		/* attempts started so far */
	TimestampTz not_before;		/* earliest start of the next attempt */
	LemlistMemoKey memo_key;	/* the request, for memo.c */
	uint64		memo_looked;	/* memo generation + 1 at the last lookup */
	bool		answered;		/* by the memo: req->response is set */
	bool		in_flight;		/* in conn_inflight */
	dlist_node	inflight_node;
	LemlistHttpAttempt attempt; /* the current attempt */
} HttpTransfer;

struct LemlistConnection
{
	MemoryContext cxt;
	LemlistHttpStats *stats;
	LemlistHttpStats own_stats; /* used when the caller passes none */

	/* copies of the options */
	LemlistHttpSettings settings;	/* what http.c needs */
	char	   *api_url;		/* without trailing slash */
	uint64		key_hash;		/* lemlist_key_hash(api_key) */
	Oid			serverid;
	int			cache_ttl;
	int			max_retries;
	int			max_parallel;
	int			rate_limit;
	int			rate_window_ms;
	bool		waiting;		/* a request waits for an identical one */

	dlist_head	all;			/* every transfer not yet handed back */
	dlist_head	lists[CONN_NUM_LISTS];	/* transfers by state */
	int			counts[CONN_NUM_LISTS];

	MemoryContextCallback cleanup;
};

/* Transfers whose attempt is with curl, whatever their connection. */
static dlist_head conn_inflight = DLIST_STATIC_INIT(conn_inflight);

static void conn_memo_key(LemlistConnection *conn, const LemlistHttpRequest *req,
						  LemlistMemoKey *key);
static void conn_cleanup_callback(void *arg);
static void conn_release_transfer(HttpTransfer *t);
static void conn_set_state(HttpTransfer *t, ConnState state);
static bool conn_start_due(LemlistConnection *conn, TimestampTz now,
						   TimestampTz *wake);
static bool conn_answer_from_memo(LemlistConnection *conn, HttpTransfer *t);
static bool conn_duplicate_inflight(const HttpTransfer *t);
static void conn_start_transfer(LemlistConnection *conn, HttpTransfer *t,
								const LemlistPacingTicket *ticket);
static void conn_drive(long timeout_ms);
static void conn_attempt_ended(LemlistHttpAttempt *attempt, TimestampTz now);
static void conn_sleep(long ms);
static bool conn_finish_transfer(LemlistConnection *conn, HttpTransfer *t,
								 TimestampTz now);
static void conn_schedule_retry(LemlistConnection *conn, HttpTransfer *t,
								long wait_ms, TimestampTz now);


/* ---------------------------------------------------------------------
 * The interface
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_http_open
 *		Create a connection that lives as long as the memory context cxt
 *
 * Nothing is sent before lemlist_http_next.  The options and the key are
 * copied; the copy of the key is wiped when cxt is reset or deleted.
 */
LemlistConnection *
lemlist_http_open(const LemlistOptions *opts, const char *api_key,
				  LemlistHttpStats *stats, MemoryContext cxt)
{
	LemlistConnection *conn;
	size_t		len;
	int			i;

	lemlist_curl_init();

	if (api_key == NULL)
		api_key = "";
	lemlist_remember_key(api_key);	/* masked in whatever lemlist says */

	conn = MemoryContextAllocZero(cxt, sizeof(LemlistConnection));
	conn->cxt = cxt;
	conn->stats = stats ? stats : &conn->own_stats;

	conn->settings.server_name = MemoryContextStrdup(cxt, opts->server_name ? opts->server_name : "");
	conn->api_url = MemoryContextStrdup(cxt, opts->api_url ? opts->api_url : "");
	len = strlen(conn->api_url);
	while (len > 0 && conn->api_url[len - 1] == '/')
		conn->api_url[--len] = '\0';
	conn->settings.api_key = MemoryContextStrdup(cxt, api_key);
	conn->key_hash = lemlist_key_hash(api_key);
	conn->serverid = opts->serverid;
	conn->cache_ttl = Max(opts->cache_ttl, 0);
	conn->settings.connect_timeout_ms = Max(opts->connect_timeout_ms, 0);
	conn->settings.timeout_ms = Max(opts->timeout_ms, 0);
	conn->max_retries = Max(opts->max_retries, 0);
	conn->max_parallel = Max(opts->max_parallel, 1);
	conn->rate_limit = Max(opts->rate_limit, 0);
	conn->rate_window_ms = Max(opts->rate_window_ms, 0);
	conn->settings.max_response_bytes = opts->max_response_bytes;
	conn->settings.ca_file = opts->ca_file ? MemoryContextStrdup(cxt, opts->ca_file) : NULL;
	conn->settings.verify_tls = opts->verify_tls;

	dlist_init(&conn->all);
	for (i = 0; i < CONN_NUM_LISTS; i++)
		dlist_init(&conn->lists[i]);

	conn->cleanup.func = conn_cleanup_callback;
	conn->cleanup.arg = conn;
	MemoryContextRegisterResetCallback(cxt, &conn->cleanup);

	return conn;
}

/*
 * lemlist_http_submit
 *		Queue a request; a later lemlist_http_next sends it
 */
void
lemlist_http_submit(LemlistConnection *conn, LemlistHttpRequest *req)
{
	HttpTransfer *t;

	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
		elog(ERROR, "unsupported HTTP method \"%s\"", req->method);

	t = MemoryContextAllocZero(conn->cxt, sizeof(HttpTransfer));
	t->conn = conn;
	t->req = req;
	t->url = MemoryContextAlloc(conn->cxt,
								strlen(conn->api_url) + strlen(req->path) + 1);
	strcpy(t->url, conn->api_url);
	strcat(t->url, req->path);
	t->state = CONN_DETACHED;
	t->attempt.arg = t;
	t->attempt.settings = &conn->settings;
	lemlist_rate_headers_clear(&t->attempt.rl);

	conn_memo_key(conn, req, &t->memo_key);

	req->status = 0;
	req->response = NULL;
	req->response_len = 0;

	dlist_push_tail(&conn->all, &t->all_node);
	conn_set_state(t, CONN_QUEUED);
	if (req->urgent)
	{
		/* ahead of everything queued: the caller waits on it */
		dlist_delete(&t->state_node);
		dlist_push_head(&conn->lists[CONN_QUEUED], &t->state_node);
	}
}

/*
 * lemlist_http_next
 *		Drive transfers until a request succeeds, and return it
 *
 * Requests come back in completion order, those the memo answers first.
 * Returns NULL when nothing is queued or in flight.  A failure that survives
 * its retries is an ERROR.
 */
LemlistHttpRequest *
lemlist_http_next(LemlistConnection *conn)
{
	TimestampTz last = GetCurrentTimestamp();
	bool		was_inflight = false;
	bool		was_paced = false;

	for (;;)
	{
		TimestampTz now;
		TimestampTz wake;
		double		ms;

		CHECK_FOR_INTERRUPTS();

		/* Account for the slice that just ended. */
		now = GetCurrentTimestamp();
		ms = (double) (now - last) / 1000.0;
		if (was_inflight)
			conn->stats->api_ms += ms;
		if (was_paced)
		{
			conn->stats->pacing_ms += ms;
			lemlist_pacing_waited(conn->key_hash, now, ms);
		}
		last = now;

		/* Handle what curl has finished; a success is handed back at once. */
		while (!dlist_is_empty(&conn->lists[CONN_FINISHED]))
		{
			HttpTransfer *t = dlist_head_element(HttpTransfer, state_node,
												 &conn->lists[CONN_FINISHED]);

			conn_set_state(t, CONN_DETACHED);
			if (conn_finish_transfer(conn, t, now))
			{
				LemlistHttpRequest *req = t->req;

				dlist_delete(&t->all_node);
				pfree(t->url);
				pfree(t);

				/* Fill the freed slot while the caller handles the answer. */
				wake = now;
				(void) conn_start_due(conn, now, &wake);
				if (conn->counts[CONN_INFLIGHT] > 0)
					conn_drive(0);
				return req;
			}
		}

		if (lemlist_http_pending(conn) == 0)
			return NULL;

		/* Start what may start, and learn when to look again. */
		wake = TimestampTzPlusMilliseconds(now, CONN_SLICE_MS);
		was_paced = conn_start_due(conn, now, &wake);
		if (!dlist_is_empty(&conn->lists[CONN_FINISHED]))
		{
			/* the memo answered */
			was_inflight = was_paced = false;
			continue;
		}
		was_inflight = conn->counts[CONN_INFLIGHT] > 0 || conn->waiting;

		/* Another scan's transfer may be what a request waits for. */
		if (!dlist_is_empty(&conn_inflight))
			conn_drive(Max(TimestampDifferenceMilliseconds(now, wake), 1));
		else
			conn_sleep(TimestampDifferenceMilliseconds(now, wake));
	}
}

/*
 * lemlist_http_forget
 *		The answer to req turned out unusable (it did not parse, say): the
 *		memo must not hand it out again
 *
 * Never throws: the caller is cleaning up after an ERROR.
 */
void
lemlist_http_forget(LemlistConnection *conn, const LemlistHttpRequest *req)
{
	LemlistMemoKey key;

	conn_memo_key(conn, req, &key);
	lemlist_memo_forget(&key);
}

/*
 * lemlist_http_pending
 *		Number of requests queued or in flight
 */
int
lemlist_http_pending(LemlistConnection *conn)
{
	return conn->counts[CONN_QUEUED] + conn->counts[CONN_INFLIGHT] +
		conn->counts[CONN_FINISHED];
}


/* ---------------------------------------------------------------------
 * Transfers and their life cycle
 * ---------------------------------------------------------------------
 */

/*
 * conn_memo_key
 *		What identifies req for memo.c
 */
static void
conn_memo_key(LemlistConnection *conn, const LemlistHttpRequest *req,
			  LemlistMemoKey *key)
{
	key->serverid = conn->serverid;
	key->api_url = conn->api_url;
	key->key_hash = conn->key_hash;
	key->method = req->method;
	key->path = req->path;
	key->body = req->body;
	lemlist_memo_key_init(key);
}

/*
 * conn_cleanup_callback
 *		Release every curl resource of a connection whose context goes away
 *
 * Runs at the end of a scan and after an ERROR alike, so it must not throw.
 * The transfers themselves go with the context.
 */
static void
conn_cleanup_callback(void *arg)
{
	LemlistConnection *conn = (LemlistConnection *) arg;
	dlist_iter	iter;

	dlist_foreach(iter, &conn->all)
		conn_release_transfer(dlist_container(HttpTransfer, all_node, iter.cur));

	explicit_bzero(conn->settings.api_key, strlen(conn->settings.api_key));
}

/*
 * conn_release_transfer
 *		Give back the curl resources and the pacing ticket of a transfer's
 *		current attempt
 *
 * Idempotent, and never throws.
 */
static void
conn_release_transfer(HttpTransfer *t)
{
	if (t->in_flight)
	{
		dlist_delete(&t->inflight_node);
		t->in_flight = false;
	}
	lemlist_curl_release(&t->attempt);
}

/*
 * conn_set_state
 *		Move a transfer to another of its connection's lists
 */
static void
conn_set_state(HttpTransfer *t, ConnState state)
{
	LemlistConnection *conn = t->conn;

	if (t->state != CONN_DETACHED)
	{
		dlist_delete(&t->state_node);
		conn->counts[t->state]--;
	}
	t->state = state;
	if (state != CONN_DETACHED)
	{
		dlist_push_tail(&conn->lists[state], &t->state_node);
		conn->counts[state]++;
	}
}

/*
 * conn_start_due
 *		Answer queued requests from the memo, and start the others while a
 *		slot is free and pacing allows
 *
 * Requests start in FIFO order among those whose "not before" time has come;
 * one waiting for its retry does not hold up the others.  *wake is lowered
 * to when something now waiting could start.  Returns true if pacing kept a
 * due request from starting; conn->waiting tells whether one waits for an
 * identical request in flight.
 */
static bool
conn_start_due(LemlistConnection *conn, TimestampTz now, TimestampTz *wake)
{
	dlist_mutable_iter iter;
	bool		memo = lemlist_memo_enabled();
	bool		paced = false;

	conn->waiting = false;
	dlist_foreach_modify(iter, &conn->lists[CONN_QUEUED])
	{
		HttpTransfer *t = dlist_container(HttpTransfer, state_node, iter.cur);
		LemlistPacingTicket ticket;
		TimestampTz ready;
		TimestampTz deadline;

		if (t->not_before > now)
		{
			*wake = Min(*wake, t->not_before);
			continue;
		}

		/* the memo needs no slot; look again only if it changed since */
		if (memo && t->memo_looked != lemlist_memo_generation() + 1)
		{
			t->memo_looked = lemlist_memo_generation() + 1;
			if (conn_answer_from_memo(conn, t))
			{
				conn_set_state(t, CONN_FINISHED);
				continue;
			}
		}

		if (paced || conn->counts[CONN_INFLIGHT] >= conn->max_parallel)
			continue;

		if (memo && conn_duplicate_inflight(t))
		{
			conn->waiting = true;
			continue;
		}

		deadline = TimestampTzPlusMilliseconds(now, (int64) conn->settings.timeout_ms +
											   CONN_DEADLINE_SLACK_MS);
		if (!lemlist_pacing_acquire(conn->key_hash, conn->rate_limit,
									conn->rate_window_ms, now, deadline,
									&ticket, &ready))
		{
			*wake = Min(*wake, ready);
			paced = true;
			continue;
		}

		conn_start_transfer(conn, t, &ticket);
	}

	return paced;
}

/*
 * conn_answer_from_memo
 *		Give a request the answer memo.c kept for it, if any
 */
static bool
conn_answer_from_memo(LemlistConnection *conn, HttpTransfer *t)
{
	LemlistHttpRequest *req = t->req;
	size_t		len = 0;
	bool		cached = false;
	char	   *response;

	response = lemlist_memo_lookup(&t->memo_key, conn->cache_ttl, conn->cxt,
								   &len, &cached);
	if (response == NULL)
		return false;

	elog(DEBUG2, "lemlist_fdw: %s %.*s answered by the %s (%zu bytes)",
		 req->method, (int) strcspn(req->path, "?"), req->path,
		 cached ? "cache" : "memo", len);
	req->response = response;
	req->response_len = len;
	req->status = 200;
	t->answered = true;
	if (cached)
		conn->stats->cache_hits++;
	else
		conn->stats->memo_hits++;
	return true;
}

/*
 * conn_duplicate_inflight
 *		Whether an identical request is in flight, in any scan of the backend:
 *		its answer will be in the memo as soon as curl completes it
 */
static bool
conn_duplicate_inflight(const HttpTransfer *t)
{
	dlist_iter	iter;

	dlist_foreach(iter, &conn_inflight)
	{
		HttpTransfer *other = dlist_container(HttpTransfer, inflight_node, iter.cur);

		if (other != t && lemlist_memo_key_equal(&other->memo_key, &t->memo_key))
			return true;
	}
	return false;
}

/*
 * conn_start_transfer
 *		Start one attempt of a request, which pacing let start
 */
static void
conn_start_transfer(LemlistConnection *conn, HttpTransfer *t,
					const LemlistPacingTicket *ticket)
{
	/*
	 * The attempt counts for pacing from now on, whatever happens below: t is
	 * on conn->all, so the reset callback gives the ticket back if anything
	 * throws.
	 */
	t->attempt.ticket = *ticket;
	t->attempt.ticket_open = true;

	lemlist_curl_start(&t->attempt, t->req, t->url);
	t->in_flight = true;
	dlist_push_tail(&conn_inflight, &t->inflight_node);

	conn_set_state(t, CONN_INFLIGHT);
	t->attempts++;
	conn->stats->requests++;
}


/* ---------------------------------------------------------------------
 * Driving transfers and waiting
 * ---------------------------------------------------------------------
 */

/*
 * conn_drive
 *		Let curl move every transfer on, and wait at most timeout_ms, within
 *		one slice, for more
 *
 * curl's multi handle is shared by all scans of the backend: a completed
 * transfer goes to its own connection's finished list, whichever scan is
 * driving.
 */
static void
conn_drive(long timeout_ms)
{
	lemlist_curl_drive(Min(timeout_ms, CONN_SLICE_MS), conn_attempt_ended);
}

/*
 * conn_attempt_ended
 *		What must happen as soon as curl completes an attempt, whichever scan
 *		is driving: the transfer is filed as finished, pacing learns what
 *		lemlist said of the rate limit, and a 2xx answer goes to the memo for
 *		identical requests that wait for it.  Retry or error is for the owning
 *		scan to decide.
 *
 * http.c has already told pacing when the attempt ended.
 */
static void
conn_attempt_ended(LemlistHttpAttempt *attempt, TimestampTz now)
{
	HttpTransfer *t = (HttpTransfer *) attempt->arg;
	LemlistConnection *conn = t->conn;

	dlist_delete(&t->inflight_node);
	t->in_flight = false;
	conn_set_state(t, CONN_FINISHED);

	lemlist_pacing_observe(conn->key_hash, conn->rate_limit, conn->rate_window_ms,
						   now, &attempt->rl);
	if (attempt->status == 429)
	{
		long		hold_ms = lemlist_retry_after_ms(&attempt->rl, conn->rate_window_ms);

		elog(DEBUG2, "lemlist_fdw: rate limited, holding the key for %ld ms", hold_ms);
		lemlist_pacing_hold(conn->key_hash, now, TimestampTzPlusMilliseconds(now, hold_ms));
	}

	if (attempt->status >= 200 && attempt->status <= 299 && lemlist_memo_enabled())
		lemlist_memo_store(&t->memo_key, conn->cache_ttl,
						   attempt->body ? attempt->body : "", attempt->body_len);
}

/*
 * conn_sleep
 *		Wait on the latch for at most one slice, then check for interrupts
 *
 * Nothing is in flight: the requests wait for the rate limit or a retry's
 * back-off.
 */
static void
conn_sleep(long ms)
{
	ms = Min(Max(ms, 1), CONN_SLICE_MS);
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, lemlist_wait_event(LEMLIST_WAIT_PACING));
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * lemlist_wait_event
 *		The wait_event_info of a wait, for WaitLatch and pgstat_report_wait_start
 *
 * From PostgreSQL 17 on, each wait has a name of its own, registered in
 * shared memory the first time a backend waits so (the same name gives the
 * same ID in every backend; the postmaster never calls this).
 */
uint32
lemlist_wait_event(LemlistWait wait)
{
#ifdef LEMLIST_HAVE_CUSTOM_WAIT_EVENTS
	static uint32 events[LEMLIST_WAIT_PACING + 1];

	if (events[wait] == 0)
		events[wait] = WaitEventExtensionNew(wait == LEMLIST_WAIT_REQUEST ?
											 "LemlistRequest" : "LemlistPacing");
	return events[wait];
#else
	return PG_WAIT_EXTENSION;
#endif
}

/* ---------------------------------------------------------------------
 * Outcomes: success, retry or error
 * ---------------------------------------------------------------------
 */

/*
 * conn_finish_transfer
 *		Act on the outcome of a completed attempt
 *
 * Returns true when the request succeeded: its status and body are then set.
 * Returns false when it was queued again for a retry.  Throws otherwise.
 */
static bool
conn_finish_transfer(LemlistConnection *conn, HttpTransfer *t, TimestampTz now)
{
	LemlistHttpRequest *req = t->req;
	LemlistHttpAttempt *a = &t->attempt;
	long		status = a->status;
	long		wait_ms;
	const char *path = req->path;
	int			pathlen = strcspn(path, "?");

	if (t->answered)
		return true;			/* by the memo */

	if (a->outcome == LEMLIST_HTTP_OK || a->outcome == LEMLIST_HTTP_STATUS)
		elog(DEBUG2, "lemlist_fdw: %s %.*s: HTTP %ld, %zu bytes in %.1f ms (attempt %d)",
			 req->method, pathlen, path, status, a->body_len,
			 (double) (now - a->started) / 1000.0, t->attempts);
	else
		elog(DEBUG2, "lemlist_fdw: %s %.*s: failed after %.1f ms (attempt %d): %s",
			 req->method, pathlen, path,
			 (double) (now - a->started) / 1000.0, t->attempts,
			 lemlist_network_cstring(a->errbuf, 500));

	if (a->outcome == LEMLIST_HTTP_STATUS && status == 429)
		conn->stats->rate_limited++;

	if (a->outcome == LEMLIST_HTTP_OK)
	{
		req->response = MemoryContextAllocExtended(conn->cxt, a->body_len + 1,
												   MCXT_ALLOC_HUGE);
		if (a->body_len > 0)
			memcpy(req->response, a->body, a->body_len);
		req->response[a->body_len] = '\0';
		req->response_len = a->body_len;
		req->status = status;
		conn_release_transfer(t);
		return true;
	}

	if (t->attempts <= conn->max_retries &&
		(wait_ms = lemlist_http_retry_ms(a, t->attempts - 1, conn->rate_window_ms)) >= 0)
	{
		conn_schedule_retry(conn, t, wait_ms, now);
		return false;
	}

	/* gives back the attempt's curl resources before it throws */
	Assert(!t->in_flight);
	lemlist_http_report_failure(a, req, t->attempts - 1);
}

/*
 * conn_schedule_retry
 *		Queue a request again, not to start before wait_ms from now
 */
static void
conn_schedule_retry(LemlistConnection *conn, HttpTransfer *t, long wait_ms,
					TimestampTz now)
{
	elog(DEBUG2, "lemlist_fdw: retrying %s %.*s in %ld ms",
		 t->req->method, (int) strcspn(t->req->path, "?"), t->req->path, wait_ms);

	conn->stats->retries++;
	conn->stats->backoff_ms += wait_ms;
	t->not_before = TimestampTzPlusMilliseconds(now, wait_ms);
	conn_release_transfer(t);
	conn_set_state(t, CONN_QUEUED);
}
