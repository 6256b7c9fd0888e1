/*-------------------------------------------------------------------------
 *
 * option.c
 *		  The options of lemlist_fdw: where each may be set, and the validator
 *
 * Every option lemlist_fdw knows is one row of a static table that says
 * where it may be set, whether only a superuser may set it and what kind of
 * value it takes.  The validator checks an object's options against that
 * table at CREATE and ALTER time; option_value.c parses each value, and
 * option_lookup.c reads the options of a scan from the same table.
 *
 * Design rules:
 *
 * - The table is the only list of options: the validator, its hints and
 *	 option_lookup.c all read it.  Defaults of integer options are in it too;
 *	 the others are set in option_lookup.c.
 *
 * - An unknown option gets the "Perhaps you meant" hint postgres_fdw gives,
 *	 limited to the options valid on that kind of object, or else the list of
 *	 those options; an option set on the wrong kind of object is told where
 *	 it is valid.
 *
 * - Messages follow PostgreSQL's style guide and always name the option;
 *	 none made here shows a value.
 *
 * IDENTIFICATION
 *		  src/option.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "lemlist_fdw.h"

/* Longest name worth a "Perhaps you meant" suggestion. */
#define MAX_SUGGEST_LEN		255

/*
 * Every option, where it may be set and what it takes.  min_value,
 * max_value and default_value only mean something for LEMLIST_VALUE_INTEGER;
 * the other defaults are set in lemlist_get_options.
 */
static const LemlistOptionDef options[] = {
	/* name, id, where, superuser only, kind, min, max, default */
	{"api_url", LEMLIST_OPTION_API_URL, LEMLIST_OPT_SERVER, true, LEMLIST_VALUE_URL},
	{"connect_timeout_ms", LEMLIST_OPTION_CONNECT_TIMEOUT_MS, LEMLIST_OPT_SERVER, false, LEMLIST_VALUE_INTEGER, 1, 600000, 5000},
	{"timeout_ms", LEMLIST_OPTION_TIMEOUT_MS, LEMLIST_OPT_SERVER, false, LEMLIST_VALUE_INTEGER, 1, 3600000, 30000},
	{"max_retries", LEMLIST_OPTION_MAX_RETRIES, LEMLIST_OPT_SERVER, false, LEMLIST_VALUE_INTEGER, 0, 20, 3},
	{"max_parallel", LEMLIST_OPTION_MAX_PARALLEL, LEMLIST_OPT_SERVER, false, LEMLIST_VALUE_INTEGER, 1, 64, 4},
	{"rate_limit", LEMLIST_OPTION_RATE_LIMIT, LEMLIST_OPT_SERVER, false, LEMLIST_VALUE_INTEGER, 1, 10000, 20},
	{"rate_window_ms", LEMLIST_OPTION_RATE_WINDOW_MS, LEMLIST_OPT_SERVER, false, LEMLIST_VALUE_INTEGER, 1, 3600000, 2000},
	{"max_response_bytes", LEMLIST_OPTION_MAX_RESPONSE_BYTES, LEMLIST_OPT_SERVER, false, LEMLIST_VALUE_INTEGER, 1024, 1073741824, 67108864},
	{"ca_file", LEMLIST_OPTION_CA_FILE, LEMLIST_OPT_SERVER, true, LEMLIST_VALUE_PATH},
	{"verify_tls", LEMLIST_OPTION_VERIFY_TLS, LEMLIST_OPT_SERVER, true, LEMLIST_VALUE_BOOLEAN},
	{"campaign_errors", LEMLIST_OPTION_CAMPAIGN_ERRORS, LEMLIST_OPT_SERVER | LEMLIST_OPT_TABLE, false, LEMLIST_VALUE_CAMPAIGN_ERRORS},
	{"default_start_date", LEMLIST_OPTION_DEFAULT_START_DATE, LEMLIST_OPT_SERVER | LEMLIST_OPT_TABLE, false, LEMLIST_VALUE_TIMESTAMPTZ},
	{"cache_ttl", LEMLIST_OPTION_CACHE_TTL, LEMLIST_OPT_SERVER | LEMLIST_OPT_TABLE, false, LEMLIST_VALUE_INTEGER, 0, 2592000, 0},
	{"api_key", LEMLIST_OPTION_API_KEY, LEMLIST_OPT_USER_MAPPING, false, LEMLIST_VALUE_SECRET},
	{"resource", LEMLIST_OPTION_RESOURCE, LEMLIST_OPT_TABLE, false, LEMLIST_VALUE_RESOURCE},
	{"key", LEMLIST_OPTION_KEY, LEMLIST_OPT_COLUMN, false, LEMLIST_VALUE_STRING}
};

