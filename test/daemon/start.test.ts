// `npm start` with no configuration, in an empty directory: cairnd formats
// the default volume under ./data, prints where each API listens with the
// generated credentials, keeps running until SIGTERM, stops gracefully, and a
// second start reuses the same credentials and volume.

import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DAEMON_MAIN, TSX, api, readJson, startChild, tempDir, testEnv, type ChildDaemon } from './helpers.js';

const dir = tempDir('cairn-start-');
const children: ChildDaemon[] = [];

afterAll(async () => {
  for (const c of children) await c.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('cairnd with no configuration', () => {
  it('starts on ./data, prints how to reach it, stops on SIGTERM, restarts with the same state', { timeout: 180_000 }, async () => {
    const a = await startChild({ cwd: dir });
    children.push(a);
    const creds = readJson(join(dir, 'data', 'credentials.json'));
    expect(creds.adminToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const out = a.output();
    expect(out).toContain(a.runtime.mgmtUrl);
    expect(out).toContain(creds.adminToken);
    expect(out).toContain(creds.volumeSecrets.vol1);
    expect(out).toContain(`tcp://${a.runtime.rpc!.host}:${a.runtime.rpc!.port}`);
    expect(out).toContain(a.runtime.objectApiUrl!);
    expect(out).toMatch(/vol1\s+served/);
    expect(existsSync(join(dir, 'data', 'objects'))).toBe(true);
    expect(existsSync(join(dir, 'data', 'volumes', 'vol1', 'owner.lock'))).toBe(true);

    const vols = await api(a.runtime.mgmtUrl, 'GET', '/v1/volumes', creds.adminToken);
    expect(vols.body.volumes).toEqual([expect.objectContaining({ name: 'vol1', served: true })]);
    const cp = await api(a.runtime.mgmtUrl, 'POST', '/v1/volumes/vol1/checkpoints', creds.adminToken);
    expect(cp.status).toBe(201);

    // Still running after a while: nothing exits on its own.
    await new Promise((r) => setTimeout(r, 500));
    expect(a.proc.exitCode).toBeNull();
    expect(await a.stop('SIGTERM')).toBe(0);
    expect(a.output()).toMatch(/cairnd stopped/);
    expect(existsSync(join(dir, 'data', 'cairnd.json'))).toBe(false);
    expect(existsSync(join(dir, 'data', 'volumes', 'vol1', 'owner.lock'))).toBe(false);

    const b = await startChild({ cwd: dir });
    children.push(b);
    expect(readJson(join(dir, 'data', 'credentials.json'))).toEqual(creds);
    const list = await api(b.runtime.mgmtUrl, 'GET', '/v1/volumes/vol1/checkpoints', creds.adminToken);
    expect(list.body.checkpoints[0].id).toBeGreaterThan(cp.body.id);
    expect(b.output()).not.toMatch(/volume formatted/);
    expect(await b.stop('SIGINT')).toBe(0);
  });

  it('refuses a bad configuration file, naming the key', { timeout: 60_000 }, async () => {
    await expect(startChild({ cwd: dir, config: 'mgmt:\n  prot: 80\nlimits:\n  maxFlushSize: lots\n' })).rejects.toThrow(
      /mgmt\.prot: unknown key.*limits\.maxFlushSize: expected integer/s,
    );
  });

  it('--self-check checks the configured backend and exits', { timeout: 60_000 }, async () => {
    const p = spawn(process.execPath, ['--import', TSX, DAEMON_MAIN, '--self-check'], { cwd: dir, env: testEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    const code = await new Promise<number | null>((r) => p.on('exit', r));
    expect(code, out).toBe(0);
    expect(out).toMatch(/^ok\s+streaming segment/m);
    expect(out).toMatch(/self-check passed \(fs backend\)/);
  });
});
