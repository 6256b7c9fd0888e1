/*-------------------------------------------------------------------------
 *
 * async.c
 *		  lemlist scans that run at the same time under an Append
 *		  (PostgreSQL 14 and later)
 *
 * An agency may combine its client teams with a UNION ALL or a partitioned
 * table.  Each team then has its own lemlist scan, paced by its own API key.
 * If the scans ran one after the other, the teams' requests would wait for
 * each other for no reason.  Under an Append, PostgreSQL asks its
 * asynchronous children for rows.  It waits on one descriptor per child
 * until one of the children may have rows.  A lemlist scan answers from the
 * rows it already holds, or from an answer that curl has already brought,
 * and it never waits itself.  All scans put their requests on the backend's
 * single curl multi handle, so whichever scan drives curl moves the requests
 * of all scans forward.  The scan's descriptor (lemlist_http_wait_fd)
 * becomes readable when curl's sockets have something, when curl's timer or
 * pacing says to look again, or after a tenth of a second, so that a cancel
 * is noticed.
 *
 * The async_capable option (on the server or the table, default true) lets
 * the planner make a scan asynchronous.  A scan under a MergeAppend, a scan
 * on PostgreSQL 13 and a scan that is not under an Append run synchronously,
 * as before.
 *
 * IDENTIFICATION
 *		  src/async.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lemlist_fdw.h"

#ifdef LEMLIST_HAVE_ASYNC

#include "executor/execAsync.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/latch.h"

/*
 * lemlist_async_capable
 *		IsForeignPathAsyncCapable: whether the async_capable option is on
 */
bool
lemlist_async_capable(ForeignPath *path)
{
	LemlistRelInfo *info = path->path.parent->fdw_private;

	return info != NULL && info->opts.async_capable;
}

/*
 * lemlist_async_configure_wait
 *		ForeignAsyncConfigureWait: wait on the scan's descriptor
 */
void
lemlist_async_configure_wait(AsyncRequest *areq)
{
	ForeignScanState *node = (ForeignScanState *) areq->requestee;
	AppendState *requestor = (AppendState *) areq->requestor;

	AddWaitEventToSet(requestor->as_eventset, WL_SOCKET_READABLE,
					  lemlist_scan_wait_fd(node->fdw_state), NULL, areq);
}

/*
 * lemlist_async_notify
 *		ForeignAsyncNotify: the descriptor has become readable, so look for a
 *		row again
 */
void
lemlist_async_notify(AsyncRequest *areq)
{
	CHECK_FOR_INTERRUPTS();
	lemlist_async_request(areq);
}

/*
 * lemlist_async_request
 *		ForeignAsyncRequest: give the Append the scan's next row if one is
 *		ready, or tell it that the scan has ended, or that a callback will
 *		come later
 *
 * The node's own executor function applies the node's quals and projection.
 * The scan returns an empty slot when it has no row ready.
 */
void
lemlist_async_request(AsyncRequest *areq)
{
	ForeignScanState *node = (ForeignScanState *) areq->requestee;
	TupleTableSlot *result = areq->requestee->ExecProcNodeReal(areq->requestee);

	if (!TupIsNull(result))
		ExecAsyncRequestDone(areq, result);
	else if (lemlist_scan_done(node->fdw_state))
		ExecAsyncRequestDone(areq, NULL);
	else
		ExecAsyncRequestPending(areq);
}

#endif							/* LEMLIST_HAVE_ASYNC */
