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
 *	 expressions qualify; lemlist_eval_conds computes them at run time.
 *
 * Three sections: the choice of clauses at plan time; their evaluation into
 * the values the requests carry; the filters' names and the literals
 * lemlist accepts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

static bool lemlist_is_text_filter(LemlistFilterKind filter);
static bool lemlist_is_date_filter(LemlistFilterKind filter);
static LemlistFilterKind match_filter_var(Node *node, RelOptInfo *baserel,
										  const LemlistColumn *columns,
										  int natts);
static bool is_pushable_expr(PlannerInfo *root, RelOptInfo *baserel, Node *expr);
static bool deterministic_collation(Oid collid);
static LemlistCond *make_cond(LemlistFilterKind filter, LemlistCondOp op, Expr *expr);
static LemlistFilterKind match_operands(OpExpr *op, RelOptInfo *baserel,
										const LemlistColumn *columns, int natts,
										Node **other, bool *var_on_left);
static LemlistCond *text_cond(PlannerInfo *root, RelOptInfo *baserel, LemlistFilterKind filter,
							  LemlistCondOp op, Node *expr, Oid type);
static LemlistCond *text_equality_cond(PlannerInfo *root, RelOptInfo *baserel,
									   const LemlistColumn *columns,
									   int natts, OpExpr *op);
static LemlistCond *text_in_cond(PlannerInfo *root, RelOptInfo *baserel,
								 const LemlistColumn *columns,
								 int natts, ScalarArrayOpExpr *saop);
static LemlistCond *date_comparison_cond(PlannerInfo *root, RelOptInfo *baserel,
										 const LemlistColumn *columns,
										 int natts, OpExpr *op);
static int	btree_strategy(Oid opno, Oid lefttype, Oid righttype);


/*
 * lemlist_extract_conds
 *		Find the clauses of "clauses" (RestrictInfos) that can become request
 *		fields, and return them as a List of LemlistCond.
 *
 * columns[attno - 1].pushdown tells which filter, if any, column attno receives.
 * Clauses not returned are simply not pushed; all of them, pushed or not,
 * stay local quals, so this may be as conservative as it likes.
 */
List *
lemlist_extract_conds(PlannerInfo *root, RelOptInfo *baserel,
					  const LemlistColumn *columns, int natts,
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
				cond = text_equality_cond(root, baserel, columns, natts, op);
			else
				cond = date_comparison_cond(root, baserel, columns, natts, op);
		}
		else if (IsA(clause, ScalarArrayOpExpr))
			cond = text_in_cond(root, baserel, columns, natts,
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
				 const LemlistColumn *columns, int natts)
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

	filter = columns[var->varattno - 1].pushdown;
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
 * match_operands
 *		Which operand of a binary operator is a filter column (the left one
 *		if both are): its filter, the other operand, and on which side the
 *		column is.  LEMLIST_FILTER_NONE if neither is.
 */
static LemlistFilterKind
match_operands(OpExpr *op, RelOptInfo *baserel, const LemlistColumn *columns,
			   int natts, Node **other, bool *var_on_left)
{
	LemlistFilterKind filter;

	filter = match_filter_var(linitial(op->args), baserel, columns, natts);
	*other = lsecond(op->args);
	*var_on_left = true;
	if (filter == LEMLIST_FILTER_NONE)
	{
		filter = match_filter_var(lsecond(op->args), baserel, columns, natts);
		*other = linitial(op->args);
		*var_on_left = false;
	}
	return filter;
}

/*
 * text_equality_cond
 *		"col = expr" or "expr = col" on a text filter, with texteq.
 */
static LemlistCond *
text_equality_cond(PlannerInfo *root, RelOptInfo *baserel,
				   const LemlistColumn *columns, int natts,
				   OpExpr *op)
{
	LemlistFilterKind filter;
	Node	   *other;
	bool		var_on_left;

	if (!deterministic_collation(op->inputcollid))
		return NULL;

	filter = match_operands(op, baserel, columns, natts, &other, &var_on_left);
	return text_cond(root, baserel, filter, LEMLIST_OP_EQ, other, exprType(other));
}

