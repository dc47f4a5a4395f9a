import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cairnError } from '@cairn/errors';
import { describe, expect, it } from 'vitest';
import { parseMountArgs, runMountCommand, type MountCommandIo } from './command.js';
import { checkFuseAvailable } from './system.js';

function io(over: Partial<MountCommandIo> = {}): MountCommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, signal: new AbortController().signal, ...over };
}

describe('cairn mount arguments', () => {
  it('parses the volume, the mountpoint, the server and the options', async () => {
    const a = await parseMountArgs(['vol', '/mnt/x', '--host', 'meta1', '--port', '7000', '--secret', 's', '--attr-timeout', '0.5', '--identity', 'mount'], {});
    expect(a).toMatchObject({ volume: 'vol', mountpoint: '/mnt/x', host: 'meta1', port: 7000, secret: 's', attrTimeoutSec: 0.5, entryTimeoutSec: 1, identity: 'mount', tls: false });
  });

  it('turns negative lookups off with --no-negative-lookups (on by default)', async () => {
    expect((await parseMountArgs(['v', 'm', '--secret', 's'], {})).negativeLookups).toBe(true);
    expect((await parseMountArgs(['v', 'm', '--secret', 's', '--no-negative-lookups'], {})).negativeLookups).toBe(false);
  });

  it('takes the secret from $CAIRN_SECRET', async () => {
    expect((await parseMountArgs(['v', 'm'], { CAIRN_SECRET: 'env-secret' })).secret).toBe('env-secret');
  });

  it('refuses a missing secret, a bad port and extra arguments', async () => {
    await expect(parseMountArgs(['v', 'm'], {})).rejects.toMatchObject({ code: 'CAIRN_ERR_INVALID_ARGUMENT' });
    await expect(parseMountArgs(['v', 'm', '--secret', 's', '--port', '70000'], {})).rejects.toThrow(/--port/);
    await expect(parseMountArgs(['v', 'm', 'x', '--secret', 's'], {})).rejects.toThrow(/VOLUME and MOUNTPOINT/);
  });

  it('takes the daemon\'s Unix-domain socket as --host unix:PATH, without a port or TLS', async () => {
    const a = await parseMountArgs(['vol', '/mnt/x', '--host', 'unix:/run/cairn/rpc.sock', '--secret', 's'], {});
    expect(a).toMatchObject({ volume: 'vol', host: 'unix:/run/cairn/rpc.sock', socketPath: '/run/cairn/rpc.sock', tls: false });
    expect((await parseMountArgs(['v', 'm', '--host', 'meta1', '--secret', 's'], {})).socketPath).toBeUndefined();
    await expect(parseMountArgs(['v', 'm', '--host', 'unix:', '--secret', 's'], {})).rejects.toThrow(/needs the socket's path/);
    await expect(parseMountArgs(['v', 'm', '--host', 'unix:/x.sock', '--port', '7000', '--secret', 's'], {})).rejects.toThrow(/--port does not apply/);
    await expect(parseMountArgs(['v', 'm', '--host', 'unix:/x.sock', '--tls', '--secret', 's'], {})).rejects.toThrow(/--tls and --ca do not apply/);
  });

  it('names the socket it cannot reach and exits 3', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-mount-cmd-'));
    try {
      const sock = join(dir, 'missing.sock');
      const x = io({ env: { CAIRN_SECRET: 's' }, preflight: () => undefined });
      expect(await runMountCommand(['vol', dir, '--host', `unix:${sock}`], x)).toBe(3);
      expect(x.err.join('')).toContain(`cairn mount: cannot reach unix:${sock}: connect ENOENT`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints the usage and exits 2 on a bad command line', async () => {
    const x = io();
    expect(await runMountCommand(['only-one'], x)).toBe(2);
    expect(x.err.join('')).toMatch(/usage: cairn mount VOLUME MOUNTPOINT/);
  });

  it('says clearly when FUSE is not available, before connecting anywhere', async () => {
    const x = io({
      env: { CAIRN_SECRET: 's' },
      preflight: () => {
        throw cairnError('CAIRN_ERR_FUSE_NO_DEVICE', '/dev/fuse does not exist (load the fuse kernel module; in a container, pass --device /dev/fuse)');
      },
    });
    expect(await runMountCommand(['vol', '/nonexistent', '--port', '1'], x)).toBe(1);
    expect(x.err.join('')).toMatch(/cairn mount: FUSE is not available: \/dev\/fuse does not exist .*CAIRN_ERR_FUSE_NO_DEVICE/);
  });
});

describe('checkFuseAvailable', () => {
  it('names a missing device', () => {
    expect(() => checkFuseAvailable({ device: '/nonexistent/fuse' })).toThrow(expect.objectContaining({ code: 'CAIRN_ERR_FUSE_NO_DEVICE' }));
  });

  it('refuses a device that is not a character device', () => {
    expect(() => checkFuseAvailable({ device: '/' })).toThrow(/not a character device/);
  });
});
