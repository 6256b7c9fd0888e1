/*-------------------------------------------------------------------------
 *
 * lemlist_fdw.c
 *		  Foreign data wrapper handler, planner callbacks and costs
 *
 * The planner side of lemlist_fdw.  GetForeignRelSize works out which WHERE
 * clauses become request fields (pushdown.c) and, when their values are
 * constants, how many requests the scan will send; costs follow from that,
 * because a request costs far more than a row.  Every clause also stays a
 * local qual: each row echoes the filters it was computed under, so the
 * recheck is always true for what the API returned; a clause on an echo
 * column that no request can carry is an ERROR here, never an empty answer.
 * A join clause on the dates or the sender is sent only by the batched join
 * (join.c): a plain scan with one costs enough that any batched join wins,
 * and is an ERROR when its plan is made.
 *
 * The plan carries only copyable nodes (FdwScanPrivateIndex) and the
 * run-time expressions in fdw_exprs; the API key never enters a plan.
 * Execution and EXPLAIN live in scan.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/sysattr.h"
#include "access/xact.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "nodes/makefuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

#include "lemlist_fdw.h"

PG_MODULE_MAGIC;

/*
 * What a plan that scans a table plainly costs on top when one of its join
 * clauses only a batched join sends: enough that any batched join wins.
 */
#define LEMLIST_UNSENDABLE_COST		1.0e9

/*
 * Guesses used when the values are only known at run time: campaigns per
 * campaign_id condition, campaigns of a team (listed page after page, so
 * a full listing is costly), steps per campaign.
 */
#define LEMLIST_GUESS_CAMPAIGNS		100
#define LEMLIST_GUESS_TEAM			500
#define LEMLIST_GUESS_STEPS			4


PG_FUNCTION_INFO_V1(lemlist_fdw_handler);

void		_PG_init(void);

static void lemlistGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
									 Oid foreigntableid);
static void lemlistGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
static ForeignScan *lemlistGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										  Oid foreigntableid, ForeignPath *best_path,
										  List *tlist, List *scan_clauses,
										  Plan *outer_plan);
static void lemlistBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *lemlistIterateForeignScan(ForeignScanState *node);
static void lemlistReScanForeignScan(ForeignScanState *node);
static void lemlistEndForeignScan(ForeignScanState *node);
static void lemlistExplainForeignScan(ForeignScanState *node, ExplainState *es);
static List *lemlistImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);

/*
 * _PG_init
 *		Pacing in shared memory when loaded by shared_preload_libraries, the
 *		memo's budget setting, the watch on ALTER SERVER, the batched join
 */
void
_PG_init(void)
{
	lemlist_pacing_init();
	lemlist_shared_init();
	lemlist_memo_init();
	lemlist_http_init_settings();
	lemlist_option_init();
	lemlist_join_init(lemlistGetForeignRelSize);
	/* once every setting is defined: any other lemlist_fdw.* name is a typo */
	lemlist_reserve_guc_prefix("lemlist_fdw");
}

/*
 * lemlist_fdw_handler
 *		The FdwRoutine: lemlist is read-only.
 */
Datum
lemlist_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = lemlistGetForeignRelSize;
	routine->GetForeignPaths = lemlistGetForeignPaths;
	routine->GetForeignPlan = lemlistGetForeignPlan;
	routine->BeginForeignScan = lemlistBeginForeignScan;
	routine->IterateForeignScan = lemlistIterateForeignScan;
	routine->ReScanForeignScan = lemlistReScanForeignScan;
	routine->EndForeignScan = lemlistEndForeignScan;
	routine->ExplainForeignScan = lemlistExplainForeignScan;
	routine->ImportForeignSchema = lemlistImportForeignSchema;
	routine->GetForeignUpperPaths = lemlist_offset_paths;
#ifdef LEMLIST_HAVE_ASYNC
	routine->IsForeignPathAsyncCapable = lemlist_async_capable;
	routine->ForeignAsyncRequest = lemlist_async_request;
	routine->ForeignAsyncConfigureWait = lemlist_async_configure_wait;
	routine->ForeignAsyncNotify = lemlist_async_notify;
#endif

	PG_RETURN_POINTER(routine);
}

/*
 * estimate_size
 *		Rows and requests of a scan, from the filter values when they are
 *		constants, from guesses otherwise.  List pages are fetched one after
 *		the other; batches go out max_parallel at a time.
 */
