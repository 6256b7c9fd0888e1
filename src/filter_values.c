/*-------------------------------------------------------------------------
 *
 * filter_values.c
 *		  Evaluation of a scan's conditions into the values of each filter
 *		  that its requests carry
 *
 * pushdown.c chooses the conditions at plan time.  This file evaluates them
 * once per execution (or at plan time and for EXPLAIN, when they are all
 * constants) and combines them into the filter values of the scan's
 * requests.  request_sets.c then makes the request sets from those values.
 * Each row echoes the values sent, and PostgreSQL rechecks every clause on
 * it, so the values sent must satisfy every clause they came from.  Hence:
 *
 * - Every text literal is validated (by literals.c) before anything is
 *	 combined, so that an impossible value is an error even when another
 *	 clause makes the scan empty.
 * - The arms of an OR give the union of their values.  Several clauses on
 *	 one filter give the intersection, and each value is kept where it first
 *	 appeared.  Dates are whole milliseconds, which is the API's precision.
 *	 A value that is not a whole millisecond cannot be sent, and bounds are
 *	 rounded inwards, so that the value sent (and echoed) still satisfies
 *	 every bound.  When no value can satisfy them, the scan is known to be
 *	 empty and sends nothing.
 * - A filter that no clause constrains is not sent (without campaign_id,
 *	 the team's campaigns are listed).  The dates are the exception: they
 *	 take the defaults that the caller passes.
 *
 * IDENTIFICATION
 *		  src/filter_values.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

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
 *		Compute the value of one condition's expression: with its ExprState,
 *		or straight from the Const when there is no ExprState.
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
 *		Return the non-NULL values that a condition's comparand allows, as
 *		Datums of type *elemtype: one value for "=", the array's elements for
 *		"= ANY".  A NULL comparand allows nothing.
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
 *		Return the string that a text comparand sends.  The trailing blanks of
 *		a char(n) value are not part of its value.
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
 *		Return the instant that a date comparand stands for, for a start date
 *		or an end date.  A timestamptz is taken as is.  A timestamp of a
 *		timestamp column is read as a UTC wall time.  A date is read as a day,
 *		either in UTC (for a column of type date, or the date of a timestamp
 *		column) or in the session's time zone (for the date of a timestamptz
 *		column).  A start date takes the first millisecond of the day, and an
 *		end date takes the last.  *ok is cleared when the instant is out of
 *		range.
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
 *		Convert the value or values of a date condition to instants, and set
 *		the op on them.  For a day, "start_date > D" means a start on the day
 *		after D, and "end_date < D" means an end on the day before D.
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
 *		Return values without duplicates, each kept where it first appeared.
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
 *		Return the strings of a that are also in b, in a's order.
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
 *		Return what a fan-out filter (send_user, ab_selected, channel) sends:
 *		one request set per value, or a single unfiltered request set (a NULL
 *		entry) when no clause constrains the filter.  An empty set makes the
 *		scan empty.
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
 *		Return what a filter of the campaigns list (status, createdBy) sends.
 *		The route takes only one value, so when there are several candidates
 *		we send none and let the local recheck filter the rows.  An empty set
 *		makes the scan empty.
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
 *		The same as unique_values and lemlist_intersect_values, for lists of
 *		TimestampTz * (date lists are short)
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
 *		Return the startDates (or endDates) to send, given the start_date (or
 *		end_date) conditions.  Return NIL when no value satisfies them all.
 *
 * Every row echoes the value sent, so the value must pass the recheck of
 * each clause.  When there are equalities or IN lists, the result is their
 * whole-millisecond values that satisfy every bound.  (Their values are
 * united within an OR and intersected across clauses.)  Otherwise the
 * result is one value.  The bounds on start_date ask for the smallest whole
 * millisecond at or after t (">=") or strictly after t (">").  The bounds
 * on end_date ask for the largest one at or before t ("<=") or strictly
 * before t ("<").  Without any bound, the result is the fallback.  Infinite
 * comparands cannot be sent.  A bound on the far side (start_date >=
 * -infinity, end_date <= +infinity) bounds nothing.  A bound on the near
 * side cannot be reached by any finite value.
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
 *		Return the value that a join key's expression gave, as it is sent
 *		(and echoed): the text for a text filter, or for a date the instant
 *		as the API writes it.  Return NULL when no row can match the value:
 *		when it is NULL, a value that the API can never accept, or a date
 *		that is not a whole millisecond or is out of range.
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
 * evaluate_conds
 *		Evaluate each determining condition of conds and validate its text
 *		values.  *tested gets the filters that the tests refer to.
 *
 * exprstates parallels conds; NIL means that every expression is a Const
 * and is read directly.  The scan evaluates the tests, on each
 * combination; here they only say which finite filters they decide.
 */
