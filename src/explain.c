/*-------------------------------------------------------------------------
 *
 * explain.c
 *		  EXPLAIN output of a lemlist foreign scan
 *
 * What a scan will send, or sent: the route, how many campaigns and
 * batches, the filters as they go into the requests and, with VERBOSE, the
 * body of the first batch.  Plain EXPLAIN sends nothing: the values are
 * computed from the plan's conditions when they are all constants, and
 * otherwise shown as "computed at run time".  Once the scan has run
 * (EXPLAIN ANALYZE), the values and combinations it computed are shown as
 * they were, and what the transport did is added.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/explain.h"
#include "lib/stringinfo.h"

#include "lemlist_fdw.h"

/*
 * describe_filters
 *		"startDate=..., endDate=..., ABSelected in (A, B)" for EXPLAIN.
 */
static char *
describe_filters(LemlistScanState *ss, LemlistFilterValues *fv, bool known)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		run_time_end = true;
	struct
	{
		const char *field;
		List	   *values;
	}			sets[3];

	initStringInfo(&buf);
	if (!known)
	{
		/* in the order of the filters, whatever the order of the clauses */
		for (int filter = LEMLIST_FILTER_NONE + 1; filter < LEMLIST_NUM_FILTERS; filter++)
		{
			foreach(lc, ss->conds)
			{
				if ((int) ((LemlistCond *) lfirst(lc))->filter != filter)
					continue;
				appendStringInfo(&buf, "%s%s", buf.len ? ", " : "",
								 lemlist_filter_name(filter));
				break;
			}
		}
		return psprintf("computed at run time from %s", buf.data);
	}

	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS)
	{
		if (fv->status)
			appendStringInfo(&buf, "status=%s", fv->status);
		if (fv->created_by)
			appendStringInfo(&buf, "%screatedBy=%s", buf.len ? ", " : "",
							 fv->created_by);
		return buf.len ? buf.data : NULL;
	}

	foreach(lc, ss->conds)
	{
		if (((LemlistCond *) lfirst(lc))->filter == LEMLIST_FILTER_END_DATE)
			run_time_end = false;
	}
	appendStringInfo(&buf, "startDate=%s, endDate=%s",
					 lemlist_format_timestamp(fv->start_date),
					 (run_time_end && !ss->started) ? "statement start" :
					 lemlist_format_timestamp(fv->end_date));

	sets[0].field = "sendUser";
	sets[0].values = fv->send_users;
	sets[1].field = "ABSelected";
	sets[1].values = fv->ab_selected;
	sets[2].field = "channels";
	sets[2].values = fv->channels;
	for (int i = 0; i < 3; i++)
	{
		if (sets[i].values == NIL || linitial(sets[i].values) == NULL)
			continue;
		appendStringInfo(&buf, ", %s%s", sets[i].field,
						 list_length(sets[i].values) > 1 ? " in (" : "=");
		foreach(lc, sets[i].values)
			appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
							 (char *) lfirst(lc));
		if (list_length(sets[i].values) > 1)
			appendStringInfoChar(&buf, ')');
	}
	return buf.data;
}

/*
 * lemlist_scan_explain
 *		What will be (or was) requested; VERBOSE adds the first body, ANALYZE
 *		what the transport did.
 */
void
lemlist_scan_explain(LemlistScanState *ss, ExplainState *es)
{
	LemlistFilterValues fv;
	bool		known;
	bool		campaigns = ss->opts.resource == LEMLIST_RES_CAMPAIGNS;
	char	   *filters;
	List	   *combos = NIL;

	memset(&fv, 0, sizeof(fv));
	known = ss->started || lemlist_conds_are_constant(ss->conds);
	if (ss->started)
	{
		fv = ss->fv;
		combos = ss->combos;
	}
	else if (known)
	{
		lemlist_eval_conds(ss->conds, NIL, NULL, ss->opts.default_start_date,
						   lemlist_default_end_date(), &fv);
		combos = lemlist_combinations(&fv);
	}

	ExplainPropertyText("lemlist Request",
						campaigns ? "GET /campaigns?version=v2" :
						"POST " LEMLIST_STATS_ROUTE, es);

	if (!campaigns)
	{
		char	   *what;

		if (!known)
			what = pstrdup("computed at run time");
		else if (fv.empty)
			what = pstrdup("none (the filters exclude every row)");
		else if (fv.all_campaigns)
			what = pstrdup("all (listed with GET /campaigns?version=v2)");
		else
			what = psprintf("%d", list_length(fv.campaign_ids));
		ExplainPropertyText("lemlist Campaigns", what, es);

		if (known && !fv.empty && !fv.all_campaigns)
		{
			int			n = list_length(fv.campaign_ids);
			int			ncombos = list_length(combos);

			ExplainPropertyInteger("lemlist Batches", NULL,
								   (int64) ncombos * ((n + LEMLIST_BATCH_SIZE - 1) / LEMLIST_BATCH_SIZE),
								   es);
		}
	}

	filters = describe_filters(ss, &fv, known);
	if (filters)
		ExplainPropertyText("lemlist Filters", filters, es);

	if (es->verbose && known && !fv.empty && !campaigns)
	{
		List	   *ids = NIL;

		if (!fv.all_campaigns)
		{
			ListCell   *lc;

			foreach(lc, fv.campaign_ids)
			{
				if (foreach_current_index(lc) >= LEMLIST_BATCH_SIZE)
					break;
				ids = lappend(ids, lfirst(lc));
			}
		}
		if (ids != NIL)
			ExplainPropertyText("lemlist Body",
								lemlist_json_stats_request(ids,
														   lemlist_format_timestamp(fv.start_date),
														   lemlist_format_timestamp(fv.end_date),
														   linitial(combos)),
								es);
	}

	if (es->analyze)
	{
		if (ss->list_requests > 0)
			ExplainPropertyInteger("lemlist List Pages", NULL, ss->list_requests, es);
		if (!campaigns)
			ExplainPropertyInteger("lemlist Batches Sent", NULL, ss->batches, es);
		ExplainPropertyInteger("lemlist Requests Sent", NULL, ss->stats.requests, es);
		/* answers that needed no request: in text format, only if any */
		if (ss->stats.memo_hits > 0 || es->format != EXPLAIN_FORMAT_TEXT)
			ExplainPropertyInteger("lemlist Memo Hits", NULL, ss->stats.memo_hits, es);
		if (ss->stats.cache_hits > 0 || es->format != EXPLAIN_FORMAT_TEXT)
			ExplainPropertyInteger("lemlist Cache Hits", NULL, ss->stats.cache_hits, es);
		ExplainPropertyInteger("lemlist Retries", NULL, ss->stats.retries, es);
		ExplainPropertyInteger("lemlist Rate Limited", NULL, ss->stats.rate_limited, es);
		if (es->timing)
		{
			ExplainPropertyFloat("lemlist API Time", "ms", ss->stats.api_ms, 3, es);
			ExplainPropertyFloat("lemlist Decode Time", "ms", ss->decode_ms, 3, es);
			ExplainPropertyFloat("lemlist Pacing Wait", "ms", ss->stats.pacing_ms, 3, es);
			ExplainPropertyFloat("lemlist Backoff Wait", "ms", ss->stats.backoff_ms, 3, es);
		}
	}
}
