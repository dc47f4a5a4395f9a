// Digests computed on the fly while a request body streams into the volume:
// always MD5 (the object's ETag), plus whatever the client asked to be
// checked: Swift's ETag header, S3's Content-MD5, x-amz-content-sha256, and
// the x-amz-checksum-* headers or trailers (crc32, crc32c, sha1, sha256;
// crc64nvme is accepted without being checked). A mismatch is found when the
// body ends, before anything is committed.

import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { cairnError, type CairnErrorCode } from '@cairn/errors';
import { BodyHasher } from '@cairn/objstore';

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'sha1' | 'sha256' | 'crc64nvme';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'sha1', 'sha256', 'crc64nvme'];

let CRC32C_TABLE: Uint32Array | undefined;
function crc32cTable(): Uint32Array {
  if (CRC32C_TABLE) return CRC32C_TABLE;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  CRC32C_TABLE = t;
  return t;
}

/** CRC-32C (Castagnoli), continuing from `crc` (0 to start). */
export function crc32c(data: Uint8Array, crc = 0): number {
  const t = crc32cTable();
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** What the body must match, each optional. */
export interface DigestExpectations {
  /** MD5 hex the client promised (Swift ETag header); mismatch -> `md5Code`. */
  readonly md5Hex?: string;
  /** Error code for an MD5 mismatch (default CAIRN_ERR_HTTP_ETAG_MISMATCH). */
  readonly md5Code?: CairnErrorCode;
  /** SHA-256 hex from x-amz-content-sha256. */
  readonly sha256Hex?: string;
  /** x-amz-checksum-<alg> values (base64) known before the body (headers). */
  readonly checksums?: ReadonlyMap<ChecksumAlgorithm, string>;
  /** Algorithms whose values arrive as trailers (x-amz-trailer). */
  readonly trailerChecksums?: readonly ChecksumAlgorithm[];
}

/**
 * Running digests over a body. The MD5 (every body has one) runs on a hashing
 * thread once the body is large (objstore's BodyHasher), so a large PUT does
 * not spend its event loop on it; update() then may ask the caller to wait
 * while that thread catches up. A body that will not be finished must be
 * discard()ed.
 */
export class BodyDigests {
  private readonly md5 = new BodyHasher({ md5: true });
  private readonly sha256: Hash | undefined;
  private readonly sha1: Hash | undefined;
  private crc32v: number | undefined;
  private crc32cv: number | undefined;
  private bytes = 0;
  private readonly algs: Set<ChecksumAlgorithm>;

  constructor(private readonly expect: DigestExpectations = {}) {
    this.algs = new Set([...(expect.checksums?.keys() ?? []), ...(expect.trailerChecksums ?? [])]);
    this.sha256 = expect.sha256Hex !== undefined || this.algs.has('sha256') ? createHash('sha256') : undefined;
    this.sha1 = this.algs.has('sha1') ? createHash('sha1') : undefined;
    if (this.algs.has('crc32')) this.crc32v = 0;
    if (this.algs.has('crc32c')) this.crc32cv = 0;
  }

  /** Adds bytes; a promise when the caller should wait before adding more (the MD5 thread is behind). */
  update(chunk: Uint8Array): Promise<void> | undefined {
    this.bytes += chunk.length;
    const wait = this.md5.update(chunk);
    this.sha256?.update(chunk);
    this.sha1?.update(chunk);
    if (this.crc32v !== undefined) this.crc32v = crc32(chunk, this.crc32v);
    if (this.crc32cv !== undefined) this.crc32cv = crc32c(chunk, this.crc32cv);
    return wait;
  }

  /** Gives up (the body failed): frees the MD5 thread's state. */
  discard(): void {
    this.md5.discard();
  }

  get length(): number {
    return this.bytes;
  }

  /**
   * Finishes the digests and checks every expectation (trailer values passed
   * here). Returns the MD5 hex. Throws the matching CairnError on a mismatch.
   */
  async finish(trailers?: ReadonlyMap<string, string>): Promise<{ md5Hex: string }> {
    const md5Hex = (await this.md5.digest()).md5.toString('hex');
    const sha256 = this.sha256?.digest();
    const e = this.expect;
    if (e.md5Hex !== undefined && e.md5Hex.toLowerCase() !== md5Hex) {
      throw cairnError(e.md5Code ?? 'CAIRN_ERR_HTTP_ETAG_MISMATCH', `expected ${e.md5Hex}, got ${md5Hex}`);
    }
    if (e.sha256Hex !== undefined && sha256!.toString('hex') !== e.sha256Hex.toLowerCase()) {
      throw cairnError('CAIRN_ERR_S3_SHA256_MISMATCH', `computed ${sha256!.toString('hex')}`);
    }
    const actual: Partial<Record<ChecksumAlgorithm, string>> = {
      ...(this.crc32v !== undefined ? { crc32: u32be(this.crc32v).toString('base64') } : {}),
      ...(this.crc32cv !== undefined ? { crc32c: u32be(this.crc32cv).toString('base64') } : {}),
      ...(this.sha1 ? { sha1: this.sha1.digest('base64') } : {}),
      ...(sha256 ? { sha256: sha256.toString('base64') } : {}),
    };
    const check = (alg: ChecksumAlgorithm, want: string | undefined): void => {
      if (alg === 'crc64nvme') return;
      if (want === undefined) throw cairnError('CAIRN_ERR_S3_INVALID_ARGUMENT', `x-amz-checksum-${alg} trailer is missing`);
      if (actual[alg] !== want.trim()) throw cairnError('CAIRN_ERR_S3_BAD_DIGEST', `x-amz-checksum-${alg}: expected ${want}, computed ${actual[alg]}`);
    };
    for (const [alg, want] of e.checksums ?? []) check(alg, want);
    for (const alg of e.trailerChecksums ?? []) check(alg, trailers?.get(`x-amz-checksum-${alg}`));
    return { md5Hex };
  }
}

/** Decodes a base64 Content-MD5 header into hex; throws CAIRN_ERR_S3_INVALID_DIGEST when malformed. */
export function contentMd5Hex(header: string): string {
  const b = Buffer.from(header.trim(), 'base64');
  if (b.length !== 16 || b.toString('base64') !== header.trim()) throw cairnError('CAIRN_ERR_S3_INVALID_DIGEST', 'Content-MD5 must be the base64 of 16 bytes');
  return b.toString('hex');
}
