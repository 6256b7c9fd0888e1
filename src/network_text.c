/*-------------------------------------------------------------------------
 *
 * network_text.c
 *		  Make text that came from the network safe to put in a message
 *
 * Anything that lemlist (or a proxy or gateway in front of it) sends back
 * can end up in an ERROR, a NOTICE or a log line: an HTTP body, an
 * errors[] message, a campaign ID, curl's error buffer.  Such text may echo
 * the API key, so every piece of it goes through lemlist_network_text
 * before it reaches ereport or elog.  That function masks every API key
 * this backend has used: the key as it is, the base64 "Basic" credentials
 * made from it, and the key as JSON or percent-encoding would write it.
 * It also turns control characters into spaces, turns bytes that are not
 * valid in the database encoding into '?', and cuts the text, on a
 * character boundary, at a size the caller gives.
 *
 * Design rules:
 *
 * - The keys are masked before anything else: neither a cut nor a replaced
 *	 byte may leave part of a key in view.
 * - Every occurrence is masked, inside words too: a key is a secret
 *	 whatever surrounds it.
 * - The keys live in TopMemoryContext, since the user mapping cache keeps
 *	 them anyway.  At most MAX_KEYS keys are remembered; the oldest is
 *	 forgotten first.
 *
 * IDENTIFICATION
 *		  src/network_text.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "lemlist_fdw.h"

/* How many keys a backend remembers for masking. */
#define MAX_KEYS			32
/* The largest number of forms of one key that are masked. */
#define MAX_FORMS			8

/* The text that replaces a key. */
#define KEY_MASK			"<api_key>"

typedef struct KeyForms
{
	int			nforms;
	char	   *forms[MAX_FORMS];	/* in TopMemoryContext */
	int			lens[MAX_FORMS];
} KeyForms;

static KeyForms keys[MAX_KEYS];
static int	nkeys = 0;
static int	longest_form = 0;	/* length of the longest form of any key */

static char *base64_credentials(const char *key);
static char *json_escaped(const char *key, bool escape_slash, const char *ascii_format);
static char *percent_encoded(const char *key);
static void add_form(KeyForms *k, char *form);
static char *mask_keys(const char *s, size_t len, size_t *outlen);

/*
 * lemlist_remember_key
 *		From now on, mask key in all network text this backend prints
 */
void
lemlist_remember_key(const char *key)
{
	KeyForms   *k;
	MemoryContext oldcxt;

	if (key == NULL || key[0] == '\0')
		return;
	for (int i = 0; i < nkeys; i++)
	{
		if (strcmp(keys[i].forms[0], key) == 0)
			return;
	}

	if (nkeys == MAX_KEYS)
	{
		/* forget the oldest */
		for (int f = 0; f < keys[0].nforms; f++)
			pfree(keys[0].forms[f]);
		memmove(&keys[0], &keys[1], sizeof(KeyForms) * (MAX_KEYS - 1));
		nkeys--;
	}

	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	k = &keys[nkeys];
	k->nforms = 0;
	add_form(k, pstrdup(key));
	add_form(k, base64_credentials(key));
	add_form(k, json_escaped(key, false, NULL));
	add_form(k, json_escaped(key, true, NULL));
	if (pg_verify_mbstr(PG_UTF8, key, (int) strlen(key), true))
	{
		add_form(k, json_escaped(key, false, "\\u%04x"));
		add_form(k, json_escaped(key, false, "\\u%04X"));
	}
	add_form(k, percent_encoded(key));
	MemoryContextSwitchTo(oldcxt);
	nkeys++;

	longest_form = 0;
	for (int i = 0; i < nkeys; i++)
		for (int f = 0; f < keys[i].nforms; f++)
			longest_form = Max(longest_form, keys[i].lens[f]);
}

/*
 * add_form
 *		Add a form of a key, unless the key already has that form
 */
static void
add_form(KeyForms *k, char *form)
{
	for (int f = 0; f < k->nforms; f++)
	{
		if (strcmp(k->forms[f], form) == 0)
		{
			pfree(form);
			return;
		}
	}
	Assert(k->nforms < MAX_FORMS);
	k->forms[k->nforms] = form;
	k->lens[k->nforms] = (int) strlen(form);
	k->nforms++;
}

/*
 * base64_credentials
 *		Return what "Authorization: Basic ..." carries for key: the base64
 *		encoding of ":key"
 */
static char *
base64_credentials(const char *key)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char	   *plain = psprintf(":%s", key);
	size_t		len = strlen(plain);
	StringInfoData out;

	initStringInfo(&out);
	for (size_t i = 0; i < len; i += 3)
	{
		uint32		chunk = (uint32) (unsigned char) plain[i] << 16;
		size_t		n = Min(len - i, 3);

		if (n > 1)
			chunk |= (uint32) (unsigned char) plain[i + 1] << 8;
		if (n > 2)
			chunk |= (uint32) (unsigned char) plain[i + 2];
		appendStringInfoChar(&out, alphabet[(chunk >> 18) & 0x3f]);
		appendStringInfoChar(&out, alphabet[(chunk >> 12) & 0x3f]);
		appendStringInfoChar(&out, n > 1 ? alphabet[(chunk >> 6) & 0x3f] : '=');
		appendStringInfoChar(&out, n > 2 ? alphabet[chunk & 0x3f] : '=');
	}
	pfree(plain);
	return out.data;
}

