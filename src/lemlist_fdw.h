/*-------------------------------------------------------------------------
 *
 * lemlist_fdw.h
 *		  What the files of lemlist_fdw share
 *
 * Only what crosses files is here, grouped by the file that defines it.
 * Each file keeps its own types.  curl.h and jansson.h are never included:
 * http.c and json.c keep their libraries to themselves, and the rest of the
 * extension sees palloc'd C strings and PostgreSQL types.  What differs
 * between PostgreSQL majors is in compat.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEMLIST_FDW_H
#define LEMLIST_FDW_H

#include "postgres.h"

#include <math.h>

#include "access/attnum.h"
#include "commands/explain.h"
#include "datatype/timestamp.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "nodes/pathnodes.h"
#include "nodes/pg_list.h"

#include "compat.h"

/* The API's limit on campaign IDs per batch request. */
#define LEMLIST_BATCH_SIZE			100
/* Page size used when listing the team's campaigns. */
#define LEMLIST_PAGE_SIZE			100

/* ---------------------------------------------------------------------
 * in resources.c: the resources, their columns, a table's columns, IMPORT
 * ---------------------------------------------------------------------
 */
typedef enum LemlistResourceKind
{
	LEMLIST_RES_CAMPAIGN_STATS,
	LEMLIST_RES_CAMPAIGN_STEP_STATS,
	LEMLIST_RES_CAMPAIGNS
} LemlistResourceKind;

/* Filters a query can push into a request; also what an echo column shows. */
typedef enum LemlistFilterKind
{
	LEMLIST_FILTER_NONE = 0,	/* not a filter column */
	LEMLIST_FILTER_CAMPAIGN_ID,	/* campaignIds (stats); _id (campaigns) */
	LEMLIST_FILTER_START_DATE,	/* startDate */
	LEMLIST_FILTER_END_DATE,	/* endDate */
	LEMLIST_FILTER_SEND_USER,	/* sendUser */
	LEMLIST_FILTER_AB_SELECTED, /* ABSelected */
	LEMLIST_FILTER_CHANNEL,		/* channels: [x] */
	LEMLIST_FILTER_STATUS,		/* campaigns list: ?status= */
	LEMLIST_FILTER_CREATED_BY	/* campaigns list: ?createdBy= */
} LemlistFilterKind;

#define LEMLIST_NUM_FILTERS (LEMLIST_FILTER_CREATED_BY + 1)

/* The JSON type the API documents for a field. */
typedef enum LemlistJsonType
{
	LEMLIST_JSON_ANY,			/* not documented: any scalar, arrays/objects as JSON text */
	LEMLIST_JSON_STRING,
	LEMLIST_JSON_COUNTER,		/* non-negative integer */
	LEMLIST_JSON_INTEGER,		/* any integer */
	LEMLIST_JSON_BOOLEAN,
	LEMLIST_JSON_STRING_ARRAY	/* array of strings, rendered as a text[] literal */
} LemlistJsonType;

/* Where a column's value comes from. */
typedef enum LemlistColumnSource
{
	LEMLIST_SRC_RESULT,			/* a field of the result (or campaign) object */
	LEMLIST_SRC_STEP,			/* a field of the step object (step stats) */
	LEMLIST_SRC_FILTER,			/* echo of the request's filter (filter_kind) */
	LEMLIST_SRC_RAW,			/* the whole JSON object, as json text */
	LEMLIST_SRC_CONST,			/* the table's own value: its partition's, or its
								 * server's name (value) */
	LEMLIST_SRC_UNREAD			/* dropped, or not read by the plan (scan.c) */
} LemlistColumnSource;

/* A column of a resource, as IMPORT FOREIGN SCHEMA declares it. */
typedef struct LemlistColumnDef
{
	const char *name;			/* column name */
	const char *sqltype;		/* type IMPORT FOREIGN SCHEMA declares */
	const char *json_key;		/* JSON field, NULL for pure echo columns */
	LemlistJsonType json_type;
	LemlistColumnSource source;
	LemlistFilterKind filter;	/* which filter it echoes / receives */
} LemlistColumnDef;

