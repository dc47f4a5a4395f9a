// Where the time of a cold sequential read through the filesystem on Swift goes:
// every GET of the read cache (start, answer, first byte, last byte) and every
// read that waited, printed as a timeline. A diagnostic for bench/segments/swift.ts.
// Run: npx tsx bench/segments/read-trace.ts   (CAIRN_BENCH_SWIFT_SEQ_MIB, default 128)

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { formatFilesystem, mountFilesystem, ROOT_CRED as root } from '@cairn/inode';
import { createSwiftStore, type Container, type GetOptions, type GetResult, type ObjectStore } from '@cairn/objstore';
import { serviceSettings } from '../objstore/services.js';
import { envNumber, fmt } from '../lib/report.js';

const MiB = 1024 * 1024;
const SEQ = envNumber('CAIRN_BENCH_SWIFT_SEQ_MIB', 128, 10) * MiB;

interface Trace { name: string; offset: number; length: number | undefined; start: number; answer: number; first: number; end: number }

function traced(inner: ObjectStore, traces: Trace[], on: { value: boolean }): ObjectStore {
  return {
    kind: inner.kind,
    ping: () => inner.ping(),
    stats: () => inner.stats(),
    close: () => inner.close(),
    container(name: string): Container {
      const c = inner.container(name);
      return new Proxy(c, {
        get(t, p) {
          if (p === 'get' && on.value) {
            return async (n: string, opts?: GetOptions): Promise<GetResult> => {
              const tr: Trace = { name: n, offset: opts?.range?.offset ?? 0, length: opts?.range?.length, start: performance.now(), answer: 0, first: 0, end: 0 };
              traces.push(tr);
              const r = await t.get(n, opts);
              tr.answer = performance.now();
              async function* body(): AsyncGenerator<Buffer> {
                for await (const b of r.body) {
                  if (tr.first === 0) tr.first = performance.now();
                  yield b as Buffer;
                }
                tr.end = performance.now();
              }
                      return { ...r, body: Readable.from(body(), { objectMode: false }) };
            };
          }
          const v = Reflect.get(t, p, t) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
    },
  };
}

async function main(): Promise<void> {
  const svc = serviceSettings();
  if (!svc.swift) throw new Error(svc.why ?? 'no Swift');
  const raw = createSwiftStore({ authUrl: svc.swift.authUrl, user: svc.swift.user, key: svc.swift.key });
  const traces: Trace[] = [];
  const on = { value: false };
  const store = traced(raw, traces, on);
  const dir = mkdtempSync(join(tmpdir(), 'cairn-trace-'));
  const volume = `trace-${randomBytes(4).toString('hex')}`;
  try {
    await formatFilesystem({ store, volume, logDir: dir });
    let fs = await mountFilesystem({ store, volume, logDir: dir, segmentReclaimIntervalMs: 0, journal: { compactIntervalMs: 0 } });
    const ino = (await fs.create(root, 1, 'seq', 0o644)).attr.ino;
    const chunk = randomBytes(MiB);
    for (let off = 0; off < SEQ; off += MiB) await fs.write(root, ino, off, chunk);
    await fs.fsync(ino);
    for (let round = 0; round < 2; round++) {
      await fs.unmount();
      fs = await mountFilesystem({ store, volume, logDir: dir, segmentReclaimIntervalMs: 0, journal: { compactIntervalMs: 0 } });
      traces.length = 0;
      on.value = true;
      const waits: Array<{ off: number; ms: number }> = [];
      const t0 = performance.now();
      for (let off = 0; off < SEQ; off += MiB) {
        const a = performance.now();
        await fs.read(root, ino, off, MiB);
        const ms = performance.now() - a;
        if (ms > 4) waits.push({ off: off / MiB, ms });
      }
      const total = performance.now() - t0;
      on.value = false;
      process.stdout.write(`round ${round + 1}: ${fmt(SEQ / 1e6 / (total / 1000))} MB/s in ${fmt(total)} ms, ${traces.length} GETs\n`);
      for (const tr of traces) {
        process.stdout.write(`  GET ${tr.name.slice(-12)} @${fmt(tr.offset / MiB, 1)}M +${fmt((tr.length ?? 0) / MiB, 1)}M  start ${fmt(tr.start - t0, 1)}  answer +${fmt(tr.answer - tr.start, 1)}  first +${fmt(tr.first - tr.start, 1)}  ${tr.end === 0 ? 'not drained' : `end ${fmt(tr.end - t0, 1)}`}\n`);
      }
      const waited = waits.reduce((n, w) => n + w.ms, 0);
      process.stdout.write(`  reads over 4 ms: ${waits.length}, ${fmt(waited)} ms in all: ${waits.map((w) => `${w.off}M:${fmt(w.ms, 1)}`).join(' ')}\n`);
    }
    await fs.unmount();
  } finally {
    for (const c of [volume, `${volume}-data`]) {
      const names: string[] = [];
      try { for await (const e of raw.container(c).listAll()) if (e.kind === 'object') names.push(e.name); } catch { continue; }
      for (const n of names) await raw.container(c).delete(n).catch(() => {});
    }
    await raw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
