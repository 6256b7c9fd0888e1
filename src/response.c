/*-------------------------------------------------------------------------
 *
 * response.c
 *		  lemlist's answers to rows: the stats batch and the campaigns list
 *
 * An answer is read in one pass with the pull reader of jsonread.c: each
 * object of results[] (or of the campaigns list) is walked key by key, the
 * documented fields are checked as they come, and only the columns the scan
 * asked for are turned into text (values.c checks each value and makes its
 * text).  Nothing else is built: no tree of the body, no copy of fields
 * nobody reads.  The design rules:
 *
 * - An answer is accepted whole or not at all.  Every deviation from the
 *   documented types (taken from the resource table of resources.c) is one
 *   ERROR, ERRCODE_FDW_INVALID_DATA_TYPE "invalid response from lemlist",
 *   whose DETAIL says in our own words where and what is wrong; since the
 *   rows are handed back only at the end, an ERROR anywhere leaves nothing
 *   behind but palloc'd memory of the caller's context.  A body that is not
 *   JSON at all is reported as such even when a wrong value comes first
 *   (lemlist_invalid_answer checks the whole body's syntax before it
 *   reports).  Undocumented fields are not checked; columns reading them
 *   (LEMLIST_JSON_ANY) take any value.
 *
 * - A field that is read or checked may appear only once in its object: a
 *   duplicate would make the answer ambiguous, and is an ERROR.
 *
 * - The raw column takes the compact text of the whole object (the step's,
 *   with rows per step): see lemlist_json_compact.
 *
 * IDENTIFICATION
 *		  src/response.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "lemlist_fdw.h"

/*
 * A problem with the body as a whole, found before any value was read (the
 * others go through lemlist_invalid_answer, which checks the syntax first).
 */
#define invalid_response(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE), \
			 errmsg("invalid response from lemlist"), \
			 errdetail(__VA_ARGS__)))

#define shape_error(d, ...) lemlist_invalid_answer(&(d)->answer, __VA_ARGS__)

/* What a field of an object is to the decoder, beyond its columns. */
typedef enum FieldRole
{
	FIELD_PLAIN,
	FIELD_ID,					/* the object's required, non-empty ID */
	FIELD_STEPS					/* a result's steps[], walked in place */
} FieldRole;

/* One field the decoder checks or reads. */
typedef struct FieldSpec
{
	const char *key;
	int			keylen;
	int			documented;		/* its LemlistJsonType, or -1 */
	FieldRole	role;
	int		   *columns;		/* indexes of the columns reading it */
	int			ncolumns;
} FieldSpec;

/* The fields of one kind of object (a result, a step, a campaign). */
typedef struct ObjectSpec
{
	FieldSpec  *fields;
	int			nfields;
	int			maxfields;
	bool	   *seen;			/* per field, while an object is walked */
	const char *id_key;			/* the required FIELD_ID field, or NULL */
	List	   *raw_columns;	/* int indexes of RAW columns taking the object */
} ObjectSpec;

/* The state of one decoding. */
typedef struct Decoder
{
	LemlistJsonReader r;
	LemlistAnswer answer;		/* the body, for lemlist_invalid_answer */
	const LemlistJsonColumn *columns;
	int			ncolumns;
	bool		steps;			/* one row per step */
	ObjectSpec	object;			/* a result, or a campaign */
	ObjectSpec	step;			/* a step of a result */
	LemlistParsed *out;
} Decoder;

static void check_body(const char *body, size_t len);
static void init_decoder(Decoder *d, const char *body, size_t len,
						 const LemlistJsonColumn *columns, int ncolumns,
						 LemlistParsed *out);
static FieldSpec *add_field(ObjectSpec *spec, const char *key, int documented);
static void add_documented(ObjectSpec *spec, LemlistResourceKind kind,
						   LemlistColumnSource source);
static void add_columns(Decoder *d, ObjectSpec *spec, LemlistColumnSource source);
static void finish_spec(ObjectSpec *spec);
static int	find_field(const ObjectSpec *spec, const LemlistJsonValue *key);
static char *read_object(Decoder *d, ObjectSpec *spec, char **row,
						 const LemlistJsonWhere *where, List **step_rows);
