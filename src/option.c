/*-------------------------------------------------------------------------
 *
 * option.c
 *		  The options of lemlist_fdw: where each one may be set, the
 *		  validator, the parsing of their values, and the options of a scan
 *
 * Every option lemlist_fdw knows is one row of a static table.  The row says
 * where the option may be set, whether only a superuser may set it and what
 * kind of value it takes.  The validator checks an object's options against
 * that table at CREATE and ALTER time.  check_option_value parses each
 * value, for the validator and for lemlist_get_options alike.  So a value
 * accepted by CREATE or ALTER means the same thing at query time, and a
 * value that somehow reached the catalog without going through the
 * validator still cannot reach the scan unchecked.
 *
 * lemlist_get_options gives a scan its options: it starts from the
 * defaults, the server's options override them, and the foreign table's
 * options override both.  lemlist_get_api_key reads the key from the user
 * mapping separately, and lemlist_map_columns (resources.c) reads the
 * column options "key" and "server_name".
 *
 * Design rules:
 *
 * - The table is the only list of options: the validator, its hints and the
 *	 scan's lookup all read it.  The defaults of integer options are in it
 *	 too; the defaults of the other options are set by lemlist_get_options
 *	 (in lemlist_server_options).
 *
 * - For an unknown option, the error has the "Perhaps you meant" hint that
 *	 postgres_fdw gives, limited to the options valid on that kind of
 *	 object; when no option is close enough, the hint lists those options
 *	 instead.  For an option set on the wrong kind of object, the hint says
 *	 where it is valid.  At query time, options that this version does not
 *	 know, or knows only for another kind of object, are ignored, as
 *	 postgres_fdw does.
 *
 * - Messages follow PostgreSQL's style guide and always name the option.
 *	 A message may quote the value it rejects, but never the value of
 *	 api_key, nor an api_url that carries credentials: both may hold
 *	 secrets.
 *
 * - Values are read more strictly than PostgreSQL's own readers read them,
 *	 where a looser reading would surprise: integers take no units, no
 *	 hexadecimal and no fraction; a timestamp without a time zone is read as
 *	 UTC whatever the session's TimeZone is; and words whose meaning moves
 *	 with the clock are refused.
 *
 * - A superuser-only option (api_url, ca_file, verify_tls) is refused to a
 *	 non-superuser who sets it.  It is also refused to a non-superuser who
 *	 drops or changes it; that check runs once ALTER SERVER has written the
 *	 new options.
 *
 * IDENTIFICATION
 *		  src/option.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "lemlist_fdw.h"

/* Where an option may be set: one bit per catalog the validator is run for. */
#define LEMLIST_OPT_SERVER			0x01	/* ForeignServerRelationId */
#define LEMLIST_OPT_USER_MAPPING	0x02	/* UserMappingRelationId */
#define LEMLIST_OPT_TABLE			0x04	/* ForeignTableRelationId */
#define LEMLIST_OPT_COLUMN			0x08	/* AttributeRelationId */

typedef enum LemlistOptionId
{
	LEMLIST_OPTION_API_URL,
	LEMLIST_OPTION_CONNECT_TIMEOUT_MS,
	LEMLIST_OPTION_TIMEOUT_MS,
	LEMLIST_OPTION_MAX_RETRIES,
	LEMLIST_OPTION_MAX_PARALLEL,
	LEMLIST_OPTION_RATE_LIMIT,
	LEMLIST_OPTION_RATE_WINDOW_MS,
	LEMLIST_OPTION_MAX_RESPONSE_BYTES,
	LEMLIST_OPTION_CA_FILE,
	LEMLIST_OPTION_VERIFY_TLS,
	LEMLIST_OPTION_CAMPAIGN_ERRORS,
	LEMLIST_OPTION_DEFAULT_START_DATE,
	LEMLIST_OPTION_CACHE_TTL,
	LEMLIST_OPTION_ASYNC_CAPABLE,
	LEMLIST_OPTION_API_KEY,
	LEMLIST_OPTION_RESOURCE,
	LEMLIST_OPTION_KEY,
	LEMLIST_OPTION_SERVER_NAME
} LemlistOptionId;

