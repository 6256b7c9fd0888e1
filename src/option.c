/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Options of lemlist_fdw: the validator and the merged lookup
 *
 * Every option lemlist_fdw knows is one row of a static table that says
 * where it may be set, whether only a superuser may set it and what kind of
 * value it takes.  The validator and lemlist_get_options both parse values
 * with check_option_value, so a value accepted by CREATE or ALTER means the
 * same thing at query time, and a value that somehow reached the catalog
 * without going through the validator still cannot reach the scan unchecked.
 *
 * Messages follow PostgreSQL's style guide and always name the option.  The
 * value of api_key never appears in any of them, and neither does an api_url
 * that carries credentials: both may hold secrets.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "lemlist_fdw.h"

/* Where an option may be set: one bit per catalog the validator is run for. */
#define OPT_SERVER			0x01	/* ForeignServerRelationId */
#define OPT_USER_MAPPING	0x02	/* UserMappingRelationId */
#define OPT_TABLE			0x04	/* ForeignTableRelationId */
#define OPT_COLUMN			0x08	/* AttributeRelationId */

#define DEFAULT_API_URL		"https://api.lemlist.com/api"
/* 1970-01-01T00:00:00.000Z, in microseconds since 2000-01-01 */
#define DEFAULT_START_DATE \
	((TimestampTz) (UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY)

/* Longest name worth a "Perhaps you meant" suggestion. */
#define MAX_SUGGEST_LEN		255

typedef enum OptionId
{
	OPTION_API_URL,
	OPTION_CONNECT_TIMEOUT_MS,
	OPTION_TIMEOUT_MS,
	OPTION_MAX_RETRIES,
	OPTION_MAX_PARALLEL,
	OPTION_RATE_LIMIT,
	OPTION_RATE_WINDOW_MS,
	OPTION_MAX_RESPONSE_BYTES,
	OPTION_CA_FILE,
	OPTION_VERIFY_TLS,
	OPTION_CAMPAIGN_ERRORS,
	OPTION_DEFAULT_START_DATE,
	OPTION_CACHE_TTL,
	OPTION_API_KEY,
	OPTION_RESOURCE,
	OPTION_KEY
} OptionId;

/* What an option's value must look like. */
typedef enum ValueKind
{
	VALUE_INTEGER,				/* decimal, within [min_value, max_value] */
	VALUE_BOOLEAN,				/* anything parse_bool takes */
	VALUE_URL,					/* http(s)://host..., no credentials */
	VALUE_PATH,					/* an absolute file name */
	VALUE_CAMPAIGN_ERRORS,		/* notice | warning | error */
	VALUE_TIMESTAMPTZ,			/* finite, as timestamptz_in reads it */
	VALUE_SECRET,				/* non-empty, never shown */
	VALUE_RESOURCE,				/* a resource name */
	VALUE_STRING				/* non-empty */
} ValueKind;

typedef struct OptionDef
{
	const char *name;
	OptionId	id;
	int			where;			/* OPT_* bits */
	bool		superuser_only;
	ValueKind	kind;
	int			min_value;		/* integers only */
	int			max_value;
	int			default_value;
} OptionDef;

/*
 * Every option, where it may be set and what it takes.  min_value,
 * max_value and default_value only mean something for VALUE_INTEGER; the
 * other defaults are set in lemlist_get_options.
 */
static const OptionDef options[] = {
	/* name, id, where, superuser only, kind, min, max, default */
	{"api_url", OPTION_API_URL, OPT_SERVER, true, VALUE_URL},
	{"connect_timeout_ms", OPTION_CONNECT_TIMEOUT_MS, OPT_SERVER, false, VALUE_INTEGER, 1, 600000, 5000},
	{"timeout_ms", OPTION_TIMEOUT_MS, OPT_SERVER, false, VALUE_INTEGER, 1, 3600000, 30000},
	{"max_retries", OPTION_MAX_RETRIES, OPT_SERVER, false, VALUE_INTEGER, 0, 20, 3},
	{"max_parallel", OPTION_MAX_PARALLEL, OPT_SERVER, false, VALUE_INTEGER, 1, 64, 4},
	{"rate_limit", OPTION_RATE_LIMIT, OPT_SERVER, false, VALUE_INTEGER, 1, 10000, 20},
	{"rate_window_ms", OPTION_RATE_WINDOW_MS, OPT_SERVER, false, VALUE_INTEGER, 1, 3600000, 2000},
	{"max_response_bytes", OPTION_MAX_RESPONSE_BYTES, OPT_SERVER, false, VALUE_INTEGER, 1024, 1073741824, 67108864},
	{"ca_file", OPTION_CA_FILE, OPT_SERVER, true, VALUE_PATH},
	{"verify_tls", OPTION_VERIFY_TLS, OPT_SERVER, true, VALUE_BOOLEAN},
	{"campaign_errors", OPTION_CAMPAIGN_ERRORS, OPT_SERVER | OPT_TABLE, false, VALUE_CAMPAIGN_ERRORS},
	{"default_start_date", OPTION_DEFAULT_START_DATE, OPT_SERVER | OPT_TABLE, false, VALUE_TIMESTAMPTZ},
	{"cache_ttl", OPTION_CACHE_TTL, OPT_SERVER | OPT_TABLE, false, VALUE_INTEGER, 0, 2592000, 0},
	{"api_key", OPTION_API_KEY, OPT_USER_MAPPING, false, VALUE_SECRET},
	{"resource", OPTION_RESOURCE, OPT_TABLE, false, VALUE_RESOURCE},
	{"key", OPTION_KEY, OPT_COLUMN, false, VALUE_STRING}
};

static const struct
{
	const char *name;
	LemlistCampaignErrors value;
}			campaign_errors_values[] = {
	{"notice", LEMLIST_ERRORS_NOTICE},
	{"warning", LEMLIST_ERRORS_WARNING},
	{"error", LEMLIST_ERRORS_ERROR}
};

/* A parsed option value; which field is set depends on the ValueKind. */
typedef struct OptionValue
{
	int			ival;
	bool		bval;
	TimestampTz tval;
	LemlistCampaignErrors errors;
	LemlistResourceKind resource;
	const char *sval;
} OptionValue;

static const char *mapping_role(UserMapping *um);
static int	catalog_to_where(Oid catalog);
static const OptionDef *find_option(const char *name);
static void report_unknown_option(const char *name, int where) pg_attribute_noreturn();
static void report_misplaced_option(const OptionDef *opt) pg_attribute_noreturn();
static const char *closest_option(const char *name, int where);
static void check_option_value(const OptionDef *opt, const char *value,
							   OptionValue *val);
static void check_integer(const OptionDef *opt, const char *value, int *result);
static void check_url(const OptionDef *opt, const char *value);
static int	parse_timestamptz(const char *value, TimestampTz *result);
static bool apply_options(LemlistOptions *opts, List *optlist, int where);
static void store_option(LemlistOptions *opts, const OptionDef *opt,
						 const OptionValue *val);
static void report_missing_resource(void) pg_attribute_noreturn();


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
		const OptionDef *opt = find_option(def->defname);
		OptionValue val;

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

		if (opt->id == OPTION_RESOURCE)
			has_resource = true;
	}

	if (catalog == ForeignTableRelationId && !has_resource)
		report_missing_resource();

	PG_RETURN_VOID();
}

