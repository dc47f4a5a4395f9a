// Filesystem metadata operations per second, in process, on the fs backend
// with every sync on (replay log fdatasync per group commit, as a daemon runs
// it): create, stat, lookup, readdir of a 10^4-entry directory, rename and
// unlink, with 1 and 64 concurrent callers, in volumes of 10^4 and 10^5 files
// (10^6 with CAIRN_BENCH_INODE_BIG=1; any list with CAIRN_BENCH_INODE_SIZES).
// Next to each: the same operations on SQLite (better-sqlite3, WAL,
// synchronous=FULL, one transaction per operation; sqlite.ts), same run, same
// disk. Also: fsck's speed over the volume, and memory per cached inode (RSS
// and node-cache bytes after stat-ing a set of inodes from a cold mount).
//
// Layout of a volume of N files: /big holds min(N, 10^4) files (the readdir
// directory); the rest are in /d<k>, 1,000 each. Creates go to a fresh
// directory per concurrency; rename renames those new files, unlink removes
// them (so the volume keeps its size). Each measurement runs
// CAIRN_BENCH_SECONDS (default 2) or until its files run out. The volume is
// mounted with a 1 GiB node cache (the default 64 MiB would not hold a
// 10^6-file volume's inodes, and "warm" means cached).
//
// Goals: >= 5x SQLite on durable creates at concurrency 64; >= 200,000
// stats/s warm; <= 1 KiB of RSS per cached inode.
// Prints a table and writes bench/results/inode-ops.json.
// Usage: npx tsx bench/inode/ops.ts

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT_CRED as root, type Filesystem } from '@cairn/inode';
import { fsck, volumeOf } from '../../packages/inode/src/fsck.js';
import { FsReader } from '../../packages/inode/src/reader.js';
import { inodeCodec, inodeKey } from '../../packages/inode/src/records.js';
import { attrOf } from '../../packages/inode/src/stat.js';
import { envNumber, fmt, machine, REPO_ROOT, table, writeResult } from '../lib/report.js';
import { bulkCreate, makeBenchFs, now, pick, timed, type BenchFs, type Timed } from './common.js';
import { loadSqlite, SqliteFs } from './sqlite.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SECONDS = envNumber('CAIRN_BENCH_SECONDS', 2, 0.1);
const MS = SECONDS * 1000;
const SIZES = (process.env['CAIRN_BENCH_INODE_SIZES'] ?? `10000,100000${process.env['CAIRN_BENCH_INODE_BIG'] === '1' ? ',1000000' : ''}`)
  .split(',').map(Number);
const CONCURRENCY = [1, 64];
const BIG_DIR = 10_000;
const PER_DIR = 1000;
/** Inodes stat-ed warm, and measured for memory. */
const WARM_SET = 200_000;
/** headhunter's node cache for the timed mount: big enough for a 10^6-file volume's metadata (warm means cached). */
const CACHE_BYTES = 1024 ** 3;

const log = (s: string): void => {
  process.stderr.write(`[bench inode] ${s}\n`);
};

interface Row {
  files: number;
  op: string;
  conc: number;
  cairn: Timed;
  sqlite: Timed | undefined;
}

interface Layout {
  big: number;
  bigInos: number[];
  /** For lookups: (dir, name) of every loaded file, by index. */
  nameOf: (k: number) => { dir: number; name: string };
  inos: number[];
}

/** The loaded volume's names: /big/f<i> for the first 10^4, /d<k>/f<j> for the rest. */
function layoutNames(files: number, dirs: number[], big: number): (k: number) => { dir: number; name: string } {
  return (k) => (k < Math.min(files, BIG_DIR) ? { dir: big, name: `f${k}` } : { dir: dirs[Math.floor((k - BIG_DIR) / PER_DIR)]!, name: `f${(k - BIG_DIR) % PER_DIR}` });
}

async function loadCairn(fs: Filesystem, files: number): Promise<Layout> {
  const big = (await fs.mkdir(root, 1, 'big', 0o755)).ino;
  const bigInos = await bulkCreate(fs, big, 'f', Math.min(files, BIG_DIR));
  const inos = [...bigInos];
  const dirs: number[] = [];
  for (let k = 0; BIG_DIR + k * PER_DIR < files; k++) dirs.push((await fs.mkdir(root, 1, `d${k}`, 0o755)).ino);
  // Four directories at a time: their transactions share replay-log syncs.
  for (let k = 0; k < dirs.length; k += 4) {
    const made = await Promise.all(dirs.slice(k, k + 4).map((d) => bulkCreate(fs, d, 'f', PER_DIR)));
    for (const m of made) for (const x of m) inos.push(x);
    if (k % 100 === 0 && k > 0) log(`  loaded ${inos.length} files`);
  }
  return { big, bigInos, nameOf: layoutNames(files, dirs, big), inos };
}

