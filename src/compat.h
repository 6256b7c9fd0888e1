/*-------------------------------------------------------------------------
 *
 * compat.h
 *		  Differences between the PostgreSQL major versions that
 *		  lemlist_fdw builds on
 *
 * lemlist_fdw.h includes this file, so every source file sees it.  No other
 * file tests PG_VERSION_NUM.  (libcurl's versions are tested in http.c, the
 * only file that includes curl.h.)
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEMLIST_COMPAT_H
#define LEMLIST_COMPAT_H

/*
 * All differences between PostgreSQL versions (13 to 19) are handled here
 * and nowhere else.  The code is compiled and tested on 13, 15, 17, 18 and
 * 19 (test/matrix.sh); the branches for 14 and 16 follow the history of the
 * server headers.  What changed in each version:
 *
 *	14	pull_varnos() takes the PlannerInfo; new: pg_encoding_verifymbstr(),
 *		asynchronous foreign scans (IsForeignPathAsyncCapable and the
 *		ForeignAsync callbacks) and utils/wait_event.h;
 *		estimate_num_groups() takes an EstimationInfo; the predefined roles
 *		are named ROLE_PG_*
 *	15	new: shmem_request_hook and MarkGUCPrefixReserved
 *	16	ForeignScan has a checkAsUser (the range table entry's is gone);
 *		new: varnullingrels and the outer join's ojrelid;
 *		adjust_appendrel_attrs_multilevel() takes RelOptInfos
 *	17	create_foreignscan_path() takes fdw_restrictinfo; new: custom wait
 *		events (WaitEventExtensionNew)
 *	18	create_foreignscan_path() takes disabled_nodes; a PathKey's direction
 *		is pk_cmptype (it was pk_strategy before); ExplainState and the
 *		ExplainProperty functions move to headers of their own;
 *		pg_noreturn, a prefix, replaces pg_attribute_noreturn();
 *		get_op_index_interpretation() replaces get_op_btree_interpretation()
 *	19	server headers include less, so limits.h, access/htup_details.h and
 *		utils/wait_event.h must be included where they are used;
 *		date2timestamptz_safe() replaces date2timestamptz_opt_overflow()
 *
 * The answers shared by backends (shared_answers.c) depend on more of these
 * differences.  SHA-256 goes through pg_cryptohash from 14 on (pg_sha256_*
 * before).  object_ownercheck() is used from 16 on.  The DSM registry and
 * MyProcNumber are used from 17 on.  From 19 on, an LWLock tranche is named
 * when it is created (LWLockRegisterTranche is gone), and
 * GetNamedDSMSegment() passes an argument to its init callback.
 */
#if PG_VERSION_NUM < 130000
#error "lemlist_fdw requires PostgreSQL 13 or later"
#endif

/* ExplainState and the ExplainProperty functions (own headers since 18) */
#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
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
#define lemlist_create_foreignscan_path(root, rel, rows, startup, total, pathkeys, required_outer, private) \
	create_foreignscan_path((root), (rel), NULL, (rows), 0, (startup), (total), (pathkeys), (required_outer), NULL, NIL, (private))
#elif PG_VERSION_NUM >= 170000
#define lemlist_create_foreignscan_path(root, rel, rows, startup, total, pathkeys, required_outer, private) \
	create_foreignscan_path((root), (rel), NULL, (rows), (startup), (total), (pathkeys), (required_outer), NULL, NIL, (private))
#else
#define lemlist_create_foreignscan_path(root, rel, rows, startup, total, pathkeys, required_outer, private) \
	create_foreignscan_path((root), (rel), NULL, (rows), (startup), (total), (pathkeys), (required_outer), NULL, (private))
#endif

/* A PathKey's direction: pk_strategy until 17, pk_cmptype since 18. */
#if PG_VERSION_NUM >= 180000
#define lemlist_pathkey_ascending(pk) ((pk)->pk_cmptype == COMPARE_LT)
#define lemlist_pathkey_descending(pk) ((pk)->pk_cmptype == COMPARE_GT)
#else
#define lemlist_pathkey_ascending(pk) ((pk)->pk_strategy == BTLessStrategyNumber)
#define lemlist_pathkey_descending(pk) ((pk)->pk_strategy == BTGreaterStrategyNumber)
#endif

/*
 * Asynchronous foreign scans under an Append (async.c) exist from
 * PostgreSQL 14 on.  The executor's node says whether the scan runs
 * asynchronously.
 */
#if PG_VERSION_NUM >= 140000
#define LEMLIST_HAVE_ASYNC 1
#define lemlist_node_async(node) ((node)->ss.ps.async_capable)
#else
#define lemlist_node_async(node) false
#endif

