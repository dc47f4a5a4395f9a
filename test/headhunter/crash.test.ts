// Crash test of headhunter: a real child process (crash-child.ts) commits
// batches from several writers against the fs object store and a real replay
// log, takes checkpoints, snapshots and nonces, and is killed with SIGKILL at
// random moments (sometimes during mount or recovery, sometimes exactly at a
// failpoint of the commit or checkpoint path). After every kill the volume is
// mounted here and checked: every acknowledged batch is present, no batch is
// half-applied, check() finds no broken invariant, and no nonce was handed out
// twice or used for a node object. CAIRN_TEST_CRASH_CYCLES sets the number of
// cycles (default 50).

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createFsStore } from '../../packages/objstore/src/index.js';
import { openReplayLog } from '../../packages/replaylog/src/index.js';
import { FAILPOINT_NAMES, NODE_OBJECT_PREFIX, formatVolume, openVolume, parseNodeObjectName } from '../../packages/headhunter/src/index.js';
import { lastApplied } from './crash-model.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = join(ROOT, 'test/headhunter/crash-child.ts');
const CYCLES = Number(process.env['CAIRN_TEST_CRASH_CYCLES'] ?? '50');
const WRITERS = 8;

interface Cycle {
  opened: boolean;
  issued: Map<number, number>;
  acked: Map<number, number>;
  nonces: bigint[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs the child until `afterOpenMs` past its open line (or `hardMs` after spawn), then SIGKILLs it. */
function runCycle(root: string, afterOpenMs: number, hardMs: number, failpoints: string | undefined): Promise<Cycle> {
  return new Promise((resolvePromise, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, CAIRN_CRASH_ROOT: root, CAIRN_CRASH_WRITERS: String(WRITERS) };
    if (failpoints) env['CAIRN_FAILPOINTS'] = failpoints;
    else delete env['CAIRN_FAILPOINTS'];
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const c: Cycle = { opened: false, issued: new Map(), acked: new Map(), nonces: [], stderr: '', code: null, signal: null };
    let rest = '';
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    const hard = setTimeout(kill, hardMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        const [kind, a, b] = line.split(' ');
        if (kind === 'open') {
          c.opened = true;
          setTimeout(kill, afterOpenMs);
        } else if (kind === 'I') {
          c.issued.set(Number(a), Math.max(c.issued.get(Number(a)) ?? -1, Number(b)));
        } else if (kind === 'A') {
          c.acked.set(Number(a), Math.max(c.acked.get(Number(a)) ?? -1, Number(b)));
        } else if (kind === 'N') {
          c.nonces.push(BigInt(a!));
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      c.stderr += s;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(hard);
      c.code = code;
      c.signal = signal;
      resolvePromise(c);
    });
  });
}

/** Failpoints armed in some cycles, so that kills land exactly in the narrow windows. */
const TARGETED = [
  'checkpoint.after-nodes-put=kill%0.5',
  'checkpoint.before-publish=kill%0.5',
  'checkpoint.after-publish=kill%0.5',
  'checkpoint.after-discard=kill%0.5',
  'batch.after-log-append=kill%0.002',
  'batch.after-durable=kill%0.002',
  'mount.after-replay=kill',
  'mount.after-claim=kill',
  'reclaim.before-delete=kill%0.3',
];

describe('headhunter crash recovery (SIGKILL)', () => {
  it(`keeps every acknowledged batch and never half-applies one, over ${CYCLES} kills`, async () => {
    for (const spec of TARGETED) expect(FAILPOINT_NAMES).toContain(spec.split('=')[0]);
    const root = mkdtempSync(join(tmpdir(), 'cairn-hh-crash-'));
    const handedOut = new Set<bigint>();
    /** Per writer: highest batch acknowledged / issued since the last verification, and last verified state. */
    const acked = new Map<number, number>();
    const issued = new Map<number, number>();
    const applied = new Map<number, number>();
    let totalApplied = 0;
    let verified = 0;
    try {
      const fresh = createFsStore({ root: join(root, 'store') });
      await formatVolume({ container: fresh.container('vol'), trees: ['t', 'u'], leafMaxEntries: 16, indexMaxEntries: 16, maxNodeBytes: 64 * 1024 });
      await fresh.close();
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const r = Math.random();
        const failpoints = cycle > 0 && r < 0.35 ? TARGETED[Math.floor(Math.random() * TARGETED.length)] : undefined;
        const early = !failpoints && r > 0.9;
        const c = await runCycle(root, 80 + Math.random() * 400, early ? 150 + Math.random() * 300 : 4000, failpoints);
        if (c.signal !== 'SIGKILL') throw new Error(`child exited on its own (code ${c.code}): ${c.stderr}`);

        for (const [w, n] of c.acked) acked.set(w, Math.max(acked.get(w) ?? -1, n));
        for (const [w, n] of c.issued) issued.set(w, Math.max(issued.get(w) ?? -1, n));
        for (const n of c.nonces) {
          expect(handedOut.has(n)).toBe(false);
          handedOut.add(n);
        }
        // Verify after about half of the kills; otherwise the next child recovers straight from the crash.
        if (cycle < CYCLES - 1 && Math.random() < 0.5) continue;
        verified++;
        const store = createFsStore({ root: join(root, 'store') });
        const log = await openReplayLog({ dir: join(root, 'log') });
        const db = await openVolume({ container: store.container('vol'), log, checkpointOnClose: Math.random() < 0.5 });
        const report = await db.check();
        expect(report.errors).toEqual([]);
        for (let w = 0; w < WRITERS; w++) {
          const { m, problems } = await lastApplied(db, w);
          expect(problems).toEqual([]);
          // Every acknowledged batch is there; nothing beyond what was issued.
          expect(m).toBeGreaterThanOrEqual(acked.get(w) ?? -1);
          expect(m).toBeLessThanOrEqual(issued.get(w) ?? -1);
          totalApplied += Math.max(0, m - (applied.get(w) ?? -1));
          applied.set(w, m);
          acked.set(w, m);
          issued.set(w, m);
        }
        // Nonces were never used for a node object either.
        for await (const e of store.container('vol').listAll({ prefix: NODE_OBJECT_PREFIX })) {
          if (e.kind !== 'object') continue;
          const n = parseNodeObjectName(e.name);
          expect(n !== undefined && handedOut.has(n)).toBe(false);
        }
        await db.close();
        await log.close();
        await store.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    expect(totalApplied).toBeGreaterThan(CYCLES * 10);
    expect(verified).toBeGreaterThan(0);
  }, Math.max(120_000, CYCLES * 6000));
});
