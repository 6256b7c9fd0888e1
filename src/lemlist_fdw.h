/*-------------------------------------------------------------------------
 *
 * lemlist_fdw.h
 *		  Shared types and prototypes of lemlist_fdw
 *
 * Each .c file owns one concern; this header is the only thing they share.
 * It must never include curl.h or jansson.h: the transport (http.c) and the
 * JSON layer (json.c) keep their libraries to themselves, so that the rest of
 * the extension only sees palloc'd C strings and PostgreSQL types.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEMLIST_FDW_H
#define LEMLIST_FDW_H

#include "postgres.h"

#include "access/attnum.h"
#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif
#include "datatype/timestamp.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "nodes/pathnodes.h"
#include "nodes/pg_list.h"

/*
 * Version differences (PostgreSQL 13 to 19) live here and nowhere else.
 * Compiled and tested on 13, 15, 17, 18 and 19 (test/matrix.sh); the 14 and
 * 16 branches follow the server headers' history:
 *
 *	14	pull_varnos() takes the PlannerInfo; pg_encoding_verifymbstr();
 *		utils/wait_event.h; ROLE_PG_* names the predefined roles
 *	15	shmem_request_hook; MarkGUCPrefixReserved
 *	16	ForeignScan's checkAsUser (the range table entry's is gone)
 *	17	create_foreignscan_path() takes fdw_restrictinfo; custom wait events
 *		(WaitEventExtensionNew)
 *	18	create_foreignscan_path() takes disabled_nodes; ExplainState and the
 *		ExplainProperty functions in headers of their own; pg_noreturn, a
 *		prefix, instead of pg_attribute_noreturn(); get_op_index_interpretation()
 *		instead of get_op_btree_interpretation()
 *	19	headers include less: limits.h, access/htup_details.h and
 *		utils/wait_event.h where used
 */
#if PG_VERSION_NUM < 130000
#error "lemlist_fdw requires PostgreSQL 13 or later"
#endif

#if PG_VERSION_NUM >= 140000
#define lemlist_pull_varnos(root, node) pull_varnos((root), (node))
#else
#define lemlist_pull_varnos(root, node) pull_varnos(node)
#endif

#if PG_VERSION_NUM >= 160000
#define LEMLIST_CHECK_AS_USER(fsplan, estate) \
	((fsplan)->checkAsUser != InvalidOid ? (fsplan)->checkAsUser : GetUserId())
#else
#define LEMLIST_CHECK_AS_USER(fsplan, estate) \
	(exec_rt_fetch((fsplan)->scan.scanrelid, (estate))->checkAsUser != InvalidOid ? \
	 exec_rt_fetch((fsplan)->scan.scanrelid, (estate))->checkAsUser : GetUserId())
#endif

#if PG_VERSION_NUM >= 180000
#define lemlist_create_foreignscan_path(root, rel, rows, startup, total, required_outer, private) \
	create_foreignscan_path((root), (rel), NULL, (rows), 0, (startup), (total), NIL, (required_outer), NULL, NIL, (private))
#elif PG_VERSION_NUM >= 170000
#define lemlist_create_foreignscan_path(root, rel, rows, startup, total, required_outer, private) \
	create_foreignscan_path((root), (rel), NULL, (rows), (startup), (total), NIL, (required_outer), NULL, NIL, (private))
#else
#define lemlist_create_foreignscan_path(root, rel, rows, startup, total, required_outer, private) \
	create_foreignscan_path((root), (rel), NULL, (rows), (startup), (total), NIL, (required_outer), NULL, (private))
#endif

/* Shared memory is requested from shmem_request_hook since PostgreSQL 15. */
#if PG_VERSION_NUM >= 150000
#define LEMLIST_HAVE_SHMEM_REQUEST_HOOK 1
#define lemlist_reserve_guc_prefix(prefix) MarkGUCPrefixReserved(prefix)
#else
#define lemlist_reserve_guc_prefix(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/*
 * pgstat_report_wait_start() and WaitEventExtensionNew() are in
 * utils/wait_event.h from 14 on (which pgstat.h no longer includes from 19),
 * in pgstat.h before; named wait events of an extension's own since 17.
 */