/* estimate_num_groups() takes an EstimationInfo since PostgreSQL 14. */
#if PG_VERSION_NUM >= 140000
#define lemlist_estimate_num_groups(root, exprs, rows) \
	estimate_num_groups((root), (exprs), (rows), NULL, NULL)
#else
#define lemlist_estimate_num_groups(root, exprs, rows) \
	estimate_num_groups((root), (exprs), (rows), NULL)
#endif

/*
 * lemlist_date2timestamptz returns midnight of a date in the session's time
 * zone, and sets *ok to false when the result is out of range.  From 19 on
 * it calls date2timestamptz_safe() with a soft error context; before 19 it
 * calls date2timestamptz_opt_overflow().
 */
#include "utils/date.h"
#if PG_VERSION_NUM >= 190000
#include "nodes/miscnodes.h"
static inline TimestampTz
lemlist_date2timestamptz(DateADT date, bool *ok)
{
	ErrorSaveContext escontext = {.type = T_ErrorSaveContext};
	TimestampTz ts = date2timestamptz_safe(date, (Node *) &escontext);

	*ok = !escontext.error_occurred;
	return ts;
}
#else
static inline TimestampTz
lemlist_date2timestamptz(DateADT date, bool *ok)
{
	int			overflow = 0;
	TimestampTz ts = date2timestamptz_opt_overflow(date, &overflow);

	*ok = (overflow == 0);
	return ts;
}
#endif

/*
 * Since PostgreSQL 16, a Var above an outer join records which outer joins
 * can make it null: its varnullingrels holds the join's ojrelid.
 */
#if PG_VERSION_NUM >= 160000
#define lemlist_outer_join_relid(sjinfo) ((sjinfo) ? (int) (sjinfo)->ojrelid : 0)
#define lemlist_var_nulled_by(var, ojrelid) \
	do { \
		if ((ojrelid) > 0) \
			(var)->varnullingrels = bms_add_member(bms_copy((var)->varnullingrels), (ojrelid)); \
	} while (0)
#else
#define lemlist_outer_join_relid(sjinfo) 0
#define lemlist_var_nulled_by(var, ojrelid) ((void) (var), (void) (ojrelid))
#endif

/*
 * lemlist_translate_to_child rewrites a clause of an appendrel the way one
 * of its children (at any depth) reads it.  Since 16,
 * adjust_appendrel_attrs_multilevel() takes the RelOptInfos.
 */
#if PG_VERSION_NUM >= 160000
#define lemlist_translate_to_child(root, node, childrel, parentrel) \
	adjust_appendrel_attrs_multilevel((root), (node), (childrel), (parentrel))
#else
#define lemlist_translate_to_child(root, node, childrel, parentrel) \
	adjust_appendrel_attrs_multilevel((root), (node), (childrel)->relids, (parentrel)->relids)
#endif

/* Shared memory is requested from shmem_request_hook since PostgreSQL 15. */
#if PG_VERSION_NUM >= 150000
#define LEMLIST_HAVE_SHMEM_REQUEST_HOOK 1
#define lemlist_reserve_guc_prefix(prefix) MarkGUCPrefixReserved(prefix)
#else
#define lemlist_reserve_guc_prefix(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/*
 * pgstat_report_wait_start() and WaitEventExtensionNew() are declared in
 * utils/wait_event.h from 14 on, and in pgstat.h before.  From 19 on,
 * pgstat.h no longer includes utils/wait_event.h.  An extension can have
 * named wait events of its own since 17.
 */
#if PG_VERSION_NUM >= 140000
#include "utils/wait_event.h"
#else
#include "pgstat.h"
#endif
#if PG_VERSION_NUM >= 170000
#define LEMLIST_HAVE_CUSTOM_WAIT_EVENTS 1
#endif

/* The OID of pg_read_all_stats (DEFAULT_ROLE_READ_ALL_STATS before 14). */
#if PG_VERSION_NUM >= 140000
#define LEMLIST_ROLE_READ_ALL_STATS ROLE_PG_READ_ALL_STATS
#else
#define LEMLIST_ROLE_READ_ALL_STATS DEFAULT_ROLE_READ_ALL_STATS
#endif

/*
 * pg_encoding_verifymbstr() returns the length of the longest valid prefix
 * of a string.  It came in PostgreSQL 14.  On 13, lemlist_verifymbstr does
 * the same walk itself, character by character.
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
 * lemlist_noreturn marks a function that never returns.  It goes first in
 * the function's declaration: PostgreSQL 18's pg_noreturn is a C11 function
 * specifier, and before 18 it is GCC's attribute, which may also go first.
 */
