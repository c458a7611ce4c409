#!/usr/bin/env node
'use strict';
/*
 * The end-to-end benchmark's Node variant: Fullstory's official Node client
 * (@fullstory/server-api-client, installed by the test suite under
 * tests/conformance/node/node_modules) imports users through batch jobs.
 *
 * Usage: node node_batch.js REQUESTS.ndjson --host http://127.0.0.1:PORT --key KEY
 *        [--poll-ms 1000] [--max-jobs N]
 * REQUESTS.ndjson: one line per job, each {"requests": [...user rows...]}.
 *
 * The file is read and parsed first; the clock starts when every request is in memory (what an
 * SDK user holds before calling it). Then one job per line is created with users.batchCreate,
 * each polled every --poll-ms, and the script waits until every job fired `done` (imports or
 * errors paged by the SDK) or `abort`. The SDK has no concurrency limit of its own: without
 * --max-jobs every job is executed at once. Fullstory refuses creates beyond its cap of rows
 * in progress (429), and the SDK aborts a job after 3 retries (about 7 s), so jobs beyond the
 * cap are lost when the first ones take longer; --max-jobs N keeps N executing and starts the
 * next when one fires `done` or `abort`, as a user facing the cap would write it. The SDK
 * reads FS_API_HOST only with NODE_ENV=test, which this script sets, so it never talks to the
 * real Fullstory.
 *
 * Prints one JSON line: {"seconds", "imported", "failed", "aborted", "jobs", "peak_mib"}.
 * peak_mib: the process's peak resident memory minus its resident memory once the requests
 * are parsed.
 */

const fs = require('node:fs');
const path = require('node:path');

function parseArgs(argv) {
  const args = { file: undefined, host: undefined, key: undefined, pollMs: 1000, maxJobs: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--host') args.host = argv[++i];
    else if (a === '--key') args.key = argv[++i];
    else if (a === '--poll-ms') args.pollMs = Number(argv[++i]);
    else if (a === '--max-jobs') args.maxJobs = Number(argv[++i]);
    else if (!args.file) args.file = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!args.file || !args.host || !args.key) throw new Error('need FILE --host URL --key KEY');
  return args;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  process.env.NODE_ENV = 'test';
  process.env.FS_API_HOST = args.host;
  const sdkDir = path.join(__dirname, '..', 'tests', 'conformance', 'node', 'node_modules');
  const sdk = require(path.join(sdkDir, '@fullstory', 'server-api-client'));

  const bodies = fs.readFileSync(args.file, 'utf8').split('\n')
    .filter((line) => line.trim()).map((line) => JSON.parse(line));
  const rssBefore = process.memoryUsage().rss;
  const start = process.hrtime.bigint();

  const client = sdk.init({ apiKey: args.key });
  let pending = bodies.length;
  let imported = 0;
  let failed = 0;
  let aborted = 0;
  function settle() {
    pending -= 1;
    if (pending > 0) return;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const peakMib = (process.resourceUsage().maxRSS * 1024 - rssBefore) / 2 ** 20;
    const out = { seconds, imported, failed, aborted, jobs: bodies.length, peak_mib: peakMib };
    process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
  }
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`unhandled rejection: ${reason}\n`);
  });
  let next = 0;
  function startNext() {
    if (next >= bodies.length) return;
    const body = bodies[next++];
    const job = client.users.batchCreate({ body }, { pollInterval: args.pollMs });
    job.on('done', (imports, failures) => {
      imported += imports.length;
      failed += failures.length;
      settle();
      startNext();
    });
    job.on('abort', () => { aborted += 1; settle(); startNext(); });
    job.execute();
  }
  const atOnce = args.maxJobs > 0 ? Math.min(args.maxJobs, bodies.length) : bodies.length;
  for (let i = 0; i < atOnce; i++) startNext();
}

main();
