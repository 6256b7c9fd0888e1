/*-------------------------------------------------------------------------
 *
 * pushdown.c
 *		  Which WHERE clauses of a lemlist foreign table become request fields
 *
 * lemlist answers with rows that echo the filters they were computed under:
 * a row of campaign_stats carries the campaignId, startDate, endDate,
 * sendUser, ABSelected and channel its numbers belong to.  The planner keeps
 * every clause we push as a local qual as well, so a pushed clause is only
 * ever an optimisation: it decides what we ask for, and PostgreSQL's recheck
 * still decides what is returned.  The one rule of pushdown follows from
 * that: the values we send must satisfy every clause they were derived
 * from, otherwise the recheck silently throws the rows away.  This file is
 * the planner's half of it, the choice of clauses:
 *
 * - Only top-level clauses of the form "filter_column op expr" are looked
 *	 at; anything under OR or NOT stays local.
 * - Only operators whose meaning we know are accepted: built-in text
 *	 equality under a deterministic collation, and built-in btree comparison
 *	 operators on timestamptz found through their (built-in) btree operator
 *	 family rather than through their names.
 * - expr must be computable once per scan, before any row exists: no Var of
 *	 the scanned relation, nothing volatile, no set-returning function, no
 *	 SubPlan.  Constants, parameters, initplan outputs and stable
 *	 expressions qualify; lemlist_eval_conds (filters.c) computes them at
 *	 run time.
 *
 * How the chosen conditions combine into the values sent is filters.c's
 * business, which literals lemlist accepts is literals.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "access/transam.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "utils/lsyscache.h"

#include "lemlist_fdw.h"

static LemlistFilterKind match_filter_var(Node *node, RelOptInfo *baserel,
										  const LemlistFilterKind *attr_filters,
										  int natts);
static bool is_pushable_expr(PlannerInfo *root, RelOptInfo *baserel, Node *expr);
static bool deterministic_collation(Oid collid);
static LemlistCond *make_cond(LemlistFilterKind filter, LemlistCondOp op, Expr *expr);
static LemlistCond *text_equality_cond(PlannerInfo *root, RelOptInfo *baserel,
									   const LemlistFilterKind *attr_filters,
									   int natts, OpExpr *op);
static LemlistCond *text_in_cond(PlannerInfo *root, RelOptInfo *baserel,
								 const LemlistFilterKind *attr_filters,
								 int natts, ScalarArrayOpExpr *saop);
static LemlistCond *date_comparison_cond(PlannerInfo *root, RelOptInfo *baserel,
										 const LemlistFilterKind *attr_filters,
										 int natts, OpExpr *op);
static int	btree_strategy(Oid opno, Oid lefttype, Oid righttype);


/*
 * lemlist_extract_conds
 *		Find the clauses of "clauses" (RestrictInfos) that can become request
 *		fields, and return them as a List of LemlistCond.
 *
 * attr_filters[attno - 1] tells which filter, if any, column attno receives.
 * Clauses not returned are simply not pushed; all of them, pushed or not,
 * stay local quals, so this may be as conservative as it likes.
 */
List *
lemlist_extract_conds(PlannerInfo *root, RelOptInfo *baserel,
					  const LemlistFilterKind *attr_filters, int natts,
					  List *clauses)
{
	List	   *conds = NIL;
	ListCell   *lc;

	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Expr	   *clause = ri->clause;
		LemlistCond *cond = NULL;

		/*
		 * Only the top-level clause: a filter under OR or NOT does not
		 * restrict the rows by itself, so it cannot restrict the request.
		 */
		if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
		{
			OpExpr	   *op = (OpExpr *) clause;

			if (op->opno == TextEqualOperator)
				cond = text_equality_cond(root, baserel, attr_filters, natts, op);
			else
				cond = date_comparison_cond(root, baserel, attr_filters, natts, op);
		}
		else if (IsA(clause, ScalarArrayOpExpr))
			cond = text_in_cond(root, baserel, attr_filters, natts,
								(ScalarArrayOpExpr *) clause);

		if (cond != NULL)
			conds = lappend(conds, cond);
	}

	return conds;
}

/*
 * match_filter_var
 *		If node is a filter column of baserel (possibly under RelabelType, as
 *		a varchar column is when compared with text), return its filter kind;
 *		otherwise LEMLIST_FILTER_NONE.
 *
 * The column's own type must be what the filter's clauses are written for
 * (text or varchar for the text filters, timestamptz for the dates): the
 * echoed value is read back through that type, and an operator of another
 * type, such as a domain's, could have other semantics.
 */