/** Replay-log syncs during the timed creates, per concurrency (where a create's time goes). */
const createLog = new Map<number, { fsyncs: number; p50: number; p99: number; maxBatch: number }>();

/** The six operations at one concurrency on Cairn. */
async function cairnOps(fs: Filesystem, l: Layout, conc: number): Promise<Record<string, Timed>> {
  const dir = (await fs.mkdir(root, 1, `c${conc}`, 0o755)).ino;
  const out: Record<string, Timed> = {};
  const v = volumeOf(fs);
  const log0 = v.log.stats();
  out['create'] = await timed(conc, MS, (i) => fs.create(root, dir, `n${i}`, 0o644));
  const log1 = v.log.stats();
  createLog.set(conc, { fsyncs: log1.fsyncs - log0.fsyncs, p50: log1.fsyncMicrosP50, p99: log1.fsyncMicrosP99, maxBatch: log1.maxBatch });
  // The creates left many dirty nodes: checkpoint them now, so the read cells measure reads, not a checkpoint running beside them.
  await fs.checkpoint();
  const made = out['create'].ops;
  const warm = l.inos.length <= WARM_SET ? l.inos : Array.from({ length: WARM_SET }, (_, i) => l.inos[pick(i, l.inos.length)]!);
  for (let i = 0; i < warm.length; i += 64) await Promise.all(warm.slice(i, i + 64).map((x) => fs.getattr(root, x)));
  out['stat'] = await timed(conc, MS, (i) => fs.getattr(root, warm[pick(i, warm.length)]!));
  for (let i = 0; i < warm.length; i += 64) {
    await Promise.all(warm.slice(i, i + 64).map((_, k) => {
      const n = l.nameOf(pick(i + k, l.inos.length));
      return fs.lookup(root, n.dir, n.name);
    }));
  }
  out['lookup'] = await timed(conc, MS, (i) => {
    const n = l.nameOf(pick(i, l.inos.length));
    return fs.lookup(root, n.dir, n.name);
  });
  out['readdir 10^4'] = await timed(conc, MS, async () => {
    let cookie = 0;
    for (;;) {
      const r = await fs.readdir(root, l.big, { cookie, limit: 1000 });
      cookie = r.entries[r.entries.length - 1]?.cookie ?? cookie;
      if (r.eof) return;
    }
  });
  out['rename'] = await timed(conc, MS, (i) => fs.rename(root, dir, `n${i}`, dir, `r${i}`), made);
  out['unlink'] = await timed(conc, MS, (i) => fs.unlink(root, dir, `r${i}`), out['rename'].ops);
  return out;
}

function sqliteOps(db: SqliteFs, files: number, dirs: number[], big: number, inos: number[], conc: number): Promise<Record<string, Timed>> {
  return (async () => {
    const dir = db.mkdir(`c${conc}`);
    const nameOf = layoutNames(files, dirs, big);
    const out: Record<string, Timed> = {};
    out['create'] = await timed(conc, MS, (i) => db.create(dir, `n${i}`));
    out['stat'] = await timed(conc, MS, (i) => db.stat(inos[pick(i, inos.length)]!));
    out['lookup'] = await timed(conc, MS, (i) => {
      const n = nameOf(pick(i, files));
      return db.lookup(n.dir, n.name);
    });
    out['readdir 10^4'] = await timed(conc, MS, () => db.readdir(big));
    out['rename'] = await timed(conc, MS, (i) => db.rename(dir, `n${i}`, dir, `r${i}`), out['create'].ops);
    out['unlink'] = await timed(conc, MS, (i) => db.unlink(dir, `r${i}`), out['rename'].ops);
    return out;
  })();
}

/**
 * Where a stat's time goes (µs each, one caller): a view + tree get, a get on
 * the live tree (what getattr does), the record decode, the whole getattr, and
 * a getattr through a read view (the way it was done before, minus the call
 * wrapper: the baseline). The rows alternate in short slices (load from
 * elsewhere hits them alike); each is the median slice, and `getattr speedup`
 * the median of the slices' (via a view) / getattr ratios.
 */
