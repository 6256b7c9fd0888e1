/*-------------------------------------------------------------------------
 *
 * shared_answers.c
 *		  lemlist's answers, shared by every backend of the cluster: the
 *		  cache (cache_ttl), and identical requests sent only once (single
 *		  flight)
 *
 * A dashboard's tiles, a BI tool's pooled connections and a scheduled
 * refresh ask lemlist the same questions with the same API key.  This file
 * keeps one store in shared memory, through which a backend:
 *
 * - finds an answer that another backend kept, if it is within the
 *	 cache_ttl of the table being read (a cache hit);
 * - finds that another backend is already sending the identical request
 *	 (or is waiting under pacing to send it), and waits for that answer
 *	 instead of sending the request again (single flight, always on);
 * - otherwise claims the request and sends it, publishes the answer for
 *	 the waiting backends as soon as curl has it, and keeps the answer for
 *	 cache_ttl once its scan has decoded it.
 *
 * A request's identity is a SHA-256 digest of the API key's own SHA-256
 * digest, the API URL, the method, the path and the body.  So the key is
 * never in shared memory, and a session whose key differs (or was
 * rejected) finds nothing, whether an answer exists or not.
 *
 * When a body's end date is the default (the statement's start), the
 * identity is computed with the end date masked, and the end date is kept
 * separately.  A request with a default end can then be served by an
 * answer whose default end is within the reader's cache_ttl of its own
 * (that is what the TTL means).  Such a request shares a request in flight
 * only when the two end dates are equal (without a cache_ttl, "now" is each
 * statement's own).
 *
 * Where the memory comes from: with shared_preload_libraries, the store is
 * in the main shared memory segment, sized by lemlist_fdw.shared_cache_size
 * at server start.  Without shared_preload_libraries, from PostgreSQL 17
 * on, the store is a DSM segment made by the first backend that needs it
 * (sized by the setting at that time); the other backends find it through
 * the DSM registry.  Otherwise there is no store, and each backend keeps
 * its own cache (memo.c).  lemlist_fdw_cache() and EXPLAIN ANALYZE say
 * which case applies.
 *
 * Design rules:
 *
 * - The store is bounded.  A fixed number of chunks of STORE_CHUNK_SIZE
 *	 bytes hold the answers, and as many entries as chunks describe them.
 *	 An answer is a chain of chunks.  To make room, the store first evicts
 *	 the answers no one can use (expired ones, or ones left behind for
 *	 their waiters), then the least recently used ones.  An answer larger
 *	 than a quarter of the store is not kept.
 *
 * - One LWLock protects the store.  It is held for a lookup, a state change
 *	 or a copy, but never across a wait, and never while calling anything
 *	 that throws.  Copies out of the store go into memory that is allocated
 *	 without throwing.
 *
 * - No backend inherits another's failure.  Only a 2xx answer is
 *	 published.  When the owner of a claim fails, is cancelled or exits, the
 *	 claim is dropped (by its connection's cleanup, or at backend exit).
 *	 When an owner died without either, or stopped driving its requests for
 *	 STORE_CLAIM_STALE_MS, the first waiter that notices replaces it and
 *	 sends the request itself.
 *
 * - Waiters sleep on their latch.  An owner sets the latches when its
 *	 answer is published or its claim is dropped.  This works for up to
 *	 STORE_WAKE_SLOTS waiting backends; any others look again every few
 *	 milliseconds.
 *
 * IDENTIFICATION
 *		  src/shared_answers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "lemlist_fdw.h"

/* Bytes of answer per chunk. */
#define STORE_CHUNK_SIZE		4096
/* How many waiting backends an owner can wake by setting their latch. */
#define STORE_WAKE_SLOTS		64
/* A claim whose owner has not driven it for this long is taken over. */
#define STORE_CLAIM_STALE_MS	2000
/*
 * Once a request's answer is found too large to share, each backend sends
 * that request itself for this long.
 */
#define STORE_NOSHARE_MS		10000
/* A request's identity and an API key's digest are SHA-256 digests. */
#define STORE_DIGEST_SEED		"lemlist_fdw answers 1"
#define STORE_NAME				"lemlist_fdw answers"

/* The state of an entry. */
typedef enum EntryState
{
	ENTRY_FREE,					/* in the free list */
	ENTRY_INFLIGHT,				/* claimed: its owner is sending it */
	ENTRY_ANSWERED,				/* answered, being decoded by its owner */
	ENTRY_KEPT,					/* decoded: in the cache until keep_until */
	ENTRY_DRAINING,				/* kept only for its waiters */
	ENTRY_NOSHARE				/* answered, too large to share */
} EntryState;

/* One request and, once answered, its answer (a chain of chunks). */
typedef struct AnswerEntry
{
	uint8		digest[LEMLIST_DIGEST_LEN];
	EntryState	state;
	uint64		generation;		/* changes when the entry is freed */
	uint64		claim;			/* changes when another owner claims it */
	int			next;			/* next entry in its bucket or the free list */
	int			first_chunk;	/* -1: no answer */
	int			nchunks;
	Size		len;
	TimestampTz default_end;	/* 0: the body gives its end date */
	uint64		key_tag;		/* from the key's digest, to drop answers */
	uint64		url_tag;		/* hash of the API URL, to drop answers */
	Oid			dbid;			/* the database and server that kept it */
	Oid			serverid;
	int			owner_procno;	/* while INFLIGHT or ANSWERED */
	int			owner_pid;
	TimestampTz heartbeat;		/* when the owner last drove it */
	TimestampTz answered_at;
	TimestampTz keep_until;
	TimestampTz last_used;
	int			waiters;		/* backends waiting for the answer */
} AnswerEntry;

/* A backend that waits for answers, to be woken when they come. */
typedef struct WakeSlot
{
	int			procno;
	int			pid;			/* 0: free */
} WakeSlot;

/*
 * The store.  Its arrays follow it in memory, at the offsets it records, so
 * that a backend finds them whatever its own size setting says.
 */
