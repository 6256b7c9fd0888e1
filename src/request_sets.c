/*-------------------------------------------------------------------------
 *
 * request_sets.c
 *		  The request sets of one execution of a scan, and how EXPLAIN shows
 *		  them
 *
 * A request set is one combination of the filters' values (startDate,
 * endDate, sendUser, ABSelected, channel) with the campaigns it asks for:
 * one batch request per 100 of its campaign IDs, or, when no campaign_id
 * condition names them, the team's campaigns as the listing brings them.
 * The executor gets its request sets with one call, lemlist_request_sets,
 * given the scan's conditions (LemlistRequestSpec) and their parameters:
 *
 * - filter_values.c evaluates the conditions into each filter's values;
 *	 their cartesian product is the scan's own combinations.
 * - The inner side of a batched join (join.c) is also given key sets
 *	 before each execution: each key set with each of the table's own
 *	 combinations that allows it is a request set, with the key set's
 *	 campaign IDs, and the team is never listed.
 * - The tests (pushdown.c's clauses on the echo columns alone, evaluated by
 *	 the scan on a row of each combination's values, and its clauses on
 *	 campaign_id alone, on each ID) keep only what they hold for, so that
 *	 only what the clauses select is asked for.
 * - Each combination is a whole set of batch requests, so their number is
 *	 capped (LEMLIST_MAX_COMBINATIONS), once the tests have pruned them.
 *
 * EXPLAIN shows the request sets without sending anything: those an
 * execution made, or, before one, those the plan's constant conditions make
 * (otherwise "computed at run time").
 *
 * IDENTIFICATION
 *		  src/request_sets.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/explain.h"
#include "lib/stringinfo.h"
#include "nodes/value.h"

#include "lemlist_fdw.h"

/* At most this many filter combinations per scan. */
#define LEMLIST_MAX_COMBINATIONS	32

/*
 * lemlist_check_combinations
 *		Raise an ERROR when there are more than LEMLIST_MAX_COMBINATIONS
 *		combinations.  Each combination is a whole set of batch requests.
 *		The count is checked once the tests have pruned the combinations,
 *		before anything is sent.
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
 * lemlist_combination_count
 *		Return how many combinations the filter values make before the
 *		tests prune them; 0 for an empty scan.
 *
 * The tests may still remove combinations, at most those of the 3 x 4
 * values of the finite filters' domains.  So this fails only on a product
 * that the tests could never bring under the cap;
 * lemlist_check_combinations counts what the tests leave.
 */
int64
lemlist_combination_count(const LemlistFilterValues *fv)
{
	int64		n;

	if (fv->empty)
		return 0;
	n = (int64) list_length(fv->start_dates) * list_length(fv->end_dates) *
		list_length(fv->send_users) * list_length(fv->ab_selected) *
		list_length(fv->channels);
	if (n > (int64) LEMLIST_MAX_COMBINATIONS * 3 * 4)
		lemlist_check_combinations(n);
	return n;
}

/*
 * combinations
 *		Return the cartesian product start dates x end dates x send_users x
 *		ab_selected x channels, outer to inner, as request sets without
 *		campaigns yet.  An empty scan has none.
 */
static List *
combinations(const LemlistFilterValues *fv)
{
	List	   *sets = NIL;
	ListCell   *lcs,
			   *lce,
			   *lc1,
			   *lc2,
			   *lc3;

	if (lemlist_combination_count(fv) == 0)
		return NIL;

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
						LemlistRequestSet *set = palloc0(sizeof(LemlistRequestSet));

						set->combo.start_date = start;
						set->combo.end_date = end;
						set->combo.send_user = (char *) lfirst(lc1);
						set->combo.ab_selected = (char *) lfirst(lc2);
						set->combo.channel = (char *) lfirst(lc3);
						sets = lappend(sets, set);
					}
				}
			}
		}
	}
	return sets;
}

/*
 * lemlist_combo_field
 *		Return where a combination keeps the value it sends for a filter,
 *		or NULL when the filter is not a field of a combination
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
 * lemlist_request_spec_init
 *		Set up what a scan's request sets are made of: its conditions and
 *		their expression states (in the same order), the startDate sent
 *		when the query gives none, and the function that evaluates the
 *		tests.  A batched join sets key_filters and key_sets before each
 *		execution.
 */