/*
 * text_cond
 *		The condition "filter op expr" on a text filter, if expr can be sent:
 *		of type text or varchar (elements of that type for IN), as
 *		lemlist_eval_conds reads it with TextDatumGetCString, and computable
 *		before the scan.
 */
static LemlistCond *
text_cond(PlannerInfo *root, RelOptInfo *baserel, LemlistFilterKind filter,
		  LemlistCondOp op, Node *expr, Oid type)
{
	if (!lemlist_is_text_filter(filter))
		return NULL;
	if (type != TEXTOID && type != VARCHAROID)
		return NULL;
	if (!is_pushable_expr(root, baserel, expr))
		return NULL;
	return make_cond(filter, op, (Expr *) expr);
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
			 const LemlistColumn *columns, int natts,
			 ScalarArrayOpExpr *saop)
{
	LemlistFilterKind filter;
	Node	   *array;

	if (saop->opno != TextEqualOperator || !saop->useOr ||
		list_length(saop->args) != 2)
		return NULL;

	if (!deterministic_collation(saop->inputcollid))
		return NULL;

	filter = match_filter_var(linitial(saop->args), baserel, columns, natts);
	array = lsecond(saop->args);
	return text_cond(root, baserel, filter, LEMLIST_OP_IN, array,
					 get_element_type(exprType(array)));
}

/*
 * date_comparison_cond
 *		"col op expr" or "expr op col" on a date filter, op a built-in btree
 *		comparison between timestamptz and timestamptz, timestamp or date.
 */
