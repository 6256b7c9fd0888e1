/*-------------------------------------------------------------------------
 *
 * resources.c
 *		  The lemlist resources lemlist_fdw exposes, how a foreign table's
 *		  columns map to them, and IMPORT FOREIGN SCHEMA
 *
 * A resource is what a foreign table's "resource" option names: a lemlist
 * route seen as a table.  Each resource is described here, once, by a
 * static table of columns.  For each column, the table says which JSON
 * field it reads, what JSON type the API documents for that field, whether
 * the value comes from the result object, from a step of it or from the
 * request's own filters, and which filter a WHERE clause on the column may
 * be pushed into.  The planner, the executor, the JSON layer and IMPORT
 * FOREIGN SCHEMA all read these tables; nothing else in the extension
 * spells a column name or a JSON key.
 *
 * The tables list exactly the columns of the user-facing contract, in its
 * order, because IMPORT FOREIGN SCHEMA declares them in that order.  A
 * hand-written foreign table may use any subset of them; a column that is
 * not listed reads the camelCase of its name (default_json_key).  The
 * second section describes how a table's own columns map onto a resource.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"

#include "lemlist_fdw.h"

/* The only remote schema there is. */
#define LEMLIST_REMOTE_SCHEMA "lemlist"

/* Shorthands to keep the column tables readable. */
#define FILTER_COLUMN(name, type, filter) \
	{(name), (type), NULL, LEMLIST_JSON_STRING, LEMLIST_SRC_FILTER, (filter)}
#define RESULT_COLUMN(name, type, key, jtype, filter) \
	{(name), (type), (key), (jtype), LEMLIST_SRC_RESULT, (filter)}
#define RESULT_COUNTER(name, key) \
	{(name), "integer", (key), LEMLIST_JSON_COUNTER, LEMLIST_SRC_RESULT, LEMLIST_FILTER_NONE}
#define STEP_COLUMN(name, type, key, jtype) \
	{(name), (type), (key), (jtype), LEMLIST_SRC_STEP, LEMLIST_FILTER_NONE}
#define STEP_COUNTER(name, key) \
	STEP_COLUMN((name), "integer", (key), LEMLIST_JSON_COUNTER)

/*
 * The filter columns that both stats resources share: the campaign, read
 * back from the result's campaignId, and the columns that echo the
 * request's filters.
 */
#define STATS_FILTER_COLUMNS \
	RESULT_COLUMN("campaign_id", "text", "campaignId", LEMLIST_JSON_STRING, \
				  LEMLIST_FILTER_CAMPAIGN_ID), \
	FILTER_COLUMN("start_date", "timestamptz", LEMLIST_FILTER_START_DATE), \
	FILTER_COLUMN("end_date", "timestamptz", LEMLIST_FILTER_END_DATE), \
	FILTER_COLUMN("send_user", "text", LEMLIST_FILTER_SEND_USER), \
	FILTER_COLUMN("ab_selected", "text", LEMLIST_FILTER_AB_SELECTED), \
	FILTER_COLUMN("channel", "text", LEMLIST_FILTER_CHANNEL)

/* campaign_stats: one row per campaign per filter combination */
static const LemlistColumnDef campaign_stats_columns[] = {
	STATS_FILTER_COLUMNS,
	RESULT_COUNTER("nb_leads", "nbLeads"),
	RESULT_COUNTER("nb_leads_launched", "nbLeadsLaunched"),
	RESULT_COUNTER("nb_leads_reached", "nbLeadsReached"),
	RESULT_COUNTER("nb_leads_opened", "nbLeadsOpened"),
	RESULT_COUNTER("nb_leads_interacted", "nbLeadsInteracted"),
	RESULT_COUNTER("nb_leads_answered", "nbLeadsAnswered"),
	RESULT_COUNTER("nb_leads_interested", "nbLeadsInterested"),
	RESULT_COUNTER("nb_leads_not_interested", "nbLeadsNotInterested"),
	RESULT_COUNTER("nb_leads_unsubscribed", "nbLeadsUnsubscribed"),
	RESULT_COUNTER("nb_leads_interrupted", "nbLeadsInterrupted"),
	RESULT_COUNTER("messages_sent", "messagesSent"),
	RESULT_COUNTER("messages_not_sent", "messagesNotSent"),
	RESULT_COUNTER("messages_bounced", "messagesBounced"),
	RESULT_COUNTER("delivered", "delivered"),
	RESULT_COUNTER("opened", "opened"),
	RESULT_COUNTER("clicked", "clicked"),
	RESULT_COUNTER("replied", "replied"),
	RESULT_COUNTER("invitation_accepted", "invitationAccepted"),
	RESULT_COUNTER("meeting_booked", "meetingBooked")
};

