// fsck: checks every invariant of a mounted filesystem volume while it keeps
// serving, and optionally repairs what it can.
//
// A check reads one consistent headhunter view (every tree at one commit):
// S1 the meta record, S2 inodes, S3 orphan records, S4 directory entries
// against their cookie records, one directory at a time, S5 link counts,
// parents and reachability, S6 segment records, S7 extents, S8 live bytes
// and the meta totals, S9 xattrs, S10 the journal; then T headhunter's own
// check() of every tree, and L a listing of the data containers for segment
// objects no record names. Memory: about 90 bytes per inode plus the largest
// directory's entries and one record per segment.
//
// Repair applies the fixes of what the check found (fsck-repair.ts: every fix
// re-checks inside its transaction and corrects counters by deltas, so a
// repair racing the volume's own operations never undoes them), deletes
// leaked segment objects (an orphan sweep), then checks again; it repeats (at most maxRounds)
// while a round fixed something and problems remain, because one fix can
// reveal another (a dangling entry removed changes a link count). The last
// check's problems are `remaining`.
// Invariants: docs/architecture.md "Invariants (what fsck checks)"; problem
// kinds and repairs: docs/operations.md "fsck and scrub".

import { cairnError } from '@cairn/errors';
import { Vol } from './context.js';
import { Progress, ScanCtx, type Finding } from './fsck-findings.js';
import { deleteLeaks, findLeaks, leakSummary, type LeakScan } from './fsck-leaks.js';
import { applyFixes } from './fsck-repair.js';
import { scanNamespace } from './fsck-scan.js';
import { scanSpace } from './fsck-space.js';
import type { FsckCounts, FsckOptions, FsckProblem, FsckReport } from './fsck-types.js';
import { TREE_NAMES } from './format.js';
import type { Filesystem } from './index.js';

export { FSCK_PROBLEM_KINDS } from './fsck-types.js';
export type { FsckCounts, FsckLeaks, FsckOptions, FsckPhase, FsckProblem, FsckProblemKind, FsckProgress, FsckReport } from './fsck-types.js';
export { LOST_FOUND } from './fsck-repair.js';

const DEFAULT_LEAK_GRACE_MS = 600_000;
const DEFAULT_MAX_PROBLEMS = 10_000;
const DEFAULT_MAX_ROUNDS = 4;

/** The mounted volume behind a Filesystem handle mountFilesystem() returned. */
export function volumeOf(fs: Filesystem | Vol): Vol {
  // FilesystemImpl keeps its volume in `m.vol` (duck-typed: fs.ts may import this module).
  const inner = (fs as { m?: { vol?: unknown } } | null)?.m?.vol;
  if (inner instanceof Vol) return inner;
  if (fs instanceof Vol) return fs;
  throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'fsck needs a Filesystem from mountFilesystem()');
}

/** Checks (and with `repair` fixes) the filesystem `fs` while it keeps serving. */
export async function fsck(fs: Filesystem, options: FsckOptions = {}): Promise<FsckReport> {
  return fsckVolume(volumeOf(fs), options);
}

interface PassResult {
  readonly findings: Finding[];
  readonly counts: FsckCounts;
  readonly commitSeq: number;
  readonly leaks: LeakScan | undefined;
}

function checkOptions(o: FsckOptions): void {
  if (o === null || typeof o !== 'object') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'fsck options');
  for (const k of ['leakGraceMs', 'maxProblems', 'maxRounds'] as const) {
    const x = o[k];
    if (x !== undefined && !(typeof x === 'number' && Number.isFinite(x) && x >= 0)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `fsck ${k} ${String(x)}`);
  }
}

/** One check: the scans over one view, headhunter's check, the leak listing. */
async function checkPass(v: Vol, o: FsckOptions, pass: number): Promise<PassResult> {
  v.checkOpen();
  if (o.signal?.aborted === true) throw cairnError('CAIRN_ERR_CANCELED', 'fsck');
  const view = v.hh.view();
  let c: ScanCtx;
  try {
    let total = 0;
    for (const name of TREE_NAMES) if (view.treeNames().includes(name)) total += await view.tree(name).count();
    const progress = new Progress('scan', pass, total, () => c.findings.length, o.onProgress, o.signal);
    c = new ScanCtx(v, view, progress);
    await scanNamespace(c);
    await scanSpace(c);
    await c.resolvePaths();
    progress.report();
  } finally {
    view.release();
  }
  if (o.checkTrees !== false) {
    const p = new Progress('trees', pass, 1, () => c.findings.length, o.onProgress, o.signal);
    const r = await v.hh.check();
    for (const e of r.errors) c.add('tree', e);
    p.tick();
    p.report();
  }
  let leaks: LeakScan | undefined;
  if (o.findLeaks !== false && c.meta !== undefined) {
    const p = new Progress('segments', pass, c.counts.segments + c.counts.deadSegments, () => c.findings.length, o.onProgress, o.signal);
    leaks = await findLeaks(v, o.leakGraceMs ?? DEFAULT_LEAK_GRACE_MS, (listed) => p.tick(listed - p.done), o.signal);
    p.report();
  }
  return { findings: c.findings, counts: c.counts, commitSeq: view.commitSeq, leaks };
}

function problemsOf(findings: readonly Finding[], max: number): FsckProblem[] {
  return findings.slice(0, max).map((f) => ({ ...f.problem }) as FsckProblem);
}

/** fsck over the internals of a mounted volume (the package's own callers). */
export async function fsckVolume(v: Vol, options: FsckOptions = {}): Promise<FsckReport> {
  checkOptions(options);
  const t0 = performance.now();
  const max = options.maxProblems ?? DEFAULT_MAX_PROBLEMS;
  const first = await checkPass(v, options, 1);
  let last = first;
  let repairs = 0;
  let deleted = 0;
  let passes = 1;
  if (options.repair === true) {
    const rounds = options.maxRounds ?? DEFAULT_MAX_ROUNDS;
    for (let round = 1; round <= rounds; round++) {
      const fixable = last.findings.filter((f) => f.fix !== undefined);
      const leaked = last.leaks?.segments ?? 0;
      if (fixable.length === 0 && leaked === 0) break;
      const p = new Progress('repair', passes, fixable.length + leaked, () => last.findings.length, options.onProgress, options.signal);
      const n = await applyFixes(v, fixable, () => p.tick());
      const d = leaked > 0 ? await deleteLeaks(v, options.leakGraceMs ?? DEFAULT_LEAK_GRACE_MS, options.signal) : 0;
      p.report();
      repairs += n;
      deleted += d;
      passes++;
      last = await checkPass(v, options, passes);
      if (n + d === 0 || last.findings.length === 0) break;
    }
  }
  const remaining = problemsOf(last.findings, max);
  if (last.findings.length > 0) v.logger.warn({ problems: last.findings.length, first: remaining[0] }, 'fsck found problems');
  return {
    ok: last.findings.length === 0,
    problems: problemsOf(first.findings, max),
    problemCount: first.findings.length,
    remaining,
    remainingCount: last.findings.length,
    repairs,
    passes,
    counts: first.counts,
    leaks: leakSummary(options.repair === true ? first.leaks : last.leaks, deleted),
    commitSeq: first.commitSeq,
    durationMs: Math.round(performance.now() - t0),
  };
}
