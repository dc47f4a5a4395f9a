// Crash test of the replay log: a real child process (crash-writer.ts) appends
// with many concurrent writers and reports each acknowledged LSN and payload
// hash after the ack; it is killed with SIGKILL at random moments (sometimes
// during startup or recovery). After every kill the log is reopened here and
// every acknowledged record not yet discarded must be present, intact and in
// order, with no LSN gap. CAIRN_TEST_CRASH_CYCLES sets the number of cycles (50).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openReplayLog } from '../../packages/replaylog/src/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WRITER = join(ROOT, 'test/replaylog/crash-writer.ts');
const CYCLES = Number(process.env['CAIRN_TEST_CRASH_CYCLES'] ?? '50');

interface CycleReport {
  openedAt: bigint | undefined;
  acks: Array<[bigint, string]>;
  discarding: bigint;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/** Runs the writer until it has run `afterOpenMs` past its open line (or `hardMs` since spawn), then SIGKILLs it. */
function runCycle(dir: string, afterOpenMs: number, hardMs: number): Promise<CycleReport> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER], {
      cwd: ROOT,
      env: { ...process.env, CAIRN_CRASH_DIR: dir, CAIRN_CRASH_WRITERS: '32', CAIRN_CRASH_ROTATE_BYTES: String(128 * 1024) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const report: CycleReport = { openedAt: undefined, acks: [], discarding: 0n, signal: null, code: null, stderr: '' };
    let rest = '';
    const kill = () => child.kill('SIGKILL');
    const hard = setTimeout(kill, hardMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!; // a line cut by the kill is not complete: ignore it
      for (const line of lines) {
        const [kind, a, b] = line.split(' ');
        if (kind === 'ack') report.acks.push([BigInt(a!), b!]);
        else if (kind === 'discarding') report.discarding = BigInt(a!) > report.discarding ? BigInt(a!) : report.discarding;
        else if (kind === 'open') {
          report.openedAt = BigInt(a!);
          setTimeout(kill, afterOpenMs);
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (report.stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(hard);
      report.code = code;
      report.signal = signal;
      resolvePromise(report);
    });
  });
}

describe('replay log under SIGKILL', () => {
  it(`keeps every acknowledged record through ${CYCLES} kills`, { timeout: Math.max(120_000, CYCLES * 3_000) }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-replaylog-crash-'));
    try {
      const acked = new Map<bigint, string>(); // acknowledged, not yet discarded
      let floor = 0n; // records <= floor may have been discarded
      let maxAcked = 0n;
      let torn = 0;
      let totalAcks = 0;
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        // One cycle in five is killed at a random moment after spawn (maybe in recovery).
        const early = cycle % 5 === 4;
        const r = await runCycle(dir, Math.floor(Math.random() * 150), early ? 50 + Math.floor(Math.random() * 400) : 15_000);
        const ctx = `cycle ${cycle}`;
        expect(r.signal, `${ctx}: the writer must die by SIGKILL, stderr: ${r.stderr}`).toBe('SIGKILL');
        if (r.openedAt !== undefined) expect(r.openedAt, `${ctx}: LSNs continue`).toBeGreaterThan(maxAcked);
        for (const [lsn, hash] of r.acks) {
          acked.set(lsn, hash);
          if (lsn > maxAcked) maxAcked = lsn;
        }
        totalAcks += r.acks.length;
        if (r.discarding > floor) floor = r.discarding;

        const log = await openReplayLog({ dir, onTorn: () => torn++ });
        expect(log.nextLsn, ctx).toBeGreaterThan(maxAcked);
        let prev: bigint | undefined;
        const seen = new Map<bigint, string>();
        for await (const rec of log.replay(floor)) {
          if (prev !== undefined) expect(rec.lsn, `${ctx}: no gap or reorder after ${prev}`).toBe(prev + 1n);
          else expect(rec.lsn, `${ctx}: replay starts right after the floor`).toBe(floor + 1n);
          prev = rec.lsn;
          seen.set(rec.lsn, createHash('sha256').update(rec.payload).digest('hex').slice(0, 32));
        }
        await log.close();
        const missing: string[] = [];
        for (const [lsn, hash] of acked) {
          if (lsn <= floor) {
            acked.delete(lsn);
            continue;
          }
          const got = seen.get(lsn);
          if (got !== hash) missing.push(`${lsn}: ${got === undefined ? 'missing' : 'different payload'}`);
        }
        expect(missing, ctx).toEqual([]);
      }
      // The test must have exercised something: acknowledged records and discards.
      expect(totalAcks).toBeGreaterThan(CYCLES * 10);
      expect(floor).toBeGreaterThan(0n);
      process.stderr.write(`[crash] ${CYCLES} cycles, ${totalAcks} acknowledged records, ${torn} torn tails, floor ${floor}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