/* What an option's value must look like. */
typedef enum LemlistValueKind
{
	LEMLIST_VALUE_INTEGER,		/* decimal, within [min_value, max_value] */
	LEMLIST_VALUE_BOOLEAN,		/* anything parse_bool takes */
	LEMLIST_VALUE_URL,			/* http(s)://host..., no credentials */
	LEMLIST_VALUE_PATH,			/* an absolute file name */
	LEMLIST_VALUE_CAMPAIGN_ERRORS,	/* notice | warning | error */
	LEMLIST_VALUE_TIMESTAMPTZ,	/* finite, as timestamptz_in reads it */
	LEMLIST_VALUE_SECRET,		/* non-empty, never shown */
	LEMLIST_VALUE_RESOURCE,		/* a resource name */
	LEMLIST_VALUE_STRING		/* non-empty */
} LemlistValueKind;

typedef struct LemlistOptionDef
{
	const char *name;
	LemlistOptionId id;
	int			where;			/* LEMLIST_OPT_* bits */
	bool		superuser_only;
	LemlistValueKind kind;
	int			min_value;		/* integers only */
	int			max_value;
	int			default_value;
} LemlistOptionDef;

/* A parsed option value; which field is set depends on the LemlistValueKind. */
typedef struct LemlistOptionValue
{
	int			ival;
	bool		bval;
	TimestampTz tval;
	LemlistCampaignErrors errors;
	LemlistResourceKind resource;
	const char *sval;
} LemlistOptionValue;

static const LemlistOptionDef *option_defs(int *count);
static const LemlistOptionDef *find_option(const char *name);
lemlist_noreturn static void report_missing_resource(void);
static void check_option_value(const LemlistOptionDef *opt, const char *value,
							   LemlistOptionValue *val);

/* Names longer than this get no "Perhaps you meant" suggestion. */
#define MAX_SUGGEST_LEN		255

/*
 * Every option: where it may be set and what value it takes.  min_value,
 * max_value and default_value only mean something for LEMLIST_VALUE_INTEGER;
 * the defaults of the other options are set in lemlist_get_options (in
 * lemlist_server_options).
 */
static const LemlistOptionDef options[] = {
	{.name = "api_url", .id = LEMLIST_OPTION_API_URL, .where = LEMLIST_OPT_SERVER, .superuser_only = true, .kind = LEMLIST_VALUE_URL},
	{.name = "connect_timeout_ms", .id = LEMLIST_OPTION_CONNECT_TIMEOUT_MS, .where = LEMLIST_OPT_SERVER, .superuser_only = false, .kind = LEMLIST_VALUE_INTEGER,
	 .min_value = 1, .max_value = 600000, .default_value = 5000},
	{.name = "timeout_ms", .id = LEMLIST_OPTION_TIMEOUT_MS, .where = LEMLIST_OPT_SERVER, .superuser_only = false, .kind = LEMLIST_VALUE_INTEGER,
	 .min_value = 1, .max_value = 3600000, .default_value = 30000},
	{.name = "max_retries", .id = LEMLIST_OPTION_MAX_RETRIES, .where = LEMLIST_OPT_SERVER, .superuser_only = false, .kind = LEMLIST_VALUE_INTEGER,
	 .min_value = 0, .max_value = 20, .default_value = 3},
	{.name = "max_parallel", .id = LEMLIST_OPTION_MAX_PARALLEL, .where = LEMLIST_OPT_SERVER, .superuser_only = false, .kind = LEMLIST_VALUE_INTEGER,
	 .min_value = 1, .max_value = 64, .default_value = 4},
	{.name = "rate_limit", .id = LEMLIST_OPTION_RATE_LIMIT, .where = LEMLIST_OPT_SERVER, .superuser_only = false, .kind = LEMLIST_VALUE_INTEGER,
	 .min_value = 1, .max_value = 10000, .default_value = 20},
	{.name = "rate_window_ms", .id = LEMLIST_OPTION_RATE_WINDOW_MS, .where = LEMLIST_OPT_SERVER, .superuser_only = false, .kind = LEMLIST_VALUE_INTEGER,
	 .min_value = 1, .max_value = 3600000, .default_value = 2000},
	{.name = "max_response_bytes", .id = LEMLIST_OPTION_MAX_RESPONSE_BYTES, .where = LEMLIST_OPT_SERVER, .superuser_only = false, .kind = LEMLIST_VALUE_INTEGER,
	 .min_value = 1024, .max_value = 1073741824, .default_value = 67108864},
	{.name = "ca_file", .id = LEMLIST_OPTION_CA_FILE, .where = LEMLIST_OPT_SERVER, .superuser_only = true, .kind = LEMLIST_VALUE_PATH},
	{.name = "verify_tls", .id = LEMLIST_OPTION_VERIFY_TLS, .where = LEMLIST_OPT_SERVER, .superuser_only = true, .kind = LEMLIST_VALUE_BOOLEAN},
	{.name = "campaign_errors", .id = LEMLIST_OPTION_CAMPAIGN_ERRORS, .where = LEMLIST_OPT_SERVER | LEMLIST_OPT_TABLE, .superuser_only = false, .kind = LEMLIST_VALUE_CAMPAIGN_ERRORS},
	{.name = "default_start_date", .id = LEMLIST_OPTION_DEFAULT_START_DATE, .where = LEMLIST_OPT_SERVER | LEMLIST_OPT_TABLE, .superuser_only = false, .kind = LEMLIST_VALUE_TIMESTAMPTZ},
	{.name = "cache_ttl", .id = LEMLIST_OPTION_CACHE_TTL, .where = LEMLIST_OPT_SERVER | LEMLIST_OPT_TABLE, .superuser_only = false, .kind = LEMLIST_VALUE_INTEGER,
	 .min_value = 0, .max_value = 2592000, .default_value = 0},
	{.name = "async_capable", .id = LEMLIST_OPTION_ASYNC_CAPABLE, .where = LEMLIST_OPT_SERVER | LEMLIST_OPT_TABLE, .superuser_only = false, .kind = LEMLIST_VALUE_BOOLEAN},
	{.name = "api_key", .id = LEMLIST_OPTION_API_KEY, .where = LEMLIST_OPT_USER_MAPPING, .superuser_only = false, .kind = LEMLIST_VALUE_SECRET},
	{.name = "resource", .id = LEMLIST_OPTION_RESOURCE, .where = LEMLIST_OPT_TABLE, .superuser_only = false, .kind = LEMLIST_VALUE_RESOURCE},
	{.name = "key", .id = LEMLIST_OPTION_KEY, .where = LEMLIST_OPT_COLUMN, .superuser_only = false, .kind = LEMLIST_VALUE_STRING},
	{.name = "server_name", .id = LEMLIST_OPTION_SERVER_NAME, .where = LEMLIST_OPT_COLUMN, .superuser_only = false, .kind = LEMLIST_VALUE_BOOLEAN}
};

