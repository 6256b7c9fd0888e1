/*-------------------------------------------------------------------------
 *
 * list_order.c
 *		  What the query above a scan asks of its campaign listing: an order
 *		  (ORDER BY created_at) and a number of rows (LIMIT)
 *
 * GET /campaigns takes sortBy=createdAt and sortOrder=desc (any other
 * sortOrder means ascending), limit and offset.  BI tools list the newest
 * campaigns first and preview a table with a LIMIT.  Without these
 * parameters, a list of the five newest campaigns would read the whole team
 * and sort it.
 *
 * - Order.  When the query's ORDER BY is created_at alone, the campaigns
 *	 table offers a path whose rows come ordered by created_at, ascending or
 *	 descending.  The planner then needs no Sort, and a LIMIT above stops
 *	 the scan early.  The listing must then be one sequence of pages, so a
 *	 scan with several filter combinations (status IN (...)) is not
 *	 ordered.  The scan checks the order of what lemlist returns, and it
 *	 raises an ERROR rather than hand up rows out of order.
 * - Rows wanted.  When the query's LIMIT (and OFFSET) are constants and
 *	 nothing stands between them and the scan (one table, no grouping, no
 *	 DISTINCT, no window, no set operation), the scan wants LIMIT + OFFSET
 *	 rows first.  It asks for no more pages or batches than those rows
 *	 need, and it asks for more only when the executor pulls more (a
 *	 condition evaluated locally may reject rows).  WITH TIES wants an
 *	 unknown number of rows, so it gets no budget.  A query planned for a
 *	 fraction of its rows (a cursor, or a LIMIT given as a parameter of a
 *	 generic plan) wants a page of rows first, and more as the executor
 *	 pulls more.
 * - Page size and offset.  If, in addition, every condition on the
 *	 campaigns table is sent (status, created_by, one combination), each
 *	 listed campaign is a row of the answer.  The first page then asks for
 *	 exactly the rows wanted (limit=LIMIT, at most 100), and a constant
 *	 OFFSET is sent as the listing's offset=.  A path of the query's final
 *	 relation (GetForeignUpperPaths, UPPERREL_FINAL) takes the OFFSET from
 *	 the Limit above the scan.  That path is a Limit of the LIMIT alone,
 *	 over a scan whose listing starts at the OFFSET.
 *
 * IDENTIFICATION
 *		  src/list_order.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/pathnodes.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/restrictinfo.h"
#include "utils/lsyscache.h"

#include "lemlist_fdw.h"

/* the largest OFFSET sent as offset=, so that its pages' offsets stay ints */
#define MAX_SENT_OFFSET (PG_INT32_MAX / 2)

/*
 * created_at_attno
 *		The attribute number of the column of a campaigns table that holds
 *		the documented createdAt field as a timestamptz, or 0 if there is none
 */
static AttrNumber
created_at_attno(const LemlistRelInfo *info)
{
	for (int i = 0; i < info->natts; i++)
	{
		const LemlistColumn *col = &info->columns[i];

		if (!col->dropped && col->source == LEMLIST_SRC_RESULT && col->key != NULL &&
			strcmp(col->key, "createdAt") == 0 && col->json_type == LEMLIST_JSON_STRING &&
			col->typid == TIMESTAMPTZOID)
			return i + 1;
	}
	return 0;
}

/*
 * lemlist_list_order
 *		Return the order in which a campaigns scan of baserel can hand up its
 *		rows for the query's ORDER BY, or LEMLIST_ORDER_NONE when it cannot.
 *		*attno is set to the created_at column.
 */
LemlistListOrder
lemlist_list_order(PlannerInfo *root, RelOptInfo *baserel, const LemlistRelInfo *info,
				   AttrNumber *attno)
{
	PathKey    *pk;
	ListCell   *lc;
	bool		found = false;

	*attno = 0;
	if (info->opts.resource != LEMLIST_RES_CAMPAIGNS || info->combos > 1 ||
		list_length(root->query_pathkeys) != 1 ||
		(*attno = created_at_attno(info)) == 0)
		return LEMLIST_ORDER_NONE;

	pk = linitial(root->query_pathkeys);
	if (pk->pk_eclass->ec_has_volatile ||
		pk->pk_opfamily != get_opclass_family(GetDefaultOpClass(TIMESTAMPTZOID, BTREE_AM_OID)))
		return LEMLIST_ORDER_NONE;
	foreach(lc, pk->pk_eclass->ec_members)
	{
		if (lemlist_is_column(((EquivalenceMember *) lfirst(lc))->em_expr,
							  baserel->relid, *attno))
			found = true;
	}
	if (!found)
		return LEMLIST_ORDER_NONE;
	if (lemlist_pathkey_ascending(pk))
		return LEMLIST_ORDER_ASC;
	if (lemlist_pathkey_descending(pk))
		return LEMLIST_ORDER_DESC;
	return LEMLIST_ORDER_NONE;
}

/*
 * lemlist_listing_private
 *		Build the private list of a campaigns path that asks its listing for
 *		an order (on the created_at column attno) or to start at an offset
 */
