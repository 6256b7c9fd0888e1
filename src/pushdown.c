/*-------------------------------------------------------------------------
 *
 * pushdown.c
 *		  Plan-time choice of the WHERE clauses of a lemlist foreign table
 *		  that become request fields
 *
 * lemlist answers with rows that echo the filters they were computed under:
 * a row of campaign_stats carries the campaignId, startDate, endDate,
 * sendUser, ABSelected and channel that its numbers belong to, and
 * PostgreSQL rechecks every clause on it.  The rows of a scan are therefore
 * the filter combinations that its WHERE clause selects.  This file
 * computes that set from the clauses themselves:
 *
 * - Some conditions give a filter its values; we call them "determining"
 *	 conditions.  They are equality, IN, = ANY and ORs of those on
 *	 campaign_id, send_user and the dates (one request set per value), and
 *	 the bounds that the API's dates mean (start_date >= or > t, end_date <=
 *	 or < t).  The value compared may be a constant, a parameter, an
 *	 initplan output or a stable expression.  Only built-in btree operators
 *	 count, and text equality counts only under a deterministic collation.
 *	 A date may be a column of type timestamptz, timestamp (read as a UTC
 *	 wall time) or date (read as a UTC day), or a timestamptz column cast to
 *	 date or timestamp (read in the session's time zone).
 * - Tests: the scan evaluates any other clause whose only columns are echo
 *	 columns.  It evaluates the clause on each combination of the values
 *	 that the requests would carry, and requests only the combinations for
 *	 which the clause holds.  ab_selected and channel have finite domains
 *	 (A and B; email, linkedin and others; plus NULL, meaning "not
 *	 filtered"), so a test alone decides their values.  A clause whose only
 *	 column is campaign_id is tested on each campaign before the statistics
 *	 of that campaign are requested.
 * - Any other clause on an echo column is an ERROR at plan time.  So is a
 *	 test on the dates or send_user when no determining condition gives the
 *	 test values to choose among.  The rows of such a clause would be
 *	 computed under other filters and then dropped by the recheck, and the
 *	 answer would be silently empty.
 *
 * At run time, filter_values.c evaluates the conditions chosen here into
 * the values that the requests carry, and request_sets.c makes request sets
 * of those values.
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

/* The filters that a test cannot decide alone: the dates and the sender. */
#define OPEN_FILTERS (FILTER_BIT(LEMLIST_FILTER_START_DATE) | \
					  FILTER_BIT(LEMLIST_FILTER_END_DATE) | \
					  FILTER_BIT(LEMLIST_FILTER_SEND_USER))

/* How a condition sees a filter column: which filter, through which type. */
typedef struct FilterSide
{
	LemlistFilterKind filter;
	Oid			type;			/* the type that the operator compares */
	int			mode;			/* dates: LemlistDateMode */
	bool		exact;			/* a timestamptz column as is (no test needed) */
} FilterSide;

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
 *		Find the conditions of "clauses" (RestrictInfos) that go into the
 *		requests: first the determining conditions, then the tests.
 *
 * Every clause also stays a local qual.  With report (for the restriction
 * clauses of a stats table), a clause on an echo column that is neither a
 * determining condition nor a test is an ERROR.  Without report (for join
 * clauses, and for the clauses of a plan already checked), such a clause is
 * left alone.
 */