typedef struct LemlistResourceDef
{
	LemlistResourceKind kind;
	const char *name;			/* resource option value and table name */
	const char *description;
	const LemlistColumnDef *columns;
	int			ncolumns;
} LemlistResourceDef;

/* How one attribute of a foreign table is filled, and what it can push down. */
typedef struct LemlistColumn
{
	bool		dropped;
	char	   *name;
	Oid			typid;
	int32		typmod;
	LemlistColumnSource source;
	LemlistFilterKind filter;	/* FILTER source: which filter it echoes */
	LemlistFilterKind pushdown; /* clauses on it become this filter, or NONE */
	const char *key;			/* JSON field (RESULT/STEP) */
	const char *value;			/* CONST: its text, NULL for SQL NULL */
	LemlistJsonType json_type;
} LemlistColumn;

extern const LemlistResourceDef *lemlist_resource_by_kind(LemlistResourceKind kind);
extern const LemlistResourceDef *lemlist_resource_by_name(const char *name);
extern const char *lemlist_resource_names(void);	/* "campaign_stats, ..." for hints */
extern LemlistColumn *lemlist_map_columns(Oid foreigntableid, LemlistResourceKind kind,
										  int *natts);
extern List *lemlist_import_schema(ImportForeignSchemaStmt *stmt, Oid serverOid);

/* ---------------------------------------------------------------------
 * in option.c: the options, their validator, the options of a scan
 * ---------------------------------------------------------------------
 */
typedef enum LemlistCampaignErrors
{
	LEMLIST_ERRORS_NOTICE,
	LEMLIST_ERRORS_WARNING,
	LEMLIST_ERRORS_ERROR
} LemlistCampaignErrors;

/* Server options merged with table options (the table wins). */
typedef struct LemlistOptions
{
	Oid			serverid;
	char	   *server_name;
	char	   *api_url;		/* without trailing slash */
	int			connect_timeout_ms;
	int			timeout_ms;
	int			max_retries;
	int			max_parallel;
	int			rate_limit;
	int			rate_window_ms;
	int64		max_response_bytes;
	char	   *ca_file;		/* NULL: system CAs */
	bool		verify_tls;
	LemlistCampaignErrors campaign_errors;
	TimestampTz default_start_date;
	LemlistResourceKind resource;
	int			cache_ttl;		/* seconds; 0: no cross-statement cache */
	bool		async_capable;	/* may run at once with others under an Append */
} LemlistOptions;

extern void lemlist_option_init(void);
extern void lemlist_get_options(Oid foreigntableid, LemlistOptions *opts);
extern char *lemlist_get_api_key(Oid serverid, Oid userid);
extern void lemlist_server_options(Oid serverid, LemlistOptions *opts);
extern List *lemlist_server_api_keys(Oid serverid);

/* ---------------------------------------------------------------------
 * in pushdown.c: which clauses become request filters (plan time)
 * ---------------------------------------------------------------------
 */

/* How a pushed-down clause constrains its filter. */
typedef enum LemlistCondOp
{
	LEMLIST_OP_EQ,				/* col = scalar */
	LEMLIST_OP_IN,				/* col = ANY(array) / IN (...) */
	LEMLIST_OP_GE,				/* col >= scalar */
	LEMLIST_OP_GT,				/* col > scalar */
	LEMLIST_OP_LE,				/* col <= scalar */
	LEMLIST_OP_LT,				/* col < scalar */
	LEMLIST_OP_TEST,			/* a clause on echo columns, tested per combination */
	LEMLIST_OP_ID_TEST			/* a clause on campaign_id, tested per campaign */
} LemlistCondOp;

/* How the instant sent is read from a date comparand. */
typedef enum LemlistDateMode
{
	LEMLIST_DATE_INSTANT,		/* a timestamptz, as is */
	LEMLIST_DATE_UTC_WALL,		/* a timestamp: a wall time in UTC */
	LEMLIST_DATE_UTC_DAY,		/* a date: a day in UTC */
	LEMLIST_DATE_LOCAL_DAY		/* a date: a day in the session's time zone */
} LemlistDateMode;

