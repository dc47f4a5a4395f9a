// Two processes serving one headhunter volume on a real Swift, fenced through
// a real etcd. The volume is formatted with the object-store publisher (as
// cairnd formats volumes), so the first mount adopts that record. Process A
// mounts, commits and checkpoints; process B then mounts the same volume
// (its claim retried while it loses to A's checkpoints), commits and
// checkpoints. Exactly one of them keeps publishing: A stops serving with a
// fenced reason, every checkpoint from B's claim on is B's, and a fresh mount
// of B's replay log holds every change B acknowledged.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeKey, formatVolume, openVolume } from '../../packages/headhunter/src/index.js';
import { openReplayLog } from '../../packages/replaylog/src/index.js';
import { createEtcdPublisher, volumeKeys } from '../../packages/cluster/src/index.js';
import { etcdEndpoints, servicesUnavailableReason, swiftSettings } from '../helpers/services.js';
import { dropContainer, dropKeys, openEtcd, openSwift, RUN, testPrefix } from './helpers.js';

const swift = swiftSettings();
const etcd = etcdEndpoints();
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = join(ROOT, 'test/cluster/serve-child.ts');

interface Child {
  readonly proc: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

function start(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let rest = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    const ls = (rest + chunk).split('\n');
    rest = ls.pop()!;
    lines.push(...ls);
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, lines, exited };
}

const count = (c: Child, p: string): number => c.lines.filter((l) => l.startsWith(p)).length;
const value = (c: Child, p: string): string | undefined => c.lines.find((l) => l.startsWith(p))?.slice(p.length);

async function until(what: string, cond: () => boolean, children: Child[], ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    const failed = children.find((c) => c.lines.some((l) => l.startsWith('error ')));
    if (failed) throw new Error(`child failed: ${failed.lines.find((l) => l.startsWith('error '))}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function exitOf(c: Child, ms: number): Promise<number | null | 'timeout'> {
  return Promise.race([c.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
}

describe.skipIf(!swift || !etcd)(`two processes on one volume, fenced by etcd${swift && etcd ? '' : ` (not run: ${servicesUnavailableReason()})`}`, () => {
  const store = openSwift(swift!);
  const client = openEtcd(etcd!);
  const prefix = testPrefix('two-process');
  const containerName = `cairn-cluster-2p-${RUN}`;
  const dir = mkdtempSync(join(tmpdir(), 'cairn-cluster-2p-'));
  const children: Child[] = [];

  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.pid !== undefined) process.kill(c.proc.pid, 'SIGKILL');
    await dropKeys(client, prefix);
    client.close();
    await dropContainer(swift!, containerName);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exactly one keeps publishing; the other stops serving, fenced; the winner lost nothing', async () => {
    const container = store.container(containerName);
    await formatVolume({ container, trees: ['t'] });
    const env = (tag: string): Record<string, string> => ({
      CAIRN_CL_SWIFT: JSON.stringify(swift), CAIRN_CL_ETCD: etcd!.join(','), CAIRN_CL_PREFIX: prefix,
      CAIRN_CL_CONTAINER: containerName, CAIRN_CL_LOG: join(dir, `log-${tag}`), CAIRN_CL_TAG: tag,
    });

    const a = start(env('a'));
    children.push(a);
    await until('A to commit and checkpoint', () => count(a, 'C ') >= 3, [a]);
    const b = start(env('b'));
    children.push(b);
    await until('B to mount', () => count(b, 'open ') === 1, [a, b]);
    await until('B to commit and checkpoint', () => count(b, 'C ') >= 2, [a, b]);

    // A loses at its next publication and stops serving, saying why.
    expect(await exitOf(a, 30_000)).toBe(7);
    expect(value(a, 'fenced ')).toMatch(/published by another writer|is newer than|does not follow/);
    const aDone = count(a, 'A ');
    // B serves on, then unmounts cleanly.
    await until('B to go on after A stopped', () => count(b, 'C ') >= 4 && count(b, 'A ') >= 150, [b]);
    b.proc.stdin!.write('stop\n');
    expect(await exitOf(b, 60_000)).toBe(0);
    expect(b.lines).toContain('closed');

    // Exactly one kept publishing: every checkpoint from B's claim on is B's, none of A's is newer.
    const claim = Number(value(b, 'open '));
    const bWriter = value(b, 'writer ')!;
    const aWriter = value(a, 'writer ')!;
    const keys = volumeKeys(prefix, containerName);
    const history = await client.getAll().prefix(keys.history).strings();
    const entries = Object.values(history).map((v) => JSON.parse(v) as { seq: number; writer: string });
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      if (e.seq >= claim) expect(e.writer).toBe(bWriter);
      if (e.writer === aWriter) expect(e.seq).toBeLessThan(claim);
    }
    expect((JSON.parse((await client.get(keys.pointer).string())!) as { writer: string }).writer).toBe(bWriter);

    // A fresh mount of B's replay log holds every change B acknowledged, and A's up to some point, consistently.
    const log = await openReplayLog({ dir: join(dir, 'log-b'), fsync: false });
    const publisher = createEtcdPublisher({ container, client, prefix });
    const db = await openVolume({ container, log, publisher, checkpointIntervalMs: 3_600_000 });
    const t = db.tree('t');
    const bDone = count(b, 'A ');
    expect(bDone).toBeGreaterThanOrEqual(150);
    expect((await t.get(encodeKey(['b'])))?.toString()).toBe(String(bDone - 1));
    for (let n = 0; n < bDone; n++) expect((await t.get(encodeKey(['b', n])))?.toString()).toBe(String(n));
    const aSeen = await t.get(encodeKey(['a']));
    const aLast = aSeen === undefined ? -1 : Number(aSeen.toString());
    expect(aLast).toBeLessThan(aDone);
    for (let n = 0; n <= aLast; n++) expect((await t.get(encodeKey(['a', n])))?.toString()).toBe(String(n));
    expect(await t.get(encodeKey(['a', aLast + 1]))).toBeUndefined();
    expect((await db.check()).errors).toEqual([]);
    await db.close();
    await log.close();
    await publisher.close();
  }, 180_000);
});
