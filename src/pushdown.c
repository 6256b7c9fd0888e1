/*-------------------------------------------------------------------------
 *
 * pushdown.c
 *		  Which WHERE clauses of a lemlist foreign table become request
 *		  fields, what they send at run time, and the literals lemlist accepts
 *
 * lemlist answers with rows that echo the filters they were computed under:
 * a row of campaign_stats carries the campaignId, startDate, endDate,
 * sendUser, ABSelected and channel its numbers belong to, and PostgreSQL
 * rechecks every clause on it.  A scan's rows are therefore the filter
 * combinations its WHERE clause selects, and this file computes that set
 * from the clauses themselves:
 *
 * - Conditions that give a filter its values ("determining" conditions):
 *	 equality, IN, = ANY and ORs of those on campaign_id, send_user and the
 *	 dates (one request set per value), and the bounds the API's dates mean
 *	 (start_date >= or > t, end_date <= or < t), over constants, parameters,
 *	 initplan outputs and stable expressions.  Built-in btree operators
 *	 only, text equality under a deterministic collation.  Dates may be
 *	 columns of type timestamptz, timestamp (UTC wall time) or date (the UTC
 *	 day), or a timestamptz column cast to date or timestamp (the session's
 *	 time zone).
 * - Tests: any other clause whose only columns are echo columns is
 *	 evaluated by the scan on each combination of the values the requests
 *	 would carry, and only the combinations it holds for are requested.
 *	 ab_selected and channel have finite domains (A, B; email, linkedin,
 *	 others; and NULL, "not filtered"), so a test alone decides their
 *	 values.  A clause whose only column is campaign_id is tested on each
 *	 campaign before its statistics are requested.
 * - Anything else on an echo column, and a test on the dates or send_user
 *	 without a determining condition to choose among, is an ERROR at plan
 *	 time: its rows would be computed under other filters and dropped by the
 *	 recheck, a silently empty answer.
 *
 * Three sections: the choice of clauses at plan time; their evaluation into
 * the values the requests carry; the filters' names and the literals
 * lemlist accepts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "access/sysattr.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parsetree.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

#define FILTER_BIT(filter) (1 << (int) (filter))

/* The filters a test of the dates or the sender cannot decide alone. */
#define OPEN_FILTERS (FILTER_BIT(LEMLIST_FILTER_START_DATE) | \
					  FILTER_BIT(LEMLIST_FILTER_END_DATE) | \
					  FILTER_BIT(LEMLIST_FILTER_SEND_USER))

/* A filter column as a condition sees it: which filter, through which type. */
typedef struct FilterSide
{
	LemlistFilterKind filter;
	Oid			type;			/* what the operator compares */
	int			mode;			/* dates: LemlistDateMode */
	bool		exact;			/* a timestamptz column as is (no test needed) */
} FilterSide;

static bool lemlist_is_text_filter(LemlistFilterKind filter);
static bool lemlist_is_date_filter(LemlistFilterKind filter);
static bool is_text_type(Oid type);
static bool match_filter_side(Node *node, RelOptInfo *baserel,
							  const LemlistColumn *columns, int natts,
							  FilterSide *side);
static bool is_pushable_expr(PlannerInfo *root, RelOptInfo *baserel, Node *expr);
static bool deterministic_collation(Oid collid);
static LemlistCond *make_cond(LemlistFilterKind filter, LemlistCondOp op, Expr *expr);
static List *determining_conds(PlannerInfo *root, RelOptInfo *baserel,
							   const LemlistColumn *columns, int natts,
							   Expr *clause, int group, bool *exact);
static LemlistCond *comparison_cond(PlannerInfo *root, RelOptInfo *baserel,
									const LemlistColumn *columns, int natts,
									OpExpr *op, bool *exact);
static LemlistCond *in_cond(PlannerInfo *root, RelOptInfo *baserel,
							const LemlistColumn *columns, int natts,
							ScalarArrayOpExpr *saop, bool *exact);
static LemlistCond *null_test_cond(RelOptInfo *baserel, const LemlistColumn *columns,
								   int natts, NullTest *nt);
static Node *coerce_comparand(Node *expr, Oid type);
static int	btree_strategy(Oid opno, Oid lefttype, Oid righttype);
static int	commute_strategy(int strategy);
static LemlistFilterKind echo_filter(const LemlistColumn *col);
static bool contain_params(Node *node);
static LemlistCond *test_cond(PlannerInfo *root, RelOptInfo *baserel,
							  const LemlistColumn *columns, int natts,
							  Expr *clause, bool report);
static bool is_test_safe(PlannerInfo *root, RelOptInfo *baserel, Expr *clause);
lemlist_noreturn static void report_unsendable(PlannerInfo *root, RelOptInfo *baserel,
											   const LemlistColumn *columns,
											   int natts, Expr *clause);


/*
 * lemlist_extract_conds
 *		The conditions of "clauses" (RestrictInfos) for the requests: the
 *		determining conditions, then the tests.
 *
 * Every clause stays a local qual as well.  With report (the restriction
 * clauses of a stats table), a clause on an echo column that is neither is
 * an ERROR; without (join clauses, the clauses of a plan already checked),
 * it is left alone.
 */
List *
lemlist_extract_conds(PlannerInfo *root, RelOptInfo *baserel,
					  const LemlistColumn *columns, int natts,
					  List *clauses, bool report)
{
	List	   *conds = NIL;
	List	   *tests = NIL;
	int			determined = 0;	/* filters a condition gives values to */
	int			group = 0;
	ListCell   *lc;

	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Expr	   *clause = ri->clause;
		List	   *found;
		LemlistCond *test;
		bool		exact = true;

		found = determining_conds(root, baserel, columns, natts, clause,
								  ++group, &exact);
		if (found != NIL)
		{
			determined |= FILTER_BIT(((LemlistCond *) linitial(found))->filter);
			conds = list_concat(conds, found);
			/* a cast or another column type: the clause itself decides too */
			if (exact)
				continue;
		}
		test = test_cond(root, baserel, columns, natts, clause,
						 report && found == NIL);
		if (test != NULL)
			tests = lappend(tests, test);
	}

	/*
	 * A test of an open filter (the dates, send_user) selects among the
	 * values the determining conditions send; without one it would be
	 * tested on the defaults only, and the other rows silently lost.
	 */
	if (report)
	{
		foreach(lc, tests)
		{
			LemlistCond *test = lfirst(lc);

			if ((test->refs & OPEN_FILTERS & ~determined) != 0)
				report_unsendable(root, baserel, columns, natts, test->expr);
		}
	}

	return list_concat(conds, tests);
}

/*
 * lemlist_join_partners
 *		The join clauses of baserel that read one of its echo columns: each
 *		as the column's filter, the clause, and the other relations it reads.
 *		The equalities the planner keeps as equivalence classes count too,
 *		made into clauses (for messages).
 */
