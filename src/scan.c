/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executing a lemlist foreign scan: its requests, their answers, its
 *		  rows, and its EXPLAIN output
 *
 * A scan evaluates its pushed-down conditions once (at the first row, so
 * that parameters and initplan outputs are known).  For every filter
 * combination it then sends one batch request per 100 campaign IDs; without
 * a campaign_id condition it lists the team's campaigns page by page, and
 * batches the IDs as the pages come, once there are enough for a wave of
 * max_parallel batches (or the listing is over).  A campaign listed twice
 * (it moved between pages) counts once, and a listing always ends.  Each
 * answer becomes the rows returned next (the campaigns resource's pages, or
 * a batch's statistics) or more requests (the pages of a stats listing);
 * its values are converted with the columns' input functions as soon as it
 * is decoded, the echo columns filled with the filters of the request the
 * row came from; only then may the memo hand the answer out again.
 *
 * The combinations are tested first (pushdown.c's tests: clauses on the
 * echo columns alone, evaluated on a row of each combination's values; the
 * clauses on campaign_id alone, on each ID before it is batched), so that
 * only what the clauses select is asked for.  The inner side of a batched
 * join (join.c) gets its key sets before each execution: each with each of
 * the table's own combinations that allows it is a request set, with the
 * key set's campaign IDs, and every row says which key it was asked for.
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
 * EXPLAIN shows what a scan will send, or sent: the route, how many
 * campaigns and batches, the filters as they go into the requests and, with
 * VERBOSE, the body of the first batch.  Plain EXPLAIN sends nothing: the
 * values are computed from the plan's conditions when they are all
 * constants, and otherwise shown as "computed at run time".  Once the scan
 * has run (EXPLAIN ANALYZE), the values and combinations it computed are
 * shown as they were, and what the transport did is added.
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
	List	   *conds;
	List	   *exprstates;
	int			ntests;
	int			nid_tests;		/* of them, on campaign_id */
	TupleTableSlot *proto;

	bool		async;			/* under an asynchronous Append: never waits */

	/* what the query asks of the listing (list_order.c) */
	LemlistListOrder order;		/* sortBy=createdAt, and its direction */
	int			order_attno;	/* created_at, whose order is checked */
	int			page_size;		/* limit= of each page */
	int			list_start;		/* offset= of the first page (an OFFSET) */
	int64		plan_budget;	/* rows the plan wants first, -1: all */
	int64		budget;			/* rows wanted so far, -1: all */

	/* one execution (run_cxt) */
	bool		started;
	bool		done;
	TimestampTz default_end;	/* endDate when the query gives none */
	char	   *default_end_text;	/* as sent */
	LemlistFilterValues fv;
	List	   *combos;
	LemlistConnection *conn;
	/* explicit IDs: the next batch to make */
	int			next_combo;
	int			next_first;
	/* listing */
	int			next_offset;	/* offset of the next page to ask, -1: none */
	bool		page_out;		/* a page is queued or in flight */
	HTAB	   *listed;			/* stats: every ID listed so far */
	ScanChunk  *filling;		/* stats: listed IDs not yet in a chunk */
	List	   *chunks;			/* stats: full chunks, of ScanChunk * */
	int			chunk_combo;	/* of the first chunk, the next combination */
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

	/* the inner side of a batched join (join.c): the keys it asks for */
	bool		join_child;
	int			join_filters;	/* bits 1 << filter of the key filters */
	List	   *join_keys;		/* LemlistJoinKeySet *, set before each execution */
	int64		join_sets;		/* combinations the keys made, for EXPLAIN */

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
static void check_order(LemlistScanState *ss, ScanRow *row);
static List *make_rows(LemlistScanState *ss, List *texts, List *ids, LemlistCombo *combo);
static List *merge_join_keys(LemlistScanState *ss, List *combos);
static void conversion_error_callback(void *arg);
static void apply_tests(LemlistScanState *ss, LemlistFilterValues *fv, List **combos);
static bool passes_tests(LemlistScanState *ss, LemlistCondOp op, LemlistCombo *combo,
						 const char *id);

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
	List	   *private_conds = list_nth(fsplan->fdw_private, FdwScanPrivateConds);
	List	   *attrs = list_nth(fsplan->fdw_private, FdwScanPrivateRetrievedAttrs);
	List	   *listing = list_nth(fsplan->fdw_private, FdwScanPrivateListing);
	ListCell   *lc1,
			   *lc2;

	ss = palloc0(sizeof(LemlistScanState));
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
	ss->order = (LemlistListOrder) list_nth_int(listing, FdwListingOrder);
	ss->order_attno = list_nth_int(listing, FdwListingOrderAttno);
	ss->page_size = list_nth_int(listing, FdwListingPageSize);
	ss->plan_budget = list_nth_int(listing, FdwListingBudget);
	ss->list_start = list_nth_int(listing, FdwListingOffset);

	oldcxt = MemoryContextSwitchTo(ss->scan_cxt);

	lemlist_get_options(relid, &ss->opts);
	ss->columns = lemlist_map_columns(relid, ss->opts.resource, &ss->natts);

	/* conditions: rebuild them from the plan */
	forboth(lc1, private_conds, lc2, fsplan->fdw_exprs)
	{
		List	   *fields = lfirst(lc1);
		LemlistCond *cond = palloc(sizeof(LemlistCond));

		cond->filter = (LemlistFilterKind) linitial_int(fields);
		cond->op = (LemlistCondOp) lsecond_int(fields);
		cond->group = lthird_int(fields);
		cond->mode = lfourth_int(fields);
		cond->refs = list_nth_int(fields, 4);
		cond->expr = (Expr *) lfirst(lc2);
		if (cond->op == LEMLIST_OP_TEST || cond->op == LEMLIST_OP_ID_TEST)
			ss->ntests++;
		if (cond->op == LEMLIST_OP_ID_TEST)
			ss->nid_tests++;
		ss->conds = lappend(ss->conds, cond);
	}

	/* columns: what to extract, and how to convert it */
	ss->in_funcs = palloc0(sizeof(FmgrInfo) * Max(ss->natts, 1));
	ss->typioparams = palloc0(sizeof(Oid) * Max(ss->natts, 1));
	for (int i = 0; i < ss->natts; i++)
	{
		LemlistColumn *col = &ss->columns[i];
		Oid			infunc;

		/* a column nobody reads is extracted as nothing */
		if (col->dropped || !list_member_int(attrs, i + 1))
		{
			col->source = LEMLIST_SRC_UNREAD;
			continue;
		}
		getTypeInputInfo(col->typid, &infunc, &ss->typioparams[i]);
		fmgr_info_cxt(infunc, &ss->in_funcs[i], ss->scan_cxt);
	}

	/* a row of the combination's values, to evaluate the tests on */
	if (ss->ntests > 0)
		ss->proto = ExecInitExtraTupleSlot(estate, RelationGetDescr(ss->rel),
										   &TTSOpsVirtual);

	MemoryContextSwitchTo(oldcxt);

	/* EXPLAIN evaluates the tests too, when they are constant */
	ss->exprstates = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);
	if (ss->explain_only)
		return ss;

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
	ss->budget = ss->plan_budget;
	ss->default_end = lemlist_default_end_date();
	ss->default_end_text = lemlist_format_timestamp(ss->default_end);
	lemlist_eval_conds(ss->conds, ss->exprstates, econtext,
					   ss->opts.default_start_date, ss->default_end, &ss->fv);
	ss->combos = lemlist_combinations(&ss->fv);
	if (ss->join_child)
	{
		/* the cap counts the table's own combinations; the keys are the join's */
		lemlist_check_combinations(list_length(ss->combos));
		ss->combos = merge_join_keys(ss, ss->combos);
	}
	apply_tests(ss, &ss->fv, &ss->combos);
	if (!ss->join_child)
		lemlist_check_combinations(list_length(ss->combos));

	if (ss->fv.empty)
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
 * lemlist_scan_next
 *		The next row, fetching the next response when the current one is used up.
 *
 * Under an asynchronous Append, an empty slot may also mean that the next
 * answer has not come yet (lemlist_scan_done tells).
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
			ScanRow    *row = list_nth(ss->rows, ss->next_row++);

			if (ss->order != LEMLIST_ORDER_NONE)
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
 *		An ordered listing's rows must come in the order the plan relies on
 *		(no Sort above it): one out of order, or without its creation date,
 *		is an ERROR, never a wrong answer under a LIMIT
 */
