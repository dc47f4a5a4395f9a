// kill -9: a real child process (crash-child.ts) runs random filesystem
// operations on the fs object store with its replay log on local disk and
// reports each one only after it returned (a write after its fsync). The test
// kills it with SIGKILL at a random moment — now and then before it finished
// mounting, so recovery itself gets interrupted — mounts the volume again and
// checks that every acknowledged operation is there (names, types, modes,
// sizes, hard links, contents) with the interrupted one either applied or
// not, that fsck finds no problem and that scrub finds every segment stored.
// CAIRN_TEST_CRASH_CYCLES sets the number of cycles (default 50),
// CAIRN_TEST_CRASH_SEED the operations and kill moments (a failure names it).
//
// The child is compiled once into one ES module (workspace code inlined,
// npm packages imported from where they are installed) with the esbuild that
// tsx runs on, which makes a start several times cheaper than tsx compiling
// the sources at every start; without that esbuild it runs under tsx.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFilesystem, mountFilesystem, type Filesystem } from '@cairn/inode';
import { createFsStore, type ObjectStore } from '@cairn/objstore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsck } from '../../packages/inode/src/fsck.js';
import { scrub } from '../../packages/inode/src/scrub.js';
import { applyOp, fsSnapshot, mismatch, Model, Rng, type CrashOp } from './crash-model.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, 'crash-child.ts');
const CYCLES = Number(process.env['CAIRN_TEST_CRASH_CYCLES'] ?? '50');

let dir: string;
let command: string[];

/** The part of esbuild's API the bundling uses. */
interface Resolved {
  readonly path: string;
  readonly errors: readonly unknown[];
}
interface PluginBuild {
  onResolve(o: { filter: RegExp }, cb: (a: { path: string; kind: string; resolveDir: string; importer: string; pluginData?: unknown }) => Promise<unknown>): void;
  resolve(path: string, o: { kind: string; resolveDir: string; importer: string; pluginData: unknown }): Promise<Resolved>;
}
interface Esbuild {
  build(o: Record<string, unknown> & { plugins: Array<{ name: string; setup(b: PluginBuild): void }> }): Promise<unknown>;
}

/** Bundles the child with tsx's esbuild (see the header); undefined when that esbuild is not there. */
async function bundleChild(out: string): Promise<string | undefined> {
  let esbuild: Esbuild;
  try {
    const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx'));
    esbuild = fromTsx('esbuild') as Esbuild;
  } catch {
    return undefined;
  }
  await esbuild.build({
    entryPoints: [CHILD], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: out, logLevel: 'warning',
    plugins: [{
      name: 'installed-packages-stay-external',
      setup(build) {
        build.onResolve({ filter: /^[^./]/ }, async (args) => {
          if (args.path.startsWith('@cairn/') || args.pluginData === 'inner') return undefined;
          const r = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'inner' });
          if (r.errors.length > 0) return { errors: r.errors };
          return { path: r.path.startsWith('/') ? r.path : args.path, external: true };
        });
      },
    }],
  });
  return out;
}

interface ChildRun {
  readonly lines: unknown[];
  readonly stderr: string;
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
  readonly ready: boolean;
}

/** Runs one child and kills it: `early` at a random moment from the start, otherwise a random moment after it is ready. */
function runChild(cycle: number, rng: Rng): Promise<ChildRun> {
  const early = rng.next() < 0.15;
  const delay = early ? rng.int(700) : rng.int(400);
  const child = spawn(process.execPath, [...command, join(dir, 'store'), join(dir, 'log'), String(cycle), String(1 + rng.int(2 ** 30))], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stderr = '';
  let ready = false;
  let timer: NodeJS.Timeout | undefined;
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  if (early) timer = setTimeout(kill, delay);
  // A child that never gets ready (broken start) is stopped after a while; the test then fails on its stderr.
  const guard = setTimeout(kill, 60_000);
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    if (!ready && out.includes('"ready"')) {
      ready = true;
      timer ??= setTimeout(kill, delay);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      const lines = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
      resolve({ lines, stderr, signal, code, ready });
    });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-crash-'));
  await formatFilesystem({ store: createFsStore({ root: join(dir, 'store') }), volume: 'crash', logDir: join(dir, 'log') });
  const bundle = await bundleChild(join(dir, 'child.mjs'));
  command = bundle !== undefined ? [bundle] : ['--import', 'tsx', CHILD];
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('kill -9', () => {
  it(`every acknowledged operation survives SIGKILL and fsck finds nothing (${CYCLES} cycles)`, async () => {
    const seed = Number(process.env['CAIRN_TEST_CRASH_SEED'] ?? Date.now() % 2 ** 30);
    const rng = new Rng(seed);
    let model = new Model();
    let acked = 0;
    let interrupted = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const run = await runChild(cycle, rng);
      if (run.signal !== 'SIGKILL') throw new Error(`cycle ${cycle} (CAIRN_TEST_CRASH_SEED=${seed}): the child stopped by itself (code ${run.code}):\n${run.stderr}`);
      const acknowledged = model.clone();
      let pending: CrashOp | undefined;
      for (const l of run.lines as Array<{ begin?: CrashOp; ack?: number }>) {
        if (l.begin !== undefined) pending = l.begin;
        else if (l.ack !== undefined && pending !== undefined) {
          applyOp(acknowledged, pending);
          pending = undefined;
          acked++;
        }
      }
      if (pending !== undefined) interrupted++;
      const store: ObjectStore = createFsStore({ root: join(dir, 'store') });
      const fs: Filesystem = await mountFilesystem({
        store, volume: 'crash', logDir: join(dir, 'log'), segmentReclaimIntervalMs: 0, journal: { compactIntervalMs: 0 },
      });
      try {
        const { model: actual } = await fsSnapshot(fs);
        const why = mismatch(actual, acknowledged, pending);
        expect(why, `cycle ${cycle} (CAIRN_TEST_CRASH_SEED=${seed}): ${why}`).toBeUndefined();
        const report = await fsck(fs);
        expect(report.problems, `cycle ${cycle} (CAIRN_TEST_CRASH_SEED=${seed})`).toEqual([]);
        // Invariant 1: every segment an extent names is stored, whole.
        expect((await scrub(fs)).problems, `cycle ${cycle} (CAIRN_TEST_CRASH_SEED=${seed})`).toEqual([]);
        model = actual;
      } finally {
        await fs.unmount();
        await store.close();
      }
    }
    // The kills must have landed among operations, not only before them.
    expect(acked).toBeGreaterThan(CYCLES);
    expect(interrupted).toBeGreaterThan(0);
  }, 900_000);
});