List *
lemlist_join_partners(PlannerInfo *root, RelOptInfo *baserel,
					  const LemlistColumn *columns, int natts)
{
	List	   *partners = NIL;
	ListCell   *lc;

	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Bitmapset  *attnos = NULL;
		int			x = -1;

		pull_varattnos((Node *) ri->clause, baserel->relid, &attnos);
		while ((x = bms_next_member(attnos, x)) >= 0)
		{
			AttrNumber	attno = x + FirstLowInvalidHeapAttributeNumber;
			LemlistJoinPartner *p;

			if (attno <= 0 || attno > natts ||
				echo_filter(&columns[attno - 1]) == LEMLIST_FILTER_NONE)
				continue;
			p = palloc(sizeof(LemlistJoinPartner));
			p->filter = echo_filter(&columns[attno - 1]);
			p->clause = ri->clause;
			p->others = bms_difference(ri->clause_relids, baserel->relids);
			p->required = false;	/* an outer or anti join's may keep NULLs */
			partners = lappend(partners, p);
		}
	}

	if (!baserel->has_eclass_joins)
		return partners;
	foreach(lc, root->eq_classes)
	{
		EquivalenceClass *ec = lfirst(lc);
		EquivalenceMember *mine = NULL;
		ListCell   *mlc;

		if (ec->ec_has_const || ec->ec_broken || ec->ec_opfamilies == NIL)
			continue;
		foreach(mlc, ec->ec_members)
		{
			EquivalenceMember *em = lfirst(mlc);
			Node	   *expr = (Node *) em->em_expr;

			while (expr && IsA(expr, RelabelType))
				expr = (Node *) ((RelabelType *) expr)->arg;
			if (expr && IsA(expr, Var) && (Index) ((Var *) expr)->varno == baserel->relid &&
				((Var *) expr)->varattno > 0 && ((Var *) expr)->varattno <= natts &&
				echo_filter(&columns[((Var *) expr)->varattno - 1]) != LEMLIST_FILTER_NONE)
				mine = em;
		}
		if (mine == NULL)
			continue;
		foreach(mlc, ec->ec_members)
		{
			EquivalenceMember *em = lfirst(mlc);
			LemlistJoinPartner *p;
			Oid			opno;

			if (bms_overlap(em->em_relids, baserel->relids) || bms_is_empty(em->em_relids))
				continue;
			opno = get_opfamily_member(linitial_oid(ec->ec_opfamilies),
									   exprType((Node *) mine->em_expr),
									   exprType((Node *) em->em_expr),
									   BTEqualStrategyNumber);
			p = palloc(sizeof(LemlistJoinPartner));
			p->filter = echo_filter(&columns[((Var *) mine->em_expr)->varattno - 1]);
			p->clause = OidIsValid(opno) ?
				make_opclause(opno, BOOLOID, false, mine->em_expr, em->em_expr,
							  InvalidOid, ec->ec_collation) :
				mine->em_expr;
			p->others = em->em_relids;
			p->required = true;
			partners = lappend(partners, p);
		}
	}
	return partners;
}

/*
 * lemlist_is_column
 *		Is expr (under binary-compatible casts) the column attno of the
 *		relation relid, of this query level?
 */
bool
lemlist_is_column(Expr *expr, Index relid, AttrNumber attno)
{
	while (expr != NULL && IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	return expr != NULL && IsA(expr, Var) &&
		(Index) ((Var *) expr)->varno == relid &&
		((Var *) expr)->varlevelsup == 0 &&
		((Var *) expr)->varattno == attno;
}

/*
 * lemlist_join_domain_cond
 *		For the finite filters (ab_selected, channel) that a join clause of
 *		baserel reads, a test that holds for every value of their domains,
 *		NULL if there are none.
 *
 * A join clause cannot give a filter its values: without this, the scan
 * would ask for "all variants" or "all channels" only, and the join would
 * find no row for 'A' or 'email'.  With it, the scan asks for every value
 * (in sum, the few combinations of two small domains) and the join keeps
 * what it matches.  Restriction clauses on the same filters still narrow
 * it; a parameterized path that sends the join clause does not need it.
 * When every such clause is an equality every joined row holds (an inner
 * or semi join's), the totals ("all variants", NULL) never join: the test
 * is that the column IS NOT NULL, and only the domain's values are asked.
 */
LemlistCond *
lemlist_join_domain_cond(PlannerInfo *root, RelOptInfo *baserel,
						 const LemlistColumn *columns, int natts)
{
	int			refs = 0;
	int			optional = 0;
	List	   *tests = NIL;
	ListCell   *lc;
	LemlistCond *cond;

	foreach(lc, lemlist_join_partners(root, baserel, columns, natts))
	{
		LemlistJoinPartner *p = lfirst(lc);

		if (p->filter != LEMLIST_FILTER_AB_SELECTED && p->filter != LEMLIST_FILTER_CHANNEL)
			continue;
		refs |= FILTER_BIT(p->filter);
		if (!p->required)
			optional |= FILTER_BIT(p->filter);
	}
	if (refs == 0)
		return NULL;
	for (AttrNumber attno = 1; attno <= natts; attno++)
	{
		const LemlistColumn *col = &columns[attno - 1];
		LemlistFilterKind f = echo_filter(col);
		NullTest   *test;

		if (f == LEMLIST_FILTER_NONE || !(refs & FILTER_BIT(f)) ||
			(optional & FILTER_BIT(f)))
			continue;
		test = makeNode(NullTest);
		test->arg = (Expr *) makeVar(baserel->relid, attno, col->typid, col->typmod,
									 get_typcollation(col->typid), 0);
		test->nulltesttype = IS_NOT_NULL;
		test->argisrow = false;
		test->location = -1;
		tests = lappend(tests, test);
		optional |= FILTER_BIT(f);	/* one column per filter is enough */
	}
	cond = make_cond(LEMLIST_FILTER_NONE, LEMLIST_OP_TEST, make_ands_explicit(tests));
	cond->refs = refs;
	return cond;
}

/*
 * lemlist_join_key
 *		If a join clause equates a filter column of baserel with an
 *		expression of outer_relids alone, the condition that sends it: its
 *		filter, the expression (as the comparison sees it) and its mode.
 *		*exact is cleared when the clause must still be checked on the
 *		joined rows (a cast, a date or timestamp column).
 */
LemlistCond *
lemlist_join_key(PlannerInfo *root, RelOptInfo *baserel, const LemlistColumn *columns,
				 int natts, Expr *clause, Relids outer_relids, bool *exact)
{
	LemlistCond *cond;
	Relids		varnos;

	*exact = true;
	if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2)
		return NULL;
	cond = comparison_cond(root, baserel, columns, natts, (OpExpr *) clause, exact);
	if (cond == NULL || cond->op != LEMLIST_OP_EQ ||
		cond->filter == LEMLIST_FILTER_STATUS || cond->filter == LEMLIST_FILTER_CREATED_BY)
		return NULL;
	varnos = lemlist_pull_varnos(root, (Node *) cond->expr);
	if (bms_is_empty(varnos) || !bms_is_subset(varnos, outer_relids))
		return NULL;
	return cond;
}

/*
 * determining_conds
 *		The conditions a clause gives one filter's values with, NIL if none:
 *		one for "col op expr", "col IN (...)", "col IS NULL" (campaign_id:
 *		none), one per arm of an OR of those on one filter (the arms share a
 *		group: their values are united).  *exact is cleared when the clause
 *		must also be tested as it is (a cast, a date or timestamp column).
 */
