/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executing a lemlist foreign scan: begin, rows, rescan
 *
 * A scan evaluates its pushed-down conditions once (at the first row, so
 * that parameters and initplan outputs are known), then lets requests.c
 * send its requests and bring back their answers, one response at a time,
 * as rows of texts.  This file turns those texts into tuples with the
 * columns' input functions, filling the echo columns with the filters of
 * the request the row came from.  An answer one of whose values fails to
 * convert is not handed out again by the memo (nor, in requests.c, one
 * that fails to parse).
 *
 * Memory: scan_cxt (whole scan: options, columns, key), run_cxt (one
 * execution: filter values, IDs, the connection and its curl handles, reset
 * on rescan) and batch_cxt (one response and the rows built from it, reset
 * before the next response).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "lemlist_fdw.h"

static void start_scan(LemlistScanState *ss);
static void store_row(LemlistScanState *ss, TupleTableSlot *slot, char **values,
					  LemlistCombo *combo);
static void conversion_error_callback(void *arg);

/*
 * lemlist_scan_begin
 *		Set up a scan.  Nothing is sent here; plain EXPLAIN sends nothing and
 *		does not even look up the API key.
 */
LemlistScanState *
lemlist_scan_begin(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Oid			relid = RelationGetRelid(node->ss.ss_currentRelation);
	LemlistScanState *ss;
	MemoryContext oldcxt;
	List	   *filters = list_nth(fsplan->fdw_private, FdwScanPrivateFilters);
	List	   *ops = list_nth(fsplan->fdw_private, FdwScanPrivateOps);
	List	   *attrs = list_nth(fsplan->fdw_private, FdwScanPrivateRetrievedAttrs);
	ListCell   *lc1,
			   *lc2,
			   *lc3;

	ss = palloc0(sizeof(LemlistScanState));
	ss->node = node;
	ss->rel = node->ss.ss_currentRelation;
	ss->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "lemlist_fdw scan",
										 ALLOCSET_DEFAULT_SIZES);
	ss->run_cxt = AllocSetContextCreate(ss->scan_cxt,
										"lemlist_fdw run",
										ALLOCSET_DEFAULT_SIZES);
	ss->batch_cxt = AllocSetContextCreate(ss->scan_cxt,
										  "lemlist_fdw response",
										  ALLOCSET_DEFAULT_SIZES);
	ss->explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;

	oldcxt = MemoryContextSwitchTo(ss->scan_cxt);

	lemlist_get_options(relid, &ss->opts);
	ss->columns = lemlist_map_columns(relid, ss->opts.resource, &ss->natts);

	/* conditions: rebuild them from the plan */
	forthree(lc1, filters, lc2, ops, lc3, fsplan->fdw_exprs)
	{
		LemlistCond *cond = palloc(sizeof(LemlistCond));

		cond->filter = (LemlistFilterKind) lfirst_int(lc1);
		cond->op = (LemlistCondOp) lfirst_int(lc2);
		cond->expr = (Expr *) lfirst(lc3);
		ss->conds = lappend(ss->conds, cond);
	}

	/* columns: what to extract, and how to convert it */
	ss->retrieved = palloc0(sizeof(bool) * Max(ss->natts, 1));
	foreach(lc1, attrs)
		ss->retrieved[lfirst_int(lc1) - 1] = true;
	ss->jcols = palloc0(sizeof(LemlistJsonColumn) * Max(ss->natts, 1));
	ss->in_funcs = palloc0(sizeof(FmgrInfo) * Max(ss->natts, 1));
	ss->typioparams = palloc0(sizeof(Oid) * Max(ss->natts, 1));
	for (int i = 0; i < ss->natts; i++)
	{
		LemlistColumn *col = &ss->columns[i];
		Oid			infunc;

		/* a column nobody reads is extracted as nothing */
		if (col->dropped || !ss->retrieved[i])
		{
			ss->retrieved[i] = false;
			ss->jcols[i].source = LEMLIST_SRC_FILTER;
			continue;
		}
		ss->jcols[i].source = col->source;
		ss->jcols[i].key = col->key;
		ss->jcols[i].json_type = col->json_type;
		getTypeInputInfo(col->typid, &infunc, &ss->typioparams[i]);
		fmgr_info_cxt(infunc, &ss->in_funcs[i], ss->scan_cxt);
	}

	MemoryContextSwitchTo(oldcxt);

	if (ss->explain_only)
		return ss;

	ss->exprstates = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);

	/* the key is read with the permissions of the query's checkAsUser */
	MemoryContextSwitchTo(ss->scan_cxt);
	ss->api_key = lemlist_get_api_key(ss->opts.serverid,
									  LEMLIST_CHECK_AS_USER(fsplan, estate));
	MemoryContextSwitchTo(oldcxt);

	return ss;
}

/*
 * start_scan
 *		Evaluate the conditions, and send the first requests.
 */
