// Fencing across processes: a child process serves a volume on the fs object
// store; a second mount (here, in this process, with its own replay log) takes
// the volume over. The child must notice at its next checkpoint publish and
// stop serving (every later operation fails with CAIRN_ERR_META_FENCED); the
// new owner serves everything the old one had checkpointed, and only one of
// the two ever publishes after the takeover.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createFsStore } from '../../packages/objstore/src/index.js';
import { openReplayLog } from '../../packages/replaylog/src/index.js';
import { isCairnError } from '../../packages/errors/src/index.js';
import { encodeKey, formatVolume, openVolume } from '../../packages/headhunter/src/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = join(ROOT, 'test/headhunter/fence-child.ts');

interface Child {
  proc: ChildProcess;
  lines: string[];
  opened: Promise<void>;
  exited: Promise<number | null>;
}

function start(root: string, logDir: string, tag: string): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT,
    env: { ...process.env, CAIRN_FENCE_ROOT: root, CAIRN_FENCE_LOG: logDir, CAIRN_FENCE_TAG: tag },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let rest = '';
  let onOpen!: () => void;
  const opened = new Promise<void>((r) => (onOpen = r));
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    const ls = (rest + chunk).split('\n');
    rest = ls.pop()!;
    for (const l of ls) {
      lines.push(l);
      if (l === 'open') onOpen();
    }
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, lines, opened, exited };
}

describe('fencing between processes', () => {
  it('a takeover fences the previous owner, which stops serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-hh-fence-'));
    const root = join(dir, 'store');
    try {
      const store = createFsStore({ root });
      await formatVolume({ container: store.container('vol'), trees: ['t'] });
      const a = start(root, join(dir, 'log-a'), 'a');
      await a.opened;
      // Let A commit and checkpoint for a while (its interval is 100 ms).
      while (a.lines.filter((l) => l.startsWith('A ')).length < 200) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
      // Take over with a second mount (another log: another machine).
      const log = await openReplayLog({ dir: join(dir, 'log-b') });
      // A keeps publishing checkpoints: B's claim may lose that race (then B is the one fenced
      // and its mount fails); a takeover tries again until it wins.
      let b: Awaited<ReturnType<typeof openVolume>> | undefined;
      for (let i = 0; b === undefined; i++) {
        try {
          b = await openVolume({ container: store.container('vol'), log, checkpointIntervalMs: 100 });
        } catch (err) {
          if (i >= 20 || !isCairnError(err, 'CAIRN_ERR_META_FENCED')) throw err;
        }
      }
      const code = await Promise.race([a.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
      if (code === 'timeout') a.proc.kill('SIGKILL');
      expect(code).toBe(7);
      expect(a.lines.some((l) => l.startsWith('fenced '))).toBe(true);
      // B has A's checkpointed state: A's counter as of its last published checkpoint (at least).
      const seen = await b.tree('t').get(encodeKey(['a']));
      const last = seen === undefined ? -1 : Number(seen.toString());
      const n = Number(a.lines.filter((l) => l.startsWith('A ')).length);
      expect(last).toBeLessThan(n);
      for (let i = 0; i <= last; i += Math.max(1, Math.floor(last / 50))) {
        expect((await b.tree('t').get(encodeKey(['a', i])))?.toString()).toBe(String(i));
      }
      // B serves on and publishes.
      await b.batch([{ type: 'put', tree: 't', key: encodeKey(['b']), value: Buffer.from('ok') }]);
      await b.checkpoint();
      expect((await b.check()).errors).toEqual([]);
      await b.close();
      await log.close();
      // And a third mount sees B's writes: A never overwrote anything after the takeover.
      const log3 = await openReplayLog({ dir: join(dir, 'log-c') });
      const c = await openVolume({ container: store.container('vol'), log: log3 });
      expect((await c.tree('t').get(encodeKey(['b'])))?.toString()).toBe('ok');
      const cSeen = await c.tree('t').get(encodeKey(['a']));
      expect(cSeen === undefined ? -1 : Number(cSeen.toString())).toBe(last);
      await c.close();
      await log3.close();
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
