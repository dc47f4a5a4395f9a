// Builds an object API server over model volumes for in-process tests, with
// one Swift user per account and one S3 key per account.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFilesystem, mountFilesystem, type Filesystem } from '@cairn/inode';
import { createObjectApiServer, fromFilesystem, type ObjectApiOptions, type VolumeFs } from '@cairn/object-api';
import { createModelFs, type ModelFs, type ModelFsOptions } from '@cairn/object-api/testing';
import { createMemoryStore } from '@cairn/objstore';

type FastifyInstance = Awaited<ReturnType<typeof createObjectApiServer>>;

/** What tests look at in a volume, for the model and the real filesystem alike. */
export interface VolumeProbe extends VolumeFs {
  /** Every path in the volume ("/c/a/b"), with type. */
  dump(): Promise<Map<string, 'file' | 'dir'>>;
  /** A file's bytes by path. */
  bytes(path: string): Promise<Buffer>;
  /** Writes through the filesystem face and syncs (like an NFS client's WRITE + COMMIT). */
  fsWrite(path: string, offset: number, data: Buffer): Promise<void>;
}

export type Backend = 'model' | 'inode';

export interface TestServer {
  readonly app: FastifyInstance;
  readonly fs: VolumeProbe;
  readonly fs2: VolumeProbe;
  /** The model volume (backend 'model' only), e.g. to count fast-path calls. */
  readonly model: ModelFs | undefined;
  /** A token for test:tester (AUTH_test). */
  token(): Promise<string>;
  /** A token for test2:tester2 (AUTH_test2). */
  token2(): Promise<string>;
}

export const S3_KEY = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret-test-key', account: 'AUTH_test' };
export const S3_KEY2 = { accessKeyId: 'AKIDTEST2', secretAccessKey: 'secret-test-key-2', account: 'AUTH_test2' };

function probe(v: VolumeFs): VolumeProbe {
  const walkTo = async (path: string): Promise<number> => {
    let ino = v.rootIno;
    for (const seg of path.split('/').filter(Boolean)) ino = (await v.lookup(ino, seg)).ino;
    return ino;
  };
  return Object.assign(Object.create(null) as object, v, {
    async dump() {
      const out = new Map<string, 'file' | 'dir'>();
      const visit = async (ino: number, base: string): Promise<void> => {
        for await (const e of v.readdir(ino)) {
          if (e.type !== 'file' && e.type !== 'dir') continue;
          out.set(`${base}/${e.name}`, e.type);
          if (e.type === 'dir') await visit(e.ino, `${base}/${e.name}`);
        }
      };
      await visit(v.rootIno, '');
      return out;
    },
    async bytes(path: string) {
      const ino = await walkTo(path);
      const a = await v.getattr(ino);
      const f = await v.open(ino, { read: true });
      try {
        return a.size === 0 ? Buffer.alloc(0) : await f.read(0, a.size);
      } finally {
        await f.close();
      }
    },
    async fsWrite(path: string, offset: number, data: Buffer) {
      const f = await v.open(await walkTo(path), { write: true });
      try {
        await f.write(offset, data);
        // Committed, like an NFS client's COMMIT: @cairn/inode counts a run of
        // pending writes as one dataVersion step until then.
        await f.sync();
      } finally {
        await f.close();
      }
    },
  }) as VolumeProbe;
}

async function inodeVolume(name: string): Promise<{ fs: Filesystem; cleanup: () => Promise<void> }> {
  const logDir = mkdtempSync(join(tmpdir(), 'cairn-objapi-'));
  const store = createMemoryStore();
  await formatFilesystem({ store, volume: name, logDir, fsync: false });
  const fs = await mountFilesystem({
    store, volume: name, logDir, fsync: false,
    headhunter: { checkpointIntervalMs: 3_600_000 }, segments: { maxFlushTimeMs: 60_000 },
    journal: { compactIntervalMs: 0 }, segmentReclaimIntervalMs: 0,
  });
  return {
    fs,
    cleanup: async () => {
      await fs.unmount().catch(() => undefined);
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

export async function testServer(opts: { backend?: Backend; fs?: ModelFsOptions; server?: Partial<ObjectApiOptions> } = {}): Promise<TestServer> {
  let fs: VolumeFs;
  let fs2: VolumeFs;
  let model: ModelFs | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  if ((opts.backend ?? 'model') === 'inode') {
    const a = await inodeVolume('vol1');
    const b = await inodeVolume('vol2');
    cleanups.push(a.cleanup, b.cleanup);
    fs = fromFilesystem(a.fs, { name: 'vol1' });
    fs2 = fromFilesystem(b.fs, { name: 'vol2' });
  } else {
    model = createModelFs(opts.fs);
    fs = model;
    fs2 = createModelFs({ ...opts.fs, name: 'second' });
  }
  const app = await createObjectApiServer({
    volumes: { AUTH_test: fs, AUTH_test2: fs2 },
    swift: { users: [{ account: 'test', user: 'tester', key: 'testing' }, { account: 'test2', user: 'tester2', key: 'testing2' }] },
    s3: { credentials: [S3_KEY, S3_KEY2], regions: ['us-east-1'], minPartBytes: 1024 },
    ...opts.server,
  });
  app.addHook('onClose', async () => {
    for (const c of cleanups) await c();
  });
  const login = async (user: string, key: string): Promise<string> => {
    const r = await app.inject({ method: 'GET', url: '/auth/v1.0', headers: { 'x-auth-user': user, 'x-auth-key': key } });
    if (r.statusCode !== 200) throw new Error(`login failed: ${r.statusCode}`);
    return String(r.headers['x-auth-token']);
  };
  let t1: string | undefined;
  let t2: string | undefined;
  return {
    app, fs: probe(fs), fs2: probe(fs2), model,
    token: async () => (t1 ??= await login('test:tester', 'testing')),
    token2: async () => (t2 ??= await login('test2:tester2', 'testing2')),
  };
}