/*
 * One pushed-down clause: "filter op expr".  expr is evaluated at run time
 * (a Const, a Param, an initplan output, a stable expression); for the text
 * filters it yields a text type or an array of one, for the date filters a
 * timestamptz, timestamp or date (or an array of one) read as mode says.
 * The conditions of one group are the arms of an OR: their values are
 * united.  For the tests, expr is the whole clause, a boolean of the
 * scanned relation's columns, and refs the filters (bit 1 << kind) whose
 * echo columns it reads.
 */
typedef struct LemlistCond
{
	LemlistFilterKind filter;
	LemlistCondOp op;
	Expr	   *expr;
	int			group;
	int			mode;			/* LemlistDateMode */
	int			refs;
} LemlistCond;

extern List *lemlist_extract_conds(PlannerInfo *root, RelOptInfo *baserel,
								   const LemlistColumn *columns, int natts,
								   List *clauses, bool report);

/* A join clause of a lemlist table on one of its echo columns. */
typedef struct LemlistJoinPartner
{
	LemlistFilterKind filter;	/* of the echo column */
	Expr	   *clause;
	Relids		others;			/* the other relations it reads */
	bool		required;		/* an equivalence class's equality: every
								 * joined row holds it, so a NULL never joins */
} LemlistJoinPartner;

extern List *lemlist_join_partners(PlannerInfo *root, RelOptInfo *baserel,
								   const LemlistColumn *columns, int natts);
extern bool lemlist_is_column(Expr *expr, Index relid, AttrNumber attno);
extern LemlistCond *lemlist_join_domain_cond(PlannerInfo *root, RelOptInfo *baserel,
											 const LemlistColumn *columns, int natts);
extern bool lemlist_conds_are_constant(List *conds);
extern char *lemlist_clause_text(PlannerInfo *root, Expr *clause, bool prefix);
extern LemlistCond *lemlist_join_key(PlannerInfo *root, RelOptInfo *baserel,
									 const LemlistColumn *columns, int natts,
									 Expr *clause, Relids outer_relids, bool *exact);

/* ---------------------------------------------------------------------
 * in literals.c: the filters' kinds and names, the literals lemlist accepts
 * ---------------------------------------------------------------------
 */
extern bool lemlist_is_text_filter(LemlistFilterKind filter);
extern bool lemlist_is_date_filter(LemlistFilterKind filter);
extern bool lemlist_filter_value_ok(LemlistFilterKind filter, const char *value);
extern int	lemlist_filter_domain_size(LemlistFilterKind filter);
extern void lemlist_check_filter_value(LemlistFilterKind filter, const char *value);
extern char *lemlist_format_timestamp(TimestampTz ts);
extern const char *lemlist_filter_name(LemlistFilterKind filter);

/* ---------------------------------------------------------------------
 * in filter_values.c: the conditions, evaluated into each filter's values
 * ---------------------------------------------------------------------
 */
/*
 * The evaluated filters of one scan: what the requests will carry.  A value
 * list holding a single NULL pointer means "not filtered".
 */
typedef struct LemlistFilterValues
{
	bool		empty;			/* contradiction: no request, no rows */
	int			constrained;	/* bits 1 << filter: given values by the clauses */
	bool		all_campaigns;	/* no campaign_id condition: list the team's */
	List	   *campaign_ids;	/* de-duplicated char *, NULLs dropped */
	List	   *start_dates;	/* TimestampTz *, at least one unless empty */
	List	   *end_dates;
	List	   *send_users;		/* char * or a single NULL */
	List	   *ab_selected;	/* char * or a single NULL */
	List	   *channels;		/* char * or a single NULL */
	char	   *status;			/* campaigns list filters, NULL if none */
	char	   *created_by;
} LemlistFilterValues;

/* One combination of the filters' values (NULL: not filtered). */
typedef struct LemlistCombo
{
	char	   *start_date;		/* as sent */
	char	   *end_date;
	char	   *send_user;
	char	   *ab_selected;
	char	   *channel;
} LemlistCombo;


extern void lemlist_filter_values(List *conds, List *exprstates, ExprContext *econtext,
								  TimestampTz default_start, TimestampTz default_end,
								  LemlistFilterValues *out);
extern char *lemlist_join_key_text(LemlistCond *cond, Datum value, bool isnull);
extern List *lemlist_intersect_values(List *a, List *b);
extern TimestampTz lemlist_default_end_date(void);

