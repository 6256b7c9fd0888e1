/*-------------------------------------------------------------------------
 *
 * memo.c
 *		  Keep lemlist's answers for reuse: within a statement (the memo) and,
 *		  with the cache_ttl option, across statements (the cache)
 *
 * Each backend has one store.  Its entries are keyed by the exact request:
 * server, api_url, a hash of the API key, method, path and body.  Within one
 * statement, an answer is reused whatever the options are (this is the
 * memo).  So when campaign_stats is joined to campaign_step_stats under the
 * same filters, each batch is sent only once, and a nested loop that
 * rescans with an ID it already fetched sends nothing.  Across statements,
 * an answer is reused only if it was stored by a table with a cache_ttl, and
 * only while it is younger than the cache_ttl of the table that reads it.
 *
 * Design rules:
 *
 * - Memory is bounded by lemlist_fdw.memo_budget (in kB; 0 turns the memo
 *	 and the cache off).  To make room for a new answer, the store forgets
 *	 answers of earlier statements, oldest first, but never those of the
 *	 running statement.  When that is not enough, the new answer is simply
 *	 not kept, so a scan's memory does not grow with the number of
 *	 campaigns.
 *
 * - Answers of a statement that are not cached are forgotten at the end of
 *	 the transaction, and lazily when a later statement uses the store.
 *
 * - The store never holds an API key, only its hash.  It does hold the
 *	 bodies lemlist returned, but those are what the foreign tables show
 *	 anyway.
 *
 * IDENTIFICATION
 *		  src/memo.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "common/hashfn.h"
#include "lib/ilist.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "lemlist_fdw.h"

#define MEMO_HASH_SEED		UINT64CONST(0x6d656d6f6c656d6c)
/* Bytes counted for an entry in addition to its strings and body. */
#define MEMO_ENTRY_OVERHEAD	(sizeof(MemoEntry) + sizeof(MemoSlot) + 64)

/* One kept answer, and the request it answers. */
typedef struct MemoEntry
{
	dlist_node	node;			/* in memo_entries, oldest first */
	uint64		hash;
	Oid			serverid;
	uint64		key_hash;
	char	   *api_url;
	char	   *method;
	char	   *path;
	char	   *body;			/* NULL for none */
	char	   *response;
	size_t		response_len;
	TimestampTz statement;		/* start of the statement that stored it */
	TimestampTz stored_at;
	TimestampTz keep_until;		/* stored_at + the storing table's cache_ttl */
	Size		size;			/* bytes it counts against the budget */
} MemoEntry;

/* The hash table's entry: the request's hash, and the answer. */
typedef struct MemoSlot
{
	uint64		hash;
	MemoEntry  *entry;
} MemoSlot;

static int	memo_budget_kb = 4096;

static MemoryContext memo_cxt = NULL;
static HTAB *memo_table = NULL;
static dlist_head memo_entries = DLIST_STATIC_INIT(memo_entries);
static Size memo_used = 0;
static uint64 memo_generation = 0;
static TimestampTz memo_purged_for = 0;	/* statement the last purge was for */
/* for lemlist_fdw_cache(), when the backends do not share answers */
static int64 memo_cache_hits = 0;
static int64 memo_cache_misses = 0;
static int64 memo_evictions = 0;
static int64 memo_not_kept = 0;

static void memo_xact_callback(XactEvent event, void *arg);
static void memo_setup(void);
static void memo_purge(TimestampTz statement, TimestampTz now);
static void memo_remove(MemoEntry *entry);
static bool memo_matches(const MemoEntry *entry, const LemlistMemoKey *key);
static char *memo_strdup(const char *s);
static uint64 hash_string(const char *s, uint64 seed);


/*
 * lemlist_memo_init
 *		Define the budget setting, and arrange for a transaction's answers to
 *		be forgotten at its end
 *
 * Called from _PG_init.
 */