#if PG_VERSION_NUM >= 140000
#include "utils/wait_event.h"
#else
#include "pgstat.h"
#endif
#if PG_VERSION_NUM >= 170000
#define LEMLIST_HAVE_CUSTOM_WAIT_EVENTS 1
#endif

/* The OID of pg_read_all_stats: DEFAULT_ROLE_READ_ALL_STATS before 14. */
#if PG_VERSION_NUM >= 140000
#define LEMLIST_ROLE_READ_ALL_STATS ROLE_PG_READ_ALL_STATS
#else
#define LEMLIST_ROLE_READ_ALL_STATS DEFAULT_ROLE_READ_ALL_STATS
#endif

/*
 * pg_encoding_verifymbstr() (the length of the longest valid prefix) came in
 * PostgreSQL 14; on 13, the same walk, character by character.
 */
#if PG_VERSION_NUM >= 140000
#define lemlist_verifymbstr(encoding, mbstr, len) pg_encoding_verifymbstr((encoding), (mbstr), (len))
#else
#include "mb/pg_wchar.h"
static inline int
lemlist_verifymbstr(int encoding, const char *mbstr, int len)
{
	const char *p = mbstr;

	while (len > 0)
	{
		int			l;

		if (IS_HIGHBIT_SET(*p))
			l = pg_encoding_verifymb(encoding, p, len);
		else
			l = *p != '\0' ? 1 : -1;
		if (l < 0)
			break;
		p += l;
		len -= l;
	}
	return (int) (p - mbstr);
}
#endif

/*
 * A function that never returns: lemlist_noreturn goes first in its
 * declaration (PostgreSQL 18's pg_noreturn is a C11 function specifier;
 * before, GCC's attribute, which may go first too).
 */
#if PG_VERSION_NUM >= 180000
#define lemlist_noreturn pg_noreturn
#else
#define lemlist_noreturn pg_attribute_noreturn()
#endif

/*
 * The btree comparisons an operator is in: since PostgreSQL 18, a generic
 * comparison type whose values COMPARE_LT .. COMPARE_GT are the btree
 * strategy numbers 1 .. 5 (access/cmptype.h says so), over the opfamilies of
 * ordering index methods (btree among the built-in ones).  For files that
 * include utils/lsyscache.h.
 */
#if PG_VERSION_NUM >= 180000
#define LemlistOpInterpretation OpIndexInterpretation
#define lemlist_op_interpretations(opno) get_op_index_interpretation(opno)
#define lemlist_interp_strategy(interp) ((int) (interp)->cmptype)
#else
#define LemlistOpInterpretation OpBtreeInterpretation
#define lemlist_op_interpretations(opno) get_op_btree_interpretation(opno)
#define lemlist_interp_strategy(interp) ((int) (interp)->strategy)
#endif

/* The API's hard limit on campaign IDs per batch request. */
#define LEMLIST_BATCH_SIZE			100
/* Page size used when listing the team's campaigns. */
#define LEMLIST_PAGE_SIZE			100
/* At most this many filter combinations (sendUser x ABSelected x channel) per scan. */
#define LEMLIST_MAX_COMBINATIONS	32
/* Routes, relative to api_url. */
#define LEMLIST_STATS_ROUTE			"/v2/campaigns/stats/batch"
#define LEMLIST_CAMPAIGNS_ROUTE		"/campaigns"

/* ---------------------------------------------------------------------
 * Resources and their columns (resources.c)
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
	LEMLIST_SRC_RAW				/* the whole JSON object, as json text */
} LemlistColumnSource;

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