List *
lemlist_extract_conds(PlannerInfo *root, RelOptInfo *baserel,
					  const LemlistColumn *columns, int natts,
					  List *clauses, bool report)
{
	List	   *conds = NIL;
	List	   *tests = NIL;
	int			determined = 0;	/* filters that a condition gives values to */
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
			/* with a cast or another column type, the clause is a test too */
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
	 * values that the determining conditions send.  Without such a
	 * condition, the test would be evaluated on the default values only,
	 * and the other rows would be silently lost.
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
 *		List the join clauses of baserel that read one of its echo columns.
 *		Each entry holds the column's filter, the clause, and the other
 *		relations that the clause reads.  The equalities that the planner
 *		keeps as equivalence classes count too; they are made into clauses
 *		(for messages).
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
			p->required = false;	/* an outer or anti join may keep NULLs */
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
 *		relation relid at this query level?
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
 *		Build a test that holds for every value in the domains of the finite
 *		filters (ab_selected, channel) that a join clause of baserel reads.
 *		Return NULL if no join clause reads them.
 *
 * A join clause cannot give a filter its values.  Without this test, the
 * scan would ask only for "all variants" or "all channels", and the join
 * would find no row for 'A' or 'email'.  With it, the scan asks for every
 * value (in all, the few combinations of two small domains), and the join
 * keeps the rows it matches.  Restriction clauses on the same filters still
 * narrow the values.  A parameterized path that sends the join clause does
 * not need the test.  When every such clause is an equality that every
 * joined row satisfies (the clause of an inner or semi join), the totals
 * ("all variants", NULL) never join.  The test is then that the column IS
 * NOT NULL, and only the values of the domain are asked for.
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
 *		expression of outer_relids alone, return the condition that sends
 *		the clause: its filter, the expression (as the comparison sees it)
 *		and its mode.  *exact is cleared when the clause must still be checked
 *		on the joined rows (a cast, a date or timestamp column).
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
 *		Return the conditions through which a clause gives one filter its
 *		values, or NIL if there are none.  "col op expr", "col IN (...)" and
 *		"col IS NULL" give one condition each ("col IS NULL" only on
 *		campaign_id, where it allows no value).  An OR of those on one filter
 *		gives one condition per arm; the arms share a group, so their values
 *		are united.
 *		*exact is cleared when the clause must also be tested as it is (a
 *		cast, a date or timestamp column).
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
 *		comparisons we know, fill *side with the filter and with how the
 *		column is seen.
 *
 * Text filters: a column of type text, varchar, char(n) or name (possibly
 * under a RelabelType, as varchar is when compared with text).  Dates: a
 * column of type timestamptz (compared as is), timestamp (its wall time in
 * UTC) or date (its day in UTC); a timestamptz column cast to timestamp or
 * date (in the session's time zone); or a timestamp column cast to date.
 * The echo of the value sent is read back through the same type, so the
 * value sent satisfies the comparison that the clause makes.
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
 *		Whether type is one that a text filter's column or comparand may have
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
 *		Make a condition of "col op expr" or "expr op col" when it is an
 *		equality on a text filter, or a built-in btree comparison on a date
 *		filter that matches what the API's field means (startDate is a lower
 *		bound, endDate an upper one).
 *
 * Only built-in operators count: a user-defined operator, even one in a
 * btree family, can mean anything.
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
 *		Make a condition of "col = ANY(array)" on a text or date filter.
 *		"col IN (...)" also becomes this form.
 *
 * Only the OR form counts.  "col <> ALL(array)" excludes values, which
 * leaves an open-ended set that no request can carry (on the finite
 * filters, such a clause can be a test).
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
 *		Make a condition of "campaign_id IS NULL".  Every campaign has an ID,
 *		so the condition makes no request.
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
 *		Convert a date comparand to the type that the comparison sees (the
 *		column's, or the cast's): timestamptz, timestamp or date.  The
 *		cross-type operators compare a date or a timestamp as the timestamptz
 *		it denotes in the session time zone, which is exactly what the cast
 *		does.  Converting at run time keeps a cached plan right when the time
 *		zone changes.  A date comparison takes only dates.
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
 *		Return the strategy of opno in a built-in btree opfamily for these
 *		operand types, or 0 if there is none
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

	/* varchar has no operators of its own: it uses text's, via coercion */
	if (lefttype == VARCHAROID || righttype == VARCHAROID)
		return btree_strategy(opno, lefttype == VARCHAROID ? TEXTOID : lefttype,
							  righttype == VARCHAROID ? TEXTOID : righttype);
	return 0;
}

/*
 * commute_strategy
 *		Turn the strategy of op in "expr op col" into the strategy of op' in
 *		the same clause written as "col op' expr", where op' is the commutator
 *		of op
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
 *		The filter that a column echoes in the rows of a stats table
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
 *		Treat a clause that no request field carries as a test of the values
 *		that the requests are made with.
 *
 * A clause whose only columns are echo columns (dates, send_user,
 * ab_selected, channel) is true or false alike for all the rows of one
 * filter combination.  The scan evaluates it once per combination, on a row
 * that holds the combination's values, and requests only the combinations
 * for which it holds (LEMLIST_OP_TEST).  ab_selected and channel have
 * finite domains, so such a clause alone decides their values.  A clause
 * whose only column is campaign_id is evaluated on each listed ID before
 * the ID is batched (LEMLIST_OP_ID_TEST).  Any other clause on an echo
 * column would be rechecked on rows computed under other filters, and it
 * would drop them.  With report, that is an ERROR; without report, the
 * clause is left alone.  Clauses on other columns are ordinary local quals,
 * and the result for them is NULL.
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
 *		Whether the scan can evaluate a clause before any row, on values of
 *		the scanned relation's columns.  The clause must read nothing of
 *		another relation, contain nothing volatile or set-returning, and
 *		contain no SubPlan.
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
 *		Write a clause of the query as SQL, for a message.  With prefix, the
 *		columns are qualified with their relations' names.
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
 *		Raise an ERROR for a clause on an echo column that no request can
 *		carry
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
