// An in-memory model of the VolumeFs port (files, directories, xattrs,
// ETags, dataVersion, fake read plans), for tests of the object API that must
// not depend on the filesystem's progress, and as the reference the fuzz
// tests compare against. Semantics follow POSIX as the port documents it.

import { cairnError } from '@cairn/errors';
import type { FsAttr, FsEntry, FsFile, FsPlanStep, RecordedEtag, VolumeFs } from '../fs-port.js';

interface Node {
  ino: number;
  type: 'file' | 'dir';
  data: Buffer;
  children: Map<string, number>;
  xattrs: Map<string, Buffer>;
  mtimeMs: number;
  dataVersion: number;
  nlink: number;
  etag?: RecordedEtag;
}

export interface ModelFsOptions {
  /** Offer the cloneFile/concatFiles fast paths (default false). */
  readonly fastPaths?: boolean;
  /** Offer uploads (beginUpload; default true): false makes PUTs use temporary files. */
  readonly uploads?: boolean;
  readonly name?: string;
}

export interface ModelFs extends VolumeFs {
  /** Every path in the volume ("/c/a/b"), with type, for assertions. */
  dump(): Map<string, 'file' | 'dir'>;
  /** Writes through the "filesystem face" (bumps dataVersion, like an NFS write). */
  fsWrite(path: string, offset: number, data: Buffer): Promise<void>;
  /** Reads a file's bytes by path. */
  bytes(path: string): Buffer;
  /** Calls made, by method name (for fast-path assertions). */
  readonly calls: Map<string, number>;
}