void
lemlist_memo_init(void)
{
	DefineCustomIntVariable("lemlist_fdw.memo_budget",
							"Memory for answers of lemlist kept for reuse within a statement and for cache_ttl.",
							"Beyond it, answers are not kept.  0 turns the memo and the cache off.",
							&memo_budget_kb,
							4096,
							0,
							MAX_KILOBYTES,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	RegisterXactCallback(memo_xact_callback, NULL);
}

/*
 * lemlist_memo_enabled
 *		Whether answers are kept at all
 */
bool
lemlist_memo_enabled(void)
{
	return memo_budget_kb > 0;
}

/*
 * lemlist_memo_generation
 *		Return a number that changes whenever an answer is stored, so that a
 *		caller need not repeat a lookup that missed until the number changes
 */
uint64
lemlist_memo_generation(void)
{
	return memo_generation;
}

/*
 * lemlist_memo_key_init
 *		Compute key->hash from the other fields
 */
void
lemlist_memo_key_init(LemlistMemoKey *key)
{
	uint64		h = MEMO_HASH_SEED;

	h = hash_bytes_uint32_extended((uint32) key->serverid, h);
	h = hash_bytes_extended((const unsigned char *) &key->key_hash,
							sizeof(key->key_hash), h);
	h = hash_string(key->api_url, h);
	h = hash_string(key->method, h);
	h = hash_string(key->path, h);
	h = hash_string(key->body, h);
	key->hash = h;
}

/*
 * lemlist_memo_key_equal
 *		Whether two keys name the same request
 */
bool
lemlist_memo_key_equal(const LemlistMemoKey *a, const LemlistMemoKey *b)
{
	return a->hash == b->hash &&
		a->serverid == b->serverid &&
		a->key_hash == b->key_hash &&
		strcmp(a->api_url, b->api_url) == 0 &&
		strcmp(a->method, b->method) == 0 &&
		strcmp(a->path, b->path) == 0 &&
		((a->body == NULL && b->body == NULL) ||
		 (a->body != NULL && b->body != NULL && strcmp(a->body, b->body) == 0));
}

/*
 * lemlist_memo_lookup
 *		Return a copy, in cxt, of the kept answer to a request, or NULL
 *
 * An answer stored by the running statement is a memo hit.  An answer
 * stored by an earlier statement is a cache hit (and *cached is set) when
 * cache_ttl_s is positive and the answer is younger than cache_ttl_s
 * seconds.
 */
char *
lemlist_memo_lookup(const LemlistMemoKey *key, int cache_ttl_s,
					MemoryContext cxt, size_t *len, bool *cached)
{
	TimestampTz statement = GetCurrentStatementStartTimestamp();
	TimestampTz now;
	MemoSlot   *slot;
	MemoEntry  *entry;
	char	   *copy;

	if (memo_table == NULL || memo_budget_kb <= 0)
		return NULL;

	now = GetCurrentTimestamp();
	if (statement != memo_purged_for)
		memo_purge(statement, now);

	slot = hash_search(memo_table, &key->hash, HASH_FIND, NULL);
	entry = (slot != NULL && memo_matches(slot->entry, key)) ? slot->entry : NULL;

	if (entry != NULL && entry->statement == statement)
		*cached = false;
	else if (entry != NULL && cache_ttl_s > 0 && entry->keep_until > now &&
			 now - entry->stored_at < (TimestampTz) cache_ttl_s * USECS_PER_SEC)
		*cached = true;
	else
	{
		if (cache_ttl_s > 0)
			memo_cache_misses++;
		return NULL;
	}
	if (*cached)
		memo_cache_hits++;

	copy = MemoryContextAllocExtended(cxt, entry->response_len + 1, MCXT_ALLOC_HUGE);
	memcpy(copy, entry->response, entry->response_len);
	copy[entry->response_len] = '\0';
	*len = entry->response_len;
	return copy;
}

/*
 * lemlist_memo_store
 *		Keep an answer for the rest of the statement, and also for cache_ttl_s
 *		seconds if that is positive, as far as the budget allows
 */
void
lemlist_memo_store(const LemlistMemoKey *key, int cache_ttl_s,
				   const char *response, size_t len)
{
	TimestampTz statement = GetCurrentStatementStartTimestamp();
	TimestampTz now = GetCurrentTimestamp();
	Size		budget = (Size) memo_budget_kb * 1024;
	Size		size;
	MemoSlot   *slot;
	MemoEntry  *entry;
	bool		found;
	MemoryContext oldcxt;

	if (memo_budget_kb <= 0)
		return;
	memo_setup();
	if (statement != memo_purged_for)
		memo_purge(statement, now);

	size = MEMO_ENTRY_OVERHEAD + len + strlen(key->api_url) + strlen(key->method) +
		strlen(key->path) + (key->body ? strlen(key->body) : 0) + 4;
	if (size > budget)
	{
		if (cache_ttl_s > 0)
			memo_not_kept++;
		return;
	}

	/* the same request was answered again: the newer answer replaces it */
	slot = hash_search(memo_table, &key->hash, HASH_FIND, NULL);
	if (slot != NULL)
		memo_remove(slot->entry);

	/* make room by forgetting earlier statements' answers, oldest first */
	if (memo_used + size > budget)
	{
		dlist_mutable_iter iter;

		dlist_foreach_modify(iter, &memo_entries)
		{
			MemoEntry  *old = dlist_container(MemoEntry, node, iter.cur);

			if (old->statement == statement)
				continue;
			if (old->keep_until > now)
				memo_evictions++;
			memo_remove(old);
			if (memo_used + size <= budget)
				break;
		}
		if (memo_used + size > budget)
		{
			/* the running statement's own answers fill the budget */
			if (cache_ttl_s > 0)
				memo_not_kept++;
			return;
		}
	}

	oldcxt = MemoryContextSwitchTo(memo_cxt);
	entry = palloc0(sizeof(MemoEntry));
	entry->hash = key->hash;
	entry->serverid = key->serverid;
	entry->key_hash = key->key_hash;
	entry->api_url = memo_strdup(key->api_url);
	entry->method = memo_strdup(key->method);
	entry->path = memo_strdup(key->path);
	entry->body = key->body ? memo_strdup(key->body) : NULL;
	entry->response = palloc(len + 1);
	memcpy(entry->response, response, len);
	entry->response[len] = '\0';
	entry->response_len = len;
	entry->statement = statement;
	entry->stored_at = now;
	entry->keep_until = cache_ttl_s > 0 ?
		now + (TimestampTz) cache_ttl_s * USECS_PER_SEC : now;
	entry->size = size;
	MemoryContextSwitchTo(oldcxt);

	slot = hash_search(memo_table, &key->hash, HASH_ENTER, &found);
	slot->entry = entry;
	dlist_push_tail(&memo_entries, &entry->node);
	memo_used += size;
	memo_generation++;
}

/*
 * lemlist_memo_stats
 *		Report what the backend's cache holds, and how it has served requests
 */
void
lemlist_memo_stats(LemlistMemoStats *stats)
{
	TimestampTz now = GetCurrentTimestamp();
	dlist_iter	iter;

	memset(stats, 0, sizeof(LemlistMemoStats));
	stats->budget = (int64) Max(memo_budget_kb, 0) * 1024;
	dlist_foreach(iter, &memo_entries)
	{
		MemoEntry  *entry = dlist_container(MemoEntry, node, iter.cur);

		if (entry->keep_until > now)
		{
			stats->entries++;
			stats->bytes += entry->response_len;
		}
	}
	stats->hits = memo_cache_hits;
	stats->misses = memo_cache_misses;
	stats->evictions = memo_evictions;
	stats->not_kept = memo_not_kept;
}

/*
 * lemlist_memo_forget_server
 *		Forget the cached answers of a server (but not the running statement's
 *		memo); return how many of them were still within their TTL
 */
int64
lemlist_memo_forget_server(Oid serverid)
{
	TimestampTz statement = GetCurrentStatementStartTimestamp();
	TimestampTz now = GetCurrentTimestamp();
	dlist_mutable_iter iter;
	int64		n = 0;

	dlist_foreach_modify(iter, &memo_entries)
	{
		MemoEntry  *entry = dlist_container(MemoEntry, node, iter.cur);

		if (entry->serverid != serverid || entry->statement == statement)
			continue;
		if (entry->keep_until > now)
			n++;
		memo_remove(entry);
	}
	return n;
}

/*
 * memo_setup
 *		Create the store's memory context and hash table, once
 */
static void
memo_setup(void)
{
	HASHCTL		ctl;

	if (memo_table != NULL)
		return;

	memo_cxt = AllocSetContextCreate(TopMemoryContext, "lemlist_fdw memo",
									 ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(MemoSlot);
	ctl.hcxt = memo_cxt;
	memo_table = hash_create("lemlist_fdw memo", 64, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * memo_xact_callback
 *		At the end of a transaction, forget the answers that are not cached
 *
 * Must not throw: it runs during abort too.
 */
static void
memo_xact_callback(XactEvent event, void *arg)
{
	if (memo_table == NULL)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		memo_purge(0, GetCurrentTimestamp());
}

/*
 * memo_purge
 *		Forget the answers that belong neither to the statement nor to the
 *		cache
 *
 * If the budget was lowered below what is kept, answers are forgotten,
 * oldest first, until what is kept fits the budget again.
 */
static void
memo_purge(TimestampTz statement, TimestampTz now)
{
	Size		budget = (Size) Max(memo_budget_kb, 0) * 1024;
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &memo_entries)
	{
		MemoEntry  *entry = dlist_container(MemoEntry, node, iter.cur);

		if ((entry->statement != statement && entry->keep_until <= now) ||
			memo_used > budget)
			memo_remove(entry);
	}
	memo_purged_for = statement;
}

static void
memo_remove(MemoEntry *entry)
{
	(void) hash_search(memo_table, &entry->hash, HASH_REMOVE, NULL);
	dlist_delete(&entry->node);
	memo_used -= entry->size;
	pfree(entry->api_url);
	pfree(entry->method);
	pfree(entry->path);
	if (entry->body)
		pfree(entry->body);
	pfree(entry->response);
	pfree(entry);
}

static bool
memo_matches(const MemoEntry *entry, const LemlistMemoKey *key)
{
	LemlistMemoKey stored;

	stored.serverid = entry->serverid;
	stored.key_hash = entry->key_hash;
	stored.api_url = entry->api_url;
	stored.method = entry->method;
	stored.path = entry->path;
	stored.body = entry->body;
	stored.hash = entry->hash;
	return lemlist_memo_key_equal(&stored, key);
}

static char *
memo_strdup(const char *s)
{
	return MemoryContextStrdup(memo_cxt, s);
}

/* Hash a string, chained onto seed.  NULL hashes differently from "". */
static uint64
hash_string(const char *s, uint64 seed)
{
	if (s == NULL)
		return hash_bytes_uint32_extended(0xffffffff, seed);
	return hash_bytes_extended((const unsigned char *) s, strlen(s) + 1, seed);
}
