// Object, container and account metadata, kept in extended attributes so that
// the filesystem face sees it too (docs/object-api.md "Metadata in xattrs"):
//
//   user.swift.meta.<key>        X-Object-Meta-<Key> / x-amz-meta-<key> (one namespace)
//   user.swift.content-type      Content-Type
//   user.swift.header.<name>     Content-Encoding, Content-Disposition, Cache-Control, Expires
//   user.swift.delete-at         X-Delete-At (unix seconds)
//   user.swift.container-meta.<key>  X-Container-Meta-<Key> (on the top-level directory)
//   user.swift.account-meta.<key>    X-Account-Meta-<Key> (on the root directory)
//   user.cairn.implicit          a directory the object API created as a parent of an
//                                object; removed again when its last object is deleted
//   user.cairn.slo               a joined SLO manifest: its segment list (see swift-large.ts)
//   user.cairn.dlo               a DLO manifest: the dataVersion its file was joined at (swift-dlo.ts)
//
// Keys are lower-case; values are the header bytes as received (latin1 round trip).

import { cairnError } from '@cairn/errors';
import type { VolumeFs } from './fs-port.js';

export const XATTR_META = 'user.swift.meta.';
export const XATTR_CONTENT_TYPE = 'user.swift.content-type';
export const XATTR_HEADER = 'user.swift.header.';
export const XATTR_DELETE_AT = 'user.swift.delete-at';
export const XATTR_CONTAINER_META = 'user.swift.container-meta.';
export const XATTR_ACCOUNT_META = 'user.swift.account-meta.';
export const XATTR_IMPLICIT = 'user.cairn.implicit';
export const XATTR_SLO = 'user.cairn.slo';
export const XATTR_DLO = 'user.cairn.dlo';

/** System headers stored with an object and returned on GET/HEAD. */
export const STORED_HEADERS = ['content-encoding', 'content-disposition', 'cache-control', 'expires'] as const;

export const DIRECTORY_CONTENT_TYPE = 'application/directory';
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Swift's limits on user metadata (constraints.py defaults). */
export const MAX_META_COUNT = 90;
export const MAX_META_NAME_BYTES = 128;
export const MAX_META_VALUE_BYTES = 256;
export const MAX_META_OVERALL_BYTES = 4096;

/** User metadata and stored headers of an object. */
export interface ObjectMeta {
  /** User metadata, lower-case keys. */
  readonly user: Record<string, string>;
  readonly contentType?: string;
  /** Stored system headers (lower-case names). */
  readonly headers: Record<string, string>;
  /** X-Delete-At, unix seconds. */
  readonly deleteAt?: number;
}

/** Collects user metadata from request headers with `prefix` (e.g. "x-object-meta-"). Checks Swift's limits. */
export function metaFromHeaders(headers: Readonly<Record<string, string | string[] | undefined>>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith(prefix) || raw === undefined) continue;
    const key = name.slice(prefix.length).toLowerCase();
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    out[key] = value;
  }
  checkMetaLimits(out);
  return out;
}

/** Throws 400 when metadata breaks Swift's limits or has an empty key. */
export function checkMetaLimits(meta: Readonly<Record<string, string>>): void {
  const entries = Object.entries(meta);
  if (entries.length > MAX_META_COUNT) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', `more than ${MAX_META_COUNT} metadata items`);
  let total = 0;
  for (const [k, v] of entries) {
    if (k.length === 0) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', 'metadata name must not be empty');
    if (Buffer.byteLength(k, 'latin1') > MAX_META_NAME_BYTES) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', `metadata name longer than ${MAX_META_NAME_BYTES} bytes`);
    if (Buffer.byteLength(v, 'latin1') > MAX_META_VALUE_BYTES) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', `metadata value of ${k} longer than ${MAX_META_VALUE_BYTES} bytes`);
    total += k.length + v.length;
  }
  if (total > MAX_META_OVERALL_BYTES) throw cairnError('CAIRN_ERR_HTTP_BAD_REQUEST', `metadata larger than ${MAX_META_OVERALL_BYTES} bytes`);
}

const enc = (s: string): Buffer => Buffer.from(s, 'latin1');
const dec = (b: Buffer): string => b.toString('latin1');

/** Reads the metadata of an inode. */
export async function readObjectMeta(fs: VolumeFs, ino: number): Promise<ObjectMeta> {
  const names = await fs.listxattr(ino);
  const user: Record<string, string> = {};
  const headers: Record<string, string> = {};
  let contentType: string | undefined;
  let deleteAt: number | undefined;
  for (const n of names) {
    if (n.startsWith(XATTR_META)) {
      const v = await fs.getxattr(ino, n);
      if (v !== undefined) user[n.slice(XATTR_META.length)] = dec(v);
    } else if (n === XATTR_CONTENT_TYPE) {
      const v = await fs.getxattr(ino, n);
      if (v !== undefined) contentType = dec(v);
    } else if (n.startsWith(XATTR_HEADER)) {
      const v = await fs.getxattr(ino, n);
      if (v !== undefined) headers[n.slice(XATTR_HEADER.length)] = dec(v);
    } else if (n === XATTR_DELETE_AT) {
      const v = await fs.getxattr(ino, n);
      const t = v === undefined ? NaN : Number(dec(v));
      if (Number.isSafeInteger(t)) deleteAt = t;
    }
  }
  return { user, headers, ...(contentType !== undefined ? { contentType } : {}), ...(deleteAt !== undefined ? { deleteAt } : {}) };
}