static List *
determining_conds(PlannerInfo *root, RelOptInfo *baserel,
				  const LemlistColumn *columns, int natts, Expr *clause,
				  int group, bool *exact)
{
	LemlistCond *cond = NULL;

	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
		cond = comparison_cond(root, baserel, columns, natts, (OpExpr *) clause, exact);
	else if (IsA(clause, ScalarArrayOpExpr))
		cond = in_cond(root, baserel, columns, natts, (ScalarArrayOpExpr *) clause, exact);
	else if (IsA(clause, NullTest))
		cond = null_test_cond(baserel, columns, natts, (NullTest *) clause);
	else if (is_orclause(clause))
	{
		List	   *arms = NIL;
		LemlistFilterKind filter = LEMLIST_FILTER_NONE;
		ListCell   *lc;

		foreach(lc, ((BoolExpr *) clause)->args)
		{
			List	   *arm = determining_conds(root, baserel, columns, natts,
												lfirst(lc), group, exact);
			LemlistCond *c;

			if (list_length(arm) != 1)
				return NIL;
			c = linitial(arm);
			if ((c->op != LEMLIST_OP_EQ && c->op != LEMLIST_OP_IN) ||
				(filter != LEMLIST_FILTER_NONE && c->filter != filter))
				return NIL;
			filter = c->filter;
			arms = lappend(arms, c);
		}
		return arms;
	}

	if (cond == NULL)
		return NIL;
	cond->group = group;
	return list_make1(cond);
}

/*
 * match_filter_side
 *		If node is a filter column of baserel, seen through a type whose
 *		comparisons we know, say which filter and how.
 *
 * Text filters: a column of type text, varchar, char(n) or name (under a
 * RelabelType, as varchar is when compared with text).  Dates: a column of
 * type timestamptz (compared as is), timestamp (its wall time in UTC) or
 * date (its day in UTC), or a timestamptz column cast to timestamp or date
 * (in the session's time zone), or a timestamp column cast to date.  The
 * echo of the value sent reads back through the same type, so the value
 * sent satisfies the comparison the clause makes.
 */
static bool
match_filter_side(Node *node, RelOptInfo *baserel, const LemlistColumn *columns,
				  int natts, FilterSide *side)
{
	Oid			viewtype = InvalidOid;
	Var		   *var;
	LemlistFilterKind filter;

	while (node != NULL && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;

	/* a built-in cast of a date column to date or timestamp */
	if (node != NULL && IsA(node, FuncExpr) &&
		list_length(((FuncExpr *) node)->args) == 1 &&
		(((FuncExpr *) node)->funcformat == COERCE_EXPLICIT_CAST ||
		 ((FuncExpr *) node)->funcformat == COERCE_IMPLICIT_CAST) &&
		((FuncExpr *) node)->funcid < FirstGenbkiObjectId)
	{
		FuncExpr   *f = (FuncExpr *) node;

		viewtype = f->funcresulttype;
		node = linitial(f->args);
		if (viewtype != DATEOID && viewtype != TIMESTAMPOID)
			return false;
	}

	if (node == NULL || !IsA(node, Var))
		return false;
	var = (Var *) node;
	if ((Index) var->varno != baserel->relid || var->varlevelsup != 0 ||
		var->varattno <= 0 || var->varattno > natts)
		return false;

	filter = columns[var->varattno - 1].pushdown;
	side->filter = filter;
	side->mode = LEMLIST_DATE_INSTANT;
	side->exact = false;
	if (lemlist_is_text_filter(filter))
	{
		side->type = var->vartype;
		return OidIsValid(viewtype) ? false : is_text_type(var->vartype);
	}
	if (!lemlist_is_date_filter(filter))
		return false;

	if (!OidIsValid(viewtype))
		viewtype = var->vartype;
	side->type = viewtype;
	switch (var->vartype)
	{
		case TIMESTAMPTZOID:
			/* the cast to timestamp compares the comparand as a local time */
			side->mode = (viewtype == DATEOID) ? LEMLIST_DATE_LOCAL_DAY :
				LEMLIST_DATE_INSTANT;
			side->exact = (viewtype == TIMESTAMPTZOID);
			return true;
		case TIMESTAMPOID:
			if (viewtype == TIMESTAMPOID)
				side->mode = LEMLIST_DATE_UTC_WALL;
			else
				side->mode = LEMLIST_DATE_UTC_DAY;
			return true;
		case DATEOID:
			if (viewtype != DATEOID)
				return false;
			side->mode = LEMLIST_DATE_UTC_DAY;
			return true;
		default:
			return false;
	}
}

/*
 * is_text_type
 *		The types a text filter's column or comparand may have
 */
static bool
is_text_type(Oid type)
{
	return type == TEXTOID || type == VARCHAROID || type == BPCHAROID ||
		type == NAMEOID;
}

/*
 * is_pushable_expr
 *		Whether expr can be computed once, before the scan's first row
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
 */
static bool
deterministic_collation(Oid collid)
{
	return !OidIsValid(collid) || get_collation_isdeterministic(collid);
}

/*
 * comparison_cond
 *		"col op expr" or "expr op col": equality on a text filter, a built-in
 *		btree comparison on a date filter that the API's field means
 *		(startDate is a lower bound, endDate an upper one).
 *
 * Only built-in operators: a user-defined operator, even one in a btree
 * family, can mean anything.
 */
static LemlistCond *
comparison_cond(PlannerInfo *root, RelOptInfo *baserel,
				const LemlistColumn *columns, int natts, OpExpr *op,
				bool *exact)
{
	FilterSide	side;
	Node	   *other;
	Oid			othertype;
	int			strategy;
	LemlistCondOp condop;
	LemlistCond *cond;

	if (op->opno >= FirstGenbkiObjectId)
		return NULL;

	other = lsecond(op->args);
	if (match_filter_side(linitial(op->args), baserel, columns, natts, &side))
		strategy = btree_strategy(op->opno, side.type, exprType(other));
	else if (match_filter_side(lsecond(op->args), baserel, columns, natts, &side))
	{
		other = linitial(op->args);
		strategy = commute_strategy(btree_strategy(op->opno, exprType(other), side.type));
	}
	else
		return NULL;
	othertype = exprType(other);

	if (lemlist_is_text_filter(side.filter))
	{
		if (strategy != BTEqualStrategyNumber || !is_text_type(othertype) ||
			!deterministic_collation(op->inputcollid))
			return NULL;
		condop = LEMLIST_OP_EQ;
	}
	else if (strategy == BTEqualStrategyNumber)
		condop = LEMLIST_OP_EQ;
	else if (side.filter == LEMLIST_FILTER_START_DATE &&
			 strategy == BTGreaterEqualStrategyNumber)
		condop = LEMLIST_OP_GE;
	else if (side.filter == LEMLIST_FILTER_START_DATE &&
			 strategy == BTGreaterStrategyNumber)
		condop = LEMLIST_OP_GT;
	else if (side.filter == LEMLIST_FILTER_END_DATE &&
			 strategy == BTLessEqualStrategyNumber)
		condop = LEMLIST_OP_LE;
	else if (side.filter == LEMLIST_FILTER_END_DATE &&
			 strategy == BTLessStrategyNumber)
		condop = LEMLIST_OP_LT;
	else
		return NULL;

	if (!is_pushable_expr(root, baserel, other))
		return NULL;
	if (lemlist_is_date_filter(side.filter) &&
		(other = coerce_comparand(other, side.type)) == NULL)
		return NULL;

	cond = make_cond(side.filter, condop, (Expr *) other);
	cond->mode = side.mode;
	if (!side.exact && lemlist_is_date_filter(side.filter))
		*exact = false;
	return cond;
}

/*
 * in_cond
 *		"col = ANY(array)", which is also what "col IN (...)" becomes, on a
 *		text or date filter.
 *
 * Only the OR form: "col <> ALL(array)" excludes values and leaves an
 * open-ended set that no request can carry (a test, on finite filters).
 */
static LemlistCond *
in_cond(PlannerInfo *root, RelOptInfo *baserel, const LemlistColumn *columns,
		int natts, ScalarArrayOpExpr *saop, bool *exact)
{
	FilterSide	side;
	Node	   *array;
	Oid			elemtype;
	LemlistCond *cond;

	if (!saop->useOr || list_length(saop->args) != 2 ||
		saop->opno >= FirstGenbkiObjectId)
		return NULL;
	if (!match_filter_side(linitial(saop->args), baserel, columns, natts, &side))
		return NULL;
	array = lsecond(saop->args);
	elemtype = get_element_type(exprType(array));
	if (btree_strategy(saop->opno, side.type, elemtype) != BTEqualStrategyNumber)
		return NULL;
	if (!is_pushable_expr(root, baserel, array))
		return NULL;

	if (lemlist_is_text_filter(side.filter))
	{
		if (!is_text_type(elemtype) || !deterministic_collation(saop->inputcollid))
			return NULL;
	}
	else
	{
		Oid			arraytype = get_array_type(side.type);

		if (!OidIsValid(arraytype) ||
			(array = coerce_comparand(array, arraytype)) == NULL)
			return NULL;
		if (!side.exact)
			*exact = false;
	}

	cond = make_cond(side.filter, LEMLIST_OP_IN, (Expr *) array);
	cond->mode = side.mode;
	return cond;
}

/*
 * null_test_cond
 *		"campaign_id IS NULL": no campaign has no ID, so no request
 */
static LemlistCond *
null_test_cond(RelOptInfo *baserel, const LemlistColumn *columns, int natts,
			   NullTest *nt)
{
	FilterSide	side;

	if (nt->nulltesttype != IS_NULL || nt->argisrow ||
		!match_filter_side((Node *) nt->arg, baserel, columns, natts, &side) ||
		side.filter != LEMLIST_FILTER_CAMPAIGN_ID)
		return NULL;
	return make_cond(LEMLIST_FILTER_CAMPAIGN_ID, LEMLIST_OP_EQ,
					 (Expr *) makeNullConst(TEXTOID, -1, InvalidOid));
}

/*
 * coerce_comparand
 *		A date comparand as the type the comparison sees it (the column's,
 *		or the cast's): timestamptz, timestamp or date.  The cross-type
 *		operators compare a date or a timestamp as the timestamptz it denotes
 *		in the session time zone, which is exactly what the cast does;
 *		converting at run time keeps a cached plan right when the time zone
 *		changes.  A date comparison takes only dates.
 */
static Node *
coerce_comparand(Node *expr, Oid type)
{
	Oid			exprtype = exprType(expr);
	Oid			elemtype = get_element_type(type);
	Oid			want = OidIsValid(elemtype) ? elemtype : type;
	Oid			have = OidIsValid(elemtype) ? get_element_type(exprtype) : exprtype;

	if (exprtype == type)
		return expr;
	if (want == DATEOID || (want == TIMESTAMPOID && have == TIMESTAMPTZOID))
		return NULL;
	if (have != TIMESTAMPTZOID && have != TIMESTAMPOID && have != DATEOID)
		return NULL;
	return coerce_to_target_type(NULL, expr, exprtype, type, -1,
								 COERCION_EXPLICIT, COERCE_EXPLICIT_CAST, -1);
}

/*
 * btree_strategy
 *		The strategy of opno in a built-in btree opfamily, for these operand
 *		types; 0 if none
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

	/* varchar has no operators of its own: text's, through the coercion */
	if (lefttype == VARCHAROID || righttype == VARCHAROID)
		return btree_strategy(opno, lefttype == VARCHAROID ? TEXTOID : lefttype,
							  righttype == VARCHAROID ? TEXTOID : righttype);
	return 0;
}

