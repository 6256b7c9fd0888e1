/*-------------------------------------------------------------------------
 *
 * join.c
 *		  The batched join: it joins a lemlist stats table with any other
 *		  input, and asks lemlist for exactly the keys that input holds
 *
 * Without it, a plain join of campaign_stats with a CRM table would list
 * the whole team (a hash join) or send one request per outer row (a nested
 * loop).  A join on the dates, the sender, the variant or the channel would
 * compare the outer rows with statistics computed under other filters.
 *
 * The batched join is a CustomScan.  This file offers it to the planner
 * through set_join_pathlist_hook (the way Citus and pg_strom plan their
 * joins), for joins whose clauses equate lemlist filter columns with
 * expressions of the other side.  It works as follows:
 *
 * - It runs the other side (the outer plan) once and keeps its rows in a
 *	 tuplestore.  work_mem bounds the memory; larger inputs spill to disk.
 *	 It also collects the distinct values of the key expressions.  Each
 *	 distinct combination of the key values other than the campaign ID
 *	 makes one key set, which holds the distinct campaign IDs that go with
 *	 it.
 * - The lemlist side is an ordinary ForeignScan plan under the join.  The
 *	 join hands it the key sets before it starts, through
 *	 lemlist_scan_set_join_keys.  The scan then gets its request sets from
 *	 request_sets.c (lemlist_request_sets): each key set, together with each
 *	 of the table's own filter combinations that allows it, is one request
 *	 set.  The IDs of a request set are sent in batches of 100.  All the
 *	 requests are in flight together, under the usual pacing, memo and
 *	 cache.  The join keeps the rows by key, in memory proportional to what
 *	 lemlist returned.
 * - The join then reads the outer rows back and joins them by key, as an
 *	 INNER, LEFT (the lemlist side nullable), SEMI (EXISTS) or ANTI (NOT
 *	 EXISTS) join.  For an inner join, the other join clauses are checked
 *	 on the joined rows.  For an outer or semi join, this path is offered
 *	 only when all its ON clauses are keys (or routes, described below).
 *
 * The lemlist side may also be an agency's table of several teams.  That is
 * a partitioned table (or a UNION ALL) whose partitions are lemlist tables,
 * each with its own server and API key.  The join then runs one ForeignScan
 * per partition.  Some columns hold one value per partition: the
 * partition's value, a UNION ALL arm's constant, or a server_name column.
 * A join clause on such a column routes each outer row's keys to the
 * partitions that the row can match.  For example, "d.team = s.team" asks
 * each team only for the campaigns of its own deals, and the join does not
 * ask a team that gets no keys at all.  The partitions' requests are in
 * flight at once, and each partition is paced by its own API key.  The join
 * polls their scans in turn and waits on the one descriptor they share.
 *
 * The planner costs the join from the number of distinct keys it estimates
 * on the outer side (lemlist_estimate_num_groups).  So the join wins over
 * listing the team whenever it sends fewer requests, and the parameterized
 * paths are still there for a handful of outer rows.  Some join clauses on
 * start_date, end_date or send_user cannot be sent by any plan (a FULL JOIN
 * on a date, for example).  Such a clause raises an ERROR when the plan is
 * made (see lemlist_unsendable_join_clause); it never gives an empty
 * answer.
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
#include "optimizer/appendinfo.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"
#include "utils/selfuncs.h"
#include "utils/tuplestore.h"

#include "lemlist_fdw.h"

#define JOIN_NAME "lemlist batched join"

/*
 * The CustomPath's custom_private, a List of Nodes indexed by this enum.
 */
enum JoinPathPrivateIndex
{
	JoinPathType,				/* Integer: the JoinType */
	JoinPathFilters,			/* Integer list: the filter of each key */
	JoinPathQuals,				/* the clauses checked on joined rows */
	JoinPathKeyExprs,			/* the outer expression of each key */
	JoinPathKeyModes,			/* Integer list: the date mode of each key */
	JoinPathRouteNames,			/* String list: the column of each route */
	JoinPathOuterJoin,			/* Integer: the outer join's RT index, or 0 */
	JoinPathRouteExprs,			/* the outer expression of each route */
	JoinPathTableRoutes,		/* per table, its route clauses and its
								 * conditions that a parameter decides; or
								 * NIL */
	JoinPathInnerTlist			/* the lemlist side's columns */
};

/*
 * The CustomScan's custom_private, a List of Nodes indexed by this enum.
 * Its custom_exprs are the keys' outer expressions, then the routes' outer
 * expressions.  When some table has routes or conditions on a parameter,
 * one boolean expression per table of the lemlist side comes last.  It
 * tells whether the outer row routes to that table.
 */
enum JoinPlanPrivateIndex
{
	JoinPlanType,				/* Integer: the JoinType */
	JoinPlanFilters,			/* Integer list: the filter of each key */
	JoinPlanKeyModes,			/* Integer list: the date mode of each key */
	JoinPlanOuterWidth,			/* Integer: outer columns of the scan tuple */
	JoinPlanRouteNames			/* String list: the column of each route */
};

/* The join clauses of a batched join, sorted by their role (join_clauses). */
typedef struct JoinClauses
{
	List	   *filters;		/* Integer list: the filter of each key */
	List	   *keys;			/* LemlistCond of each key */
	List	   *id_exprs;		/* outer expressions of the campaign_id keys */
	List	   *quals;			/* clauses checked on joined rows */
	List	   *route_names;	/* String list: the column of each route */
	List	   *route_exprs;	/* the outer expression of each route */
	List	   *table_routes;	/* per route, its clause for each table */
} JoinClauses;

/* One lemlist table of the lemlist side, while the join is planned. */
typedef struct JoinPart
{
	ForeignPath *path;
	RelOptInfo *rel;
	LemlistRelInfo *info;
} JoinPart;

/* One lemlist table of the lemlist side, while the join runs. */
typedef struct JoinInner
{
	PlanState  *plan;
	LemlistScanState *lemlist;
	TupleTableSlot *slot;		/* for its rows, as the join keeps them */
	ExprState  *route;			/* does an outer row route to it? NULL means
								 * yes */
	HTAB	   *key_sets;		/* non-ID key text -> JoinEntry (set) */
	HTAB	   *seen_keys;		/* key text -> JoinEntry, while collecting */
	HTAB	   *matches;		/* key text -> JoinEntry (rows) */
	bool		asked;			/* was given keys in this execution */
	bool		done;			/* has returned its last row */
} JoinInner;

