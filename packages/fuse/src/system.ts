// The host side of a FUSE mount: is a path a mount point (/proc/self/mounts),
// unmounting one by every means there is (fusermount -u, fusermount3 -u,
// then a lazy umount -l as the last resort), and the preflight checks that
// turn "FUSE is not there" into one clear CairnError before anything is
// mounted: /dev/fuse, libfuse.so.2 through fuse-native, the right to mount,
// and a usable mountpoint.

import { execFile } from 'node:child_process';
import { constants, existsSync, statSync } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { cairnError } from '@cairn/errors';
import { loadFuseNative } from './native.js';

/** The mount table's spelling of a path (space, tab, newline and backslash octal-escaped). */
function escapeMountPath(path: string): string {
  return path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** The type of the mount at `path` ("fuse", "ext4"...), or undefined when it is not a mount point. */
export async function mountTypeAt(path: string): Promise<string | undefined> {
  const want = escapeMountPath(resolve(path));
  let text: string;
  try {
    text = await readFile('/proc/self/mounts', 'utf8');
  } catch {
    return undefined;
  }
  let type: string | undefined;
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f[1] === want) type = f[2];
  }
  return type;
}

export async function isMounted(path: string): Promise<boolean> {
  return (await mountTypeAt(path)) !== undefined;
}

function run(cmd: string, args: readonly string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => done({ ok: !err, output: `${stdout}${stderr}`.trim() || (err?.message ?? '') }));
  });
}

/** Waits until `path` is no longer a mount point; false after `timeoutMs`. */
export async function waitUnmounted(path: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isMounted(path))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Unmounts whatever FUSE filesystem is at `path` (also one whose process is
 * gone): fusermount -u, fusermount3 -u, then umount -l (lazy: detaches even
 * when busy). Resolves with what worked; throws CAIRN_ERR_FUSE_UNMOUNT_FAILED
 * when the path is still mounted after all of them.
 */
export async function forceUnmount(path: string): Promise<string> {
  const mnt = resolve(path);
  if (!(await isMounted(mnt))) return 'not mounted';
  const tries: Array<[string, string[]]> = [
    ['fusermount', ['-u', mnt]],
    ['fusermount3', ['-u', mnt]],
    ['umount', ['-l', mnt]],
  ];
  const errors: string[] = [];
  for (const [cmd, args] of tries) {
    const r = await run(cmd, args);
    if (await waitUnmounted(mnt, r.ok ? 2000 : 200)) return `${cmd} ${args.join(' ')}`;
    errors.push(`${cmd}: ${r.output}`);
  }
  throw cairnError('CAIRN_ERR_FUSE_UNMOUNT_FAILED', `${mnt}: ${errors.join('; ')}`);
}

function onPath(cmd: string, path = process.env['PATH'] ?? '/usr/bin:/bin'): boolean {
  return path.split(':').some((d) => d !== '' && existsSync(`${d}/${cmd}`));
}

/**
 * Checks that a FUSE mount can work here, without mounting: /dev/fuse is a
 * character device we may open, fuse-native and libfuse.so.2 load, and we
 * are root or have a fusermount to mount through. Throws the first problem
 * as a CairnError (CAIRN_ERR_FUSE_NO_DEVICE, _NO_LIBRARY, _NOT_PERMITTED)
 * whose message says what to do. `probe` replaces what is looked at (the
 * device path, the uid, PATH), for tests.
 */
export function checkFuseAvailable(probe: { device?: string; uid?: number; path?: string } = {}): void {
  const device = probe.device ?? '/dev/fuse';
  let dev;
  try {
    dev = statSync(device);
  } catch {
    throw cairnError('CAIRN_ERR_FUSE_NO_DEVICE', `${device} does not exist (load the fuse kernel module; in a container, pass --device /dev/fuse)`);
  }
  if (!dev.isCharacterDevice()) throw cairnError('CAIRN_ERR_FUSE_NO_DEVICE', `${device} is not a character device`);
  loadFuseNative();
  const root = (probe.uid ?? process.getuid?.()) === 0;
  if (!root && !onPath('fusermount', probe.path) && !onPath('fusermount3', probe.path)) {
    throw cairnError('CAIRN_ERR_FUSE_NOT_PERMITTED', 'not root and no fusermount on PATH (run as root, or install fuse3: scripts/install-fuse.sh)');
  }
}

/** Checks the mountpoint: an existing directory that is not a mount point already. Returns its absolute path. */
export async function checkMountpoint(path: string): Promise<string> {
  const mnt = resolve(path);
  let st;
  try {
    st = await stat(mnt);
  } catch (err) {
    throw cairnError('CAIRN_ERR_FUSE_BAD_MOUNTPOINT', `${mnt} does not exist`, { cause: err });
  }
  if (!st.isDirectory()) throw cairnError('CAIRN_ERR_FUSE_BAD_MOUNTPOINT', `${mnt} is not a directory`);
  if (await isMounted(mnt)) throw cairnError('CAIRN_ERR_FUSE_MOUNTPOINT_BUSY', `${mnt} (unmount it first: fusermount -u ${mnt})`);
  const parent = await stat(dirname(mnt));
  if (parent.dev !== st.dev && mnt !== '/') throw cairnError('CAIRN_ERR_FUSE_MOUNTPOINT_BUSY', `${mnt} is the root of another filesystem`);
  try {
    await access(mnt, constants.R_OK | constants.X_OK);
  } catch (err) {
    throw cairnError('CAIRN_ERR_FUSE_BAD_MOUNTPOINT', `${mnt} is not accessible`, { cause: err });
  }
  return mnt;
}