/** The stored Content-Type of an inode, if any (one xattr read: listings). */
export async function readContentType(fs: VolumeFs, ino: number): Promise<string | undefined> {
  const v = await fs.getxattr(ino, XATTR_CONTENT_TYPE);
  return v === undefined ? undefined : dec(v);
}

/**
 * Writes metadata onto an inode. With `replaceUser`, user metadata not in
 * `meta.user` is removed (Swift POST semantics); stored headers given replace
 * those present; undefined contentType/deleteAt leave them unchanged, while
 * deleteAt null removes it.
 */
export async function writeObjectMeta(
  fs: VolumeFs, ino: number,
  meta: { user?: Readonly<Record<string, string>>; contentType?: string; headers?: Readonly<Record<string, string>>; deleteAt?: number | null },
  replaceUser: boolean,
): Promise<void> {
  if (replaceUser) {
    for (const n of await fs.listxattr(ino)) {
      if (n.startsWith(XATTR_META) && !(meta.user && n.slice(XATTR_META.length) in meta.user)) await fs.removexattr(ino, n);
    }
  }
  for (const [k, v] of Object.entries(meta.user ?? {})) await fs.setxattr(ino, XATTR_META + k, enc(v));
  if (meta.contentType !== undefined) await fs.setxattr(ino, XATTR_CONTENT_TYPE, enc(meta.contentType));
  for (const [k, v] of Object.entries(meta.headers ?? {})) await fs.setxattr(ino, XATTR_HEADER + k, enc(v));
  if (meta.deleteAt === null) await removeXattrQuiet(fs, ino, XATTR_DELETE_AT);
  else if (meta.deleteAt !== undefined) await fs.setxattr(ino, XATTR_DELETE_AT, enc(String(meta.deleteAt)));
}

/** The xattrs writeObjectMeta would set on a new inode (for an upload's commit). */
export function objectMetaXattrs(meta: {
  user?: Readonly<Record<string, string>>; contentType?: string; headers?: Readonly<Record<string, string>>; deleteAt?: number;
}): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(meta.user ?? {})) out[XATTR_META + k] = enc(v);
  if (meta.contentType !== undefined) out[XATTR_CONTENT_TYPE] = enc(meta.contentType);
  for (const [k, v] of Object.entries(meta.headers ?? {})) out[XATTR_HEADER + k] = enc(v);
  if (meta.deleteAt !== undefined) out[XATTR_DELETE_AT] = enc(String(meta.deleteAt));
  return out;
}

/** Removes user metadata keys (Swift X-Remove-*-Meta-*). */
export async function removeUserMeta(fs: VolumeFs, ino: number, prefix: string, keys: readonly string[]): Promise<void> {
  for (const k of keys) await removeXattrQuiet(fs, ino, prefix + k);
}

/** removexattr that ignores a missing attribute. */
export async function removeXattrQuiet(fs: VolumeFs, ino: number, name: string): Promise<void> {
  try {
    await fs.removexattr(ino, name);
  } catch (err) {
    if ((err as { code?: string }).code !== 'CAIRN_ERR_FS_NO_XATTR') throw err;
  }
}

/** Reads `prefix`-named xattrs of an inode as key -> value (container and account metadata). */
export async function readPrefixed(fs: VolumeFs, ino: number, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of await fs.listxattr(ino)) {
    if (!n.startsWith(prefix)) continue;
    const v = await fs.getxattr(ino, n);
    if (v !== undefined) out[n.slice(prefix.length)] = dec(v);
  }
  return out;
}

/** Sets `prefix`-named xattrs; empty values remove the key (Swift semantics). */
export async function writePrefixed(fs: VolumeFs, ino: number, prefix: string, meta: Readonly<Record<string, string>>): Promise<void> {
  for (const [k, v] of Object.entries(meta)) {
    if (v === '') await removeXattrQuiet(fs, ino, prefix + k);
    else await fs.setxattr(ino, prefix + k, enc(v));
  }
}

const EXT_TYPES: Readonly<Record<string, string>> = {
  txt: 'text/plain', html: 'text/html', htm: 'text/html', css: 'text/css', csv: 'text/csv', md: 'text/markdown',
  js: 'text/javascript', mjs: 'text/javascript', json: 'application/json', xml: 'application/xml', pdf: 'application/pdf',
  zip: 'application/zip', gz: 'application/gzip', tar: 'application/x-tar', png: 'image/png', jpg: 'image/jpeg',
  jpeg: 'image/jpeg', gif: 'image/gif', svg: 'image/svg+xml', webp: 'image/webp', mp4: 'video/mp4', mp3: 'audio/mpeg',
  wasm: 'application/wasm', yaml: 'application/yaml', yml: 'application/yaml',
};

/** Content type for a name without a stored one: by extension, else application/octet-stream. */
export function guessContentType(name: string): string {
  const dot = name.lastIndexOf('.');
  if (dot <= name.lastIndexOf('/')) return DEFAULT_CONTENT_TYPE;
  return EXT_TYPES[name.slice(dot + 1).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}
