// The FUSE operations on open files: open/create (an RPC handle behind a
// small kernel-visible number), read (through the file's read-ahead), write
// (through its write-behind), flush (close: queued writes land and the server
// reports a lost write), fsync, ftruncate and release (answered at once; the
// handle goes back to the server in a batch, see release-batch.ts). Reads and writes use
// the handle, so the server skips per-call permission checks as Linux does
// after open.

import { cairnError } from '@cairn/errors';
import { O_EXCL, openFlags } from './convert.js';
import { errnoOf, EBADF } from './errno.js';
import type { FuseOperations } from './native.js';
import type { OpenFile } from './open-files.js';
import { countHit, once, run, type OpsContext } from './ops-context.js';
import { as } from './resolver.js';

export function fileOperations(ctx: OpsContext): FuseOperations {
  const { resolver: r, files, client, log } = ctx;

  const fileOf = (fd: number): OpenFile => {
    const f = files.get(fd);
    if (!f) throw cairnError('CAIRN_ERR_FS_BAD_HANDLE', `fuse handle ${fd}`);
    return f;
  };

  const releaseInBackground = async (file: OpenFile): Promise<void> => {
    // Only a handle that wrote can have writes queued or a failure to report.
    if (file.wrote || file.writer.busy) {
      try {
        await file.writer.drain();
      } catch (err) {
        // No one to report to: close(2) already returned.
        log.warn({ ino: file.ino, err }, 'a queued write failed after the last close');
      }
    }
    files.remove(file);
    // Only data calls through the handle change what the cache holds (size,
    // times): a file created and closed keeps the attributes its create
    // answered, so that a stat right after costs no round trip.
    if (file.wrote || file.readFrom) r.attrs.invalidate(file.ino);
    try {
      await ctx.releases.release(file.fh, file.ino);
    } catch (err) {
      // A handle lost to a re-mount is released already.
      if (errnoOf(err) !== EBADF) log.warn({ ino: file.ino, err }, 'releasing a handle failed');
    }
  };

  return {
    open(path, flags, cb) {
      const reply = once(cb);
      run(ctx, 'open', path, reply, async (cred) => {
        const mode = openFlags(flags);
        const file = await r.withIno(path, cred, async (ino) => {
          if (mode.truncate) {
            await files.settle(ino);
            files.invalidateReads(ino);
          }
          const ticket = r.ticket();
          const res = await client.open({ ino, ...mode }, as(cred));
          r.cacheAttr(res.attr, ticket);
          return files.add(ino, res.fh, mode);
        });
        reply(0, file.id);
      });
    },

    create(path, mode, flags, cb) {
      const reply = once(cb);
      run(ctx, 'create', path, reply, async (cred) => {
        const access = openFlags(flags);
        const file = await r.withParent(path, cred, async (parent, name) => {
          const ticket = r.ticket();
          const res = await r.changeEntry(parent, name, true, () =>
            client.create({ parent, name, mode: mode & 0o7777, umask: 0, exclusive: (flags & O_EXCL) !== 0, open: access, withParentAttr: true }, as(cred)),
          );
          r.dirChanged(parent, res.parentAttr, ticket, cred);
          r.learn(path, res.attr, ticket);
          if (res.created) r.xattrMisses.rememberNone(res.attr.ino);
          if (res.fh === undefined) throw cairnError('CAIRN_ERR_FS_IO', `create ${path} returned no handle`);
          return files.add(res.attr.ino, res.fh, access);
        });
        reply(0, file.id);
      });
    },

    read(path, fd, buf, length, position, cb) {
      const reply = once(cb);
      run(ctx, 'read', path, reply, async () => {
        const file = fileOf(fd);
        file.readFrom = true;
        await files.settle(file.ino);
        const data = await file.reader.read(position, length);
        const n = Math.min(length, data.length);
        data.copy(buf, 0, 0, n);
        reply(n);
      });
    },

    write(path, fd, buf, length, position, cb) {
      const reply = once(cb);
      run(ctx, 'write', path, reply, async (cred) => {
        const file = fileOf(fd);
        // The kernel's buffer is only ours until we answer: queue a copy.
        const data = Buffer.from(buf.subarray(0, length));
        file.wrote = true;
        files.invalidateReads(file.ino);
        r.attrs.invalidate(file.ino);
        await file.writer.write(position, data, cred);
        reply(length);
      });
    },

    flush(path, fd, cb) {
      // A file that was never written through this handle has nothing to
      // drain or report (the close of every create): answered at once.
      const known = files.get(fd);
      if (!known?.wrote) {
        countHit(ctx, 'flush');
        cb(0);
        return;
      }
      const reply = once(cb);
      run(ctx, 'flush', path, reply, async (cred) => {
        const file = files.get(fd);
        if (!file) return;
        await file.writer.drain();
        if (file.wrote) await client.flush({ ino: file.ino }, as(cred));
      });
    },

    fsync(path, _datasync, fd, cb) {
      const reply = once(cb);
      run(ctx, 'fsync', path, reply, async (cred) => {
        const file = files.get(fd);
        if (file) {
          await file.writer.drain();
          await client.fsync({ ino: file.ino }, as(cred));
          return;
        }
        await r.withIno(path, cred, async (ino) => {
          await files.settle(ino);
          await client.fsync({ ino }, as(cred));
        });
      });
    },

    fsyncdir(_path, _datasync, _fd, cb) {
      // Namespace changes are durable when they are acknowledged.
      cb(0);
    },

    ftruncate(path, fd, size, cb) {
      const reply = once(cb);
      run(ctx, 'ftruncate', path, reply, async (cred) => {
        const file = fileOf(fd);
        await files.settle(file.ino);
        files.invalidateReads(file.ino);
        r.attrs.invalidate(file.ino);
        const ticket = r.ticket();
        r.cacheAttr(await file.withFh((fh) => client.setattr({ ino: file.ino, size, fh }, as(cred))), ticket);
      });
    },

    release(_path, fd, cb) {
      // Nobody waits for the answer (close(2) returned at flush): answer at
      // once and let the handle go in the background; unmount waits for it.
      countHit(ctx, 'release');
      const file = files.get(fd);
      cb(0);
      if (file) files.track(releaseInBackground(file));
    },
  };
}
