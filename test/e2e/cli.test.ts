// The cairn CLI against a running daemon: every verb with --json parsed,
// human output, exit codes, and the real binary finding a local daemon
// through its data directory.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runCli } from '@cairn/cli';
import type { Daemon } from '@cairn/daemon';
import { ROOT, startInProcess, tempDir } from '../daemon/helpers.js';

let dir: string;
let daemon: Daemon;
let url: string;
let admin: string;

function sink(): { stream: Writable; text: () => string } {
  let buf = '';
  return { stream: new Writable({ write(c, _e, cb) { buf += String(c); cb(); } }), text: () => buf };
}

async function cairn(args: string[], opts: { token?: string | null; server?: string | null } = {}): Promise<{ code: number; out: string; err: string; json: any }> {
  const out = sink();
  const err = sink();
  const server = opts.server === null ? [] : ['--server', opts.server ?? url];
  const token = opts.token === null ? [] : ['--token', opts.token ?? admin];
  const code = await runCli([...args, ...server, ...token], {
    stdout: out.stream, stderr: err.stream, env: {}, cwd: dir, isTTY: false,
  });
  let json: unknown;
  try {
    json = JSON.parse(out.text());
  } catch {
    json = undefined;
  }
  return { code, out: out.text(), err: err.text(), json };
}

beforeAll(async () => {
  dir = tempDir('cairn-cli-');
  ({ daemon, url } = await startInProcess(dir, { mgmt: { port: 0, readTokens: ['read-only-token'] } }));
  admin = daemon.runtime.adminToken;
});