static void
check_order(LemlistScanState *ss, ScanRow *row)
{
	int			i = ss->order_attno - 1;
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
		(ss->order == LEMLIST_ORDER_ASC ? created < ss->prev_created : created > ss->prev_created))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("lemlist listed campaigns out of the order asked"),
				 errdetail("Campaign \"%s\" comes after one created %s it, with sortOrder=%s.",
						   row->campaign_id ? row->campaign_id : "?",
						   ss->order == LEMLIST_ORDER_ASC ? "after" : "before",
						   ss->order == LEMLIST_ORDER_ASC ? "asc" : "desc")));
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
 *		The descriptor to wait on before asking an asynchronous scan again
 */
int
lemlist_scan_wait_fd(LemlistScanState *ss)
{
	return lemlist_http_wait_fd(ss->conn);
}

/*
 * filter_echo
 *		The text an echo column shows: the filter its row was computed under.
 */
static const char *
filter_echo(LemlistScanState *ss, LemlistFilterKind filter, LemlistCombo *combo)
{
	char	  **field = combo ? lemlist_combo_field(combo, filter) : NULL;

	return field ? *field : NULL;
}

/*
 * convert_row
 *		Fill values and nulls with a row's columns, converted by their input
 *		functions: the echo columns from combo, the others from texts (an
 *		answer's row), or, without texts, only campaign_id, from id (the row a
 *		test is evaluated on).  The caller has conversion_error_callback in
 *		place.
 */
