/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executing a lemlist foreign scan: its requests, their answers, its
 *		  rows, and its EXPLAIN output
 *
 * At its first row (when parameters and initplan outputs are known), a scan
 * asks request_sets.c for its request sets: each a combination of filter
 * values with the campaigns it asks for.  For each request set, the scan
 * sends one batch request per 100 campaign IDs.  When no campaign_id
 * condition names the campaigns, the scan lists the team's campaigns page
 * by page, and batches the IDs as the pages come, once there are enough
 * for a wave of max_parallel batches (or the listing is over).  A campaign
 * listed twice (it moved between pages) counts once, and a listing always
 * ends.  Each answer becomes the rows returned next (the campaigns
 * resource's pages, or a batch's statistics) or more requests (the pages of
 * a stats listing).  Its values are converted with the columns' input
 * functions as soon as it is decoded, and the echo columns get the filters
 * of the request the row came from; only then may the memo hand the answer
 * out again.
 *
 * The scan evaluates the tests that request_sets.c applies (passes_tests):
 * it converts a row of a combination's values, or a campaign ID, with the
 * columns' input functions and evaluates the clauses on it.  It also tests
 * each listed ID before batching it.  The inner side of a batched join
 * (join.c) is given its key sets before each execution
 * (lemlist_scan_set_join_keys), and tells the join which request set and
 * campaign each row was asked for (lemlist_scan_row_key).
 *
 * Nothing a scan returns is ever silently partial: each batch's answer must
 * account for every campaign it asked for, either in results[] or in
 * errors[], and must not bring campaigns nobody asked for; an answer that
 * does not is an ERROR (a transport failure that survives the retries
 * already is one, in http.c).  errors[] entries then surface as the
 * "campaign_errors" option says: NOTICE, WARNING or ERROR.  An answer that
 * fails to parse, or one of whose values fails to convert, never reaches
 * the memo.
 *
 * EXPLAIN shows what a scan will send, or sent: the route, then the
 * request sets (request_sets.c: how many campaigns and batches, the
 * filters, with VERBOSE the body of the first batch) and what the query
 * asks of the listing (list_order.c).  Plain EXPLAIN sends nothing.  Once
 * the scan has run (EXPLAIN ANALYZE), what the transport did is added.
 *
 * Memory: scan_cxt (whole scan: options, columns, key), run_cxt (one
 * execution: filter values, IDs, the connection and its curl handles, the
 * requests and the listing's bookkeeping; reset on rescan) and batch_cxt
 * (one response and the rows made from it, reset before the next
 * response).  Requests are made only as slots free up (at most
 * LEMLIST_QUEUE_WAVES * max_parallel queued or in flight) and freed once
 * answered, and a listing pauses while as many batches wait to be sent, so
 * memory is bounded by the batches in flight, not by the number of
 * campaigns: only the set of listed IDs, kept to count a campaign once,
 * grows with them.
 *
 * IDENTIFICATION
 *		  src/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/explain.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

/* Routes, relative to api_url. */
#define LEMLIST_STATS_ROUTE			"/v2/campaigns/stats/batch"
#define LEMLIST_CAMPAIGNS_ROUTE		"/campaigns"
/* At most this many bytes of a campaign ID, or of an errors[] message, in messages. */
#define LEMLIST_TEXT_ID_BYTES		200
#define LEMLIST_TEXT_MESSAGE_BYTES	1000

/* A request of a scan and a chunk of listed IDs (defined below). */
typedef struct ScanRequest ScanRequest;
typedef struct ScanChunk ScanChunk;

/* A row made from an answer, in batch_cxt, and what it was asked for under. */
typedef struct ScanRow
{
	Datum	   *values;
	bool	   *nulls;
	LemlistCombo *combo;
	const char *campaign_id;
} ScanRow;

/* The state of one foreign scan (LemlistScanState, opaque outside this file). */
struct LemlistScanState
{
	ForeignScanState *node;
	Relation	rel;
	MemoryContext scan_cxt;
	MemoryContext run_cxt;
	MemoryContext batch_cxt;

	LemlistOptions opts;
	bool		explain_only;
	char	   *api_key;

	/* columns: those the plan does not read are LEMLIST_SRC_UNREAD */
	int			natts;
	LemlistColumn *columns;
	FmgrInfo   *in_funcs;
	Oid		   *typioparams;

	/* pushed-down conditions, and the tests among them */
	/* what the request sets are made of (request_sets.c) */
	LemlistRequestSpec spec;
	TupleTableSlot *proto;		/* a row of a combination's values, for the tests */

	bool		async;			/* under an asynchronous Append: never waits */

	/* what the query asks of the listing (list_order.c) */
	LemlistListing listing;
	int64		budget;			/* rows wanted so far, -1: all */

	/* one execution (run_cxt) */
	bool		started;
	bool		done;
	LemlistRequestSets req;		/* the request sets */
	char	   *default_end_text;	/* req.default_end, as sent */
	LemlistConnection *conn;
	/* explicit IDs: the next batch to make */
	int			next_set;
	int			next_first;
	/* listing */
	int			next_offset;	/* offset of the next page to ask, -1: none */
	bool		page_out;		/* a page is queued or in flight */
	HTAB	   *listed;			/* stats: every ID listed so far */
	ScanChunk  *filling;		/* stats: listed IDs not yet in a chunk */
	List	   *chunks;			/* stats: full chunks, of ScanChunk * */
	int			chunk_set;		/* of the first chunk, the next request set */
	char	   *prev_first_id;	/* listing: first ID of the previous page */
	int64		listed_count;	/* listing: campaigns on the pages so far */
	int64		announced;		/* listing: totalRecords of the last page, or -1 */
	int64		rows_asked;		/* IDs sent in batches, campaigns asked in pages */
	bool		have_prev;		/* ordered: prev_created holds a row's */
	TimestampTz prev_created;

	/* the rows of the answer being returned (batch_cxt) */
	List	   *rows;			/* of ScanRow * */
	int			next_row;
	ScanRow    *cur_row;		/* the row returned last */

	/* for EXPLAIN ANALYZE */
	LemlistHttpStats stats;
	int64		batches;
	int64		list_requests;
	double		decode_ms;		/* time decoding answers into rows */

	/* error context while converting a value */
	const char *cur_value;
	int			cur_att;
};

static void send_first(LemlistScanState *ss);
/* What next_answer found. */
typedef enum ScanAnswer
{
	SCAN_ANSWER_ROWS,			/* an answer, whose rows are ready */
	SCAN_ANSWER_LATER,			/* asynchronous: none has come yet */
	SCAN_ANSWER_NONE			/* every request has been answered */
} ScanAnswer;

static ScanAnswer next_answer(LemlistScanState *ss);
static void check_batch_complete(char **ids, int nids, const LemlistParsed *parsed);
static void report_campaign_errors(LemlistCampaignErrors campaign_errors, List *errors);

static void start_scan(LemlistScanState *ss);
static void explain_transport(LemlistScanState *ss, ExplainState *es);
static void check_order(LemlistScanState *ss, ScanRow *row);
static List *make_rows(LemlistScanState *ss, List *texts, List *ids, LemlistCombo *combo);
static void conversion_error_callback(void *arg);
static bool passes_tests(void *arg, LemlistCondOp op, const LemlistCombo *combo,
						 const char *id);

/* ---------------------------------------------------------------------
 * What the plan of a scan carries from the planner
 *
 * GetForeignPlan (handler.c) has lemlist_scan_plan_private write a
 * LemlistScanPlan into the ForeignScan's fdw_private (a list of Nodes, so
 * that the plan can be copied, written out and read back) and the
 * conditions' expressions into fdw_exprs, where setrefs.c fixes them and
 * the executor initializes them; read_scan_plan reads it back.  These two
 * functions are the only code that knows the layout below.
 * ---------------------------------------------------------------------
 */

/* The slots of fdw_private. */
enum ScanPrivateIndex
{
	SCAN_PRIVATE_CONDS,			/* per condition, an Integer list: filter, op,
								 * group, mode, refs (the expression: fdw_exprs) */
	SCAN_PRIVATE_RETRIEVED_ATTRS,	/* Integer list: attnums the plan reads */
	SCAN_PRIVATE_LISTING		/* Integer list, ListingIndex */
};

/* The Integer list SCAN_PRIVATE_LISTING: what the listing is asked. */
enum ListingIndex
{
	LISTING_ORDER,				/* LemlistListOrder */
	LISTING_ORDER_ATTNO,		/* the created_at column it is checked on */
	LISTING_PAGE_SIZE,			/* limit= of each page */
	LISTING_BUDGET,				/* rows wanted first, -1: all */
	LISTING_OFFSET				/* offset= of the first page (the OFFSET) */
};

/*
 * lemlist_scan_plan_private
 *		Return the fdw_private of a scan's plan, and set *fdw_exprs to the
 *		conditions' expressions, in the same order
 */
List *
lemlist_scan_plan_private(const LemlistScanPlan *plan, List **fdw_exprs)
{
	List	   *conds = NIL;
	List	   *listing;
	ListCell   *lc;

	*fdw_exprs = NIL;
	foreach(lc, plan->conds)
	{
		LemlistCond *cond = lfirst(lc);

		*fdw_exprs = lappend(*fdw_exprs, cond->expr);
		conds = lappend(conds, lappend_int(list_make4_int(cond->filter, cond->op,
														  cond->group, cond->mode),
										   cond->refs));
	}
	listing = list_make4_int(plan->listing.order, plan->listing.order_attno,
							 plan->listing.page_size, plan->listing.budget);
	listing = lappend_int(listing, plan->listing.offset);
	return list_make3(conds, plan->retrieved_attrs, listing);
}

/*
 * read_scan_plan
 *		Read back what a scan's plan carries
 */
static void
read_scan_plan(const ForeignScan *fsplan, LemlistScanPlan *plan)
{
	List	   *listing = list_nth(fsplan->fdw_private, SCAN_PRIVATE_LISTING);
	ListCell   *lc1,
			   *lc2;

	plan->conds = NIL;
	forboth(lc1, (List *) list_nth(fsplan->fdw_private, SCAN_PRIVATE_CONDS),
			lc2, fsplan->fdw_exprs)
	{
		List	   *fields = lfirst(lc1);
		LemlistCond *cond = palloc(sizeof(LemlistCond));

		cond->filter = (LemlistFilterKind) list_nth_int(fields, 0);
		cond->op = (LemlistCondOp) list_nth_int(fields, 1);
		cond->group = list_nth_int(fields, 2);
		cond->mode = list_nth_int(fields, 3);
		cond->refs = list_nth_int(fields, 4);
		cond->expr = (Expr *) lfirst(lc2);
		plan->conds = lappend(plan->conds, cond);
	}
	plan->retrieved_attrs = list_nth(fsplan->fdw_private, SCAN_PRIVATE_RETRIEVED_ATTRS);
	plan->listing.order = (LemlistListOrder) list_nth_int(listing, LISTING_ORDER);
	plan->listing.order_attno = list_nth_int(listing, LISTING_ORDER_ATTNO);
	plan->listing.page_size = list_nth_int(listing, LISTING_PAGE_SIZE);
	plan->listing.budget = list_nth_int(listing, LISTING_BUDGET);
	plan->listing.offset = list_nth_int(listing, LISTING_OFFSET);
}


/* ---------------------------------------------------------------------
 * The scan
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_begin_foreign_scan
 *		Set up a scan.  Nothing is sent here; plain EXPLAIN sends nothing and
 *		does not even look up the API key.
 */
void
lemlist_begin_foreign_scan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Oid			relid = RelationGetRelid(node->ss.ss_currentRelation);
	LemlistScanState *ss;
	LemlistScanPlan plan;
	MemoryContext oldcxt;

	ss = palloc0(sizeof(LemlistScanState));
	node->fdw_state = ss;
	ss->node = node;
	ss->rel = node->ss.ss_currentRelation;
	ss->async = lemlist_node_async(node);
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

	read_scan_plan(fsplan, &plan);
	ss->listing = plan.listing;
	lemlist_get_options(relid, &ss->opts);
	ss->columns = lemlist_map_columns(relid, ss->opts.resource, &ss->natts);

	/* columns: what to extract, and how to convert it */
	ss->in_funcs = palloc0(sizeof(FmgrInfo) * Max(ss->natts, 1));
	ss->typioparams = palloc0(sizeof(Oid) * Max(ss->natts, 1));
	for (int i = 0; i < ss->natts; i++)
	{
		LemlistColumn *col = &ss->columns[i];
		Oid			infunc;

		/* a column nobody reads is extracted as nothing */
		if (col->dropped || !list_member_int(plan.retrieved_attrs, i + 1))
		{
			col->source = LEMLIST_SRC_UNREAD;
			continue;
		}
		getTypeInputInfo(col->typid, &infunc, &ss->typioparams[i]);
		fmgr_info_cxt(infunc, &ss->in_funcs[i], ss->scan_cxt);
	}

	/* the conditions (EXPLAIN evaluates the tests too, when constant) */
	lemlist_request_spec_init(&ss->spec, plan.conds,
							  ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node),
							  ss->opts.default_start_date, passes_tests, ss);
	if (ss->spec.ntests > 0)
		ss->proto = ExecInitExtraTupleSlot(estate, RelationGetDescr(ss->rel),
										   &TTSOpsVirtual);

	MemoryContextSwitchTo(oldcxt);
	if (ss->explain_only)
		return;

	/* the key is read with the permissions of the query's checkAsUser */
	MemoryContextSwitchTo(ss->scan_cxt);
	ss->api_key = lemlist_get_api_key(ss->opts.serverid,
									  LEMLIST_CHECK_AS_USER(fsplan, estate));
	MemoryContextSwitchTo(oldcxt);
}