/*
 * commute_strategy
 *		"expr op col" is "col op' expr", op' the commutator of op
 */
static int
commute_strategy(int strategy)
{
	switch (strategy)
	{
		case BTLessStrategyNumber:
			return BTGreaterStrategyNumber;
		case BTLessEqualStrategyNumber:
			return BTGreaterEqualStrategyNumber;
		case BTGreaterEqualStrategyNumber:
			return BTLessEqualStrategyNumber;
		case BTGreaterStrategyNumber:
			return BTLessStrategyNumber;
		default:
			return strategy;
	}
}

/*
 * contain_params
 *		Whether an expression holds a Param (or a SubPlan)
 */
static bool
contain_params_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param) || IsA(node, SubPlan))
		return true;
	return expression_tree_walker(node, contain_params_walker, context);
}

static bool
contain_params(Node *node)
{
	return contain_params_walker(node, NULL);
}

/*
 * echo_filter
 *		The filter a column echoes in the rows of a stats table
 *		(start_date, end_date, send_user, ab_selected, channel), or
 *		LEMLIST_FILTER_NONE.
 */
static LemlistFilterKind
echo_filter(const LemlistColumn *col)
{
	if (col->dropped || col->source != LEMLIST_SRC_FILTER)
		return LEMLIST_FILTER_NONE;
	switch (col->filter)
	{
		case LEMLIST_FILTER_START_DATE:
		case LEMLIST_FILTER_END_DATE:
		case LEMLIST_FILTER_SEND_USER:
		case LEMLIST_FILTER_AB_SELECTED:
		case LEMLIST_FILTER_CHANNEL:
			return col->filter;
		default:
			return LEMLIST_FILTER_NONE;
	}
}

/*
 * test_cond
 *		A clause no request field carries, seen as a test of the values the
 *		requests are made with.
 *
 * A clause whose only columns are echo columns (dates, send_user,
 * ab_selected, channel) is true or false for all the rows of one filter
 * combination alike: the scan evaluates it once per combination, on a row
 * holding the combination's values, and requests only the combinations it
 * holds for (LEMLIST_OP_TEST).  ab_selected and channel have finite
 * domains, so such a clause alone decides their values.  A clause whose
 * only column is campaign_id is evaluated on each listed ID before it is
 * batched (LEMLIST_OP_ID_TEST).  Any other clause on an echo column would
 * be rechecked on rows computed under other filters and drop them: with
 * report, that is an ERROR; without, the clause is left alone.  Clauses on
 * other columns are ordinary local quals (NULL).
 */