static void
convert_row(LemlistScanState *ss, Datum *values, bool *nulls, char **texts,
			LemlistCombo *combo, const char *id)
{
	for (int i = 0; i < ss->natts; i++)
	{
		LemlistColumn *col = &ss->columns[i];
		const char *text = NULL;

		if (col->source == LEMLIST_SRC_FILTER)
			text = filter_echo(ss, col->filter, combo);
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
 *		functions, into batch_cxt; combo gives the echo columns' values.
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
 *		Whether the tests of kind op (LEMLIST_OP_TEST: on the echo columns;
 *		LEMLIST_OP_ID_TEST: on campaign_id) hold on a row of the values
 *		combo (and campaign id) give, as the local recheck will find them on
 *		every row made under them.
 */
static bool
passes_tests(LemlistScanState *ss, LemlistCondOp op, LemlistCombo *combo,
			 const char *id)
{
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
	forboth(lc, ss->conds, lcs, ss->exprstates)
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
 * lemlist_scan_join_child
 *		This scan is the inner side of a batched join: it asks only for the
 *		keys the join gives it before each execution
 */
void
lemlist_scan_join_child(LemlistScanState *ss, int key_filters)
{
	ss->join_child = true;
	ss->join_filters = key_filters;
}

/*
 * lemlist_scan_set_join_keys
 *		The keys the next execution asks for: each a value of every key
 *		filter but campaign_id, and, when campaign_id is a key, its IDs
 *		(LemlistJoinKeySet, owned by the caller until the execution ends).
 *		With poll, the scan never waits: an empty slot may mean that no
 *		answer has come yet (lemlist_scan_done tells), as under an
 *		asynchronous Append; the join polls several tables so.
 */
void
lemlist_scan_set_join_keys(LemlistScanState *ss, List *key_sets, bool poll)
{
	Assert(ss->join_child && !ss->started);
	ss->join_keys = key_sets;
	ss->async = poll || lemlist_node_async(ss->node);
}

/*
 * lemlist_scan_row_key
 *		What the row returned last was asked for under: its combination of
 *		filters, as sent, and its campaign
 */
void
lemlist_scan_row_key(LemlistScanState *ss, LemlistCombo **combo,
					 const char **campaign_id)
{
	*combo = ss->cur_row ? ss->cur_row->combo : NULL;
	*campaign_id = ss->cur_row ? ss->cur_row->campaign_id : NULL;
}

/*
 * merge_join_keys
 *		The combinations of a batched join's inner scan: each key set with
 *		each of the table's own combinations that allows it.
 *
 * A key filter the table's own conditions constrain must have the key's
 * value among its own; one they do not takes the key's value.  When
 * campaign_id is a key, a combination asks for the key set's IDs (those
 * the table's own campaign_id conditions allow), and the team is never
 * listed.
 */
static List *
merge_join_keys(LemlistScanState *ss, List *combos)
{
	bool		id_key = (ss->join_filters & (1 << LEMLIST_FILTER_CAMPAIGN_ID)) != 0;
	List	   *merged = NIL;
	ListCell   *klc;

	if (id_key)
		ss->fv.all_campaigns = false;

	foreach(klc, ss->join_keys)
	{
		LemlistJoinKeySet *key = lfirst(klc);
		ListCell   *clc;
		List	   *ids = NIL;

		if (id_key)
		{
			if (ss->fv.campaign_ids != NIL)
				ids = lemlist_intersect_values(key->campaign_ids, ss->fv.campaign_ids);
			else if (!(ss->fv.constrained & (1 << LEMLIST_FILTER_CAMPAIGN_ID)))
				ids = key->campaign_ids;
			if (ids == NIL)
				continue;
		}

		foreach(clc, combos)
		{
			LemlistCombo *own = lfirst(clc);
			LemlistCombo *combo = palloc(sizeof(LemlistCombo));
			bool		allowed = true;

			*combo = *own;
			combo->campaign_ids = ids;
			for (int f = LEMLIST_FILTER_START_DATE; f <= LEMLIST_FILTER_CHANNEL; f++)
			{
				char	  **field = lemlist_combo_field(combo, f);

				if (!(ss->join_filters & (1 << f)))
					continue;
				if ((ss->fv.constrained & (1 << f)) &&
					(*field == NULL || key->values[f] == NULL ||
					 strcmp(*field, key->values[f]) != 0))
					allowed = false;
				*field = key->values[f];
			}
			if (allowed)
				merged = lappend(merged, combo);
		}
	}
	ss->join_sets = list_length(merged);
	return merged;
}

/*
 * distinct_values
 *		The values of one field of the combinations, each once, in order
 *		(NULL, "not filtered", being one of them)
 */
static List *
distinct_values(List *combos, size_t offset)
{
	List	   *values = NIL;
	ListCell   *lc;

	foreach(lc, combos)
	{
		char	   *v = *(char **) ((char *) lfirst(lc) + offset);
		ListCell   *lc2;
		bool		seen = false;

		foreach(lc2, values)
		{
			char	   *w = lfirst(lc2);

			if (v == w || (v && w && strcmp(v, w) == 0))
				seen = true;
		}
		if (!seen)
			values = lappend(values, v);
	}
	return values;
}

/*
 * apply_tests
 *		Keep the combinations the tests hold for, and the explicit campaign
 *		IDs the ID tests hold for; what is left is what the scan requests,
 *		and what EXPLAIN shows
 */
static void
apply_tests(LemlistScanState *ss, LemlistFilterValues *fv, List **combos)
{
	List	   *kept = NIL;
	ListCell   *lc;

	if (ss->ntests == 0 || fv->empty)
		return;

	foreach(lc, *combos)
	{
		LemlistCombo *combo = lfirst(lc);

		if (!passes_tests(ss, LEMLIST_OP_TEST, combo, NULL))
			continue;
		if (combo->campaign_ids != NIL && ss->nid_tests > 0)
		{
			List	   *ids = NIL;
			ListCell   *idlc;

			foreach(idlc, combo->campaign_ids)
			{
				if (passes_tests(ss, LEMLIST_OP_ID_TEST, NULL, lfirst(idlc)))
					ids = lappend(ids, lfirst(idlc));
			}
			if (ids == NIL)
				continue;
			combo->campaign_ids = ids;
		}
		kept = lappend(kept, combo);
	}
	*combos = kept;
	fv->send_users = distinct_values(kept, offsetof(LemlistCombo, send_user));
	fv->ab_selected = distinct_values(kept, offsetof(LemlistCombo, ab_selected));
	fv->channels = distinct_values(kept, offsetof(LemlistCombo, channel));

	if (!fv->all_campaigns && ss->nid_tests > 0)
	{
		List	   *ids = NIL;

		foreach(lc, fv->campaign_ids)
		{
			if (passes_tests(ss, LEMLIST_OP_ID_TEST, NULL, lfirst(lc)))
				ids = lappend(ids, lfirst(lc));
		}
		fv->campaign_ids = ids;
	}

	/* campaigns: the scan's own, or (a batched join's) each combination's */
	if (kept == NIL ||
		(!fv->all_campaigns && fv->campaign_ids == NIL &&
		 ((LemlistCombo *) linitial(kept))->campaign_ids == NIL))
	{
		fv->empty = true;
		*combos = NIL;
	}
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
	ss->next_row = 0;
	ss->cur_row = NULL;
	ss->conn = NULL;
	ss->listed = NULL;
	ss->filling = NULL;
	ss->chunks = NIL;
	ss->chunk_combo = 0;
	ss->page_out = false;
	ss->next_offset = -1;
	ss->prev_first_id = NULL;
	ss->rows_asked = 0;
	ss->have_prev = false;
	memset(&ss->fv, 0, sizeof(ss->fv));
	ss->combos = NIL;
	MemoryContextReset(ss->batch_cxt);
	/* closes the connection's curl handles through its reset callback */
	MemoryContextReset(ss->run_cxt);
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
	ss->next_combo = 0;
	ss->next_first = 0;
	ss->next_offset = -1;
	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS || ss->fv.all_campaigns)
		ss->next_offset = ss->list_start;
	ss->listed_count = 0;
	ss->announced = -1;

	fill_queue(ss);
}

/*
 * next_answer
 *		Replace the answer whose rows have all been returned by the next one,
 *		sending what may be sent meanwhile; an asynchronous scan does not
 *		wait for it
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
			(ss->fv.all_campaigns ? (ss->chunks != NIL || ss->filling != NULL) :
			 ss->next_combo < list_length(ss->combos));

		if ((more_pages || more_batches) &&
			!(more_pages && ss->listed_count < ss->budget) &&
			!(more_batches && ss->rows_asked < ss->budget))
			ss->budget = Max(ss->budget * 2,
							 Max(ss->listed_count, ss->rows_asked) + LEMLIST_PAGE_SIZE);
	}
	paused = ss->budget >= 0 && ss->listed_count >= ss->budget;
	if (paused && ss->fv.all_campaigns && ss->next_offset >= 0)
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
		if (!ss->fv.all_campaigns)
		{
			/* explicit IDs: every chunk of a combination, then the next one */
			char	   *ids[LEMLIST_BATCH_SIZE];
			LemlistCombo *combo;
			List	   *idlist;
			int			nids;
			int			n;

			if (ss->next_combo >= list_length(ss->combos))
				break;
			combo = list_nth(ss->combos, ss->next_combo);
			idlist = combo->campaign_ids ? combo->campaign_ids : ss->fv.campaign_ids;
			nids = list_length(idlist);
			n = Min(LEMLIST_BATCH_SIZE, nids - ss->next_first);
			for (int i = 0; i < n; i++)
				ids[i] = list_nth(idlist, ss->next_first + i);
			submit_batch(ss, combo, ids, n);
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
			bool		listing = ss->page_out || (ss->next_offset >= 0 && !paused);

			if (ss->chunks == NIL ||
				(listing && unsent_listed_batches(ss) < wave))
				break;
			chunk = linitial(ss->chunks);
			submit_batch(ss, list_nth(ss->combos, ss->chunk_combo),
						 chunk->ids, chunk->nids);
			if (++ss->chunk_combo >= list_length(ss->combos))
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
	return list_length(ss->chunks) * list_length(ss->combos) - ss->chunk_combo;
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
					 LEMLIST_CAMPAIGNS_ROUTE, ss->page_size, offset);
	/* the list filters only narrow the campaigns resource itself */
	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS)
	{
		if (ss->fv.status)
			append_query_param(&buf, "status", ss->fv.status);
		if (ss->fv.created_by)
			append_query_param(&buf, "createdBy", ss->fv.created_by);
	}
	if (ss->order != LEMLIST_ORDER_NONE)
		appendStringInfo(&buf, "&sortBy=createdAt&sortOrder=%s",
						 ss->order == LEMLIST_ORDER_ASC ? "asc" : "desc");
	return buf.data;
}

