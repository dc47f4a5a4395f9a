#!/usr/bin/env tsx
// cairn — the command-line client of cairnd's management API. `cairn --help` lists the verbs.

import { runCli } from './cli.js';

const abort = new AbortController();
process.on('SIGINT', () => {
  if (abort.signal.aborted) process.exit(130);
  abort.abort();
});
runCli(process.argv.slice(2), {
  stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), isTTY: process.stdout.isTTY === true, signal: abort.signal,
}).then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  process.stderr.write(`cairn: ${String(err)}\n`);
  process.exitCode = 1;
});