static int	catalog_to_where(Oid catalog);
static void option_object_access(ObjectAccessType access, Oid classId,
								 Oid objectId, int subId, void *arg);
static void check_superuser_options_kept(Oid serverid);

static object_access_hook_type prev_object_access_hook = NULL;

/*
 * The statement (its start time and command ID) in which the validator
 * checked the options of a server for a non-superuser.  The server's options
 * are about to change, and option_object_access then checks what they were
 * before.
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
 * The first argument is the object's complete option list (on ALTER, the
 * list as it will be after the command).  The second is the OID of the
 * catalog of the object being created or altered.
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
		const LemlistOptionDef *opt = find_option(def->defname);
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

		check_option_value(opt, defGetString(def), &val);

		if (opt->id == LEMLIST_OPTION_RESOURCE)
			has_resource = true;
	}

	if (catalog == ForeignTableRelationId && !has_resource)
		report_missing_resource();

	if (catalog == ForeignServerRelationId && !superuser())
	{
		server_check_statement = GetCurrentStatementStartTimestamp();
		server_check_command = GetCurrentCommandId(false);
	}

	PG_RETURN_VOID();
}

/*
 * lemlist_option_init
 *		Install the hook that watches ALTER SERVER
 *
 * The validator sees only the option list as it will be after the command,
 * and that list says nothing about the options a non-superuser drops.
 */
void
lemlist_option_init(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = option_object_access;
}

/*
 * option_object_access
 *		Check the old options of a server after a non-superuser's ALTER
 *		SERVER ... OPTIONS
 *
 * When a non-superuser runs ALTER SERVER ... OPTIONS on a lemlist server
 * (and the validator ran in this same command), check that no
 * superuser-only option was set on the server before.
 *
 * PostgreSQL calls the hook after the new row is written, but before the
 * end of the command makes it visible, so the catalog still shows the old
 * options.
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
 *		Raise an ERROR if the server had an option that only a superuser may
 *		set
 *
 * A non-superuser may not drop or change such an option, just as they may
 * not set it.
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
			const LemlistOptionDef *opt = find_option(def->defname);

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
 * option_defs
 *		Return the table of all options, for callers that go through every
 *		option; *count receives the number of options
 */
