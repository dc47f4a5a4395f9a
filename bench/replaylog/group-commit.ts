// Replay-log group commit against the physical limit, in one run on one disk:
//
//   raw   one write + fdatasync per 276-byte record with node:fs (a 256-byte
//         payload plus the log's 20-byte record header), one writer: what a
//         log without group commit can do at best.
//   log   durable appends/s of @cairn/replaylog with 1, 16 and 256 concurrent
//         writers, 256-byte payloads, fsync on, as configured by default
//         (zeros written ahead of the records: preallocateBytes 4 MiB).
//   log, no zeros ahead   the same with 1 and 16 writers and preallocateBytes
//         0: every batch extends the file, so each fdatasync also commits the
//         new file size (what the zeros ahead save).
//
// Prints a table and writes bench/results/replaylog-group-commit.json.
// Usage: npx tsx bench/replaylog/group-commit.ts
//   CAIRN_BENCH_SECONDS   seconds per case (default 5; the raw baseline runs half
//                         before and half after the three log cases)
//   CAIRN_BENCH_DIR       directory to measure in (default: the OS temp dir; it
//                         must be on the disk you care about, not tmpfs)

import { constants, mkdirSync, mkdtempSync, promises as fsp, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openReplayLog, RECORD_HEADER_SIZE } from '../../packages/replaylog/src/index.js';

const SECONDS = Number(process.env['CAIRN_BENCH_SECONDS'] ?? '5');
const PAYLOAD = 256;
const WRITERS = [1, 16, 256];
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'bench/results/replaylog-group-commit.json');
const TMPFS_MAGIC = 0x01021994;

interface Row {
  case: string;
  writers: number;
  opsPerSec: number;
  ratioToRaw: number;
  records: number;
  fsyncs: number;
  recordsPerFsync: number;
  fsyncP50us: number;
  fsyncP99us: number;
  ackP50us: number;
  ackP99us: number;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Latency samples (µs) in a growable typed buffer. */
class Samples {
  private buf = new Float64Array(1 << 16);
  length = 0;
  add(us: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = us;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.length).sort();
  }
}

const now = (): number => Number(process.hrtime.bigint()) / 1000;

interface RawResult {
  row: Omit<Row, 'ratioToRaw'>;
  samples: Float64Array;
}

async function raw(dir: string, ms: number): Promise<RawResult> {
  const fh = await fsp.open(join(dir, 'raw.bin'), constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o644);
  const rec = Buffer.alloc(PAYLOAD + RECORD_HEADER_SIZE, 0x5a);
  const fsyncs = new Samples();
  let n = 0;
  let pos = 0;
  const t0 = now();
  const end = t0 + ms * 1000;
  try {
    while (now() < end) {
      await fh.write(rec, 0, rec.length, pos);
      const s = now();
      await fh.datasync();
      fsyncs.add(now() - s);
      pos += rec.length;
      n++;
    }
  } finally {
    await fh.close();
  }
  const secs = (now() - t0) / 1e6;
  const f = fsyncs.sorted();
  const row = {
    case: 'raw write+fdatasync', writers: 1, opsPerSec: n / secs, records: n, fsyncs: n, recordsPerFsync: 1,
    fsyncP50us: quantile(f, 0.5), fsyncP99us: quantile(f, 0.99), ackP50us: quantile(f, 0.5), ackP99us: quantile(f, 0.99),
  };
  return { row, samples: f };
}

/** Two baseline runs as one: rates by total count over total time, percentiles of all samples. */
function combine(a: RawResult, b: RawResult): Omit<Row, 'ratioToRaw'> {
  const all = new Samples();
  for (const x of [a, b]) for (const v of x.samples) all.add(v);
  const f = all.sorted();
  const records = a.row.records + b.row.records;
  const secs = a.row.records / a.row.opsPerSec + b.row.records / b.row.opsPerSec;
  return {
    ...a.row, opsPerSec: records / secs, records, fsyncs: records,
    fsyncP50us: quantile(f, 0.5), fsyncP99us: quantile(f, 0.99), ackP50us: quantile(f, 0.5), ackP99us: quantile(f, 0.99),
  };
}

async function grouped(dir: string, writers: number, ms: number, zerosAhead = true): Promise<Omit<Row, 'ratioToRaw'>> {
  const log = await openReplayLog({ dir, ...(zerosAhead ? {} : { preallocateBytes: 0 }) });
  const payload = Buffer.alloc(PAYLOAD, 0xa5);
  const acks = new Samples();
  let n = 0;
  const t0 = now();
  const end = t0 + ms * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (now() < end) {
        const s = now();
        await log.append(payload);
        acks.add(now() - s);
        n++;
      }
    }),
  );
  const secs = (now() - t0) / 1e6;
  const st = log.stats();
  await log.close();
  const a = acks.sorted();
  return {
    case: `replaylog ${writers} writer${writers > 1 ? 's' : ''}${zerosAhead ? '' : ', no zeros ahead'}`, writers, opsPerSec: n / secs, records: n, fsyncs: st.fsyncs,
    recordsPerFsync: st.records / Math.max(1, st.fsyncs), fsyncP50us: st.fsyncMicrosP50, fsyncP99us: st.fsyncMicrosP99,
    ackP50us: quantile(a, 0.5), ackP99us: quantile(a, 0.99),
  };
}

async function main(): Promise<void> {
  const base = process.env['CAIRN_BENCH_DIR'] ?? tmpdir();
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(join(base, 'cairn-bench-replaylog-'));
  const fsType = statfsSync(work).type;
  if (fsType === TMPFS_MAGIC) process.stderr.write(`warning: ${work} is on tmpfs; fdatasync costs nothing there. Set CAIRN_BENCH_DIR.\n`);
  const ms = SECONDS * 1000;
  const rows: Row[] = [];
  try {
    // Warm-up (file system, JIT), not reported.
    await raw(work, 300);
    await grouped(join(work, 'warm'), 16, 300);
    // The baseline runs half before and half after the log cases, so that drift
    // in the disk's load during the run affects both sides alike.
    const before = await raw(work, ms / 2);
    const logs: Array<Omit<Row, 'ratioToRaw'>> = [];
    for (const w of WRITERS) logs.push(await grouped(join(work, `log-${w}`), w, ms));
    for (const w of [1, 16]) logs.push(await grouped(join(work, `log-plain-${w}`), w, ms, false));
    const after = await raw(work, ms / 2);
    const r = combine(before, after);
    rows.push({ ...r, ratioToRaw: 1 });
    for (const g of logs) rows.push({ ...g, ratioToRaw: g.opsPerSec / r.opsPerSec });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const header = ['case', 'ops/s', 'x raw', 'rec/fsync', 'fsync p50 µs', 'fsync p99 µs', 'ack p50 µs', 'ack p99 µs'];
  const table = rows.map((x) => [
    x.case, fmt(x.opsPerSec), fmt(x.ratioToRaw, 2), fmt(x.recordsPerFsync, 1), fmt(x.fsyncP50us), fmt(x.fsyncP99us), fmt(x.ackP50us), fmt(x.ackP99us),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...table.map(line)];
  process.stdout.write(`${out.join('\n')}\n`);

  mkdirSync(dirname(OUT), { recursive: true });
  const result = {
    benchmark: 'replaylog-group-commit',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    fsType: `0x${fsType.toString(16)}`,
    secondsPerCase: SECONDS,
    payloadBytes: PAYLOAD,
    rows,
  };
  writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`wrote ${join('bench/results', 'replaylog-group-commit.json')}\n`);
}

await main();
