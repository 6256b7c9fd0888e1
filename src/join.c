/*-------------------------------------------------------------------------
 *
 * join.c
 *		  The batched join: a lemlist stats table joined with any other input
 *		  asks lemlist for exactly the keys that input holds
 *
 * A plain join of campaign_stats with a CRM table would otherwise list the
 * whole team (a hash join), or send one request per outer row (a nested
 * loop), and a join on the dates, the sender, the variant or the channel
 * would compare the outer rows with statistics computed under other
 * filters.  The batched join is a CustomScan offered for joins whose
 * clauses equate lemlist filter columns with expressions of the other side
 * (set_join_pathlist_hook, as Citus and pg_strom plan theirs):
 *
 * - It runs the other side (the outer plan) once, keeping its rows in a
 *	 tuplestore (work_mem bounds memory; larger inputs spill to disk), and
 *	 collects the distinct values of the key expressions: one key set per
 *	 distinct combination of the non-ID key values, holding its distinct
 *	 campaign IDs.
 * - The lemlist side is an ordinary ForeignScan plan under it, told the key
 *	 sets before it starts (lemlist_scan_set_join_keys): each key set with
 *	 each of the table's own filter combinations that allows it is a request
 *	 set, its IDs batched by 100, all of them in flight under the usual
 *	 pacing, memo and cache.  Its rows are kept by key, in memory
 *	 proportional to what lemlist returned.
 * - The outer rows are then read back and joined by key: INNER, LEFT (the
 *	 lemlist side nullable), SEMI (EXISTS) and ANTI (NOT EXISTS).  Other
 *	 join clauses of an inner join are checked on the joined rows; an outer
 *	 or semi join offers this path only when its ON clauses are all keys.
 *
 * The planner costs it from the outer side's estimated distinct keys
 * (estimate_num_groups), so it wins over listing the team whenever it
 * sends fewer requests; the parameterized paths stay for a handful of
 * outer rows.  A join clause on start_date, end_date or send_user that no
 * plan can send (a FULL JOIN on a date) is an ERROR when the plan is made
 * (lemlist_unsendable_join_clause), never an empty answer.
 *
 * IDENTIFICATION
 *		  src/join.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"
#include "utils/selfuncs.h"
#include "utils/tuplestore.h"

#include "lemlist_fdw.h"

#define JOIN_NAME "lemlist batched join"

/* custom_private of the path and of the plan, a List indexed by this enum */
enum JoinPrivateIndex
{
	JoinPrivateType,			/* Integer: the JoinType */
	JoinPrivateFilters,			/* Integer list: the filter of each key */
	JoinPrivateQuals,			/* path: the clauses checked on joined rows;
								 * plan: Integer list, the mode of each key */
	JoinPrivateKeys,			/* path: LemlistCond of each key;
								 * plan: Integer, outer columns of the scan tuple */
	JoinPrivateOuterJoin		/* path: Integer, the outer join's RT index, or 0 */
};

/* The rows lemlist returned for one key, or one key set's campaigns. */
typedef struct JoinEntry
{
	uint64		hash;			/* of the key text */
	char	   *key;
	List	   *rows;			/* MinimalTuples of the lemlist side */
	LemlistJoinKeySet *set;		/* key sets: the set */
	struct JoinEntry *next;		/* same hash */
} JoinEntry;

/* A slot of the join's hash tables: the entries of one hash. */
typedef struct JoinSlot
{
	uint64		hash;
	JoinEntry  *head;
} JoinSlot;

typedef struct JoinScanState
{
	CustomScanState css;
	JoinType	jointype;
	List	   *filters;		/* Integer list: the filter of each key */
	List	   *modes;			/* Integer list: the date mode of each key */
	List	   *key_states;		/* ExprState of each key's outer expression */
	int			outer_width;	/* outer columns of the scan tuple */
	PlanState  *outer;
	PlanState  *inner;
	LemlistScanState *lemlist;

	MemoryContext join_cxt;		/* keys and the lemlist side's rows */
	Tuplestorestate *outer_rows;
	HTAB	   *key_sets;		/* non-ID key text -> JoinEntry (set) */
	HTAB	   *matches;		/* key text -> JoinEntry (rows) */
	TupleTableSlot *outer_slot;
	TupleTableSlot *inner_slot;

	/* where the join is */
	bool		fetched;
	bool		have_outer;
	JoinEntry  *cur;			/* the matches of the current outer row */
	ListCell   *next_match;
	bool		matched;

	/* for EXPLAIN ANALYZE */
	int64		nouter;
	int64		nkeys;			/* distinct keys */
	int64		nsets;			/* distinct key sets */
} JoinScanState;

