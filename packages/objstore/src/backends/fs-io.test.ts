// File I/O helpers of the fs backend: the streamed read overlaps its reads
// with the body check, and short operations use plain descriptors.

import { mkdtemp, rm } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BodyCheck } from './fs-format.js';
import { FileRangeStream } from './fs-io.js';
import { createFsStore } from './fs.js';

vi.mock('node:fs/promises', async (importOriginal) => {
  const m = await importOriginal<typeof import('node:fs/promises')>();
  return { ...m, open: vi.fn(m.open) };
});

const MiB = 1024 * 1024;

describe('FileRangeStream', () => {
  it('issues the next read before it verifies the chunk it has, so the check overlaps the read', async () => {
    const issued: number[] = [];
    let closed = false;
    const fh = {
      read: async (buf: Buffer, off: number, len: number, pos: number) => {
        issued.push(pos);
        buf.fill(pos / MiB, off, off + len);
        return { bytesRead: len, buffer: buf };
      },
      close: async () => {
        closed = true;
      },
    };
    const readsWhenChecked: number[] = [];
    const check = {
      update: () => {
        readsWhenChecked.push(issued.length);
        return undefined;
      },
      ok: async () => true,
      discard: () => undefined,
      kind: 'CRC-32',
    };
    const s = new FileRangeStream(fh as never, 0, 3 * MiB, check as unknown as BodyCheck, 'c/o', () => undefined);
    const got: Buffer[] = [];
    for await (const c of s) got.push(c as Buffer);
    expect(Buffer.concat(got).length).toBe(3 * MiB);
    expect(got.map((c) => c[0])).toEqual([0, 1, 2]);
    // When chunk k is checked, the read of chunk k+1 is already under way (the last has none).
    expect(readsWhenChecked).toEqual([2, 3, 3]);
    expect(closed).toBe(true);
  });

  it('holds back the read after next while the check asks to wait', async () => {
    const issued: number[] = [];
    const fh = {
      read: async (buf: Buffer, off: number, len: number, pos: number) => {
        issued.push(pos);
        return { bytesRead: len, buffer: buf };
      },
      close: async () => undefined,
    };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const check = {
      update: () => (++calls === 1 ? gate : undefined),
      ok: async () => true,
      discard: () => undefined,
      kind: 'MD5',
    };
    const s = new FileRangeStream(fh as never, 0, 4 * MiB, check as unknown as BodyCheck, 'c/o', () => undefined);
    const it = s[Symbol.asyncIterator]();
    await it.next(); // chunk 0 (checked: asks to wait); chunk 1 was already being read
    await it.next(); // chunk 1: chunk 2's read waits for the check
    await new Promise((r) => setTimeout(r, 20));
    expect(issued.length).toBe(2);
    release();
    let n = 2;
    while (!(await it.next()).done) n++;
    expect([n, issued.length]).toEqual([4, 4]);
  });
});

describe('fs backend descriptors', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
    root = undefined;
  });

  it('small puts, getBuffer, head and list use plain descriptors, not FileHandles; a streamed get still does', async () => {
    root = await mkdtemp(join(tmpdir(), 'cairn-fs-fd-'));
    const store = createFsStore({ root });
    const c = store.container('fdtest');
    await c.put('warm', Buffer.from('x')); // store opened, container made
    const open = vi.mocked(fsp.open);
    open.mockClear();
    const body = Buffer.alloc(4096, 7);
    await c.put('a/b', body);
    expect((await c.getBuffer('a/b')).equals(body)).toBe(true);
    expect((await c.head('a/b')).size).toBe(4096);
    expect((await c.list()).entries.length).toBe(2);
    const seg = c.openSegment('seg');
    await seg.append(body);
    await seg.close();
    await c.delete('seg');
    expect(open).not.toHaveBeenCalled();
    const r = await c.get('a/b');
    for await (const _ of r.body) void _;
    expect(open).toHaveBeenCalledTimes(1);
    await store.close();
  });
});