#if PG_VERSION_NUM >= 180000
#define lemlist_noreturn pg_noreturn
#else
#define lemlist_noreturn pg_attribute_noreturn()
#endif

/*
 * The btree comparisons that an operator takes part in.  Since PostgreSQL
 * 18, they are given as a generic comparison type, over the opfamilies of
 * ordering index methods (among the built-in methods, btree is one).  The
 * values COMPARE_LT .. COMPARE_GT of that type are the btree strategy
 * numbers 1 .. 5, as access/cmptype.h says.  These macros are for files
 * that include utils/lsyscache.h.
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

/*
 * SHA-256 digests use pg_cryptohash from 14 on (it may use OpenSSL, and it
 * may fail), and the built-in pg_sha256 functions before.
 */
#if PG_VERSION_NUM >= 140000
#include "common/cryptohash.h"
#include "common/sha2.h"

typedef struct LemlistSha256
{
	pg_cryptohash_ctx *ctx;
} LemlistSha256;

static inline void
lemlist_sha256_init(LemlistSha256 *h)
{
	h->ctx = pg_cryptohash_create(PG_SHA256);
	if (h->ctx == NULL || pg_cryptohash_init(h->ctx) < 0)
		elog(ERROR, "could not compute a SHA-256 digest");
}

static inline void
lemlist_sha256_update(LemlistSha256 *h, const void *data, size_t len)
{
	if (pg_cryptohash_update(h->ctx, (const uint8 *) data, len) < 0)
		elog(ERROR, "could not compute a SHA-256 digest");
}

static inline void
lemlist_sha256_final(LemlistSha256 *h, uint8 *out)
{
	if (pg_cryptohash_final(h->ctx, out, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute a SHA-256 digest");
	pg_cryptohash_free(h->ctx);
	h->ctx = NULL;
}
#else
#include "common/sha2.h"

typedef struct LemlistSha256
{
	pg_sha256_ctx ctx;
} LemlistSha256;

#define lemlist_sha256_init(h) pg_sha256_init(&(h)->ctx)
#define lemlist_sha256_update(h, data, len) \
	pg_sha256_update(&(h)->ctx, (const uint8 *) (data), (len))
#define lemlist_sha256_final(h, out) pg_sha256_final(&(h)->ctx, (out))
#endif

/* Whether the current user owns a foreign server (object_ownercheck from 16). */
#if PG_VERSION_NUM >= 160000
#define lemlist_server_ownercheck(srvid) \
	object_ownercheck(ForeignServerRelationId, (srvid), GetUserId())
#else
#define lemlist_server_ownercheck(srvid) \
	pg_foreign_server_ownercheck((srvid), GetUserId())
#endif

/* This backend's PGPROC number (MyProcNumber from 17 on). */
#if PG_VERSION_NUM >= 170000
#define lemlist_my_procno() ((int) MyProcNumber)
#define LEMLIST_HAVE_DSM_REGISTRY 1
#else
#define lemlist_my_procno() (MyProc->pgprocno)
#endif

/*
 * lemlist_new_tranche creates a new LWLock tranche, and
 * lemlist_register_tranche gives it its name in this backend (for
 * pg_stat_activity).  From 19 on, a tranche is named once for the whole
 * cluster; before 19, every backend names it.
 */
#if PG_VERSION_NUM >= 190000
#define lemlist_new_tranche(name) LWLockNewTrancheId(name)
#define lemlist_register_tranche(id, name) ((void) (id), (void) (name))
#else
#define lemlist_new_tranche(name) ((void) (name), LWLockNewTrancheId())
#define lemlist_register_tranche(id, name) LWLockRegisterTranche((id), (name))
#endif

/*
 * A segment of the DSM registry, set up by the callback init, which takes
 * no extra argument.
 */
#if PG_VERSION_NUM >= 170000
#include "storage/dsm_registry.h"
#endif
#if PG_VERSION_NUM >= 190000
#define LEMLIST_DSM_INIT_ARGS(ptr) void *ptr, void *lemlist_unused_arg
#define lemlist_named_dsm_segment(name, size, init, found) \
	GetNamedDSMSegment((name), (size), (init), (found), NULL)
#elif PG_VERSION_NUM >= 170000
#define LEMLIST_DSM_INIT_ARGS(ptr) void *ptr
#define lemlist_named_dsm_segment(name, size, init, found) \
	GetNamedDSMSegment((name), (size), (init), (found))
#endif

#endif							/* LEMLIST_COMPAT_H */
