/*-------------------------------------------------------------------------
 *
 * http.c
 *		  Send the requests of a scan with libcurl: queue, memo, pacing,
 *		  retries, and the single place that maps a failure to an ERROR
 *
 * The rest of the extension submits LemlistHttpRequests to a
 * LemlistConnection and gets them back, in completion order, with a
 * palloc'd body.  Every outcome other than a 2xx answer becomes an ERROR.
 * This is the only file that includes curl.h.  Each attempt of a request is
 * an easy handle on the backend's multi handle.  When the attempt
 * completes, it yields an outcome, an HTTP status, a body, and what the
 * headers said about the rate limit.
 *
 * Design rules:
 *
 * - A connection lives as long as the memory context it is opened in.  A
 *	 reset callback on that context gives back the curl resources and the
 *	 pacing ticket of every transfer still held, and wipes the copy of the
 *	 API key.  It does so whether the scan ends normally or by an ERROR
 *	 thrown elsewhere.  curl allocates with malloc; nothing of curl's goes
 *	 through palloc.
 *
 * - One CURLM multi handle per backend, created lazily and kept for the life
 *	 of the backend, so that its connection cache gives keep-alive across
 *	 scans.  Easy handles live for one attempt of one request.
 *
 * - curl callbacks (body, headers) never call ereport or palloc.  They set
 *	 flags in the transfer, and the outcome is acted upon once curl has
 *	 returned.
 *
 * - Nothing blocks for more than CONN_SLICE_MS without CHECK_FOR_INTERRUPTS:
 *	 transfers are driven in slices with curl_multi_poll, and waits (pacing,
 *	 back-off, Retry-After) sleep on the latch.  A request waiting to be
 *	 retried has its own "not before" time and never holds up the others.
 *
 * - Every attempt first asks pacing.c (which paces per API key, shared by
 *	 the backends when preloaded).  The attempt holds its ticket until curl
 *	 completes it.  Then it tells pacing.c when it ended, by curl's clock,
 *	 and hands pacing.c the rate limit headers of the answer and the
 *	 Retry-After of a 429.
 *
 * - Before an attempt starts, memo.c may answer it, if an identical request
 *	 was answered earlier in the statement (or within cache_ttl).  If an
 *	 identical request of any scan of the backend is in flight, the request
 *	 waits for it and takes a copy of its answer once curl has it.  An
 *	 answer reaches memo.c only after its scan has decoded it and made its
 *	 rows (lemlist_http_keep), so an answer that turned out unusable is
 *	 never handed out again.
 *
 * - Only http and https are used, with no redirects, no signals and explicit
 *	 timeouts.  The API key goes in basic authentication only, never in the
 *	 URL.
 *
 * - Connection and TLS failures raise
 *	 ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION.  401 and 403 raise
 *	 ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION.  A response larger than
 *	 max_response_bytes raises ERRCODE_PROGRAM_LIMIT_EXCEEDED.  Any other
 *	 failure raises ERRCODE_FDW_ERROR.  A cancel that aborted the transfer
 *	 takes precedence over all of them.  Only 429, 5xx and network trouble
 *	 (no connection, broken exchange, timeout) are worth another attempt.
 *	 Nothing else is retried, since the same request would fail the same
 *	 way.
 *
 * - The API key never appears in a message.  Text from the network (curl's
 *	 error buffer, lemlist's body) is only ever passed as a %s argument,
 *	 through lemlist_network_text.  Every message names the request
 *	 ("lemlist request GET /path") in its CONTEXT, never with its query
 *	 string.
 *
 * IDENTIFICATION
 *		  src/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lib/ilist.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

/* Connections the multi handle keeps open for reuse. */
#define HTTP_MAX_CONNECTS		16
#define HTTP_USER_AGENT			"lemlist_fdw/1.0"
/* How much of a response body (or of curl's error) goes into an error's DETAIL. */
#define HTTP_DETAIL_BYTES		500
#define HTTP_REJECT_BYTES		4000
/* Longest time between two interrupt checks while driving or waiting. */
#define CONN_SLICE_MS			50
/* An attempt counts for pacing at most this long after its timeout. */
#define CONN_DEADLINE_SLACK_MS	1000
/* How often a connection reports that it still drives its shared claims. */
#define CONN_BEAT_MS			250
/* How often a request waiting for another backend looks, when not woken. */
#define CONN_SHARED_POLL_MS		5

/* How an attempt ended, as far as the choice of a retry or an error goes. */
typedef enum HttpOutcome
{
	HTTP_OK,					/* 2xx */
	HTTP_STATUS,				/* any other HTTP status */
	HTTP_CONNECT_FAILED,		/* could not connect */
	HTTP_BROKEN,				/* connected, but the exchange broke off */
	HTTP_TIMED_OUT,				/* connect_timeout_ms or timeout_ms elapsed */
	HTTP_TLS_FAILED,			/* certificate or TLS handshake problem */
	HTTP_TOO_LARGE,				/* body exceeded max_response_bytes */
	HTTP_NO_MEMORY,				/* malloc failed while buffering the body */
	HTTP_FAILED					/* any other curl failure */
} HttpOutcome;

/* Where a transfer is.  Each state but the last has a list in conn->lists. */
typedef enum ConnState
{
	CONN_QUEUED,				/* waiting to start, FIFO */
	CONN_INFLIGHT,				/* its attempt is with curl, in conn_inflight */
	CONN_FINISHED,				/* done by curl, outcome not yet handled */
	CONN_DETACHED				/* being handled, or handed back */
} ConnState;

#define CONN_NUM_LISTS	CONN_DETACHED

/*
 * One submitted request, and its current attempt.  Allocated in the
 * connection's context; the curl resources of the attempt are malloc'd, and
 * given back by http_release_attempt.  What curl reports is set when the
 * attempt completes, and it stays valid after the release, except for the
 * body.
 */
typedef struct HttpTransfer
{
	dlist_node	all_node;		/* in conn->all until handed back */
	dlist_node	state_node;		/* in conn->lists[state] */
	dlist_node	inflight_node;	/* in conn_inflight while CONN_INFLIGHT */
	ConnState	state;
	LemlistConnection *conn;
	LemlistHttpRequest *req;
	char	   *url;			/* api_url + path */
	int			attempts;		/* attempts started so far */
	TimestampTz not_before;		/* earliest start of the next attempt */
	LemlistMemoKey memo_key;	/* the request, for memo.c */
	uint64		memo_looked;	/* memo generation + 1 at the last lookup */
	bool		answered;		/* without an attempt: req->response is set */
	bool		handed;			/* handed back to its scan, not yet kept */

	/* the request among the answers the backends share (shared_answers.c) */
	LemlistShareKey share_key;
	LemlistShareRef share;		/* its claim, or its place among the waiters */
	uint64		share_looked;	/* the store's changes + 1 at the last look */
	TimestampTz share_asked_at;
	bool		share_taken;	/* answered from the store */

	/* the current attempt: its pacing ticket and curl resources */
	LemlistPacingTicket ticket;
	bool		ticket_open;	/* the attempt has not ended for pacing.c */
	CURL	   *easy;
	struct curl_slist *headers;
	bool		in_multi;		/* easy is attached to the multi handle */

	/* written by curl's callbacks */
	char	   *body;			/* response body so far, NUL-terminated */
	size_t		body_len;
	size_t		body_cap;
	bool		too_large;
	bool		no_memory;
	LemlistRateHeaders rl;		/* what the answer said of the rate limit */
	char		errbuf[CURL_ERROR_SIZE];	/* on failure, the cause */

	/* set when the attempt starts, and when curl completes it */
	TimestampTz started;
	HttpOutcome outcome;
	long		status;			/* HTTP status, 0 if no answer came */
	bool		sent;			/* timed out after the request went out */
} HttpTransfer;

