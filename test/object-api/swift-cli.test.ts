// The Swift API driven by Debian's python3-swiftclient CLI (`swift`), over
// HTTP on loopback, against a real @cairn/inode volume on the memory store:
// upload (plain, DLO and SLO segments), list, stat, download, post, copy,
// delete. test/object-api/clients.sh installs the CLI when it is missing
// (root + apt-get); under CI=true a missing CLI fails the suite.

import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServer, type TestServer } from './helpers/server.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ci = ['true', '1'].includes((process.env['CI'] ?? '').toLowerCase());
const install = spawnSync('bash', [resolve(HERE, 'clients.sh'), 'swift'], { encoding: 'utf8', timeout: 300_000 });
const available = install.status === 0;
if (!available && ci) throw new Error(`the swift CLI is required under CI=true: ${install.stderr}`);

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

let s: TestServer;
let auth: string;
let dir: string;

function swift(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OS_|ST_)/.test(k)) env[k] = v;
  return new Promise((done) => {
    execFile('swift', ['-A', auth, '-U', 'test:tester', '-K', 'testing', ...args], { cwd: dir, env, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await swift(...args);
  if (r.code !== 0) throw new Error(`swift ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(!available)('python3-swiftclient against the object API', () => {
  beforeAll(async () => {
    s = await testServer({ backend: 'inode' });
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    auth = `http://127.0.0.1:${(s.app.server.address() as { port: number }).port}/auth/v1.0`;
    dir = mkdtempSync(join(tmpdir(), 'cairn-swiftcli-'));
  });
  afterAll(async () => {
    await s?.app.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('upload, list, stat, download, post, copy, delete', async () => {
    writeFileSync(join(dir, 'hello.txt'), 'hello from swiftclient\n');
    await ok('post', 'docs');
    await ok('upload', 'docs', 'hello.txt', '--object-name', 'a/b/hello.txt');
    expect((await ok('list', 'docs')).trim()).toBe('a/b/hello.txt');
    expect(await ok('list')).toContain('docs');
    const stat = await ok('stat', 'docs', 'a/b/hello.txt');
    expect(stat).toMatch(/Content Length: 23/);
    expect(stat).toContain(`ETag: ${md5(Buffer.from('hello from swiftclient\n'))}`);
    await ok('download', 'docs', 'a/b/hello.txt', '-o', join(dir, 'back.txt'));
    expect(readFileSync(join(dir, 'back.txt'), 'utf8')).toBe('hello from swiftclient\n');
    await ok('post', '-m', 'color:red', 'docs', 'a/b/hello.txt');
    expect(await ok('stat', 'docs', 'a/b/hello.txt')).toMatch(/Meta Color: red/);
    await ok('copy', '-d', '/docs/copied.txt', 'docs', 'a/b/hello.txt');
    expect((await s.fs.bytes('/docs/copied.txt')).toString()).toBe('hello from swiftclient\n');
    expect((await ok('list', 'docs', '--delimiter', '/')).trim().split('\n')).toEqual(['a/', 'copied.txt']);
    const acct = await ok('stat');
    expect(acct).toMatch(/Containers: 1/);
    expect(acct).toMatch(/Objects: 2/);
    await ok('delete', 'docs', 'copied.txt');
    await ok('delete', 'docs');
    expect((await s.fs.dump()).has('/docs')).toBe(false);
  });

  for (const [label, extra] of [['DLO', []], ['SLO', ['--use-slo']]] as const) {
    it(`segmented upload (${label}) becomes one file; download checks out; delete removes the segments`, async () => {
      const data = randomBytes(3 * 1024 * 1024 + 12345);
      writeFileSync(join(dir, 'big.bin'), data);
      await ok('upload', '--segment-size', String(1024 * 1024), ...extra, 'big', 'big.bin');
      expect((await s.fs.bytes('/big/big.bin')).equals(data)).toBe(true);
      const segs = (await ok('list', 'big_segments')).trim().split('\n');
      expect(segs).toHaveLength(4);
      await ok('download', 'big', 'big.bin', '-o', join(dir, 'big.out'));
      expect(readFileSync(join(dir, 'big.out')).equals(data)).toBe(true);
      const stat = await ok('stat', 'big', 'big.bin');
      expect(stat).toMatch(label === 'SLO' ? /X-Static-Large-Object: True/i : /Manifest: big_segments\//);
      await ok('delete', 'big', 'big.bin');
      const left = await swift('list', 'big_segments');
      expect(left.stdout.trim()).toBe('');
      await ok('delete', 'big');
      await ok('delete', 'big_segments');
    });
  }

  it('download of a file modified through the filesystem works (opaque ETag, no false checksum error)', async () => {
    writeFileSync(join(dir, 'f.txt'), 'original');
    await ok('upload', 'fsmod', 'f.txt');
    await s.fs.fsWrite('/fsmod/f.txt', 0, Buffer.from('CHANGED!'));
    const r = await swift('download', 'fsmod', 'f.txt', '-o', join(dir, 'f.out'));
    expect(readFileSync(join(dir, 'f.out'), 'utf8')).toBe('CHANGED!');
    expect(r.code, r.stderr).toBe(0);
  });
});
