/*-------------------------------------------------------------------------
 *
 * async.c
 *		  lemlist scans that run at once under an Append (PostgreSQL 14 and
 *		  later)
 *
 * An agency puts its client teams together with a UNION ALL or a
 * partitioned table: one lemlist scan per team, each paced by its own key.
 * Run one after the other, the teams' requests would wait for each other
 * for nothing.  Under an Append, PostgreSQL asks its asynchronous children
 * for rows, and waits on one descriptor per child until one of them may have
 * some.  A lemlist scan answers from the rows it holds, or from an answer
 * curl has already brought, and never waits itself: every scan's requests
 * are on the backend's one curl multi handle, so whichever scan drives curl
 * moves all of them on.  Its descriptor (lemlist_http_wait_fd) becomes
 * readable when curl's sockets have something, when curl's timer or pacing
 * says to look again, or after a tenth of a second, so that a cancel is
 * seen.
 *
 * The option async_capable (server or table, default true) lets the planner
 * make a scan asynchronous; a MergeAppend, a scan on PostgreSQL 13 and a
 * scan not under an Append run synchronously, as before.
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

static void produce(AsyncRequest *areq);

/*
 * lemlist_async_capable
 *		IsForeignPathAsyncCapable: what the option async_capable says
 */
bool
lemlist_async_capable(ForeignPath *path)
{
	return lemlist_rel_async_capable(path->path.parent);
}

/*
 * lemlist_async_request
 *		ForeignAsyncRequest: a row if one is at hand, else a callback later
 */
void
lemlist_async_request(AsyncRequest *areq)
{
	produce(areq);
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
 *		ForeignAsyncNotify: the descriptor is readable, look again
 */
void
lemlist_async_notify(AsyncRequest *areq)
{
	CHECK_FOR_INTERRUPTS();
	produce(areq);
}

/*
 * produce
 *		Hand the Append the scan's next row, or say that it has ended, or
 *		that a callback will come
 *
 * The node's own executor function applies its quals and projection; the
 * scan returns an empty slot when it has no row at hand.
 */
static void
produce(AsyncRequest *areq)
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