/*
 * start_scan
 *		Make the request sets, and send the first requests.
 */
static void
start_scan(LemlistScanState *ss)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->run_cxt);

	ss->started = true;
	ss->budget = ss->listing.budget;
	lemlist_request_sets(&ss->spec, ss->node->ss.ps.ps_ExprContext,
						 lemlist_default_end_date(), &ss->req);
	ss->default_end_text = lemlist_format_timestamp(ss->req.default_end);
	if (ss->req.fv.empty)
	{
		/* a contradiction or an empty set: no request, no rows */
		ss->done = true;
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	send_first(ss);

	MemoryContextSwitchTo(oldcxt);
}

/*
 * lemlist_iterate_foreign_scan
 *		Return the next row.  When the rows of the current answer are used
 *		up, fetch the next answer.
 *
 * Under an asynchronous Append, an empty slot may also mean that the next
 * answer has not come yet; lemlist_scan_done tells which.
 */
TupleTableSlot *
lemlist_iterate_foreign_scan(ForeignScanState *node)
{
	LemlistScanState *ss = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);

	if (!ss->started)
		start_scan(ss);

	for (;;)
	{
		if (ss->next_row < list_length(ss->rows))
		{
			ScanRow    *row = list_nth(ss->rows, ss->next_row++);

			if (ss->listing.order != LEMLIST_ORDER_NONE)
				check_order(ss, row);
			ss->cur_row = row;
			memcpy(slot->tts_values, row->values, sizeof(Datum) * ss->natts);
			memcpy(slot->tts_isnull, row->nulls, sizeof(bool) * ss->natts);
			return ExecStoreVirtualTuple(slot);
		}
		if (ss->done)
			return slot;

		switch (next_answer(ss))
		{
			case SCAN_ANSWER_ROWS:
				break;
			case SCAN_ANSWER_LATER:
				return slot;
			case SCAN_ANSWER_NONE:
				ss->done = true;
				return slot;
		}
	}
}