static bool
has_tests(List *conds)
{
	ListCell   *lc;

	foreach(lc, conds)
	{
		LemlistCond *cond = lfirst(lc);

		if (cond->op == LEMLIST_OP_TEST || cond->op == LEMLIST_OP_ID_TEST)
			return true;
	}
	return false;
}

static void
estimate_size(LemlistRelInfo *info)
{
	double		ncampaigns = LEMLIST_GUESS_CAMPAIGNS;
	bool		all_campaigns = true;
	ListCell   *lc;

	info->combos = 1;
	foreach(lc, info->conds)
	{
		if (((LemlistCond *) lfirst(lc))->filter == LEMLIST_FILTER_CAMPAIGN_ID)
			all_campaigns = false;
	}

	if (lemlist_conds_are_constant(info->conds))
	{
		LemlistFilterValues fv;

		/*
		 * Evaluating constants here also rejects impossible literals and
		 * oversized fan-outs at plan time, before anything is sent.
		 */
		lemlist_eval_conds(info->conds, NIL, NULL,
						   info->opts.default_start_date,
						   GetCurrentStatementStartTimestamp(), &fv);
		info->combos = list_length(lemlist_combinations(&fv));
		info->values[LEMLIST_FILTER_START_DATE] = list_length(fv.start_dates);
		info->values[LEMLIST_FILTER_END_DATE] = list_length(fv.end_dates);
		info->values[LEMLIST_FILTER_SEND_USER] = list_length(fv.send_users);
		info->values[LEMLIST_FILTER_AB_SELECTED] = list_length(fv.ab_selected);
		info->values[LEMLIST_FILTER_CHANNEL] = list_length(fv.channels);
		/* without tests, what they would leave is known now: fail early */
		if (!has_tests(info->conds))
			lemlist_check_combinations(info->combos);
		if (fv.empty)
		{
			info->rows = 0;
			info->list_pages = 0;
			info->batches = 0;
			return;
		}
		if (!fv.all_campaigns)
			ncampaigns = info->ncampaigns = list_length(fv.campaign_ids);
	}

	if (info->opts.resource == LEMLIST_RES_CAMPAIGNS || all_campaigns)
	{
		ncampaigns = LEMLIST_GUESS_TEAM;
		info->list_pages = ceil(ncampaigns / LEMLIST_PAGE_SIZE);
	}
	if (info->opts.resource == LEMLIST_RES_CAMPAIGNS)
	{
		info->rows = ncampaigns;
		info->batches = 0;
		return;
	}

	info->rows = ncampaigns * info->combos;
	if (info->opts.resource == LEMLIST_RES_CAMPAIGN_STEP_STATS)
		info->rows *= LEMLIST_GUESS_STEPS;
	info->batches = info->combos * ceil(ncampaigns / LEMLIST_BATCH_SIZE);
}

/*
 * retrieved_attrs
 *		The attribute numbers the query reads (the relation's target, not a
 *		physical target list, and the quals, join clauses of a parameterized
 *		path included), so that the scan converts no JSON value nobody reads.
 *		A whole-row reference needs all.
 */
static List *
retrieved_attrs(Index relid, int natts, List *target, List *quals)
{
	Bitmapset  *attrs_used = NULL;
	List	   *result = NIL;
	bool		whole_row;

	pull_varattnos((Node *) target, relid, &attrs_used);
	pull_varattnos((Node *) quals, relid, &attrs_used);

	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used);
	for (int attno = 1; attno <= natts; attno++)
	{
		if (whole_row ||
			bms_is_member(attno - FirstLowInvalidHeapAttributeNumber, attrs_used))
			result = lappend_int(result, attno);
	}
	return result;
}

/*
 * lemlistGetForeignRelSize
 *		Options, column roles, pushed-down conditions and the size estimate.
 */
static void
lemlistGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
						 Oid foreigntableid)
{
	LemlistRelInfo *info = palloc0(sizeof(LemlistRelInfo));

	lemlist_get_options(foreigntableid, &info->opts);
	info->columns = lemlist_map_columns(foreigntableid, info->opts.resource,
										&info->natts);

	info->conds = lemlist_extract_conds(root, baserel, info->columns, info->natts,
										baserel->baserestrictinfo,
										info->opts.resource != LEMLIST_RES_CAMPAIGNS);
	if (info->opts.resource != LEMLIST_RES_CAMPAIGNS &&
		(info->join_domain = lemlist_join_domain_cond(root, baserel, info->columns,
													  info->natts)) != NULL)
		info->conds = lappend(info->conds, info->join_domain);
	if (info->opts.resource != LEMLIST_RES_CAMPAIGNS)
		info->unsendable_join = lemlist_unsendable_join_clause(root, baserel, info->columns,
															   info->natts, NULL);
	estimate_size(info);

	/* the local recheck keeps every row the API returns, so no selectivity */
	baserel->rows = Max(info->rows, 1);
	baserel->fdw_private = info;
}