/* The rows lemlist returned for one key, or the campaigns of one key set. */
typedef struct JoinEntry
{
	uint64		hash;			/* of the key text */
	char	   *key;
	List	   *rows;			/* MinimalTuples of the lemlist side */
	LemlistJoinKeySet *set;		/* in a key sets table: the key set */
	struct JoinEntry *next;		/* next entry with the same hash */
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
	int			key_filters;	/* the same, as bits 1 << filter */
	List	   *modes;			/* Integer list: the date mode of each key */
	List	   *key_states;		/* ExprState of each key's outer expression */
	int			outer_width;	/* outer columns of the scan tuple */
	int			nroutes;		/* join clauses that route outer rows */
	PlanState  *outer;
	int			ninners;
	JoinInner  *inners;			/* the lemlist side's tables */
	bool	   *routed;			/* per table: does the current outer row
								 * route to it? */

	MemoryContext join_cxt;		/* keys and the lemlist side's rows */
	Tuplestorestate *outer_rows;
	TupleTableSlot *outer_slot;

	/* how far the join has got */
	bool		fetched;
	bool		have_outer;
	JoinEntry **cur;			/* the current outer row's matches: one entry
								 * per table that has some */
	int		   *cur_inner;		/* the table of each entry of cur */
	int			ncur;			/* the number of entries in cur */
	int			cur_index;
	ListCell   *next_match;
	bool		matched;

	/* for EXPLAIN ANALYZE */
	int64		nouter;
	int64		nkeys;			/* distinct keys, of all tables */
	int64		nsets;			/* distinct key sets, of all tables */
	int64		nasked;			/* tables asked */
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
 *		Offer the batched join to the planner.  rel_size is how the join
 *		recognizes our foreign tables: it is their GetForeignRelSize.
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
 *		The planner's facts about a lemlist stats table (its LemlistRelInfo),
 *		or NULL for any other rel
 */
static LemlistRelInfo *
stats_rel_info(RelOptInfo *rel)
{
	LemlistRelInfo *info;

	if ((rel->reloptkind != RELOPT_BASEREL && rel->reloptkind != RELOPT_OTHER_MEMBER_REL) ||
		rel->rtekind != RTE_RELATION ||
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
 *		Whether a ForeignPath is the lemlist side of a batched join.  The
 *		batched join sends the join clauses of such a path.
 */
bool
lemlist_is_join_child(ForeignPath *path)
{
	return path->fdw_private != NIL && IsA(path->fdw_private, List) &&
		IsA(linitial(path->fdw_private), String) &&
		strcmp(strVal(linitial(path->fdw_private)), JOIN_NAME) == 0;
}

/*
 * lemlist_unsendable_join_clause
 *		A join clause of baserel on start_date, end_date or send_user that
 *		only a batched join can send, or NULL when there is none
 *
 * Such a clause compares the rows of a plain scan with the other side.
 * Those rows are computed under the default dates and for every sender, so
 * nothing matches.  Two kinds of clause do not count.  A clause that equates
 * the echo columns of two lemlist tables is fine, because both sides echo
 * what they sent.  A clause whose other side is within sent is fine too:
 * sent is the outer side of a batched join, and that join sends the clause.
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
		/* the other side is a lemlist table: both echo what they sent */
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
 * inner_parts
 *		The lemlist stats tables that make up innerrel, each with its
 *		cheapest path
 *
 * The list holds innerrel itself when it is such a table.  Otherwise it
 * holds the tables that an Append path of innerrel scans: a partitioned
 * table's partitions or a UNION ALL's arms, as many as plan-time pruning
 * left.  The result is NIL when innerrel is anything else.
 */
static List *
inner_parts(RelOptInfo *innerrel)
{
	Path	   *path = innerrel->cheapest_total_path;
	List	   *subpaths;
	List	   *parts = NIL;
	ListCell   *lc;

	if (path == NULL || path->param_info != NULL)
		return NIL;
	if (stats_rel_info(innerrel) != NULL)
		subpaths = list_make1(path);
	else if (IS_SIMPLE_REL(innerrel) && IsA(path, AppendPath) && !path->parallel_aware &&
			 ((AppendPath *) path)->subpaths != NIL)
		subpaths = ((AppendPath *) path)->subpaths;
	else
		return NIL;

	foreach(lc, subpaths)
	{
		Path	   *sub = lfirst(lc);
		JoinPart   *part;

		if (!IsA(sub, ForeignPath) || sub->param_info != NULL ||
			stats_rel_info(sub->parent) == NULL)
			return NIL;
		part = palloc(sizeof(JoinPart));
		part->path = (ForeignPath *) sub;
		part->rel = sub->parent;
		part->info = sub->parent->fdw_private;
		parts = lappend(parts, part);
	}
	return parts;
}

/*
 * part_clause
 *		A clause of innerrel, translated to refer to one of its tables
 */
static Node *
part_clause(PlannerInfo *root, Node *clause, JoinPart *part, RelOptInfo *innerrel)
{
	if (part->rel == innerrel)
		return clause;
	return lemlist_translate_to_child(root, clause, part->rel, innerrel);
}

/*
 * parts_key
 *		The key that a join clause makes in every table of the lemlist side
 *		(the same key in each), or NULL when it makes none
 *
 * *mixed is set when the clause makes a key in some tables and not in
 * others, or makes different keys in different tables.
 */
static LemlistCond *
parts_key(PlannerInfo *root, Expr *clause, RelOptInfo *innerrel, RelOptInfo *outerrel,
		  List *parts, bool *exact, bool *mixed)
{
	LemlistCond *first = NULL;
	bool		first_exact = true;
	ListCell   *lc;

	*mixed = false;
	foreach(lc, parts)
	{
		JoinPart   *part = lfirst(lc);
		Expr	   *mine = (Expr *) part_clause(root, (Node *) clause, part, innerrel);
		bool		mine_exact = true;
		LemlistCond *key = lemlist_join_key(root, part->rel, part->info->columns,
											part->info->natts, mine,
											outerrel->relids, &mine_exact);

		if (foreach_current_index(lc) == 0)
		{
			first = key;
			first_exact = mine_exact;
			continue;
		}
		if ((key == NULL) != (first == NULL) ||
			(key != NULL &&
			 (key->filter != first->filter || key->mode != first->mode ||
			  mine_exact != first_exact || !equal(key->expr, first->expr))))
		{
			*mixed = true;
			return NULL;
		}
	}
	*exact = first_exact;
	return first;
}

/*
 * column_const
 *		The value of a column of one table of the lemlist side, as a Const of
 *		type typid, when lemlist_fdw fills the column with one value for all
 *		the table's rows (its partition's value, its server's name); else
 *		NULL
 */
static Const *
column_const(JoinPart *part, Var *var, Oid typid, Oid collid)
{
	LemlistColumn *col;
	Oid			typinput;
	Oid			typioparam;
	int16		typlen;
	bool		typbyval;
	Datum		datum = (Datum) 0;

	if ((Index) var->varno != part->rel->relid || var->varlevelsup != 0 ||
		var->varattno < 1 || var->varattno > part->info->natts)
		return NULL;
	col = &part->info->columns[var->varattno - 1];
	if (col->dropped || col->source != LEMLIST_SRC_CONST || col->typid != typid)
		return NULL;

	get_typlenbyval(col->typid, &typlen, &typbyval);
	if (col->value != NULL)
	{
		getTypeInputInfo(col->typid, &typinput, &typioparam);
		datum = OidInputFunctionCall(typinput, pstrdup(col->value), typioparam, col->typmod);
	}
	return makeConst(col->typid, col->typmod, collid, typlen, datum,
					 col->value == NULL, typbyval);
}

/*
 * part_value
 *		The value of a column of innerrel (var) in one of its tables, as a
 *		Const, when the column holds one value for all the table's rows;
 *		else NULL
 *
 * The value is the partition's value or the server's name (column_const),
 * or a UNION ALL arm's constant.
 */
static Const *
part_value(PlannerInfo *root, Var *var, JoinPart *part, RelOptInfo *innerrel)
{
	Node	   *value = eval_const_expressions(root,
											   part_clause(root, (Node *) var, part, innerrel));

	if (IsA(value, Const))
		return exprType(value) == var->vartype ? (Const *) value : NULL;
	if (!IsA(value, Var))
		return NULL;
	return column_const(part, (Var *) value, var->vartype, var->varcollid);
}

/* replace_var's context: the column, and the value to put in its place */
typedef struct ReplaceVar
{
	Var		   *var;
	Const	   *value;
} ReplaceVar;

static Node *
replace_var(Node *node, ReplaceVar *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var) &&
		((Var *) node)->varno == context->var->varno &&
		((Var *) node)->varattno == context->var->varattno &&
		((Var *) node)->varlevelsup == 0)
		return (Node *) copyObject(context->value);
	return expression_tree_mutator(node, replace_var, context);
}

/* replace_columns's context: the table, and whether a column had no value */
typedef struct ReplaceColumns
{
	JoinPart   *part;
	bool		failed;
} ReplaceColumns;

static Node *
replace_columns(Node *node, ReplaceColumns *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;
		Const	   *value = column_const(context->part, var, var->vartype, var->varcollid);

		if (value == NULL)
			context->failed = true;
		return value ? (Node *) value : node;
	}
	return expression_tree_mutator(node, replace_columns, context);
}

