// Object ETags (docs/object-api.md "ETags"):
//
// - An object written whole through the object API gets the MD5 of its bytes
//   (or, joined from parts, the S3 multipart / Swift SLO form), recorded with
//   the inode's dataVersion at that moment.
// - The recorded value is served only while dataVersion is unchanged. Once the
//   file is modified through the filesystem, the ETag is the opaque
//   "cairn-<ino hex>-<dataVersion>-<mtime in microseconds, base 36>":
//   distinct from any MD5 (clients then skip checksum checks), different
//   after every modification (dataVersion may count a run of writes before a
//   flush once; the mtime moves with each), never a stale MD5.
// - Directories have the MD5 of no bytes.

import { createHash } from 'node:crypto';
import type { FsAttr, VolumeFs } from './fs-port.js';

export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

/** The opaque ETag of a file whose recorded ETag no longer applies. */
export function opaqueEtag(attr: Pick<FsAttr, 'ino' | 'dataVersion' | 'mtimeMs'>): string {
  return `cairn-${attr.ino.toString(16)}-${attr.dataVersion}-${Math.round(attr.mtimeMs * 1000).toString(36)}`;
}

/** True when an ETag is a plain MD5 hex (what clients may verify the bytes against). */
export function isMd5Etag(etag: string): boolean {
  return /^[0-9a-f]{32}$/.test(etag);
}

/** The current ETag of a file or directory. */
export async function currentEtag(fs: VolumeFs, attr: FsAttr): Promise<string> {
  if (attr.type === 'dir') return EMPTY_MD5;
  // The attributes may carry the record already (one filesystem call less per listed object).
  const rec = attr.etag !== undefined ? attr.etag ?? undefined : await fs.getEtag(attr.ino);
  if (rec && rec.dataVersion === attr.dataVersion) return rec.value;
  return opaqueEtag(attr);
}

/** The S3 multipart ETag of parts with these MD5 hex digests: md5(concat(binary md5s))-N. */
export function multipartEtag(partMd5s: readonly string[]): string {
  const h = createHashMd5();
  for (const p of partMd5s) h.update(Buffer.from(p, 'hex'));
  return `${h.digest('hex')}-${partMd5s.length}`;
}

/** Swift's SLO ETag: md5 of the concatenated segment ETag strings. */
export function sloEtag(segmentEtags: readonly string[]): string {
  const h = createHashMd5();
  for (const e of segmentEtags) h.update(e, 'utf8');
  return h.digest('hex');
}

function createHashMd5(): ReturnType<typeof createHash> {
  return createHash('md5');
}