/* campaign_step_stats: one row per element of steps[] of each result */
static const LemlistColumnDef campaign_step_stats_columns[] = {
	STATS_FILTER_COLUMNS,
	STEP_COLUMN("step_index", "integer", "index", LEMLIST_JSON_INTEGER),
	STEP_COLUMN("sequence_id", "text", "sequenceId", LEMLIST_JSON_STRING),
	STEP_COLUMN("sequence_step", "integer", "sequenceStep", LEMLIST_JSON_INTEGER),
	STEP_COLUMN("ab_test", "text", "abTest", LEMLIST_JSON_STRING),
	STEP_COLUMN("task_type", "text", "taskType", LEMLIST_JSON_STRING),
	STEP_COLUMN("condition_label", "text", "conditionLabel", LEMLIST_JSON_STRING),
	STEP_COUNTER("invited", "invited"),
	STEP_COUNTER("sent", "sent"),
	STEP_COUNTER("delivered", "delivered"),
	STEP_COUNTER("opened", "opened"),
	STEP_COUNTER("clicked", "clicked"),
	STEP_COUNTER("replied", "replied"),
	STEP_COUNTER("not_delivered", "notDelivered"),
	STEP_COUNTER("bounced", "bounced"),
	STEP_COUNTER("unsubscribed", "unsubscribed")
};

/* campaigns: one row per campaign of the team */
static const LemlistColumnDef campaigns_columns[] = {
	RESULT_COLUMN("campaign_id", "text", "_id", LEMLIST_JSON_STRING,
				  LEMLIST_FILTER_CAMPAIGN_ID),
	RESULT_COLUMN("name", "text", "name", LEMLIST_JSON_STRING,
				  LEMLIST_FILTER_NONE),
	RESULT_COLUMN("status", "text", "status", LEMLIST_JSON_STRING,
				  LEMLIST_FILTER_STATUS),
	RESULT_COLUMN("labels", "text[]", "labels", LEMLIST_JSON_STRING_ARRAY,
				  LEMLIST_FILTER_NONE),
	RESULT_COLUMN("created_at", "timestamptz", "createdAt", LEMLIST_JSON_STRING,
				  LEMLIST_FILTER_NONE),
	RESULT_COLUMN("created_by", "text", "createdBy", LEMLIST_JSON_STRING,
				  LEMLIST_FILTER_CREATED_BY),
	RESULT_COLUMN("sequence_id", "text", "sequenceId", LEMLIST_JSON_STRING,
				  LEMLIST_FILTER_NONE),
	RESULT_COLUMN("team_id", "text", "teamId", LEMLIST_JSON_STRING,
				  LEMLIST_FILTER_NONE),
	RESULT_COLUMN("has_error", "boolean", "hasError", LEMLIST_JSON_BOOLEAN,
				  LEMLIST_FILTER_NONE)
};

/* In LemlistResourceKind order, so that kind indexes the array. */
static const LemlistResourceDef resources[] = {
	{
		LEMLIST_RES_CAMPAIGN_STATS,
		"campaign_stats",
		"statistics of each campaign, one row per campaign per filter combination",
		campaign_stats_columns,
		lengthof(campaign_stats_columns)
	},
	{
		LEMLIST_RES_CAMPAIGN_STEP_STATS,
		"campaign_step_stats",
		"statistics of each step of each campaign, one row per step per filter combination",
		campaign_step_stats_columns,
		lengthof(campaign_step_stats_columns)
	},
	{
		LEMLIST_RES_CAMPAIGNS,
		"campaigns",
		"the team's campaigns, one row per campaign",
		campaigns_columns,
		lengthof(campaigns_columns)
	}
};

