/*-------------------------------------------------------------------------
 *
 * requests.c
 *		  The requests of a lemlist foreign scan, and what their answers bring
 *
 * For every filter combination, the scan sends one batch request per 100
 * campaign IDs; without a campaign_id condition it lists the team's
 * campaigns page by page, and batches the IDs as the pages come, once there
 * are enough for a wave of max_parallel batches (or the listing is over).
 * A campaign listed twice (it moved between pages) counts once, and a
 * listing always ends.  Each answer becomes the rows scan.c returns next
 * (the campaigns resource's pages, or a batch's statistics, checked by
 * answer.c first) or more requests (the pages of a stats listing).
 *
 * Requests are made only as slots free up (at most
 * LEMLIST_QUEUE_WAVES * max_parallel queued or in flight) and freed once
 * answered, and a listing pauses while as many batches wait to be sent, so
 * memory is bounded by the batches in flight, not by the number of
 * campaigns: only the set of listed IDs, kept to count a campaign once,
 * grows with them.  Requests and the listing's bookkeeping live in
 * run_cxt, parsed answers in batch_cxt.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "portability/instr_time.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "lemlist_fdw.h"

/* Hard stop for campaign listing: more pages than this is a broken API. */
#define LEMLIST_MAX_LIST_PAGES		100000
/* Requests queued or in flight per scan, in units of max_parallel. */
#define LEMLIST_QUEUE_WAVES			2

typedef enum ScanRequestKind
{
	SCAN_REQ_LIST_PAGE,			/* GET /campaigns page */
	SCAN_REQ_STATS_BATCH		/* POST /v2/campaigns/stats/batch */
} ScanRequestKind;

/* One request of the scan, with what is needed to check its answer. */
struct ScanRequest
{
	LemlistHttpRequest http;
	ScanRequestKind kind;
	int			offset;			/* list page */
	LemlistCombo *combo;		/* stats batch */
	char	  **ids;			/* stats batch: requested IDs */
	int			nids;
};

/* Up to 100 listed IDs waiting to be batched, for every combination. */
struct ScanChunk
{
	char	  **ids;
	int			nids;
};

/* An ID the listing brought (hash table entry; collisions chained). */
typedef struct ListedId
{
	uint64		hash;
	char	   *id;
	List	   *more;			/* other IDs with the same hash */
} ListedId;

static void fill_queue(LemlistScanState *ss);
static int	unsent_listed_batches(LemlistScanState *ss);
static void submit_list_page(LemlistScanState *ss, int offset);
static void submit_batch(LemlistScanState *ss, LemlistCombo *combo,
						 char **ids, int nids);
static void add_listed_id(LemlistScanState *ss, const char *id);
static void flush_listed_ids(LemlistScanState *ss);
static void handle_response(LemlistScanState *ss, ScanRequest *req);
static void free_request(ScanRequest *req);
static void handle_list_page(LemlistScanState *ss, ScanRequest *req);
static void handle_stats_batch(LemlistScanState *ss, ScanRequest *req);

/*
 * lemlist_scan_send_first
 *		Open the connection of an execution, and send its first requests.
 */
void
lemlist_scan_send_first(LemlistScanState *ss)
{
	ss->conn = lemlist_http_open(&ss->opts, ss->api_key, &ss->stats, ss->run_cxt);
	ss->ncombos = list_length(ss->combos);
	ss->next_combo = 0;
	ss->next_first = 0;
	ss->next_offset = -1;
	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS || ss->fv.all_campaigns)
		ss->next_offset = 0;
	ss->listed_count = 0;
	ss->announced = -1;

	fill_queue(ss);
}

/*
 * lemlist_scan_next_answer
 *		Replace the answer whose rows have all been returned by the next one,
 *		sending what may be sent meanwhile.  False when every request has
 *		been answered.
 */