void
lemlist_request_spec_init(LemlistRequestSpec *spec, List *conds, List *exprstates,
						  TimestampTz default_start, LemlistTestFunc passes,
						  void *passes_arg)
{
	ListCell   *lc;

	memset(spec, 0, sizeof(LemlistRequestSpec));
	spec->conds = conds;
	spec->exprstates = exprstates;
	spec->default_start = default_start;
	spec->passes = passes;
	spec->passes_arg = passes_arg;
	foreach(lc, conds)
	{
		LemlistCondOp op = ((LemlistCond *) lfirst(lc))->op;

		if (op == LEMLIST_OP_TEST || op == LEMLIST_OP_ID_TEST)
			spec->ntests++;
		if (op == LEMLIST_OP_ID_TEST)
			spec->nid_tests++;
	}
}

/*
 * with_key_sets
 *		Make the request sets of a batched join's inner scan: each key set
 *		combined with each of the table's own combinations that allows it.
 *
 * When the table's own conditions constrain a key filter, the key's value
 * must be among the values they allow.  When they do not, the set takes
 * the key's value.  When campaign_id is a key, a set asks for the key
 * set's IDs (those the table's own campaign_id conditions allow), and the
 * team is never listed.
 */
static List *
with_key_sets(const LemlistRequestSpec *spec, LemlistFilterValues *fv, List *own_sets)
{
	bool		id_key = (spec->key_filters & (1 << LEMLIST_FILTER_CAMPAIGN_ID)) != 0;
	List	   *merged = NIL;
	ListCell   *klc;

	if (id_key)
		fv->all_campaigns = false;

	foreach(klc, spec->key_sets)
	{
		LemlistJoinKeySet *key = lfirst(klc);
		ListCell   *clc;
		List	   *ids = NIL;

		if (id_key)
		{
			if (fv->campaign_ids != NIL)
				ids = lemlist_intersect_values(key->campaign_ids, fv->campaign_ids);
			else if (!(fv->constrained & (1 << LEMLIST_FILTER_CAMPAIGN_ID)))
				ids = key->campaign_ids;
			if (ids == NIL)
				continue;
		}

		foreach(clc, own_sets)
		{
			LemlistRequestSet *own = lfirst(clc);
			LemlistRequestSet *set = palloc(sizeof(LemlistRequestSet));
			bool		allowed = true;

			*set = *own;
			set->campaign_ids = ids;
			for (int f = LEMLIST_FILTER_START_DATE; f <= LEMLIST_FILTER_CHANNEL; f++)
			{
				char	  **field = lemlist_combo_field(&set->combo, f);

				if (!(spec->key_filters & (1 << f)))
					continue;
				if ((fv->constrained & (1 << f)) &&
					(*field == NULL || key->values[f] == NULL ||
					 strcmp(*field, key->values[f]) != 0))
					allowed = false;
				*field = key->values[f];
			}
			if (allowed)
				merged = lappend(merged, set);
		}
	}
	return merged;
}

/*
 * distinct_values
 *		Return the values of one filter in the sets' combinations, each
 *		once, in order.  NULL ("not filtered") counts as a value.
 */
static List *
distinct_values(List *sets, LemlistFilterKind filter)
{
	List	   *values = NIL;
	ListCell   *lc;

	foreach(lc, sets)
	{
		char	   *v = *lemlist_combo_field(&((LemlistRequestSet *) lfirst(lc))->combo, filter);
		ListCell   *lc2;
		bool		seen = false;

		foreach(lc2, values)
		{
			char	   *w = lfirst(lc2);

			if (v == w || (v && w && strcmp(v, w) == 0))
				seen = true;
		}
		if (!seen)
			values = lappend(values, v);
	}
	return values;
}

/*
 * ids_passing
 *		Return the campaign IDs of ids that the ID tests hold for
 */
static List *
ids_passing(const LemlistRequestSpec *spec, List *ids)
{
	List	   *kept = NIL;
	ListCell   *lc;

	foreach(lc, ids)
	{
		if (spec->passes(spec->passes_arg, LEMLIST_OP_ID_TEST, NULL, lfirst(lc)))
			kept = lappend(kept, lfirst(lc));
	}
	return kept;
}