/* ---------------------------------------------------------------------
 * in request_sets.c: the request sets of one execution of a scan
 * ---------------------------------------------------------------------
 */

/* One request set: what its requests send, and the campaigns it asks for. */
typedef struct LemlistRequestSet
{
	LemlistCombo combo;			/* the filters, which each row echoes */
	List	   *campaign_ids;	/* char *; NIL when the team is listed */
} LemlistRequestSet;

/*
 * Does a row of these values (the echo columns from combo, campaign_id from
 * id) pass the tests of kind op?  The scan evaluates its tests so.
 */
typedef bool (*LemlistTestFunc) (void *arg, LemlistCondOp op, const LemlistCombo *combo,
								 const char *id);

/* One key set a batched join asks its lemlist side for. */
typedef struct LemlistJoinKeySet
{
	char	   *values[LEMLIST_NUM_FILTERS];	/* as sent, per key filter */
	List	   *campaign_ids;	/* char *, when campaign_id is a key */
} LemlistJoinKeySet;

/* What a scan's request sets are made of (lemlist_request_spec_init). */
typedef struct LemlistRequestSpec
{
	List	   *conds;			/* LemlistCond */
	List	   *exprstates;		/* their expressions' states, parallel */
	TimestampTz default_start;	/* startDate when no condition gives one */
	int			ntests;			/* conditions that are tests */
	int			nid_tests;		/* of them, on campaign_id */
	LemlistTestFunc passes;
	void	   *passes_arg;
	/* a batched join's inner scan: the key sets of the next execution */
	int			key_filters;	/* bits 1 << filter of the key filters */
	List	   *key_sets;		/* LemlistJoinKeySet */
} LemlistRequestSpec;

/* The request sets of one execution. */
typedef struct LemlistRequestSets
{
	bool		executed;		/* made by an execution (not for EXPLAIN) */
	TimestampTz default_end;	/* endDate when no condition gives one */
	LemlistFilterValues fv;		/* the values, as the tests left them */
	List	   *sets;			/* LemlistRequestSet */
	int64		keyed_sets;		/* sets the key sets made, before the tests */
} LemlistRequestSets;

extern void lemlist_request_spec_init(LemlistRequestSpec *spec, List *conds, List *exprstates,
									  TimestampTz default_start, LemlistTestFunc passes,
									  void *passes_arg);
extern void lemlist_request_sets(const LemlistRequestSpec *spec, ExprContext *econtext,
								 TimestampTz default_end, LemlistRequestSets *out);
extern int64 lemlist_combination_count(const LemlistFilterValues *fv);
extern void lemlist_check_combinations(int64 n);
extern char **lemlist_combo_field(LemlistCombo *combo, LemlistFilterKind filter);
extern const LemlistRequestSets *lemlist_request_sets_shown(const LemlistRequestSpec *spec,
															const LemlistRequestSets *made,
															LemlistRequestSets *scratch);
extern void lemlist_explain_request_sets(const LemlistRequestSpec *spec,
										 const LemlistRequestSets *shown,
										 bool campaigns, ExplainState *es);
extern void lemlist_explain_join_keys(const LemlistRequestSpec *spec,
									  const LemlistRequestSets *shown, ExplainState *es);
extern void lemlist_explain_first_body(const LemlistRequestSpec *spec,
									   const LemlistRequestSets *shown, ExplainState *es);

/* ---------------------------------------------------------------------
 * in handler.c: the planner's facts about a foreign table, and the
 * cost model
 * ---------------------------------------------------------------------
 */

/* Planner facts about one foreign table, kept in baserel->fdw_private. */
typedef struct LemlistRelInfo
{
	LemlistOptions opts;
	LemlistColumn *columns;
	int			natts;
	List	   *conds;			/* pushed-down LemlistCond * */
	LemlistCond *join_domain;	/* join clauses on finite filters: all values */
	Expr	   *unsendable_join;	/* a join clause on an open filter, or NULL */
	double		list_pages;		/* estimated campaign list pages */
	double		batches;		/* estimated stats batch requests */
	double		combos;			/* filter combinations */
	double		values[LEMLIST_NUM_FILTERS];	/* values of each filter in them */
	double		ncampaigns;		/* campaigns the table's own clauses ask for */
	double		rows;
} LemlistRelInfo;

