// Server-side COPY and COALESCE (SLO/DLO manifests and S3 multipart
// completion become one file). With the filesystem's fast paths, COPY shares
// the source's extents (cloneFile) and COALESCE appends the parts' extents
// (concatFiles): no data byte is read or written. Without them, the bytes are
// copied through the filesystem (FALLBACK, marked below), which is correct but
// costs a full read and write.

import { BodyDigests } from './digests.js';
import { isMd5Etag } from './etag.js';
import type { VolumeFs } from './fs-port.js';
import type { ObjectPath } from './names.js';
import { commitTmpFile, readBytes, writeBody, type CommitMeta, type CommitOptions, type ObjectInfo } from './objects.js';
import { createTmpFile, unlinkQuiet } from './paths.js';

/** One piece of a joined object: bytes [start, start+length) of a file. */
export interface JoinSource {
  readonly ino: number;
  readonly start: number;
  readonly length: number;
  /** True when the piece is the whole file (the fast path needs whole files). */
  readonly whole: boolean;
}

/**
 * Writes the concatenation of `sources` into a temporary file and commits it
 * as `container/path` with `meta`. `digests`, when given, sees every byte
 * copied (only on the byte-copy path); the fast path never reads the data.
 */
export async function joinInto(
  fs: VolumeFs, sources: readonly JoinSource[], container: string, path: ObjectPath,
  meta: CommitMeta, opts: CommitOptions & { digests?: BodyDigests; maxBytes: number },
): Promise<ObjectInfo> {
  const tmp = await createTmpFile(fs);
  try {
    if (fs.concatFiles && sources.every((s) => s.whole)) {
      await fs.concatFiles(tmp.attr.ino, sources.map((s) => s.ino));
    } else {
      // FALLBACK (byte copy) until the filesystem offers concatFiles for every
      // source; ranged SLO segments always take this path.
      const f = await fs.open(tmp.attr.ino, { write: true });
      try {
        let at = 0;
        const sink = opts.digests ?? new BodyDigests();
        for (const s of sources) {
          at += await writeBody(f, readBytes(fs, s.ino, s.start, s.length), sink, opts.maxBytes, at);
        }
        if (opts.digests === undefined) sink.discard(); // only the caller's digests are finished
        await f.sync();
      } finally {
        await f.close();
      }
    }
  } catch (err) {
    await unlinkQuiet(fs, tmp.dir, tmp.name).catch(() => undefined);
    throw err;
  }
  return commitTmpFile(fs, { dir: tmp.dir, name: tmp.name, ino: tmp.attr.ino }, container, path, meta, opts);
}

/**
 * COPY of a file: clones the source's extents when the filesystem can
 * (cloneFile), else copies the bytes (FALLBACK). The copy keeps the source's
 * ETag when it is an MD5 that is still valid; otherwise the MD5 computed while
 * copying is recorded.
 */
export async function copyFile(
  fs: VolumeFs, src: ObjectInfo, container: string, path: ObjectPath,
  meta: Omit<CommitMeta, 'etag'>, opts: CommitOptions & { maxBytes: number },
): Promise<ObjectInfo> {
  const tmp = await createTmpFile(fs);
  let etag: string | undefined;
  let d: BodyDigests | undefined;
  try {
    if (fs.cloneFile) {
      await fs.cloneFile(src.ino, tmp.attr.ino);
      // Same bytes: a valid recorded ETag carries over; an opaque one does not.
      etag = src.etag.startsWith('cairn-') ? undefined : src.etag;
    } else {
      // FALLBACK (byte copy) until the filesystem offers cloneFile.
      d = new BodyDigests();
      const f = await fs.open(tmp.attr.ino, { write: true });
      try {
        await writeBody(f, readBytes(fs, src.ino, 0, src.size), d, opts.maxBytes);
        await f.sync();
      } finally {
        await f.close();
      }
      const md5 = (await d.finish()).md5Hex;
      // A joined (multipart/SLO) source keeps its ETag form; anything else gets the fresh MD5.
      etag = !isMd5Etag(src.etag) && !src.etag.startsWith('cairn-') ? src.etag : md5;
    }
  } catch (err) {
    d?.discard();
    await unlinkQuiet(fs, tmp.dir, tmp.name).catch(() => undefined);
    throw err;
  }
  return commitTmpFile(fs, { dir: tmp.dir, name: tmp.name, ino: tmp.attr.ino }, container, path, { ...meta, ...(etag !== undefined ? { etag } : {}) }, opts);
}