/*
 * apply_tests
 *		Keep the sets the tests hold for, and the campaign IDs the ID tests
 *		hold for.  What is left is what the scan requests, and what EXPLAIN
 *		shows.
 */
static void
apply_tests(const LemlistRequestSpec *spec, LemlistFilterValues *fv, List **sets)
{
	List	   *kept = NIL;
	ListCell   *lc;

	if (spec->ntests == 0 || fv->empty)
		return;

	foreach(lc, *sets)
	{
		LemlistRequestSet *set = lfirst(lc);

		if (!spec->passes(spec->passes_arg, LEMLIST_OP_TEST, &set->combo, NULL))
			continue;
		if (set->campaign_ids != NIL && spec->nid_tests > 0)
		{
			set->campaign_ids = ids_passing(spec, set->campaign_ids);
			if (set->campaign_ids == NIL)
				continue;
		}
		kept = lappend(kept, set);
	}
	*sets = kept;
	fv->send_users = distinct_values(kept, LEMLIST_FILTER_SEND_USER);
	fv->ab_selected = distinct_values(kept, LEMLIST_FILTER_AB_SELECTED);
	fv->channels = distinct_values(kept, LEMLIST_FILTER_CHANNEL);

	if (!fv->all_campaigns && spec->nid_tests > 0)
		fv->campaign_ids = ids_passing(spec, fv->campaign_ids);

	/* campaigns: the scan's own, or (a batched join's) each set's */
	if (kept == NIL ||
		(!fv->all_campaigns && fv->campaign_ids == NIL &&
		 ((LemlistRequestSet *) linitial(kept))->campaign_ids == NIL))
	{
		fv->empty = true;
		*sets = NIL;
	}
}

/*
 * make_sets
 *		Make the request sets of the evaluated filter values out->fv into
 *		out->sets, each with its campaigns
 */
static void
make_sets(const LemlistRequestSpec *spec, LemlistRequestSets *out)
{
	List	   *sets = combinations(&out->fv);
	ListCell   *lc;

	if (spec->key_filters != 0)
	{
		/* the cap counts the table's own combinations; the keys are the join's */
		lemlist_check_combinations(list_length(sets));
		sets = with_key_sets(spec, &out->fv, sets);
		out->keyed_sets = list_length(sets);
	}
	apply_tests(spec, &out->fv, &sets);
	if (spec->key_filters == 0)
		lemlist_check_combinations(list_length(sets));

	/* a set without a key set's IDs asks for the scan's own */
	foreach(lc, sets)
	{
		LemlistRequestSet *set = lfirst(lc);

		if (set->campaign_ids == NIL && !out->fv.all_campaigns)
			set->campaign_ids = out->fv.campaign_ids;
	}
	out->sets = sets;
}

/*
 * lemlist_request_sets
 *		Make the request sets of one execution of a scan.  The conditions
 *		are evaluated in econtext, where parameters and initplan outputs are
 *		known; a batched join's key sets are combined in; the tests keep
 *		what they hold for.  A filter without a condition sends nothing,
 *		except the dates: startDate is then the spec's default, endDate is
 *		default_end.
 */
void
lemlist_request_sets(const LemlistRequestSpec *spec, ExprContext *econtext,
					 TimestampTz default_end, LemlistRequestSets *out)
{
	memset(out, 0, sizeof(LemlistRequestSets));
	out->default_end = default_end;
	out->executed = true;
	lemlist_filter_values(spec->conds, spec->exprstates, econtext,
						  spec->default_start, default_end, &out->fv);
	make_sets(spec, out);
}


/* ---------------------------------------------------------------------
 * EXPLAIN
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_request_sets_shown
 *		Return the request sets EXPLAIN shows.  After an execution, they are
 *		the ones it made (made).  Before one, they are those the plan's
 *		constant conditions make, computed into scratch; NULL when only run
 *		time knows them.  A batched join's inner scan shows its own
 *		combinations without the join's key sets.
 */