/*
 * check_order
 *		Check that the rows of an ordered listing come in the order the plan
 *		relies on (there is no Sort above the scan).  A row out of order, or
 *		without its creation date, raises an ERROR, so that a LIMIT above
 *		never returns a wrong answer.
 */
static void
check_order(LemlistScanState *ss, ScanRow *row)
{
	int			i = ss->listing.order_attno - 1;
	TimestampTz created;

	if (i < 0 || i >= ss->natts || ss->columns[i].source == LEMLIST_SRC_UNREAD)
		return;
	if (row->nulls[i])
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("lemlist listed a campaign without \"createdAt\" in a listing ordered by it"),
				 errdetail("Campaign \"%s\".", row->campaign_id ? row->campaign_id : "?")));
	created = DatumGetTimestampTz(row->values[i]);
	if (ss->have_prev &&
		(ss->listing.order == LEMLIST_ORDER_ASC ? created < ss->prev_created : created > ss->prev_created))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("lemlist listed campaigns out of the order asked"),
				 errdetail("Campaign \"%s\" comes after one created %s it, with sortOrder=%s.",
						   row->campaign_id ? row->campaign_id : "?",
						   ss->listing.order == LEMLIST_ORDER_ASC ? "after" : "before",
						   ss->listing.order == LEMLIST_ORDER_ASC ? "asc" : "desc")));
	ss->prev_created = created;
	ss->have_prev = true;
}

