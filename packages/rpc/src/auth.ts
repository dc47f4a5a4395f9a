// Volume authentication and the mount registry. `mount` takes a volume name and
// a secret; a wrong secret, an unknown volume and a refused resolver all get the
// same CAIRN_ERR_RPC_ACCESS_DENIED (EACCES) with the same message, so a caller
// learns nothing else. Secrets are compared as SHA-256 digests with
// timingSafeEqual (constant time, whatever the lengths); an unknown volume is
// compared against a dummy digest so it costs the same.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { cairnError } from '@cairn/errors';
import type { MountRecord } from './methods.js';

/** One volume the server exports. */
export interface VolumeConfig<V> {
  readonly name: string;
  /** The per-volume secret (token) a client must present to mount. */
  readonly secret: string | Uint8Array;
  /** The volume handle handed to methods (a Filesystem for the Cairn API). */
  readonly fs: V;
}

/**
 * Decides a mount: returns the handle when `secret` is right for `volume`,
 * undefined (or a rejection) to refuse. Compare secrets with secretsEqual().
 */
export type VolumeResolver<V> = (volume: string, secret: Buffer) => Promise<V | undefined> | V | undefined;

function digest(secret: string | Uint8Array): Buffer {
  return createHash('sha256').update(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret).digest();
}

/** Constant-time secret comparison (any lengths). */
export function secretsEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

const DUMMY = digest(randomBytes(32));

/** Builds the server's resolver from a static volume list (names must be unique and non-empty). */
export function staticResolver<V>(volumes: readonly VolumeConfig<V>[]): VolumeResolver<V> {
  const byName = new Map<string, { digest: Buffer; fs: V }>();
  for (const v of volumes) {
    if (typeof v.name !== 'string' || v.name.length === 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', 'volume name must be a non-empty string');
    if (byName.has(v.name)) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `volume ${v.name} is listed twice`);
    if (v.secret === undefined || v.secret.length === 0) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `volume ${v.name} has an empty secret`);
    byName.set(v.name, { digest: digest(v.secret), fs: v.fs });
  }
  return (volume, secret) => {
    const entry = byName.get(volume);
    const ok = timingSafeEqual(digest(secret), entry?.digest ?? DUMMY);
    return ok && entry ? entry.fs : undefined;
  };
}

/** The one refusal every failed mount gets. */
export function accessDenied(): Error {
  return cairnError('CAIRN_ERR_RPC_ACCESS_DENIED', 'mount refused');
}

/** Live mounts by id. */
export class MountRegistry<V> {
  private readonly mounts = new Map<string, MountRecord<V>>();

  get size(): number {
    return this.mounts.size;
  }

  add(volume: string, fs: V, client: string, now: number): MountRecord<V> {
    const rec: MountRecord<V> = { id: randomBytes(16).toString('hex'), volume, fs, client, createdAt: now, cleanups: new Set() };
    this.mounts.set(rec.id, rec);
    return rec;
  }

  /** The mount `id` when it exists and belongs to `client`. */
  get(id: string | undefined, client: string): MountRecord<V> | undefined {
    if (id === undefined) return undefined;
    const rec = this.mounts.get(id);
    return rec && rec.client === client ? rec : undefined;
  }

  /** Removes a mount and runs its cleanups (errors are reported to `onError`, never thrown). */
  async release(rec: MountRecord<V>, onError: (err: unknown) => void): Promise<void> {
    if (this.mounts.get(rec.id) !== rec) return;
    this.mounts.delete(rec.id);
    const cleanups = [...rec.cleanups];
    rec.cleanups.clear();
    for (const c of cleanups) {
      try {
        await c();
      } catch (err) {
        onError(err);
      }
    }
  }

  /** Mounts of clients for which `gone` is true. */
  byClient(gone: (client: string) => boolean): MountRecord<V>[] {
    return [...this.mounts.values()].filter((m) => gone(m.client));
  }

  all(): MountRecord<V>[] {
    return [...this.mounts.values()];
  }
}
