// The FUSE extended-attribute operations: getxattr, setxattr (XATTR_CREATE /
// XATTR_REPLACE), listxattr and removexattr, one RPC each. fuse-native (as
// patched) answers ERANGE itself when the caller's buffer is too small, and
// the size probe (a zero-length buffer) with the size. A missing attribute is
// remembered (XattrMissCache): the kernel asks for security.capability before
// every write(2), and waiting for that answer behind the file's queued write
// RPCs would stall the stream. A recent miss answers at once; an older one
// answers at once too and is checked with the server in the background. A
// namespace the server does not support (it answers EOPNOTSUPP for system.*,
// which `ls -l` asks about every file for POSIX ACLs) is answered here after
// the first time.

import { cairnError } from '@cairn/errors';
import type { Credentials } from '@cairn/rpc';
import { XATTR_CREATE, XATTR_REPLACE } from './convert.js';
import { ENODATA, EOPNOTSUPP, errnoOf } from './errno.js';
import type { FuseOperations } from './native.js';
import { once, run, type OpsContext } from './ops-context.js';
import { as } from './resolver.js';

export function xattrOperations(ctx: OpsContext): FuseOperations {
  const { resolver: r, client, log } = ctx;
  const refreshing = new Set<string>();
  /** Namespaces ("system.") the server answered EOPNOTSUPP for: answered here from then on. */
  const unsupported = new Set<string>();
  const namespaceOf = (name: string): string => name.slice(0, name.indexOf('.') + 1);

  /** The value of `name`; a missing attribute is remembered. */
  const fetch = async (ino: number, name: string, cred: Credentials | undefined): Promise<Buffer> => {
    try {
      return (await client.getxattr({ ino, name }, as(cred))).value;
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === ENODATA) r.xattrMisses.remember(ino, name);
      if (errno === EOPNOTSUPP && namespaceOf(name) !== '') unsupported.add(namespaceOf(name));
      throw err;
    }
  };

  /** Checks a stale miss with the server in the background (once at a time per attribute). */
  const refresh = (ino: number, name: string, cred: Credentials | undefined): void => {
    const key = `${ino}/${name}`;
    if (refreshing.has(key)) return;
    refreshing.add(key);
    fetch(ino, name, cred)
      .then(
        () => r.xattrMisses.invalidate(ino),
        (err: unknown) => {
          if (errnoOf(err) !== ENODATA) {
            r.xattrMisses.invalidate(ino);
            log.debug({ ino, name, err }, 'checking a missing attribute failed');
          }
        },
      )
      .finally(() => refreshing.delete(key));
  };

  return {
    getxattr(path, name, _position, cb) {
      const reply = once(cb);
      run(ctx, 'getxattr', path, reply, async (cred) => {
        if (unsupported.has(namespaceOf(name))) throw cairnError('CAIRN_ERR_FS_NOT_SUPPORTED', `xattr namespace of ${name}`);
        const value = await r.withIno(path, cred, async (ino) => {
          const known = r.xattrMisses.state(ino, name);
          if (known === 'fresh') return undefined;
          if (known === 'stale') {
            refresh(ino, name, cred);
            return undefined;
          }
          return fetch(ino, name, cred);
        });
        if (value === undefined) throw cairnError('CAIRN_ERR_FS_NO_XATTR', name);
        reply(0, value);
      });
    },

    setxattr(path, name, value, _position, flags, cb) {
      const reply = once(cb);
      run(ctx, 'setxattr', path, reply, async (cred) => {
        // The kernel's buffer is only ours until we answer.
        const copy = Buffer.from(value);
        await r.withIno(path, cred, async (ino) => {
          await client.setxattr(
            { ino, name, value: copy, create: (flags & XATTR_CREATE) !== 0, replace: (flags & XATTR_REPLACE) !== 0 },
            as(cred),
          );
          r.attrs.invalidate(ino);
          r.xattrMisses.invalidate(ino);
        });
      });
    },

    listxattr(path, cb) {
      const reply = once(cb);
      run(ctx, 'listxattr', path, reply, async (cred) => {
        const { names } = await r.withIno(path, cred, (ino) => client.listxattr({ ino }, as(cred)));
        reply(0, names);
      });
    },

    removexattr(path, name, cb) {
      const reply = once(cb);
      run(ctx, 'removexattr', path, reply, async (cred) => {
        await r.withIno(path, cred, async (ino) => {
          await client.removexattr({ ino, name }, as(cred));
          r.attrs.invalidate(ino);
        });
      });
    },
  };
}
