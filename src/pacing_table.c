/*-------------------------------------------------------------------------
 *
 * pacing_table.c
 *		  Where the state of pacing lives: the table of API keys, in shared
 *		  memory or in the backend
 *
 * pacing.c works on the entry of one key at a time; this file keeps the
 * entries and hands them out locked.  The shared table has
 * lemlist_fdw.max_shared_keys entries; a key in use (a request in flight or
 * in its window, or a hold) keeps its entry, and a key that finds none free
 * is paced by its backend alone (with a WARNING, once
 * per backend).  A backend's own table is small (PACING_LOCAL_KEYS): there
 * the least recently used key is forgotten to make room for a new one.
 *
 * Design rules:
 *
 * - When lemlist_fdw is in shared_preload_libraries the table is in shared
 *	 memory, under one LWLock, and every backend paces against it; otherwise
 *	 each backend has its own, made on first use, and locks nothing.
 *
 * - The lock is held for a few microseconds, from lemlist_pacing_lock to
 *	 lemlist_pacing_unlock, and nothing waits or throws while holding it.
 *
 * - Shared memory holds hashes of keys (lemlist_key_hash), never a key.
 *
 * IDENTIFICATION
 *		  src/pacing_table.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "lemlist_fdw.h"

/* API keys a backend-local table remembers; the least recently used is forgotten. */
#define PACING_LOCAL_KEYS		8
#define PACING_TRANCHE			"lemlist_fdw"

typedef struct PacingTable
{
	LWLock	   *lock;			/* NULL in a backend-local table */
	int			nkeys;
	LemlistPacingKey keys[FLEXIBLE_ARRAY_MEMBER];
} PacingTable;

/* lemlist_fdw.max_shared_keys: entries of the shared table */
static int	max_shared_keys = 256;

static PacingTable *pacing_shared = NULL;
static PacingTable *pacing_local = NULL;
static bool locked_shared = false;	/* between lemlist_pacing_lock and _unlock */
static bool warned_full = false;	/* this backend said the shared table is full */

#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size pacing_table_size(int nkeys);
static void pacing_shmem_request(void);
static void pacing_shmem_startup(void);
static PacingTable *pacing_local_table(void);
static bool pacing_in_use(const LemlistPacingKey *key, TimestampTz now);
static LemlistPacingKey *pacing_key(PacingTable *table, uint64 key_hash,
									TimestampTz now, bool create);


/*
 * lemlist_pacing_init
 *		The size of the shared table, and the table itself when loaded by
 *		shared_preload_libraries
 *
 * Called from _PG_init.  Loaded any other way, backends pace on their own.
 */
