// Child process of crash.test.ts: mounts the volume in CAIRN_CRASH_ROOT (fs
// object store + replay log) and commits batches from several concurrent
// writers until it is killed. Each writer w owns its keys and resumes after the
// last batch that survived. Lines on stdout, printed only after the event:
//   open                      mounted (recovery finished)
//   I <w> <n>                 about to commit batch n of writer w
//   A <w> <n>                 batch n of writer w was acknowledged (durable)
//   N <nonce>                 nextNonce() handed out this nonce
// stdout to a pipe is written synchronously on Linux, so a line printed before
// SIGKILL reaches the parent.

import { join } from 'node:path';
import { createFsStore } from '../../packages/objstore/src/index.js';
import { openReplayLog } from '../../packages/replaylog/src/index.js';
import { encodeKey, failpointsFromEnv, formatVolume, openVolume } from '../../packages/headhunter/src/index.js';
import { batchOps, cntKey } from './crash-model.js';

const root = process.env['CAIRN_CRASH_ROOT'];
if (!root) throw new Error('CAIRN_CRASH_ROOT is not set');
const writers = Number(process.env['CAIRN_CRASH_WRITERS'] ?? '8');

const store = createFsStore({ root: join(root, 'store') });
const log = await openReplayLog({ dir: join(root, 'log') });
const container = store.container('vol');
if ((await container.list({ prefix: 'meta/checkpoints/', limit: 1 }).catch(() => ({ entries: [] }))).entries.length === 0) {
  await formatVolume({ container, trees: ['t', 'u'], leafMaxEntries: 16, indexMaxEntries: 16, maxNodeBytes: 64 * 1024 });
}
const db = await openVolume({
  container,
  log,
  checkpointIntervalMs: 100,
  checkpointLogBytes: 64 * 1024,
  nonceRange: 16,
  cacheBytes: 64 * 1024,
  deletesPerSecond: 500,
  failpoints: failpointsFromEnv(),
});
const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
out('open');

async function writer(w: number): Promise<void> {
  const cur = await db.tree('t').get(cntKey(w));
  let n = cur === undefined ? 0 : cur.readUInt32BE(0) + 1;
  for (;;) {
    out(`I ${w} ${n}`);
    await db.batch(batchOps(w, n));
    out(`A ${w} ${n}`);
    n++;
  }
}

async function nonces(): Promise<void> {
  for (;;) {
    const x = await db.nextNonce();
    out(`N ${x}`);
    await new Promise((r) => setTimeout(r, Math.random() * 10));
  }
}

async function snapshots(): Promise<void> {
  for (let i = 0; ; i++) {
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    const names = db.listSnapshots().map((s) => s.name);
    if (names.length >= 2) await db.deleteSnapshot(names[0]!);
    await db.createSnapshot(`s-${process.pid}-${i}`);
    // Read a little through a snapshot so that its nodes are loaded too.
    const view = db.snapshot(`s-${process.pid}-${i}`);
    await view.tree('u').scan({ gte: encodeKey([Math.floor(Math.random() * 97)]), limit: 5 });
    view.release();
  }
}

const jobs = [nonces(), snapshots()];
for (let w = 0; w < writers; w++) jobs.push(writer(w));
await Promise.all(jobs).catch((err: unknown) => {
  process.stderr.write(`child failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(3);
});
