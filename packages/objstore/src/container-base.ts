// Behaviour every Container shares, whatever the backend: reading into a buffer
// and iterating a listing page by page. Backends extend this and implement the rest.

import { cairnError } from '@cairn/errors';
import type {
  Container, DeleteOptions, GetOptions, GetResult, ListEntry, ListOptions, ListPage,
  ObjectInfo, OpenSegment, OpenSegmentOptions, PutBody, PutOptions,
} from './types.js';

export const DEFAULT_LIST_LIMIT = 1000;

export abstract class ContainerBase implements Container {
  constructor(readonly name: string) {}

  abstract create(): Promise<void>;
  abstract put(name: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo>;
  abstract get(name: string, options?: GetOptions): Promise<GetResult>;
  abstract head(name: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo>;
  abstract delete(name: string, options?: DeleteOptions): Promise<void>;
  abstract list(options?: ListOptions): Promise<ListPage>;
  abstract openSegment(name: string, options?: OpenSegmentOptions): OpenSegment;

  async getBuffer(name: string, options?: GetOptions): Promise<Buffer> {
    const r = await this.get(name, options);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of r.body) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
      chunks.push(b);
      n += b.length;
    }
    if (n !== r.length) {
      throw cairnError('CAIRN_ERR_OBJ_CORRUPT', `${this.name}/${name}: expected ${r.length} bytes, read ${n}`);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
  }

  async *listAll(options: Omit<ListOptions, 'marker'> = {}): AsyncIterable<ListEntry> {
    let marker: string | undefined;
    for (;;) {
      const page = await this.list({ ...options, ...(marker !== undefined ? { marker } : {}) });
      yield* page.entries;
      if (page.nextMarker === undefined) return;
      marker = page.nextMarker;
    }
  }
}

/** Clamps a requested listing limit to 1..DEFAULT_LIST_LIMIT. */
export function listLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `list limit ${limit}`);
  return Math.min(limit, DEFAULT_LIST_LIMIT);
}
