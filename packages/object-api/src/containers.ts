// Containers (S3 buckets): the top-level directories of a volume. Creating,
// deleting (only when empty), listing them, and counting what they hold.

import { cairnError, isCairnError } from '@cairn/errors';
import { compareNames } from '@cairn/objstore';
import type { FsAttr, VolumeFs } from './fs-port.js';
import { isVisibleContainer } from './names.js';
import { containerAttr, isEmptyDir } from './paths.js';
import { forgetUsage } from './usage.js';

export interface ContainerEntry {
  readonly name: string;
  readonly attr: FsAttr;
}

export interface ContainerListParams {
  readonly prefix?: string;
  readonly marker?: string;
  readonly endMarker?: string;
  readonly limit: number;
  readonly reverse?: boolean;
}

/** Lists the containers of a volume in name order (reserved names hidden). */
export async function listContainers(fs: VolumeFs, p: ContainerListParams): Promise<{ entries: ContainerEntry[]; truncated: boolean }> {
  const names: Array<{ name: string; ino: number }> = [];
  for await (const e of fs.readdir(fs.rootIno)) {
    if (e.type !== 'dir' || !isVisibleContainer(e.name)) continue;
    if (p.prefix && !e.name.startsWith(p.prefix)) continue;
    names.push({ name: e.name, ino: e.ino });
  }
  names.sort((a, b) => compareNames(a.name, b.name));
  if (p.reverse) names.reverse();
  const inRange = names.filter(({ name }) => {
    if (!p.reverse) {
      if (p.marker !== undefined && compareNames(name, p.marker) <= 0) return false;
      if (p.endMarker !== undefined && compareNames(name, p.endMarker) >= 0) return false;
    } else {
      if (p.marker !== undefined && compareNames(name, p.marker) >= 0) return false;
      if (p.endMarker !== undefined && compareNames(name, p.endMarker) <= 0) return false;
    }
    return true;
  });
  const entries: ContainerEntry[] = [];
  for (const { name, ino } of inRange.slice(0, p.limit)) {
    try {
      entries.push({ name, attr: await fs.getattr(ino) });
    } catch {
      // removed meanwhile
    }
  }
  return { entries, truncated: inRange.length > p.limit };
}

/** Creates a container; false when it already existed. */
export async function createContainer(fs: VolumeFs, name: string): Promise<boolean> {
  try {
    await fs.mkdir(fs.rootIno, name);
    return true;
  } catch (err) {
    if (!isCairnError(err, 'CAIRN_ERR_FS_EXISTS')) throw err;
    const a = await fs.lookup(fs.rootIno, name);
    if (a.type !== 'dir') throw cairnError('CAIRN_ERR_HTTP_CONFLICT', `${name} exists and is not a directory`);
    return false;
  }
}

/** Deletes an empty container: 404 when missing, 409 when not empty. */
export async function deleteContainer(fs: VolumeFs, name: string): Promise<void> {
  const a = await containerAttr(fs, name);
  if (!(await isEmptyDir(fs, a.ino))) throw cairnError('CAIRN_ERR_HTTP_CONTAINER_NOT_EMPTY', name);
  forgetUsage(fs, a.ino);
  try {
    await fs.rmdir(fs.rootIno, name);
  } catch (err) {
    if (isCairnError(err, 'CAIRN_ERR_FS_NOT_EMPTY')) throw cairnError('CAIRN_ERR_HTTP_CONTAINER_NOT_EMPTY', name);
    if (isCairnError(err, 'CAIRN_ERR_FS_NOT_FOUND')) throw cairnError('CAIRN_ERR_HTTP_NO_SUCH_CONTAINER', name);
    throw err;
  }
}

/** Files and bytes below a directory, by walking it (O(entries); usage.ts keeps container totals current instead). */
export async function treeUsage(fs: VolumeFs, ino: number): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  const stack = [ino];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for await (const e of fs.readdir(d)) {
      if (e.type === 'dir') stack.push(e.ino);
      else if (e.type === 'file') {
        try {
          const a = await fs.getattr(e.ino);
          count++;
          bytes += a.size;
        } catch {
          // removed meanwhile
        }
      }
    }
  }
  return { count, bytes };
}
