// The FUSE operations on names and attributes: getattr, readdir, the creating
// and removing operations, rename, links, chmod/chown/utimens/truncate,
// statfs and access. Each resolves its path(s) through the Resolver, makes
// one RPC with the caller's identity, and updates the caches with what the
// answer says (or drops what the change made stale). The namespace changes ask
// for the directory's new attributes in the same answer (withParentAttr), so
// that the kernel's next look at the directory costs no round trip.
//
// Attribute changes first wait for the file's queued writes: a write landing
// after a utimens would otherwise move the mtime that `cp -a` or `tar -x`
// just set. getattr does not wait: it reports the size the queued writes
// make.

import type { Credentials, FsParams } from '@cairn/rpc';
import { splitPath } from './cache.js';
import { entryStat, timeSpec, toStat, toStatfs, type Attr } from './convert.js';
import type { FuseOperations, FuseStat } from './native.js';
import { ENOENT } from './errno.js';
import { countHit, once, run, type OpsContext } from './ops-context.js';
import { as } from './resolver.js';

/** Entries per readdirplus page (the RPC's maximum). */
const READDIR_PAGE = 4096;
/** chown(2)'s "leave unchanged" (-1 as an unsigned 32-bit id). */
const ID_UNCHANGED = 0xffff_ffff;

type Changes = Omit<FsParams<'setattr'>, 'ino' | 'fh'>;

function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** setattr on the inode at `path`, after its queued writes. */
async function setattr(ctx: OpsContext, path: string, cred: Credentials | undefined, changes: Changes): Promise<void> {
  const { resolver: r, files, client } = ctx;
  await r.withIno(path, cred, async (ino) => {
    await files.settle(ino);
    if (changes.size !== undefined) files.invalidateReads(ino);
    r.attrs.invalidate(ino);
    const ticket = r.ticket();
    r.cacheAttr(await client.setattr({ ino, ...changes }, as(cred)), ticket);
  });
}