static LemlistCond *
test_cond(PlannerInfo *root, RelOptInfo *baserel, const LemlistColumn *columns,
		  int natts, Expr *clause, bool report)
{
	Bitmapset  *attnos = NULL;
	int			refs = 0;
	bool		other = false;
	bool		id = false;
	int			x = -1;
	LemlistCond *cond;

	pull_varattnos((Node *) clause, baserel->relid, &attnos);
	while ((x = bms_next_member(attnos, x)) >= 0)
	{
		AttrNumber	attno = x + FirstLowInvalidHeapAttributeNumber;
		LemlistFilterKind filter;

		if (attno <= 0 || attno > natts)
		{
			other = true;
			continue;
		}
		filter = echo_filter(&columns[attno - 1]);
		if (filter != LEMLIST_FILTER_NONE)
			refs |= FILTER_BIT(filter);
		else if (columns[attno - 1].pushdown == LEMLIST_FILTER_CAMPAIGN_ID)
			id = true;
		else
			other = true;
	}

	if (refs == 0)
	{
		/* campaign_id alone: narrow the listed IDs before batching them */
		if (id && !other && is_test_safe(root, baserel, clause))
		{
			cond = make_cond(LEMLIST_FILTER_NONE, LEMLIST_OP_ID_TEST, clause);
			cond->refs = FILTER_BIT(LEMLIST_FILTER_CAMPAIGN_ID);
			return cond;
		}
		return NULL;
	}

	if (other || id || !is_test_safe(root, baserel, clause))
	{
		if (report)
			report_unsendable(root, baserel, columns, natts, clause);
		return NULL;
	}

	cond = make_cond(LEMLIST_FILTER_NONE, LEMLIST_OP_TEST, clause);
	cond->refs = refs;
	return cond;
}

/*
 * is_test_safe
 *		Whether a clause can be evaluated by the scan, before any row, on
 *		values of the scanned relation's columns: nothing of another
 *		relation, nothing volatile or set-returning, no SubPlan.
 */
static bool
is_test_safe(PlannerInfo *root, RelOptInfo *baserel, Expr *clause)
{
	Relids		varnos = lemlist_pull_varnos(root, (Node *) clause);

	if (!bms_is_subset(varnos, baserel->relids))
		return false;
	return !contain_volatile_functions((Node *) clause) &&
		!expression_returns_set((Node *) clause) &&
		!contain_subplans((Node *) clause);
}

/*
 * lemlist_clause_text
 *		A clause of the query as SQL, for a message; prefix: with its
 *		relations' names
 */
char *
lemlist_clause_text(PlannerInfo *root, Expr *clause, bool prefix)
{
	PlannedStmt *pstmt = makeNode(PlannedStmt);
	List	   *rtable = root->parse->rtable;
	List	   *names;

	pstmt->rtable = rtable;
	names = select_rtable_names_for_explain(rtable,
											bms_add_range(NULL, 1, list_length(rtable)));
	return deparse_expression((Node *) clause,
							  deparse_context_for_plan_tree(pstmt, names),
							  prefix, false);
}

/*
 * report_unsendable
 *		ERROR: a clause on an echo column that no request can carry
 */
static void
report_unsendable(PlannerInfo *root, RelOptInfo *baserel,
				  const LemlistColumn *columns, int natts, Expr *clause)
{
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	char	   *relname = get_rel_name(rte->relid);
	Bitmapset  *attnos = NULL;
	const char *colname = NULL;
	int			x = -1;

	pull_varattnos((Node *) clause, baserel->relid, &attnos);
	while ((x = bms_next_member(attnos, x)) >= 0)
	{
		AttrNumber	attno = x + FirstLowInvalidHeapAttributeNumber;

		if (attno > 0 && attno <= natts &&
			echo_filter(&columns[attno - 1]) != LEMLIST_FILTER_NONE)
		{
			colname = columns[attno - 1].name;
			break;
		}
	}

	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("lemlist_fdw cannot send the condition on column \"%s\" of foreign table \"%s\"",
					colname ? colname : "?", relname),
			 errdetail("The condition is: %s.  Every row echoes the filters of its request, so a condition that no request carries would drop the rows.",
					   lemlist_clause_text(root, clause, false)),
			 errhint("Sent are: =, IN (...), = ANY(array) and ORs of those on campaign_id, send_user and the dates; start_date >= or > and end_date <= or < a value (also cast to date or timestamp); any condition on ab_selected and channel alone; and, next to those, other conditions on these columns alone.")));
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

		/* a test is known at plan time when it holds no parameter */
		if (cond->op == LEMLIST_OP_TEST || cond->op == LEMLIST_OP_ID_TEST)
		{
			if (contain_params((Node *) cond->expr))
				return false;
		}
		else if (!IsA(cond->expr, Const))
			return false;
	}
	return true;
}


/* ---------------------------------------------------------------------
 * What the requests of a scan carry: its conditions, evaluated and combined
 *
 * The section above chose the conditions at plan time; here, once per
 * execution (or at plan time and for EXPLAIN when they are all constants),
 * they are evaluated and combined into the filter values of the scan's
 * requests and the combinations those fan out to.  Each row echoes the
 * values sent and PostgreSQL rechecks every clause on it, so the values
 * sent must satisfy every clause they came from.  Hence:
 *
 * - Every text literal is validated (below) before anything is combined,
 *	 so that an impossible value is an error even when another clause makes
 *	 the scan empty.
 * - The arms of an OR give the union of their values; several clauses on
 *	 one filter give the intersection, each value kept where it first
 *	 appeared.  Dates are whole milliseconds, the API's precision: a value
 *	 that is not cannot be sent, and bounds are rounded inwards, so that the
 *	 value sent (and echoed) still satisfies every bound.  When no value
 *	 can, the scan is known to be empty and sends nothing.
 * - A filter no clause constrains is not sent (without campaign_id, the
 *	 team's campaigns are listed), except the dates, which take the
 *	 defaults the caller passes.
 * - Each combination of dates, sendUser, ABSelected and channel values is
 *	 a whole set of batch requests, so their number is capped.
 *
 * ---------------------------------------------------------------------
 */
/* At most this many filter combinations per scan. */
#define LEMLIST_MAX_COMBINATIONS	32

/* Microseconds per millisecond: the API's timestamps have ms precision. */
#define USECS_PER_MSEC	INT64CONST(1000)

/* One determining condition after evaluation. */
typedef struct EvaluatedCond
{
	LemlistCond *cond;
	LemlistCondOp op;			/* dates: the op on the instant, day modes resolved */
	List	   *values;			/* EQ, IN: the value set (char *, or TimestampTz *) */
	TimestampTz ts;				/* date bounds: the comparand */
	bool		isnull;			/* date bounds: the comparand is NULL */
} EvaluatedCond;

/* A string and where it first appeared, for sorting without losing order. */
typedef struct PositionedValue
{
	const char *value;
	int			position;
} PositionedValue;

static Datum eval_cond_expr(LemlistCond *cond, ExprState *state,
							ExprContext *econtext, bool *isnull);
static List *comparand_elements(LemlistCond *cond, Datum value, bool isnull,
								Oid *elemtype);