static void read_steps(Decoder *d, const LemlistJsonWhere *where, List **step_rows);
static void read_results(Decoder *d);
static void read_errors(Decoder *d);
static void read_campaigns(Decoder *d);
static void read_pagination(Decoder *d);
static int	pagination_field(Decoder *d, const LemlistJsonValue *v, const char *key);
static bool object_key(Decoder *d, const LemlistJsonValue *key, const char *name,
					   bool *seen, const char *where);


/*
 * lemlist_parse_stats
 *		Parse a 200 answer of POST /v2/campaigns/stats/batch.
 *
 * Without steps, one row per element of results[]; with steps, one row per
 * element of each result's steps[].  See LemlistParsed for the rest.
 */
void
lemlist_parse_stats(const char *body, size_t len, bool steps,
					const LemlistJsonColumn *columns, int ncolumns,
					LemlistParsed *out)
{
	Decoder		d;
	LemlistJsonValue key;
	LemlistJsonValue v;
	bool		seen_results = false;
	bool		seen_errors = false;

	check_body(body, len);
	init_decoder(&d, body, len, columns, ncolumns, out);
	d.steps = steps;

	/* a result: its documented fields (both tables'), campaignId, steps */
	add_documented(&d.object, LEMLIST_RES_CAMPAIGN_STATS, LEMLIST_SRC_RESULT);
	add_documented(&d.object, LEMLIST_RES_CAMPAIGN_STEP_STATS, LEMLIST_SRC_RESULT);
	add_field(&d.object, "campaignId", LEMLIST_JSON_STRING)->role = FIELD_ID;
	add_field(&d.object, "steps", -1)->role = FIELD_STEPS;
	add_columns(&d, &d.object, LEMLIST_SRC_RESULT);
	add_documented(&d.step, LEMLIST_RES_CAMPAIGN_STEP_STATS, LEMLIST_SRC_STEP);
	if (steps)
		add_columns(&d, &d.step, LEMLIST_SRC_STEP);
	finish_spec(&d.object);
	finish_spec(&d.step);

	if (lemlist_json_start(&d.r) != LEMLIST_JSON_KIND_OBJECT)
	{
		lemlist_json_read(&d.r, &v);
		shape_error(&d, "The body is %s, expected an object.",
					lemlist_json_kind_name(v.kind));
	}
	lemlist_json_enter(&d.r);
	while (lemlist_json_next_key(&d.r, &key))
	{
		if (object_key(&d, &key, "results", &seen_results, "the body"))
		{
			if (lemlist_json_at(&d.r, '['))
			{
				read_results(&d);
				continue;
			}
			lemlist_json_read(&d.r, &v);
			shape_error(&d, "Field \"results\" of the body is %s, expected an array.",
						lemlist_json_kind_name(v.kind));
		}
		if (object_key(&d, &key, "errors", &seen_errors, "the body"))
		{
			if (lemlist_json_at(&d.r, '['))
			{
				read_errors(&d);
				continue;
			}
			lemlist_json_read(&d.r, &v);
			if (v.kind != LEMLIST_JSON_KIND_NULL)
				shape_error(&d, "Field \"errors\" of the body is %s, expected an array.",
							lemlist_json_kind_name(v.kind));
			continue;
		}
		lemlist_json_read(&d.r, &v);
	}
	lemlist_json_finish(&d.r);
	if (!seen_results)
		invalid_response("The body has no \"results\" array.");
}

/*
 * lemlist_parse_campaigns
 *		Parse a 200 answer of GET /campaigns?version=v2.
 *
 * Both shapes the API is known to send are accepted: the documented bare
 * array of campaigns, and {"campaigns": [...], "pagination": {...}}.  Only
 * the second sets has_pagination, and only when "pagination" is an object.
 */
