// Child of ops.ts: mounts the benchmark volume in argv[2] in a fresh process
// with the given cache budget (argv[3] bytes), runs random gets and inserts,
// and prints the steady-state memory as JSON: what a server holding this volume
// needs, without the bulk load's high-water mark.

import { join } from 'node:path';
import { createFsStore } from '../../packages/objstore/src/index.js';
import { openReplayLog } from '../../packages/replaylog/src/index.js';
import { openVolume } from '../../packages/headhunter/src/index.js';
import { benchKey, VALUE } from './common.js';

const dir = process.argv[2]!;
const cacheBytes = Number(process.argv[3]);
const size = Number(process.argv[4]);
const store = createFsStore({ root: join(dir, 'store') });
const log = await openReplayLog({ dir: join(dir, 'log'), fsync: false });
const db = await openVolume({ container: store.container('vol'), log, cacheBytes, checkpointOnClose: false });
for (let round = 0; round < 4; round++) {
  await Promise.all(Array.from({ length: 32 }, async (_, w) => {
    for (let i = 0; i < 300; i++) await db.tree('t').get(benchKey(Math.floor(Math.random() * size)));
    for (let i = 0; i < 30; i++) await db.batch([{ type: 'put', tree: 't', key: benchKey(size + round * 100_000 + w * 1000 + i), value: VALUE }]);
  }));
}
const m = process.memoryUsage();
process.stdout.write(`${JSON.stringify({ rssMiB: m.rss / 2 ** 20, heapMiB: m.heapUsed / 2 ** 20, cacheMiB: db.stats().cache.bytes / 2 ** 20 })}\n`);
await db.close();
await log.close();
await store.close();
