// AWS Signature Version 4 verification for the S3 API: the Authorization header
// form and the presigned-query form (X-Amz-Algorithm=AWS4-HMAC-SHA256 ...).
//
// The server rebuilds the canonical request from what it received:
//   METHOD \n canonical URI \n canonical query \n canonical headers \n \n
//   signed header names \n payload hash
// where the canonical URI is the decoded path re-encoded with AWS's rule
// (everything but A-Z a-z 0-9 - . _ ~ and '/'), the query pairs are decoded,
// re-encoded and sorted, and each signed header's values are trimmed, inner
// runs of spaces collapsed, and joined with ','. The string to sign is
//   AWS4-HMAC-SHA256 \n timestamp \n scope \n hex(sha256(canonical request))
// and the signature HMAC-SHA256 with the key derived from the secret and the
// scope (date, region, service "s3", "aws4_request"). Comparison is constant
// time. What the payload hash promises (a SHA-256 to check, UNSIGNED-PAYLOAD,
// or a signed/unsigned aws-chunked stream) is returned to the body reader.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { cairnError } from '@cairn/errors';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Largest clock difference accepted for header-signed requests. */
export const MAX_SKEW_MS = 15 * 60 * 1000;
/** Longest validity of a presigned URL (7 days). */
export const MAX_PRESIGN_SECONDS = 604_800;

/** An S3 access key and the account (volume) it acts on. */
export interface S3Credential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Swift-style account name the key belongs to (e.g. AUTH_test). */
  readonly account: string;
}

/** What the request needs from the HTTP layer. */
export interface SigV4Request {
  readonly method: string;
  /** Path and query exactly as received (still percent-encoded). */
  readonly rawUrl: string;
  /** Raw header list as node gives it: [name, value, name, value, ...]. */
  readonly rawHeaders: readonly string[];
}

export type PayloadMode =
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'sha256'; readonly hex: string }
  | { readonly kind: 'streaming-signed'; readonly trailer: boolean }
  | { readonly kind: 'streaming-unsigned-trailer' };

/** A request whose signature checked out. */
export interface VerifiedAuth {
  readonly credential: S3Credential;
  readonly payload: PayloadMode;
  /** For aws-chunked signed streams: the derived key, the seed signature, timestamp and scope. */
  readonly signingKey: Buffer;
  readonly seedSignature: string;
  readonly timestamp: string;
  readonly scope: string;
  readonly presigned: boolean;
}

export interface VerifyOptions {
  /** Current time, ms since the epoch. */
  readonly now: number;
  /** Regions accepted in the credential scope; empty or absent = any. */
  readonly regions?: readonly string[];
  readonly lookup: (accessKeyId: string) => S3Credential | undefined;
}

/** Which SigV4 form a request uses, if any. */
export function sigV4Kind(rawUrl: string, rawHeaders: readonly string[]): 'header' | 'query' | 'other-auth' | undefined {
  const auth = headerValues(rawHeaders, 'authorization');
  if (auth.length > 0) return auth[0]!.trim().startsWith(`${ALGORITHM} `) ? 'header' : 'other-auth';
  const q = rawUrl.indexOf('?');
  if (q !== -1 && /(?:^|&)X-Amz-Algorithm=/.test(rawUrl.slice(q + 1))) return 'query';
  if (q !== -1 && /(?:^|&)(?:AWSAccessKeyId|Signature)=/.test(rawUrl.slice(q + 1))) return 'other-auth';
  return undefined;
}

/** AWS URI encoding: every byte but A-Z a-z 0-9 - . _ ~ (and '/' when keepSlash) as %XX upper-case. */
export function awsUriEncode(s: string, keepSlash: boolean): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function safeDecode(s: string, what: string, code: 'CAIRN_ERR_S3_AUTH_MALFORMED' | 'CAIRN_ERR_S3_QUERY_AUTH_MALFORMED'): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw cairnError(code, `bad percent-encoding in ${what}`);
  }
}

