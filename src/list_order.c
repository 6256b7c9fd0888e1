/*-------------------------------------------------------------------------
 *
 * list_order.c
 *		  What a scan's campaign listing is asked for by the query above it:
 *		  an order (ORDER BY created_at) and how many rows it wants (LIMIT)
 *
 * GET /campaigns takes sortBy=createdAt and sortOrder=desc (anything else
 * is ascending), limit and offset.  BI tools list newest first and preview
 * a table with a LIMIT; without these, a list of the five newest campaigns
 * would read the whole team and sort it.
 *
 * - Order.  The campaigns table offers a path whose rows come ordered by
 *	 created_at, ascending or descending, when the query's ORDER BY is that
 *	 column alone: the planner needs no Sort, and a LIMIT above stops it
 *	 early.  The listing must then be one sequence of pages, so a scan with
 *	 several filter combinations (status IN (...)) is not ordered.  The scan
 *	 checks the order of what lemlist returns and raises an ERROR rather
 *	 than hand up rows out of order.
 * - Rows wanted.  When the query's LIMIT (and OFFSET) are constants and
 *	 nothing but the scan stands between them and the scan (one table, no
 *	 grouping, no DISTINCT, no window, no set operation), the scan wants
 *	 LIMIT + OFFSET rows first: it asks for no more pages or batches than
 *	 those need, and asks for more only when the executor pulls more (a
 *	 condition evaluated locally may reject rows).  WITH TIES wants an
 *	 unknown number of rows: no budget.
 * - Page size and offset.  When, moreover, every condition on the campaigns
 *	 table is sent (status, created_by, one combination), each listed
 *	 campaign is a row of the answer: the first page asks for exactly the
 *	 rows wanted (limit=LIMIT, at most 100), and a constant OFFSET is sent
 *	 as the listing's offset=.  The OFFSET is taken from the Limit above
 *	 the scan by a path of the query's final relation
 *	 (GetForeignUpperPaths, UPPERREL_FINAL): a Limit of the LIMIT alone
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

/* the largest OFFSET sent as offset= (its pages' offsets stay ints) */
#define MAX_SENT_OFFSET (PG_INT32_MAX / 2)

/*
 * created_at_attno
 *		The attribute of a campaigns table that holds the documented
 *		createdAt field as a timestamptz, or 0
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
 *		The order in which a campaigns scan of baserel can hand up the
 *		query's ORDER BY (LEMLIST_ORDER_NONE when it cannot); *attno is the
 *		created_at column
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
 *		The private list of a campaigns path that asks its listing for an
 *		order (on the created_at column attno) or to start at an offset
 */
List *
lemlist_listing_private(LemlistListOrder order, AttrNumber attno, int offset)
{
	return list_make3_int(order, attno, offset);
}

/*
 * lemlist_path_listing
 *		What a path asks of its listing: the order, the created_at column it
 *		is checked on, and the offset of the first page (none and 0 for a
 *		path that asks nothing, or a batched join's)
 */
void
lemlist_path_listing(const ForeignPath *path, LemlistListOrder *order, AttrNumber *attno,
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
 *		Does the query's LIMIT apply to this scan's rows as they come, the
 *		local conditions aside: one table, no grouping, no DISTINCT, no
 *		window, no set-returning function, no set operation, no row marks?
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
 *		Does lemlist evaluate this restriction clause of a campaigns table,
 *		exactly: an equality on status or created_by?
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
 *		Is each campaign the listing returns a row of the scan: a campaigns
 *		table with one filter combination, every condition on it sent?
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
 * lemlist_list_wants
 *		The rows a scan wants first (-1: all it has), and the page size of
 *		its campaign listing (LEMLIST_PAGE_SIZE, or fewer when every listed
 *		campaign is a row of the answer); offset is the OFFSET its listing
 *		skips (a path of lemlist_offset_paths), 0 when the Limit does
 */
void
lemlist_list_wants(PlannerInfo *root, RelOptInfo *baserel, const LemlistRelInfo *info,
				   int offset, int *page_size, int *budget)
{
	*page_size = LEMLIST_PAGE_SIZE;
	*budget = -1;
	if (root->limit_tuples < 0 || !nothing_above_but_limit(root, baserel))
		return;
	*budget = (int) Min(root->limit_tuples - offset, (double) PG_INT32_MAX);
	if (every_listed_is_a_row(root, baserel, info))
		*page_size = Max(Min(*budget, LEMLIST_PAGE_SIZE), 1);
}

/*
 * const_value
 *		The value of a constant LIMIT or OFFSET expression, -1 when it is not
 *		a constant or is NULL (which PostgreSQL takes for no limit)
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
 *		GetForeignUpperPaths: for the final relation of a query whose LIMIT
 *		... OFFSET n reaches a campaigns scan that lists only rows of its
 *		answer, a path that sends the OFFSET as the listing's offset= and
 *		keeps only the LIMIT above the scan.
 *
 * The query's relation (input_rel) is the scan's, or the ordered relation
 * above it; each of its paths that is a campaigns scan (under a projection,
 * perhaps) gets a twin whose listing starts at n, under a Limit without
 * OFFSET.  It is cheaper than the Limit that skips n rows, and wins.
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

		if (!IsA(sub, ForeignPath) || sub->param_info != NULL ||
			sub->parent->reloptkind != RELOPT_BASEREL ||
			lemlist_is_join_child((ForeignPath *) sub) ||
			!nothing_above_but_limit(root, sub->parent) ||
			!every_listed_is_a_row(root, sub->parent, sub->parent->fdw_private))
			continue;

		/* the same scan, its listing starting at the OFFSET */
		twin = makeNode(ForeignPath);
		memcpy(twin, sub, sizeof(ForeignPath));
		lemlist_path_listing((ForeignPath *) sub, &order, &attno, &none);
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
