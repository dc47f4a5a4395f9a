// Binds the VolumeFs port to an @cairn/inode Filesystem: every call runs with
// one credential (by default root, so object users see the whole volume;
// configure another to confine them by POSIX permissions), files are created
// 0644 and directories 0755 (less the umask), and the filesystem's extent
// fast paths (cloneFile, concatFiles) serve COPY and COALESCE, and uploads
// (beginUpload + commitUpload) every object PUT.

import { isCairnError } from '@cairn/errors';
import { ROOT_CRED, type Attr, type Cred, type Filesystem } from '@cairn/inode';
import type { EntryType, FsAttr, FsFile, FsPlanStep, VolumeFs } from './fs-port.js';

export interface FilesystemBinding {
  /** Volume name (logs, X-Cairn-Volume-Name). */
  readonly name: string;
  /** Credential of every call (default root). */
  readonly cred?: Cred;
  /** Bits cleared from new files' (0666) and directories' (0777) modes (default 0o022). */
  readonly umask?: number;
}

function typeOf(t: Attr['type']): EntryType {
  return t === 'file' || t === 'dir' || t === 'symlink' ? t : 'other';
}

function attr(a: Attr): FsAttr {
  return {
    ino: a.ino, type: typeOf(a.type), size: a.size, mtimeMs: Number(a.mtimeNs / 1000n) / 1000, dataVersion: a.dataVersion, nlink: a.nlink,
    etag: a.etag ?? null, change: a.change,
  };
}

/** A VolumeFs over a mounted Filesystem. */
export function fromFilesystem(fs: Filesystem, binding: FilesystemBinding): VolumeFs;
/** The same, with the credential and volume name as arguments. */
export function fromFilesystem(fs: Filesystem, cred: Cred, name?: string): VolumeFs;
export function fromFilesystem(fs: Filesystem, b: FilesystemBinding | Cred, name?: string): VolumeFs {
  const binding: FilesystemBinding = 'uid' in b ? { cred: b, name: name ?? fs.volumeId } : b;
  const cred = binding.cred ?? ROOT_CRED;
  const umask = binding.umask ?? 0o022;
  return {
    name: binding.name,
    rootIno: fs.rootIno,
    getattr: async (ino) => attr(await fs.getattr(cred, ino)),
    lookup: async (dir, name) => attr(await fs.lookup(cred, dir, name)),
    mkdir: async (dir, name) => attr(await fs.mkdir(cred, dir, name, 0o777 & ~umask)),
    createFile: async (dir, name) => attr((await fs.create(cred, dir, name, 0o666 & ~umask, { exclusive: true })).attr),
    async open(ino, mode) {
      const { fh } = await fs.open(cred, ino, { read: mode.read === true, write: mode.write === true });
      let closed = false;
      const f: FsFile = {
        ino,
        read: (offset, length) => fs.read(cred, ino, offset, length, fh),
        async write(offset, data) {
          let done = 0;
          while (done < data.length) {
            const n = await fs.write(cred, ino, offset + done, data.subarray(done), fh);
            if (n <= 0) throw new Error(`write of inode ${ino} made no progress`);
            done += n;
          }
        },
        sync: () => fs.fsync(ino),
        async close() {
          if (closed) return;
          closed = true;
          await fs.release(fh);
        },
      };
      return f;
    },
    async *readdir(dir) {
      let cookie = 0;
      for (;;) {
        const page = await fs.readdir(cred, dir, { cookie, limit: 1000 });
        for (const e of page.entries) {
          cookie = e.cookie;
          if (e.name === '.' || e.name === '..') continue;
          yield { name: e.name, ino: e.ino, type: typeOf(e.type) };
        }
        if (page.eof || page.entries.length === 0) return;
      }
    },
    rename: (sd, sn, dd, dn, flags) => fs.rename(cred, sd, sn, dd, dn, flags?.noReplace ? { noReplace: true } : undefined),
    unlink: (dir, name) => fs.unlink(cred, dir, name),
    rmdir: (dir, name) => fs.rmdir(cred, dir, name),
    async setMtime(ino, ms) {
      await fs.setattr(cred, ino, { mtime: BigInt(Math.round(ms * 1e6)) });
    },
    async getxattr(ino, name) {
      try {
        return await fs.getxattr(cred, ino, name);
      } catch (err) {
        if (isCairnError(err, 'CAIRN_ERR_FS_NO_XATTR')) return undefined;
        throw err;
      }
    },
    setxattr: (ino, name, value) => fs.setxattr(cred, ino, name, value),
    removexattr: (ino, name) => fs.removexattr(cred, ino, name),
    listxattr: (ino) => fs.listxattr(cred, ino),
    getEtag: async (ino) => (await fs.getattr(cred, ino)).etag,
    async setEtag(ino, etag) {
      // false: the file changed since dataVersion; the opaque ETag then applies.
      await fs.setEtag(cred, ino, etag);
    },
    async readPlan(ino, offset, length) {
      const { plan } = await fs.readPlan(cred, ino, offset, length);
      return plan.map((s): FsPlanStep => ('zero' in s ? { zero: s.zero } : { object: { container: s.container, name: s.object }, offset: s.segmentOffset, length: s.length }));
    },
    async usage() {
      const st = await fs.statfs();
      return { files: st.inodes, bytes: st.liveBytes };
    },
    async cloneFile(src, dst) {
      await fs.cloneFile(cred, src, dst);
    },
    async concatFiles(dst, srcs) {
      await fs.concatFiles(cred, dst, srcs);
    },
    journalCursor: () => fs.journalCursor(),
    async listChanges(cursor, limit) {
      const page = await fs.listChanges(cursor, { limit });
      return {
        cursor: page.cursor,
        more: page.more,
        changes: page.changes.map((c) => ({
          kind: c.kind, ino: c.ino,
          ...(c.parent !== undefined ? { parent: c.parent } : {}),
          ...(c.newParent !== undefined ? { newParent: c.newParent } : {}),
          ...(c.mode !== undefined ? { mode: c.mode } : {}),
          ...(c.size !== undefined ? { size: c.size } : {}),
          ...(c.nlink !== undefined ? { nlink: c.nlink } : {}),
        })),
      };
    },
    async beginUpload() {
      const up = await fs.beginUpload(cred);
      return {
        write: (data) => up.write(data),
        commit: async (dir, name, o) => attr(await fs.commitUpload(cred, dir, name, up, {
          mode: 0o666, umask, xattrs: o.xattrs, ...(o.etag !== undefined ? { etag: o.etag } : {}), ...(o.noReplace ? { noReplace: true } : {}),
        })),
        abort: () => up.abort(),
      };
    },
  };
}