static char *text_value(Datum value, Oid type);
static void eval_date(EvaluatedCond *ec, Datum value, bool isnull);
static TimestampTz date_instant(Datum value, Oid type, int mode, bool end, bool *ok);
static int	compare_positioned(const void *a, const void *b);
static int	compare_strings(const void *a, const void *b);
static List *unique_values(List *values);
static List *unique_instants(List *values);
static List *intersect_instants(List *a, List *b);
static TimestampTz floor_msec(TimestampTz ts);
static TimestampTz ceil_msec(TimestampTz ts);
static List *combine_dates(List *evaluated, LemlistFilterKind filter,
						   TimestampTz fallback);
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
 * comparand_elements
 *		The non-NULL values a condition's comparand allows, as Datums of
 *		*elemtype: one for "=", the elements for "= ANY".  NULL allows nothing.
 */
static List *
comparand_elements(LemlistCond *cond, Datum value, bool isnull, Oid *elemtype)
{
	List	   *values = NIL;
	ArrayType  *array;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	*elemtype = exprType((Node *) cond->expr);
	if (isnull)
		return NIL;
	if (cond->op != LEMLIST_OP_IN)
		return list_make1((void *) DatumGetPointer(value));

	array = DatumGetArrayTypeP(value);
	*elemtype = ARR_ELEMTYPE(array);
	get_typlenbyvalalign(*elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, *elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &nelems);
	for (int i = 0; i < nelems; i++)
	{
		if (!nulls[i])
			values = lappend(values, (void *) DatumGetPointer(elems[i]));
	}
	return values;
}

/*
 * text_value
 *		The string a text comparand sends: char(n)'s trailing blanks are not
 *		part of its value
 */
static char *
text_value(Datum value, Oid type)
{
	char	   *s;
	int			len;

	switch (type)
	{
		case NAMEOID:
			return pstrdup(NameStr(*DatumGetName(value)));
		case BPCHAROID:
			s = TextDatumGetCString(value);
			len = strlen(s);
			while (len > 0 && s[len - 1] == ' ')
				s[--len] = '\0';
			return s;
		case TEXTOID:
		case VARCHAROID:
			return TextDatumGetCString(value);
		default:
			elog(ERROR, "unexpected type %u of a lemlist filter value", type);
	}
}

/*
 * date_instant
 *		The instant a date comparand stands for, for a start date or an end
 *		date: a timestamptz as is; a timestamp of a timestamp column as a UTC
 *		wall time; a date as a day, in UTC (a column of type date, or a
 *		timestamp column's date) or in the session's time zone (a timestamptz
 *		column's date), whose first millisecond a start date takes and whose
 *		last an end date.  *ok is cleared when it is out of range.
 */
static TimestampTz
date_instant(Datum value, Oid type, int mode, bool end, bool *ok)
{
	TimestampTz ts;

	*ok = true;
	if (type == TIMESTAMPTZOID || type == TIMESTAMPOID)
		return DatumGetTimestampTz(value);	/* a UTC wall time is the instant */

	Assert(type == DATEOID);
	if (DATE_NOT_FINITE(DatumGetDateADT(value)))
		return DATE_IS_NOBEGIN(DatumGetDateADT(value)) ? DT_NOBEGIN : DT_NOEND;
	if (mode == LEMLIST_DATE_LOCAL_DAY)
		ts = lemlist_date2timestamptz(DatumGetDateADT(value) + (end ? 1 : 0), ok);
	else
		ts = (TimestampTz) (DatumGetDateADT(value) + (end ? 1 : 0)) * USECS_PER_DAY;
	if (!IS_VALID_TIMESTAMP(ts))
		*ok = false;
	return end ? ts - USECS_PER_MSEC : ts;
}

/*
 * eval_date
 *		A date condition's value(s) as instants, and the op on them: a day
 *		compared "> D" by a start date starts the day after, "< D" by an end
 *		date ends the day before
 */
static void
eval_date(EvaluatedCond *ec, Datum value, bool isnull)
{
	LemlistCond *cond = ec->cond;
	bool		end = (cond->filter == LEMLIST_FILTER_END_DATE);
	bool		day = (cond->mode == LEMLIST_DATE_UTC_DAY ||
					   cond->mode == LEMLIST_DATE_LOCAL_DAY);
	Oid			type;
	List	   *elems;
	ListCell   *lc;
	bool		ok;

	ec->op = cond->op;
	elems = comparand_elements(cond, value, isnull, &type);
	if (cond->op == LEMLIST_OP_EQ || cond->op == LEMLIST_OP_IN)
	{
		ec->op = LEMLIST_OP_IN;
		foreach(lc, elems)
		{
			TimestampTz *ts = palloc(sizeof(TimestampTz));

			*ts = date_instant(PointerGetDatum(lfirst(lc)), type, cond->mode, end, &ok);
			if (ok)
				ec->values = lappend(ec->values, ts);
		}
		return;
	}

	ec->isnull = (elems == NIL);
	if (ec->isnull)
		return;
	if (day)
	{
		/* "start >= D", "start > D" (the next day), "end <= D", "end < D" (the day before) */
		bool		strict = (cond->op == LEMLIST_OP_GT || cond->op == LEMLIST_OP_LT);
		Datum		d = DateADTGetDatum(DatumGetDateADT(PointerGetDatum(linitial(elems))) +
									   (strict ? (end ? -1 : 1) : 0));

		ec->ts = date_instant(d, DATEOID, cond->mode, end, &ok);
		ec->op = end ? LEMLIST_OP_LE : LEMLIST_OP_GE;
		if (!ok)
			ec->ts = end ? DT_NOBEGIN : DT_NOEND;
		return;
	}
	ec->ts = date_instant(PointerGetDatum(linitial(elems)), type, cond->mode, end, &ok);
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
 * lemlist_intersect_values
 *		The strings of a (in a's order) that are also in b.
 */
List *
lemlist_intersect_values(List *a, List *b)
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
 * unique_instants / intersect_instants
 *		As unique_values and intersect_values, for lists of TimestampTz *
 *		(date lists are short)
 */
static List *
unique_instants(List *values)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, values)
	{
		TimestampTz ts = *(TimestampTz *) lfirst(lc);
		bool		seen = false;
		ListCell   *lc2;

		foreach(lc2, result)
			seen |= (*(TimestampTz *) lfirst(lc2) == ts);
		if (!seen)
			result = lappend(result, lfirst(lc));
	}
	return result;
}

static List *
intersect_instants(List *a, List *b)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, a)
	{
		TimestampTz ts = *(TimestampTz *) lfirst(lc);
		ListCell   *lc2;

		foreach(lc2, b)
		{
			if (*(TimestampTz *) lfirst(lc2) == ts)
			{
				result = lappend(result, lfirst(lc));
				break;
			}
		}
	}
	return result;
}

/*
 * combine_dates
 *		The startDates (or endDates) to send given the start_date (end_date)
 *		conditions: NIL when none satisfies them all.
 *
 * Every row echoes the value sent, so it must pass each clause's recheck.
 * With equalities or IN lists (united within an OR, intersected across
 * clauses), their whole-millisecond values that satisfy every bound.
 * Otherwise one value: the bounds of start_date ask for the smallest whole
 * millisecond at or after (">=") or strictly after (">") t, those of
 * end_date for the largest at or before ("<=") or strictly before ("<");
 * without any, the fallback.  Infinite comparands cannot be sent: a bound
 * on the far side (start_date >= -infinity, end_date <= +infinity) bounds
 * nothing, one on the near side is unreachable by any finite value.
 */