afterAll(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('cairn verbs (--json)', () => {
  it('status', async () => {
    const r = await cairn(['status', '--json']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.json).toMatchObject({ nodeId: daemon.runtime.nodeId, backend: 'fs' });
    const human = await cairn(['status']);
    expect(human.out).toMatch(/cairnd 0\.1\.0 on node/);
    expect(human.out).toMatch(/vol1\s+yes/);
  });
  it('volume create, ls, stats, unserve, serve', async () => {
    const c = await cairn(['volume', 'create', 'cli1', '--json']);
    expect(c.code, c.err).toBe(EXIT.OK);
    expect(c.json).toMatchObject({ name: 'cli1', served: true });
    expect((await cairn(['volume', 'create', 'cli1'])).code).toBe(EXIT.CONFLICT);
    const ls = await cairn(['volume', 'ls', '--json']);
    expect(ls.json.map((v: any) => v.name)).toEqual(['cli1', 'vol1']);
    expect((await cairn(['volume', 'ls'])).out).toMatch(/^NAME\s+SERVED/);
    const st = await cairn(['volume', 'stats', 'cli1', '--json']);
    expect(st.json).toMatchObject({ name: 'cli1', inodes: 1 });
    expect((await cairn(['volume', 'stats', 'cli1'])).out).toMatch(/live ratio/);
    expect((await cairn(['volume', 'unserve', 'cli1', '--json'])).json).toMatchObject({ served: false });
    expect((await cairn(['volume', 'stats', 'cli1'])).code).toBe(EXIT.CONFLICT);
    expect((await cairn(['volume', 'serve', 'cli1', '--json'])).json).toMatchObject({ served: true });
    expect((await cairn(['volume', 'serve', 'nope'])).code).toBe(EXIT.NOT_FOUND);
  });
  it('checkpoint and checkpoint --list', async () => {
    const a = await cairn(['checkpoint', 'vol1', '--json']);
    expect(a.code).toBe(EXIT.OK);
    expect(a.json.id).toBeGreaterThan(0);
    const l = await cairn(['checkpoint', 'vol1', '--list', '--limit', '3', '--json']);
    expect(l.json[0].id).toBe(a.json.id);
    expect((await cairn(['checkpoint', 'vol1'])).out).toMatch(/^checkpoint \d+ published/);
  });
  it('snapshot create, ls, rm', async () => {
    const c = await cairn(['snapshot', 'create', 'vol1', 's1', '--json']);
    expect(c.code, c.out).toBe(EXIT.OK);
    expect(c.json).toMatchObject({ name: 's1' });
    expect((await cairn(['snapshot', 'ls', 'vol1'])).out).toContain('s1');
    expect((await cairn(['snapshot', 'ls', 'vol1', '--json'])).json.map((s: any) => s.name)).toContain('s1');
    expect((await cairn(['snapshot', 'rm', 'vol1', 's1', '--json'])).json).toMatchObject({ deleted: true });
    expect((await cairn(['snapshot', 'rm', 'vol1', 's1'])).code).toBe(EXIT.NOT_FOUND);
    expect((await cairn(['snapshot', 'ls', 'vol1', '--json'])).json.map((s: any) => s.name)).not.toContain('s1');
  });
  it('fsck, scrub and clean follow their job to the end', async () => {
    for (const verb of ['fsck', 'scrub', 'clean']) {
      const r = await cairn([verb, 'vol1', '--json']);
      expect(r.code, r.out + r.err).toBe(EXIT.OK);
      expect(r.json).toMatchObject({ kind: verb, volume: 'vol1', state: 'succeeded', result: { ok: true } });
    }
    const human = await cairn(['fsck', 'vol1']);
    expect(human.out).toMatch(/fsck of vol1: succeeded/);
    expect(human.out).toMatch(/problems: 0/);
  });
});

describe('exit codes', () => {
  it('usage errors', async () => {
    expect((await cairn(['volume', 'frobnicate'])).code).toBe(EXIT.USAGE);
    expect((await cairn(['volume', 'stats'])).code).toBe(EXIT.USAGE);
    expect((await cairn(['status', '--bogus'])).code).toBe(EXIT.USAGE);
    expect((await cairn([], { server: null, token: null })).code).toBe(EXIT.USAGE);
  });
  it('auth failures', async () => {
    expect((await cairn(['status'], { token: 'wrong' })).code).toBe(EXIT.AUTH);
    expect((await cairn(['checkpoint', 'vol1'], { token: 'read-only-token' })).code).toBe(EXIT.AUTH);
    expect((await cairn(['volume', 'ls'], { token: 'read-only-token' })).code).toBe(EXIT.OK);
  });
  it('no daemon', async () => {
    const r = await cairn(['status', '--json'], { server: 'http://127.0.0.1:1' });
    expect(r.code).toBe(EXIT.UNREACHABLE);
    expect(r.json.error.exitCode).toBe(EXIT.UNREACHABLE);
    const none = await runCli(['status', '--data-dir', join(dir, 'nothing-here')], {
      stdout: sink().stream, stderr: sink().stream, env: {}, cwd: dir, isTTY: false,
    });
    expect(none).toBe(EXIT.UNREACHABLE);
    // Without flags or environment, the local daemon is found through ./data.
    expect((await cairn(['status'], { server: null, token: null })).code).toBe(EXIT.OK);
  });
});

describe('the cairn binary', () => {
  // The daemon runs in this process: the child must be waited for asynchronously.
  const run = (bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const p = spawn(bin, args, { cwd: dir, env });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
      p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
      p.on('close', (status) => resolve({ status, stdout, stderr }));
    });

  it('finds the local daemon through ./data and prints JSON', { timeout: 60_000 }, async () => {
    const bin = join(ROOT, 'node_modules/.bin/cairn');
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['CAIRN_SERVER', 'CAIRN_TOKEN', 'CAIRN_ADMIN_TOKEN', 'CAIRN_DATA_DIR']) delete env[k];
    const r = await run(bin, ['volume', 'ls', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).map((v: any) => v.name)).toContain('vol1');
    const bad = await run(bin, ['volume', 'stats', 'ghost'], env);
    expect(bad.status).toBe(EXIT.CONFLICT);
    expect(bad.stderr).toMatch(/CAIRN_ERR_MGMT_NOT_SERVED/);
  });
});