async function statBreakdown(fs: Filesystem, inos: number[]): Promise<Record<string, number>> {
  const v = volumeOf(fs);
  const rounds = 20;
  const n = 2500;
  let k = 0;
  const us = async (fn: (i: number) => unknown): Promise<number> => {
    const t0 = now();
    for (let i = 0; i < n; i++) await fn(k++);
    return ((now() - t0) * 1000) / n;
  };
  const raw = await v.hh.tree('inodes').get(inodeKey(inos[0]!));
  const rows: Record<string, (i: number) => unknown> = {
    'view + get': async (i) => {
      const view = v.hh.view();
      try {
        return await view.tree('inodes').get(inodeKey(inos[pick(i, inos.length)]!));
      } finally {
        view.release();
      }
    },
    'live tree get': (i) => v.hh.tree('inodes').get(inodeKey(inos[pick(i, inos.length)]!)),
    decode: () => inodeCodec.decode(raw!),
    getattr: (i) => fs.getattr(root, inos[pick(i, inos.length)]!),
    'getattr via a view': (i) => {
      const ino = inos[pick(i, inos.length)]!;
      return FsReader.with(v, async (r) => attrOf(v, ino, await r.mustInode(ino)));
    },
  };
  const slices: Record<string, number[]> = Object.fromEntries(Object.keys(rows).map((name) => [name, []]));
  for (let r = 0; r < rounds; r++) for (const [name, fn] of Object.entries(rows)) slices[name]!.push(await us(fn));
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const out: Record<string, number> = Object.fromEntries(Object.entries(slices).map(([name, xs]) => [name, median(xs)]));
  out['getattr speedup'] = median(slices['getattr via a view']!.map((x, i) => x / slices['getattr']![i]!));
  return out;
}