/*
 * json_escaped
 *		Return key as it appears inside a JSON string (without the quotes)
 *
 * If escape_slash is true, "/" is escaped.  If ascii_format is not NULL,
 * the characters beyond ASCII are escaped with it (lower- or upper-case
 * \uXXXX, with surrogate pairs for characters beyond the BMP); otherwise
 * they are left as they are.
 */
static char *
json_escaped(const char *key, bool escape_slash, const char *ascii_format)
{
	StringInfoData out;

	initStringInfo(&out);
	for (const char *p = key; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c >= 0x80 && ascii_format != NULL)
		{
			pg_wchar	u = utf8_to_unicode((const unsigned char *) p);

			if (u > 0xFFFF)
			{
				appendStringInfo(&out, ascii_format, 0xD800 + ((u - 0x10000) >> 10));
				appendStringInfo(&out, ascii_format, 0xDC00 + ((u - 0x10000) & 0x3FF));
			}
			else
				appendStringInfo(&out, ascii_format, u);
			p += pg_utf_mblen((const unsigned char *) p) - 1;
		}
		else if (c == '"' || c == '\\' || (c == '/' && escape_slash))
		{
			appendStringInfoChar(&out, '\\');
			appendStringInfoChar(&out, (char) c);
		}
		else if (c < 0x20)
			appendStringInfo(&out, "\\u%04x", c);
		else
			appendStringInfoChar(&out, (char) c);
	}
	return out.data;
}

/*
 * percent_encoded
 *		Return key percent-encoded, as a URL's query string would carry it
 */
static char *
percent_encoded(const char *key)
{
	StringInfoData out;

	initStringInfo(&out);
	for (const char *p = key; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			appendStringInfoChar(&out, (char) c);
		else
			appendStringInfo(&out, "%%%02X", c);
	}
	return out.data;
}

/*
 * mask_keys
 *		Return a palloc'd, NUL-terminated copy of s (len bytes) in which every
 *		form of every remembered key is replaced by KEY_MASK
 *
 * *outlen is set to the length of the copy.
 */
static char *
mask_keys(const char *s, size_t len, size_t *outlen)
{
	StringInfoData out;
	size_t		i = 0;

	initStringInfo(&out);
	while (i < len)
	{
		int			matched = 0;

		for (int k = 0; k < nkeys && matched == 0; k++)
		{
			for (int f = 0; f < keys[k].nforms; f++)
			{
				size_t		flen = (size_t) keys[k].lens[f];

				if (flen <= len - i && s[i] == keys[k].forms[f][0] &&
					memcmp(s + i, keys[k].forms[f], flen) == 0)
				{
					matched = (int) flen;
					break;
				}
			}
		}
		if (matched > 0)
		{
			appendStringInfoString(&out, KEY_MASK);
			i += matched;
		}
		else
			appendStringInfoChar(&out, s[i++]);
	}
	*outlen = out.len;
	return out.data;
}

/*
 * lemlist_network_text
 *		Return a palloc'd copy of network text that is safe to put in a
 *		message
 *
 * First every remembered key is masked.  Then control characters other
 * than newline and tab become spaces, at most max bytes are kept (the text
 * is cut at a character boundary and "..." is appended), bytes that are not
 * valid in the database encoding become '?', and trailing white space is
 * trimmed.  Only the first max bytes are examined, plus enough bytes after
 * them to recognize any key that starts within them.
 */
char *
lemlist_network_text(const char *s, size_t len, size_t max)
{
	size_t		scan;
	size_t		n;
	bool		cut;
	char	   *out;

	if (s == NULL)
		len = 0;
	scan = Min(len, max + (size_t) longest_form);
	out = mask_keys(s ? s : "", scan, &n);

	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) out[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			out[i] = ' ';
	}

	cut = n > max || scan < len;
	if (cut)
		n = pg_mbcliplen(out, (int) n, (int) Min(n, max));	/* no partial character */
	if (!pg_verifymbstr(out, (int) n, true))
	{
		for (size_t i = 0; i < n; i++)
			if ((unsigned char) out[i] >= 0x80)
				out[i] = '?';
	}
	while (n > 0 && isspace((unsigned char) out[n - 1]))
		n--;
	out[n] = '\0';
	if (cut)
	{
		out = repalloc(out, n + 4);
		strcat(out, "...");
	}
	return out;
}

/*
 * lemlist_network_cstring
 *		Like lemlist_network_text, for a NUL-terminated string
 */
char *
lemlist_network_cstring(const char *s, size_t max)
{
	return lemlist_network_text(s, s ? strlen(s) : 0, max);
}