static List *
evaluate_conds(List *conds, List *exprstates, ExprContext *econtext, int *tested)
{
	List	   *evaluated = NIL;
	ListCell   *lc;

	if (exprstates != NIL && list_length(exprstates) != list_length(conds))
		elog(ERROR, "lemlist filter conditions and expression states do not match");

	*tested = 0;
	foreach(lc, conds)
	{
		LemlistCond *cond = (LemlistCond *) lfirst(lc);
		ExprState  *state = NULL;
		EvaluatedCond *ec;
		Datum		value;
		bool		isnull;

		if (exprstates != NIL)
			state = (ExprState *) list_nth(exprstates, foreach_current_index(lc));

		if (cond->op == LEMLIST_OP_TEST || cond->op == LEMLIST_OP_ID_TEST)
		{
			*tested |= cond->refs;
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
	return evaluated;
}

/*
 * close_group
 *		Take the values of one group (the arms of an OR) into a filter's
 *		set: the intersection with the groups before it, if any
 */
static void
close_group(List **set, bool *constrained, List *group_values)
{
	*set = *constrained ? lemlist_intersect_values(*set, unique_values(group_values)) :
		unique_values(group_values);
	*constrained = true;
}

/*
 * text_filter_sets
 *		Compute the values of each text filter f into sets[f], and set
 *		constrained[f] when a clause gives the filter values.  The arms of an
 *		OR (one group) give the union of their values, and the values of the
 *		groups are intersected.
 */
static void
text_filter_sets(List *evaluated, List **sets, bool *constrained)
{
	List	   *pending[LEMLIST_NUM_FILTERS];
	int			groups[LEMLIST_NUM_FILTERS];
	ListCell   *lc;

	memset(pending, 0, sizeof(pending));
	for (int f = 0; f < LEMLIST_NUM_FILTERS; f++)
		groups[f] = -1;

	foreach(lc, evaluated)
	{
		EvaluatedCond *ec = lfirst(lc);
		LemlistFilterKind f = ec->cond->filter;

		if (!lemlist_is_text_filter(f))
			continue;
		if (ec->cond->group != groups[f])
		{
			if (groups[f] >= 0)
				close_group(&sets[f], &constrained[f], pending[f]);
			pending[f] = NIL;
			groups[f] = ec->cond->group;
		}
		pending[f] = list_concat(pending[f], ec->values);
	}
	for (int f = 0; f < LEMLIST_NUM_FILTERS; f++)
	{
		if (groups[f] >= 0)
			close_group(&sets[f], &constrained[f], pending[f]);
	}
}

/*
 * tested_domains
 *		When only tests decide a finite filter, give the filter every value
 *		of its domain, "not filtered" included, for the scan to test
 */
static void
tested_domains(int tested, List **sets, bool *constrained)
{
	for (int f = LEMLIST_FILTER_AB_SELECTED; f <= LEMLIST_FILTER_CHANNEL; f++)
	{
		if (constrained[f] || !(tested & (1 << f)))
			continue;
		constrained[f] = true;
		sets[f] = (f == LEMLIST_FILTER_AB_SELECTED) ?
			list_make3("A", "B", NULL) :
			list_make4("email", "linkedin", "others", NULL);
	}
}

/*
 * lemlist_filter_values
 *		Evaluate the determining conditions of one scan and combine them into
 *		the values its requests will carry.
 *
 * exprstates parallels conds; NIL means that every expression is a Const and
 * is read directly (at plan time, and for plain EXPLAIN).  Every literal is
 * validated before any combining, so that an impossible value is an error
 * even when another clause makes the scan empty.
 */
void
lemlist_filter_values(List *conds, List *exprstates, ExprContext *econtext,
					  TimestampTz default_start, TimestampTz default_end,
					  LemlistFilterValues *out)
{
	List	   *sets[LEMLIST_NUM_FILTERS];
	bool		constrained[LEMLIST_NUM_FILTERS];
	int			tested;
	List	   *evaluated;
	ListCell   *lc;

	memset(out, 0, sizeof(LemlistFilterValues));
	memset(sets, 0, sizeof(sets));
	memset(constrained, 0, sizeof(constrained));

	evaluated = evaluate_conds(conds, exprstates, econtext, &tested);
	text_filter_sets(evaluated, sets, constrained);
	tested_domains(tested, sets, constrained);

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
 * lemlist_default_end_date
 *		Return the endDate to use when the query gives none: the statement's
 *		start, rounded up to a whole millisecond (lemlist's precision), so
 *		that the echoed end_date is never before now() or
 *		statement_timestamp().
 */
TimestampTz
lemlist_default_end_date(void)
{
	TimestampTz ts = GetCurrentStatementStartTimestamp();

	return ts + (1000 - ts % 1000) % 1000;
}