List *
lemlist_listing_private(LemlistListOrder order, AttrNumber attno, int offset)
{
	return list_make3_int(order, attno, offset);
}

/*
 * path_listing
 *		Read what a path asks of its listing: the order, the created_at column
 *		that the order is checked on, and the offset of the first page.  For
 *		a path that asks nothing, or a batched join's path, the order is none
 *		and the column and offset are 0.
 */
static void
path_listing(const ForeignPath *path, LemlistListOrder *order, AttrNumber *attno,
			 int *offset)
{
	*order = LEMLIST_ORDER_NONE;
	*attno = 0;
	*offset = 0;
	if (path->fdw_private != NIL && IsA(path->fdw_private, IntList))
	{
		*order = (LemlistListOrder) linitial_int(path->fdw_private);
		*attno = lsecond_int(path->fdw_private);
		*offset = lthird_int(path->fdw_private);
	}
}

/*
 * nothing_above_but_limit
 *		Does the query's LIMIT apply to this scan's rows as they come, apart
 *		from the local conditions?  That requires one table, no grouping, no
 *		DISTINCT, no window, no set-returning function, no set operation and
 *		no row marks.
 */
static bool
nothing_above_but_limit(PlannerInfo *root, RelOptInfo *baserel)
{
	Query	   *parse = root->parse;

	return parse->limitOption != LIMIT_OPTION_WITH_TIES &&
		bms_membership(root->all_baserels) == BMS_SINGLETON &&
		bms_equal(root->all_baserels, baserel->relids) &&
		parse->groupClause == NIL && parse->groupingSets == NIL &&
		!parse->hasAggs && parse->havingQual == NULL &&
		parse->distinctClause == NIL && !parse->hasWindowFuncs &&
		!parse->hasTargetSRFs && parse->setOperations == NULL &&
		parse->rowMarks == NIL;
}

/*
 * clause_is_sent
 *		Does lemlist evaluate this restriction clause of a campaigns table
 *		exactly?  That is the case for an equality on status or created_by.
 */
static bool
clause_is_sent(PlannerInfo *root, RelOptInfo *baserel, const LemlistRelInfo *info,
			   RestrictInfo *ri)
{
	List	   *conds = lemlist_extract_conds(root, baserel, info->columns, info->natts,
											  list_make1(ri), false);
	ListCell   *lc;

	if (conds == NIL)
		return false;
	foreach(lc, conds)
	{
		LemlistCond *cond = lfirst(lc);

		if (cond->op != LEMLIST_OP_EQ ||
			(cond->filter != LEMLIST_FILTER_STATUS && cond->filter != LEMLIST_FILTER_CREATED_BY))
			return false;
	}
	return true;
}

/*
 * every_listed_is_a_row
 *		Is each campaign that the listing returns a row of the scan?  That is
 *		the case for a campaigns table with one filter combination, when every
 *		condition on the table is sent.
 */
static bool
every_listed_is_a_row(PlannerInfo *root, RelOptInfo *baserel, const LemlistRelInfo *info)
{
	ListCell   *lc;

	if (info->opts.resource != LEMLIST_RES_CAMPAIGNS || info->combos > 1)
		return false;
	foreach(lc, baserel->baserestrictinfo)
	{
		if (!clause_is_sent(root, baserel, info, lfirst_node(RestrictInfo, lc)))
			return false;
	}
	return true;
}

/*
 * list_wants
 *		Compute the rows a scan wants first (-1: all it has) and the page size
 *		of its campaign listing (LEMLIST_PAGE_SIZE, or fewer when every listed
 *		campaign is a row of the answer).  offset is the OFFSET that the
 *		listing skips (on a path of lemlist_offset_paths), or 0 when the Limit
 *		skips it.
 */
static void
list_wants(PlannerInfo *root, RelOptInfo *baserel, const LemlistRelInfo *info,
		   int offset, int *page_size, int *budget)
{
	*page_size = LEMLIST_PAGE_SIZE;
	*budget = -1;
	if (!nothing_above_but_limit(root, baserel))
		return;
	if (root->limit_tuples < 0)
	{
		/*
		 * The planner plans for a fraction of the rows: for a cursor
		 * (DECLARE, cursor_tuple_fraction), whose client often fetches a
		 * few, or for a LIMIT or OFFSET it cannot estimate (a parameter of
		 * a generic plan).  The scan then wants a page of rows first, and
		 * asks for more as the executor pulls more.
		 */
		if (root->tuple_fraction > 0 && root->tuple_fraction < 1)
			*budget = LEMLIST_PAGE_SIZE;
		return;
	}
	*budget = (int) Min(root->limit_tuples - offset, (double) PG_INT32_MAX);
	if (every_listed_is_a_row(root, baserel, info))
		*page_size = Max(Min(*budget, LEMLIST_PAGE_SIZE), 1);
}

/*
 * const_value
 *		The value of a constant LIMIT or OFFSET expression, or -1 when it is
 *		not a constant or is NULL (PostgreSQL treats NULL as no limit)
 */
