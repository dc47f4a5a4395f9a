// Checkpoint cost after 1,000 changes, in volumes of 10^4, 10^5 and 10^6 keys:
// the time of checkpoint() and the bytes it writes (node object + record). A
// copy-on-write checkpoint writes only the nodes on the changed paths, so both
// must stay flat as the volume grows (at most one leaf per change plus the
// index nodes above them; the record grows only with the number of node
// objects). Each size: load, checkpoint, then CAIRN_BENCH_ROUNDS (default 5)
// rounds of 1,000 random updates (batches of 10) + checkpoint; median reported.
// `compacted KiB` is what compaction rewrote per checkpoint (the live nodes of
// sparse node objects, bounded per checkpoint), `stored/live` the node bytes
// of every object not yet deleted over the live ones at the end.
// CAIRN_BENCH_COMPACT_BELOW sets compactBelow (0: compaction off, the baseline).
//
// Prints a table and writes bench/results/headhunter-checkpoint.json.
// Usage: npx tsx bench/headhunter/checkpoint.ts [sizes]

import { benchKey, bulkLoad, makeBenchVolume, printTable, writeResults } from './common.js';

const SIZES = (process.argv[2] ?? '10000,100000,1000000').split(',').map(Number);
const ROUNDS = Number(process.env['CAIRN_BENCH_ROUNDS'] ?? '5');
const CHANGES = 1000;
const COMPACT_BELOW = process.env['CAIRN_BENCH_COMPACT_BELOW'];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: Array<Record<string, string | number>> = [];
for (const size of SIZES) {
  const v = await makeBenchVolume({
    checkpointLogBytes: 1 << 30, checkpointDirtyBytes: 1 << 30, checkpointIntervalMs: 3_600_000,
    ...(COMPACT_BELOW !== undefined ? { compactBelow: Number(COMPACT_BELOW) } : {}),
  });
  await bulkLoad(v.db, 0, size);
  const full = await v.db.checkpoint();
  const ms: number[] = [];
  const nodeBytes: number[] = [];
  const recordBytes: number[] = [];
  const nodes: number[] = [];
  const compacted: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (let c = 0; c < CHANGES; c += 10) {
      const ops = [];
      for (let j = 0; j < 10; j++) ops.push({ type: 'put' as const, tree: 't', key: benchKey(Math.floor(Math.random() * size)), value: Buffer.alloc(64, r + 1) });
      await v.db.batch(ops);
    }
    const info = await v.db.checkpoint();
    ms.push(info.durationMs);
    nodeBytes.push(info.nodeBytes);
    recordBytes.push(info.recordBytes);
    nodes.push(info.nodes);
    compacted.push(info.compactedBytes);
  }
  const report = await v.db.check();
  if (!report.ok) throw new Error(`check() failed: ${report.errors.slice(0, 3).join('; ')}`);
  const height = report.trees.t!.height;
  rows.push({
    keys: size,
    'full ckpt MiB': full.nodeBytes / 2 ** 20,
    'full ckpt ms': full.durationMs,
    height,
    'nodes written': median(nodes),
    'node KiB': median(nodeBytes) / 1024,
    'record KiB': median(recordBytes) / 1024,
    'ckpt ms': median(ms),
    'max ckpt ms': Math.max(...ms),
    'compacted KiB': median(compacted) / 1024,
    'live objects': v.db.stats().liveObjects,
    'stored/live': v.db.stats().storedBytes / v.db.stats().liveBytes,
  });
  await v.destroy();
}
printTable(`headhunter checkpoint after ${CHANGES} random updates (median of ${ROUNDS})`, rows);
writeResults('headhunter-checkpoint', rows);
