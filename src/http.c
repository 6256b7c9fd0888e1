/*-------------------------------------------------------------------------
 *
 * http.c
 *		  Attempts of lemlist requests, carried out with libcurl, and what a
 *		  failed one leads to
 *
 * This is the only file that includes curl.h.  connection.c decides when an
 * attempt of a request starts; here the attempt becomes an easy handle on
 * the backend's multi handle, and its completion becomes an outcome, an HTTP
 * status, a body and what the headers said of the rate limit, all in the
 * LemlistHttpAttempt.  For an attempt that did not succeed, this file says
 * whether it is worth another attempt and when (lemlist_http_retry_ms), and
 * raises the ERROR of a request that failed for good: it is the one place
 * that maps a transport outcome to an SQLSTATE and a message.
 *
 * Design rules:
 *
 * - One CURLM multi handle per backend, created lazily and kept for the life
 *	 of the backend, so that its connection cache gives keep-alive across
 *	 scans.  Easy handles live for one attempt of one request and are always
 *	 removed from the multi handle and cleaned up by lemlist_curl_release,
 *	 whether the attempt ends well, badly, or by an ERROR thrown elsewhere:
 *	 connection.c calls it from a reset callback on the connection's memory
 *	 context.  curl allocates with malloc; nothing of curl's goes through
 *	 palloc.
 *
 * - curl callbacks (body, headers) never ereport nor palloc: they set flags
 *	 in the attempt and the outcome is acted upon once curl has returned.
 *
 * - Nothing here waits longer than the caller says: transfers are driven
 *	 with curl_multi_poll, and the caller checks for interrupts in between.
 *
 * - An attempt holds its pacing ticket until curl completes it, and then
 *	 tells pacing.c when it ended by curl's clock; an attempt given back
 *	 before that gives back its ticket too.
 *
 * - Only http and https, no redirects, no signals, explicit timeouts.  The
 *	 API key goes in basic authentication only, never in the URL.
 *
 * - Connection and TLS failures are ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
 *	 401 and 403 ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, a response
 *	 beyond max_response_bytes ERRCODE_PROGRAM_LIMIT_EXCEEDED, any other
 *	 failure ERRCODE_FDW_ERROR; a cancel that aborted the transfer wins over
 *	 all of them.  Worth another attempt: 429, 5xx and network trouble (no
 *	 connection, broken exchange, timeout); nothing else, since the same
 *	 request would fail the same way.
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

#include <curl/curl.h>

#include "miscadmin.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

/* Connections the multi handle keeps open for reuse. */
#define HTTP_MAX_CONNECTS		16

#define HTTP_USER_AGENT			"lemlist_fdw/1.0"

StaticAssertDecl(LEMLIST_HTTP_ERROR_SIZE >= CURL_ERROR_SIZE,
				 "LEMLIST_HTTP_ERROR_SIZE must hold CURL_ERROR_SIZE bytes");

static int	lemlist_http_errcontext(const LemlistHttpRequest *req);
static bool http_curl_initialized = false;
static CURLM *http_multi = NULL;

static CURLcode http_setup_easy(LemlistHttpAttempt *a, const LemlistHttpRequest *req,
								const char *url);
static int	http_collect_finished(void (*done) (LemlistHttpAttempt *attempt,
												TimestampTz now));
static void http_completed(LemlistHttpAttempt *a, CURLcode result, TimestampTz now);
static LemlistHttpOutcome http_classify(const LemlistHttpAttempt *a, CURLcode result,
										long status);
static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *arg);
static size_t http_header_cb(char *data, size_t size, size_t nitems, void *arg);


/* ---------------------------------------------------------------------
 * curl handles and their life cycle
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_curl_init
 *		Initialize libcurl and the backend's multi handle, once
 */
void
lemlist_curl_init(void)
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
 * lemlist_curl_release
 *		Give back the curl resources of an attempt, and its pacing ticket
 *		if curl has not completed it
 *
 * Idempotent, and never throws.  What curl reported stays, but the body.
 */
