import { cairnError } from '@cairn/errors';
import type { CairnClient } from '@cairn/rpc';
import { describe, expect, it } from 'vitest';
import { OpenFiles } from './open-files.js';
import { WriteBudget } from './write-behind.js';

/** Just enough of a CairnClient for open files: write, read, open, and the mount's limits. */
function fakeClient(): { client: CairnClient; writes: Array<{ fh: number; offset: number; data: string }>; release: () => void; staleFh: Set<number> } {
  const writes: Array<{ fh: number; offset: number; data: string }> = [];
  const waiting: Array<() => void> = [];
  const staleFh = new Set<number>();
  let nextFh = 100;
  const client = {
    mount: { maxIoBytes: 4 },
    write: async (p: { fh: number; offset: number; data: Uint8Array }) => {
      if (staleFh.has(p.fh)) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', `fh ${p.fh}`);
      await new Promise<void>((r) => waiting.push(r));
      writes.push({ fh: p.fh, offset: p.offset, data: Buffer.from(p.data).toString() });
      return { written: p.data.length };
    },
    read: async () => ({ data: Buffer.alloc(0) }),
    open: async () => ({ fh: nextFh++, attr: {} }),
  } as unknown as CairnClient;
  return { client, writes, staleFh, release: () => waiting.splice(0).forEach((r) => r()) };
}

const options = { readAheadBytes: 0, writeChunkBytes: 8, writeDelayMs: 1, writeBehind: true };

describe('OpenFiles', () => {
  it('splits writes at the server limit, and refuses to cache attributes until they landed', async () => {
    const f = fakeClient();
    const written: number[] = [];
    const files = new OpenFiles(f.client, new WriteBudget(1024), { ...options, onWritten: (ino) => written.push(ino) });
    const file = files.add(7, 1, { read: true, write: true, append: false });
    const since = files.clock;
    expect(files.settledSince(7, since)).toBe(true);
    await file.writer.write(0, Buffer.from('abcdefgh'), undefined);
    expect(files.settledSince(7, since)).toBe(false);
    expect(files.pendingEnd(7)).toBe(8);
    const settled = files.settle(7);
    for (let i = 0; i < 4 && f.writes.length < 2; i++) {
      f.release();
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await settled).toBe(true);
    expect(f.writes.map((w) => w.data)).toEqual(['abcd', 'efgh']);
    expect(written).toEqual([7]);
    expect(files.settledSince(7, since)).toBe(false);
    expect(files.settledSince(7, files.clock)).toBe(true);
    expect(files.settledSince(8, since)).toBe(true);
  });

  it('opens the file again when the server lost the handle (re-mount)', async () => {
    const f = fakeClient();
    const files = new OpenFiles(f.client, new WriteBudget(1024), { ...options, writeBehind: false });
    const file = files.add(7, 1, { read: false, write: true, append: false });
    f.staleFh.add(1);
    const w = file.writer.write(0, Buffer.from('x'), undefined);
    await new Promise((r) => setTimeout(r, 1));
    f.release();
    await w;
    expect(file.fh).toBe(100);
    expect(f.writes).toEqual([{ fh: 100, offset: 0, data: 'x' }]);
  });
});
