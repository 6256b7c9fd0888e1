/*-------------------------------------------------------------------------
 *
 * filters.c
 *		  What the requests of a scan carry: its pushed-down conditions,
 *		  evaluated and combined
 *
 * pushdown.c chose the conditions at plan time; here, once per execution
 * (or at plan time and for EXPLAIN when they are all constants), they are
 * evaluated and combined into the filter values of the scan's requests and
 * the combinations those fan out to.  pushdown.c's rule holds throughout:
 * each row echoes the values sent and PostgreSQL rechecks every clause on
 * it, so the values sent must satisfy every clause they came from.  Hence:
 *
 * - Every text literal is validated (literals.c) before anything is
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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/executor.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

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
