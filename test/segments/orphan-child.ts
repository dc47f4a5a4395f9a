// Child process of orphan-crash.test.ts: mounts the volume in
// CAIRN_ORPHAN_DIR (fs store in store/, replay log in log/) and writes files,
// reporting on stdout, one line per event and only after it happened:
//   ready                          mounted
//   synced <name> <size> <sha256>  the file was written and fsync returned
//   stored <container> <name>      failpoint: a segment's PUT completed and its
//                                  commit is held back forever (kill me now)
// Modes (CAIRN_ORPHAN_MODE):
//   block   writes CAIRN_ORPHAN_FILES files one after the other, each fsynced;
//           the segment of the last one is stored, then its completion is never
//           reported to the writer, so its extents are never committed;
//   random  four writers create, write and fsync files (some left unsynced)
//           until the parent kills the process at a random moment.
// File names start with CAIRN_ORPHAN_PREFIX. stdout to a pipe is written
// synchronously on Linux, so a line printed before SIGKILL reaches the parent.

import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createFsStore, type Container, type ObjectStore, type OpenSegment } from '@cairn/objstore';
import { mountFilesystem, ROOT_CRED as root } from '@cairn/inode';

const dir = process.env['CAIRN_ORPHAN_DIR'];
if (!dir) throw new Error('CAIRN_ORPHAN_DIR is not set');
const mode = process.env['CAIRN_ORPHAN_MODE'] ?? 'block';
const files = Number(process.env['CAIRN_ORPHAN_FILES'] ?? '5');
const prefix = process.env['CAIRN_ORPHAN_PREFIX'] ?? 'f';

let segmentsStored = 0;

/** Holds back the completion of the files-th segment PUT in a data container (block mode). */
function failpointSegment(container: string, seg: OpenSegment): OpenSegment {
  return new Proxy(seg, {
    get(target, prop) {
      if (prop === 'close') {
        return async () => {
          const info = await target.close();
          if (mode === 'block' && ++segmentsStored === files) {
            process.stdout.write(`stored ${container} ${target.name}\n`);
            await new Promise<never>(() => {});
          }
          return info;
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function withFailpoint(inner: ObjectStore): ObjectStore {
  const wrap = (c: Container): Container => new Proxy(c, {
    get(target, prop) {
      if (prop === 'openSegment' && target.name.endsWith('-data')) {
        return (name: string, o?: Parameters<Container['openSegment']>[1]) => failpointSegment(target.name, target.openSegment(name, o));
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'container') return (name: string) => wrap(target.container(name));
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const store = withFailpoint(createFsStore({ root: join(dir, 'store') }));
const fs = await mountFilesystem({
  store, volume: 'vol', logDir: join(dir, 'log'),
  headhunter: { checkpointIntervalMs: 200 },
  segmentReclaimIntervalMs: 0,
  journal: { compactIntervalMs: 0 },
  // block mode needs every fsync to store a segment (the failpoint counts segment PUTs);
  // random mode lets small fsyncs go through the intent log, so both paths meet the crash.
  ...(mode === 'block' ? { intentLog: { maxFileBytes: 0 } } : {}),
});
process.stdout.write('ready\n');

async function writeOne(name: string, sync: boolean): Promise<void> {
  const ino = (await fs.create(root, 1, name, 0o644)).attr.ino;
  const data = randomBytes(1 + Math.floor(Math.random() * 300_000));
  for (let off = 0; off < data.length; off += 65536) await fs.write(root, ino, off, data.subarray(off, off + 65536));
  if (!sync) return;
  await fs.fsync(ino);
  process.stdout.write(`synced ${name} ${data.length} ${createHash('sha256').update(data).digest('hex')}\n`);
}

if (mode === 'block') {
  for (let i = 0; i < files; i++) await writeOne(`${prefix}-${i}`, true);
  process.stdout.write('done\n');
} else {
  let n = 0;
  await Promise.all([0, 1, 2, 3].map(async (w) => {
    for (;;) await writeOne(`${prefix}-${w}-${n++}`, Math.random() < 0.8);
  }));
}