static List *
combine_dates(List *evaluated, LemlistFilterKind filter, TimestampTz fallback)
{
	bool		is_start = (filter == LEMLIST_FILTER_START_DATE);
	bool		have_set = false;
	bool		have_bound = false;
	List	   *set = NIL;
	List	   *pending = NIL;
	int			group = -1;
	TimestampTz limit = 0;
	TimestampTz *result;
	List	   *kept = NIL;
	ListCell   *lc;

	foreach(lc, evaluated)
	{
		EvaluatedCond *ec = lfirst(lc);
		TimestampTz ts = ec->ts;
		TimestampTz bound;
		bool		strict;

		if (ec->cond->filter != filter)
			continue;

		if (ec->op == LEMLIST_OP_IN)
		{
			ListCell   *vlc;

			if (ec->cond->group != group)
			{
				if (group >= 0)
					set = have_set ? intersect_instants(set, pending) : unique_instants(pending);
				have_set = have_set || group >= 0;
				pending = NIL;
				group = ec->cond->group;
			}
			foreach(vlc, ec->values)
			{
				TimestampTz v = *(TimestampTz *) lfirst(vlc);

				if (!TIMESTAMP_NOT_FINITE(v) && floor_msec(v) == v)
					pending = lappend(pending, lfirst(vlc));
			}
			continue;
		}

		if (ec->isnull)
			return NIL;
		if (is_start ? TIMESTAMP_IS_NOBEGIN(ts) : TIMESTAMP_IS_NOEND(ts))
			continue;
		if (TIMESTAMP_NOT_FINITE(ts))
			return NIL;
		strict = (ec->op == LEMLIST_OP_GT || ec->op == LEMLIST_OP_LT);
		if (is_start)
			bound = strict ? floor_msec(ts) + USECS_PER_MSEC : ceil_msec(ts);
		else
			bound = strict ? ceil_msec(ts) - USECS_PER_MSEC : floor_msec(ts);
		if (!have_bound || (is_start ? bound > limit : bound < limit))
			limit = bound;
		have_bound = true;
	}
	if (group >= 0)
	{
		set = have_set ? intersect_instants(set, pending) : unique_instants(pending);
		have_set = true;
	}

	if (have_set)
	{
		/* whole milliseconds within the limit pass every bound */
		foreach(lc, set)
		{
			TimestampTz v = *(TimestampTz *) lfirst(lc);

			if (!have_bound || (is_start ? v >= limit : v <= limit))
				kept = lappend(kept, lfirst(lc));
		}
		return kept;
	}

	result = palloc(sizeof(TimestampTz));
	*result = have_bound ? limit : fallback;
	return list_make1(result);
}

/*
 * lemlist_join_key_text
 *		The value a join key's expression gave, as it is sent (and echoed):
 *		the text of a text filter, the instant of a date as the API writes
 *		it.  NULL when no row can match it: NULL, a value the API can never
 *		accept, a date that is no whole millisecond or out of range.
 */
char *
lemlist_join_key_text(LemlistCond *cond, Datum value, bool isnull)
{
	Oid			type = exprType((Node *) cond->expr);
	TimestampTz ts;
	bool		ok;
	struct pg_tm tm;
	fsec_t		fsec;

	if (isnull)
		return NULL;
	if (lemlist_is_text_filter(cond->filter))
	{
		char	   *s = text_value(value, type);

		return (s[0] != '\0' && lemlist_filter_value_ok(cond->filter, s)) ? s : NULL;
	}

	ts = date_instant(value, type, cond->mode, cond->filter == LEMLIST_FILTER_END_DATE, &ok);
	if (!ok || TIMESTAMP_NOT_FINITE(ts) || floor_msec(ts) != ts ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		return NULL;
	return lemlist_format_timestamp(ts);
}

/*
 * lemlist_eval_conds
 *		Evaluate the determining conditions of one scan and combine them into
 *		the values its requests will carry.
 *
 * exprstates parallels conds; NIL means that every expression is a Const and
 * is read directly (at plan time, and for plain EXPLAIN).  The tests are the
 * scan's to evaluate; here they only say which finite filters they decide.
 * Every literal is validated before any combining, so that an impossible
 * value is an error even when another clause makes the scan empty.
 */
void
lemlist_eval_conds(List *conds, List *exprstates, ExprContext *econtext,
				   TimestampTz default_start, TimestampTz default_end,
				   LemlistFilterValues *out)
{
	List	   *evaluated = NIL;
	List	   *sets[LEMLIST_NUM_FILTERS];
	List	   *pending[LEMLIST_NUM_FILTERS];
	int			groups[LEMLIST_NUM_FILTERS];
	bool		constrained[LEMLIST_NUM_FILTERS];
	int			tested = 0;
	ListCell   *lc;
	int			i;

	memset(out, 0, sizeof(LemlistFilterValues));
	memset(sets, 0, sizeof(sets));
	memset(pending, 0, sizeof(pending));
	memset(constrained, 0, sizeof(constrained));
	for (i = 0; i < LEMLIST_NUM_FILTERS; i++)
		groups[i] = -1;

	if (exprstates != NIL && list_length(exprstates) != list_length(conds))
		elog(ERROR, "lemlist filter conditions and expression states do not match");

	/* Evaluate everything and validate every text value. */
	i = 0;
	foreach(lc, conds)
	{
		LemlistCond *cond = (LemlistCond *) lfirst(lc);
		ExprState  *state = NULL;
		EvaluatedCond *ec;
		Datum		value;
		bool		isnull;

		if (exprstates != NIL)
			state = (ExprState *) list_nth(exprstates, i);
		i++;

		/* the tests are the scan's to evaluate, on each combination */
		if (cond->op == LEMLIST_OP_TEST || cond->op == LEMLIST_OP_ID_TEST)
		{
			tested |= cond->refs;
			continue;
		}

		ec = (EvaluatedCond *) palloc0(sizeof(EvaluatedCond));
		ec->cond = cond;
		value = eval_cond_expr(cond, state, econtext, &isnull);
		if (lemlist_is_text_filter(cond->filter))
		{
			Oid			type;
			ListCell   *vlc;

			ec->op = LEMLIST_OP_IN;
			foreach(vlc, comparand_elements(cond, value, isnull, &type))
			{
				char	   *s = text_value(PointerGetDatum(lfirst(vlc)), type);

				lemlist_check_filter_value(cond->filter, s);
				ec->values = lappend(ec->values, s);
			}
		}
		else if (lemlist_is_date_filter(cond->filter))
			eval_date(ec, value, isnull);
		else
			elog(ERROR, "unrecognized lemlist filter: %d", (int) cond->filter);

		evaluated = lappend(evaluated, ec);
	}

	/*
	 * Each text filter's values: the union of an OR's arms (one group), the
	 * intersection of the groups.
	 */
	foreach(lc, evaluated)
	{
		EvaluatedCond *ec = lfirst(lc);
		LemlistFilterKind f = ec->cond->filter;

		if (!lemlist_is_text_filter(f))
			continue;
		if (ec->cond->group != groups[f])
		{
			if (groups[f] >= 0)
			{
				sets[f] = constrained[f] ? lemlist_intersect_values(sets[f], unique_values(pending[f])) :
					unique_values(pending[f]);
				constrained[f] = true;
			}
			pending[f] = NIL;
			groups[f] = ec->cond->group;
		}
		pending[f] = list_concat(pending[f], ec->values);
	}
	for (int f = 0; f < LEMLIST_NUM_FILTERS; f++)
	{
		if (groups[f] < 0)
			continue;
		sets[f] = constrained[f] ? lemlist_intersect_values(sets[f], unique_values(pending[f])) :
			unique_values(pending[f]);
		constrained[f] = true;
	}

	/*
	 * A finite filter that only tests decide: every value of its domain,
	 * "not filtered" included, for the scan to test.
	 */
	for (int f = LEMLIST_FILTER_AB_SELECTED; f <= LEMLIST_FILTER_CHANNEL; f++)
	{
		if (constrained[f] || !(tested & (1 << f)))
			continue;
		constrained[f] = true;
		sets[f] = (f == LEMLIST_FILTER_AB_SELECTED) ?
			list_make3("A", "B", NULL) :
			list_make4("email", "linkedin", "others", NULL);
	}

	for (int f = 0; f < LEMLIST_NUM_FILTERS; f++)
	{
		if (constrained[f])
			out->constrained |= 1 << f;
	}
	foreach(lc, evaluated)
	{
		LemlistFilterKind f = ((EvaluatedCond *) lfirst(lc))->cond->filter;

		if (lemlist_is_date_filter(f))
			out->constrained |= 1 << f;
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
	out->start_dates = combine_dates(evaluated, LEMLIST_FILTER_START_DATE, default_start);
	out->end_dates = combine_dates(evaluated, LEMLIST_FILTER_END_DATE, default_end);
	if (out->start_dates == NIL || out->end_dates == NIL)
		out->empty = true;
}

/*
 * lemlist_check_combinations
 *		Each combination is a whole set of batch requests, so their number
 *		is capped at LEMLIST_MAX_COMBINATIONS: once the tests have pruned
 *		them, before anything is sent
 */
void
lemlist_check_combinations(int64 n)
{
	if (n > LEMLIST_MAX_COMBINATIONS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many lemlist filter combinations: %lld",
						(long long) n),
				 errdetail("Each combination of start_date, end_date, send_user, ab_selected and channel values is a separate set of requests; at most %d are allowed.",
						   LEMLIST_MAX_COMBINATIONS),
				 errhint("Narrow the IN lists or split the query.")));
}