static const LemlistOptionDef *
option_defs(int *count)
{
	*count = (int) lengthof(options);
	return options;
}

/*
 * find_option
 *		The definition of an option, or NULL if there is none by that name
 */
static const LemlistOptionDef *
find_option(const char *name)
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
 * report_missing_resource
 *		Raise the ERROR for a foreign table that has no "resource" option
 */
static void
report_missing_resource(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
			 errmsg("option \"resource\" is required for a lemlist foreign table"),
			 errhint("Valid values are: %s", lemlist_resource_names())));
}

/*
 * catalog_to_where
 *		Return the LEMLIST_OPT_* bit of the catalog that the validator was
 *		called for
 *
 * Returns 0 for the foreign-data wrapper itself, which takes no option.
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
 *		Raise the ERROR for a name that is not an option at all
 *
 * The hint suggests the closest option that is valid on this kind of
 * object.  If no option is close enough, the hint lists the valid ones.
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
 *		Raise the ERROR for an option set on the wrong kind of object
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
 *		Find the option, valid on this kind of object, whose name is closest
 *		to name, if it is close enough
 *
 * "Close enough" means the same as in PostgreSQL's own suggestions: at most
 * 4 edits, and at most half the length of what the user typed.
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


/* ---------------------------------------------------------------------
 * The value of one option
 * ---------------------------------------------------------------------
 */

static const struct
{
	const char *name;
	LemlistCampaignErrors value;
}			campaign_errors_values[] = {
	{"notice", LEMLIST_ERRORS_NOTICE},
	{"warning", LEMLIST_ERRORS_WARNING},
	{"error", LEMLIST_ERRORS_ERROR}
};

static void check_integer(const LemlistOptionDef *opt, const char *value, int *result);
static void check_url(const LemlistOptionDef *opt, const char *value);
static int	parse_timestamptz(const char *value, TimestampTz *result);


/*
 * check_option_value
 *		Parse an option's value into val, or raise an ERROR that names the
 *		option
 */
static void
check_option_value(const LemlistOptionDef *opt, const char *value,
				   LemlistOptionValue *val)
{
	int			i;

	memset(val, 0, sizeof(LemlistOptionValue));
	val->sval = value;

	switch (opt->kind)
	{
		case LEMLIST_VALUE_INTEGER:
			check_integer(opt, value, &val->ival);
			break;

		case LEMLIST_VALUE_BOOLEAN:
			if (!parse_bool(value, &val->bval))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("Option \"%s\" requires a Boolean value.",
								   opt->name)));
			break;

		case LEMLIST_VALUE_URL:
			check_url(opt, value);
			break;

		case LEMLIST_VALUE_PATH:
			if (!is_absolute_path(value))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("The file name must be an absolute path.")));
			break;

		case LEMLIST_VALUE_CAMPAIGN_ERRORS:
			for (i = 0; i < (int) lengthof(campaign_errors_values); i++)
			{
				if (strcmp(campaign_errors_values[i].name, value) == 0)
				{
					val->errors = campaign_errors_values[i].value;
					return;
				}
			}
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"",
							opt->name, value),
					 errhint("Valid values are: notice, warning, error")));
			break;

		case LEMLIST_VALUE_TIMESTAMPTZ:
			switch (parse_timestamptz(value, &val->tval))
			{
				case 0:
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, value),
							 errdetail("The value must be a fixed, finite timestamp, such as \"2025-01-01T00:00:00Z\"; without a time zone it is read as UTC.")));
					break;
				case -1:
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, value),
							 errdetail("lemlist dates, in UTC, must fall between the years 1 and 9999.")));
					break;
			}
			break;

		case LEMLIST_VALUE_SECRET:
			/* never show the value */
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\"", opt->name),
						 errdetail("The value must not be empty.")));
			break;

		case LEMLIST_VALUE_RESOURCE:
			{
				const LemlistResourceDef *res = lemlist_resource_by_name(value);

				if (res == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, value),
							 errhint("Valid values are: %s",
									 lemlist_resource_names())));
				val->resource = res->kind;
			}
			break;

		case LEMLIST_VALUE_STRING:
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("The value must not be empty.")));
			break;
	}
}

