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
 *	 or semi join offers this path only when its ON clauses are all keys
 *	 (or routes, below).
 *
 * The lemlist side may also be an agency's table of several teams: a
 * partitioned table (or a UNION ALL) whose partitions are lemlist tables,
 * each with its own server and key.  The join then runs one ForeignScan per
 * partition, and a join clause on a column that holds one value per
 * partition (its partition's value, a UNION ALL arm's constant, a
 * server_name column) routes each outer row's keys to the partitions it can
 * match: "d.team = s.team" asks each team for its own deals' campaigns only,
 * and a team without keys is not asked at all.  The partitions' requests
 * are in flight at once, each paced by its own key: the join polls their
 * scans in turn and waits on their one descriptor.
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
 * custom_private of the path and of the plan, a List indexed by this enum.
 * The plan's custom_exprs are the keys' outer expressions, then the routes'
 * outer expressions, then (when some table has routes or conditions on a
 * parameter) one boolean expression per table of the lemlist side: does
 * the outer row route to it?
 */
enum JoinPrivateIndex
{
	JoinPrivateType,			/* Integer: the JoinType */
	JoinPrivateFilters,			/* Integer list: the filter of each key */
	JoinPrivateQuals,			/* path: the clauses checked on joined rows;
								 * plan: Integer list, the mode of each key */
	JoinPrivateKeys,			/* path: LemlistCond of each key;
								 * plan: Integer, outer columns of the scan tuple */
	JoinPrivateRouteNames,		/* String list: the column of each route */
	JoinPrivateOuterJoin,		/* path: Integer, the outer join's RT index, or 0 */
	JoinPrivateRouteExprs,		/* path: the outer expression of each route */
	JoinPrivateTableRoutes,		/* path: per table, its route clauses and
								 * conditions a parameter decides; or NIL */
	JoinPrivateInnerTlist		/* path: the lemlist side's columns */
};

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
	TupleTableSlot *slot;		/* for its rows, as kept */
	ExprState  *route;			/* does an outer row route to it; NULL: yes */
	HTAB	   *key_sets;		/* non-ID key text -> JoinEntry (set) */
	HTAB	   *seen_keys;		/* key text -> JoinEntry, while collecting */
	HTAB	   *matches;		/* key text -> JoinEntry (rows) */
	bool		asked;			/* given keys in this execution */
	bool		done;			/* has returned its last row */
} JoinInner;

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
	int			nroutes;		/* join clauses that route outer rows */
	PlanState  *outer;
	int			ninners;
	JoinInner  *inners;			/* the lemlist side's tables */
	bool	   *routed;			/* of the current outer row, per table */

	MemoryContext join_cxt;		/* keys and the lemlist side's rows */
	Tuplestorestate *outer_rows;
	TupleTableSlot *outer_slot;

	/* where the join is */
	bool		fetched;
	bool		have_outer;
	JoinEntry **cur;			/* the matches of the current outer row, */
	int		   *cur_inner;		/* one entry per table that has some, */
	int			ncur;			/* and that table */
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
 *		Whether a ForeignPath is the lemlist side of a batched join, which
 *		sends its join clauses
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
 * inner_parts
 *		The lemlist stats tables that make innerrel, each with its cheapest
 *		path: the table itself, or the tables an Append of innerrel scans (a
 *		partitioned table's partitions, a UNION ALL's arms, as many as plan-
 *		time pruning left).  NIL when innerrel is anything else.
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
 *		A clause of innerrel, as it reads in one of its tables
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
 *		The key a join clause makes alike in every table of the lemlist
 *		side, or NULL when it makes none; *mixed is set when it makes a key
 *		in some tables and not in others, or different keys.
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
 *		What a column of one table of the lemlist side holds, when it is one
 *		value for all its rows that lemlist_fdw fills (its partition's value,
 *		its server's name), as a Const of type typid; else NULL
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
 *		What a column of innerrel (var) holds in one of its tables, when
 *		that is one value for all its rows, as a Const; else NULL.  That is
 *		its partition's value or its server's name (column_const), or a
 *		UNION ALL arm's constant.
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

/* replace_var's context: the column, and the value in its place */
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
 *		their place: where the Append would prune the table at run time, the
 *		join does not ask it
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
 * It does when it is "column = outer expression" (an equality operator,
 * nothing volatile) and the column holds one value in each table
 * (part_value).  Returns each table's clause with its value in the
 * column's place, a clause of the outer side alone, true exactly when an
 * outer row can match that table's rows: the join sends the row's keys to
 * those tables only.  NIL when the clause does not route; else
 * *outer_expr and *column say what it compares, for EXPLAIN.
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
 * join_pathlist
 *		Offer a batched join of innerrel, a lemlist stats table or a table
 *		of them (inner_parts), with outerrel, any input, when the join
 *		clauses key lemlist filters
 */
static void
join_pathlist(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
			  RelOptInfo *innerrel, JoinType jointype, JoinPathExtraData *extra)
{
	List	   *parts;
	Path	   *outer_path;
	List	   *filters = NIL;
	List	   *key_exprs = NIL;
	List	   *id_exprs = NIL;
	List	   *quals = NIL;
	List	   *route_names = NIL;
	List	   *route_exprs = NIL;
	List	   *table_routes = NIL;
	List	   *child_paths = NIL;
	int			key_filters = 0;
	ListCell   *lc;
	CustomPath *cpath;
	double		outer_rows;
	double		nsets;
	double		nkeys;
	double		share;
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
	if ((parts = inner_parts(innerrel)) == NIL)
		return;
	/* two lemlist tables join as they always did: both echo their filters */
	if (stats_rel_info(outerrel) != NULL)
		return;

	outer_path = outerrel->cheapest_total_path;
	if (outer_path == NULL || outer_path->param_info != NULL ||
		!bms_is_empty(innerrel->lateral_relids) ||
		!bms_is_empty(joinrel->lateral_relids))
		return;

	/* the keys, the routes, and what else the joined rows must satisfy */
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
		{
			bool		mixed;
			List	   *routes;
			Expr	   *outer_expr;
			char	   *column;

			key = parts_key(root, ri->clause, innerrel, outerrel, parts, &exact, &mixed);
			if (mixed)
				return;
			if (key == NULL &&
				(routes = route_clause(root, ri->clause, innerrel, outerrel, parts,
									   &outer_expr, &column)) != NIL)
			{
				route_names = lappend(route_names, makeString(column));
				route_exprs = lappend(route_exprs, outer_expr);
				table_routes = lappend(table_routes, routes);
				/* exact: decides an outer join's matches; an inner join checks it too */
				if (jointype == JOIN_INNER)
					quals = lappend(quals, ri->clause);
				continue;
			}
		}
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
	foreach(lc, parts)
	{
		JoinPart   *part = lfirst(lc);

		if (lemlist_unsendable_join_clause(root, part->rel, part->info->columns,
										   part->info->natts, outerrel->relids) != NULL)
			return;
	}

	/*
	 * Costs: the outer side, then for each table one request set per
	 * distinct key set it is asked for and per combination of the table's
	 * own, each ceil(IDs / 100) batches (or, without a campaign_id key, the
	 * team listed and batched).  Routes share the keys out among the tables.
	 */
	outer_rows = Max(outer_path->rows, 1);
	{
		List	   *set_exprs = NIL;
		List	   *open_exprs = NIL;
		List	   *all_exprs = list_copy(route_exprs);
		double		domains = 1;

		foreach(lc, key_exprs)
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
		nsets = set_exprs ? lemlist_estimate_num_groups(root, set_exprs, outer_rows) : 1;
		nkeys = lemlist_estimate_num_groups(root, all_exprs, outer_rows);

		/*
		 * A key on ab_selected or channel takes at most its domain's values
		 * (a table without statistics would be guessed at 200): so many key
		 * sets, and so many times the IDs' keys.
		 */
		if (domains > 1)
		{
			double		open_sets = open_exprs ?
				lemlist_estimate_num_groups(root, open_exprs, outer_rows) : 1;

			nsets = Min(nsets, open_sets * domains);
			if (id_exprs != NIL)
				nkeys = Min(nkeys, nsets * lemlist_estimate_num_groups(root, id_exprs, outer_rows));
			else
				nkeys = Min(nkeys, nsets);
		}
	}
	share = route_names ? 1.0 / list_length(parts) : 1.0;
	cost = outer_path->total_cost + outer_rows * cpu_tuple_cost +
		joinrel->rows * (LEMLIST_ROW_COST + cpu_tuple_cost);
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

		/* the table's own combinations, but for the values the keys give */
		foreach(flc, filters)
		{
			if (info->values[lfirst_int(flc)] > 1)
				own /= info->values[lfirst_int(flc)];
		}
		own = Max(own, 1);
		if (id_exprs != NIL)
			batches = sets * own * ceil(Max(keys / sets, 1) / LEMLIST_BATCH_SIZE);
		else
		{
			pages = (info->ncampaigns > 0) ? 0 : info->list_pages;
			batches = sets * own * ceil(Max(info->ncampaigns, 1) / LEMLIST_BATCH_SIZE);
		}
		cost += lemlist_request_cost(info, pages, batches);

		/* the table's own path, marked as the join's */
		child = makeNode(ForeignPath);
		memcpy(child, part->path, sizeof(ForeignPath));
		child->fdw_private = list_make1(makeString(JOIN_NAME));
		child_paths = lappend(child_paths, child);
	}

	/*
	 * Each table's route: each route's clause for the table, and the
	 * table's own conditions a parameter decides.  None when no table has
	 * any.
	 */
	{
		List	   *per_table = NIL;
		bool		any = (table_routes != NIL);

		foreach(lc, parts)
		{
			List	   *mine = part_prune_quals(root, lfirst(lc));
			ListCell   *rlc;

			foreach(rlc, table_routes)
				mine = lappend(mine, list_nth(lfirst(rlc), foreach_current_index(lc)));
			any = any || mine != NIL;
			per_table = lappend(per_table, mine);
		}
		table_routes = any ? per_table : NIL;
	}

	cpath = makeNode(CustomPath);
	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = joinrel;
	cpath->path.pathtarget = joinrel->reltarget;
	cpath->path.param_info = NULL;
	cpath->path.rows = joinrel->rows;
	cpath->path.startup_cost = cost;	/* nothing comes before both sides ran */
	cpath->path.total_cost = cost;
	cpath->path.pathkeys = NIL;
	cpath->custom_paths = lcons(outer_path, child_paths);
	cpath->custom_private = list_make4(makeInteger(jointype), filters, quals, key_exprs);
	cpath->custom_private = lappend(cpath->custom_private, route_names);
	cpath->custom_private = lappend(cpath->custom_private,
									makeInteger(lemlist_outer_join_relid(extra->sjinfo)));
	cpath->custom_private = lappend(cpath->custom_private, route_exprs);
	cpath->custom_private = lappend(cpath->custom_private, table_routes);
	cpath->custom_private = lappend(cpath->custom_private, innerrel->reltarget->exprs);
	cpath->methods = &join_path_methods;
	add_path(joinrel, &cpath->path);
}