static LemlistCond *
date_comparison_cond(PlannerInfo *root, RelOptInfo *baserel,
					 const LemlistColumn *columns, int natts,
					 OpExpr *op)
{
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

	filter = match_operands(op, baserel, columns, natts, &other, &var_on_left);
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


/* ---------------------------------------------------------------------
 * What the requests of a scan carry: its conditions, evaluated and combined
 *
 * The section above chose the conditions at plan time; here, once per execution
 * (or at plan time and for EXPLAIN when they are all constants), they are
 * evaluated and combined into the filter values of the scan's requests and
 * the combinations those fan out to.  The rule of pushdown holds throughout:
 * each row echoes the values sent and PostgreSQL rechecks every clause on
 * it, so the values sent must satisfy every clause they came from.  Hence:
 *
 * - Every text literal is validated (below) before anything is
 *	 combined, so that an impossible value is an error even when another
 *	 clause makes the scan empty.
 * - Several clauses on one filter are combined by intersection, each value
 *	 kept where it first appeared, and dates are rounded inwards to the
 *	 millisecond precision the API takes, so that the value sent (and
 *	 echoed) still satisfies every bound.  When no value can, the scan is
 *	 known to be empty and sends nothing.
 * - A filter no clause constrains is not sent (without campaign_id, the
 *	 team's campaigns are listed), except the dates, which take the
 *	 defaults the caller passes.
 * - Each combination of sendUser, ABSelected and channel values is a whole
 *	 set of batch requests, so their product is capped.
 *
 * ---------------------------------------------------------------------
 */
/* At most this many filter combinations (sendUser x ABSelected x channel) per scan. */
#define LEMLIST_MAX_COMBINATIONS	32

/* Microseconds per millisecond: the API's timestamps have ms precision. */
#define USECS_PER_MSEC	INT64CONST(1000)

/* One condition after evaluation. */
typedef struct EvaluatedCond
{
	LemlistCond *cond;
	List	   *values;			/* text filters: the condition's value set */
	TimestampTz ts;				/* date filters: the comparand */
	bool		isnull;			/* date filters: the comparand is NULL */
} EvaluatedCond;

/* A string and where it first appeared, for sorting without losing order. */
typedef struct PositionedValue
{
	const char *value;
	int			position;
} PositionedValue;

static Datum eval_cond_expr(LemlistCond *cond, ExprState *state,
							ExprContext *econtext, bool *isnull);
static List *text_values(LemlistCond *cond, Datum value, bool isnull);
static int	compare_positioned(const void *a, const void *b);
static int	compare_strings(const void *a, const void *b);
static List *unique_values(List *values);
static List *intersect_values(List *a, List *b);
static TimestampTz floor_msec(TimestampTz ts);
static TimestampTz ceil_msec(TimestampTz ts);
static bool combine_date(List *evaluated, LemlistFilterKind filter,
						 TimestampTz fallback, TimestampTz *result);
static List *fanout_values(bool constrained, List *set, bool *empty);
static char *single_value(bool constrained, List *set, bool *empty);


/*
 * eval_cond_expr
 *		The value of one condition's expression: from its ExprState, or
 *		straight from the Const when there is none.
 */
static Datum
eval_cond_expr(LemlistCond *cond, ExprState *state, ExprContext *econtext,
			   bool *isnull)
{
	if (state != NULL)
		return ExecEvalExprSwitchContext(state, econtext, isnull);

	if (!IsA(cond->expr, Const))
		elog(ERROR, "lemlist filter expression is not a constant");

	*isnull = ((Const *) cond->expr)->constisnull;
	return ((Const *) cond->expr)->constvalue;
}

/*
 * text_values
 *		The set of strings a text condition allows, in order, duplicates
 *		included: one value for "=", the non-NULL elements for "= ANY".
 *		A NULL comparand allows nothing.
 */
static List *
text_values(LemlistCond *cond, Datum value, bool isnull)
{
	List	   *values = NIL;

	if (isnull)
		return NIL;

	if (cond->op == LEMLIST_OP_EQ)
		values = list_make1(TextDatumGetCString(value));
	else
	{
		ArrayType  *array = DatumGetArrayTypeP(value);
		Oid			elemtype = ARR_ELEMTYPE(array);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;
		int			i;

		if (elemtype != TEXTOID && elemtype != VARCHAROID)
			elog(ERROR, "unexpected element type %u in lemlist filter array",
				 elemtype);

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(array, elemtype, typlen, typbyval, typalign,
						  &elems, &nulls, &nelems);
		for (i = 0; i < nelems; i++)
		{
			if (!nulls[i])
				values = lappend(values, TextDatumGetCString(elems[i]));
		}
	}

	return values;
}

/*
 * compare_positioned
 *		qsort comparator: by string, then by first position.
 */
static int
compare_positioned(const void *a, const void *b)
{
	const PositionedValue *pa = (const PositionedValue *) a;
	const PositionedValue *pb = (const PositionedValue *) b;
	int			cmp = strcmp(pa->value, pb->value);

	if (cmp != 0)
		return cmp;
	return (pa->position > pb->position) - (pa->position < pb->position);
}

/*
 * compare_strings
 *		qsort and bsearch comparator for an array of char *.
 */
static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * unique_values
 *		values without duplicates, each kept where it first appeared.
 *
 * Sorting keeps this O(n log n): IN lists and sub-select outputs can be long.
 */
static List *
unique_values(List *values)
{
	int			n = list_length(values);
	PositionedValue *sorted;
	bool	   *keep;
	List	   *result = NIL;
	ListCell   *lc;
	int			i;

	if (n <= 1)
		return values;

	sorted = (PositionedValue *) palloc(n * sizeof(PositionedValue));
	keep = (bool *) palloc0(n * sizeof(bool));
	i = 0;
	foreach(lc, values)
	{
		sorted[i].value = lfirst(lc);
		sorted[i].position = i;
		i++;
	}
	qsort(sorted, n, sizeof(PositionedValue), compare_positioned);
	for (i = 0; i < n; i++)
	{
		if (i == 0 || strcmp(sorted[i - 1].value, sorted[i].value) != 0)
			keep[sorted[i].position] = true;
	}

	i = 0;
	foreach(lc, values)
	{
		if (keep[i++])
			result = lappend(result, lfirst(lc));
	}

	pfree(sorted);
	pfree(keep);
	return result;
}

/*
 * intersect_values
 *		The elements of a (in a's order) that are also in b.
 */
static List *
intersect_values(List *a, List *b)
{
	int			n = list_length(b);
	char	  **sorted;
	List	   *result = NIL;
	ListCell   *lc;
	int			i;

	if (a == NIL || n == 0)
		return NIL;

	sorted = (char **) palloc(n * sizeof(char *));
	i = 0;
	foreach(lc, b)
		sorted[i++] = lfirst(lc);
	qsort(sorted, n, sizeof(char *), compare_strings);

	foreach(lc, a)
	{
		char	   *value = lfirst(lc);

		if (bsearch(&value, sorted, n, sizeof(char *), compare_strings) != NULL)
			result = lappend(result, value);
	}

	pfree(sorted);
	return result;
}

/*
 * floor_msec / ceil_msec
 *		Round a finite timestamp down or up to a whole millisecond.
 *
 * Timestamps before 2000-01-01 are negative, so the remainder is made
 * non-negative by hand rather than trusting C's truncating division.
 */
static TimestampTz
floor_msec(TimestampTz ts)
{
	int64		rem = ts % USECS_PER_MSEC;

	if (rem < 0)
		rem += USECS_PER_MSEC;
	return ts - rem;
}

static TimestampTz
ceil_msec(TimestampTz ts)
{
	TimestampTz down = floor_msec(ts);

	return down == ts ? ts : down + USECS_PER_MSEC;
}

/*
 * combine_date
 *		The startDate (or endDate) to send given the start_date (end_date)
 *		conditions, or false when no whole millisecond satisfies them all.
 *
 * Every row echoes the value sent, so it must pass each clause's recheck:
 * "= t" needs t itself; the bounds of start_date ask for the smallest whole
 * millisecond at or after (">=") or strictly after (">") t, those of
 * end_date for the largest at or before ("<=") or strictly before ("<").
 * Infinite comparands cannot be sent: a bound on the far side (start_date
 * >= -infinity, end_date <= +infinity) bounds nothing, one on the near side
 * is unreachable by any finite value.
 */
static bool
combine_date(List *evaluated, LemlistFilterKind filter, TimestampTz fallback,
			 TimestampTz *result)
{
	bool		is_start = (filter == LEMLIST_FILTER_START_DATE);
	bool		have_eq = false;
	bool		have_bound = false;
	TimestampTz eq = 0;
	TimestampTz limit = 0;
	ListCell   *lc;

	foreach(lc, evaluated)
	{
		EvaluatedCond *ec = lfirst(lc);
		TimestampTz ts = ec->ts;
		TimestampTz bound;
		bool		strict;

		if (ec->cond->filter != filter)
			continue;
		if (ec->isnull)
			return false;

		if (ec->cond->op == LEMLIST_OP_EQ)
		{
			if (TIMESTAMP_NOT_FINITE(ts) || floor_msec(ts) != ts)
				return false;
			if (have_eq && eq != ts)
				return false;
			have_eq = true;
			eq = ts;
			continue;
		}

		Assert(is_start ?
			   (ec->cond->op == LEMLIST_OP_GE || ec->cond->op == LEMLIST_OP_GT) :
			   (ec->cond->op == LEMLIST_OP_LE || ec->cond->op == LEMLIST_OP_LT));
		if (is_start ? TIMESTAMP_IS_NOBEGIN(ts) : TIMESTAMP_IS_NOEND(ts))
			continue;
		if (TIMESTAMP_NOT_FINITE(ts))
			return false;
		strict = (ec->cond->op == LEMLIST_OP_GT || ec->cond->op == LEMLIST_OP_LT);
		if (is_start)
			bound = strict ? floor_msec(ts) + USECS_PER_MSEC : ceil_msec(ts);
		else
			bound = strict ? ceil_msec(ts) - USECS_PER_MSEC : floor_msec(ts);
		if (!have_bound || (is_start ? bound > limit : bound < limit))
			limit = bound;
		have_bound = true;
	}

	if (have_eq)
	{
		/* eq is a whole millisecond, so eq within limit passes them all */
		if (have_bound && (is_start ? eq < limit : eq > limit))
			return false;
		*result = eq;
	}
	else if (have_bound)
		*result = limit;
	else
		*result = fallback;
	return true;
}

/*
 * fanout_values
 *		What a fan-out filter (send_user, ab_selected, channel) sends: one
 *		request set per value, or a single unfiltered one (a NULL entry) when
 *		no clause constrains it.  An empty set makes the scan empty.
 */
static List *
fanout_values(bool constrained, List *set, bool *empty)
{
	if (!constrained)
		return list_make1(NULL);
	if (set == NIL)
		*empty = true;
	return set;
}

/*
 * single_value
 *		What a campaigns list filter (status, createdBy) sends: the route
 *		takes one value, so with several candidates we send none and let the
 *		local recheck filter.  An empty set makes the scan empty.
 */
static char *
single_value(bool constrained, List *set, bool *empty)
{
	if (!constrained)
		return NULL;
	if (set == NIL)
	{
		*empty = true;
		return NULL;
	}
	return list_length(set) == 1 ? (char *) linitial(set) : NULL;
}

/*
 * lemlist_eval_conds
 *		Evaluate the conditions of one scan and combine them into the values
 *		its requests will carry.
 *
 * exprstates parallels conds; NIL means that every expression is a Const and
 * is read directly (at plan time, and for plain EXPLAIN).  Every literal is
 * validated before any combining, so that an impossible value is an error
 * even when another clause makes the scan empty.
 */
void
lemlist_eval_conds(List *conds, List *exprstates, ExprContext *econtext,
				   TimestampTz default_start, TimestampTz default_end,
				   LemlistFilterValues *out)
{
	List	   *evaluated = NIL;
	List	   *sets[LEMLIST_NUM_FILTERS];
	bool		constrained[LEMLIST_NUM_FILTERS];
	ListCell   *lc;
	int			i;

	memset(out, 0, sizeof(LemlistFilterValues));
	memset(sets, 0, sizeof(sets));
	memset(constrained, 0, sizeof(constrained));

	if (exprstates != NIL && list_length(exprstates) != list_length(conds))
		elog(ERROR, "lemlist filter conditions and expression states do not match");

	/* Evaluate everything and validate every text value. */
	i = 0;
	foreach(lc, conds)
	{
		LemlistCond *cond = (LemlistCond *) lfirst(lc);
		ExprState  *state = NULL;
		EvaluatedCond *ec = (EvaluatedCond *) palloc0(sizeof(EvaluatedCond));
		Datum		value;
		bool		isnull;

		if (exprstates != NIL)
			state = (ExprState *) list_nth(exprstates, i);
		i++;

		value = eval_cond_expr(cond, state, econtext, &isnull);
		ec->cond = cond;
		if (lemlist_is_text_filter(cond->filter))
		{
			ListCell   *vlc;

			ec->values = text_values(cond, value, isnull);
			foreach(vlc, ec->values)
				lemlist_check_filter_value(cond->filter, (char *) lfirst(vlc));
		}
		else if (lemlist_is_date_filter(cond->filter))
		{
			ec->isnull = isnull;
			ec->ts = isnull ? 0 : DatumGetTimestampTz(value);
		}
		else
			elog(ERROR, "unrecognized lemlist filter: %d", (int) cond->filter);

		evaluated = lappend(evaluated, ec);
	}

	/* Each text filter's values: the intersection of its conditions. */
	foreach(lc, evaluated)
	{
		EvaluatedCond *ec = lfirst(lc);
		LemlistFilterKind filter = ec->cond->filter;

		if (!lemlist_is_text_filter(filter))
			continue;
		if (!constrained[filter])
			sets[filter] = unique_values(ec->values);
		else
			sets[filter] = intersect_values(sets[filter], ec->values);
		constrained[filter] = true;
	}

	/* campaignIds: absent means every campaign of the team */
	if (!constrained[LEMLIST_FILTER_CAMPAIGN_ID])
		out->all_campaigns = true;
	else
	{
		out->campaign_ids = sets[LEMLIST_FILTER_CAMPAIGN_ID];
		if (out->campaign_ids == NIL)
			out->empty = true;
	}

	/* The fan-out filters: absent means one unfiltered request set. */
	out->send_users = fanout_values(constrained[LEMLIST_FILTER_SEND_USER],
									sets[LEMLIST_FILTER_SEND_USER], &out->empty);
	out->ab_selected = fanout_values(constrained[LEMLIST_FILTER_AB_SELECTED],
									 sets[LEMLIST_FILTER_AB_SELECTED], &out->empty);
	out->channels = fanout_values(constrained[LEMLIST_FILTER_CHANNEL],
								  sets[LEMLIST_FILTER_CHANNEL], &out->empty);

	/* The campaigns list's query filters. */
	out->status = single_value(constrained[LEMLIST_FILTER_STATUS],
							   sets[LEMLIST_FILTER_STATUS], &out->empty);
	out->created_by = single_value(constrained[LEMLIST_FILTER_CREATED_BY],
								   sets[LEMLIST_FILTER_CREATED_BY], &out->empty);

	/* The dates. */
	if (!combine_date(evaluated, LEMLIST_FILTER_START_DATE, default_start, &out->start_date))
		out->empty = true;
	if (!combine_date(evaluated, LEMLIST_FILTER_END_DATE, default_end, &out->end_date))
		out->empty = true;
}

/*
 * lemlist_combinations
 *		The cartesian product send_users x ab_selected x channels, outer to
 *		inner, as a List of LemlistCombo.  An empty scan has none.
 *
 * Each combination is a whole set of batch requests, so the product is
 * capped at LEMLIST_MAX_COMBINATIONS.
 */
List *
lemlist_combinations(const LemlistFilterValues *fv)
{
	List	   *combos = NIL;
	int64		n;
	ListCell   *lc1;

	if (fv->empty)
		return NIL;

	n = (int64) list_length(fv->send_users) *
		list_length(fv->ab_selected) * list_length(fv->channels);
	if (n > LEMLIST_MAX_COMBINATIONS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many lemlist filter combinations: %lld",
						(long long) n),
				 errdetail("Each combination of send_user, ab_selected and channel values is a separate set of requests; at most %d are allowed.",
						   LEMLIST_MAX_COMBINATIONS),
				 errhint("Narrow the IN lists or split the query.")));

	foreach(lc1, fv->send_users)
	{
		ListCell   *lc2;

		foreach(lc2, fv->ab_selected)
		{
			ListCell   *lc3;

			foreach(lc3, fv->channels)
			{
				LemlistCombo *combo = (LemlistCombo *) palloc(sizeof(LemlistCombo));

				combo->send_user = (char *) lfirst(lc1);
				combo->ab_selected = (char *) lfirst(lc2);
				combo->channel = (char *) lfirst(lc3);
				combos = lappend(combos, combo);
			}
		}
	}

	return combos;
}

