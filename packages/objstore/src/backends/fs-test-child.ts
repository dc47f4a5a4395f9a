// A child process for the fs backend's crash and cross-process tests (fs.test.ts
// runs it with `node --import tsx`). It reports on stdout, one line per finished
// operation, so the parent knows what was acknowledged before it kills the child.
//
//   crash <root> <objectBytes>: forever: put obj-<i> (streamed, fsync on), then
//     overwrite "shared" with seed i, then write and close segment seg-<i>, leaving
//     seg-open-<i> open; prints "begin obj <i>" / "begin shared <i>" before the
//     puts and "put <i> <etag>", "shared <i>", "seg <i> <etag>" after each step.
//   race <root> <names>: prints "ready", waits for a line on stdin, then tries
//     create-if-absent of race-0..race-<names-1>, printing "won <k> <body>" or
//     "lost <k>" per name, then "end".

import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { createFsStore } from './fs.js';

/** Deterministic bytes for a seed (the tests import it to check what the child wrote). */
export function seeded(seed: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761 + 12345) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

async function* chunksOf(b: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function crash(root: string, objectBytes: number): Promise<void> {
  const c = createFsStore({ root }).container('crash');
  for (let i = 0; ; i++) {
    const body = seeded(i, objectBytes);
    process.stdout.write(`begin obj ${i}\n`);
    const info = await c.put(`obj-${i}`, chunksOf(body, 256 * 1024));
    process.stdout.write(`put ${i} ${info.etag}\n`);
    process.stdout.write(`begin shared ${i}\n`);
    await c.put('shared', seeded(1_000_000 + i, 1024 + (i % 7) * 100_000));
    process.stdout.write(`shared ${i}\n`);
    const seg = c.openSegment(`seg-${i}`);
    const pending = c.openSegment(`seg-open-${i}`);
    for (let k = 0; k < 8; k++) {
      await seg.append(body.subarray(k * 1000, (k + 1) * 1000));
      await pending.append(body.subarray(k * 1000, (k + 1) * 1000));
    }
    const s = await seg.close();
    process.stdout.write(`seg ${i} ${s.etag}\n`);
  }
}

async function race(root: string, names: number): Promise<void> {
  const c = createFsStore({ root }).container('race');
  const me = createHash('md5').update(String(process.pid)).digest('hex');
  await c.create();
  // Start together: report ready, wait for the parent's "go" line.
  process.stdout.write('ready\n');
  await new Promise<void>((res) => process.stdin.once('data', () => res()));
  for (let k = 0; k < names; k++) {
    try {
      await c.put(`race-${k}`, Buffer.from(me), { ifNoneMatch: true });
      process.stdout.write(`won ${k} ${me}\n`);
    } catch {
      process.stdout.write(`lost ${k}\n`);
    }
  }
  process.stdout.write('end\n');
}

// Runs only as a program, never on import.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, root, arg] = process.argv.slice(2);
  if (mode === 'crash') await crash(root!, Number(arg));
  else if (mode === 'race') await race(root!, Number(arg));
  else throw new Error(`unknown mode ${mode}`);
}
