// The FUSE mount end to end, through the kernel with real programs: a Cairn
// RPC server in a child process (memory store), mountFuse() in this process,
// and shell tools (coreutils, attr, tar, cp, git, dd) running against the
// mountpoint. Needs root and /dev/fuse; installs libfuse2/fuse3/attr with
// scripts/install-fuse.sh. Outside CI it is skipped with the reason when that
// is not possible; under CI=true it must run. The mount is always removed in
// afterAll, also after a failure.
//
// CAIRN_TEST_LARGE=1 makes the dd case 1 GiB instead of 256 MiB.

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { isMounted, waitUnmounted } from '@cairn/fuse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareFuse, ROOT, sh, startFuseEnv, type FuseEnv } from './helpers/env.js';
import type { FsOp, OpResult, TreeEntry } from './helpers/fs-ops.js';
import { FUSE_SECRET, FUSE_VOLUME } from './helpers/server-child.js';

const skip = prepareFuse();
const LARGE_MIB = process.env['CAIRN_TEST_LARGE'] === '1' ? 1024 : 256;

/** `find` lines describing a tree: type, path, mode, mtime with ns, and size and link count of non-directories. */
function describeTree(dir: string): Promise<string> {
  return sh(`cd ${dir} && (find . -mindepth 1 -type d -printf '%y %P %m %T@\\n'; find . -mindepth 1 ! -type d -printf '%y %P %m %T@ %s %n\\n') | sort`);
}