/* in resources.c */
extern const LemlistResourceDef *lemlist_resource_by_kind(LemlistResourceKind kind);
extern const LemlistResourceDef *lemlist_resource_by_name(const char *name);
extern const char *lemlist_resource_names(void);	/* "campaign_stats, ..." for hints */
extern const LemlistColumnDef *lemlist_resource_column(const LemlistResourceDef *res,
													   const char *colname);
extern char *lemlist_default_json_key(const char *colname);
extern List *lemlist_import_schema(ImportForeignSchemaStmt *stmt, Oid serverOid);

/* ---------------------------------------------------------------------
 * Options: where each may be set, the validator, their values and the
 * options of a scan (option.c)
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
} LemlistOptions;

/* in option.c */
extern void lemlist_option_init(void);
extern void lemlist_get_options(Oid foreigntableid, LemlistOptions *opts);
extern char *lemlist_get_api_key(Oid serverid, Oid userid);
extern char *lemlist_get_column_key(Oid foreigntableid, AttrNumber attnum);

/* ---------------------------------------------------------------------
 * Pushdown: which clauses (pushdown.c), their values at run time
 * (filters.c), the filters and their valid literals (literals.c)
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
	LEMLIST_OP_LT				/* col < scalar */
} LemlistCondOp;

/*
 * One pushed-down clause: "filter op expr".  expr is evaluated at run time
 * (a Const, a Param, an initplan output, a stable expression); for the text
 * filters it yields text or text[], for the date filters timestamptz.
 */
typedef struct LemlistCond
{
	LemlistFilterKind filter;
	LemlistCondOp op;
	Expr	   *expr;
} LemlistCond;

/*
 * The evaluated filters of one scan: what the requests will carry.  A value
 * list holding a single NULL pointer means "not filtered".
 */
typedef struct LemlistFilterValues
{
	bool		empty;			/* contradiction: no request, no rows */
	bool		all_campaigns;	/* no campaign_id condition: list the team's */
	List	   *campaign_ids;	/* de-duplicated char *, NULLs dropped */
	TimestampTz start_date;
	TimestampTz end_date;
	List	   *send_users;		/* char * or a single NULL */
	List	   *ab_selected;	/* char * or a single NULL */
	List	   *channels;		/* char * or a single NULL */
	char	   *status;			/* campaigns list filters, NULL if none */
	char	   *created_by;
} LemlistFilterValues;

/* One combination of sendUser x ABSelected x channel (NULL: not filtered). */
typedef struct LemlistCombo
{
	char	   *send_user;
	char	   *ab_selected;
	char	   *channel;
} LemlistCombo;

/* in pushdown.c */
extern List *lemlist_extract_conds(PlannerInfo *root, RelOptInfo *baserel,
								   const LemlistFilterKind *attr_filters, int natts,
								   List *clauses);
extern bool lemlist_conds_are_constant(List *conds);

/* in filters.c */
extern void lemlist_eval_conds(List *conds, List *exprstates, ExprContext *econtext,
							   TimestampTz default_start, TimestampTz default_end,
							   LemlistFilterValues *out);
extern List *lemlist_combinations(const LemlistFilterValues *fv);
extern TimestampTz lemlist_default_end_date(void);

/* in literals.c */
extern bool lemlist_is_text_filter(LemlistFilterKind filter);
extern bool lemlist_is_date_filter(LemlistFilterKind filter);
extern void lemlist_check_filter_value(LemlistFilterKind filter, const char *value);
extern char *lemlist_format_timestamp(TimestampTz ts);
extern const char *lemlist_filter_name(LemlistFilterKind filter);

