// Extended attributes with Linux's rules: names in the user., trusted.,
// security. namespaces (system. — POSIX ACLs — and anything else is
// EOPNOTSUPP); names of 1..255 bytes (ERANGE), values up to 64 KiB (E2BIG);
// XATTR_CREATE (EEXIST) / XATTR_REPLACE (ENODATA). xattr_permission: user.
// attributes only on regular files and directories (EPERM to set, ENODATA to
// read elsewhere), a sticky directory's only by its owner, and they need read
// or write permission on the inode; trusted. is root's alone (EPERM to set,
// invisible otherwise); security. is readable by all, settable by root.

import { cairnError } from '@cairn/errors';
import type { Vol } from './context.js';
import { S_IFDIR, S_IFMT, S_IFREG, S_ISVTX, TREES, XATTR_LIST_MAX, XATTR_NAME_MAX, XATTR_SIZE_MAX } from './format.js';
import { checkCred, checkIno, wellFormed } from './namei.js';
import { checkAccess, isOwnerOrRoot, isRoot, MAY_READ, MAY_WRITE } from './perms.js';
import { FsReader } from './reader.js';
import { xattrCodec, xattrKey, type InodeRec } from './records.js';
import type { Cred, SetXattrFlags } from './types.js';

type Namespace = 'user' | 'trusted' | 'security';

function checkXattrName(name: unknown): Namespace {
  if (typeof name !== 'string') throw cairnError('CAIRN_ERR_FS_INVALID', 'xattr name must be a string');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > XATTR_NAME_MAX) throw cairnError('CAIRN_ERR_FS_XATTR_RANGE', `xattr name of ${bytes} bytes`);
  if (name.includes('\0') || !wellFormed(name)) throw cairnError('CAIRN_ERR_FS_INVALID', 'xattr name');
  for (const ns of ['user', 'trusted', 'security'] as const) {
    if (name.startsWith(`${ns}.`)) {
      if (name.length === ns.length + 1) throw cairnError('CAIRN_ERR_FS_INVALID', `xattr name ${name}`);
      return ns;
    }
  }
  throw cairnError('CAIRN_ERR_FS_NOT_SUPPORTED', `xattr namespace of ${name.slice(0, 64)}`);
}

/** xattr_permission. `write`: set/remove; otherwise get. */
function checkXattrAccess(cred: Cred, rec: InodeRec, ns: Namespace, write: boolean, name: string): void {
  if (ns === 'trusted') {
    if (!isRoot(cred)) throw write ? cairnError('CAIRN_ERR_FS_PERM', name) : cairnError('CAIRN_ERR_FS_NO_XATTR', name);
    return;
  }
  if (ns === 'security') {
    if (write && !isRoot(cred)) throw cairnError('CAIRN_ERR_FS_PERM', name);
    return;
  }
  const t = rec.mode & S_IFMT;
  if (t !== S_IFREG && t !== S_IFDIR) throw write ? cairnError('CAIRN_ERR_FS_PERM', name) : cairnError('CAIRN_ERR_FS_NO_XATTR', name);
  if (t === S_IFDIR && (rec.mode & S_ISVTX) !== 0 && write && !isOwnerOrRoot(cred, rec)) throw cairnError('CAIRN_ERR_FS_PERM', name);
  checkAccess(cred, rec, write ? MAY_WRITE : MAY_READ, name);
}

export async function getxattr(v: Vol, cred: Cred, ino: number, name: string): Promise<Buffer> {
  checkCred(cred);
  checkIno(ino);
  const ns = checkXattrName(name);
  return FsReader.with(v, async (r) => {
    const rec = await r.mustInode(ino);
    checkXattrAccess(cred, rec, ns, false, name);
    const val = await r.xattr(ino, name);
    if (val === undefined) throw cairnError('CAIRN_ERR_FS_NO_XATTR', name, { expected: true });
    return Buffer.from(val);
  });
}

/** The names the caller may see (trusted. only for root); E2BIG when they exceed XATTR_LIST_MAX. */
export async function listxattr(v: Vol, cred: Cred, ino: number): Promise<string[]> {
  checkCred(cred);
  checkIno(ino);
  return FsReader.with(v, async (r) => {
    await r.mustInode(ino);
    const names = (await r.xattrNames(ino)).filter((n) => isRoot(cred) || !n.startsWith('trusted.'));
    let total = 0;
    for (const n of names) total += Buffer.byteLength(n, 'utf8') + 1;
    if (total > XATTR_LIST_MAX) throw cairnError('CAIRN_ERR_FS_XATTR_TOO_BIG', `attribute names of inode ${ino}`);
    return names;
  });
}

export async function setxattr(v: Vol, cred: Cred, ino: number, name: string, value: Uint8Array, flags: SetXattrFlags = {}): Promise<void> {
  checkCred(cred);
  checkIno(ino);
  const ns = checkXattrName(name);
  if (!(value instanceof Uint8Array)) throw cairnError('CAIRN_ERR_FS_INVALID', 'xattr value must be a Uint8Array');
  if (value.length > XATTR_SIZE_MAX) throw cairnError('CAIRN_ERR_FS_XATTR_TOO_BIG', `xattr value of ${value.length} bytes`);
  if (flags.create === true && flags.replace === true) throw cairnError('CAIRN_ERR_FS_INVALID', 'XATTR_CREATE with XATTR_REPLACE');
  const stored = Buffer.from(value);
  await v.tx((t) => {
    const rec = t.mustInode(ino);
    checkXattrAccess(cred, rec, ns, true, name);
    const k = xattrKey(ino, name);
    const exists = t.tx.has(TREES.xattrs, k);
    if (flags.create === true && exists) throw cairnError('CAIRN_ERR_FS_EXISTS', name);
    if (flags.replace === true && !exists) throw cairnError('CAIRN_ERR_FS_NO_XATTR', name);
    t.tx.put(TREES.xattrs, k, xattrCodec.encode({ value: stored }));
    const next = t.putInode(ino, { ...rec, ctime: t.now });
    t.journalInode('xattr', ino, next, { name });
  });
}

export async function removexattr(v: Vol, cred: Cred, ino: number, name: string): Promise<void> {
  checkCred(cred);
  checkIno(ino);
  const ns = checkXattrName(name);
  await v.tx((t) => {
    const rec = t.mustInode(ino);
    checkXattrAccess(cred, rec, ns, true, name);
    const k = xattrKey(ino, name);
    if (!t.tx.has(TREES.xattrs, k)) throw cairnError('CAIRN_ERR_FS_NO_XATTR', name, { expected: true });
    t.tx.del(TREES.xattrs, k);
    const next = t.putInode(ino, { ...rec, ctime: t.now });
    t.journalInode('xattr', ino, next, { name });
  });
}