typedef struct AnswerStore
{
	LWLock		lock;
	int			tranche_id;
	int			nentries;
	int			nchunks;
	int			nbuckets;		/* a power of 2 */
	Size		buckets_off;
	Size		entries_off;
	Size		chunk_next_off;
	Size		chunks_off;
	/* under the lock */
	int			free_entries;	/* first free entry, -1: none */
	int			free_chunks;	/* first free chunk, -1: none */
	int			nfree_chunks;
	pg_atomic_uint64 changes;	/* bumped at every publication or drop;
								 * read without the lock */
	WakeSlot	wake[STORE_WAKE_SLOTS];
	/* what lemlist_fdw_cache() shows */
	uint64		hits;
	uint64		misses;
	uint64		waits;
	uint64		evictions;
	uint64		not_kept;
} AnswerStore;

/* Where the store's memory comes from. */
typedef enum StoreOrigin
{
	STORE_NONE,					/* no store: each backend keeps its own answers */
	STORE_PRELOADED,			/* shared_preload_libraries */
	STORE_DSM_REGISTRY			/* the DSM registry (17+) */
} StoreOrigin;

/* In DSM mode, the DSM registry keeps this: the handle of the store. */
typedef struct StoreDirectory
{
	LWLock		lock;
	int			tranche_id;
	dsm_handle	handle;			/* DSM_HANDLE_INVALID: no store yet */
} StoreDirectory;

#define STORE_BUCKETS(s)	((int *) ((char *) (s) + (s)->buckets_off))
#define STORE_ENTRIES(s)	((AnswerEntry *) ((char *) (s) + (s)->entries_off))
#define STORE_CHUNK_NEXT(s) ((int *) ((char *) (s) + (s)->chunk_next_off))
#define STORE_CHUNK(s, i)	((char *) (s) + (s)->chunks_off + (Size) (i) * STORE_CHUNK_SIZE)

/* lemlist_fdw.shared_cache_size, in MB */
static int	shared_cache_size_mb = 32;

static AnswerStore *store = NULL;
static StoreOrigin store_origin = STORE_NONE;
static bool preloaded = false;
static bool attach_tried = false;
static bool exit_callback_set = false;
static int	my_wake_slot = -1;	/* index in store->wake, or -1 */
static int	my_waits = 0;		/* references this backend holds as a waiter */
static uint64 my_claims = 0;	/* claims this backend made, to number them */

#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size store_size(int size_mb);
static void store_init(AnswerStore *s, Size size);
static void store_shmem_request(void);
static void store_shmem_startup(void);
static void store_exit_callback(int code, Datum arg);
static int	bucket_of(const uint8 *digest);
static void claim_entry(AnswerEntry *e, LemlistShareRef *ref, TimestampTz now);
static AnswerEntry *entry_of(const LemlistShareRef *ref);
static bool entry_matches(const AnswerEntry *e, const LemlistShareKey *key,
						  bool cached, int ttl_s);
static bool owner_alive(const AnswerEntry *e, TimestampTz now);
static AnswerEntry *entry_new(const LemlistShareKey *key, EntryState state,
							  TimestampTz now);
static void entry_free(AnswerEntry *e);
static bool entry_store_answer(AnswerEntry *e, const char *body, size_t len,
							   TimestampTz now);
static char *entry_copy_answer(const AnswerEntry *e, MemoryContext cxt);
static bool make_room(int nchunks, const AnswerEntry *keep, TimestampTz now);
static void wake_waiters(void);
static void wait_register(void);
static void wait_unregister(void);
static void leave_locked(LemlistShareRef *ref);
static void drop_claim(AnswerEntry *e);
static void entry_keep(AnswerEntry *e, int ttl_s, Oid serverid, TimestampTz now);
static uint64 url_tag(const char *api_url);


/* ---------------------------------------------------------------------
 * Where the store comes from
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_shared_init
 *		Define the size setting, and ask for the store in the main shared
 *		memory segment when loaded by shared_preload_libraries
 *
 * Called from _PG_init.  A setting that is only read at server start is a
 * postmaster setting, and such settings may only be made while preloading.
 * When the library is loaded otherwise, the size is read when the first
 * backend makes the store.
 */
void
lemlist_shared_init(void)
{
	preloaded = process_shared_preload_libraries_in_progress;

	DefineCustomIntVariable("lemlist_fdw.shared_cache_size",
							"Shared memory for answers of lemlist shared by the backends of the cluster.",
							"Answers kept for cache_ttl and requests in flight share it; the least recently used answers are evicted first.  "
							"Read at server start with shared_preload_libraries, else when the first backend makes the store.",
							&shared_cache_size_mb,
							32,
							1,
							64 * 1024,
							preloaded ? PGC_POSTMASTER : PGC_SIGHUP,
							GUC_UNIT_MB,
							NULL, NULL, NULL);

	if (!preloaded)
		return;

#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = store_shmem_request;
#else
	store_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = store_shmem_startup;
}

static void
store_shmem_request(void)
{
#ifdef LEMLIST_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(store_size(shared_cache_size_mb));
}

/*
 * store_shmem_startup
 *		Make the store in the main shared memory segment
 *
 * The postmaster runs this, and runs it again after a crash.  Backends
 * inherit the pointer.
 */
static void
store_shmem_startup(void)
{
	Size		size = store_size(shared_cache_size_mb);
	bool		found;
	AnswerStore *s;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	s = ShmemInitStruct(STORE_NAME, size, &found);
	if (!found)
	{
		store_init(s, size);
		s->tranche_id = lemlist_new_tranche(STORE_NAME);
		LWLockInitialize(&s->lock, s->tranche_id);
	}
	LWLockRelease(AddinShmemInitLock);
	lemlist_register_tranche(s->tranche_id, STORE_NAME);
	store = s;
	store_origin = STORE_PRELOADED;
}

#ifdef LEMLIST_HAVE_DSM_REGISTRY
static void
directory_init(LEMLIST_DSM_INIT_ARGS(ptr))
{
	StoreDirectory *dir = (StoreDirectory *) ptr;

	dir->tranche_id = lemlist_new_tranche(STORE_NAME);
	LWLockInitialize(&dir->lock, dir->tranche_id);
	dir->handle = DSM_HANDLE_INVALID;
}

/*
 * attach_dsm
 *		Find the store through the DSM registry, or make it
 *
 * The registry keeps a small directory, and the store itself is a segment
 * of its own.  That way, the store's size is the setting of the backend
 * that makes it (the registry wants every backend to ask for the same
 * size).  Both segments stay for the life of the cluster.
 */