/* ---------------------------------------------------------------------
 * Transport: the requests of a scan (connection.c), each attempt carried
 * out by curl, and retry or ERROR after a failed one (http.c, the only file
 * that includes curl.h)
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
} LemlistHttpStats;

typedef struct LemlistHttpRequest
{
	/* set by the caller */
	const char *method;			/* "GET" or "POST" */
	char	   *path;			/* relative to api_url, may carry a query string */
	char	   *body;			/* request body (JSON) or NULL */
	void	   *arg;			/* the caller's, untouched */
	bool		urgent;			/* start before requests queued earlier */
	/* set by the transport when lemlist_http_next returns the request */
	long		status;			/* HTTP status, 2xx */
	char	   *response;		/* NUL-terminated body, palloc'd in the connection's context */
	size_t		response_len;
} LemlistHttpRequest;

typedef struct LemlistConnection LemlistConnection;

/* in connection.c */
extern LemlistConnection *lemlist_http_open(const LemlistOptions *opts, const char *api_key,
											LemlistHttpStats *stats, MemoryContext cxt);
extern void lemlist_http_submit(LemlistConnection *conn, LemlistHttpRequest *req);
extern LemlistHttpRequest *lemlist_http_next(LemlistConnection *conn);
extern int	lemlist_http_pending(LemlistConnection *conn);
extern void lemlist_http_forget(LemlistConnection *conn, const LemlistHttpRequest *req);

/*
 * What a backend waits for, as pg_stat_activity shows it: wait_event
 * LemlistRequest (answers from lemlist) and LemlistPacing (the rate limit or
 * a retry's back-off) on PostgreSQL 17 and later, Extension before.
 */
typedef enum LemlistWait
{
	LEMLIST_WAIT_REQUEST,
	LEMLIST_WAIT_PACING
} LemlistWait;

extern uint32 lemlist_wait_event(LemlistWait wait);

/* ---------------------------------------------------------------------
 * Text from the network in messages: every API key the backend has used
 * masked, cut at a size (network_text.c)
 * ---------------------------------------------------------------------
 */

/* At most this many bytes of a campaign ID, or of an errors[] message. */
#define LEMLIST_TEXT_ID_BYTES		200
#define LEMLIST_TEXT_MESSAGE_BYTES	1000

/* in network_text.c */
extern void lemlist_remember_key(const char *key);
extern char *lemlist_network_text(const char *s, size_t len, size_t max);
extern char *lemlist_network_cstring(const char *s, size_t max);

/* ---------------------------------------------------------------------
 * Pacing per API key and back-off, the table of keys it works on, in
 * shared memory or not, what the rate limit headers say (pacing.c)
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

/* in pacing.c */
extern uint64 lemlist_key_hash(const char *api_key);
extern bool lemlist_pacing_acquire(uint64 key_hash, int rate_limit, int window_ms,
								   TimestampTz now, TimestampTz deadline,
								   LemlistPacingTicket *ticket, TimestampTz *ready);
extern void lemlist_pacing_release(const LemlistPacingTicket *ticket, TimestampTz now);
extern void lemlist_pacing_observe(uint64 key_hash, int rate_limit, int window_ms,
								   TimestampTz now, const LemlistRateHeaders *headers);
extern void lemlist_pacing_hold(uint64 key_hash, TimestampTz now, TimestampTz until);
extern void lemlist_pacing_waited(uint64 key_hash, TimestampTz now, double ms);
extern long lemlist_backoff_ms(int retry);
extern void lemlist_pacing_init(void);
extern void lemlist_rate_headers_clear(LemlistRateHeaders *headers);
extern bool lemlist_rate_header(const char *line, size_t len, LemlistRateHeaders *headers);
extern long lemlist_retry_after_ms(const LemlistRateHeaders *headers, int window_ms);

/* ---------------------------------------------------------------------
 * One attempt of one request: between connection.c and http.c only
 * ---------------------------------------------------------------------
 */