/* The requests of one scan, and copies of the options they are sent with. */
struct LemlistConnection
{
	dlist_node	open_node;		/* in conn_open */
	MemoryContext cxt;
	LemlistHttpStats *stats;

	char	   *server_name;	/* for messages */
	char	   *api_url;		/* without trailing slash */
	char	   *api_key;		/* wiped when the connection goes away */
	uint64		key_hash;		/* lemlist_key_hash(api_key) */
	Oid			serverid;
	int			connect_timeout_ms;
	int			timeout_ms;
	int64		max_response_bytes;
	char	   *ca_file;		/* NULL: system CAs */
	bool		verify_tls;
	int			backend_ttl;	/* cache_ttl of the backend's own cache (memo.c) */
	int			shared_ttl;		/* cache_ttl of the cluster's (shared_answers.c) */
	int			max_retries;
	int			max_parallel;
	int			rate_limit;
	int			rate_window_ms;
	bool		waiting;		/* a request waits for an identical one */
	bool		shared;			/* the backends share answers */
	bool		shared_waiting; /* a request waits for another backend's */
	uint8		key_digest[LEMLIST_DIGEST_LEN];	/* of api_key, for the store */
	TimestampTz last_beat;		/* when its claims were last reported driven */

	/* between lemlist_http_poll calls that found nothing yet */
	bool		polling;		/* the slice below is open */
	TimestampTz slice_at;		/* when it began */
	bool		slice_inflight; /* it waited for transfers */
	bool		slice_paced;	/* it waited for pacing */
	TimestampTz wake;			/* when to look again at the latest */
	int			wait_fd;		/* what lemlist_http_wait_fd returns, or -1 */

	dlist_head	all;			/* every transfer not yet handed back, and
								 * those handed back until kept */
	dlist_head	lists[CONN_NUM_LISTS];	/* transfers by state */
	int			counts[CONN_NUM_LISTS];

	MemoryContextCallback cleanup;
};

/* The backend's multi handle, and the connections and attempts on it. */
static bool http_curl_initialized = false;
static CURLM *http_multi = NULL;
static dlist_head conn_open = DLIST_STATIC_INIT(conn_open);
static dlist_head conn_inflight = DLIST_STATIC_INIT(conn_inflight);
static int	conn_inflight_count = 0;	/* the length of conn_inflight */

/* lemlist_fdw.max_transfers: transfers with curl at once, all scans of the backend */
static int	max_transfers = 64;

static void http_init(void);
static LemlistHttpRequest *conn_next(LemlistConnection *conn, bool wait, bool *pending);
static void http_timer_drain(void);
static void http_start_attempt(HttpTransfer *t);
static CURLcode http_setup_easy(HttpTransfer *t);
static void http_release_attempt(HttpTransfer *t);
static void http_drive_curl(long timeout_ms);
static int	http_collect_finished(void);
static void http_completed(HttpTransfer *t, CURLcode result, TimestampTz now);
static HttpOutcome http_classify(const HttpTransfer *t, CURLcode result, long status);
static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *arg);
static size_t http_header_cb(char *data, size_t size, size_t nitems, void *arg);
static long http_retry_ms(const HttpTransfer *t);
static bool http_is_retryable(HttpOutcome outcome, long status);
lemlist_noreturn static void http_report_failure(HttpTransfer *t);
static int	http_errcontext(const LemlistHttpRequest *req);

static void conn_memo_key(LemlistConnection *conn, const LemlistHttpRequest *req,
						  LemlistMemoKey *key);
static void conn_cleanup_callback(void *arg);
static void conn_set_state(HttpTransfer *t, ConnState state);
static bool conn_start_due(LemlistConnection *conn, TimestampTz now,
						   TimestampTz *wake);
static bool conn_answer_from_memo(LemlistConnection *conn, HttpTransfer *t);
static bool conn_answer_from_peer(LemlistConnection *conn, HttpTransfer *t,
								  bool *waiting);
static void conn_set_answer(HttpTransfer *t, const char *body, size_t len);
static void conn_start_transfer(LemlistConnection *conn, HttpTransfer *t,
								const LemlistPacingTicket *ticket);
static void conn_drive(long timeout_ms);
static void conn_attempt_ended(HttpTransfer *t, TimestampTz now);
static void conn_sleep(long ms, LemlistWait wait);
static LemlistShareOutcome conn_answer_from_store(LemlistConnection *conn,
												  HttpTransfer *t, bool may_claim,
												  TimestampTz now);
static void conn_heartbeat(LemlistConnection *conn, TimestampTz now);
static bool conn_finish_transfer(LemlistConnection *conn, HttpTransfer *t,
								 TimestampTz now);
static void conn_schedule_retry(LemlistConnection *conn, HttpTransfer *t,
								long wait_ms, TimestampTz now);

/* ---------------------------------------------------------------------
 * The interface: the requests of a scan
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_http_init_settings
 *		Define the setting lemlist_fdw.max_transfers
 */