static set_join_pathlist_hook_type prev_join_pathlist_hook = NULL;
static void (*lemlist_rel_size) (PlannerInfo *, RelOptInfo *, Oid) = NULL;
static bool enable_batched_join = true;

static void join_pathlist(PlannerInfo *root, RelOptInfo *joinrel,
						  RelOptInfo *outerrel, RelOptInfo *innerrel,
						  JoinType jointype, JoinPathExtraData *extra);
static LemlistRelInfo *stats_rel_info(RelOptInfo *rel);
static Plan *join_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
					   List *tlist, List *clauses, List *custom_plans);
static Node *join_create_state(CustomScan *cscan);
static void join_begin(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *join_exec(CustomScanState *node);
static void join_end(CustomScanState *node);
static void join_rescan(CustomScanState *node);
static void join_explain(CustomScanState *node, List *ancestors, ExplainState *es);

static const CustomPathMethods join_path_methods = {
	.CustomName = JOIN_NAME,
	.PlanCustomPath = join_plan,
};

static const CustomScanMethods join_scan_methods = {
	.CustomName = JOIN_NAME,
	.CreateCustomScanState = join_create_state,
};

static const CustomExecMethods join_exec_methods = {
	.CustomName = JOIN_NAME,
	.BeginCustomScan = join_begin,
	.ExecCustomScan = join_exec,
	.EndCustomScan = join_end,
	.ReScanCustomScan = join_rescan,
	.ExplainCustomScan = join_explain,
};

/*
 * lemlist_join_init
 *		Offer the batched join to the planner (rel_size tells our foreign
 *		tables: it is their GetForeignRelSize)
 */
void
lemlist_join_init(void (*rel_size) (PlannerInfo *, RelOptInfo *, Oid))
{
	lemlist_rel_size = rel_size;
	DefineCustomBoolVariable("lemlist_fdw.enable_batched_join",
							 "Lets the planner join lemlist tables by the keys of the other side.",
							 "Off, joins list the team or send a request per outer row, as plain scans.",
							 &enable_batched_join,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	RegisterCustomScanMethods(&join_scan_methods);
	prev_join_pathlist_hook = set_join_pathlist_hook;
	set_join_pathlist_hook = join_pathlist;
}

/*
 * stats_rel_info
 *		The planner facts of a lemlist stats table, or NULL for any other rel
 */
static LemlistRelInfo *
stats_rel_info(RelOptInfo *rel)
{
	LemlistRelInfo *info;

	if (rel->reloptkind != RELOPT_BASEREL || rel->rtekind != RTE_RELATION ||
		rel->fdwroutine == NULL || rel->fdwroutine->GetForeignRelSize != lemlist_rel_size ||
		rel->fdw_private == NULL)
		return NULL;
	info = rel->fdw_private;
	return info->opts.resource == LEMLIST_RES_CAMPAIGNS ? NULL : info;
}


/* ---------------------------------------------------------------------
 * Planning
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_is_join_child
 *		Whether a ForeignPath is the lemlist side of a batched join, which
 *		sends its join clauses
 */
bool
lemlist_is_join_child(ForeignPath *path)
{
	return path->fdw_private != NIL &&
		IsA(linitial(path->fdw_private), String) &&
		strcmp(strVal(linitial(path->fdw_private)), JOIN_NAME) == 0;
}

/*
 * lemlist_unsendable_join_clause
 *		A join clause of baserel on start_date, end_date or send_user that
 *		only a batched join can send, or NULL
 *
 * Such a clause compares the rows of a plain scan, computed under the
 * default dates and every sender, with the other side: nothing matches.  A
 * clause equating two lemlist tables' echo columns is not one (both sides
 * echo what they sent), nor one whose other side is within sent (the outer
 * side of a batched join, which sends it).
 */
Expr *
lemlist_unsendable_join_clause(PlannerInfo *root, RelOptInfo *baserel,
							   const LemlistColumn *columns, int natts,
							   Relids sent)
{
	ListCell   *lc;

	foreach(lc, lemlist_join_partners(root, baserel, columns, natts))
	{
		LemlistJoinPartner *p = lfirst(lc);
		int			other = -1;

		if (p->filter != LEMLIST_FILTER_START_DATE && p->filter != LEMLIST_FILTER_END_DATE &&
			p->filter != LEMLIST_FILTER_SEND_USER)
			continue;
		if (sent != NULL && bms_is_subset(p->others, sent))
			continue;
		/* another lemlist table's echo: both sides echo what they sent */
		if (bms_get_singleton_member(p->others, &other) &&
			(Index) other < (Index) root->simple_rel_array_size &&
			root->simple_rel_array[other] != NULL &&
			stats_rel_info(root->simple_rel_array[other]) != NULL)
			continue;
		return p->clause;
	}
	return NULL;
}

/*
 * join_pathlist
 *		Offer a batched join of innerrel, a lemlist stats table, with
 *		outerrel, any input, when the join clauses key lemlist filters
 */
static void
join_pathlist(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
			  RelOptInfo *innerrel, JoinType jointype, JoinPathExtraData *extra)
{
	LemlistRelInfo *info;
	Path	   *outer_path;
	Path	   *inner_path;
	ForeignPath *child;
	List	   *filters = NIL;
	List	   *key_exprs = NIL;
	List	   *id_exprs = NIL;
	List	   *quals = NIL;
	int			key_filters = 0;
	ListCell   *lc;
	CustomPath *cpath;
	double		outer_rows;
	double		nsets;
	double		nkeys;
	double		batches;
	double		pages = 0;
	double		own;
	Cost		cost;

	if (prev_join_pathlist_hook)
		prev_join_pathlist_hook(root, joinrel, outerrel, innerrel, jointype, extra);

	/*
	 * JOIN_UNIQUE_OUTER: "lemlist col IN (SELECT ...)", the other side made
	 * unique; each of its distinct keys is kept once.
	 */
	if (!enable_batched_join ||
		(jointype != JOIN_INNER && jointype != JOIN_LEFT &&
		 jointype != JOIN_SEMI && jointype != JOIN_ANTI &&
		 jointype != JOIN_UNIQUE_OUTER))
		return;
	if ((info = stats_rel_info(innerrel)) == NULL)
		return;
	/* two lemlist tables join as they always did: both echo their filters */
	if (stats_rel_info(outerrel) != NULL)
		return;

	outer_path = outerrel->cheapest_total_path;
	inner_path = innerrel->cheapest_total_path;
	if (outer_path == NULL || inner_path == NULL ||
		outer_path->param_info != NULL || inner_path->param_info != NULL ||
		!IsA(inner_path, ForeignPath) ||
		!bms_is_empty(innerrel->lateral_relids) ||
		!bms_is_empty(joinrel->lateral_relids))
		return;

	/* the keys, and what else the joined rows must satisfy */
	foreach(lc, extra->restrictlist)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		/* a semi or anti join's clauses all decide its matches */
		bool		pushed = (jointype == JOIN_SEMI || jointype == JOIN_ANTI) ? false :
			RINFO_IS_PUSHED_DOWN(ri, joinrel->relids);
		bool		exact = true;
		LemlistCond *key = NULL;

		if (ri->pseudoconstant)
			return;
		if (jointype == JOIN_INNER || jointype == JOIN_UNIQUE_OUTER || !pushed)
			key = lemlist_join_key(root, innerrel, info->columns, info->natts,
								   ri->clause, outerrel->relids, &exact);
		if (key != NULL && !(key_filters & (1 << key->filter)))
		{
			key_filters |= 1 << key->filter;
			filters = lappend_int(filters, key->filter);
			key_exprs = lappend(key_exprs, key);
			if (key->filter == LEMLIST_FILTER_CAMPAIGN_ID)
				id_exprs = lappend(id_exprs, key->expr);
			if (exact && jointype != JOIN_INNER)
				continue;
		}
		/* an ON clause that is no exact key cannot decide an outer join's matches */
		if ((jointype != JOIN_INNER && !pushed) || jointype == JOIN_UNIQUE_OUTER)
			return;
		quals = lappend(quals, ri->clause);
	}
	if (filters == NIL)
		return;

	/*
	 * A join clause on the dates or the sender with a rel the outer side
	 * does not hold would be compared, above this join, with rows computed
	 * under the default dates: the path would answer nothing.
	 */
	if (lemlist_unsendable_join_clause(root, innerrel, info->columns, info->natts,
									   outerrel->relids) != NULL)
		return;

	/*
	 * Costs: the outer side, then one request set per distinct key set and
	 * per combination of the table's own, each ceil(IDs / 100) batches (or,
	 * without a campaign_id key, the team listed and batched).
	 */
	outer_rows = Max(outer_path->rows, 1);
	{
		List	   *set_exprs = NIL;
		List	   *all_exprs = NIL;

		foreach(lc, key_exprs)
		{
			LemlistCond *key = lfirst(lc);

			all_exprs = lappend(all_exprs, key->expr);
			if (key->filter != LEMLIST_FILTER_CAMPAIGN_ID)
				set_exprs = lappend(set_exprs, key->expr);
		}
		nsets = set_exprs ? lemlist_estimate_num_groups(root, set_exprs, outer_rows) : 1;
		nkeys = lemlist_estimate_num_groups(root, all_exprs, outer_rows);
	}
	/* the table's own combinations, but for the values the keys give */
	own = Max(info->combos, 1);
	foreach(lc, filters)
	{
		if (info->values[lfirst_int(lc)] > 1)
			own /= info->values[lfirst_int(lc)];
	}
	own = Max(own, 1);
	if (id_exprs != NIL)
		batches = nsets * own * ceil(Max(nkeys / Max(nsets, 1), 1) / LEMLIST_BATCH_SIZE);
	else
	{
		pages = (info->ncampaigns > 0) ? 0 : info->list_pages;
		batches = nsets * own * ceil(Max(info->ncampaigns, 1) / LEMLIST_BATCH_SIZE);
	}
	cost = outer_path->total_cost + lemlist_request_cost(info, pages, batches) +
		outer_rows * cpu_tuple_cost + joinrel->rows * (LEMLIST_ROW_COST + cpu_tuple_cost);

	/* the lemlist side: its own path, marked as the join's */
	child = makeNode(ForeignPath);
	memcpy(child, inner_path, sizeof(ForeignPath));
	child->fdw_private = list_make1(makeString(JOIN_NAME));

	cpath = makeNode(CustomPath);
	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = joinrel;
	cpath->path.pathtarget = joinrel->reltarget;
	cpath->path.param_info = NULL;
	cpath->path.rows = joinrel->rows;
	cpath->path.startup_cost = cost;	/* nothing comes before both sides ran */
	cpath->path.total_cost = cost;
	cpath->path.pathkeys = NIL;
	cpath->custom_paths = list_make2(outer_path, child);
	cpath->custom_private = lappend(list_make4(makeInteger(jointype), filters, quals, key_exprs),
									makeInteger(lemlist_outer_join_relid(extra->sjinfo)));
	cpath->methods = &join_path_methods;
	add_path(joinrel, &cpath->path);
}

/*
 * join_plan
 *		The CustomScan: the outer plan and the lemlist side as its children,
 *		a scan tuple of the outer plan's columns then the lemlist side's,
 *		the keys' outer expressions in custom_exprs
 */
static Plan *
join_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
		  List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	Plan	   *outer_plan = linitial(custom_plans);
	Plan	   *inner_plan = lsecond(custom_plans);
	JoinType	jointype = intVal(list_nth(best_path->custom_private, JoinPrivateType));
	List	   *filters = list_nth(best_path->custom_private, JoinPrivateFilters);
	List	   *quals = list_nth(best_path->custom_private, JoinPrivateQuals);
	List	   *keys = list_nth(best_path->custom_private, JoinPrivateKeys);
	List	   *modes = NIL;
	List	   *scan_tlist = NIL;
	List	   *key_exprs = NIL;
	ListCell   *lc;
	int			resno = 1;

	foreach(lc, outer_plan->targetlist)
		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry(copyObject(((TargetEntry *) lfirst(lc))->expr),
											 resno++, NULL, false));
	foreach(lc, inner_plan->targetlist)
	{
		Expr	   *expr = copyObject(((TargetEntry *) lfirst(lc))->expr);

		/* above a left join, the lemlist side's Vars are the nullable ones */
		if (jointype == JOIN_LEFT && IsA(expr, Var))
			lemlist_var_nulled_by((Var *) expr,
								  intVal(list_nth(best_path->custom_private, JoinPrivateOuterJoin)));
		scan_tlist = lappend(scan_tlist, makeTargetEntry(expr, resno++, NULL, false));
	}
	foreach(lc, keys)
	{
		key_exprs = lappend(key_exprs, ((LemlistCond *) lfirst(lc))->expr);
		modes = lappend_int(modes, ((LemlistCond *) lfirst(lc))->mode);
	}

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = quals;
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_plans = custom_plans;
	cscan->custom_exprs = key_exprs;
	cscan->custom_private = list_make4(makeInteger(jointype), filters, modes,
									   makeInteger(list_length(outer_plan->targetlist)));
	cscan->custom_scan_tlist = scan_tlist;
	cscan->custom_relids = bms_copy(rel->relids);
	cscan->methods = &join_scan_methods;
	return &cscan->scan.plan;
}


