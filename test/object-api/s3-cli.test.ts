// The S3 and Swift APIs driven by rclone (s3 and swift remotes) and s3cmd,
// Debian's packages, over HTTP on loopback against a real @cairn/inode
// volume. test/object-api/clients.sh installs them when missing (root +
// apt-get); under CI=true a missing client fails the suite.

import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3_KEY, testServer, type TestServer } from './helpers/server.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ci = ['true', '1'].includes((process.env['CI'] ?? '').toLowerCase());
const install = spawnSync('bash', [resolve(HERE, 'clients.sh'), 'rclone', 's3cmd'], { encoding: 'utf8', timeout: 600_000 });
const available = install.status === 0;
if (!available && ci) throw new Error(`rclone and s3cmd are required under CI=true: ${install.stderr}`);

let s: TestServer;
let port: number;
let dir: string;

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(AWS_|RCLONE_|OS_|ST_)/.test(k)) base[k] = v;
  return new Promise((done) => {
    execFile(cmd, args, { cwd: dir, env: { ...base, HOME: dir, ...env }, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function ok(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await run(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

function rcloneEnv(): Record<string, string> {
  return {
    RCLONE_CONFIG_CS3_TYPE: 's3', RCLONE_CONFIG_CS3_PROVIDER: 'Other', RCLONE_CONFIG_CS3_ENV_AUTH: 'false',
    RCLONE_CONFIG_CS3_ACCESS_KEY_ID: S3_KEY.accessKeyId, RCLONE_CONFIG_CS3_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey,
    RCLONE_CONFIG_CS3_ENDPOINT: `http://127.0.0.1:${port}`, RCLONE_CONFIG_CS3_REGION: 'us-east-1', RCLONE_CONFIG_CS3_FORCE_PATH_STYLE: 'true',
    RCLONE_CONFIG_CSW_TYPE: 'swift', RCLONE_CONFIG_CSW_USER: 'test:tester', RCLONE_CONFIG_CSW_KEY: 'testing',
    RCLONE_CONFIG_CSW_AUTH: `http://127.0.0.1:${port}/auth/v1.0`,
    RCLONE_CONFIG: join(dir, 'none.conf'),
  };
}

function s3cmdArgs(...args: string[]): string[] {
  return [
    `--access_key=${S3_KEY.accessKeyId}`, `--secret_key=${S3_KEY.secretAccessKey}`, `--host=127.0.0.1:${port}`,
    `--host-bucket=127.0.0.1:${port}`, '--no-ssl', '--region=us-east-1', `--config=${join(dir, 's3cfg')}`, ...args,
  ];
}

describe.skipIf(!available)('rclone and s3cmd against the object API', () => {
  beforeAll(async () => {
    s = await testServer({ backend: 'inode', server: { s3: { credentials: [S3_KEY], minPartBytes: 5 * 1024 * 1024 } } });
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    port = (s.app.server.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'cairn-s3cli-'));
    mkdirSync(join(dir, 'src/sub'), { recursive: true });
    writeFileSync(join(dir, 's3cfg'), '[default]\nsignature_v2 = False\n');
    writeFileSync(join(dir, 'src/a.txt'), 'alpha');
    writeFileSync(join(dir, 'src/sub/b.bin'), randomBytes(200_000));
    writeFileSync(join(dir, 'src/sub/empty'), '');
    writeFileSync(join(dir, 'src/big.bin'), randomBytes(12 * 1024 * 1024 + 7));
  });
  afterAll(async () => {
    await s?.app.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('rclone (s3): copy a tree (multipart for the big file), check, list, purge', async () => {
    const env = rcloneEnv();
    await ok('rclone', ['mkdir', 'cs3:rcl'], env);
    await ok('rclone', ['copy', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', 'src', 'cs3:rcl/tree'], env);
    expect((await s.fs.bytes('/rcl/tree/big.bin')).equals(readFileSync(join(dir, 'src/big.bin')))).toBe(true);
    await ok('rclone', ['check', 'src', 'cs3:rcl/tree'], env);
    const ls = (await ok('rclone', ['lsf', '-R', 'cs3:rcl/tree'], env)).trim().split('\n').sort();
    expect(ls).toEqual(['a.txt', 'big.bin', 'sub/', 'sub/b.bin', 'sub/empty']);
    await ok('rclone', ['copy', 'cs3:rcl/tree', 'back'], env);
    expect(readFileSync(join(dir, 'back/sub/b.bin')).equals(readFileSync(join(dir, 'src/sub/b.bin')))).toBe(true);
    await ok('rclone', ['purge', 'cs3:rcl'], env);
    expect((await s.fs.dump()).has('/rcl')).toBe(false);
  });

  it('rclone (swift): copy, check, delete', async () => {
    const env = rcloneEnv();
    await ok('rclone', ['copy', 'src/sub', 'csw:rsw/x'], env);
    await ok('rclone', ['check', 'src/sub', 'csw:rsw/x'], env);
    expect((await s.fs.bytes('/rsw/x/b.bin')).equals(readFileSync(join(dir, 'src/sub/b.bin')))).toBe(true);
    await ok('rclone', ['purge', 'csw:rsw'], env);
    expect((await s.fs.dump()).has('/rsw')).toBe(false);
  });

  it('s3cmd: mb, put (multipart), ls, get, info, del, rb', async () => {
    await ok('s3cmd', s3cmdArgs('mb', 's3://s3c'));
    await ok('s3cmd', s3cmdArgs('put', '--multipart-chunk-size-mb=5', 'src/big.bin', 's3://s3c/dir/big.bin'));
    await ok('s3cmd', s3cmdArgs('put', 'src/a.txt', 's3://s3c/a.txt'));
    const ls = await ok('s3cmd', s3cmdArgs('ls', '-r', 's3://s3c'));
    expect(ls).toContain('s3://s3c/dir/big.bin');
    expect(ls).toContain('s3://s3c/a.txt');
    await ok('s3cmd', s3cmdArgs('get', 's3://s3c/dir/big.bin', 'got.bin'));
    expect(readFileSync(join(dir, 'got.bin')).equals(readFileSync(join(dir, 'src/big.bin')))).toBe(true);
    expect(await ok('s3cmd', s3cmdArgs('info', 's3://s3c/a.txt'))).toMatch(/File size:\s+5/);
    await ok('s3cmd', s3cmdArgs('del', '--recursive', '--force', 's3://s3c'));
    await ok('s3cmd', s3cmdArgs('rb', 's3://s3c'));
    expect((await s.fs.dump()).has('/s3c')).toBe(false);
  });
});