/*
 * lemlist_scan_done
 *		Has the scan returned its last row?
 */
bool
lemlist_scan_done(LemlistScanState *ss)
{
	return ss->done;
}

/*
 * lemlist_scan_wait_fd
 *		Return the descriptor to wait on before asking an asynchronous scan
 *		again
 */
int
lemlist_scan_wait_fd(LemlistScanState *ss)
{
	return lemlist_http_wait_fd(ss->conn);
}

/*
 * filter_echo
 *		Return the text an echo column shows: the value of the filter its
 *		row was computed under.
 */
static const char *
filter_echo(LemlistFilterKind filter, const LemlistCombo *combo)
{
	char	  **field = combo ? lemlist_combo_field((LemlistCombo *) combo, filter) : NULL;

	return field ? *field : NULL;
}

/*
 * convert_row
 *		Fill values and nulls with a row's columns, converted by their input
 *		functions.  The echo columns come from combo.  The other columns come
 *		from texts (an answer's row); without texts (the row a test is
 *		evaluated on), only campaign_id is filled, from id.  The caller has
 *		conversion_error_callback in place.
 */
static void
convert_row(LemlistScanState *ss, Datum *values, bool *nulls, char **texts,
			const LemlistCombo *combo, const char *id)
{
	for (int i = 0; i < ss->natts; i++)
	{
		LemlistColumn *col = &ss->columns[i];
		const char *text = NULL;

		if (col->source == LEMLIST_SRC_FILTER)
			text = filter_echo(col->filter, combo);
		else if (col->source == LEMLIST_SRC_CONST)
			text = col->value;
		else if (col->source == LEMLIST_SRC_UNREAD)
			text = NULL;
		else if (texts != NULL)
			text = texts[i];
		else if (col->pushdown == LEMLIST_FILTER_CAMPAIGN_ID)
			text = id;
		nulls[i] = (text == NULL);
		values[i] = (Datum) 0;
		if (text == NULL)
			continue;

		ss->cur_att = i;
		ss->cur_value = text;
		values[i] = InputFunctionCall(&ss->in_funcs[i], (char *) text,
									  ss->typioparams[i], col->typmod);
	}
	ss->cur_value = NULL;
}

/*
 * make_rows
 *		Convert the texts of an answer's rows with the columns' input
 *		functions, into batch_cxt.  combo gives the echo columns' values.
 */
static List *
make_rows(LemlistScanState *ss, List *texts, List *ids, LemlistCombo *combo)
{
	ErrorContextCallback errcallback;
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->batch_cxt);
	List	   *rows = NIL;
	ListCell   *lc;

	errcallback.callback = conversion_error_callback;
	errcallback.arg = ss;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	foreach(lc, texts)
	{
		char	  **values = lfirst(lc);
		ScanRow    *row = palloc(sizeof(ScanRow));

		row->values = palloc0(sizeof(Datum) * Max(ss->natts, 1));
		row->nulls = palloc(sizeof(bool) * Max(ss->natts, 1));
		row->combo = combo;
		row->campaign_id = list_nth(ids, foreach_current_index(lc));
		convert_row(ss, row->values, row->nulls, values, combo, NULL);
		rows = lappend(rows, row);
	}

	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
	return rows;
}

