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
 * - Page size.  When, moreover, every condition on the campaigns table is
 *	 sent (status, created_by, one combination), each listed campaign is a
 *	 row of the answer, and the first page asks for exactly the rows wanted
 *	 (limit=LIMIT+OFFSET, at most 100).
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
#include "optimizer/restrictinfo.h"
#include "utils/lsyscache.h"

#include "lemlist_fdw.h"

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
 * limit_reaches_scan
 *		The rows the query's LIMIT and OFFSET take of this scan's output,
 *		when they are constants and nothing but local conditions stands
 *		between them and the scan; -1 otherwise
 */
static double
limit_reaches_scan(PlannerInfo *root, RelOptInfo *baserel)
{
	Query	   *parse = root->parse;

	if (root->limit_tuples < 0 ||
		parse->limitOption == LIMIT_OPTION_WITH_TIES ||
		bms_membership(root->all_baserels) != BMS_SINGLETON ||
		!bms_equal(root->all_baserels, baserel->relids) ||
		parse->groupClause != NIL || parse->groupingSets != NIL ||
		parse->hasAggs || parse->havingQual != NULL ||
		parse->distinctClause != NIL || parse->hasWindowFuncs ||
		parse->hasTargetSRFs || parse->setOperations != NULL ||
		parse->rowMarks != NIL)
		return -1;
	return root->limit_tuples;
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
 * lemlist_list_wants
 *		The rows a scan wants first (-1: all it has), and the page size of
 *		its campaign listing (LEMLIST_PAGE_SIZE, or fewer when every listed
 *		campaign is a row of the answer)
 */
void
lemlist_list_wants(PlannerInfo *root, RelOptInfo *baserel, const LemlistRelInfo *info,
				   int *page_size, int *budget)
{
	double		wanted = limit_reaches_scan(root, baserel);
	ListCell   *lc;

	*page_size = LEMLIST_PAGE_SIZE;
	*budget = -1;
	if (wanted < 0)
		return;
	*budget = (int) Min(wanted, (double) PG_INT32_MAX);

	if (info->opts.resource != LEMLIST_RES_CAMPAIGNS || info->combos > 1)
		return;
	foreach(lc, baserel->baserestrictinfo)
	{
		if (!clause_is_sent(root, baserel, info, lfirst_node(RestrictInfo, lc)))
			return;
	}
	*page_size = Max(Min(*budget, LEMLIST_PAGE_SIZE), 1);
}