/* How an attempt ended, as far as choosing a retry or an error goes. */
typedef enum LemlistHttpOutcome
{
	LEMLIST_HTTP_OK,			/* 2xx */
	LEMLIST_HTTP_STATUS,		/* any other HTTP status */
	LEMLIST_HTTP_CONNECT_FAILED,	/* could not connect */
	LEMLIST_HTTP_BROKEN,		/* connected, but the exchange broke off */
	LEMLIST_HTTP_TIMED_OUT,		/* connect_timeout_ms or timeout_ms elapsed */
	LEMLIST_HTTP_TLS_FAILED,	/* certificate or TLS handshake problem */
	LEMLIST_HTTP_TOO_LARGE,		/* body exceeded max_response_bytes */
	LEMLIST_HTTP_NO_MEMORY,		/* malloc failed while buffering the body */
	LEMLIST_HTTP_FAILED			/* any other curl failure */
} LemlistHttpOutcome;

/* Copies of the options every attempt of a connection is made with. */
typedef struct LemlistHttpSettings
{
	char	   *server_name;	/* for messages */
	char	   *api_key;		/* wiped when the connection goes away */
	int			connect_timeout_ms;
	int			timeout_ms;
	int64		max_response_bytes;
	char	   *ca_file;		/* NULL: system CAs */
	bool		verify_tls;
} LemlistHttpSettings;

/* Room for curl's error text: CURL_ERROR_SIZE, checked in http.c. */
#define LEMLIST_HTTP_ERROR_SIZE	256

/*
 * One attempt of a request, embedded in connection.c's transfer.  The owner
 * sets the first fields before lemlist_curl_start; the curl resources are
 * malloc'd and http.c's alone, and lemlist_curl_release gives them back,
 * together with the pacing ticket.  What curl reports is set when the attempt
 * completes, and stays valid after the release (but the body).
 */
typedef struct LemlistHttpAttempt
{
	/* set by the owner */
	void	   *arg;			/* the owner's, untouched */
	const LemlistHttpSettings *settings;
	LemlistPacingTicket ticket; /* of the attempt about to start */
	bool		ticket_open;	/* the attempt has not ended for pacing.c */

	/* curl resources */
	void	   *easy;			/* CURL * */
	struct curl_slist *headers;
	bool		in_multi;		/* easy is attached to the multi handle */

	/* written by curl's callbacks */
	char	   *body;			/* response body so far, NUL-terminated */
	size_t		body_len;
	size_t		body_cap;
	bool		too_large;
	bool		no_memory;
	LemlistRateHeaders rl;		/* what the answer said of the rate limit */
	char		errbuf[LEMLIST_HTTP_ERROR_SIZE];	/* on failure, the cause */

	/* set when the attempt starts, and when curl completes it */
	TimestampTz started;
	LemlistHttpOutcome outcome;
	long		status;			/* HTTP status, 0 if no answer came */
	bool		sent;			/* timed out after the request went out */
} LemlistHttpAttempt;

/* in http.c */
extern void lemlist_curl_init(void);
extern void lemlist_curl_start(LemlistHttpAttempt *attempt,
							   const LemlistHttpRequest *req, const char *url);
extern void lemlist_curl_drive(long timeout_ms,
							   void (*done) (LemlistHttpAttempt *attempt,
											 TimestampTz now));
extern void lemlist_curl_release(LemlistHttpAttempt *attempt);
extern long lemlist_http_retry_ms(const LemlistHttpAttempt *attempt, int retries,
								  int window_ms);
lemlist_noreturn extern void lemlist_http_report_failure(LemlistHttpAttempt *attempt,
														 const LemlistHttpRequest *req,
														 int retries);

/* ---------------------------------------------------------------------
 * Memo and cache of answers (memo.c)
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

/* in memo.c */
extern void lemlist_memo_init(void);
extern bool lemlist_memo_enabled(void);
extern uint64 lemlist_memo_generation(void);
extern void lemlist_memo_key_init(LemlistMemoKey *key);
extern bool lemlist_memo_key_equal(const LemlistMemoKey *a, const LemlistMemoKey *b);
extern char *lemlist_memo_lookup(const LemlistMemoKey *key, int cache_ttl_s,
								 MemoryContext cxt, size_t *len, bool *cached);
