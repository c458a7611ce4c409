#!/usr/bin/env node
'use strict';
/*
 * Run one batch import job through the official Fullstory Node client
 * (@fullstory/server-api-client) and print a JSON summary of what the SDK reported.
 *
 * Usage:
 *   node batch_job.js users|events --host http://127.0.0.1:PORT --key API_KEY < spec.json
 *   (or set FS_API_HOST / FS_API_KEY in the environment instead of --host / --key)
 *
 * spec.json (all fields optional):
 *   {"requests": [...rows...], "shared": {...},   // events only: batch-level shared data
 *    "pollInterval": 50, "maxRetry": 3, "includeSchema": false, "timeoutMs": 20000}
 * With no input on stdin a few sample rows are sent.
 *
 * The SDK only honours FS_API_HOST when NODE_ENV is "test" or "development"
 * (lib/api/**: `if (NODE_ENV === 'development' || 'test') basePath = FS_API_HOST`), otherwise it
 * talks to the production API. This script therefore sets NODE_ENV=test itself and refuses to
 * run without an explicit host, so it can never send anything to the real Fullstory.
 *
 * Output: exactly one JSON line on stdout (the summary); diagnostics go to stderr.
 * Exit code 0 when a summary was printed (whatever the job's outcome), 2 on misuse.
 */

const fs = require('node:fs');
const path = require('node:path');

function usage(msg) {
  process.stderr.write(`batch_job.js: ${msg}\n` +
    'usage: node batch_job.js users|events [--host URL] [--key KEY] < spec.json\n');
  process.exit(2);
}

function parseArgs(argv) {
  const args = { kind: undefined, host: process.env.FS_API_HOST, key: process.env.FS_API_KEY };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--host') args.host = argv[++i];
    else if (a === '--key') args.key = argv[++i];
    else if (!args.kind) args.kind = a;
    else usage(`unexpected argument ${a}`);
  }
  if (args.kind !== 'users' && args.kind !== 'events') usage('kind must be users or events');
  if (!args.host) usage('no host: pass --host or set FS_API_HOST');
  if (!/^https?:\/\/[^/]+$/.test(args.host)) {
    // The SDK builds `${FS_API_HOST}/v2/...` and parses it with new URL(): a scheme is needed and
    // a trailing slash would produce "//v2/..." paths.
    usage(`host must be scheme://host[:port] with no trailing slash, got ${args.host}`);
  }
  if (!args.key) usage('no API key: pass --key or set FS_API_KEY');
  return args;
}

function sampleSpec(kind) {
  if (kind === 'users') {
    return { requests: [
      { uid: 'node-sample-1', display_name: 'Sample One', properties: { plan: 'free' } },
      { uid: 'node-sample-2', email: 'two@example.com', properties: { plan: 'paid' } },
    ] };
  }
  return { requests: [
    { user: { uid: 'node-sample-1' }, name: 'Sample Event', timestamp: '2024-01-02T03:04:05Z',
      properties: { n: 1 } },
  ] };
}

function readSpec(kind) {
  const raw = process.stdin.isTTY ? '' : fs.readFileSync(0, 'utf8');
  return raw.trim() ? JSON.parse(raw) : sampleSpec(kind);
}

function describeError(e) {
  if (!(e instanceof Error)) return { name: typeof e, message: String(e) };
  const out = { name: e.name, message: e.message };
  if (e.httpStatusCode !== undefined) out.httpStatusCode = e.httpStatusCode;
  const payload = e.fsErrorPayload;
  if (payload && typeof payload === 'object') {
    out.code = payload.code;
    out.fsMessage = payload.message;
  }
  if (typeof e.canRetry === 'function') out.canRetry = e.canRetry();
  if (typeof e.getRetryAfter === 'function') out.retryAfterMs = e.getRetryAfter();
  if (e.headers && e.headers['retry-after'] !== undefined) out.retryAfterHeader = e.headers['retry-after'];
  return out;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  // Must be set before the SDK's API classes are constructed: they read it in their constructor.
  process.env.NODE_ENV = 'test';
  process.env.FS_API_HOST = args.host;
  const sdk = require('@fullstory/server-api-client');
  const sdkVersion = JSON.parse(fs.readFileSync(
    path.join(path.dirname(require.resolve('@fullstory/server-api-client')), '..', 'package.json'),
    'utf8')).version;

  const spec = readSpec(args.kind);
  const client = sdk.init({ apiKey: args.key });
  const api = args.kind === 'users' ? client.users : client.events;
  const body = { requests: [] };
  if (spec.shared !== undefined) body.shared = spec.shared;
  const jobOpts = {};
  if (spec.pollInterval !== undefined) jobOpts.pollInterval = spec.pollInterval;
  if (spec.maxRetry !== undefined) jobOpts.maxRetry = spec.maxRetry;
  const job = api.batchCreate({ body, includeSchema: !!spec.includeSchema }, jobOpts);
  // Rows go in through the SDK's own add(); execute() then sends them in one create request.
  job.add(...(spec.requests || []));

  const seen = { created: 0, processing: 0, done: 0, abort: 0, error: 0 };
  const order = [];
  const unhandled = [];
  let finished = false;

  function finish(reason) {
    if (finished) return;
    finished = true;
    const summary = {
      kind: args.kind,
      sdkVersion,
      finish: reason,
      jobId: job.getId() || null,
      status: job.getStatus() || null,
      events: seen,
      order,
      imported: job.getImports(),
      failed: job.getFailedImports(),
      errors: job.errors.map(describeError),
      unhandled,
    };
    process.stdout.write(JSON.stringify(summary) + '\n', () => process.exit(0));
  }

  // The SDK starts promises it never awaits (handleCompleted from the poll timer): a failure
  // while paging results becomes an unhandled rejection. Record it instead of crashing.
  process.on('unhandledRejection', (reason) => {
    unhandled.push(describeError(reason));
    finish('unhandledRejection');
  });
  process.on('uncaughtException', (err) => {
    unhandled.push(describeError(err));
    finish('uncaughtException');
  });
  const timeoutMs = spec.timeoutMs || 20000;
  setTimeout(() => finish('timeout'), timeoutMs).unref();

  job.on('created', () => { seen.created++; order.push('created'); });
  job.on('processing', () => { seen.processing++; order.push('processing'); });
  job.on('error', () => { seen.error++; order.push('error'); });
  job.on('done', () => { seen.done++; order.push('done'); finish('done'); });
  job.on('abort', () => { seen.abort++; order.push('abort'); finish('abort'); });
  job.execute();
}

main();