/*
 * Cost model.  One request is a network round trip (about 100 ms against
 * lemlist).  It costs far more than a row (0.01), about as much as reading
 * a thousand pages.  The startup cost is the first response, because the
 * first row can flow only then.  Costs stay at that scale so that an
 * ordinary scan stays below jit_above_cost: JIT-compiling the quals of a
 * scan that mostly waits on the network costs time and memory and buys
 * nothing.  List pages are sent one after the other, batches in waves of
 * max_parallel.  Each request adds a tenth more (its share of the rate
 * limit), so that of two plans that wait as long, the one that sends fewer
 * requests wins.
 */
#define LEMLIST_REQUEST_COST		1000.0
#define LEMLIST_ROW_COST			0.01

static inline Cost
lemlist_request_cost(const LemlistRelInfo *info, double list_pages, double batches)
{
	double		parallel = Max(info->opts.max_parallel, 1);

	/*
	 * Each request also adds a little, so that of two plans that take as
	 * long, the one that sends fewer requests wins.
	 */
	return (list_pages + ceil(batches / parallel)) * LEMLIST_REQUEST_COST +
		(list_pages + batches) * LEMLIST_REQUEST_COST / 10;
}

/* ---------------------------------------------------------------------
 * in join.c: the batched join of a lemlist table with any other input
 * ---------------------------------------------------------------------
 */
extern void lemlist_join_init(void (*rel_size) (PlannerInfo *, RelOptInfo *, Oid));
extern Expr *lemlist_unsendable_join_clause(PlannerInfo *root, RelOptInfo *baserel,
											const LemlistColumn *columns, int natts,
											Relids sent);
extern bool lemlist_is_join_child(ForeignPath *path);

/* ---------------------------------------------------------------------
 * in async.c: scans that run at once under an Append (14 and later)
 * ---------------------------------------------------------------------
 */
#ifdef LEMLIST_HAVE_ASYNC
extern bool lemlist_async_capable(ForeignPath *path);
extern void lemlist_async_request(AsyncRequest *areq);
extern void lemlist_async_configure_wait(AsyncRequest *areq);
extern void lemlist_async_notify(AsyncRequest *areq);
#endif

/* ---------------------------------------------------------------------
 * in list_order.c: the order and the rows a query asks of a listing
 * ---------------------------------------------------------------------
 */

/* The order of a campaign listing (sortBy=createdAt, sortOrder). */
typedef enum LemlistListOrder
{
	LEMLIST_ORDER_NONE,
	LEMLIST_ORDER_ASC,
	LEMLIST_ORDER_DESC
} LemlistListOrder;

extern LemlistListOrder lemlist_list_order(PlannerInfo *root, RelOptInfo *baserel,
										   const LemlistRelInfo *info, AttrNumber *attno);
/* What a query asks of a scan's campaign listing. */
typedef struct LemlistListing
{
	LemlistListOrder order;		/* sortBy=createdAt, and its direction */
	AttrNumber	order_attno;	/* created_at, whose order is checked */
	int			page_size;		/* limit= of each page */
	int			budget;			/* rows wanted first, -1: all */
	int			offset;			/* offset= of the first page (an OFFSET) */
} LemlistListing;

extern List *lemlist_listing_private(LemlistListOrder order, AttrNumber attno, int offset);
extern void lemlist_plan_listing(PlannerInfo *root, RelOptInfo *baserel,
								 const LemlistRelInfo *info, ForeignPath *path,
								 bool runs_once, LemlistListing *listing);
extern void lemlist_offset_paths(PlannerInfo *root, UpperRelationKind stage,
								 RelOptInfo *input_rel, RelOptInfo *output_rel, void *extra);
extern void lemlist_explain_listing(const LemlistListing *listing, ExplainState *es);



/* ---------------------------------------------------------------------
 * in scan.c: the executor's side of a scan, and its EXPLAIN
 * ---------------------------------------------------------------------
 */

/* What a scan's plan carries from the planner (GetForeignPlan). */
typedef struct LemlistScanPlan
{
	List	   *conds;			/* LemlistCond, their expressions in fdw_exprs */
	List	   *retrieved_attrs;	/* attnums the plan reads */
	LemlistListing listing;
} LemlistScanPlan;