/*
 * part_prune_quals
 *		A table's own conditions on its filled columns that only a parameter
 *		decides ("team = $1" in a generic plan), with the columns' values in
 *		their place
 *
 * With them, the join does not ask a table that the Append would prune at
 * run time.
 */
static List *
part_prune_quals(PlannerInfo *root, JoinPart *part)
{
	List	   *quals = NIL;
	ListCell   *lc;

	foreach(lc, part->rel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		ReplaceColumns context = {part, false};
		Node	   *qual;

		if (contain_volatile_functions((Node *) ri->clause))
			continue;
		qual = replace_columns((Node *) ri->clause, &context);
		if (context.failed)
			continue;
		qual = eval_const_expressions(root, qual);
		if (IsA(qual, Const) && !((Const *) qual)->constisnull &&
			DatumGetBool(((Const *) qual)->constvalue))
			continue;
		quals = lappend(quals, qual);
	}
	return quals;
}

/*
 * route_clause
 *		Whether a join clause routes outer rows to the lemlist side's tables.
 *
 * A clause routes when it is "column = outer expression" (with an equality
 * operator and nothing volatile) and the column holds one value in each
 * table (part_value).  The result then has one clause per table: the join
 * clause with that table's value in the column's place.  Such a clause
 * refers to the outer side alone, and it is true exactly when an outer row
 * can match the table's rows.  The join sends the row's keys only to the
 * tables whose clause is true.  The result is NIL when the clause does not
 * route.  Otherwise, *outer_expr and *column say what the clause compares,
 * for EXPLAIN.
 */
static List *
route_clause(PlannerInfo *root, Expr *clause, RelOptInfo *innerrel,
			 RelOptInfo *outerrel, List *parts, Expr **outer_expr, char **column)
{
	OpExpr	   *op;
	Var		   *var = NULL;
	Node	   *other = NULL;
	Relids		varnos;
	List	   *routes = NIL;
	ListCell   *lc;

	if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2 ||
		contain_volatile_functions((Node *) clause))
		return NIL;
	op = (OpExpr *) clause;
	if (!op_mergejoinable(op->opno, exprType(linitial(op->args))) &&
		!op_hashjoinable(op->opno, exprType(linitial(op->args))))
		return NIL;
	for (int side = 0; side < 2 && var == NULL; side++)
	{
		Node	   *arg = list_nth(op->args, side);

		while (IsA(arg, RelabelType))
			arg = (Node *) ((RelabelType *) arg)->arg;
		if (IsA(arg, Var) && (Index) ((Var *) arg)->varno == innerrel->relid &&
			((Var *) arg)->varlevelsup == 0 && ((Var *) arg)->varattno > 0)
		{
			var = (Var *) arg;
			other = list_nth(op->args, 1 - side);
		}
	}
	if (var == NULL)
		return NIL;
	varnos = lemlist_pull_varnos(root, other);
	if (bms_is_empty(varnos) || !bms_is_subset(varnos, outerrel->relids))
		return NIL;

	foreach(lc, parts)
	{
		ReplaceVar	context;

		context.var = var;
		context.value = part_value(root, var, lfirst(lc), innerrel);
		if (context.value == NULL)
			return NIL;
		routes = lappend(routes, replace_var((Node *) clause, &context));
	}
	*outer_expr = (Expr *) other;
	*column = get_rte_attribute_name(planner_rt_fetch(innerrel->relid, root),
									 var->varattno);
	return routes;
}