static bool table_is_wanted(ImportForeignSchemaStmt *stmt, const char *name);
static const LemlistColumnDef *resource_column(const LemlistResourceDef *res,
											   const char *colname);
static char *default_json_key(const char *colname);
static DefElem *column_option(List *options, const char *name);
static void partition_values(List *quals, int natts, bool *found, char **values);
static const LemlistColumnDef *filter_column_by_key(const LemlistResourceDef *res,
													const char *key);
static char *create_table_command(const LemlistResourceDef *res,
								  const char *local_schema,
								  const char *server_name);


/*
 * lemlist_resource_by_kind
 *		The description of a resource
 */
const LemlistResourceDef *
lemlist_resource_by_kind(LemlistResourceKind kind)
{
	if ((int) kind < 0 || (int) kind >= (int) lengthof(resources) ||
		resources[kind].kind != kind)
		elog(ERROR, "unrecognized lemlist resource kind: %d", (int) kind);

	return &resources[kind];
}

/*
 * lemlist_resource_by_name
 *		Return the resource named by a "resource" option value, or NULL
 */
const LemlistResourceDef *
lemlist_resource_by_name(const char *name)
{
	int			i;

	if (name == NULL)
		return NULL;

	for (i = 0; i < (int) lengthof(resources); i++)
	{
		if (strcmp(resources[i].name, name) == 0)
			return &resources[i];
	}
	return NULL;
}

/*
 * lemlist_resource_names
 *		The valid "resource" values, comma-separated, for hints
 */
const char *
lemlist_resource_names(void)
{
	static char *names = NULL;

	if (names == NULL)
	{
		StringInfoData buf;
		int			i;

		/* Built once per backend, so it lives in TopMemoryContext. */
		initStringInfo(&buf);
		for (i = 0; i < (int) lengthof(resources); i++)
		{
			if (i > 0)
				appendStringInfoString(&buf, ", ");
			appendStringInfoString(&buf, resources[i].name);
		}
		names = MemoryContextStrdup(TopMemoryContext, buf.data);
		pfree(buf.data);
	}
	return names;
}

/*
 * resource_column
 *		The column of a resource with this name, or NULL if it has none
 */
static const LemlistColumnDef *
resource_column(const LemlistResourceDef *res, const char *colname)
{
	int			i;

	if (res == NULL || colname == NULL)
		return NULL;

	for (i = 0; i < res->ncolumns; i++)
	{
		if (strcmp(res->columns[i].name, colname) == 0)
			return &res->columns[i];
	}
	return NULL;
}

/*
 * default_json_key
 *		Return the JSON key that a column reads when nothing else names one:
 *		the camelCase of the column's name
 *
 * "nb_leads_launched" becomes "nbLeadsLaunched".  Leading and trailing
 * underscores are kept ("_id" stays "_id"), a run of inner underscores
 * counts as one, and only ASCII lower-case letters change case, so digits
 * and upper-case letters are left alone ("step_2_sent" is "step2Sent").
 */
static char *
default_json_key(const char *colname)
{
	size_t		len = strlen(colname);
	char	   *result = palloc(len + 1);
	char	   *out = result;
	const char *p = colname;
	const char *end = colname + len;

	/* leading underscores are part of the key */
	while (p < end && *p == '_')
		*out++ = *p++;

	while (p < end)
	{
		if (*p == '_')
		{
			const char *q = p;

			while (q < end && *q == '_')
				q++;

			if (q == end)
			{
				/* trailing underscores are kept as they are */
				while (p < end)
					*out++ = *p++;
				break;
			}

			/* inner underscores go, and the next letter is capitalised */
			p = q;
			if (*p >= 'a' && *p <= 'z')
				*out++ = *p++ - 'a' + 'A';
			else
				*out++ = *p++;
		}
		else
			*out++ = *p++;
	}
	*out = '\0';

	return result;
}

