/*-------------------------------------------------------------------------
 *
 * handler.c
 *		  The foreign data wrapper's handler, its planner callbacks and
 *		  their costs
 *
 * This file is the planner side of lemlist_fdw.  lemlistGetForeignRelSize
 * works out which WHERE clauses become request fields (pushdown.c).  When
 * their values are constants, it also works out how many requests the scan
 * will send.  The costs follow from that, because a request costs far more
 * than a row.
 *
 * Every clause also stays a local qual.  Each row echoes the filters it was
 * computed under, so the recheck is always true for the rows the API
 * returned.  A clause on an echo column that no request can carry raises an
 * ERROR at plan time; it never gives an empty answer.  Only the batched join
 * (join.c) sends a join clause on the dates or the sender.  A plain scan
 * with such a clause costs so much that any batched join wins, and making
 * its plan raises an ERROR.
 *
 * The plan carries only copyable nodes (lemlist_scan_plan_private, in
 * scan.c) and the run-time expressions in fdw_exprs.  The API key never
 * enters a plan.  The executor's callbacks (execution and EXPLAIN) live in
 * scan.c.
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
 * The extra cost of a plan that scans the table plainly while one of its
 * join clauses can only be sent by a batched join.  It is high enough that
 * any batched join wins.
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

/*
 * _PG_init
 *		Set up pacing in shared memory (when the library is loaded by
 *		shared_preload_libraries), the memo's budget setting, the watch on
 *		ALTER SERVER and the batched join.
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
	/* every setting is defined now: any other lemlist_fdw.* name is a typo */
	lemlist_reserve_guc_prefix("lemlist_fdw");
}

/*
 * lemlist_fdw_handler
 *		Return the FdwRoutine.  lemlist is read-only.
 */
Datum
lemlist_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = lemlistGetForeignRelSize;
	routine->GetForeignPaths = lemlistGetForeignPaths;
	routine->GetForeignPlan = lemlistGetForeignPlan;
	routine->BeginForeignScan = lemlist_begin_foreign_scan;
	routine->IterateForeignScan = lemlist_iterate_foreign_scan;
	routine->ReScanForeignScan = lemlist_rescan_foreign_scan;
	routine->EndForeignScan = lemlist_end_foreign_scan;
	routine->ExplainForeignScan = lemlist_explain_foreign_scan;
	routine->ImportForeignSchema = lemlist_import_schema;
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
 * has_tests
 *		Whether any of the conditions is a test (LEMLIST_OP_TEST or
 *		LEMLIST_OP_ID_TEST)
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

/*
 * estimate_size
 *		Estimate the rows and requests of a scan.
 *
 * The estimate uses the filter values when they are constants, and guesses
 * otherwise.  List pages are fetched one after the other; batches go out
 * max_parallel at a time.
 */
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
		lemlist_filter_values(info->conds, NIL, NULL,
							  info->opts.default_start_date,
							  GetCurrentStatementStartTimestamp(), &fv);
		info->combos = lemlist_combination_count(&fv);
		info->values[LEMLIST_FILTER_START_DATE] = list_length(fv.start_dates);
		info->values[LEMLIST_FILTER_END_DATE] = list_length(fv.end_dates);
		info->values[LEMLIST_FILTER_SEND_USER] = list_length(fv.send_users);
		info->values[LEMLIST_FILTER_AB_SELECTED] = list_length(fv.ab_selected);
		info->values[LEMLIST_FILTER_CHANNEL] = list_length(fv.channels);
		/*
		 * No test will prune the combinations, so their number is final:
		 * check it now and fail early.
		 */
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
 *		The attribute numbers that the query reads
 *
 * They come from the relation's target (not a physical target list) and
 * from the quals, which include the join clauses of a parameterized path.
 * With them, the scan converts no JSON value that nobody reads.  A
 * whole-row reference needs all the attributes.
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
 *		Work out the table's options, the roles of its columns, the
 *		pushed-down conditions and the size estimate.
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

	/* the local recheck keeps every row the API returns: no selectivity */
	baserel->rows = Max(info->rows, 1);
	baserel->fdw_private = info;
}

/*
 * campaign_id_matches
 *		Callback of generate_implied_equalities_for_column: whether the
 *		equivalence member is this relation's campaign_id column.
 */
static bool
campaign_id_matches(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					EquivalenceMember *em, void *arg)
{
	return lemlist_is_column(em->em_expr, rel->relid, *(AttrNumber *) arg);
}

/*
 * join_clauses
 *		The join clauses that can feed campaignIds from another relation
 *
 * These are the clauses in joininfo, and the clauses implied by equivalence
 * classes.  A join clause such as "s.campaign_id = d.campaign_id" lives in
 * an equivalence class.
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
 *		Add an unparameterized path, costed by its requests, and one
 *		parameterized path per join clause that feeds campaign_id.
 *
 * For a few outer rows, one small request per rescan beats listing every
 * campaign of the team.
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
	 * The table has a join clause on the dates or the sender that only a
	 * batched join sends.  A plan that scans this table plainly would answer
	 * nothing.  So this path costs enough that the planner takes it only
	 * when no batched join can be made, and then its plan is an ERROR.
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
		 * Add a path for the listing in the order the query asks for, at the
		 * same cost: lemlist does the sorting, and the first page holds the
		 * first rows.  The path carries the order and the created_at column
		 * that the order is checked on.
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
 * lemlistGetForeignPlan
 *		The pushed-down expressions go to fdw_exprs; every clause stays local.
 */
static ForeignScan *
lemlistGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
					  Oid foreigntableid, ForeignPath *best_path,
					  List *tlist, List *scan_clauses, Plan *outer_plan)
{
	LemlistRelInfo *info = baserel->fdw_private;
	LemlistScanPlan plan;
	List	   *fdw_exprs;
	List	   *fdw_private;

	/*
	 * The table has a join clause that only a batched join sends, and this
	 * path is not the lemlist side of a batched join.
	 */
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
	plan.conds = lemlist_extract_conds(root, baserel, info->columns, info->natts,
									   scan_clauses, false);
	if (info->join_domain != NULL)
		plan.conds = lappend(plan.conds, info->join_domain);
	lemlist_plan_listing(root, baserel, info, best_path,
						 best_path->path.param_info == NULL && !lemlist_is_join_child(best_path),
						 &plan.listing);

	scan_clauses = extract_actual_clauses(scan_clauses, false);
	plan.retrieved_attrs = retrieved_attrs(baserel->relid, info->natts,
										   baserel->reltarget->exprs, scan_clauses);
	fdw_private = lemlist_scan_plan_private(&plan, &fdw_exprs);

	return make_foreignscan(tlist, scan_clauses, baserel->relid, fdw_exprs, fdw_private,
							NIL, NIL, outer_plan);
}