void
lemlist_parse_campaigns(const char *body, size_t len,
						const LemlistJsonColumn *columns, int ncolumns,
						LemlistParsed *out)
{
	Decoder		d;
	LemlistJsonValue key;
	LemlistJsonValue v;
	bool		seen_campaigns = false;
	bool		seen_pagination = false;

	check_body(body, len);
	init_decoder(&d, body, len, columns, ncolumns, out);
	add_documented(&d.object, LEMLIST_RES_CAMPAIGNS, LEMLIST_SRC_RESULT);
	add_field(&d.object, "_id", LEMLIST_JSON_STRING)->role = FIELD_ID;
	add_columns(&d, &d.object, LEMLIST_SRC_RESULT);
	finish_spec(&d.object);

	if (lemlist_json_start(&d.r) == LEMLIST_JSON_KIND_ARRAY)
	{
		read_campaigns(&d);
		lemlist_json_finish(&d.r);
		return;
	}

	lemlist_json_enter(&d.r);
	while (lemlist_json_next_key(&d.r, &key))
	{
		if (object_key(&d, &key, "campaigns", &seen_campaigns, "the body"))
		{
			if (lemlist_json_at(&d.r, '['))
			{
				read_campaigns(&d);
				continue;
			}
			lemlist_json_read(&d.r, &v);
			shape_error(&d, "Field \"campaigns\" of the body is %s, expected an array.",
						lemlist_json_kind_name(v.kind));
		}
		if (object_key(&d, &key, "pagination", &seen_pagination, "the body"))
		{
			if (lemlist_json_at(&d.r, '{'))
			{
				read_pagination(&d);
				continue;
			}
			lemlist_json_read(&d.r, &v);
			if (v.kind != LEMLIST_JSON_KIND_NULL)
				shape_error(&d, "Field \"pagination\" of the body is %s, expected an object.",
							lemlist_json_kind_name(v.kind));
			continue;
		}
		lemlist_json_read(&d.r, &v);
	}
	lemlist_json_finish(&d.r);
	if (!seen_campaigns)
		invalid_response("The body is an object without a \"campaigns\" array.");
}


/* ---------------------------------------------------------------------
 * Setting up
 * ---------------------------------------------------------------------
 */

/*
 * check_body
 *		What the reader relies on: a non-empty body of valid UTF-8 without
 *		NUL bytes, of a size a palloc'd copy can have.
 */
static void
check_body(const char *body, size_t len)
{
	int			valid;

	if (len == 0)
		invalid_response("The body is empty.");
	if (len > (size_t) MaxAllocSize)
		invalid_response("The body is too large (%zu bytes).", len);

	valid = lemlist_verifymbstr(PG_UTF8, body, (int) len);
	if ((size_t) valid < len)
	{
		if (body[valid] == '\0')
			invalid_response("The body contains a NUL byte at offset %d.", valid);
		else
			invalid_response("The body is not valid UTF-8: invalid byte sequence at offset %d.",
							 valid);
	}
}

static void
init_decoder(Decoder *d, const char *body, size_t len,
			 const LemlistJsonColumn *columns, int ncolumns, LemlistParsed *out)
{
	memset(d, 0, sizeof(*d));
	memset(out, 0, sizeof(*out));
	out->total_records = -1;
	lemlist_json_reader_init(&d->r, body, len);
	d->answer.body = body;
	d->answer.len = len;
	d->answer.ascii = (GetDatabaseEncoding() != PG_UTF8);
	d->columns = columns;
	d->ncolumns = ncolumns;
	d->out = out;
}

/*
 * add_field
 *		The spec of key in spec, added if new.  A documented type given
 *		later replaces -1.
 */
static FieldSpec *
add_field(ObjectSpec *spec, const char *key, int documented)
{
	FieldSpec  *f;

	for (int i = 0; i < spec->nfields; i++)
	{
		f = &spec->fields[i];
		if (strcmp(f->key, key) == 0)
		{
			if (f->documented < 0)
				f->documented = documented;
			return f;
		}
	}
	if (spec->nfields == spec->maxfields)
	{
		spec->maxfields = Max(16, spec->maxfields * 2);
		spec->fields = spec->fields == NULL ?
			palloc(sizeof(FieldSpec) * spec->maxfields) :
			repalloc(spec->fields, sizeof(FieldSpec) * spec->maxfields);
	}
	f = &spec->fields[spec->nfields++];
	f->key = key;
	f->keylen = (int) strlen(key);
	f->documented = documented;
	f->role = FIELD_PLAIN;
	f->columns = NULL;
	f->ncolumns = 0;
	return f;
}

/*
 * add_documented
 *		The documented fields of resource kind whose source is source.
 */