static AnswerStore *
attach_dsm(void)
{
	StoreDirectory *dir;
	dsm_segment *seg;
	AnswerStore *s;
	bool		found;

	dir = lemlist_named_dsm_segment("lemlist_fdw", sizeof(StoreDirectory),
									directory_init, &found);
	lemlist_register_tranche(dir->tranche_id, STORE_NAME);

	LWLockAcquire(&dir->lock, LW_EXCLUSIVE);
	if (dir->handle == DSM_HANDLE_INVALID)
	{
		Size		size = store_size(shared_cache_size_mb);

		/* an ERROR here releases the lock; the next backend tries again */
		seg = dsm_create(size, 0);
		s = dsm_segment_address(seg);
		store_init(s, size);
		s->tranche_id = dir->tranche_id;
		LWLockInitialize(&s->lock, s->tranche_id);
		dsm_pin_segment(seg);
		dir->handle = dsm_segment_handle(seg);
	}
	else
	{
		seg = dsm_attach(dir->handle);
		if (seg == NULL)
		{
			LWLockRelease(&dir->lock);
			elog(ERROR, "could not attach to lemlist_fdw's shared answers");
		}
		s = dsm_segment_address(seg);
	}
	dsm_pin_mapping(seg);
	LWLockRelease(&dir->lock);
	return s;
}
#endif

/*
 * lemlist_shared_attach
 *		Attach to the store on first use, and return whether the cluster's
 *		backends share answers
 */
bool
lemlist_shared_attach(void)
{
	if (store != NULL || attach_tried)
		return store != NULL;
	attach_tried = true;

#ifdef LEMLIST_HAVE_DSM_REGISTRY
	if (!preloaded)
	{
		store = attach_dsm();
		store_origin = STORE_DSM_REGISTRY;
	}
#endif
	if (store != NULL && !exit_callback_set)
	{
		before_shmem_exit(store_exit_callback, (Datum) 0);
		exit_callback_set = true;
	}
	return store != NULL;
}

/*
 * store_size
 *		The size in bytes of a store of size_mb megabytes: its chunks, and
 *		as many entries as chunks
 */
static Size
store_size(int size_mb)
{
	Size		nchunks = Max((Size) size_mb * 1024 * 1024 / STORE_CHUNK_SIZE, 16);
	Size		nbuckets = 1;
	Size		size;

	while (nbuckets < nchunks)
		nbuckets <<= 1;
	size = MAXALIGN(sizeof(AnswerStore));
	size = add_size(size, MAXALIGN(mul_size(nbuckets, sizeof(int))));
	size = add_size(size, MAXALIGN(mul_size(nchunks, sizeof(AnswerEntry))));
	size = add_size(size, MAXALIGN(mul_size(nchunks, sizeof(int))));
	size = add_size(size, mul_size(nchunks, STORE_CHUNK_SIZE));
	return size;
}

/*
 * store_init
 *		Lay out a new store of size bytes (the caller initializes its lock)
 */
static void
store_init(AnswerStore *s, Size size)
{
	Size		nchunks;
	Size		nbuckets = 1;
	Size		fixed;
	int		   *buckets;
	int		   *chunk_next;
	AnswerEntry *entries;

	memset(s, 0, sizeof(AnswerStore));
	/* as many chunks as fit with their entries and buckets */
	nchunks = (size - MAXALIGN(sizeof(AnswerStore))) /
		(sizeof(AnswerEntry) + sizeof(int) * 3 + STORE_CHUNK_SIZE);
	while (nbuckets < nchunks)
		nbuckets <<= 1;
	for (;;)
	{
		fixed = MAXALIGN(sizeof(AnswerStore)) +
			MAXALIGN(nbuckets * sizeof(int)) +
			MAXALIGN(nchunks * sizeof(AnswerEntry)) +
			MAXALIGN(nchunks * sizeof(int));
		if (fixed + nchunks * STORE_CHUNK_SIZE <= size)
			break;
		nchunks--;
	}

	s->nentries = (int) nchunks;
	s->nchunks = (int) nchunks;
	s->nbuckets = (int) nbuckets;
	s->buckets_off = MAXALIGN(sizeof(AnswerStore));
	s->entries_off = s->buckets_off + MAXALIGN(nbuckets * sizeof(int));
	s->chunk_next_off = s->entries_off + MAXALIGN(nchunks * sizeof(AnswerEntry));
	s->chunks_off = s->chunk_next_off + MAXALIGN(nchunks * sizeof(int));

	buckets = STORE_BUCKETS(s);
	entries = STORE_ENTRIES(s);
	chunk_next = STORE_CHUNK_NEXT(s);
	for (Size i = 0; i < nbuckets; i++)
		buckets[i] = -1;
	memset(entries, 0, nchunks * sizeof(AnswerEntry));
	for (Size i = 0; i < nchunks; i++)
	{
		entries[i].state = ENTRY_FREE;
		entries[i].next = (i + 1 < nchunks) ? (int) i + 1 : -1;
		entries[i].first_chunk = -1;
		chunk_next[i] = (i + 1 < nchunks) ? (int) i + 1 : -1;
	}
	pg_atomic_init_u64(&s->changes, 0);
	s->free_entries = 0;
	s->free_chunks = 0;
	s->nfree_chunks = (int) nchunks;
}


/* ---------------------------------------------------------------------
 * Identities
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_api_key_digest
 *		Compute an API key's SHA-256 digest, which is all the store knows of
 *		the key
 */
void
lemlist_api_key_digest(const char *api_key, uint8 *digest)
{
	LemlistSha256 h;

	lemlist_sha256_init(&h);
	lemlist_sha256_update(&h, STORE_DIGEST_SEED, sizeof(STORE_DIGEST_SEED));
	lemlist_sha256_update(&h, api_key, strlen(api_key));
	lemlist_sha256_final(&h, digest);
}

/*
 * A hash of an API URL.  It is all the store knows of the URL, and it is
 * used to drop a server's answers.
 */
static uint64
url_tag(const char *api_url)
{
	return hash_bytes_extended((const unsigned char *) api_url, strlen(api_url), 0);
}