/*
 * join_clauses
 *		Sort the join clauses of a batched join into jc: the keys (the first
 *		clause for each key filter), the routes, and the other clauses that
 *		the joined rows must satisfy.  Returns false when a clause rules the
 *		batched join out.
 */
static bool
join_clauses(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
			 RelOptInfo *innerrel, List *parts, JoinType jointype,
			 JoinPathExtraData *extra, JoinClauses *jc)
{
	int			key_filters = 0;
	ListCell   *lc;

	memset(jc, 0, sizeof(JoinClauses));
	foreach(lc, extra->restrictlist)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		/* a semi or anti join's clauses all decide its matches */
		bool		pushed = (jointype == JOIN_SEMI || jointype == JOIN_ANTI) ? false :
			RINFO_IS_PUSHED_DOWN(ri, joinrel->relids);
		bool		exact = true;
		LemlistCond *key = NULL;

		if (ri->pseudoconstant)
			return false;
		if (jointype == JOIN_INNER || jointype == JOIN_UNIQUE_OUTER || !pushed)
		{
			bool		mixed;
			List	   *routes;
			Expr	   *outer_expr;
			char	   *column;

			key = parts_key(root, ri->clause, innerrel, outerrel, parts, &exact, &mixed);
			if (mixed)
				return false;
			if (key == NULL &&
				(routes = route_clause(root, ri->clause, innerrel, outerrel, parts,
									   &outer_expr, &column)) != NIL)
			{
				jc->route_names = lappend(jc->route_names, makeString(column));
				jc->route_exprs = lappend(jc->route_exprs, outer_expr);
				jc->table_routes = lappend(jc->table_routes, routes);
				/*
				 * A route is exact, so it decides an outer join's matches.
				 * An inner join also checks it on the joined rows.
				 */
				if (jointype == JOIN_INNER)
					jc->quals = lappend(jc->quals, ri->clause);
				continue;
			}
		}
		if (key != NULL && !(key_filters & (1 << key->filter)))
		{
			key_filters |= 1 << key->filter;
			jc->filters = lappend_int(jc->filters, key->filter);
			jc->keys = lappend(jc->keys, key);
			if (key->filter == LEMLIST_FILTER_CAMPAIGN_ID)
				jc->id_exprs = lappend(jc->id_exprs, key->expr);
			if (exact && jointype != JOIN_INNER)
				continue;
		}
		/*
		 * An ON clause that is not an exact key cannot decide an outer
		 * join's matches.
		 */
		if ((jointype != JOIN_INNER && !pushed) || jointype == JOIN_UNIQUE_OUTER)
			return false;
		jc->quals = lappend(jc->quals, ri->clause);
	}
	return jc->filters != NIL;
}

/*
 * estimate_key_sets
 *		Estimate how many distinct key sets (*nsets) and distinct keys
 *		(*nkeys) the outer side's rows hold.  A key set is made of the keys
 *		other than campaign_id.
 */
static void
estimate_key_sets(PlannerInfo *root, const JoinClauses *jc, double outer_rows,
				  double *nsets, double *nkeys)
{
	List	   *set_exprs = NIL;
	List	   *open_exprs = NIL;
	List	   *all_exprs = list_copy(jc->route_exprs);
	double		domains = 1;
	ListCell   *lc;

	foreach(lc, jc->keys)
	{
		LemlistCond *key = lfirst(lc);
		int			domain = lemlist_filter_domain_size(key->filter);

		all_exprs = lappend(all_exprs, key->expr);
		if (key->filter == LEMLIST_FILTER_CAMPAIGN_ID)
			continue;
		set_exprs = lappend(set_exprs, key->expr);
		if (domain > 0)
			domains *= domain;
		else
			open_exprs = lappend(open_exprs, key->expr);
	}
	*nsets = set_exprs ? lemlist_estimate_num_groups(root, set_exprs, outer_rows) : 1;
	*nkeys = lemlist_estimate_num_groups(root, all_exprs, outer_rows);

	/*
	 * A key on ab_selected or channel takes at most the values of its
	 * domain, while a table without statistics would be guessed at 200
	 * values.  So the domains cap the number of key sets, and the number of
	 * keys is at most that many key sets times the distinct IDs.
	 */
	if (domains > 1)
	{
		double		open_sets = open_exprs ?
			lemlist_estimate_num_groups(root, open_exprs, outer_rows) : 1;

		*nsets = Min(*nsets, open_sets * domains);
		if (jc->id_exprs != NIL)
			*nkeys = Min(*nkeys, *nsets * lemlist_estimate_num_groups(root, jc->id_exprs,
																	   outer_rows));
		else
			*nkeys = Min(*nkeys, *nsets);
	}
}

/*
 * inner_side_paths
 *		Add the cost of the lemlist side's requests to *cost, and make each
 *		table's own path, marked as the join's, into *child_paths
 *
 * Each table is asked one request set per distinct key set and per
 * combination of its own filters.  Each request set takes ceil(IDs / 100)
 * batches.  Without a campaign_id key, the team is listed instead and its
 * campaigns are batched.  Routes share the keys out among the tables.
 */
static void
inner_side_paths(const JoinClauses *jc, List *parts, double nsets, double nkeys,
				 Cost *cost, List **child_paths)
{
	double		share = jc->route_names ? 1.0 / list_length(parts) : 1.0;
	ListCell   *lc;

	*child_paths = NIL;
	foreach(lc, parts)
	{
		JoinPart   *part = lfirst(lc);
		LemlistRelInfo *info = part->info;
		double		own = Max(info->combos, 1);
		double		sets = Max(nsets * share, 1);
		double		keys = Max(nkeys * share, 1);
		double		pages = 0;
		double		batches;
		ForeignPath *child;
		ListCell   *flc;

		/*
		 * The table's own combinations, not counting the filters whose
		 * values the keys give.
		 */
		foreach(flc, jc->filters)
		{
			if (info->values[lfirst_int(flc)] > 1)
				own /= info->values[lfirst_int(flc)];
		}
		own = Max(own, 1);
		if (jc->id_exprs != NIL)
			batches = sets * own * ceil(Max(keys / sets, 1) / LEMLIST_BATCH_SIZE);
		else
		{
			pages = (info->ncampaigns > 0) ? 0 : info->list_pages;
			batches = sets * own * ceil(Max(info->ncampaigns, 1) / LEMLIST_BATCH_SIZE);
		}
		*cost += lemlist_request_cost(info, pages, batches);

		child = makeNode(ForeignPath);
		memcpy(child, part->path, sizeof(ForeignPath));
		child->fdw_private = list_make1(makeString(JOIN_NAME));
		*child_paths = lappend(*child_paths, child);
	}
}

