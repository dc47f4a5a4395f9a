// The direct data path (ProxyFS's "provision object" + "wrote"): a client
// that can reach the object store writes a segment object itself, then tells
// the filesystem which file bytes it holds. provisionSegment() names a fresh
// segment object; wrote() checks the object is stored (invariant 1: nothing
// durable names an object that is not) and commits its extents exactly as a
// segment of the writer would be committed.

import { cairnError, isCairnError } from '@cairn/errors';
import type { DurableSegment } from '@cairn/segments';
import type { Vol } from './context.js';
import { commitSegment, flushFile } from './data.js';
import { MAX_FILE_SIZE, S_IFMT, S_IFREG, TREES } from './format.js';
import { checkCred, checkIno } from './namei.js';
import { checkAccess, MAY_WRITE } from './perms.js';
import { FsReader } from './reader.js';
import { nonceKey } from './records.js';
import { attrOf } from './stat.js';
import type { Attr, Cred } from './types.js';

/** One run of file bytes inside a provisioned segment. */
export interface DirectWrite {
  readonly fileOffset: number;
  readonly segmentOffset: number;
  readonly length: number;
}

/** A fresh segment object for the direct data path: write it, then report it with wrote(). */
export async function provisionSegment(v: Vol): Promise<{ nonce: bigint; container: string; name: string }> {
  const nonce = await v.hh.nextNonce();
  const ref = v.locate(nonce);
  return { nonce, container: ref.container, name: ref.name };
}

/**
 * Commits the extents of a provisioned segment the caller stored: `writes`
 * (file ranges of `ino` and where they are in the object). The object must
 * exist and hold every byte named; a segment is reported once. The file's
 * pending writes are flushed first so that they cannot commit after these.
 */
export async function wrote(v: Vol, cred: Cred, ino: number, nonce: bigint, writes: readonly DirectWrite[]): Promise<Attr> {
  checkCred(cred);
  checkIno(ino);
  if (typeof nonce !== 'bigint' || nonce < 1n) throw cairnError('CAIRN_ERR_FS_INVALID', 'segment nonce');
  if (!Array.isArray(writes) || writes.length === 0) throw cairnError('CAIRN_ERR_FS_INVALID', 'wrote needs at least one write');
  let end = 0;
  for (const w of writes) {
    for (const x of [w.fileOffset, w.segmentOffset, w.length]) {
      if (!Number.isSafeInteger(x) || x < 0) throw cairnError('CAIRN_ERR_FS_INVALID', 'wrote offsets and lengths');
    }
    if (w.length === 0) throw cairnError('CAIRN_ERR_FS_INVALID', 'wrote of 0 bytes');
    if (w.fileOffset + w.length > MAX_FILE_SIZE) throw cairnError('CAIRN_ERR_FS_FILE_TOO_BIG', `inode ${ino}`);
    end = Math.max(end, w.segmentOffset + w.length);
  }
  const ref = v.locate(nonce);
  // A segment of the writer's own (still in memory) is never the caller's to report.
  if (v.writer.readPending(nonce, 0, 0) !== undefined) throw cairnError('CAIRN_ERR_FS_INVALID', `segment ${nonce} is not a provisioned one`);
  let size: number;
  try {
    size = (await v.store.container(ref.container).head(ref.name)).size;
  } catch (err) {
    if (isCairnError(err, 'CAIRN_ERR_OBJ_NOT_FOUND')) throw cairnError('CAIRN_ERR_FS_INVALID', `segment object ${ref.name} is not stored`, { cause: err });
    throw cairnError('CAIRN_ERR_FS_IO', `segment object ${ref.name}`, { cause: err });
  }
  if (end > size) throw cairnError('CAIRN_ERR_FS_INVALID', `segment object ${ref.name} holds ${size} bytes, writes reach ${end}`);
  return v.gate.run(ino, async () => {
    await FsReader.with(v, async (r) => {
      const rec = await r.mustInode(ino);
      if (rec.nlink === 0 && !v.isOpen(ino)) throw cairnError('CAIRN_ERR_FS_STALE', `inode ${ino} (unlinked)`);
      if ((rec.mode & S_IFMT) !== S_IFREG) throw cairnError('CAIRN_ERR_FS_INVALID', `inode ${ino} is not a regular file`);
      checkAccess(cred, rec, MAY_WRITE, `inode ${ino}`);
      if ((await r.view.tree(TREES.segments).has(nonceKey(nonce))) || (await r.view.tree(TREES.deadsegs).has(nonceKey(nonce)))) {
        throw cairnError('CAIRN_ERR_FS_INVALID', `segment ${nonce} was already reported`);
      }
    });
    await flushFile(v, ino);
    const seg: DurableSegment = {
      segment: ref, size, objectSize: size, etag: '', reason: 'flush',
      writes: writes.map((w) => ({ fileKey: BigInt(ino), fileOffset: w.fileOffset, segmentOffset: w.segmentOffset, length: w.length })),
    };
    await commitSegment(v, seg, { mustBeNew: true });
    return FsReader.with(v, async (r) => attrOf(v, ino, await r.mustInode(ino)));
  });
}