/*
 * check_integer
 *		Parse a decimal integer option and check its range
 *
 * This is stricter than parse_int: it takes no units, no hexadecimal and no
 * fraction.
 */
static void
check_integer(const LemlistOptionDef *opt, const char *value, int *result)
{
	const char *p = value;
	char	   *end;
	long		lval;

	while (isspace((unsigned char) *p))
		p++;
	if (!(isdigit((unsigned char) *p) ||
		  ((*p == '-' || *p == '+') && isdigit((unsigned char) p[1]))))
		goto syntax_error;

	errno = 0;
	lval = strtol(p, &end, 10);
	while (isspace((unsigned char) *end))
		end++;
	if (*end != '\0')
		goto syntax_error;

	if (errno == ERANGE || lval < opt->min_value || lval > opt->max_value)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value for option \"%s\" must be between %d and %d",
						opt->name, opt->min_value, opt->max_value)));

	*result = (int) lval;
	return;

syntax_error:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for integer option \"%s\": %s",
					opt->name, value),
			 errhint("Valid values are whole numbers between %d and %d.",
					 opt->min_value, opt->max_value)));
}

/*
 * check_url
 *		Check api_url: it must use http or https, name a host, and carry no
 *		credentials and no fragment
 *
 * Routes are appended to the URL, so a query string is refused as well.  The
 * error for a URL that carries a user name or password does not echo the
 * URL back.
 */
static void
check_url(const LemlistOptionDef *opt, const char *value)
{
	const char *authority;
	const char *p;
	size_t		authority_len;
	const char *problem = NULL;

	/* the authority runs from after "scheme://" to the first / ? or # */
	p = strstr(value, "://");
	authority = p ? p + 3 : value;
	authority_len = strcspn(authority, "/?#");

	if (memchr(authority, '@', authority_len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", opt->name),
				 errdetail("The URL must not contain a user name or password."),
				 errhint("Put the API key in the \"api_key\" option of a user mapping.")));

	for (p = value; *p; p++)
	{
		if ((unsigned char) *p <= ' ' || (unsigned char) *p == 0x7f)
		{
			problem = "The URL must not contain spaces or control characters.";
			break;
		}
	}

	if (problem == NULL &&
		pg_strncasecmp(value, "http://", 7) != 0 &&
		pg_strncasecmp(value, "https://", 8) != 0)
		problem = "The URL must start with \"http://\" or \"https://\".";
	else if (problem == NULL &&
			 (authority_len == 0 || authority[0] == ':'))
		problem = "The URL must name a host.";
	else if (problem == NULL && strchr(value, '#') != NULL)
		problem = "The URL must not contain a fragment.";
	else if (problem == NULL && strchr(value, '?') != NULL)
		problem = "The URL must not contain a query string.";

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						opt->name, value),
				 errdetail_internal("%s", problem)));
}

/*
 * parse_timestamptz
 *		Read a timestamptz the way timestamptz_in does, but in UTC
 *
 * A value without a time zone is read as UTC whatever the session's
 * TimeZone is, so that one option value always gives the same startDate.
 * Words whose meaning moves with the clock ("now", "today", ...) are
 * refused.  Returns 1 for a good value, 0 for a value that does not parse
 * or is not finite, and -1 for a value outside the years 1 to 9999, which
 * are the years lemlist can take.
 *
 * PostgreSQL 15 has no soft input errors, so this function catches
 * timestamptz_in's own ERROR, and the caller raises ours instead.  A
 * failure is always followed by an ERROR, so the transaction never goes on
 * after the catch.  Only data exceptions (class 22) are caught; anything
 * else (a cancel, out of memory) is re-thrown unchanged.
 */
