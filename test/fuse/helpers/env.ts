// Setting up FUSE tests: whether they can run here (prepareFuse), and a
// mounted volume to run shell tools against (startFuseEnv): a Cairn RPC
// server in a child process, a CairnClient and mountFuse() in this process,
// a mountpoint in a fresh temp directory. close() always unmounts (the
// handle's unmount, then fusermount -u / fusermount3 -u / umount -l), stops
// the child and removes the temp directory, whatever failed before.

import { execFile, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkFuseAvailable, forceUnmount, mountFuse, type FuseMount, type FuseMountOptions } from '@cairn/fuse';
import { CairnClient } from '@cairn/rpc';
import { FUSE_SECRET, FUSE_VOLUME } from './server-child.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../../..');
const INSTALL = join(ROOT, 'scripts/install-fuse.sh');
const CHILD = join(HERE, 'server-child.ts');

export function isCI(): boolean {
  const v = (process.env['CI'] ?? '').toLowerCase();
  return v === 'true' || v === '1';
}

let prepared: string | undefined | null = null;

/**
 * Makes FUSE usable (scripts/install-fuse.sh when root) and returns why the
 * FUSE tests cannot run here, or undefined when they can. Under CI=true a
 * reason is an error instead: there the tests must run.
 */
export function prepareFuse(): string | undefined {
  if (prepared !== null) return prepared;
  let reason: string | undefined;
  if (process.platform !== 'linux') reason = `FUSE tests need Linux (this is ${process.platform})`;
  else if (process.getuid?.() !== 0) reason = 'FUSE tests need root (they mount, and install libfuse2/fuse3/attr with apt-get)';
  else if (!existsSync('/dev/fuse')) reason = 'no /dev/fuse (load the fuse module; in a container pass --device /dev/fuse)';
  if (!reason) {
    removeDeadMounts();
    const r = spawnSync('bash', [INSTALL], { encoding: 'utf8', timeout: 10 * 60_000 });
    if (r.status !== 0) reason = `scripts/install-fuse.sh failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`;
  }
  if (!reason) {
    try {
      checkFuseAvailable();
    } catch (err) {
      reason = `FUSE is not usable: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  if (reason && isCI()) throw new Error(`FUSE tests must run under CI=true, but ${reason}`);
  if (reason) process.stderr.write(`[fuse] skipping FUSE tests: ${reason}\n`);
  prepared = reason;
  return reason;
}

/**
 * Unmounts what an earlier, killed test run left: Cairn FUSE mounts in our
 * temp directories whose serving process is gone (ENOTCONN). Live mounts of
 * other runs are left alone.
 */
function removeDeadMounts(): void {
  let text = '';
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return;
  }
  const prefix = join(tmpdir(), 'cairn-fuse-');
  for (const line of text.split('\n')) {
    const [, where, type] = line.split(' ');
    if (type !== 'fuse.cairn' || !where?.startsWith(prefix)) continue;
    try {
      statSync(where);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTCONN') continue;
      spawnSync('fusermount', ['-u', where]);
      spawnSync('umount', ['-l', where]);
      process.stderr.write(`[fuse] removed the dead mount ${where}\n`);
    }
  }
}

/** Runs a shell command (bash -c) without blocking the event loop (which serves the mount). */
export function sh(command: string, options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<string> {
  return new Promise((done, fail) => {
    execFile(
      'bash',
      ['-o', 'pipefail', '-c', command],
      { cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...options.env } },
      (err, stdout, stderr) => {
        if (err) fail(new Error(`${command}\n=> ${err.message}\n${stderr}`));
        else done(stdout);
      },
    );
  });
}

export interface FuseEnv {
  /** The mounted volume. */
  readonly mnt: string;
  /** A scratch directory on local disk (outside the mount) for sources and comparisons. */
  readonly local: string;
  /** A scratch directory outside the mount, removed by close(). */
  readonly base: string;
  readonly mount: FuseMount;
  readonly client: CairnClient;
  /** The RPC server's port (volume FUSE_VOLUME, secret FUSE_SECRET). */
  readonly port: number;
  /** The same server's Unix-domain socket. */
  readonly socketPath: string;
  close(): Promise<void>;
}

async function startServer(kind: 'memory' | 'fs', dir: string): Promise<{ child: ChildProcess; port: number; socketPath: string }> {
  const child = fork(CHILD, [kind, dir], { execArgv: ['--import', 'tsx'], cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit').then(() => {
    throw new Error('the FUSE test server exited before it listened');
  });
  const [msg] = (await Promise.race([once(child, 'message'), exited])) as [{ port: number; socketPath: string }];
  return { child, port: msg.port, socketPath: msg.socketPath };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.send({ cmd: 'exit' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A volume on a fresh server, mounted in a temp directory. */
export async function startFuseEnv(options: { store?: 'memory' | 'fs'; mount?: Partial<FuseMountOptions> } = {}): Promise<FuseEnv> {
  const base = mkdtempSync(join(tmpdir(), 'cairn-fuse-'));
  const mnt = join(base, 'mnt');
  const local = join(base, 'local');
  mkdirSync(mnt);
  mkdirSync(local);
  let child: ChildProcess | undefined;
  let client: CairnClient | undefined;
  let mount: FuseMount | undefined;
  const close = async (): Promise<void> => {
    const errors: unknown[] = [];
    await mount?.unmount().catch((e: unknown) => errors.push(e));
    await forceUnmount(mnt).catch((e: unknown) => errors.push(e));
    await client?.close().catch((e: unknown) => errors.push(e));
    if (child) await stopServer(child).catch((e: unknown) => errors.push(e));
    // Never delete through a mount that is still there.
    if ((await forceUnmount(mnt).catch(() => 'still mounted')) !== 'still mounted') rmSync(base, { recursive: true, force: true });
    if (errors.length > 0) throw errors[0];
  };
  try {
    const server = await startServer(options.store ?? 'memory', join(base, 'server'));
    child = server.child;
    client = await CairnClient.connect({ host: '127.0.0.1', port: server.port, volume: FUSE_VOLUME, secret: FUSE_SECRET, cred: { uid: 0, gid: 0, groups: [] } });
    mount = await mountFuse({ client, mountpoint: mnt, ...options.mount });
    return { mnt, local, base, mount, client, port: server.port, socketPath: server.socketPath, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