export function createModelFs(opts: ModelFsOptions = {}): ModelFs {
  const nodes = new Map<number, Node>();
  let nextIno = 1;
  let clock = Date.now();
  const calls = new Map<string, number>();
  const count = (m: string): void => {
    calls.set(m, (calls.get(m) ?? 0) + 1);
  };
  const now = (): number => (clock = Math.max(clock + 1, Date.now()));
  const mk = (type: 'file' | 'dir'): Node => {
    const n: Node = { ino: nextIno++, type, data: Buffer.alloc(0), children: new Map(), xattrs: new Map(), mtimeMs: now(), dataVersion: 0, nlink: 1 };
    nodes.set(n.ino, n);
    return n;
  };
  const root = mk('dir');
  const get = (ino: number): Node => {
    const n = nodes.get(ino);
    if (!n) throw cairnError('CAIRN_ERR_FS_STALE', String(ino));
    return n;
  };
  const dir = (ino: number): Node => {
    const n = get(ino);
    if (n.type !== 'dir') throw cairnError('CAIRN_ERR_FS_NOT_DIR', String(ino));
    return n;
  };
  const checkName = (name: string): void => {
    if (name === '' || name.includes('/') || name === '.' || name === '..') throw cairnError('CAIRN_ERR_FS_INVALID', name);
    if (Buffer.byteLength(name) > 255) throw cairnError('CAIRN_ERR_FS_NAME_TOO_LONG', name.slice(0, 20));
  };
  const attr = (n: Node): FsAttr => ({ ino: n.ino, type: n.type, size: n.type === 'file' ? n.data.length : 0, mtimeMs: n.mtimeMs, dataVersion: n.dataVersion, nlink: n.nlink });
  const child = (d: number, name: string): Node => {
    const ino = dir(d).children.get(name);
    if (ino === undefined) throw cairnError('CAIRN_ERR_FS_NOT_FOUND', name);
    return get(ino);
  };
  const writeAt = (n: Node, offset: number, data: Uint8Array): void => {
    const end = offset + data.length;
    if (end > n.data.length) {
      const b = Buffer.alloc(end);
      n.data.copy(b);
      n.data = b;
    }
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(n.data, offset);
    n.dataVersion++;
    n.mtimeMs = now();
  };
  const byPath = (path: string): Node => {
    let n = root;
    for (const seg of path.split('/').filter(Boolean)) n = child(n.ino, seg);
    return n;
  };

  const fs: ModelFs = {
    name: opts.name ?? 'model',
    rootIno: root.ino,
    calls,
    async getattr(ino) {
      count('getattr');
      return attr(get(ino));
    },
    async lookup(d, name) {
      count('lookup');
      return attr(child(d, name));
    },
    async mkdir(d, name) {
      count('mkdir');
      checkName(name);
      const p = dir(d);
      if (p.children.has(name)) throw cairnError('CAIRN_ERR_FS_EXISTS', name);
      const n = mk('dir');
      p.children.set(name, n.ino);
      p.mtimeMs = now();
      return attr(n);
    },
    async createFile(d, name) {
      count('createFile');
      checkName(name);
      const p = dir(d);
      if (p.children.has(name)) throw cairnError('CAIRN_ERR_FS_EXISTS', name);
      const n = mk('file');
      p.children.set(name, n.ino);
      return attr(n);
    },
    async open(ino, mode) {
      count('open');
      const n = get(ino);
      if (n.type !== 'file') throw cairnError('CAIRN_ERR_FS_IS_DIR', String(ino));
      let closed = false;
      const f: FsFile = {
        ino,
        async read(offset, length) {
          if (closed) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', 'closed');
          return Buffer.from(n.data.subarray(offset, offset + length));
        },
        async write(offset, data) {
          if (closed || !mode.write) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', 'not open for writing');
          writeAt(n, offset, data);
        },
        async sync() {},
        async close() {
          closed = true;
        },
      };
      return f;
    },
    async *readdir(d) {
      count('readdir');
      const entries: FsEntry[] = [...dir(d).children].map(([name, ino]) => ({ name, ino, type: get(ino).type }));
      // A model of "no particular order": reverse insertion order.
      for (const e of entries.reverse()) yield e;
    },
    async rename(sd, sn, dd, dn, flags) {
      count('rename');
      checkName(dn);
      const src = child(sd, sn);
      const dp = dir(dd);
      const existing = dp.children.get(dn);
      if (existing !== undefined && flags?.noReplace) throw cairnError('CAIRN_ERR_FS_EXISTS', dn);
      if (existing !== undefined && existing !== src.ino) {
        const t = get(existing);
        if (t.type === 'dir' && src.type !== 'dir') throw cairnError('CAIRN_ERR_FS_IS_DIR', dn);
        if (t.type !== 'dir' && src.type === 'dir') throw cairnError('CAIRN_ERR_FS_NOT_DIR', dn);
        if (t.type === 'dir' && t.children.size > 0) throw cairnError('CAIRN_ERR_FS_NOT_EMPTY', dn);
        nodes.delete(existing);
      }
      dir(sd).children.delete(sn);
      dp.children.set(dn, src.ino);
    },
    async unlink(d, name) {
      count('unlink');
      const n = child(d, name);
      if (n.type === 'dir') throw cairnError('CAIRN_ERR_FS_IS_DIR', name);
      dir(d).children.delete(name);
      nodes.delete(n.ino);
    },
    async rmdir(d, name) {
      count('rmdir');
      const n = child(d, name);
      if (n.type !== 'dir') throw cairnError('CAIRN_ERR_FS_NOT_DIR', name);
      if (n.children.size > 0) throw cairnError('CAIRN_ERR_FS_NOT_EMPTY', name);
      dir(d).children.delete(name);
      nodes.delete(n.ino);
    },
    async setMtime(ino, ms) {
      get(ino).mtimeMs = ms;
    },
    async getxattr(ino, name) {
      const v = get(ino).xattrs.get(name);
      return v === undefined ? undefined : Buffer.from(v);
    },
    async setxattr(ino, name, value) {
      if (value.length > 65536) throw cairnError('CAIRN_ERR_FS_XATTR_RANGE', name);
      get(ino).xattrs.set(name, Buffer.from(value));
    },
    async removexattr(ino, name) {
      if (!get(ino).xattrs.delete(name)) throw cairnError('CAIRN_ERR_FS_NO_XATTR', name);
    },
    async listxattr(ino) {
      return [...get(ino).xattrs.keys()];
    },
    async getEtag(ino) {
      return get(ino).etag;
    },
    async setEtag(ino, etag) {
      get(ino).etag = etag;
    },
    async readPlan(ino, offset, length) {
      const n = get(ino);
      const end = Math.min(n.data.length, offset + length);
      const steps: FsPlanStep[] = [];
      // Fake segments of 1000 bytes each, named after the inode and block.
      for (let at = offset; at < end;) {
        const block = Math.floor(at / 1000);
        const to = Math.min(end, (block + 1) * 1000);
        steps.push({ object: { container: 'segments', name: `ino${ino}-block${block}` }, offset: at - block * 1000, length: to - at });
        at = to;
      }
      return steps;
    },
    async usage() {
      let files = 0;
      let bytes = 0;
      for (const n of nodes.values()) if (n.type === 'file') {
        files++;
        bytes += n.data.length;
      }
      return { files, bytes };
    },
    dump() {
      const out = new Map<string, 'file' | 'dir'>();
      const visit = (n: Node, base: string): void => {
        for (const [name, ino] of n.children) {
          const c = get(ino);
          out.set(`${base}/${name}`, c.type);
          if (c.type === 'dir') visit(c, `${base}/${name}`);
        }
      };
      visit(root, '');
      return out;
    },
    async fsWrite(path, offset, data) {
      writeAt(byPath(path), offset, data);
    },
    bytes(path) {
      return Buffer.from(byPath(path).data);
    },
  };
  if (opts.uploads !== false) {
    fs.beginUpload = async () => {
      count('beginUpload');
      const parts: Buffer[] = [];
      let state: 'open' | 'done' = 'open';
      return {
        async write(data) {
          if (state !== 'open') throw cairnError('CAIRN_ERR_FS_INVALID', 'upload is finished');
          parts.push(Buffer.from(data));
        },
        async commit(d, name, o) {
          count('commitUpload');
          if (state !== 'open') throw cairnError('CAIRN_ERR_FS_INVALID', 'upload is finished');
          checkName(name);
          const p = dir(d);
          const existing = p.children.get(name);
          if (existing !== undefined) {
            if (o.noReplace) throw cairnError('CAIRN_ERR_FS_EXISTS', name);
            if (get(existing).type === 'dir') throw cairnError('CAIRN_ERR_FS_IS_DIR', name);
            nodes.delete(existing);
          }
          const n = mk('file');
          n.data = Buffer.concat(parts);
          n.dataVersion = n.data.length > 0 ? 1 : 0;
          for (const [k, v] of Object.entries(o.xattrs)) n.xattrs.set(k, Buffer.from(v));
          if (o.etag !== undefined) n.etag = { value: o.etag, dataVersion: n.dataVersion };
          p.children.set(name, n.ino);
          p.mtimeMs = now();
          state = 'done';
          return attr(n);
        },
        async abort() {
          state = 'done';
        },
      };
    };
  }
  if (opts.fastPaths) {
    fs.cloneFile = async (src, dst) => {
      count('cloneFile');
      const s = get(src);
      const d = get(dst);
      d.data = Buffer.from(s.data);
      d.dataVersion++;
    };
    fs.concatFiles = async (dst, srcs) => {
      count('concatFiles');
      const d = get(dst);
      d.data = Buffer.concat([d.data, ...srcs.map((s) => get(s).data)]);
      d.dataVersion++;
    };
  }
  return fs;
}