/*
 * Add one part of an identity to the digest, with its length, so that parts
 * cannot run together.
 */
static void
digest_part(LemlistSha256 *h, const char *s)
{
	uint32		len = s ? (uint32) strlen(s) : PG_UINT32_MAX;

	lemlist_sha256_update(h, &len, sizeof(len));
	if (s)
		lemlist_sha256_update(h, s, len);
}

/*
 * lemlist_share_key_init
 *		Compute the identity of a request sent with the API key whose digest
 *		is key_digest
 *
 * When default_end is not 0, body is the body with its end date masked.
 */
void
lemlist_share_key_init(LemlistShareKey *key, const uint8 *key_digest,
					   const char *api_url, const char *method,
					   const char *path, const char *body,
					   TimestampTz default_end)
{
	LemlistSha256 h;
	uint8		flag = default_end != 0;

	lemlist_sha256_init(&h);
	lemlist_sha256_update(&h, key_digest, LEMLIST_DIGEST_LEN);
	digest_part(&h, api_url);
	digest_part(&h, method);
	digest_part(&h, path);
	digest_part(&h, body);
	lemlist_sha256_update(&h, &flag, 1);
	lemlist_sha256_final(&h, key->digest);

	memcpy(&key->key_tag, key_digest, sizeof(uint64));
	key->url_tag = url_tag(api_url);
	key->default_end = default_end;
}


/* ---------------------------------------------------------------------
 * Asking, publishing, keeping, leaving
 * ---------------------------------------------------------------------
 */

/*
 * lemlist_shared_ask
 *		Decide what to do with a request that is due: take an answer, wait
 *		for another backend's answer, or send the request
 *
 * ref says what the request already holds (nothing, a claim, or a place
 * among the waiters), and this function updates it.  Returns:
 *	- LEMLIST_SHARE_CACHED or LEMLIST_SHARE_SHARED: *body (in cxt) and *len
 *	  hold an answer kept within ttl_s, or another backend's fresh answer;
 *	- LEMLIST_SHARE_WAIT: another backend is sending the request; ask again;
 *	- LEMLIST_SHARE_SEND: send the request (ref holds the claim, or nothing
 *	  when the store cannot take one);
 *	- LEMLIST_SHARE_LATER: there is nothing to take, and may_claim was false.
 * An answer longer than max_bytes is not taken.
 */
LemlistShareOutcome
lemlist_shared_ask(const LemlistShareKey *key, int ttl_s, int64 max_bytes,
				   bool may_claim, LemlistShareRef *ref, MemoryContext cxt,
				   char **body, size_t *len)
{
	TimestampTz now = GetCurrentTimestamp();
	int		   *buckets;
	AnswerEntry *entries;
	AnswerEntry *e;
	AnswerEntry *wait_on = NULL;
	AnswerEntry *take = NULL;
	bool		cached = false;
	bool		noshare = false;

	Assert(store != NULL);
	if (ref->role == LEMLIST_SHARE_OWNER)
		return LEMLIST_SHARE_SEND;

	LWLockAcquire(&store->lock, LW_EXCLUSIVE);
	buckets = STORE_BUCKETS(store);
	entries = STORE_ENTRIES(store);

	/* a waiter: has the answer come, or has its owner gone? */
	if (ref->role == LEMLIST_SHARE_WAITER)
	{
		e = entry_of(ref);
		if (e == NULL)
			leave_locked(ref);	/* entry dropped: ask afresh below */
		else if (e->state == ENTRY_INFLIGHT && owner_alive(e, now))
		{
			LWLockRelease(&store->lock);
			return LEMLIST_SHARE_WAIT;
		}
		else if (e->state == ENTRY_INFLIGHT)
		{
			/* its owner is gone: this backend sends it */
			e->waiters--;
			wait_unregister();
			claim_entry(e, ref, now);
			store->misses++;
			LWLockRelease(&store->lock);
			elog(DEBUG2, "lemlist_fdw: the backend sending an identical request is gone; sending it");
			return LEMLIST_SHARE_SEND;
		}
		else if (e->state == ENTRY_NOSHARE || (Size) max_bytes < e->len)
		{
			leave_locked(ref);
			store->misses++;
			LWLockRelease(&store->lock);
			return LEMLIST_SHARE_SEND;
		}
		else
		{
			*body = entry_copy_answer(e, cxt);
			if (*body == NULL)
			{
				leave_locked(ref);
				LWLockRelease(&store->lock);
				return LEMLIST_SHARE_SEND;
			}
			*len = e->len;
			e->last_used = now;
			store->waits++;
			leave_locked(ref);
			LWLockRelease(&store->lock);
			return LEMLIST_SHARE_SHARED;
		}
	}

	/* look for the request among the entries of its bucket */
	for (int i = buckets[bucket_of(key->digest)];
		 i >= 0; i = entries[i].next)
	{
		e = &entries[i];
		if (memcmp(e->digest, key->digest, LEMLIST_DIGEST_LEN) != 0)
			continue;
		switch (e->state)
		{
			case ENTRY_KEPT:
				if (ttl_s > 0 && e->keep_until > now &&
					now - e->answered_at < (TimestampTz) ttl_s * USECS_PER_SEC &&
					(Size) max_bytes >= e->len && entry_matches(e, key, true, ttl_s))
				{
					take = e;
					cached = true;
				}
				break;
			case ENTRY_ANSWERED:
				if ((Size) max_bytes >= e->len && entry_matches(e, key, false, ttl_s))
					take = e;
				break;
			case ENTRY_INFLIGHT:
				if (entry_matches(e, key, false, ttl_s))
					wait_on = e;
				break;
			case ENTRY_NOSHARE:
				if (entry_matches(e, key, false, ttl_s) &&
					now - e->answered_at < (TimestampTz) STORE_NOSHARE_MS * 1000)
					noshare = true;
				break;
			case ENTRY_FREE:
			case ENTRY_DRAINING:
				break;
		}
		if (take != NULL)
			break;
	}

	if (take != NULL)
	{
		*body = entry_copy_answer(take, cxt);
		if (*body != NULL)
		{
			*len = take->len;
			take->last_used = now;
			if (cached)
				store->hits++;
			else
				store->waits++;
			LWLockRelease(&store->lock);
			return cached ? LEMLIST_SHARE_CACHED : LEMLIST_SHARE_SHARED;
		}
	}

	if (wait_on != NULL && wait_on->owner_pid != MyProcPid)
	{
		if (owner_alive(wait_on, now))
		{
			/* another backend is sending it: wait for its answer */
			wait_on->waiters++;
			wait_register();
			ref->role = LEMLIST_SHARE_WAITER;
			ref->slot = (int) (wait_on - entries);
			ref->generation = wait_on->generation;
			LWLockRelease(&store->lock);
			return LEMLIST_SHARE_WAIT;
		}
		if (may_claim)
		{
			/* its owner is gone: this backend sends it */
			claim_entry(wait_on, ref, now);
			store->misses++;
			LWLockRelease(&store->lock);
			return LEMLIST_SHARE_SEND;
		}
	}

	if (!may_claim)
	{
		LWLockRelease(&store->lock);
		return LEMLIST_SHARE_LATER;
	}

	store->misses++;
	if (!noshare && (wait_on == NULL || wait_on->owner_pid != MyProcPid))
	{
		e = entry_new(key, ENTRY_INFLIGHT, now);
		if (e != NULL)
			claim_entry(e, ref, now);
	}
	LWLockRelease(&store->lock);
	return LEMLIST_SHARE_SEND;
}