/*
 * lemlist_combinations
 *		The cartesian product start dates x end dates x send_users x
 *		ab_selected x channels, outer to inner, as a List of LemlistCombo.
 *		An empty scan has none.
 *
 * The tests may still prune them (at most the 3 x 4 values of the finite
 * filters' domains), so only a product beyond what they could bring under
 * the cap fails here; lemlist_check_combinations counts what is left.
 */
List *
lemlist_combinations(const LemlistFilterValues *fv)
{
	List	   *combos = NIL;
	int64		n;
	ListCell   *lcs,
			   *lce,
			   *lc1,
			   *lc2,
			   *lc3;

	if (fv->empty)
		return NIL;

	n = (int64) list_length(fv->start_dates) * list_length(fv->end_dates) *
		list_length(fv->send_users) * list_length(fv->ab_selected) *
		list_length(fv->channels);
	if (n > (int64) LEMLIST_MAX_COMBINATIONS * 3 * 4)
		lemlist_check_combinations(n);

	foreach(lcs, fv->start_dates)
	{
		char	   *start = lemlist_format_timestamp(*(TimestampTz *) lfirst(lcs));

		foreach(lce, fv->end_dates)
		{
			char	   *end = lemlist_format_timestamp(*(TimestampTz *) lfirst(lce));

			foreach(lc1, fv->send_users)
			{
				foreach(lc2, fv->ab_selected)
				{
					foreach(lc3, fv->channels)
					{
						LemlistCombo *combo = (LemlistCombo *) palloc0(sizeof(LemlistCombo));

						combo->start_date = start;
						combo->end_date = end;
						combo->send_user = (char *) lfirst(lc1);
						combo->ab_selected = (char *) lfirst(lc2);
						combo->channel = (char *) lfirst(lc3);
						combos = lappend(combos, combo);
					}
				}
			}
		}
	}

	return combos;
}

/*
 * lemlist_combo_field
 *		Where a combination keeps the value it sends for a filter (NULL:
 *		the filter is no field of a combination)
 */
char	  **
lemlist_combo_field(LemlistCombo *combo, LemlistFilterKind filter)
{
	switch (filter)
	{
		case LEMLIST_FILTER_START_DATE:
			return &combo->start_date;
		case LEMLIST_FILTER_END_DATE:
			return &combo->end_date;
		case LEMLIST_FILTER_SEND_USER:
			return &combo->send_user;
		case LEMLIST_FILTER_AB_SELECTED:
			return &combo->ab_selected;
		case LEMLIST_FILTER_CHANNEL:
			return &combo->channel;
		default:
			return NULL;
	}
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
 * lemlist_filter_value_ok
 *		Whether the API can accept a value for filter.  A pure function of
 *		its input: no catalog, no locale.
 */
/*
 * lemlist_filter_domain_size
 *		How many values a finite filter takes (its domain, "not filtered"
 *		aside): 2 for ab_selected, 3 for channel; 0 for the others
 */
int
lemlist_filter_domain_size(LemlistFilterKind filter)
{
	switch (filter)
	{
		case LEMLIST_FILTER_AB_SELECTED:
			return 2;
		case LEMLIST_FILTER_CHANNEL:
			return 3;
		default:
			return 0;
	}
}

bool
lemlist_filter_value_ok(LemlistFilterKind filter, const char *value)
{
	/* NULL is "not filtered", always acceptable */
	if (value == NULL)
		return true;

	switch (filter)
	{
		case LEMLIST_FILTER_CHANNEL:
			return strcmp(value, "email") == 0 || strcmp(value, "linkedin") == 0 ||
				strcmp(value, "others") == 0;
		case LEMLIST_FILTER_AB_SELECTED:
			return strcmp(value, "A") == 0 || strcmp(value, "B") == 0;
		case LEMLIST_FILTER_SEND_USER:
			return valid_send_user(value);
		default:
			/* campaign IDs, statuses and users are the API's to judge */
			return true;
	}
}

/*
 * lemlist_check_filter_value
 *		ERROR (22023) for a literal lemlist can never accept, naming the
 *		valid values
 */
void
lemlist_check_filter_value(LemlistFilterKind filter, const char *value)
{
	if (lemlist_filter_value_ok(filter, value))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for column \"%s\": \"%s\"",
					lemlist_filter_name(filter), value),
			 filter == LEMLIST_FILTER_CHANNEL ?
			 errhint("Valid values are: email, linkedin, others.") :
			 filter == LEMLIST_FILTER_AB_SELECTED ?
			 errhint("Valid values are: A, B.") :
			 errhint("send_user must have the form \"usr_<id>|<email>\", for example \"usr_abc123|jane@example.com\".")));
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