/*
 * passes_tests
 *		Do the tests of kind op hold on a row made of combo's values (and of
 *		campaign id)?  LEMLIST_OP_TEST tests the echo columns, and
 *		LEMLIST_OP_ID_TEST tests campaign_id.  Every row made under these
 *		values has them, so the local recheck finds the same.  This is the
 *		LemlistTestFunc that request_sets.c calls; arg is the scan.
 */
static bool
passes_tests(void *arg, LemlistCondOp op, const LemlistCombo *combo, const char *id)
{
	LemlistScanState *ss = arg;
	TupleTableSlot *slot = ss->proto;
	ExprContext *econtext = ss->node->ss.ps.ps_ExprContext;
	MemoryContext oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	ErrorContextCallback errcallback;
	bool		pass = true;
	ListCell   *lc;
	ListCell   *lcs;

	errcallback.callback = conversion_error_callback;
	errcallback.arg = ss;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	ExecClearTuple(slot);
	convert_row(ss, slot->tts_values, slot->tts_isnull, NULL, combo, id);
	error_context_stack = errcallback.previous;
	ExecStoreVirtualTuple(slot);

	econtext->ecxt_scantuple = slot;
	forboth(lc, ss->spec.conds, lcs, ss->spec.exprstates)
	{
		LemlistCond *cond = lfirst(lc);
		bool		isnull;
		Datum		value;

		if (cond->op != op)
			continue;
		value = ExecEvalExpr((ExprState *) lfirst(lcs), econtext, &isnull);
		if (isnull || !DatumGetBool(value))
		{
			pass = false;
			break;
		}
	}
	MemoryContextSwitchTo(oldcxt);
	ResetExprContext(econtext);
	return pass;
}

/*
 * lemlist_scan_set_join_keys
 *		Make this scan the inner side of a batched join.  key_filters are the
 *		filters the join's keys give values to (bits 1 << filter).  Before
 *		each execution, the join also gives the key sets the scan asks for
 *		(LemlistJoinKeySet, owned by the join until the execution ends).
 *
 * With poll, the scan never waits, as under an asynchronous Append: an
 * empty slot may mean that no answer has come yet (lemlist_scan_done
 * tells).  The join polls several tables this way.
 */
void
lemlist_scan_set_join_keys(LemlistScanState *ss, int key_filters, List *key_sets, bool poll)
{
	Assert(!ss->started);
	ss->spec.key_filters = key_filters;
	ss->spec.key_sets = key_sets;
	ss->async = poll || lemlist_node_async(ss->node);
}

/*
 * lemlist_scan_row_key
 *		Tell what the row returned last was asked for: the combination of
 *		filters its request sent, and its campaign
 */
void
lemlist_scan_row_key(LemlistScanState *ss, LemlistCombo **combo,
					 const char **campaign_id)
{
	*combo = ss->cur_row ? ss->cur_row->combo : NULL;
	*campaign_id = ss->cur_row ? ss->cur_row->campaign_id : NULL;
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
 * lemlist_rescan_foreign_scan
 *		Start over: a new execution with possibly new parameter values.
 */
void
lemlist_rescan_foreign_scan(ForeignScanState *node)
{
	LemlistScanState *ss = node->fdw_state;

	ss->started = false;
	ss->done = false;
	ss->rows = NIL;
	ss->next_row = 0;
	ss->cur_row = NULL;
	ss->conn = NULL;
	ss->listed = NULL;
	ss->filling = NULL;
	ss->chunks = NIL;
	ss->chunk_set = 0;
	ss->page_out = false;
	ss->next_offset = -1;
	ss->prev_first_id = NULL;
	ss->rows_asked = 0;
	ss->have_prev = false;
	memset(&ss->req, 0, sizeof(ss->req));
	MemoryContextReset(ss->batch_cxt);
	/* closes the connection's curl handles through its reset callback */
	MemoryContextReset(ss->run_cxt);
}

/*
 * lemlist_end_foreign_scan
 *		Nothing to do: the scan's memory context owns everything, curl handles
 *		included, and goes away with the query.
 */
void
lemlist_end_foreign_scan(ForeignScanState *node)
{
}


/* ---------------------------------------------------------------------
 * The requests of a scan, and what their answers bring
 * ---------------------------------------------------------------------
 */

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

/* Up to 100 listed IDs waiting to be batched, for every request set. */
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
static void free_request(ScanRequest *req);
static void handle_list_page(LemlistScanState *ss, ScanRequest *req);
static void handle_stats_batch(LemlistScanState *ss, ScanRequest *req);

/*
 * send_first
 *		Open the connection of an execution, and send its first requests.
 */
static void
send_first(LemlistScanState *ss)
{
	ss->conn = lemlist_http_open(&ss->opts, ss->api_key, &ss->stats, ss->run_cxt);
	ss->next_set = 0;
	ss->next_first = 0;
	ss->next_offset = -1;
	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS || ss->req.fv.all_campaigns)
		ss->next_offset = ss->listing.offset;
	ss->listed_count = 0;
	ss->announced = -1;

	fill_queue(ss);
}

