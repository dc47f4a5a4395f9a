// Read plans through the object API: `GET ...?readplan` (or the header
// `X-Cairn-Read-Plan: true`, or S3's `?x-cairn-readplan`) answers with the
// plan instead of the bytes, so a capable client reads the log segments
// straight from the object store. The body (application/json):
//
//   { "size": <object size>, "etag": "...", "mtime": "<ISO 8601>",
//     "offset": <first byte planned>, "length": <bytes planned>,
//     "steps": [ { "object": "<container>/<segment object>", "container": "...",
//                  "name": "...", "offset": <byte in the segment>, "length": n }
//              | { "zero": n } ] }
//
// Steps cover [offset, offset+length) in order; the sum of their lengths is
// `length`. A Range header (one range) plans just that range.

import type { FsPlanStep, VolumeFs } from './fs-port.js';
import type { ObjectInfo } from './objects.js';

export interface ReadPlanBody {
  readonly size: number;
  readonly etag: string;
  readonly mtime: string;
  readonly offset: number;
  readonly length: number;
  readonly steps: Array<{ object: string; container: string; name: string; offset: number; length: number } | { zero: number }>;
}

/** True when a GET asks for the read plan. */
export function wantsReadPlan(query: URLSearchParams, headerValue: string | undefined): boolean {
  if (query.has('readplan') || query.has('x-cairn-readplan')) return true;
  return headerValue !== undefined && /^(true|1|yes)$/i.test(headerValue.trim());
}

/**
 * Builds the read-plan body of [offset, offset+length) of an object; `plan`
 * plans objects that are not one file (a DLO joins several).
 */
export async function buildReadPlan(
  fs: VolumeFs, info: ObjectInfo, offset: number, length: number,
  plan: (offset: number, length: number) => Promise<FsPlanStep[]> = (o, l) => fs.readPlan(info.ino, o, l),
): Promise<ReadPlanBody> {
  const steps: FsPlanStep[] = info.isDir || length === 0 ? [] : await plan(offset, length);
  return {
    size: info.size,
    etag: info.etag,
    mtime: new Date(Math.floor(info.mtimeMs)).toISOString(),
    offset,
    length,
    steps: steps.map((s) => ('zero' in s
      ? { zero: s.zero }
      : { object: `${s.object.container}/${s.object.name}`, container: s.object.container, name: s.object.name, offset: s.offset, length: s.length })),
  };
}
