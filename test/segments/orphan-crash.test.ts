// kill -9 between a segment's PUT and its metadata commit, then the orphan
// sweep. A child process (orphan-child.ts) writes and fsyncs files on the fs
// store; in "block" cycles a failpoint holds back the completion of the last
// segment's PUT (the object is stored, its commit never comes) and the child
// is killed right then; in "random" cycles four writers run until a kill at a
// random moment. After each kill the volume is mounted here and swept with
// no grace period: the sweep deletes the orphan (block: exactly the held
// segment) and nothing else (the store's listing loses exactly the objects it
// reports), every file ever fsynced reads back exactly, the space accounting
// is exact and every segment a record names is still stored.
// CAIRN_TEST_ORPHAN_CYCLES sets the number of cycles (default 4, alternating).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeKey } from '@cairn/headhunter';
import { formatFilesystem, mountFilesystem, ROOT_CRED as root, type Filesystem } from '@cairn/inode';
import { createFsStore, type ObjectStore } from '@cairn/objstore';
import { segmentName } from '@cairn/segments';
import { checkSpaceAccounting } from '../../packages/inode/src/cleaner-accounting.js';
import type { Vol } from '../../packages/inode/src/context.js';
import type { FilesystemImpl } from '../../packages/inode/src/fs.js';
import { TREES } from '../../packages/inode/src/format.js';
import { sweepOrphans } from '../../packages/inode/src/orphan-sweep.js';
import { FsReader } from '../../packages/inode/src/reader.js';
import { segmentCodec } from '../../packages/inode/src/records.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = join(ROOT, 'test/segments/orphan-child.ts');
const CYCLES = Number(process.env['CAIRN_TEST_ORPHAN_CYCLES'] ?? '4');

interface ChildRun {
  synced: Array<{ name: string; size: number; sha: string }>;
  stored: { container: string; name: string } | undefined;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function runChild(dir: string, mode: 'block' | 'random', prefix: string): Promise<ChildRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      env: { ...process.env, CAIRN_ORPHAN_DIR: dir, CAIRN_ORPHAN_MODE: mode, CAIRN_ORPHAN_FILES: '4', CAIRN_ORPHAN_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: ChildRun = { synced: [], stored: undefined, signal: null, stderr: '' };
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    const hard = setTimeout(kill, 30_000);
    let rest = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        const [kind, a, b, c] = line.split(' ');
        if (kind === 'synced') run.synced.push({ name: a!, size: Number(b), sha: c! });
        else if (kind === 'stored') {
          run.stored = { container: a!, name: b! };
          kill();
        } else if (kind === 'ready' && mode === 'random') setTimeout(kill, 100 + Math.floor(Math.random() * 600));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (run.stderr += s));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(hard);
      run.signal = signal;
      resolvePromise(run);
    });
  });
}

async function objectNames(store: ObjectStore): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const e of store.container('vol-data').listAll()) if (e.kind === 'object') out.add(e.name);
  return out;
}

async function recordedSegments(v: Vol): Promise<Set<string>> {
  return FsReader.with(v, async (r) => {
    const out = new Set<string>();
    for (const t of [TREES.segments, TREES.deadsegs]) {
      for await (const e of r.view.tree(t).range()) out.add(segmentName(BigInt(decodeKey(e.key)[0] as number)));
    }
    return out;
  });
}

describe('orphaned segments after kill -9', () => {
  it(`the sweep removes what a crash between PUT and commit left, and nothing else (${CYCLES} cycles)`, { timeout: Math.max(60_000, CYCLES * 20_000) }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-orphan-crash-'));
    const logDir = join(dir, 'log');
    const mount = (store: ObjectStore): Promise<Filesystem> => mountFilesystem({
      store, volume: 'vol', logDir, segmentReclaimIntervalMs: 0, journal: { compactIntervalMs: 0 },
    });
    try {
      await formatFilesystem({ store: createFsStore({ root: join(dir, 'store') }), volume: 'vol', logDir });
      const acked = new Map<string, { size: number; sha: string }>();
      let blockOrphans = 0;
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const mode = cycle % 2 === 0 ? 'block' : 'random';
        const run = await runChild(dir, mode, `c${cycle}`);
        expect(run.signal, run.stderr).toBe('SIGKILL');
        for (const s of run.synced) acked.set(s.name, s);
        if (mode === 'block') expect(run.stored, run.stderr).toBeDefined();

        const store = createFsStore({ root: join(dir, 'store') });
        const fs = await mount(store);
        const v = (fs as unknown as FilesystemImpl).m.vol;
        try {
          const before = await objectNames(store);
          const recorded = await recordedSegments(v);
          const unrecorded = [...before].filter((n) => !recorded.has(n));
          if (run.stored !== undefined) {
            // The held segment is stored, and no record names it.
            expect(before.has(run.stored.name)).toBe(true);
            expect(unrecorded).toContain(run.stored.name);
          }
          const report = await sweepOrphans(v, { graceMs: 0, deletesPerSecond: 1000 });
          const after = await objectNames(store);
          const gone = [...before].filter((n) => !after.has(n)).sort();
          expect(gone).toEqual(report.orphanNames.map((n) => n.slice('vol-data/'.length)).sort());
          expect(gone).toEqual(unrecorded.sort());
          if (run.stored !== undefined) {
            expect(gone).toEqual([run.stored.name]);
            blockOrphans++;
          }
          for (const [name, want] of acked) {
            const attr = await fs.lookup(root, 1, name);
            const data = await fs.read(root, attr.ino, 0, want.size + 1);
            expect(data.length, name).toBe(want.size);
            expect(createHash('sha256').update(data).digest('hex'), name).toBe(want.sha);
          }
          const acc = await checkSpaceAccounting(v);
          expect(acc.errors).toEqual([]);
          for (const name of recorded) if (!after.has(name)) {
            // Only dead segments the deletion policy already deleted may be missing.
            const live = await FsReader.with(v, async (r) => {
              for await (const e of r.view.tree(TREES.segments).range()) {
                if (segmentName(BigInt(decodeKey(e.key)[0] as number)) === name) return segmentCodec.decode(e.value);
              }
              return undefined;
            });
            expect(live, `segment ${name} is recorded live but not stored`).toBeUndefined();
          }
          // A second sweep finds nothing.
          expect((await sweepOrphans(v, { graceMs: 0 })).orphans).toBe(0);
        } finally {
          await fs.unmount();
          await store.close();
        }
      }
      expect(blockOrphans).toBe(Math.ceil(CYCLES / 2));
      expect(acked.size).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