/*
 * routes_per_table
 *		Each table's route: each route's clause for the table, and the
 *		table's own conditions that a parameter decides.  The result is NIL
 *		when no table has any.
 */
static List *
routes_per_table(PlannerInfo *root, List *parts, List *table_routes)
{
	List	   *per_table = NIL;
	bool		any = (table_routes != NIL);
	ListCell   *lc;

	foreach(lc, parts)
	{
		List	   *mine = part_prune_quals(root, lfirst(lc));
		ListCell   *rlc;

		foreach(rlc, table_routes)
			mine = lappend(mine, list_nth(lfirst(rlc), foreach_current_index(lc)));
		any = any || mine != NIL;
		per_table = lappend(per_table, mine);
	}
	return any ? per_table : NIL;
}

/*
 * join_pathlist
 *		Offer a batched join of innerrel with outerrel when the join clauses
 *		give keys for lemlist filters.  innerrel is a lemlist stats table or
 *		a table of them (inner_parts); outerrel can be any input.
 */
static void
join_pathlist(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
			  RelOptInfo *innerrel, JoinType jointype, JoinPathExtraData *extra)
{
	List	   *parts;
	Path	   *outer_path;
	JoinClauses jc;
	List	   *child_paths;
	List	   *key_exprs = NIL;
	List	   *key_modes = NIL;
	ListCell   *lc;
	CustomPath *cpath;
	double		outer_rows;
	double		nsets;
	double		nkeys;
	Cost		cost;

	if (prev_join_pathlist_hook)
		prev_join_pathlist_hook(root, joinrel, outerrel, innerrel, jointype, extra);

	/*
	 * JOIN_UNIQUE_OUTER is "lemlist col IN (SELECT ...)" with the other side
	 * made unique: the join keeps each of its distinct keys once.
	 */
	if (!enable_batched_join ||
		(jointype != JOIN_INNER && jointype != JOIN_LEFT &&
		 jointype != JOIN_SEMI && jointype != JOIN_ANTI &&
		 jointype != JOIN_UNIQUE_OUTER))
		return;
	if ((parts = inner_parts(innerrel)) == NIL)
		return;
	/* two lemlist tables join the usual way: both echo their filters */
	if (stats_rel_info(outerrel) != NULL)
		return;

	outer_path = outerrel->cheapest_total_path;
	if (outer_path == NULL || outer_path->param_info != NULL ||
		!bms_is_empty(innerrel->lateral_relids) ||
		!bms_is_empty(joinrel->lateral_relids))
		return;

	if (!join_clauses(root, joinrel, outerrel, innerrel, parts, jointype, extra, &jc))
		return;

	/*
	 * A join clause on the dates or the sender with a rel that the outer
	 * side does not hold would be checked above this join, against rows
	 * computed under the default dates.  The path would answer nothing.
	 */
	foreach(lc, parts)
	{
		JoinPart   *part = lfirst(lc);

		if (lemlist_unsendable_join_clause(root, part->rel, part->info->columns,
										   part->info->natts, outerrel->relids) != NULL)
			return;
	}

	/* cost the outer side and the joined rows, then the requests */
	outer_rows = Max(outer_path->rows, 1);
	estimate_key_sets(root, &jc, outer_rows, &nsets, &nkeys);
	cost = outer_path->total_cost + outer_rows * cpu_tuple_cost +
		joinrel->rows * (LEMLIST_ROW_COST + cpu_tuple_cost);
	inner_side_paths(&jc, parts, nsets, nkeys, &cost, &child_paths);

	foreach(lc, jc.keys)
	{
		key_exprs = lappend(key_exprs, ((LemlistCond *) lfirst(lc))->expr);
		key_modes = lappend_int(key_modes, ((LemlistCond *) lfirst(lc))->mode);
	}

	cpath = makeNode(CustomPath);
	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = joinrel;
	cpath->path.pathtarget = joinrel->reltarget;
	cpath->path.param_info = NULL;
	cpath->path.rows = joinrel->rows;
	cpath->path.startup_cost = cost;	/* no row until both sides have run */
	cpath->path.total_cost = cost;
	cpath->path.pathkeys = NIL;
	cpath->custom_paths = lcons(outer_path, child_paths);
	cpath->custom_private = list_make4(makeInteger(jointype), jc.filters, jc.quals, key_exprs);
	cpath->custom_private = lappend(cpath->custom_private, key_modes);
	cpath->custom_private = lappend(cpath->custom_private, jc.route_names);
	cpath->custom_private = lappend(cpath->custom_private,
									makeInteger(lemlist_outer_join_relid(extra->sjinfo)));
	cpath->custom_private = lappend(cpath->custom_private, jc.route_exprs);
	cpath->custom_private = lappend(cpath->custom_private,
									routes_per_table(root, parts, jc.table_routes));
	cpath->custom_private = lappend(cpath->custom_private, innerrel->reltarget->exprs);
	cpath->methods = &join_path_methods;
	add_path(joinrel, &cpath->path);
}

/*
 * join_plan
 *		Make the CustomScan
 *
 * Its children are the outer plan and the lemlist side's tables.  Its scan
 * tuple holds the outer plan's columns, then the lemlist side's.  Its
 * custom_exprs hold the keys' and the routes' outer expressions and each
 * table's route.
 */
