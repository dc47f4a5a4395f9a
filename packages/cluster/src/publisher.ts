// A CheckpointPublisher fenced by an etcd compare-and-swap (cluster mode).
//
// Why: create-if-absent PUTs are not atomic on every object store (OpenStack
// Swift answers 201 to every one of several concurrent creators and keeps the
// last), so two processes serving one volume could both believe they
// published checkpoint N. Here the object store only holds the record bytes,
// under names no other writer can produce (layout.ts); which record is
// checkpoint N is decided by one etcd transaction.
//
// publish(seq, record):
//   P1. If etcd already names checkpoint seq or a newer one: fenced (or, when
//       it names exactly this record, an earlier try of ours that succeeded).
//   P2. PUT the record as meta/checkpoints/<seq>-<writer>-<hash>.
//   P3. One transaction: if the pointer still is the one read (its seq is
//       seq-1; absent for the first publication) and, with an ownership
//       lease, the owner key still holds our lease: write the pointer and the
//       history entry of seq. Otherwise the pointer moved: fenced.
// list() and read() only ever return what the pointer and the history
// entries vouch for, verified against their sha256: a loser's record object
// is never read as a checkpoint. remove(seq) deletes the history entry, then
// every object of number seq (the record and any loser's stray).
//
// Adoption: a volume whose checkpoints were published by the object-store
// publisher has no etcd keys yet. Until the first publication through etcd,
// list() and read() serve those records (meta/checkpoints/<16 hex>); the first
// publication adopts them: its transaction (pointer absent) also writes a
// history entry, with the hash of its bytes, for each of them. That first
// publication must be number newest+1, so headhunter's mount claim (which
// follows the newest record) adopts the newest valid record as its base. If
// the pointer is missing but records published through etcd exist beyond
// that, etcd lost the volume's keys: list() refuses instead of going back to
// an older history.

import { randomBytes } from 'node:crypto';
import { cairnError, isCairnError, isRetryable } from '@cairn/errors';
import type { CheckpointPublisher } from '@cairn/headhunter';
import { CHECKPOINT_OBJECT_PREFIX, checkpointObjectName } from '@cairn/headhunter';
import type { Container } from '@cairn/objstore';
import type { Etcd3 } from 'etcd3';
import pino, { type Logger } from 'pino';
import { connectEtcd, DEFAULT_ETCD_PREFIX, DEFAULT_ETCD_TIMEOUT_MS, etcdCall } from './etcd.js';
import {
  decodeRef, encodeRef, historyKey, parseRecordObjectName, recordObjectName, recordObjectPrefix, seqOfHistoryKey, sha256, volumeKeys,
  type RecordRef,
} from './layout.js';
import type { OwnerLease } from './lease.js';

export interface EtcdPublisherOptions {
  /** The volume's container: it holds the record objects. */
  readonly container: Container;
  /** Volume name in etcd keys (default: the container's name). */
  readonly volume?: string;
  /** A client to use (not closed by close()); otherwise one is opened on `endpoints`. */
  readonly client?: Etcd3;
  readonly endpoints?: readonly string[];
  /** Key prefix of Cairn's etcd keys (default "/cairn"). */
  readonly prefix?: string;
  /** Deadline of one etcd request when the publisher opens its client, ms (default 5000). */
  readonly etcdTimeoutMs?: number;
  /** Timeout of one object-store request, ms (default 30 000). */
  readonly timeoutMs?: number;
  /** When set, a publication also requires that this ownership lease still holds the volume's owner key. */
  readonly lease?: OwnerLease;
  readonly logger?: Logger;
}

/** The etcd-fenced publisher; close() releases its etcd client (when it opened one). */
export interface EtcdPublisher extends CheckpointPublisher {
  /** This publisher's writer token (part of its record names). */
  readonly writer: string;
  close(): Promise<void>;
}

/** Most object-store records the first publication through etcd adopts. */
const ADOPT_LIMIT = 16;
/** Transactions tried per publication before giving up (each failure means the pointer moved). */
const CAS_ATTEMPTS = 4;
/** Tries of one object-store request that failed transiently. */
const STORE_ATTEMPTS = 5;

