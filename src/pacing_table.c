/*-------------------------------------------------------------------------
 *
 * pacing_table.c
 *		  Where the state of pacing lives: the table of API keys, in shared
 *		  memory or in the backend
 *
 * pacing.c works on the entry of one key at a time; this file keeps the
 * entries and hands them out locked.  The table is small and fixed
 * (PACING_KEYS keys): the least recently used key is forgotten to make room
 * for a new one.
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

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/memutils.h"

#include "lemlist_fdw.h"

/* API keys remembered at once; the least recently used is forgotten. */
#define PACING_KEYS				8
#define PACING_TRANCHE			"lemlist_fdw"

typedef struct PacingTable
{
	LWLock	   *lock;			/* NULL in a backend-local table */
	LemlistPacingKey keys[PACING_KEYS];
} PacingTable;

static PacingTable *pacing_shared = NULL;
static PacingTable *pacing_local = NULL;

#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void pacing_shmem_request(void);
static void pacing_shmem_startup(void);
static PacingTable *pacing_lock(void);
static LemlistPacingKey *pacing_key(PacingTable *table, uint64 key_hash,
									TimestampTz now, bool create);


/*
 * lemlist_pacing_init
 *		Ask for the shared table when loaded by shared_preload_libraries
 *
 * Called from _PG_init.  Loaded any other way, backends pace on their own.
 */
void
lemlist_pacing_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

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
	RequestAddinShmemSpace(MAXALIGN(sizeof(PacingTable)));
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

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pacing_shared = ShmemInitStruct("lemlist_fdw pacing", sizeof(PacingTable), &found);
	if (!found)
	{
		memset(pacing_shared, 0, sizeof(PacingTable));
		pacing_shared->lock = &(GetNamedLWLockTranche(PACING_TRANCHE))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * lemlist_pacing_lock
 *		Lock the table and find the entry of a key
 *
 * If the key has no entry, one is made (forgetting the least recently used
 * key) if create, else the result is NULL.  Either way the table stays
 * locked until lemlist_pacing_unlock.
 */
LemlistPacingKey *
lemlist_pacing_lock(uint64 key_hash, TimestampTz now, bool create)
{
	return pacing_key(pacing_lock(), key_hash, now, create);
}

/*
 * lemlist_pacing_unlock
 *		Let go of the table lemlist_pacing_lock locked
 */
void
lemlist_pacing_unlock(void)
{
	if (pacing_shared != NULL)
		LWLockRelease(pacing_shared->lock);
}

/*
 * pacing_lock
 *		The table to use, locked if shared
 */
static PacingTable *
pacing_lock(void)
{
	if (pacing_shared != NULL)
	{
		LWLockAcquire(pacing_shared->lock, LW_EXCLUSIVE);
		return pacing_shared;
	}
	if (pacing_local == NULL)
		pacing_local = MemoryContextAllocZero(TopMemoryContext, sizeof(PacingTable));
	return pacing_local;
}

/*
 * pacing_key
 *		The entry of a key, made (forgetting the least recently used key) if
 *		create, NULL otherwise
 */
static LemlistPacingKey *
pacing_key(PacingTable *table, uint64 key_hash, TimestampTz now, bool create)
{
	LemlistPacingKey *victim = &table->keys[0];

	for (int i = 0; i < PACING_KEYS; i++)
	{
		LemlistPacingKey *key = &table->keys[i];

		if (key->used && key->key_hash == key_hash)
		{
			key->last_used = now;
			return key;
		}
		if (victim->used && (!key->used || key->last_used < victim->last_used))
			victim = key;
	}
	if (!create)
		return NULL;

	memset(victim, 0, sizeof(LemlistPacingKey));
	victim->used = true;
	victim->key_hash = key_hash;
	victim->last_used = now;
	return victim;
}