static void
add_documented(ObjectSpec *spec, LemlistResourceKind kind,
			   LemlistColumnSource source)
{
	const LemlistResourceDef *res = lemlist_resource_by_kind(kind);

	for (int i = 0; i < res->ncolumns; i++)
	{
		const LemlistColumnDef *col = &res->columns[i];

		if (col->source == source && col->json_key != NULL)
			(void) add_field(spec, col->json_key, col->json_type);
	}
}

/*
 * add_columns
 *		The scan's columns whose source is source read the fields of spec;
 *		RAW columns take the whole object (the step when rows are steps).
 */
static void
add_columns(Decoder *d, ObjectSpec *spec, LemlistColumnSource source)
{
	bool		takes_raw = (source == LEMLIST_SRC_STEP) == d->steps;

	for (int i = 0; i < d->ncolumns; i++)
	{
		const LemlistJsonColumn *col = &d->columns[i];
		FieldSpec  *f;

		if (col->source == LEMLIST_SRC_RAW && takes_raw)
			spec->raw_columns = lappend_int(spec->raw_columns, i);
		if (col->source != source || col->key == NULL)
			continue;
		f = add_field(spec, col->key, -1);
		f->columns = f->columns == NULL ?
			palloc(sizeof(int)) :
			repalloc(f->columns, sizeof(int) * (f->ncolumns + 1));
		f->columns[f->ncolumns++] = i;
	}
}

static void
finish_spec(ObjectSpec *spec)
{
	spec->seen = palloc0(sizeof(bool) * Max(spec->nfields, 1));
	for (int i = 0; i < spec->nfields; i++)
	{
		if (spec->fields[i].role == FIELD_ID)
			spec->id_key = spec->fields[i].key;
	}
}

/*
 * find_field
 *		The index in spec of the field named key, or -1.
 */
static int
find_field(const ObjectSpec *spec, const LemlistJsonValue *key)
{
	const char *name = key->start;
	int			len = key->len;
	int			result = -1;

	if (key->escaped)
		name = lemlist_json_string(key, &len);
	for (int i = 0; i < spec->nfields; i++)
	{
		const FieldSpec *f = &spec->fields[i];

		if (f->keylen == len && memcmp(f->key, name, len) == 0)
		{
			result = i;
			break;
		}
	}
	if (key->escaped)
		pfree((char *) name);
	return result;
}


/* ---------------------------------------------------------------------
 * Walking the body
 * ---------------------------------------------------------------------
 */

/*
 * read_object
 *		Walk the object at the reader's position as spec says: check its
 *		documented fields, fill row's columns (row may be NULL: nothing to
 *		fill), and return its ID, if spec has one.  A result's steps are
 *		walked in place, their rows appended to *step_rows.
 */
static char *
read_object(Decoder *d, ObjectSpec *spec, char **row,
			const LemlistJsonWhere *where, List **step_rows)
{
	LemlistJsonValue key;
	LemlistJsonValue v;
	const char *start;
	char	   *id = NULL;
	ListCell   *lc;

	if (!lemlist_json_at(&d->r, '{'))
	{
		lemlist_json_read(&d->r, &v);
		shape_error(d, "%s is %s, expected an object.",
					lemlist_value_where(where), lemlist_json_kind_name(v.kind));
	}
	start = d->r.pos;
	memset(spec->seen, 0, sizeof(bool) * spec->nfields);

	lemlist_json_enter(&d->r);
	while (lemlist_json_next_key(&d->r, &key))
	{
		int			i = find_field(spec, &key);
		FieldSpec  *f;

		if (i < 0)
		{
			lemlist_json_read(&d->r, &v);
			continue;
		}
		f = &spec->fields[i];
		if (spec->seen[i])
			shape_error(d, "Field \"%s\" of %s appears twice.",
						f->key, lemlist_value_where(where));
		spec->seen[i] = true;

		if (f->role == FIELD_STEPS && lemlist_json_at(&d->r, '['))
		{
			v.kind = LEMLIST_JSON_KIND_ARRAY;
			v.start = d->r.pos;
			v.escaped = false;
			read_steps(d, where, step_rows);
			v.len = (int) (d->r.pos - v.start);
		}
		else
			lemlist_json_read(&d->r, &v);

		if (f->role == FIELD_STEPS && v.kind != LEMLIST_JSON_KIND_ARRAY &&
			v.kind != LEMLIST_JSON_KIND_NULL)
			shape_error(d, "Field \"steps\" of %s is %s, expected an array.",
						lemlist_value_where(where), lemlist_json_kind_name(v.kind));
		if (f->role == FIELD_ID)
			id = lemlist_value_id(&d->answer, &v, f->key, where);
		else if (f->documented >= 0)
			lemlist_value_check(&d->answer, &v, (LemlistJsonType) f->documented,
								f->key, where);
		if (row != NULL)
		{
			for (int c = 0; c < f->ncolumns; c++)
			{
				int			col = f->columns[c];
				LemlistJsonType type = d->columns[col].json_type;

				/* the ID's text is already made: what a string column would get */
				if (id != NULL && f->role == FIELD_ID &&
					(type == LEMLIST_JSON_STRING || type == LEMLIST_JSON_ANY))
					row[col] = id;
				else
					row[col] = lemlist_value_text(&d->answer, &v, type, f->key, where);
			}
		}
	}

	if (spec->id_key != NULL && id == NULL)
		shape_error(d, "Field \"%s\" of %s is missing.",
					spec->id_key, lemlist_value_where(where));

	if (row != NULL && spec->raw_columns != NIL)
	{
		char	   *text;

		v.kind = LEMLIST_JSON_KIND_OBJECT;
		v.start = start;
		v.len = (int) (d->r.pos - start);
		v.escaped = false;
		text = lemlist_json_compact(&v, d->answer.ascii);
		foreach(lc, spec->raw_columns)
			row[lfirst_int(lc)] = text;
	}
	return id;
}