/*
 * lemlist_default_end_date
 *		endDate when the query gives none: the statement's start, rounded up
 *		to the millisecond lemlist takes, so that the echoed end_date is never
 *		before now() or statement_timestamp().
 */
TimestampTz
lemlist_default_end_date(void)
{
	TimestampTz ts = GetCurrentStatementStartTimestamp();

	return ts + (1000 - ts % 1000) % 1000;
}


/* ---------------------------------------------------------------------
 * The filters' kinds and names, and the literal values lemlist accepts
 *
 * What is known of a filter without the catalog or the planner: which kind
 * of value it takes (text or timestamptz), its column name for messages,
 * which values the API can accept, and how a date is written in a request.
 * A literal that can never be valid is rejected with SQLSTATE 22023 before
 * anything is sent, naming the valid values.
 *
 * Every function here depends on its arguments alone: no catalog, no
 * locale, dates in UTC whatever the session's time zone (only the message
 * of an out-of-range timestamp shows it as timestamptz_out does).  That is
 * what lets test/fuzz/ link this file into a plain executable and check
 * lemlist_check_filter_value and lemlist_format_timestamp against
 * independent readings of the rules.
 *
 * ---------------------------------------------------------------------
 */
static bool is_whitespace(char c);
static bool valid_send_user(const char *value);


