// Mount time: reading the newest checkpoint, loading the roots, replaying the
// replay log after it, claiming the volume. Measured with an empty log and with
// 100,000 log records (single-put commits, 64-byte values) written after the
// checkpoint into a 100,000-key volume, the writer having died (no final
// checkpoint). Reported per 100,000 records.
//
// Prints a table and writes bench/results/headhunter-mount.json.
// Usage: npx tsx bench/headhunter/mount.ts   (CAIRN_BENCH_RECORDS, default 100000)

import { benchKey, bulkLoad, makeBenchVolume, printTable, VALUE, writeResults } from './common.js';

const RECORDS = Number(process.env['CAIRN_BENCH_RECORDS'] ?? '100000');
const BASE = 100_000;

const v = await makeBenchVolume({ checkpointLogBytes: 1 << 30, checkpointDirtyBytes: 1 << 30, checkpointIntervalMs: 3_600_000, checkpointOnClose: false });
await bulkLoad(v.db, 0, BASE);
await v.db.checkpoint();
const emptyMs = await v.remount();
// Commits after the checkpoint, 64 at a time in flight; the instance then "dies" (closed without a checkpoint).
let next = 0;
await Promise.all(Array.from({ length: 64 }, async () => {
  while (next < RECORDS) {
    const i = next++;
    await v.db.batch([{ type: 'put', tree: 't', key: benchKey(BASE + i), value: VALUE }]);
  }
}));
const logBytes = v.log.liveBytes();
const replayMs = await v.remount();
const count = await v.db.tree('t').count();
if (count !== BASE + RECORDS) throw new Error(`mount lost records: ${count} keys, want ${BASE + RECORDS}`);
const rows = [
  { case: 'no log records', records: 0, 'log MiB': 0, 'mount ms': emptyMs, 'ms per 100k records': 0 },
  { case: 'replay', records: RECORDS, 'log MiB': logBytes / 2 ** 20, 'mount ms': replayMs, 'ms per 100k records': ((replayMs - emptyMs) * 100_000) / RECORDS },
];
await v.destroy();
printTable(`headhunter mount + replay (${BASE} keys in the checkpoint)`, rows);
writeResults('headhunter-mount', rows);