/* ---------------------------------------------------------------------
 * Execution
 * ---------------------------------------------------------------------
 */

static JoinEntry *entry_lookup(HTAB *table, const char *key, bool create, MemoryContext cxt);
static char *outer_key(JoinScanState *js, int *set_len, bool *ok);
static void collect_outer(JoinScanState *js);
static void fetch_lemlist(JoinScanState *js);
static void build_scan_tuple(JoinScanState *js, TupleTableSlot *outer,
							 TupleTableSlot *inner);

static Node *
join_create_state(CustomScan *cscan)
{
	JoinScanState *js = (JoinScanState *) newNode(sizeof(JoinScanState),
												  T_CustomScanState);

	js->css.methods = &join_exec_methods;
	js->jointype = intVal(list_nth(cscan->custom_private, JoinPrivateType));
	js->filters = list_nth(cscan->custom_private, JoinPrivateFilters);
	js->modes = list_nth(cscan->custom_private, JoinPrivateQuals);
	js->outer_width = intVal(list_nth(cscan->custom_private, JoinPrivateKeys));
	return (Node *) js;
}

static void
join_begin(CustomScanState *node, EState *estate, int eflags)
{
	JoinScanState *js = (JoinScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	int			key_filters = 0;
	ListCell   *lc;

	js->outer = ExecInitNode(linitial(cscan->custom_plans), estate, eflags);
	js->inner = ExecInitNode(lsecond(cscan->custom_plans), estate, eflags);
	node->custom_ps = list_make2(js->outer, js->inner);
	js->lemlist = ((ForeignScanState *) js->inner)->fdw_state;
	foreach(lc, js->filters)
		key_filters |= 1 << lfirst_int(lc);
	lemlist_scan_join_child(js->lemlist, key_filters);

	js->key_states = ExecInitExprList(cscan->custom_exprs, &node->ss.ps);
	js->outer_slot = ExecInitExtraTupleSlot(estate, ExecGetResultType(js->outer),
											&TTSOpsMinimalTuple);
	js->inner_slot = ExecInitExtraTupleSlot(estate, ExecGetResultType(js->inner),
											&TTSOpsMinimalTuple);
	js->join_cxt = AllocSetContextCreate(estate->es_query_cxt, "lemlist_fdw batched join",
										 ALLOCSET_DEFAULT_SIZES);
}

/*
 * entry_lookup
 *		The entry of a key text in one of the join's hash tables
 */
static JoinEntry *
entry_lookup(HTAB *table, const char *key, bool create, MemoryContext cxt)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
	JoinSlot   *slot;
	JoinEntry  *e;
	bool		found;

	slot = hash_search(table, &hash, create ? HASH_ENTER : HASH_FIND, &found);
	if (slot == NULL)
		return NULL;
	if (!found)
		slot->head = NULL;
	for (e = slot->head; e != NULL; e = e->next)
	{
		if (strcmp(e->key, key) == 0)
			return e;
	}
	if (!create)
		return NULL;
	e = MemoryContextAllocZero(cxt, sizeof(JoinEntry));
	e->hash = hash;
	e->key = MemoryContextStrdup(cxt, key);
	e->next = slot->head;
	slot->head = e;
	return e;
}