/*
 * lemlist_import_schema
 *		Return the CREATE FOREIGN TABLE commands for IMPORT FOREIGN SCHEMA
 *
 * lemlist has one remote schema, "lemlist", holding one table per resource.
 * No IMPORT option is accepted.  LIMIT TO and EXCEPT are applied here, and
 * PostgreSQL applies them again to what we return.
 */
List *
lemlist_import_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	List	   *commands = NIL;
	ListCell   *lc;
	int			i;

	if (strcmp(stmt->remote_schema, LEMLIST_REMOTE_SCHEMA) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("schema \"%s\" is not available on lemlist",
						stmt->remote_schema),
				 errhint("The only remote schema is \"%s\".",
						 LEMLIST_REMOTE_SCHEMA)));

	foreach(lc, stmt->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", def->defname),
				 errhint("IMPORT FOREIGN SCHEMA accepts no options for lemlist_fdw.")));
	}

	for (i = 0; i < (int) lengthof(resources); i++)
	{
		if (!table_is_wanted(stmt, resources[i].name))
			continue;

		commands = lappend(commands,
						   create_table_command(&resources[i],
												stmt->local_schema,
												server->servername));
	}

	return commands;
}

/*
 * table_is_wanted
 *		Whether LIMIT TO / EXCEPT lets a remote table through
 */
static bool
table_is_wanted(ImportForeignSchemaStmt *stmt, const char *name)
{
	bool		listed = false;
	ListCell   *lc;

	if (stmt->list_type == FDW_IMPORT_SCHEMA_ALL)
		return true;

	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = lfirst_node(RangeVar, lc);

		if (strcmp(rv->relname, name) == 0)
		{
			listed = true;
			break;
		}
	}

	if (stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO)
		return listed;
	return !listed;
}

/*
 * create_table_command
 *		Build the CREATE FOREIGN TABLE command for one resource, with every
 *		identifier quoted
 */
static char *
create_table_command(const LemlistResourceDef *res, const char *local_schema,
					 const char *server_name)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s.%s (\n",
					 quote_identifier(local_schema),
					 quote_identifier(res->name));

	for (i = 0; i < res->ncolumns; i++)
		appendStringInfo(&buf, "  %s %s%s\n",
						 quote_identifier(res->columns[i].name),
						 res->columns[i].sqltype,
						 i < res->ncolumns - 1 ? "," : "");

	appendStringInfo(&buf, ") SERVER %s OPTIONS (resource %s)",
					 quote_identifier(server_name),
					 quote_literal_cstr(res->name));

	return buf.data;
}


/* ---------------------------------------------------------------------
 * How the columns of one foreign table map to JSON fields and filters
 *
 * A foreign table may hold any subset of a resource's columns, in any order,
 * with any type whose input function accepts the JSON value's text.  It may
 * also hold columns that the resource table does not know.  The rules, in
 * the order lemlist_map_columns applies them:
 *
 * - a column with the option server_name 'true' holds the name of the
 *	 table's foreign server;
 * - a json or jsonb column named "raw" receives the whole JSON object;
 * - a column whose "key" option names a filter's field (such as
 *	 "campaignId" or "sendUser") takes that filter's role, whatever its
 *	 name;
 * - a column named like one of the resource's columns takes that column's
 *	 role: a filter echo (start_date, send_user, ...) or a JSON field, whose
 *	 key the column option "key" may override;
 * - when the table is a partition for one value of a column (FOR VALUES IN
 *	 ('acme'), at any level of the partitioning), and the resource does not
 *	 know that column and it has no "key" option, the column holds that
 *	 value;
 * - any other column reads the JSON field named by its "key" option, or the
 *	 camelCase of its name, from the result object (the step object for
 *	 campaign_step_stats).
 *
 * An array column (labels text[]) receives a JSON array as an array
 * literal; any other column (json, jsonb, text) receives it as JSON text.
 *
 * WHERE clauses on a column are pushed down only when the column has a
 * type whose comparisons mean what lemlist does with the value (text,
 * varchar, char(n) or name for the text filters; timestamptz, timestamp or
 * date for the dates, column_can_push).  For any other type, the
 * comparison semantics could differ.
 *
 * ---------------------------------------------------------------------
 */