extern void lemlist_memo_store(const LemlistMemoKey *key, int cache_ttl_s,
							   const char *response, size_t len);
extern void lemlist_memo_forget(const LemlistMemoKey *key);

/* ---------------------------------------------------------------------
 * Answers to rows (response.c), JSON text read by jsonread.c, request
 * bodies written by json.c (the only file that includes jansson.h)
 * ---------------------------------------------------------------------
 */

/* One column to extract: where from, which key, which documented type. */
typedef struct LemlistJsonColumn
{
	LemlistColumnSource source; /* RESULT, STEP or RAW (FILTER columns are skipped) */
	const char *key;
	LemlistJsonType json_type;
} LemlistJsonColumn;

/* A per-campaign entry of errors[]. */
typedef struct LemlistCampaignError
{
	char	   *campaign_id;
	char	   *message;
} LemlistCampaignError;

/*
 * A parsed response: rows of text values, one per requested column (NULL for
 * JSON null, missing fields and FILTER columns), and what the caller needs
 * to check that the answer is whole.
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

/* in response.c */
extern void lemlist_parse_stats(const char *body, size_t len, bool steps,
								const LemlistJsonColumn *columns, int ncolumns,
								LemlistParsed *out);
extern void lemlist_parse_campaigns(const char *body, size_t len,
									const LemlistJsonColumn *columns, int ncolumns,
									LemlistParsed *out);

/* in json.c */
extern char *lemlist_json_stats_request(List *campaign_ids, const char *start_date,
										const char *end_date, const LemlistCombo *combo);

/* How deep values may nest in an answer (the body is at depth 1). */
#define LEMLIST_JSON_MAX_DEPTH 2048

/* The kind of a JSON value. */
typedef enum LemlistJsonKind
{
	LEMLIST_JSON_KIND_NULL,
	LEMLIST_JSON_KIND_FALSE,
	LEMLIST_JSON_KIND_TRUE,
	LEMLIST_JSON_KIND_INTEGER,	/* no fraction, no exponent; fits in int64 */
	LEMLIST_JSON_KIND_REAL,
	LEMLIST_JSON_KIND_STRING,
	LEMLIST_JSON_KIND_ARRAY,
	LEMLIST_JSON_KIND_OBJECT
} LemlistJsonKind;

/* A value read from a body: its kind and where its text lies. */
typedef struct LemlistJsonValue
{
	LemlistJsonKind kind;
	const char *start;			/* in the body; a string's content, unquoted */
	int			len;
	bool		escaped;		/* a string holding a backslash escape */
	int64		integer;		/* LEMLIST_JSON_KIND_INTEGER */
	double		real;			/* LEMLIST_JSON_KIND_REAL */
} LemlistJsonValue;

/* Where a reader is in a body (jsonread.c). */
typedef struct LemlistJsonReader
{
	const char *body;
	const char *pos;
	const char *end;
	int			depth;			/* arrays and objects open at pos */
	bool		after_open;		/* pos is just inside a '{' or '[' */
} LemlistJsonReader;

/* Where a value sits in an answer, to name it in error details. */
typedef struct LemlistJsonWhere
{
	const char *array;			/* "results", "errors", "campaigns"; NULL: the body */
	int			index;			/* in that array */
	int			step;			/* in the element's "steps", or -1 */
} LemlistJsonWhere;

/* The answer being decoded, as the checks of its values need it. */
typedef struct LemlistAnswer
{
	const char *body;
	size_t		len;
	bool		ascii;			/* JSON text must be ASCII (not a UTF-8 database) */
} LemlistAnswer;

/*
 * A wrong value in an answer: one ERROR whose DETAIL (a translatable format
 * and its arguments) says what is wrong, raised only once the whole body is
 * known to be JSON, so that a body that is not JSON is always reported so.
 */
