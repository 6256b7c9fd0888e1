/*-------------------------------------------------------------------------
 *
 * http_failure.c
 *		  What a failed attempt of a lemlist request leads to: another
 *		  attempt, and after how long, or an ERROR
 *
 * connection.c hands over each attempt that did not succeed.  This file says
 * whether it is worth another attempt and when, and raises the ERROR of a
 * request that failed for good: it is the one place that maps a transport
 * outcome to an SQLSTATE and a message.
 *
 * Design rules:
 *
 * - Connection and TLS failures are ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
 *	 401 and 403 ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, a response
 *	 beyond max_response_bytes ERRCODE_PROGRAM_LIMIT_EXCEEDED, any other
 *	 failure ERRCODE_FDW_ERROR; a cancel that aborted the transfer wins over
 *	 all of them.
 *
 * - The API key never appears in a message.  Text from the network (curl's
 *	 error buffer, lemlist's body) is only ever passed as a %s argument, cut
 *	 short and made valid in the database encoding first.
 *
 * - Every message names the request ("lemlist request GET /path") in its
 *	 CONTEXT, never with its query string.
 *
 * - Worth another attempt: 429, 5xx and network trouble (no connection,
 *	 broken exchange, timeout); nothing else, since the same request would
 *	 fail the same way.
 *
 * - Nothing here includes curl.h: what curl reported is in the attempt.
 *
 * IDENTIFICATION
 *		  src/http_failure.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "lemlist_fdw.h"

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
int
lemlist_http_errcontext(const LemlistHttpRequest *req)
{
	return errcontext("lemlist request %s %.*s", req->method,
					  (int) strcspn(req->path, "?"), req->path);
}