export function createEtcdPublisher(o: EtcdPublisherOptions): EtcdPublisher {
  let client = o.client;
  const own = client === undefined;
  if (client === undefined) {
    if (o.endpoints === undefined || o.endpoints.length === 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'etcd publisher: no etcd client and no endpoints');
    client = connectEtcd({ endpoints: o.endpoints, timeoutMs: o.etcdTimeoutMs ?? DEFAULT_ETCD_TIMEOUT_MS });
  }
  return new EtcdFencedPublisher(o, client, own);
}

class EtcdFencedPublisher implements EtcdPublisher {
  readonly kind = 'etcd';
  readonly writer = randomBytes(8).toString('hex');
  private readonly volume: string;
  private readonly keys: ReturnType<typeof volumeKeys>;
  private readonly container: Container;
  private readonly timeoutMs: number;
  private readonly logger: Logger;

  constructor(private readonly o: EtcdPublisherOptions, private readonly etcd: Etcd3, private readonly ownsClient: boolean) {
    this.container = o.container;
    this.volume = o.volume ?? o.container.name;
    this.keys = volumeKeys(o.prefix ?? DEFAULT_ETCD_PREFIX, this.volume);
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.logger = o.logger ?? pino({ level: 'silent' });
  }

  async list(limit: number): Promise<number[]> {
    if (limit <= 0) return [];
    const pointer = await this.pointer();
    if (pointer === undefined) return (await this.unadopted()).slice(0, limit);
    const keys = await etcdCall('list', () =>
      this.etcd.getAll().prefix(this.keys.history).sort('Key', 'Descend').limit(limit).keys());
    const out: number[] = [];
    for (const k of keys) {
      const seq = seqOfHistoryKey(this.keys.history, k);
      if (seq !== undefined && seq <= pointer.ref.seq) out.push(seq);
    }
    return out;
  }

  async read(seq: number): Promise<Buffer> {
    const ref = await this.historyEntry(seq);
    if (ref !== undefined) return this.readVouched(ref);
    if ((await this.pointer()) !== undefined) throw cairnError('CAIRN_ERR_OBJ_NOT_FOUND', `${this.volume}: checkpoint ${seq}`);
    // Not adopted yet: the object-store publisher's record, as it would read it.
    return this.store('read', () => this.container.getBuffer(checkpointObjectName(seq), { signal: this.signal() }));
  }

  async publish(seq: number, record: Buffer): Promise<void> {
    if (!Number.isSafeInteger(seq) || seq < 1) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `checkpoint number ${seq}`);
    const sha = sha256(record);
    const mine: RecordRef = { seq, object: recordObjectName(seq, this.writer, sha), sha256: sha, bytes: record.length, writer: this.writer };

    // P1. An early verdict: nothing is written for a number already taken or out of turn.
    let current = await this.pointer();
    if (current !== undefined && current.ref.seq >= seq) return this.verdict(current.ref, mine);
    const adopted = current === undefined ? await this.adoptable() : [];
    this.checkTurn(current?.ref.seq ?? adopted[0]?.seq ?? 0, seq);

    // P2. The record bytes, under a name only this writer uses for these bytes.
    await this.store('write', () => this.container.put(mine.object, record, { signal: this.signal(record.length) }));