/** All values of a header (case-insensitive name) from node's rawHeaders. */
export function headerValues(rawHeaders: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === name) out.push(rawHeaders[i + 1]!);
  }
  return out;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** The SigV4 signing key for a secret and scope parts. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** HMAC-SHA256 hex of a string to sign with a signing key. */
export function sign(key: Buffer, stringToSign: string): string {
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

interface QueryPair {
  readonly name: string;
  readonly value: string;
}

function parseQueryPairs(query: string, code: 'CAIRN_ERR_S3_AUTH_MALFORMED' | 'CAIRN_ERR_S3_QUERY_AUTH_MALFORMED'): QueryPair[] {
  if (query === '') return [];
  return query.split('&').filter((p) => p.length > 0).map((p) => {
    const eq = p.indexOf('=');
    const name = safeDecode(eq === -1 ? p : p.slice(0, eq), 'query', code);
    const value = safeDecode(eq === -1 ? '' : p.slice(eq + 1), 'query', code);
    return { name, value };
  });
}

/** Builds the canonical request (exported for tests). */
export function canonicalRequest(
  method: string, rawUrl: string, rawHeaders: readonly string[], signedHeaders: readonly string[], payloadHash: string,
  excludeQuery: string | undefined,
  code: 'CAIRN_ERR_S3_AUTH_MALFORMED' | 'CAIRN_ERR_S3_QUERY_AUTH_MALFORMED' = 'CAIRN_ERR_S3_AUTH_MALFORMED',
): string {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = q === -1 ? '' : rawUrl.slice(q + 1);
  const uri = awsUriEncode(safeDecode(rawPath, 'path', code), true) || '/';
  const pairs = parseQueryPairs(query, code)
    .filter((p) => p.name !== excludeQuery)
    .map((p) => [awsUriEncode(p.name, false), awsUriEncode(p.value, false)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const canonicalQuery = pairs.map(([k, v]) => `${k}=${v}`).join('&');
  const headers = signedHeaders.map((h) => {
    const values = headerValues(rawHeaders, h);
    if (values.length === 0) throw cairnError(code, `signed header ${h} is missing`);
    return `${h}:${values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}\n`;
  }).join('');
  return `${method}\n${uri}\n${canonicalQuery}\n${headers}\n${signedHeaders.join(';')}\n${payloadHash}`;
}

interface Parsed {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  timestamp: string;
}

function parseCredential(cred: string, code: 'CAIRN_ERR_S3_AUTH_MALFORMED' | 'CAIRN_ERR_S3_QUERY_AUTH_MALFORMED'): Omit<Parsed, 'signedHeaders' | 'signature' | 'timestamp'> {
  // The access key id may itself contain '/': the scope is the last four parts.
  const parts = cred.split('/');
  if (parts.length < 5 || parts[parts.length - 1] !== 'aws4_request') throw cairnError(code, 'Credential must be KEY/date/region/service/aws4_request');
  const service = parts[parts.length - 2]!;
  const region = parts[parts.length - 3]!;
  const date = parts[parts.length - 4]!;
  const accessKeyId = parts.slice(0, parts.length - 4).join('/');
  if (!/^\d{8}$/.test(date)) throw cairnError(code, `bad credential date ${date}`);
  return { accessKeyId, date, region, service };
}

function checkSignedHeaderList(list: string, code: 'CAIRN_ERR_S3_AUTH_MALFORMED' | 'CAIRN_ERR_S3_QUERY_AUTH_MALFORMED'): string[] {
  const names = list.split(';').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
  if (names.length === 0) throw cairnError(code, 'SignedHeaders is empty');
  if (!names.includes('host')) throw cairnError(code, 'SignedHeaders must include host');
  return names;
}

function parseHeaderAuth(value: string, rawHeaders: readonly string[]): Parsed {
  const code = 'CAIRN_ERR_S3_AUTH_MALFORMED';
  const rest = value.trim().slice(ALGORITHM.length);
  const fields = new Map<string, string>();
  for (const part of rest.split(',')) {
    const p = part.trim();
    const eq = p.indexOf('=');
    if (eq <= 0) throw cairnError(code, `bad field ${JSON.stringify(p.slice(0, 40))}`);
    fields.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
  }
  const cred = fields.get('Credential');
  const sh = fields.get('SignedHeaders');
  const sig = fields.get('Signature');
  if (!cred || !sh || !sig) throw cairnError(code, 'Credential, SignedHeaders and Signature are required');
  const c = parseCredential(cred, code);
  const amzDate = headerValues(rawHeaders, 'x-amz-date')[0];
  let timestamp: string;
  if (amzDate !== undefined) {
    timestamp = amzDate.trim();
  } else {
    const d = headerValues(rawHeaders, 'date')[0];
    const t = d === undefined ? NaN : Date.parse(d);
    if (!Number.isFinite(t)) throw cairnError(code, 'X-Amz-Date (or Date) is required');
    timestamp = isoBasic(t);
  }
  return { ...c, signedHeaders: checkSignedHeaderList(sh, code), signature: sig.toLowerCase(), timestamp };
}

/** ms since the epoch -> yyyymmddThhmmssZ. */
export function isoBasic(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function parseIsoBasic(ts: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(ts);
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function payloadMode(hash: string | undefined, presigned: boolean): PayloadMode {
  if (hash === undefined) {
    if (presigned) return { kind: 'unsigned' };
    throw cairnError('CAIRN_ERR_S3_AUTH_MALFORMED', 'x-amz-content-sha256 is required');
  }
  const h = hash.trim();
  if (h === UNSIGNED_PAYLOAD) return { kind: 'unsigned' };
  if (h === STREAMING_SIGNED) return { kind: 'streaming-signed', trailer: false };
  if (h === STREAMING_SIGNED_TRAILER) return { kind: 'streaming-signed', trailer: true };
  if (h === STREAMING_UNSIGNED_TRAILER) return { kind: 'streaming-unsigned-trailer' };
  if (/^[0-9a-fA-F]{64}$/.test(h)) return { kind: 'sha256', hex: h.toLowerCase() };
  throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', `x-amz-content-sha256 ${JSON.stringify(h.slice(0, 80))}`);
}

/**
 * Verifies a SigV4-signed request (header or presigned query). Throws
 * CAIRN_ERR_S3_* errors: malformed authorization, unknown key, expired or
 * skewed time, signature mismatch.
 */
export function verifySigV4(req: SigV4Request, opts: VerifyOptions): VerifiedAuth {
  const kind = sigV4Kind(req.rawUrl, req.rawHeaders);
  if (kind === undefined) throw cairnError('CAIRN_ERR_HTTP_FORBIDDEN', 'anonymous S3 requests are not allowed');
  if (kind === 'other-auth') throw cairnError('CAIRN_ERR_S3_AUTH_MALFORMED', 'only AWS Signature Version 4 (AWS4-HMAC-SHA256) is supported');
  const presigned = kind === 'query';
  const code = presigned ? 'CAIRN_ERR_S3_QUERY_AUTH_MALFORMED' : 'CAIRN_ERR_S3_AUTH_MALFORMED';
  let p: Parsed;
  let expires = 0;
  if (presigned) {
    const q = req.rawUrl.slice(req.rawUrl.indexOf('?') + 1);
    const params = new Map(parseQueryPairs(q, code).map((x) => [x.name, x.value] as const));
    if (params.get('X-Amz-Algorithm') !== ALGORITHM) throw cairnError(code, `X-Amz-Algorithm must be ${ALGORITHM}`);
    const cred = params.get('X-Amz-Credential');
    const ts = params.get('X-Amz-Date');
    const sh = params.get('X-Amz-SignedHeaders');
    const sig = params.get('X-Amz-Signature');
    const ex = params.get('X-Amz-Expires');
    if (!cred || !ts || !sh || !sig || !ex) {
      throw cairnError(code, 'X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature are required');
    }
    if (!/^\d{1,7}$/.test(ex) || +ex < 1 || +ex > MAX_PRESIGN_SECONDS) throw cairnError(code, `X-Amz-Expires must be 1..${MAX_PRESIGN_SECONDS}`);
    expires = +ex;
    p = { ...parseCredential(cred, code), signedHeaders: checkSignedHeaderList(sh, code), signature: sig.toLowerCase(), timestamp: ts };
  } else {
    p = parseHeaderAuth(headerValues(req.rawHeaders, 'authorization')[0]!, req.rawHeaders);
  }
  const t = parseIsoBasic(p.timestamp);
  if (!Number.isFinite(t)) throw cairnError(code, `bad X-Amz-Date ${JSON.stringify(p.timestamp.slice(0, 40))}`);
  if (p.timestamp.slice(0, 8) !== p.date) throw cairnError(code, 'the credential date does not match X-Amz-Date');
  if (p.service !== 's3') throw cairnError(code, `service must be s3, not ${JSON.stringify(p.service)}`);
  if (opts.regions && opts.regions.length > 0 && !opts.regions.includes(p.region)) {
    throw cairnError(code, `region ${JSON.stringify(p.region)} is not served here (expected ${opts.regions.join(' or ')})`);
  }
  const credential = opts.lookup(p.accessKeyId);
  if (!credential) throw cairnError('CAIRN_ERR_S3_INVALID_ACCESS_KEY', p.accessKeyId);
  if (presigned) {
    if (opts.now < t - MAX_SKEW_MS) throw cairnError('CAIRN_ERR_S3_REQUEST_EXPIRED', 'presigned URL is not valid yet');
    if (opts.now > t + expires * 1000) throw cairnError('CAIRN_ERR_S3_REQUEST_EXPIRED', `presigned URL expired at ${new Date(t + expires * 1000).toISOString()}`);
  } else if (Math.abs(opts.now - t) > MAX_SKEW_MS) {
    throw cairnError('CAIRN_ERR_S3_TIME_SKEWED', `X-Amz-Date ${p.timestamp}`);
  }
  const contentSha = headerValues(req.rawHeaders, 'x-amz-content-sha256')[0];
  const payload = payloadMode(contentSha, presigned);
  const payloadHash = presigned ? (contentSha?.trim() ?? UNSIGNED_PAYLOAD) : contentSha!.trim();
  const canon = canonicalRequest(req.method, req.rawUrl, req.rawHeaders, p.signedHeaders, payloadHash, presigned ? 'X-Amz-Signature' : undefined, code);
  const scope = `${p.date}/${p.region}/${p.service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${p.timestamp}\n${scope}\n${sha256Hex(canon)}`;
  const key = signingKey(credential.secretAccessKey, p.date, p.region, p.service);
  const expected = sign(key, stringToSign);
  if (!signaturesEqual(expected, p.signature)) {
    throw cairnError('CAIRN_ERR_S3_SIGNATURE_MISMATCH', 'check the secret key and signing method', {
      details: { canonicalRequest: canon, stringToSign },
    });
  }
  return { credential, payload, signingKey: key, seedSignature: p.signature, timestamp: p.timestamp, scope, presigned };
}

/** The string to sign for one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD). */
export function chunkStringToSign(auth: Pick<VerifiedAuth, 'timestamp' | 'scope'>, previousSignature: string, chunk: Buffer): string {
  return `AWS4-HMAC-SHA256-PAYLOAD\n${auth.timestamp}\n${auth.scope}\n${previousSignature}\n${EMPTY_SHA256}\n${sha256Hex(chunk)}`;
}

/** The string to sign for the trailer of a signed aws-chunked stream. */
export function trailerStringToSign(auth: Pick<VerifiedAuth, 'timestamp' | 'scope'>, previousSignature: string, trailer: string): string {
  return `AWS4-HMAC-SHA256-TRAILER\n${auth.timestamp}\n${auth.scope}\n${previousSignature}\n${sha256Hex(trailer)}`;
}