const LemlistRequestSets *
lemlist_request_sets_shown(const LemlistRequestSpec *spec, const LemlistRequestSets *made,
						   LemlistRequestSets *scratch)
{
	LemlistRequestSpec own;

	if (made != NULL && made->executed)
		return made;
	if (!lemlist_conds_are_constant(spec->conds))
		return NULL;

	own = *spec;
	own.key_filters = 0;
	own.key_sets = NIL;
	memset(scratch, 0, sizeof(LemlistRequestSets));
	scratch->default_end = lemlist_default_end_date();
	lemlist_filter_values(spec->conds, NIL, NULL, spec->default_start,
						  scratch->default_end, &scratch->fv);
	make_sets(&own, scratch);
	return scratch;
}

/*
 * describe_computed
 *		Return "computed at run time from campaign_id, start_date": the
 *		filters the conditions name, in the order of the filters
 */
static char *
describe_computed(const LemlistRequestSpec *spec)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int filter = LEMLIST_FILTER_NONE + 1; filter < LEMLIST_NUM_FILTERS; filter++)
	{
		ListCell   *lc;

		foreach(lc, spec->conds)
		{
			LemlistCond *cond = lfirst(lc);

			if ((int) cond->filter != filter && !(cond->refs & (1 << filter)))
				continue;
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "",
							 lemlist_filter_name(filter));
			break;
		}
	}
	return psprintf("computed at run time from %s", buf.data);
}

/*
 * append_fanout
 *		Append ", field=value" or ", field in (v1, v2)" to buf; a NULL value
 *		(not filtered) shows as <all>
 */
static void
append_fanout(StringInfo buf, const char *field, List *values)
{
	ListCell   *lc;

	appendStringInfo(buf, ", %s%s", field, list_length(values) > 1 ? " in (" : "=");
	foreach(lc, values)
		appendStringInfo(buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 lfirst(lc) ? (char *) lfirst(lc) : "<all>");
	if (list_length(values) > 1)
		appendStringInfoChar(buf, ')');
}

/*
 * describe_dates
 *		Append "startDate=..., endDate=..." as the sets send them (as the
 *		values were computed, if no set is left).  Before an execution, an
 *		endDate that no condition gives shows as "statement start".
 */
static void
describe_dates(StringInfo buf, const LemlistRequestSpec *spec, const LemlistRequestSets *shown,
			   List *sets)
{
	List	   *dates[2] = {NIL, NIL};
	bool		run_time_end = !shown->executed;
	ListCell   *lc;

	foreach(lc, spec->conds)
	{
		if (((LemlistCond *) lfirst(lc))->filter == LEMLIST_FILTER_END_DATE)
			run_time_end = false;
	}
	foreach(lc, sets)
	{
		LemlistCombo *combo = &((LemlistRequestSet *) lfirst(lc))->combo;

		dates[0] = list_append_unique(dates[0], makeString(combo->start_date));
		dates[1] = list_append_unique(dates[1], makeString(combo->end_date));
	}
	for (int i = 0; i < 2 && sets == NIL; i++)
	{
		foreach(lc, i == 0 ? shown->fv.start_dates : shown->fv.end_dates)
			dates[i] = lappend(dates[i],
							   makeString(lemlist_format_timestamp(*(TimestampTz *) lfirst(lc))));
	}
	for (int i = 0; i < 2; i++)
	{
		if (dates[i] == NIL)
			continue;
		appendStringInfo(buf, "%s%s%s", buf->len ? ", " : "", i == 0 ? "startDate" : "endDate",
						 list_length(dates[i]) > 1 ? " in (" : "=");
		if (i == 1 && run_time_end)
			appendStringInfoString(buf, "statement start");
		else
			foreach(lc, dates[i])
				appendStringInfo(buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
								 strVal(lfirst(lc)));
		if (list_length(dates[i]) > 1)
			appendStringInfoChar(buf, ')');
	}
}

/*
 * describe_filters
 *		Return "startDate=..., endDate=..., ABSelected in (A, B)" for
 *		EXPLAIN: the filters of the shown request sets (of its own
 *		combinations, for a batched join's inner scan).  For the campaigns
 *		resource, return the listing's status and createdBy.
 */