    // P3. The compare-and-swap; a failed compare means the pointer moved (or the lease was lost): look again.
    try {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        if (attempt > 0) current = await this.pointer();
        if (current !== undefined && current.ref.seq >= seq) return await this.verdict(current.ref, mine);
        if (await this.swap(current, current === undefined ? adopted : [], mine)) return;
      }
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_META_FENCED')) await this.dropStray(mine);
      throw err;
    }
    await this.dropStray(mine);
    throw cairnError('CAIRN_ERR_META_FENCED', `${this.volume}: checkpoint ${seq}: the etcd pointer kept moving`);
  }

  async remove(seq: number): Promise<void> {
    const pointer = await this.pointer();
    const newest = pointer !== undefined ? pointer.ref.seq : (await this.unadopted())[0];
    if (newest === seq) {
      throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${this.volume}: checkpoint ${seq} is the newest published one and cannot be removed`);
    }
    // The history entry first: from then on nothing reads the record, whatever happens to its objects.
    await etcdCall('remove', () => this.etcd.delete().key(historyKey(this.keys.history, seq)).exec());
    const names: string[] = [];
    for await (const e of this.container.listAll({ prefix: recordObjectPrefix(seq) })) {
      if (e.kind === 'object' && parseRecordObjectName(e.name)?.seq === seq) names.push(e.name);
    }
    for (const name of names) await this.store('remove', () => this.container.delete(name, { signal: this.signal() }));
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.etcd.close();
  }

  // ---- etcd ----------------------------------------------------------------

  /** The pointer with its modification revision, or undefined before the first publication through etcd. */
  private async pointer(): Promise<{ ref: RecordRef; modRevision: string } | undefined> {
    const res = await etcdCall('read the pointer', () => this.etcd.get(this.keys.pointer).exec());
    const kv = res.kvs[0];
    if (kv === undefined) return undefined;
    return { ref: decodeRef(kv.value.toString('utf8'), `${this.keys.pointer}`), modRevision: kv.mod_revision };
  }

  private async historyEntry(seq: number): Promise<RecordRef | undefined> {
    const key = historyKey(this.keys.history, seq);
    const text = await etcdCall('read a history entry', () => this.etcd.get(key).string());
    if (text === null) return undefined;
    const ref = decodeRef(text, key);
    if (ref.seq !== seq) throw cairnError('CAIRN_ERR_META_CORRUPT', `${key} names checkpoint ${ref.seq}`);
    return ref;
  }

  /** P1/P3 when the pointer is at `mine.seq` or beyond: ours (an earlier try that succeeded) or fenced. */
  private async verdict(current: RecordRef, mine: RecordRef): Promise<void> {
    if (current.seq === mine.seq && current.sha256 === mine.sha256 && current.writer === mine.writer) return;
    const why = current.seq === mine.seq
      ? `checkpoint ${mine.seq} was published by another writer (${current.writer})`
      : `checkpoint ${current.seq} is newer than the one being published (${mine.seq})`;
    throw cairnError('CAIRN_ERR_META_FENCED', `${this.volume}: ${why}`);
  }

  /** Only the number right after the newest one may be published. */
  private checkTurn(newest: number, seq: number): void {
    if (seq !== newest + 1) {
      throw cairnError('CAIRN_ERR_META_FENCED', `${this.volume}: checkpoint ${seq} does not follow the newest published one (${newest})`);
    }
  }

  /**
   * P3: one transaction; false when its compare failed (the pointer moved).
   * Without a pointer yet, `adopted` are the object-store publisher's records
   * read before the record was written.
   */
  private async swap(current: { ref: RecordRef; modRevision: string } | undefined, adopted: RecordRef[], mine: RecordRef): Promise<boolean> {
    this.checkTurn(current?.ref.seq ?? adopted[0]?.seq ?? 0, mine.seq);
    let txn = current === undefined
      ? this.etcd.if(this.keys.pointer, 'Create', '==', 0)
      : this.etcd.if(this.keys.pointer, 'Mod', '==', current.modRevision);
    if (this.o.lease !== undefined) txn = txn.and(this.o.lease.key, 'Lease', '==', this.o.lease.id);
    const puts = [
      this.etcd.put(this.keys.pointer).value(encodeRef(mine)),
      this.etcd.put(historyKey(this.keys.history, mine.seq)).value(encodeRef(mine)),
      ...adopted.map((r) => this.etcd.put(historyKey(this.keys.history, r.seq)).value(encodeRef(r))),
    ];
    const res = await etcdCall('publish', () => txn.then(...puts).commit());
    if (res.succeeded) {
      if (adopted.length > 0) this.logger.info({ volume: this.volume, adopted: adopted.map((r) => r.seq), seq: mine.seq }, 'checkpoint records of the object-store publisher adopted into etcd');
      return true;
    }
    if (this.o.lease !== undefined && (await this.lease()) !== this.o.lease.id) {
      throw cairnError('CAIRN_ERR_META_FENCED', `${this.volume}: this process no longer holds the ownership lease`);
    }
    return false;
  }

  /** The lease holding the owner key, if any. */
  private async lease(): Promise<string | undefined> {
    const res = await etcdCall('read the owner key', () => this.etcd.get(this.o.lease!.key).exec());
    return res.kvs[0]?.lease;
  }

  // ---- adoption of object-store publisher records --------------------------

  /**
   * Before the first publication through etcd: the object-store publisher's
   * record numbers, newest first. Refuses when records published through etcd
   * exist beyond the first number a publication would take: then etcd lost
   * the volume's keys, and going on would roll the volume back.
   */
  private async unadopted(): Promise<number[]> {
    const legacy: number[] = [];
    const etcdNamed: number[] = [];
    for await (const e of this.container.listAll({ prefix: CHECKPOINT_OBJECT_PREFIX })) {
      if (e.kind !== 'object') continue;
      const p = parseRecordObjectName(e.name);
      if (p?.kind === 'objstore') legacy.push(p.seq);
      else if (p?.kind === 'etcd') etcdNamed.push(p.seq);
    }
    legacy.sort((a, b) => b - a);
    const next = (legacy[0] ?? 0) + 1;
    const beyond = etcdNamed.filter((s) => s > next);
    if (beyond.length > 0) {
      throw cairnError('CAIRN_ERR_META_CORRUPT',
        `${this.volume}: etcd has no checkpoint pointer under ${this.keys.pointer}, but checkpoint ${Math.max(...beyond)} was published through etcd; restore etcd (or the prefix) instead of starting over from checkpoint ${legacy[0] ?? 'none'}`);
    }
    return legacy;
  }

  /** The object-store publisher's records to vouch for in the first publication, newest first, with the hash of their bytes. */
  private async adoptable(): Promise<RecordRef[]> {
    const out: RecordRef[] = [];
    for (const seq of (await this.unadopted()).slice(0, ADOPT_LIMIT)) {
      const object = checkpointObjectName(seq);
      let bytes: Buffer;
      try {
        bytes = await this.store('read', () => this.container.getBuffer(object, { signal: this.signal() }));
      } catch (err) {
        if (isCairnError(err, 'CAIRN_ERR_OBJ_NOT_FOUND')) continue;
        throw err;
      }
      out.push({ seq, object, sha256: sha256(bytes), bytes: bytes.length, writer: 'objstore' });
    }
    return out;
  }

  // ---- object store --------------------------------------------------------

  /** The bytes of a record etcd vouches for, checked against its hash. */
  private async readVouched(ref: RecordRef): Promise<Buffer> {
    let bytes: Buffer;
    try {
      bytes = await this.store('read', () => this.container.getBuffer(ref.object, { signal: this.signal() }));
    } catch (err) {
      if (isCairnError(err, 'CAIRN_ERR_OBJ_NOT_FOUND')) {
        throw cairnError('CAIRN_ERR_META_CORRUPT', `${this.volume}: checkpoint ${ref.seq}: its record ${ref.object} is missing`, { cause: err });
      }
      throw err;
    }
    if (bytes.length !== ref.bytes || sha256(bytes) !== ref.sha256) {
      throw cairnError('CAIRN_ERR_META_BAD_CHECKSUM', `${this.volume}: checkpoint ${ref.seq}: ${ref.object} is not the record etcd vouches for`);
    }
    return bytes;
  }

  /** Deletes the record object of a publication that lost (best effort: remove() sweeps leftovers). */
  private async dropStray(mine: RecordRef): Promise<void> {
    await this.container.delete(mine.object, { signal: this.signal() }).catch((err: unknown) =>
      this.logger.warn({ err, object: mine.object }, 'could not delete the record of a lost publication'));
  }

  private signal(bytes = 0): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs + Math.ceil(bytes / 10_000));
  }

  /** One object-store request, tried again while it fails transiently. */
  private async store<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= STORE_ATTEMPTS || !isRetryable(err)) throw err;
        this.logger.debug({ err, attempt, what }, 'object-store request failed; trying again');
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt) * (0.75 + Math.random() * 0.5)));
      }
    }
  }
}
