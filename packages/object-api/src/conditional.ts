// Conditional request headers (RFC 9110 section 13.2.2), evaluated in the RFC's
// order against the current object's ETag and last-modified time:
//
//   1. If-Match present: no match -> 412 (and If-Unmodified-Since is not looked at)
//   2. else If-Unmodified-Since valid and modified after it -> 412
//   3. If-None-Match present: a match -> 304 for GET/HEAD, 412 otherwise
//   4. else (GET/HEAD) If-Modified-Since valid and not modified after it -> 304
//
// ETags compare without quotes; "W/" weak prefixes are ignored (objects have
// only strong ETags); '*' matches any existing object. Times compare at whole
// seconds (HTTP dates carry no fractions). S3's documented combinations follow
// from the same order.

export type ConditionalOutcome = 'proceed' | 'not-modified' | 'precondition-failed';

/** The request headers that make a request conditional (lower-case names). */
export interface ConditionalHeaders {
  readonly 'if-match'?: string | undefined;
  readonly 'if-none-match'?: string | undefined;
  readonly 'if-modified-since'?: string | undefined;
  readonly 'if-unmodified-since'?: string | undefined;
}

/** Removes surrounding quotes and a weak prefix from one entity tag. */
export function normalizeEtag(tag: string): string {
  let t = tag.trim();
  if (t.startsWith('W/')) t = t.slice(2);
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1);
  return t;
}

/** True when a comma-separated entity-tag list matches `etag` ('*' matches anything). */
export function etagListMatches(list: string, etag: string): boolean {
  const want = normalizeEtag(etag);
  for (const part of list.split(',')) {
    const p = part.trim();
    if (p === '*') return true;
    if (p.length > 0 && normalizeEtag(p) === want) return true;
  }
  return false;
}

/** Parses an HTTP date; undefined when it is not a valid date. */
export function parseHttpDate(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

/**
 * Evaluates the conditional headers of a request on an existing object.
 * `safe` is true for GET and HEAD (304 possible), false for methods that change
 * state (a match of If-None-Match then fails with 412).
 */
export function evaluateConditions(h: ConditionalHeaders, etag: string, mtimeMs: number, safe: boolean): ConditionalOutcome {
  const mtimeSec = Math.floor(mtimeMs / 1000);
  const ifMatch = h['if-match'];
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, etag)) return 'precondition-failed';
  } else {
    const ius = parseHttpDate(h['if-unmodified-since']);
    if (ius !== undefined && mtimeSec > Math.floor(ius / 1000)) return 'precondition-failed';
  }
  const ifNoneMatch = h['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, etag)) return safe ? 'not-modified' : 'precondition-failed';
  } else if (safe) {
    const ims = parseHttpDate(h['if-modified-since']);
    if (ims !== undefined && mtimeSec <= Math.floor(ims / 1000)) return 'not-modified';
  }
  return 'proceed';
}

/**
 * Evaluates conditions when the object does not exist: If-Match (any value)
 * fails; everything else proceeds (If-None-Match: * is then satisfied).
 */
export function evaluateConditionsMissing(h: ConditionalHeaders): ConditionalOutcome {
  return h['if-match'] !== undefined ? 'precondition-failed' : 'proceed';
}
