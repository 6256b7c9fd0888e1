/*-------------------------------------------------------------------------
 *
 * columns.c
 *		  How the columns of one foreign table map to JSON fields and filters
 *
 * A foreign table may hold any subset of a resource's columns, in any order,
 * with any type whose input function accepts the JSON value's text, plus
 * columns the resource table does not know.  The rules, in order:
 *
 * - a json or jsonb column named "raw" receives the whole JSON object;
 * - a column named like one of the resource's columns takes that column's
 *	 role: a filter echo (start_date, send_user, ...) or a JSON field, whose
 *	 key the column option "key" may override;
 * - any other column reads the JSON field named by its "key" option, or the
 *	 camelCase of its name, from the result object (the step object for
 *	 campaign_step_stats).
 *
 * A JSON array reaches an array column (labels text[]) as an array literal,
 * any other column (json, jsonb, text) as its JSON text.
 *
 * Only a column of the type the contract gives it (text, or varchar, for
 * the text filters; timestamptz for the dates) has its WHERE clauses pushed
 * down: for any other type the comparison semantics could differ from what
 * lemlist does with the value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "lemlist_fdw.h"

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
			return typid == TIMESTAMPTZOID;
		default:
			return typid == TEXTOID || typid == VARCHAROID;
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

	rel = table_open(foreigntableid, NoLock);
	tupdesc = RelationGetDescr(rel);
	*natts = tupdesc->natts;
	cols = palloc0(sizeof(LemlistColumn) * Max(tupdesc->natts, 1));

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		LemlistColumn *col = &cols[i];
		const LemlistColumnDef *def;
		char	   *keyopt;

		col->dropped = att->attisdropped;
		if (col->dropped)
			continue;
		col->name = pstrdup(NameStr(att->attname));
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;
		col->json_type = LEMLIST_JSON_ANY;
		keyopt = lemlist_get_column_key(foreigntableid, att->attnum);

		if (strcmp(col->name, "raw") == 0 &&
			(col->typid == JSONOID || col->typid == JSONBOID))
		{
			col->source = LEMLIST_SRC_RAW;
			continue;
		}

		def = lemlist_resource_column(res, col->name);
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

		col->source = (kind == LEMLIST_RES_CAMPAIGN_STEP_STATS) ?
			LEMLIST_SRC_STEP : LEMLIST_SRC_RESULT;
		col->key = keyopt ? keyopt : lemlist_default_json_key(col->name);
	}

	table_close(rel, NoLock);
	return cols;
}