bool
lemlist_scan_next_answer(LemlistScanState *ss)
{
	LemlistHttpRequest *http;

	/* the previous response and its rows are no longer referenced */
	ss->rows = NIL;
	ss->row_ids = NIL;
	if (ss->row_req != NULL)
		free_request(ss->row_req);
	ss->row_req = NULL;
	MemoryContextReset(ss->batch_cxt);

	fill_queue(ss);
	http = lemlist_http_next(ss->conn);
	if (http == NULL)
		return false;

	/* an answer that fails to parse is not reused */
	PG_TRY();
	{
		handle_response(ss, (ScanRequest *) http->arg);
	}
	PG_CATCH();
	{
		lemlist_http_forget(ss->conn, http);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return true;
}

/*
 * lemlist_scan_forget_answer
 *		The answer whose rows are being returned is not to be reused: one of
 *		its values failed to convert.
 */
void
lemlist_scan_forget_answer(LemlistScanState *ss)
{
	if (ss->row_req != NULL)
		lemlist_http_forget(ss->conn, &ss->row_req->http);
}

/*
 * fill_queue
 *		Make the requests that may be made now: the next list page (it is on
 *		the critical path) unless enough batches wait already, then batches
 *		while fewer than LEMLIST_QUEUE_WAVES * max_parallel requests are
 *		queued or in flight.  During a listing, batches wait until a wave of
 *		max_parallel is ready, so that a short listing sends its pages
 *		first and its batches together.
 */
static void
fill_queue(LemlistScanState *ss)
{
	int			wave = Max(ss->opts.max_parallel, 1);
	int			window = LEMLIST_QUEUE_WAVES * wave;
	int			nids = list_length(ss->fv.campaign_ids);

	if (ss->done || ss->conn == NULL)
		return;

	if (ss->next_offset >= 0 && !ss->page_out &&
		unsent_listed_batches(ss) < window)
	{
		submit_list_page(ss, ss->next_offset);
		ss->next_offset = -1;
		ss->page_out = true;
	}

	while (lemlist_http_pending(ss->conn) < window)
	{
		if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS)
			break;
		if (!ss->fv.all_campaigns)
		{
			/* explicit IDs: every chunk of a combination, then the next one */
			char	   *ids[LEMLIST_BATCH_SIZE];
			int			n = Min(LEMLIST_BATCH_SIZE, nids - ss->next_first);

			if (ss->next_combo >= ss->ncombos)
				break;
			for (int i = 0; i < n; i++)
				ids[i] = list_nth(ss->fv.campaign_ids, ss->next_first + i);
			submit_batch(ss, list_nth(ss->combos, ss->next_combo), ids, n);
			ss->next_first += LEMLIST_BATCH_SIZE;
			if (ss->next_first >= nids)
			{
				ss->next_first = 0;
				ss->next_combo++;
			}
		}
		else
		{
			/* listed IDs: every combination of a chunk, then the next one */
			ScanChunk  *chunk;
			bool		listing = ss->page_out || ss->next_offset >= 0;

			if (ss->chunks == NIL ||
				(listing && unsent_listed_batches(ss) < wave))
				break;
			chunk = linitial(ss->chunks);
			submit_batch(ss, list_nth(ss->combos, ss->chunk_combo),
						 chunk->ids, chunk->nids);
			if (++ss->chunk_combo >= ss->ncombos)
			{
				ss->chunks = list_delete_first(ss->chunks);
				pfree(chunk->ids);
				pfree(chunk);
				ss->chunk_combo = 0;
			}
		}
	}
}

/*
 * unsent_listed_batches
 *		Batches of listed IDs not made yet (the chunk being filled aside)
 */
static int
unsent_listed_batches(LemlistScanState *ss)
{
	return list_length(ss->chunks) * ss->ncombos - ss->chunk_combo;
}

/*
 * append_query_param
 *		Add "&name=value" to a query string, percent-encoding the value.
 */
static void
append_query_param(StringInfo buf, const char *name, const char *value)
{
	appendStringInfo(buf, "&%s=", name);
	for (const unsigned char *p = (const unsigned char *) value; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
			*p == '.' || *p == '~')
			appendStringInfoChar(buf, (char) *p);
		else
			appendStringInfo(buf, "%%%02X", *p);
	}
}

/*
 * list_page_path
 *		The path of one page of the campaign list.
 */
static char *
list_page_path(LemlistScanState *ss, int offset)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s?version=v2&limit=%d&offset=%d",
					 LEMLIST_CAMPAIGNS_ROUTE, LEMLIST_PAGE_SIZE, offset);
	/* the list filters only narrow the campaigns resource itself */
	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS)
	{
		if (ss->fv.status)
			append_query_param(&buf, "status", ss->fv.status);
		if (ss->fv.created_by)
			append_query_param(&buf, "createdBy", ss->fv.created_by);
	}
	return buf.data;
}

