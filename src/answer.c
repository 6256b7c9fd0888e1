/*-------------------------------------------------------------------------
 *
 * answer.c
 *		  Checking the answer to a stats batch, and reporting its errors[]
 *
 * Nothing a scan returns is ever silently partial: each batch's answer must
 * account for every campaign it asked for, either in results[] or in
 * errors[], and must not bring campaigns nobody asked for; an answer that
 * does not is an ERROR (a transport failure that survives the retries
 * already is one, in http.c).  errors[] entries then surface as the
 * "campaign_errors" option says: NOTICE, WARNING or ERROR.
 *
 * Neither function looks at a scan's state: they take the IDs the batch
 * asked for, the parsed answer and the option's value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lemlist_fdw.h"

/*
 * find_id
 *		Position of an ID in an array, or -1.  Batches hold at most 100 IDs.
 */
static int
find_id(char **ids, int nids, const char *id)
{
	for (int i = 0; i < nids; i++)
	{
		if (strcmp(ids[i], id) == 0)
			return i;
	}
	return -1;
}

/*
 * lemlist_check_batch_complete
 *		A batch's answer must cover exactly what it asked for: each requested
 *		campaign once, in results[] or in errors[], and nothing else.
 */
void
lemlist_check_batch_complete(char **ids, int nids, const LemlistParsed *parsed)
{
	int		   *seen = palloc0(sizeof(int) * nids);
	ListCell   *lc;

	foreach(lc, parsed->result_ids)
	{
		const char *id = lfirst(lc);
		int			pos = find_id(ids, nids, id);

		if (pos < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("invalid response from lemlist"),
					 errdetail("Campaign \"%s\" is in the response but was not requested.",
							   lemlist_network_cstring(id, LEMLIST_TEXT_ID_BYTES))));
		if (seen[pos]++)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("invalid response from lemlist"),
					 errdetail("Campaign \"%s\" appears more than once in the results.",
							   lemlist_network_cstring(id, LEMLIST_TEXT_ID_BYTES))));
	}
	foreach(lc, parsed->errors)
	{
		LemlistCampaignError *err = lfirst(lc);
		int			pos = find_id(ids, nids, err->campaign_id);

		if (pos < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("invalid response from lemlist"),
					 errdetail("Campaign \"%s\" is in the errors but was not requested.",
							   lemlist_network_cstring(err->campaign_id, LEMLIST_TEXT_ID_BYTES))));
		seen[pos]++;
	}
	for (int i = 0; i < nids; i++)
	{
		if (!seen[i])
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("incomplete response from lemlist"),
					 errdetail("Campaign \"%s\" was requested but is neither in the results nor in the errors.",
							   lemlist_network_cstring(ids[i], LEMLIST_TEXT_ID_BYTES))));
	}
}

/*
 * lemlist_report_campaign_errors
 *		Surface errors[] as the "campaign_errors" option says.
 */
void
lemlist_report_campaign_errors(LemlistCampaignErrors campaign_errors, List *errors)
{
	ListCell   *lc;
	int			level;

	switch (campaign_errors)
	{
		case LEMLIST_ERRORS_WARNING:
			level = WARNING;
			break;
		case LEMLIST_ERRORS_ERROR:
			level = ERROR;
			break;
		default:
			level = NOTICE;
			break;
	}

	foreach(lc, errors)
	{
		LemlistCampaignError *err = lfirst(lc);

		ereport(level,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("lemlist returned no statistics for campaign \"%s\"",
						lemlist_network_cstring(err->campaign_id, LEMLIST_TEXT_ID_BYTES)),
				 errdetail_internal("%s", lemlist_network_cstring(err->message,
																  LEMLIST_TEXT_MESSAGE_BYTES)),
				 level == ERROR ?
				 errhint("Set the option \"campaign_errors\" to \"notice\" or \"warning\" to skip such campaigns.") : 0));
	}
}