static int
parse_timestamptz(const char *value, TimestampTz *result)
{
	static const char *const moving[] = {"now", "today", "tomorrow", "yesterday"};
	MemoryContext oldcxt = CurrentMemoryContext;
	pg_tz	   *save_tz = session_timezone;
	volatile bool ok = true;
	char	   *word = pstrdup(value);
	struct pg_tm tm;
	fsec_t		fsec;

	for (char *p = word; *p; p++)
		*p = pg_tolower((unsigned char) *p);
	for (size_t i = 0; i < lengthof(moving); i++)
	{
		if (strstr(word, moving[i]) != NULL)
			return 0;
	}

	PG_TRY();
	{
		session_timezone = pg_tzset("UTC");
		*result = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
														  CStringGetDatum(value),
														  ObjectIdGetDatum(InvalidOid),
														  Int32GetDatum(-1)));
		session_timezone = save_tz;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		session_timezone = save_tz;
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();

	if (!ok || TIMESTAMP_NOT_FINITE(*result))
		return 0;
	if (timestamp2tm(*result, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		return -1;
	return 1;
}


/* ---------------------------------------------------------------------
 * The options of a scan, read from the catalogs
 * ---------------------------------------------------------------------
 */

#define DEFAULT_API_URL		"https://api.lemlist.com/api"
/* 1970-01-01T00:00:00.000Z, in microseconds since 2000-01-01 */
#define DEFAULT_START_DATE \
	((TimestampTz) (UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY)

static const char *mapping_role(UserMapping *um);
static bool apply_options(LemlistOptions *opts, List *optlist, int where);
static void store_option(LemlistOptions *opts, const LemlistOptionDef *opt,
						 const LemlistOptionValue *val);


/*
 * lemlist_get_options
 *		Fill opts with the options that a scan of a foreign table works with
 *
 * The scan starts from the defaults; the server's options override them,
 * and the table's options override both.  Options that this version does
 * not know are ignored, as postgres_fdw does.
 */
void
lemlist_get_options(Oid foreigntableid, LemlistOptions *opts)
{
	ForeignTable *table = GetForeignTable(foreigntableid);

	/* api_url is a server option: lemlist_server_options trimmed it */
	lemlist_server_options(table->serverid, opts);
	if (!apply_options(opts, table->options, LEMLIST_OPT_TABLE))
		report_missing_resource();
}

/*
 * lemlist_server_options
 *		Fill opts with the options of a server: the defaults, overridden by
 *		the server's own options
 */
void
lemlist_server_options(Oid serverid, LemlistOptions *opts)
{
	ForeignServer *server = GetForeignServer(serverid);
	const LemlistOptionDef *defs;
	int			ndefs;
	size_t		len;
	int			i;

	memset(opts, 0, sizeof(LemlistOptions));
	opts->serverid = server->serverid;
	opts->server_name = pstrdup(server->servername);
	opts->api_url = pstrdup(DEFAULT_API_URL);
	opts->ca_file = NULL;
	opts->verify_tls = true;
	opts->async_capable = true;
	opts->campaign_errors = LEMLIST_ERRORS_NOTICE;
	opts->default_start_date = DEFAULT_START_DATE;
	opts->resource = LEMLIST_RES_CAMPAIGN_STATS;

	/* integer defaults come from the option table */
	defs = option_defs(&ndefs);
	for (i = 0; i < ndefs; i++)
	{
		LemlistOptionValue val;

		if (defs[i].kind != LEMLIST_VALUE_INTEGER)
			continue;
		memset(&val, 0, sizeof(val));
		val.ival = defs[i].default_value;
		store_option(opts, &defs[i], &val);
	}

	(void) apply_options(opts, server->options, LEMLIST_OPT_SERVER);

	/* routes start with a slash, so drop the URL's trailing slashes */
	len = strlen(opts->api_url);
	while (len > 0 && opts->api_url[len - 1] == '/')
		opts->api_url[--len] = '\0';
}

/*
 * lemlist_server_api_keys
 *		Return the api_key of every user mapping of a server, PUBLIC's
 *		included
 *
 * The keys are palloc'd, and the caller wipes them.
 */
List *
lemlist_server_api_keys(Oid serverid)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	List	   *keys = NIL;

	rel = table_open(UserMappingRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_user_mapping_umserver, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(serverid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		datum = heap_getattr(tuple, Anum_pg_user_mapping_umoptions,
										 RelationGetDescr(rel), &isnull);
		ListCell   *lc;

		if (isnull)
			continue;
		foreach(lc, untransformRelOptions(datum))
		{
			DefElem    *def = lfirst_node(DefElem, lc);

			if (strcmp(def->defname, "api_key") == 0)
				keys = lappend(keys, pstrdup(defGetString(def)));
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return keys;
}

/*
 * lemlist_get_api_key
 *		The api_key of the user mapping that applies to userid on serverid
 *
 * GetUserMapping raises the usual error when there is no mapping at all.
 */
char *
lemlist_get_api_key(Oid serverid, Oid userid)
{
	UserMapping *um = GetUserMapping(userid, serverid);
	const char *servername;
	ListCell   *lc;

	foreach(lc, um->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "api_key") == 0)
		{
			char	   *key = defGetString(def);

			if (key[0] != '\0')
				return pstrdup(key);
		}
	}

	servername = GetForeignServer(serverid)->servername;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("user mapping for server \"%s\" has no \"api_key\"",
					servername),
			 errhint("Add one with ALTER USER MAPPING FOR %s SERVER %s OPTIONS (ADD api_key '...').",
					 mapping_role(um), quote_identifier(servername))));
	return NULL;				/* keep compiler quiet */
}

