#!/usr/bin/env node
// test/drivers/node_pg_test.js: lemlist_fdw through node-postgres
//
// What a Node.js dashboard backend sends: parameters without types (node-pg
// binds every value as text of unknown type, and the server infers it),
// JavaScript Dates and arrays as parameters, named prepared statements run
// past PostgreSQL's five custom plans (then a generic plan, whose
// parameters lemlist_fdw evaluates at run time), a LIMIT as a parameter.
// Each case runs the driver's form, then the same query with its values
// written as literals (sent as a simple query, like psql), and checks that
// both return the same rows and send the same requests to the mock, and how
// many.
//
// Run by test/drivers/drivers.sh (PGHOST, PGPORT, PGDATABASE, PGUSER and
// LEMLIST_MOCK_URL from the environment); prints one "ok N - what" or
// "not ok N - what" line per check, exits non-zero when one failed.
'use strict';

const { execFileSync } = require('child_process');
const path = require('path');
const { Client } = require('pg');

const DRIVERLIB = path.join(__dirname, 'driverlib.py');

let count = 0;
let failed = 0;

function ok(passed, what, detail) {
  count += 1;
  console.log(`${passed ? 'ok' : 'not ok'} ${count} - ${what}`);
  if (!passed) {
    failed += 1;
    for (const line of String(detail || '').split('\n'))
      console.log(`#   ${line.length <= 200 ? line : line.slice(0, 200) + '...'}`);
  }
}