/*
 * lemlist_get_options
 *		The options a scan of a foreign table works with
 *
 * Defaults, overridden by the server's options, overridden by the table's.
 * Options this version does not know are ignored, as postgres_fdw does.
 */
void
lemlist_get_options(Oid foreigntableid, LemlistOptions *opts)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	size_t		len;
	int			i;

	memset(opts, 0, sizeof(LemlistOptions));
	opts->serverid = server->serverid;
	opts->server_name = pstrdup(server->servername);
	opts->api_url = pstrdup(DEFAULT_API_URL);
	opts->ca_file = NULL;
	opts->verify_tls = true;
	opts->campaign_errors = LEMLIST_ERRORS_NOTICE;
	opts->default_start_date = DEFAULT_START_DATE;
	opts->resource = LEMLIST_RES_CAMPAIGN_STATS;

	/* integer defaults come from the option table */
	for (i = 0; i < (int) lengthof(options); i++)
	{
		OptionValue val;

		if (options[i].kind != VALUE_INTEGER)
			continue;
		memset(&val, 0, sizeof(val));
		val.ival = options[i].default_value;
		store_option(opts, &options[i], &val);
	}

	(void) apply_options(opts, server->options, OPT_SERVER);
	if (!apply_options(opts, table->options, OPT_TABLE))
		report_missing_resource();

	/* routes start with a slash */
	len = strlen(opts->api_url);
	while (len > 0 && opts->api_url[len - 1] == '/')
		opts->api_url[--len] = '\0';
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
 *		The role a user mapping is for, as ALTER USER MAPPING FOR spells it
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
 * lemlist_get_column_key
 *		A column's "key" option, or NULL if it has none
 */
char *
lemlist_get_column_key(Oid foreigntableid, AttrNumber attnum)
{
	List	   *optlist = GetForeignColumnOptions(foreigntableid, attnum);
	ListCell   *lc;

	foreach(lc, optlist)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "key") == 0)
			return pstrdup(defGetString(def));
	}
	return NULL;
}

/*
 * catalog_to_where
 *		The OPT_* bit of the catalog the validator was called for
 *
 * 0 for the foreign-data wrapper itself, which takes no option.
 */
static int
catalog_to_where(Oid catalog)
{
	switch (catalog)
	{
		case ForeignServerRelationId:
			return OPT_SERVER;
		case UserMappingRelationId:
			return OPT_USER_MAPPING;
		case ForeignTableRelationId:
			return OPT_TABLE;
		case AttributeRelationId:
			return OPT_COLUMN;
		default:
			return 0;
	}
}

/*
 * find_option
 *		The definition of an option, or NULL if there is none by that name
 */
