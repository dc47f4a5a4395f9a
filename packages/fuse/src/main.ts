#!/usr/bin/env tsx
// `cairn mount VOLUME MOUNTPOINT --host --port --secret`: the runnable entry
// (tsx packages/fuse/src/main.ts VOLUME MOUNTPOINT ...). SIGINT and SIGTERM
// unmount cleanly; a second one exits at once. The cairn CLI calls
// runMountCommand() itself.

import { runMountCommand } from './command.js';

const abort = new AbortController();
let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (++signals > 1) process.exit(130);
    abort.abort();
  });
}

runMountCommand(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  signal: abort.signal,
}).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`cairn mount: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