void
lemlist_pacing_init(void)
{
	/* a PGC_POSTMASTER setting may only be made while preloading */
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("lemlist_fdw.max_shared_keys",
							"API keys paced together by all backends (in shared memory).",
							"Takes effect when lemlist_fdw is in shared_preload_libraries.  "
							"Once they are all in use, a backend paces a new key on its own.",
							&max_shared_keys,
							256,
							1,
							4096,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pacing_shmem_request;
#else
	pacing_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pacing_shmem_startup;
}

/*
 * pacing_table_size
 *		Bytes of a table of nkeys entries
 */
static Size
pacing_table_size(int nkeys)
{
	return add_size(offsetof(PacingTable, keys),
					mul_size(nkeys, sizeof(LemlistPacingKey)));
}

/*
 * pacing_shmem_request
 *		Reserve the table and its lock
 */
static void
pacing_shmem_request(void)
{
#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(pacing_table_size(max_shared_keys)));
	RequestNamedLWLockTranche(PACING_TRANCHE, 1);
}

/*
 * pacing_shmem_startup
 *		Create or attach to the shared table
 */
static void
pacing_shmem_startup(void)
{
	bool		found;
	Size		size = pacing_table_size(max_shared_keys);

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pacing_shared = ShmemInitStruct("lemlist_fdw pacing", size, &found);
	if (!found)
	{
		memset(pacing_shared, 0, size);
		pacing_shared->lock = &(GetNamedLWLockTranche(PACING_TRANCHE))->lock;
		pacing_shared->nkeys = max_shared_keys;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * lemlist_pacing_lock
 *		Lock the table and find the entry of a key
 *
 * If the key has no entry, one is made if create, else the result is NULL.
 * In the shared table an entry is made from a free one, or from one whose
 * key is no longer in use (nothing in flight, in its window or held);
 * never from a key in use.  When there
 * is none, the key is paced by this backend alone, in its own table, and the
 * backend says so once with a WARNING.  Either way the table stays locked
 * until lemlist_pacing_unlock.
 */
LemlistPacingKey *
lemlist_pacing_lock(uint64 key_hash, TimestampTz now, bool create)
{
	if (pacing_shared != NULL)
	{
		LemlistPacingKey *key;

		LWLockAcquire(pacing_shared->lock, LW_EXCLUSIVE);
		key = pacing_key(pacing_shared, key_hash, now, create);
		if (key != NULL)
		{
			locked_shared = true;
			return key;
		}
		LWLockRelease(pacing_shared->lock);

		if (create && !warned_full)
		{
			warned_full = true;
			ereport(WARNING,
					(errmsg("lemlist_fdw's shared pacing table is full"),
					 errdetail("All %d entries of \"lemlist_fdw.max_shared_keys\" are in use: this backend paces API keys beyond them on its own, and other backends do not see its requests.",
							   pacing_shared->nkeys),
					 errhint("Raise \"lemlist_fdw.max_shared_keys\" (it takes a restart).")));
		}
	}
	locked_shared = false;
	return pacing_key(pacing_local_table(), key_hash, now, create);
}

/*
 * lemlist_pacing_unlock
 *		Let go of the table lemlist_pacing_lock locked
 */
void
lemlist_pacing_unlock(void)
{
	if (locked_shared)
	{
		locked_shared = false;
		LWLockRelease(pacing_shared->lock);
	}
}

/*
 * pacing_local_table
 *		This backend's own table, made on first use
 */
static PacingTable *
pacing_local_table(void)
{
	if (pacing_local == NULL)
	{
		pacing_local = MemoryContextAllocZero(TopMemoryContext,
											  pacing_table_size(PACING_LOCAL_KEYS));
		pacing_local->nkeys = PACING_LOCAL_KEYS;
	}
	return pacing_local;
}

/*
 * pacing_in_use
 *		Does the entry's key still hold something pacing must know: a
 *		request in flight or in its window, or a hold?
 */
static bool
pacing_in_use(const LemlistPacingKey *key, TimestampTz now)
{
	if (key->hold_until > now)
		return true;
	/* cheap first: used less than a window ago */
	if (key->last_used > TimestampTzPlusMilliseconds(now, -(key->window_ms + 100)))
		return true;
	return lemlist_pacing_in_window(key, now) > 0;
}

/*
 * pacing_key
 *		The entry of a key; if it has none and create, one made from a free
 *		entry, or else from the least recently used one: in the shared table
 *		only from one whose key is no longer in use (NULL when there is none)
 */
static LemlistPacingKey *
pacing_key(PacingTable *table, uint64 key_hash, TimestampTz now, bool create)
{
	LemlistPacingKey *victim = NULL;
	bool		shared = table->lock != NULL;

	for (int i = 0; i < table->nkeys; i++)
	{
		LemlistPacingKey *key = &table->keys[i];

		if (key->used && key->key_hash == key_hash)
		{
			key->last_used = now;
			return key;
		}
		if (!create)
			continue;
		if (victim != NULL && !victim->used)
			continue;			/* a free entry: the best there is */
		if (!key->used)
			victim = key;
		else if (shared && pacing_in_use(key, now))
			continue;
		else if (victim == NULL || key->last_used < victim->last_used)
			victim = key;
	}
	if (!create || victim == NULL)
		return NULL;			/* in the shared table: every entry in use */

	memset(victim, 0, sizeof(LemlistPacingKey));
	victim->used = true;
	victim->key_hash = key_hash;
	victim->last_used = now;
	return victim;
}

/*
 * What lemlist_fdw_pacing() shows of one entry: a copy, made under the lock.
 */
typedef struct PacingRow
{
	uint64		key_hash;
	bool		shared;
	int			in_window;
	int			window_ms;
	int			rate_limit;
	int			server_limit;
	int64		rate_limited;
	double		waited_ms;
	TimestampTz last_used;
} PacingRow;

static int	pacing_copy_rows(PacingTable *table, bool shared, TimestampTz now,
							 PacingRow *rows);

PG_FUNCTION_INFO_V1(lemlist_fdw_pacing);

/*
 * lemlist_fdw_pacing
 *		One row per API key that pacing knows: the shared table's (when
 *		lemlist_fdw is preloaded), then this backend's own
 *
 * For a superuser or a member of pg_read_all_stats.  A key is shown by the
 * first 12 hex digits of its hash, never itself.
 */
Datum
lemlist_fdw_pacing(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	MemoryContext oldcxt;
	TimestampTz now = GetCurrentTimestamp();
	PacingRow  *rows;
	int			nrows = 0;
	int			nshared = pacing_shared ? pacing_shared->nkeys : 0;

	if (!superuser() && !has_privs_of_role(GetUserId(), LEMLIST_ROLE_READ_ALL_STATS))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function lemlist_fdw_pacing"),
				 errdetail("Only superusers and roles with privileges of the \"pg_read_all_stats\" role may see how API keys are paced.")));

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* copies first: nothing allocates while the shared table is locked */
	rows = palloc(sizeof(PacingRow) * (nshared + PACING_LOCAL_KEYS));
	if (pacing_shared != NULL)
	{
		LWLockAcquire(pacing_shared->lock, LW_SHARED);
		nrows += pacing_copy_rows(pacing_shared, true, now, rows);
		LWLockRelease(pacing_shared->lock);
	}
	if (pacing_local != NULL)
		nrows += pacing_copy_rows(pacing_local, false, now, rows + nrows);

	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTupleDescCopy(tupdesc);
	store = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(oldcxt);

	for (int i = 0; i < nrows; i++)
	{
		Datum		values[9];
		bool		nulls[9] = {false};
		char		hash[17];

		snprintf(hash, sizeof(hash), "%016llx", (unsigned long long) rows[i].key_hash);
		hash[12] = '\0';
		values[0] = CStringGetTextDatum(hash);
		values[1] = BoolGetDatum(rows[i].shared);
		values[2] = Int32GetDatum(rows[i].in_window);
		values[3] = Int32GetDatum(rows[i].window_ms);
		values[4] = Int32GetDatum(rows[i].rate_limit);
		values[5] = Int32GetDatum(rows[i].server_limit);
		nulls[5] = rows[i].server_limit == 0;
		values[6] = Int64GetDatum(rows[i].rate_limited);
		values[7] = Float8GetDatum(rows[i].waited_ms);
		values[8] = TimestampTzGetDatum(rows[i].last_used);
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;
	return (Datum) 0;
}

/*
 * pacing_copy_rows
 *		Copy what lemlist_fdw_pacing shows of a table's entries into rows;
 *		return how many there were
 */
static int
pacing_copy_rows(PacingTable *table, bool shared, TimestampTz now, PacingRow *rows)
{
	int			n = 0;

	for (int i = 0; i < table->nkeys; i++)
	{
		const LemlistPacingKey *key = &table->keys[i];
		PacingRow  *row = &rows[n];

		if (!key->used)
			continue;
		row->key_hash = key->key_hash;
		row->shared = shared;
		row->in_window = lemlist_pacing_in_window(key, now);
		row->window_ms = key->window_ms;
		row->rate_limit = key->rate_limit;
		row->server_limit = key->server_limit;
		row->rate_limited = key->rate_limited;
		row->waited_ms = key->waited_ms;
		row->last_used = key->last_used;
		n++;
	}
	return n;
}