static const OptionDef *
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
report_misplaced_option(const OptionDef *opt)
{
	static const struct
	{
		int			bit;
		const char *object;
	}			objects[] = {
		{OPT_SERVER, "a server"},
		{OPT_TABLE, "a foreign table"},
		{OPT_COLUMN, "a foreign table column"}
	};
	StringInfoData buf;
	int			count = 0;
	int			i;

	initStringInfo(&buf);
	if (opt->where == OPT_USER_MAPPING)
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

/*
 * check_option_value
 *		Parse an option's value into val, or raise an ERROR naming it
 */
static void
check_option_value(const OptionDef *opt, const char *value, OptionValue *val)
{
	int			i;

	memset(val, 0, sizeof(OptionValue));
	val->sval = value;

	switch (opt->kind)
	{
		case VALUE_INTEGER:
			check_integer(opt, value, &val->ival);
			break;

		case VALUE_BOOLEAN:
			if (!parse_bool(value, &val->bval))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("Option \"%s\" requires a Boolean value.",
								   opt->name)));
			break;

		case VALUE_URL:
			check_url(opt, value);
			break;

		case VALUE_PATH:
			if (!is_absolute_path(value))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("The file name must be an absolute path.")));
			break;

		case VALUE_CAMPAIGN_ERRORS:
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

		case VALUE_TIMESTAMPTZ:
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

		case VALUE_SECRET:
			/* never show the value */
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\"", opt->name),
						 errdetail("The value must not be empty.")));
			break;

		case VALUE_RESOURCE:
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

		case VALUE_STRING:
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
 * Stricter than parse_int: no units, no hexadecimal, no fraction.
 */
static void
check_integer(const OptionDef *opt, const char *value, int *result)
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
 *		Check api_url: http or https, a host, no credentials, no fragment
 *
 * Routes are appended to it, so a query string is refused as well.  A URL
 * that carries a user name or password is not echoed back.
 */
static void
check_url(const OptionDef *opt, const char *value)
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
 *		Read a timestamptz the way timestamptz_in does, in UTC
 *
 * A value without a time zone means UTC whatever the session's TimeZone,
 * so that one option gives one startDate; words that move with the clock
 * ("now", "today", ...) are refused.  Returns 1 for a good value, 0 for one
 * that does not parse or is not finite, -1 for one outside the years 1 to
 * 9999 that lemlist can take.
 *
 * PostgreSQL 15 has no soft input errors, so timestamptz_in's own ERROR is
 * caught and the caller raises ours instead; a failure is always followed
 * by an ERROR, so the transaction never goes on after the catch.  Only data
 * exceptions (class 22) are caught: anything else (a cancel, out of memory)
 * is re-thrown as it is.
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
		const OptionDef *opt = find_option(def->defname);
		OptionValue val;

		if (opt == NULL || (opt->where & where) == 0)
			continue;

		check_option_value(opt, defGetString(def), &val);
		store_option(opts, opt, &val);
		if (opt->id == OPTION_RESOURCE)
			has_resource = true;
	}
	return has_resource;
}

/*
 * store_option
 *		Put one parsed option value where it belongs in opts
 */
static void
store_option(LemlistOptions *opts, const OptionDef *opt, const OptionValue *val)
{
	switch (opt->id)
	{
		case OPTION_API_URL:
			opts->api_url = pstrdup(val->sval);
			break;
		case OPTION_CONNECT_TIMEOUT_MS:
			opts->connect_timeout_ms = val->ival;
			break;
		case OPTION_TIMEOUT_MS:
			opts->timeout_ms = val->ival;
			break;
		case OPTION_MAX_RETRIES:
			opts->max_retries = val->ival;
			break;
		case OPTION_MAX_PARALLEL:
			opts->max_parallel = val->ival;
			break;
		case OPTION_RATE_LIMIT:
			opts->rate_limit = val->ival;
			break;
		case OPTION_RATE_WINDOW_MS:
			opts->rate_window_ms = val->ival;
			break;
		case OPTION_MAX_RESPONSE_BYTES:
			opts->max_response_bytes = (int64) val->ival;
			break;
		case OPTION_CA_FILE:
			opts->ca_file = pstrdup(val->sval);
			break;
		case OPTION_VERIFY_TLS:
			opts->verify_tls = val->bval;
			break;
		case OPTION_CAMPAIGN_ERRORS:
			opts->campaign_errors = val->errors;
			break;
		case OPTION_DEFAULT_START_DATE:
			opts->default_start_date = val->tval;
			break;
		case OPTION_CACHE_TTL:
			opts->cache_ttl = val->ival;
			break;
		case OPTION_RESOURCE:
			opts->resource = val->resource;
			break;
		case OPTION_API_KEY:
		case OPTION_KEY:
			/* not scan options: see lemlist_get_api_key, _column_key */
			break;
	}
}

/*
 * report_missing_resource
 *		ERROR for a foreign table without the "resource" option
 */
static void
report_missing_resource(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
			 errmsg("option \"resource\" is required for a lemlist foreign table"),
			 errhint("Valid values are: %s", lemlist_resource_names())));
}