/*
 * next_answer
 *		Replace the answer whose rows have all been returned with the next
 *		one, and send meanwhile what may be sent.  An asynchronous scan does
 *		not wait for the next answer.
 */
static ScanAnswer
next_answer(LemlistScanState *ss)
{
	LemlistHttpRequest *http;
	ScanRequest *req;
	bool		pending = false;

	/* the previous answer's rows are no longer referenced */
	ss->rows = NIL;
	ss->next_row = 0;
	MemoryContextReset(ss->batch_cxt);

	fill_queue(ss);
	http = ss->async ? lemlist_http_poll(ss->conn, &pending) : lemlist_http_next(ss->conn);
	if (http == NULL)
		return pending ? SCAN_ANSWER_LATER : SCAN_ANSWER_NONE;

	/* its rows (or more requests), then the memo may reuse it */
	req = (ScanRequest *) http->arg;
	if (req->kind == SCAN_REQ_LIST_PAGE)
		handle_list_page(ss, req);
	else
		handle_stats_batch(ss, req);
	lemlist_http_keep(ss->conn, http);
	free_request(req);

	/* queue what the answer made possible, before its rows are returned */
	fill_queue(ss);
	return SCAN_ANSWER_ROWS;
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
	bool		starving;
	bool		paused;

	if (ss->done || ss->conn == NULL)
		return;

	/*
	 * A LIMIT above wants ss->budget rows first: no more pages nor batches
	 * than they need.  When the executor has used up every row and nothing
	 * is on its way (a local condition rejected some), it wants more: the
	 * budget doubles.
	 */
	starving = lemlist_http_pending(ss->conn) == 0 && ss->next_row >= list_length(ss->rows);
	if (starving && ss->budget >= 0)
	{
		bool		more_pages = ss->next_offset >= 0 && !ss->page_out;
		bool		more_batches = ss->opts.resource != LEMLIST_RES_CAMPAIGNS &&
			(ss->req.fv.all_campaigns ? (ss->chunks != NIL || ss->filling != NULL) :
			 ss->next_set < list_length(ss->req.sets));

		if ((more_pages || more_batches) &&
			!(more_pages && ss->listed_count < ss->budget) &&
			!(more_batches && ss->rows_asked < ss->budget))
			ss->budget = Max(ss->budget * 2,
							 Max(ss->listed_count, ss->rows_asked) + LEMLIST_PAGE_SIZE);
	}
	paused = ss->budget >= 0 && ss->listed_count >= ss->budget;
	if (paused && ss->req.fv.all_campaigns && ss->next_offset >= 0)
		flush_listed_ids(ss);	/* the listing waits: batch what it listed */

	if (ss->next_offset >= 0 && !ss->page_out && !paused &&
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
		if (ss->budget >= 0 && ss->rows_asked >= ss->budget)
			break;
		if (!ss->req.fv.all_campaigns)
		{
			/* explicit IDs: every chunk of a request set, then the next one */
			char	   *ids[LEMLIST_BATCH_SIZE];
			LemlistRequestSet *set;
			int			nids;
			int			n;

			if (ss->next_set >= list_length(ss->req.sets))
				break;
			set = list_nth(ss->req.sets, ss->next_set);
			nids = list_length(set->campaign_ids);
			n = Min(LEMLIST_BATCH_SIZE, nids - ss->next_first);
			for (int i = 0; i < n; i++)
				ids[i] = list_nth(set->campaign_ids, ss->next_first + i);
			submit_batch(ss, &set->combo, ids, n);
			ss->next_first += LEMLIST_BATCH_SIZE;
			if (ss->next_first >= nids)
			{
				ss->next_first = 0;
				ss->next_set++;
			}
		}		else
		{
			/* listed IDs: every request set of a chunk, then the next one */
			ScanChunk  *chunk;
			bool		listing = ss->page_out || (ss->next_offset >= 0 && !paused);

			if (ss->chunks == NIL ||
				(listing && unsent_listed_batches(ss) < wave))
				break;
			chunk = linitial(ss->chunks);
			submit_batch(ss, &((LemlistRequestSet *) list_nth(ss->req.sets, ss->chunk_set))->combo,
						 chunk->ids, chunk->nids);
			if (++ss->chunk_set >= list_length(ss->req.sets))
			{
				ss->chunks = list_delete_first(ss->chunks);
				pfree(chunk->ids);
				pfree(chunk);
				ss->chunk_set = 0;
			}
		}
	}
}

/*
 * unsent_listed_batches
 *		Count the batches of listed IDs not made yet (not counting the chunk
 *		being filled)
 */
