// Swift dynamic large objects (DLO). A manifest keeps its
// `X-Object-Manifest: <container>/<prefix>` header (xattr
// user.swift.header.x-object-manifest). Like Swift, a GET or HEAD of it joins
// the objects that exist under the prefix AT THAT MOMENT, in name order:
// segments uploaded after the manifest are picked up, deleted ones drop out.
// The answer has the joined length and the quoted ETag md5(concatenated
// segment ETags); `?multipart-manifest=get` answers the manifest object itself
// (no bytes). For the filesystem face the manifest's file holds the segments
// joined when the manifest was PUT (extents shared); once that file is
// modified through the filesystem it is a plain file, like a joined SLO.

import { cairnError } from '@cairn/errors';
import { sloEtag } from './etag.js';
import type { FsPlanStep, VolumeFs } from './fs-port.js';
import { listContainer } from './listing.js';
import { checkContainerName, parseObjectName } from './names.js';
import { DLO_MANIFEST_HEADER, findObject, readBytes, type ObjectInfo } from './objects.js';
import { lookupOrUndefined } from './paths.js';

/** The stored header that makes an object a DLO manifest. */
export const DLO_HEADER = DLO_MANIFEST_HEADER;

/** One segment of a DLO as it is now. */
export interface DloPart {
  readonly ino: number;
  readonly size: number;
  readonly etag: string;
}

/** A DLO resolved at request time. */
export interface DloView {
  readonly parts: readonly DloPart[];
  readonly size: number;
  /** md5 of the concatenated segment ETags (send it quoted). */
  readonly etag: string;
}

/** Parses an X-Object-Manifest value ("container/prefix", percent-encoding allowed). */
export function parseDloManifest(value: string): { container: string; prefix: string } {
  let decoded: string;
  try {
    decoded = decodeURIComponent(value.trim());
  } catch {
    throw cairnError('CAIRN_ERR_HTTP_BAD_MANIFEST', 'X-Object-Manifest has bad percent-encoding');
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0) throw cairnError('CAIRN_ERR_HTTP_BAD_MANIFEST', 'X-Object-Manifest must be <container>/<prefix>');
  return { container: checkContainerName(decoded.slice(0, slash)), prefix: decoded.slice(slash + 1) };
}

/** The manifest value of an object, when it is a DLO manifest (not modified through the filesystem since). */
export function dloManifestOf(info: ObjectInfo): string | undefined {
  return info.dlo;
}

/**
 * The segments under the manifest's prefix now, in name order (directories,
 * symlinks, expired objects and the manifest itself left out). A missing
 * segment container has no segments.
 */
export async function resolveDlo(fs: VolumeFs, manifest: string, self: { container: string; name: string }, now: number): Promise<DloView> {
  const { container, prefix } = parseDloManifest(manifest);
  const c = await lookupOrUndefined(fs, fs.rootIno, container);
  const parts: DloPart[] = [];
  const etags: string[] = [];
  let size = 0;
  if (c && c.type === 'dir') {
    let marker: string | undefined;
    for (;;) {
      const page = await listContainer(fs, c.ino, { prefix, limit: 1000, style: 's3', ...(marker !== undefined ? { marker } : {}) });
      for (const e of page.entries) {
        if (e.kind !== 'object' || e.isDir) continue;
        if (container === self.container && e.name === self.name) continue;
        const info = await findObject(fs, c.ino, parseObjectName(e.name), { dirs: 'slash', now });
        if (!info || info.isDir) continue; // removed meanwhile
        parts.push({ ino: info.ino, size: info.size, etag: info.etag });
        etags.push(info.etag);
        size += info.size;
      }
      if (!page.truncated) break;
      const last = page.entries[page.entries.length - 1]!;
      marker = last.kind === 'object' ? last.name : last.prefix;
    }
  }
  return { parts, size, etag: sloEtag(etags) };
}

/** The pieces of the parts that make up [start, start+length) of the joined object. */
function* spans(parts: readonly DloPart[], start: number, length: number): Generator<{ part: DloPart; offset: number; length: number }> {
  const end = start + length;
  let at = 0;
  for (const part of parts) {
    const from = Math.max(start, at);
    const to = Math.min(end, at + part.size);
    if (from < to) yield { part, offset: from - at, length: to - from };
    at += part.size;
    if (at >= end) return;
  }
}

/** Streams bytes [start, start+length) of the joined object. */
export async function* dloBytes(fs: VolumeFs, parts: readonly DloPart[], start: number, length: number): AsyncGenerator<Buffer> {
  for (const s of spans(parts, start, length)) yield* readBytes(fs, s.part.ino, s.offset, s.length);
}

/** The read plan of [start, start+length) of the joined object. */
export async function dloReadPlan(fs: VolumeFs, parts: readonly DloPart[], start: number, length: number): Promise<FsPlanStep[]> {
  const out: FsPlanStep[] = [];
  for (const s of spans(parts, start, length)) out.push(...(await fs.readPlan(s.part.ino, s.offset, s.length)));
  return out;
}