/*
 * lemlist_shared_changes
 *		Return a number that changes whenever an answer is published or a
 *		claim is dropped
 *
 * A request that found nothing to take need not look again until this
 * number changes.
 */
uint64
lemlist_shared_changes(void)
{
	if (store == NULL)
		return 0;
	return pg_atomic_read_u64(&store->changes);
}

/*
 * lemlist_shared_heartbeat
 *		Record that the owner of these claims is still driving them
 */
void
lemlist_shared_heartbeat(LemlistShareRef *const *refs, int nrefs)
{
	TimestampTz now = GetCurrentTimestamp();

	if (store == NULL || nrefs == 0)
		return;
	LWLockAcquire(&store->lock, LW_EXCLUSIVE);
	for (int i = 0; i < nrefs; i++)
	{
		AnswerEntry *e = entry_of(refs[i]);

		if (e != NULL && refs[i]->role == LEMLIST_SHARE_OWNER)
			e->heartbeat = now;
	}
	LWLockRelease(&store->lock);
}

/*
 * lemlist_shared_publish
 *		Hand the 2xx answer of a claimed request to the backends waiting for
 *		it (and to those that ask while its scan decodes it)
 *
 * This function never throws, because it runs wherever curl completes the
 * request.  An answer that does not fit is not shared; the waiters then
 * send the request themselves.
 */
void
lemlist_shared_publish(LemlistShareRef *ref, const char *body, size_t len)
{
	TimestampTz now = GetCurrentTimestamp();
	AnswerEntry *e;

	if (store == NULL || ref->role != LEMLIST_SHARE_OWNER)
		return;
	LWLockAcquire(&store->lock, LW_EXCLUSIVE);
	e = entry_of(ref);
	if (e != NULL && e->state == ENTRY_INFLIGHT)
	{
		e->answered_at = now;
		e->last_used = now;
		if (entry_store_answer(e, body, len, now))
			e->state = ENTRY_ANSWERED;
		else
		{
			e->state = ENTRY_NOSHARE;
			store->not_kept++;
		}
		pg_atomic_fetch_add_u64(&store->changes, 1);
		wake_waiters();
	}
	else if (e == NULL)
		ref->role = LEMLIST_SHARE_NONE;
	LWLockRelease(&store->lock);
}

/*
 * lemlist_shared_keep
 *		Keep an answer that has been decoded into rows for ttl_s seconds
 *		(with no TTL, keep it only for the backends that waited for it)
 *
 * A claimed entry becomes part of the cache.  An answer that came another
 * way (as a waiter's answer, or for a request sent unclaimed) is added, if
 * it is not there already.
 */
void
lemlist_shared_keep(LemlistShareRef *ref, const LemlistShareKey *key, int ttl_s,
					Oid serverid, const char *body, size_t len)
{
	TimestampTz now = GetCurrentTimestamp();
	AnswerEntry *e;

	if (store == NULL)
		return;
	LWLockAcquire(&store->lock, LW_EXCLUSIVE);
	e = ref->role == LEMLIST_SHARE_OWNER ? entry_of(ref) : NULL;
	if (e != NULL && e->state == ENTRY_ANSWERED)
	{
		if (ttl_s > 0)
			entry_keep(e, ttl_s, serverid, now);
		else if (e->waiters > 0)
			e->state = ENTRY_DRAINING;
		else
			entry_free(e);
		ref->role = LEMLIST_SHARE_NONE;
	}
	else
	{
		if (ref->role == LEMLIST_SHARE_OWNER)
			leave_locked(ref);
		if (ttl_s > 0 && len <= (size_t) store->nchunks * STORE_CHUNK_SIZE / 4)
		{
			int		   *buckets = STORE_BUCKETS(store);
			AnswerEntry *entries = STORE_ENTRIES(store);
			bool		there = false;

			for (int i = buckets[bucket_of(key->digest)];
				 i >= 0; i = entries[i].next)
			{
				AnswerEntry *o = &entries[i];

				if (o->state == ENTRY_KEPT && o->keep_until >= now &&
					memcmp(o->digest, key->digest, LEMLIST_DIGEST_LEN) == 0 &&
					o->default_end >= key->default_end)
					there = true;
			}
			if (!there && (e = entry_new(key, ENTRY_KEPT, now)) != NULL)
			{
				if (entry_store_answer(e, body, len, now))
				{
					e->answered_at = now;
					e->last_used = now;
					entry_keep(e, ttl_s, serverid, now);
				}
				else
				{
					store->not_kept++;
					entry_free(e);
				}
			}
		}
	}
	LWLockRelease(&store->lock);
}

/*
 * Make an answered entry part of the cache for ttl_s seconds, recorded as
 * kept for serverid.
 */
static void
entry_keep(AnswerEntry *e, int ttl_s, Oid serverid, TimestampTz now)
{
	e->state = ENTRY_KEPT;
	e->keep_until = now + (TimestampTz) ttl_s * USECS_PER_SEC;
	e->dbid = MyDatabaseId;
	e->serverid = serverid;
}

