// The crash test's child process: mounts the volume (fs object store, replay
// log on local disk, every sync on), learns the tree, then runs random
// operations one at a time until it is killed. It prints one JSON line per
// step on stdout — {"begin": op} before an operation starts, {"ack": n} only
// after it returned (a write: after its fsync returned) — so that every "ack"
// the test reads is an operation the filesystem acknowledged.
//
// Usage: crash-child <store dir> <log dir> <cycle> <seed>

import { mountFilesystem } from '@cairn/inode';
import { createFsStore } from '@cairn/objstore';
import { applyOp, fsSnapshot, nextOp, Rng, runOp } from './crash-model.js';

const [storeDir, logDir, cycleArg, seedArg] = process.argv.slice(2);
if (storeDir === undefined || logDir === undefined || cycleArg === undefined || seedArg === undefined) {
  process.stderr.write('usage: crash-child <store dir> <log dir> <cycle> <seed>\n');
  process.exit(2);
}

function say(v: unknown): void {
  // A pipe write is synchronous on Linux: once this returns, the line survives SIGKILL.
  process.stdout.write(`${JSON.stringify(v)}\n`);
}

const rng = new Rng(Number(seedArg));
const fs = await mountFilesystem({
  store: createFsStore({ root: storeDir }),
  volume: 'crash',
  logDir,
  headhunter: { checkpointIntervalMs: 50 + rng.int(400), retainCheckpoints: 2 },
  segments: { maxFlushSize: 64 * 1024, maxFlushTimeMs: 20 + rng.int(200) },
  journal: { compactIntervalMs: 100, minEntries: 20, horizonMs: 0 },
  segmentReclaimIntervalMs: 100,
});
const { model } = await fsSnapshot(fs);
say({ ready: true });
let k = 0;
const fresh = (): string => `c${cycleArg}n${k++}`;
for (let n = 0; ; n++) {
  const op = nextOp(model, rng, fresh);
  say({ begin: op });
  await runOp(fs, op);
  applyOp(model, op);
  say({ ack: n });
}