static int	catalog_to_where(Oid catalog);
static void option_object_access(ObjectAccessType access, Oid classId,
								 Oid objectId, int subId, void *arg);
static void check_superuser_options_kept(Oid serverid);

static object_access_hook_type prev_object_access_hook = NULL;

/*
 * The statement in which the validator checked the options of a server for
 * a non-superuser (its start and command): the server's options are about
 * to change, and option_object_access then checks what they were.
 */
static TimestampTz server_check_statement = 0;
static CommandId server_check_command = InvalidCommandId;
lemlist_noreturn static void report_unknown_option(const char *name, int where);
lemlist_noreturn static void report_misplaced_option(const LemlistOptionDef *opt);
static const char *closest_option(const char *name, int where);


PG_FUNCTION_INFO_V1(lemlist_fdw_validator);

/*
 * lemlist_fdw_validator
 *		Check the options of a lemlist_fdw object at CREATE and ALTER time
 *
 * options is the object's complete option list (on ALTER, the list as it
 * will be), catalog the catalog of the object being created or altered.
 */
Datum
lemlist_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *optlist = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	int			where = catalog_to_where(catalog);
	bool		has_resource = false;
	ListCell   *lc;

	foreach(lc, optlist)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		const LemlistOptionDef *opt = lemlist_find_option(def->defname);
		LemlistOptionValue val;

		if (opt == NULL)
			report_unknown_option(def->defname, where);
		if ((opt->where & where) == 0)
			report_misplaced_option(opt);

		/*
		 * The validator only sees the resulting option list, not what
		 * changed, so a non-superuser can neither set these options nor
		 * alter a server on which they are set.
		 */
		if (opt->superuser_only && !superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only superuser can set option \"%s\"",
							opt->name),
					 errdetail("Only a superuser can create or alter a server on which option \"%s\" is set.",
							   opt->name)));

		lemlist_check_option_value(opt, defGetString(def), &val);

		if (opt->id == LEMLIST_OPTION_RESOURCE)
			has_resource = true;
	}

	if (catalog == ForeignTableRelationId && !has_resource)
		lemlist_report_missing_resource();

	if (catalog == ForeignServerRelationId && !superuser())
	{
		server_check_statement = GetCurrentStatementStartTimestamp();
		server_check_command = GetCurrentCommandId(false);
	}

	PG_RETURN_VOID();
}

/*
 * lemlist_option_init
 *		Watch ALTER SERVER: the validator sees only the option list as it
 *		will be, which says nothing of the options a non-superuser drops
 */
void
lemlist_option_init(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = option_object_access;
}

/*
 * option_object_access
 *		After ALTER SERVER ... OPTIONS of a lemlist server by a
 *		non-superuser (the validator ran in this very command), check that no
 *		superuser-only option was set on it before
 *
 * PostgreSQL calls the hook once the new row is written but before the
 * command's end makes it visible: the catalog still shows the old options.
 */
static void
option_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					 int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access == OAT_POST_ALTER && classId == ForeignServerRelationId &&
		server_check_command != InvalidCommandId &&
		server_check_statement == GetCurrentStatementStartTimestamp() &&
		server_check_command == GetCurrentCommandId(false))
	{
		server_check_command = InvalidCommandId;
		check_superuser_options_kept(objectId);
	}
}

/*
 * check_superuser_options_kept
 *		ERROR when the server had an option only a superuser may set: a
 *		non-superuser may drop or change it no more than set it
 */
static void
check_superuser_options_kept(Oid serverid)
{
	HeapTuple	tp;
	Datum		datum;
	bool		isnull;
	ListCell   *lc;

	tp = SearchSysCache1(FOREIGNSERVEROID, ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
		return;
	datum = SysCacheGetAttr(FOREIGNSERVEROID, tp, Anum_pg_foreign_server_srvoptions,
							&isnull);
	if (!isnull)
	{
		foreach(lc, untransformRelOptions(datum))
		{
			DefElem    *def = lfirst_node(DefElem, lc);
			const LemlistOptionDef *opt = lemlist_find_option(def->defname);

			if (opt != NULL && opt->superuser_only)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("only superuser can drop or change option \"%s\"",
								opt->name),
						 errdetail("A superuser set option \"%s\" on server \"%s\".",
								   opt->name,
								   NameStr(((Form_pg_foreign_server) GETSTRUCT(tp))->srvname))));
		}
	}
	ReleaseSysCache(tp);
}