/*
 * lemlist_shared_leave
 *		Let go of what ref holds: a claim (the request failed, or its scan
 *		ends) or a place among the waiters
 *
 * This function never throws, because cleanup after an ERROR calls it.
 */
void
lemlist_shared_leave(LemlistShareRef *ref)
{
	if (store == NULL || ref->role == LEMLIST_SHARE_NONE)
		return;
	LWLockAcquire(&store->lock, LW_EXCLUSIVE);
	leave_locked(ref);
	LWLockRelease(&store->lock);
}

static void
leave_locked(LemlistShareRef *ref)
{
	AnswerEntry *e = entry_of(ref);

	if (ref->role == LEMLIST_SHARE_WAITER)
	{
		/* the entry's waiters count this backend until it leaves */
		if (e != NULL)
		{
			e->waiters--;
			if (e->waiters <= 0 &&
				(e->state == ENTRY_DRAINING || e->state == ENTRY_NOSHARE))
				entry_free(e);
		}
		wait_unregister();
	}
	else if (ref->role == LEMLIST_SHARE_OWNER && e != NULL)
		drop_claim(e);
	ref->role = LEMLIST_SHARE_NONE;
}

/*
 * drop_claim
 *		The owner gives up an entry
 *
 * An entry in flight is dropped: its waiters send the request themselves,
 * and the first of them claims it.  An answered entry is left to its
 * waiters.
 */
static void
drop_claim(AnswerEntry *e)
{
	if (e->state == ENTRY_INFLIGHT)
	{
		entry_free(e);
		pg_atomic_fetch_add_u64(&store->changes, 1);
		wake_waiters();
	}
	else if (e->state == ENTRY_ANSWERED)
	{
		if (e->waiters > 0)
			e->state = ENTRY_DRAINING;
		else
			entry_free(e);
	}
}

/*
 * store_exit_callback
 *		Give up the claims and the wake slot of this exiting backend,
 *		whatever its scans' cleanup did or did not do
 */
static void
store_exit_callback(int code, Datum arg)
{
	AnswerEntry *entries;

	if (store == NULL)
		return;
	LWLockAcquire(&store->lock, LW_EXCLUSIVE);
	entries = STORE_ENTRIES(store);
	for (int i = 0; i < store->nentries; i++)
	{
		AnswerEntry *e = &entries[i];

		if (e->owner_pid == MyProcPid)
			drop_claim(e);
	}
	if (my_wake_slot >= 0)
	{
		store->wake[my_wake_slot].pid = 0;
		my_wake_slot = -1;
	}
	LWLockRelease(&store->lock);
}


/* ---------------------------------------------------------------------
 * Entries, chunks and waiters (called with the store's lock held)
 * ---------------------------------------------------------------------
 */

/* The bucket of a digest (any of its bits are as good as any others). */
static int
bucket_of(const uint8 *digest)
{
	uint32		h;

	memcpy(&h, digest, sizeof(h));
	return (int) (h & (uint32) (store->nbuckets - 1));
}

/* Claim an entry: this backend sends its request, and ref holds the claim. */
static void
claim_entry(AnswerEntry *e, LemlistShareRef *ref, TimestampTz now)
{
	e->owner_procno = lemlist_my_procno();
	e->owner_pid = MyProcPid;
	e->heartbeat = now;
	e->claim = ++my_claims + ((uint64) MyProcPid << 32);
	ref->role = LEMLIST_SHARE_OWNER;
	ref->slot = (int) (e - STORE_ENTRIES(store));
	ref->generation = e->generation;
	ref->claim = e->claim;
}

/* Return the entry that ref names, if it still holds the same request. */
static AnswerEntry *
entry_of(const LemlistShareRef *ref)
{
	AnswerEntry *e;

	if (ref->role == LEMLIST_SHARE_NONE || ref->slot < 0 || ref->slot >= store->nentries)
		return NULL;
	e = &STORE_ENTRIES(store)[ref->slot];
	if (e->generation != ref->generation || e->state == ENTRY_FREE)
		return NULL;
	if (ref->role == LEMLIST_SHARE_OWNER && e->claim != ref->claim)
		return NULL;
	return e;
}

/*
 * entry_matches
 *		Whether an entry with the request's digest answers the request, as
 *		far as the default end date goes
 *
 * A kept answer matches when its default end is within the reader's TTL of
 * the request's.  Any other entry (in flight or just answered) matches when
 * its end is the same, or when the reader has a TTL and the end is within
 * it.
 */
static bool
entry_matches(const AnswerEntry *e, const LemlistShareKey *key, bool cached,
			  int ttl_s)
{
	TimestampTz ttl = (TimestampTz) ttl_s * USECS_PER_SEC;

	if (key->default_end == 0 || e->default_end == key->default_end)
		return true;
	if ((cached || ttl_s > 0) && e->default_end >= key->default_end - ttl)
		return true;
	return false;
}

/*
 * owner_alive
 *		Is the backend that claimed an entry still there, and driving it?
 */
static bool
owner_alive(const AnswerEntry *e, TimestampTz now)
{
	PGPROC	   *proc = GetPGProcByNumber(e->owner_procno);

	if (proc->pid != e->owner_pid)
		return false;
	return now - e->heartbeat < (TimestampTz) STORE_CLAIM_STALE_MS * 1000;
}

/*
 * entry_new
 *		Take a new entry for a request and put it in its bucket; return
 *		NULL if no entry can be had
 */
static AnswerEntry *
entry_new(const LemlistShareKey *key, EntryState state, TimestampTz now)
{
	AnswerEntry *entries = STORE_ENTRIES(store);
	int		   *buckets = STORE_BUCKETS(store);
	int			bucket = bucket_of(key->digest);
	AnswerEntry *e;

	if (store->free_entries < 0 && !make_room(0, NULL, now))
		return NULL;
	if (store->free_entries < 0)
		return NULL;
	e = &entries[store->free_entries];
	store->free_entries = e->next;

	memcpy(e->digest, key->digest, LEMLIST_DIGEST_LEN);
	e->state = state;
	e->first_chunk = -1;
	e->nchunks = 0;
	e->len = 0;
	e->default_end = key->default_end;
	e->key_tag = key->key_tag;
	e->url_tag = key->url_tag;
	e->dbid = InvalidOid;
	e->serverid = InvalidOid;
	e->owner_procno = 0;
	e->owner_pid = 0;
	e->heartbeat = now;
	e->answered_at = 0;
	e->keep_until = 0;
	e->last_used = now;
	e->waiters = 0;
	e->next = buckets[bucket];
	buckets[bucket] = (int) (e - entries);
	return e;
}