/*
 * read_steps
 *		Walk the steps[] of the result at where; with rows per step, each
 *		step's row (its STEP and RAW columns) goes to *step_rows.
 */
static void
read_steps(Decoder *d, const LemlistJsonWhere *where, List **step_rows)
{
	int			j = 0;

	lemlist_json_enter(&d->r);
	while (lemlist_json_next_element(&d->r))
	{
		LemlistJsonWhere step_where = {where->array, where->index, j++};
		char	  **row = NULL;

		if (d->steps)
			row = palloc0(sizeof(char *) * Max(d->ncolumns, 1));
		(void) read_object(d, &d->step, row, &step_where, NULL);
		if (d->steps)
			*step_rows = lappend(*step_rows, row);
	}
}

/*
 * read_results
 *		Walk results[]: one row per result, or per step of each result.
 */
static void
read_results(Decoder *d)
{
	LemlistParsed *out = d->out;
	int			i = 0;

	lemlist_json_enter(&d->r);
	while (lemlist_json_next_element(&d->r))
	{
		LemlistJsonWhere where = {"results", i++, -1};
		char	  **row = palloc0(sizeof(char *) * Max(d->ncolumns, 1));
		List	   *step_rows = NIL;
		char	   *id;
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		id = read_object(d, &d->object, row, &where, &step_rows);
		out->result_ids = lappend(out->result_ids, id);
		if (!d->steps)
		{
			out->rows = lappend(out->rows, row);
			out->row_campaign_ids = lappend(out->row_campaign_ids, id);
			continue;
		}

		/* a step's row takes its result's RESULT columns */
		foreach(lc, step_rows)
		{
			char	  **step_row = lfirst(lc);

			for (int c = 0; c < d->ncolumns; c++)
			{
				if (d->columns[c].source == LEMLIST_SRC_RESULT)
					step_row[c] = row[c];
			}
			out->rows = lappend(out->rows, step_row);
			out->row_campaign_ids = lappend(out->row_campaign_ids, id);
		}
		list_free(step_rows);
	}
}

/*
 * read_errors
 *		Walk errors[]: {"campaignId": "...", "error": "..."} each.
 */