/*
 * column_can_push
 *		Whether clauses on a column of this type may be pushed as this filter.
 */
static bool
column_can_push(LemlistFilterKind filter, Oid typid)
{
	switch (filter)
	{
		case LEMLIST_FILTER_NONE:
			return false;
		case LEMLIST_FILTER_START_DATE:
		case LEMLIST_FILTER_END_DATE:
			return typid == TIMESTAMPTZOID || typid == TIMESTAMPOID ||
				typid == DATEOID;
		default:
			return typid == TEXTOID || typid == VARCHAROID ||
				typid == BPCHAROID || typid == NAMEOID;
	}
}

/*
 * filter_applies
 *		Whether a filter has a request field in this resource.
 *
 * The campaign list has no campaign ID filter; the stats route has no status
 * or creator filter.
 */
static bool
filter_applies(LemlistFilterKind filter, LemlistResourceKind kind)
{
	if (kind == LEMLIST_RES_CAMPAIGNS)
		return filter == LEMLIST_FILTER_STATUS ||
			filter == LEMLIST_FILTER_CREATED_BY;
	return filter != LEMLIST_FILTER_STATUS &&
		filter != LEMLIST_FILTER_CREATED_BY &&
		filter != LEMLIST_FILTER_NONE;
}

/*
 * filter_column_by_key
 *		Return the filter column of res whose JSON field is named key (for
 *		an echo column, whose request field is named key), or NULL
 */
static const LemlistColumnDef *
filter_column_by_key(const LemlistResourceDef *res, const char *key)
{
	static const struct
	{
		LemlistFilterKind filter;
		const char *field;
	}			echoes[] = {
		{LEMLIST_FILTER_START_DATE, "startDate"},
		{LEMLIST_FILTER_END_DATE, "endDate"},
		{LEMLIST_FILTER_SEND_USER, "sendUser"},
		{LEMLIST_FILTER_AB_SELECTED, "ABSelected"},
		{LEMLIST_FILTER_CHANNEL, "channel"},
	};

	for (int i = 0; i < res->ncolumns; i++)
	{
		const LemlistColumnDef *def = &res->columns[i];

		if (def->filter == LEMLIST_FILTER_NONE)
			continue;
		if (def->json_key != NULL && strcmp(def->json_key, key) == 0)
			return def;
		for (int j = 0; j < (int) lengthof(echoes); j++)
		{
			if (def->source == LEMLIST_SRC_FILTER && def->filter == echoes[j].filter &&
				strcmp(echoes[j].field, key) == 0)
				return def;
		}
	}
	return NULL;
}

/*
 * column_option
 *		The column option called name among a column's options, or NULL
 */
static DefElem *
column_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, name) == 0)
			return def;
	}
	return NULL;
}

/*
 * partition_values
 *		Find the columns that a partition's constraint holds to one value
 *
 * A LIST partition for one value has the constraint "column = value", ANDed
 * with the conditions of its ancestors.  For each such attribute i + 1,
 * found[i] is set, and values[i] receives the value's text (NULL for SQL
 * NULL).
 */
static void
partition_values(List *quals, int natts, bool *found, char **values)
{
	ListCell   *lc;

	foreach(lc, quals)
	{
		Node	   *qual = lfirst(lc);
		OpExpr	   *op;
		Node	   *left;
		Const	   *right;
		char	   *opname;
		Oid			typoutput;
		bool		varlena;
		AttrNumber	attno;

		if (is_andclause(qual))
		{
			partition_values(((BoolExpr *) qual)->args, natts, found, values);
			continue;
		}
		if (!IsA(qual, OpExpr) || list_length(((OpExpr *) qual)->args) != 2)
			continue;
		op = (OpExpr *) qual;
		left = strip_implicit_coercions(linitial(op->args));
		if (!IsA(left, Var) || !IsA(lsecond(op->args), Const))
			continue;
		attno = ((Var *) left)->varattno;
		right = (Const *) lsecond(op->args);
		opname = get_opname(op->opno);
		if (attno < 1 || attno > natts || opname == NULL || strcmp(opname, "=") != 0)
			continue;

		found[attno - 1] = true;
		if (right->constisnull)
			values[attno - 1] = NULL;
		else
		{
			getTypeOutputInfo(right->consttype, &typoutput, &varlena);
			values[attno - 1] = OidOutputFunctionCall(typoutput, right->constvalue);
		}
	}
}