/*
 * entry_free
 *		Give back an entry and its chunks
 */
static void
entry_free(AnswerEntry *e)
{
	AnswerEntry *entries = STORE_ENTRIES(store);
	int		   *buckets = STORE_BUCKETS(store);
	int		   *chunk_next = STORE_CHUNK_NEXT(store);
	int			bucket = bucket_of(e->digest);
	int			self = (int) (e - entries);
	int		   *link;

	for (link = &buckets[bucket]; *link >= 0; link = &entries[*link].next)
	{
		if (*link == self)
		{
			*link = e->next;
			break;
		}
	}
	while (e->first_chunk >= 0)
	{
		int			c = e->first_chunk;

		e->first_chunk = chunk_next[c];
		chunk_next[c] = store->free_chunks;
		store->free_chunks = c;
		store->nfree_chunks++;
	}
	e->nchunks = 0;
	e->len = 0;
	e->state = ENTRY_FREE;
	e->owner_pid = 0;
	e->waiters = 0;
	e->generation++;
	e->next = store->free_entries;
	store->free_entries = self;
}

/*
 * entry_store_answer
 *		Copy an answer into chunks of an entry; false if it does not fit
 */
static bool
entry_store_answer(AnswerEntry *e, const char *body, size_t len, TimestampTz now)
{
	int		   *chunk_next = STORE_CHUNK_NEXT(store);
	int			need = (int) ((len + STORE_CHUNK_SIZE - 1) / STORE_CHUNK_SIZE);
	int		   *link = &e->first_chunk;
	size_t		done = 0;

	if (len > (size_t) store->nchunks * STORE_CHUNK_SIZE / 4)
		return false;
	if (store->nfree_chunks < need && !make_room(need, e, now))
		return false;

	for (int i = 0; i < need; i++)
	{
		int			c = store->free_chunks;
		size_t		n = Min((size_t) STORE_CHUNK_SIZE, len - done);

		store->free_chunks = chunk_next[c];
		store->nfree_chunks--;
		memcpy(STORE_CHUNK(store, c), body + done, n);
		done += n;
		chunk_next[c] = -1;
		*link = c;
		link = &chunk_next[c];
	}
	e->nchunks = need;
	e->len = len;
	return true;
}

/*
 * entry_copy_answer
 *		Return a NUL-terminated copy of an entry's answer, allocated in cxt
 *
 * Returns NULL if the memory cannot be allocated, because nothing may throw
 * while the lock is held.
 */