/*
 * campaign_id_matches
 *		generate_implied_equalities_for_column callback: the equivalence member
 *		is this relation's campaign_id column.
 */
static bool
campaign_id_matches(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					EquivalenceMember *em, void *arg)
{
	return lemlist_is_column(em->em_expr, rel->relid, *(AttrNumber *) arg);
}

/*
 * join_clauses
 *		Join clauses that can feed campaignIds from another relation: those
 *		of joininfo, and those implied by equivalence classes (a join clause
 *		"s.campaign_id = d.campaign_id" lives in an equivalence class).
 */
static List *
join_clauses(PlannerInfo *root, RelOptInfo *baserel, LemlistRelInfo *info)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (join_clause_is_movable_to(rinfo, baserel))
			result = lappend(result, rinfo);
	}

	if (baserel->has_eclass_joins)
	{
		for (AttrNumber attno = 1; attno <= info->natts; attno++)
		{
			if (info->columns[attno - 1].pushdown != LEMLIST_FILTER_CAMPAIGN_ID)
				continue;
			result = list_concat(result,
								 generate_implied_equalities_for_column(root, baserel,
																		campaign_id_matches,
																		&attno,
																		baserel->lateral_referencers));
		}
	}
	return result;
}

/*
 * lemlistGetForeignPaths
 *		An unparameterized path costed by its requests, and a parameterized
 *		path per join clause that feeds campaign_id: for a few outer rows, one
 *		small request per rescan beats listing every campaign of the team.
 */
static void
lemlistGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
					   Oid foreigntableid)
{
	LemlistRelInfo *info = baserel->fdw_private;
	Cost		startup_cost;
	Cost		total_cost;
	ListCell   *lc;

	startup_cost = (info->list_pages + info->batches > 0) ? LEMLIST_REQUEST_COST : 0;
	total_cost = lemlist_request_cost(info, info->list_pages, info->batches) +
		baserel->rows * (LEMLIST_ROW_COST + cpu_tuple_cost);
	/*
	 * A join clause on the dates or the sender that only a batched join
	 * sends: a plan that scans this table plainly answers nothing, so it is
	 * taken only when no batched join can be made (and then is an ERROR).
	 */
	if (info->unsendable_join != NULL)
	{
		startup_cost += LEMLIST_UNSENDABLE_COST;
		total_cost += LEMLIST_UNSENDABLE_COST;
	}

	add_path(baserel, (Path *)
			 lemlist_create_foreignscan_path(root, baserel, baserel->rows,
											 startup_cost, total_cost,
											 NIL, NULL, NIL));

	if (info->opts.resource == LEMLIST_RES_CAMPAIGNS)
	{
		AttrNumber	attno;
		LemlistListOrder order = lemlist_list_order(root, baserel, info, &attno);

		/*
		 * The listing in the order the query asks, at the same cost: lemlist
		 * sorts, and the first page is the first rows.  The path carries
		 * the order and the created_at column it is checked on.
		 */
		if (order != LEMLIST_ORDER_NONE)
			add_path(baserel, (Path *)
					 lemlist_create_foreignscan_path(root, baserel, baserel->rows,
													 startup_cost, total_cost,
													 root->query_pathkeys, NULL,
													 lemlist_listing_private(order, attno, 0)));
		return;
	}

	foreach(lc, join_clauses(root, baserel, info))
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		List	   *conds;
		Relids		required_outer;
		ParamPathInfo *param_info;
		double		rows;

		conds = lemlist_extract_conds(root, baserel, info->columns,
									  info->natts, list_make1(rinfo), false);
		if (conds == NIL ||
			((LemlistCond *) linitial(conds))->filter != LEMLIST_FILTER_CAMPAIGN_ID)
			continue;

		required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_members(required_outer, baserel->relids);
		if (bms_is_empty(required_outer))
			continue;
		param_info = get_baserel_parampathinfo(root, baserel, required_outer);

		/* per rescan: one campaign, one batch per filter combination */
		rows = info->combos;
		if (info->opts.resource == LEMLIST_RES_CAMPAIGN_STEP_STATS)
			rows *= LEMLIST_GUESS_STEPS;
		add_path(baserel, (Path *)
				 lemlist_create_foreignscan_path(root, baserel, rows,
												 LEMLIST_REQUEST_COST,
												 lemlist_request_cost(info, 0, info->combos) +
												 rows * (LEMLIST_ROW_COST + cpu_tuple_cost) +
												 (info->unsendable_join ? LEMLIST_UNSENDABLE_COST : 0),
												 NIL, param_info->ppi_req_outer, NIL));
	}
}

