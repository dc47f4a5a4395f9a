// Test support for the unit tests of this package (not exported): an
// instrumented file layer that counts, delays and fails operations and tracks
// which bytes of each file an fdatasync made durable, and temp-dir helpers.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { nodeIo, type LogFile, type LogIo } from './io.js';

export type IoOp = 'open' | 'read' | 'writev' | 'datasync' | 'sync' | 'truncate' | 'rename' | 'unlink' | 'syncDir' | 'list' | 'mkdirs';

/** A hook run before each operation; it may delay (return a promise), throw, or change a write's result. */
export type IoHook = (op: IoOp, path: string) => void | Promise<void>;

interface Tracked {
  path: string;
  written: number;
  durable: number;
}

export class InstrumentedIo implements LogIo {
  readonly counts: Record<IoOp, number> = {
    open: 0, read: 0, writev: 0, datasync: 0, sync: 0, truncate: 0, rename: 0, unlink: 0, syncDir: 0, list: 0, mkdirs: 0,
  };
  /** datasync calls started and completed. */
  syncStarts = 0;
  syncDone = 0;
  /** Operations in order, e.g. "unlink 0000000000000001.rlog", "syncDir". */
  readonly trace: string[] = [];
  hook: IoHook | undefined;
  /** When set, a write stores at most this many bytes per call (short writes). */
  maxWriteBytes: number | undefined;
  private readonly files = new Map<string, Tracked>();

  constructor(private readonly base: LogIo = nodeIo) {}

  /** Bytes of the file now at `path` made durable by a completed fdatasync/fsync. */
  durable(path: string): number {
    return this.files.get(path)?.durable ?? 0;
  }

  private async before(op: IoOp, path: string): Promise<void> {
    this.counts[op]++;
    this.trace.push(`${op} ${path.split('/').pop()}`);
    if (this.hook) await this.hook(op, path);
  }

  async mkdirs(dir: string): Promise<string[]> {
    await this.before('mkdirs', dir);
    return this.base.mkdirs(dir);
  }

  async list(dir: string): Promise<string[]> {
    await this.before('list', dir);
    return this.base.list(dir);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.before('rename', to);
    await this.base.rename(from, to);
    const t = this.files.get(from);
    if (t) {
      this.files.delete(from);
      t.path = to;
      this.files.set(to, t);
    }
  }

  async unlink(path: string): Promise<void> {
    await this.before('unlink', path);
    await this.base.unlink(path);
    this.files.delete(path);
  }

  async syncDir(dir: string): Promise<void> {
    await this.before('syncDir', dir);
    return this.base.syncDir(dir);
  }

  async open(path: string, mode: 'read' | 'write' | 'create'): Promise<LogFile> {
    await this.before('open', path);
    const f = await this.base.open(path, mode);
    let t = this.files.get(path);
    if (!t || mode === 'create') {
      const size = mode === 'create' ? 0 : await f.size();
      t = { path, written: size, durable: size };
      this.files.set(path, t);
    }
    const tracked = t;
    return {
      path: f.path,
      read: async (b, o, l, p) => {
        await this.before('read', tracked.path);
        return f.read(b, o, l, p);
      },
      writev: async (bufs, pos) => {
        await this.before('writev', tracked.path);
        let list = bufs;
        if (this.maxWriteBytes !== undefined) {
          let room = this.maxWriteBytes;
          const cut: Buffer[] = [];
          for (const b of bufs) {
            if (room <= 0) break;
            cut.push(b.subarray(0, room));
            room -= Math.min(room, b.length);
          }
          list = cut;
        }
        const n = await f.writev(list, pos);
        tracked.written = Math.max(tracked.written, pos + n);
        return n;
      },
      datasync: async () => {
        await this.before('datasync', tracked.path);
        const upTo = tracked.written;
        this.syncStarts++;
        await f.datasync();
        this.syncDone++;
        tracked.durable = Math.max(tracked.durable, upTo);
      },
      sync: async () => {
        await this.before('sync', tracked.path);
        const upTo = tracked.written;
        await f.sync();
        tracked.durable = Math.max(tracked.durable, upTo);
      },
      truncate: async (l) => {
        await this.before('truncate', tracked.path);
        await f.truncate(l);
        tracked.written = Math.min(tracked.written, l);
        tracked.durable = Math.min(tracked.durable, l);
      },
      size: () => f.size(),
      close: () => f.close(),
    };
  }
}

/** A fresh temporary directory, and a function that removes it. */
export function tempDir(prefix = 'cairn-replaylog-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Call at a test file's top level: returns a function that makes a fresh
 * temporary directory, removed after the test that made it.
 */
export function tempDirs(): () => string {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  return () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    return t.dir;
  };
}

/** The log file names in `dir`, sorted. */
export function logFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.rlog')).sort();
}