extern List *lemlist_scan_plan_private(const LemlistScanPlan *plan, List **fdw_exprs);

typedef struct LemlistScanState LemlistScanState;

/* the FDW's executor callbacks */
extern void lemlist_begin_foreign_scan(ForeignScanState *node, int eflags);
extern TupleTableSlot *lemlist_iterate_foreign_scan(ForeignScanState *node);
extern void lemlist_rescan_foreign_scan(ForeignScanState *node);
extern void lemlist_end_foreign_scan(ForeignScanState *node);
extern void lemlist_explain_foreign_scan(ForeignScanState *node, ExplainState *es);
/* for an asynchronous Append (async.c) and a batched join (join.c) */
extern bool lemlist_scan_done(LemlistScanState *ss);
extern int	lemlist_scan_wait_fd(LemlistScanState *ss);
extern void lemlist_scan_set_join_keys(LemlistScanState *ss, int key_filters, List *key_sets,
									   bool poll);
extern void lemlist_scan_row_key(LemlistScanState *ss, LemlistCombo **combo,
								 const char **campaign_id);

/* ---------------------------------------------------------------------
 * in http.c: the requests of a scan, sent with curl
 * ---------------------------------------------------------------------
 */

/* What the transport did, for EXPLAIN ANALYZE. */
typedef struct LemlistHttpStats
{
	int64		requests;		/* HTTP requests sent, retries included */
	int64		retries;
	int64		rate_limited;	/* 429 answers */
	double		pacing_ms;		/* time waiting for the client-side rate limit */
	double		backoff_ms;		/* time waiting before retries */
	double		api_ms;			/* time with requests in flight */
	int64		memo_hits;		/* answered by this statement's memo */
	int64		cache_hits;		/* answered by the cache (cache_ttl) */
	int64		shared_waits;	/* answered by another backend's request */
	bool		cache_shared;	/* the cache is the cluster's, not the backend's */
} LemlistHttpStats;

typedef struct LemlistHttpRequest
{
	/* set by the caller */
	const char *method;			/* "GET" or "POST" */
	char	   *path;			/* relative to api_url, may carry a query string */
	char	   *body;			/* request body (JSON) or NULL */
	void	   *arg;			/* the caller's, untouched */
	bool		urgent;			/* start before requests queued earlier */
	char	   *share_body;		/* body with a default end date masked, or NULL */
	TimestampTz default_end;	/* that default end date, 0 for none */
	/* set by the transport when lemlist_http_next returns the request */
	char	   *response;		/* NUL-terminated body of a 2xx answer, in
								 * the connection's context */
	size_t		response_len;
	bool		reused;			/* from the memo, or an identical request */
} LemlistHttpRequest;

typedef struct LemlistConnection LemlistConnection;

/* What a backend waits for (pg_stat_activity's wait_event, from 17 on). */
typedef enum LemlistWait
{
	LEMLIST_WAIT_REQUEST,		/* LemlistRequest: answers from lemlist */
	LEMLIST_WAIT_PACING,		/* LemlistPacing: the rate limit, a back-off */
	LEMLIST_WAIT_SHARED			/* LemlistSharedAnswer: another backend's answer */
} LemlistWait;

extern LemlistConnection *lemlist_http_open(const LemlistOptions *opts, const char *api_key,
											LemlistHttpStats *stats, MemoryContext cxt);
extern void lemlist_http_submit(LemlistConnection *conn, LemlistHttpRequest *req);
extern void lemlist_http_init_settings(void);
extern LemlistHttpRequest *lemlist_http_next(LemlistConnection *conn);
extern LemlistHttpRequest *lemlist_http_poll(LemlistConnection *conn, bool *pending);
extern int	lemlist_http_wait_fd(LemlistConnection *conn);
extern void lemlist_http_keep(LemlistConnection *conn, const LemlistHttpRequest *req);
extern int	lemlist_http_pending(LemlistConnection *conn);
extern uint32 lemlist_wait_event(LemlistWait wait);