/*
 * lemlist_rel_async_capable
 *		May a scan of baserel run at once with others under an Append?
 */
bool
lemlist_rel_async_capable(RelOptInfo *baserel)
{
	LemlistRelInfo *info = baserel->fdw_private;

	return info != NULL && info->opts.async_capable;
}

/*
 * lemlistGetForeignPlan
 *		The pushed-down expressions go to fdw_exprs; every clause stays local.
 */
static ForeignScan *
lemlistGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
					  Oid foreigntableid, ForeignPath *best_path,
					  List *tlist, List *scan_clauses, Plan *outer_plan)
{
	LemlistRelInfo *info = baserel->fdw_private;
	List	   *fdw_exprs = NIL;
	List	   *private_conds = NIL;
	List	   *conds;
	ListCell   *lc;
	LemlistListOrder order;
	AttrNumber	order_attno;
	int			offset;
	int			page_size = LEMLIST_PAGE_SIZE;
	int			budget = -1;

	/* a join clause only a batched join sends, and this is no batched join */
	if (info->unsendable_join != NULL && !lemlist_is_join_child(best_path))
	{
		RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);

		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lemlist_fdw cannot send the join condition on foreign table \"%s\"",
						get_rel_name(rte->relid)),
				 errdetail("The condition is: %s.  Every row echoes the filters of its request, so a join on them that no request carries would match no row.",
						   lemlist_clause_text(root, info->unsendable_join, true)),
				 errhint("A join on start_date, end_date or send_user is sent by lemlist_fdw's batched join (an inner, left, semi or anti join with the lemlist table on the inner side), or by a LATERAL subquery; a full or right join on them cannot be.")));
	}

	/*
	 * scan_clauses holds the restriction clauses and, for a parameterized
	 * path, the join clauses; their outer Vars in fdw_exprs become Params.
	 */
	conds = lemlist_extract_conds(root, baserel, info->columns, info->natts,
								  scan_clauses, false);
	if (info->join_domain != NULL)
		conds = lappend(conds, info->join_domain);
	foreach(lc, conds)
	{
		LemlistCond *cond = lfirst(lc);

		fdw_exprs = lappend(fdw_exprs, cond->expr);
		private_conds = lappend(private_conds,
								lappend_int(list_make4_int(cond->filter, cond->op,
														   cond->group, cond->mode),
											cond->refs));
	}

	/* the listing's order and offset (the path's), page size and rows wanted */
	lemlist_path_listing(best_path, &order, &order_attno, &offset);
	if (best_path->path.param_info == NULL && !lemlist_is_join_child(best_path))
		lemlist_list_wants(root, baserel, info, offset, &page_size, &budget);

	scan_clauses = extract_actual_clauses(scan_clauses, false);

	return make_foreignscan(tlist, scan_clauses, baserel->relid, fdw_exprs,
							list_make3(private_conds,
									   retrieved_attrs(baserel->relid, info->natts,
													   baserel->reltarget->exprs,
													   scan_clauses),
									   lappend_int(list_make4_int(order, order_attno,
																  page_size, budget),
												   offset)),
							NIL, NIL, outer_plan);
}

static void
lemlistBeginForeignScan(ForeignScanState *node, int eflags)
{
	node->fdw_state = lemlist_scan_begin(node, eflags);
}

static TupleTableSlot *
lemlistIterateForeignScan(ForeignScanState *node)
{
	return lemlist_scan_next(node->fdw_state, node->ss.ss_ScanTupleSlot);
}

static void
lemlistReScanForeignScan(ForeignScanState *node)
{
	lemlist_scan_rescan(node->fdw_state);
}

/*
 * lemlistEndForeignScan
 *		Nothing to do: the scan's memory context owns everything, curl handles
 *		included, and goes away with the query.
 */
static void
lemlistEndForeignScan(ForeignScanState *node)
{
}

static void
lemlistExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	lemlist_scan_explain(node->fdw_state, es);
}

static List *
lemlistImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	return lemlist_import_schema(stmt, serverOid);
}