static Plan *
join_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
		  List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	Plan	   *outer_plan = linitial(custom_plans);
	List	   *private = best_path->custom_private;
	JoinType	jointype = intVal(list_nth(private, JoinPathType));
	List	   *inner_tlist = list_nth(private, JoinPathInnerTlist);
	List	   *scan_tlist = NIL;
	List	   *exprs;
	ListCell   *lc;
	int			resno = 1;

	/* every table of the lemlist side returns the lemlist side's columns */
	foreach(lc, custom_plans)
	{
		if (foreach_current_index(lc) > 0 &&
			list_length(((Plan *) lfirst(lc))->targetlist) != list_length(inner_tlist))
			elog(ERROR, "lemlist batched join: a table returns %d columns, not %d",
				 list_length(((Plan *) lfirst(lc))->targetlist), list_length(inner_tlist));
	}

	foreach(lc, outer_plan->targetlist)
		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry(copyObject(((TargetEntry *) lfirst(lc))->expr),
											 resno++, NULL, false));
	foreach(lc, inner_tlist)
	{
		Expr	   *expr = copyObject(lfirst(lc));

		/* above a left join, the lemlist side's Vars are the nullable ones */
		if (jointype == JOIN_LEFT && IsA(expr, Var))
			lemlist_var_nulled_by((Var *) expr,
								  intVal(list_nth(private, JoinPathOuterJoin)));
		scan_tlist = lappend(scan_tlist, makeTargetEntry(expr, resno++, NULL, false));
	}
	exprs = list_concat_copy(list_nth(private, JoinPathKeyExprs),
							 list_nth(private, JoinPathRouteExprs));
	foreach(lc, (List *) list_nth(private, JoinPathTableRoutes))
		exprs = lappend(exprs, make_ands_explicit(lfirst(lc)));

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = list_nth(private, JoinPathQuals);
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_plans = custom_plans;
	cscan->custom_exprs = exprs;
	cscan->custom_private = list_make4(makeInteger(jointype),
									   list_nth(private, JoinPathFilters),
									   list_nth(private, JoinPathKeyModes),
									   makeInteger(list_length(outer_plan->targetlist)));
	cscan->custom_private = lappend(cscan->custom_private,
									list_nth(private, JoinPathRouteNames));
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
	js->jointype = intVal(list_nth(cscan->custom_private, JoinPlanType));
	js->filters = list_nth(cscan->custom_private, JoinPlanFilters);
	js->modes = list_nth(cscan->custom_private, JoinPlanKeyModes);
	js->outer_width = intVal(list_nth(cscan->custom_private, JoinPlanOuterWidth));
	js->nroutes = list_length(list_nth(cscan->custom_private, JoinPlanRouteNames));
	return (Node *) js;
}