describe.skipIf(skip !== undefined)('FUSE mount of a Cairn volume', () => {
  let env: FuseEnv;
  let m: string;

  beforeAll(async () => {
    env = await startFuseEnv();
    m = env.mnt;
  }, 120_000);

  afterAll(async () => {
    await env?.close();
    if (env) expect(await isMounted(env.mnt)).toBe(false);
  }, 120_000);

  it('creates, writes, reads, appends, renames, links and changes modes like a local disk', async () => {
    const out = await sh(`
      set -e; cd ${m}; mkdir -p basic/sub; cd basic
      printf 'hello\\n' > a.txt; printf 'world\\n' >> a.txt; cat a.txt
      mv a.txt sub/b.txt; test ! -e a.txt; cat sub/b.txt
      ln sub/b.txt hard; ln -s sub/b.txt soft; readlink soft; cat soft
      stat -c '%h %s' sub/b.txt; test "$(stat -c %i hard)" = "$(stat -c %i sub/b.txt)"
      chmod 640 hard; chown 123:456 sub/b.txt; stat -c '%a %u:%g' sub/b.txt
      truncate -s 3 hard; cat sub/b.txt; echo
      mkfifo pipe; stat -c '%F' pipe
      printf 'a longer text' > t; printf 'x' > t; cat t; echo; rm t
      exec 3>held; printf abc >&3; s1=$(stat -c %s held); sleep 0.1; s2=$(stat -c %s held)
      printf def >&3; s3=$(stat -c %s held); exec 3>&-; echo "sizes $s1 $s2 $s3 $(stat -c %s held)"; rm held
      ls -1 | sort | tr '\\n' ' '
    `);
    expect(out).toBe('hello\nworld\nhello\nworld\nsub/b.txt\nhello\nworld\n2 12\n640 123:456\nhel\nfifo\nx\nsizes 3 3 6 6\nhard pipe soft sub ');
  });

  it('answers errors with the right errno', async () => {
    const out = await sh(`
      cd ${m}; mkdir -p errs/full; touch errs/full/x
      cat errs/missing 2>&1 | sed 's/.*: //'
      mkdir errs/full 2>&1 | sed 's/.*: //'
      rmdir errs/full 2>&1 | sed 's/.*: //'
      rmdir errs/full/x 2>&1 | sed 's/.*: //'
      cat errs/full/x/y 2>&1 | sed 's/.*: //'
      (echo > errs/full) 2>&1 | sed 's/.*: //'
      true
    `);
    expect(out.split('\n').filter(Boolean)).toEqual([
      'No such file or directory',
      'File exists',
      'Directory not empty',
      'Not a directory',
      'Not a directory',
      'Is a directory',
    ]);
  });

  it('gives files to the calling user and checks the permissions of the caller', async () => {
    chmodSync(env.base, 0o755);
    const out = await sh(`{
      set -e; cd ${m}; mkdir -p ids/pub; chmod 1777 ids/pub; echo secret > ids/rootonly; chmod 600 ids/rootonly
      setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo mine > ids/pub/own; cat ids/rootonly || true; mkdir ids/nope || true'
      stat -c '%u:%g %a' ids/pub/own; test ! -e ids/nope && echo no-dir
    } 2>&1`);
    expect(out).toMatch(/cat: ids\/rootonly: Permission denied/);
    expect(out).toMatch(/mkdir: cannot create directory .*Permission denied/);
    expect(out).toMatch(/65534:65534 644\nno-dir\n$/);
  });

  it('keeps extended attributes (setfattr/getfattr)', async () => {
    const out = await sh(`
      set -e; cd ${m}; mkdir -p xattr; echo x > xattr/f
      setfattr -n user.color -v blue xattr/f
      setfattr -n user.bin -v 0x00ff10 xattr/f
      getfattr -d -e hex xattr/f | grep user. | sort
      setfattr -x user.color xattr/f
      getfattr -n user.color xattr/f 2>&1 | grep -o 'No such attribute' || true
      getfattr --absolute-names -d xattr/f | grep -c user. 
    `);
    expect(out).toBe('user.bin=0x00ff10\nuser.color=0x626c7565\nNo such attribute\n1\n');
  });

  it('touch -m, touch -a and touch keep each time to the nanosecond', async () => {
    const out = await sh(`
      set -e; cd ${m}; mkdir -p times; f=times/f; echo x > $f
      touch -a -d @1000000000.111111111 $f; touch -m -d @1200000000.222222222 $f
      stat -c '%X %Y' $f
      touch -m -d @1300000000.333333333 $f; stat -c '%X %Y' $f
      touch -a -d @1400000000.444444444 $f; stat -c '%X %Y' $f
      TZ=UTC stat -c '%x|%y' $f | sed 's/ +0000//g'
      before=$(stat -c %Y $f); sleep 1.1; touch $f; after=$(stat -c %Y $f); test $after -gt $before && echo now-moves
    `);
    const lines = out.split('\n');
    expect(lines.slice(0, 4)).toEqual(['1000000000 1200000000', '1000000000 1300000000', '1400000000 1300000000', '2014-05-13 16:53:20.444444444|2011-03-13 07:06:40.333333333']);
    expect(out).toContain('now-moves');
  });

  it('tar -x of an archive gives back its source (diff -r, modes, times)', async () => {
    const src = join(env.local, 'tarsrc');
    await sh(`
      set -e; mkdir -p ${src}/dir/deeper ${src}/empty-dir; cd ${src}
      echo one > one.txt; printf '' > empty; head -c 1048577 /dev/urandom > dir/random.bin
      seq 1 20000 > dir/deeper/numbers; echo '#!/bin/sh' > run.sh; chmod 755 run.sh; chmod 600 one.txt
      ln one.txt one-hard; ln -s dir/deeper link-to-dir; ln -s missing dangling
      touch -h -d '2001-02-03 04:05:06.123456789' one.txt dir/random.bin link-to-dir
      touch -d '1999-12-31 23:59:59.5' dir/deeper empty-dir dir
      tar --format=posix -C ${src} -cf ${env.local}/a.tar .
    `);
    await sh(`set -e; mkdir ${m}/untar; tar --format=posix -C ${m}/untar -xpf ${env.local}/a.tar`, { timeoutMs: 60_000 });
    await sh(`diff -r --no-dereference ${src} ${m}/untar`);
    expect(await describeTree(join(m, 'untar'))).toBe(await describeTree(src));
    expect((await sh(`stat -c '%h %i' ${m}/untar/one.txt ${m}/untar/one-hard | uniq | wc -l`)).trim()).toBe('1');
  });

  it('cp -a copies a tree in and out with modes and times', async () => {
    const src = join(env.local, 'cpsrc');
    await sh(`
      set -e; mkdir -p ${src}/a/b; cd ${src}
      for i in 1 2 3 4 5; do head -c $((i * 70000)) /dev/urandom > a/f$i; done
      echo tiny > a/b/tiny; chmod 700 a/b; chmod 444 a/f1; ln -s b/tiny a/link
      touch -h -d '2010-10-10 10:10:10.101010101' a/f2 a/link a/b/tiny a/b a
    `);
    await sh(`cp -a ${src} ${m}/cpa && cp -a ${m}/cpa ${env.local}/cpback`, { timeoutMs: 60_000 });
    await sh(`diff -r --no-dereference ${src} ${m}/cpa && diff -r --no-dereference ${src} ${env.local}/cpback`);
    const want = await describeTree(src);
    expect(await describeTree(join(m, 'cpa'))).toBe(want);
    expect(await describeTree(join(env.local, 'cpback'))).toBe(want);
  });

  it('git init, add, commit, log and fsck work inside the mount', async () => {
    const out = await sh(
      `
      set -e; mkdir ${m}/repo; cd ${m}/repo; git init -q -b main .
      mkdir src; for i in $(seq 1 30); do echo "line $i" > src/file$i.txt; done; seq 1 5000 > big.txt
      git add -A; git -c user.name=t -c user.email=t@example.com commit -qm first
      echo changed >> src/file7.txt; git mv big.txt numbers.txt
      git -c user.name=t -c user.email=t@example.com commit -qam second
      git log --format=%s | tr '\\n' ' '; echo
      git status --porcelain | wc -l
      git fsck --strict --no-progress && echo fsck-ok
      git show HEAD:src/file7.txt
    `,
      { timeoutMs: 90_000 },
    );
    expect(out).toBe('second first \n0\nfsck-ok\nline 7\nchanged\n');
  });

  it(`writes and reads back ${LARGE_MIB} MiB with dd (sha256 compare)`, async () => {
    const out = await sh(
      `
      set -e; cd ${m}
      head -c ${LARGE_MIB}M /dev/urandom > ${env.local}/large.bin
      dd if=${env.local}/large.bin of=large.bin bs=1M conv=fsync status=none
      test "$(stat -c %s large.bin)" = "$((${LARGE_MIB} * 1048576))"
      test "$(sha256sum < large.bin)" = "$(sha256sum < ${env.local}/large.bin)" && echo same
      rm ${env.local}/large.bin
      dd if=large.bin bs=4096 skip=12345 count=3 status=none | wc -c
      rm large.bin
    `,
      { timeoutMs: LARGE_MIB > 256 ? 600_000 : 150_000 },
    );
    expect(out).toBe('same\n12288\n');
  }, LARGE_MIB > 256 ? 600_000 : 150_000);

  it('reports the volume in df and the mount table', async () => {
    const out = await sh(`df -P ${m} | tail -1 | awk '{print $1}'; grep " ${m} " /proc/self/mounts | awk '{print $3}'`);
    expect(out).toBe(`cairn:${FUSE_VOLUME}\nfuse.cairn\n`);
  });

  it('random operations give the same results and tree as a local directory (fast-check)', async () => {
    const worker: ChildProcess = fork(join(ROOT, 'test/fuse/helpers/fs-worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let nextId = 1;
    const runIn = async (root: string, ops: FsOp[]): Promise<{ results: OpResult[]; tree: TreeEntry[] }> => {
      const id = nextId++;
      const reply = new Promise<{ results: OpResult[]; tree: TreeEntry[]; error?: string }>((resolve) => {
        const on = (msg: { id: number; results: OpResult[]; tree: TreeEntry[]; error?: string }): void => {
          if (msg.id !== id) return;
          worker.off('message', on);
          resolve(msg);
        };
        worker.on('message', on);
      });
      worker.send({ id, root, ops });
      const r = await reply;
      if (r.error) throw new Error(r.error);
      return r;
    };
    const names = ['a', 'b', 'c', 'd/a', 'd/b', 'e/d', 'e'];
    const path = fc.constantFrom(...names);
    const op: fc.Arbitrary<FsOp> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('write' as const), path, offset: fc.nat(9000), data: fc.string({ minLength: 1, maxLength: 40 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), path, size: fc.nat(10_000) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('read' as const), path }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('mkdir' as const), path }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('rmdir' as const), path }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('unlink' as const), path }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('rename' as const), from: path, to: path }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('link' as const), from: path, to: path }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('symlink' as const), target: path, path }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('chmod' as const), path, mode: fc.constantFrom(0o600, 0o755, 0o4711, 0o1777) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('readdir' as const), path: fc.constantFrom('', 'd', 'e') }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('stat' as const), path }) },
    );
    const prelude: FsOp[] = [{ op: 'mkdir', path: 'd' }, { op: 'write', path: 'd/a', offset: 0, data: 'seed' }];
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), async (ops) => {
          run++;
          const here = join(m, 'diff', String(run));
          const there = join(env.local, 'diff', String(run));
          mkdirSync(there, { recursive: true });
          await sh(`mkdir -p ${here}`);
          const all = [...prelude, ...ops];
          const fuse = await runIn(here, all);
          const local = await runIn(there, all);
          expect(fuse.results).toEqual(local.results);
          expect(fuse.tree).toEqual(local.tree);
        }),
        { numRuns: Number(process.env['CAIRN_FUSE_RUNS'] ?? 60), seed: Number(process.env['CAIRN_FUSE_SEED'] ?? 20241122), endOnFailure: true },
      );
    } finally {
      worker.disconnect();
      if (worker.exitCode === null) await once(worker, 'exit');
    }
  }, 120_000);

  it('`cairn mount` (main.ts) serves the same volume over the server\'s Unix-domain socket and unmounts on SIGINT', async () => {
    const second = mkdtempSync(join(env.base, 'second-'));
    writeFileSync(join(env.local, 'secret'), `${FUSE_SECRET}\n`);
    await sh(`echo 'from the first mount' > ${m}/shared.txt`);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'packages/fuse/src/main.ts'), FUSE_VOLUME, second, '--host', `unix:${env.socketPath}`, '--secret-file', join(env.local, 'secret'), '--attr-timeout', '0'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    try {
      const deadline = Date.now() + 60_000;
      while (!stdout.includes('mounted') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(stdout, stderr).toContain(`mounted ${FUSE_VOLUME} at ${second}`);
      expect(await sh(`cat ${second}/shared.txt`)).toBe('from the first mount\n');
      await sh(`echo 'from the second mount' > ${second}/other.txt`);
      expect(await sh(`cat ${m}/other.txt`)).toBe('from the second mount\n');
      child.kill('SIGINT');
      const [code] = await exited;
      expect(code, stderr).toBe(0);
      expect(stdout).toContain(`unmounted ${second}`);
      expect(await waitUnmounted(second, 5000)).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await sh(`fusermount -u ${second} 2>/dev/null || umount -l ${second} 2>/dev/null || true`);
    }
  }, 120_000);
});