static void
submit_list_page(LemlistScanState *ss, int offset)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->run_cxt);
	ScanRequest *req = palloc0(sizeof(ScanRequest));

	if (++ss->list_pages > LEMLIST_MAX_LIST_PAGES)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("lemlist campaign list does not end"),
				 errdetail("More than %d pages were listed.", LEMLIST_MAX_LIST_PAGES)));

	req->kind = SCAN_REQ_LIST_PAGE;
	req->offset = offset;
	req->http.urgent = true;	/* the listing's next step waits on it */
	req->http.method = "GET";
	req->http.path = list_page_path(ss, offset);
	req->http.arg = req;
	ss->list_requests++;
	lemlist_http_submit(ss->conn, &req->http);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * submit_batch
 *		One request for up to 100 IDs under one combination; every chunk
 *		carries the same dates and filters.  The request keeps its own copy
 *		of the array of IDs (not of the IDs).
 */
static void
submit_batch(LemlistScanState *ss, LemlistCombo *combo, char **ids, int nids)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->run_cxt);
	ScanRequest *req = palloc0(sizeof(ScanRequest));
	List	   *chunk = NIL;

	req->kind = SCAN_REQ_STATS_BATCH;
	req->combo = combo;
	req->nids = nids;
	req->ids = palloc(sizeof(char *) * nids);
	for (int i = 0; i < nids; i++)
	{
		req->ids[i] = ids[i];
		chunk = lappend(chunk, ids[i]);
	}
	req->http.method = "POST";
	req->http.path = LEMLIST_STATS_ROUTE;
	req->http.body = lemlist_json_stats_request(chunk, ss->start_str,
												ss->end_str, combo);
	req->http.arg = req;
	list_free(chunk);
	ss->batches++;
	lemlist_http_submit(ss->conn, &req->http);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * add_listed_id
 *		Queue a listed ID for batching, unless it was listed already: a
 *		campaign can move between pages while listing, and counts once
 */
static void
add_listed_id(LemlistScanState *ss, const char *id)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->run_cxt);
	uint64		hash = hash_bytes_extended((const unsigned char *) id, strlen(id), 0);
	ListedId   *entry;
	bool		found;
	char	   *copy;

	if (ss->listed == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(ListedId);
		ctl.hcxt = ss->run_cxt;
		ss->listed = hash_create("lemlist_fdw listed campaigns", 256, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	entry = hash_search(ss->listed, &hash, HASH_ENTER, &found);
	if (found)
	{
		ListCell   *lc;

		if (strcmp(entry->id, id) == 0)
		{
			MemoryContextSwitchTo(oldcxt);
			return;
		}
		foreach(lc, entry->more)
		{
			if (strcmp(lfirst(lc), id) == 0)
			{
				MemoryContextSwitchTo(oldcxt);
				return;
			}
		}
		copy = pstrdup(id);
		entry->more = lappend(entry->more, copy);
	}
	else
	{
		copy = pstrdup(id);
		entry->id = copy;
		entry->more = NIL;
	}

	if (ss->filling == NULL)
	{
		ss->filling = palloc(sizeof(ScanChunk));
		ss->filling->ids = palloc(sizeof(char *) * LEMLIST_BATCH_SIZE);
		ss->filling->nids = 0;
	}
	ss->filling->ids[ss->filling->nids++] = copy;
	if (ss->filling->nids == LEMLIST_BATCH_SIZE)
		flush_listed_ids(ss);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * flush_listed_ids
 *		The chunk being filled is ready to be batched
 */
static void
flush_listed_ids(LemlistScanState *ss)
{
	MemoryContext oldcxt;

	if (ss->filling == NULL)
		return;
	oldcxt = MemoryContextSwitchTo(ss->run_cxt);
	ss->chunks = lappend(ss->chunks, ss->filling);
	ss->filling = NULL;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * handle_response
 *		Turn one completed request into rows (or into more requests).
 */
static void
handle_response(LemlistScanState *ss, ScanRequest *req)
{
	if (req->kind == SCAN_REQ_LIST_PAGE)
		handle_list_page(ss, req);
	else
		handle_stats_batch(ss, req);

	/*
	 * The body has been parsed into batch_cxt; the request is kept while its
	 * rows are returned, should one of them fail to convert.
	 */
	if (req->http.response)
		pfree(req->http.response);
	req->http.response = NULL;
	ss->row_req = req;

	/* queue what the answer made possible, before its rows are returned */
	fill_queue(ss);
}

/*
 * free_request
 *		Give back what a request took from run_cxt
 */
static void
free_request(ScanRequest *req)
{
	if (req->http.response)
		pfree(req->http.response);
	if (req->kind == SCAN_REQ_LIST_PAGE)
		pfree(req->http.path);
	else
	{
		pfree(req->http.body);
		pfree(req->ids);
	}
	pfree(req);
}

/*
 * list_page_is_last
 *		Is this page of the listing the last one?
 *
 * Only a page shorter than the page size (or empty) proves the end, or a
 * full page that the pagination object calls the last while totalRecords
 * agrees that every campaign has been listed.  A pagination object that
 * claims the end of a full page while totalRecords says there are more is
 * not believed: paging goes on.  When the listing ends, the campaigns listed
 * must be the number the last totalRecords announced: more or fewer is an
 * ERROR, never a short answer.  Paging always terminates: a page that starts
 * like the page before it (a server that ignores the offset) is an ERROR
 * too, and so is a listing of more than LEMLIST_MAX_LIST_PAGES pages
 * (submit_list_page).
 */
static bool
list_page_is_last(LemlistScanState *ss, LemlistParsed *parsed, int offset)
{
	char	   *first_id;
	bool		last;

	ss->listed_count += parsed->page_count;
	if (parsed->has_pagination)
		ss->announced = parsed->total_records;

	last = parsed->page_count < LEMLIST_PAGE_SIZE;
	if (!last && parsed->has_pagination && ss->announced >= 0 &&
		ss->listed_count >= ss->announced &&
		(parsed->next_page <= parsed->current_page ||
		 (parsed->total_pages > 0 && parsed->current_page >= parsed->total_pages)))
		last = true;

	if (last)
	{
		if (ss->announced >= 0 && ss->listed_count != ss->announced)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("lemlist listed %lld campaigns, but announced %lld",
							(long long) ss->listed_count, (long long) ss->announced),
					 errdetail("The listing ended at offset %lld, on a page of %d campaigns, while its \"totalRecords\" said %lld.",
							   (long long) ss->listed_count, parsed->page_count,
							   (long long) ss->announced),
					 errhint("The team's campaigns may have changed during the listing: run the query again.")));
		return true;
	}

	first_id = linitial(parsed->row_campaign_ids);
	if (ss->prev_first_id && strcmp(ss->prev_first_id, first_id) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("lemlist returned the same page of campaigns twice"),
				 errdetail("The page at offset %d starts with the same campaign as the page before it.",
						   offset)));
	ss->prev_first_id = MemoryContextStrdup(ss->run_cxt, first_id);
	return false;
}

