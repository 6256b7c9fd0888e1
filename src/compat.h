/*-------------------------------------------------------------------------
 *
 * compat.h
 *		  What differs between the PostgreSQL majors lemlist_fdw builds on
 *
 * Included by lemlist_fdw.h, so by every file; no other file tests
 * PG_VERSION_NUM (libcurl's versions are tested in http.c, which alone
 * includes curl.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEMLIST_COMPAT_H
#define LEMLIST_COMPAT_H

/*
 * Version differences (PostgreSQL 13 to 19) live here and nowhere else.
 * Compiled and tested on 13, 15, 17, 18 and 19 (test/matrix.sh); the 14 and
 * 16 branches follow the server headers' history:
 *
 *	14	pull_varnos() takes the PlannerInfo; pg_encoding_verifymbstr();
 *		estimate_num_groups() takes an EstimationInfo;
 *		utils/wait_event.h; ROLE_PG_* names the predefined roles
 *	15	shmem_request_hook; MarkGUCPrefixReserved
 *	16	ForeignScan's checkAsUser (the range table entry's is gone);
 *		varnullingrels and the outer join's ojrelid
 *	17	create_foreignscan_path() takes fdw_restrictinfo; custom wait events
 *		(WaitEventExtensionNew)
 *	18	create_foreignscan_path() takes disabled_nodes; ExplainState and the
 *		ExplainProperty functions in headers of their own; pg_noreturn, a
 *		prefix, instead of pg_attribute_noreturn(); get_op_index_interpretation()
 *		instead of get_op_btree_interpretation()
 *	19	headers include less: limits.h, access/htup_details.h and
 *		utils/wait_event.h where used; date2timestamptz_safe() instead of
 *		date2timestamptz_opt_overflow()
 */
#if PG_VERSION_NUM < 130000
#error "lemlist_fdw requires PostgreSQL 13 or later"
#endif

/* ExplainState and the ExplainProperty functions (18: headers of their own) */
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
#define lemlist_create_foreignscan_path(root, rel, rows, startup, total, required_outer, private) \
	create_foreignscan_path((root), (rel), NULL, (rows), 0, (startup), (total), NIL, (required_outer), NULL, NIL, (private))
#elif PG_VERSION_NUM >= 170000
#define lemlist_create_foreignscan_path(root, rel, rows, startup, total, required_outer, private) \
	create_foreignscan_path((root), (rel), NULL, (rows), (startup), (total), NIL, (required_outer), NULL, NIL, (private))
#else
#define lemlist_create_foreignscan_path(root, rel, rows, startup, total, required_outer, private) \
	create_foreignscan_path((root), (rel), NULL, (rows), (startup), (total), NIL, (required_outer), NULL, (private))
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
 * A date's midnight in the session's time zone, *ok cleared when out of
 * range: date2timestamptz_safe() with a soft error context from 19 on,
 * date2timestamptz_opt_overflow() before.
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
 * Vars above an outer join say which outer joins can null them
 * (varnullingrels, the join's ojrelid) since PostgreSQL 16.
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

#endif							/* LEMLIST_COMPAT_H */