/*
 * lemlist_is_text_filter / lemlist_is_date_filter
 *		Classify a filter by the kind of clause that can feed it.
 */
static bool
lemlist_is_text_filter(LemlistFilterKind filter)
{
	switch (filter)
	{
		case LEMLIST_FILTER_CAMPAIGN_ID:
		case LEMLIST_FILTER_SEND_USER:
		case LEMLIST_FILTER_AB_SELECTED:
		case LEMLIST_FILTER_CHANNEL:
		case LEMLIST_FILTER_STATUS:
		case LEMLIST_FILTER_CREATED_BY:
			return true;
		default:
			return false;
	}
}

static bool
lemlist_is_date_filter(LemlistFilterKind filter)
{
	return filter == LEMLIST_FILTER_START_DATE ||
		filter == LEMLIST_FILTER_END_DATE;
}

/*
 * is_whitespace
 *		ASCII whitespace, independent of the locale so that the checks below
 *		are a pure function of their input.
 */
static bool
is_whitespace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

/*
 * valid_send_user
 *		Is value of the form "usr_<id>|<local>@<domain>"?  Exactly one '|',
 *		an id of at least one character after "usr_", exactly one '@' with
 *		both sides non-empty, and no whitespace anywhere.
 */
static bool
valid_send_user(const char *value)
{
	const char *bar = strchr(value, '|');
	const char *email;
	const char *at;
	const char *p;

	if (bar == NULL || strchr(bar + 1, '|') != NULL)
		return false;

	/* the sendUserId */
	if (strncmp(value, "usr_", 4) != 0 || value + 4 >= bar)
		return false;
	for (p = value; p < bar; p++)
	{
		if (is_whitespace(*p))
			return false;
	}

	/* the sendUserEmail */
	email = bar + 1;
	at = strchr(email, '@');
	if (at == NULL || at == email || at[1] == '\0' ||
		strchr(at + 1, '@') != NULL)
		return false;
	for (p = email; *p != '\0'; p++)
	{
		if (is_whitespace(*p))
			return false;
	}

	return true;
}