/* ---------------------------------------------------------------------
 * in pacing.c: the rate limit per API key, shared by backends when
 * preloaded; back-off; what the rate limit headers say
 * ---------------------------------------------------------------------
 */

/* What an answer said of the rate limit: -1, or empty, when it said nothing. */
typedef struct LemlistRateHeaders
{
	long		retry_after_s;	/* Retry-After */
	long		limit;			/* X-RateLimit-Limit */
	long		remaining;		/* X-RateLimit-Remaining */
	char		reset[128];		/* X-RateLimit-Reset, as sent */
} LemlistRateHeaders;

/* A request pacing let start, to say when it ended. */
typedef struct LemlistPacingTicket
{
	uint64		key_hash;
	uint64		seq;
	TimestampTz start;
} LemlistPacingTicket;

extern void lemlist_pacing_init(void);
extern uint64 lemlist_key_hash(const char *api_key);
extern bool lemlist_pacing_acquire(uint64 key_hash, int rate_limit, int window_ms,
								   TimestampTz now, TimestampTz deadline, bool more,
								   LemlistPacingTicket *ticket, TimestampTz *ready);
extern void lemlist_pacing_release(const LemlistPacingTicket *ticket, TimestampTz now);
extern void lemlist_pacing_observe(uint64 key_hash, int rate_limit, int window_ms,
								   TimestampTz now, const LemlistRateHeaders *headers);
extern void lemlist_pacing_hold(uint64 key_hash, TimestampTz now, TimestampTz until);
extern void lemlist_pacing_waited(uint64 key_hash, TimestampTz now, double ms);
extern long lemlist_backoff_ms(int retry);
extern void lemlist_rate_headers_clear(LemlistRateHeaders *headers);
extern bool lemlist_rate_header(const char *line, size_t len, LemlistRateHeaders *headers);
extern long lemlist_retry_after_ms(const LemlistRateHeaders *headers, int window_ms);

/* ---------------------------------------------------------------------
 * in memo.c: answers kept for the statement, and for cache_ttl
 * ---------------------------------------------------------------------
 */

/* What identifies a request: its answer is the same for the same key. */
typedef struct LemlistMemoKey
{
	Oid			serverid;
	const char *api_url;
	uint64		key_hash;		/* lemlist_key_hash of the API key */
	const char *method;
	const char *path;
	const char *body;			/* NULL for none */
	uint64		hash;			/* set by lemlist_memo_key_init */
} LemlistMemoKey;

extern void lemlist_memo_init(void);
extern bool lemlist_memo_enabled(void);
extern uint64 lemlist_memo_generation(void);
extern void lemlist_memo_key_init(LemlistMemoKey *key);
extern bool lemlist_memo_key_equal(const LemlistMemoKey *a, const LemlistMemoKey *b);
extern char *lemlist_memo_lookup(const LemlistMemoKey *key, int cache_ttl_s,
								 MemoryContext cxt, size_t *len, bool *cached);
extern void lemlist_memo_store(const LemlistMemoKey *key, int cache_ttl_s,
							   const char *response, size_t len);

/* What this backend's own store holds, for lemlist_fdw_cache(). */
typedef struct LemlistMemoStats
{
	int64		budget;			/* bytes */
	int64		entries;		/* answers kept for cache_ttl */
	int64		bytes;
	int64		hits;			/* cache hits (not memo hits) */
	int64		misses;
	int64		evictions;
	int64		not_kept;
} LemlistMemoStats;

extern void lemlist_memo_stats(LemlistMemoStats *stats);
extern int64 lemlist_memo_forget_server(Oid serverid);

/* ---------------------------------------------------------------------
 * in shared_answers.c: answers shared by the backends of the cluster (the
 * cache, and identical requests sent once)
 * ---------------------------------------------------------------------
 */
#define LEMLIST_DIGEST_LEN	32	/* SHA-256 */

/* What identifies a request across backends; the key only by its digest. */
typedef struct LemlistShareKey
{
	uint8		digest[LEMLIST_DIGEST_LEN];
	uint64		key_tag;		/* of the API key's digest */
	uint64		url_tag;		/* of the API URL */
	TimestampTz default_end;	/* 0: the body gives its end date */
} LemlistShareKey;