/*
 * lemlist_option_defs
 *		Every option, for those that go through them all; *count says how many
 */
const LemlistOptionDef *
lemlist_option_defs(int *count)
{
	*count = (int) lengthof(options);
	return options;
}

/*
 * lemlist_find_option
 *		The definition of an option, or NULL if there is none by that name
 */
const LemlistOptionDef *
lemlist_find_option(const char *name)
{
	int			i;

	for (i = 0; i < (int) lengthof(options); i++)
	{
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	}
	return NULL;
}

/*
 * lemlist_report_missing_resource
 *		ERROR for a foreign table without the "resource" option
 */
void
lemlist_report_missing_resource(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
			 errmsg("option \"resource\" is required for a lemlist foreign table"),
			 errhint("Valid values are: %s", lemlist_resource_names())));
}

/*
 * catalog_to_where
 *		The LEMLIST_OPT_* bit of the catalog the validator was called for
 *
 * 0 for the foreign-data wrapper itself, which takes no option.
 */
static int
catalog_to_where(Oid catalog)
{
	switch (catalog)
	{
		case ForeignServerRelationId:
			return LEMLIST_OPT_SERVER;
		case UserMappingRelationId:
			return LEMLIST_OPT_USER_MAPPING;
		case ForeignTableRelationId:
			return LEMLIST_OPT_TABLE;
		case AttributeRelationId:
			return LEMLIST_OPT_COLUMN;
		default:
			return 0;
	}
}

/*
 * report_unknown_option
 *		ERROR for a name that is no option at all
 *
 * Suggest the closest option valid here, else list the valid ones.
 */
static void
report_unknown_option(const char *name, int where)
{
	const char *closest = closest_option(name, where);
	StringInfoData buf;
	int			i;

	if (closest != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", name),
				 errhint("Perhaps you meant the option \"%s\".", closest)));

	initStringInfo(&buf);
	for (i = 0; i < (int) lengthof(options); i++)
	{
		if ((options[i].where & where) == 0)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, options[i].name);
	}

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\"", name),
			 buf.len > 0 ?
			 errhint("Valid options in this context are: %s", buf.data) :
			 errhint("There are no valid options in this context.")));
}

/*
 * report_misplaced_option
 *		ERROR for an option set on the wrong kind of object
 */
static void
report_misplaced_option(const LemlistOptionDef *opt)
{
	static const struct
	{
		int			bit;
		const char *object;
	}			objects[] = {
		{LEMLIST_OPT_SERVER, "a server"},
		{LEMLIST_OPT_TABLE, "a foreign table"},
		{LEMLIST_OPT_COLUMN, "a foreign table column"}
	};
	StringInfoData buf;
	int			count = 0;
	int			i;

	initStringInfo(&buf);
	if (opt->where == LEMLIST_OPT_USER_MAPPING)
		appendStringInfoString(&buf, "on a user mapping");
	else
	{
		appendStringInfoString(&buf, "for ");
		for (i = 0; i < (int) lengthof(objects); i++)
		{
			if ((opt->where & objects[i].bit) == 0)
				continue;
			if (count > 0)
				appendStringInfoString(&buf, " or ");
			appendStringInfoString(&buf, objects[i].object);
			count++;
		}
	}

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\"", opt->name),
			 errhint("Option \"%s\" is only valid %s.", opt->name, buf.data)));
}

/*
 * closest_option
 *		The option valid here whose name is closest to name, if close enough
 *
 * Close enough, as in PostgreSQL's own suggestions: at most 4 edits, and at
 * most half the length of what the user typed.
 */
static const char *
closest_option(const char *name, int where)
{
	int			len = strlen(name);
	int			max_d = Min(4, len / 2);
	const char *best = NULL;
	int			best_d = max_d + 1;
	int			i;

	if (len == 0 || len > MAX_SUGGEST_LEN)
		return NULL;

	for (i = 0; i < (int) lengthof(options); i++)
	{
		int			d;

		if ((options[i].where & where) == 0)
			continue;

		d = varstr_levenshtein_less_equal(name, len,
										  options[i].name,
										  strlen(options[i].name),
										  1, 1, 1, max_d + 1, true);
		if (d < best_d)
		{
			best_d = d;
			best = options[i].name;
		}
	}
	return best;
}