static char *
entry_copy_answer(const AnswerEntry *e, MemoryContext cxt)
{
	int		   *chunk_next = STORE_CHUNK_NEXT(store);
	char	   *copy;
	size_t		done = 0;

	copy = MemoryContextAllocExtended(cxt, e->len + 1,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
		return NULL;
	for (int c = e->first_chunk; c >= 0 && done < e->len; c = chunk_next[c])
	{
		size_t		n = Min((size_t) STORE_CHUNK_SIZE, e->len - done);

		memcpy(copy + done, STORE_CHUNK(store, c), n);
		done += n;
	}
	copy[e->len] = '\0';
	return copy;
}

/*
 * make_room
 *		Evict entries until nchunks chunks are free (or, when nchunks is 0,
 *		until an entry is free)
 *
 * The answers that no one can use any more go first: expired ones, and ones
 * left for their waiters for over a minute.  Then go the least recently
 * used kept answers, and then the answers still left for their waiters.
 * The entry passed as keep is never evicted, and neither is a request in
 * flight or one being decoded.
 */
static bool
make_room(int nchunks, const AnswerEntry *keep, TimestampTz now)
{
	AnswerEntry *entries = STORE_ENTRIES(store);

	while (nchunks > 0 ? store->nfree_chunks < nchunks : store->free_entries < 0)
	{
		AnswerEntry *victim = NULL;
		int			victim_class = INT_MAX;

		for (int i = 0; i < store->nentries; i++)
		{
			AnswerEntry *e = &entries[i];
			int			class;

			if (e == keep)
				continue;
			if (e->state == ENTRY_KEPT && e->keep_until <= now)
				class = 0;
			else if ((e->state == ENTRY_DRAINING || e->state == ENTRY_NOSHARE) &&
					 now - e->answered_at > 60 * USECS_PER_SEC)
				class = 0;
			else if (e->state == ENTRY_KEPT)
				class = 1;
			else if (e->state == ENTRY_DRAINING || e->state == ENTRY_NOSHARE)
				class = 2;
			else
				continue;
			if (class < victim_class ||
				(class == victim_class && e->last_used < victim->last_used))
			{
				victim = e;
				victim_class = class;
			}
		}
		if (victim == NULL)
			return false;
		if (victim_class == 1)
			store->evictions++;
		entry_free(victim);
	}
	return true;
}

/* Set the latch of every backend waiting for an answer. */
static void
wake_waiters(void)
{
	for (int i = 0; i < STORE_WAKE_SLOTS; i++)
	{
		WakeSlot   *w = &store->wake[i];

		if (w->pid != 0)
		{
			PGPROC	   *proc = GetPGProcByNumber(w->procno);

			if (proc->pid == w->pid)
				SetLatch(&proc->procLatch);
		}
	}
}

/* This backend waits for one more answer: ask for its latch to be set. */
static void
wait_register(void)
{
	if (my_waits++ > 0 || my_wake_slot >= 0)
		return;
	for (int i = 0; i < STORE_WAKE_SLOTS; i++)
	{
		WakeSlot   *w = &store->wake[i];

		if (w->pid == 0 || GetPGProcByNumber(w->procno)->pid != w->pid)
		{
			w->procno = lemlist_my_procno();
			w->pid = MyProcPid;
			my_wake_slot = i;
			return;
		}
	}
	/* no slot: this backend looks again every few milliseconds */
}

/* This backend waits for one fewer answer. */
static void
wait_unregister(void)
{
	if (my_waits > 0)
		my_waits--;
	if (my_waits == 0 && my_wake_slot >= 0)
	{
		store->wake[my_wake_slot].pid = 0;
		my_wake_slot = -1;
	}
}

/*
 * lemlist_shared_woken
 *		Whether this backend's latch will be set when an answer it waits for
 *		comes (if not, it must look again soon)
 */
bool
lemlist_shared_woken(void)
{
	return my_wake_slot >= 0;
}


/* ---------------------------------------------------------------------
 * SQL functions: what the store holds, and dropping a server's answers
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(lemlist_fdw_cache);
PG_FUNCTION_INFO_V1(lemlist_fdw_cache_drop);

/*
 * lemlist_fdw_cache
 *		Return one row that says where answers are kept and what the store
 *		holds
 *
 * Like lemlist_fdw_pacing(), this is for a superuser or a member of
 * pg_read_all_stats.  Without a store (13 to 16 without
 * shared_preload_libraries), the row says so and shows this backend's own
 * cache.
 */
Datum
lemlist_fdw_cache(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[12];
	bool		nulls[12] = {false};
	LemlistMemoStats memo;
	TimestampTz now = GetCurrentTimestamp();

	if (!superuser() && !has_privs_of_role(GetUserId(), LEMLIST_ROLE_READ_ALL_STATS))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function lemlist_fdw_cache"),
				 errdetail("Only superusers and roles with privileges of the \"pg_read_all_stats\" role may see lemlist_fdw's shared answers.")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	(void) lemlist_shared_attach();
	if (store != NULL)
	{
		AnswerEntry *entries;
		int64		nentries = 0;
		int64		bytes = 0;
		int64		inflight = 0;

		LWLockAcquire(&store->lock, LW_SHARED);
		entries = STORE_ENTRIES(store);
		for (int i = 0; i < store->nentries; i++)
		{
			const AnswerEntry *e = &entries[i];

			if (e->state == ENTRY_KEPT && e->keep_until > now)
			{
				nentries++;
				bytes += e->len;
			}
			else if (e->state == ENTRY_INFLIGHT)
				inflight++;
		}
		values[0] = CStringGetTextDatum("cluster");
		values[1] = CStringGetTextDatum(store_origin == STORE_PRELOADED ?
										"shared_preload_libraries" : "dsm_registry");
		values[2] = Int64GetDatum((int64) store->nchunks * STORE_CHUNK_SIZE);
		values[3] = Int64GetDatum(nentries);
		values[4] = Int64GetDatum(bytes);
		values[5] = Int64GetDatum(inflight);
		values[6] = Int64GetDatum((int64) store->hits);
		values[7] = Int64GetDatum((int64) store->misses);
		values[8] = Int64GetDatum((int64) store->waits);
		values[9] = Int64GetDatum((int64) store->evictions);
		values[10] = Int64GetDatum((int64) store->not_kept);
		LWLockRelease(&store->lock);
	}
	else
	{
		lemlist_memo_stats(&memo);
		values[0] = CStringGetTextDatum("backend");
		nulls[1] = true;
		values[2] = Int64GetDatum(memo.budget);
		values[3] = Int64GetDatum(memo.entries);
		values[4] = Int64GetDatum(memo.bytes);
		values[5] = Int64GetDatum(0);
		values[6] = Int64GetDatum(memo.hits);
		values[7] = Int64GetDatum(memo.misses);
		values[8] = Int64GetDatum(0);
		values[9] = Int64GetDatum(memo.evictions);
		values[10] = Int64GetDatum(memo.not_kept);
	}
	values[11] = CStringGetTextDatum(store != NULL ?
									 "answers are shared by every backend of the cluster" :
									 "answers are kept by each backend for itself: add lemlist_fdw to shared_preload_libraries to share them");

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * lemlist_fdw_cache_drop
 *		Drop the answers that could serve a server's queries: those kept
 *		for the server, and those for its API URL with the key of any of its
 *		user mappings.  Returns how many were dropped.
 *
 * Only the server's owner or a superuser may call this.  This backend's own
 * cache drops the server's answers too.
 */
Datum
lemlist_fdw_cache_drop(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ForeignServer *server = GetForeignServerByName(name, false);
	LemlistOptions opts;
	List	   *key_tags = NIL;
	uint64		server_url_tag;
	int64		dropped = 0;
	ListCell   *lc;

	if (!superuser() && !lemlist_server_ownercheck(server->serverid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to drop the cached answers of server \"%s\"",
						server->servername),
				 errdetail("Only the owner of the server and superusers may.")));

	lemlist_server_options(server->serverid, &opts);
	server_url_tag = url_tag(opts.api_url);
	foreach(lc, lemlist_server_api_keys(server->serverid))
	{
		char	   *api_key = lfirst(lc);
		uint8	   *digest = palloc(LEMLIST_DIGEST_LEN);

		lemlist_api_key_digest(api_key, digest);
		explicit_bzero(api_key, strlen(api_key));
		key_tags = lappend(key_tags, digest);
	}

	dropped += lemlist_memo_forget_server(server->serverid);

	(void) lemlist_shared_attach();
	if (store != NULL)
	{
		AnswerEntry *entries;

		LWLockAcquire(&store->lock, LW_EXCLUSIVE);
		entries = STORE_ENTRIES(store);
		for (int i = 0; i < store->nentries; i++)
		{
			AnswerEntry *e = &entries[i];
			bool		ours = false;

			if (e->state != ENTRY_KEPT)
				continue;
			if (e->dbid == MyDatabaseId && e->serverid == server->serverid)
				ours = true;
			else if (e->url_tag == server_url_tag)
			{
				foreach(lc, key_tags)
				{
					if (memcmp(lfirst(lc), &e->key_tag, sizeof(uint64)) == 0)
						ours = true;
				}
			}
			if (ours)
			{
				if (e->keep_until > GetCurrentTimestamp())
					dropped++;
				entry_free(e);
			}
		}
		LWLockRelease(&store->lock);
	}
	PG_RETURN_INT64(dropped);
}