/*
 * lemlist_map_columns
 *		Describe every attribute of a foreign table; returns an array of natts.
 */
LemlistColumn *
lemlist_map_columns(Oid foreigntableid, LemlistResourceKind kind, int *natts)
{
	const LemlistResourceDef *res = lemlist_resource_by_kind(kind);
	Relation	rel;
	TupleDesc	tupdesc;
	LemlistColumn *cols;
	bool	   *part_found;
	char	  **part_values;

	rel = table_open(foreigntableid, NoLock);
	tupdesc = RelationGetDescr(rel);
	*natts = tupdesc->natts;
	cols = palloc0(sizeof(LemlistColumn) * Max(tupdesc->natts, 1));
	part_found = palloc0(sizeof(bool) * Max(tupdesc->natts, 1));
	part_values = palloc0(sizeof(char *) * Max(tupdesc->natts, 1));
	if (rel->rd_rel->relispartition)
		partition_values(RelationGetPartitionQual(rel), tupdesc->natts,
						 part_found, part_values);

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		LemlistColumn *col = &cols[i];
		const LemlistColumnDef *def;
		char	   *keyopt;
		List	   *colopts;
		DefElem    *key_def;
		DefElem    *server_name;

		col->dropped = att->attisdropped;
		if (col->dropped)
			continue;
		col->name = pstrdup(NameStr(att->attname));
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;
		col->json_type = LEMLIST_JSON_ANY;
		colopts = GetForeignColumnOptions(foreigntableid, att->attnum);
		key_def = column_option(colopts, "key");
		keyopt = key_def ? pstrdup(defGetString(key_def)) : NULL;
		server_name = column_option(colopts, "server_name");

		if (server_name != NULL && defGetBoolean(server_name))
		{
			col->source = LEMLIST_SRC_CONST;
			col->value = pstrdup(GetForeignServer(GetForeignTable(foreigntableid)->serverid)->servername);
			continue;
		}
		if (strcmp(col->name, "raw") == 0 &&
			(col->typid == JSONOID || col->typid == JSONBOID))
		{
			col->source = LEMLIST_SRC_RAW;
			continue;
		}

		/*
		 * When the "key" option names a filter's field, the column takes
		 * that filter's role, whatever its name.  The field is either
		 * "campaignId" (the campaigns list's "_id") or the field of a
		 * request filter, whose echo the column then shows.
		 */
		def = keyopt ? filter_column_by_key(res, keyopt) : NULL;
		if (def != NULL)
			keyopt = NULL;
		else
			def = resource_column(res, col->name);
		if (def != NULL)
		{
			col->source = def->source;
			col->filter = def->filter;
			if (def->source != LEMLIST_SRC_FILTER)
			{
				col->key = keyopt ? keyopt : pstrdup(def->json_key);
				/* an overridden key is not the documented field any more */
				col->json_type = keyopt ? LEMLIST_JSON_ANY : def->json_type;
				/* an array literal only suits an array column; others get JSON */
				if (col->json_type == LEMLIST_JSON_STRING_ARRAY &&
					!OidIsValid(get_element_type(col->typid)))
					col->json_type = LEMLIST_JSON_ANY;
			}
			if (filter_applies(def->filter, kind) &&
				column_can_push(def->filter, col->typid) &&
				(keyopt == NULL || def->source == LEMLIST_SRC_FILTER))
				col->pushdown = def->filter;
			continue;
		}

		if (keyopt == NULL && part_found[i])
		{
			col->source = LEMLIST_SRC_CONST;
			col->value = part_values[i];
			continue;
		}
		col->source = (kind == LEMLIST_RES_CAMPAIGN_STEP_STATS) ?
			LEMLIST_SRC_STEP : LEMLIST_SRC_RESULT;
		col->key = keyopt ? keyopt : default_json_key(col->name);
	}

	table_close(rel, NoLock);
	return cols;
}