static int64
const_value(Node *expr)
{
	if (expr == NULL || !IsA(expr, Const) || ((Const *) expr)->constisnull)
		return -1;
	return DatumGetInt64(((Const *) expr)->constvalue);
}

/*
 * lemlist_offset_paths
 *		GetForeignUpperPaths callback.  When the LIMIT ... OFFSET n of a
 *		query reaches a campaigns scan that lists only rows of its answer,
 *		add to the query's final relation a path that sends the OFFSET as the
 *		listing's offset= and keeps only the LIMIT above the scan.
 *
 * The query's relation (input_rel) is the scan's relation, or the ordered
 * relation above it.  Each of its paths that is a campaigns scan (perhaps
 * under a projection) gets a twin whose listing starts at n, under a Limit
 * without OFFSET.  The twin is cheaper than the Limit that skips n rows, so
 * it wins.
 */
void
lemlist_offset_paths(PlannerInfo *root, UpperRelationKind stage, RelOptInfo *input_rel,
					 RelOptInfo *output_rel, void *extra)
{
	Query	   *parse = root->parse;
	FinalPathExtraData *final = extra;
	int64		offset;
	ListCell   *lc;
	List	   *twins = NIL;

	if (stage != UPPERREL_FINAL || !final->limit_needed)
		return;
	offset = const_value(parse->limitOffset);
	if (offset <= 0 || offset > MAX_SENT_OFFSET ||
		(parse->limitCount != NULL && !IsA(parse->limitCount, Const)))
		return;

	foreach(lc, input_rel->pathlist)
	{
		Path	   *path = lfirst(lc);
		Path	   *sub = IsA(path, ProjectionPath) ? ((ProjectionPath *) path)->subpath : path;
		ForeignPath *twin;
		LemlistListOrder order;
		AttrNumber	attno;
		int			none;
		double		kept;

		/* a scan on its own (a batched join's tables are under the join) */
		if (!IsA(sub, ForeignPath) || sub->param_info != NULL ||
			sub->parent->reloptkind != RELOPT_BASEREL ||
			(((ForeignPath *) sub)->fdw_private != NIL &&
			 !IsA(((ForeignPath *) sub)->fdw_private, IntList)) ||
			!nothing_above_but_limit(root, sub->parent) ||
			!every_listed_is_a_row(root, sub->parent, sub->parent->fdw_private))
			continue;

		/* the same scan, with its listing starting at the OFFSET */
		twin = makeNode(ForeignPath);
		memcpy(twin, sub, sizeof(ForeignPath));
		path_listing((ForeignPath *) sub, &order, &attno, &none);
		twin->fdw_private = lemlist_listing_private(order, attno, (int) offset);
		kept = Max(sub->rows - offset, 1.0);
		twin->path.total_cost = sub->startup_cost +
			(sub->total_cost - sub->startup_cost) * kept / Max(sub->rows, 1.0);
		twin->path.rows = kept;

		path = path == sub ? (Path *) twin :
			(Path *) create_projection_path(root, path->parent, (Path *) twin, path->pathtarget);
		if (parse->limitCount != NULL)
			path = (Path *) create_limit_path(root, output_rel, path, NULL, parse->limitCount,
											  parse->limitOption, 0, final->count_est);
		twins = lappend(twins, path);
	}
	foreach(lc, twins)
		add_path(output_rel, lfirst(lc));
}

/*
 * lemlist_plan_listing
 *		Fill in what the plan of path asks of its listing: the path's order
 *		and offset and, for a scan that runs once (runs_once: no parameters,
 *		no batched join above), the rows that a LIMIT above wants first and
 *		the page size
 */
void
lemlist_plan_listing(PlannerInfo *root, RelOptInfo *baserel, const LemlistRelInfo *info,
					 ForeignPath *path, bool runs_once, LemlistListing *listing)
{
	path_listing(path, &listing->order, &listing->order_attno, &listing->offset);
	listing->page_size = LEMLIST_PAGE_SIZE;
	listing->budget = -1;
	if (runs_once)
		list_wants(root, baserel, info, listing->offset, &listing->page_size,
				   &listing->budget);
}

/*
 * lemlist_explain_listing
 *		Show for EXPLAIN what a query asks of a scan's listing: its order,
 *		the rows wanted first, the page size and the offset, each only where
 *		it differs from a plain listing's
 */
void
lemlist_explain_listing(const LemlistListing *listing, ExplainState *es)
{
	if (listing->order != LEMLIST_ORDER_NONE)
		ExplainPropertyText("lemlist Order",
							listing->order == LEMLIST_ORDER_ASC ?
							"sortBy=createdAt&sortOrder=asc" :
							"sortBy=createdAt&sortOrder=desc", es);
	if (listing->budget >= 0)
		ExplainPropertyInteger("lemlist Rows Wanted First", NULL, listing->budget, es);
	if (listing->page_size != LEMLIST_PAGE_SIZE)
		ExplainPropertyInteger("lemlist Page Size", NULL, listing->page_size, es);
	if (listing->offset != 0)
		ExplainPropertyInteger("lemlist Offset", NULL, listing->offset, es);
}
