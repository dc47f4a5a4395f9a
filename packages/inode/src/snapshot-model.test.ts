// Snapshots against a model: random writes, truncates, unlinks, renames,
// fsyncs, snapshots, snapshot deletions, cleaning passes, segment deletion
// and remounts; every retained snapshot must read exactly the model's state
// at the moment it was taken (names, sizes, bytes), the live volume the
// model's current state, and once every snapshot is gone the deletion policy
// must let every dead segment go.

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Filesystem } from './index.js';
import { ROOT_CRED as root } from './perms.js';
import { makeFs, type TestFs } from './testing/fixture.js';

let t: TestFs | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

type State = Map<string, Buffer>;

const NAMES = ['f0', 'f1', 'f2', 'f3'];
const name = fc.constantFrom(...NAMES);
const op = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('write' as const), name, off: fc.nat(4000), len: fc.integer({ min: 1, max: 5000 }), seed: fc.nat(255) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('truncate' as const), name, size: fc.nat(8000) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unlink' as const), name }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rename' as const), from: name, to: name }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('fsync' as const), name }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('snapshot' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('delete' as const), pick: fc.nat(10) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('clean' as const), includeSnapshotted: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('remount' as const) }) },
);

function bytes(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (seed + i * 13 + (i >> 7)) & 0xff;
  return b;
}

/** Reads a whole tree of names (the root directory) through a reader with readdir/lookup/read. */
interface Reader {
  readdir: Filesystem['readdir'];
  lookup: Filesystem['lookup'];
  read(cred: typeof root, ino: number, offset: number, length: number): Promise<Buffer>;
}

async function expectState(r: Reader, want: State, what: string): Promise<void> {
  const names = (await r.readdir(root, 1, { limit: 100 })).entries.map((e) => e.name).filter((n) => n !== '.' && n !== '..');
  expect(names.sort(), `${what}: names`).toEqual([...want.keys()].sort());
  for (const [n, content] of want) {
    const a = await r.lookup(root, 1, n);
    expect(a.size, `${what}: size of ${n}`).toBe(content.length);
    const got = await r.read(root, a.ino, 0, 1 << 20);
    expect(got.equals(content), `${what}: bytes of ${n}`).toBe(true);
  }
}

async function ageCheckpoints(fs: Filesystem): Promise<void> {
  for (let i = 0; i < 4; i++) await fs.checkpoint();
}

describe('snapshots against a model', () => {
  it('every retained snapshot reads the state of its moment; deleting them all frees every dead segment', async () => {
    t = await makeFs({}, { segments: { maxFlushSize: 4096, maxFlushTimeMs: 60_000 } });
    const tt = t;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 40 }), async (ops) => {
        run++;
        const live: State = new Map();
        const snaps: Array<{ name: string; state: State }> = [];
        // A fresh directory would do, but the root keeps the reader simple: start from an empty root.
        for (const e of (await tt.fs.readdir(root, 1, { limit: 100 })).entries) if (e.name !== '.' && e.name !== '..') await tt.fs.unlink(root, 1, e.name);
        for (const s of await tt.fs.listSnapshots()) await tt.fs.deleteSnapshot(s.name);
        let n = 0;
        for (const o of ops) {
          const fs = tt.fs;
          switch (o.k) {
            case 'write': {
              if (!live.has(o.name)) {
                await fs.create(root, 1, o.name, 0o644);
                live.set(o.name, Buffer.alloc(0));
              }
              const ino = (await fs.lookup(root, 1, o.name)).ino;
              const data = bytes(o.len, o.seed);
              await fs.write(root, ino, o.off, data);
              let m = live.get(o.name)!;
              if (o.off + o.len > m.length) m = Buffer.concat([m, Buffer.alloc(o.off + o.len - m.length)]);
              data.copy(m, o.off);
              live.set(o.name, m);
              break;
            }
            case 'truncate': {
              const m = live.get(o.name);
              if (m === undefined) break;
              await fs.setattr(root, (await fs.lookup(root, 1, o.name)).ino, { size: o.size });
              live.set(o.name, o.size <= m.length ? Buffer.from(m.subarray(0, o.size)) : Buffer.concat([m, Buffer.alloc(o.size - m.length)]));
              break;
            }
            case 'unlink':
              if (!live.has(o.name)) break;
              await fs.unlink(root, 1, o.name);
              live.delete(o.name);
              break;
            case 'rename': {
              const m = live.get(o.from);
              if (m === undefined || o.from === o.to) break;
              await fs.rename(root, 1, o.from, 1, o.to);
              live.delete(o.from);
              live.set(o.to, m);
              break;
            }
            case 'fsync':
              if (live.has(o.name)) await fs.flushFile((await fs.lookup(root, 1, o.name)).ino);
              break;
            case 'snapshot': {
              const sname = `r${run}-s${n++}`;
              await fs.createSnapshot(sname);
              snaps.push({ name: sname, state: new Map([...live].map(([k, b]) => [k, Buffer.from(b)])) });
              break;
            }
            case 'delete': {
              if (snaps.length === 0) break;
              const [s] = snaps.splice(o.pick % snaps.length, 1);
              await fs.deleteSnapshot(s!.name);
              break;
            }
            case 'clean':
              // Committed segments only are cleaned: make every write durable first.
              for (const n of live.keys()) await fs.flushFile((await fs.lookup(root, 1, n)).ino);
              await fs.clean({ minAgeMs: 0, bytesPerSecond: Infinity, maxUtilization: 1, includeSnapshotted: o.includeSnapshotted });
              await ageCheckpoints(fs);
              await fs.reclaimSegments();
              break;
            case 'remount':
              await tt.remount();
              break;
          }
        }
        await expectState(tt.fs, live, 'live volume');
        for (const s of snaps) {
          const h = await tt.fs.openSnapshot(s.name);
          try {
            await expectState(h, s.state, `snapshot ${s.name}`);
          } finally {
            await h.close();
          }
        }
        // Every snapshot gone: the deletion policy lets every dead segment go.
        for (const s of snaps) await tt.fs.deleteSnapshot(s.name);
        for (const e of (await tt.fs.readdir(root, 1, { limit: 100 })).entries) if (e.name !== '.' && e.name !== '..') await tt.fs.unlink(root, 1, e.name);
        await ageCheckpoints(tt.fs);
        const r = await tt.fs.reclaimSegments();
        expect(r.waiting).toBe(0);
      }),
      { numRuns: 80 },
    );
  }, 180_000);
});