/*
 * lemlist_check_filter_value
 *		Reject a value the API can never accept for filter, before anything
 *		is sent.  A pure function of its input: no catalog, no locale.
 */
void
lemlist_check_filter_value(LemlistFilterKind filter, const char *value)
{
	/* NULL is "not filtered", always acceptable */
	if (value == NULL)
		return;

	switch (filter)
	{
		case LEMLIST_FILTER_CHANNEL:
			if (strcmp(value, "email") != 0 &&
				strcmp(value, "linkedin") != 0 &&
				strcmp(value, "others") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for column \"%s\": \"%s\"",
								lemlist_filter_name(filter), value),
						 errhint("Valid values are: email, linkedin, others.")));
			break;
		case LEMLIST_FILTER_AB_SELECTED:
			if (strcmp(value, "A") != 0 && strcmp(value, "B") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for column \"%s\": \"%s\"",
								lemlist_filter_name(filter), value),
						 errhint("Valid values are: A, B.")));
			break;
		case LEMLIST_FILTER_SEND_USER:
			if (!valid_send_user(value))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for column \"%s\": \"%s\"",
								lemlist_filter_name(filter), value),
						 errhint("send_user must have the form \"usr_<id>|<email>\", for example \"usr_abc123|jane@example.com\".")));
			break;
		default:
			/* campaign IDs, statuses and users are the API's to judge */
			break;
	}
}

