/*-------------------------------------------------------------------------
 *
 * json.c
 *		  JSON layer of lemlist_fdw: request bodies
 *
 * This is the only file that includes jansson.h; it writes the body of each
 * stats request.  (jsonread.c reads the answers without jansson, in one
 * pass and without building a tree.)  Everything this file returns is
 * palloc'd in the caller's memory context.  The design rules:
 *
 * - jansson allocates with malloc.  Every json_t tree built here has exactly
 *   one owner, the root, released in a PG_FINALLY block, so an
 *   ereport(ERROR) raised while the tree is alive (an encoding conversion,
 *   palloc, a query cancel) cannot leak it.  Text is produced with
 *   json_dumpb() into palloc'd buffers, so no malloc'd string ever leaves
 *   jansson, and no ERROR is ever raised from inside a jansson call.
 *
 * - The backend exports a C function named json_object (the SQL function),
 *   which the dynamic linker prefers to libjansson's: this file never calls
 *   jansson's json_object() directly (see new_object()), and never includes
 *   utils/builtins.h or utils/fmgrprotos.h, whose declaration would clash.
 *
 * - Encodings are converted here.  Strings sent to lemlist are converted
 *   from the server encoding to UTF-8.  When the database is not UTF-8, the
 *   body is pure ASCII (\uXXXX escapes), so that it is also valid text in
 *   the server encoding (EXPLAIN VERBOSE shows it).
 *
 * IDENTIFICATION
 *		  src/json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "lemlist_fdw.h"

static json_t *new_object(void);
static json_t *request_string(const char *field, const char *value);
static void request_set(json_t *object, const char *key, json_t *value);
static char *dump_text(const json_t *value, size_t flags);


/* ---------------------------------------------------------------------
 * Building the request body
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_json_stats_request
 *		Build the body of one POST /v2/campaigns/stats/batch request.
 *
 * campaign_ids is a List of char * in the server encoding.  start_date and
 * end_date are already formatted; when one of them is NULL, it is left out.
 * Every NULL field of combo is left out too (all of them when combo is
 * NULL).  Keys come out in insertion order, which jansson preserves:
 * campaignIds, startDate, endDate, sendUser, ABSelected, channels.  The
 * result is compact JSON text: UTF-8 in a UTF-8 database, and pure ASCII
 * (\uXXXX escapes) in any other.  That way it is both a valid request body
 * and valid text in the server encoding (for EXPLAIN VERBOSE).
 */
char *
lemlist_json_stats_request(List *campaign_ids, const char *start_date,
						   const char *end_date, const LemlistCombo *combo)
{
	json_t	   *root;
	char	   *volatile result = NULL;

	root = new_object();
	if (root == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));

	PG_TRY();
	{
		json_t	   *ids = json_array();
		ListCell   *lc;

		request_set(root, "campaignIds", ids);
		foreach(lc, campaign_ids)
		{
			if (json_array_append_new(ids,
									  request_string("campaignIds",
													 (const char *) lfirst(lc))) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory")));
		}

		if (start_date != NULL)
			request_set(root, "startDate", request_string("startDate", start_date));
		if (end_date != NULL)
			request_set(root, "endDate", request_string("endDate", end_date));

		if (combo != NULL && combo->send_user != NULL)
			request_set(root, "sendUser",
						request_string("sendUser", combo->send_user));
		if (combo != NULL && combo->ab_selected != NULL)
			request_set(root, "ABSelected",
						request_string("ABSelected", combo->ab_selected));
		if (combo != NULL && combo->channel != NULL)
		{
			json_t	   *channels = json_array();

			request_set(root, "channels", channels);
			if (json_array_append_new(channels,
									  request_string("channels", combo->channel)) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory")));
		}

		result = dump_text(root, JSON_COMPACT);
	}
	PG_FINALLY();
	{
		json_decref(root);
	}
	PG_END_TRY();

	return result;
}

/*
 * new_object
 *		A new empty JSON object.
 *
 * Never call jansson's json_object() from this module: the postgres binary
 * exports a function of the same name (the SQL function json_object), and
 * the dynamic linker binds our reference to it, not to libjansson's.
 * json_pack() builds the object inside libjansson, whose own calls are bound
 * to its own definition.
 */
static json_t *
new_object(void)
{
	return json_pack("{}");
}

/*
 * request_string
 *		A new JSON string holding value, converted to UTF-8.
 *
 * jansson refuses strings that are not valid UTF-8, which can only happen
 * when the database encoding is SQL_ASCII: that is an ERROR naming the field.
 */
static json_t *
request_string(const char *field, const char *value)
{
	char	   *utf8;
	json_t	   *result;

	utf8 = pg_server_to_any(value, strlen(value), PG_UTF8);
	result = json_string(utf8);
	if (utf8 != value)
		pfree(utf8);

	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("value of \"%s\" cannot be sent to lemlist", field),
				 errdetail("The value is not valid UTF-8.")));

	return result;
}

/*
 * request_set
 *		Add key: value to a request object, taking ownership of value.
 *
 * A NULL value (jansson out of memory) and a failure to insert are both
 * reported as out of memory; json_object_set_new releases value either way.
 */
static void
request_set(json_t *object, const char *key, json_t *value)
{
	if (value == NULL || json_object_set_new(object, key, value) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
}

/*
 * dump_text
 *		The compact JSON text of value, palloc'd.
 *
 * json_dumpb() is called twice, the first time to size the buffer, so that
 * the text never lives in malloc'd memory.  In a database that is not UTF-8,
 * JSON_ENSURE_ASCII is added, which makes the text valid in any server
 * encoding.
 */
static char *
dump_text(const json_t *value, size_t flags)
{
	size_t		size;
	char	   *buf;

	flags |= JSON_COMPACT | JSON_ENCODE_ANY;
	if (GetDatabaseEncoding() != PG_UTF8)
		flags |= JSON_ENSURE_ASCII;

	size = json_dumpb(value, NULL, 0, flags);
	if (size == 0 || size >= (size_t) MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("could not serialize a JSON value from lemlist")));
	buf = palloc(size + 1);
	if (json_dumpb(value, buf, size, flags) != size)
		elog(ERROR, "JSON value changed size while being serialized");
	buf[size] = '\0';
	return buf;
}
