// The fs backend under process crashes (kill -9 of a writer) and under
// create-if-absent races between processes. The writers are child processes
// running fs-test-child.ts with tsx.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFsStore } from './fs.js';
import { TEMP_DIR } from './fs-format.js';
import { seeded } from './fs-test-child.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, 'fs-test-child.ts');
const REPO = resolve(HERE, '../../../..');
const LARGE = process.env.CAIRN_TEST_LARGE === '1';

interface Child {
  readonly pid: number;
  /** Complete stdout lines so far. */
  readonly lines: string[];
  waitFor(pred: (lines: readonly string[]) => boolean, timeoutMs: number): Promise<void>;
  kill(): Promise<void>;
  exited: Promise<number | null>;
  /** Writes a line to the child's stdin. */
  send(line: string): void;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters) w();
  });
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => {
    for (const w of waiters) w();
    res(code);
  }));
  return {
    pid: proc.pid!,
    lines,
    exited,
    waitFor: (pred, timeoutMs) =>
      new Promise<void>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`child timed out; stderr: ${stderr}`)), timeoutMs);
        const check = () => {
          if (pred(lines)) {
            clearTimeout(timer);
            waiters.delete(check);
            res();
          } else if (proc.exitCode !== null || proc.signalCode !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            rej(new Error(`child exited (${proc.exitCode ?? proc.signalCode}); stderr: ${stderr}`));
          }
        };
        waiters.add(check);
        check();
      }),
    send: (line) => {
      proc.stdin.write(`${line}\n`);
    },
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const sharedBody = (i: number): Buffer => seeded(1_000_000 + i, 1024 + (i % 7) * 100_000);

describe('fs backend: kill -9 during writes', () => {
  let root: string;
  const children: Child[] = [];
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'cairn-fs-crash-'));
  });
  afterAll(async () => {
    for (const c of children) await c.kill();
    await rm(root, { recursive: true, force: true });
  });

  const rounds = LARGE ? 12 : 3;
  const objectBytes = 16 * 1024 * 1024;

  it(`no partial object is ever visible; every acknowledged write is intact (${rounds} crashes)`, async () => {
    let tempFilesLeft = 0;
    for (let round = 0; round < rounds; round++) {
      const child = startChild(['crash', root, String(objectBytes)]);
      children.push(child);
      // Let it acknowledge a few writes, then kill it just after it began a put
      // (big object or overwrite, alternately), a few ms in.
      const at = `begin ${round % 2 ? 'shared' : 'obj'} ${1 + (round % 3)}`;
      await child.waitFor((l) => l.includes(at), 60_000);
      await new Promise((r) => setTimeout(r, round % 4));
      await child.kill();
      const lines = [...child.lines];
      tempFilesLeft += (await readdir(join(root, TEMP_DIR))).length;

      const store = createFsStore({ root });
      await store.ping(); // opening removes the dead writer's temp files
      expect(await readdir(join(root, TEMP_DIR))).toEqual([]);
      const c = store.container('crash');
      const found = new Map<string, string>();
      for await (const e of c.listAll()) if (e.kind === 'object') found.set(e.name, e.etag);

      // Everything visible is whole: its bytes hash to its etag and are what the writer wrote.
      for (const [name, etag] of found) {
        const bytes = await c.getBuffer(name);
        expect(md5(bytes), name).toBe(etag);
        const m = /^(obj|seg)-(\d+)$/.exec(name);
        if (m?.[1] === 'obj') expect(bytes.equals(seeded(Number(m[2]), objectBytes)), name).toBe(true);
        else if (m?.[1] === 'seg') expect(bytes.equals(seeded(Number(m[2]), objectBytes).subarray(0, 8000)), name).toBe(true);
        else expect(name).toBe('shared');
      }
      // Segments never closed are never visible.
      expect([...found.keys()].filter((n) => n.startsWith('seg-open-'))).toEqual([]);
      // Everything acknowledged is there, with the acknowledged etag.
      let lastShared = -1;
      for (const line of lines) {
        const [kind, i, etag] = line.split(' ');
        if (kind === 'begin') continue;
        if (kind === 'put') expect(found.get(`obj-${i}`)).toBe(etag);
        if (kind === 'seg') expect(found.get(`seg-${i}`)).toBe(etag);
        if (kind === 'shared') lastShared = Number(i);
      }
      // "shared" holds the last acknowledged overwrite or the one in flight, never a mix.
      expect(lastShared).toBeGreaterThanOrEqual(0);
      const shared = await c.getBuffer('shared');
      expect(shared.equals(sharedBody(lastShared)) || shared.equals(sharedBody(lastShared + 1))).toBe(true);
      await store.close();
    }
    // The writer always dies holding at least its open segment's temp file: cleanup had work to do.
    expect(tempFilesLeft).toBeGreaterThanOrEqual(rounds);
  }, 240_000);
});

describe('fs backend: create-if-absent between processes', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'cairn-fs-race-'));
    const s = createFsStore({ root });
    await s.ping();
    await s.close();
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('exactly one process wins each name, and the object holds its bytes', async () => {
    const names = LARGE ? 200 : 40;
    const children = Array.from({ length: 4 }, () => startChild(['race', root, String(names)]));
    try {
      for (const ch of children) await ch.waitFor((l) => l.includes('ready'), 90_000);
      for (const ch of children) ch.send('go');
      for (const ch of children) await ch.waitFor((l) => l.includes('end'), 90_000);
    } finally {
      for (const ch of children) await ch.kill();
    }
    const store = createFsStore({ root });
    const c = store.container('race');
    for (let k = 0; k < names; k++) {
      const winners = children.flatMap((ch) => ch.lines.filter((l) => l.startsWith(`won ${k} `)).map((l) => l.split(' ')[2]!));
      const losers = children.filter((ch) => ch.lines.includes(`lost ${k}`)).length;
      expect([winners.length, losers]).toEqual([1, children.length - 1]);
      expect((await c.getBuffer(`race-${k}`)).toString()).toBe(winners[0]);
    }
    await store.close();
  }, 120_000);
});
