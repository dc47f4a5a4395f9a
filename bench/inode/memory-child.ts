// Memory per cached inode, measured in a fresh process (in the benchmark's own
// process the allocator reuses what earlier phases freed, which hides growth):
// mounts the volume with a node cache big enough for everything, stat-s the
// given inodes (which loads and keeps their B+Tree leaves) and prints one JSON
// line with the growth of RSS, heap and node-cache bytes per inode (after
// garbage collection).
//
// Usage (from ops.ts): node --expose-gc --import tsx memory-child.ts <store dir> <log dir> <inode list file>

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountFilesystem, ROOT_CRED as root } from '@cairn/inode';
import { createFsStore } from '@cairn/objstore';
import { volumeOf } from '../../packages/inode/src/fsck.js';
import { gc } from './common.js';

const [storeDir, logDir, listFile] = process.argv.slice(2);
if (storeDir === undefined || logDir === undefined || listFile === undefined) throw new Error('usage: memory-child <store dir> <log dir> <inode list file>');
const inos = JSON.parse(readFileSync(listFile, 'utf8')) as number[];
const store = createFsStore({ root: storeDir });
const fs = await mountFilesystem({
  store, volume: 'bench', logDir, headhunter: { cacheBytes: 4 * 1024 ** 3 }, journal: { compactIntervalMs: 0 }, segmentReclaimIntervalMs: 0,
});
const settle = async (): Promise<NodeJS.MemoryUsage> => {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(100);
  }
  return process.memoryUsage();
};
const statAll = async (list: number[]): Promise<void> => {
  for (let i = 0; i < list.length; i += 64) await Promise.all(list.slice(i, i + 64).map((x) => fs.getattr(root, x)));
};
// The first tenth pays the one-time costs (code compiled on first use, index
// nodes, allocator arenas); the growth over the other nine tenths is what each
// further cached inode costs.
const first = inos.slice(0, Math.ceil(inos.length / 10));
const rest = inos.slice(first.length);
await fs.getattr(root, 1);
const m0 = await settle();
const c0 = volumeOf(fs).hh.stats().cache.bytes;
await statAll(first);
const m1 = await settle();
const c1 = volumeOf(fs).hh.stats().cache.bytes;
await statAll(rest);
const m2 = await settle();
const c2 = volumeOf(fs).hh.stats().cache.bytes;
const heap = (m: NodeJS.MemoryUsage): number => m.heapUsed + m.external;
process.stdout.write(`${JSON.stringify({
  inodes: inos.length,
  gc: gc(),
  /** Growth per inode over the last nine tenths (bytes). */
  rssPerInode: (m2.rss - m1.rss) / rest.length,
  heapPerInode: (heap(m2) - heap(m1)) / rest.length,
  cachePerInode: (c2 - c1) / rest.length,
  /** Growth per inode over all of them, one-time costs included. */
  rssPerInodeAll: (m2.rss - m0.rss) / inos.length,
  cachePerInodeAll: (c2 - c0) / inos.length,
})}\n`);
await fs.unmount();
await store.close();