static void
start_scan(LemlistScanState *ss)
{
	ExprContext *econtext = ss->node->ss.ps.ps_ExprContext;
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->run_cxt);

	ss->started = true;
	lemlist_eval_conds(ss->conds, ss->exprstates, econtext,
					   ss->opts.default_start_date,
					   lemlist_default_end_date(), &ss->fv);
	ss->combos = lemlist_combinations(&ss->fv);
	ss->start_str = lemlist_format_timestamp(ss->fv.start_date);
	ss->end_str = lemlist_format_timestamp(ss->fv.end_date);

	if (ss->fv.empty)
	{
		/* a contradiction or an empty set: no request, no rows */
		ss->done = true;
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	lemlist_scan_send_first(ss);

	MemoryContextSwitchTo(oldcxt);
}

/*
 * lemlist_scan_next
 *		The next row, fetching the next response when the current one is used up.
 */
TupleTableSlot *
lemlist_scan_next(LemlistScanState *ss, TupleTableSlot *slot)
{
	ExecClearTuple(slot);

	if (!ss->started)
		start_scan(ss);

	for (;;)
	{
		if (ss->next_row < list_length(ss->rows))
		{
			char	  **values = list_nth(ss->rows, ss->next_row);

			ss->next_row++;

			/* an answer with a value that does not convert is not reused */
			PG_TRY();
			{
				store_row(ss, slot, values, ss->row_combo);
			}
			PG_CATCH();
			{
				lemlist_scan_forget_answer(ss);
				PG_RE_THROW();
			}
			PG_END_TRY();
			return slot;
		}
		if (ss->done)
			return slot;

		if (!lemlist_scan_next_answer(ss))
		{
			ss->done = true;
			return slot;
		}
	}
}

/*
 * filter_echo
 *		The text an echo column shows: the filter its row was computed under.
 */
static const char *
filter_echo(LemlistScanState *ss, LemlistFilterKind filter, LemlistCombo *combo)
{
	switch (filter)
	{
		case LEMLIST_FILTER_START_DATE:
			return ss->start_str;
		case LEMLIST_FILTER_END_DATE:
			return ss->end_str;
		case LEMLIST_FILTER_SEND_USER:
			return combo ? combo->send_user : NULL;
		case LEMLIST_FILTER_AB_SELECTED:
			return combo ? combo->ab_selected : NULL;
		case LEMLIST_FILTER_CHANNEL:
			return combo ? combo->channel : NULL;
		default:
			return NULL;
	}
}

/*
 * store_row
 *		Convert one row's texts with the columns' input functions.
 */
static void
store_row(LemlistScanState *ss, TupleTableSlot *slot, char **values,
		  LemlistCombo *combo)
{
	ErrorContextCallback errcallback;
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->batch_cxt);

	errcallback.callback = conversion_error_callback;
	errcallback.arg = ss;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (int i = 0; i < ss->natts; i++)
	{
		LemlistColumn *col = &ss->columns[i];
		const char *text;

		slot->tts_isnull[i] = true;
		slot->tts_values[i] = (Datum) 0;
		if (!ss->retrieved[i])
			continue;

		text = (col->source == LEMLIST_SRC_FILTER) ?
			filter_echo(ss, col->filter, combo) : values[i];
		if (text == NULL)
			continue;

		ss->cur_att = i;
		ss->cur_value = text;
		slot->tts_values[i] = InputFunctionCall(&ss->in_funcs[i], (char *) text,
												ss->typioparams[i], col->typmod);
		slot->tts_isnull[i] = false;
	}
	ss->cur_value = NULL;

	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
	ExecStoreVirtualTuple(slot);
}

/*
 * conversion_error_callback
 *		Name the column, the table and the value a conversion failed on.
 */
static void
conversion_error_callback(void *arg)
{
	LemlistScanState *ss = arg;
	char	   *value;

	if (ss->cur_value == NULL)
		return;
	value = lemlist_network_cstring(ss->cur_value, 100);
	errcontext("column \"%s\" of foreign table \"%s\", value from lemlist: \"%s\"",
			   ss->columns[ss->cur_att].name,
			   RelationGetRelationName(ss->rel), value);
}

/*
 * lemlist_scan_rescan
 *		Start over: a new execution with possibly new parameter values.
 */
void
lemlist_scan_rescan(LemlistScanState *ss)
{
	ss->started = false;
	ss->done = false;
	ss->rows = NIL;
	ss->row_ids = NIL;
	ss->next_row = 0;
	ss->conn = NULL;
	ss->row_req = NULL;
	ss->listed = NULL;
	ss->filling = NULL;
	ss->chunks = NIL;
	ss->chunk_combo = 0;
	ss->page_out = false;
	ss->next_offset = -1;
	ss->prev_first_id = NULL;
	ss->list_pages = 0;
	memset(&ss->fv, 0, sizeof(ss->fv));
	ss->combos = NIL;
	MemoryContextReset(ss->batch_cxt);
	/* closes the connection's curl handles through its reset callback */
	MemoryContextReset(ss->run_cxt);
}