static char *
describe_filters(const LemlistRequestSpec *spec, const LemlistRequestSets *shown,
				 bool campaigns)
{
	StringInfoData buf;
	const LemlistFilterValues *fv = &shown->fv;
	List	   *fanout[3] = {fv->send_users, fv->ab_selected, fv->channels};
	const char *names[3] = {"sendUser", "ABSelected", "channels"};

	initStringInfo(&buf);
	if (campaigns)
	{
		if (fv->status)
			appendStringInfo(&buf, "status=%s", fv->status);
		if (fv->created_by)
			appendStringInfo(&buf, "%screatedBy=%s", buf.len ? ", " : "",
							 fv->created_by);
		return buf.len ? buf.data : NULL;
	}

	describe_dates(&buf, spec, shown, spec->key_filters ? NIL : shown->sets);
	for (int i = 0; i < 3; i++)
	{
		if (fanout[i] == NIL ||
			(list_length(fanout[i]) == 1 && linitial(fanout[i]) == NULL))
			continue;
		append_fanout(&buf, names[i], fanout[i]);
	}
	return buf.data;
}

/*
 * lemlist_explain_request_sets
 *		Show the campaigns a scan asks for and their batches (stats tables),
 *		and the filters it sends.  shown comes from
 *		lemlist_request_sets_shown.
 */
void
lemlist_explain_request_sets(const LemlistRequestSpec *spec, const LemlistRequestSets *shown,
							 bool campaigns, ExplainState *es)
{
	char	   *filters;

	if (!campaigns)
	{
		char	   *what;

		if (spec->key_filters & (1 << LEMLIST_FILTER_CAMPAIGN_ID))
			what = pstrdup("those of the join's keys");
		else if (shown == NULL)
			what = pstrdup("computed at run time");
		else if (shown->fv.empty)
			what = pstrdup("none (the filters exclude every row)");
		else if (shown->fv.all_campaigns)
			what = pstrdup("all (listed with GET /campaigns?version=v2)");
		else
			what = psprintf("%d", list_length(shown->fv.campaign_ids));
		ExplainPropertyText("lemlist Campaigns", what, es);

		if (shown != NULL && !shown->fv.empty && !shown->fv.all_campaigns &&
			spec->key_filters == 0)
		{
			int			n = list_length(shown->fv.campaign_ids);

			ExplainPropertyInteger("lemlist Batches", NULL,
								   (int64) list_length(shown->sets) *
								   ((n + LEMLIST_BATCH_SIZE - 1) / LEMLIST_BATCH_SIZE),
								   es);
		}
	}

	filters = shown ? describe_filters(spec, shown, campaigns) : describe_computed(spec);
	if (filters)
		ExplainPropertyText("lemlist Filters", filters, es);
}

/*
 * lemlist_explain_join_keys
 *		For a batched join's inner scan, show the filters its key sets give
 *		and, with ANALYZE, how many request sets they made
 */
void
lemlist_explain_join_keys(const LemlistRequestSpec *spec, const LemlistRequestSets *shown,
						  ExplainState *es)
{
	StringInfoData keys;

	if (spec->key_filters == 0)
		return;
	initStringInfo(&keys);
	for (int f = LEMLIST_FILTER_CAMPAIGN_ID; f <= LEMLIST_FILTER_CHANNEL; f++)
	{
		if (spec->key_filters & (1 << f))
			appendStringInfo(&keys, "%s%s", keys.len ? ", " : "", lemlist_filter_name(f));
	}
	ExplainPropertyText("lemlist Keys From Join", keys.data, es);
	if (es->analyze)
		ExplainPropertyInteger("lemlist Request Sets", NULL,
							   shown ? shown->keyed_sets : 0, es);
}

/*
 * lemlist_explain_first_body
 *		With VERBOSE, show the body of a stats scan's first batch, when its
 *		campaigns are known
 */
void
lemlist_explain_first_body(const LemlistRequestSpec *spec, const LemlistRequestSets *shown,
						   ExplainState *es)
{
	LemlistCombo *first;
	List	   *ids = NIL;
	ListCell   *lc;

	if (!es->verbose || shown == NULL || shown->fv.empty || shown->fv.all_campaigns ||
		spec->key_filters != 0)
		return;
	foreach(lc, shown->fv.campaign_ids)
	{
		if (foreach_current_index(lc) >= LEMLIST_BATCH_SIZE)
			break;
		ids = lappend(ids, lfirst(lc));
	}
	if (ids == NIL)
		return;
	first = &((LemlistRequestSet *) linitial(shown->sets))->combo;
	ExplainPropertyText("lemlist Body",
						lemlist_json_stats_request(ids, first->start_date, first->end_date, first),
						es);
}
