// Durable commits per second: batch() of three puts (an inode-sized 128-byte
// value, a 32-byte directory entry, a 24-byte extent) into a 100,000-key volume,
// acknowledged only once the replay log made the record durable (fdatasync,
// group commit), with 1, 16 and 256 concurrent writers. Checkpoints run as
// configured by default (every 10 s, or when the log passes 64 MiB).
//
// Prints a table and writes bench/results/headhunter-commit.json.
// Usage: npx tsx bench/headhunter/commit.ts   (CAIRN_BENCH_SECONDS, default 4)

import { encodeKey } from '../../packages/headhunter/src/index.js';
import { bulkLoad, makeBenchVolume, printTable, timed, writeResults } from './common.js';

const SECONDS = Number(process.env['CAIRN_BENCH_SECONDS'] ?? '4');
const WRITERS = [1, 16, 256];
const INODE = Buffer.alloc(128, 1);
const DIRENT = Buffer.alloc(32, 2);
const EXTENT = Buffer.alloc(24, 3);

const v = await makeBenchVolume();
await bulkLoad(v.db, 0, 100_000);
await v.db.checkpoint();
const rows: Array<Record<string, string | number>> = [];
let ino = 1_000_000;
for (const writers of WRITERS) {
  const s0 = v.log.stats();
  const c0 = v.db.stats().checkpoint.published;
  const r = await timed(writers, SECONDS * 1000, () => {
    const i = ino++;
    return v.db.batch([
      { type: 'put', tree: 't', key: encodeKey([i, 'inode']), value: INODE },
      { type: 'put', tree: 't', key: encodeKey([i % 1000, 'dir', `file-${i}`]), value: DIRENT },
      { type: 'put', tree: 't', key: encodeKey([i, 'extent', 0]), value: EXTENT },
    ]);
  });
  const s1 = v.log.stats();
  const fsyncs = s1.fsyncs - s0.fsyncs;
  rows.push({
    writers,
    'commits/s': r.opsPerSec,
    'p50 ms': r.p50,
    'p99 ms': r.p99,
    'commits/fsync': fsyncs > 0 ? r.ops / fsyncs : 0,
    'fsync p50 us': s1.fsyncMicrosP50,
    checkpoints: v.db.stats().checkpoint.published - c0,
  });
}
const errs = (await v.db.check()).errors.length;
await v.destroy();
printTable(`headhunter durable commits (3 puts each), ${SECONDS} s per row; check() errors after: ${errs}`, rows);
writeResults('headhunter-commit', rows);