export function namespaceOperations(ctx: OpsContext): FuseOperations {
  const { resolver: r, files, client } = ctx;
  /** struct stat of `attr`; writes still queued here make the file longer than the server knows yet. */
  const statOf = (attr: Attr): FuseStat => {
    const pending = files.pendingEnd(attr.ino);
    return pending > attr.size ? { ...toStat(attr), size: pending, blocks: Math.ceil(pending / 512) } : toStat(attr);
  };
  /**
   * Lets the batched releases of the file at `path` (when known) land before
   * its name goes: the server reclaims a last link in the unlink's own commit
   * only when no handle holds the file.
   */
  const releasedBefore = (path: string): Promise<void> | undefined => {
    const ino = r.paths.get(path);
    return ino === undefined ? undefined : ctx.releases.settle(ino);
  };
  return {
    getattr(path, cb) {
      // The kernel asks several times per system call (lookup, the permission
      // check of every directory walked, stat): what both caches know is
      // answered at once, without taking the caller's identity or a promise.
      const known = path === '/' ? r.rootIno : r.paths.get(path);
      const hit = known === undefined ? undefined : r.attrs.get(known);
      if (hit) {
        countHit(ctx, 'getattr');
        cb(0, statOf(hit));
        return;
      }
      // The kernel's lookup before a create, of a name a recent complete listing lacks.
      if (known === undefined && r.absent(path)) {
        countHit(ctx, 'getattr', true);
        cb(-ENOENT);
        return;
      }
      const reply = once(cb);
      run(ctx, 'getattr', path, reply, async (cred) => {
        const stat = await r.withIno(path, cred, async (ino) => statOf(await r.getattr(ino, cred)));
        reply(0, stat);
      });
    },

    readdir(path, cb) {
      const reply = once(cb);
      run(ctx, 'readdir', path, reply, async (cred) => {
        const names: string[] = [];
        const stats: FuseStat[] = [];
        await r.withIno(path, cred, async (ino) => {
          names.length = 0;
          stats.length = 0;
          const ticket = r.ticket();
          for (let cookie = 0; ; ) {
            const page = await client.readdirplus({ ino, cookie, limit: READDIR_PAGE }, as(cred));
            for (const e of page.entries) {
              names.push(e.name);
              stats.push(e.attr ? toStat(e.attr) : entryStat(e.ino, e.type));
              if (e.attr && e.name !== '.' && e.name !== '..') r.learn(childPath(path, e.name), e.attr, ticket);
            }
            const last = page.entries[page.entries.length - 1];
            if (page.eof || !last) break;
            cookie = last.cookie;
          }
        });
        reply(0, names, stats);
      });
    },

    mkdir(path, mode, cb) {
      const reply = once(cb);
      run(ctx, 'mkdir', path, reply, async (cred) => {
        await r.withParent(path, cred, async (parent, name) => {
          const ticket = r.ticket();
          const { parentAttr, ...attr } = await r.changeEntry(parent, name, true, () => client.mkdir({ parent, name, mode: mode & 0o7777, umask: 0, withParentAttr: true }, as(cred)));
          r.dirChanged(parent, parentAttr, ticket, cred);
          r.learn(path, attr, ticket);
        });
      });
    },

    mknod(path, mode, dev, cb) {
      const reply = once(cb);
      run(ctx, 'mknod', path, reply, async (cred) => {
        await r.withParent(path, cred, async (parent, name) => {
          const ticket = r.ticket();
          const { parentAttr, ...attr } = await r.changeEntry(parent, name, true, () => client.mknod({ parent, name, mode, rdev: dev, umask: 0, withParentAttr: true }, as(cred)));
          r.dirChanged(parent, parentAttr, ticket, cred);
          r.learn(path, attr, ticket);
        });
      });
    },

    symlink(target, path, cb) {
      const reply = once(cb);
      run(ctx, 'symlink', path, reply, async (cred) => {
        await r.withParent(path, cred, async (parent, name) => {
          const ticket = r.ticket();
          const { parentAttr, ...attr } = await r.changeEntry(parent, name, true, () => client.symlink({ parent, name, target, withParentAttr: true }, as(cred)));
          r.dirChanged(parent, parentAttr, ticket, cred);
          r.learn(path, attr, ticket);
        });
      });
    },

    readlink(path, cb) {
      const reply = once(cb);
      run(ctx, 'readlink', path, reply, async (cred) => {
        const { target } = await r.withIno(path, cred, (ino) => client.readlink({ ino }, as(cred)));
        reply(0, target);
      });
    },

    link(existing, path, cb) {
      const reply = once(cb);
      run(ctx, 'link', path, reply, async (cred) => {
        await r.withIno(existing, cred, (ino) =>
          r.withParent(path, cred, async (newParent, newName) => {
            const ticket = r.ticket();
            const { parentAttr, ...attr } = await r.changeEntry(newParent, newName, true, () => client.link({ ino, newParent, newName, withParentAttr: true }, as(cred)));
            r.dirChanged(newParent, parentAttr, ticket, cred);
            r.learn(path, attr, ticket);
          }),
        );
      });
    },

    unlink(path, cb) {
      const reply = once(cb);
      run(ctx, 'unlink', path, reply, async (cred) => {
        await releasedBefore(path);
        await r.withParent(path, cred, async (parent, name) => {
          const ticket = r.ticket();
          const res = await r.changeEntry(parent, name, false, () => client.unlink({ parent, name, withParentAttr: true }, as(cred)));
          r.dirChanged(parent, res?.parentAttr, ticket, cred);
        });
        r.forget(path);
      });
    },

    rmdir(path, cb) {
      const reply = once(cb);
      run(ctx, 'rmdir', path, reply, async (cred) => {
        await r.withParent(path, cred, async (parent, name) => {
          const ticket = r.ticket();
          const res = await r.changeEntry(parent, name, false, () => client.rmdir({ parent, name, withParentAttr: true }, as(cred)));
          r.dirChanged(parent, res?.parentAttr, ticket, cred);
        });
        r.forget(path);
      });
    },

    rename(from, to, cb) {
      const reply = once(cb);
      run(ctx, 'rename', from, reply, async (cred) => {
        const [fromDir, name] = splitPath(from);
        const [toDir, newName] = splitPath(to);
        await releasedBefore(to);
        await r.withIno(fromDir, cred, (parent) =>
          r.withIno(toDir, cred, async (newParent) => {
            const ticket = r.ticket();
            const call = (): ReturnType<typeof client.rename> => client.rename({ parent, name, newParent, newName, withParentAttr: true }, as(cred));
            // Both names change (a rename onto itself changes none).
            const res = parent === newParent && name === newName ? await call() : await r.changeEntry(parent, name, false, () => r.changeEntry(newParent, newName, true, call));
            r.dirChanged(parent, res?.parentAttr, ticket, cred);
            if (newParent !== parent) r.dirChanged(newParent, res?.newParentAttr, ticket, cred);
          }),
        );
        r.forget(from);
        r.forget(to);
      });
    },

    chmod(path, mode, cb) {
      const reply = once(cb);
      run(ctx, 'chmod', path, reply, (cred) => setattr(ctx, path, cred, { mode: mode & 0o7777 }));
    },

    chown(path, uid, gid, cb) {
      const reply = once(cb);
      run(ctx, 'chown', path, reply, async (cred) => {
        const changes: { uid?: number; gid?: number } = {};
        if (uid !== ID_UNCHANGED) changes.uid = uid;
        if (gid !== ID_UNCHANGED) changes.gid = gid;
        if (changes.uid === undefined && changes.gid === undefined) return;
        await setattr(ctx, path, cred, changes);
      });
    },

    utimens(path, atime, mtime, cb) {
      const reply = once(cb);
      run(ctx, 'utimens', path, reply, async (cred) => {
        const changes: { atime?: bigint | 'now'; mtime?: bigint | 'now' } = {};
        const a = timeSpec(atime);
        const m = timeSpec(mtime);
        if (a !== undefined) changes.atime = a;
        if (m !== undefined) changes.mtime = m;
        if (a === undefined && m === undefined) return;
        await setattr(ctx, path, cred, changes);
      });
    },

    truncate(path, size, cb) {
      const reply = once(cb);
      run(ctx, 'truncate', path, reply, (cred) => setattr(ctx, path, cred, { size }));
    },

    statfs(path, cb) {
      const reply = once(cb);
      run(ctx, 'statfs', path, reply, async (cred) => {
        reply(0, toStatfs(await client.statfs({}, as(cred))));
      });
    },

    access(path, mode, cb) {
      const reply = once(cb);
      run(ctx, 'access', path, reply, async (cred) => {
        await r.withIno(path, cred, (ino) => client.access({ ino, mask: mode & 7 }, as(cred)));
      });
    },
  };
}