#define lemlist_invalid_answer(answer, ...) \
	do { \
		lemlist_json_check_syntax((answer)->body, (answer)->len); \
		ereport(ERROR, \
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE), \
				 errmsg("invalid response from lemlist"), \
				 errdetail(__VA_ARGS__))); \
	} while (0)

/* in values.c */
extern char *lemlist_value_where(const LemlistJsonWhere *where);
extern void lemlist_value_check(const LemlistAnswer *a, const LemlistJsonValue *v,
								LemlistJsonType type, const char *key,
								const LemlistJsonWhere *where);
extern char *lemlist_value_id(const LemlistAnswer *a, const LemlistJsonValue *v,
							  const char *key, const LemlistJsonWhere *where);
extern char *lemlist_value_string(const LemlistAnswer *a, const LemlistJsonValue *v,
								  const char *key, int element,
								  const LemlistJsonWhere *where);
extern char *lemlist_value_text(const LemlistAnswer *a, const LemlistJsonValue *v,
								LemlistJsonType type, const char *key,
								const LemlistJsonWhere *where);
extern char *lemlist_json_compact(const LemlistJsonValue *v, bool ascii);

/* in jsonread.c */
extern void lemlist_json_reader_init(LemlistJsonReader *r, const char *body, size_t len);
extern LemlistJsonKind lemlist_json_start(LemlistJsonReader *r);
extern bool lemlist_json_at(LemlistJsonReader *r, char c);
extern void lemlist_json_enter(LemlistJsonReader *r);
extern bool lemlist_json_next_key(LemlistJsonReader *r, LemlistJsonValue *key);
extern bool lemlist_json_next_element(LemlistJsonReader *r);
extern void lemlist_json_read(LemlistJsonReader *r, LemlistJsonValue *v);
extern void lemlist_json_finish(LemlistJsonReader *r);
extern void lemlist_json_check_syntax(const char *body, size_t len);
extern bool lemlist_json_key_is(const LemlistJsonValue *key, const char *name, int namelen);
extern char *lemlist_json_string(const LemlistJsonValue *v, int *len);
extern const char *lemlist_json_kind_name(LemlistJsonKind kind);

/* ---------------------------------------------------------------------
 * Columns of one foreign table (columns.c)
 * ---------------------------------------------------------------------
 */

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
	char	   *key;			/* JSON field (RESULT/STEP) */
	LemlistJsonType json_type;
} LemlistColumn;

/* in columns.c */
extern LemlistColumn *lemlist_map_columns(Oid foreigntableid, LemlistResourceKind kind,
										  int *natts);

/* ---------------------------------------------------------------------
 * Executor: the scan, its requests and answers, EXPLAIN (scan.c); the
 * handler and planner callbacks in lemlist_fdw.c
 * ---------------------------------------------------------------------
 */
/*
 * ForeignScan->fdw_private, a List indexed by this enum.  fdw_exprs holds
 * the expression of each pushed-down condition, in the same order.
 */
enum FdwScanPrivateIndex
{
	FdwScanPrivateFilters,		/* Integer list: LemlistFilterKind of each condition */
	FdwScanPrivateOps,			/* Integer list: LemlistCondOp of each condition */
	FdwScanPrivateRetrievedAttrs	/* Integer list: attnums the plan reads */
};

/* The state of one foreign scan (scan.c) */
typedef struct LemlistScanState LemlistScanState;

/* in scan.c */
extern LemlistScanState *lemlist_scan_begin(ForeignScanState *node, int eflags);
extern TupleTableSlot *lemlist_scan_next(LemlistScanState *ss, TupleTableSlot *slot);
extern void lemlist_scan_rescan(LemlistScanState *ss);
extern void lemlist_scan_explain(LemlistScanState *ss, ExplainState *es);

#endif							/* LEMLIST_FDW_H */