static void
submit_list_page(LemlistScanState *ss, int offset)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ss->run_cxt);
	ScanRequest *req = palloc0(sizeof(ScanRequest));

	if ((offset - ss->list_start) / LEMLIST_PAGE_SIZE >= LEMLIST_MAX_LIST_PAGES)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("lemlist campaign list does not end"),
				 errdetail("More than %d pages were listed.", LEMLIST_MAX_LIST_PAGES)));

	req->kind = SCAN_REQ_LIST_PAGE;
	req->offset = offset;
	if (ss->opts.resource == LEMLIST_RES_CAMPAIGNS)
		ss->rows_asked += ss->page_size;
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
	req->http.body = lemlist_json_stats_request(chunk, combo->start_date,
												combo->end_date, combo);
	if ((ss->fv.constrained & (1 << LEMLIST_FILTER_END_DATE)) == 0 &&
		combo->end_date != NULL && strcmp(combo->end_date, ss->default_end_text) == 0)
	{
		/*
		 * The end is the statement's start: another statement's answer
		 * within cache_ttl answers it, whatever its own start was.
		 */
		req->http.default_end = ss->default_end;
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
	int64		end;

	ss->listed_count += parsed->page_count;
	end = ss->list_start + ss->listed_count;	/* where the listing is */
	if (parsed->has_pagination)
		ss->announced = parsed->total_records;

	last = parsed->page_count < ss->page_size;
	if (!last && parsed->has_pagination && ss->announced >= 0 &&
		end >= ss->announced &&
		(parsed->next_page <= parsed->current_page ||
		 (parsed->total_pages > 0 && parsed->current_page >= parsed->total_pages)))
		last = true;

	if (last)
	{
		/* (an OFFSET past the end lists nothing) */
		if (ss->announced >= 0 && end != ss->announced &&
			!(ss->listed_count == 0 && ss->announced <= ss->list_start))
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
		if (ss->nid_tests == 0 || passes_tests(ss, LEMLIST_OP_ID_TEST, NULL, lfirst(lc)))
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
 *		Position of an ID in an array, or -1.  Batches hold at most 100 IDs.
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
 *		A batch's answer must cover exactly what it asked for: each requested
 *		campaign once, in results[] or in errors[], and nothing else.
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
 *		Surface errors[] as the "campaign_errors" option says.
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
 * describe_filters
 *		"startDate=..., endDate=..., ABSelected in (A, B)" for EXPLAIN.
 */
static char *
describe_filters(LemlistScanState *ss, LemlistFilterValues *fv, List *combos,
				 bool known)
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
				LemlistCond *cond = lfirst(lc);

				if ((int) cond->filter != filter && !(cond->refs & (1 << filter)))
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

	/* the dates as the combinations send them (as computed, if none is left) */
	sets[0].field = "startDate";
	sets[1].field = "endDate";
	sets[0].values = sets[1].values = NIL;
	foreach(lc, combos)
	{
		LemlistCombo *combo = lfirst(lc);

		if (!list_member(sets[0].values, makeString(combo->start_date)))
			sets[0].values = lappend(sets[0].values, makeString(combo->start_date));
		if (!list_member(sets[1].values, makeString(combo->end_date)))
			sets[1].values = lappend(sets[1].values, makeString(combo->end_date));
	}
	for (int i = 0; i < 2 && combos == NIL; i++)
	{
		foreach(lc, i == 0 ? fv->start_dates : fv->end_dates)
			sets[i].values = lappend(sets[i].values,
									 makeString(lemlist_format_timestamp(*(TimestampTz *) lfirst(lc))));
	}
	for (int i = 0; i < 2; i++)
	{
		if (sets[i].values == NIL)
			continue;
		appendStringInfo(&buf, "%s%s%s", buf.len ? ", " : "", sets[i].field,
						 list_length(sets[i].values) > 1 ? " in (" : "=");
		if (i == 1 && run_time_end && !ss->started)
			appendStringInfoString(&buf, "statement start");
		else
			foreach(lc, sets[i].values)
				appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
								 strVal(lfirst(lc)));
		if (list_length(sets[i].values) > 1)
			appendStringInfoChar(&buf, ')');
	}

	sets[0].field = "sendUser";
	sets[0].values = fv->send_users;
	sets[1].field = "ABSelected";
	sets[1].values = fv->ab_selected;
	sets[2].field = "channels";
	sets[2].values = fv->channels;
	for (int i = 0; i < 3; i++)
	{
		if (sets[i].values == NIL ||
			(list_length(sets[i].values) == 1 && linitial(sets[i].values) == NULL))
			continue;
		appendStringInfo(&buf, ", %s%s", sets[i].field,
						 list_length(sets[i].values) > 1 ? " in (" : "=");
		foreach(lc, sets[i].values)
			appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
							 lfirst(lc) ? (char *) lfirst(lc) : "<all>");
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
		apply_tests(ss, &fv, &combos);
		lemlist_check_combinations(list_length(combos));
	}

	ExplainPropertyText("lemlist Request",
						campaigns ? "GET /campaigns?version=v2" :
						"POST " LEMLIST_STATS_ROUTE, es);

	if (!campaigns)
	{
		char	   *what;

		if (ss->join_child && (ss->join_filters & (1 << LEMLIST_FILTER_CAMPAIGN_ID)))
			what = pstrdup("those of the join's keys");
		else if (!known)
			what = pstrdup("computed at run time");
		else if (fv.empty)
			what = pstrdup("none (the filters exclude every row)");
		else if (fv.all_campaigns)
			what = pstrdup("all (listed with GET /campaigns?version=v2)");
		else
			what = psprintf("%d", list_length(fv.campaign_ids));
		ExplainPropertyText("lemlist Campaigns", what, es);

		if (known && !fv.empty && !fv.all_campaigns && !ss->join_child)
		{
			int			n = list_length(fv.campaign_ids);
			int			ncombos = list_length(combos);

			ExplainPropertyInteger("lemlist Batches", NULL,
								   (int64) ncombos * ((n + LEMLIST_BATCH_SIZE - 1) / LEMLIST_BATCH_SIZE),
								   es);
		}
	}

	filters = describe_filters(ss, &fv, ss->join_child ? NIL : combos, known);
	if (filters)
		ExplainPropertyText("lemlist Filters", filters, es);
	/* what a query's ORDER BY and LIMIT ask of the listing (list_order.c) */
	if (ss->order != LEMLIST_ORDER_NONE)
		ExplainPropertyText("lemlist Order",
							ss->order == LEMLIST_ORDER_ASC ?
							"sortBy=createdAt&sortOrder=asc" :
							"sortBy=createdAt&sortOrder=desc", es);
	if (ss->plan_budget >= 0)
		ExplainPropertyInteger("lemlist Rows Wanted First", NULL, ss->plan_budget, es);
	if (ss->page_size != LEMLIST_PAGE_SIZE)
		ExplainPropertyInteger("lemlist Page Size", NULL, ss->page_size, es);
	if (ss->list_start != 0)
		ExplainPropertyInteger("lemlist Offset", NULL, ss->list_start, es);
	if (ss->join_child)
	{
		StringInfoData keys;

		initStringInfo(&keys);
		for (int f = LEMLIST_FILTER_CAMPAIGN_ID; f <= LEMLIST_FILTER_CHANNEL; f++)
		{
			if (ss->join_filters & (1 << f))
				appendStringInfo(&keys, "%s%s", keys.len ? ", " : "", lemlist_filter_name(f));
		}
		ExplainPropertyText("lemlist Keys From Join", keys.data, es);
		if (es->analyze)
			ExplainPropertyInteger("lemlist Request Sets", NULL, ss->join_sets, es);
	}

	if (es->verbose && known && !fv.empty && !campaigns && !ss->join_child)
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
														   ((LemlistCombo *) linitial(combos))->start_date,
														   ((LemlistCombo *) linitial(combos))->end_date,
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
}
