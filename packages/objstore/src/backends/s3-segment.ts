// An open segment on S3: appended bytes stream out as one chunked PUT
// (UNSIGNED-PAYLOAD) while they come. Every appended byte is kept (at most
// maxSize) so that a failed upload — reset, timeout, 5xx, missing bucket — is
// sent again from the first byte, with the store's backoff. close() resolves
// once S3 answered 200 for the whole object, whose ETag is checked against the
// MD5 of what was appended. In 'buffered' mode (servers that refuse chunked
// PUTs) nothing is sent before close(), which then PUTs the bytes with a length.
// abort() cuts the connection before the last chunk, so S3 never stores the
// object; once close() was called, abort() changes nothing.

import { cairnError, isCairnError, type CairnError } from '@cairn/errors';
import type { ObjectInfo, OpenSegment, OpenSegmentOptions } from '../types.js';
import { UploadBody } from './s3-body.js';
import { discard } from './s3-client.js';
import type { S3Container } from './s3-container.js';

/** Largest segment (S3's limit for one PUT) and the default maxSize. */
export const S3_MAX_SEGMENT_BYTES = 5 * 1024 ** 3;
export const S3_DEFAULT_SEGMENT_BYTES = 256 * 1024 ** 2;

type State = 'open' | 'closing' | 'closed' | 'aborted' | 'failed';

export class S3Segment implements OpenSegment {
  readonly container: string;
  private state: State = 'open';
  private readonly maxSize: number;
  private readonly window: number;
  private readonly streaming: boolean;
  private readonly body: UploadBody;
  private readonly abortController = new AbortController();
  private upload: Promise<ObjectInfo> | undefined;
  private failure: CairnError | undefined;
  private spaceWaiters: Array<() => void> = [];

  constructor(
    private readonly owner: S3Container,
    readonly name: string,
    private readonly options: OpenSegmentOptions,
  ) {
    this.container = owner.name;
    const max = options.maxSize ?? S3_DEFAULT_SEGMENT_BYTES;
    if (!Number.isSafeInteger(max) || max < 0 || max > S3_MAX_SEGMENT_BYTES) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `segment maxSize ${max} (0..${S3_MAX_SEGMENT_BYTES})`);
    }
    this.maxSize = max;
    const opts = owner.clientOptions;
    this.window = opts.segmentWindowBytes;
    this.streaming = opts.streamingPut === 'chunked';
    this.body = new UploadBody(Number.POSITIVE_INFINITY, undefined, () => this.wakeSpace());
  }

  get bytesAppended(): number {
    return this.body.total;
  }

  get bytesSent(): number {
    return this.streaming ? this.body.sent : 0;
  }

  async append(chunk: Uint8Array): Promise<void> {
    if (this.state === 'failed') throw this.failure!;
    if (this.state !== 'open') throw cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.container}/${this.name}`);
    if (this.body.total + chunk.length > this.maxSize) {
      throw cairnError('CAIRN_ERR_OBJ_TOO_LARGE', `${this.container}/${this.name}: ${this.body.total + chunk.length} > maxSize ${this.maxSize}`);
    }
    if (chunk.length === 0) return;
    const hashing = this.body.push(chunk);
    if (hashing !== undefined) await hashing;
    if (!this.streaming) return;
    this.upload ??= this.startUpload();
    // Backpressure: wait while the connection lags more than the window behind.
    while (this.body.total - this.body.sent > this.window && this.state === 'open') {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      if (this.failure) throw this.failure;
    }
  }

  close(): Promise<ObjectInfo> {
    if (this.state === 'failed') return Promise.reject(this.failure!);
    if (this.state !== 'open') return Promise.reject(cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.container}/${this.name}`));
    this.state = 'closing';
    this.body.end();
    this.upload ??= this.startUpload();
    return this.upload.then(
      (info) => {
        this.state = 'closed';
        this.body.finished();
        return info;
      },
      (err: unknown) => {
        this.state = 'failed';
        throw err;
      },
    );
  }

  async abort(): Promise<void> {
    if (this.state !== 'open' && this.state !== 'failed') return;
    this.state = 'aborted';
    const err = cairnError('CAIRN_ERR_OBJ_SEGMENT_CLOSED', `${this.container}/${this.name} was aborted`);
    this.body.fail(err);
    // Cutting the connection before the last chunk: S3 never makes the object visible.
    this.abortController.abort(err);
    this.wakeSpace(true);
    await this.upload?.catch(() => undefined);
  }

  private startUpload(): Promise<ObjectInfo> {
    const p = this.run();
    p.catch((e: unknown) => {
      if (this.state === 'aborted') return;
      this.failure = isCairnError(e) ? e : cairnError('CAIRN_ERR_INTERNAL', String(e), { cause: e });
      this.state = 'failed';
      this.wakeSpace(true);
    });
    return p;
  }

  private async run(): Promise<ObjectInfo> {
    // A body already complete when the upload starts goes out with a length and a signed hash.
    const payload = this.streaming && !this.body.isEnded ? this.body : this.body.concat();
    const res = await this.owner.sendSegment(this.name, payload, this.options.meta, this.abortController.signal, () => this.body.md5hex());
    await discard(res);
    if (!this.body.isEnded) {
      // S3 answered before we ended the body: it cannot have stored what we meant.
      throw cairnError('CAIRN_ERR_OBJ_BACKEND', `${this.container}/${this.name}: S3 answered ${res.status} before the segment was closed`);
    }
    return this.owner.putResult(this.name, res, this.body.total, await this.body.md5hex(), this.options.meta);
  }

  private wakeSpace(all = false): void {
    if (!all && this.body.total - this.body.sent > this.window) return;
    const w = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const f of w) f();
  }
}
