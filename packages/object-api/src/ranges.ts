// HTTP Range headers (RFC 9110 section 14): `bytes=first-last, -suffix, first-`.
//
// Contract, shared by Swift and S3 GETs:
// - no header, a unit other than "bytes", or a syntax error: the header is
//   ignored and the whole object is served (200), as Swift does;
// - more than MAX_RANGES ranges: ignored too (a cheap defence against range
//   amplification);
// - ranges that all lie past the end: 416 with `Content-Range: bytes */size`;
// - otherwise the satisfiable ranges, clipped to the object, in request order.

/** One satisfiable byte range, inclusive ends like Content-Range. */
export interface ByteSpan {
  readonly start: number;
  /** Last byte (inclusive). */
  readonly end: number;
}

export type RangeResult =
  | { readonly kind: 'full' }
  | { readonly kind: 'unsatisfiable' }
  | { readonly kind: 'ranges'; readonly ranges: readonly ByteSpan[] };

/** Ranges beyond this many make the header be ignored. */
export const MAX_RANGES = 50;

const SPEC_RE = /^(\d*)-(\d*)$/;

/** Parses a Range header against an object of `size` bytes. */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return { kind: 'full' };
  const specs = m[1]!.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (specs.length === 0 || specs.length > MAX_RANGES) return { kind: 'full' };
  const out: ByteSpan[] = [];
  for (const spec of specs) {
    const sm = SPEC_RE.exec(spec);
    if (!sm) return { kind: 'full' };
    const [, a, b] = sm as unknown as [string, string, string];
    if (a === '' && b === '') return { kind: 'full' };
    if (a.length > 16 || b.length > 16) {
      // Larger than any file can be: a first byte that far is past the end,
      // a last byte or suffix that far covers everything.
      if (a.length > 16) continue;
    }
    if (a === '') {
      const suffix = Number(b.length > 16 ? Number.MAX_SAFE_INTEGER : b);
      if (suffix === 0 || size === 0) continue;
      out.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(a);
    const end = b === '' ? size - 1 : b.length > 16 ? size - 1 : Number(b);
    if (b !== '' && end < start) return { kind: 'full' };
    if (start >= size) continue;
    out.push({ start, end: Math.min(end, size - 1) });
  }
  if (out.length === 0) return { kind: 'unsatisfiable' };
  return { kind: 'ranges', ranges: out };
}

/** Content-Range value for one span. */
export function contentRange(span: ByteSpan, size: number): string {
  return `bytes ${span.start}-${span.end}/${size}`;
}

/** Bytes in a span. */
export function spanLength(span: ByteSpan): number {
  return span.end - span.start + 1;
}
