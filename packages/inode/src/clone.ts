// Sharing extents instead of copying bytes: cloneFile (server-side COPY),
// concatFiles (joining multipart / SLO parts into one file, ProxyFS's
// COALESCE), and the object API's ETag record. A shared extent counts once per
// reference in its segment's live bytes, so a segment dies only when no file
// references it any more.

import { cairnError } from '@cairn/errors';
import { decodeKey, encodeKey } from '@cairn/headhunter';
import { attrOf } from './stat.js';
import type { Vol } from './context.js';
import { flushFile } from './data.js';
import { MAX_FILE_SIZE, S_IFMT, S_IFREG, TREES, TRIM_CHUNK } from './format.js';
import { checkCred, checkIno } from './namei.js';
import { checkAccess, MAY_READ, MAY_WRITE } from './perms.js';
import { extentCodec, extentKey, type InodeRec } from './records.js';
import type { FsTx } from './tx.js';
import type { Attr, Cred } from './types.js';

function regular(rec: InodeRec, ino: number): void {
  if ((rec.mode & S_IFMT) !== S_IFREG) throw cairnError((rec.mode & S_IFMT) === 0o040000 ? 'CAIRN_ERR_FS_IS_DIR' : 'CAIRN_ERR_FS_INVALID', `inode ${ino} is not a regular file`);
}

/** Runs fn holding the gates of every inode (in ascending order: no deadlock). */
async function withGates<T>(v: Vol, inos: readonly number[], fn: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(inos)].sort((a, b) => a - b);
  const run = (i: number): Promise<T> => (i === sorted.length ? fn() : v.gate.run(sorted[i]!, () => run(i + 1)));
  return run(0);
}

/** Copies up to TRIM_CHUNK extents of `src` starting after `after` to `dst` at +shift. Returns the last key copied, or undefined when done. */
function copyChunk(t: FsTx, src: number, dst: number, shift: number, after: Buffer | undefined): Buffer | undefined {
  const rows = t.tx.scan(TREES.extents, { ...(after ? { gt: after } : { gte: encodeKey([src]) }), lt: encodeKey([src + 1]), limit: TRIM_CHUNK });
  const deltas = new Map<bigint, number>();
  for (const r of rows) {
    const off = decodeKey(r.key)[1] as number;
    const e = extentCodec.decode(r.value);
    t.tx.put(TREES.extents, extentKey(dst, off + shift), r.value);
    deltas.set(e.nonce, (deltas.get(e.nonce) ?? 0) + e.length);
  }
  t.applySegmentDeltas(deltas);
  return rows.length === TRIM_CHUNK ? rows[rows.length - 1]!.key : undefined;
}

/**
 * Appends the contents of `srcs` (in order) to `dst` by sharing their extents.
 * Read permission on every source, write permission on dst. Pending writes
 * of the sources are flushed first. dst's size grows as each source is
 * appended (a crash in between leaves a prefix).
 */
export async function concatFiles(v: Vol, cred: Cred, dst: number, srcs: readonly number[]): Promise<Attr> {
  checkCred(cred);
  checkIno(dst);
  if (!Array.isArray(srcs)) throw cairnError('CAIRN_ERR_FS_INVALID', 'srcs must be an array');
  for (const s of srcs) {
    checkIno(s);
    if (s === dst) throw cairnError('CAIRN_ERR_FS_INVALID', 'a file cannot be appended to itself');
  }
  return withGates(v, [dst, ...srcs], async () => {
    // Under the gates no new write starts; flushing makes every earlier one part of the extent maps.
    for (const s of new Set([...srcs, dst])) await flushFile(v, s);
    let rec = await v.tx((t) => {
      const d = t.mustInode(dst);
      regular(d, dst);
      checkAccess(cred, d, MAY_WRITE, `inode ${dst}`);
      for (const s of srcs) {
        const r = t.mustInode(s);
        regular(r, s);
        checkAccess(cred, r, MAY_READ, `inode ${s}`);
      }
      return d;
    });
    for (const s of srcs) {
      // The first transaction fixes where the source goes and grows dst; later ones copy the rest.
      const start = await v.tx((t) => {
        const d = t.mustInode(dst);
        const sr = t.mustInode(s);
        if (d.size + sr.size > MAX_FILE_SIZE) throw cairnError('CAIRN_ERR_FS_FILE_TOO_BIG', `inode ${dst}`);
        const next = copyChunk(t, s, dst, d.size, undefined);
        const n = t.putInode(dst, { ...d, size: d.size + sr.size, mtime: t.now, ctime: t.now, dataVersion: d.dataVersion + 1 });
        t.journalInode('write', dst, n);
        return { next, rec: n, shift: d.size };
      });
      rec = start.rec;
      let after = start.next;
      while (after !== undefined) {
        const from: Buffer = after;
        after = await v.tx((t) => copyChunk(t, s, dst, start.shift, from));
      }
    }
    v.bumpExtents(dst);
    return attrOf(v, dst, rec);
  });
}

/** Makes the empty regular file `dst` share every extent of `src` (same contents, no bytes copied). */
export async function cloneFile(v: Vol, cred: Cred, src: number, dst: number): Promise<Attr> {
  checkCred(cred);
  checkIno(src);
  checkIno(dst);
  if (src === dst) throw cairnError('CAIRN_ERR_FS_INVALID', 'clone of a file onto itself');
  const d = await v.tx((t) => t.mustInode(dst));
  if (d.size !== 0 || v.writer.pendingExtents(BigInt(dst)).length > 0) throw cairnError('CAIRN_ERR_FS_INVALID', `clone target inode ${dst} is not empty`);
  return concatFiles(v, cred, dst, [src]);
}

/**
 * Records the object API's ETag for the contents at `dataVersion`. Refused
 * (false) when the contents changed since (dataVersion differs, or writes are
 * pending). Needs write permission.
 */
export async function setEtag(v: Vol, cred: Cred, ino: number, etag: { value: string; dataVersion: number }): Promise<boolean> {
  checkCred(cred);
  checkIno(ino);
  if (etag === null || typeof etag !== 'object' || typeof etag.value !== 'string' || etag.value.length > 256 || !Number.isSafeInteger(etag.dataVersion)) {
    throw cairnError('CAIRN_ERR_FS_INVALID', 'etag must be {value: string (<= 256), dataVersion}');
  }
  // Pending bytes are fine when the record's dataVersion already counts them (settled: an fsync through the intent log, a small upload).
  const pending = v.writer.pendingExtents(BigInt(ino)).length > 0;
  if (pending && !v.settledContent.has(ino)) return false;
  return v.tx((t) => {
    const rec = t.mustInode(ino);
    regular(rec, ino);
    checkAccess(cred, rec, MAY_WRITE, `inode ${ino}`);
    if (rec.dataVersion !== etag.dataVersion) return false;
    if (pending && (v.dataVersions.get(ino) ?? 0) > rec.dataVersion) return false;
    t.putInodeRaw(ino, { ...rec, etag: { value: etag.value, dataVersion: etag.dataVersion } });
    return true;
  });
}
