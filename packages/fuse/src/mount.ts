// mountFuse(): checks that FUSE can work here, builds the operations table
// over the RPC client, mounts it with fuse-native and returns the handle.
// unmount() lets queued writes land, unmounts (fuse-native's lazy
// fusermount; fusermount3 and umount -l when that fails), waits until the
// kernel no longer lists the mount, and returns every RPC handle still open.
// The client stays the caller's to close.

import { cairnError, isCairnError } from '@cairn/errors';
import pino from 'pino';
import { AttrCache, PathCache, XattrMissCache } from './cache.js';
import { CallerCredentials } from './cred.js';
import type { FuseMount, FuseMountOptions, FuseMountStats } from './index.js';
import { loadFuseNative, type FuseInstance, type FuseNativeOptions, type FuseOperations } from './native.js';
import { OpenFiles } from './open-files.js';
import type { OpCounters, OpsContext } from './ops-context.js';
import { fileOperations } from './ops-files.js';
import { namespaceOperations } from './ops-namespace.js';
import { xattrOperations } from './ops-xattr.js';
import { ReleaseBatcher } from './release-batch.js';
import { Resolver } from './resolver.js';
import { checkFuseAvailable, checkMountpoint, forceUnmount, isMounted, waitUnmounted } from './system.js';
import { WriteBudget } from './write-behind.js';

/** libfuse 2's largest write request (its channel buffer is 128 KiB plus a page). */
export const LIBFUSE2_MAX_WRITE = 128 * 1024;

const DEFAULTS = {
  attrTimeoutSec: 1,
  entryTimeoutSec: 1,
  negativeTimeoutSec: 0,
  negativeLookups: true,
  readAheadBytes: 1024 * 1024,
  writeChunkBytes: 1024 * 1024,
  writeBehindBytes: 64 * 1024 * 1024,
  writeDelayMs: 5,
  releaseDelayMs: 5,
  cacheEntries: 65_536,
  mountTimeoutMs: 30_000,
};

function checkNumber(name: string, v: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `${name} must be a number in ${min}..${max}`);
  }
}

function checkOptions(o: FuseMountOptions): void {
  if (!o.client) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'client is required');
  if (typeof o.mountpoint !== 'string' || o.mountpoint === '') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'mountpoint is required');
  checkNumber('attrTimeoutSec', o.attrTimeoutSec, 0, 86_400);
  checkNumber('entryTimeoutSec', o.entryTimeoutSec, 0, 86_400);
  checkNumber('negativeTimeoutSec', o.negativeTimeoutSec, 0, 86_400);
  checkNumber('kernelAttrTimeoutSec', o.kernelAttrTimeoutSec, 0, 86_400);
  checkNumber('readAheadBytes', o.readAheadBytes, 0, 64 * 1024 * 1024);
  checkNumber('writeChunkBytes', o.writeChunkBytes, 4096, 64 * 1024 * 1024);
  checkNumber('writeBehindBytes', o.writeBehindBytes, 0, 4 * 1024 * 1024 * 1024);
  checkNumber('maxWriteBytes', o.maxWriteBytes, 4096, LIBFUSE2_MAX_WRITE);
  if (o.negativeLookups !== undefined && typeof o.negativeLookups !== 'boolean') throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'negativeLookups must be a boolean');
  if (o.identity !== undefined && o.identity !== 'caller' && o.identity !== 'mount') {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', "identity must be 'caller' or 'mount'");
  }
  if (o.fsname !== undefined && !/^[A-Za-z0-9_.:@+-]{1,64}$/.test(o.fsname)) {
    throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', 'fsname must be 1-64 of [A-Za-z0-9_.:@+-]');
  }
}

/**
 * The fuse-native options (libfuse -o) of a mount with `o`'s settings. The
 * benchmark's null filesystem mounts with exactly these, to be compared fairly.
 */
export function fuseNativeOptions(o: Partial<FuseMountOptions> = {}): FuseNativeOptions {
  return {
    timeout: false,
    debug: o.debug === true,
    allowOther: o.allowOther ?? process.getuid?.() === 0,
    defaultPermissions: o.defaultPermissions ?? true,
    extraOptions: fuseOptions(o),
  };
}

/** The libfuse -o options of a mount. */
function fuseOptions(o: Partial<FuseMountOptions>): string[] {
  return [
    'use_ino',
    'big_writes',
    `max_write=${o.maxWriteBytes ?? LIBFUSE2_MAX_WRITE}`,
    'atomic_o_trunc',
    // FUSE 2 gives every name of a hard-linked file its own kernel inode, so a
    // change made through one name would stay invisible through the others
    // for the kernel's attribute timeout. By default the kernel is told 0 and
    // this mount's own cache (keyed by inode number) answers instead.
    `attr_timeout=${o.kernelAttrTimeoutSec ?? 0}`,
    `entry_timeout=${o.entryTimeoutSec ?? DEFAULTS.entryTimeoutSec}`,
    `negative_timeout=${o.negativeTimeoutSec ?? DEFAULTS.negativeTimeoutSec}`,
  ];
}

function fuseMount(fuse: FuseInstance, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(cairnError('CAIRN_ERR_FUSE_MOUNT_FAILED', `the kernel did not start the filesystem within ${timeoutMs} ms`)), timeoutMs);
    fuse.mount((err) => {
      clearTimeout(timer);
      if (err) reject(cairnError('CAIRN_ERR_FUSE_MOUNT_FAILED', `${err.message} (libfuse's reason, if any, is on stderr)`, { cause: err }));
      else resolve();
    });
  });
}