/*
 * add_decode_time
 *		Count the time since start as spent decoding answers.
 */
static void
add_decode_time(LemlistScanState *ss, instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	ss->decode_ms += INSTR_TIME_GET_MILLISEC(now);
}

static void
handle_list_page(LemlistScanState *ss, ScanRequest *req)
{
	LemlistParsed parsed;
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->batch_cxt);
	ListCell   *lc;
	instr_time	start;

	/* listing for a stats table only needs the IDs, not its columns */
	INSTR_TIME_SET_CURRENT(start);
	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS)
		lemlist_parse_campaigns(req->http.response, req->http.response_len,
								ss->jcols, ss->natts, &parsed);
	else
		lemlist_parse_campaigns(req->http.response, req->http.response_len,
								NULL, 0, &parsed);
	add_decode_time(ss, start);
	MemoryContextSwitchTo(oldcxt);

	ss->page_out = false;
	if (!list_page_is_last(ss, &parsed, req->offset))
		ss->next_offset = req->offset + parsed.page_count;

	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS)
	{
		ss->rows = parsed.rows;
		ss->row_ids = parsed.row_campaign_ids;
		ss->next_row = 0;
		ss->row_combo = NULL;
		return;
	}

	/* stats without campaign_id: batch the team's IDs as they come */
	foreach(lc, parsed.row_campaign_ids)
		add_listed_id(ss, lfirst(lc));
	if (ss->next_offset < 0)
		flush_listed_ids(ss);
}

static void
handle_stats_batch(LemlistScanState *ss, ScanRequest *req)
{
	LemlistParsed parsed;
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->batch_cxt);
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	lemlist_parse_stats(req->http.response, req->http.response_len,
						ss->opts.resource == LEMLIST_RES_CAMPAIGN_STEP_STATS,
						ss->jcols, ss->natts, &parsed);
	add_decode_time(ss, start);
	lemlist_check_batch_complete(req->ids, req->nids, &parsed);
	MemoryContextSwitchTo(oldcxt);

	lemlist_report_campaign_errors(ss->opts.campaign_errors, parsed.errors);

	ss->rows = parsed.rows;
	ss->row_ids = parsed.row_campaign_ids;
	ss->next_row = 0;
	ss->row_combo = req->combo;
}