static int
unsent_listed_batches(LemlistScanState *ss)
{
	return list_length(ss->chunks) * list_length(ss->req.sets) - ss->chunk_set;
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
 *		Return the path of one page of the campaign list.
 */
static char *
list_page_path(LemlistScanState *ss, int offset)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s?version=v2&limit=%d&offset=%d",
					 LEMLIST_CAMPAIGNS_ROUTE, ss->listing.page_size, offset);
	/* the list filters only narrow the campaigns resource itself */
	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS)
	{
		if (ss->req.fv.status)
			append_query_param(&buf, "status", ss->req.fv.status);
		if (ss->req.fv.created_by)
			append_query_param(&buf, "createdBy", ss->req.fv.created_by);
	}
	if (ss->listing.order != LEMLIST_ORDER_NONE)
		appendStringInfo(&buf, "&sortBy=createdAt&sortOrder=%s",
						 ss->listing.order == LEMLIST_ORDER_ASC ? "asc" : "desc");
	return buf.data;
}

static void
submit_list_page(LemlistScanState *ss, int offset)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->run_cxt);
	ScanRequest *req = palloc0(sizeof(ScanRequest));

	if ((offset - ss->listing.offset) / LEMLIST_PAGE_SIZE >= LEMLIST_MAX_LIST_PAGES)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("lemlist campaign list does not end"),
				 errdetail("More than %d pages were listed.", LEMLIST_MAX_LIST_PAGES)));

	req->kind = SCAN_REQ_LIST_PAGE;
	req->offset = offset;
	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS)
		ss->rows_asked += ss->listing.page_size;
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
 *		Send one request for up to 100 IDs under one request set's
 *		combination of filters; every chunk of the set carries the same
 *		dates and filters.  The request keeps its own copy of the array of
 *		IDs (not of the IDs).
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
	req->http.body = lemlist_json_stats_request(chunk, combo->start_date,
												combo->end_date, combo);
	if ((ss->req.fv.constrained & (1 << LEMLIST_FILTER_END_DATE)) == 0 &&
		combo->end_date != NULL && strcmp(combo->end_date, ss->default_end_text) == 0)
	{
		/*
		 * The end is the statement's start: another statement's answer
		 * within cache_ttl answers it, whatever its own start was.
		 */
		req->http.default_end = ss->req.default_end;
		req->http.share_body = lemlist_json_stats_request(chunk, combo->start_date,
														  "", combo);
	}
	req->http.arg = req;
	list_free(chunk);
	ss->batches++;
	ss->rows_asked += nids;
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
 *		Mark the chunk being filled as ready to be batched
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
 * free_request
 *		Free what a request took from run_cxt
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
	int64		end;

	ss->listed_count += parsed->page_count;
	end = ss->listing.offset + ss->listed_count;	/* where the listing is */
	if (parsed->has_pagination)
		ss->announced = parsed->total_records;

	last = parsed->page_count < ss->listing.page_size;
	if (!last && parsed->has_pagination && ss->announced >= 0 &&
		end >= ss->announced &&
		(parsed->next_page <= parsed->current_page ||
		 (parsed->total_pages > 0 && parsed->current_page >= parsed->total_pages)))
		last = true;

	if (last)
	{
		/* (an OFFSET past the end lists nothing) */
		if (ss->announced >= 0 && end != ss->announced &&
			!(ss->listed_count == 0 && ss->announced <= ss->listing.offset))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("lemlist listed %lld campaigns, but announced %lld",
							(long long) end, (long long) ss->announced),
					 errdetail("The listing ended at offset %lld, on a page of %d campaigns, while its \"totalRecords\" said %lld.",
							   (long long) end, parsed->page_count,
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
								ss->columns, ss->natts, &parsed);
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
		ss->rows = make_rows(ss, parsed.rows, parsed.row_campaign_ids, NULL);
		return;
	}

	/* stats without campaign_id: batch the team's IDs as they come */
	foreach(lc, parsed.row_campaign_ids)
	{
		if (ss->spec.nid_tests == 0 || passes_tests(ss, LEMLIST_OP_ID_TEST, NULL, lfirst(lc)))
			add_listed_id(ss, lfirst(lc));
	}
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
						ss->columns, ss->natts, &parsed);
	add_decode_time(ss, start);
	check_batch_complete(req->ids, req->nids, &parsed);
	MemoryContextSwitchTo(oldcxt);

	report_campaign_errors(ss->opts.campaign_errors, parsed.errors);

	ss->rows = make_rows(ss, parsed.rows, parsed.row_campaign_ids, req->combo);
}


/* ---------------------------------------------------------------------
 * Checking the answer to a stats batch, and reporting its errors[]
 * ---------------------------------------------------------------------
 */

/*
 * find_id
 *		Return the position of an ID in an array, or -1.  Batches hold at
 *		most 100 IDs.
 */
static int
find_id(char **ids, int nids, const char *id)
{
	for (int i = 0; i < nids; i++)
	{
		if (strcmp(ids[i], id) == 0)
			return i;
	}
	return -1;
}

/*
 * check_batch_complete
 *		Check that a batch's answer covers exactly what the batch asked for:
 *		each requested campaign once, in results[] or in errors[], and
 *		nothing else.
 */
