// The server side of the FUSE tests and benchmark, in its own process (as the
// metadata service would be): a fresh Filesystem on the memory store or a
// local-directory store, served by createCairnServer on 127.0.0.1 and on a
// Unix-domain socket in the scratch directory as volume "fusevol". Driven over IPC:
//   parent <- { port, socketPath }   once listening
//   parent -> { cmd: 'exit' } close everything and exit
// It also exits when the parent goes away (IPC disconnect), so it never
// outlives the test that started it.
//
// argv[2]: 'memory' (default) or 'fs'; argv[3]: a scratch directory (fs store data, replay log).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatFilesystem, mountFilesystem } from '@cairn/inode';
import { createFsStore, createMemoryStore, type ObjectStore } from '@cairn/objstore';
import { createCairnServer } from '@cairn/rpc';

export const FUSE_VOLUME = 'fusevol';
export const FUSE_SECRET = 'fuse-test-secret-0123456789';

async function main(): Promise<void> {
  const kind = process.argv[2] ?? 'memory';
  const dir = process.argv[3];
  if (!dir) throw new Error('usage: server-child.ts memory|fs SCRATCH_DIR');
  const logDir = join(dir, 'log');
  mkdirSync(logDir, { recursive: true });
  let store: ObjectStore;
  if (kind === 'fs') {
    mkdirSync(join(dir, 'objects'), { recursive: true });
    store = createFsStore({ root: join(dir, 'objects'), fsync: false });
  } else {
    store = createMemoryStore();
  }
  await formatFilesystem({ store, volume: FUSE_VOLUME, logDir, fsync: false });
  const fs = await mountFilesystem({ store, volume: FUSE_VOLUME, logDir, fsync: false, segments: { maxFlushTimeMs: 200 } });
  const server = createCairnServer({ host: '127.0.0.1', port: 0, socketPath: join(dir, 'rpc.sock'), volumes: [{ name: FUSE_VOLUME, secret: FUSE_SECRET, fs }] });
  const { port, socketPath } = await server.start();
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await server.close().catch(() => undefined);
    await fs.unmount().catch(() => undefined);
    process.exit(0);
  };
  process.on('message', (msg: { cmd?: string }) => {
    if (msg.cmd === 'exit') void close();
  });
  process.on('disconnect', () => void close());
  process.send!({ port, socketPath });
}

// Only as the entry point of a child process: the tests import the constants above.
if (process.send && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`fuse server child: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