/*
 * lemlist_format_timestamp
 *		ts as the API writes dates: "YYYY-MM-DDTHH:MM:SS.sssZ" in UTC, the
 *		microseconds truncated to milliseconds.
 *
 * The format has four digits for the year and no era, so only years 1 to
 * 9999 can be written.
 */
char *
lemlist_format_timestamp(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timestamp \"%s\" is out of range for lemlist",
						DatumGetCString(DirectFunctionCall1(timestamptz_out,
															TimestampTzGetDatum(ts)))),
				 errdetail("lemlist dates, in UTC, must fall between the years 1 and 9999.")));

	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec,
					(int) (fsec / 1000));
}

/*
 * lemlist_filter_name
 *		The SQL column name of a filter, for messages.
 */
const char *
lemlist_filter_name(LemlistFilterKind filter)
{
	switch (filter)
	{
		case LEMLIST_FILTER_NONE:
			break;
		case LEMLIST_FILTER_CAMPAIGN_ID:
			return "campaign_id";
		case LEMLIST_FILTER_START_DATE:
			return "start_date";
		case LEMLIST_FILTER_END_DATE:
			return "end_date";
		case LEMLIST_FILTER_SEND_USER:
			return "send_user";
		case LEMLIST_FILTER_AB_SELECTED:
			return "ab_selected";
		case LEMLIST_FILTER_CHANNEL:
			return "channel";
		case LEMLIST_FILTER_STATUS:
			return "status";
		case LEMLIST_FILTER_CREATED_BY:
			return "created_by";
	}
	return "none";
}
