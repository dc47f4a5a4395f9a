// The Unix-domain-socket listener of the RPC server, for frontends on the same
// host (a FUSE mount, an NFS/SMB gateway next to the daemon): the same frames,
// mounts and reply cache as TCP, without TCP's per-packet cost. No TLS: the
// socket file's mode decides who may connect (0600 by default: the server's
// user only), and the volume secret is still required.
//
// The path is taken over carefully:
// - nothing there: fine;
// - a socket: a live server answering on it keeps it (refused: "in use"); a
//   socket nobody listens on (left by a crash: ECONNREFUSED) is removed;
// - anything else (a file, a directory, a symlink): refused, never removed.
// The socket is bound inside a fresh private directory (mode 0700) next to the
// path, given its mode, and then hard-linked to the path (which fails rather
// than replace something that appeared meanwhile): nobody can connect before
// the mode is right. On close the path is removed if it is still this socket.

import { randomBytes } from 'node:crypto';
import { constants as fsc, type Stats } from 'node:fs';
import { chmod, link, lstat, mkdir, rmdir, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { cairnError } from '@cairn/errors';
import type { Logger } from 'pino';

/** Default mode of the socket file: only the server's user may connect. */
export const DEFAULT_SOCKET_MODE = 0o600;
/** sun_path holds 108 bytes on Linux, the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;
/** How long the probe of an existing socket waits for a live server. */
const PROBE_TIMEOUT_MS = 1000;

function kind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a fifo';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a socket';
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Resolves true when a server accepts connections on `path`, false when nobody listens (ECONNREFUSED). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = connect({ path });
    const timer = setTimeout(() => {
      s.destroy();
      // Something holds the socket open without accepting: treat it as in use.
      resolve(true);
    }, PROBE_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      s.destroy();
      if (code(err) === 'ECONNREFUSED' || code(err) === 'ENOENT') resolve(false);
      else reject(err);
    });
  });
}

/**
 * Makes `path` free for a new socket: removes a stale socket, refuses a live
 * one and anything that is not a socket (CAIRN_ERR_CONFIG_INVALID).
 */
export async function clearStaleSocket(path: string, log: Logger): Promise<void> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    throw cairnError('CAIRN_ERR_CONFIG_INVALID', `rpc socket ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!st.isSocket()) {
    throw cairnError('CAIRN_ERR_CONFIG_INVALID', `rpc socket ${path} exists and is ${kind(st)}: refusing to replace it (remove it or choose another socketPath)`);
  }
  let live: boolean;
  try {
    live = await answers(path);
  } catch (err) {
    throw cairnError('CAIRN_ERR_CONFIG_INVALID', `rpc socket ${path}: cannot tell whether a server uses it: ${(err as Error).message}`, { cause: err });
  }
  if (live) throw cairnError('CAIRN_ERR_CONFIG_INVALID', `rpc socket ${path} is in use: another server is listening on it`);
  try {
    await unlink(path);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw cairnError('CAIRN_ERR_CONFIG_INVALID', `rpc socket ${path}: cannot remove the stale socket: ${(err as Error).message}`, { cause: err });
  }
  log.warn({ socketPath: path }, 'rpc: replaced a stale socket file (left by a server that did not shut down)');
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A bound socket: where, and its inode (to remove only this socket on close). */
export interface BoundSocket {
  readonly path: string;
  readonly ino: number;
  readonly dev: number;
}

/**
 * Listens with `server` on Unix-domain socket `path`, with file mode `mode`
 * (see the top of this file). Throws CAIRN_ERR_CONFIG_INVALID.
 */
export async function listenUnixSocket(server: Server, path: string, mode: number, log: Logger): Promise<BoundSocket> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw cairnError('CAIRN_ERR_CONFIG_INVALID', `rpc socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
  }
  await clearStaleSocket(path, log);
  const fail = (err: unknown): never => {
    if ((err as { code?: unknown }).code === 'CAIRN_ERR_CONFIG_INVALID') throw err;
    throw cairnError('CAIRN_ERR_CONFIG_INVALID', `cannot listen on rpc socket ${path}: ${(err as Error).message}`, { cause: err });
  };
  const privateDir = join(dirname(path), `.${basename(path).slice(0, 16)}.${randomBytes(4).toString('hex')}`);
  const privateSock = join(privateDir, 's');
  if (Buffer.byteLength(privateSock) > MAX_SOCKET_PATH_BYTES) {
    // No room for the private directory: bind in place and set the mode at once.
    try {
      await listen(server, path);
      await chmod(path, mode);
      const st = await lstat(path);
      return { path, ino: st.ino, dev: st.dev };
    } catch (err) {
      return fail(err);
    }
  }
  try {
    await mkdir(privateDir, { mode: 0o700 });
  } catch (err) {
    return fail(err);
  }
  try {
    await listen(server, privateSock);
    await chmod(privateSock, mode);
    try {
      await link(privateSock, path);
    } catch (err) {
      if (code(err) === 'EEXIST') throw cairnError('CAIRN_ERR_CONFIG_INVALID', `rpc socket ${path} appeared while the server was starting: refusing to replace it`, { cause: err });
      throw err;
    }
    const st = await lstat(path);
    return { path, ino: st.ino, dev: st.dev };
  } catch (err) {
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    return fail(err);
  } finally {
    // The socket stays reachable through `path`; its private name and directory go.
    await unlink(privateSock).catch(() => undefined);
    await rmdir(privateDir).catch(() => undefined);
  }
}

/** Removes the socket file at `b.path` if it is still the one this server bound (not a successor's). */
export async function removeUnixSocket(b: BoundSocket, log: Logger): Promise<void> {
  try {
    const st = await lstat(b.path);
    if (!st.isSocket() || st.ino !== b.ino || st.dev !== b.dev) return;
    await unlink(b.path);
  } catch (err) {
    if (code(err) !== 'ENOENT') log.warn({ err, socketPath: b.path }, 'rpc: could not remove the socket file');
  }
}

/** True when `mode` is a valid file mode for the socket (permission bits only). */
export function isSocketMode(mode: unknown): mode is number {
  return typeof mode === 'number' && Number.isInteger(mode) && mode >= 0 && mode <= 0o777 && (mode & ~(fsc.S_IRWXU | fsc.S_IRWXG | fsc.S_IRWXO)) === 0;
}