// the mock, through driverlib.py (see there)
function freshMock() {
  execFileSync('/usr/bin/python3', [DRIVERLIB, 'fresh']);
}
function mockRequests() {
  const out = execFileSync('/usr/bin/python3', [DRIVERLIB, 'requests'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '');
}

const rowsOf = (result) => result.rows.map((r) => JSON.stringify(r));

function firstDifference(got, want) {
  for (let i = 0; i < Math.min(got.length, want.length); i++)
    if (got[i] !== want[i])
      return `row ${i + 1}: ${got[i]}, where the literal query gives ${want[i]}`;
  return `${got.length} rows, where the literal query gives ${want.length}`;
}

// rows and requests of the driver's form against those of the literal query
async function compare(client, what, rows, requests, literalSql, wantRows, wantRequests) {
  freshMock();
  const litRows = rowsOf(await client.query(literalSql));
  const litRequests = mockRequests();
  ok(rows.length === wantRows, `${what}: ${wantRows} rows`, `got ${rows.length}`);
  ok(JSON.stringify(rows) === JSON.stringify(litRows), `${what}: the rows of the literal query`,
    firstDifference(rows, litRows));
  ok(requests.length === wantRequests, `${what}: ${wantRequests} requests`,
    `got ${requests.length}:\n${requests.join('\n')}`);
  ok(JSON.stringify(requests) === JSON.stringify(litRequests),
    `${what}: the requests of the literal query`,
    `driver:\n${requests.join('\n')}\nliteral:\n${litRequests.join('\n')}`);
}

async function untypedParameters(client) {
  freshMock();
  const r = await client.query(
    'SELECT campaign_id, nb_leads, opened, replied FROM lemlist.campaign_stats' +
    ' WHERE campaign_id = $1 AND start_date >= $2 AND end_date <= $3 AND channel = $4',
    ['cam_00004', '2025-01-10', '2025-05-31T12:00:00Z', 'email']);
  await compare(client, 'untyped parameters', rowsOf(r), mockRequests(),
    "SELECT campaign_id, nb_leads, opened, replied FROM lemlist.campaign_stats" +
    " WHERE campaign_id = 'cam_00004' AND start_date >= '2025-01-10'" +
    " AND end_date <= '2025-05-31T12:00:00Z' AND channel = 'email'", 1, 1);
}

async function dateAndArrayParameters(client) {
  // node-pg writes a Date in the process's local time, with its offset
  process.env.TZ = 'Asia/Kolkata';
  const ids = [];
  for (let i = 200; i < 330; i++) ids.push(`cam_${String(i).padStart(5, '0')}`);
  ids.push('cam_00201', 'cam_00329', 'cam_00201');
  freshMock();
  const r = await client.query(
    'SELECT campaign_id, nb_leads, delivered FROM lemlist.campaign_stats' +
    ' WHERE campaign_id = ANY($1) AND start_date >= $2 AND end_date <= $3 ORDER BY campaign_id',
    [ids, new Date(Date.UTC(2025, 0, 1)), new Date(Date.UTC(2025, 5, 30, 23, 59, 59))]);
  await compare(client, 'a Date and an array as parameters', rowsOf(r), mockRequests(),
    'SELECT campaign_id, nb_leads, delivered FROM lemlist.campaign_stats' +
    ` WHERE campaign_id IN (${ids.map((i) => `'${i}'`).join(', ')})` +
    " AND start_date >= '2025-01-01 00:00:00+00' AND end_date <= '2025-06-30 23:59:59+00'" +
    ' ORDER BY campaign_id', 130, 2);
  process.env.TZ = 'UTC';
}

// seven executions of a named statement: five custom plans, then (with
// plan_cache_mode, as a server may set it) two under PostgreSQL's generic
// plan; run(i, plan) makes and checks one
async function eachPlan(client, run) {
  for (let i = 1; i <= 7; i++) {
    if (i === 6) await client.query('SET plan_cache_mode = force_generic_plan');
    await run(i, i < 6 ? 'custom' : 'generic');
  }
  await client.query('RESET plan_cache_mode');
}

// the rows and requests of query, then of the literal query, each on a
// fresh mock
async function withLiteral(client, query, literal) {
  freshMock();
  const rows = rowsOf(await client.query(query));
  const requests = mockRequests();
  freshMock();
  const litRows = rowsOf(await client.query(literal));
  return { rows, requests, litRows, litRequests: mockRequests() };
}

async function namedPreparedStatements(client) {
  const text = 'SELECT campaign_id, step_index, sent, opened FROM lemlist.campaign_step_stats' +
    ' WHERE campaign_id = $1 AND start_date >= $2 ORDER BY step_index';
  await eachPlan(client, async (i, plan) => {
    const id = `cam_${String(40 + i).padStart(5, '0')}`;
    const r = await withLiteral(client, { name: 'steps_of', text, values: [id, '2025-02-01'] },
      text.replace('$1', `'${id}'`).replace('$2', "'2025-02-01'"));
    ok(r.rows.length >= 2 && JSON.stringify(r.rows) === JSON.stringify(r.litRows) &&
       r.requests.length === 1 && JSON.stringify(r.requests) === JSON.stringify(r.litRequests),
    `execution ${i} of a named prepared statement (${plan} plan): its campaign's steps, one request`,
    `rows ${r.rows.join(' ')}\nliteral ${r.litRows.join(' ')}\nrequests ${r.requests.join('\n')}`);
  });
  const p = await client.query(
    "SELECT count(*)::int AS n, max(to_jsonb(s) ->> 'generic_plans') AS generic" +
    " FROM pg_prepared_statements AS s WHERE name = 'steps_of'");
  ok(p.rows[0].n === 1, 'the statement is prepared on the server, under its name', `${p.rows[0].n}`);
  // (generic_plans is counted from PostgreSQL 14 on)
  ok(p.rows[0].generic === null || Number(p.rows[0].generic) === 2,
    'its last two executions ran a generic plan', `generic_plans ${p.rows[0].generic}`);
}

async function limitParameter(client) {
  // the newest campaigns, the LIMIT a parameter: a custom plan asks for a
  // page of that size; the generic plan, for a page (of 100)
  const text = 'SELECT campaign_id, name, created_at FROM lemlist.campaigns' +
    ' ORDER BY created_at DESC LIMIT $1';
  await eachPlan(client, async (i, plan) => {
    const r = await withLiteral(client, { name: 'newest', text, values: ['5'], rowMode: 'array' },
      { text: text.replace('$1', '5'), rowMode: 'array' });
    ok(JSON.stringify(r.rows) === JSON.stringify(r.litRows) && r.rows.length === 5 &&
       r.requests.length === 1 && /sortBy=createdAt&sortOrder=desc/.test(r.requests[0]),
    `execution ${i} of LIMIT $1 newest first (${plan} plan): the 5 newest, one page`,
    `rows ${r.rows.join(' ')}\nliteral ${r.litRows.join(' ')}\nrequests ${r.requests.join('\n')}`);
  });
}

async function statsPreviewParameter(client) {
  // a GUI's preview with the LIMIT a parameter: a page and a batch, in the
  // custom plans and in the generic plan (planned for a fraction of the rows)
  const text = 'SELECT campaign_id, nb_leads, replied FROM lemlist.campaign_stats LIMIT $1';
  await eachPlan(client, async (i, plan) => {
    const r = await withLiteral(client, { name: 'preview', text, values: [10], rowMode: 'array' },
      { text: text.replace('$1', '10'), rowMode: 'array' });
    ok(JSON.stringify(r.rows) === JSON.stringify(r.litRows) && r.rows.length === 10 &&
       r.requests.length === 2,
    `execution ${i} of a preview with LIMIT $1 (${plan} plan): 10 rows, a page and a batch`,
    `rows ${r.rows.join(' ')}\nliteral ${r.litRows.join(' ')}\nrequests ${r.requests.join('\n')}`);
  });
}

async function main() {
  const client = new Client();
  await client.connect();
  try {
    await client.query("SET TimeZone = 'UTC'");
    for (const c of [untypedParameters, dateAndArrayParameters, namedPreparedStatements,
      limitParameter, statsPreviewParameter])
      await c(client);
  } catch (e) {
    ok(false, 'no error', e.stack);
  } finally {
    await client.end();
  }
  console.log(`# ${count} checks, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main();