/*
 * join_plan
 *		The CustomScan: the outer plan and the lemlist side's tables as its
 *		children, a scan tuple of the outer plan's columns then the lemlist
 *		side's, the keys' and routes' outer expressions and each table's
 *		route in custom_exprs
 */
static Plan *
join_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
		  List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	Plan	   *outer_plan = linitial(custom_plans);
	List	   *private = best_path->custom_private;
	JoinType	jointype = intVal(list_nth(private, JoinPrivateType));
	List	   *filters = list_nth(private, JoinPrivateFilters);
	List	   *quals = list_nth(private, JoinPrivateQuals);
	List	   *keys = list_nth(private, JoinPrivateKeys);
	List	   *route_names = list_nth(private, JoinPrivateRouteNames);
	List	   *table_routes = list_nth(private, JoinPrivateTableRoutes);
	List	   *inner_tlist = list_nth(private, JoinPrivateInnerTlist);
	List	   *modes = NIL;
	List	   *scan_tlist = NIL;
	List	   *exprs = NIL;
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
								  intVal(list_nth(private, JoinPrivateOuterJoin)));
		scan_tlist = lappend(scan_tlist, makeTargetEntry(expr, resno++, NULL, false));
	}
	foreach(lc, keys)
	{
		exprs = lappend(exprs, ((LemlistCond *) lfirst(lc))->expr);
		modes = lappend_int(modes, ((LemlistCond *) lfirst(lc))->mode);
	}
	exprs = list_concat(exprs, list_nth(private, JoinPrivateRouteExprs));
	foreach(lc, table_routes)
		exprs = lappend(exprs, make_ands_explicit(lfirst(lc)));

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = quals;
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_plans = custom_plans;
	cscan->custom_exprs = exprs;
	cscan->custom_private = list_make4(makeInteger(jointype), filters, modes,
									   makeInteger(list_length(outer_plan->targetlist)));
	cscan->custom_private = lappend(cscan->custom_private, route_names);
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
	js->nroutes = list_length(list_nth(cscan->custom_private, JoinPrivateRouteNames));
	return (Node *) js;
}