/*
 * mapping_role
 *		Return the role that a user mapping is for, spelled the way ALTER
 *		USER MAPPING FOR takes it
 *
 * GetUserMapping reports the user it was asked about, even when the mapping
 * it found is the PUBLIC one, so look at the mapping itself.
 */
static const char *
mapping_role(UserMapping *um)
{
	HeapTuple	tuple;
	Oid			umuser;
	char	   *rolename;

	tuple = SearchSysCache1(USERMAPPINGOID, ObjectIdGetDatum(um->umid));
	if (!HeapTupleIsValid(tuple))
		return "CURRENT_USER";
	umuser = ((Form_pg_user_mapping) GETSTRUCT(tuple))->umuser;
	ReleaseSysCache(tuple);

	if (!OidIsValid(umuser))
		return "PUBLIC";
	rolename = GetUserNameFromId(umuser, true);
	return rolename ? quote_identifier(rolename) : "CURRENT_USER";
}

/*
 * apply_options
 *		Store the values of one object's options into opts
 *
 * Returns whether the list had a "resource" option.
 */
static bool
apply_options(LemlistOptions *opts, List *optlist, int where)
{
	bool		has_resource = false;
	ListCell   *lc;

	foreach(lc, optlist)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		const LemlistOptionDef *opt = find_option(def->defname);
		LemlistOptionValue val;

		if (opt == NULL || (opt->where & where) == 0)
			continue;

		check_option_value(opt, defGetString(def), &val);
		store_option(opts, opt, &val);
		if (opt->id == LEMLIST_OPTION_RESOURCE)
			has_resource = true;
	}
	return has_resource;
}

/*
 * store_option
 *		Put one parsed option value where it belongs in opts
 */
static void
store_option(LemlistOptions *opts, const LemlistOptionDef *opt,
			 const LemlistOptionValue *val)
{
	switch (opt->id)
	{
		case LEMLIST_OPTION_API_URL:
			opts->api_url = pstrdup(val->sval);
			break;
		case LEMLIST_OPTION_CONNECT_TIMEOUT_MS:
			opts->connect_timeout_ms = val->ival;
			break;
		case LEMLIST_OPTION_TIMEOUT_MS:
			opts->timeout_ms = val->ival;
			break;
		case LEMLIST_OPTION_MAX_RETRIES:
			opts->max_retries = val->ival;
			break;
		case LEMLIST_OPTION_MAX_PARALLEL:
			opts->max_parallel = val->ival;
			break;
		case LEMLIST_OPTION_RATE_LIMIT:
			opts->rate_limit = val->ival;
			break;
		case LEMLIST_OPTION_RATE_WINDOW_MS:
			opts->rate_window_ms = val->ival;
			break;
		case LEMLIST_OPTION_MAX_RESPONSE_BYTES:
			opts->max_response_bytes = (int64) val->ival;
			break;
		case LEMLIST_OPTION_CA_FILE:
			opts->ca_file = pstrdup(val->sval);
			break;
		case LEMLIST_OPTION_VERIFY_TLS:
			opts->verify_tls = val->bval;
			break;
		case LEMLIST_OPTION_CAMPAIGN_ERRORS:
			opts->campaign_errors = val->errors;
			break;
		case LEMLIST_OPTION_DEFAULT_START_DATE:
			opts->default_start_date = val->tval;
			break;
		case LEMLIST_OPTION_CACHE_TTL:
			opts->cache_ttl = val->ival;
			break;
		case LEMLIST_OPTION_ASYNC_CAPABLE:
			opts->async_capable = val->bval;
			break;
		case LEMLIST_OPTION_RESOURCE:
			opts->resource = val->resource;
			break;
		case LEMLIST_OPTION_API_KEY:
		case LEMLIST_OPTION_KEY:
		case LEMLIST_OPTION_SERVER_NAME:
			/* not scan options: see lemlist_get_api_key, lemlist_map_columns */
			break;
	}
}