function fuseUnmount(fuse: FuseInstance): Promise<Error | null> {
  return new Promise((resolve) => fuse.unmount((err) => resolve(err)));
}

/** Mounts the client's volume at `options.mountpoint` through FUSE. */
export async function mountFuse(options: FuseMountOptions): Promise<FuseMount> {
  checkOptions(options);
  checkFuseAvailable();
  const mountpoint = await checkMountpoint(options.mountpoint);
  const Fuse = loadFuseNative();
  const { client } = options;
  const log = (options.logger ?? pino({ level: 'silent' })).child({ fuse: mountpoint });

  const cacheLimits = { maxEntries: options.cacheEntries ?? DEFAULTS.cacheEntries };
  const entryTtlMs = (options.entryTimeoutSec ?? DEFAULTS.entryTimeoutSec) * 1000;
  const attrTtlMs = (options.attrTimeoutSec ?? DEFAULTS.attrTimeoutSec) * 1000;
  const paths = new PathCache({ ...cacheLimits, entryTtlMs, attrTtlMs: 0 });
  const attrs = new AttrCache({ ...cacheLimits, entryTtlMs: 0, attrTtlMs });
  const xattrMisses = new XattrMissCache({ ...cacheLimits, entryTtlMs: 0, attrTtlMs });
  const budget = new WriteBudget(options.writeBehindBytes ?? DEFAULTS.writeBehindBytes);
  const files = new OpenFiles(client, budget, {
    readAheadBytes: options.readAheadBytes ?? DEFAULTS.readAheadBytes,
    writeChunkBytes: options.writeChunkBytes ?? DEFAULTS.writeChunkBytes,
    writeDelayMs: DEFAULTS.writeDelayMs,
    writeBehind: (options.writeBehindBytes ?? DEFAULTS.writeBehindBytes) > 0,
    onWritten: (ino) => attrs.invalidate(ino),
  });
  const releases = new ReleaseBatcher(client, { delayMs: DEFAULTS.releaseDelayMs });
  const counters = new Map<string, OpCounters>();
  let fuse: FuseInstance | undefined;
  const ctx: OpsContext = {
    client,
    resolver: new Resolver(client, paths, attrs, xattrMisses, files, {
      entryTtlMs,
      attrTtlMs,
      negativeLookups: options.negativeLookups ?? DEFAULTS.negativeLookups,
      maxListedNames: cacheLimits.maxEntries,
    }),
    files,
    releases,
    creds: new CallerCredentials(options.identity ?? 'caller', options.cred),
    log,
    counters,
    caller: () => fuse?.caller() ?? null,
  };
  const ops: FuseOperations = {
    init: (cb) => cb(0),
    ...namespaceOperations(ctx),
    ...fileOperations(ctx),
    ...xattrOperations(ctx),
  };

  fuse = new Fuse(mountpoint, ops, {
    ...fuseNativeOptions(options),
    fsname: options.fsname ?? `cairn:${client.mount.volume}`.replace(/[^A-Za-z0-9_.:@+-]/g, '_').slice(0, 64),
    subtype: 'cairn',
  });
  try {
    await fuseMount(fuse, options.mountTimeoutMs ?? DEFAULTS.mountTimeoutMs);
  } catch (err) {
    await forceUnmount(mountpoint).catch(() => undefined);
    throw err;
  }
  log.info({ volume: client.mount.volume }, 'mounted');

  const instance = fuse;
  let unmounting: Promise<void> | undefined;
  const unmount = async (): Promise<void> => {
    // 1. Let queued writes land (bounded: a dead server must not hang the unmount).
    const drains = [...files.all().map((f) => f.writer.settle()), files.idle()];
    await Promise.race([Promise.all(drains), new Promise((r) => setTimeout(r, 30_000).unref())]);
    // 2. Unmount: fuse-native's lazy fusermount, then every other way.
    const err = await fuseUnmount(instance);
    if (err && (await isMounted(mountpoint))) {
      log.warn({ err }, 'fusermount failed; trying harder');
      await forceUnmount(mountpoint);
    }
    if (!(await waitUnmounted(mountpoint, 10_000))) throw cairnError('CAIRN_ERR_FUSE_UNMOUNT_FAILED', `${mountpoint} is still mounted`);
    // 3. Give the server back the handles of files still open (lazy unmount).
    releases.flush();
    await Promise.race([files.idle(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    for (const f of files.all()) {
      files.remove(f);
      await client.release({ fh: f.fh }, { deadlineMs: 2000 }).catch((e: unknown) => {
        if (!isCairnError(e)) log.warn({ err: e }, 'releasing a handle at unmount failed');
      });
    }
    log.info('unmounted');
  };

  return {
    mountpoint,
    unmount() {
      unmounting ??= unmount();
      return unmounting;
    },
    stats(): FuseMountStats {
      const ops: Record<string, OpCounters> = {};
      for (const [k, v] of counters) ops[k] = { ...v };
      return { ops, openFiles: files.size, cachedPaths: paths.size, cachedAttrs: attrs.size, writeBehindBytes: budget.inUse };
    },
  };
}
