// Method tables: the server is generic over the volume handle type `V` and a
// table of methods; the filesystem binding (fs-methods.ts) is one such table,
// tests use others. Each method declares whether it is idempotent (decides
// whether its reply is kept for retries), its parameter schema, and a handler.

import type { Logger } from 'pino';
import type { Credentials } from './protocol.js';
import type { Check } from './schema.js';

/** A mounted volume as the server keeps it. */
export interface MountRecord<V> {
  /** The mount id handed to the client (random, 128 bits). */
  readonly id: string;
  readonly volume: string;
  readonly fs: V;
  /** The client id that mounted; only it may use the mount id. */
  readonly client: string;
  readonly createdAt: number;
  /**
   * Per-mount state a method table may keep (open file handles...). The
   * server calls every cleanup registered here, once, when the mount is
   * released (unmount, or the client forgotten after its TTL, or server close).
   */
  readonly cleanups: Set<() => Promise<void> | void>;
}

/** Everything a handler gets besides its params. */
export interface CallContext<V> {
  readonly mount: MountRecord<V>;
  /** The volume handle (mount.fs). */
  readonly fs: V;
  /** The caller's identity; NOBODY_CREDENTIALS when the request carried none. */
  readonly cred: Credentials;
  readonly client: string;
  readonly requestId: number;
  /** Aborted when the server closes (long waits should give up). */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

export interface MethodSpec<V, P, R> {
  /**
   * True when running the request twice has the same effect as once (getattr,
   * read, readdir...). Idempotent replies are not stored after completion;
   * non-idempotent ones (create, rename, write...) are, so that a retry gets
   * the first execution's reply instead of running again.
   */
  readonly idempotent: boolean;
  /** Checks and normalizes params; failures never reach the handler. */
  readonly params: Check<P>;
  readonly handler: (ctx: CallContext<V>, params: P) => Promise<R> | R;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMethod<V> = MethodSpec<V, any, any>;

/** Method name -> spec. Names are the wire method names. */
export type MethodTable<V> = Readonly<Record<string, AnyMethod<V>>>;

/** Declares one method with its param type inferred from the schema. */
export function defineMethod<V, P, R>(spec: MethodSpec<V, P, R>): MethodSpec<V, P, R> {
  return spec;
}

/** The identity used when a request carries no cred: nobody/nogroup. */
export const NOBODY_CREDENTIALS: Credentials = Object.freeze({ uid: 65534, gid: 65534, groups: Object.freeze([]) as readonly number[] });

/** Method names the server itself implements; a table may not define them. */
export const BUILTIN_METHODS: readonly string[] = ['mount', 'unmount', 'ping'];