static void
read_errors(Decoder *d)
{
	int			i = 0;

	lemlist_json_enter(&d->r);
	while (lemlist_json_next_element(&d->r))
	{
		LemlistJsonWhere where = {"errors", i++, -1};
		LemlistCampaignError *err = palloc0(sizeof(LemlistCampaignError));
		LemlistJsonValue key;
		LemlistJsonValue v;
		bool		seen_id = false;
		bool		seen_error = false;
		char	   *where_str = lemlist_value_where(&where);

		if (!lemlist_json_at(&d->r, '{'))
		{
			lemlist_json_read(&d->r, &v);
			shape_error(d, "%s is %s, expected an object.",
						where_str, lemlist_json_kind_name(v.kind));
		}
		lemlist_json_enter(&d->r);
		while (lemlist_json_next_key(&d->r, &key))
		{
			lemlist_json_read(&d->r, &v);
			if (object_key(d, &key, "campaignId", &seen_id, where_str))
				err->campaign_id = lemlist_value_id(&d->answer, &v, "campaignId", &where);
			else if (object_key(d, &key, "error", &seen_error, where_str))
			{
				lemlist_value_check(&d->answer, &v, LEMLIST_JSON_STRING, "error", &where);
				if (v.kind != LEMLIST_JSON_KIND_NULL)
					err->message = lemlist_value_string(&d->answer, &v, "error", -1, &where);
			}
		}
		if (!seen_id)
			shape_error(d, "Field \"campaignId\" of %s is missing.", where_str);
		if (err->message == NULL)
			err->message = pstrdup("unknown error");
		d->out->errors = lappend(d->out->errors, err);
	}
}

/*
 * read_campaigns
 *		Walk a page of the campaigns list: one row per campaign.
 */
static void
read_campaigns(Decoder *d)
{
	LemlistParsed *out = d->out;
	int			i = 0;

	lemlist_json_enter(&d->r);
	while (lemlist_json_next_element(&d->r))
	{
		LemlistJsonWhere where = {"campaigns", i++, -1};
		char	  **row = palloc0(sizeof(char *) * Max(d->ncolumns, 1));
		char	   *id;

		CHECK_FOR_INTERRUPTS();
		id = read_object(d, &d->object, row, &where, NULL);
		out->row_campaign_ids = lappend(out->row_campaign_ids, id);
		out->rows = lappend(out->rows, row);
	}
	out->page_count = i;
}

/*
 * read_pagination
 *		Walk the "pagination" object of the campaigns list.
 */
static void
read_pagination(Decoder *d)
{
	static const char *const names[] = {
		"totalRecords", "currentPage", "nextPage", "totalPage"
	};
	bool		seen[lengthof(names)] = {false};
	LemlistJsonValue key;
	LemlistJsonValue v;
	LemlistParsed *out = d->out;

	out->has_pagination = true;
	lemlist_json_enter(&d->r);
	while (lemlist_json_next_key(&d->r, &key))
	{
		int			i;
		int			n;

		lemlist_json_read(&d->r, &v);
		for (i = 0; i < (int) lengthof(names); i++)
		{
			if (object_key(d, &key, names[i], &seen[i], "pagination"))
				break;
		}
		if (i == (int) lengthof(names))
			continue;
		n = pagination_field(d, &v, names[i]);
		if (i == 0)
			out->total_records = v.kind == LEMLIST_JSON_KIND_NULL ? -1 : n;
		else if (i == 1)
			out->current_page = n;
		else if (i == 2)
			out->next_page = n;
		else if (i == 3)
			out->total_pages = n;
	}
}

/*
 * pagination_field
 *		A field of "pagination": a non-negative int, 0 when null.
 */
static int
pagination_field(Decoder *d, const LemlistJsonValue *v, const char *key)
{
	if (v->kind == LEMLIST_JSON_KIND_NULL)
		return 0;
	if (v->kind != LEMLIST_JSON_KIND_INTEGER)
		shape_error(d, "Field \"%s\" of pagination is %s, expected a non-negative integer.",
					key, lemlist_json_kind_name(v->kind));
	if (v->integer < 0 || v->integer > PG_INT32_MAX)
		shape_error(d, "Field \"%s\" of pagination is %lld, expected a non-negative 32-bit integer.",
					key, (long long) v->integer);
	return (int) v->integer;
}

/*
 * object_key
 *		Is key the name of a field the caller handles?  Then it may not have
 *		been seen before in this object (where names it).
 */
static bool
object_key(Decoder *d, const LemlistJsonValue *key, const char *name,
		   bool *seen, const char *where)
{
	if (!lemlist_json_key_is(key, name, (int) strlen(name)))
		return false;
	if (*seen)
		shape_error(d, "Field \"%s\" of %s appears twice.", name, where);
	*seen = true;
	return true;
}
