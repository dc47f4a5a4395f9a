// Who asks: every RPC carries the identity of the process behind the FUSE
// request (uid, gid and supplementary groups, as an NFS client sends AUTH_SYS
// credentials), so that files get the right owner and the server's permission
// checks see the real caller. FUSE 2 tells uid, gid and pid; the groups come
// from /proc/<pid>/status, read asynchronously and cached for a moment per
// (pid, uid, gid). Requests the kernel makes on nobody's behalf (pid 0) and a
// vanished process fall back to the mount's identity.

import { readFile } from 'node:fs/promises';
import type { Credentials } from '@cairn/rpc';
import type { FuseCaller } from './native.js';

/** Most supplementary groups sent (the RPC limit). */
const MAX_GROUPS = 256;
const MAX_CACHED = 1024;

export type IdentityMode = 'caller' | 'mount';

export class CallerCredentials {
  private readonly cache = new Map<string, { cred: Promise<Credentials>; expires: number }>();

  constructor(
    private readonly mode: IdentityMode,
    /** The identity for requests of no process (undefined: the client's default). */
    private readonly fallback: Credentials | undefined,
    private readonly ttlMs = 2000,
  ) {}

  /** The credentials for a request from `caller` (undefined: the client's default). */
  of(caller: FuseCaller | null): Promise<Credentials | undefined> | Credentials | undefined {
    if (this.mode === 'mount' || caller === null || caller.pid === 0) return this.fallback;
    const key = `${caller.pid}:${caller.uid}:${caller.gid}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return hit.cred;
    const cred = groupsOf(caller.pid).then((groups) => ({ uid: caller.uid, gid: caller.gid, groups }));
    this.cache.delete(key);
    this.cache.set(key, { cred, expires: now + this.ttlMs });
    if (this.cache.size > MAX_CACHED) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    return cred;
  }
}

/** The supplementary groups of process (or thread) `pid`; none when it is gone. */
async function groupsOf(pid: number): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return [];
  }
  const line = /^Groups:\s*(.*)$/m.exec(text);
  if (!line?.[1]) return [];
  const groups: number[] = [];
  for (const g of line[1].trim().split(/\s+/)) {
    const n = Number(g);
    if (g !== '' && Number.isInteger(n) && n >= 0 && groups.length < MAX_GROUPS) groups.push(n);
  }
  return groups;
}