void
lemlist_http_init_settings(void)
{
	DefineCustomIntVariable("lemlist_fdw.max_transfers",
							"Requests to lemlist in flight at once in a backend, all its scans together.",
							"Beyond it, a scan's requests wait for another's to end, however many teams a query reads at once.",
							&max_transfers,
							64,
							1,
							1024,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/*
 * lemlist_http_open
 *		Create a connection that lives as long as the memory context cxt
 *
 * Nothing is sent before lemlist_http_next.  The options and the key are
 * copied; the copy of the key is wiped when cxt is reset or deleted.  The
 * transport records what it does in stats.
 */
LemlistConnection *
lemlist_http_open(const LemlistOptions *opts, const char *api_key,
				  LemlistHttpStats *stats, MemoryContext cxt)
{
	LemlistConnection *conn;
	int			i;

	http_init();

	if (api_key == NULL)
		api_key = "";
	lemlist_remember_key(api_key);	/* mask it in whatever lemlist says */

	conn = MemoryContextAllocZero(cxt, sizeof(LemlistConnection));
	conn->cxt = cxt;
	conn->stats = stats;

	conn->server_name = MemoryContextStrdup(cxt, opts->server_name ? opts->server_name : "");
	conn->api_url = MemoryContextStrdup(cxt, opts->api_url ? opts->api_url : "");
	conn->api_key = MemoryContextStrdup(cxt, api_key);
	conn->key_hash = lemlist_key_hash(api_key);
	conn->serverid = opts->serverid;
	conn->connect_timeout_ms = Max(opts->connect_timeout_ms, 0);
	conn->timeout_ms = Max(opts->timeout_ms, 0);
	conn->max_retries = Max(opts->max_retries, 0);
	conn->max_parallel = Max(opts->max_parallel, 1);
	conn->rate_limit = Max(opts->rate_limit, 0);
	conn->rate_window_ms = Max(opts->rate_window_ms, 0);
	conn->max_response_bytes = opts->max_response_bytes;
	conn->ca_file = opts->ca_file ? MemoryContextStrdup(cxt, opts->ca_file) : NULL;
	conn->verify_tls = opts->verify_tls;
	conn->shared = lemlist_shared_attach();
	if (conn->shared)
		lemlist_api_key_digest(api_key, conn->key_digest);
	stats->cache_shared = conn->shared;
	/* with a shared store, the cache is the cluster's; memo_budget 0 turns it off */
	conn->backend_ttl = conn->shared ? 0 : Max(opts->cache_ttl, 0);
	conn->shared_ttl = conn->shared && lemlist_memo_enabled() ? Max(opts->cache_ttl, 0) : 0;
	conn->wait_fd = -1;

	dlist_init(&conn->all);
	for (i = 0; i < CONN_NUM_LISTS; i++)
		dlist_init(&conn->lists[i]);

	conn->cleanup.func = conn_cleanup_callback;
	conn->cleanup.arg = conn;
	MemoryContextRegisterResetCallback(cxt, &conn->cleanup);
	dlist_push_tail(&conn_open, &conn->open_node);

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
	lemlist_rate_headers_clear(&t->rl);

	conn_memo_key(conn, req, &t->memo_key);
	if (conn->shared)
		lemlist_share_key_init(&t->share_key, conn->key_digest, conn->api_url,
							   req->method, req->path,
							   req->share_body ? req->share_body : req->body,
							   req->default_end);

	req->reused = false;
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
 * Requests come back in completion order, and those the memo answers come
 * first.  Returns NULL when nothing is queued or in flight.  A failure that
 * survives its retries is an ERROR.
 */
LemlistHttpRequest *
lemlist_http_next(LemlistConnection *conn)
{
	return conn_next(conn, true, NULL);
}

/*
 * lemlist_http_poll
 *		Like lemlist_http_next, but without waiting: drive what can be driven
 *		now, and return a request that succeeded, if any
 *
 * When nothing has succeeded yet, returns NULL with *pending true; then
 * lemlist_http_wait_fd gives a descriptor that becomes readable when it is
 * worth asking again.  NULL with *pending false: nothing is queued or in
 * flight.
 */
LemlistHttpRequest *
lemlist_http_poll(LemlistConnection *conn, bool *pending)
{
	return conn_next(conn, false, pending);
}

/*
 * conn_next
 *		Implement lemlist_http_next, or lemlist_http_poll when wait is false
 */
static LemlistHttpRequest *
conn_next(LemlistConnection *conn, bool wait, bool *pending)
{
	TimestampTz last = GetCurrentTimestamp();
	bool		was_inflight = false;
	bool		was_paced = false;

	if (pending != NULL)
		*pending = false;
	if (conn->polling)
	{
		/* the slice the last poll left open ends now */
		last = conn->slice_at;
		was_inflight = conn->slice_inflight;
		was_paced = conn->slice_paced;
		conn->polling = false;
	}
	http_timer_drain();

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

				/* the store hears of it when its scan has decoded it */
				t->handed = true;

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

		/* Tell the store that this backend still drives its claims. */
		if (conn->shared && now - conn->last_beat >= CONN_BEAT_MS * 1000)
			conn_heartbeat(conn, now);

		/* Start what may start, and learn when to look again. */
		wake = TimestampTzPlusMilliseconds(now, CONN_SLICE_MS);
		was_paced = conn_start_due(conn, now, &wake);
		if (!dlist_is_empty(&conn->lists[CONN_FINISHED]))
		{
			/* the memo answered */
			was_inflight = was_paced = false;
			continue;
		}
		was_inflight = conn->counts[CONN_INFLIGHT] > 0 || conn->waiting ||
			conn->shared_waiting;

		/*
		 * Another backend's answer sets the latch, which curl does not see:
		 * while curl has transfers, look again every few milliseconds.
		 */
		if (conn->shared_waiting &&
			(!dlist_is_empty(&conn_inflight) || !lemlist_shared_woken()))
			wake = Min(wake, TimestampTzPlusMilliseconds(now, CONN_SHARED_POLL_MS));

		if (!wait)
		{
			/* drive without waiting; if nothing came, say when to look again */
			if (!dlist_is_empty(&conn_inflight))
				conn_drive(0);
			if (!dlist_is_empty(&conn->lists[CONN_FINISHED]))
				continue;
			conn->polling = true;
			conn->slice_at = now;
			conn->slice_inflight = was_inflight;
			conn->slice_paced = was_paced;
			conn->wake = wake;
			*pending = true;
			return NULL;
		}

		/* Another scan's transfer may be what a request waits for. */
		if (!dlist_is_empty(&conn_inflight))
			conn_drive(Max(TimestampDifferenceMilliseconds(now, wake), 1));
		else
			conn_sleep(TimestampDifferenceMilliseconds(now, wake),
					   conn->shared_waiting && !was_paced ?
					   LEMLIST_WAIT_SHARED : LEMLIST_WAIT_PACING);
	}
}

/* ---------------------------------------------------------------------
 * One descriptor to wait on, for asynchronous scans
 *
 * An Append waits on one descriptor per asynchronous child.  The backend
 * keeps one epoll set that holds curl's sockets (as curl_multi_fdset gives
 * them, with the events curl waits for) and a timer.  The timer fires at
 * the earliest of curl's own timeout, the moment pacing or a retry lets a
 * request start, and HTTP_ASYNC_TICK_MS from now, so that a cancel is seen
 * even where the Append does not wait on the latch.  Each connection waits
 * on a dup() of that set.
 * ---------------------------------------------------------------------
 */

/* Longest wait of an asynchronous scan without looking again. */
#define HTTP_ASYNC_TICK_MS	100

static int	http_epoll_fd = -1;
static int	http_timer_fd = -1;
static TimestampTz http_timer_at = 0;	/* when the timer fires; 0: disarmed */
static uint8 http_polled[FD_SETSIZE];	/* epoll events of each curl socket */
static int	http_polled_max = -1;	/* no socket above it is in the set */

/*
 * lemlist_http_wait_fd
 *		Return a descriptor that becomes readable when conn is worth polling
 *		again
 */
int
lemlist_http_wait_fd(LemlistConnection *conn)
{
	fd_set		readfds;
	fd_set		writefds;
	fd_set		exceptfds;
	int			maxfd = -1;
	long		curl_ms = -1;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz at;
	CURLMcode	mrc;

	if (http_epoll_fd < 0)
	{
		struct epoll_event ev = {.events = EPOLLIN};

		http_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
		if (http_epoll_fd < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create an epoll set for lemlist: %m")));
		http_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (http_timer_fd < 0 ||
			epoll_ctl(http_epoll_fd, EPOLL_CTL_ADD, http_timer_fd, &ev) < 0)
		{
			int			save_errno = errno;

			if (http_timer_fd >= 0)
				close(http_timer_fd);
			close(http_epoll_fd);
			http_timer_fd = http_epoll_fd = -1;
			errno = save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create a timer for lemlist: %m")));
		}
	}

	/* curl's sockets, with the events it waits for */
	FD_ZERO(&readfds);
	FD_ZERO(&writefds);
	FD_ZERO(&exceptfds);
	mrc = curl_multi_fdset(http_multi, &readfds, &writefds, &exceptfds, &maxfd);
	if (mrc != CURLM_OK)
		maxfd = -1;
	for (int fd = 0, last = Max(maxfd, http_polled_max); fd <= last; fd++)
	{
		uint8		want = 0;
		struct epoll_event ev = {0};

		if (fd <= maxfd)
		{
			if (FD_ISSET(fd, &readfds))
				want |= EPOLLIN;
			if (FD_ISSET(fd, &writefds))
				want |= EPOLLOUT;
			if (FD_ISSET(fd, &exceptfds))
				want |= EPOLLPRI;
		}
		if (want == http_polled[fd])
			continue;
		ev.events = want;
		ev.data.fd = fd;
		if (want == 0)
			(void) epoll_ctl(http_epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		else if (http_polled[fd] == 0 ||
				 epoll_ctl(http_epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0)
		{
			/* a socket curl closed leaves the set by itself; its number may come back */
			if (epoll_ctl(http_epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno == EEXIST)
				(void) epoll_ctl(http_epoll_fd, EPOLL_CTL_MOD, fd, &ev);
		}
		http_polled[fd] = want;
	}
	http_polled_max = maxfd;

	/* the timer: the earliest of curl's timeout, conn's wake and a tick */
	at = TimestampTzPlusMilliseconds(now, HTTP_ASYNC_TICK_MS);
	if (curl_multi_timeout(http_multi, &curl_ms) == CURLM_OK && curl_ms >= 0)
		at = Min(at, TimestampTzPlusMilliseconds(now, curl_ms));
	if (conn->wake != 0)
		at = Min(at, conn->wake);
	if (http_timer_at == 0 || at < http_timer_at)
	{
		struct itimerspec its = {{0, 0}, {0, 0}};
		TimestampTz delay = Max(at - now, 1);

		its.it_value.tv_sec = delay / USECS_PER_SEC;
		its.it_value.tv_nsec = (delay % USECS_PER_SEC) * 1000;
		if (timerfd_settime(http_timer_fd, 0, &its, NULL) < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not arm a timer for lemlist: %m")));
		http_timer_at = at;
	}

	if (conn->wait_fd < 0)
	{
		conn->wait_fd = dup(http_epoll_fd);
		if (conn->wait_fd < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not duplicate a descriptor for lemlist: %m")));
	}
	return conn->wait_fd;
}

/*
 * http_timer_drain
 *		Read the timer if it fired, so that the set stops being readable
 */
static void
http_timer_drain(void)
{
	uint64		expirations;

	if (http_timer_fd >= 0 &&
		read(http_timer_fd, &expirations, sizeof(expirations)) == sizeof(expirations))
		http_timer_at = 0;
}

/*
 * lemlist_http_keep
 *		Note that the answer to req has been decoded and made into rows, so
 *		that the memo may hand it out again to identical requests of the
 *		statement (and within cache_ttl)
 *
 * An answer that turned out unusable is never kept, so it is never reused.
 */
void
lemlist_http_keep(LemlistConnection *conn, const LemlistHttpRequest *req)
{
	LemlistMemoKey key;
	HttpTransfer *t = NULL;
	dlist_iter	iter;

	dlist_foreach(iter, &conn->all)
	{
		HttpTransfer *h = dlist_container(HttpTransfer, all_node, iter.cur);

		if (h->handed && h->req == req)
		{
			t = h;
			break;
		}
	}

	if (!req->reused && req->response != NULL && lemlist_memo_enabled())
	{
		conn_memo_key(conn, req, &key);
		lemlist_memo_store(&key, conn->backend_ttl, req->response, req->response_len);
	}

	if (t == NULL)
		return;
	/*
	 * Keep the answer to a claim, or an answer that was sent or shared and
	 * that the cache may want.
	 */
	if (conn->shared && req->response != NULL &&
		(t->share.role == LEMLIST_SHARE_OWNER ||
		 (conn->shared_ttl > 0 && (!req->reused || t->share_taken))))
		lemlist_shared_keep(&t->share, &t->share_key, conn->shared_ttl, conn->serverid,
							req->response, req->response_len);
	lemlist_shared_leave(&t->share);
	dlist_delete(&t->all_node);
	pfree(t->url);
	pfree(t);
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
 * Transfers and their life cycle: memo, identical requests, pacing
 * ---------------------------------------------------------------------
 */

/*
 * conn_memo_key
 *		Fill key with what identifies req for memo.c
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
	{
		HttpTransfer *t = dlist_container(HttpTransfer, all_node, iter.cur);

		if (t->state == CONN_INFLIGHT)
		{
			dlist_delete(&t->inflight_node);
			conn_inflight_count--;
		}
		http_release_attempt(t);
		lemlist_shared_leave(&t->share);
	}
	dlist_delete(&conn->open_node);
	if (conn->wait_fd >= 0)
		close(conn->wait_fd);
	conn->wait_fd = -1;

	explicit_bzero(conn->api_key, strlen(conn->api_key));
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
 * Among the requests whose "not before" time has come, requests start in
 * FIFO order; a request that waits for its retry does not hold up the
 * others.  *wake is lowered to the time when something that now waits could
 * start.  Returns true if pacing kept a due request from starting.
 * conn->waiting tells whether a request waits for an identical request in
 * flight (in any scan of the backend).
 */
static bool
conn_start_due(LemlistConnection *conn, TimestampTz now, TimestampTz *wake)
{
	dlist_mutable_iter iter;
	bool		memo = lemlist_memo_enabled();
	bool		paced = false;

	conn->waiting = false;
	conn->shared_waiting = false;
	dlist_foreach_modify(iter, &conn->lists[CONN_QUEUED])
	{
		HttpTransfer *t = dlist_container(HttpTransfer, state_node, iter.cur);
		LemlistPacingTicket ticket;
		TimestampTz ready;
		TimestampTz deadline;
		bool		in_flight = false;

		if (t->not_before > now)
		{
			*wake = Min(*wake, t->not_before);
			continue;
		}

		/*
		 * An answer from the memo needs no slot (look it up again only if
		 * the memo has changed since the last lookup).  Neither does an
		 * answer that curl has just brought to an identical request.
		 */
		if (memo && t->memo_looked != lemlist_memo_generation() + 1)
		{
			t->memo_looked = lemlist_memo_generation() + 1;
			if (conn_answer_from_memo(conn, t))
			{
				conn_set_state(t, CONN_FINISHED);
				continue;
			}
		}
		if (memo && conn_answer_from_peer(conn, t, &in_flight))
		{
			conn_set_state(t, CONN_FINISHED);
			continue;
		}

		/*
		 * The backends' shared store: an answer that another backend kept
		 * or has just brought needs no slot.  If another backend sends an
		 * identical request, this request waits for it.  Otherwise this
		 * request is claimed, when it can start.
		 */
		if (conn->shared && !in_flight)
		{
			bool		may_claim = !paced &&
				conn->counts[CONN_INFLIGHT] < conn->max_parallel &&
				conn_inflight_count < max_transfers;

			switch (conn_answer_from_store(conn, t, may_claim, now))
			{
				case LEMLIST_SHARE_CACHED:
				case LEMLIST_SHARE_SHARED:
					conn_set_state(t, CONN_FINISHED);
					continue;
				case LEMLIST_SHARE_WAIT:
					conn->shared_waiting = true;
					continue;
				case LEMLIST_SHARE_LATER:
					continue;
				case LEMLIST_SHARE_SEND:
					break;
			}
		}

		if (paced || conn->counts[CONN_INFLIGHT] >= conn->max_parallel ||
			conn_inflight_count >= max_transfers)
			continue;

		if (in_flight)
		{
			conn->waiting = true;
			continue;
		}

		deadline = TimestampTzPlusMilliseconds(now, (int64) conn->timeout_ms +
											   CONN_DEADLINE_SLACK_MS);
		if (!lemlist_pacing_acquire(conn->key_hash, conn->rate_limit,
									conn->rate_window_ms, now, deadline,
									conn->counts[CONN_QUEUED] > 1, &ticket, &ready))
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

	response = lemlist_memo_lookup(&t->memo_key, conn->backend_ttl, conn->cxt,
								   &len, &cached);
	if (response == NULL)
		return false;

	elog(DEBUG2, "lemlist_fdw: %s %.*s answered by the %s (%zu bytes)",
		 req->method, (int) strcspn(req->path, "?"), req->path,
		 cached ? "cache" : "memo", len);
	req->response = response;
	req->response_len = len;
	req->reused = true;
	t->answered = true;
	if (cached)
		conn->stats->cache_hits++;
	else
		conn->stats->memo_hits++;
	return true;
}

/*
 * conn_answer_from_peer
 *		Give a request a copy of the answer that curl brought to an identical
 *		request of any scan of the backend, if that answer has not yet been
 *		handed to its scan
 *
 * If there is no such answer, *in_flight tells whether an identical request
 * is with curl; the request then waits for it rather than being sent twice.
 * A copied answer counts as a memo hit, since it was shared without a
 * request.
 */
static bool
conn_answer_from_peer(LemlistConnection *conn, HttpTransfer *t, bool *in_flight)
{
	dlist_iter	citer;
	dlist_iter	iter;

	dlist_foreach(citer, &conn_open)
	{
		LemlistConnection *other = dlist_container(LemlistConnection, open_node, citer.cur);

		dlist_foreach(iter, &other->lists[CONN_FINISHED])
		{
			HttpTransfer *peer = dlist_container(HttpTransfer, state_node, iter.cur);

			if (peer->answered || peer->outcome != HTTP_OK ||
				!lemlist_memo_key_equal(&peer->memo_key, &t->memo_key))
				continue;
			elog(DEBUG2, "lemlist_fdw: %s %.*s answered by an identical request (%zu bytes)",
				 t->req->method, (int) strcspn(t->req->path, "?"), t->req->path,
				 peer->body_len);
			conn_set_answer(t, peer->body, peer->body_len);
			t->req->reused = true;
			t->answered = true;
			conn->stats->memo_hits++;
			return true;
		}
	}

	dlist_foreach(iter, &conn_inflight)
	{
		HttpTransfer *peer = dlist_container(HttpTransfer, inflight_node, iter.cur);

		if (peer != t && lemlist_memo_key_equal(&peer->memo_key, &t->memo_key))
		{
			*in_flight = true;
			break;
		}
	}
	return false;
}

/*
 * conn_answer_from_store
 *		Ask the backends' store about a due request (see lemlist_shared_ask)
 *
 * A request that found nothing to take and could not claim is looked at
 * again only when the store has changed.  A request that waits for another
 * backend is also looked at every CONN_SLICE_MS, because its sender may be
 * gone.
 */
static LemlistShareOutcome
conn_answer_from_store(LemlistConnection *conn, HttpTransfer *t, bool may_claim,
					   TimestampTz now)
{
	LemlistHttpRequest *req = t->req;
	LemlistShareOutcome outcome;
	uint64		changes;
	char	   *body = NULL;
	size_t		len = 0;

	if (t->share.role == LEMLIST_SHARE_OWNER)
		return LEMLIST_SHARE_SEND;
	changes = lemlist_shared_changes();
	if (!may_claim && t->share_looked == changes + 1 &&
		(t->share.role != LEMLIST_SHARE_WAITER ||
		 now - t->share_asked_at < (TimestampTz) CONN_SLICE_MS * 1000))
		return t->share.role == LEMLIST_SHARE_WAITER ?
			LEMLIST_SHARE_WAIT : LEMLIST_SHARE_LATER;
	t->share_looked = changes + 1;
	t->share_asked_at = now;

	outcome = lemlist_shared_ask(&t->share_key, conn->shared_ttl, conn->max_response_bytes,
								 may_claim, &t->share, conn->cxt, &body, &len);
	if (outcome == LEMLIST_SHARE_CACHED || outcome == LEMLIST_SHARE_SHARED)
	{
		elog(DEBUG2, "lemlist_fdw: %s %.*s answered by %s (%zu bytes)",
			 req->method, (int) strcspn(req->path, "?"), req->path,
			 outcome == LEMLIST_SHARE_CACHED ? "the shared cache" : "another backend's request",
			 len);
		req->response = body;
		req->response_len = len;
		req->reused = true;
		t->answered = true;
		t->share_taken = true;
		if (outcome == LEMLIST_SHARE_CACHED)
			conn->stats->cache_hits++;
		else
			conn->stats->shared_waits++;
	}
	return outcome;
}

/*
 * conn_heartbeat
 *		Tell the store that the connection's claims are being driven
 */
static void
conn_heartbeat(LemlistConnection *conn, TimestampTz now)
{
	LemlistShareRef *refs[64];
	int			n = 0;
	dlist_iter	iter;

	conn->last_beat = now;
	dlist_foreach(iter, &conn->all)
	{
		HttpTransfer *t = dlist_container(HttpTransfer, all_node, iter.cur);

		if (t->share.role != LEMLIST_SHARE_OWNER)
			continue;
		refs[n++] = &t->share;
		if (n == lengthof(refs))
		{
			lemlist_shared_heartbeat(refs, n);
			n = 0;
		}
	}
	lemlist_shared_heartbeat(refs, n);
}

/*
 * conn_set_answer
 *		Copy a body into the request, in its connection's context
 */
static void
conn_set_answer(HttpTransfer *t, const char *body, size_t len)
{
	LemlistHttpRequest *req = t->req;

	req->response = MemoryContextAllocExtended(t->conn->cxt, len + 1, MCXT_ALLOC_HUGE);
	if (len > 0)
		memcpy(req->response, body, len);
	req->response[len] = '\0';
	req->response_len = len;
}

/*
 * conn_start_transfer
 *		Start one attempt of a request that pacing has allowed to start
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
	t->ticket = *ticket;
	t->ticket_open = true;

	http_start_attempt(t);
	dlist_push_tail(&conn_inflight, &t->inflight_node);
	conn_inflight_count++;
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
 *		Let curl move every transfer forward, then wait for more, at most
 *		timeout_ms and at most one slice
 *
 * curl's multi handle is shared by all scans of the backend: a completed
 * transfer goes to its own connection's finished list, whichever scan is
 * driving.
 */
static void
conn_drive(long timeout_ms)
{
	http_drive_curl(Min(timeout_ms, CONN_SLICE_MS));
}

/*
 * conn_attempt_ended
 *		Do what must happen as soon as curl completes an attempt, whichever
 *		scan is driving
 *
 * The transfer is filed as finished, where identical requests that wait for
 * it find its answer, and pacing learns what lemlist said about the rate
 * limit.  The owning scan decides between a retry and an error.
 *
 * http_completed has already told pacing when the attempt ended.
 */
static void
conn_attempt_ended(HttpTransfer *t, TimestampTz now)
{
	LemlistConnection *conn = t->conn;

	dlist_delete(&t->inflight_node);
	conn_inflight_count--;
	conn_set_state(t, CONN_FINISHED);

	/* a 2xx answer goes at once to the backends waiting for it */
	if (t->outcome == HTTP_OK)
		lemlist_shared_publish(&t->share, t->body ? t->body : "", t->body_len);

	lemlist_pacing_observe(conn->key_hash, conn->rate_limit, conn->rate_window_ms,
						   now, &t->rl);
	if (t->status == 429)
	{
		long		hold_ms = lemlist_retry_after_ms(&t->rl, conn->rate_window_ms);

		elog(DEBUG2, "lemlist_fdw: rate limited, holding the key for %ld ms", hold_ms);
		lemlist_pacing_hold(conn->key_hash, now, TimestampTzPlusMilliseconds(now, hold_ms));
	}
}

/*
 * conn_sleep
 *		Wait on the latch for at most one slice, then check for interrupts
 *
 * It is called when nothing is in flight: the requests wait for the rate
 * limit or for a retry's back-off.
 */
static void
conn_sleep(long ms, LemlistWait wait)
{
	ms = Min(Max(ms, 1), CONN_SLICE_MS);
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, lemlist_wait_event(wait));
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * lemlist_wait_event
 *		Return the wait_event_info of a wait, for WaitLatch and
 *		pgstat_report_wait_start
 *
 * From PostgreSQL 17 on, each wait has a name of its own.  The name is
 * registered in shared memory the first time a backend waits that way.
 * (The same name gives the same ID in every backend; the postmaster never
 * calls this function.)
 */
uint32
lemlist_wait_event(LemlistWait wait)
{
#ifdef LEMLIST_HAVE_CUSTOM_WAIT_EVENTS
	static const char *const names[] = {
		[LEMLIST_WAIT_REQUEST] = "LemlistRequest",
		[LEMLIST_WAIT_PACING] = "LemlistPacing",
		[LEMLIST_WAIT_SHARED] = "LemlistSharedAnswer"
	};
	static uint32 events[lengthof(names)];

	if (events[wait] == 0)
		events[wait] = WaitEventExtensionNew(names[wait]);
	return events[wait];
#else
	return PG_WAIT_EXTENSION;
#endif
}

/* ---------------------------------------------------------------------
 * The outcome of an attempt: success, retry or error
 * ---------------------------------------------------------------------
 */

/*
 * conn_finish_transfer
 *		Act on the outcome of a completed attempt
 *
 * Returns true when the request succeeded: its body is then set.
 * Returns false when it was queued again for a retry.  Throws otherwise.
 */
static bool
conn_finish_transfer(LemlistConnection *conn, HttpTransfer *t, TimestampTz now)
{
	LemlistHttpRequest *req = t->req;
	long		status = t->status;
	long		wait_ms;
	const char *path = req->path;
	int			pathlen = strcspn(path, "?");

	if (t->answered)
		return true;			/* by the memo, or an identical request */

	if (t->outcome == HTTP_OK || t->outcome == HTTP_STATUS)
		elog(DEBUG2, "lemlist_fdw: %s %.*s: HTTP %ld, %zu bytes in %.1f ms (attempt %d)",
			 req->method, pathlen, path, status, t->body_len,
			 (double) (now - t->started) / 1000.0, t->attempts);
	else
		elog(DEBUG2, "lemlist_fdw: %s %.*s: failed after %.1f ms (attempt %d): %s",
			 req->method, pathlen, path,
			 (double) (now - t->started) / 1000.0, t->attempts,
			 lemlist_network_cstring(t->errbuf, 500));

	if (t->outcome == HTTP_STATUS && status == 429)
		conn->stats->rate_limited++;

	if (t->outcome == HTTP_OK)
	{
		conn_set_answer(t, t->body, t->body_len);
		http_release_attempt(t);
		return true;
	}

	if (t->attempts <= conn->max_retries && (wait_ms = http_retry_ms(t)) >= 0)
	{
		conn_schedule_retry(conn, t, wait_ms, now);
		return false;
	}

	/* gives back the attempt's curl resources before it throws */
	http_report_failure(t);
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
	http_release_attempt(t);
	conn_set_state(t, CONN_QUEUED);
}


/* ---------------------------------------------------------------------
 * Attempts with curl: handles and their life cycle
 * ---------------------------------------------------------------------
 */

/*
 * http_init
 *		Initialize libcurl and the backend's multi handle, once
 */
static void
http_init(void)
{
	if (!http_curl_initialized)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not initialize libcurl")));
		http_curl_initialized = true;
	}

	if (http_multi == NULL)
	{
		http_multi = curl_multi_init();
		if (http_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Could not create a curl multi handle.")));
		/* Keep idle connections for later scans, whatever is attached. */
		curl_multi_setopt(http_multi, CURLMOPT_MAXCONNECTS, (long) HTTP_MAX_CONNECTS);
	}
}

/*
 * http_release_attempt
 *		Give back the curl resources of an attempt, and its pacing ticket
 *		if curl has not completed it
 *
 * Idempotent, and never throws.  What curl reported is kept, except for the
 * body.
 */
static void
http_release_attempt(HttpTransfer *t)
{
	if (t->easy != NULL)
	{
		if (t->in_multi)
			curl_multi_remove_handle(http_multi, t->easy);
		t->in_multi = false;
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
	}
	if (t->ticket_open)
	{
		t->ticket_open = false;
		lemlist_pacing_release(&t->ticket, GetCurrentTimestamp());
	}
	if (t->headers != NULL)
	{
		curl_slist_free_all(t->headers);
		t->headers = NULL;
	}
	free(t->body);
	t->body = NULL;
	t->body_len = 0;
	t->body_cap = 0;
}

/*
 * http_start_attempt
 *		Start one attempt of req: a new easy handle on the multi handle
 *
 * The caller has set the attempt's pacing ticket; whatever happens here,
 * the ticket is given back with the attempt.  The transfer is on its
 * connection's list: the connection's reset callback gives its curl
 * resources back if anything throws later.
 */
static void
http_start_attempt(HttpTransfer *t)
{
	CURLcode	rc;
	CURLMcode	mrc;

	Assert(t->easy == NULL);

	t->outcome = HTTP_OK;
	t->status = 0;
	t->sent = false;
	t->too_large = false;
	t->no_memory = false;
	lemlist_rate_headers_clear(&t->rl);
	t->errbuf[0] = '\0';

	/* From here on, t holds curl resources. */
	t->easy = curl_easy_init();
	if (t->easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not create a curl handle.")));

	rc = http_setup_easy(t);
	if (rc != CURLE_OK)
	{
		http_release_attempt(t);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not prepare a request to lemlist"),
				 errdetail_internal("%s", curl_easy_strerror(rc)),
				 http_errcontext(t->req)));
	}

	t->started = GetCurrentTimestamp();
	mrc = curl_multi_add_handle(http_multi, t->easy);
	if (mrc != CURLM_OK)
	{
		http_release_attempt(t);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not start a request to lemlist"),
				 errdetail_internal("%s", curl_multi_strerror(mrc)),
				 http_errcontext(t->req)));
	}
	t->in_multi = true;
}

/* Set a curl option, unless an earlier one failed. */
#define HTTP_SETOPT(easy, rc, opt, val) \
	do { \
		if ((rc) == CURLE_OK) \
			(rc) = curl_easy_setopt((easy), (opt), (val)); \
	} while (0)

/*
 * http_setup_easy
 *		Set every option of an attempt on its fresh easy handle
 */
static CURLcode
http_setup_easy(HttpTransfer *t)
{
	const LemlistConnection *conn = t->conn;
	const LemlistHttpRequest *req = t->req;
	CURL	   *easy = t->easy;
	CURLcode	rc = CURLE_OK;
	bool		post = strcmp(req->method, "POST") == 0;
	const char *hdrs[] = {
		"Accept: application/json",
		post ? "Content-Type: application/json" : NULL,
		"Expect:",				/* no 100-continue round trip */
	};
	int			i;

	for (i = 0; i < (int) lengthof(hdrs); i++)
	{
		struct curl_slist *h;

		if (hdrs[i] == NULL)
			continue;
		h = curl_slist_append(t->headers, hdrs[i]);
		if (h == NULL)
			return CURLE_OUT_OF_MEMORY;
		t->headers = h;
	}

	HTTP_SETOPT(easy, rc, CURLOPT_PRIVATE, (void *) t);
	HTTP_SETOPT(easy, rc, CURLOPT_ERRORBUFFER, t->errbuf);
	HTTP_SETOPT(easy, rc, CURLOPT_URL, t->url);
	HTTP_SETOPT(easy, rc, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	HTTP_SETOPT(easy, rc, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	HTTP_SETOPT(easy, rc, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	HTTP_SETOPT(easy, rc, CURLOPT_FOLLOWLOCATION, 0L);
	HTTP_SETOPT(easy, rc, CURLOPT_CONNECTTIMEOUT_MS, (long) conn->connect_timeout_ms);
	HTTP_SETOPT(easy, rc, CURLOPT_TIMEOUT_MS, (long) conn->timeout_ms);
	HTTP_SETOPT(easy, rc, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
	HTTP_SETOPT(easy, rc, CURLOPT_USERNAME, "");
	HTTP_SETOPT(easy, rc, CURLOPT_PASSWORD, conn->api_key);
	HTTP_SETOPT(easy, rc, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	HTTP_SETOPT(easy, rc, CURLOPT_HTTPHEADER, t->headers);
	HTTP_SETOPT(easy, rc, CURLOPT_ACCEPT_ENCODING, "");
	HTTP_SETOPT(easy, rc, CURLOPT_SSL_VERIFYPEER, conn->verify_tls ? 1L : 0L);
	HTTP_SETOPT(easy, rc, CURLOPT_SSL_VERIFYHOST, conn->verify_tls ? 2L : 0L);
	if (conn->ca_file != NULL)
		HTTP_SETOPT(easy, rc, CURLOPT_CAINFO, conn->ca_file);
	HTTP_SETOPT(easy, rc, CURLOPT_WRITEFUNCTION, http_write_cb);
	HTTP_SETOPT(easy, rc, CURLOPT_WRITEDATA, (void *) t);
	HTTP_SETOPT(easy, rc, CURLOPT_HEADERFUNCTION, http_header_cb);
	HTTP_SETOPT(easy, rc, CURLOPT_HEADERDATA, (void *) t);

	if (post)
	{
		const char *body = req->body ? req->body : "";

		HTTP_SETOPT(easy, rc, CURLOPT_POST, 1L);
		HTTP_SETOPT(easy, rc, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
		/* curl keeps its own copy: the caller's body may go away. */
		HTTP_SETOPT(easy, rc, CURLOPT_COPYPOSTFIELDS, body);
	}
	else
		HTTP_SETOPT(easy, rc, CURLOPT_HTTPGET, 1L);

	return rc;
}

#undef HTTP_SETOPT


/* ---------------------------------------------------------------------
 * Driving transfers, and what curl reports of a completed one
 * ---------------------------------------------------------------------
 */

/*
 * http_drive_curl
 *		Let curl move every attempt forward, then wait at most timeout_ms for
 *		more (not at all if timeout_ms is 0, or if an attempt has completed)
 *
 * The multi handle is shared by all scans of the backend: every attempt
 * curl has completed goes to conn_attempt_ended, whichever scan it belongs
 * to, once its outcome, status and body are set and its ticket is given
 * back.
 */
static void
http_drive_curl(long timeout_ms)
{
	CURLMcode	mrc;
	int			running;

	mrc = curl_multi_perform(http_multi, &running);
	if (mrc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not drive requests to lemlist"),
				 errdetail_internal("%s", curl_multi_strerror(mrc))));

	/* Whatever finished is handled before waiting for anything else. */
	if (http_collect_finished() > 0 || running == 0 || timeout_ms <= 0)
		return;

	pgstat_report_wait_start(lemlist_wait_event(LEMLIST_WAIT_REQUEST));
#if LIBCURL_VERSION_NUM >= 0x074200
	mrc = curl_multi_poll(http_multi, NULL, 0, (int) timeout_ms, NULL);
#else
	mrc = curl_multi_wait(http_multi, NULL, 0, (int) timeout_ms, NULL);
#endif
	pgstat_report_wait_end();
	if (mrc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not wait for lemlist"),
				 errdetail_internal("%s", curl_multi_strerror(mrc))));
}

/*
 * http_collect_finished
 *		Detach the attempts curl has completed, hand each to
 *		conn_attempt_ended, and return how many there were
 */
static int
http_collect_finished(void)
{
	CURLMsg    *msg;
	int			left;
	int			count = 0;

	while ((msg = curl_multi_info_read(http_multi, &left)) != NULL)
	{
		CURL	   *easy = msg->easy_handle;
		CURLcode	result = msg->data.result;
		char	   *priv = NULL;
		HttpTransfer *t;
		TimestampTz now;

		if (msg->msg != CURLMSG_DONE)
			continue;

		/* msg is invalid once its handle is removed */
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		t = (HttpTransfer *) priv;
		if (t == NULL || t->easy != easy)
		{
			/* not ours: cannot happen, but never leave it attached */
			curl_multi_remove_handle(http_multi, easy);
			continue;
		}

		curl_multi_remove_handle(http_multi, easy);
		t->in_multi = false;
		count++;

		now = GetCurrentTimestamp();
		http_completed(t, result, now);
		conn_attempt_ended(t, now);
	}

	return count;
}

/*
 * http_completed
 *		Note what curl says of a completed attempt, and tell pacing when it
 *		ended
 */
static void
http_completed(HttpTransfer *t, CURLcode result, TimestampTz now)
{
	long		status = 0;

	if (result == CURLE_OK)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	t->status = status;
	t->outcome = http_classify(t, result, status);

	if (result != CURLE_OK && t->errbuf[0] == '\0')
		strlcpy(t->errbuf, curl_easy_strerror(result), sizeof(t->errbuf));

	/* note whether the request went out, to tell which timeout it was */
	if (result == CURLE_OPERATION_TIMEDOUT)
	{
		long		request_size = 0;

		curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &request_size);
		t->sent = request_size > 0;
	}

	if (t->ticket_open)
	{
		/*
		 * Use the time it ended by curl's clock: a scan busy with rows may
		 * collect it much later, and pacing would count that delay against the
		 * key.
		 */
		TimestampTz ended = now;
#if LIBCURL_VERSION_NUM >= 0x073d00
		curl_off_t	total_us = 0;

		if (curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK &&
			total_us > 0)
			ended = Min(now, t->started + (TimestampTz) total_us);
#endif
		t->ticket_open = false;
		lemlist_pacing_release(&t->ticket, ended);
	}
}

/*
 * http_classify
 *		Sort the result of an attempt into the outcomes we act upon
 */
static HttpOutcome
http_classify(const HttpTransfer *t, CURLcode result, long status)
{
	switch (result)
	{
		case CURLE_OK:
			return (status >= 200 && status <= 299) ? HTTP_OK : HTTP_STATUS;

		case CURLE_WRITE_ERROR:
			if (t->too_large)
				return HTTP_TOO_LARGE;
			if (t->no_memory)
				return HTTP_NO_MEMORY;
			return HTTP_FAILED;

		case CURLE_OPERATION_TIMEDOUT:
			return HTTP_TIMED_OUT;

		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
			return HTTP_CONNECT_FAILED;

		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return HTTP_BROKEN;

		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CRL_BADFILE:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		case CURLE_SSL_INVALIDCERTSTATUS:
		case CURLE_SSL_ENGINE_NOTFOUND:
		case CURLE_SSL_ENGINE_SETFAILED:
		case CURLE_SSL_ENGINE_INITFAILED:
		case CURLE_USE_SSL_FAILED:
			return HTTP_TLS_FAILED;

		default:
			return HTTP_FAILED;
	}
}


/* ---------------------------------------------------------------------
 * curl callbacks: no ereport, no palloc
 * ---------------------------------------------------------------------
 */

/*
 * http_write_cb
 *		Append a piece of the response body to the attempt's malloc'd buffer
 *
 * Stops the transfer (returns 0) when the body would exceed
 * max_response_bytes, or when memory runs out; the flags tell why.
 */
static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	HttpTransfer *t = (HttpTransfer *) arg;
	size_t		n = size * nmemb;
	int64		limit = t->conn->max_response_bytes;

	if (limit > 0 && (uint64) (t->body_len + n) > (uint64) limit)
	{
		t->too_large = true;
		return 0;
	}

	if (t->body_len + n + 1 > t->body_cap)
	{
		size_t		cap = Max(t->body_cap, 16384);
		char	   *p;

		while (cap < t->body_len + n + 1)
			cap *= 2;
		p = realloc(t->body, cap);
		if (p == NULL)
		{
			t->no_memory = true;
			return 0;
		}
		t->body = p;
		t->body_cap = cap;
	}

	memcpy(t->body + t->body_len, data, n);
	t->body_len += n;
	t->body[t->body_len] = '\0';
	return n;
}

/*
 * http_header_cb
 *		Note the rate limit headers of the response
 */
static size_t
http_header_cb(char *data, size_t size, size_t nitems, void *arg)
{
	HttpTransfer *t = (HttpTransfer *) arg;
	size_t		n = size * nitems;

	/* a new response (after a 100 Continue, say): forget the last one's */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		lemlist_rate_headers_clear(&t->rl);
	else
		(void) lemlist_rate_header(data, n, &t->rl);
	return n;
}


/* ---------------------------------------------------------------------
 * After a failed attempt: another one, or an ERROR
 * ---------------------------------------------------------------------
 */


/*
 * http_retry_ms
 *		Return how long to wait before another attempt of a request whose
 *		attempt failed, or -1 if the failure is not worth another attempt
 *
 * The attempts after the first are the retries.  After a 429, the wait is
 * Retry-After (or the window), and conn_attempt_ended has already put the
 * whole key on hold for that time.  Otherwise it is an exponential back-off
 * with jitter, at least as long as a Retry-After that came with the answer.
 */
static long
http_retry_ms(const HttpTransfer *t)
{
	int			retries = t->attempts - 1;
	int			window_ms = t->conn->rate_window_ms;
	long		wait_ms;

	if (!http_is_retryable(t->outcome, t->status))
		return -1;

	if (t->status == 429)
		wait_ms = lemlist_retry_after_ms(&t->rl, window_ms);
	else
	{
		wait_ms = lemlist_backoff_ms(retries);
		if (t->rl.retry_after_s >= 0)
			wait_ms = Max(wait_ms, t->rl.retry_after_s * 1000L);
	}
	return wait_ms;
}

/*
 * http_is_retryable
 *		Whether an outcome is worth another attempt: 429, 5xx, network trouble
 */
static bool
http_is_retryable(HttpOutcome outcome, long status)
{
	switch (outcome)
	{
		case HTTP_STATUS:
			return status == 429 || (status >= 500 && status <= 599);
		case HTTP_CONNECT_FAILED:
		case HTTP_BROKEN:
		case HTTP_TIMED_OUT:
			return true;
		default:
			return false;
	}
}

/*
 * http_report_failure
 *		Raise the ERROR for a failed request: the one place that maps a
 *		transport outcome to an SQLSTATE and a message
 *
 * Gives back the attempt's curl resources (http_release_attempt) before it
 * throws.
 */
static void
http_report_failure(HttpTransfer *t)
{
	LemlistConnection *conn = t->conn;
	const LemlistHttpRequest *req = t->req;
	int			retries = t->attempts - 1;
	HttpOutcome outcome = t->outcome;
	long		status = t->status;
	char	   *cause;
	bool		sent = t->sent;
	char	   *body;

	/* A cancel that aborted the transfer takes precedence over its error. */
	CHECK_FOR_INTERRUPTS();

	/* Keep what the message needs, then give the curl resources back. */
	body = lemlist_network_text(t->body, t->body_len,
								status == 400 ? HTTP_REJECT_BYTES : HTTP_DETAIL_BYTES);
	cause = lemlist_network_cstring(t->errbuf, HTTP_DETAIL_BYTES);
	http_release_attempt(t);

	switch (outcome)
	{
		case HTTP_STATUS:
			if (status == 429)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("lemlist rate limit exceeded"),
						 errdetail_plural("The request was still rate limited after %d retry.",
										  "The request was still rate limited after %d retries.",
										  retries, retries),
						 errhint("Lower the \"rate_limit\" option or raise the \"max_retries\" option of server \"%s\".",
								 conn->server_name),
						 http_errcontext(req)));
			else if (status >= 500 && status <= 599)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("lemlist request failed with HTTP status %ld", status),
						 body[0] ? errdetail_internal("%s", body) : 0,
						 http_errcontext(req)));
			else if (status == 400)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("lemlist rejected the request"),
						 body[0] ? errdetail_internal("%s", body) : 0,
						 http_errcontext(req)));
			else if (status == 401 || status == 403)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						 status == 401 ?
						 errmsg("lemlist rejected the API key") :
						 errmsg("lemlist denied access"),
						 errhint("Check the \"api_key\" option of the user mapping for server \"%s\".",
								 conn->server_name),
						 http_errcontext(req)));
			else
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("unexpected HTTP status %ld from lemlist", status),
						 body[0] ? errdetail_internal("%s", body) : 0,
						 http_errcontext(req)));
			break;

		case HTTP_CONNECT_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not connect to lemlist"),
					 errdetail_internal("%s", cause),
					 http_errcontext(req)));
			break;

		case HTTP_TIMED_OUT:
			if (sent)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("lemlist request timed out"),
						 errdetail("No complete response arrived within %d ms.",
								   conn->timeout_ms),
						 errhint("The \"timeout_ms\" option of server \"%s\" sets this limit.",
								 conn->server_name),
						 http_errcontext(req)));
			else
				ereport(ERROR,
						(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
						 errmsg("lemlist request timed out"),
						 errdetail("No connection could be established within %d ms.",
								   conn->connect_timeout_ms),
						 errhint("The \"connect_timeout_ms\" option of server \"%s\" sets this limit.",
								 conn->server_name),
						 http_errcontext(req)));
			break;

		case HTTP_TLS_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not establish a TLS connection to lemlist"),
					 errdetail_internal("%s", cause),
					 errhint("Check the \"ca_file\" option of server \"%s\".",
							 conn->server_name),
					 http_errcontext(req)));
			break;

		case HTTP_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("response from lemlist exceeds \"max_response_bytes\" (%lld bytes)",
							(long long) conn->max_response_bytes),
					 errhint("Raise the \"max_response_bytes\" option of server \"%s\".",
							 conn->server_name),
					 http_errcontext(req)));
			break;

		case HTTP_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Could not buffer the response from lemlist."),
					 http_errcontext(req)));
			break;

		case HTTP_BROKEN:
		case HTTP_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("lemlist request failed"),
					 errdetail_internal("%s", cause),
					 http_errcontext(req)));
			break;

		case HTTP_OK:
			break;
	}

	elog(ERROR, "unexpected outcome %d of a lemlist request", (int) outcome);
}

/*
 * http_errcontext
 *		Add "lemlist request METHOD /path" to an error; never the query string
 */
static int
http_errcontext(const LemlistHttpRequest *req)
{
	return errcontext("lemlist request %s %.*s", req->method,
					  (int) strcspn(req->path, "?"), req->path);
}
