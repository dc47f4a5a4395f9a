// Running cairnd for tests: as a child process (node + tsx, like `npm start`)
// in a temporary directory, or in-process through createDaemon().

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createDaemon, createLogger, validateConfig, type CairnConfig, type Daemon, type StartInfo } from '@cairn/daemon';
import { readCredentials, readRuntime, type RuntimeInfo, type StoredCredentials } from '@cairn/daemon/local-state';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DAEMON_MAIN = join(ROOT, 'packages/daemon/src/main.ts');
export const CLI_MAIN = join(ROOT, 'packages/cli/src/main.ts');
export const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export function tempDir(prefix = 'cairn-daemon-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Environment for a test daemon: any free ports, no fsync. */
export function testEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, CAIRN_MGMT_PORT: '0', CAIRN_RPC_PORT: '0', CAIRN_OBJECT_PORT: '0', CAIRN_LOG_LEVEL: 'info', ...extra };
}

export interface ChildDaemon {
  readonly proc: ChildProcess;
  readonly cwd: string;
  readonly dataDir: string;
  readonly runtime: RuntimeInfo;
  readonly creds: StoredCredentials;
  output(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Starts `cairnd` in `cwd` (optionally with a config file) and waits until its runtime file names a live process. */
export async function startChild(opts: { cwd: string; config?: string; env?: Record<string, string>; dataDir?: string }): Promise<ChildDaemon> {
  const args = ['--import', TSX, DAEMON_MAIN];
  if (opts.config !== undefined) {
    const path = join(opts.cwd, 'cairn.yaml');
    writeFileSync(path, opts.config);
    args.push('--config', path);
  }
  const dataDir = opts.dataDir ?? join(opts.cwd, 'data');
  const runtimeFile = join(dataDir, 'cairnd.json');
  rmSync(runtimeFile, { force: true });
  const proc = spawn(process.execPath, args, { cwd: opts.cwd, env: testEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => { out += b.toString('utf8'); });
  proc.stderr!.on('data', (b: Buffer) => { out += b.toString('utf8'); });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  let dead = false;
  void exited.then(() => { dead = true; });
  const runtime = await waitFor('cairnd to start', () => {
    if (dead) throw new Error(`cairnd exited during start:\n${out}`);
    if (!existsSync(runtimeFile) || !out.includes('cairnd is running')) return undefined;
    const rt = readRuntime(dataDir);
    return rt && rt.pid === proc.pid ? rt : undefined;
  }, 90_000);
  const creds = readCredentials(dataDir)!;
  return {
    proc, cwd: opts.cwd, dataDir, runtime, creds, exited,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (!dead) proc.kill(signal);
      return exited;
    },
  };
}

/** A configuration for an in-process daemon under `dir` (fs backend, any free ports, no fsync). */
export function testConfig(dir: string, extra: Record<string, unknown> = {}): CairnConfig {
  return validateConfig({
    dataDir: join(dir, 'data'),
    log: { level: 'warn' },
    mgmt: { port: 0, adminToken: 'admin-secret-token', readTokens: ['read-only-token'] },
    rpc: { port: 0 },
    objectApi: { port: 0 },
    backend: { kind: 'fs', fs: { root: join(dir, 'objects'), fsync: false } },
    limits: { fsync: false, maxFlushTimeMs: 200 },
    volumes: [{ name: 'vol1', secret: 'vol1-secret' }],
    ...extra,
  });
}

export function testLogger(): ReturnType<typeof createLogger> {
  return createLogger({ level: (process.env['CAIRN_TEST_LOG'] ?? 'silent') as 'silent', format: 'json' }, false);
}

export async function startInProcess(dir: string, extra: Record<string, unknown> = {}): Promise<{ daemon: Daemon; url: string; info: StartInfo }> {
  const daemon = createDaemon({ config: testConfig(dir, extra), logger: testLogger() });
  const info = await daemon.start();
  return { daemon, url: info.mgmtUrl, info };
}

/** fetch against the management API with a token. */
export async function api(url: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // text body (metrics)
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export function readJson(path: string): any {
  return JSON.parse(readFileSync(path, 'utf8'));
}