static LemlistFilterKind
match_filter_var(Node *node, RelOptInfo *baserel,
				 const LemlistFilterKind *attr_filters, int natts)
{
	Var		   *var;
	LemlistFilterKind filter;

	while (node != NULL && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;

	if (node == NULL || !IsA(node, Var))
		return LEMLIST_FILTER_NONE;

	var = (Var *) node;
	if ((Index) var->varno != baserel->relid || var->varlevelsup != 0 ||
		var->varattno <= 0 || var->varattno > natts)
		return LEMLIST_FILTER_NONE;

	filter = attr_filters[var->varattno - 1];
	if (lemlist_is_text_filter(filter))
	{
		if (var->vartype != TEXTOID && var->vartype != VARCHAROID)
			return LEMLIST_FILTER_NONE;
	}
	else if (lemlist_is_date_filter(filter))
	{
		if (var->vartype != TIMESTAMPTZOID)
			return LEMLIST_FILTER_NONE;
	}
	else
		return LEMLIST_FILTER_NONE;

	return filter;
}

/*
 * is_pushable_expr
 *		Can expr, the side of a clause facing the filter column, be computed
 *		once per scan before any row is fetched?
 */
static bool
is_pushable_expr(PlannerInfo *root, RelOptInfo *baserel, Node *expr)
{
	/*
	 * A Var of the scanned relation depends on the row we have not fetched
	 * yet.  A Var of another relation can only appear here in a join clause
	 * of a parameterized path: the planner turns it into a nestloop Param of
	 * fdw_exprs, so it is known when the scan (re)starts.  (A restriction
	 * clause never references another relation of the same query level.)
	 */
	if (bms_is_member(baserel->relid, lemlist_pull_varnos(root, (Node *) expr)))
		return false;

	/*
	 * Volatile functions would be evaluated once for the request and again
	 * for each row by the recheck, possibly with different results, so the
	 * rows echoing the first value could fail the recheck.
	 */
	if (contain_volatile_functions(expr))
		return false;

	/* A set-returning expression has no single value to send. */
	if (expression_returns_set(expr))
		return false;

	/*
	 * Uncorrelated sub-selects arrive as initplan Params, which are fine.  A
	 * remaining SubPlan is one the planner could not hoist; we do not run it
	 * a second time in our own expression state.
	 */
	if (contain_subplans(expr))
		return false;

	return true;
}

/*
 * make_cond
 *		Allocate one LemlistCond.
 */
static LemlistCond *
make_cond(LemlistFilterKind filter, LemlistCondOp op, Expr *expr)
{
	LemlistCond *cond = (LemlistCond *) palloc0(sizeof(LemlistCond));

	cond->filter = filter;
	cond->op = op;
	cond->expr = expr;
	return cond;
}

/*
 * deterministic_collation
 *		Whether text equality under this collation means equal strings.
 *
 * Under a nondeterministic collation texteq can be true for strings that
 * differ (say 'EMAIL' and 'email'), so the value in a clause is not the only
 * one that could match, and sending it would narrow the answer.
 */
static bool
deterministic_collation(Oid collid)
{
	return !OidIsValid(collid) || get_collation_isdeterministic(collid);
}

/*
 * text_equality_cond
 *		"col = expr" or "expr = col" on a text filter, with texteq.
 */
static LemlistCond *
text_equality_cond(PlannerInfo *root, RelOptInfo *baserel,
				   const LemlistFilterKind *attr_filters, int natts,
				   OpExpr *op)
{
	Node	   *left = linitial(op->args);
	Node	   *right = lsecond(op->args);
	LemlistFilterKind filter;
	Node	   *other;
	Oid			othertype;

	if (!deterministic_collation(op->inputcollid))
		return NULL;

	filter = match_filter_var(left, baserel, attr_filters, natts);
	other = right;
	if (filter == LEMLIST_FILTER_NONE)
	{
		filter = match_filter_var(right, baserel, attr_filters, natts);
		other = left;
	}
	if (!lemlist_is_text_filter(filter))
		return NULL;

	/* What lemlist_eval_conds reads with TextDatumGetCString. */
	othertype = exprType(other);
	if (othertype != TEXTOID && othertype != VARCHAROID)
		return NULL;

	if (!is_pushable_expr(root, baserel, other))
		return NULL;

	return make_cond(filter, LEMLIST_OP_EQ, (Expr *) other);
}

/*
 * text_in_cond
 *		"col = ANY(array)", which is also what "col IN (...)" becomes.
 *
 * Only the OR form: "col <> ALL(array)" excludes values and leaves an
 * open-ended set that no request can carry.
 */
static LemlistCond *
text_in_cond(PlannerInfo *root, RelOptInfo *baserel,
			 const LemlistFilterKind *attr_filters, int natts,
			 ScalarArrayOpExpr *saop)
{
	LemlistFilterKind filter;
	Node	   *array;
	Oid			elemtype;

	if (saop->opno != TextEqualOperator || !saop->useOr ||
		list_length(saop->args) != 2)
		return NULL;

	if (!deterministic_collation(saop->inputcollid))
		return NULL;

	filter = match_filter_var(linitial(saop->args), baserel, attr_filters, natts);
	if (!lemlist_is_text_filter(filter))
		return NULL;

	array = lsecond(saop->args);
	elemtype = get_element_type(exprType(array));
	if (elemtype != TEXTOID && elemtype != VARCHAROID)
		return NULL;

	if (!is_pushable_expr(root, baserel, array))
		return NULL;

	return make_cond(filter, LEMLIST_OP_IN, (Expr *) array);
}

/*
 * date_comparison_cond
 *		"col op expr" or "expr op col" on a date filter, op a built-in btree
 *		comparison between timestamptz and timestamptz, timestamp or date.
 */
static LemlistCond *
date_comparison_cond(PlannerInfo *root, RelOptInfo *baserel,
					 const LemlistFilterKind *attr_filters, int natts,
					 OpExpr *op)
{
	Node	   *left = linitial(op->args);
	Node	   *right = lsecond(op->args);
	LemlistFilterKind filter;
	Node	   *other;
	Oid			othertype;
	bool		var_on_left;
	int			strategy;
	LemlistCondOp condop;

	/*
	 * Only built-in operators: a user-defined operator, even one in a btree
	 * family, can mean anything.
	 */
	if (op->opno >= FirstGenbkiObjectId)
		return NULL;

	filter = match_filter_var(left, baserel, attr_filters, natts);
	other = right;
	var_on_left = true;
	if (filter == LEMLIST_FILTER_NONE)
	{
		filter = match_filter_var(right, baserel, attr_filters, natts);
		other = left;
		var_on_left = false;
	}
	if (!lemlist_is_date_filter(filter))
		return NULL;

	othertype = exprType(other);
	if (othertype != TIMESTAMPTZOID && othertype != TIMESTAMPOID &&
		othertype != DATEOID)
		return NULL;

	if (var_on_left)
		strategy = btree_strategy(op->opno, TIMESTAMPTZOID, othertype);
	else
	{
		/* "expr op col" is "col op' expr" with op' the commutator of op */
		strategy = btree_strategy(op->opno, othertype, TIMESTAMPTZOID);
		if (strategy == BTLessStrategyNumber)
			strategy = BTGreaterStrategyNumber;
		else if (strategy == BTLessEqualStrategyNumber)
			strategy = BTGreaterEqualStrategyNumber;
		else if (strategy == BTGreaterEqualStrategyNumber)
			strategy = BTLessEqualStrategyNumber;
		else if (strategy == BTGreaterStrategyNumber)
			strategy = BTLessStrategyNumber;
	}

	/*
	 * startDate is a lower bound and endDate an upper bound: a clause
	 * bounding them from the other side says nothing we could send.
	 */
	if (strategy == BTEqualStrategyNumber)
		condop = LEMLIST_OP_EQ;
	else if (filter == LEMLIST_FILTER_START_DATE &&
			 strategy == BTGreaterEqualStrategyNumber)
		condop = LEMLIST_OP_GE;
	else if (filter == LEMLIST_FILTER_START_DATE &&
			 strategy == BTGreaterStrategyNumber)
		condop = LEMLIST_OP_GT;
	else if (filter == LEMLIST_FILTER_END_DATE &&
			 strategy == BTLessEqualStrategyNumber)
		condop = LEMLIST_OP_LE;
	else if (filter == LEMLIST_FILTER_END_DATE &&
			 strategy == BTLessStrategyNumber)
		condop = LEMLIST_OP_LT;
	else
		return NULL;

	if (!is_pushable_expr(root, baserel, other))
		return NULL;

	/*
	 * The cross-type operators compare a date or a timestamp as the
	 * timestamptz it denotes in the session time zone, which is exactly what
	 * the cast does; converting at run time keeps a cached plan correct when
	 * the time zone changes.
	 */
	if (othertype != TIMESTAMPTZOID)
	{
		other = coerce_to_target_type(NULL, other, othertype,
									  TIMESTAMPTZOID, -1,
									  COERCION_EXPLICIT,
									  COERCE_EXPLICIT_CAST, -1);
		if (other == NULL)
			return NULL;
	}

	return make_cond(filter, condop, (Expr *) other);
}

/*
 * btree_strategy
 *		The btree strategy of operator opno taking (lefttype, righttype), or
 *		0 when it is not a comparison operator of a built-in btree family.
 *
 * The operator family, not the operator's name, says what it means.  The
 * family must be built in too: anyone may add a built-in operator to a
 * family of their own under another strategy number.
 */
static int
btree_strategy(Oid opno, Oid lefttype, Oid righttype)
{
	List	   *interpretations = lemlist_op_interpretations(opno);
	ListCell   *lc;

	foreach(lc, interpretations)
	{
		LemlistOpInterpretation *interp = lfirst(lc);
		int			strategy = lemlist_interp_strategy(interp);

		if (interp->opfamily_id >= FirstGenbkiObjectId)
			continue;
		if (interp->oplefttype != lefttype || interp->oprighttype != righttype)
			continue;
		/* "<>" is reported as ROWCOMPARE_NE (COMPARE_NE), outside the btree strategies */
		if (strategy < BTLessStrategyNumber || strategy > BTGreaterStrategyNumber)
			continue;
		return strategy;
	}

	return 0;
}

/*
 * lemlist_conds_are_constant
 *		True when every condition's value is known at plan time.
 */
bool
lemlist_conds_are_constant(List *conds)
{
	ListCell   *lc;

	foreach(lc, conds)
	{
		LemlistCond *cond = (LemlistCond *) lfirst(lc);

		if (!IsA(cond->expr, Const))
			return false;
	}
	return true;
}