void
lemlist_curl_release(LemlistHttpAttempt *a)
{
	if (a->easy != NULL)
	{
		if (a->in_multi)
			curl_multi_remove_handle(http_multi, a->easy);
		a->in_multi = false;
		curl_easy_cleanup(a->easy);
		a->easy = NULL;
	}
	if (a->ticket_open)
	{
		a->ticket_open = false;
		lemlist_pacing_release(&a->ticket, GetCurrentTimestamp());
	}
	if (a->headers != NULL)
	{
		curl_slist_free_all(a->headers);
		a->headers = NULL;
	}
	free(a->body);
	a->body = NULL;
	a->body_len = 0;
	a->body_cap = 0;
}

/*
 * lemlist_curl_start
 *		Start one attempt of req: a new easy handle on the multi handle
 *
 * The owner has set the attempt's settings and pacing ticket; whatever
 * happens here, the ticket is given back with the attempt.  The owner must
 * make sure lemlist_curl_release runs if anything throws later.
 */
void
lemlist_curl_start(LemlistHttpAttempt *a, const LemlistHttpRequest *req,
				   const char *url)
{
	CURLcode	rc;
	CURLMcode	mrc;

	Assert(a->easy == NULL);

	a->outcome = LEMLIST_HTTP_OK;
	a->status = 0;
	a->sent = false;
	a->too_large = false;
	a->no_memory = false;
	lemlist_rate_headers_clear(&a->rl);
	a->errbuf[0] = '\0';

	/* From here on, a holds curl resources. */
	a->easy = curl_easy_init();
	if (a->easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not create a curl handle.")));

	rc = http_setup_easy(a, req, url);
	if (rc != CURLE_OK)
	{
		lemlist_curl_release(a);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not prepare a request to lemlist"),
				 errdetail_internal("%s", curl_easy_strerror(rc)),
				 lemlist_http_errcontext(req)));
	}

	a->started = GetCurrentTimestamp();
	mrc = curl_multi_add_handle(http_multi, a->easy);
	if (mrc != CURLM_OK)
	{
		lemlist_curl_release(a);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not start a request to lemlist"),
				 errdetail_internal("%s", curl_multi_strerror(mrc)),
				 lemlist_http_errcontext(req)));
	}
	a->in_multi = true;
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
http_setup_easy(LemlistHttpAttempt *a, const LemlistHttpRequest *req,
				const char *url)
{
	const LemlistHttpSettings *settings = a->settings;
	CURL	   *easy = a->easy;
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
		h = curl_slist_append(a->headers, hdrs[i]);
		if (h == NULL)
			return CURLE_OUT_OF_MEMORY;
		a->headers = h;
	}

	HTTP_SETOPT(easy, rc, CURLOPT_PRIVATE, (void *) a);
	HTTP_SETOPT(easy, rc, CURLOPT_ERRORBUFFER, a->errbuf);
	HTTP_SETOPT(easy, rc, CURLOPT_URL, url);
	HTTP_SETOPT(easy, rc, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	HTTP_SETOPT(easy, rc, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	HTTP_SETOPT(easy, rc, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	HTTP_SETOPT(easy, rc, CURLOPT_FOLLOWLOCATION, 0L);
	HTTP_SETOPT(easy, rc, CURLOPT_CONNECTTIMEOUT_MS, (long) settings->connect_timeout_ms);
	HTTP_SETOPT(easy, rc, CURLOPT_TIMEOUT_MS, (long) settings->timeout_ms);
	HTTP_SETOPT(easy, rc, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
	HTTP_SETOPT(easy, rc, CURLOPT_USERNAME, "");
	HTTP_SETOPT(easy, rc, CURLOPT_PASSWORD, settings->api_key);
	HTTP_SETOPT(easy, rc, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	HTTP_SETOPT(easy, rc, CURLOPT_HTTPHEADER, a->headers);
	HTTP_SETOPT(easy, rc, CURLOPT_ACCEPT_ENCODING, "");
	HTTP_SETOPT(easy, rc, CURLOPT_SSL_VERIFYPEER, settings->verify_tls ? 1L : 0L);
	HTTP_SETOPT(easy, rc, CURLOPT_SSL_VERIFYHOST, settings->verify_tls ? 2L : 0L);
	if (settings->ca_file != NULL)
		HTTP_SETOPT(easy, rc, CURLOPT_CAINFO, settings->ca_file);
	HTTP_SETOPT(easy, rc, CURLOPT_WRITEFUNCTION, http_write_cb);
	HTTP_SETOPT(easy, rc, CURLOPT_WRITEDATA, (void *) a);
	HTTP_SETOPT(easy, rc, CURLOPT_HEADERFUNCTION, http_header_cb);
	HTTP_SETOPT(easy, rc, CURLOPT_HEADERDATA, (void *) a);

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
 * lemlist_curl_drive
 *		Let curl move every attempt on, then wait at most timeout_ms for more
 *		(not at all if timeout_ms is 0, or if an attempt has completed)
 *
 * The multi handle is shared by all scans of the backend: done is called
 * for every attempt curl has completed, whichever scan it belongs to, once
 * the attempt's outcome, status and body are set and its ticket is given
 * back.
 */
void
lemlist_curl_drive(long timeout_ms,
				   void (*done) (LemlistHttpAttempt *attempt, TimestampTz now))
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
	if (http_collect_finished(done) > 0 || running == 0 || timeout_ms <= 0)
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
 *		Detach the attempts curl has completed, hand each to done, and
 *		return how many there were
 */
static int
http_collect_finished(void (*done) (LemlistHttpAttempt *attempt, TimestampTz now))
{
	CURLMsg    *msg;
	int			left;
	int			count = 0;

	while ((msg = curl_multi_info_read(http_multi, &left)) != NULL)
	{
		CURL	   *easy = msg->easy_handle;
		CURLcode	result = msg->data.result;
		char	   *priv = NULL;
		LemlistHttpAttempt *a;
		TimestampTz now;

		if (msg->msg != CURLMSG_DONE)
			continue;

		/* msg is invalid once its handle is removed */
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		a = (LemlistHttpAttempt *) priv;
		if (a == NULL || a->easy != easy)
		{
			/* not ours: cannot happen, but never leave it attached */
			curl_multi_remove_handle(http_multi, easy);
			continue;
		}

		curl_multi_remove_handle(http_multi, easy);
		a->in_multi = false;
		count++;

		now = GetCurrentTimestamp();
		http_completed(a, result, now);
		done(a, now);
	}

	return count;
}

/*
 * http_completed
 *		Note what curl says of a completed attempt, and tell pacing when it
 *		ended
 */
static void
http_completed(LemlistHttpAttempt *a, CURLcode result, TimestampTz now)
{
	long		status = 0;

	if (result == CURLE_OK)
		curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
	a->status = status;
	a->outcome = http_classify(a, result, status);

	if (result != CURLE_OK && a->errbuf[0] == '\0')
		strlcpy(a->errbuf, curl_easy_strerror(result), sizeof(a->errbuf));

	/* whether the request went out, to say which timeout it was */
	if (result == CURLE_OPERATION_TIMEDOUT)
	{
		long		request_size = 0;

		curl_easy_getinfo(a->easy, CURLINFO_REQUEST_SIZE, &request_size);
		a->sent = request_size > 0;
	}

	if (a->ticket_open)
	{
		/*
		 * When it ended, by curl's clock: a scan busy with rows may collect
		 * it much later, and pacing would count that delay against the key.
		 */
		TimestampTz ended = now;
#if LIBCURL_VERSION_NUM >= 0x073d00
		curl_off_t	total_us = 0;

		if (curl_easy_getinfo(a->easy, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK &&
			total_us > 0)
			ended = Min(now, a->started + (TimestampTz) total_us);
#endif
		a->ticket_open = false;
		lemlist_pacing_release(&a->ticket, ended);
	}
}

/*
 * http_classify
 *		Sort the result of an attempt into the outcomes we act upon
 */
static LemlistHttpOutcome
http_classify(const LemlistHttpAttempt *a, CURLcode result, long status)
{
	switch (result)
	{
		case CURLE_OK:
			return (status >= 200 && status <= 299) ? LEMLIST_HTTP_OK : LEMLIST_HTTP_STATUS;

		case CURLE_WRITE_ERROR:
			if (a->too_large)
				return LEMLIST_HTTP_TOO_LARGE;
			if (a->no_memory)
				return LEMLIST_HTTP_NO_MEMORY;
			return LEMLIST_HTTP_FAILED;

		case CURLE_OPERATION_TIMEDOUT:
			return LEMLIST_HTTP_TIMED_OUT;

		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
			return LEMLIST_HTTP_CONNECT_FAILED;

		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return LEMLIST_HTTP_BROKEN;

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
			return LEMLIST_HTTP_TLS_FAILED;

		default:
			return LEMLIST_HTTP_FAILED;
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
	LemlistHttpAttempt *a = (LemlistHttpAttempt *) arg;
	size_t		n = size * nmemb;
	int64		limit = a->settings->max_response_bytes;

	if (limit > 0 && (uint64) (a->body_len + n) > (uint64) limit)
	{
		a->too_large = true;
		return 0;
	}

	if (a->body_len + n + 1 > a->body_cap)
	{
		size_t		cap = Max(a->body_cap, 16384);
		char	   *p;

		while (cap < a->body_len + n + 1)
			cap *= 2;
		p = realloc(a->body, cap);
		if (p == NULL)
		{
			a->no_memory = true;
			return 0;
		}
		a->body = p;
		a->body_cap = cap;
	}

	memcpy(a->body + a->body_len, data, n);
	a->body_len += n;
	a->body[a->body_len] = '\0';
	return n;
}

/*
 * http_header_cb
 *		Note the rate limit headers of the response
 */
static size_t
http_header_cb(char *data, size_t size, size_t nitems, void *arg)
{
	LemlistHttpAttempt *a = (LemlistHttpAttempt *) arg;
	size_t		n = size * nitems;

	/* a new response (after a 100 Continue, say): forget the last one's */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		lemlist_rate_headers_clear(&a->rl);
	else
		(void) lemlist_rate_header(data, n, &a->rl);
	return n;
}


/* ---------------------------------------------------------------------
 * After a failed attempt: another one, or an ERROR
 * ---------------------------------------------------------------------
 */

/* How much of a response body (or of curl's error) goes into an error's DETAIL. */
#define HTTP_DETAIL_BYTES		500
#define HTTP_REJECT_BYTES		4000

static bool http_is_retryable(LemlistHttpOutcome outcome, long status);


/*
 * lemlist_http_retry_ms
 *		How long to wait before another attempt of a request whose attempt
 *		failed, retries attempts after the first; -1 if the failure is not
 *		worth another attempt
 *
 * After a 429 the wait is Retry-After (or the window), for which the whole
 * key is held already (connection.c); otherwise it is an exponential
 * back-off with jitter, at least as long as a Retry-After that came with the
 * answer.
 */
long
lemlist_http_retry_ms(const LemlistHttpAttempt *attempt, int retries,
					  int window_ms)
{
	long		wait_ms;

	if (!http_is_retryable(attempt->outcome, attempt->status))
		return -1;

	if (attempt->status == 429)
		wait_ms = lemlist_retry_after_ms(&attempt->rl, window_ms);
	else
	{
		wait_ms = lemlist_backoff_ms(retries);
		if (attempt->rl.retry_after_s >= 0)
			wait_ms = Max(wait_ms, attempt->rl.retry_after_s * 1000L);
	}
	return wait_ms;
}

/*
 * http_is_retryable
 *		Whether an outcome is worth another attempt: 429, 5xx, network trouble
 */
static bool
http_is_retryable(LemlistHttpOutcome outcome, long status)
{
	switch (outcome)
	{
		case LEMLIST_HTTP_STATUS:
			return status == 429 || (status >= 500 && status <= 599);
		case LEMLIST_HTTP_CONNECT_FAILED:
		case LEMLIST_HTTP_BROKEN:
		case LEMLIST_HTTP_TIMED_OUT:
			return true;
		default:
			return false;
	}
}

/*
 * lemlist_http_report_failure
 *		Raise the ERROR for a failed request: the one place that maps a
 *		transport outcome to an SQLSTATE and a message
 *
 * Gives back the attempt's curl resources (lemlist_curl_release) before it
 * throws.  retries is the number of attempts beyond the first.
 */
void
lemlist_http_report_failure(LemlistHttpAttempt *attempt,
							const LemlistHttpRequest *req, int retries)
{
	const LemlistHttpSettings *settings = attempt->settings;
	LemlistHttpOutcome outcome = attempt->outcome;
	long		status = attempt->status;
	char	   *cause;
	bool		sent = attempt->sent;
	char	   *body;

	/* A cancel that aborted the transfer wins over the transfer's error. */
	CHECK_FOR_INTERRUPTS();

	/* Keep what the message needs, then give the curl resources back. */
	body = lemlist_network_text(attempt->body, attempt->body_len,
								status == 400 ? HTTP_REJECT_BYTES : HTTP_DETAIL_BYTES);
	cause = lemlist_network_cstring(attempt->errbuf, HTTP_DETAIL_BYTES);
	lemlist_curl_release(attempt);

	switch (outcome)
	{
		case LEMLIST_HTTP_STATUS:
			if (status == 429)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("lemlist rate limit exceeded"),
						 errdetail_plural("The request was still rate limited after %d retry.",
										  "The request was still rate limited after %d retries.",
										  retries, retries),
						 errhint("Lower the \"rate_limit\" option or raise the \"max_retries\" option of server \"%s\".",
								 settings->server_name),
						 lemlist_http_errcontext(req)));
			else if (status >= 500 && status <= 599)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("lemlist request failed with HTTP status %ld", status),
						 body[0] ? errdetail_internal("%s", body) : 0,
						 lemlist_http_errcontext(req)));
			else if (status == 400)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("lemlist rejected the request"),
						 body[0] ? errdetail_internal("%s", body) : 0,
						 lemlist_http_errcontext(req)));
			else if (status == 401 || status == 403)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						 status == 401 ?
						 errmsg("lemlist rejected the API key") :
						 errmsg("lemlist denied access"),
						 errhint("Check the \"api_key\" option of the user mapping for server \"%s\".",
								 settings->server_name),
						 lemlist_http_errcontext(req)));
			else
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("unexpected HTTP status %ld from lemlist", status),
						 body[0] ? errdetail_internal("%s", body) : 0,
						 lemlist_http_errcontext(req)));
			break;

		case LEMLIST_HTTP_CONNECT_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not connect to lemlist"),
					 errdetail_internal("%s", cause),
					 lemlist_http_errcontext(req)));
			break;

		case LEMLIST_HTTP_TIMED_OUT:
			if (sent)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("lemlist request timed out"),
						 errdetail("No complete response arrived within %d ms.",
								   settings->timeout_ms),
						 errhint("The \"timeout_ms\" option of server \"%s\" sets this limit.",
								 settings->server_name),
						 lemlist_http_errcontext(req)));
			else
				ereport(ERROR,
						(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
						 errmsg("lemlist request timed out"),
						 errdetail("No connection could be established within %d ms.",
								   settings->connect_timeout_ms),
						 errhint("The \"connect_timeout_ms\" option of server \"%s\" sets this limit.",
								 settings->server_name),
						 lemlist_http_errcontext(req)));
			break;

		case LEMLIST_HTTP_TLS_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not establish a TLS connection to lemlist"),
					 errdetail_internal("%s", cause),
					 errhint("Check the \"ca_file\" option of server \"%s\".",
							 settings->server_name),
					 lemlist_http_errcontext(req)));
			break;

		case LEMLIST_HTTP_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("response from lemlist exceeds \"max_response_bytes\" (%lld bytes)",
							(long long) settings->max_response_bytes),
					 errhint("Raise the \"max_response_bytes\" option of server \"%s\".",
							 settings->server_name),
					 lemlist_http_errcontext(req)));
			break;

		case LEMLIST_HTTP_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Could not buffer the response from lemlist."),
					 lemlist_http_errcontext(req)));
			break;

		case LEMLIST_HTTP_BROKEN:
		case LEMLIST_HTTP_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("lemlist request failed"),
					 errdetail_internal("%s", cause),
					 lemlist_http_errcontext(req)));
			break;

		case LEMLIST_HTTP_OK:
			break;
	}

	elog(ERROR, "unexpected outcome %d of a lemlist request", (int) outcome);
}

/*
 * lemlist_http_errcontext
 *		Add "lemlist request METHOD /path" to an error; never the query string
 */
static int
lemlist_http_errcontext(const LemlistHttpRequest *req)
{
	return errcontext("lemlist request %s %.*s", req->method,
					  (int) strcspn(req->path, "?"), req->path);
}