static void
check_batch_complete(char **ids, int nids, const LemlistParsed *parsed)
{
	int		   *seen = palloc0(sizeof(int) * nids);
	ListCell   *lc;

	foreach(lc, parsed->result_ids)
	{
		const char *id = lfirst(lc);
		int			pos = find_id(ids, nids, id);

		if (pos < 0)
			lemlist_invalid_response("Campaign \"%s\" is in the response but was not requested.",
									 lemlist_network_cstring(id, LEMLIST_TEXT_ID_BYTES));
		if (seen[pos]++)
			lemlist_invalid_response("Campaign \"%s\" appears more than once in the results.",
									 lemlist_network_cstring(id, LEMLIST_TEXT_ID_BYTES));
	}
	foreach(lc, parsed->errors)
	{
		LemlistCampaignError *err = lfirst(lc);
		int			pos = find_id(ids, nids, err->campaign_id);

		if (pos < 0)
			lemlist_invalid_response("Campaign \"%s\" is in the errors but was not requested.",
									 lemlist_network_cstring(err->campaign_id, LEMLIST_TEXT_ID_BYTES));
		seen[pos]++;
	}
	for (int i = 0; i < nids; i++)
	{
		if (!seen[i])
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("incomplete response from lemlist"),
					 errdetail("Campaign \"%s\" was requested but is neither in the results nor in the errors.",
							   lemlist_network_cstring(ids[i], LEMLIST_TEXT_ID_BYTES))));
	}
}

/*
 * report_campaign_errors
 *		Report the entries of errors[] as the "campaign_errors" option says.
 */
static void
report_campaign_errors(LemlistCampaignErrors campaign_errors, List *errors)
{
	ListCell   *lc;
	int			level;

	switch (campaign_errors)
	{
		case LEMLIST_ERRORS_WARNING:
			level = WARNING;
			break;
		case LEMLIST_ERRORS_ERROR:
			level = ERROR;
			break;
		default:
			level = NOTICE;
			break;
	}

	foreach(lc, errors)
	{
		LemlistCampaignError *err = lfirst(lc);

		ereport(level,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("lemlist returned no statistics for campaign \"%s\"",
						lemlist_network_cstring(err->campaign_id, LEMLIST_TEXT_ID_BYTES)),
				 errdetail_internal("%s", lemlist_network_cstring(err->message,
																  LEMLIST_TEXT_MESSAGE_BYTES)),
				 level == ERROR ?
				 errhint("Set the option \"campaign_errors\" to \"notice\" or \"warning\" to skip such campaigns.") : 0));
	}
}


/* ---------------------------------------------------------------------
 * EXPLAIN
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_explain_foreign_scan
 *		Show what the scan will request (or requested).  VERBOSE adds the
 *		first body, and ANALYZE adds what the transport did.
 */
void
lemlist_explain_foreign_scan(ForeignScanState *node, ExplainState *es)
{
	LemlistScanState *ss = node->fdw_state;
	bool		campaigns = ss->opts.resource == LEMLIST_RES_CAMPAIGNS;
	LemlistRequestSets scratch;
	const LemlistRequestSets *shown;

	shown = lemlist_request_sets_shown(&ss->spec, ss->started ? &ss->req : NULL, &scratch);
	ExplainPropertyText("lemlist Request",
						campaigns ? "GET /campaigns?version=v2" :
						"POST " LEMLIST_STATS_ROUTE, es);
	lemlist_explain_request_sets(&ss->spec, shown, campaigns, es);
	lemlist_explain_listing(&ss->listing, es);
	lemlist_explain_join_keys(&ss->spec, shown, es);
	if (!campaigns)
		lemlist_explain_first_body(&ss->spec, shown, es);
	if (es->analyze)
		explain_transport(ss, es);
}

/*
 * explain_transport
 *		Show what the scan's requests cost: pages, batches, requests, hits,
 *		retries and, with TIMING, the time spent
 */
static void
explain_transport(LemlistScanState *ss, ExplainState *es)
{
	if (ss->list_requests > 0)
		ExplainPropertyInteger("lemlist List Pages", NULL, ss->list_requests, es);
	if (ss->opts.resource != LEMLIST_RES_CAMPAIGNS)
		ExplainPropertyInteger("lemlist Batches Sent", NULL, ss->batches, es);
	ExplainPropertyInteger("lemlist Requests Sent", NULL, ss->stats.requests, es);
	/* answers that needed no request: in text format, only if any */
	if (ss->stats.memo_hits > 0 || es->format != EXPLAIN_FORMAT_TEXT)
		ExplainPropertyInteger("lemlist Memo Hits", NULL, ss->stats.memo_hits, es);
	if (ss->stats.cache_hits > 0 || es->format != EXPLAIN_FORMAT_TEXT)
		ExplainPropertyInteger("lemlist Cache Hits", NULL, ss->stats.cache_hits, es);
	if (ss->stats.shared_waits > 0 || es->format != EXPLAIN_FORMAT_TEXT)
		ExplainPropertyInteger("lemlist Shared With Another Backend", NULL,
							   ss->stats.shared_waits, es);
	if (ss->opts.cache_ttl > 0)
		ExplainPropertyText("lemlist Cache",
							ss->stats.cache_shared ?
							"shared by the backends of the cluster" :
							"this backend's own (lemlist_fdw is not in shared_preload_libraries)",
							es);
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