typedef enum LemlistShareRole
{
	LEMLIST_SHARE_NONE,
	LEMLIST_SHARE_OWNER,		/* claimed: this backend sends it */
	LEMLIST_SHARE_WAITER		/* waits for another backend's answer */
} LemlistShareRole;

/* What a request holds in the store. */
typedef struct LemlistShareRef
{
	LemlistShareRole role;
	int			slot;
	uint64		generation;
	uint64		claim;
} LemlistShareRef;

typedef enum LemlistShareOutcome
{
	LEMLIST_SHARE_SEND,			/* send it (claimed, or not shared) */
	LEMLIST_SHARE_WAIT,			/* another backend sends it: ask again */
	LEMLIST_SHARE_CACHED,		/* an answer kept within cache_ttl */
	LEMLIST_SHARE_SHARED,		/* another backend's answer to it */
	LEMLIST_SHARE_LATER			/* nothing to take; not claimed */
} LemlistShareOutcome;

extern void lemlist_shared_init(void);
extern bool lemlist_shared_attach(void);
extern void lemlist_api_key_digest(const char *api_key, uint8 *digest);
extern void lemlist_share_key_init(LemlistShareKey *key, const uint8 *key_digest,
								   const char *api_url, const char *method,
								   const char *path, const char *body,
								   TimestampTz default_end);
extern LemlistShareOutcome lemlist_shared_ask(const LemlistShareKey *key, int ttl_s,
											  int64 max_bytes, bool may_claim,
											  LemlistShareRef *ref, MemoryContext cxt,
											  char **body, size_t *len);
extern uint64 lemlist_shared_changes(void);
extern void lemlist_shared_heartbeat(LemlistShareRef *const *refs, int nrefs);
extern void lemlist_shared_publish(LemlistShareRef *ref, const char *body, size_t len);
extern void lemlist_shared_keep(LemlistShareRef *ref, const LemlistShareKey *key,
								int ttl_s, Oid serverid, const char *body, size_t len);
extern void lemlist_shared_leave(LemlistShareRef *ref);
extern bool lemlist_shared_woken(void);

/* ---------------------------------------------------------------------
 * in network_text.c: text from the network in messages, every API key the
 * backend has used masked, cut at a size
 * ---------------------------------------------------------------------
 */
extern void lemlist_remember_key(const char *key);
extern char *lemlist_network_text(const char *s, size_t len, size_t max);
extern char *lemlist_network_cstring(const char *s, size_t max);

/* ---------------------------------------------------------------------
 * in json.c: request bodies; in jsonread.c: answers to rows
 * ---------------------------------------------------------------------
 */
extern char *lemlist_json_stats_request(List *campaign_ids, const char *start_date,
										const char *end_date, const LemlistCombo *combo);

/* A per-campaign entry of errors[]. */
typedef struct LemlistCampaignError
{
	char	   *campaign_id;
	char	   *message;
} LemlistCampaignError;

/*
 * A decoded answer: rows of text values, one per column (NULL for JSON
 * null, missing fields, FILTER and UNREAD columns), and what the caller
 * needs to check that the answer is whole.
 */
typedef struct LemlistParsed
{
	List	   *rows;			/* of char ** (ncolumns entries each) */
	List	   *row_campaign_ids;	/* char *, parallel to rows */
	List	   *result_ids;		/* campaignId of each element of results[] */
	List	   *errors;			/* of LemlistCampaignError * */
	/* campaigns list only */
	int			page_count;		/* objects on this page */
	bool		has_pagination; /* the {"campaigns", "pagination"} shape */
	int			current_page;
	int			next_page;
	int			total_pages;
	int64		total_records;	/* as announced; -1: not announced */
} LemlistParsed;

/* The ERROR of an answer that is not what the API documents. */
#define lemlist_invalid_response(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE), \
			 errmsg("invalid response from lemlist"), \
			 errdetail(__VA_ARGS__)))

extern void lemlist_parse_stats(const char *body, size_t len, bool steps,
								const LemlistColumn *columns, int ncolumns,
								LemlistParsed *out);
extern void lemlist_parse_campaigns(const char *body, size_t len,
									const LemlistColumn *columns, int ncolumns,
									LemlistParsed *out);

#endif							/* LEMLIST_FDW_H */