static void
join_begin(CustomScanState *node, EState *estate, int eflags)
{
	JoinScanState *js = (JoinScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	int			nkeys = list_length(js->filters);
	int			key_filters = 0;
	List	   *key_exprs = NIL;
	ListCell   *lc;

	js->outer = ExecInitNode(linitial(cscan->custom_plans), estate, eflags);
	node->custom_ps = list_make1(js->outer);
	foreach(lc, js->filters)
		key_filters |= 1 << lfirst_int(lc);

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
		lemlist_scan_join_child(inner->lemlist, key_filters);
		/* after the keys' and the routes' outer expressions, each table's route */
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
 * route_row
 *		Which tables of the lemlist side the outer row in the scan tuple
 *		routes to (js->routed); returns how many
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
 *		One table of the lemlist side is asked for an outer row's key (the
 *		first set_len bytes of which name its key set)
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
 *		Run the outer plan: keep its rows, and for each table of the lemlist
 *		side the distinct key sets routed to it, with their distinct
 *		campaign IDs
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
		 * The other side of an IN (SELECT ...), made unique by its keys and
		 * routes.  Routes by equality send two rows to the same tables or to
		 * none in common, so a row with the key and routes of one kept
		 * already would only repeat its matches.
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

	/* the key sets stay; the keys' table was for distinctness only */
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
 *		Keep the row a table of the lemlist side returned by its key
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
 *		Wait until one of the tables still asking may have an answer: their
 *		requests are all on the backend's one curl handle, and one
 *		descriptor wakes for any of them (and for pacing, and a cancel)
 */
static void
wait_inners(JoinScanState *js)
{
	pgsocket	fd = PGINVALID_SOCKET;
	int			rc;

	/* each arms the wake-up its pacing or its retries need */
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
 *		Tell each table of the lemlist side its key sets, and keep what they
 *		return by key.  One table runs as a plain scan; several are polled
 *		in turn, none waiting, so that all their requests are in flight at
 *		once.  A table no outer row routes to is not asked at all.
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
		lemlist_scan_set_join_keys(inner->lemlist, sets, js->nasked > 1);
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
 *		The current outer row's matches: for each table it routes to, the
 *		rows kept under its key
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

		/* the next match of the current outer row */
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

		/* done with it: the outer join's NULL-extended row */
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

		/* the next outer row */
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
 *		The keys and where they come from, and the routes to the lemlist
 *		side's tables; with ANALYZE, how many outer rows, distinct keys, key
 *		sets and tables asked (each table shows its own batches)
 */
static void
join_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	JoinScanState *js = (JoinScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *route_names = list_nth(cscan->custom_private, JoinPrivateRouteNames);
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