/** Memory per cached inode, from a fresh process (memory-child.ts) stat-ing up to WARM_SET inodes after a cold mount. */
async function memoryPerInode(b: BenchFs, inos: number[]): Promise<Record<string, number | boolean>> {
  // Consecutive inodes: their B+Tree leaves hold nothing else, so the cache holds just them.
  const set = inos.slice(0, WARM_SET);
  const list = join(b.dir, 'inodes.json');
  writeFileSync(list, JSON.stringify(set));
  return b.whileUnmounted(async () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(HERE, 'memory-child.ts'), b.storeDir, b.logDir, list], {
      encoding: 'utf8', cwd: REPO_ROOT,
    });
    if (r.status !== 0) throw new Error(`memory-child failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | boolean>;
  });
}

const rows: Row[] = [];
const extra: Array<Record<string, unknown>> = [];
const Sqlite = loadSqlite(log);
for (const files of SIZES) {
  log(`volume of ${files} files: loading`);
  const b = await makeBenchFs({ headhunter: { cacheBytes: CACHE_BYTES } });
  let t0 = now();
  const layout = await loadCairn(b.fs, files);
  await b.fs.checkpoint();
  const loadS = (now() - t0) / 1000;
  log(`  loaded in ${loadS.toFixed(1)} s; fsck`);
  t0 = now();
  const report = await fsck(b.fs, { findLeaks: false });
  const fsckS = (now() - t0) / 1000;
  const items = Object.values(report.counts).reduce((s, x) => s + x, 0) - report.counts.liveBytes;
  const mem = await memoryPerInode(b, layout.inos);
  const breakdown = files === SIZES[0] ? await statBreakdown(b.fs, layout.bigInos) : undefined;
  const cairn: Record<number, Record<string, Timed>> = {};
  for (const c of CONCURRENCY) {
    log(`  cairn, ${c} caller(s)`);
    cairn[c] = await cairnOps(b.fs, layout, c);
  }
  await b.destroy();

  log('  sqlite');
  const sqlDir = mkdtempSync(join(tmpdir(), 'cairn-bench-sqlite-'));
  const db = new SqliteFs(Sqlite, join(sqlDir, 'meta.db'));
  const big = db.mkdir('big');
  const sqlInos = db.bulkCreate(big, 'f', Math.min(files, BIG_DIR));
  const dirs: number[] = [];
  for (let k = 0; BIG_DIR + k * PER_DIR < files; k++) {
    const d = db.mkdir(`d${k}`);
    dirs.push(d);
    for (const x of db.bulkCreate(d, 'f', PER_DIR)) sqlInos.push(x);
  }
  const sqlite: Record<number, Record<string, Timed>> = {};
  for (const c of CONCURRENCY) sqlite[c] = await sqliteOps(db, files, dirs, big, sqlInos, c);
  db.close();
  rmSync(sqlDir, { recursive: true, force: true });

  for (const op of Object.keys(cairn[1]!)) {
    for (const c of CONCURRENCY) rows.push({ files, op, conc: c, cairn: cairn[c]![op]!, sqlite: sqlite[c]?.[op] });
  }
  extra.push({
    files, loadSeconds: loadS, fsckSeconds: fsckS, fsckItemsPerSec: items / fsckS, fsckProblems: report.problemCount,
    memory: mem, statBreakdownMicros: breakdown,
    createLog: Object.fromEntries(CONCURRENCY.map((c) => [c, { ...createLog.get(c)!, createsPerFsync: cairn[c]!['create']!.ops / Math.max(1, createLog.get(c)!.fsyncs) }])),
  });
}

const header = ['files', 'op', 'conc', 'cairn ops/s', 'p50 ms', 'p99 ms', 'sqlite ops/s', 'sqlite p99 ms', 'cairn/sqlite'];
const body = rows.map((r) => [
  fmt(r.files), r.op, String(r.conc), fmt(r.cairn.opsPerSec), fmt(r.cairn.p50, 3), fmt(r.cairn.p99, 3),
  r.sqlite ? fmt(r.sqlite.opsPerSec) : '-', r.sqlite ? fmt(r.sqlite.p99, 3) : '-', r.sqlite ? `${fmt(r.cairn.opsPerSec / r.sqlite.opsPerSec, 2)}x` : '-',
]);
process.stdout.write(`\nfilesystem metadata ops, fs backend, durable (fdatasync), ${SECONDS} s per cell\n\n${table(header, body, ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'])}\n`);

const first = SIZES[0]!;
const get = (op: string, c: number, files = first): Row | undefined => rows.find((r) => r.op === op && r.conc === c && r.files === files);
const createRatio = Math.min(...SIZES.map((f) => get('create', 64, f)!.cairn.opsPerSec / get('create', 64, f)!.sqlite!.opsPerSec));
const statBest = Math.min(...SIZES.map((f) => Math.max(get('stat', 1, f)!.cairn.opsPerSec, get('stat', 64, f)!.cairn.opsPerSec)));
// Memory: the growth per inode in the largest volume (in a small one, one-time heap growth dominates RSS).
const largest = extra[extra.length - 1]!;
const rssPerInode = (largest['memory'] as { rssPerInode: number }).rssPerInode;
const heapPerInode = (largest['memory'] as { heapPerInode: number }).heapPerInode;
const goals = [
  { goal: 'durable creates at concurrency 64 >= 5x SQLite', value: `${fmt(createRatio, 2)}x (worst volume)`, met: createRatio >= 5 },
  { goal: 'stats/s warm >= 200,000', value: fmt(statBest), met: statBest >= 200_000 },
  { goal: 'RSS per cached inode <= 1 KiB', value: `${fmt(rssPerInode)} B (heap ${fmt(heapPerInode)} B), ${fmt(largest['files'] as number)} files`, met: rssPerInode <= 1024 },
];
process.stdout.write(`\n${table(['goal', 'measured', 'met'], goals.map((g) => [g.goal, g.value, g.met ? 'yes' : 'NO']))}\n`);
const detailRows = extra.map((e) => {
  const m = e['memory'] as Record<string, number>;
  const c64 = (e['createLog'] as Record<string, { createsPerFsync: number; p50: number }>)['64']!;
  return [
    fmt(e['files'] as number), fmt(e['loadSeconds'] as number, 1), fmt(e['fsckSeconds'] as number, 2), fmt(e['fsckItemsPerSec'] as number),
    fmt(m['rssPerInode']!), fmt(m['heapPerInode']!), fmt(m['cachePerInode']!), fmt(m['rssPerInodeAll']!), fmt(c64.createsPerFsync, 1), fmt(c64.p50),
  ];
});
process.stdout.write(`\n${table(
  ['files', 'load s', 'fsck s', 'fsck items/s', 'RSS B/inode', 'heap B/inode', 'cache B/inode', 'RSS B/inode (all)', 'creates/fsync (c64)', 'fsync p50 µs'],
  detailRows, ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
)}\n`);
const sb = extra[0]?.['statBreakdownMicros'] as Record<string, number> | undefined;
if (sb !== undefined) process.stdout.write(`\nstat, one caller, µs: ${Object.entries(sb).map(([k, x]) => `${k} ${fmt(x, 2)}${k.endsWith('speedup') ? 'x' : ''}`).join(', ')}\n`);
const path = writeResult('inode-ops', {
  machine: machine(), seconds: SECONDS, sizes: SIZES,
  rows: rows.map((r) => ({ files: r.files, op: r.op, concurrency: r.conc, cairn: r.cairn, sqlite: r.sqlite })),
  goals, details: extra,
});
process.stdout.write(`\nwrote ${path}\n`);