static HTAB *
entry_table(const char *name, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(JoinSlot);
	ctl.hcxt = cxt;
	return hash_create(name, 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * outer_key
 *		The key of the outer row in the scan tuple: each key's text, each
 *		followed by a unit separator, the campaign ID last; *set_len is the
 *		length of its key set's part (all but the ID).  *ok is cleared when
 *		a key has a value no lemlist row can match.  In the per-tuple memory,
 *		which the callers reset for each outer row.
 */
static char *
outer_key(JoinScanState *js, int *set_len, bool *ok)
{
	ExprContext *econtext = js->css.ss.ps.ps_ExprContext;
	StringInfoData buf;
	ListCell   *lcf;
	ListCell   *lcs;
	ListCell   *lck;
	char	   *id = NULL;
	CustomScan *cscan = (CustomScan *) js->css.ss.ps.plan;

	MemoryContext oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);

	*ok = true;
	initStringInfo(&buf);
	econtext->ecxt_scantuple = js->css.ss.ss_ScanTupleSlot;
	forthree(lcf, js->filters, lcs, js->key_states, lck, cscan->custom_exprs)
	{
		LemlistCond cond;
		bool		isnull;
		Datum		value;
		char	   *text;

		memset(&cond, 0, sizeof(cond));
		cond.filter = lfirst_int(lcf);
		cond.expr = lfirst(lck);
		cond.mode = list_nth_int(js->modes, foreach_current_index(lcf));
		value = ExecEvalExpr(lfirst(lcs), econtext, &isnull);
		text = lemlist_join_key_text(&cond, value, isnull);
		if (text == NULL)
		{
			*ok = false;
			MemoryContextSwitchTo(oldcxt);
			return NULL;
		}
		if (cond.filter == LEMLIST_FILTER_CAMPAIGN_ID)
			id = text;
		else
		{
			appendStringInfoString(&buf, text);
			appendStringInfoChar(&buf, '\x1f');
		}
	}
	*set_len = buf.len;
	if (id != NULL)
		appendStringInfoString(&buf, id);
	MemoryContextSwitchTo(oldcxt);
	return buf.data;
}

/*
 * build_scan_tuple
 *		The scan tuple: the outer row's columns, then the lemlist side's
 *		(NULL when inner is NULL)
 */
static void
build_scan_tuple(JoinScanState *js, TupleTableSlot *outer, TupleTableSlot *inner)
{
	TupleTableSlot *scan = js->css.ss.ss_ScanTupleSlot;
	int			natts = scan->tts_tupleDescriptor->natts;

	ExecClearTuple(scan);
	if (outer)
		slot_getallattrs(outer);
	if (inner)
		slot_getallattrs(inner);
	for (int i = 0; i < natts; i++)
	{
		TupleTableSlot *from = (i < js->outer_width) ? outer : inner;
		int			attno = (i < js->outer_width) ? i : i - js->outer_width;

		if (from == NULL)
		{
			scan->tts_values[i] = (Datum) 0;
			scan->tts_isnull[i] = true;
		}
		else
		{
			scan->tts_values[i] = from->tts_values[attno];
			scan->tts_isnull[i] = from->tts_isnull[attno];
		}
	}
	ExecStoreVirtualTuple(scan);
}

/*
 * collect_outer
 *		Run the outer plan: keep its rows, and the distinct key sets with
 *		their distinct campaign IDs
 */
static void
collect_outer(JoinScanState *js)
{
	EState	   *estate = js->css.ss.ps.state;
	bool		ids = list_member_int(js->filters, LEMLIST_FILTER_CAMPAIGN_ID);
	MemoryContext oldcxt;
	HTAB	   *seen_keys;

	oldcxt = MemoryContextSwitchTo(estate->es_query_cxt);
	js->outer_rows = tuplestore_begin_heap(false, false, work_mem);
	MemoryContextSwitchTo(oldcxt);
	js->key_sets = entry_table("lemlist_fdw join key sets", js->join_cxt);
	seen_keys = entry_table("lemlist_fdw join keys", js->join_cxt);

	for (;;)
	{
		TupleTableSlot *slot = ExecProcNode(js->outer);
		char	   *set_key;
		char	   *full_key;
		int			set_len;
		bool		ok;
		JoinEntry  *set;

		if (TupIsNull(slot))
			break;
		CHECK_FOR_INTERRUPTS();
		ResetExprContext(js->css.ss.ps.ps_ExprContext);
		js->nouter++;
		build_scan_tuple(js, slot, NULL);
		full_key = outer_key(js, &set_len, &ok);
		if (!ok)
		{
			/* no lemlist row can match it: only outer and anti joins keep it */
			if (js->jointype == JOIN_LEFT || js->jointype == JOIN_ANTI)
				tuplestore_puttupleslot(js->outer_rows, slot);
			continue;
		}
		set_key = MemoryContextAlloc(js->css.ss.ps.ps_ExprContext->ecxt_per_tuple_memory,
									 set_len + 1);
		memcpy(set_key, full_key, set_len);
		set_key[set_len] = '\0';
		/* the other side of an IN (SELECT ...), made unique by its keys */
		if (js->jointype == JOIN_UNIQUE_OUTER &&
			entry_lookup(seen_keys, full_key, false, NULL) != NULL)
			continue;
		tuplestore_puttupleslot(js->outer_rows, slot);

		if (entry_lookup(seen_keys, full_key, false, NULL) == NULL)
		{
			(void) entry_lookup(seen_keys, full_key, true, js->join_cxt);
			js->nkeys++;
			set = entry_lookup(js->key_sets, set_key, true, js->join_cxt);
			if (set->set == NULL)
			{
				/* the key set's values, from the key text */
				char	   *p = MemoryContextStrdup(js->join_cxt, set_key);
				ListCell   *lc;

				set->set = MemoryContextAllocZero(js->join_cxt, sizeof(LemlistJoinKeySet));
				foreach(lc, js->filters)
				{
					char	   *end;

					if (lfirst_int(lc) == LEMLIST_FILTER_CAMPAIGN_ID)
						continue;
					end = strchr(p, '\x1f');
					*end = '\0';
					set->set->values[lfirst_int(lc)] = p;
					p = end + 1;
				}
				js->nsets++;
			}
			if (ids)
			{
				oldcxt = MemoryContextSwitchTo(js->join_cxt);
				set->set->campaign_ids = lappend(set->set->campaign_ids,
												 pstrdup(full_key + set_len));
				MemoryContextSwitchTo(oldcxt);
			}
		}
	}
	hash_destroy(seen_keys);
}

/*
 * fetch_lemlist
 *		Tell the lemlist side the key sets, and keep what it returns by key
 */
static void
fetch_lemlist(JoinScanState *js)
{
	List	   *sets = NIL;
	HASH_SEQ_STATUS status;
	JoinSlot   *slot;
	MemoryContext oldcxt;

	js->matches = entry_table("lemlist_fdw join rows", js->join_cxt);
	hash_seq_init(&status, js->key_sets);
	while ((slot = hash_seq_search(&status)) != NULL)
	{
		for (JoinEntry *e = slot->head; e != NULL; e = e->next)
			sets = lappend(sets, e->set);
	}
	if (sets == NIL)
		return;					/* no outer row has a key: nothing to ask */

	lemlist_scan_set_join_keys(js->lemlist, sets);
	for (;;)
	{
		TupleTableSlot *slot = ExecProcNode(js->inner);
		LemlistCombo *combo;
		const char *id;
		StringInfoData key;
		ListCell   *lc;
		JoinEntry  *e;
		bool		ok = true;

		if (TupIsNull(slot))
			break;
		lemlist_scan_row_key(js->lemlist, &combo, &id);
		initStringInfo(&key);
		foreach(lc, js->filters)
		{
			int			f = lfirst_int(lc);
			const char *v;

			if (f == LEMLIST_FILTER_CAMPAIGN_ID)
				continue;
			v = *lemlist_combo_field(combo, f);
			if (v == NULL)
				ok = false;
			else
			{
				appendStringInfoString(&key, v);
				appendStringInfoChar(&key, '\x1f');
			}
		}
		if (!ok)
			continue;
		if (list_member_int(js->filters, LEMLIST_FILTER_CAMPAIGN_ID))
			appendStringInfoString(&key, id);
		e = entry_lookup(js->matches, key.data, true, js->join_cxt);
		oldcxt = MemoryContextSwitchTo(js->join_cxt);
		e->rows = lappend(e->rows, ExecCopySlotMinimalTuple(slot));
		MemoryContextSwitchTo(oldcxt);
		pfree(key.data);
	}
}

/*
 * join_next
 *		The next scan tuple of the join
 */
static TupleTableSlot *
join_next(ScanState *node)
{
	JoinScanState *js = (JoinScanState *) node;

	if (!js->fetched)
	{
		collect_outer(js);
		fetch_lemlist(js);
		js->fetched = true;
	}

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();

		/* the next match of the current outer row */
		if (js->have_outer && js->cur != NULL && js->next_match != NULL &&
			js->jointype != JOIN_SEMI && js->jointype != JOIN_ANTI)
		{
			MinimalTuple tuple = lfirst(js->next_match);

			js->next_match = lnext(js->cur->rows, js->next_match);
			ExecStoreMinimalTuple(tuple, js->inner_slot, false);
			build_scan_tuple(js, js->outer_slot, js->inner_slot);
			js->matched = true;
			return js->css.ss.ss_ScanTupleSlot;
		}

		/* done with it: the outer join's NULL-extended row */
		if (js->have_outer)
		{
			bool		emit = false;

			js->have_outer = false;
			if (js->jointype == JOIN_LEFT && !js->matched)
				emit = true;
			if (js->jointype == JOIN_SEMI && js->cur != NULL)
				emit = true;
			if (js->jointype == JOIN_ANTI && js->cur == NULL)
				emit = true;
			if (emit)
			{
				build_scan_tuple(js, js->outer_slot, NULL);
				return js->css.ss.ss_ScanTupleSlot;
			}
		}

		/* the next outer row */
		if (js->outer_rows == NULL ||
			!tuplestore_gettupleslot(js->outer_rows, true, false, js->outer_slot))
			return ExecClearTuple(js->css.ss.ss_ScanTupleSlot);
		{
			bool		ok;
			char	   *key;
			int			set_len;

			ResetExprContext(js->css.ss.ps.ps_ExprContext);
			build_scan_tuple(js, js->outer_slot, NULL);
			key = outer_key(js, &set_len, &ok);
			js->cur = ok ? entry_lookup(js->matches, key, false, NULL) : NULL;
			js->next_match = js->cur ? list_head(js->cur->rows) : NULL;
			js->matched = false;
			js->have_outer = true;
		}
	}
}

