/*-------------------------------------------------------------------------
 *
 * option_lookup.c
 *		  The options a scan works with, read from the catalogs
 *
 * lemlist_get_options gives a scan its options: the defaults, overridden by
 * the server's options, overridden by the foreign table's.  The API key is
 * not among them: lemlist_get_api_key reads it from the user mapping on its
 * own, and lemlist_get_column_key reads a column's "key" option.
 *
 * Design rules:
 *
 * - Every value is parsed again with lemlist_check_option_value, as the
 *	 validator parsed it.  Options this version does not know, or knows for
 *	 another kind of object, are ignored, as postgres_fdw does.
 *
 * - The defaults of integer options come from option.c's table; the others
 *	 are set here.  A foreign table without "resource" is an ERROR here as
 *	 in the validator.
 *
 * IDENTIFICATION
 *		  src/option_lookup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "lemlist_fdw.h"

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
	opts->campaign_errors = LEMLIST_ERRORS_NOTICE;
	opts->default_start_date = DEFAULT_START_DATE;
	opts->resource = LEMLIST_RES_CAMPAIGN_STATS;

	/* integer defaults come from the option table */
	defs = lemlist_option_defs(&ndefs);
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
	if (!apply_options(opts, table->options, LEMLIST_OPT_TABLE))
		lemlist_report_missing_resource();

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
		const LemlistOptionDef *opt = lemlist_find_option(def->defname);
		LemlistOptionValue val;

		if (opt == NULL || (opt->where & where) == 0)
			continue;

		lemlist_check_option_value(opt, defGetString(def), &val);
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
		case LEMLIST_OPTION_RESOURCE:
			opts->resource = val->resource;
			break;
		case LEMLIST_OPTION_API_KEY:
		case LEMLIST_OPTION_KEY:
			/* not scan options: see lemlist_get_api_key, _column_key */
			break;
	}
}
