// Publishing checkpoint records, fenced. The decision "who may publish the
// next checkpoint" sits behind CheckpointPublisher so that other mechanisms
// (an etcd compare-and-swap) can replace the object-store one.
//
// The object-store publisher relies on atomic create-if-absent PUTs
// (If-None-Match: *) on monotonically numbered names: two writers that both
// try to publish number N cannot both succeed, and the loser learns it.

import { cairnError, isCairnError } from '@cairn/errors';
import type { Container } from '@cairn/objstore';
import type { Logger } from 'pino';
import { CHECKPOINT_OBJECT_PREFIX, checkpointObjectName, parseCheckpointObjectName } from './names.js';
import { READ_RETRY, WRITE_RETRY, withRetry } from './retry.js';

/** Where checkpoint records live and who may add the next one. */
export interface CheckpointPublisher {
  /** Short description for logs ("objstore", "etcd"). */
  readonly kind: string;
  /** Numbers of stored checkpoint records, newest first, at most `limit`. */
  list(limit: number): Promise<number[]>;
  /** The bytes of record `seq`; CAIRN_ERR_OBJ_NOT_FOUND when it does not exist. */
  read(seq: number): Promise<Buffer>;
  /**
   * Publishes `record` as number `seq` if and only if no record `seq` exists,
   * and resolves once it is durable. Rejects with CAIRN_ERR_META_FENCED when
   * another writer published `seq` or a newer record exists. Any other
   * rejection leaves it unknown whether the record was published; publishing
   * the same bytes again is then safe.
   */
  publish(seq: number, record: Buffer): Promise<void>;
  /** Deletes record `seq` (idempotent). */
  remove(seq: number): Promise<void>;
}

export interface ObjectStorePublisherOptions {
  readonly container: Container;
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

/** The default publisher: create-if-absent PUTs of meta/checkpoints/<number> in the volume's container. */
export function createObjectStorePublisher(o: ObjectStorePublisherOptions): CheckpointPublisher {
  return new ObjectStorePublisher(o.container, o.timeoutMs ?? 30_000);
}

class ObjectStorePublisher implements CheckpointPublisher {
  readonly kind = 'objstore';

  constructor(private readonly container: Container, private readonly timeoutMs: number) {}

  async list(limit: number): Promise<number[]> {
    const out: number[] = [];
    const page = await withRetry(READ_RETRY, () => this.container.list({
      prefix: CHECKPOINT_OBJECT_PREFIX, limit: Math.min(limit, 1000), signal: AbortSignal.timeout(this.timeoutMs),
    }));
    for (const e of page.entries) {
      if (e.kind !== 'object') continue;
      const seq = parseCheckpointObjectName(e.name);
      if (seq !== undefined) out.push(seq);
    }
    return out.sort((a, b) => b - a).slice(0, limit);
  }

  read(seq: number): Promise<Buffer> {
    return withRetry(READ_RETRY, () => this.container.getBuffer(checkpointObjectName(seq), { signal: AbortSignal.timeout(this.timeoutMs) }));
  }

  async publish(seq: number, record: Buffer): Promise<void> {
    const name = checkpointObjectName(seq);
    try {
      await withRetry(WRITE_RETRY, () => this.container.put(name, record, { ifNoneMatch: true, signal: AbortSignal.timeout(this.timeoutMs) }));
    } catch (err) {
      if (!isCairnError(err, 'CAIRN_ERR_OBJ_PRECONDITION_FAILED')) throw err;
      // Either another writer holds this number, or an earlier try of ours
      // succeeded without us hearing about it: the bytes tell.
      const existing = await this.read(seq);
      if (!existing.equals(record)) throw cairnError('CAIRN_ERR_META_FENCED', `checkpoint ${seq} was published by another writer`);
    }
    // A writer that fell far behind could re-create a number already deleted:
    // it must still lose to the newest record.
    const newest = (await this.list(1))[0];
    if (newest !== undefined && newest > seq) {
      throw cairnError('CAIRN_ERR_META_FENCED', `checkpoint ${newest} is newer than the one just published (${seq})`);
    }
  }

  async remove(seq: number): Promise<void> {
    await withRetry(WRITE_RETRY, () => this.container.delete(checkpointObjectName(seq), { signal: AbortSignal.timeout(this.timeoutMs) }));
  }
}