static void
join_begin(CustomScanState *node, EState *estate, int eflags)
{
	JoinScanState *js = (JoinScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	int			nkeys = list_length(js->filters);
	List	   *key_exprs = NIL;
	ListCell   *lc;

	js->outer = ExecInitNode(linitial(cscan->custom_plans), estate, eflags);
	node->custom_ps = list_make1(js->outer);
	foreach(lc, js->filters)
		js->key_filters |= 1 << lfirst_int(lc);

	js->ninners = list_length(cscan->custom_plans) - 1;
	js->inners = palloc0(sizeof(JoinInner) * js->ninners);
	js->routed = palloc0(sizeof(bool) * js->ninners);
	js->cur = palloc0(sizeof(JoinEntry *) * js->ninners);
	js->cur_inner = palloc0(sizeof(int) * js->ninners);
	for (int i = 0; i < js->ninners; i++)
	{
		JoinInner  *inner = &js->inners[i];

		inner->plan = ExecInitNode(list_nth(cscan->custom_plans, i + 1), estate, eflags);
		node->custom_ps = lappend(node->custom_ps, inner->plan);
		inner->lemlist = ((ForeignScanState *) inner->plan)->fdw_state;
		inner->slot = ExecInitExtraTupleSlot(estate, ExecGetResultType(inner->plan),
											 &TTSOpsMinimalTuple);
		/*
		 * Tell it now which filters its keys are on, for EXPLAIN before any
		 * execution.
		 */
		lemlist_scan_set_join_keys(inner->lemlist, js->key_filters, NIL, false);
		/*
		 * In custom_exprs, each table's route comes after the keys' and the
		 * routes' outer expressions.
		 */
		if (list_length(cscan->custom_exprs) > nkeys + js->nroutes)
			inner->route = ExecInitExpr(list_nth(cscan->custom_exprs,
												 nkeys + js->nroutes + i),
										&node->ss.ps);
	}

	foreach(lc, cscan->custom_exprs)
	{
		if (foreach_current_index(lc) < nkeys)
			key_exprs = lappend(key_exprs, lfirst(lc));
	}
	js->key_states = ExecInitExprList(key_exprs, &node->ss.ps);
	js->outer_slot = ExecInitExtraTupleSlot(estate, ExecGetResultType(js->outer),
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
 *		The key of the outer row in the scan tuple
 *
 * The key is the text of each key, each followed by a unit separator, with
 * the campaign ID last.  *set_len is set to the length of the key set's part
 * (everything but the ID).  *ok is cleared when a key has a value that no
 * lemlist row can match.  The key is made in the per-tuple memory, which
 * the callers reset for each outer row.
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
 * route_row
 *		Set js->routed to the tables of the lemlist side that the outer row
 *		in the scan tuple routes to, and return how many there are
 */
static int
route_row(JoinScanState *js)
{
	ExprContext *econtext = js->css.ss.ps.ps_ExprContext;
	int			n = 0;

	econtext->ecxt_scantuple = js->css.ss.ss_ScanTupleSlot;
	for (int i = 0; i < js->ninners; i++)
	{
		bool		isnull = false;

		js->routed[i] = js->inners[i].route == NULL ||
			DatumGetBool(ExecEvalExprSwitchContext(js->inners[i].route, econtext, &isnull));
		js->routed[i] = js->routed[i] && !isnull;
		n += js->routed[i];
	}
	return n;
}

/*
 * add_key
 *		Add an outer row's key to what one table of the lemlist side is
 *		asked for.  The first set_len bytes of the key name its key set.
 */
static void
add_key(JoinScanState *js, JoinInner *inner, const char *full_key, int set_len)
{
	JoinEntry  *set;
	char	   *set_key;
	MemoryContext oldcxt;

	if (inner->seen_keys == NULL)
	{
		inner->seen_keys = entry_table("lemlist_fdw join keys", js->join_cxt);
		inner->key_sets = entry_table("lemlist_fdw join key sets", js->join_cxt);
	}
	if (entry_lookup(inner->seen_keys, full_key, false, NULL) != NULL)
		return;
	(void) entry_lookup(inner->seen_keys, full_key, true, js->join_cxt);
	js->nkeys++;

	set_key = pnstrdup(full_key, set_len);
	set = entry_lookup(inner->key_sets, set_key, true, js->join_cxt);
	pfree(set_key);
	if (set->set == NULL)
	{
		/* the key set's values, from the key text */
		char	   *p = MemoryContextStrdup(js->join_cxt, set->key);
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
	if (list_member_int(js->filters, LEMLIST_FILTER_CAMPAIGN_ID))
	{
		oldcxt = MemoryContextSwitchTo(js->join_cxt);
		set->set->campaign_ids = lappend(set->set->campaign_ids,
										 pstrdup(full_key + set_len));
		MemoryContextSwitchTo(oldcxt);
	}
}

/*
 * collect_outer
 *		Run the outer plan.  Keep its rows, and collect for each table of the
 *		lemlist side the distinct key sets routed to it, with their distinct
 *		campaign IDs.
 */
static void
collect_outer(JoinScanState *js)
{
	EState	   *estate = js->css.ss.ps.state;
	MemoryContext oldcxt;
	HTAB	   *unique_keys = NULL;

	oldcxt = MemoryContextSwitchTo(estate->es_query_cxt);
	js->outer_rows = tuplestore_begin_heap(false, false, work_mem);
	MemoryContextSwitchTo(oldcxt);
	if (js->jointype == JOIN_UNIQUE_OUTER)
		unique_keys = entry_table("lemlist_fdw join unique keys", js->join_cxt);

	for (;;)
	{
		TupleTableSlot *slot = ExecProcNode(js->outer);
		char	   *full_key;
		int			set_len;
		bool		ok;

		if (TupIsNull(slot))
			break;
		CHECK_FOR_INTERRUPTS();
		ResetExprContext(js->css.ss.ps.ps_ExprContext);
		js->nouter++;
		build_scan_tuple(js, slot, NULL);
		full_key = outer_key(js, &set_len, &ok);
		if (!ok || route_row(js) == 0)
		{
			/* no lemlist row can match it: only outer and anti joins keep it */
			if (js->jointype == JOIN_LEFT || js->jointype == JOIN_ANTI)
				tuplestore_puttupleslot(js->outer_rows, slot);
			continue;
		}

		/*
		 * This is the other side of an IN (SELECT ...): make it unique by its
		 * keys and routes.  Routes by equality send two rows either to the
		 * same tables or to no table in common.  So a row with the same key
		 * and routes as a row already kept would only repeat that row's
		 * matches.
		 */
		if (unique_keys != NULL)
		{
			StringInfoData unique;

			initStringInfo(&unique);
			appendStringInfoString(&unique, full_key);
			for (int i = 0; js->nroutes > 0 && i < js->ninners; i++)
				appendStringInfoChar(&unique, js->routed[i] ? '1' : '0');
			if (entry_lookup(unique_keys, unique.data, false, NULL) != NULL)
			{
				pfree(unique.data);
				continue;
			}
			(void) entry_lookup(unique_keys, unique.data, true, js->join_cxt);
			pfree(unique.data);
		}
		tuplestore_puttupleslot(js->outer_rows, slot);

		for (int i = 0; i < js->ninners; i++)
		{
			if (js->routed[i])
				add_key(js, &js->inners[i], full_key, set_len);
		}
	}

	/*
	 * Keep the key sets.  The tables of keys only served to keep the keys
	 * distinct, so drop them.
	 */
	if (unique_keys != NULL)
		hash_destroy(unique_keys);
	for (int i = 0; i < js->ninners; i++)
	{
		if (js->inners[i].seen_keys != NULL)
			hash_destroy(js->inners[i].seen_keys);
		js->inners[i].seen_keys = NULL;
	}
}

/*
 * keep_row
 *		Keep a row that a table of the lemlist side returned, under its key
 */
static void
keep_row(JoinScanState *js, JoinInner *inner, TupleTableSlot *slot)
{
	LemlistCombo *combo;
	const char *id;
	StringInfoData key;
	ListCell   *lc;
	JoinEntry  *e;
	MemoryContext oldcxt;

	lemlist_scan_row_key(inner->lemlist, &combo, &id);
	initStringInfo(&key);
	foreach(lc, js->filters)
	{
		int			f = lfirst_int(lc);
		const char *v;

		if (f == LEMLIST_FILTER_CAMPAIGN_ID)
			continue;
		v = *lemlist_combo_field(combo, f);
		if (v == NULL)
		{
			pfree(key.data);
			return;
		}
		appendStringInfoString(&key, v);
		appendStringInfoChar(&key, '\x1f');
	}
	if (list_member_int(js->filters, LEMLIST_FILTER_CAMPAIGN_ID))
		appendStringInfoString(&key, id);
	e = entry_lookup(inner->matches, key.data, true, js->join_cxt);
	oldcxt = MemoryContextSwitchTo(js->join_cxt);
	e->rows = lappend(e->rows, ExecCopySlotMinimalTuple(slot));
	MemoryContextSwitchTo(oldcxt);
	pfree(key.data);
}

/*
 * wait_inners
 *		Wait until one of the tables that are still asking may have an
 *		answer
 *
 * Their requests all share the backend's one curl handle, and one
 * descriptor wakes for any of them (and also for pacing and for a cancel).
 */
static void
wait_inners(JoinScanState *js)
{
	pgsocket	fd = PGINVALID_SOCKET;
	int			rc;

	/* each call arms the wake-up that the table's pacing or retries need */
	for (int i = 0; i < js->ninners; i++)
	{
		if (js->inners[i].asked && !js->inners[i].done)
			fd = lemlist_scan_wait_fd(js->inners[i].lemlist);
	}
	rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_SOCKET_READABLE | WL_EXIT_ON_PM_DEATH,
						   fd, -1L, lemlist_wait_event(LEMLIST_WAIT_REQUEST));
	if (rc & WL_LATCH_SET)
		ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * fetch_lemlist
 *		Tell each table of the lemlist side its key sets, and keep what the
 *		tables return by key
 *
 * One table runs as a plain scan.  Several tables are polled in turn and
 * none of them waits, so that all their requests are in flight at once.
 * The join does not ask a table that no outer row routes to.
 */
static void
fetch_lemlist(JoinScanState *js)
{
	int			remaining = 0;

	for (int i = 0; i < js->ninners; i++)
	{
		JoinInner  *inner = &js->inners[i];

		if (inner->key_sets == NULL)
			continue;
		inner->asked = true;
		inner->matches = entry_table("lemlist_fdw join rows", js->join_cxt);
		js->nasked++;
	}
	for (int i = 0; i < js->ninners; i++)
	{
		JoinInner  *inner = &js->inners[i];
		HASH_SEQ_STATUS status;
		JoinSlot   *slot;
		List	   *sets = NIL;

		if (!inner->asked)
			continue;
		hash_seq_init(&status, inner->key_sets);
		while ((slot = hash_seq_search(&status)) != NULL)
		{
			for (JoinEntry *e = slot->head; e != NULL; e = e->next)
				sets = lappend(sets, e->set);
		}
		lemlist_scan_set_join_keys(inner->lemlist, js->key_filters, sets, js->nasked > 1);
		remaining++;
	}

	while (remaining > 0)
	{
		bool		progressed = false;

		for (int i = 0; i < js->ninners; i++)
		{
			JoinInner  *inner = &js->inners[i];

			if (!inner->asked || inner->done)
				continue;
			for (;;)
			{
				TupleTableSlot *slot = ExecProcNode(inner->plan);

				if (TupIsNull(slot))
				{
					/* a plain scan has ended; a polled one may have no answer yet */
					if (js->nasked == 1 || lemlist_scan_done(inner->lemlist))
					{
						inner->done = true;
						remaining--;
					}
					break;
				}
				keep_row(js, inner, slot);
				progressed = true;
			}
		}
		if (remaining > 0 && !progressed)
			wait_inners(js);
	}
}

/*
 * find_matches
 *		Find the current outer row's matches: for each table that the row
 *		routes to, the rows kept under the row's key
 */
static void
find_matches(JoinScanState *js)
{
	bool		ok;
	int			set_len;
	char	   *key;

	js->ncur = 0;
	js->cur_index = 0;
	js->next_match = NULL;
	build_scan_tuple(js, js->outer_slot, NULL);
	key = outer_key(js, &set_len, &ok);
	if (!ok || route_row(js) == 0)
		return;
	for (int i = 0; i < js->ninners; i++)
	{
		JoinEntry  *e;

		if (!js->routed[i] || js->inners[i].matches == NULL)
			continue;
		e = entry_lookup(js->inners[i].matches, key, false, NULL);
		if (e != NULL && e->rows != NIL)
		{
			js->cur[js->ncur] = e;
			js->cur_inner[js->ncur++] = i;
		}
	}
	if (js->ncur > 0)
		js->next_match = list_head(js->cur[0]->rows);
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

		/* return the next match of the current outer row */
		if (js->have_outer && js->ncur > 0 &&
			js->jointype != JOIN_SEMI && js->jointype != JOIN_ANTI)
		{
			while (js->next_match == NULL && ++js->cur_index < js->ncur)
				js->next_match = list_head(js->cur[js->cur_index]->rows);
			if (js->next_match != NULL)
			{
				JoinEntry  *e = js->cur[js->cur_index];
				MinimalTuple tuple = lfirst(js->next_match);
				TupleTableSlot *inner_slot = js->inners[js->cur_inner[js->cur_index]].slot;

				js->next_match = lnext(e->rows, js->next_match);
				ExecStoreMinimalTuple(tuple, inner_slot, false);
				build_scan_tuple(js, js->outer_slot, inner_slot);
				js->matched = true;
				return js->css.ss.ss_ScanTupleSlot;
			}
		}

		/*
		 * The current outer row has no more matches: return the outer join's
		 * NULL-extended row if one is due.
		 */
		if (js->have_outer)
		{
			bool		emit = false;

			js->have_outer = false;
			if (js->jointype == JOIN_LEFT && !js->matched)
				emit = true;
			if (js->jointype == JOIN_SEMI && js->ncur > 0)
				emit = true;
			if (js->jointype == JOIN_ANTI && js->ncur == 0)
				emit = true;
			if (emit)
			{
				build_scan_tuple(js, js->outer_slot, NULL);
				return js->css.ss.ss_ScanTupleSlot;
			}
		}

		/* move on to the next outer row */
		if (js->outer_rows == NULL ||
			!tuplestore_gettupleslot(js->outer_rows, true, false, js->outer_slot))
			return ExecClearTuple(js->css.ss.ss_ScanTupleSlot);
		ResetExprContext(js->css.ss.ps.ps_ExprContext);
		find_matches(js);
		js->matched = false;
		js->have_outer = true;
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
	for (int i = 0; i < js->ninners; i++)
	{
		JoinInner  *inner = &js->inners[i];

		inner->key_sets = inner->seen_keys = inner->matches = NULL;
		inner->asked = inner->done = false;
	}
	MemoryContextReset(js->join_cxt);
	js->fetched = false;
	js->have_outer = false;
	js->ncur = 0;
	js->next_match = NULL;
	js->nouter = js->nkeys = js->nsets = js->nasked = 0;
}

static void
join_end(CustomScanState *node)
{
	JoinScanState *js = (JoinScanState *) node;

	if (js->outer_rows)
		tuplestore_end(js->outer_rows);
	js->outer_rows = NULL;
	ExecEndNode(js->outer);
	for (int i = 0; i < js->ninners; i++)
		ExecEndNode(js->inners[i].plan);
}

static void
join_rescan(CustomScanState *node)
{
	JoinScanState *js = (JoinScanState *) node;

	join_reset(js);
	ExecReScan(js->outer);
	for (int i = 0; i < js->ninners; i++)
		ExecReScan(js->inners[i].plan);
}

/*
 * join_explain
 *		Show the keys and where they come from, and the routes to the
 *		lemlist side's tables.  With ANALYZE, also show how many outer rows,
 *		distinct keys, key sets and tables asked there were.  Each table
 *		shows its own batches.
 */
static void
join_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	JoinScanState *js = (JoinScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *route_names = list_nth(cscan->custom_private, JoinPlanRouteNames);
	int			nkeys = list_length(js->filters);
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
	if (route_names != NIL)
	{
		resetStringInfo(&buf);
		foreach(lcf, route_names)
			appendStringInfo(&buf, "%s%s = %s", buf.len ? ", " : "",
							 quote_identifier(strVal(lfirst(lcf))),
							 deparse_expression(list_nth(cscan->custom_exprs,
														 nkeys + foreach_current_index(lcf)),
												context, true, false));
		ExplainPropertyText("lemlist Join Tables By", buf.data, es);
	}
	if (es->analyze)
	{
		ExplainPropertyInteger("lemlist Outer Rows", NULL, js->nouter, es);
		ExplainPropertyInteger("lemlist Distinct Keys", NULL, js->nkeys, es);
		ExplainPropertyInteger("lemlist Key Sets", NULL, js->nsets, es);
		if (js->ninners > 1 || route_names != NIL)
			ExplainPropertyInteger("lemlist Tables Asked", NULL, js->nasked, es);
	}
}