static bool
join_recheck(ScanState *node, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
join_exec(CustomScanState *node)
{
	return ExecScan(&node->ss, join_next, join_recheck);
}

/*
 * join_reset
 *		Forget an execution's rows and keys
 */
static void
join_reset(JoinScanState *js)
{
	if (js->outer_rows)
		tuplestore_end(js->outer_rows);
	js->outer_rows = NULL;
	js->key_sets = NULL;
	js->matches = NULL;
	MemoryContextReset(js->join_cxt);
	js->fetched = false;
	js->have_outer = false;
	js->cur = NULL;
	js->next_match = NULL;
	js->nouter = js->nkeys = js->nsets = 0;
}

static void
join_end(CustomScanState *node)
{
	JoinScanState *js = (JoinScanState *) node;

	if (js->outer_rows)
		tuplestore_end(js->outer_rows);
	js->outer_rows = NULL;
	ExecEndNode(js->outer);
	ExecEndNode(js->inner);
}

static void
join_rescan(CustomScanState *node)
{
	JoinScanState *js = (JoinScanState *) node;

	join_reset(js);
	ExecReScan(js->outer);
	ExecReScan(js->inner);
}

/*
 * join_explain
 *		The keys and where they come from; with ANALYZE, how many outer rows,
 *		distinct keys and key sets (the lemlist side shows its batches)
 */
static void
join_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	JoinScanState *js = (JoinScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *context;
	StringInfoData buf;
	ListCell   *lcf;
	ListCell   *lce;

	context = set_deparse_context_plan(es->deparse_cxt, &cscan->scan.plan, ancestors);
	initStringInfo(&buf);
	forboth(lcf, js->filters, lce, cscan->custom_exprs)
		appendStringInfo(&buf, "%s%s = %s", buf.len ? ", " : "",
						 lemlist_filter_name(lfirst_int(lcf)),
						 deparse_expression(lfirst(lce), context, true, false));
	ExplainPropertyText("lemlist Join", js->jointype == JOIN_INNER ? "Inner" :
						js->jointype == JOIN_LEFT ? "Left" :
						js->jointype == JOIN_SEMI ? "Semi" :
						js->jointype == JOIN_ANTI ? "Anti" : "Inner, the other side made unique", es);
	ExplainPropertyText("lemlist Join Keys", buf.data, es);
	if (es->analyze)
	{
		ExplainPropertyInteger("lemlist Outer Rows", NULL, js->nouter, es);
		ExplainPropertyInteger("lemlist Distinct Keys", NULL, js->nkeys, es);
		ExplainPropertyInteger("lemlist Key Sets", NULL, js->nsets, es);
	}
}
