// Random insert / get / delete throughput of headhunter at 10^4, 10^5 and 10^6
// keys, with the node cache at 10% of the tree's stored size (so most reads of
// a large tree go to the object store: the fs backend, ranged reads), plus RSS.
//
//   insert  batch() of one put of a new random key (durable: replay log, fsync on)
//   get     tree.get() of a random existing key
//   delete  batch() of one delete of a random existing key (durable)
// Each runs CAIRN_BENCH_SECONDS (default 3) with 64 concurrent clients. "peak
// RSS" is this process after loading (the bulk load's high-water mark);
// "server RSS" a fresh process mounting the volume with the small cache and
// serving gets and inserts (rss-child.ts): what a server needs for it.
// Keys are pseudo-random u64s (+ a short string), values 64 bytes; default shape
// (64 entries per leaf, 128 per index node, 256 KiB max node).
//
// Prints a table and writes bench/results/headhunter-ops.json.
// Usage: npx tsx bench/headhunter/ops.ts [sizes, e.g. 10000,100000]

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { benchKey, bulkLoad, makeBenchVolume, printTable, ROOT, rssMiB, timed, VALUE, writeResults } from './common.js';

/** Memory of a fresh process serving the volume (rss-child.ts): no bulk-load high-water mark. */
function steadyMemory(dir: string, cacheBytes: number, size: number): { rssMiB: number; heapMiB: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/headhunter/rss-child.ts'), dir, String(cacheBytes), String(size)], {
    cwd: ROOT, encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`rss-child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { rssMiB: number; heapMiB: number };
}

const SECONDS = Number(process.env['CAIRN_BENCH_SECONDS'] ?? '3');
const SIZES = (process.argv[2] ?? '10000,100000,1000000').split(',').map(Number);
const CLIENTS = 64;

const rows: Array<Record<string, string | number>> = [];
for (const size of SIZES) {
  const v = await makeBenchVolume({ checkpointLogBytes: 32 * 1024 * 1024 });
  const t0 = Date.now();
  await bulkLoad(v.db, 0, size);
  await v.db.checkpoint();
  const loadSecs = (Date.now() - t0) / 1000;
  const treeBytes = v.db.stats().liveBytes;
  const cacheBytes = Math.floor(treeBytes * 0.1);
  await v.remount({ cacheBytes });
  // Warm the cache a little (index nodes), as a serving volume would be.
  for (let i = 0; i < 2000; i++) await v.db.tree('t').get(benchKey(Math.floor(Math.random() * size)));
  const loads0 = v.db.stats().loader.loads;
  const peakRss = rssMiB();
  const get = await timed(CLIENTS, SECONDS * 1000, () => v.db.tree('t').get(benchKey(Math.floor(Math.random() * size))));
  const getLoads = v.db.stats().loader.loads - loads0;
  let next = size;
  const cp0 = v.db.stats().checkpoint.published;
  const insert = await timed(CLIENTS, SECONDS * 1000, () => v.db.batch([{ type: 'put', tree: 't', key: benchKey(next++), value: VALUE }]));
  const del = await timed(CLIENTS, SECONDS * 1000, () => v.db.batch([{ type: 'del', tree: 't', key: benchKey(Math.floor(Math.random() * size)) }]));
  const checkpoints = v.db.stats().checkpoint.published - cp0;
  await v.db.checkpoint();
  const report = await v.db.check();
  await v.db.close();
  await v.log.close();
  await v.store.close();
  const steady = steadyMemory(v.dir, cacheBytes, size);
  rows.push({
    keys: size,
    'load s': loadSecs,
    'tree MiB': treeBytes / 2 ** 20,
    'cache MiB': cacheBytes / 2 ** 20,
    height: report.trees.t?.height ?? 0,
    'insert/s': insert.opsPerSec,
    'ins p99 ms': insert.p99,
    'get/s': get.opsPerSec,
    'get p99 ms': get.p99,
    'loads/get': getLoads / get.ops,
    'delete/s': del.opsPerSec,
    'del p99 ms': del.p99,
    'ckpts during ins+del': checkpoints,
    'peak RSS MiB': peakRss,
    'server RSS MiB': steady.rssMiB,
    'server heap MiB': steady.heapMiB,
    'check errs': report.errors.length,
  });
  await v.destroy();
}
printTable(`headhunter random ops, cache = 10% of the tree, ${CLIENTS} clients, ${SECONDS} s each`, rows);
writeResults('headhunter-ops', rows);
