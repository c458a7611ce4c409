#!/usr/bin/env node
'use strict';
/*
 * Print, as one JSON line, the base URL each generated API class of the official Fullstory Node
 * client picks under the current environment (NODE_ENV, FS_API_HOST). Sends no request.
 *
 * Usage: NODE_ENV=test FS_API_HOST=http://127.0.0.1:8080 node base_path.js
 */
const sdk = require('@fullstory/server-api-client');

const opts = { apiKey: 'Basic unused' };
const classes = ['UsersApi', 'UsersBatchImportApi', 'EventsApi', 'EventsBatchImportApi'];
const out = {};
for (const name of classes) {
  out[name] = new sdk[name](opts).basePath;
}
process.stdout.write(JSON.stringify(out) + '\n');
